/*
 * fuzz_air.c — libFuzzer target for .air loading (tests/fuzz/run builds it).
 *
 * Any input must be refused with a reason or accepted; an accepted module
 * must dump, and must re-encode to exactly the input bytes: the reader
 * accepts only canonical files, so one module has one encoding.
 *
 * Random edits almost never keep the trailing checksum right, so each input
 * is also tried with its checksum recomputed: that lets the fuzzer reach
 * the payload checks behind it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "compiler/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	char err[256];
	ir_module *m = ir_binary_read(data, size, err, sizeof err);
	if (!m) {
		if (err[0] == '\0' || strchr(err, '\n'))
			abort(); /* every refusal gives a one-line reason */
		return;
	}
	ir_dump(m, devnull);
	uint8_t *buf;
	size_t len;
	if (ir_binary_write(m, &buf, &len) != 0)
		abort();
	if (len != size || memcmp(buf, data, size) != 0)
		abort(); /* accepted a file that is not the canonical encoding */
	free(buf);
	ir_module_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size < 8 + 4 + 8)
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
