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
 * recomputed, so that mutations reach the checks behind the checksum; and
 * once more with the weight count and the weights made to fit the layer
 * list it declares (weights cut or zero-padded, checksum recomputed), so
 * that an edited layer reaches the forward instead of the count check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "runtime/extract.h"
#include "runtime/extract_priv.h"
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
	if (rt_model_workspace(m, 1) + (size_t)m->in_h * m->in_w * m->in_channels <
	    ((size_t)1 << 20))
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

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Header offsets of extract.h's file format. */
#define HEAD_LEN 76
#define LAYER_LEN 64
/* Most weights a refitted file gets: enough for the seeds' shapes. */
#define REFIT_MAX ((size_t)1 << 18)

/* data with the weight count the layer list needs, the weights after it
 * cut or zero-padded to that count, and a recomputed checksum; checked.
 * Skipped when the header or layer list is not all there or needs more
 * than REFIT_MAX weights. */
static void check_refitted(const uint8_t *data, size_t size)
{
	if (size < HEAD_LEN)
		return;
	uint32_t cin = get_u32(data + 32), nlayers = get_u32(data + 52), glen = get_u32(data + 72);
	if (cin > 65536 || nlayers > 4096 || glen > 65536)
		return;
	size_t at = HEAD_LEN + (size_t)glen + 8 * (size_t)cin + LAYER_LEN * (size_t)nlayers;
	if (size < at)
		return;
	size_t need = 0;
	for (uint32_t i = 0; i < nlayers; i++) {
		const uint8_t *p = data + at - LAYER_LEN * (size_t)(nlayers - i);
		uint32_t v[14];
		for (int j = 0; j < 14; j++)
			if ((v[j] = get_u32(p + 4 * j)) > 65536)
				return;
		rt_model_layer l = {.kind = (ir_block)v[0],
				    .act = (ir_act)v[1],
				    .cin = (int)v[2],
				    .cout = (int)v[3],
				    .mid = (int)v[4],
				    .se_r = (int)v[5],
				    .k = (int)v[6],
				    .stride = (int)v[7],
				    .has_expand = (int)v[12],
				    .shortcut = (int)v[13]};
		if ((unsigned)l.kind >= IR_BLOCK_COUNT || l.k > 11)
			return;
		need += rt_model_layer_size(&l);
		if (need > REFIT_MAX)
			return;
	}
	size_t len = at + 8 + 4 * need + 8;
	uint8_t *buf = calloc(1, len);
	if (!buf)
		abort();
	memcpy(buf, data, at);
	put_u64(buf + at, need);
	if (size > at + 8)
		memcpy(buf + at + 8, data + at + 8,
		       size - at - 8 < 4 * need ? size - at - 8 : 4 * need);
	put_u64(buf + len - 8, XXH3_64bits(buf, len - 8));
	check(buf, len);
	free(buf);
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
	put_u64(copy + size - 8, XXH3_64bits(copy, size - 8));
	check(copy, size);
	free(copy);
	check_refitted(data, size);
	return 0;
}
