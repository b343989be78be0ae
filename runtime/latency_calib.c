/*
 * latency_calib.c — the table's calibration against whole subnets (see
 * latency.h): measuring some, and the fit of the prediction to them.
 */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/extract.h"
#include "runtime/latency_priv.h"
#include "runtime/rng.h"
#include "runtime/supernet.h"

/* Random images each subnet's batch-norm statistics are recalibrated on
 * before it is cut out: with the initial statistics a deep subnet's random
 * activations grow or vanish into denormals, which time like nothing a
 * trained model does. */
#define NRECAL 4

/* Times each calibration subnet and its layers are measured in turn. */
#define PASSES 3

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Least squares on relative error: the (scale, b) minimising
 * sum ((scale * sum_us + b * params - us) / us)^2, with b >= 0 and
 * scale > 0; scale alone (b = 0) when the two cannot be told apart (fewer
 * than three samples, or parameter counts proportional to the sums).
 */
void lat_calib_fit(lat_table *t)
{
	double xx = 0, xy = 0, yy = 0, x1 = 0, y1 = 0;
	for (int i = 0; i < t->ns; i++) {
		const lat_sample *p = &t->smp[i];
		double x = p->sum_us / p->us, y = p->params / p->us;
		xx += x * x;
		xy += x * y;
		yy += y * y;
		x1 += x;
		y1 += y;
	}
	t->scale = 1;
	t->us_per_param = 0;
	if (t->ns == 0 || !(xx > 0))
		return;
	double det = xx * yy - xy * xy;
	if (t->ns >= 3 && det > 1e-9 * xx * yy) {
		double a = (x1 * yy - y1 * xy) / det, b = (xx * y1 - xy * x1) / det;
		if (a > 0 && b >= 0) {
			t->scale = a;
			t->us_per_param = b;
			return;
		}
	}
	t->scale = x1 / xx;
}

int lat_table_add_sample(lat_table *t, double sum_us, double params, double us)
{
	assert(sum_us > 0 && params >= 0 && us > 0);
	if (t->ns == LAT_MAX_SAMPLES) { /* the oldest go */
		memmove(t->smp, t->smp + 1, (size_t)(t->ns - 1) * sizeof(*t->smp));
		t->ns--;
	}
	if (t->ns == t->scap) {
		int cap = t->scap ? 2 * t->scap : 16;
		lat_sample *p = realloc(t->smp, (size_t)cap * sizeof(*p));
		if (!p)
			return -1;
		t->smp = p;
		t->scap = cap;
	}
	/* As the text form keeps them (see measure in latency.c). */
	lat_sample *p = &t->smp[t->ns++];
	p->sum_us = round(sum_us * 1000) / 1000;
	p->params = round(params);
	p->us = round(us * 1000) / 1000;
	lat_calib_fit(t);
	return 0;
}

int lat_table_calibration(const lat_table *t, double *scale, double *us_per_param)
{
	*scale = t->scale;
	*us_per_param = t->us_per_param;
	return t->ns;
}

typedef struct forward {
	const rt_model *m;
	const float *x;
	float *ws, *out;
} forward;

static void run(const void *arg)
{
	const forward *f = arg;
	rt_model_forward(f->m, f->x, 1, f->ws, f->out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Cuts sub out of sn (statistics recalibrated on the images x) and times
 * it at batch 1 into *us and its layers one by one, as the table's entries
 * are, into *sum_us: PASSES times in turn, each the median of reps runs,
 * the medians of the passes kept.  Timed together, the two see the machine
 * in the same state, so their ratio holds when its speed moves between the
 * table's build and the calibration.  0 or -1 with a message.
 */
static int time_subnet(sn_supernet *sn, const sn_subnet *sub, const sn_plan *plan, const float *x,
		       size_t nx, int in_res, int reps, double *sum_us, double *us, char *err,
		       size_t errlen)
{
	const ir_space *s = sn_supernet_space(sn);
	sn_supernet_set_subnet(sn, sub);
	sn_supernet_recal_begin(sn);
	for (int i = 0; i < NRECAL; i++)
		sn_supernet_forward(sn, x + (size_t)i * nx, 1, RT_BN_MODE_RECAL);
	const uint8_t key[16] = {0};
	rt_model *m = rt_model_extract(sn, sub, key, err, errlen);
	if (!m)
		return -1;
	float *ws = malloc(rt_model_workspace(m, 1) * sizeof(float));
	float *out = malloc((size_t)sn_supernet_nclasses(sn) * sizeof(float));
	lat_key *keys = malloc(LAT_PLAN_KEYS_MAX * sizeof(*keys));
	forward f = {m, x, ws, out};
	double whole[PASSES], sum[PASSES];
	int rc = ws && out && keys ? 0 : -1, nk = keys ? lat_plan_keys(s, plan, in_res, keys) : 0;
	for (int p = 0; rc == 0 && p < PASSES; p++) {
		rc = lat_time_fn(run, &f, reps, &whole[p]);
		sum[p] = 0;
		for (int j = 0; rc == 0 && j < nk; j++) {
			double u;
			rc = lat_time_key(&keys[j], reps, &u);
			sum[p] += u;
		}
	}
	if (rc < 0) {
		seterr(err, errlen, "latency table: out of memory timing a subnet");
	} else {
		qsort(whole, PASSES, sizeof(double), cmp_double);
		qsort(sum, PASSES, sizeof(double), cmp_double);
		*us = whole[PASSES / 2];
		*sum_us = sum[PASSES / 2];
	}
	free(ws);
	free(out);
	free(keys);
	rt_model_free(m);
	return rc;
}

int lat_table_calibrate(lat_table *t, const ir_space *s, int nclasses, int in_res, int reps,
			char *err, size_t errlen)
{
	assert(reps >= 1);
	sn_supernet *sn =
		sn_supernet_new(s, nclasses, in_res, in_res, 1, LAT_CALIB_SEED, err, errlen);
	if (!sn)
		return -1;
	size_t nx = (size_t)in_res * in_res * s->in_channels;
	float *x = malloc(NRECAL * nx * sizeof(float));
	sn_plan *plan = malloc(sizeof(*plan));
	int rc = x && plan ? 0 : -1, added = 0;
	if (rc < 0)
		seterr(err, errlen, "latency table: out of memory");
	rt_rng r;
	rt_rng_seed(&r, LAT_CALIB_SEED);
	for (size_t i = 0; rc == 0 && i < NRECAL * nx; i++)
		x[i] = (float)rt_rng_normal(&r);
	for (int i = 0; rc == 0 && i < LAT_CALIB_SUBNETS; i++) {
		sn_subnet sub;
		sn_subnet_random(s, &r, &sub);
		sn_plan_build(s, nclasses, &sub, plan);
		double sum = 0, us = 0;
		sn_cost c;
		sn_plan_cost(s, plan, &c);
		if (time_subnet(sn, &sub, plan, x, nx, in_res, reps, &sum, &us, err, errlen) != 0)
			rc = -1;
		else if (!(sum > 0 && us > 0))
			; /* nothing to learn from (a zero timing on a coarse clock) */
		else if (lat_table_add_sample(t, sum, c.params, us) != 0) {
			seterr(err, errlen, "latency table: out of memory");
			rc = -1;
		} else
			added++;
	}
	free(x);
	free(plan);
	sn_supernet_free(sn);
	return rc < 0 ? -1 : added;
}
