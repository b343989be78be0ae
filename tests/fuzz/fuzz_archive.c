/*
 * fuzz_archive.c — libFuzzer target for the Pareto archive's text form
 * (search_archive_load; tests/fuzz/run builds it), over a small space of
 * two stages' depth, kernel and expansion genes and two resolutions.
 *
 * Any input must be refused with a one-line reason naming the file, or
 * accepted; an accepted archive must save and load back to the same
 * members (genes, every metric, the predicted and test accuracies, bit for
 * bit or both unknown) and the same weights, as the current version.
 *
 * As in fuzz_air, each input is also tried with its last line replaced by
 * the checksum of the lines before it, so that mutations reach the header,
 * weights and member parsers behind the checksum.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "compiler/cc.h"
#include "runtime/archive.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char space_src[] =
	"space tiny {\n"
	"    input channels = 1;\n"
	"    resolution in {12, 16};\n"
	"    stem conv(kernel = 3, out = 8, stride = 2, act = relu);\n"
	"    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, "
	"out = 16, stride = 2); }\n"
	"    head pool, fc(classes);\n"
	"}\n";

static ir_module *mod;
static char path[256], again[256];

static void remove_files(void)
{
	unlink(path);
	unlink(again);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	lang_diags d;
	cc_options o;
	lang_diags_init(&d);
	cc_options_init(&o);
	mod = cc_compile_source("fuzz.arch", space_src, strlen(space_src), &o, &d);
	lang_diags_free(&d);
	if (!mod || mod->nspaces != 1)
		abort();
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/fuzz_archive.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	snprintf(again, sizeof again, "%s.again", path);
	atexit(remove_files);
	return 0;
}

static void write_file(const char *p, const uint8_t *data, size_t size)
{
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static int same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void check(const uint8_t *data, size_t size)
{
	const ir_space *s = &mod->spaces[0];
	char err[512] = "";
	write_file(path, data, size);
	search_archive *a = search_archive_load(s, path, err, sizeof err);
	if (!a) {
		size_t pl = strlen(path);
		if (strncmp(err, path, pl) != 0 || err[pl] != ':' || err[pl + 1] == '\0' ||
		    strchr(err, '\n'))
			abort(); /* every refusal names the file and gives a one-line reason */
		return;
	}
	if (search_archive_save(a, again, err, sizeof err) != 0)
		abort();
	search_archive *b = search_archive_load(s, again, err, sizeof err);
	if (!b || search_archive_size(b) != search_archive_size(a) ||
	    search_archive_file_version(b) != SEARCH_ARCHIVE_VERSION)
		abort();
	uint64_t wa = 0, wb = 0;
	if (search_archive_weights(a, &wa) != search_archive_weights(b, &wb) || wa != wb)
		abort();
	for (int i = 0; i < search_archive_size(a); i++) {
		const search_member *x = search_archive_member(a, i), *y = search_archive_member(b, i);
		if (!sn_subnet_equal(&x->sub, &y->sub) || !same(x->predicted, y->predicted) ||
		    !same(x->test, y->test))
			abort();
		for (int j = 0; j < IR_METRIC_COUNT; j++)
			if (!same(x->eval.v[j], y->eval.v[j]))
				abort();
	}
	search_archive_free(b);
	search_archive_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	/* the lines before the last, sealed with their checksum */
	size_t body = size;
	if (body > 0 && data[body - 1] == '\n')
		body--;
	while (body > 0 && data[body - 1] != '\n')
		body--;
	uint8_t *buf = malloc(body + 32);
	if (!buf)
		abort();
	memcpy(buf, data, body);
	int n = snprintf((char *)buf + body, 32, "xxh3 %016llx\n",
			 (unsigned long long)XXH3_64bits(data, body));
	check(buf, body + (size_t)n);
	free(buf);
	return 0;
}
