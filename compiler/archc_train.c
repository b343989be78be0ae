/*
 * archc_train.c — `archc train`: trains a task's supernet (or one fixed
 * subnet of its space) locally, with a progress display, checkpoints in the
 * state dir and --resume.
 */
#include "compiler/archc.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/progress.h"
#include "runtime/statedir.h"
#include "runtime/train.h"

#define TRAIN_CKPT_EVERY 100 /* default steps between checkpoints */

typedef struct train_args {
	const char **includes;
	int nincludes;
	const char *input, *task, *subnet, *state;
	int resume;
	long threads, epochs, seed, every;
} train_args;

/* Strict decimal integer in [min, max]; 0 or -1. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	if (!(s[0] >= '0' && s[0] <= '9'))
		return -1;
	long v = strtol(s, &end, 10);
	if (*end || errno == ERANGE || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, train_args *a)
{
	const archc_cmd *cmd = &archc_cmd_train;
	memset(a, 0, sizeof(*a));
	a->threads = a->epochs = a->seed = a->every = -1;
	a->includes = calloc((size_t)argc + 1, sizeof(*a->includes));
	if (!a->includes) {
		fputs("archc train: out of memory\n", stderr);
		return ARCHC_EINPUT;
	}
	static const struct {
		const char *name;
		long min, max;
	} nums[] = {
		{"threads", 0, 1024},
		{"epochs", 1, 100000},
		{"seed", 0, 2147483647L},
		{"checkpoint-every", 0, 2147483647L},
	};
	long *num_dst[] = {&a->threads, &a->epochs, &a->seed, &a->every};
	const char **str_dst[] = {&a->task, &a->subnet, &a->state};
	static const char *const strs[] = {"task", "subnet", "state"};
	int only_files = 0;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (only_files || s[0] != '-' || !s[1]) {
			if (a->input)
				return archc_usage_error(cmd, "one input file only ('%s' and '%s')",
							 a->input, s);
			a->input = s;
			continue;
		}
		if (!strcmp(s, "--")) {
			only_files = 1;
			continue;
		}
		if (!strcmp(s, "--resume")) {
			a->resume = 1;
			continue;
		}
		if (!strncmp(s, "-I", 2)) {
			const char *v = s[2] ? s + 2 : i + 1 < argc ? argv[++i] : NULL;
			if (!v)
				return archc_usage_error(cmd, "option '-I' needs an argument");
			a->includes[a->nincludes++] = v;
			continue;
		}
		/* --name VALUE or --name=VALUE */
		const char *name = s + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		const char *v = eq ? eq + 1 : NULL;
		int found = 0;
		for (size_t k = 0; s[1] == '-' && k < sizeof strs / sizeof strs[0] && !found; k++) {
			if (strlen(strs[k]) != n || strncmp(name, strs[k], n))
				continue;
			found = 1;
			if (!v && i + 1 < argc)
				v = argv[++i];
			if (!v)
				return archc_usage_error(cmd, "option '--%s' needs a value", strs[k]);
			*str_dst[k] = v;
		}
		for (size_t k = 0; s[1] == '-' && k < sizeof nums / sizeof nums[0] && !found; k++) {
			if (strlen(nums[k].name) != n || strncmp(name, nums[k].name, n))
				continue;
			found = 1;
			if (!v && i + 1 < argc)
				v = argv[++i];
			if (!v)
				return archc_usage_error(cmd, "option '--%s' needs a value", nums[k].name);
			if (parse_long(v, nums[k].min, nums[k].max, num_dst[k]) != 0)
				return archc_usage_error(cmd, "--%s '%s' is not an integer from %ld to %ld",
							 nums[k].name, v, nums[k].min, nums[k].max);
		}
		if (!found)
			return archc_usage_error(cmd, "unknown option '%s'", s);
	}
	if (!a->input)
		return archc_usage_error(cmd, "no input file");
	return 0;
}

/* The task named by --task, or the only one; -1 after printing why not. */
static int find_task(const ir_module *m, const train_args *a)
{
	int t = -1;
	if (m->ntasks == 0) {
		fprintf(stderr, "archc train: %s declares no task\n", a->input);
		return -1;
	}
	if (a->task)
		t = ir_module_find_task(m, a->task);
	else if (m->ntasks == 1)
		t = 0;
	if (t >= 0)
		return t;
	if (a->task)
		fprintf(stderr, "archc train: %s has no task '%s'; its tasks: ", a->input, a->task);
	else
		fprintf(stderr, "archc train: %s has several tasks; choose one with --task: ",
			a->input);
	for (int i = 0; i < m->ntasks; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", m->tasks[i].name);
	fputc('\n', stderr);
	return -1;
}

/* --- progress and signals ---------------------------------------------------------- */

static atomic_int train_cancel;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&train_cancel, 1);
}

static void on_event(void *ctx, const rt_train_event *ev)
{
	rt_progress *p = ctx;
	double now = rt_progress_now();
	switch (ev->kind) {
	case RT_TRAIN_EVENT_EPOCH_BEGIN:
		rt_progress_begin_epoch(p, ev->phase_name, ev->epoch, now);
		if (ev->step > 0) /* resumed mid-epoch */
			p->step = ev->step;
		break;
	case RT_TRAIN_EVENT_STEP:
		rt_progress_step(p, ev->images, ev->loss, ev->correct, ev->lr, now);
		break;
	case RT_TRAIN_EVENT_EPOCH_END:
		rt_progress_end_epoch(p, ev->eval_split, ev->eval_acc, now);
		break;
	default:
		break;
	}
}

/* Prints "NAME: acc% on test, MACs, params, genes" for one subnet. */
static int report(rt_trainer *t, const ir_space *s, const char *name, const sn_subnet *sub)
{
	double acc, loss;
	if (rt_train_eval(t, sub, RT_SPLIT_TEST, &acc, &loss) != 0) {
		fprintf(stderr, "archc train: cannot evaluate the %s subnet on the test split\n",
			name);
		return -1;
	}
	sn_plan *plan = malloc(sizeof(*plan));
	char genes[SN_GENE_STRLEN];
	if (!plan) {
		fputs("archc train: out of memory\n", stderr);
		return -1;
	}
	sn_plan_build(s, sn_supernet_nclasses(rt_train_supernet(t)), sub, plan);
	sn_cost c;
	sn_plan_cost(s, plan, &c);
	free(plan);
	if (sn_subnet_format(s, sub, genes, sizeof genes) < 0)
		strcpy(genes, "?");
	printf("%-8s test accuracy %.2f%% (loss %.4f), %.3gM MACs, %.0f params, %s\n", name,
	       100 * acc, loss, c.macs / 1e6, c.params, genes);
	return 0;
}

/* --- the command ---------------------------------------------------------------------- */

static int train_main(const train_args *a, ir_module *m)
{
	int ti = find_task(m, a);
	if (ti < 0)
		return ARCHC_EINPUT;
	ir_task *task = &m->tasks[ti];
	const ir_space *space = &m->spaces[task->space];
	if (a->epochs > 0)
		task->recipe.epochs = (int)a->epochs;
	if (a->seed >= 0)
		task->recipe.seed = (uint64_t)a->seed;
	if (a->epochs > 0 || a->seed >= 0) /* another recipe, another supernet */
		ir_task_supernet_key(m, ti, task->supernet_key);

	char err[1024];
	sn_subnet sub;
	if (a->subnet && sn_subnet_parse_spec(space, a->subnet, &sub, err, sizeof err) != 0) {
		fprintf(stderr, "archc train: --subnet: %s\n", err);
		return ARCHC_EINPUT;
	}
	uint8_t key[16];
	rt_train_key(m, ti, a->subnet ? &sub : NULL, key);
	char root[RT_STATE_ROOT_MAX], ckpt[RT_STATE_PATH_MAX];
	if (rt_state_root(a->state, root, sizeof root, err, sizeof err) != 0 ||
	    rt_state_checkpoint_path(root, key, ckpt, sizeof ckpt) != 0) {
		fprintf(stderr, "archc train: %s\n", err);
		return ARCHC_EINPUT;
	}
	int exists = access(ckpt, F_OK) == 0;
	if (exists && !a->resume) {
		fprintf(stderr,
			"archc train: task %s already has a checkpoint: %s\n"
			"  pass --resume to continue (or reuse) it, or remove it to train afresh\n",
			task->name, ckpt);
		return ARCHC_EINPUT;
	}
	if (!exists && a->resume)
		fprintf(stderr, "archc train: no checkpoint for task %s yet (%s): starting fresh\n",
			task->name, ckpt);

	rt_progress prog;
	rt_train_opts o;
	rt_train_opts_init(&o);
	o.checkpoint = ckpt;
	o.resume = a->resume;
	o.checkpoint_every = a->every >= 0 ? a->every : TRAIN_CKPT_EVERY;
	o.subnet = a->subnet ? &sub : NULL;
	o.threads = a->threads >= 0 ? (int)a->threads : 0;
	o.cb = on_event;
	o.cb_ctx = &prog;
	o.cancel = &train_cancel;
	double t0 = rt_progress_now();
	rt_trainer *t = rt_train_new(m, ti, &o, err, sizeof err);
	if (!t) {
		fprintf(stderr, "archc train: %s\n", err);
		return ARCHC_EINPUT;
	}
	char summary[256];
	rt_data_summary(rt_train_data(t), summary, sizeof summary);
	fprintf(stderr, "archc train: task %s, %s\n", task->name, summary);
	rt_ckpt_state pos;
	rt_train_position(t, &pos);
	if (rt_train_resumed(t))
		fprintf(stderr, "archc train: resuming from %s: epoch %d, step %d (global step %lld)\n",
			ckpt, pos.epoch + 1, pos.step, (long long)pos.global_step);
	fprintf(stderr, "archc train: checkpoints to %s\n", ckpt);
	rt_progress_init(&prog, stderr, -1, task->recipe.epochs, rt_train_steps_per_epoch(t));

	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	int rc = rt_train_run(t, err, sizeof err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	int st = ARCHC_OK;
	if (rc == RT_TRAIN_ERROR) {
		fprintf(stderr, "\narchc train: %s\n", err);
		st = ARCHC_EINPUT;
	} else if (rc == RT_TRAIN_CANCELLED) {
		rt_train_position(t, &pos);
		fprintf(stderr,
			"\narchc train: interrupted at epoch %d, step %d; checkpoint saved, "
			"continue with --resume\n",
			pos.epoch + 1, pos.step);
		st = ARCHC_EINPUT;
	} else {
		fprintf(stderr, "archc train: done in %.1f s\n", rt_progress_now() - t0);
		if (a->subnet) {
			st = report(t, space, "subnet", &sub) ? ARCHC_EINPUT : ARCHC_OK;
		} else {
			sn_subnet mx, mn;
			sn_subnet_max(space, &mx);
			sn_subnet_min(space, &mn);
			if (report(t, space, "largest", &mx) != 0 ||
			    (!sn_subnet_equal(&mx, &mn) && report(t, space, "smallest", &mn) != 0))
				st = ARCHC_EINPUT;
		}
	}
	rt_train_free(t);
	return st;
}

static int archc_train_run(int argc, char **argv)
{
	train_args a;
	int st = parse_args(argc, argv, &a);
	if (st == ARCHC_OK) {
		ir_module *m = archc_load(a.input, a.includes, a.nincludes);
		if (!m) {
			st = ARCHC_EINPUT;
		} else {
			st = train_main(&a, m);
			ir_module_free(m);
		}
	}
	free(a.includes);
	return st;
}

const archc_cmd archc_cmd_train = {
	"train",
	"train a task's supernet (or one subnet) with checkpoints",
	"usage: archc train [-I DIR]... FILE.arch [--task T] [--subnet SPEC]\n"
	"                   [--state DIR] [--resume] [--threads N] [--epochs N]\n"
	"                   [--seed N] [--checkpoint-every N]\n"
	"\n"
	"Trains task T of FILE.arch (or FILE.air) by its recipe: its supernet, or\n"
	"with --subnet one fixed subnet of its space, trained alone.  Progress goes\n"
	"to stderr (a bar on a terminal, a line per epoch otherwise); at the end\n"
	"the test accuracy, MACs and parameters of the largest and smallest\n"
	"subnets (or of SPEC) go to stdout.\n"
	"\n"
	"  --task T              the task to train (needed when FILE has several)\n"
	"  --subnet SPEC         train one subnet: max, min, random:SEED or a gene\n"
	"                        string as `archc subnets` prints it\n"
	"  --state DIR           the state dir (default $XDG_STATE_HOME/archd, or\n"
	"                        ~/.local/state/archd; /var/lib/archd as root);\n"
	"                        the checkpoint is DIR/supernets/KEY/checkpoint\n"
	"  --resume              continue from the checkpoint (starts fresh, saying\n"
	"                        so, when there is none); without it an existing\n"
	"                        checkpoint is an error\n"
	"  --threads N           compute threads (default $ARCHD_THREADS, or the\n"
	"                        number of cores)\n"
	"  --epochs N, --seed N  override the recipe's (this trains another\n"
	"                        supernet, with its own checkpoint)\n"
	"  --checkpoint-every N  optimiser steps between checkpoints (default 100;\n"
	"                        0: only at the end of each epoch)\n"
	"\n"
	"SIGINT or SIGTERM checkpoints and stops; a crash loses at most the steps\n"
	"since the last checkpoint.  Exit status 0 when training finished, 1 on\n"
	"errors or when interrupted, 2 on usage errors.\n",
	archc_train_run,
};
