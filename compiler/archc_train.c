/*
 * archc_train.c — `archc train`: trains a task's supernet (or one fixed
 * subnet of its space) locally, with a progress display, checkpoints in the
 * state dir and --resume.
 */
#include "compiler/archc.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/archc_task.h"
#include "runtime/progress.h"
#include "runtime/statedir.h"
#include "runtime/train.h"

#define TRAIN_CKPT_EVERY 100 /* default steps between checkpoints */

typedef struct train_args {
	archc_task_args a; /* -I, --task, the input */
	const char *subnet, *state;
	int resume;
	int64_t threads, epochs, seed, every; /* -1: not given */
} train_args;

static int parse_args(int argc, char **argv, train_args *t)
{
	memset(t, 0, sizeof *t);
	t->threads = t->epochs = t->seed = t->every = -1;
	const archc_opt opts[] = {
		{ "--subnet", ARCHC_OPT_STRING, &t->subnet, 0, 0 },
		{ "--state", ARCHC_OPT_STRING, &t->state, 0, 0 },
		{ "--resume", ARCHC_OPT_FLAG, &t->resume, 0, 0 },
		{ "--threads", ARCHC_OPT_INT, &t->threads, 0, 1024 },
		{ "--epochs", ARCHC_OPT_INT, &t->epochs, 1, 100000 },
		{ "--seed", ARCHC_OPT_INT, &t->seed, 0, 2147483647 },
		{ "--checkpoint-every", ARCHC_OPT_INT, &t->every, 0, 2147483647 },
	};
	return archc_task_parse_opts(&archc_cmd_train, argc, argv, opts,
				     (int)(sizeof opts / sizeof opts[0]), &t->a);
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

static int train_main(const train_args *a, ir_module *m, int ti)
{
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
		return archc_usage_error(&archc_cmd_train, "--subnet: %s", err);
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
	o.state_dir = 1;
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
	if (rt_train_note(t)[0] != '\0')
		fprintf(stderr, "archc train: %s\n", rt_train_note(t));
	fprintf(stderr, "archc train: checkpoints to %s\n", ckpt);
	rt_progress_init(&prog, stderr, -1, task->recipe.epochs, rt_train_steps_per_epoch(t));

	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	int rc = rt_train_run(t, err, sizeof err);
	/* A finished run says so before a signal may end it: the report
	 * that follows runs under the default handlers (no checkpoint is
	 * at stake), and a run killed there has printed "done in". */
	if (rc == RT_TRAIN_DONE)
		fprintf(stderr, "archc train: done in %.1f s\n", rt_progress_now() - t0);
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
		int t;
		ir_module *m = archc_task_load(&archc_cmd_train, &a.a, &t, &st);
		if (m)
			st = train_main(&a, m, t);
		ir_module_free(m);
	}
	archc_task_args_free(&a.a);
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
	"subnets (or of SPEC) go to stdout.  A subnet trained alone is measured\n"
	"again, or cut out, with `archc eval --subnet SPEC --alone`, and exported\n"
	"with `archc export ... --subnet SPEC --alone`.\n"
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
