/*
 * model_logits.c — a helper of archc_export.sh, built by it against the
 * build's librt: the runtime's logits (rt_model_forward) of a model file on
 * images given as float32 NHWC, already normalised.
 *
 *   model_logits MODEL X.BIN N OUT.BIN
 *
 * Writes N x classes float32 to OUT.BIN; exits 1 with a message on error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/extract.h"
#include "runtime/threads.h"

int main(int argc, char **argv)
{
	char err[512];
	if (argc != 5) {
		fprintf(stderr, "usage: model_logits MODEL X.BIN N OUT.BIN\n");
		return 1;
	}
	int n = atoi(argv[3]);
	rt_model *m = rt_model_load(argv[1], err, sizeof err);
	if (!m || n < 1 || rt_threads_init(1, err, (int)sizeof err) < 0) {
		fprintf(stderr, "model_logits: %s\n", m ? "bad N or threads" : err);
		return 1;
	}
	size_t px = (size_t)m->in_h * m->in_w * m->in_channels;
	float *x = malloc((size_t)n * px * sizeof *x);
	float *y = malloc((size_t)n * m->nclasses * sizeof *y);
	float *ws = malloc(rt_model_workspace(m, n) * sizeof *ws);
	FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[4], "wb");
	if (!x || !y || !ws || !in || !out || fread(x, px * sizeof *x, (size_t)n, in) != (size_t)n) {
		fprintf(stderr, "model_logits: cannot read %d images from %s or write %s\n", n,
			argv[2], argv[4]);
		return 1;
	}
	rt_model_forward(m, x, n, ws, y);
	int bad = fwrite(y, sizeof *y * m->nclasses, (size_t)n, out) != (size_t)n;
	bad |= fclose(out) != 0;
	fclose(in);
	free(x);
	free(y);
	free(ws);
	rt_model_free(m);
	rt_threads_shutdown();
	return bad;
}
