/*
 * supernet.c — building a supernet: the parameter layout, its
 * initialisation, the activation arena, and the small public accessors.
 * The passes are in supernet_pass.c, kernel crops in supernet_kernel.c.
 */
#include "runtime/supernet.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rng.h"
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

/* --- parameter layout ------------------------------------------------------- */

/* Reserves n parameter floats; the rt_param entry's pointers are offsets
 * until fix_params() turns them into addresses.  Returns the offset. */
static size_t take_param(sn_supernet *sn, size_t n, int no_decay)
{
	if (sn->nparam_list == sn->cap_param_list) {
		int cap = sn->cap_param_list ? 2 * sn->cap_param_list : 64;
		rt_param *p = realloc(sn->params, (size_t)cap * sizeof(*p));
		if (!p)
			return (size_t)-1;
		sn->params = p;
		sn->cap_param_list = cap;
	}
	size_t off = sn->nparams;
	rt_param *p = &sn->params[sn->nparam_list++];
	p->w = p->g = p->m = NULL;
	p->n = n;
	p->no_decay = no_decay;
	sn->nparams += n;
	return off;
}

static size_t take_stat(sn_supernet *sn, size_t n)
{
	size_t off = sn->nstats;
	sn->nstats += n;
	return off;
}

static void take_bn(sn_supernet *sn, sn_bn *bn, int c)
{
	bn->gamma = take_param(sn, (size_t)c, 1);
	bn->beta = take_param(sn, (size_t)c, 1);
	bn->rmean = take_stat(sn, (size_t)c);
	bn->rvar = take_stat(sn, (size_t)c);
}

static void take_weight(sn_supernet *sn, sn_weight *w, int k, int cin, int cout)
{
	w->k = k;
	w->cin = cin;
	w->cout = cout;
	w->off = take_param(sn, (size_t)k * k * cin * cout, 0);
}

/* Lays out the parameters of every layer. */
static void layout_params(sn_supernet *sn)
{
	const ir_space *s = sn->space;
	for (int i = 0; i < s->nlayers; i++) {
		const ir_layer *l = &s->layers[i];
		sn_unit *u = &sn->unit[i];
		u->l = l;
		int cin = l->in_channels, cout = l->out_channels;
		if (l->kind == IR_BLOCK_FC && cout == 0)
			cout = sn->nclasses;
		u->mid_max = sn_layer_max_mid(l);
		switch (l->kind) {
		case IR_BLOCK_CONV:
			take_weight(sn, &u->w1, l->kernel, cin, cout);
			take_bn(sn, &u->bn1, cout);
			break;
		case IR_BLOCK_MBCONV:
			u->has_expand = l->expand != 1.0;
			if (u->has_expand) {
				take_weight(sn, &u->w1, 1, cin, u->mid_max);
				take_bn(sn, &u->bn1, u->mid_max);
			}
			/* depthwise: [k*k, mid] */
			take_weight(sn, &u->w2, l->kernel, 1, u->mid_max);
			take_bn(sn, &u->bn2, u->mid_max);
			if (l->g_kernel >= 0) {
				const ir_gene *g = &s->genes[l->g_kernel];
				for (int v = g->nvalues - 1; v >= 0; v--) {
					int k = (int)g->values[v];
					if (k >= l->kernel || u->nkt == SN_MAX_KT)
						continue;
					u->kt_k[u->nkt] = k;
					u->kt[u->nkt] = take_param(sn, (size_t)k * k * k * k, 1);
					u->nkt++;
				}
			}
			if (l->se) {
				u->se_rmax = u->mid_max / 4 > 1 ? u->mid_max / 4 : 1;
				u->se_w1 = take_param(sn, (size_t)u->mid_max * u->se_rmax, 0);
				u->se_b1 = take_param(sn, (size_t)u->se_rmax, 1);
				u->se_w2 = take_param(sn, (size_t)u->se_rmax * u->mid_max, 0);
				u->se_b2 = take_param(sn, (size_t)u->mid_max, 1);
			}
			take_weight(sn, &u->w3, 1, u->mid_max, cout);
			take_bn(sn, &u->bn3, cout);
			break;
		case IR_BLOCK_RESIDUAL:
			take_weight(sn, &u->w1, l->kernel, cin, u->mid_max);
			take_bn(sn, &u->bn1, u->mid_max);
			take_weight(sn, &u->w2, l->kernel, u->mid_max, cout);
			take_bn(sn, &u->bn2, cout);
			if (!(l->stride == 1 && cin == cout)) {
				take_weight(sn, &u->w3, 1, cin, cout);
				take_bn(sn, &u->bn3, cout);
			}
			break;
		case IR_BLOCK_DENSE:
			take_weight(sn, &u->w1, 1, cin, cout);
			take_bn(sn, &u->bn1, cout);
			break;
		case IR_BLOCK_FC:
			take_weight(sn, &u->w1, 1, cin, cout);
			u->bias = take_param(sn, (size_t)cout, 1);
			break;
		default:
			break;
		}
	}
}

static void fill_normal(rt_rng *rng, float *w, size_t n, double std)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(rt_rng_normal(rng) * std);
}

static void init_bn(sn_supernet *sn, const sn_bn *bn, int c)
{
	for (int i = 0; i < c; i++) {
		sn->w[bn->gamma + (size_t)i] = 1.0f;
		sn->w[bn->beta + (size_t)i] = 0.0f;
		sn->st[bn->rmean + (size_t)i] = 0.0f;
		sn->st[bn->rvar + (size_t)i] = 1.0f;
	}
}

/* Kaiming-normal, fan-out, gain sqrt 2 (as torchvision's MobileNets). */
static void init_conv(sn_supernet *sn, rt_rng *rng, const sn_weight *w, int depthwise)
{
	double fan_out = (double)w->k * w->k * (depthwise ? 1 : w->cout);
	fill_normal(rng, sn->w + w->off, (size_t)w->k * w->k * w->cin * w->cout,
		    sqrt(2.0 / fan_out));
}

static void init_params(sn_supernet *sn, uint64_t seed)
{
	const ir_space *s = sn->space;
	memset(sn->w, 0, sn->nparams * sizeof(float));
	for (int i = 0; i < s->nlayers; i++) {
		sn_unit *u = &sn->unit[i];
		const ir_layer *l = u->l;
		rt_rng rng;
		rt_rng_seed_stream(&rng, seed, (uint64_t)i);
		int cout = u->w1.cout;
		switch (l->kind) {
		case IR_BLOCK_CONV:
		case IR_BLOCK_DENSE:
			init_conv(sn, &rng, &u->w1, 0);
			init_bn(sn, &u->bn1, cout);
			break;
		case IR_BLOCK_MBCONV:
			if (u->has_expand) {
				init_conv(sn, &rng, &u->w1, 0);
				init_bn(sn, &u->bn1, u->mid_max);
			}
			init_conv(sn, &rng, &u->w2, 1);
			init_bn(sn, &u->bn2, u->mid_max);
			for (int t = 0; t < u->nkt; t++) {
				int kk = u->kt_k[t] * u->kt_k[t];
				for (int q = 0; q < kk; q++)
					sn->w[u->kt[t] + (size_t)q * kk + q] = 1.0f;
			}
			if (l->se) {
				fill_normal(&rng, sn->w + u->se_w1, (size_t)u->mid_max * u->se_rmax,
					    sqrt(2.0 / u->mid_max));
				fill_normal(&rng, sn->w + u->se_w2, (size_t)u->mid_max * u->se_rmax,
					    sqrt(1.0 / u->se_rmax));
			}
			init_conv(sn, &rng, &u->w3, 0);
			init_bn(sn, &u->bn3, u->w3.cout);
			break;
		case IR_BLOCK_RESIDUAL:
			init_conv(sn, &rng, &u->w1, 0);
			init_bn(sn, &u->bn1, u->mid_max);
			init_conv(sn, &rng, &u->w2, 0);
			init_bn(sn, &u->bn2, u->w2.cout);
			if (u->w3.cout) {
				init_conv(sn, &rng, &u->w3, 0);
				init_bn(sn, &u->bn3, u->w3.cout);
			}
			break;
		case IR_BLOCK_FC:
			fill_normal(&rng, sn->w + u->w1.off, (size_t)u->w1.cin * cout, 0.01);
			break;
		default:
			break;
		}
	}
}

/* --- activation arena --------------------------------------------------------- */

static float *act(sn_supernet *sn, size_t n)
{
	if (n > sn->gmax)
		sn->gmax = n;
	return rt_arena_floats(&sn->arena, n);
}

static void alloc_bn(sn_supernet *sn, sn_bn *bn, int c)
{
	bn->save_mean = rt_arena_floats(&sn->arena, (size_t)c);
	bn->save_invstd = rt_arena_floats(&sn->arena, (size_t)c);
}

static void need_conv_ws(sn_supernet *sn, int n, int h, int cin, int cout, int k, int stride)
{
	rt_conv2d_p p = { .n = n, .h = h, .w = h, .cin = cin, .cout = cout,
			  .k = k, .stride = stride, .pad = k / 2, .ldw = cout };
	size_t f = rt_conv2d_workspace(&p);
	if (f > sn->conv_ws_floats)
		sn->conv_ws_floats = f;
}

/* Allocates every activation buffer at its largest size; run once against a
 * measuring arena and once against the real one. */
static void alloc_acts(sn_supernet *sn, const sn_plan *mx)
{
	const ir_space *s = sn->space;
	size_t N = (size_t)sn->max_batch;
	sn->gmax = 0;
	sn->conv_ws_floats = 0;
	sn->xres = NULL;
	if (s->resolution != sn->in_h || s->resolution != sn->in_w || s->g_resolution >= 0)
		sn->xres = act(sn, N * s->resolution * s->resolution * s->in_channels);
	for (int i = 0; i < s->nlayers; i++) {
		sn_unit *u = &sn->unit[i];
		const ir_layer *l = u->l;
		const sn_layer_plan *p = &mx->layer[i];
		size_t in_px = N * p->h * p->w, out_px = N * p->ho * p->wo;
		int cout = p->cout, mid = u->mid_max;
		switch (l->kind) {
		case IR_BLOCK_CONV:
			u->z1 = act(sn, out_px * cout);
			u->b1 = act(sn, out_px * cout);
			u->a1 = act(sn, out_px * cout);
			alloc_bn(sn, &u->bn1, cout);
			need_conv_ws(sn, (int)N, p->h, p->cin, cout, l->kernel, l->stride);
			u->wtmp = rt_arena_floats(&sn->arena, (size_t)l->kernel * l->kernel * p->cin * cout);
			u->wgrad = rt_arena_floats(&sn->arena, (size_t)l->kernel * l->kernel * p->cin * cout);
			break;
		case IR_BLOCK_MBCONV:
			if (u->has_expand) {
				u->z1 = act(sn, in_px * mid);
				u->b1 = act(sn, in_px * mid);
				u->a1 = act(sn, in_px * mid);
				alloc_bn(sn, &u->bn1, mid);
			}
			u->z2 = act(sn, out_px * mid);
			u->b2 = act(sn, out_px * mid);
			u->a2 = act(sn, out_px * mid);
			alloc_bn(sn, &u->bn2, mid);
			for (int t = 0; t < u->nkt; t++) {
				u->kbuf[t] = rt_arena_floats(&sn->arena, (size_t)u->kt_k[t] * u->kt_k[t] * mid);
				u->kgrad[t] = rt_arena_floats(&sn->arena, (size_t)u->kt_k[t] * u->kt_k[t] * mid);
			}
			if (l->se) {
				rt_se_p sp = { .n = (int)N, .hw = p->ho * p->wo, .c = mid,
					       .r = u->se_rmax, .ldw1 = u->se_rmax, .ldw2 = mid };
				u->se = act(sn, out_px * mid);
				u->se_ws = rt_arena_floats(&sn->arena, rt_se_workspace(&sp));
			}
			u->z3 = act(sn, out_px * cout);
			u->b3 = act(sn, out_px * cout);
			if (l->stride == 1)
				u->out = act(sn, out_px * cout);
			alloc_bn(sn, &u->bn3, cout);
			break;
		case IR_BLOCK_RESIDUAL:
			u->z1 = act(sn, out_px * mid);
			u->b1 = act(sn, out_px * mid);
			u->a1 = act(sn, out_px * mid);
			alloc_bn(sn, &u->bn1, mid);
			need_conv_ws(sn, (int)N, p->h, p->cin, mid, l->kernel, l->stride);
			need_conv_ws(sn, (int)N, p->ho, mid, cout, l->kernel, 1);
			u->z2 = act(sn, out_px * cout);
			u->b2 = act(sn, out_px * cout);
			alloc_bn(sn, &u->bn2, cout);
			if (u->w3.cout) {
				u->z3 = act(sn, out_px * cout);
				u->b3 = act(sn, out_px * cout);
				alloc_bn(sn, &u->bn3, cout);
				need_conv_ws(sn, (int)N, p->h, p->cin, cout, 1, l->stride);
			}
			u->a2 = act(sn, out_px * cout);
			u->out = act(sn, out_px * cout);
			{
				size_t big = (size_t)l->kernel * l->kernel * mid *
					     (size_t)(p->cin > cout ? p->cin : cout);
				u->wtmp = rt_arena_floats(&sn->arena, big);
				u->wgrad = rt_arena_floats(&sn->arena, big);
			}
			break;
		case IR_BLOCK_POOL:
			u->out = act(sn, N * p->cin);
			break;
		case IR_BLOCK_DENSE:
		case IR_BLOCK_FC:
			u->z1 = act(sn, N * cout);
			u->b1 = act(sn, N * cout);
			u->a1 = act(sn, N * cout);
			if (l->kind == IR_BLOCK_DENSE)
				alloc_bn(sn, &u->bn1, cout);
			break;
		default:
			break;
		}
	}
	for (int i = 0; i < 4; i++)
		sn->grad[i] = rt_arena_floats(&sn->arena, sn->gmax);
	sn->conv_ws = rt_arena_floats(&sn->arena, sn->conv_ws_floats ? sn->conv_ws_floats : 1);
}

/* A supernet, or with `master` a replica of it (reading its weights). */
static sn_supernet *build(const ir_space *space, int nclasses, int in_h, int in_w,
			  int max_batch, uint64_t seed, const sn_supernet *master, char *err,
			  size_t errlen)
{
	if (sn_space_check(space, nclasses, err, errlen) != 0)
		return NULL;
	if (max_batch < 1 || in_h < 1 || in_w < 1 || nclasses < 1) {
		seterr(err, errlen, "space %s: batch %d, input %dx%d, %d classes",
		       space->name, max_batch, in_h, in_w, nclasses);
		return NULL;
	}
	sn_supernet *sn = calloc(1, sizeof(*sn));
	if (!sn)
		goto oom;
	sn->space = space;
	sn->nclasses = nclasses;
	sn->in_h = in_h;
	sn->in_w = in_w;
	sn->max_batch = max_batch;
	sn->unit = calloc((size_t)space->nlayers, sizeof(*sn->unit));
	if (!sn->unit)
		goto oom;
	layout_params(sn);
	if (sn->nparam_list && !sn->params)
		goto oom;
	sn->replica = master != NULL;
	sn->w = master ? master->w : calloc(sn->nparams ? sn->nparams : 1, sizeof(float));
	sn->g = calloc(sn->nparams ? sn->nparams : 1, sizeof(float));
	sn->m = master ? NULL : calloc(sn->nparams ? sn->nparams : 1, sizeof(float));
	sn->st = calloc(sn->nstats ? sn->nstats : 1, sizeof(float));
	if (!sn->w || !sn->g || (!master && !sn->m) || !sn->st)
		goto oom;
	size_t off = 0;
	for (int i = 0; i < sn->nparam_list; i++) {
		rt_param *p = &sn->params[i];
		p->w = sn->w + off;
		p->g = sn->g + off;
		p->m = sn->m ? sn->m + off : NULL;
		off += p->n;
	}
	if (master)
		memcpy(sn->st, master->st, sn->nstats * sizeof(float));
	else
		init_params(sn, seed);

	sn_subnet mxs;
	sn_subnet_max(space, &mxs);
	sn_plan_build(space, nclasses, &mxs, &sn->plan);
	sn->plan.res = space->resolution;
	/* rebuild spatial sizes at the space's largest resolution */
	{
		int h = space->resolution;
		for (int i = 0; i < space->nlayers; i++) {
			sn_layer_plan *p = &sn->plan.layer[i];
			p->h = p->w = h;
			if (space->layers[i].kind == IR_BLOCK_POOL || space->layers[i].kind == IR_BLOCK_FC ||
			    space->layers[i].kind == IR_BLOCK_DENSE)
				h = 1;
			else
				h = (h - 1) / space->layers[i].stride + 1;
			p->ho = p->wo = h;
		}
	}
	rt_arena_init_measure(&sn->arena);
	alloc_acts(sn, &sn->plan);
	size_t bytes = rt_arena_peak(&sn->arena);
	if (rt_arena_init(&sn->arena, bytes) != 0) {
		seterr(err, errlen, "space %s: cannot allocate %zu MiB of activations for batch %d",
		       space->name, bytes >> 20, max_batch);
		sn_supernet_free(sn);
		return NULL;
	}
	alloc_acts(sn, &sn->plan);
	sn_supernet_set_subnet(sn, &mxs);
	return sn;
oom:
	seterr(err, errlen, "space %s: out of memory building the supernet", space->name);
	sn_supernet_free(sn);
	return NULL;
}

sn_supernet *sn_supernet_new(const ir_space *space, int nclasses, int in_h, int in_w,
			     int max_batch, uint64_t seed, char *err, size_t errlen)
{
	return build(space, nclasses, in_h, in_w, max_batch, seed, NULL, err, errlen);
}

sn_supernet *sn_supernet_replica(const sn_supernet *sn, char *err, size_t errlen)
{
	assert(!sn->replica);
	return build(sn->space, sn->nclasses, sn->in_h, sn->in_w, sn->max_batch, 0, sn, err,
		     errlen);
}

int sn_supernet_is_replica(const sn_supernet *sn) { return sn->replica; }

void sn_supernet_free(sn_supernet *sn)
{
	if (!sn)
		return;
	rt_arena_free(&sn->arena);
	if (!sn->replica)
		free(sn->w);
	free(sn->g);
	free(sn->m);
	free(sn->st);
	free(sn->params);
	free(sn->unit);
	free(sn);
}

const ir_space *sn_supernet_space(const sn_supernet *sn) { return sn->space; }
int sn_supernet_nclasses(const sn_supernet *sn) { return sn->nclasses; }
int sn_supernet_max_batch(const sn_supernet *sn) { return sn->max_batch; }
size_t sn_supernet_nparams(const sn_supernet *sn) { return sn->nparams; }
size_t sn_supernet_nstats(const sn_supernet *sn) { return sn->nstats; }
float *sn_supernet_weights(sn_supernet *sn)
{
	sn_kernel_drop(sn); /* the caller may write them */
	return sn->w;
}

void sn_supernet_weights_changed(sn_supernet *sn) { sn_kernel_drop(sn); }
float *sn_supernet_grads(sn_supernet *sn) { return sn->g; }
float *sn_supernet_momentum(sn_supernet *sn) { return sn->m; }
float *sn_supernet_stats(sn_supernet *sn) { return sn->st; }
size_t sn_supernet_arena_bytes(const sn_supernet *sn) { return sn->arena.size; }
const sn_plan *sn_supernet_plan(const sn_supernet *sn) { return &sn->plan; }

rt_param *sn_supernet_params(sn_supernet *sn, int *nparams)
{
	sn_kernel_drop(sn); /* the caller may write the weights */
	*nparams = sn->nparam_list;
	return sn->params;
}

void sn_supernet_set_subnet(sn_supernet *sn, const sn_subnet *sub)
{
	assert(sub->ngenes == sn->space->ngenes);
	sn_kernel_drop(sn);
	sn_plan_build(sn->space, sn->nclasses, sub, &sn->plan);
}

void sn_supernet_zero_grad(sn_supernet *sn)
{
	memset(sn->g, 0, sn->nparams * sizeof(float));
}

const float *sn_supernet_forward(sn_supernet *sn, const float *x, int n, rt_bn_mode mode)
{
	assert(n >= 1 && n <= sn->max_batch);
	return sn_pass_forward(sn, x, n, mode);
}

void sn_supernet_backward(sn_supernet *sn, const float *dlogits)
{
	assert(sn->mode != RT_BN_MODE_EVAL);
	sn_pass_backward(sn, dlogits);
}

static void recal_reset(sn_bn *bn)
{
	bn->seen = 0;
}

void sn_supernet_recal_begin(sn_supernet *sn)
{
	for (int i = 0; i < sn->space->nlayers; i++) {
		sn_unit *u = &sn->unit[i];
		if (!sn->plan.layer[i].active)
			continue;
		recal_reset(&u->bn1);
		recal_reset(&u->bn2);
		recal_reset(&u->bn3);
	}
}
