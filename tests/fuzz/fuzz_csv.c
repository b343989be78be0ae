/*
 * fuzz_csv.c — libFuzzer target for CSV data sets (rt_data_load on a CSV
 * file, which reads it with runtime/data_csv.c, then splits and
 * normalises; tests/fuzz/run builds it).
 *
 * An input is a descriptor line and then the file.  The line holds the
 * data set's numbers as a .arch file or an .air gives them, unchecked:
 *
 *   CHANNELS HEIGHT WIDTH CLASSES LABEL_COLUMN SKIP_ROWS TEST_COUNT
 *   HOLDOUT TRAIN_LIMIT NORMALIZE [CLASS...]
 *
 * (NORMALIZE 0 none, 1 standard, 2 fixed; CLASS... a class filter of
 * CLASSES labels); an input whose first line does not parse is skipped.
 * The rest is written to a file under $TMPDIR (rewritten for each input)
 * and loaded.  It must be refused with a one-line reason that names the
 * file or the data set, or loaded with the shape asked for, labels below
 * the class count, class counts that add up, the split sizes asked for,
 * and a finite normalisation with positive deviations.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/data.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];
static int fd = -1;

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/fuzz_csv.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if ((fd = mkstemp(path)) < 0)
		abort();
	atexit(remove_file);
	return 0;
}

#define NFIELDS 10
#define MAXCLASSES 16

/* Parses the descriptor line [s, end) into d (classes into cls); returns 0,
 * or -1 when it is not one. */
static int descriptor(const char *s, const char *end, ir_dataset *d, int *cls)
{
	char line[256];
	size_t len = (size_t)(end - s);
	if (len >= sizeof line)
		return -1;
	memcpy(line, s, len);
	line[len] = '\0';
	long v[NFIELDS + MAXCLASSES];
	int n = 0;
	char *p = line;
	while (n < NFIELDS + MAXCLASSES) {
		char *q;
		long x = strtol(p, &q, 10);
		if (q == p)
			break;
		if (x < -2147483647L || x > 2147483647L)
			return -1;
		v[n++] = x;
		p = q;
	}
	if (n < NFIELDS || (n > NFIELDS && n - NFIELDS != v[3]))
		return -1;
	d->channels = (int)v[0];
	d->height = (int)v[1];
	d->width = (int)v[2];
	d->nclasses = (int)v[3];
	d->label_column = (int)v[4];
	d->skip_rows = (int)v[5];
	d->test_count = (int)v[6];
	d->holdout = (int)v[7];
	d->train_limit = (int)v[8];
	if (v[9] < 0 || v[9] > 2)
		return -1;
	d->normalize = v[9] == 0 ? IR_NORM_NONE : v[9] == 1 ? IR_NORM_STANDARD : IR_NORM_FIXED;
	d->mean = 0.5;
	d->std = 2;
	for (int i = NFIELDS; i < n; i++)
		cls[i - NFIELDS] = (int)v[i];
	d->classes = n > NFIELDS ? cls : NULL;
	return 0;
}

/* The checks on a loaded data set. */
static void check_loaded(const ir_dataset *d, const rt_data *data)
{
	if (data->channels != d->channels || data->height != d->height || data->width != d->width ||
	    data->nclasses != d->nclasses ||
	    data->example_size != (size_t)d->channels * d->height * d->width)
		abort();
	for (int s = 0; s < RT_SPLIT_COUNT; s++) {
		const rt_data_part *p = &data->part[s];
		if (p->n < 0 || (p->n && (!p->x || !p->y)) || !p->class_count)
			abort();
		int sum = 0;
		for (int c = 0; c < data->nclasses; c++) {
			int k = 0;
			for (int i = 0; i < p->n; i++)
				k += p->y[i] == c;
			if (p->class_count[c] != k)
				abort();
			sum += k;
		}
		if (sum != p->n) /* a label outside [0, nclasses) */
			abort();
		for (size_t i = 0; i < (size_t)p->n * data->example_size; i++)
			if (isnan(p->x[i]))
				abort();
	}
	const rt_data_part *tr = &data->part[RT_SPLIT_TRAIN];
	if (tr->n < 1)
		abort(); /* a training split must not be empty */
	if (d->holdout > 0 && data->part[RT_SPLIT_HOLDOUT].n != d->holdout)
		abort();
	if (d->holdout == 0 && data->part[RT_SPLIT_HOLDOUT].n != 0)
		abort();
	if (d->train_limit > 0 && tr->n + data->part[RT_SPLIT_HOLDOUT].n > d->train_limit)
		abort();
	for (int c = 0; c < data->channels; c++)
		if (!isfinite(data->mean[c]) || !isfinite(data->std[c]) || !(data->std[c] > 0))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nl = memchr(s, '\n', size);
	if (!nl)
		return 0;
	ir_dataset d = {.name = "fuzz", .format = IR_FORMAT_CSV, .seed = 7};
	int cls[MAXCLASSES];
	if (descriptor(s, nl, &d, cls) != 0)
		return 0;
	size_t len = size - (size_t)(nl + 1 - s);
	if (ftruncate(fd, 0) != 0 || (len && pwrite(fd, nl + 1, len, 0) != (ssize_t)len))
		abort();
	d.train_images = path;

	char err[512] = "";
	rt_data *loaded = rt_data_load(&d, err, sizeof err);
	if (!loaded) {
		size_t plen = strlen(path);
		int named = (strncmp(err, path, plen) == 0 && err[plen] == ':') ||
			    strncmp(err, "dataset fuzz ", 13) == 0;
		if (!named || strchr(err, '\n'))
			abort(); /* every refusal names the file or the data set, on one line */
		return 0;
	}
	check_loaded(&d, loaded);
	char summary[512];
	rt_data_summary(loaded, summary, sizeof summary);
	rt_data_free(loaded);
	return 0;
}
