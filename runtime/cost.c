/*
 * cost.c — peak activation memory of a subnet and the metrics struct (the
 * memory model is stated in cost.h; MACs and params are sn_plan_cost's).
 */
#include "runtime/cost.h"

#include <assert.h>
#include <stdlib.h>

#define BYTES_PER_VALUE 4.0 /* float32 */

static double max2(double a, double b)
{
	return a > b ? a : b;
}

/* Largest number of values live at once while layer i runs. */
static double layer_values(const ir_space *s, const sn_layer_plan *p, int i)
{
	const ir_layer *l = &s->layers[i];
	double x = (double)p->cin * p->h * p->w;
	double y = (double)p->cout * p->ho * p->wo;
	switch (l->kind) {
	case IR_BLOCK_MBCONV: {
		/* The same test sn_plan_cost uses for "has an expand conv". */
		int has_expand = l->expand != 1.0;
		double keep = p->shortcut ? x : 0;
		double e = (double)p->mid * p->h * p->w;
		double d = (double)p->mid * p->ho * p->wo;
		double peak = has_expand ? max2(x + e, e + keep + d) : x + d;
		if (p->se_r)
			peak = max2(peak, keep + d + p->mid + p->se_r);
		return max2(peak, keep + d + y);
	}
	case IR_BLOCK_RESIDUAL: {
		double m = (double)p->mid * p->ho * p->wo;
		double peak = x + m + y;
		if (p->shortcut == 2)
			peak = max2(peak, x + 2 * y);
		return peak;
	}
	case IR_BLOCK_CONV:
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
	case IR_BLOCK_POOL:
	default:
		return x + y;
	}
}

double search_layer_memory(const ir_space *s, const sn_plan *plan, int i)
{
	assert(i >= 0 && i < plan->nlayers && plan->nlayers == s->nlayers);
	const sn_layer_plan *p = &plan->layer[i];
	return p->active ? BYTES_PER_VALUE * layer_values(s, p, i) : 0;
}

double search_peak_memory(const ir_space *s, const sn_plan *plan)
{
	double peak = 0;
	for (int i = 0; i < plan->nlayers; i++)
		peak = max2(peak, search_layer_memory(s, plan, i));
	return peak;
}

int search_metrics_compute(const ir_space *s, int nclasses, const sn_subnet *sub,
			   sn_plan *plan, search_metrics *out)
{
	sn_plan *own = NULL;
	if (!plan) {
		own = malloc(sizeof(*own));
		if (!own)
			return -1;
		plan = own;
	}
	sn_plan_build(s, nclasses, sub, plan);
	sn_cost c;
	sn_plan_cost(s, plan, &c);
	out->macs = c.macs;
	out->params = c.params;
	out->memory = search_peak_memory(s, plan);
	free(own);
	return 0;
}

double search_metrics_get(const search_metrics *x, ir_metric m)
{
	switch (m) {
	case IR_METRIC_MACS:
		return x->macs;
	case IR_METRIC_PARAMS:
		return x->params;
	case IR_METRIC_MEMORY:
		return x->memory;
	case IR_METRIC_ACCURACY:
	case IR_METRIC_LATENCY:
	case IR_METRIC_COUNT:
	default:
		break;
	}
	assert(!"search_metrics_get: not a cost metric");
	return 0;
}
