/*
 * fuzz_model.c — libFuzzer target for the native model file
 * (rt_model_decode; tests/fuzz/run builds it).
 *
 * Any input must be refused with a one-line reason naming it, or accepted;
 * an accepted model must run: its forward on a zero input of its declared
 * shape, one image (and two when that is cheap), with the workspace
 * rt_model_workspace asks for, gives logits and touches nothing else (the
 * sanitizers watch).  It
 * must also re-encode to exactly the input bytes: the loader refuses every
 * field it does not keep (reserved words, versions), so one model has one
 * encoding.
 *
 * As in fuzz_air, each input is also tried with its trailing XXH3-64
 * recomputed, so that mutations reach the checks behind the checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "runtime/extract.h"
#include "runtime/threads.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* one thread: the forward then runs inline, as one tool call does */
	if (rt_threads_init(1, NULL, 0) != 1)
		abort();
	return 0;
}

/* Runs m on n zero images; the logits are read so that nothing is skipped. */
static void run(const rt_model *m, int n)
{
	size_t in = (size_t)m->in_h * m->in_w * m->in_channels;
	float *x = calloc((size_t)n * in, sizeof *x);
	float *ws = malloc(rt_model_workspace(m, n) * sizeof *ws);
	float *logits = malloc((size_t)n * m->nclasses * sizeof *logits);
	if (!x || !ws || !logits)
		abort();
	rt_model_forward(m, x, n, ws, logits);
	volatile float sink = 0;
	for (size_t i = 0; i < (size_t)n * m->nclasses; i++)
		sink += logits[i];
	(void)sink;
	free(logits);
	free(ws);
	free(x);
}

static void check(const uint8_t *data, size_t size)
{
	char err[512] = "";
	rt_model *m = rt_model_decode(data, size, "fuzz.model", err, sizeof err);
	if (!m) {
		if (strncmp(err, "fuzz.model: ", 12) != 0 || err[12] == '\0' || strchr(err, '\n'))
			abort(); /* every refusal names the file and gives a one-line reason */
		return;
	}
	run(m, 1);
	/* a batch too, where that is cheap: the decoder allows 256 MiB an image */
	if (rt_model_workspace(m, 1) + (size_t)m->in_h * m->in_w * m->in_channels < ((size_t)1 << 20))
		run(m, 2);
	uint8_t *buf;
	size_t len;
	if (rt_model_encode(m, &buf, &len) != 0)
		abort();
	if (len != size || memcmp(buf, data, size) != 0)
		abort(); /* accepted a file that is not the canonical encoding */
	free(buf);
	rt_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size < 8 + 8)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	uint64_t h = XXH3_64bits(copy, size - 8);
	for (int i = 0; i < 8; i++)
		copy[size - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
	check(copy, size);
	free(copy);
	return 0;
}
