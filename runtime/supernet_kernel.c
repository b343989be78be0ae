/*
 * supernet_kernel.c — smaller kernels cut from the largest: OFA's kernel
 * transforms for depthwise convs, and gathered crops/slices for dense ones.
 *
 * Depthwise: with largest kernel K and smaller kernels k1 > k2 > ... (the
 * layer's kernel gene), kernel k_j is the centre k_j x k_j of kernel
 * k_{j-1} (k_0 = K, the stored weight) mapped through a k_j^2 x k_j^2
 * matrix T_j shared by all channels: out[p][c] = sum_q crop[q][c] T_j[q][p].
 *
 * Kept kernels.  At batch 1 the transforms (k^4 * mid multiply-adds per
 * step) and gathers (k^2 * cin * cout copies) cost as much as the convs
 * they feed, so a forward outside TRAIN mode keeps what it derived in the
 * unit's buffers, keyed by the active sizes and the weights' generation
 * sn->wgen, and the next forwards of the subnet reuse it: evaluation and
 * latency measurement run as fast as the extracted model.  The generation
 * is bumped (sn_kernel_drop) by everything that may change weights: a TRAIN
 * forward, a backward (an optimiser step follows), sorting, and handing out
 * the weights (sn_supernet_weights, sn_supernet_params) or selecting a
 * subnet.  Backward passes recompute the kernels they need, unkept, so
 * training back-propagates through the transforms as before.
 */
#include <assert.h>
#include <string.h>

#include "runtime/supernet_priv.h"

/* Index of kernel k in the unit's transform chain, or -1 for the largest. */
static int kt_index(const sn_unit *u, int k)
{
	if (k == u->w2.k)
		return -1;
	for (int t = 0; t < u->nkt; t++)
		if (u->kt_k[t] == k)
			return t;
	assert(!"kernel size not in the layer's gene");
	return -1;
}

void sn_kernel_drop(sn_supernet *sn)
{
	sn->wgen++;
}

static int kept_match(const sn_supernet *sn, const sn_kept *kp, int k, int cin, int cout)
{
	return kp->valid && kp->gen == sn->wgen && kp->k == k && kp->cin == cin && kp->cout == cout;
}

static void kept_set(const sn_supernet *sn, sn_kept *kp, int k, int cin, int cout)
{
	*kp = (sn_kept){ .valid = 1, .gen = sn->wgen, .k = k, .cin = cin, .cout = cout };
}

/* The transform chain down to kernel kt_k[last] into kbuf[0..last]. */
static void transform(sn_supernet *sn, sn_unit *u, int last, int mid)
{
	const float *src = sn->w + u->w2.off;
	int ks = u->w2.k, lds = u->w2.cout;
	for (int t = 0; t <= last; t++) {
		int kt = u->kt_k[t], kk = kt * kt, o = (ks - kt) / 2;
		const float *T = sn->w + u->kt[t];
		float *dst = u->kbuf[t];
		memset(dst, 0, (size_t)kk * mid * sizeof(float));
		for (int q = 0; q < kk; q++) {
			const float *row = src + ((size_t)(q / kt + o) * ks + (q % kt + o)) * lds;
			for (int p = 0; p < kk; p++) {
				float tq = T[q * kk + p];
				float *d = dst + (size_t)p * mid;
				for (int c = 0; c < mid; c++)
					d[c] += row[c] * tq;
			}
		}
		src = dst;
		ks = kt;
		lds = mid;
	}
}

const float *sn_kernel_forward(sn_supernet *sn, sn_unit *u, int k, int mid, int *ldk)
{
	int last = kt_index(u, k);
	if (last < 0) {
		*ldk = u->w2.cout;
		return sn->w + u->w2.off;
	}
	u->kept[SN_KEPT_DW].valid = 0;
	transform(sn, u, last, mid);
	*ldk = mid;
	return u->kbuf[last];
}

const float *sn_kernel_forward_kept(sn_supernet *sn, sn_unit *u, int k, int mid, int *ldk)
{
	int last = kt_index(u, k);
	if (last < 0 || sn->mode == RT_BN_MODE_TRAIN)
		return sn_kernel_forward(sn, u, k, mid, ldk);
	sn_kept *kp = &u->kept[SN_KEPT_DW];
	if (!kept_match(sn, kp, k, mid, mid)) {
		transform(sn, u, last, mid);
		kept_set(sn, kp, k, mid, mid);
	}
	*ldk = mid;
	return u->kbuf[last];
}

float *sn_kernel_grad_begin(sn_supernet *sn, sn_unit *u, int k, int mid, int *ldk)
{
	int last = kt_index(u, k);
	if (last < 0) {
		*ldk = u->w2.cout;
		return sn->g + u->w2.off;
	}
	for (int t = 0; t <= last; t++)
		memset(u->kgrad[t], 0, (size_t)u->kt_k[t] * u->kt_k[t] * mid * sizeof(float));
	*ldk = mid;
	return u->kgrad[last];
}

void sn_kernel_backward(sn_supernet *sn, sn_unit *u, int k, int mid)
{
	int last = kt_index(u, k);
	for (int t = last; t >= 0; t--) {
		int kt = u->kt_k[t], kk = kt * kt;
		/* the source of step t and where its gradient goes */
		const float *src;
		float *dsrc;
		int ks, lds;
		if (t == 0) {
			src = sn->w + u->w2.off;
			dsrc = sn->g + u->w2.off;
			ks = u->w2.k;
			lds = u->w2.cout;
		} else {
			src = u->kbuf[t - 1];
			dsrc = u->kgrad[t - 1];
			ks = u->kt_k[t - 1];
			lds = mid;
		}
		int o = (ks - kt) / 2;
		const float *T = sn->w + u->kt[t];
		float *dT = sn->g + u->kt[t];
		const float *dout = u->kgrad[t];
		for (int q = 0; q < kk; q++) {
			size_t r = ((size_t)(q / kt + o) * ks + (q % kt + o)) * lds;
			const float *row = src + r;
			float *drow = dsrc + r;
			for (int p = 0; p < kk; p++) {
				const float *d = dout + (size_t)p * mid;
				float tq = T[q * kk + p], acc = 0.0f;
				for (int c = 0; c < mid; c++) {
					acc += row[c] * d[c];
					drow[c] += tq * d[c];
				}
				dT[q * kk + p] += acc;
			}
		}
	}
}

static const sn_weight *conv_w(const sn_unit *u, int which)
{
	return which == 1 ? &u->w1 : which == 2 ? &u->w2 : &u->w3;
}

/* 1 when the active (k, cin) rows are not a prefix of the stored rows. */
static int needs_gather(const sn_weight *w, int k, int cin)
{
	return k != w->k || (cin != w->cin && w->k != 1);
}

/* The active [k*k*cin, cout] part of weight w, gathered into dst. */
static void gather(const sn_supernet *sn, const sn_weight *w, int k, int cin, int cout, float *dst)
{
	const float *base = sn->w + w->off;
	int o = (w->k - k) / 2;
	for (int ki = 0; ki < k; ki++)
		for (int kj = 0; kj < k; kj++)
			for (int ci = 0; ci < cin; ci++) {
				const float *src = base + (((size_t)(ki + o) * w->k + (kj + o)) * w->cin + ci) * w->cout;
				memcpy(dst + (((size_t)ki * k + kj) * cin + ci) * cout, src,
				       (size_t)cout * sizeof(float));
			}
}

const float *sn_conv_weight(sn_supernet *sn, sn_unit *u, int which, int k, int cin,
			    int cout, int *ldw)
{
	const sn_weight *w = conv_w(u, which);
	if (!needs_gather(w, k, cin)) {
		*ldw = w->cout;
		return sn->w + w->off;
	}
	u->kept[SN_KEPT_W1].valid = 0;
	gather(sn, w, k, cin, cout, u->wtmp);
	*ldw = cout;
	return u->wtmp;
}

const float *sn_conv_weight_kept(sn_supernet *sn, sn_unit *u, int which, int k, int cin,
				 int cout, int *ldw)
{
	const sn_weight *w = conv_w(u, which);
	if (!needs_gather(w, k, cin) || sn->mode == RT_BN_MODE_TRAIN)
		return sn_conv_weight(sn, u, which, k, cin, cout, ldw);
	assert(which == 1 || which == 2);
	/* wgrad, a backward's buffer, is free outside training and as large */
	sn_kept *kp = &u->kept[which == 1 ? SN_KEPT_W1 : SN_KEPT_W2];
	float *dst = which == 1 ? u->wtmp : u->wgrad;
	if (!kept_match(sn, kp, k, cin, cout)) {
		gather(sn, w, k, cin, cout, dst);
		kept_set(sn, kp, k, cin, cout);
	}
	*ldw = cout;
	return dst;
}

float *sn_conv_grad_begin(sn_supernet *sn, sn_unit *u, int which, int k, int cin, int cout)
{
	const sn_weight *w = conv_w(u, which);
	if (!needs_gather(w, k, cin))
		return sn->g + w->off;
	u->kept[SN_KEPT_W2].valid = 0;
	memset(u->wgrad, 0, (size_t)k * k * cin * cout * sizeof(float));
	return u->wgrad;
}

void sn_conv_grad_end(sn_supernet *sn, sn_unit *u, int which, int k, int cin, int cout)
{
	const sn_weight *w = conv_w(u, which);
	if (!needs_gather(w, k, cin))
		return;
	int o = (w->k - k) / 2;
	float *base = sn->g + w->off;
	for (int ki = 0; ki < k; ki++)
		for (int kj = 0; kj < k; kj++)
			for (int ci = 0; ci < cin; ci++) {
				float *dst = base + (((size_t)(ki + o) * w->k + (kj + o)) * w->cin + ci) * w->cout;
				const float *src = u->wgrad + (((size_t)ki * k + kj) * cin + ci) * cout;
				for (int c = 0; c < cout; c++)
					dst[c] += src[c];
			}
}
