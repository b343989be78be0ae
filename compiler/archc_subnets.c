/*
 * archc_subnets.c — `archc subnets FILE.arch [--task T] [--count N]
 * [--seed S]`: the largest, the smallest and N random subnets of a task's
 * space with their exact MACs and parameters.  Needs no trained supernet:
 * costs come from the shapes alone (runtime/subnet.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "compiler/archc.h"
#include "compiler/archc_task.h"
#include "runtime/subnet.h"

#define DEFAULT_COUNT 5
#define MAX_COUNT 100000

/* Prints one row: the spec that names the subnet, its costs, its genes. */
static int print_row(const ir_space *s, int nclasses, const char *spec)
{
	sn_subnet sub;
	char err[512];
	if (sn_subnet_parse_spec(s, spec, &sub, err, sizeof err) != 0) {
		fprintf(stderr, "archc subnets: %s\n", err);
		return -1;
	}
	sn_plan plan;
	sn_cost cost;
	char genes[SN_GENE_STRLEN];
	sn_plan_build(s, nclasses, &sub, &plan);
	sn_plan_cost(s, &plan, &cost);
	sn_subnet_format(s, &sub, genes, sizeof genes);
	printf("%-20s %12.0f %10.0f  %s\n", spec, cost.macs, cost.params, genes);
	return 0;
}

static int archc_subnets_run(int argc, char **argv)
{
	int64_t count = DEFAULT_COUNT, seed = 1;
	const archc_opt opts[] = {
		{ "--count", ARCHC_OPT_INT, &count, 0, MAX_COUNT },
		{ "--seed", ARCHC_OPT_INT, &seed, 0, INT64_MAX - MAX_COUNT },
	};
	archc_task_args a;
	int st = archc_task_parse_opts(&archc_cmd_subnets, argc, argv, opts, 2, &a);
	if (st) {
		archc_task_args_free(&a);
		return st;
	}
	int t;
	ir_module *m = archc_task_load(&archc_cmd_subnets, &a, &t, &st);
	if (!m) {
		archc_task_args_free(&a);
		return st;
	}
	const ir_task *task = &m->tasks[t];
	const ir_space *s = &m->spaces[task->space];
	int nclasses = m->datasets[task->dataset].nclasses;
	char err[512];
	if (sn_space_check(s, nclasses, err, sizeof err) != 0) {
		fprintf(stderr, "archc subnets: task %s: %s\n", task->name, err);
		st = ARCHC_EINPUT;
		goto out;
	}
	printf("# task %s, space %s, %d classes: max, min and %lld random subnets\n", task->name,
	       s->name, nclasses, (long long)count);
	printf("%-20s %12s %10s  %s\n", "spec", "macs", "params", "genes");
	if (print_row(s, nclasses, "max") || print_row(s, nclasses, "min")) {
		st = ARCHC_EINPUT;
		goto out;
	}
	for (int64_t i = 0; i < count; i++) {
		char spec[48];
		snprintf(spec, sizeof spec, "random:%" PRId64, seed + i);
		if (print_row(s, nclasses, spec)) {
			st = ARCHC_EINPUT;
			goto out;
		}
	}
	if (fflush(stdout) != 0)
		st = ARCHC_EINPUT;
out:
	ir_module_free(m);
	archc_task_args_free(&a);
	return st;
}

const archc_cmd archc_cmd_subnets = {
	"subnets",
	"list sample subnets of a task's space with their MACs and params",
	"usage: archc subnets [-I DIR]... FILE.arch [--task T] [--count N] [--seed S]\n"
	"\n"
	"Lists the largest and the smallest subnet of task T's search space and N\n"
	"random ones (default 5), each with its exact multiply-accumulates and\n"
	"parameter count at batch 1 and its gene string.  The first column is a\n"
	"spec that names the subnet for `archc eval --subnet`: max, min, or\n"
	"random:K for K = S, S + 1, ... (default S = 1).  --task may be left out\n"
	"when the file declares one task.  No trained supernet is needed.\n",
	archc_subnets_run,
};
