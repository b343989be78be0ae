/*
 * data_batch.c — mini-batches over a split: seeded order, random crop and
 * flip, and the fixed sample used for batch norm recalibration.
 */
#include "runtime/data.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data_raw.h"

int rt_batcher_init(rt_batcher *b, const rt_data *data, rt_split split, int batch,
		    int flags)
{
	assert(data && split >= 0 && split < RT_SPLIT_COUNT && batch > 0);
	memset(b, 0, sizeof *b);
	b->data = data;
	b->split = split;
	b->batch = batch;
	b->flags = flags;
	b->n = data->part[split].n;
	b->order = malloc(b->n ? (size_t)b->n * sizeof(int) : 1);
	if (!b->order)
		return -1;
	for (int i = 0; i < b->n; i++)
		b->order[i] = i;
	b->order_epoch = -1;
	b->rank = 0;
	b->nranks = 1;
	return 0;
}

void rt_batcher_free(rt_batcher *b)
{
	free(b->order);
	b->order = NULL;
}

int rt_batcher_steps(const rt_batcher *b)
{
	if (b->flags & RT_BATCH_DROP_LAST)
		return b->n / b->batch;
	return (b->n + b->batch - 1) / b->batch;
}

void rt_batcher_seek(rt_batcher *b, int epoch, int step)
{
	assert(epoch >= 0 && step >= 0);
	b->epoch = epoch;
	b->step = step;
}

void rt_batcher_shard(rt_batcher *b, int rank, int nranks)
{
	assert(nranks > 0 && rank >= 0 && rank < nranks && b->batch >= nranks);
	b->rank = rank;
	b->nranks = nranks;
}

/* The epoch's permutation depends on the seed and the epoch alone, so a
 * resumed run draws the same one. */
static void batcher_order(rt_batcher *b)
{
	if (!(b->flags & RT_BATCH_SHUFFLE) || b->order_epoch == b->epoch)
		return;
	for (int i = 0; i < b->n; i++)
		b->order[i] = i;
	rt_rng r;
	rt_rng_seed_stream(&r, b->data->seed, RT_DATA_STREAM_SHUFFLE + (uint64_t)b->epoch);
	rt_rng_shuffle_int(&r, b->order, b->n);
	b->order_epoch = b->epoch;
}

void rt_data_augment(const float *src, float *dst, int height, int width,
		     int channels, int pad, int dy, int dx, int flip)
{
	size_t C = (size_t)channels;
	for (int i = 0; i < height; i++) {
		int si = i + dy - pad;
		float *out = dst + (size_t)i * (size_t)width * C;
		if (si < 0 || si >= height) {
			memset(out, 0, (size_t)width * C * sizeof(float));
			continue;
		}
		const float *row = src + (size_t)si * (size_t)width * C;
		if (!flip) {
			/* Columns j with 0 <= j + dx - pad < width come from the row. */
			int lo = pad - dx > 0 ? pad - dx : 0;
			if (lo > width)
				lo = width;
			int hi = width + pad - dx < width ? width + pad - dx : width;
			if (hi < lo)
				hi = lo;
			memset(out, 0, (size_t)lo * C * sizeof(float));
			if (hi > lo)
				memcpy(out + (size_t)lo * C, row + (size_t)(lo + dx - pad) * C,
				       (size_t)(hi - lo) * C * sizeof(float));
			memset(out + (size_t)hi * C, 0, (size_t)(width - hi) * C * sizeof(float));
			continue;
		}
		/* Mirror of the crop: output column j is crop column width-1-j. */
		for (int j = 0; j < width; j++) {
			int sj = width - 1 - j + dx - pad;
			float *o = out + (size_t)j * C;
			if (sj < 0 || sj >= width)
				memset(o, 0, C * sizeof(float));
			else
				memcpy(o, row + (size_t)sj * C, C * sizeof(float));
		}
	}
}

int rt_batcher_next(rt_batcher *b, float *x, int *y)
{
	if (b->step >= rt_batcher_steps(b))
		return 0;
	batcher_order(b);
	const rt_data *d = b->data;
	const rt_data_part *p = &d->part[b->split];
	int first = b->step * b->batch;
	int count = b->n - first < b->batch ? b->n - first : b->batch;
	/* This rank's slice of the global batch. */
	int lo = (int)((long long)b->batch * b->rank / b->nranks);
	int hi = (int)((long long)b->batch * (b->rank + 1) / b->nranks);
	if (hi > count)
		hi = count;
	if (lo >= hi)
		return 0;
	size_t es = d->example_size;

	int augment = (b->flags & RT_BATCH_AUGMENT) && (d->crop_pad > 0 || d->flip);
	uint64_t batch_seed = 0;
	if (augment) {
		/* One seed per (epoch, step) and a stream per position in the
		 * batch: an example's crop does not depend on the batches before
		 * it in this process, nor on how the batch is sharded. */
		rt_rng e;
		rt_rng_seed_stream(&e, d->seed, RT_DATA_STREAM_AUGMENT + (uint64_t)b->epoch);
		rt_rng_seed_stream(&e, rt_rng_u64(&e), (uint64_t)b->step);
		batch_seed = rt_rng_u64(&e);
	}
	for (int k = lo; k < hi; k++) {
		int i = b->order[first + k];
		const float *src = p->x + (size_t)i * es;
		float *dst = x + (size_t)(k - lo) * es;
		if (y)
			y[k - lo] = p->y[i];
		if (!augment) {
			memcpy(dst, src, es * sizeof(float));
			continue;
		}
		rt_rng r;
		rt_rng_seed_stream(&r, batch_seed, (uint64_t)k);
		int pad = d->crop_pad, dy = pad, dx = pad, flip = 0;
		if (pad > 0) {
			dy = (int)rt_rng_below(&r, 2 * (uint64_t)pad + 1);
			dx = (int)rt_rng_below(&r, 2 * (uint64_t)pad + 1);
		}
		if (d->flip)
			flip = (int)rt_rng_below(&r, 2);
		rt_data_augment(src, dst, d->height, d->width, d->channels, pad, dy, dx, flip);
	}
	b->step++;
	return hi - lo;
}

int rt_data_sample(const rt_data *data, rt_split split, int n, uint64_t seed,
		   float *x, int *y)
{
	const rt_data_part *p = &data->part[split];
	int want = n < p->n ? n : p->n;
	if (want <= 0)
		return 0;
	/* Selection sampling (Knuth's algorithm S): uniform without
	 * replacement, in split order, and no allocation. */
	rt_rng r;
	rt_rng_seed_stream(&r, seed, RT_DATA_STREAM_SAMPLE);
	size_t es = data->example_size;
	int got = 0;
	for (int i = 0; i < p->n && got < want; i++) {
		if (rt_rng_below(&r, (uint64_t)(p->n - i)) < (uint64_t)(want - got)) {
			memcpy(x + (size_t)got * es, p->x + (size_t)i * es, es * sizeof(float));
			if (y)
				y[got] = p->y[i];
			got++;
		}
	}
	return got;
}
