/*
 * latbench.c — how well the latency lookup table (runtime/latency.h)
 * predicts measured whole-subnet latency, for bench/latency/run.
 *
 *   latbench [-v] AIR SPACE NSUBNETS THREADS REPS ROUNDS [LUTFILE]
 *
 * Cuts the max, the min and NSUBNETS - 2 seeded random subnets out of a
 * randomly initialised supernet of SPACE (fed images of its largest side,
 * 10 classes), each with its batch-norm statistics recalibrated on 8 random
 * images as evaluation does, as the extracted models archd serves
 * (runtime/extract.h).  Then, ROUNDS times: builds a fresh table of the
 * space as archd does (lat_table_build, each entry the median of
 * REPS / ROUNDS runs, then lat_table_calibrate on its own 10 subnets),
 * predicts every subnet with it, and measures every subnet at batch 1 (the
 * median of REPS / ROUNDS forwards after two warm-up ones).  A subnet's
 * prediction and latency are the medians over the rounds; so is its
 * uncalibrated prediction (the plain sum of its entries), whose error is
 * printed too.
 *
 * Why rounds: this kind of machine (a shared VM) changes speed by a third
 * within a minute.  A table built at one moment and subnets measured at
 * another compare the machine with itself, not the table with the model;
 * taking both over the same rounds compares them under the same
 * conditions.  The rounds' spread is printed too (drift: the slowest
 * round's median latency over the fastest's), with the error a table of
 * the first round alone makes against the last round's measurements, what
 * a table built once and used later meets on such a machine.
 *
 * Prints key=value lines: the entry count, a build's seconds (calibration
 * included), the last round's calibration scale,
 * the median and worst relative error |predicted - measured| / measured,
 * the same for the plain sums, the median measured latency, the drift and
 * the first-table-last-round errors; then
 * the same as a Markdown table for docs/RESULTS.md.  With -v, one line per
 * subnet.  Saves the first round's table to LUTFILE when given.  Exit
 * status 0, or 1 with a message on stderr.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/ir.h"
#include "runtime/extract.h"
#include "runtime/latency.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"

#define NCLASSES 10
#define WARMUP 2
#define NCALIB 8 /* random images the BN statistics are recalibrated on */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n) (reorders v). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The median of v[0..n), v left as it is. */
static double median_of(const double *v, int n, double *tmp)
{
	for (int i = 0; i < n; i++)
		tmp[i] = v[i];
	return median(tmp, n);
}

static double time_model(const rt_model *m, const float *x, int reps, float *ws, float *out,
			 double *t)
{
	for (int i = 0; i < WARMUP; i++)
		rt_model_forward(m, x, 1, ws, out);
	for (int i = 0; i < reps; i++) {
		double t0 = now_s();
		rt_model_forward(m, x, 1, ws, out);
		t[i] = now_s() - t0;
	}
	return median(t, reps);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		fprintf(stderr, "latbench: out of memory\n");
		exit(1);
	}
	return p;
}

/* Median and worst of |pred - meas| / meas over n subnets. */
static void errors(const double *pred, const double *meas, int n, double *med, double *worst)
{
	double *e = xcalloc((size_t)n, sizeof(double));
	*worst = 0;
	for (int i = 0; i < n; i++) {
		e[i] = fabs(pred[i] - meas[i]) / meas[i];
		*worst = e[i] > *worst ? e[i] : *worst;
	}
	*med = median(e, n);
	free(e);
}

int main(int argc, char **argv)
{
	int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	argv += verbose;
	argc -= verbose;
	if (argc < 7 || argc > 8) {
		fprintf(stderr,
			"usage: latbench [-v] AIR SPACE NSUBNETS THREADS REPS ROUNDS [LUTFILE]\n");
		return 1;
	}
	int nsub = atoi(argv[3]), threads = atoi(argv[4]), reps = atoi(argv[5]);
	int rounds = atoi(argv[6]);
	if (nsub < 2 || threads < 1 || rounds < 1 || reps < rounds) {
		fprintf(stderr, "latbench: NSUBNETS >= 2, THREADS >= 1, REPS >= ROUNDS >= 1\n");
		return 1;
	}
	int rreps = reps / rounds;
	char err[512];
	ir_module *mod = ir_binary_load(argv[1], err, sizeof(err));
	if (!mod) {
		fprintf(stderr, "latbench: %s\n", err);
		return 1;
	}
	const ir_space *s = NULL;
	for (int i = 0; i < mod->nspaces; i++)
		if (strcmp(mod->spaces[i].name, argv[2]) == 0)
			s = &mod->spaces[i];
	if (!s || rt_threads_init(threads, err, (int)sizeof(err)) < 0) {
		fprintf(stderr, "latbench: %s\n", s ? err : "no such space");
		return 1;
	}
	int res = s->resolution;
	char cpu[128];
	lat_cpu_model(cpu, sizeof(cpu));

	/* The subnets, cut out once. */
	sn_supernet *sn = sn_supernet_new(s, NCLASSES, res, res, 1, 1, err, sizeof(err));
	if (!sn) {
		fprintf(stderr, "latbench: %s\n", err);
		return 1;
	}
	size_t nx = (size_t)res * res * s->in_channels, nws = 0;
	float *x = xcalloc(NCALIB * nx, sizeof(float)), out[NCLASSES];
	rt_model **models = xcalloc((size_t)nsub, sizeof(*models));
	sn_subnet *subs = xcalloc((size_t)nsub, sizeof(*subs));
	sn_plan *plan = xcalloc(1, sizeof(*plan));
	rt_rng r;
	rt_rng_seed(&r, 12345);
	for (size_t i = 0; i < NCALIB * nx; i++)
		x[i] = (float)rt_rng_normal(&r);
	uint8_t key[16] = {0};
	for (int i = 0; i < nsub; i++) {
		if (i == 0)
			sn_subnet_max(s, &subs[i]);
		else if (i == 1)
			sn_subnet_min(s, &subs[i]);
		else
			sn_subnet_random(s, &r, &subs[i]);
		sn_supernet_set_subnet(sn, &subs[i]);
		/* Statistics of this subnet, as evaluation recalibrates them:
		 * with the initial ones, a deep subnet's random activations
		 * grow or vanish into denormals, which time like nothing real. */
		sn_supernet_recal_begin(sn);
		for (int c = 0; c < NCALIB; c++)
			sn_supernet_forward(sn, x + (size_t)c * nx, 1, RT_BN_MODE_RECAL);
		models[i] = rt_model_extract(sn, &subs[i], key, err, sizeof(err));
		if (!models[i]) {
			fprintf(stderr, "latbench: %s\n", err);
			return 1;
		}
		size_t w = rt_model_workspace(models[i], 1);
		nws = w > nws ? w : nws;
	}
	sn_supernet_free(sn);
	float *ws = xcalloc(nws, sizeof(float));

	/* pred[i * rounds + k], raw[..], meas[..]: subnet i in round k. */
	double *pred = xcalloc((size_t)nsub * rounds, sizeof(double));
	double *raw = xcalloc((size_t)nsub * rounds, sizeof(double));
	double scale = 1;
	double *meas = xcalloc((size_t)nsub * rounds, sizeof(double));
	double *tm = xcalloc((size_t)(reps > nsub ? reps : nsub), sizeof(double));
	double *tmp = xcalloc((size_t)(rounds > nsub ? rounds : nsub), sizeof(double));
	double *build_s = xcalloc((size_t)rounds, sizeof(double));
	int entries = 0;
	for (int k = 0; k < rounds; k++) {
		lat_table *t = lat_table_new(cpu, ARCHD_VERSION);
		double t0 = now_s();
		entries = t ? lat_table_build(t, s, NCLASSES, res, rreps, NULL, NULL, err,
					      sizeof(err))
			    : -1;
		if (entries >= 0 &&
		    lat_table_calibrate(t, s, NCLASSES, res, rreps, err, sizeof(err)) < 0)
			entries = -1;
		build_s[k] = now_s() - t0;
		if (entries < 0 ||
		    (k == 0 && argc == 8 && lat_table_save(t, argv[7], err, sizeof(err)) != 0)) {
			fprintf(stderr, "latbench: %s\n", t ? err : "out of memory");
			return 1;
		}
		lat_table_calibration(t, s, res, &scale);
		for (int i = 0; i < nsub; i++) {
			size_t at = (size_t)i * rounds + k;
			sn_plan_build(s, NCLASSES, &subs[i], plan);
			if (lat_predict(t, s, plan, res, &pred[at]) != 0) {
				fprintf(stderr, "latbench: subnet %d has layers the table lacks\n", i);
				return 1;
			}
			raw[at] = pred[at] / scale;
		}
		lat_table_free(t);
		for (int i = 0; i < nsub; i++)
			meas[(size_t)i * rounds + k] = time_model(models[i], x, rreps, ws, out, tm);
		fprintf(stderr, "\rlatency: round %d/%d", k + 1, rounds);
	}
	fputc('\n', stderr);

	/* Per subnet, the medians over the rounds; the first round's
	 * prediction; the last round's measurement. */
	double *P = xcalloc((size_t)nsub, sizeof(double)), *M = xcalloc((size_t)nsub, sizeof(double));
	double *R = xcalloc((size_t)nsub, sizeof(double));
	double *P0 = xcalloc((size_t)nsub, sizeof(double));
	double *ML = xcalloc((size_t)nsub, sizeof(double));
	for (int i = 0; i < nsub; i++) {
		P[i] = median_of(pred + (size_t)i * rounds, rounds, tmp);
		M[i] = median_of(meas + (size_t)i * rounds, rounds, tmp);
		R[i] = median_of(raw + (size_t)i * rounds, rounds, tmp);
		P0[i] = pred[(size_t)i * rounds];
		ML[i] = meas[(size_t)i * rounds + rounds - 1];
		if (verbose) {
			char genes[SN_GENE_STRLEN];
			sn_subnet_format(s, &subs[i], genes, sizeof(genes));
			printf("subnet %s predicted_us=%.1f sum_us=%.1f model_us=%.1f\n", genes,
			       P[i] * 1e6, R[i] * 1e6, M[i] * 1e6);
		}
	}
	/* A round's speed: the median over subnets of its latency relative
	 * to the subnet's median. */
	double fast = INFINITY, slow = 0;
	for (int k = 0; k < rounds; k++) {
		for (int i = 0; i < nsub; i++)
			tm[i] = meas[(size_t)i * rounds + k] / M[i];
		double v = median(tm, nsub);
		fast = v < fast ? v : fast;
		slow = v > slow ? v : slow;
	}
	double med, worst, med_late, worst_late, med_raw, worst_raw;
	errors(P, M, nsub, &med, &worst);
	errors(R, M, nsub, &med_raw, &worst_raw);
	errors(P0, ML, nsub, &med_late, &worst_late);
	for (int i = 0; i < nsub; i++)
		tm[i] = M[i];
	double medlat = median(tm, nsub) * 1e6;
	double bs = median(build_s, rounds);
	printf("space=%s\ncpu=%s\nthreads=%d\nentries=%d\nbuild_s=%.2f\nrounds=%d\n", s->name, cpu,
	       threads, entries, bs, rounds);
	printf("calib_scale=%.3f\n", scale);
	printf("model_median_rel_err=%.3f\nmodel_worst_rel_err=%.3f\nmodel_median_us=%.1f\n", med,
	       worst, medlat);
	printf("sum_median_rel_err=%.3f\nsum_worst_rel_err=%.3f\n", med_raw, worst_raw);
	printf("drift=%.3f\nlate_median_rel_err=%.3f\nlate_worst_rel_err=%.3f\nsubnets=%d\n",
	       slow / fast, med_late, worst_late, nsub);

	/* The same for docs/RESULTS.md. */
	printf("\n#### Latency table, space `%s` (`bench/latency`)\n\n", s->name);
	printf("%d entries measured in %.2f s on %s, %d thread(s); predicted against measured\n"
	       "batch-1 latency of the extracted model (what archd serves) of %d subnets (max,\n"
	       "min, %d random), over %d rounds of %d runs each.\n\n",
	       entries, bs, cpu, threads, nsub, nsub - 2, rounds, rreps);
	printf("| table | measured | median error | worst error | median latency (us) |\n");
	printf("| --- | --- | ---: | ---: | ---: |\n");
	printf("| every round's | the same rounds | %.1f%% | %.1f%% | %.1f |\n", 100 * med,
	       100 * worst, medlat);
	printf("| every round's, uncalibrated (sum of entries) | the same rounds | %.1f%% | %.1f%% "
	       "| |\n",
	       100 * med_raw, 100 * worst_raw);
	printf("| the first round's | the last round | %.1f%% | %.1f%% | |\n\n", 100 * med_late,
	       100 * worst_late);
	printf("Calibration of the last round's table: %.3f x the sum of the entries.  The\n"
	       "rounds' speed varied by %.0f%% (slowest round's median latency over the\n"
	       "fastest's: %.3f).\n\n",
	       scale, 100 * (slow / fast - 1), slow / fast);
	for (int i = 0; i < nsub; i++)
		rt_model_free(models[i]);
	free(models);
	free(subs);
	free(plan);
	free(x);
	free(ws);
	free(pred);
	free(raw);
	free(R);
	free(meas);
	free(tm);
	free(tmp);
	free(build_s);
	free(P);
	free(M);
	free(P0);
	free(ML);
	ir_module_free(mod);
	return 0;
}
