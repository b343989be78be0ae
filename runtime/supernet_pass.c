/*
 * supernet_pass.c — forward and backward of the selected subnet, block by
 * block.  Activations are compact (row stride = active channels); weights
 * are slices of the largest ones (row stride = largest width).
 *
 * Forwards outside TRAIN mode reuse the kernels they derived from the
 * weights while these stay unchanged (supernet_kernel.c); TRAIN forwards
 * and backwards drop them.
 *
 * Back-propagation uses four arena buffers of the largest activation size:
 * each block reads dy from D (and may overwrite it), writes dx to DX, and
 * uses T1 and T2 as scratch; the driver then swaps D and DX.
 */
#include <assert.h>
#include <string.h>

#include "runtime/supernet_priv.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static rt_bn_p bn_params(const sn_supernet *sn, const sn_bn *bn, int m, int c)
{
	rt_bn_p p = { .m = m, .c = c, .ldx = c, .eps = BN_EPS, .momentum = BN_MOMENTUM,
		      .mode = sn->mode, .batches_seen = bn->seen };
	return p;
}

static void bn_fwd(sn_supernet *sn, sn_bn *bn, int m, int c, const float *x, float *y)
{
	rt_bn_p p = bn_params(sn, bn, m, c);
	rt_bn_forward(&p, x, sn->w + bn->gamma, sn->w + bn->beta, sn->st + bn->rmean,
		      sn->st + bn->rvar, bn->save_mean, bn->save_invstd, y);
	if (sn->mode == RT_BN_MODE_RECAL)
		bn->seen++;
}

/* dx may be dy. */
static void bn_bwd(sn_supernet *sn, sn_bn *bn, int m, int c, const float *x,
		   const float *dy, float *dx)
{
	rt_bn_p p = bn_params(sn, bn, m, c);
	if (sn->mode == RT_BN_MODE_RECAL)
		p.batches_seen = bn->seen - 1;
	rt_bn_backward(&p, x, sn->w + bn->gamma, bn->save_mean, bn->save_invstd, dy, dx,
		       sn->g + bn->gamma, sn->g + bn->beta);
}

static rt_act rt_act_of(ir_act a)
{
	return a == IR_ACT_RELU ? RT_ACT_RELU : a == IR_ACT_HSWISH ? RT_ACT_HSWISH : RT_ACT_NONE;
}

/*
 * y = act(BN(x)) in one fused op, written to `a` (the activation buffer),
 * or to `b` when there is no activation; returns where it went.  The BN
 * output is not kept: the backward recomputes what it needs from x.
 */
static const float *bn_act_fwd(sn_supernet *sn, sn_bn *bn, ir_act act, int m, int c,
			       const float *x, float *b, float *a)
{
	rt_bn_p p = bn_params(sn, bn, m, c);
	float *y = act == IR_ACT_NONE ? b : a;
	rt_bn_act_forward(&p, rt_act_of(act), x, sn->w + bn->gamma, sn->w + bn->beta,
			  sn->st + bn->rmean, sn->st + bn->rvar, bn->save_mean, bn->save_invstd,
			  y);
	if (sn->mode == RT_BN_MODE_RECAL)
		bn->seen++;
	return y;
}

/* d (in place) = the gradient reaching x through act(BN(x)) from d. */
static void bn_act_bwd(sn_supernet *sn, sn_bn *bn, ir_act act, int m, int c, const float *x,
		       float *d)
{
	rt_bn_p p = bn_params(sn, bn, m, c);
	if (sn->mode == RT_BN_MODE_RECAL)
		p.batches_seen = bn->seen - 1;
	rt_bn_act_backward(&p, rt_act_of(act), x, sn->w + bn->gamma, sn->w + bn->beta,
			   bn->save_mean, bn->save_invstd, d, d, sn->g + bn->gamma,
			   sn->g + bn->beta);
}

/* y = act(x); returns the output (x itself for IR_ACT_NONE). */
static const float *act_fwd(ir_act a, size_t n, const float *x, float *y)
{
	switch (a) {
	case IR_ACT_RELU:
		rt_relu_forward(n, x, y);
		return y;
	case IR_ACT_HSWISH:
		rt_hswish_forward(n, x, y);
		return y;
	default:
		return x;
	}
}

/* d in place: d *= act'(x). */
static void act_bwd(ir_act a, size_t n, const float *x, float *d)
{
	if (a == IR_ACT_RELU)
		rt_relu_backward(n, x, d, d);
	else if (a == IR_ACT_HSWISH)
		rt_hswish_backward(n, x, d, d);
}

/* y[:, :min] += x[:, :min] row by row (an identity shortcut between maps
 * whose active widths differ). */
static void add_rows(size_t rows, int cy, int cx, const float *x, float *y)
{
	int c = cy < cx ? cy : cx;
	if (cy == cx) {
		rt_add_inplace(rows * (size_t)c, x, y);
		return;
	}
	for (size_t r = 0; r < rows; r++)
		for (int j = 0; j < c; j++)
			y[r * (size_t)cy + (size_t)j] += x[r * (size_t)cx + (size_t)j];
}

static rt_conv2d_p conv_p(int n, const sn_layer_plan *p, int h, int cin, int cout, int k,
			  int stride, int ldw)
{
	(void)p;
	rt_conv2d_p c = { .n = n, .h = h, .w = h, .cin = cin, .cout = cout, .k = k,
			  .stride = stride, .pad = k / 2, .ldw = ldw };
	return c;
}

/* --- forward ------------------------------------------------------------------ */

static const float *conv_fwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p,
			     const float *x, int n)
{
	int ldw;
	const float *W = sn_conv_weight_kept(sn, u, 1, p->k, p->cin, p->cout, &ldw);
	rt_conv2d_p cp = conv_p(n, p, p->h, p->cin, p->cout, p->k, u->l->stride, ldw);
	rt_conv2d_forward(&cp, x, W, u->z1, sn->conv_ws);
	int m = n * p->ho * p->wo;
	return bn_act_fwd(sn, &u->bn1, u->l->act, m, p->cout, u->z1, u->b1, u->a1);
}

static rt_se_p se_p(const sn_unit *u, const sn_layer_plan *p, int n)
{
	rt_se_p s = { .n = n, .hw = p->ho * p->wo, .c = p->mid, .r = p->se_r,
		      .ldw1 = u->se_rmax, .ldw2 = u->mid_max };
	return s;
}

static const float *mbconv_fwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p,
			       const float *x, int n)
{
	const ir_layer *l = u->l;
	int mid = p->mid, min_ = n * p->h * p->w, mout = n * p->ho * p->wo;
	const float *a = x;
	if (u->has_expand) {
		rt_linear_p lp = { .m = min_, .cin = p->cin, .cout = mid, .ldx = p->cin,
				   .ldw = u->w1.cout, .ldy = mid };
		rt_linear_forward(&lp, x, sn->w + u->w1.off, NULL, u->z1);
		a = bn_act_fwd(sn, &u->bn1, l->act, min_, mid, u->z1, u->b1, u->a1);
	}
	int ldk;
	const float *K = sn_kernel_forward_kept(sn, u, p->k, mid, &ldk);
	rt_dwconv_p dp = { .n = n, .h = p->h, .w = p->w, .c = mid, .k = p->k,
			   .stride = l->stride, .ldw = ldk };
	rt_dwconv_forward(&dp, a, K, NULL, u->z2);
	const float *t = bn_act_fwd(sn, &u->bn2, l->act, mout, mid, u->z2, u->b2, u->a2);
	if (p->se_r) {
		rt_se_p sp = se_p(u, p, n);
		rt_se_forward(&sp, t, sn->w + u->se_w1, sn->w + u->se_b1, sn->w + u->se_w2,
			      sn->w + u->se_b2, u->se, u->se_ws);
		t = u->se;
	}
	rt_linear_p lp = { .m = mout, .cin = mid, .cout = p->cout, .ldx = mid,
			   .ldw = u->w3.cout, .ldy = p->cout };
	rt_linear_forward(&lp, t, sn->w + u->w3.off, NULL, u->z3);
	bn_fwd(sn, &u->bn3, mout, p->cout, u->z3, u->b3);
	if (!p->shortcut)
		return u->b3;
	rt_add_forward((size_t)mout * p->cout, u->b3, x, u->out);
	return u->out;
}

static const float *residual_fwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p,
				 const float *x, int n)
{
	const ir_layer *l = u->l;
	int mout = n * p->ho * p->wo, ldw;
	const float *W = sn_conv_weight_kept(sn, u, 1, p->k, p->cin, p->mid, &ldw);
	rt_conv2d_p c1 = conv_p(n, p, p->h, p->cin, p->mid, p->k, l->stride, ldw);
	rt_conv2d_forward(&c1, x, W, u->z1, sn->conv_ws);
	bn_act_fwd(sn, &u->bn1, IR_ACT_RELU, mout, p->mid, u->z1, u->b1, u->a1);
	W = sn_conv_weight_kept(sn, u, 2, p->k, p->mid, p->cout, &ldw);
	rt_conv2d_p c2 = conv_p(n, p, p->ho, p->mid, p->cout, p->k, 1, ldw);
	rt_conv2d_forward(&c2, u->a1, W, u->z2, sn->conv_ws);
	bn_fwd(sn, &u->bn2, mout, p->cout, u->z2, u->b2);
	size_t sz = (size_t)mout * p->cout;
	if (u->w3.cout) {
		rt_conv2d_p c3 = conv_p(n, p, p->h, p->cin, p->cout, 1, l->stride, u->w3.cout);
		rt_conv2d_forward(&c3, x, sn->w + u->w3.off, u->z3, sn->conv_ws);
		bn_fwd(sn, &u->bn3, mout, p->cout, u->z3, u->b3);
		rt_add_forward(sz, u->b2, u->b3, u->a2);
	} else {
		memcpy(u->a2, u->b2, sz * sizeof(float));
		add_rows((size_t)mout, p->cout, p->cin, x, u->a2);
	}
	rt_relu_forward(sz, u->a2, u->out);
	return u->out;
}

static const float *dense_fwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p,
			      const float *x, int n)
{
	int fc = u->l->kind == IR_BLOCK_FC;
	rt_linear_p lp = { .m = n, .cin = p->cin, .cout = p->cout, .ldx = p->cin,
			   .ldw = u->w1.cout, .ldy = p->cout };
	rt_linear_forward(&lp, x, sn->w + u->w1.off, fc ? sn->w + u->bias : NULL, u->z1);
	if (!fc)
		return bn_act_fwd(sn, &u->bn1, u->l->act, n, p->cout, u->z1, u->b1, u->a1);
	return act_fwd(u->l->act, (size_t)n * p->cout, u->z1, u->a1);
}

const float *sn_pass_forward(sn_supernet *sn, const float *x, int n, rt_bn_mode mode)
{
	const sn_plan *plan = &sn->plan;
	const ir_space *s = sn->space;
	sn->mode = mode;
	if (mode == RT_BN_MODE_TRAIN)
		sn_kernel_drop(sn); /* a backward and an optimiser step follow */
	sn->n = n;
	sn->x_in = x;
	const float *cur = x;
	if (plan->res != sn->in_h || plan->res != sn->in_w) {
		rt_resize_p rp = { .n = n, .h = sn->in_h, .w = sn->in_w, .c = s->in_channels,
				   .ho = plan->res, .wo = plan->res };
		rt_resize_forward(&rp, x, sn->xres);
		cur = sn->xres;
	}
	for (int i = 0; i < s->nlayers; i++) {
		const sn_layer_plan *p = &plan->layer[i];
		sn_unit *u = &sn->unit[i];
		if (!p->active)
			continue;
		u->x = cur;
		switch (u->l->kind) {
		case IR_BLOCK_CONV:
			cur = conv_fwd(sn, u, p, cur, n);
			break;
		case IR_BLOCK_MBCONV:
			cur = mbconv_fwd(sn, u, p, cur, n);
			break;
		case IR_BLOCK_RESIDUAL:
			cur = residual_fwd(sn, u, p, cur, n);
			break;
		case IR_BLOCK_POOL:
			rt_avgpool_forward(n, p->h * p->w, p->cin, cur, u->out);
			cur = u->out;
			break;
		case IR_BLOCK_DENSE:
		case IR_BLOCK_FC:
			cur = dense_fwd(sn, u, p, cur, n);
			break;
		default:
			assert(!"unknown block");
		}
		u->y = cur;
	}
	return cur;
}

/* --- backward ----------------------------------------------------------------- */

typedef struct bufs {
	float *d, *dx, *t1, *t2;
} bufs;

static void conv_bwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p, bufs *b)
{
	int n = sn->n, m = n * p->ho * p->wo, ldw;
	bn_act_bwd(sn, &u->bn1, u->l->act, m, p->cout, u->z1, b->d);
	const float *W = sn_conv_weight(sn, u, 1, p->k, p->cin, p->cout, &ldw);
	float *dW = sn_conv_grad_begin(sn, u, 1, p->k, p->cin, p->cout);
	rt_conv2d_p cp = conv_p(n, p, p->h, p->cin, p->cout, p->k, u->l->stride, ldw);
	rt_conv2d_backward(&cp, u->x, W, b->d, b->dx, dW, sn->conv_ws);
	sn_conv_grad_end(sn, u, 1, p->k, p->cin, p->cout);
}

static void mbconv_bwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p, bufs *b)
{
	const ir_layer *l = u->l;
	int n = sn->n, mid = p->mid, min_ = n * p->h * p->w, mout = n * p->ho * p->wo;
	/* d(b3) -> d(z3) in t1; D stays for the shortcut */
	bn_bwd(sn, &u->bn3, mout, p->cout, u->z3, b->d, b->t1);
	const float *t = p->se_r ? u->se : (l->act == IR_ACT_NONE ? u->b2 : u->a2);
	rt_linear_p lp = { .m = mout, .cin = mid, .cout = p->cout, .ldx = mid,
			   .ldw = u->w3.cout, .ldy = p->cout };
	rt_linear_backward(&lp, t, sn->w + u->w3.off, b->t1, b->t2, sn->g + u->w3.off, NULL);
	float *cur = b->t2, *other = b->t1;
	if (p->se_r) {
		rt_se_p sp = se_p(u, p, n);
		const float *sx = l->act == IR_ACT_NONE ? u->b2 : u->a2;
		rt_se_backward(&sp, sx, sn->w + u->se_w1, sn->w + u->se_w2, cur, other,
			       sn->g + u->se_w1, sn->g + u->se_b1, sn->g + u->se_w2,
			       sn->g + u->se_b2, u->se_ws);
		float *tmp = cur;
		cur = other;
		other = tmp;
	}
	bn_act_bwd(sn, &u->bn2, l->act, mout, mid, u->z2, cur);
	int ldk;
	const float *K = sn_kernel_forward(sn, u, p->k, mid, &ldk);
	float *dK = sn_kernel_grad_begin(sn, u, p->k, mid, &ldk);
	rt_dwconv_p dp = { .n = n, .h = p->h, .w = p->w, .c = mid, .k = p->k,
			   .stride = l->stride, .ldw = ldk };
	const float *a = u->x;
	if (u->has_expand)
		a = l->act == IR_ACT_NONE ? u->b1 : u->a1;
	float *ddw = u->has_expand ? other : b->dx;
	if (u->has_expand || b->dx)
		rt_dwconv_backward(&dp, a, K, cur, ddw, dK, NULL);
	else
		rt_dwconv_backward(&dp, a, K, cur, other, dK, NULL);
	sn_kernel_backward(sn, u, p->k, mid);
	if (u->has_expand) {
		bn_act_bwd(sn, &u->bn1, l->act, min_, mid, u->z1, other);
		rt_linear_p ep = { .m = min_, .cin = p->cin, .cout = mid, .ldx = p->cin,
				   .ldw = u->w1.cout, .ldy = mid };
		rt_linear_backward(&ep, u->x, sn->w + u->w1.off, other, b->dx,
				   sn->g + u->w1.off, NULL);
	}
	if (p->shortcut && b->dx)
		rt_add_inplace((size_t)mout * p->cout, b->d, b->dx);
}

static void residual_bwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p, bufs *b)
{
	const ir_layer *l = u->l;
	int n = sn->n, mout = n * p->ho * p->wo, ldw;
	size_t sz = (size_t)mout * p->cout;
	rt_relu_backward(sz, u->a2, b->d, b->d);
	float *skip = b->d; /* gradient reaching x through the shortcut */
	float *main_d;
	if (u->w3.cout) {
		bn_bwd(sn, &u->bn3, mout, p->cout, u->z3, b->d, b->t1);
		rt_conv2d_p c3 = conv_p(n, p, p->h, p->cin, p->cout, 1, l->stride, u->w3.cout);
		rt_conv2d_backward(&c3, u->x, sn->w + u->w3.off, b->t1, b->dx ? b->t2 : NULL,
				   sn->g + u->w3.off, sn->conv_ws);
		skip = b->t2;
		bn_bwd(sn, &u->bn2, mout, p->cout, u->z2, b->d, b->d);
		main_d = b->d;
	} else {
		bn_bwd(sn, &u->bn2, mout, p->cout, u->z2, b->d, b->t1);
		main_d = b->t1;
	}
	float *da1 = main_d == b->d ? b->t1 : b->t2;
	const float *W = sn_conv_weight(sn, u, 2, p->k, p->mid, p->cout, &ldw);
	float *dW = sn_conv_grad_begin(sn, u, 2, p->k, p->mid, p->cout);
	rt_conv2d_p c2 = conv_p(n, p, p->ho, p->mid, p->cout, p->k, 1, ldw);
	rt_conv2d_backward(&c2, u->a1, W, main_d, da1, dW, sn->conv_ws);
	sn_conv_grad_end(sn, u, 2, p->k, p->mid, p->cout);
	bn_act_bwd(sn, &u->bn1, IR_ACT_RELU, mout, p->mid, u->z1, da1);
	W = sn_conv_weight(sn, u, 1, p->k, p->cin, p->mid, &ldw);
	dW = sn_conv_grad_begin(sn, u, 1, p->k, p->cin, p->mid);
	rt_conv2d_p c1 = conv_p(n, p, p->h, p->cin, p->mid, p->k, l->stride, ldw);
	rt_conv2d_backward(&c1, u->x, W, da1, b->dx, dW, sn->conv_ws);
	sn_conv_grad_end(sn, u, 1, p->k, p->cin, p->mid);
	if (!b->dx)
		return;
	if (u->w3.cout)
		rt_add_inplace((size_t)n * p->h * p->w * p->cin, skip, b->dx);
	else
		add_rows((size_t)mout, p->cin, p->cout, skip, b->dx);
}

static void dense_bwd(sn_supernet *sn, sn_unit *u, const sn_layer_plan *p, bufs *b)
{
	int n = sn->n, fc = u->l->kind == IR_BLOCK_FC;
	if (fc)
		act_bwd(u->l->act, (size_t)n * p->cout, u->z1, b->d);
	else
		bn_act_bwd(sn, &u->bn1, u->l->act, n, p->cout, u->z1, b->d);
	rt_linear_p lp = { .m = n, .cin = p->cin, .cout = p->cout, .ldx = p->cin,
			   .ldw = u->w1.cout, .ldy = p->cout };
	rt_linear_backward(&lp, u->x, sn->w + u->w1.off, b->d, b->dx, sn->g + u->w1.off,
			   fc ? sn->g + u->bias : NULL);
}

void sn_pass_backward(sn_supernet *sn, const float *dlogits)
{
	const sn_plan *plan = &sn->plan;
	const ir_space *s = sn->space;
	int first = -1;
	sn_kernel_drop(sn); /* weights are about to change (an optimiser step) */
	for (int i = 0; i < s->nlayers && first < 0; i++)
		if (plan->layer[i].active)
			first = i;
	bufs b = { sn->grad[0], sn->grad[1], sn->grad[2], sn->grad[3] };
	memcpy(b.d, dlogits, (size_t)sn->n * sn->nclasses * sizeof(float));
	for (int i = s->nlayers - 1; i >= 0; i--) {
		const sn_layer_plan *p = &plan->layer[i];
		sn_unit *u = &sn->unit[i];
		if (!p->active)
			continue;
		bufs lb = b;
		if (i == first)
			lb.dx = NULL;
		switch (u->l->kind) {
		case IR_BLOCK_CONV:
			conv_bwd(sn, u, p, &lb);
			break;
		case IR_BLOCK_MBCONV:
			mbconv_bwd(sn, u, p, &lb);
			break;
		case IR_BLOCK_RESIDUAL:
			residual_bwd(sn, u, p, &lb);
			break;
		case IR_BLOCK_POOL:
			if (lb.dx)
				rt_avgpool_backward(sn->n, p->h * p->w, p->cin, b.d, lb.dx);
			break;
		case IR_BLOCK_DENSE:
		case IR_BLOCK_FC:
			dense_bwd(sn, u, p, &lb);
			break;
		default:
			assert(!"unknown block");
		}
		float *t = b.d;
		b.d = b.dx;
		b.dx = t;
	}
}
