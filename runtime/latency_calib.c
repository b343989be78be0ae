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

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "runtime/extract.h"
#include "runtime/latency_priv.h"
#include "runtime/rng.h"
#include "runtime/supernet.h"

/* Random images each subnet's batch-norm statistics are recalibrated on
 * before it is cut out: with the initial statistics a deep subnet's random
 * activations grow or vanish into denormals, which time like nothing a
 * trained model does. */
#define NRECAL 4

/* A calibration subnet is timed over this many times the runs an entry
 * is: a whole subnet is a tenth of the samples a space's scale rests on. */
#define RUNS_PER_REP 3

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1 (reorders v). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define HASH_INTS(h, ...)                               \
	do {                                            \
		const int v_[] = {__VA_ARGS__};         \
		XXH3_64bits_update((h), v_, sizeof v_); \
	} while (0)

uint64_t lat_space_id(const ir_space *s, int in_res)
{
	XXH3_state_t h;
	XXH3_64bits_reset(&h);
	HASH_INTS(&h, in_res, s->in_channels, s->resolution, s->g_resolution, s->ngenes, s->nstages,
		  s->nlayers);
	for (int i = 0; i < s->ngenes; i++) {
		HASH_INTS(&h, s->genes[i].nvalues);
		XXH3_64bits_update(&h, s->genes[i].values,
				   (size_t)s->genes[i].nvalues * sizeof(double));
	}
	for (int i = 0; i < s->nstages; i++)
		HASH_INTS(&h, s->stages[i].first, s->stages[i].count, s->stages[i].g_depth);
	for (int i = 0; i < s->nlayers; i++) {
		const ir_layer *l = &s->layers[i];
		HASH_INTS(&h, (int)l->kind, l->stage, l->index, l->in_channels, l->out_channels,
			  l->kernel, l->stride, (int)l->act, l->se, l->g_kernel, l->g_expand,
			  l->g_out);
		XXH3_64bits_update(&h, &l->expand, sizeof l->expand);
	}
	return XXH3_64bits_digest(&h);
}

int lat_calib_fit(lat_table *t)
{
	free(t->sc);
	t->sc = NULL;
	t->nsc = 0;
	t->fallback = 1;
	if (t->ns == 0)
		return 0;
	double *r = malloc((size_t)t->ns * sizeof(double));
	lat_scale *sc = malloc((size_t)t->ns * sizeof(*sc));
	if (!r || !sc) {
		free(r);
		free(sc);
		return -1;
	}
	int nsc = 0;
	for (int i = 0; i < t->ns; i++) {
		uint64_t id = t->smp[i].space;
		int seen = 0;
		for (int j = 0; j < nsc && !seen; j++)
			seen = sc[j].space == id;
		if (seen)
			continue;
		int n = 0;
		for (int j = i; j < t->ns; j++)
			if (t->smp[j].space == id)
				r[n++] = t->smp[j].us / t->smp[j].sum_us;
		sc[nsc++] = (lat_scale){id, median(r, n), n};
	}
	for (int i = 0; i < t->ns; i++)
		r[i] = t->smp[i].us / t->smp[i].sum_us;
	t->fallback = median(r, t->ns);
	free(r);
	t->sc = sc;
	t->nsc = nsc;
	return 0;
}

double lat_scale_for(const lat_table *t, uint64_t space)
{
	for (int i = 0; i < t->nsc; i++)
		if (t->sc[i].space == space)
			return t->sc[i].scale;
	return t->fallback;
}

int lat_table_append_sample(lat_table *t, uint64_t space, double sum_us, double us)
{
	assert(sum_us > 0 && us > 0);
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
	t->smp[t->ns++] = (lat_sample){space, round(sum_us * 1000) / 1000, round(us * 1000) / 1000};
	return 0;
}

int lat_table_add_sample(lat_table *t, uint64_t space, double sum_us, double us)
{
	return lat_table_append_sample(t, space, sum_us, us) == 0 ? lat_calib_fit(t) : -1;
}

int lat_table_calibration(const lat_table *t, const ir_space *s, int in_res, double *scale)
{
	uint64_t id = lat_space_id(s, in_res);
	*scale = lat_scale_for(t, id);
	for (int i = 0; i < t->nsc; i++)
		if (t->sc[i].space == id)
			return t->sc[i].n;
	return 0;
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

/* Cuts sub out of sn (statistics recalibrated on the images x) and times
 * it at batch 1: the median of RUNS_PER_REP * reps runs into *us.  0 or -1
 * with a message. */
static int time_subnet(sn_supernet *sn, const sn_subnet *sub, const float *x, size_t nx, int reps,
		       double *us, char *err, size_t errlen)
{
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
	forward f = {m, x, ws, out};
	int rc = ws && out ? lat_time_fn(run, &f, RUNS_PER_REP * reps, us) : -1;
	if (rc < 0)
		seterr(err, errlen, "latency table: out of memory timing a subnet");
	free(ws);
	free(out);
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
	uint64_t id = lat_space_id(s, in_res);
	rt_rng r;
	rt_rng_seed(&r, LAT_CALIB_SEED);
	for (size_t i = 0; rc == 0 && i < NRECAL * nx; i++)
		x[i] = (float)rt_rng_normal(&r);
	for (int i = 0; rc == 0 && i < LAT_CALIB_SUBNETS; i++) {
		sn_subnet sub;
		sn_subnet_random(s, &r, &sub);
		sn_plan_build(s, nclasses, &sub, plan);
		double sum = 0, us = 0;
		if (lat_table_measure_plan(t, s, plan, in_res, reps, err, errlen) < 0 ||
		    time_subnet(sn, &sub, x, nx, reps, &us, err, errlen) != 0 ||
		    lat_entries_sum(t, s, plan, in_res, &sum) != 0)
			rc = -1;
		else if (!(sum > 0 && us > 0))
			; /* nothing to learn from (a zero timing on a coarse clock) */
		else if (lat_table_add_sample(t, id, sum, us) != 0) {
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
