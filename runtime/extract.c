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

#define BN_EPS 1e-5f

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
	free(m);
}

/* --- forward ------------------------------------------------------------------ */

/* Sizes of the workspace's parts at batch n, in floats. */
typedef struct ws_sizes {
	size_t act;  /* each of the four activation buffers */
	size_t conv; /* im2col */
	size_t se;   /* squeeze-excite */
	size_t chan; /* each of the four per-channel BN scratch vectors */
} ws_sizes;

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

static rt_conv2d_p conv_p(int n, int h, int w, int cin, int cout, int k, int stride)
{
	rt_conv2d_p p = { .n = n, .h = h, .w = w, .cin = cin, .cout = cout, .k = k,
			  .stride = stride, .pad = k / 2, .ldw = cout };
	return p;
}

static rt_se_p se_p(const rt_model_layer *l, int n)
{
	rt_se_p p = { .n = n, .hw = l->ho * l->wo, .c = l->mid, .r = l->se_r,
		      .ldw1 = l->se_r, .ldw2 = l->mid };
	return p;
}

static ws_sizes sizes(const rt_model *m, int n)
{
	ws_sizes z = { .act = (size_t)n * m->res * m->res * m->in_channels, .conv = 0, .se = 0,
		       .chan = 1 };
	for (int i = 0; i < m->nlayers; i++) {
		const rt_model_layer *l = &m->layers[i];
		size_t in_px = (size_t)n * l->h * l->w, out_px = (size_t)n * l->ho * l->wo;
		size_t c = zmax((size_t)l->cin, zmax((size_t)l->mid, (size_t)l->cout));
		z.act = zmax(z.act, zmax(in_px, out_px) * c);
		z.chan = zmax(z.chan, c);
		if (l->kind == IR_BLOCK_CONV) {
			rt_conv2d_p p = conv_p(n, l->h, l->w, l->cin, l->cout, l->k, l->stride);
			z.conv = zmax(z.conv, rt_conv2d_workspace(&p));
		} else if (l->kind == IR_BLOCK_RESIDUAL) {
			rt_conv2d_p p1 = conv_p(n, l->h, l->w, l->cin, l->mid, l->k, l->stride);
			rt_conv2d_p p2 = conv_p(n, l->ho, l->wo, l->mid, l->cout, l->k, 1);
			rt_conv2d_p p3 = conv_p(n, l->h, l->w, l->cin, l->cout, 1, l->stride);
			z.conv = zmax(z.conv, zmax(rt_conv2d_workspace(&p1),
						   zmax(rt_conv2d_workspace(&p2),
							rt_conv2d_workspace(&p3))));
		} else if (l->kind == IR_BLOCK_MBCONV && l->se_r) {
			rt_se_p p = se_p(l, n);
			z.se = zmax(z.se, rt_se_workspace(&p));
		}
	}
	return z;
}

size_t rt_model_workspace(const rt_model *m, int n)
{
	assert(n >= 1);
	ws_sizes z = sizes(m, n);
	return 4 * z.act + z.conv + z.se + 4 * z.chan;
}

/* The forward's buffers, carved from the caller's workspace. */
typedef struct fwd {
	int n;
	float *buf[4];
	float *conv_ws, *se_ws;
	float *mean, *var, *save_mean, *save_invstd;
} fwd;

/* Batch norm (running statistics) of the [m, c] map y in place; the
 * parameters are at *w, which moves past them.  The statistics are copied
 * to scratch because rt_bn_forward's signature allows updating them. */
static void bn_eval(const fwd *f, const float **w, int m, int c, float *y)
{
	const float *gamma = *w, *beta = *w + c;
	memcpy(f->mean, *w + 2 * (size_t)c, (size_t)c * sizeof(float));
	memcpy(f->var, *w + 3 * (size_t)c, (size_t)c * sizeof(float));
	rt_bn_p p = { .m = m, .c = c, .ldx = c, .eps = BN_EPS, .mode = RT_BN_MODE_EVAL };
	rt_bn_forward(&p, y, gamma, beta, f->mean, f->var, f->save_mean, f->save_invstd, y);
	*w += bn_size(c);
}

static void act_inplace(ir_act a, size_t n, float *y)
{
	if (a == IR_ACT_RELU)
		rt_relu_forward(n, y, y);
	else if (a == IR_ACT_HSWISH)
		rt_hswish_forward(n, y, y);
}

static void conv_fwd(const fwd *f, const rt_model_layer *l, const float *w, const float *x,
		     float **t)
{
	int n = f->n, m = n * l->ho * l->wo;
	rt_conv2d_p p = conv_p(n, l->h, l->w, l->cin, l->cout, l->k, l->stride);
	rt_conv2d_forward(&p, x, w, t[0], f->conv_ws);
	w += (size_t)l->k * l->k * l->cin * l->cout;
	bn_eval(f, &w, m, l->cout, t[0]);
	act_inplace(l->act, (size_t)m * l->cout, t[0]);
}

static void mbconv_fwd(const fwd *f, const rt_model_layer *l, const float *w,
		       const float *x, float **t)
{
	int n = f->n, mid = l->mid, min_ = n * l->h * l->w, mout = n * l->ho * l->wo;
	const float *e = x;
	if (l->has_expand) {
		rt_linear_p lp = { .m = min_, .cin = l->cin, .cout = mid, .ldx = l->cin,
				   .ldw = mid, .ldy = mid };
		rt_linear_forward(&lp, x, w, NULL, t[0]);
		w += (size_t)l->cin * mid;
		bn_eval(f, &w, min_, mid, t[0]);
		act_inplace(l->act, (size_t)min_ * mid, t[0]);
		e = t[0];
	}
	rt_dwconv_p dp = { .n = n, .h = l->h, .w = l->w, .c = mid, .k = l->k,
			   .stride = l->stride, .ldw = mid };
	rt_dwconv_forward(&dp, e, w, NULL, t[1]);
	w += (size_t)l->k * l->k * mid;
	bn_eval(f, &w, mout, mid, t[1]);
	act_inplace(l->act, (size_t)mout * mid, t[1]);
	const float *d = t[1];
	if (l->se_r) {
		rt_se_p sp = se_p(l, n);
		const float *s1 = w, *b1 = s1 + (size_t)mid * l->se_r;
		const float *s2 = b1 + l->se_r, *b2 = s2 + (size_t)l->se_r * mid;
		rt_se_forward(&sp, t[1], s1, b1, s2, b2, t[0], f->se_ws);
		w = b2 + mid;
		d = t[0];
	}
	rt_linear_p pp = { .m = mout, .cin = mid, .cout = l->cout, .ldx = mid, .ldw = l->cout,
			   .ldy = l->cout };
	rt_linear_forward(&pp, d, w, NULL, t[2]);
	w += (size_t)mid * l->cout;
	bn_eval(f, &w, mout, l->cout, t[2]);
	if (l->shortcut)
		rt_add_inplace((size_t)mout * l->cout, x, t[2]);
}

/* y[:, :min] += x[:, :min] row by row: an identity shortcut between maps
 * whose widths differ. */
static void add_rows(size_t rows, int cy, int cx, const float *x, float *y)
{
	if (cy == cx) {
		rt_add_inplace(rows * (size_t)cy, x, y);
		return;
	}
	int c = cy < cx ? cy : cx;
	for (size_t r = 0; r < rows; r++)
		rt_add_inplace((size_t)c, x + r * (size_t)cx, y + r * (size_t)cy);
}

static void residual_fwd(const fwd *f, const rt_model_layer *l, const float *w,
			 const float *x, float **t)
{
	int n = f->n, mout = n * l->ho * l->wo;
	rt_conv2d_p c1 = conv_p(n, l->h, l->w, l->cin, l->mid, l->k, l->stride);
	rt_conv2d_forward(&c1, x, w, t[0], f->conv_ws);
	w += (size_t)l->k * l->k * l->cin * l->mid;
	bn_eval(f, &w, mout, l->mid, t[0]);
	rt_relu_forward((size_t)mout * l->mid, t[0], t[0]);
	rt_conv2d_p c2 = conv_p(n, l->ho, l->wo, l->mid, l->cout, l->k, 1);
	rt_conv2d_forward(&c2, t[0], w, t[1], f->conv_ws);
	w += (size_t)l->k * l->k * l->mid * l->cout;
	bn_eval(f, &w, mout, l->cout, t[1]);
	size_t sz = (size_t)mout * l->cout;
	if (l->shortcut == 2) {
		rt_conv2d_p c3 = conv_p(n, l->h, l->w, l->cin, l->cout, 1, l->stride);
		rt_conv2d_forward(&c3, x, w, t[2], f->conv_ws);
		w += (size_t)l->cin * l->cout;
		bn_eval(f, &w, mout, l->cout, t[2]);
		rt_add_inplace(sz, t[2], t[1]);
	} else {
		add_rows((size_t)mout, l->cout, l->cin, x, t[1]);
	}
	rt_relu_forward(sz, t[1], t[1]);
}

static void dense_fwd(const fwd *f, const rt_model_layer *l, const float *w, const float *x,
		      float **t)
{
	int n = f->n, fc = l->kind == IR_BLOCK_FC;
	rt_linear_p lp = { .m = n, .cin = l->cin, .cout = l->cout, .ldx = l->cin,
			   .ldw = l->cout, .ldy = l->cout };
	const float *bias = fc ? w + (size_t)l->cin * l->cout : NULL;
	rt_linear_forward(&lp, x, w, bias, t[0]);
	if (!fc) {
		w += (size_t)l->cin * l->cout;
		bn_eval(f, &w, n, l->cout, t[0]);
	}
	act_inplace(l->act, (size_t)n * l->cout, t[0]);
}

/* Which of t[] a layer of this kind leaves its output in. */
static int out_slot(ir_block kind)
{
	switch (kind) {
	case IR_BLOCK_MBCONV:
		return 2;
	case IR_BLOCK_RESIDUAL:
		return 1;
	default:
		return 0;
	}
}

void rt_model_forward(const rt_model *m, const float *x, int n, float *ws, float *logits)
{
	assert(n >= 1 && m->nlayers >= 1);
	ws_sizes z = sizes(m, n);
	fwd f = { .n = n };
	for (int i = 0; i < 4; i++)
		f.buf[i] = ws + (size_t)i * z.act;
	f.conv_ws = ws + 4 * z.act;
	f.se_ws = f.conv_ws + z.conv;
	f.mean = f.se_ws + z.se;
	f.var = f.mean + z.chan;
	f.save_mean = f.var + z.chan;
	f.save_invstd = f.save_mean + z.chan;

	const float *cur = x;
	int slot = -1; /* the buffer cur lives in, -1 for the caller's input */
	if (m->res != m->in_h || m->res != m->in_w) {
		/* [n, in_h, in_w, C] -> [n, res, res, C] */
		rt_resize_p rp = { .n = n, .h = m->in_h, .w = m->in_w, .c = m->in_channels,
				   .ho = m->res, .wo = m->res };
		rt_resize_forward(&rp, x, f.buf[0]);
		cur = f.buf[0];
		slot = 0;
	}
	for (int i = 0; i < m->nlayers; i++) {
		const rt_model_layer *l = &m->layers[i];
		const float *w = m->weights + l->off;
		float *t[3];
		for (int b = 0, j = 0; b < 4; b++)
			if (b != slot && j < 3)
				t[j++] = f.buf[b];
		switch (l->kind) {
		case IR_BLOCK_CONV:
			conv_fwd(&f, l, w, cur, t);
			break;
		case IR_BLOCK_MBCONV:
			mbconv_fwd(&f, l, w, cur, t);
			break;
		case IR_BLOCK_RESIDUAL:
			residual_fwd(&f, l, w, cur, t);
			break;
		case IR_BLOCK_POOL:
			rt_avgpool_forward(n, l->h * l->w, l->cin, cur, t[0]);
			break;
		case IR_BLOCK_DENSE:
		case IR_BLOCK_FC:
			dense_fwd(&f, l, w, cur, t);
			break;
		default:
			assert(!"unknown layer kind");
		}
		float *out = t[out_slot(l->kind)];
		cur = out;
		for (int b = 0; b < 4; b++)
			if (f.buf[b] == out)
				slot = b;
	}
	memcpy(logits, cur, (size_t)n * m->nclasses * sizeof(float));
}
