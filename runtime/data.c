/*
 * data.c — from files to splits: test carve, class filter, train_limit,
 * holdout, normalisation (the order and the rules are in data.h).
 */
#include "runtime/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data_raw.h"

const char *const rt_split_names[RT_SPLIT_COUNT] = {"train", "holdout", "test"};

/* Where each example of a file goes. */
enum { DEST_DROP, DEST_TRAIN, DEST_HOLDOUT, DEST_TEST };

typedef struct keyed {
	int key, idx;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
	const keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

typedef struct group {
	int start, count, quota;
	long long rem;
} group;

static int group_rem_cmp(const void *a, const void *b)
{
	const group *x = a, *y = b;
	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start); /* smaller key first */
}

static int group_start_cmp(const void *a, const void *b)
{
	const group *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

/*
 * Among the examples i with dest[i] == from (keys key[i]), moves k to `to`,
 * stratified by key (data.h gives the rule) and seeded by r.  The draws
 * depend only on the keys and the order of the examples.  Returns 0 or -1 on
 * out-of-memory.
 */
static int pick_stratified(const int *key, unsigned char *dest, int n,
			   unsigned char from, unsigned char to, int k, rt_rng *r)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		m += dest[i] == from;
	if (k <= 0 || m == 0)
		return 0;
	keyed *items = malloc((size_t)m * sizeof *items);
	group *groups = malloc((size_t)m * sizeof *groups);
	int *slice = malloc((size_t)m * sizeof *slice);
	if (!items || !groups || !slice) {
		free(items);
		free(groups);
		free(slice);
		return -1;
	}
	m = 0;
	for (int i = 0; i < n; i++)
		if (dest[i] == from)
			items[m++] = (keyed){key[i], i};
	qsort(items, (size_t)m, sizeof *items, keyed_cmp);

	int ngroups = 0, given = 0;
	for (int j = 0; j < m; j++) {
		if (j == 0 || items[j].key != items[j - 1].key)
			groups[ngroups++] = (group){.start = j};
		groups[ngroups - 1].count++;
	}
	for (int g = 0; g < ngroups; g++) {
		long long share = (long long)k * groups[g].count;
		groups[g].quota = (int)(share / m);
		groups[g].rem = share % m;
		given += groups[g].quota;
	}
	/* Largest remainders get the picks that the floors left over. */
	qsort(groups, (size_t)ngroups, sizeof *groups, group_rem_cmp);
	for (int g = 0; g < ngroups && given < k; g++, given++)
		groups[g].quota++;
	qsort(groups, (size_t)ngroups, sizeof *groups, group_start_cmp);

	for (int g = 0; g < ngroups; g++) {
		for (int j = 0; j < groups[g].count; j++)
			slice[j] = items[groups[g].start + j].idx;
		rt_rng_shuffle_int(r, slice, groups[g].count);
		for (int j = 0; j < groups[g].quota; j++)
			dest[slice[j]] = to;
	}
	free(items);
	free(groups);
	free(slice);
	return 0;
}

static int count_dest(const unsigned char *dest, int n, unsigned char which)
{
	int c = 0;
	for (int i = 0; i < n; i++)
		c += dest[i] == which;
	return c;
}

static int part_counts(rt_data_part *p, int nclasses)
{
	p->class_count = calloc((size_t)nclasses, sizeof(int));
	if (!p->class_count)
		return -1;
	for (int i = 0; i < p->n; i++)
		p->class_count[p->y[i]]++;
	return 0;
}

/* Copies the examples bound for `which` into new buffers. */
static int part_copy(const rt_data_raw *raw, const unsigned char *dest,
		     unsigned char which, size_t esize, rt_data_part *p)
{
	int n = count_dest(dest, raw->n, which);
	p->x = malloc(n ? (size_t)n * esize * sizeof(float) : 1);
	p->y = malloc(n ? (size_t)n * sizeof(int) : 1);
	if (!p->x || !p->y)
		return -1;
	for (int i = 0; i < raw->n; i++) {
		if (dest[i] != which)
			continue;
		memcpy(p->x + (size_t)p->n * esize, raw->x + (size_t)i * esize,
		       esize * sizeof(float));
		p->y[p->n++] = raw->y[i];
	}
	return 0;
}

/* Moves the examples bound for `which` to the front of raw's buffers and
 * hands the buffers to p: no second copy of a large file. */
static void part_take(rt_data_raw *raw, const unsigned char *dest, unsigned char which,
		      size_t esize, rt_data_part *p)
{
	int j = 0;
	for (int i = 0; i < raw->n; i++) {
		if (dest[i] != which)
			continue;
		if (i != j)
			memmove(raw->x + (size_t)j * esize, raw->x + (size_t)i * esize,
				esize * sizeof(float));
		raw->y[j++] = raw->y[i];
	}
	p->n = j;
	p->x = raw->x;
	p->y = raw->y;
	if (j > 0 && j < raw->n) {
		float *x = realloc(p->x, (size_t)j * esize * sizeof(float));
		if (x)
			p->x = x;
	}
	raw->x = NULL;
	raw->y = NULL;
	raw->n = 0;
}

/* Class filter: relabels kept examples in place and drops the rest. */
static void filter_classes(const ir_dataset *d, rt_data_raw *raw, unsigned char *dest)
{
	if (!d->classes)
		return;
	for (int i = 0; i < raw->n; i++) {
		int to = -1;
		for (int c = 0; c < d->nclasses && to < 0; c++)
			if (d->classes[c] == raw->y[i])
				to = c;
		if (to < 0)
			dest[i] = DEST_DROP;
		else
			raw->y[i] = to;
	}
}

/* Sums over examples per position of one example, then folds positions
 * into channels: the inner loops run over contiguous floats and vectorise,
 * which matters on 47M values.  With shift == NULL: sum of x; else the sum
 * of (x - shift[j])^2. */
static void position_sums(const rt_data_part *t, size_t es, const float *shift,
			  double *acc)
{
	memset(acc, 0, es * sizeof(double));
	for (int i = 0; i < t->n; i++) {
		const float *x = t->x + (size_t)i * es;
		if (shift) {
			for (size_t j = 0; j < es; j++) {
				double dv = (double)x[j] - (double)shift[j];
				acc[j] += dv * dv;
			}
		} else {
			for (size_t j = 0; j < es; j++)
				acc[j] += x[j];
		}
	}
}

static int normalise(rt_data *data, const ir_dataset *d)
{
	size_t C = (size_t)data->channels, es = data->example_size;
	for (size_t c = 0; c < C; c++) {
		data->mean[c] = 0.0f;
		data->std[c] = 1.0f;
	}
	if (d->normalize == IR_NORM_NONE)
		return 0;
	if (d->normalize == IR_NORM_FIXED) {
		for (size_t c = 0; c < C; c++) {
			data->mean[c] = (float)d->mean;
			data->std[c] = (float)d->std;
		}
	}
	double *acc = malloc(es * sizeof(double));
	float *mrow = malloc(es * sizeof(float));
	float *srow = malloc(es * sizeof(float));
	if (!acc || !mrow || !srow) {
		free(acc);
		free(mrow);
		free(srow);
		return -1;
	}
	const rt_data_part *t = &data->part[RT_SPLIT_TRAIN];
	if (d->normalize == IR_NORM_STANDARD) {
		/* Two passes in double: the mean, then the squared deviations. */
		double count = (double)t->n * data->height * data->width;
		double *ch = calloc(C, sizeof(double));
		if (!ch) {
			free(acc);
			free(mrow);
			free(srow);
			return -1;
		}
		position_sums(t, es, NULL, acc);
		for (size_t j = 0; j < es; j++)
			ch[j % C] += acc[j];
		for (size_t c = 0; c < C; c++)
			data->mean[c] = (float)(ch[c] / count);
		for (size_t j = 0; j < es; j++)
			mrow[j] = data->mean[j % C];
		position_sums(t, es, mrow, acc);
		memset(ch, 0, C * sizeof(double));
		for (size_t j = 0; j < es; j++)
			ch[j % C] += acc[j];
		for (size_t c = 0; c < C; c++) {
			double sd = sqrt(ch[c] / count);
			data->std[c] = sd < 1e-12 ? 1.0f : (float)sd;
		}
		free(ch);
	}
	for (size_t j = 0; j < es; j++) {
		mrow[j] = data->mean[j % C];
		srow[j] = data->std[j % C];
	}
	for (int s = 0; s < RT_SPLIT_COUNT; s++) {
		rt_data_part *p = &data->part[s];
		for (int i = 0; i < p->n; i++) {
			float *x = p->x + (size_t)i * es;
			for (size_t j = 0; j < es; j++)
				x[j] = (x[j] - mrow[j]) / srow[j];
		}
	}
	free(acc);
	free(mrow);
	free(srow);
	return 0;
}

/* Checks what the compiler should already have checked, since an IR may
 * also come from a .air file. */
static int check_descriptor(const ir_dataset *d, char *err, size_t errlen)
{
	const char *name = d->name ? d->name : "(unnamed)";
	const char *why = NULL;
	if (d->channels <= 0 || d->height <= 0 || d->width <= 0 ||
	    (double)d->channels * d->height * d->width > 1e8)
		why = "has an impossible example shape";
	else if (d->nclasses <= 0)
		why = "has no classes";
	else if (!d->train_images || (d->format == IR_FORMAT_IDX && !d->train_labels))
		why = "names no training file";
	else if (d->format == IR_FORMAT_IDX && d->test_images && !d->test_labels)
		why = "names test images but no test labels";
	else if (d->format != IR_FORMAT_IDX && d->format != IR_FORMAT_CSV)
		why = "has an unknown file format";
	else if (d->holdout < 0 || d->train_limit < 0 || d->test_count < 0 || d->crop_pad < 0)
		why = "has a negative count";
	else if (d->normalize == IR_NORM_FIXED && !(d->std > 0))
		why = "has a fixed normalisation with std <= 0";
	if (why) {
		snprintf(err, errlen, "dataset %s %s", name, why);
		return -1;
	}
	return 0;
}

static int read_file(const ir_dataset *d, const char *images, const char *labels,
		     rt_data_raw *raw, char *err, size_t errlen)
{
	if (d->format == IR_FORMAT_IDX)
		return rt_data_read_idx(d, images, labels, raw, err, errlen);
	return rt_data_read_csv(d, images, raw, err, errlen);
}

static int oom(const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: out of memory", path);
	return -1;
}

/* Steps 2-5 of data.h on the files already read. */
static int split(rt_data *data, const ir_dataset *d, rt_data_raw *tr, rt_data_raw *te,
		 char *err, size_t errlen)
{
	const char *path = d->train_images;
	size_t es = data->example_size;
	int rc = -1;
	unsigned char *dt = malloc(tr->n ? (size_t)tr->n : 1);
	unsigned char *de = malloc(te->n ? (size_t)te->n : 1);
	if (!dt || !de)
		goto out_oom;
	memset(dt, DEST_TRAIN, (size_t)tr->n);
	memset(de, DEST_TEST, (size_t)te->n);
	rt_rng r;

	int carve = d->format == IR_FORMAT_CSV && !d->test_images ? d->test_count : 0;
	if (carve > 0) {
		if (carve >= tr->n) {
			snprintf(err, errlen,
				 "%s: test_count %d leaves no training rows (the file has %d)",
				 path, carve, tr->n);
			goto out;
		}
		rt_rng_seed_stream(&r, d->seed, RT_DATA_STREAM_TEST);
		if (pick_stratified(tr->y, dt, tr->n, DEST_TRAIN, DEST_TEST, carve, &r) != 0)
			goto out_oom;
	}
	filter_classes(d, tr, dt);
	filter_classes(d, te, de);
	int ntrain = count_dest(dt, tr->n, DEST_TRAIN);
	if (ntrain == 0) {
		snprintf(err, errlen, "%s: no training examples of the classes kept", path);
		goto out;
	}
	if (d->train_limit > 0 && d->train_limit < ntrain) {
		/* Pick the kept ones, then drop everything not picked. */
		rt_rng_seed_stream(&r, d->seed, RT_DATA_STREAM_LIMIT);
		if (pick_stratified(tr->y, dt, tr->n, DEST_TRAIN, DEST_HOLDOUT,
				    d->train_limit, &r) != 0)
			goto out_oom;
		for (int i = 0; i < tr->n; i++)
			if (dt[i] == DEST_TRAIN)
				dt[i] = DEST_DROP;
			else if (dt[i] == DEST_HOLDOUT)
				dt[i] = DEST_TRAIN;
		ntrain = d->train_limit;
	}
	if (d->holdout > 0) {
		if (d->holdout >= ntrain) {
			snprintf(err, errlen,
				 "%s: holdout %d leaves no training examples (%d after the class filter and train_limit)",
				 path, d->holdout, ntrain);
			goto out;
		}
		rt_rng_seed_stream(&r, d->seed, RT_DATA_STREAM_HOLDOUT);
		if (pick_stratified(tr->y, dt, tr->n, DEST_TRAIN, DEST_HOLDOUT, d->holdout,
				    &r) != 0)
			goto out_oom;
	}
	if (part_copy(tr, dt, DEST_HOLDOUT, es, &data->part[RT_SPLIT_HOLDOUT]) != 0)
		goto out_oom;
	if (carve > 0) {
		if (part_copy(tr, dt, DEST_TEST, es, &data->part[RT_SPLIT_TEST]) != 0)
			goto out_oom;
	} else {
		part_take(te, de, DEST_TEST, es, &data->part[RT_SPLIT_TEST]);
	}
	part_take(tr, dt, DEST_TRAIN, es, &data->part[RT_SPLIT_TRAIN]);
	for (int s = 0; s < RT_SPLIT_COUNT; s++)
		if (part_counts(&data->part[s], data->nclasses) != 0)
			goto out_oom;
	rc = 0;
	goto out;
out_oom:
	oom(path, err, errlen);
out:
	free(dt);
	free(de);
	return rc;
}

rt_data *rt_data_load(const ir_dataset *d, char *err, size_t errlen)
{
	if (check_descriptor(d, err, errlen) != 0)
		return NULL;
	rt_data *data = calloc(1, sizeof *data);
	rt_data_raw tr = {0}, te = {0};
	if (!data) {
		oom(d->train_images, err, errlen);
		return NULL;
	}
	data->name = strdup(d->name ? d->name : "");
	data->channels = d->channels;
	data->height = d->height;
	data->width = d->width;
	data->nclasses = d->nclasses;
	data->example_size = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
	data->mean = malloc((size_t)d->channels * sizeof(float));
	data->std = malloc((size_t)d->channels * sizeof(float));
	data->crop_pad = d->crop_pad;
	data->flip = d->flip;
	data->seed = d->seed;
	if (!data->name || !data->mean || !data->std) {
		oom(d->train_images, err, errlen);
		goto fail;
	}
	if (read_file(d, d->train_images, d->train_labels, &tr, err, errlen) != 0)
		goto fail;
	if (d->test_images &&
	    read_file(d, d->test_images, d->test_labels, &te, err, errlen) != 0)
		goto fail;
	if (split(data, d, &tr, &te, err, errlen) != 0)
		goto fail;
	rt_data_raw_free(&tr);
	rt_data_raw_free(&te);
	if (normalise(data, d) != 0) {
		oom(d->train_images, err, errlen);
		goto fail;
	}
	return data;
fail:
	rt_data_raw_free(&tr);
	rt_data_raw_free(&te);
	rt_data_free(data);
	return NULL;
}

void rt_data_free(rt_data *data)
{
	if (!data)
		return;
	for (int s = 0; s < RT_SPLIT_COUNT; s++) {
		free(data->part[s].x);
		free(data->part[s].y);
		free(data->part[s].class_count);
	}
	free(data->mean);
	free(data->std);
	free(data->name);
	free(data);
}

int rt_data_summary(const rt_data *data, char *buf, size_t buflen)
{
	char stats[160] = "";
	size_t used = 0;
	int more = data->channels > 3;
	int shown = more ? 3 : data->channels;
	for (int c = 0; c < shown && used < sizeof stats; c++)
		used += (size_t)snprintf(stats + used, sizeof stats - used, "%s%.4f/%.4f",
					 c ? ", " : "", data->mean[c], data->std[c]);
	return snprintf(buf, buflen,
			"%s: train %d, holdout %d, test %d; %dx%dx%d, %d classes; mean/std %s%s",
			data->name, data->part[RT_SPLIT_TRAIN].n,
			data->part[RT_SPLIT_HOLDOUT].n, data->part[RT_SPLIT_TEST].n,
			data->height, data->width, data->channels, data->nclasses, stats,
			more ? ", ..." : "");
}
