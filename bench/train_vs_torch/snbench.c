/*
 * snbench.c — times one subnet of a space on the runtime, for the benches
 * (bench/train_vs_torch, bench/gemm_peak).
 *
 *   snbench plan  AIR SPACE SUBNET
 *       prints the subnet's active layers, one per line, for
 *       bench/train_vs_torch/torch_net.py to rebuild in PyTorch:
 *         input C RES
 *         resize RES                          (when RES < the largest)
 *         conv CIN COUT K STRIDE ACT          (no bias; BN; ACT)
 *         mbconv CIN MID COUT K STRIDE ACT EXPAND SE_R SHORTCUT
 *                (EXPAND 1: 1x1 expand + BN + ACT first; depthwise + BN +
 *                 ACT; SE with SE_R hidden units when > 0; 1x1 project +
 *                 BN; + identity when SHORTCUT)
 *         pool
 *         fc CIN COUT ACT                     (with bias, no BN)
 *       ACT is none, relu or hswish.
 *   snbench time  AIR SPACE SUBNET BATCH THREADS REPS STEPS
 *       prints key=value lines: the subnet's gene string, MACs and params
 *       at batch 1, then for REPS repetitions of STEPS training steps
 *       (zero grad, TRAIN forward, cross-entropy with label smoothing 0.1,
 *       backward, SGD momentum 0.9 Nesterov, wd 4e-5) and of STEPS batch
 *       inferences (EVAL forward) the best repetition's images/s, after one
 *       untimed warm-up step of each.  Inputs are seeded random images of
 *       the space's largest side (a smaller subnet resolution resizes them
 *       as training does) and random labels over 10 classes.  train_cpu_ms
 *       is the process CPU time of one training step in that repetition
 *       (steadier than images/s on a loaded machine).
 *   snbench train AIR SPACE SUBNET BATCH THREADS REPS STEPS
 *       the same, training only (for profiling).
 *
 * SUBNET is max, min, mid (the middle value of every gene, the upper one
 * of an even count), random:SEED or a gene string (subnet.h).
 * Exit status 0, or 1 with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/ir.h"
#include "runtime/ops.h"
#include "runtime/optim.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"

#define NCLASSES 10

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const ir_space *find_space(const ir_module *m, const char *name)
{
	for (int i = 0; i < m->nspaces; i++)
		if (strcmp(m->spaces[i].name, name) == 0)
			return &m->spaces[i];
	return NULL;
}

static void print_plan(const ir_space *s, const sn_plan *plan)
{
	printf("input %d %d\n", s->in_channels, s->resolution);
	if (plan->res != s->resolution)
		printf("resize %d\n", plan->res);
	for (int i = 0; i < s->nlayers; i++) {
		const ir_layer *l = &s->layers[i];
		const sn_layer_plan *p = &plan->layer[i];
		if (!p->active)
			continue;
		const char *act = ir_act_names[l->act];
		switch (l->kind) {
		case IR_BLOCK_CONV:
			printf("conv %d %d %d %d %s\n", p->cin, p->cout, p->k, l->stride, act);
			break;
		case IR_BLOCK_MBCONV:
			printf("mbconv %d %d %d %d %d %s %d %d %d\n", p->cin, p->mid, p->cout, p->k,
			       l->stride, act, l->expand != 1.0, p->se_r, p->shortcut != 0);
			break;
		case IR_BLOCK_POOL:
			printf("pool\n");
			break;
		case IR_BLOCK_FC:
			printf("fc %d %d %s\n", p->cin, p->cout, act);
			break;
		default:
			fprintf(stderr, "snbench: layer %d: block '%s' not exported\n", i,
				ir_block_names[l->kind]);
			exit(1);
		}
	}
}

/* Best images/s over `reps` repetitions of `steps` calls of one step. */
typedef struct run_ctx {
	sn_supernet *sn;
	const float *x;
	const int *labels;
	float *dlogits;
	rt_param *params;
	int nparams, batch;
	rt_sgd opt;
} run_ctx;

static void train_step(run_ctx *c)
{
	sn_supernet_zero_grad(c->sn);
	const float *z = sn_supernet_forward(c->sn, c->x, c->batch, RT_BN_MODE_TRAIN);
	rt_xent_forward_backward(c->batch, NCLASSES, NCLASSES, z, c->labels, 0.1f, c->dlogits,
				 NULL);
	sn_supernet_backward(c->sn, c->dlogits);
	rt_sgd_step(&c->opt, c->params, c->nparams, 0.01);
}

static void infer_step(run_ctx *c)
{
	sn_supernet_forward(c->sn, c->x, c->batch, RT_BN_MODE_EVAL);
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best images/s over `reps` repetitions of `steps` steps; *cpu_ms gets the
 * CPU time per step of that repetition. */
static double best_ips(run_ctx *c, void (*step)(run_ctx *), int reps, int steps,
		       double *cpu_ms)
{
	step(c); /* warm-up: page faults, OpenBLAS buffers */
	double best = 0.0;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s(), c0 = cpu_s();
		for (int i = 0; i < steps; i++)
			step(c);
		double ips = (double)steps * c->batch / (now_s() - t0);
		if (ips > best) {
			best = ips;
			*cpu_ms = 1e3 * (cpu_s() - c0) / steps;
		}
	}
	return best;
}

static int time_subnet(const ir_space *s, const sn_subnet *sub, int batch, int reps, int steps,
		       int train_only)
{
	char err[512];
	sn_supernet *sn = sn_supernet_new(s, NCLASSES, s->resolution, s->resolution, batch, 1,
					  err, sizeof err);
	if (sn == NULL) {
		fprintf(stderr, "snbench: %s\n", err);
		return 1;
	}
	sn_supernet_set_subnet(sn, sub);
	size_t nx = (size_t)batch * s->resolution * s->resolution * s->in_channels;
	float *x = malloc(nx * sizeof(float));
	float *dlogits = malloc((size_t)batch * NCLASSES * sizeof(float));
	int *labels = malloc((size_t)batch * sizeof(int));
	if (x == NULL || dlogits == NULL || labels == NULL) {
		fprintf(stderr, "snbench: out of memory\n");
		return 1;
	}
	rt_rng rng;
	rt_rng_seed(&rng, 42);
	for (size_t i = 0; i < nx; i++)
		x[i] = (float)rt_rng_normal(&rng);
	for (int i = 0; i < batch; i++)
		labels[i] = (int)rt_rng_below(&rng, NCLASSES);
	run_ctx c = {.sn = sn, .x = x, .labels = labels, .dlogits = dlogits, .batch = batch,
		     .opt = {.momentum = 0.9, .wd = 4e-5, .nesterov = 1, .decoupled = 0}};
	c.params = sn_supernet_params(sn, &c.nparams);

	sn_cost cost;
	sn_plan_cost(s, sn_supernet_plan(sn), &cost);
	char genes[SN_GENE_STRLEN];
	sn_subnet_format(s, sub, genes, sizeof genes);
	printf("genes=%s\nmacs=%.0f\nparams=%.0f\nthreads=%d\nbatch=%d\n", genes, cost.macs,
	       cost.params, rt_threads_count(), batch);
	fflush(stdout);
	double cpu_ms = 0.0;
	double tr = best_ips(&c, train_step, reps, steps, &cpu_ms);
	printf("train_ips=%.1f\ntrain_cpu_ms=%.1f\n", tr, cpu_ms);
	fflush(stdout);
	if (!train_only) {
		double inf = best_ips(&c, infer_step, reps, steps, &cpu_ms);
		printf("infer_ips=%.1f\n", inf);
	}
	free(x), free(dlogits), free(labels);
	sn_supernet_free(sn);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: snbench plan AIR SPACE SUBNET\n"
			"       snbench time|train AIR SPACE SUBNET BATCH THREADS REPS STEPS\n");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return usage();
	int plan_only = strcmp(argv[1], "plan") == 0;
	int train_only = strcmp(argv[1], "train") == 0;
	if (!plan_only && ((strcmp(argv[1], "time") != 0 && !train_only) || argc != 9))
		return usage();
	char err[512];
	ir_module *m = ir_binary_load(argv[2], err, sizeof err);
	if (m == NULL) {
		fprintf(stderr, "snbench: %s\n", err);
		return 1;
	}
	const ir_space *s = find_space(m, argv[3]);
	if (s == NULL) {
		fprintf(stderr, "snbench: %s: no space '%s'\n", argv[2], argv[3]);
		return 1;
	}
	sn_subnet sub;
	if (sn_space_check(s, NCLASSES, err, sizeof err) != 0) {
		fprintf(stderr, "snbench: %s\n", err);
		return 1;
	}
	if (strcmp(argv[4], "mid") == 0) {
		sn_subnet_max(s, &sub);
		for (int i = 0; i < s->ngenes; i++)
			sub.g[i] = (uint8_t)(s->genes[i].nvalues / 2);
	} else if (sn_subnet_parse_spec(s, argv[4], &sub, err, sizeof err) != 0) {
		fprintf(stderr, "snbench: %s\n", err);
		return 1;
	}
	int rc = 0;
	if (plan_only) {
		sn_plan *plan = malloc(sizeof *plan);
		if (plan == NULL)
			return 1;
		sn_plan_build(s, NCLASSES, &sub, plan);
		print_plan(s, plan);
		free(plan);
	} else {
		int batch = atoi(argv[5]), threads = atoi(argv[6]);
		int reps = atoi(argv[7]), steps = atoi(argv[8]);
		if (batch < 1 || threads < 1 || reps < 1 || steps < 1)
			return usage();
		if (rt_threads_init(threads, err, sizeof err) < 0) {
			fprintf(stderr, "snbench: %s\n", err);
			return 1;
		}
		rc = time_subnet(s, &sub, batch, reps, steps, train_only);
	}
	ir_module_free(m);
	return rc;
}
