/*
 * ops.h — the numeric ops: forward and backward on raw float32 pointers.
 * Prefix: rt_.
 *
 * Conventions for every op below:
 * - Activations are NHWC with C innermost and contiguous (see tensor.h); a
 *   map of N images of H x W pixels is also an [N*H*W, C] matrix.
 * - Weights are row-major matrices with an explicit leading stride (`ld*`,
 *   in floats), so a slice of a larger weight (the first k rows and/or the
 *   first k columns) is used in place: pass the big tensor's pointer and its
 *   row stride with the small sizes.
 * - Forward outputs and input gradients (dx) are OVERWRITTEN.  Parameter
 *   gradients (dw, db, dgamma, dbeta) are ACCUMULATED (+=) into buffers laid
 *   out like the parameters (same leading stride), so gradients of several
 *   subnets add up in one step.  Any gradient pointer may be NULL to skip it.
 * - Buffers of one call do not overlap unless the op says so.
 * - Ops allocate nothing; where scratch memory is needed the caller passes a
 *   workspace whose size a *_workspace() function gives.  There is no global
 *   state besides the thread pool (threads.h); ops run on it and their
 *   results are reproducible for a fixed thread count.
 * - Sizes are in elements, never bytes.  Invalid sizes are programmer errors
 *   (assert).
 */
#ifndef ARCHD_RUNTIME_OPS_H
#define ARCHD_RUNTIME_OPS_H

#include <stdbool.h>
#include <stddef.h>

/* Output size of a convolution: (in + 2 * pad - k) / stride + 1. */
int rt_conv_out_size(int in, int k, int stride, int pad);

/* ---- linear / pointwise convolution ------------------------------------ */

/*
 * Y[m, cout] = X[m, cin] W[cin, cout] (+ bias[cout]).
 * A 1x1 convolution of an NHWC map is this with m = N*H*W.
 * Leading strides: ldx >= cin, ldw >= cout, ldy >= cout.
 */
typedef struct rt_linear_p {
	int m, cin, cout;
	int ldx, ldw, ldy;
} rt_linear_p;

/* y (overwritten) = x w + bias; bias may be NULL. */
void rt_linear_forward(const rt_linear_p *p, const float *x, const float *w,
		       const float *bias, float *y);

/*
 * dx (overwritten, [m, cin], ldx) = dy w^T;  dw (+=, [cin, cout], ldw) =
 * x^T dy;  db (+=, [cout]) = column sums of dy.  dy is [m, cout], ldy.
 */
void rt_linear_backward(const rt_linear_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *db);

/* ---- dense k x k convolution (stems) ----------------------------------- */

/*
 * x [n, h, w, cin] -> y [n, ho, wo, cout] with ho = rt_conv_out_size(h, k,
 * stride, pad).  The weight is the matrix [k*k*cin, cout] (row index
 * (ki * k + kj) * cin + ci), leading stride ldw >= cout, so output channels
 * can be sliced; no bias (a batch norm follows).  Computed as im2col into the
 * workspace then one sgemm; a 1x1 stride-1 unpadded conv skips im2col.
 */
typedef struct rt_conv2d_p {
	int n, h, w, cin, cout;
	int k, stride, pad;
	int ldw;
} rt_conv2d_p;

/* Floats of workspace rt_conv2d_forward/backward need (0 for 1x1 s1 p0). */
size_t rt_conv2d_workspace(const rt_conv2d_p *p);

/* y (overwritten) = conv(x, w).  `ws`: rt_conv2d_workspace() floats. */
void rt_conv2d_forward(const rt_conv2d_p *p, const float *x, const float *w,
		       float *y, float *ws);

/* dx (overwritten, may be NULL), dw (+=, may be NULL) from dy [n,ho,wo,cout]. */
void rt_conv2d_backward(const rt_conv2d_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *ws);

/* ---- depthwise k x k convolution --------------------------------------- */

/*
 * x [n, h, w, c] -> y [n, ho, wo, c], odd k, stride 1 or 2, "same" padding
 * k/2 (so ho = (h - 1) / stride + 1).  The kernel is [k][k] rows of c
 * channel weights: tap (ki, kj) of channel ch is w[(ki * k + kj) * ldw + ch],
 * ldw >= c (a slice of the first c channels of a wider kernel).  The
 * supernet passes the kernel already cropped/transformed to k x k.  bias
 * [c] may be NULL.  Vectorised over c, threaded over output rows.
 */
typedef struct rt_dwconv_p {
	int n, h, w, c;
	int k, stride;
	int ldw;
} rt_dwconv_p;

/* y (overwritten) = depthwise conv of x with w, + bias. */
void rt_dwconv_forward(const rt_dwconv_p *p, const float *x, const float *w,
		       const float *bias, float *y);

/*
 * From dy [n, ho, wo, c]: dx (overwritten, [n, h, w, c]), dw (+=, laid out
 * like w with ldw), db (+=, [c]); k <= 11.  Threaded over channel blocks, so each
 * channel's sums run in a fixed order whatever the thread count.
 */
void rt_dwconv_backward(const rt_dwconv_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *db);

/* ---- batch normalisation ---------------------------------------------- */

typedef enum rt_bn_mode {
	RT_BN_MODE_TRAIN, /* batch statistics; running stats += momentum update */
	RT_BN_MODE_EVAL,  /* running statistics, nothing updated */
	RT_BN_MODE_RECAL, /* batch statistics; running stats := cumulative mean */
	RT_BN_MODE_COUNT
} rt_bn_mode;

/*
 * Batch norm over the c channels of the [m, c] view x (row stride ldx >= c;
 * y and dx use the same stride).  Per channel: y = gamma (x - mu) / sqrt(var
 * + eps) + beta.
 * - TRAIN: mu, var are the batch mean and biased variance over m rows;
 *   running_mean = (1 - momentum) running_mean + momentum mu, running_var the
 *   same with the unbiased variance (PyTorch's convention, momentum 0.1).
 * - RECAL: normalises like TRAIN, and makes the running statistics the
 *   cumulative average over the batches seen: with b = batches_seen (the
 *   number already averaged in, 0 for the first), running = (b running +
 *   batch) / (b + 1), the variance unbiased.  The caller zeroes nothing
 *   and increments batches_seen after each call.
 * - EVAL: mu, var are the running statistics; nothing is updated.
 * gamma, beta, running_mean, running_var are [c] (slices of wider vectors
 * are fine: only the first c are used).  save_mean and save_invstd [c] are
 * written by the forward (the statistics used) and read by the backward.
 */
typedef struct rt_bn_p {
	int m, c, ldx;
	float eps;          /* 1e-5 */
	float momentum;     /* TRAIN only */
	rt_bn_mode mode;
	long batches_seen;  /* RECAL only */
} rt_bn_p;

/* y (overwritten; may be x) = batch norm of x; updates running stats per mode. */
void rt_bn_forward(const rt_bn_p *p, const float *x, const float *gamma,
		   const float *beta, float *running_mean, float *running_var,
		   float *save_mean, float *save_invstd, float *y);

/*
 * dx (overwritten, may be dy), dgamma (+=), dbeta (+=) from dy, the forward's
 * input x and its save_mean/save_invstd.  TRAIN/RECAL differentiate through
 * the batch statistics; EVAL treats them as constants.
 */
void rt_bn_backward(const rt_bn_p *p, const float *x, const float *gamma,
		    const float *save_mean, const float *save_invstd,
		    const float *dy, float *dx, float *dgamma, float *dbeta);

/*
 * Batch norm fused with the activation that follows it: y = act(BN(x)) in
 * the same passes over memory, the BN output itself never stored.  The
 * backward takes dy = dL/dy and recomputes BN(x) from x, gamma, beta and the
 * saved statistics to apply act' before the BN backward, so dx, dgamma and
 * dbeta equal rt_bn_backward applied to dy act'(BN(x)).  With RT_ACT_NONE
 * these are rt_bn_forward/rt_bn_backward (beta may then be NULL in the
 * backward).  Same aliasing rules: y may be x, dx may be dy.
 */
typedef enum rt_act {
	RT_ACT_NONE,
	RT_ACT_RELU,   /* max(x, 0) */
	RT_ACT_HSWISH, /* x relu6(x + 3) / 6, derivatives as below */
	RT_ACT_COUNT
} rt_act;

void rt_bn_act_forward(const rt_bn_p *p, rt_act act, const float *x, const float *gamma,
		       const float *beta, float *running_mean, float *running_var,
		       float *save_mean, float *save_invstd, float *y);

void rt_bn_act_backward(const rt_bn_p *p, rt_act act, const float *x, const float *gamma,
			const float *beta, const float *save_mean, const float *save_invstd,
			const float *dy, float *dx, float *dgamma, float *dbeta);

/* ---- elementwise ----------------------------------------------------- */

/*
 * Activations on n contiguous floats: y = f(x) (y may be x);
 * backward dx = dy f'(x) with x the forward's INPUT (dx may be dy).
 * relu(x) = max(x, 0); hsigmoid(x) = relu6(x + 3) / 6; hswish(x) = x
 * hsigmoid(x).  At the kinks the derivative follows PyTorch: relu'(0) = 0,
 * hswish'(-3) = -0.5, hswish'(3) = 1.5, hsigmoid'(+-3) = 0.
 */
void rt_relu_forward(size_t n, const float *x, float *y);
void rt_relu_backward(size_t n, const float *x, const float *dy, float *dx);
void rt_hswish_forward(size_t n, const float *x, float *y);
void rt_hswish_backward(size_t n, const float *x, const float *dy, float *dx);
void rt_hsigmoid_forward(size_t n, const float *x, float *y);
void rt_hsigmoid_backward(size_t n, const float *x, const float *dy, float *dx);

/* y = a + b on n floats (residual add; y may be a or b). */
void rt_add_forward(size_t n, const float *a, const float *b, float *y);

/* y += a on n floats (gradient of a residual's skip path, or any sum). */
void rt_add_inplace(size_t n, const float *a, float *y);

/* ---- pooling and resizing ------------------------------------------- */

/* y [n, c] (overwritten) = mean over the hw pixels of x [n, hw, c]. */
void rt_avgpool_forward(int n, int hw, int c, const float *x, float *y);

/* dx [n, hw, c] (overwritten) = dy [n, c] / hw at every pixel. */
void rt_avgpool_backward(int n, int hw, int c, const float *dy, float *dx);

/*
 * Bilinear resize of x [n, h, w, c] to y [n, ho, wo, c], half-pixel centres
 * (PyTorch's interpolate(mode="bilinear", align_corners=False), no
 * antialiasing).
 */
typedef struct rt_resize_p {
	int n, h, w, c;
	int ho, wo;
} rt_resize_p;

/* y (overwritten) = resize(x). */
void rt_resize_forward(const rt_resize_p *p, const float *x, float *y);

/* dx (overwritten, [n, h, w, c]) = resize^T(dy). */
void rt_resize_backward(const rt_resize_p *p, const float *dy, float *dx);

/* ---- squeeze-and-excite --------------------------------------------- */

/*
 * y = x * s, s[n, c] = hsigmoid(relu(avgpool(x) W1 + b1) W2 + b2), with
 * x, y [n, hw, c], W1 [c, r] (ldw1 >= r), b1 [r], W2 [r, c] (ldw2 >= c),
 * b2 [c]: sliced channel counts c and r use the first rows/columns of wider
 * weights.  The forward keeps what the backward needs in the workspace, so
 * the same `ws` must be passed to both, untouched in between.
 */
typedef struct rt_se_p {
	int n, hw, c, r;
	int ldw1, ldw2;
} rt_se_p;

/* Floats of workspace rt_se_forward/backward need. */
size_t rt_se_workspace(const rt_se_p *p);

/* y (overwritten, must not be x) = squeeze-excite(x). */
void rt_se_forward(const rt_se_p *p, const float *x, const float *w1,
		   const float *b1, const float *w2, const float *b2, float *y,
		   float *ws);

/* dx (overwritten, required, must not be dy), dw1, db1, dw2, db2 (+=, laid
 * out like the weights, may be NULL). */
void rt_se_backward(const rt_se_p *p, const float *x, const float *w1,
		    const float *w2, const float *dy, float *dx, float *dw1,
		    float *db1, float *dw2, float *db2, float *ws);

/* ---- inference ----------------------------------------------------- */

/*
 * The eval-only kernels a model's forward runs (extract.h): each batch norm
 * folded into the convolution before it (weights scaled per output
 * channel, plus a bias), the activation, and for pointwise a residual add,
 * applied as each output is stored.  No backward.  They run on the calling
 * thread only (the model's forward splits its batch over the pool) and may
 * use fused multiply-adds, so they agree with the training ops to float
 * rounding, not bitwise.
 */

/*
 * Whether they run on 16-float AVX-512 vectors: yes where the CPU has
 * AVX-512F, unless ARCHD_AVX512=0 is in the environment at the first call;
 * elsewhere they run on 8-float vectors (AVX2 or SSE, chosen at load
 * time).  Both compute every sum in the same order, so the logits are the
 * same either way.  rt_infer_set_avx512(false) turns them off, true back
 * on where the CPU has them (tests run both; not to be called while a
 * forward runs); it returns whether they are on now.  rt_infer_isa names
 * the set in use, for benchmarks' headings.
 */
bool rt_infer_avx512(void);
bool rt_infer_set_avx512(bool on);
const char *rt_infer_isa(void);

/*
 * y [m, cout] (ldy) = act(x [m, cin] (ldx) w [cin, cout] (ldw) + bias
 * (+ r)): bias [cout] may be NULL; r, when not NULL, is [m, cr] (ldr >= cr,
 * cr <= cout) added to the first cr columns before act (an identity
 * shortcut, possibly narrower than y).  y must not overlap x, w or r.
 */
typedef struct rt_pw_p {
	int m, cin, cout;
	int ldx, ldw, ldy;
	rt_act act;
	const float *r;
	int ldr, cr;
	/* 0: row i of y at y + i ldy.  Else y's rows are pixels of images of
	 * grp_h rows of grp_w pixels: row i = (image b, row q, pixel j) at
	 * y + b ld_img + q ld_row + j ldy (the interiors of
	 * rt_dw_infer_layout's bordered images). */
	int grp_w, grp_h;
	size_t ld_row, ld_img;
	/* NULL, or column ci of x's row i is at x + i ldx + xoff[ci]: a
	 * convolution read in place (its im2col left implicit). */
	const int *xoff;
} rt_pw_p;

void rt_pw_infer(const rt_pw_p *p, const float *x, const float *w, const float *bias,
		 float *y);

/*
 * y [n, ho, wo, cout] = act(conv(x, w) + bias (+ r)), the weight laid out
 * as for rt_conv2d_forward (ldw >= cout), r as for rt_pw_infer (NULL for
 * none); `ws` holds rt_conv2d_infer_workspace(p) floats.
 */
void rt_conv2d_infer(const rt_conv2d_p *p, rt_act act, const float *r, int ldr, int cr,
		     const float *x, const float *w, const float *bias, float *y, float *ws);
size_t rt_conv2d_infer_workspace(const rt_conv2d_p *p);

/*
 * y [n, ho, wo, c] = act(depthwise conv(x) + bias) with odd k, stride 1 or
 * 2 and "same" padding as rt_dwconv_forward, but the kernel [k*k, cp] and
 * bias [cp] padded to cp = rt_dw_infer_cpad(c) channels (whole vectors;
 * the extra weights are not read into any output).  `ws` holds
 * rt_dw_infer_workspace(p) floats (n zero-bordered images of pixels of
 * rt_dw_infer_pstride(c) floats).
 */
typedef struct rt_dw_infer_p {
	int n, h, w, c;
	int k, stride;
	rt_act act;
} rt_dw_infer_p;

int rt_dw_infer_cpad(int c);
/* Floats per pixel of rt_dw_infer_layout's bordered images: cp or more
 * (cache sets), the first c of them the channels, up to cp zeros. */
int rt_dw_infer_pstride(int c);
size_t rt_dw_infer_workspace(const rt_dw_infer_p *p);
void rt_dw_infer(const rt_dw_infer_p *p, const float *x, const float *w, const float *bias,
		 float *y, float *ws);

/* The bordered images rt_dw_infer copies x into: floats per padded row and
 * per image, and the offset of pixel (0, 0) (the workspace holds n). */
void rt_dw_infer_layout(const rt_dw_infer_p *p, size_t *row, size_t *img, size_t *interior);

/* rt_dw_infer on n bordered images whose interiors (the first c floats of
 * each pixel) the caller has written; the borders and padding lanes are
 * cleared here. */
void rt_dw_infer_padded(const rt_dw_infer_p *p, float *xp, const float *w, const float *bias,
			float *y);

/* x [n, hw, c] *= squeeze-excite gate (as rt_se_forward), in place;
 * `ws` holds rt_se_infer_workspace(p) floats. */
size_t rt_se_infer_workspace(const rt_se_p *p);
void rt_se_infer(const rt_se_p *p, float *x, const float *w1, const float *b1,
		 const float *w2, const float *b2, float *ws);

/* ---- losses ------------------------------------------------------------ */

/*
 * Softmax cross-entropy with label smoothing over logits [n, k] (row stride
 * ld >= k), labels[i] in [0, k): target = (1 - smoothing) onehot + smoothing
 * / k.  Returns the mean loss over the n rows; dlogits (overwritten, [n, k],
 * stride ld, may be NULL) = (softmax - target) / n.  `correct`, when not
 * NULL, receives how many rows have their label as the (first) arg-max.
 */
double rt_xent_forward_backward(int n, int k, int ld, const float *logits,
				const int *labels, float smoothing,
				float *dlogits, int *correct);

/*
 * KL divergence KL(q || softmax(logits)) averaged over n rows, q the
 * teacher's probabilities [n, k] (stride ld; rows sum to 1, zeros allowed):
 * sum_j q_j (log q_j - log p_j).  dlogits (overwritten, may be NULL) =
 * (softmax(logits) - q) / n.
 */
double rt_kl_forward_backward(int n, int k, int ld, const float *logits,
			      const float *q, float *dlogits);

/*
 * probs [n, k] (overwritten, stride ld; may be logits) = softmax(logits):
 * the teacher's side of distillation and the output of inference.
 */
void rt_softmax_forward(int n, int k, int ld, const float *logits, float *probs);

#endif
