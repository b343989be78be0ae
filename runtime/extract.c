/*
 * extract.c — cutting a subnet out of a supernet (compact weights at the
 * active shapes) and running the result (see extract.h for the network and
 * the weight layout this file implements).
 *
 * Extraction reads the supernet's buffers through its private layout
 * (supernet_priv.h) and reuses its own crop and kernel-transform code, so
 * the model's weights are by construction those the supernet computes with.
 */
#include "runtime/extract.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/extract_priv.h"
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

/* --- layout ------------------------------------------------------------------- */

static size_t bn_size(int c)
{
	return 4 * (size_t)c;
}

size_t rt_model_layer_size(const rt_model_layer *l)
{
	size_t kk = (size_t)l->k * l->k, cin = (size_t)l->cin, cout = (size_t)l->cout;
	size_t mid = (size_t)l->mid, r = (size_t)l->se_r;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		return kk * cin * cout + bn_size(l->cout);
	case IR_BLOCK_MBCONV: {
		size_t n = kk * mid + bn_size(l->mid) + mid * cout + bn_size(l->cout);
		if (l->has_expand)
			n += cin * mid + bn_size(l->mid);
		if (r)
			n += 2 * mid * r + r + mid;
		return n;
	}
	case IR_BLOCK_RESIDUAL: {
		size_t n = kk * cin * mid + bn_size(l->mid) + kk * mid * cout + bn_size(l->cout);
		if (l->shortcut == 2)
			n += cin * cout + bn_size(l->cout);
		return n;
	}
	case IR_BLOCK_DENSE:
		return cin * cout + bn_size(l->cout);
	case IR_BLOCK_FC:
		return cin * cout + cout;
	default:
		return 0;
	}
}

size_t rt_model_layout(rt_model *m)
{
	size_t off = 0;
	for (int i = 0; i < m->nlayers; i++) {
		m->layers[i].off = off;
		m->layers[i].nweights = rt_model_layer_size(&m->layers[i]);
		off += m->layers[i].nweights;
	}
	return off;
}

/* --- extraction --------------------------------------------------------------- */

/* Copies the leading rows x cols block of a matrix with row stride ld into
 * dst, compact; returns the position after it. */
static float *put_mat(float *dst, const float *src, int rows, int cols, int ld)
{
	for (int r = 0; r < rows; r++)
		memcpy(dst + (size_t)r * cols, src + (size_t)r * ld, (size_t)cols * sizeof(float));
	return dst + (size_t)rows * cols;
}

static float *put_vec(float *dst, const float *src, int n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
	return dst + n;
}

/* gamma, beta, running mean, running variance of the first c channels. */
static float *put_bn(float *dst, const sn_supernet *sn, const sn_bn *bn, int c)
{
	dst = put_vec(dst, sn->w + bn->gamma, c);
	dst = put_vec(dst, sn->w + bn->beta, c);
	dst = put_vec(dst, sn->st + bn->rmean, c);
	return put_vec(dst, sn->st + bn->rvar, c);
}

/* A dense conv's active weight [k*k*cin, cout], cropped and sliced. */
static float *put_conv(float *dst, sn_supernet *sn, sn_unit *u, int which, int k, int cin,
		       int cout)
{
	int ldw;
	const float *W = sn_conv_weight(sn, u, which, k, cin, cout, &ldw);
	return put_mat(dst, W, k * k * cin, cout, ldw);
}

/* Writes layer i's weights at dst, in the order of extract.h. */
static void put_layer(sn_supernet *sn, int i, const rt_model_layer *ml, float *dst)
{
	sn_unit *u = &sn->unit[i];
	float *end = dst + ml->nweights;
	int k = ml->k, cin = ml->cin, cout = ml->cout, mid = ml->mid;
	switch (ml->kind) {
	case IR_BLOCK_CONV:
		dst = put_conv(dst, sn, u, 1, k, cin, cout);
		dst = put_bn(dst, sn, &u->bn1, cout);
		break;
	case IR_BLOCK_MBCONV: {
		if (ml->has_expand) {
			dst = put_mat(dst, sn->w + u->w1.off, cin, mid, u->w1.cout);
			dst = put_bn(dst, sn, &u->bn1, mid);
		}
		int ldk;
		const float *K = sn_kernel_forward(sn, u, k, mid, &ldk);
		dst = put_mat(dst, K, k * k, mid, ldk);
		dst = put_bn(dst, sn, &u->bn2, mid);
		if (ml->se_r) {
			dst = put_mat(dst, sn->w + u->se_w1, mid, ml->se_r, u->se_rmax);
			dst = put_vec(dst, sn->w + u->se_b1, ml->se_r);
			dst = put_mat(dst, sn->w + u->se_w2, ml->se_r, mid, u->mid_max);
			dst = put_vec(dst, sn->w + u->se_b2, mid);
		}
		dst = put_mat(dst, sn->w + u->w3.off, mid, cout, u->w3.cout);
		dst = put_bn(dst, sn, &u->bn3, cout);
		break;
	}
	case IR_BLOCK_RESIDUAL:
		dst = put_conv(dst, sn, u, 1, k, cin, mid);
		dst = put_bn(dst, sn, &u->bn1, mid);
		dst = put_conv(dst, sn, u, 2, k, mid, cout);
		dst = put_bn(dst, sn, &u->bn2, cout);
		if (ml->shortcut == 2) {
			dst = put_mat(dst, sn->w + u->w3.off, cin, cout, u->w3.cout);
			dst = put_bn(dst, sn, &u->bn3, cout);
		}
		break;
	case IR_BLOCK_DENSE:
		dst = put_mat(dst, sn->w + u->w1.off, cin, cout, u->w1.cout);
		dst = put_bn(dst, sn, &u->bn1, cout);
		break;
	case IR_BLOCK_FC:
		dst = put_mat(dst, sn->w + u->w1.off, cin, cout, u->w1.cout);
		dst = put_vec(dst, sn->w + u->bias, cout);
		break;
	default:
		break;
	}
	assert(dst == end);
	(void)end;
}

/* The model layer for the active layer i of the selected plan. */
static rt_model_layer model_layer(const sn_supernet *sn, int i)
{
	const ir_layer *l = &sn->space->layers[i];
	const sn_layer_plan *p = &sn->plan.layer[i];
	rt_model_layer ml = { .kind = l->kind, .act = l->act, .cin = p->cin, .cout = p->cout,
			      .mid = p->mid, .se_r = p->se_r, .k = p->k, .stride = l->stride,
			      .h = p->h, .w = p->w, .ho = p->ho, .wo = p->wo,
			      .shortcut = p->shortcut };
	switch (l->kind) {
	case IR_BLOCK_MBCONV:
		ml.has_expand = sn->unit[i].has_expand;
		break;
	case IR_BLOCK_RESIDUAL:
		ml.act = IR_ACT_RELU;
		break;
	case IR_BLOCK_POOL:
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		ml.k = 0;
		ml.stride = 1;
		ml.mid = ml.se_r = ml.shortcut = 0;
		if (l->kind == IR_BLOCK_POOL)
			ml.act = IR_ACT_NONE;
		break;
	default:
		break;
	}
	return ml;
}

rt_model *rt_model_extract(sn_supernet *sn, const sn_subnet *sub, const uint8_t key[16],
			   char *err, size_t errlen)
{
	sn_supernet_set_subnet(sn, sub);
	const sn_plan *plan = &sn->plan;
	const ir_space *s = sn->space;
	rt_model *m = calloc(1, sizeof(*m));
	char *genes = malloc(SN_GENE_STRLEN);
	if (!m || !genes)
		goto oom;
	memcpy(m->supernet_key, key, sizeof m->supernet_key);
	m->in_channels = s->in_channels;
	m->in_h = sn->in_h;
	m->in_w = sn->in_w;
	m->res = plan->res;
	m->nclasses = sn->nclasses;
	sn_cost cost;
	sn_plan_cost(s, plan, &cost);
	m->macs = cost.macs;
	m->params = cost.params;
	int len = sn_subnet_format(s, sub, genes, SN_GENE_STRLEN);
	assert(len >= 0);
	m->genes = realloc(genes, (size_t)len + 1);
	if (!m->genes)
		goto oom;
	genes = NULL;
	m->in_mean = calloc((size_t)m->in_channels, sizeof(float));
	m->in_std = malloc((size_t)m->in_channels * sizeof(float));
	if (!m->in_mean || !m->in_std)
		goto oom;
	for (int c = 0; c < m->in_channels; c++)
		m->in_std[c] = 1.0f;
	for (int i = 0; i < s->nlayers; i++)
		m->nlayers += plan->layer[i].active != 0;
	m->layers = calloc((size_t)m->nlayers, sizeof(*m->layers));
	if (!m->layers)
		goto oom;
	for (int i = 0, j = 0; i < s->nlayers; i++)
		if (plan->layer[i].active)
			m->layers[j++] = model_layer(sn, i);
	m->nweights = rt_model_layout(m);
	m->weights = malloc((m->nweights ? m->nweights : 1) * sizeof(float));
	if (!m->weights)
		goto oom;
	for (int i = 0, j = 0; i < s->nlayers; i++)
		if (plan->layer[i].active) {
			put_layer(sn, i, &m->layers[j], m->weights + m->layers[j].off);
			j++;
		}
	if (rt_model_fuse(m) < 0)
		goto oom;
	return m;
oom:
	free(genes);
	rt_model_free(m);
	seterr(err, errlen, "space %s: out of memory extracting a subnet", s->name);
	return NULL;
}

void rt_model_free(rt_model *m)
{
	if (!m)
		return;
	free(m->genes);
	free(m->in_mean);
	free(m->in_std);
	free(m->layers);
	free(m->weights);
	rt_model_fused_free(m->fused);
	free(m);
}
