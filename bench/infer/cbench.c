/*
 * cbench.c — the exported C's side of bench/infer, compiled with one
 * subnet's net.c (`cc -O2 -I DIR cbench.c DIR/net.c`): times net_predict
 * on one image and on 64 in a row (medians of REPS runs) and compares its
 * logits with the runtime's.
 *
 *   cbench X.BIN LOGITS.BIN REPS
 *
 * Prints "b1_us=T b64_us=T max_abs_diff=D".
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net.h"

#define BATCH 64
#define PX (NET_INPUT_HEIGHT * NET_INPUT_WIDTH * NET_INPUT_CHANNELS)

static float x[BATCH][PX], want[BATCH][NET_CLASSES], got[BATCH][NET_CLASSES];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double p = *(const double *)a, q = *(const double *)b;
	return (p > q) - (p < q);
}

/* Median seconds of reps runs of n predictions. */
static double time_n(int n, int reps, double *tm)
{
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		for (int i = 0; i < n; i++)
			net_predict(x[i], got[i]);
		tm[r] = now_s() - t0;
	}
	qsort(tm, (size_t)reps, sizeof *tm, cmp_double);
	return tm[reps / 2];
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int reps = atoi(argv[3]);
	FILE *fx = fopen(argv[1], "rb"), *fl = fopen(argv[2], "rb");
	double *tm = malloc((size_t)(reps > 0 ? reps : 1) * sizeof *tm);
	if (reps < 1 || !fx || !fl || !tm || fread(x, sizeof x, 1, fx) != 1 ||
	    fread(want, sizeof want, 1, fl) != 1) {
		fprintf(stderr, "cbench: cannot read %s or %s\n", argv[1], argv[2]);
		return 1;
	}
	double b1 = time_n(1, reps, tm), b64 = time_n(BATCH, reps, tm), d = 0;
	for (int i = 0; i < BATCH; i++)
		for (int k = 0; k < NET_CLASSES; k++)
			d = fmax(d, fabs((double)got[i][k] - want[i][k]));
	printf("b1_us=%.1f b64_us=%.1f max_abs_diff=%.3g\n", b1 * 1e6, b64 * 1e6, d);
	free(tm);
	return 0;
}
