/*
 * archc_archive.c — `archc archive FILE.arch [--task T] [--state DIR]`: the
 * task's measured Pareto archive as `archc search` left it in the state
 * dir, one member a row, by MACs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/archc.h"
#include "compiler/archc_task.h"
#include "runtime/answer.h"
#include "runtime/statedir.h"

/* Members ordered by MACs, then accuracy (highest first). */
static const search_archive *sort_archive;

static int by_macs(const void *pa, const void *pb)
{
	const search_member *a = search_archive_member(sort_archive, *(const int *)pa);
	const search_member *b = search_archive_member(sort_archive, *(const int *)pb);
	double d = a->eval.v[IR_METRIC_MACS] - b->eval.v[IR_METRIC_MACS];
	if (d == 0)
		d = b->eval.v[IR_METRIC_ACCURACY] - a->eval.v[IR_METRIC_ACCURACY];
	return (d > 0) - (d < 0);
}

static int list(const ir_task *task, const ir_space *s, const search_archive *a)
{
	int n = search_archive_size(a);
	int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
	if (!order) {
		fprintf(stderr, "archc archive: out of memory\n");
		return ARCHC_EINPUT;
	}
	for (int i = 0; i < n; i++)
		order[i] = i;
	sort_archive = a;
	qsort(order, (size_t)n, sizeof *order, by_macs);
	printf("# task %s: %d members\n", task->name, n);
	printf("%-8s %-9s %10s %8s %10s %11s  %s\n", "accuracy", "predicted", "macs", "params",
	       "memory", "latency_ms", "subnet");
	for (int i = 0; i < n; i++) {
		const search_member *m = search_archive_member(a, order[i]);
		char genes[SN_GENE_STRLEN];
		sn_subnet_format(s, &m->sub, genes, sizeof genes);
		const double *v = m->eval.v;
		printf("%-8.4f %-9.4f %10.0f %8.0f %10.0f %11.4f  %s\n", v[IR_METRIC_ACCURACY],
		       m->predicted, v[IR_METRIC_MACS], v[IR_METRIC_PARAMS], v[IR_METRIC_MEMORY],
		       v[IR_METRIC_LATENCY] * 1e3, genes);
	}
	free(order);
	return fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
}

static int archc_archive_run(int argc, char **argv)
{
	archc_task_args a;
	const char *state = NULL;
	const archc_opt opts[] = { { "--state", ARCHC_OPT_STRING, &state, 0, 0 } };
	int st = archc_task_parse_opts(&archc_cmd_archive, argc, argv, opts, 1, &a);
	ir_module *m = NULL;
	rt_answer_env *e = NULL;
	int t;
	if (st || !(m = archc_task_load(&archc_cmd_archive, &a, &t, &st)))
		goto out;
	char root[RT_STATE_PATH_MAX], err[1024];
	st = ARCHC_EINPUT;
	if (rt_state_root(state, root, sizeof root, err, sizeof err) != 0 ||
	    !(e = rt_answer_open(m, t, root, err, sizeof err))) {
		fprintf(stderr, "archc archive: %s\n", err);
		goto out;
	}
	const ir_task *task = &m->tasks[t];
	if (!rt_answer_archive(e)) {
		if (rt_answer_stale(e)[0])
			fprintf(stderr, "archc archive: task %s's archive is not used: %s\n",
				task->name, rt_answer_stale(e));
		else
			fprintf(stderr, "archc archive: task %s has no archive in %s (no %s)\n",
				task->name, root, rt_answer_archive_path(e));
		fprintf(stderr, "  build it: archc search %s --task %s%s%s --constraint 'macs<=1G'\n",
			a.input, task->name, state ? " --state " : "", state ? state : "");
		goto out;
	}
	st = list(task, &m->spaces[task->space], rt_answer_archive(e));
out:
	rt_answer_free(e);
	ir_module_free(m);
	archc_task_args_free(&a);
	return st;
}

const archc_cmd archc_cmd_archive = {
	"archive",
	"list a task's measured Pareto archive",
	"usage: archc archive [-I DIR]... FILE.arch [--task T] [--state DIR]\n"
	"\n"
	"Lists the Pareto archive `archc search` (or archd) built for task T's\n"
	"trained supernet in the state dir (--state, else $XDG_STATE_HOME/archd or\n"
	"~/.local/state/archd): one row per member, by MACs, with its holdout\n"
	"accuracy (measured), the predictor's accuracy, MACs, params, peak memory\n"
	"in bytes, latency on this host and gene string.  Nothing is changed.\n",
	archc_archive_run,
};
