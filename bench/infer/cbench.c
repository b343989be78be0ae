/*
 * cbench.c — the exported C's side of bench/infer, compiled with one
 * subnet's net.c (`cc -O3 -I DIR cbench.c DIR/net.c`).
 *
 *   cbench X.BIN LOGITS.BIN
 *
 * Runs net_predict on the 64 images of X.BIN, prints "diff D" (max |logits
 * - LOGITS.BIN|) and "ready", then answers each stdin line "SUBNET BATCH
 * REPS" (SUBNET is ignored: one process per subnet) with one line of REPS
 * times in microseconds of BATCH predictions in a row (the generated
 * function takes one image), after two untimed warm-up runs.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net.h"

#define BATCH 64
#define MAX_REPS 100000
#define PX (NET_INPUT_HEIGHT * NET_INPUT_WIDTH * NET_INPUT_CHANNELS)

static float x[BATCH][PX], want[BATCH][NET_CLASSES], got[BATCH][NET_CLASSES];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run(int n)
{
	for (int i = 0; i < n; i++)
		net_predict(x[i], got[i]);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: cbench X.BIN LOGITS.BIN\n");
		return 2;
	}
	FILE *fx = fopen(argv[1], "rb"), *fl = fopen(argv[2], "rb");
	double *tm = malloc(MAX_REPS * sizeof *tm);
	if (!fx || !fl || !tm || fread(x, sizeof x, 1, fx) != 1 ||
	    fread(want, sizeof want, 1, fl) != 1) {
		fprintf(stderr, "cbench: cannot read %s or %s\n", argv[1], argv[2]);
		return 1;
	}
	fclose(fx);
	fclose(fl);
	run(BATCH);
	double d = 0;
	for (int i = 0; i < BATCH; i++)
		for (int k = 0; k < NET_CLASSES; k++)
			d = fmax(d, fabs((double)got[i][k] - want[i][k]));
	printf("diff 0 %.3g\nready\n", d);
	fflush(stdout);
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		int s, n, reps;
		if (sscanf(line, "%d %d %d", &s, &n, &reps) != 3 || n < 1 || n > BATCH ||
		    reps < 1 || reps > MAX_REPS) {
			fprintf(stderr, "cbench: request '%.60s': expected SUBNET BATCH REPS\n",
				line);
			return 1;
		}
		run(n);
		run(n);
		for (int r = 0; r < reps; r++) {
			double t0 = now_s();
			run(n);
			tm[r] = now_s() - t0;
		}
		for (int r = 0; r < reps; r++)
			printf("%s%.2f", r ? " " : "", tm[r] * 1e6);
		printf("\n");
		fflush(stdout);
	}
	free(tm);
	return 0;
}
