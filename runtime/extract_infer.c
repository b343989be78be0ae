/*
 * extract_infer.c — a model's inference form and its forward pass (see
 * extract.h for the network).
 *
 * When a model is built (extracted or decoded) its weights are copied once
 * into the form the inference kernels (ops.h, op_infer.c) take: every
 * batch norm folded into the convolution before it, s = gamma / sqrt(var +
 * eps) computed in double, W' = W s per output channel, bias = beta - mean
 * s, as the exporters fold it; depthwise kernels padded to whole vectors
 * of channels.  The forward then runs one kernel per convolution with the
 * bias, activation and shortcut applied as outputs are stored, and no
 * batch-norm, activation or add passes of its own.
 *
 * Threads: a batch of n >= 2 images is cut into one contiguous run of
 * images per pool thread (rt_parallel_for over the images), each run
 * through the whole network on its own slice of the workspace: one
 * fork/join per forward, not one per op, and every image computed the same
 * way whatever the split.  A single image runs on the calling thread, and
 * so does a call from inside a pool job; a single image's larger layers
 * are then split over the pool by the kernels themselves (op_infer.c,
 * rt_parallel_split: taken item by item, so a helper that is asleep or
 * busy with another thread's job costs nothing), with the same values.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/extract_priv.h"
#include "runtime/ops.h"
#include "runtime/threads.h"

#define BN_EPS 1e-5

/* A layer's inference weights: up to three convolutions, BN folded.
 *   CONV      w[0] b[0]
 *   MBCONV    w[0] b[0] expand (NULL without), w[1] b[1] depthwise
 *             (padded to rt_dw_infer_cpad(mid) channels), w[2] b[2] project;
 *             se[0..3] S1, s1, S2, s2 (in the model's weights) when se_r
 *   RESIDUAL  w[0] b[0] first conv, w[1] b[1] second, w[2] b[2] shortcut
 *   DENSE, FC w[0] b[0] */
typedef struct fused_layer {
	const float *w[3], *b[3];
	const float *se[4];
} fused_layer;

/* Floats of workspace per image, by part. */
typedef struct ws_part {
	size_t act;  /* each of the four activation buffers */
	size_t conv; /* im2col */
	size_t se;   /* squeeze-excite */
	size_t pad;  /* the depthwise kernel's zero-bordered image */
} ws_part;

struct rt_model_fused {
	fused_layer *layer;
	float *buf;
	size_t nbuf;
	ws_part per_image;
};

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

/* --- folding ------------------------------------------------------------------ */

/* Reserves n floats at *at (only counting when buf is NULL). */
static float *take(float *buf, size_t *at, size_t n)
{
	float *p = buf ? buf + *at : NULL;
	*at += n;
	return p;
}

/*
 * W [rows, cols] with the batch norm at bn (gamma, beta, mean, var of cols
 * channels) folded in, into *w [rows, ldw] and *b [ldw] (columns past cols
 * zero); *src moves past W and the BN.
 */
static void fold(float *buf, size_t *at, const float **src, int rows, int cols, int ldw,
		 const float **w, const float **b)
{
	float *dw = take(buf, at, (size_t)rows * ldw), *db = take(buf, at, (size_t)ldw);
	const float *W = *src, *bn = W + (size_t)rows * cols;
	*src = bn + 4 * (size_t)cols;
	*w = dw;
	*b = db;
	if (!buf)
		return;
	memset(dw, 0, (size_t)rows * ldw * sizeof(float));
	memset(db, 0, (size_t)ldw * sizeof(float));
	const float *gamma = bn, *beta = bn + cols, *mean = bn + 2 * cols, *var = bn + 3 * cols;
	for (int c = 0; c < cols; c++) {
		double s = gamma[c] / sqrt((double)var[c] + BN_EPS);
		db[c] = (float)(beta[c] - mean[c] * s);
		for (int r = 0; r < rows; r++)
			dw[(size_t)r * ldw + c] = (float)(W[(size_t)r * cols + c] * s);
	}
}

/* Lays out layer l's inference weights at buf + *at, moving *at past them
 * (buf NULL: only counts). */
static void fuse_layer(const rt_model *m, const rt_model_layer *l, float *buf, size_t *at,
		       fused_layer *f)
{
	const float *src = m->weights + l->off;
	int kk = l->k * l->k;
	memset(f, 0, sizeof *f);
	switch (l->kind) {
	case IR_BLOCK_CONV:
		fold(buf, at, &src, kk * l->cin, l->cout, l->cout, &f->w[0], &f->b[0]);
		break;
	case IR_BLOCK_MBCONV:
		if (l->has_expand)
			fold(buf, at, &src, l->cin, l->mid, l->mid, &f->w[0], &f->b[0]);
		fold(buf, at, &src, kk, l->mid, rt_dw_infer_cpad(l->mid), &f->w[1], &f->b[1]);
		if (l->se_r) {
			size_t mid = (size_t)l->mid, r = (size_t)l->se_r;
			f->se[0] = src;
			f->se[1] = src + mid * r;
			f->se[2] = f->se[1] + r;
			f->se[3] = f->se[2] + r * mid;
			src = f->se[3] + mid;
		}
		fold(buf, at, &src, l->mid, l->cout, l->cout, &f->w[2], &f->b[2]);
		break;
	case IR_BLOCK_RESIDUAL:
		fold(buf, at, &src, kk * l->cin, l->mid, l->mid, &f->w[0], &f->b[0]);
		fold(buf, at, &src, kk * l->mid, l->cout, l->cout, &f->w[1], &f->b[1]);
		if (l->shortcut == 2)
			fold(buf, at, &src, l->cin, l->cout, l->cout, &f->w[2], &f->b[2]);
		break;
	case IR_BLOCK_DENSE:
		fold(buf, at, &src, l->cin, l->cout, l->cout, &f->w[0], &f->b[0]);
		break;
	case IR_BLOCK_FC: /* no batch norm: the weights as they are */
		f->w[0] = src;
		f->b[0] = src + (size_t)l->cin * l->cout;
		src = f->b[0] + l->cout;
		break;
	default:
		break;
	}
	assert(src == m->weights + l->off + l->nweights);
}

static rt_conv2d_p conv_p(int n, int h, int w, int cin, int cout, int k, int stride)
{
	rt_conv2d_p p = {.n = n,
			 .h = h,
			 .w = w,
			 .cin = cin,
			 .cout = cout,
			 .k = k,
			 .stride = stride,
			 .pad = k / 2,
			 .ldw = cout};
	return p;
}

static rt_se_p se_p(const rt_model_layer *l, int n)
{
	rt_se_p p = {.n = n,
		     .hw = l->ho * l->wo,
		     .c = l->mid,
		     .r = l->se_r,
		     .ldw1 = l->se_r,
		     .ldw2 = l->mid};
	return p;
}

static rt_dw_infer_p dw_p(const rt_model_layer *l, int n)
{
	rt_dw_infer_p p = {.n = n,
			   .h = l->h,
			   .w = l->w,
			   .c = l->mid,
			   .k = l->k,
			   .stride = l->stride,
			   .act = (rt_act)l->act};
	return p;
}

/* The workspace one image needs; every part but `pad` scales with n. */
static ws_part per_image(const rt_model *m)
{
	ws_part z = {.act = (size_t)m->res * m->res * m->in_channels};
	for (int i = 0; i < m->nlayers; i++) {
		const rt_model_layer *l = &m->layers[i];
		size_t px = zmax((size_t)l->h * l->w, (size_t)l->ho * l->wo);
		size_t c = zmax((size_t)l->cin, zmax((size_t)l->mid, (size_t)l->cout));
		z.act = zmax(z.act, px * c);
		if (l->kind == IR_BLOCK_CONV) {
			rt_conv2d_p p = conv_p(1, l->h, l->w, l->cin, l->cout, l->k, l->stride);
			z.conv = zmax(z.conv, rt_conv2d_infer_workspace(&p));
		} else if (l->kind == IR_BLOCK_RESIDUAL) {
			rt_conv2d_p p1 = conv_p(1, l->h, l->w, l->cin, l->mid, l->k, l->stride);
			rt_conv2d_p p2 = conv_p(1, l->ho, l->wo, l->mid, l->cout, l->k, 1);
			rt_conv2d_p p3 = conv_p(1, l->h, l->w, l->cin, l->cout, 1, l->stride);
			p3.pad = 0;
			z.conv = zmax(z.conv, zmax(rt_conv2d_infer_workspace(&p1),
						   zmax(rt_conv2d_infer_workspace(&p2),
							rt_conv2d_infer_workspace(&p3))));
		} else if (l->kind == IR_BLOCK_MBCONV) {
			rt_dw_infer_p dp = dw_p(l, 1);
			z.pad = zmax(z.pad, rt_dw_infer_workspace(&dp));
			if (l->se_r) {
				rt_se_p sp = se_p(l, 1);
				z.se = zmax(z.se, rt_se_infer_workspace(&sp));
			}
		}
	}
	return z;
}

int rt_model_fuse(rt_model *m)
{
	rt_model_fused_free(m->fused);
	m->fused = NULL;
	rt_model_fused *f = calloc(1, sizeof *f);
	fused_layer *fl = calloc(m->nlayers > 0 ? (size_t)m->nlayers : 1, sizeof *fl);
	size_t n = 0;
	fused_layer count;
	for (int i = 0; i < m->nlayers; i++)
		fuse_layer(m, &m->layers[i], NULL, &n, &count);
	float *buf = malloc((n ? n : 1) * sizeof *buf);
	if (!f || !fl || !buf) {
		free(f);
		free(fl);
		free(buf);
		return -1;
	}
	size_t at = 0;
	for (int i = 0; i < m->nlayers; i++)
		fuse_layer(m, &m->layers[i], buf, &at, &fl[i]);
	assert(at == n);
	f->layer = fl;
	f->buf = buf;
	f->nbuf = n;
	f->per_image = per_image(m);
	m->fused = f;
	return 0;
}

int rt_model_fused_finite(const rt_model *m)
{
	const rt_model_fused *f = m->fused;
	for (size_t i = 0; i < f->nbuf; i++)
		if (!isfinite(f->buf[i]))
			return 0;
	return 1;
}

void rt_model_fused_free(rt_model_fused *f)
{
	if (!f)
		return;
	free(f->layer);
	free(f->buf);
	free(f);
}

/* --- forward ------------------------------------------------------------------ */

/* One part of the batch: n images and their slice of the workspace. */
typedef struct fwd {
	int n;
	float *buf[4];
	float *conv_ws, *se_ws, *pad_ws;
} fwd;

static void conv_fwd(const fwd *f, const rt_model_layer *l, const fused_layer *w, const float *x,
		     float **t)
{
	rt_conv2d_p p = conv_p(f->n, l->h, l->w, l->cin, l->cout, l->k, l->stride);
	rt_conv2d_infer(&p, (rt_act)l->act, NULL, 0, 0, x, w->w[0], w->b[0], t[0], f->conv_ws);
}

static void mbconv_fwd(const fwd *f, const rt_model_layer *l, const fused_layer *w, const float *x,
		       float **t)
{
	int n = f->n, mid = l->mid;
	rt_dw_infer_p dp = dw_p(l, n);
	if (l->has_expand) {
		/* [n*h*w, cin] -> [n*h*w, mid], stored straight into the bordered
		 * images the depthwise reads */
		size_t row, img, interior;
		rt_dw_infer_layout(&dp, &row, &img, &interior);
		rt_pw_p pe = {.m = n * l->h * l->w,
			      .cin = l->cin,
			      .cout = mid,
			      .ldx = l->cin,
			      .ldw = mid,
			      .ldy = rt_dw_infer_pstride(mid),
			      .act = (rt_act)l->act,
			      .grp_w = l->w,
			      .grp_h = l->h,
			      .ld_row = row,
			      .ld_img = img};
		rt_pw_infer(&pe, x, w->w[0], w->b[0], f->pad_ws + interior);
		rt_dw_infer_padded(&dp, f->pad_ws, w->w[1], w->b[1], t[1]);
	} else {
		rt_dw_infer(&dp, x, w->w[1], w->b[1], t[1], f->pad_ws);
	}
	if (l->se_r) {
		rt_se_p sp = se_p(l, n);
		rt_se_infer(&sp, t[1], w->se[0], w->se[1], w->se[2], w->se[3], f->se_ws);
	}
	/* [n*ho*wo, mid] -> [n*ho*wo, cout], + x for the identity shortcut */
	rt_pw_p pp = {.m = n * l->ho * l->wo,
		      .cin = mid,
		      .cout = l->cout,
		      .ldx = mid,
		      .ldw = l->cout,
		      .ldy = l->cout,
		      .act = RT_ACT_NONE,
		      .r = l->shortcut ? x : NULL,
		      .ldr = l->cin,
		      .cr = l->cout};
	rt_pw_infer(&pp, t[1], w->w[2], w->b[2], t[2]);
}

static void residual_fwd(const fwd *f, const rt_model_layer *l, const fused_layer *w,
			 const float *x, float **t)
{
	int n = f->n;
	rt_conv2d_p c1 = conv_p(n, l->h, l->w, l->cin, l->mid, l->k, l->stride);
	rt_conv2d_infer(&c1, RT_ACT_RELU, NULL, 0, 0, x, w->w[0], w->b[0], t[0], f->conv_ws);
	rt_conv2d_p c2 = conv_p(n, l->ho, l->wo, l->mid, l->cout, l->k, 1);
	if (l->shortcut == 2) {
		rt_conv2d_p c3 = conv_p(n, l->h, l->w, l->cin, l->cout, 1, l->stride);
		c3.pad = 0;
		rt_conv2d_infer(&c3, RT_ACT_NONE, NULL, 0, 0, x, w->w[2], w->b[2], t[2],
				f->conv_ws);
		rt_conv2d_infer(&c2, RT_ACT_RELU, t[2], l->cout, l->cout, t[0], w->w[1], w->b[1],
				t[1], f->conv_ws);
	} else {
		/* relu(b + x) over the first min(cin, cout) channels, relu(b) on the rest */
		int c = l->cin < l->cout ? l->cin : l->cout;
		rt_conv2d_infer(&c2, RT_ACT_RELU, x, l->cin, c, t[0], w->w[1], w->b[1], t[1],
				f->conv_ws);
	}
}

static void dense_fwd(const fwd *f, const rt_model_layer *l, const fused_layer *w, const float *x,
		      float **t)
{
	rt_pw_p p = {.m = f->n,
		     .cin = l->cin,
		     .cout = l->cout,
		     .ldx = l->cin,
		     .ldw = l->cout,
		     .ldy = l->cout,
		     .act = (rt_act)l->act};
	rt_pw_infer(&p, x, w->w[0], w->b[0], t[0]);
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

/* n images' slice of a workspace laid out as per_image says. */
static fwd fwd_of(const rt_model *m, int n, float *ws)
{
	const ws_part *z = &m->fused->per_image;
	fwd f = {.n = n};
	for (int i = 0; i < 4; i++)
		f.buf[i] = ws + (size_t)i * n * z->act;
	f.conv_ws = ws + 4 * (size_t)n * z->act;
	f.se_ws = f.conv_ws + (size_t)n * z->conv;
	f.pad_ws = f.se_ws + (size_t)n * z->se;
	return f;
}

/* Layer i on x (in buffer `slot` of f, -1 for none); returns its output,
 * one of f's buffers other than slot. */
static float *layer_fwd(const rt_model *m, int i, const fwd *f, const float *x, int slot)
{
	const rt_model_layer *l = &m->layers[i];
	const fused_layer *w = &m->fused->layer[i];
	float *t[3];
	for (int b = 0, j = 0; b < 4; b++)
		if (b != slot && j < 3)
			t[j++] = f->buf[b];
	switch (l->kind) {
	case IR_BLOCK_CONV:
		conv_fwd(f, l, w, x, t);
		break;
	case IR_BLOCK_MBCONV:
		mbconv_fwd(f, l, w, x, t);
		break;
	case IR_BLOCK_RESIDUAL:
		residual_fwd(f, l, w, x, t);
		break;
	case IR_BLOCK_POOL:
		rt_avgpool_forward(f->n, l->h * l->w, l->cin, x, t[0]);
		break;
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		dense_fwd(f, l, w, x, t);
		break;
	default:
		assert(!"unknown layer kind");
	}
	return t[out_slot(l->kind)];
}

/* Which of f's buffers p is, -1 for none. */
static int slot_of(const fwd *f, const float *p)
{
	for (int b = 0; b < 4; b++)
		if (f->buf[b] == p)
			return b;
	return -1;
}

float *rt_model_layer_forward(const rt_model *m, int i, const float *x, int n, float *ws)
{
	assert(m->fused && i >= 0 && i < m->nlayers && n >= 1);
	fwd f = fwd_of(m, n, ws);
	return layer_fwd(m, i, &f, x, slot_of(&f, x));
}

/* The network on n images, with ws holding n per-image workspaces. */
static void forward_part(const rt_model *m, const float *x, int n, float *ws, float *logits)
{
	fwd f = fwd_of(m, n, ws);
	const float *cur = x;
	int slot = -1; /* the buffer cur lives in, -1 for the caller's input */
	if (m->res != m->in_h || m->res != m->in_w) {
		/* [n, in_h, in_w, C] -> [n, res, res, C] */
		rt_resize_p rp = {.n = n,
				  .h = m->in_h,
				  .w = m->in_w,
				  .c = m->in_channels,
				  .ho = m->res,
				  .wo = m->res};
		rt_resize_forward(&rp, x, f.buf[0]);
		cur = f.buf[0];
		slot = 0;
	}
	for (int i = 0; i < m->nlayers; i++) {
		float *out = layer_fwd(m, i, &f, cur, slot);
		cur = out;
		slot = slot_of(&f, out);
	}
	memcpy(logits, cur, (size_t)n * m->nclasses * sizeof(float));
}

static size_t per_image_total(const rt_model *m)
{
	const ws_part *z = &m->fused->per_image;
	return 4 * z->act + z->conv + z->se + z->pad;
}

size_t rt_model_workspace(const rt_model *m, int n)
{
	assert(n >= 1 && m->fused);
	return (size_t)n * per_image_total(m);
}

/* Floats of one activation buffer a group of images may fill: four of
 * them, the weights and the scratch then stay within a core's L2. */
#define GROUP_ACT_FLOATS 32768

/*
 * Images run through the whole network together: a batch goes through in
 * groups this large, so that a layer's output is still in cache when the
 * next layer reads it (layer by layer over 64 images, every activation
 * went out to memory and back).
 */
static int images_per_group(const rt_model *m)
{
	size_t act = m->fused->per_image.act;
	return act >= GROUP_ACT_FLOATS ? 1 : (int)(GROUP_ACT_FLOATS / act);
}

typedef struct split_job {
	const rt_model *m;
	const float *x;
	float *ws, *logits;
} split_job;

/* Images [b, e) of the batch, in groups; every group reuses the start of
 * the run's slice of ws [b per, e per), so that it is still in cache. */
static void forward_images(void *ctx, int64_t b, int64_t e)
{
	const split_job *j = ctx;
	const rt_model *m = j->m;
	size_t px = (size_t)m->in_h * m->in_w * m->in_channels, per = per_image_total(m);
	int group = images_per_group(m);
	float *ws = j->ws + (size_t)b * per;
	for (int i = (int)b; i < (int)e; i += group) {
		int cnt = (int)e - i < group ? (int)e - i : group;
		forward_part(m, j->x + (size_t)i * px, cnt, ws,
			     j->logits + (size_t)i * m->nclasses);
	}
}

void rt_model_forward(const rt_model *m, const float *x, int n, float *ws, float *logits)
{
	assert(n >= 1 && m->nlayers >= 1 && m->fused);
	split_job j = {m, x, ws, logits};
	/* one contiguous run of images per pool thread; inline for one image,
	 * on a one-thread pool, or when called from inside a job */
	rt_parallel_for(n, forward_images, &j);
}
