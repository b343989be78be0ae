/*
 * test_data_batch.c — mini-batches: evaluation order, seeded shuffles that
 * resume exactly, random crop and flip within bounds, and the fixed sample
 * for batch norm recalibration.
 *
 * The data sets are built in memory: example i holds i * 1000 + position, so
 * any value tells which example and which position it came from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"

static rt_data *make_data(int n, int h, int w, int c, int crop_pad, int flip,
			  uint64_t seed)
{
	rt_data *d = calloc(1, sizeof *d);
	assert_non_null(d);
	d->name = strdup("mem");
	d->channels = c;
	d->height = h;
	d->width = w;
	d->nclasses = 3;
	d->example_size = (size_t)h * w * c;
	d->mean = calloc((size_t)c, sizeof(float));
	d->std = calloc((size_t)c, sizeof(float));
	d->crop_pad = crop_pad;
	d->flip = flip;
	d->seed = seed;
	rt_data_part *p = &d->part[RT_SPLIT_TRAIN];
	p->n = n;
	p->x = malloc((size_t)n * d->example_size * sizeof(float));
	p->y = malloc((size_t)n * sizeof(int));
	assert_true(d->name && d->mean && d->std && p->x && p->y);
	for (int i = 0; i < n; i++) {
		p->y[i] = i % 3;
		for (size_t j = 0; j < d->example_size; j++)
			p->x[(size_t)i * d->example_size + j] = (float)(i * 1000 + (int)j);
	}
	return d;
}

static int example_id(const rt_data *d, const float *x)
{
	/* Any non-zero value names its example; padding is zero. */
	for (size_t j = 0; j < d->example_size; j++)
		if (x[j] != 0.0f)
			return (int)x[j] / 1000;
	return 0;
}

static void test_augment_known_image(void **state)
{
	(void)state;
	/* 3 x 4, one channel:
	 *   1  2  3  4
	 *   5  6  7  8
	 *   9 10 11 12 */
	float src[12], dst[12];
	for (int i = 0; i < 12; i++)
		src[i] = (float)(i + 1);
	const float flipped[12] = {4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9};
	rt_data_augment(src, dst, 3, 4, 1, 0, 0, 0, 1);
	assert_memory_equal(dst, flipped, sizeof dst);
	/* No crop offset from the centre and no flip: a copy. */
	rt_data_augment(src, dst, 3, 4, 1, 2, 2, 2, 0);
	assert_memory_equal(dst, src, sizeof dst);
	/* Offset (0, 0) of a 1-padded image: shifted down and right. */
	const float down_right[12] = {0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7};
	rt_data_augment(src, dst, 3, 4, 1, 1, 0, 0, 0);
	assert_memory_equal(dst, down_right, sizeof dst);
	/* Offset (2, 2): shifted up and left. */
	const float up_left[12] = {6, 7, 8, 0, 10, 11, 12, 0, 0, 0, 0, 0};
	rt_data_augment(src, dst, 3, 4, 1, 1, 2, 2, 0);
	assert_memory_equal(dst, up_left, sizeof dst);
	/* The same crop, mirrored. */
	const float up_left_flip[12] = {0, 8, 7, 6, 0, 12, 11, 10, 0, 0, 0, 0};
	rt_data_augment(src, dst, 3, 4, 1, 1, 2, 2, 1);
	assert_memory_equal(dst, up_left_flip, sizeof dst);
	/* Padding wider than the image leaves nothing. */
	const float zero[12] = {0};
	rt_data_augment(src, dst, 3, 4, 1, 5, 0, 0, 0);
	assert_memory_equal(dst, zero, sizeof dst);
	/* Two channels: a flip moves pixels, not channels. */
	const float rgb[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* 1 x 4 x 2 */
	const float rgb_flip[8] = {7, 8, 5, 6, 3, 4, 1, 2};
	float out[8];
	rt_data_augment(rgb, out, 1, 4, 2, 0, 0, 0, 1);
	assert_memory_equal(out, rgb_flip, sizeof out);
}

static void test_eval_batches_in_order(void **state)
{
	(void)state;
	rt_data *d = make_data(10, 2, 2, 1, 2, 1, 5);
	rt_batcher b;
	assert_int_equal(rt_batcher_init(&b, d, RT_SPLIT_TRAIN, 4, 0), 0);
	assert_int_equal(rt_batcher_steps(&b), 3);
	float x[4 * 4];
	int y[4], seen = 0, got;
	while ((got = rt_batcher_next(&b, x, y)) > 0) {
		for (int k = 0; k < got; k++, seen++) {
			/* In order and untouched, augmentation or not in the data set. */
			assert_int_equal(y[k], seen % 3);
			for (int j = 0; j < 4; j++)
				assert_true(x[k * 4 + j] == (float)(seen * 1000 + j));
		}
	}
	assert_int_equal(seen, 10);
	assert_int_equal(rt_batcher_next(&b, x, y), 0);
	rt_batcher_free(&b);
	rt_data_free(d);
}

/* Runs one training epoch; records the order of examples in ids[]. */
static int run_epoch(rt_batcher *b, int epoch, int *ids, float *all)
{
	const rt_data *d = b->data;
	size_t es = d->example_size;
	float *x = malloc((size_t)b->batch * es * sizeof(float));
	int *y = malloc((size_t)b->batch * sizeof(int));
	assert_true(x && y);
	rt_batcher_seek(b, epoch, 0);
	int n = 0, got;
	while ((got = rt_batcher_next(b, x, y)) > 0) {
		assert_int_equal(got, b->batch); /* DROP_LAST: whole batches only */
		for (int k = 0; k < got; k++, n++) {
			ids[n] = example_id(d, x + (size_t)k * es);
			assert_int_equal(y[k], ids[n] % 3);
			if (all)
				memcpy(all + (size_t)n * es, x + (size_t)k * es, es * sizeof(float));
		}
	}
	free(x);
	free(y);
	return n;
}

static void test_train_shuffle(void **state)
{
	(void)state;
	rt_data *d = make_data(23, 1, 1, 1, 0, 0, 7);
	rt_batcher b, c;
	assert_int_equal(rt_batcher_init(&b, d, RT_SPLIT_TRAIN, 5, RT_BATCH_TRAIN), 0);
	assert_int_equal(rt_batcher_init(&c, d, RT_SPLIT_TRAIN, 5, RT_BATCH_TRAIN), 0);
	assert_int_equal(rt_batcher_steps(&b), 4);
	int e0[23], e1[23], again[23];
	assert_int_equal(run_epoch(&b, 0, e0, NULL), 20);
	assert_int_equal(run_epoch(&b, 1, e1, NULL), 20);
	/* Each epoch visits distinct examples, in another order. */
	for (int e = 0; e < 2; e++) {
		unsigned char seen[23] = {0};
		for (int i = 0; i < 20; i++) {
			int id = e ? e1[i] : e0[i];
			assert_int_equal(seen[id], 0);
			seen[id] = 1;
		}
	}
	assert_memory_not_equal(e0, e1, 20 * sizeof(int));
	/* A fresh batcher that jumps straight to epoch 1 sees the same order. */
	assert_int_equal(run_epoch(&c, 1, again, NULL), 20);
	assert_memory_equal(e1, again, 20 * sizeof(int));
	rt_batcher_free(&b);
	rt_batcher_free(&c);
	rt_data_free(d);
}

/* Whether out is src under some crop offset and flip of pad. */
static int is_augmentation_of(const rt_data *d, const float *src, const float *out,
			      int *dy_out, int *flip_out)
{
	size_t es = d->example_size;
	float *tmp = malloc(es * sizeof(float));
	assert_non_null(tmp);
	int p = d->crop_pad, found = 0;
	for (int dy = 0; dy <= 2 * p && !found; dy++)
		for (int dx = 0; dx <= 2 * p && !found; dx++)
			for (int fl = 0; fl <= 1 && !found; fl++) {
				rt_data_augment(src, tmp, d->height, d->width, d->channels, p,
						dy, dx, fl);
				if (memcmp(tmp, out, es * sizeof(float)) == 0) {
					found = 1;
					*dy_out = dy;
					*flip_out = fl;
				}
			}
	free(tmp);
	return found;
}

static void test_train_augmentation(void **state)
{
	(void)state;
	rt_data *d = make_data(40, 5, 6, 2, 2, 1, 11);
	size_t es = d->example_size;
	rt_batcher b;
	assert_int_equal(rt_batcher_init(&b, d, RT_SPLIT_TRAIN, 8, RT_BATCH_TRAIN), 0);
	int ids[40], ids2[40];
	float *all = malloc(40 * es * sizeof(float)), *all2 = malloc(40 * es * sizeof(float));
	assert_true(all && all2);
	assert_int_equal(run_epoch(&b, 3, ids, all), 40);
	int dy_seen[5] = {0}, flips = 0;
	for (int i = 0; i < 40; i++) {
		int dy = 0, fl = 0;
		const float *src = d->part[RT_SPLIT_TRAIN].x + (size_t)ids[i] * es;
		/* Every output is one of the (2 pad + 1)^2 crops, maybe mirrored. */
		assert_true(is_augmentation_of(d, src, all + (size_t)i * es, &dy, &fl));
		dy_seen[dy]++;
		flips += fl;
	}
	/* The draws are spread, not stuck (fixed seed: the counts are fixed). */
	for (int k = 0; k < 5; k++)
		assert_true(dy_seen[k] > 0);
	assert_true(flips > 5 && flips < 35);
	/* Resuming at step 2 of epoch 3 gives the same batch as before. */
	float x[8 * 60];
	int y[8];
	rt_batcher_seek(&b, 3, 2);
	assert_int_equal(rt_batcher_next(&b, x, y), 8);
	assert_memory_equal(x, all + 16 * es, 8 * es * sizeof(float));
	/* The same epoch twice: identical; another data seed: different. */
	assert_int_equal(run_epoch(&b, 3, ids2, all2), 40);
	assert_memory_equal(all, all2, 40 * es * sizeof(float));
	rt_batcher_free(&b);
	d->seed = 12;
	assert_int_equal(rt_batcher_init(&b, d, RT_SPLIT_TRAIN, 8, RT_BATCH_TRAIN), 0);
	assert_int_equal(run_epoch(&b, 3, ids2, all2), 40);
	assert_memory_not_equal(all, all2, 40 * es * sizeof(float));
	rt_batcher_free(&b);
	free(all);
	free(all2);
	rt_data_free(d);
}

static void test_shards_make_the_batch(void **state)
{
	(void)state;
	rt_data *d = make_data(21, 3, 3, 1, 1, 1, 4);
	size_t es = d->example_size;
	rt_batcher one, r0, r1;
	assert_int_equal(rt_batcher_init(&one, d, RT_SPLIT_TRAIN, 5, RT_BATCH_TRAIN), 0);
	assert_int_equal(rt_batcher_init(&r0, d, RT_SPLIT_TRAIN, 5, RT_BATCH_TRAIN), 0);
	assert_int_equal(rt_batcher_init(&r1, d, RT_SPLIT_TRAIN, 5, RT_BATCH_TRAIN), 0);
	rt_batcher_shard(&r0, 0, 2);
	rt_batcher_shard(&r1, 1, 2);
	rt_batcher_seek(&one, 2, 0);
	rt_batcher_seek(&r0, 2, 0);
	rt_batcher_seek(&r1, 2, 0);
	float x[5 * 9], xs[5 * 9];
	int y[5], ys[5], batches = 0;
	while (rt_batcher_next(&one, x, y) == 5) {
		/* Rank 0 takes examples 0-1 of each batch, rank 1 takes 2-4. */
		assert_int_equal(rt_batcher_next(&r0, xs, ys), 2);
		assert_int_equal(rt_batcher_next(&r1, xs + 2 * es, ys + 2), 3);
		assert_memory_equal(x, xs, sizeof x);
		assert_memory_equal(y, ys, sizeof y);
		batches++;
	}
	assert_int_equal(batches, 4);
	assert_int_equal(rt_batcher_next(&r0, xs, ys), 0);
	assert_int_equal(rt_batcher_next(&r1, xs, ys), 0);
	rt_batcher_free(&one);
	rt_batcher_free(&r0);
	rt_batcher_free(&r1);
	rt_data_free(d);
}

static void test_sample(void **state)
{
	(void)state;
	rt_data *d = make_data(50, 1, 2, 1, 0, 0, 3);
	float x[2 * 60], x2[2 * 60];
	int y[60];
	assert_int_equal(rt_data_sample(d, RT_SPLIT_TRAIN, 20, 9, x, y), 20);
	assert_int_equal(rt_data_sample(d, RT_SPLIT_TRAIN, 20, 9, x2, NULL), 20);
	assert_memory_equal(x, x2, 20 * 2 * sizeof(float));
	int last = -1;
	for (int i = 0; i < 20; i++) {
		int id = (int)x[2 * i] / 1000;
		assert_true(id > last); /* distinct, in split order */
		last = id;
		assert_int_equal(y[i], id % 3);
		assert_true(x[2 * i + 1] == (float)(id * 1000 + 1));
	}
	assert_int_equal(rt_data_sample(d, RT_SPLIT_TRAIN, 20, 10, x2, NULL), 20);
	assert_memory_not_equal(x, x2, 20 * 2 * sizeof(float));
	/* Asking for more than there is gives everything. */
	assert_int_equal(rt_data_sample(d, RT_SPLIT_TRAIN, 60, 9, x, y), 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(y[i], i % 3);
	assert_int_equal(rt_data_sample(d, RT_SPLIT_HOLDOUT, 5, 9, x, y), 0);
	rt_data_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_augment_known_image),
		cmocka_unit_test(test_eval_batches_in_order),
		cmocka_unit_test(test_train_shuffle),
		cmocka_unit_test(test_train_augmentation),
		cmocka_unit_test(test_shards_make_the_batch),
		cmocka_unit_test(test_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
