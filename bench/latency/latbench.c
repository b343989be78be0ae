/*
 * latbench.c — how well the latency lookup table (runtime/latency.h)
 * predicts measured whole-subnet latency, for bench/latency/run.
 *
 *   latbench AIR SPACE NSUBNETS THREADS REPS [LUTFILE]
 *
 * Builds the table of SPACE (fed images of its largest side, 10 classes) on
 * THREADS threads, each entry the median of REPS runs, and saves it to
 * LUTFILE when given.  Then, for the max, the min and NSUBNETS - 2 seeded
 * random subnets, recalibrates the batch-norm statistics of the (randomly
 * initialised) supernet for the subnet on 8 random images, as evaluation
 * does, and measures at batch 1 the median of REPS forwards (after two
 * warm-up ones) of (a) the supernet in EVAL mode (runtime/supernet.h), which
 * derives its cropped and transformed kernels once and keeps them, and (b)
 * the extracted standalone model (runtime/extract.h), which is what archd
 * serves; and compares each with the table's prediction.
 *
 * Prints key=value lines: the build's entry count and seconds, then per
 * reference the median and worst relative error |predicted - measured| /
 * measured, and the median measured latency; then the same as a Markdown
 * table for docs/RESULTS.md.  With -v, one line per subnet.
 * Exit status 0, or 1 with a message on stderr.
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

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void progress(void *ctx, int done, int total)
{
	(void)ctx;
	if (done == total || done % 20 == 0)
		fprintf(stderr, "\rlatency table: %d/%d shapes", done, total);
	if (done == total)
		fputc('\n', stderr);
}

/* Median seconds of reps supernet EVAL forwards of the selected subnet. */
static double time_supernet(sn_supernet *sn, const float *x, int reps, double *t)
{
	for (int i = 0; i < WARMUP; i++)
		sn_supernet_forward(sn, x, 1, RT_BN_MODE_EVAL);
	for (int i = 0; i < reps; i++) {
		double t0 = now_s();
		sn_supernet_forward(sn, x, 1, RT_BN_MODE_EVAL);
		t[i] = now_s() - t0;
	}
	return median(t, reps);
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

int main(int argc, char **argv)
{
	int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	argv += verbose;
	argc -= verbose;
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: latbench [-v] AIR SPACE NSUBNETS THREADS REPS [LUTFILE]\n");
		return 1;
	}
	int nsub = atoi(argv[3]), threads = atoi(argv[4]), reps = atoi(argv[5]);
	if (nsub < 2 || threads < 1 || reps < 1) {
		fprintf(stderr, "latbench: NSUBNETS >= 2, THREADS >= 1 and REPS >= 1\n");
		return 1;
	}
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
	lat_table *t = lat_table_new(cpu, ARCHD_VERSION);
	double t0 = now_s();
	int n = t ? lat_table_build(t, s, NCLASSES, res, reps, progress, NULL, err, sizeof(err)) : -1;
	double build_s = now_s() - t0;
	if (n < 0 || (argc == 7 && lat_table_save(t, argv[6], err, sizeof(err)) != 0)) {
		fprintf(stderr, "latbench: %s\n", t ? err : "out of memory");
		return 1;
	}
	printf("space=%s\ncpu=%s\nthreads=%d\nentries=%d\nbuild_s=%.2f\n", s->name, cpu, threads, n,
	       build_s);

	sn_supernet *sn = sn_supernet_new(s, NCLASSES, res, res, 1, 1, err, sizeof(err));
	if (!sn) {
		fprintf(stderr, "latbench: %s\n", err);
		return 1;
	}
	size_t nx = (size_t)res * res * s->in_channels;
	float *x = malloc(NCALIB * nx * sizeof(float)), out[NCLASSES];
	double *tm = malloc((size_t)reps * sizeof(double));
	double *err_sn = malloc((size_t)nsub * sizeof(double));
	double *err_md = malloc((size_t)nsub * sizeof(double));
	double *lat_sn = malloc((size_t)nsub * sizeof(double));
	double *lat_md = malloc((size_t)nsub * sizeof(double));
	sn_plan *plan = malloc(sizeof(*plan));
	if (!x || !tm || !err_sn || !err_md || !lat_sn || !lat_md || !plan) {
		fprintf(stderr, "latbench: out of memory\n");
		return 1;
	}
	rt_rng r;
	rt_rng_seed(&r, 12345);
	for (size_t i = 0; i < NCALIB * nx; i++)
		x[i] = (float)rt_rng_normal(&r);
	uint8_t key[16] = {0};
	for (int i = 0; i < nsub; i++) {
		sn_subnet sub;
		if (i == 0)
			sn_subnet_max(s, &sub);
		else if (i == 1)
			sn_subnet_min(s, &sub);
		else
			sn_subnet_random(s, &r, &sub);
		sn_plan_build(s, NCLASSES, &sub, plan);
		double pred;
		if (lat_predict(t, s, plan, res, &pred) != 0) {
			fprintf(stderr, "latbench: subnet %d has layers the table lacks\n", i);
			return 1;
		}
		sn_supernet_set_subnet(sn, &sub);
		/* Statistics of this subnet, as evaluation recalibrates them:
		 * with the initial ones, a deep subnet's random activations
		 * grow or vanish into denormals, which time like nothing real. */
		sn_supernet_recal_begin(sn);
		for (int c = 0; c < NCALIB; c++)
			sn_supernet_forward(sn, x + (size_t)c * nx, 1, RT_BN_MODE_RECAL);
		lat_sn[i] = time_supernet(sn, x, reps, tm);
		rt_model *m = rt_model_extract(sn, &sub, key, err, sizeof(err));
		float *ws = m ? malloc(rt_model_workspace(m, 1) * sizeof(float)) : NULL;
		if (!ws) {
			fprintf(stderr, "latbench: %s\n", m ? "out of memory" : err);
			return 1;
		}
		lat_md[i] = time_model(m, x, reps, ws, out, tm);
		free(ws);
		rt_model_free(m);
		err_sn[i] = fabs(pred - lat_sn[i]) / lat_sn[i];
		err_md[i] = fabs(pred - lat_md[i]) / lat_md[i];
		if (verbose) {
			char genes[SN_GENE_STRLEN];
			sn_subnet_format(s, &sub, genes, sizeof(genes));
			printf("subnet %s predicted_us=%.1f supernet_us=%.1f model_us=%.1f\n", genes,
			       pred * 1e6, lat_sn[i] * 1e6, lat_md[i] * 1e6);
		}
	}
	const char *names[2] = {"model", "supernet"};
	const char *labels[2] = {"extracted model (what archd serves)", "supernet, EVAL forward"};
	double *errs[2] = {err_md, err_sn}, *lats[2] = {lat_md, lat_sn};
	double med[2], worst[2], medlat[2];
	for (int k = 0; k < 2; k++) {
		worst[k] = 0;
		for (int i = 0; i < nsub; i++)
			worst[k] = errs[k][i] > worst[k] ? errs[k][i] : worst[k];
		med[k] = median(errs[k], nsub);
		medlat[k] = median(lats[k], nsub) * 1e6;
		printf("%s_median_rel_err=%.3f\n%s_worst_rel_err=%.3f\n%s_median_us=%.1f\n", names[k],
		       med[k], names[k], worst[k], names[k], medlat[k]);
	}
	printf("subnets=%d\n", nsub);
	/* The same for docs/RESULTS.md. */
	printf("\n#### Latency table, space `%s` (`bench/latency`)\n\n", s->name);
	printf("%d entries measured in %.1f s on %s, %d thread(s); predicted against measured\n"
	       "batch-1 latency (median of %d runs) of %d subnets (max, min, %d random).\n\n",
	       n, build_s, cpu, threads, reps, nsub, nsub - 2);
	printf("| measured | median error | worst error | median latency (us) |\n");
	printf("| --- | ---: | ---: | ---: |\n");
	for (int k = 0; k < 2; k++)
		printf("| %s | %.1f%% | %.1f%% | %.1f |\n", labels[k], 100 * med[k], 100 * worst[k],
		       medlat[k]);
	printf("\n");
	free(x);
	free(tm);
	free(err_sn);
	free(err_md);
	free(lat_sn);
	free(lat_md);
	free(plan);
	sn_supernet_free(sn);
	lat_table_free(t);
	ir_module_free(mod);
	return 0;
}
