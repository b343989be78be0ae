/*
 * evaluate.c — batch-norm recalibration and evaluation of a subnet (see
 * evaluate.h).
 */
#include "runtime/evaluate.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops.h"
#include "runtime/supernet_priv.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The data must feed the supernet's input as it is. */
static void assert_shape(const sn_supernet *sn, const rt_data *data)
{
	assert(data->height == sn->in_h && data->width == sn->in_w &&
	       data->channels == sn->space->in_channels && data->nclasses <= sn->nclasses);
	(void)sn;
	(void)data;
}

int rt_eval_calib_images(const ir_recipe *recipe)
{
	return recipe->calib_images > 0 ? recipe->calib_images : RT_EVAL_CALIB_DEFAULT;
}

int rt_eval_recalibrate(sn_supernet *sn, const sn_subnet *sub, const rt_data *data,
			int nimages, uint64_t seed, char *err, size_t errlen)
{
	assert_shape(sn, data);
	const rt_data_part *train = &data->part[RT_SPLIT_TRAIN];
	if (nimages < 1 || train->n < 1) {
		seterr(err, errlen, "%s: cannot recalibrate on %d of %d training images", data->name,
		       nimages, train->n);
		return -1;
	}
	int n = nimages < train->n ? nimages : train->n;
	float *x = malloc((size_t)n * data->example_size * sizeof(float));
	if (!x) {
		seterr(err, errlen, "%s: out of memory for %d recalibration images", data->name, n);
		return -1;
	}
	n = rt_data_sample(data, RT_SPLIT_TRAIN, n, seed, x, NULL);
	sn_supernet_set_subnet(sn, sub);
	sn_supernet_recal_begin(sn);
	/* The statistics average batches with equal weight, so the batches are
	 * made as equal as possible: nb of them, the first n % nb one larger. */
	int maxb = sn_supernet_max_batch(sn);
	int nb = (n + maxb - 1) / maxb;
	const float *p = x;
	for (int b = 0; b < nb; b++) {
		int size = n / nb + (b < n % nb);
		sn_supernet_forward(sn, p, size, RT_BN_MODE_RECAL);
		p += (size_t)size * data->example_size;
	}
	free(x);
	return n;
}

int rt_eval_subnet(sn_supernet *sn, const sn_subnet *sub, const rt_data *data,
		   rt_split split, rt_eval_result *out, char *err, size_t errlen)
{
	assert_shape(sn, data);
	assert(split >= 0 && split < RT_SPLIT_COUNT);
	const rt_data_part *part = &data->part[split];
	if (part->n < 1) {
		seterr(err, errlen, "%s: the %s split is empty", data->name, rt_split_names[split]);
		return -1;
	}
	sn_supernet_set_subnet(sn, sub);
	int maxb = sn_supernet_max_batch(sn), k = sn_supernet_nclasses(sn);
	double loss = 0;
	int correct = 0;
	for (int i = 0; i < part->n; i += maxb) {
		int size = part->n - i < maxb ? part->n - i : maxb, c = 0;
		const float *logits = sn_supernet_forward(
			sn, part->x + (size_t)i * data->example_size, size, RT_BN_MODE_EVAL);
		loss += size * rt_xent_forward_backward(size, k, k, logits, part->y + i, 0.0f,
							 NULL, &c);
		correct += c;
	}
	out->n = part->n;
	out->correct = correct;
	out->accuracy = (double)correct / part->n;
	out->loss = loss / part->n;
	return 0;
}

int rt_eval_measure(sn_supernet *sn, const sn_subnet *sub, const rt_data *data,
		    rt_split split, int nimages, uint64_t seed, rt_eval_result *out, char *err,
		    size_t errlen)
{
	size_t ns = sn_supernet_nstats(sn);
	float *saved = malloc((ns ? ns : 1) * sizeof(float));
	if (!saved) {
		seterr(err, errlen, "%s: out of memory saving %zu statistics", data->name, ns);
		return -1;
	}
	float *st = sn_supernet_stats(sn);
	memcpy(saved, st, ns * sizeof(float));
	int rc = 0;
	if (nimages > 0)
		rc = rt_eval_recalibrate(sn, sub, data, nimages, seed, err, errlen) < 0 ? -1 : 0;
	if (rc == 0)
		rc = rt_eval_subnet(sn, sub, data, split, out, err, errlen);
	memcpy(st, saved, ns * sizeof(float));
	free(saved);
	return rc;
}

int rt_eval_model(const rt_model *m, const rt_data *data, rt_split split, int batch,
		  rt_eval_result *out, char *err, size_t errlen)
{
	assert(split >= 0 && split < RT_SPLIT_COUNT && batch >= 1);
	const rt_data_part *part = &data->part[split];
	if (data->height != m->in_h || data->width != m->in_w ||
	    data->channels != m->in_channels || data->nclasses > m->nclasses) {
		seterr(err, errlen,
		       "%s: examples of %dx%dx%d in %d classes do not fit a model of %dx%dx%d inputs and %d outputs",
		       data->name, data->height, data->width, data->channels, data->nclasses, m->in_h,
		       m->in_w, m->in_channels, m->nclasses);
		return -1;
	}
	if (part->n < 1) {
		seterr(err, errlen, "%s: the %s split is empty", data->name, rt_split_names[split]);
		return -1;
	}
	if (batch > part->n)
		batch = part->n;
	float *ws = malloc(rt_model_workspace(m, batch) * sizeof(float));
	float *logits = malloc((size_t)batch * m->nclasses * sizeof(float));
	if (!ws || !logits) {
		free(ws);
		free(logits);
		seterr(err, errlen, "%s: out of memory evaluating a model at batch %d", data->name,
		       batch);
		return -1;
	}
	double loss = 0;
	int correct = 0;
	for (int i = 0; i < part->n; i += batch) {
		int size = part->n - i < batch ? part->n - i : batch, c = 0;
		rt_model_forward(m, part->x + (size_t)i * data->example_size, size, ws, logits);
		loss += size * rt_xent_forward_backward(size, m->nclasses, m->nclasses, logits,
							 part->y + i, 0.0f, NULL, &c);
		correct += c;
	}
	free(ws);
	free(logits);
	out->n = part->n;
	out->correct = correct;
	out->accuracy = (double)correct / part->n;
	out->loss = loss / part->n;
	return 0;
}
