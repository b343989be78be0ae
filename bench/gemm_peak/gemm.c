/*
 * gemm.c — OpenBLAS cblas_sgemm GFLOP/s (2 M N K flops per call) at the
 * shapes the std mbnet's largest subnet runs at batch 128 (pointwise convs
 * forward, and their weight gradients, which reduce over the M = N*H*W
 * rows) and at large square sizes, for bench/gemm_peak.
 *
 *   gemm THREADS
 *
 * THREADS is OpenBLAS's own thread count.  Prints one line per shape: `shape TRANS M N K GFLOPS`, then
 * `peak GFLOPS`, the best of the square sizes.  Each figure is the best of
 * 3 timings of as many calls as fill about 0.2 s.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>


static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct shape {
	const char *what;
	int trans_a; /* 1: C[M,N] = A^T B with A stored [K, M] (a weight gradient) */
	int m, n, k;
} shape;

/* Row-major C [m, n] = op(A) B, B [k, n]. */
static void call(const shape *s, const float *a, const float *b, float *c)
{
	if (s->trans_a)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->m, s->n, s->k, 1.0f, a,
			    s->m, b, s->n, 0.0f, c, s->n);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->m, s->n, s->k, 1.0f, a,
			    s->k, b, s->n, 0.0f, c, s->n);
}

static double gflops(const shape *s)
{
	size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
	float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
	float *c = malloc(nc * sizeof(float));
	if (a == NULL || b == NULL || c == NULL) {
		fprintf(stderr, "gemm: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < na; i++)
		a[i] = (float)(i % 7) * 0.1f;
	for (size_t i = 0; i < nb; i++)
		b[i] = (float)(i % 5) * 0.1f;
	double flop = 2.0 * s->m * s->n * s->k;
	call(s, a, b, c);
	double t0 = now_s();
	call(s, a, b, c);
	double one = now_s() - t0;
	long reps = one > 0 ? (long)(0.2 / one) + 1 : 1000;
	double best = 0.0;
	for (int r = 0; r < 3; r++) {
		t0 = now_s();
		for (long i = 0; i < reps; i++)
			call(s, a, b, c);
		double g = flop * reps / (now_s() - t0) / 1e9;
		if (g > best)
			best = g;
	}
	free(a), free(b), free(c);
	return best;
}

int main(int argc, char **argv)
{
	static const shape shapes[] = {
		{"stem-im2col-28", 0, 100352, 16, 9},
		{"expand-28", 0, 100352, 32, 16},
		{"expand-28-s2", 0, 100352, 96, 16},
		{"project-14", 0, 25088, 24, 144},
		{"expand-14", 0, 25088, 144, 24},
		{"expand-7", 0, 6272, 240, 40},
		{"project-7", 0, 6272, 40, 240},
		{"expand-4", 0, 2048, 480, 80},
		{"project-4", 0, 2048, 80, 480},
		{"fc", 0, 128, 256, 80},
		{"dW-expand-14", 1, 24, 144, 25088},
		{"dW-expand-7", 1, 40, 240, 6272},
		{"dW-project-4", 1, 480, 80, 2048},
		{"square", 0, 512, 512, 512},
		{"square", 0, 1024, 1024, 1024},
		{"square", 0, 2048, 2048, 2048},
	};
	if (argc != 2 || atoi(argv[1]) < 1) {
		fprintf(stderr, "usage: gemm THREADS\n");
		return 1;
	}
	/* OpenBLAS's own threads: the runtime runs it on one thread and splits
	 * GEMMs over its pool (threads.h), but the peak is OpenBLAS's */
	openblas_set_num_threads(atoi(argv[1]));
	double peak = 0.0;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		const shape *s = &shapes[i];
		double g = gflops(s);
		printf("%s %s %d %d %d %.2f\n", s->what, s->trans_a ? "TN" : "NN", s->m, s->n, s->k,
		       g);
		fflush(stdout);
		if (s->m == s->n && s->n == s->k && g > peak)
			peak = g;
	}
	printf("peak %.2f\n", peak);
	return 0;
}
