/*
 * infbench.c — the runtime's side of bench/infer, in two modes.
 *
 *   infbench prepare AIR SPACE NSUBNETS OUTDIR
 *
 * cuts subnets out of a supernet of a space (random weights, batch norm
 * recalibrated on random images so activations stay in range) and writes
 * what every engine needs: OUTDIR/x.bin (64 images NHWC float32),
 * OUTDIR/x_nchw.bin (the same NCHW), and for subnet i (0: max, 1: min,
 * then random) OUTDIR/s{i}.model, s{i}.onnx, s{i}/net.{c,h} and s{i}.logits
 * (the runtime's logits on the 64 images, 64 x classes float32).  Prints
 * "input C H W", then "subnet i GENES macs=M" per subnet.
 *
 *   infbench serve OUTDIR NSUBNETS THREADS
 *
 * loads the model files on a pool of THREADS threads, prints "diff i D"
 * (max |logits - s{i}.logits|) per subnet, "version K" (K: the inference
 * kernels' instruction set, rt_infer_isa) and "ready", then answers each
 * stdin line "SUBNET BATCH REPS" with one line of REPS times in
 * microseconds of rt_model_forward at that batch, after two untimed
 * warm-up runs.  bench/infer/driver.py interleaves these requests with the
 * other engines'; a build's own infbench serving an older build's librt
 * is how a change is measured against its base in the same run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compiler/ir.h"
#include "runtime/export_c.h"
#include "runtime/export_onnx.h"
#include "runtime/extract.h"
#include "runtime/ops.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"

/* A BASE_BUILDDIR's librt may predate rt_infer_isa (ops.h). */
#pragma weak rt_infer_isa

#define NCLASSES 10
#define BATCH 64
#define NCALIB 64
#define MAX_SUBNETS 64
#define MAX_REPS 100000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_floats(const char *path, const float *v, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(v, sizeof *v, n, f) == n;
	return (f && fclose(f) == 0 && ok) ? 0 : -1;
}

static int read_floats(const char *path, float *v, size_t n)
{
	FILE *f = fopen(path, "rb");
	int ok = f && fread(v, sizeof *v, n, f) == n;
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

/* A count argument in [lo, hi], or -1 with a message naming it. */
static int count_arg(const char *what, const char *s, int lo, int hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "infbench: %s '%s': expected an integer from %d to %d\n", what, s,
			lo, hi);
		return -1;
	}
	return (int)v;
}

static int prepare(const char *air, const char *space, int nsub, const char *dir)
{
	char err[512] = "", path[1024];
	ir_module *mod = ir_binary_load(air, err, sizeof err);
	if (!mod) {
		fprintf(stderr, "infbench: %s\n", err);
		return 1;
	}
	const ir_space *s = NULL;
	for (int i = 0; i < mod->nspaces; i++)
		if (!strcmp(mod->spaces[i].name, space))
			s = &mod->spaces[i];
	if (!s) {
		fprintf(stderr, "infbench: %s: no space named '%s'\n", air, space);
		return 1;
	}
	int res = s->resolution, c = s->in_channels;
	sn_supernet *sn = sn_supernet_new(s, NCLASSES, res, res, NCALIB, 1, err, sizeof err);
	size_t nx = (size_t)res * res * c;
	float *x = malloc(BATCH * nx * sizeof *x), *xc = malloc(BATCH * nx * sizeof *xc);
	float *out = malloc(BATCH * NCLASSES * sizeof *out);
	if (!sn || !x || !xc || !out) {
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
				xc[((size_t)n * c + ch) * res * res + p] =
					x[((size_t)n * res * res + p) * c + ch];
	snprintf(path, sizeof path, "%s/x.bin", dir);
	int bad = write_floats(path, x, BATCH * nx);
	snprintf(path, sizeof path, "%s/x_nchw.bin", dir);
	bad |= write_floats(path, xc, BATCH * nx);
	printf("input %d %d %d\n", c, res, res);
	uint8_t key[16] = {0};
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
		rt_model_forward(m, x, BATCH, ws, out);
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
		printf("subnet %d %s macs=%.0f\n", i, m->genes, m->macs);
		free(ws);
		rt_model_free(m);
	}
	free(x);
	free(xc);
	free(out);
	sn_supernet_free(sn);
	ir_module_free(mod);
	if (bad) {
		fprintf(stderr, "infbench: %s\n", err[0] ? err : "cannot write to the output dir");
		return 1;
	}
	return 0;
}

static int serve(const char *dir, int nsub, int threads)
{
	char err[512] = "", path[1024], line[256];
	if (rt_threads_init(threads, err, (int)sizeof err) < 0) {
		fprintf(stderr, "infbench: %s\n", err);
		return 1;
	}
	rt_model *m[MAX_SUBNETS] = {0};
	size_t wsmax = 0, xmax = 0, ymax = 0;
	for (int i = 0; i < nsub; i++) {
		snprintf(path, sizeof path, "%s/s%d.model", dir, i);
		if (!(m[i] = rt_model_load(path, err, sizeof err))) {
			fprintf(stderr, "infbench: %s\n", err);
			return 1;
		}
		size_t ws = rt_model_workspace(m[i], BATCH);
		size_t nx = (size_t)BATCH * m[i]->in_h * m[i]->in_w * m[i]->in_channels;
		wsmax = ws > wsmax ? ws : wsmax;
		xmax = nx > xmax ? nx : xmax;
		ymax = (size_t)BATCH * m[i]->nclasses > ymax ? (size_t)BATCH * m[i]->nclasses
							     : ymax;
	}
	float *ws = malloc(wsmax * sizeof *ws), *x = malloc(xmax * sizeof *x);
	float *y = malloc(ymax * sizeof *y), *want = malloc(ymax * sizeof *want);
	double *tm = malloc(MAX_REPS * sizeof *tm);
	snprintf(path, sizeof path, "%s/x.bin", dir);
	if (!ws || !x || !y || !want || !tm || read_floats(path, x, xmax) < 0) {
		fprintf(stderr, "infbench: %s\n",
			ws && x && y && want && tm ? "cannot read x.bin" : "out of memory");
		return 1;
	}
	for (int i = 0; i < nsub; i++) {
		size_t ny = (size_t)BATCH * m[i]->nclasses;
		snprintf(path, sizeof path, "%s/s%d.logits", dir, i);
		if (read_floats(path, want, ny) < 0) {
			fprintf(stderr, "infbench: %s: cannot read %zu floats\n", path, ny);
			return 1;
		}
		rt_model_forward(m[i], x, BATCH, ws, y);
		double d = 0;
		for (size_t k = 0; k < ny; k++)
			d = fmax(d, fabs((double)y[k] - want[k]));
		printf("diff %d %.3g\n", i, d);
	}
	if (rt_infer_isa != NULL) /* the kernels' vector width, shown as our "version" */
		printf("version %s\n", rt_infer_isa());
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		int i, n, reps;
		if (sscanf(line, "%d %d %d", &i, &n, &reps) != 3 || i < 0 || i >= nsub || n < 1 ||
		    n > BATCH || reps < 1 || reps > MAX_REPS) {
			fprintf(stderr, "infbench: request '%.60s': expected SUBNET BATCH REPS\n",
				line);
			return 1;
		}
		for (int r = 0; r < 2; r++)
			rt_model_forward(m[i], x, n, ws, y);
		for (int r = 0; r < reps; r++) {
			double t0 = now_s();
			rt_model_forward(m[i], x, n, ws, y);
			tm[r] = now_s() - t0;
		}
		for (int r = 0; r < reps; r++)
			printf("%s%.2f", r ? " " : "", tm[r] * 1e6);
		printf("\n");
		fflush(stdout);
	}
	for (int i = 0; i < nsub; i++)
		rt_model_free(m[i]);
	free(ws);
	free(x);
	free(y);
	free(want);
	free(tm);
	rt_threads_shutdown();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "prepare")) {
		int nsub = count_arg("NSUBNETS", argv[4], 2, MAX_SUBNETS);
		return nsub < 0 ? 1 : prepare(argv[2], argv[3], nsub, argv[5]);
	}
	if (argc == 5 && !strcmp(argv[1], "serve")) {
		int nsub = count_arg("NSUBNETS", argv[3], 1, MAX_SUBNETS);
		int threads = count_arg("THREADS", argv[4], 1, 256);
		return nsub < 0 || threads < 0 ? 1 : serve(argv[2], nsub, threads);
	}
	fprintf(stderr, "usage: infbench prepare AIR SPACE NSUBNETS OUTDIR\n"
			"       infbench serve OUTDIR NSUBNETS THREADS\n");
	return 1;
}
