/*
 * infbench.c — the runtime's side of bench/infer: cuts subnets out of a
 * supernet of a space (random weights, batch norm recalibrated on random
 * images so activations stay in range), times rt_model_forward at batch 1
 * and 64, and writes what the other engines need: each subnet's model
 * file, its ONNX export and its standalone C export, the input images and
 * the runtime's logits on them.
 *
 *   infbench AIR SPACE NSUBNETS THREADS REPS OUTDIR
 *
 * Writes OUTDIR/x.bin (64 images NHWC float32), OUTDIR/x_nchw.bin (the
 * same NCHW), and for subnet i (0: max, 1: min, then random):
 * OUTDIR/s{i}.model, OUTDIR/s{i}.onnx, OUTDIR/s{i}/net.{c,h} and
 * OUTDIR/s{i}.logits (64 x classes float32).  Prints "input C H W", then
 * per subnet "subnet i GENES macs=M b1_us=T b64_us=T" (medians of REPS
 * runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compiler/ir.h"
#include "runtime/export_c.h"
#include "runtime/export_onnx.h"
#include "runtime/extract.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"

#define NCLASSES 10
#define BATCH 64
#define NCALIB 64

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

/* Median seconds of `reps` forwards at batch n, after one warm-up. */
static double time_forward(const rt_model *m, const float *x, int n, int reps, float *ws,
			   float *out, double *tm)
{
	rt_model_forward(m, x, n, ws, out);
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		rt_model_forward(m, x, n, ws, out);
		tm[r] = now_s() - t0;
	}
	qsort(tm, (size_t)reps, sizeof *tm, cmp_double);
	return tm[reps / 2];
}

static int write_floats(const char *path, const float *v, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(v, sizeof *v, n, f) == n;
	return (f && fclose(f) == 0 && ok) ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: infbench AIR SPACE NSUBNETS THREADS REPS OUTDIR\n");
		return 1;
	}
	int nsub = atoi(argv[3]), threads = atoi(argv[4]), reps = atoi(argv[5]);
	const char *dir = argv[6];
	char err[512] = "", path[1024];
	ir_module *mod = ir_binary_load(argv[1], err, sizeof err);
	if (!mod) {
		fprintf(stderr, "infbench: %s\n", err);
		return 1;
	}
	const ir_space *s = NULL;
	for (int i = 0; i < mod->nspaces; i++)
		if (!strcmp(mod->spaces[i].name, argv[2]))
			s = &mod->spaces[i];
	if (!s || nsub < 2 || reps < 1 || rt_threads_init(threads, err, (int)sizeof err) < 0) {
		fprintf(stderr, "infbench: %s\n", !s ? "no such space" : "bad arguments");
		return 1;
	}
	int res = s->resolution, c = s->in_channels;
	sn_supernet *sn = sn_supernet_new(s, NCLASSES, res, res, NCALIB, 1, err, sizeof err);
	size_t nx = (size_t)res * res * c;
	float *x = malloc(BATCH * nx * sizeof *x), *xc = malloc(BATCH * nx * sizeof *xc);
	float *out = malloc(BATCH * NCLASSES * sizeof *out);
	double *tm = malloc((size_t)reps * sizeof *tm);
	if (!sn || !x || !xc || !out || !tm) {
		fprintf(stderr, "infbench: %s\n", sn ? "out of memory" : err);
		return 1;
	}
	rt_rng r;
	rt_rng_seed(&r, 2024);
	for (size_t i = 0; i < BATCH * nx; i++)
		x[i] = (float)rt_rng_normal(&r);
	/* [n, h, w, c] -> [n, c, h, w] */
	for (int n = 0; n < BATCH; n++)
		for (size_t p = 0; p < (size_t)res * res; p++)
			for (int ch = 0; ch < c; ch++)
				xc[((size_t)n * c + ch) * res * res + p] = x[((size_t)n * res * res + p) * c + ch];
	snprintf(path, sizeof path, "%s/x.bin", dir);
	int bad = write_floats(path, x, BATCH * nx);
	snprintf(path, sizeof path, "%s/x_nchw.bin", dir);
	bad |= write_floats(path, xc, BATCH * nx);
	printf("input %d %d %d\n", c, res, res);
	uint8_t key[16] = { 0 };
	for (int i = 0; i < nsub && !bad; i++) {
		sn_subnet sub;
		if (i == 0)
			sn_subnet_max(s, &sub);
		else if (i == 1)
			sn_subnet_min(s, &sub);
		else
			sn_subnet_random(s, &r, &sub);
		sn_supernet_set_subnet(sn, &sub);
		sn_supernet_recal_begin(sn);
		sn_supernet_forward(sn, x, NCALIB, RT_BN_MODE_RECAL);
		rt_model *m = rt_model_extract(sn, &sub, key, err, sizeof err);
		float *ws = m ? malloc(rt_model_workspace(m, BATCH) * sizeof(float)) : NULL;
		if (!ws) {
			fprintf(stderr, "infbench: %s\n", m ? "out of memory" : err);
			return 1;
		}
		double b1 = time_forward(m, x, 1, reps, ws, out, tm);
		double b64 = time_forward(m, x, BATCH, reps, ws, out, tm);
		snprintf(path, sizeof path, "%s/s%d.logits", dir, i);
		bad |= write_floats(path, out, BATCH * NCLASSES);
		snprintf(path, sizeof path, "%s/s%d.model", dir, i);
		bad |= rt_model_save(m, path, err, sizeof err);
		snprintf(path, sizeof path, "%s/s%d.onnx", dir, i);
		bad |= rt_export_onnx_save(m, path, err, sizeof err);
		snprintf(path, sizeof path, "%s/s%d", dir, i);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/s%d/net", dir, i);
		bad |= rt_export_c_save(m, path, NULL, err, sizeof err);
		printf("subnet %d %s macs=%.0f b1_us=%.1f b64_us=%.1f\n", i, m->genes, m->macs, b1 * 1e6,
		       b64 * 1e6);
		free(ws);
		rt_model_free(m);
	}
	if (bad) {
		fprintf(stderr, "infbench: %s\n", err[0] ? err : "cannot write to the output dir");
		return 1;
	}
	free(x);
	free(xc);
	free(out);
	free(tm);
	sn_supernet_free(sn);
	ir_module_free(mod);
	rt_threads_shutdown();
	return 0;
}
