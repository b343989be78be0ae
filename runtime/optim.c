/* optim.c — SGD and the learning rate schedule (formulas in optim.h). */
#include "runtime/optim.h"

#include <assert.h>
#include <math.h>

void rt_sgd_from_recipe(rt_sgd *o, const ir_recipe *r)
{
	o->momentum = r->momentum;
	o->wd = r->wd;
	o->nesterov = r->nesterov;
	o->decoupled = r->wd_decoupled;
}

/* One buffer; the loops are branch-free inside so they vectorise. */
static void sgd_param(const rt_sgd *o, rt_param *p, float lr)
{
	float mu = (float)o->momentum;
	float wd = p->no_decay ? 0.0f : (float)o->wd;
	float l2 = o->decoupled ? 0.0f : wd;
	float shrink = o->decoupled ? 1.0f - lr * wd : 1.0f;
	float *w = p->w, *m = p->m;
	const float *g = p->g;
	size_t n = p->n;
	if (mu == 0.0f) {
		for (size_t i = 0; i < n; i++) {
			float gi = g[i] + l2 * w[i];
			w[i] = w[i] * shrink - lr * gi;
		}
	} else if (o->nesterov) {
		assert(m);
		for (size_t i = 0; i < n; i++) {
			float gi = g[i] + l2 * w[i];
			float mi = mu * m[i] + gi;
			m[i] = mi;
			w[i] = w[i] * shrink - lr * (gi + mu * mi);
		}
	} else {
		assert(m);
		for (size_t i = 0; i < n; i++) {
			float gi = g[i] + l2 * w[i];
			float mi = mu * m[i] + gi;
			m[i] = mi;
			w[i] = w[i] * shrink - lr * mi;
		}
	}
}

void rt_sgd_step(const rt_sgd *o, rt_param *params, int nparams, double lr)
{
	for (int i = 0; i < nparams; i++)
		sgd_param(o, &params[i], (float)lr);
}

void rt_sched_from_recipe(rt_sched *s, const ir_recipe *r, long steps_per_epoch)
{
	assert(steps_per_epoch > 0);
	s->kind = r->schedule;
	s->base = r->lr;
	s->warmup = r->warmup > 0 ? r->warmup * (double)steps_per_epoch : 0.0;
	s->total = (double)r->epochs * (double)steps_per_epoch;
}

double rt_sched_lr(const rt_sched *s, long t)
{
	double td = (double)t;
	if (td < s->warmup) {
		double f = (td + 1.0) / s->warmup;
		return s->base * (f < 1.0 ? f : 1.0);
	}
	if (s->kind != IR_SCHEDULE_COSINE || s->total <= s->warmup)
		return s->base;
	double p = (td - s->warmup) / (s->total - s->warmup);
	if (p > 1.0)
		p = 1.0;
	return s->base * 0.5 * (1.0 + cos(3.14159265358979323846 * p));
}
