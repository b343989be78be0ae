/*
 * archc_eval.c — `archc eval FILE.arch [--task T] --subnet SPEC [--state DIR]
 * [--split holdout|test] [--recal N] [-o OUT.model]`: one subnet of a
 * trained supernet, measured without retraining, and optionally cut out as
 * a standalone model file; and `archc eval FILE.arch [--task T] --model
 * IN.model [--split ...]`: such a file measured on the task's data.
 *
 * The supernet is the one `archc train` left in the state dir under the
 * task's supernet key (statedir.h, checkpoint.h), or with --alone the one
 * `archc train --subnet SPEC` left under its own key, in which only that
 * subnet was trained.  A shared supernet's batch-norm statistics are
 * recalibrated for the subnet before it is measured (evaluate.h); a subnet
 * trained alone keeps the running statistics of its training, which are
 * its own, as `archc train` measured it.  Both in memory only: the
 * checkpoint is never written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/archc.h"
#include "compiler/archc_task.h"
#include "runtime/checkpoint.h"
#include "runtime/data.h"
#include "runtime/evaluate.h"
#include "runtime/extract.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"

#define MAX_RECAL 1000000

/* The command line, parsed and checked. */
typedef struct eval_args {
	archc_task_args a;
	const char *subnet, *state, *split_s, *output, *model;
	rt_split split;
	int64_t recal;  /* -1: the recipe's */
	int64_t epochs; /* recipe overrides as `archc train` takes them, -1: none */
	int64_t seed;
	int alone; /* --alone: the subnet trained alone, not the supernet */
} eval_args;

static int parse(int argc, char **argv, eval_args *e)
{
	memset(e, 0, sizeof *e);
	e->recal = e->epochs = e->seed = -1;
	const archc_opt opts[] = {
		{ "--subnet", ARCHC_OPT_STRING, &e->subnet, 0, 0 },
		{ "--model", ARCHC_OPT_STRING, &e->model, 0, 0 },
		{ "--state", ARCHC_OPT_STRING, &e->state, 0, 0 },
		{ "--split", ARCHC_OPT_STRING, &e->split_s, 0, 0 },
		{ "--recal", ARCHC_OPT_INT, &e->recal, 0, MAX_RECAL },
		{ "-o", ARCHC_OPT_STRING, &e->output, 0, 0 },
		{ "--epochs", ARCHC_OPT_INT, &e->epochs, 1, 100000 },
		/* train's range: a seed train refuses names no supernet */
		{ "--seed", ARCHC_OPT_INT, &e->seed, 0, 2147483647 },
		{ "--alone", ARCHC_OPT_FLAG, &e->alone, 0, 0 },
	};
	int st = archc_task_parse_opts(&archc_cmd_eval, argc, argv, opts,
				       (int)(sizeof opts / sizeof opts[0]), &e->a);
	if (st)
		return st;
	if (!e->subnet == !e->model)
		return archc_usage_error(&archc_cmd_eval,
					 "give one of --subnet SPEC (max, min, random:SEED or a gene string) "
					 "and --model FILE");
	if (e->model && (e->output || e->recal >= 0 || e->state || e->alone))
		return archc_usage_error(&archc_cmd_eval, "--model measures a model file as it is: "
							  "no -o, --recal, --state or --alone");
	e->split = RT_SPLIT_TEST;
	if (e->split_s) {
		if (!strcmp(e->split_s, "holdout"))
			e->split = RT_SPLIT_HOLDOUT;
		else if (strcmp(e->split_s, "test") != 0)
			return archc_usage_error(&archc_cmd_eval, "--split '%s' is not holdout or test",
						 e->split_s);
	}
	return 0;
}

/* Applies --epochs and --seed the way `archc train` does: another recipe,
 * so another supernet key. */
static void apply_overrides(const eval_args *e, ir_module *m, int t)
{
	ir_task *task = &m->tasks[t];
	if (e->epochs > 0)
		task->recipe.epochs = (int)e->epochs;
	if (e->seed >= 0)
		task->recipe.seed = (uint64_t)e->seed;
	if (e->epochs > 0 || e->seed >= 0)
		ir_task_supernet_key(m, t, task->supernet_key);
}

/* Prints "  WHY: archc train FILE --task T [--state ...] [--epochs ...]
 * [--seed ...] [--subnet SPEC]EXTRA", the command that makes the supernet
 * (or the subnet trained alone) eval looks for. */
static void print_train_command(const eval_args *e, const ir_task *task, const char *why,
				const char *extra)
{
	fprintf(stderr, "  %s: archc train %s --task %s", why, e->a.input, task->name);
	if (e->state)
		fprintf(stderr, " --state %s", e->state);
	if (e->epochs >= 0)
		fprintf(stderr, " --epochs %lld", (long long)e->epochs);
	if (e->seed >= 0)
		fprintf(stderr, " --seed %lld", (long long)e->seed);
	if (e->alone)
		fprintf(stderr, " --subnet %s", e->subnet);
	fprintf(stderr, "%s\n", extra);
}

/* Recalibrates, evaluates, prints, and writes the model when asked. */
static int measure(const eval_args *e, sn_supernet *sn, const uint8_t key[16],
		   const rt_data *data, const ir_dataset *ds, const ir_task *task,
		   const sn_subnet *sub)
{
	char err[1024];
	const ir_space *s = sn_supernet_space(sn);
	int nrecal = archc_task_recal_images(task, e->recal, e->alone);
	int used = 0;
	if (nrecal > 0) {
		used = rt_eval_recalibrate(sn, sub, data, nrecal, task->recipe.seed, err, sizeof err);
		if (used < 0) {
			fprintf(stderr, "archc eval: %s\n", err);
			return ARCHC_EINPUT;
		}
	}
	rt_eval_result r;
	if (rt_eval_subnet(sn, sub, data, e->split, &r, err, sizeof err) != 0) {
		fprintf(stderr, "archc eval: %s\n", err);
		return ARCHC_EINPUT;
	}
	sn_cost cost;
	char genes[SN_GENE_STRLEN];
	sn_plan_cost(s, sn_supernet_plan(sn), &cost);
	sn_subnet_format(s, sub, genes, sizeof genes);
	printf("task      %s\n", task->name);
	printf("subnet    %s\n", genes);
	printf("macs      %.0f\n", cost.macs);
	printf("params    %.0f\n", cost.params);
	printf("recal     %d training images\n", used);
	printf("split     %s (%d images)\n", rt_split_names[e->split], r.n);
	printf("accuracy  %.4f\n", r.accuracy);
	printf("loss      %.4f\n", r.loss);
	if (e->output) {
		rt_model *model = rt_model_extract(sn, sub, key, err, sizeof err);
		if (model)
			archc_task_model_norm(model, data, ds);
		if (!model || rt_model_save(model, e->output, err, sizeof err) != 0) {
			fprintf(stderr, "archc eval: %s\n", err);
			rt_model_free(model);
			return ARCHC_EINPUT;
		}
		rt_model_free(model);
		printf("model     %s\n", e->output);
	}
	return fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
}

/* Prints what measure() prints, for a model file. */
static int measure_model(const eval_args *e, const ir_module *m, const ir_task *task)
{
	char err[1024];
	rt_model *model = rt_model_load(e->model, err, sizeof err);
	if (!model) {
		fprintf(stderr, "archc eval: %s\n", err);
		return ARCHC_EINPUT;
	}
	if (memcmp(model->supernet_key, task->supernet_key, sizeof task->supernet_key) != 0)
		fprintf(stderr, "archc eval: note: %s was not cut from task %s's supernet\n", e->model,
			task->name);
	int st = ARCHC_EINPUT;
	rt_eval_result r;
	rt_data *data = rt_data_load(&m->datasets[task->dataset], err, sizeof err);
	if (!data || rt_eval_model(model, data, e->split, ARCHC_TASK_BATCH, &r, err, sizeof err) != 0) {
		fprintf(stderr, "archc eval: %s\n", err);
		goto out;
	}
	printf("task      %s\n", task->name);
	printf("subnet    %s\n", model->genes);
	printf("macs      %.0f\n", model->macs);
	printf("params    %.0f\n", model->params);
	printf("split     %s (%d images)\n", rt_split_names[e->split], r.n);
	printf("accuracy  %.4f\n", r.accuracy);
	printf("loss      %.4f\n", r.loss);
	st = fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
out:
	rt_data_free(data);
	rt_model_free(model);
	return st;
}

static int archc_eval_run(int argc, char **argv)
{
	eval_args e;
	int st = parse(argc, argv, &e);
	if (st) {
		archc_task_args_free(&e.a);
		return st;
	}
	int t;
	ir_module *m = archc_task_load(&archc_cmd_eval, &e.a, &t, &st);
	if (!m) {
		archc_task_args_free(&e.a);
		return st;
	}
	apply_overrides(&e, m, t);
	const ir_task *task = &m->tasks[t];
	const ir_space *s = &m->spaces[task->space];
	sn_subnet sub;
	char err[1024];
	rt_data *data = NULL;
	sn_supernet *sn = NULL;
	rt_ckpt_state pos;
	uint8_t key[16];
	if (e.output && (st = archc_task_output_check(&archc_cmd_eval, "-o", e.output, &e.a, m, t,
						      e.state)) != ARCHC_OK)
		goto out;
	st = ARCHC_EINPUT;
	if (rt_threads_init(0, err, (int)sizeof err) < 0) {
		fprintf(stderr, "archc eval: %s\n", err);
		goto out;
	}
	if (e.model) {
		st = measure_model(&e, m, task);
		goto out;
	}
	if (sn_subnet_parse_spec(s, e.subnet, &sub, err, sizeof err) != 0) {
		st = archc_usage_error(&archc_cmd_eval, "%s", err);
		goto out;
	}
	st = archc_task_supernet(&archc_cmd_eval, m, t, e.state, e.alone ? &sub : NULL, &sn, &data,
				 &pos, key);
	if (st == ARCHC_TASK_UNTRAINED) {
		print_train_command(&e, task, "train it first", "");
		st = ARCHC_EINPUT;
	}
	if (st)
		goto out;
	if (pos.epoch < task->recipe.epochs) {
		fprintf(stderr, "archc eval: note: the %s's training stopped at epoch %d of %d\n",
			e.alone ? "subnet" : "supernet", pos.epoch, task->recipe.epochs);
		print_train_command(&e, task, "to finish it", " --resume");
	}
	st = measure(&e, sn, key, data, &m->datasets[task->dataset], task, &sub);
out:
	sn_supernet_free(sn);
	rt_data_free(data);
	ir_module_free(m);
	archc_task_args_free(&e.a);
	return st;
}

const archc_cmd archc_cmd_eval = {
	"eval",
	"measure one subnet of a trained supernet, or cut it out as a model",
	"usage: archc eval [-I DIR]... FILE.arch [--task T] --subnet SPEC [--state DIR]\n"
	"                  [--split holdout|test] [--recal N] [-o OUT.model]\n"
	"                  [--epochs N] [--seed N] [--alone]\n"
	"       archc eval [-I DIR]... FILE.arch [--task T] --model IN.model\n"
	"                  [--split holdout|test]\n"
	"\n"
	"Loads the supernet `archc train` left for task T in the state dir (--state,\n"
	"else $XDG_STATE_HOME/archd or ~/.local/state/archd), recalibrates the\n"
	"batch norm of subnet SPEC on N training images (default: the recipe's\n"
	"calib, 2000), and prints its gene string, MACs, params, accuracy and loss\n"
	"on the test split (default) or the holdout split.  --recal 0 keeps the\n"
	"running statistics of training: they fit the largest subnet of a recipe\n"
	"with `sampler = max`; any other sampler's blend the subnets of the last\n"
	"steps and fit none.\n"
	"SPEC is max, min, random:SEED or a gene string as `archc subnets` prints\n"
	"them.  -o writes the subnet as a standalone model file (see\n"
	"runtime/extract.h).  Nothing in the state dir is changed.\n"
	"--epochs and --seed name a supernet trained with the same overrides of\n"
	"`archc train` (each pair of values is another supernet).\n"
	"--alone measures (and -o cuts out) subnet SPEC as `archc train --subnet SPEC`\n"
	"trained it alone, from its own checkpoint; its running statistics are its\n"
	"own, so it is not recalibrated unless --recal N asks.\n"
	"\n"
	"With --model, measures a model file written by -o (or served by archd) on\n"
	"task T's data as it is, with no supernet and no recalibration.\n"
	"--task may be left out when the file declares one task.\n",
	archc_eval_run,
};
