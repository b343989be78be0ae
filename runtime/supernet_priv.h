/*
 * supernet_priv.h — the supernet's internals, shared by supernet.c (layout,
 * initialisation), supernet_pass.c (forward and backward of each block) and
 * supernet_kernel.c (kernel crops and transforms).  Not a public header.
 *
 * Offsets (size_t) index the flat parameter buffers (w, g, m) or the stats
 * buffer; pointers point into the activation arena and are fixed at build.
 */
#ifndef ARCHD_RUNTIME_SUPERNET_PRIV_H
#define ARCHD_RUNTIME_SUPERNET_PRIV_H

#include "runtime/arena.h"
#include "runtime/supernet.h"

#define SN_MAX_KT 8 /* smaller kernels a layer may transform to */

/* A batch norm over up to c channels. */
typedef struct sn_bn {
	size_t gamma, beta; /* params */
	size_t rmean, rvar; /* stats */
	float *save_mean, *save_invstd;
	long seen; /* RECAL batches averaged in */
} sn_bn;

/* A k x k (or 1 x 1) convolution or linear weight [rows, cols] with its
 * largest sizes; rows = k*k*cin for dense convs, k*k for depthwise ones. */
typedef struct sn_weight {
	size_t off;
	int k, cin, cout; /* largest */
} sn_weight;

/*
 * Kernels an EVAL or RECAL forward derived from the weights (a dense conv's
 * gathered crop/slice, a depthwise kernel's transform chain) are kept in the
 * unit's buffers and reused while the weights' generation (sn->wgen) and the
 * active sizes stay the same; see supernet_kernel.c.
 */
enum { SN_KEPT_W1, SN_KEPT_W2, SN_KEPT_DW, SN_KEPT_COUNT };

typedef struct sn_kept {
	int valid;
	unsigned long gen;
	int k, cin, cout;
} sn_kept;

/* One layer of the space with its weights and activation buffers.  The
 * names follow MBCONV: 1 = expand (or the conv of CONV/DENSE/FC and the
 * first conv of RESIDUAL), 2 = depthwise (second conv of RESIDUAL),
 * 3 = project (RESIDUAL's projection shortcut). */
typedef struct sn_unit {
	const ir_layer *l;
	int has_expand;          /* MBCONV with an expand conv */
	sn_weight w1, w2, w3;
	sn_bn bn1, bn2, bn3;
	size_t bias;             /* FC bias */
	size_t se_w1, se_b1, se_w2, se_b2;
	int se_rmax, mid_max;
	/* kernel transforms: kt_k[i] descending, below the largest kernel */
	int nkt;
	int kt_k[SN_MAX_KT];
	size_t kt[SN_MAX_KT];    /* [k^2, k^2] matrices */
	float *kbuf[SN_MAX_KT];  /* transformed kernels [k^2, mid] */
	float *kgrad[SN_MAX_KT]; /* their gradients */
	/* activations */
	float *z1, *b1, *a1, *z2, *b2, *a2, *se, *z3, *b3, *out;
	float *se_ws;
	const float *x, *y;      /* input and output of the last forward */
	float *wtmp, *wgrad;     /* gathered dense-conv weights (crop/slice) */
	/* what wtmp (w1), wgrad (w2) and kbuf hold for EVAL/RECAL forwards */
	sn_kept kept[SN_KEPT_COUNT];
} sn_unit;

struct sn_supernet {
	const ir_space *space;
	int nclasses, in_h, in_w, max_batch;
	size_t nparams, nstats;
	int replica;            /* w is another supernet's; m is NULL */
	float *w, *g, *m, *st;
	rt_param *params;
	int nparam_list, cap_param_list;
	sn_unit *unit;
	rt_arena arena;
	float *xres;            /* the resized input */
	float *grad[4];         /* back-propagation buffers, each gmax floats */
	size_t gmax;
	float *conv_ws;         /* shared im2col workspace */
	size_t conv_ws_floats;
	sn_plan plan;
	const float *x_in;      /* the input of the last forward */
	int n;                  /* its batch */
	rt_bn_mode mode;
	unsigned long wgen;     /* bumped whenever the weights may change */
};

/* supernet_kernel.c */

/* Drops every kept kernel: the weights may change (or have changed). */
void sn_kernel_drop(sn_supernet *sn);

/* Builds the k x k depthwise kernel of unit u for `mid` channels from the
 * largest one (crop + transforms); returns it with its row stride. */
const float *sn_kernel_forward(sn_supernet *sn, sn_unit *u, int k, int mid,
			       int *ldk);
/* The same for a forward pass: outside TRAIN mode the kernel is kept and
 * reused until the weights or sizes change. */
const float *sn_kernel_forward_kept(sn_supernet *sn, sn_unit *u, int k, int mid,
				    int *ldk);
/* Zeroes the gradient buffer the depthwise backward should accumulate into
 * (the weight gradient itself when k is the largest) and returns it. */
float *sn_kernel_grad_begin(sn_supernet *sn, sn_unit *u, int k, int mid,
			    int *ldk);
/* Carries the depthwise kernel gradient back through the transforms. */
void sn_kernel_backward(sn_supernet *sn, sn_unit *u, int k, int mid);

/* Returns the weight of a dense k x k conv for (k, cin, cout) active sizes
 * with its row stride: the weight in place when only cout is sliced, else a
 * gathered copy in u->wtmp (which == 1 or 2 chooses w1 or w2). */
const float *sn_conv_weight(sn_supernet *sn, sn_unit *u, int which, int k,
			    int cin, int cout, int *ldw);
/* The same for a forward pass: outside TRAIN mode a gathered copy is kept
 * (w1 in u->wtmp, w2 in u->wgrad) and reused until the weights or sizes
 * change. */
const float *sn_conv_weight_kept(sn_supernet *sn, sn_unit *u, int which, int k,
				 int cin, int cout, int *ldw);
/* The gradient buffer for the same weight (zeroed copy when gathered). */
float *sn_conv_grad_begin(sn_supernet *sn, sn_unit *u, int which, int k,
			  int cin, int cout);
/* Adds a gathered gradient back into the gradient buffer. */
void sn_conv_grad_end(sn_supernet *sn, sn_unit *u, int which, int k, int cin,
		      int cout);

/* supernet_pass.c */
const float *sn_pass_forward(sn_supernet *sn, const float *x, int n,
			     rt_bn_mode mode);
void sn_pass_backward(sn_supernet *sn, const float *dlogits);

#endif
