/*
 * archc_search.c — `archc search FILE.arch --task T (--target NAME |
 * --constraint 'macs<=2M' ...) [--objective NAME] [--state DIR]
 * [--threads N] [--json]`: the subnet of a trained supernet that answers a
 * deployment spec, from the task's measured archive (built first when the
 * state dir has none), else by a targeted search (runtime/answer.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/archc.h"
#include "compiler/archc_task.h"
#include "runtime/answer.h"
#include "runtime/statedir.h"
#include "runtime/threads.h"

#define MAX_CONSTRAINTS 16

typedef struct search_args {
	archc_task_args a;
	const char *target, *objective, *state;
	archc_opt_list cons_s; /* --constraint, repeatable */
	int64_t threads;       /* 0: the default */
	int json;
} search_args;

/* Parses the command line; free sa->a and sa->cons_s, also after an error. */
static int parse(int argc, char **argv, search_args *s)
{
	memset(s, 0, sizeof *s);
	const archc_opt opts[] = {
		{ "--target", ARCHC_OPT_STRING, &s->target, 0, 0 },
		{ "--constraint", ARCHC_OPT_LIST, &s->cons_s, 0, MAX_CONSTRAINTS },
		{ "--objective", ARCHC_OPT_STRING, &s->objective, 0, 0 },
		{ "--state", ARCHC_OPT_STRING, &s->state, 0, 0 },
		{ "--threads", ARCHC_OPT_INT, &s->threads, 1, 256 },
		{ "--json", ARCHC_OPT_FLAG, &s->json, 0, 0 },
	};
	int st = archc_task_parse_opts(&archc_cmd_search, argc, argv, opts,
				       (int)(sizeof opts / sizeof opts[0]), &s->a);
	if (st)
		return st;
	if (!s->target == !s->cons_s.n)
		return archc_usage_error(&archc_cmd_search,
					 "give one of --target NAME and --constraint 'METRIC<=VALUE'");
	return 0;
}

/* Progress of an archive build on stderr: rewritten in place on a
 * terminal, one line per finished phase otherwise. */
static void on_progress(void *ctx, const char *phase, int done, int total)
{
	const char *task = ctx;
	int tty = isatty(2);
	if (!tty && done < total)
		return;
	fprintf(stderr, "%sarchc search: building the archive of task %s: %s %d/%d%s", tty ? "\r" : "",
		task, phase, done, total, tty && done < total ? "" : "\n");
}

/* "macs <= 2000000" */
static void format_constraint(const ir_constraint *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %.6g", ir_metric_names[c->metric], ir_cmp_names[c->cmp],
		 c->value);
}

static void print_text(const ir_task *task, const ir_space *s, const rt_answer *r)
{
	char genes[SN_GENE_STRLEN];
	sn_subnet_format(s, &r->m.sub, genes, sizeof genes);
	const double *v = r->m.eval.v;
	printf("task       %s\n", task->name);
	printf("subnet     %s\n", genes);
	printf("source     %s\n", r->searched ? "search" : "archive");
	printf("accuracy   %.4f (holdout, measured)\n", v[IR_METRIC_ACCURACY]);
	if (isfinite(r->m.test))
		printf("test       %.4f (test split, reported only: not used to choose)\n", r->m.test);
	else
		printf("test       none (the data set has no test split)\n");
	printf("predicted  %.4f\n", r->m.predicted);
	printf("macs       %.0f\n", v[IR_METRIC_MACS]);
	printf("params     %.0f\n", v[IR_METRIC_PARAMS]);
	printf("memory     %.0f bytes\n", v[IR_METRIC_MEMORY]);
	printf("latency    %.4f ms\n", v[IR_METRIC_LATENCY] * 1e3);
}

/* Prints e's note when there is one and it is not the one already printed
 * (kept in said). */
static void note(const rt_answer_env *e, char *said, size_t len)
{
	const char *n = rt_answer_note(e);
	if (n[0] == '\0' || strcmp(n, said) == 0)
		return;
	fprintf(stderr, "archc search: %s\n", n);
	snprintf(said, len, "%s", n);
}

/* A JSON number; null for NaN, which JSON lacks. */
static void json_number(const char *key, double v, const char *sep)
{
	if (isfinite(v))
		printf("\"%s\":%.17g%s", key, v, sep);
	else
		printf("\"%s\":null%s", key, sep);
}

static void print_json(const ir_task *task, const ir_space *s, const rt_answer *r)
{
	char genes[SN_GENE_STRLEN];
	sn_subnet_format(s, &r->m.sub, genes, sizeof genes);
	const double *v = r->m.eval.v;
	/* Task names are identifiers and gene strings [a-z0-9:,]: nothing to escape. */
	printf("{\"task\":\"%s\",\"genes\":\"%s\",\"source\":\"%s\",\"metrics\":{", task->name, genes,
	       r->searched ? "search" : "archive");
	json_number("accuracy", v[IR_METRIC_ACCURACY], ",");
	json_number("test_accuracy", r->m.test, ",");
	json_number("predicted_accuracy", r->m.predicted, ",");
	json_number("macs", v[IR_METRIC_MACS], ",");
	json_number("params", v[IR_METRIC_PARAMS], ",");
	json_number("memory", v[IR_METRIC_MEMORY], ",");
	json_number("latency", v[IR_METRIC_LATENCY], "");
	printf("}}\n");
}

/* Prints why a spec has no answer, with the nearest subnet's metrics. */
static void print_infeasible(const ir_task *task, const ir_space *s, const ir_constraint *cons,
			     const rt_answer *r)
{
	char genes[SN_GENE_STRLEN], c[128];
	sn_subnet_format(s, &r->m.sub, genes, sizeof genes);
	format_constraint(&cons[r->tightest >= 0 ? r->tightest : 0], c, sizeof c);
	const double *v = r->m.eval.v;
	fprintf(stderr,
		"archc search: no subnet of task %s meets the spec; the tightest constraint is %s\n"
		"  nearest: %s accuracy=%.4f macs=%.0f params=%.0f memory=%.0f latency=%.4fms\n",
		task->name, c, genes, v[IR_METRIC_ACCURACY], v[IR_METRIC_MACS], v[IR_METRIC_PARAMS],
		v[IR_METRIC_MEMORY], v[IR_METRIC_LATENCY] * 1e3);
}

/* Finds the constraints and the objective the arguments name. */
static int spec(const search_args *sa, const ir_module *m, ir_constraint *own,
		const ir_constraint **cons, int *ncons, const ir_objective **obj)
{
	*obj = NULL;
	if (sa->objective) {
		int o = ir_module_find_objective(m, sa->objective);
		if (o < 0) {
			fprintf(stderr, "archc search: %s has no objective '%s'\n", sa->a.input,
				sa->objective);
			return ARCHC_EINPUT;
		}
		*obj = &m->objectives[o];
	}
	if (sa->target) {
		int t = ir_module_find_target(m, sa->target);
		if (t < 0) {
			fprintf(stderr, "archc search: %s has no target '%s'\n", sa->a.input,
				sa->target);
			return ARCHC_EINPUT;
		}
		*cons = m->targets[t].constraints;
		*ncons = m->targets[t].nconstraints;
		return 0;
	}
	char err[512];
	for (int i = 0; i < sa->cons_s.n; i++)
		if (rt_answer_parse_constraint(sa->cons_s.v[i], &own[i], err, sizeof err) != 0)
			return archc_usage_error(&archc_cmd_search, "%s", err);
	*cons = own;
	*ncons = sa->cons_s.n;
	return 0;
}

/* Prints the `archc train` command that makes the supernet searched for. */
static void print_untrained(const search_args *sa, const ir_task *task, const char *ckpt)
{
	fprintf(stderr, "archc search: task %s has no trained supernet (no %s)\n", task->name, ckpt);
	fprintf(stderr, "  train it first: archc train %s --task %s", sa->a.input, task->name);
	if (sa->state)
		fprintf(stderr, " --state %s", sa->state);
	fprintf(stderr, "\n");
}

static int run(const search_args *sa, const ir_module *m, int t)
{
	const ir_task *task = &m->tasks[t];
	const ir_space *s = &m->spaces[task->space];
	ir_constraint own[MAX_CONSTRAINTS];
	const ir_constraint *cons = NULL;
	const ir_objective *obj;
	int ncons = 0;
	int st = spec(sa, m, own, &cons, &ncons, &obj);
	if (st)
		return st;
	char root[RT_STATE_PATH_MAX], err[1024];
	if (rt_state_root(sa->state, root, sizeof root, err, sizeof err) != 0 ||
	    rt_threads_init((int)sa->threads, err, (int)sizeof err) < 0) {
		fprintf(stderr, "archc search: %s\n", err);
		return ARCHC_EINPUT;
	}
	rt_answer_env *e = rt_answer_open(m, t, root, err, sizeof err);
	if (!e) {
		fprintf(stderr, "archc search: %s\n", err);
		return ARCHC_EINPUT;
	}
	st = ARCHC_EINPUT;
	rt_answer r;
	/* The notes on what was read: the archive's now, the latency
	 * table's once a search or build has loaded it. */
	char said[sizeof err] = "";
	note(e, said, sizeof said);
	int rc = rt_answer_spec(e, obj, cons, ncons, 1, &r, err, sizeof err);
	if (rc == RT_ANSWER_NO_ARCHIVE) {
		fprintf(stderr, "archc search: %s\n", err);
		rc = rt_answer_build(e, on_progress, task->name, NULL, err, sizeof err);
		note(e, said, sizeof said);
		if (rc == 0)
			rc = rt_answer_spec(e, obj, cons, ncons, 1, &r, err, sizeof err);
	}
	note(e, said, sizeof said);
	if (rc == 0) {
		if (sa->json)
			print_json(task, s, &r);
		else
			print_text(task, s, &r);
		st = fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
	} else if (rc == RT_ANSWER_UNTRAINED) {
		print_untrained(sa, task, rt_answer_checkpoint_path(e));
	} else if (rc == RT_ANSWER_PARTIAL) {
		fprintf(stderr, "archc search: %s\n", err);
		fprintf(stderr, "  finish it: archc train %s --task %s --resume%s%s\n", sa->a.input,
			task->name, sa->state ? " --state " : "", sa->state ? sa->state : "");
	} else if (rc == RT_ANSWER_INFEASIBLE) {
		print_infeasible(task, s, cons, &r);
	} else {
		fprintf(stderr, "archc search: task %s: %s\n", task->name, err);
	}
	rt_answer_free(e);
	return st;
}

static int archc_search_run(int argc, char **argv)
{
	search_args sa;
	int st = parse(argc, argv, &sa);
	if (!st) {
		int t;
		ir_module *m = archc_task_load(&archc_cmd_search, &sa.a, &t, &st);
		if (m)
			st = run(&sa, m, t);
		ir_module_free(m);
	}
	archc_task_args_free(&sa.a);
	archc_opt_list_free(&sa.cons_s);
	return st;
}

const archc_cmd archc_cmd_search = {
	"search",
	"the subnet of a trained supernet that answers a deployment spec",
	"usage: archc search [-I DIR]... FILE.arch [--task T]\n"
	"                    (--target NAME | --constraint 'METRIC OP VALUE'...)\n"
	"                    [--objective NAME] [--state DIR] [--threads N] [--json]\n"
	"\n"
	"Answers a spec with a subnet of the supernet `archc train` left for task T\n"
	"in the state dir (--state, else $XDG_STATE_HOME/archd or\n"
	"~/.local/state/archd): the best member of the task's measured Pareto\n"
	"archive that meets the constraints, else the subnet a targeted\n"
	"predictor-driven search finds, measured and added to the archive.  When\n"
	"the task has no archive yet it is built first (the recipe's `search { }`\n"
	"settings; progress on stderr) and saved for the next searches.\n"
	"\n"
	"The spec is a target of FILE (--target) or constraints such as\n"
	"'macs<=2M', 'latency<1.5ms', 'accuracy>=90%', 'memory<=200KB'.  The\n"
	"objective is --objective, else the task's, else the highest accuracy.\n"
	"Prints the gene string and the metrics: accuracy measured on the holdout\n"
	"split and as predicted, MACs, params, peak memory and latency on this host;\n"
	"--json prints them as one JSON object.  A spec nothing meets fails with\n"
	"the tightest constraint and the nearest subnet's metrics.\n",
	archc_search_run,
};
