/*
 * test_data.c — loading IDX and CSV files (gzip and plain), the splits a
 * seed decides, class filters, normalisation, and every error a user can
 * cause, each of which must name the file.
 *
 * Each test writes tiny files into a temporary directory first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "runtime/data.h"
#include "util_near.h"

typedef struct files {
	char dir[64];
	int n;
	char path[32][160];
} files;

static int setup(void **state)
{
	files *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof f->dir, "%s/test_data.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	files *f = *state;
	for (int i = 0; i < f->n; i++)
		unlink(f->path[i]);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes bytes to dir/name, gzip-compressed when gz; returns the path. */
static const char *put(files *f, const char *name, const void *data, size_t len, int gz)
{
	assert_true(f->n < 32);
	char *p = f->path[f->n++];
	char dir[sizeof f->dir];
	memcpy(dir, f->dir, sizeof dir);
	snprintf(p, sizeof f->path[0], "%s/%s", dir, name);
	if (gz) {
		gzFile g = gzopen(p, "wb");
		assert_non_null(g);
		if (len)
			assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
		assert_int_equal(gzclose(g), Z_OK);
	} else {
		FILE *o = fopen(p, "wb");
		assert_non_null(o);
		assert_int_equal(fwrite(data, 1, len, o), len);
		assert_int_equal(fclose(o), 0);
	}
	return p;
}

static const char *put_text(files *f, const char *name, const char *text, int gz)
{
	return put(f, name, text, strlen(text), gz);
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The byte of image i at (r, c, ch): distinct enough to catch mix-ups. */
static unsigned char pixel(int i, int r, int c, int ch)
{
	return (unsigned char)((i * 37 + r * 11 + c * 3 + ch * 101) % 256);
}

/* An IDX image file [n, h, w] (ch == 0) or [n, h, w, ch], of which only
 * `keep` images are actually written. */
static const char *put_images(files *f, const char *name, int n, int h, int w, int ch,
			      int keep, int gz)
{
	int dims = ch ? 4 : 3, cc = ch ? ch : 1;
	size_t len = 4 + 4 * (size_t)dims + (size_t)keep * h * w * cc;
	unsigned char *b = calloc(1, len);
	assert_non_null(b);
	be32(b, 0x800u + (unsigned)dims);
	be32(b + 4, (uint32_t)n);
	be32(b + 8, (uint32_t)h);
	be32(b + 12, (uint32_t)w);
	if (ch)
		be32(b + 16, (uint32_t)ch);
	unsigned char *p = b + 4 + 4 * dims;
	for (int i = 0; i < keep; i++)
		for (int r = 0; r < h; r++)
			for (int c = 0; c < w; c++)
				for (int k = 0; k < cc; k++)
					*p++ = pixel(i, r, c, k);
	const char *path = put(f, name, b, len, gz);
	free(b);
	return path;
}

static const char *put_labels(files *f, const char *name, const unsigned char *y, int n,
			      int gz)
{
	unsigned char *b = malloc(8 + (size_t)n);
	assert_non_null(b);
	be32(b, 0x801);
	be32(b + 4, (uint32_t)n);
	memcpy(b + 8, y, (size_t)n);
	const char *path = put(f, name, b, 8 + (size_t)n, gz);
	free(b);
	return path;
}

static ir_dataset idx_desc(const char *img, const char *lab, int h, int w, int c,
			   int nclasses)
{
	ir_dataset d;
	memset(&d, 0, sizeof d);
	d.name = "tiny";
	d.format = IR_FORMAT_IDX;
	d.train_images = (char *)img;
	d.train_labels = (char *)lab;
	d.channels = c;
	d.height = h;
	d.width = w;
	d.nclasses = nclasses;
	d.label_column = -1;
	d.seed = 1;
	return d;
}

static ir_dataset csv_desc(const char *path, int features, int nclasses)
{
	ir_dataset d;
	memset(&d, 0, sizeof d);
	d.name = "table";
	d.format = IR_FORMAT_CSV;
	d.train_images = (char *)path;
	d.channels = features;
	d.height = 1;
	d.width = 1;
	d.nclasses = nclasses;
	d.label_column = -1;
	d.seed = 1;
	return d;
}

/* A CSV of n rows: feature 0 is the row id, feature 1 is id * 0.5, and the
 * label is id % nclasses (last column). */
static const char *put_id_csv(files *f, const char *name, int n, int nclasses)
{
	size_t cap = (size_t)n * 32 + 1;
	char *t = malloc(cap);
	assert_non_null(t);
	size_t used = 0;
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(t + used, cap - used, "%d,%g,%d\n", i, i * 0.5,
					 i % nclasses);
	const char *p = put(f, name, t, used, 0);
	free(t);
	return p;
}

static rt_data *load_ok(const ir_dataset *d)
{
	char err[512] = "";
	rt_data *data = rt_data_load(d, err, sizeof err);
	if (!data)
		fail_msg("rt_data_load: %s", err);
	return data;
}

/* Loading must fail with a message containing every one of the strings. */
static void load_fails(const ir_dataset *d, const char *a, const char *b)
{
	char err[512] = "";
	rt_data *data = rt_data_load(d, err, sizeof err);
	if (data) {
		rt_data_free(data);
		fail_msg("loaded, expected an error with '%s'", a);
	}
	if (!strstr(err, a) || (b && !strstr(err, b)))
		fail_msg("error '%s' lacks '%s' / '%s'", err, a, b ? b : "");
}

/* The ids (feature 0, un-normalised) of a split, marked in seen[]; each id
 * must appear once across everything marked. */
static void mark_ids(const rt_data *data, rt_split s, unsigned char *seen, int n)
{
	const rt_data_part *p = &data->part[s];
	for (int i = 0; i < p->n; i++) {
		int id = (int)p->x[(size_t)i * data->example_size];
		assert_true(id >= 0 && id < n);
		assert_int_equal(seen[id], 0);
		seen[id] = 1;
	}
}

/* --- IDX ----------------------------------------------------------------- */

static void test_idx_plain_and_gzip(void **state)
{
	files *f = *state;
	unsigned char y[20];
	for (int i = 0; i < 20; i++)
		y[i] = (unsigned char)(i % 4);
	for (int gz = 0; gz <= 1; gz++) {
		const char *img = put_images(f, gz ? "a.idx.gz" : "a.idx", 20, 4, 5, 0, 20, gz);
		const char *lab = put_labels(f, gz ? "l.idx.gz" : "l.idx", y, 20, gz);
		ir_dataset d = idx_desc(img, lab, 4, 5, 1, 4);
		d.test_images = (char *)img;
		d.test_labels = (char *)lab;
		rt_data *data = load_ok(&d);
		for (int s = 0; s < RT_SPLIT_COUNT; s += 2) {
			const rt_data_part *p = &data->part[s];
			assert_int_equal(p->n, 20);
			for (int i = 0; i < 20; i++) {
				assert_int_equal(p->y[i], i % 4);
				for (int r = 0; r < 4; r++)
					for (int c = 0; c < 5; c++)
						assert_true(p->x[(i * 4 + r) * 5 + c] ==
							    (float)pixel(i, r, c, 0) / 255.0f);
			}
			for (int k = 0; k < 4; k++)
				assert_int_equal(p->class_count[k], 5);
		}
		assert_int_equal(data->part[RT_SPLIT_HOLDOUT].n, 0);
		assert_true(data->mean[0] == 0.0f && data->std[0] == 1.0f);
		rt_data_free(data);
	}
}

static void test_idx_channels_last(void **state)
{
	files *f = *state;
	unsigned char y[3] = {0, 1, 0};
	const char *img = put_images(f, "rgb.idx", 3, 2, 2, 3, 3, 1);
	const char *lab = put_labels(f, "rgbl.idx", y, 3, 0);
	ir_dataset d = idx_desc(img, lab, 2, 2, 3, 2);
	rt_data *data = load_ok(&d);
	const rt_data_part *p = &data->part[RT_SPLIT_TRAIN];
	assert_int_equal(p->n, 3);
	/* NHWC: the channel varies fastest. */
	assert_true(p->x[((2 * 2 + 1) * 2 + 0) * 3 + 2] == (float)pixel(2, 1, 0, 2) / 255.0f);
	rt_data_free(data);
}

static void test_idx_normalise_fixed(void **state)
{
	files *f = *state;
	unsigned char y[2] = {1, 0};
	const char *img = put_images(f, "fx.idx", 2, 3, 3, 0, 2, 0);
	const char *lab = put_labels(f, "fxl.idx", y, 2, 0);
	ir_dataset d = idx_desc(img, lab, 3, 3, 1, 2);
	d.normalize = IR_NORM_FIXED;
	d.mean = 0.5;
	d.std = 0.25;
	rt_data *data = load_ok(&d);
	const rt_data_part *p = &data->part[RT_SPLIT_TRAIN];
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 9; k++) {
			float raw = (float)pixel(i, k / 3, k % 3, 0) / 255.0f;
			assert_true(p->x[i * 9 + k] == (raw - 0.5f) / 0.25f);
		}
	assert_true(data->mean[0] == 0.5f && data->std[0] == 0.25f);
	rt_data_free(data);
}

/* --- IDX errors ------------------------------------------------------------ */

static void test_idx_errors(void **state)
{
	files *f = *state;
	unsigned char y[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	const char *img = put_images(f, "e.idx.gz", 10, 4, 4, 0, 10, 1);
	const char *lab = put_labels(f, "el.idx", y, 10, 0);

	ir_dataset d = idx_desc(img, lab, 4, 4, 1, 10);
	char missing[200];
	snprintf(missing, sizeof missing, "%s/nothing.gz", f->dir);
	d.train_images = missing;
	load_fails(&d, missing, "No such file or directory");

	/* Labels where images should be, and the other way round. */
	d = idx_desc(lab, lab, 4, 4, 1, 10);
	load_fails(&d, lab, "wrong magic number 0x00000801");
	d = idx_desc(img, img, 4, 4, 1, 10);
	load_fails(&d, img, "wrong magic number 0x00000803");
	const char *junk = put_text(f, "junk.gz", "PK\3\4 this is a zip, not IDX", 1);
	d = idx_desc(junk, lab, 4, 4, 1, 10);
	load_fails(&d, junk, "wrong magic number");
	const char *tiny = put(f, "tiny.idx", "\0\0", 2, 0);
	d = idx_desc(tiny, lab, 4, 4, 1, 10);
	load_fails(&d, tiny, "truncated");

	/* The header promises 10 images; 6 are there. */
	const char *shortf = put_images(f, "short.idx", 10, 4, 4, 0, 6, 0);
	d = idx_desc(shortf, lab, 4, 4, 1, 10);
	load_fails(&d, shortf, "truncated: the header declares 10 images");

	const char *eleven = put_images(f, "eleven.idx", 11, 4, 4, 0, 11, 1);
	d = idx_desc(eleven, lab, 4, 4, 1, 10);
	load_fails(&d, "has 11 images but", "has 10 labels");

	const char *big = put_images(f, "big.idx", 10, 32, 32, 0, 10, 1);
	d = idx_desc(big, lab, 28, 28, 1, 10);
	load_fails(&d, big, "images are 32x32x1 (HxWxC), the data set expects 28x28x1");

	d = idx_desc(img, lab, 4, 4, 1, 9); /* label 9 is one too many */
	load_fails(&d, lab, "label 9 of example 9 is out of range (the data set has 9 classes)");
	/* ... unless a class filter says which labels exist. */
	int keep[2] = {9, 2};
	d.classes = keep;
	d.nclasses = 2;
	rt_data *data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 2);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].y[0], 1); /* label 2 */
	assert_int_equal(data->part[RT_SPLIT_TRAIN].y[1], 0); /* label 9 */
	rt_data_free(data);

	/* A gzip stream cut in the middle. */
	FILE *in = fopen(img, "rb");
	assert_non_null(in);
	unsigned char buf[4096];
	size_t len = fread(buf, 1, sizeof buf, in);
	fclose(in);
	const char *cut = put(f, "cut.idx.gz", buf, len / 2, 0);
	d = idx_desc(cut, lab, 4, 4, 1, 10);
	load_fails(&d, cut, "truncated");
}

/* --- CSV ------------------------------------------------------------------ */

static void test_csv_formats(void **state)
{
	files *f = *state;
	const char *text = "n,f,header line\r\n"
			   "1, 2.5 ,0\r\n"
			   "\n"
			   "-3e2,+.5,2\r\n"
			   "  \t\n"
			   "0.125,7,1";
	for (int gz = 0; gz <= 1; gz++) {
		const char *p = put_text(f, gz ? "t.csv.gz" : "t.csv", text, gz);
		ir_dataset d = csv_desc(p, 2, 3);
		d.skip_rows = 1;
		rt_data *data = load_ok(&d);
		const rt_data_part *t = &data->part[RT_SPLIT_TRAIN];
		assert_int_equal(t->n, 3);
		const float want[6] = {1, 2.5f, -300, 0.5f, 0.125f, 7};
		for (int i = 0; i < 6; i++)
			assert_true(t->x[i] == want[i]);
		assert_int_equal(t->y[0], 0);
		assert_int_equal(t->y[1], 2);
		assert_int_equal(t->y[2], 1);
		assert_int_equal(data->part[RT_SPLIT_TEST].n, 0);
		rt_data_free(data);
	}
	/* The label first; a test file of its own. */
	const char *a = put_text(f, "lf.csv", "1,10,11\n0,20,21\n", 0);
	const char *b = put_text(f, "lft.csv", "1,30,31\n", 0);
	ir_dataset d = csv_desc(a, 2, 2);
	d.label_column = 0;
	d.test_images = (char *)b;
	d.test_count = 1; /* ignored: there is a test file */
	rt_data *data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 2);
	assert_true(data->part[RT_SPLIT_TRAIN].x[2] == 20.0f);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].y[1], 0);
	assert_int_equal(data->part[RT_SPLIT_TEST].n, 1);
	assert_true(data->part[RT_SPLIT_TEST].x[1] == 31.0f);
	rt_data_free(data);
}

static void test_csv_errors(void **state)
{
	files *f = *state;
	struct {
		const char *text, *want;
	} cases[] = {
		{"1,2,0\n1,abc,0\n", ":2:3: 'abc' is not a number"},
		{"1,2,0\n1,nan,0\n", ":2:3: 'nan' is not a number"},
		{"1,2,0\n1,inf,0\n", ":2:3: 'inf' is not a number"},
		{"0x10,2,0\n", ":1:1: '0x10' is not a number"},
		{"1,1e,0\n", ":1:3: '1e' is not a number"},
		{"1,2.5.1,0\n", ":1:3: '2.5.1' is not a number"},
		{"1,,0\n", ":1:3: empty cell"},
		{"1,2,0\n1,2\n", ":2: 2 columns, expected 3 (2 features of 1x1x2 and a label)"},
		{"1,2,0,4\n", ":1: more than 3 columns, expected 3"},
		{"1,2,3\n", ":1:5: label 3 is out of range (the data set has 3 classes)"},
		{"1,2,-1\n", ":1:5: label -1 is negative"},
		{"1,2,1.5\n", ":1:5: label 1.5 is not a whole number"},
		{"1,1e999,0\n", ":1:3: '1e999' is too large"},
		{"1,1e39,0\n", ":1:3: '1e39' does not fit a float"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32];
		snprintf(name, sizeof name, "bad%zu.csv", i);
		const char *p = put_text(f, name, cases[i].text, (int)(i % 2));
		ir_dataset d = csv_desc(p, 2, 3);
		load_fails(&d, p, cases[i].want);
		f->n--; /* reuse the slot: the file is removed now */
		unlink(p);
	}
	const char *p = put_id_csv(f, "few.csv", 10, 2);
	ir_dataset d = csv_desc(p, 2, 2);
	d.test_count = 10;
	load_fails(&d, p, "test_count 10 leaves no training rows (the file has 10)");
	d.test_count = 4;
	d.holdout = 6;
	load_fails(&d, p, "holdout 6 leaves no training examples (6 after");
	d.holdout = 0;
	int none[1] = {7};
	d.classes = none;
	d.nclasses = 1;
	load_fails(&d, p, "no training examples of the classes kept");
}

/* A row's width comes from the data set (up to 1e8 features), not from the
 * file: room for rows is made only as far as the file can hold them.  A
 * short file of a wide data set once had 256 rows asked for up front
 * (100 GB here: "out of memory" instead of the real problem; the fuzzer's
 * find); now it gets its column count refused.  Wide rows that are there
 * load, narrow ones past every doubling too, and a malformed row after the
 * last whole one the file can hold is refused, not written out of bounds. */
static void test_csv_wide(void **state)
{
	files *f = *state;
	const char *p = put_text(f, "wide.csv", "1,2,0\n", 0);
	ir_dataset d = csv_desc(p, 100000000, 2);
	load_fails(&d, p, ":1: 3 columns, expected 100000001");

	int wide = 100000;
	char *t = malloc(2 * (size_t)wide + 3);
	assert_non_null(t);
	for (int i = 0; i < wide; i++)
		memcpy(t + 2 * i, "3,", 2);
	memcpy(t + 2 * wide, "1\n", 3);
	p = put(f, "wide_ok.csv", t, 2 * (size_t)wide + 2, 1);
	free(t);
	d = csv_desc(p, wide, 2);
	rt_data *data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 1);
	assert_true(data->part[RT_SPLIT_TRAIN].x[wide - 1] == 3.0f);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].y[0], 1);
	rt_data_free(data);

	p = put_id_csv(f, "long.csv", 1000, 3);
	d = csv_desc(p, 2, 3);
	data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 1000);
	assert_true(data->part[RT_SPLIT_TRAIN].x[999 * 2] == 999.0f);
	rt_data_free(data);

	p = put_text(f, "short.csv", "1,2,0\n1,,\n", 0);
	d = csv_desc(p, 2, 3);
	load_fails(&d, p, ":2:3: empty cell");
}

/* --- splits ----------------------------------------------------------------- */

static void test_csv_test_carve(void **state)
{
	files *f = *state;
	const char *p = put_id_csv(f, "carve.csv", 30, 3);
	ir_dataset d = csv_desc(p, 2, 3);
	d.test_count = 6;
	rt_data *a = load_ok(&d), *b = load_ok(&d);
	assert_int_equal(a->part[RT_SPLIT_TRAIN].n, 24);
	assert_int_equal(a->part[RT_SPLIT_TEST].n, 6);
	for (int k = 0; k < 3; k++)
		assert_int_equal(a->part[RT_SPLIT_TEST].class_count[k], 2); /* stratified */
	unsigned char seen[30] = {0};
	mark_ids(a, RT_SPLIT_TRAIN, seen, 30);
	mark_ids(a, RT_SPLIT_TEST, seen, 30);
	assert_int_equal(memchr(seen, 0, 30), NULL); /* a partition */
	/* The same seed, the same rows. */
	assert_memory_equal(a->part[RT_SPLIT_TEST].x, b->part[RT_SPLIT_TEST].x, 6 * 2 * sizeof(float));
	/* Another seed, other rows. */
	d.seed = 2;
	rt_data *c = load_ok(&d);
	assert_memory_not_equal(a->part[RT_SPLIT_TEST].x, c->part[RT_SPLIT_TEST].x,
				6 * 2 * sizeof(float));
	/* A class filter keeps the same partition of the file's rows. */
	int keep[2] = {2, 0};
	d.seed = 1;
	d.classes = keep;
	d.nclasses = 2;
	rt_data *e = load_ok(&d);
	assert_int_equal(e->part[RT_SPLIT_TEST].n, 4);
	for (int i = 0; i < 4; i++) {
		int id = (int)e->part[RT_SPLIT_TEST].x[2 * i], found = 0;
		for (int j = 0; j < 6; j++)
			found |= (int)a->part[RT_SPLIT_TEST].x[2 * j] == id;
		assert_true(found);
		assert_int_equal(e->part[RT_SPLIT_TEST].y[i], id % 3 == 2 ? 0 : 1);
	}
	rt_data_free(a);
	rt_data_free(b);
	rt_data_free(c);
	rt_data_free(e);
}

static void test_limit_and_holdout(void **state)
{
	files *f = *state;
	const char *p = put_id_csv(f, "lim.csv", 100, 4);
	ir_dataset d = csv_desc(p, 2, 4);
	d.train_limit = 40;
	d.holdout = 8;
	rt_data *a = load_ok(&d), *b = load_ok(&d);
	assert_int_equal(a->part[RT_SPLIT_TRAIN].n, 32);
	assert_int_equal(a->part[RT_SPLIT_HOLDOUT].n, 8);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(a->part[RT_SPLIT_TRAIN].class_count[k], 8);
		assert_int_equal(a->part[RT_SPLIT_HOLDOUT].class_count[k], 2);
	}
	unsigned char seen[100] = {0};
	mark_ids(a, RT_SPLIT_TRAIN, seen, 100);
	mark_ids(a, RT_SPLIT_HOLDOUT, seen, 100); /* disjoint */
	for (int s = 0; s < RT_SPLIT_COUNT; s++) {
		assert_int_equal(a->part[s].n, b->part[s].n);
		assert_memory_equal(a->part[s].x, b->part[s].x,
				    (size_t)a->part[s].n * 2 * sizeof(float));
		/* Labels follow their rows. */
		for (int i = 0; i < a->part[s].n; i++)
			assert_int_equal(a->part[s].y[i], (int)a->part[s].x[2 * i] % 4);
	}
	d.seed = 99;
	rt_data *c = load_ok(&d);
	assert_memory_not_equal(a->part[RT_SPLIT_HOLDOUT].x, c->part[RT_SPLIT_HOLDOUT].x,
				8 * 2 * sizeof(float));
	/* Uneven classes: 3 of 4 labels, 7 rows each after the limit of 21;
	 * a holdout of 4 takes 2 from one class (the largest remainder goes to
	 * the smallest label) and 1 from the others. */
	int keep[3] = {1, 2, 3};
	d.classes = keep;
	d.nclasses = 3;
	d.train_limit = 21;
	d.holdout = 4;
	rt_data *e = load_ok(&d);
	assert_int_equal(e->part[RT_SPLIT_TRAIN].n, 17);
	assert_int_equal(e->part[RT_SPLIT_HOLDOUT].class_count[0], 2);
	assert_int_equal(e->part[RT_SPLIT_HOLDOUT].class_count[1], 1);
	assert_int_equal(e->part[RT_SPLIT_HOLDOUT].class_count[2], 1);
	rt_data_free(a);
	rt_data_free(b);
	rt_data_free(c);
	rt_data_free(e);
}

static void test_normalise_standard(void **state)
{
	files *f = *state;
	const char *p = put_id_csv(f, "norm.csv", 50, 5);
	ir_dataset d = csv_desc(p, 2, 5);
	d.holdout = 10;
	d.test_count = 10;
	rt_data *raw = load_ok(&d);
	d.normalize = IR_NORM_STANDARD;
	rt_data *norm = load_ok(&d);
	/* The statistics come from the 30 training rows alone. */
	const rt_data_part *t = &raw->part[RT_SPLIT_TRAIN];
	assert_int_equal(t->n, 30);
	for (int c = 0; c < 2; c++) {
		double s = 0, ss = 0;
		for (int i = 0; i < t->n; i++)
			s += t->x[2 * i + c];
		double mean = s / t->n;
		for (int i = 0; i < t->n; i++)
			ss += (t->x[2 * i + c] - mean) * (t->x[2 * i + c] - mean);
		double sd = sqrt(ss / t->n);
		assert_near(norm->mean[c], mean, 1e-5 * fabs(mean));
		assert_near(norm->std[c], sd, 1e-5 * sd);
		for (int sp = 0; sp < RT_SPLIT_COUNT; sp++)
			for (int i = 0; i < raw->part[sp].n; i++) {
				float want = (raw->part[sp].x[2 * i + c] - norm->mean[c]) /
					     norm->std[c];
				assert_true(norm->part[sp].x[2 * i + c] == want);
			}
	}
	char line[256];
	rt_data_summary(norm, line, sizeof line);
	assert_non_null(strstr(line, "table: train 30, holdout 10, test 10; 1x1x2, 5 classes"));
	rt_data_free(raw);
	rt_data_free(norm);

	/* A constant feature keeps std 1 instead of dividing by zero. */
	const char *k = put_text(f, "const.csv", "4,1,0\n4,2,1\n4,3,0\n", 0);
	d = csv_desc(k, 2, 2);
	d.normalize = IR_NORM_STANDARD;
	rt_data *c = load_ok(&d);
	assert_true(c->mean[0] == 4.0f && c->std[0] == 1.0f);
	assert_true(c->part[RT_SPLIT_TRAIN].x[0] == 0.0f);
	rt_data_free(c);
}

static void test_descriptor_errors(void **state)
{
	(void)state;
	ir_dataset d = csv_desc("x.csv", 2, 2);
	d.nclasses = 0;
	load_fails(&d, "dataset table has no classes", NULL);
	d = csv_desc("x.csv", 2, 2);
	d.normalize = IR_NORM_FIXED;
	load_fails(&d, "dataset table has a fixed normalisation with std <= 0", NULL);
	d = idx_desc("a", NULL, 2, 2, 1, 2);
	load_fails(&d, "dataset tiny names no training file", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idx_plain_and_gzip),
		cmocka_unit_test(test_idx_channels_last),
		cmocka_unit_test(test_idx_normalise_fixed),
		cmocka_unit_test(test_idx_errors),
		cmocka_unit_test(test_csv_formats),
		cmocka_unit_test(test_csv_errors),
		cmocka_unit_test(test_csv_wide),
		cmocka_unit_test(test_csv_test_carve),
		cmocka_unit_test(test_limit_and_holdout),
		cmocka_unit_test(test_normalise_standard),
		cmocka_unit_test(test_descriptor_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
