/*
 * test_ops_torch.c — every op's forward and backward against PyTorch.
 *
 * The group setup draws seeded random inputs at random shapes for every
 * case, runs our op (forward, then backward with dy = r, a random
 * projection, so the gradients are those of sum(y * r)), writes the inputs
 * to a temporary directory, and runs tests/unit/ops_torch.py ONCE with
 * /usr/bin/python3: it recomputes every case in float64 with torch autograd
 * and writes the reference outputs.  Each test then compares one op's
 * outputs.  Parameter gradients are accumulated by our ops into zeroed
 * buffers as wide as the stored weights (ld > active width), so the
 * comparison also checks that entries outside the slice get exactly 0.
 *
 * Metric, per output array o of n floats against the reference t:
 *     err = max_i |o_i - t_i| / max(max_i |t_i|, 1e-6)
 * (normwise max relative error; NaN counts as infinite), and every array
 * must have err <= 1e-4.
 *
 * The fused batch norm + activation (rt_bn_act_*) is checked against the
 * composition torch.relu/hardswish(batch_norm(x)).
 *
 * Without a /usr/bin/python3 that can import torch, every test is skipped
 * (fails under CI=true: util_ci.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/ops.h"
#include "runtime/rng.h"
#include "runtime/threads.h"
#include "util_ci.h"
#include "util_grad.h"

#define TOL 1e-4
#define MAX_EXPECT 512
#define MAX_FILES 1024
#define PY "/usr/bin/python3"

/* One of our outputs waiting for its reference. */
typedef struct expect {
	char op[16];
	char file[64]; /* ID.NAME, without extension */
	float *ours;   /* owned copy */
	size_t n;
} expect;

static struct {
	char dir[256];
	FILE *manifest;
	int ncase, nexpect, nfiles, have_torch;
	expect ex[MAX_EXPECT];
	char *files[MAX_FILES];
	rt_rng rng;
	char cur_op[16], cur_id[16];
} T;

static void track(const char *path)
{
	assert_true(T.nfiles < MAX_FILES);
	T.files[T.nfiles] = strdup(path);
	assert_non_null(T.files[T.nfiles]);
	T.nfiles++;
}

/* Starts case ID for `op` with parameters `fmt` (key=value words). */
static void begin_case(const char *op, const char *fmt, ...)
{
	snprintf(T.cur_id, sizeof T.cur_id, "c%d", T.ncase++);
	snprintf(T.cur_op, sizeof T.cur_op, "%s", op);
	fprintf(T.manifest, "%s %s ", T.cur_id, op);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(T.manifest, fmt, ap);
	va_end(ap);
	fputc('\n', T.manifest);
}

/* Writes input `name` of the current case. */
static void put(const char *name, const float *a, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s.%s.f32", T.dir, T.cur_id, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(a, sizeof(float), n, f), n);
	assert_int_equal(fclose(f), 0);
	track(path);
}

/* Records our output `name` of the current case for comparison. */
static void expect_out(const char *name, const float *ours, size_t n)
{
	assert_true(T.nexpect < MAX_EXPECT);
	expect *e = &T.ex[T.nexpect++];
	snprintf(e->op, sizeof e->op, "%s", T.cur_op);
	snprintf(e->file, sizeof e->file, "%s.%s", T.cur_id, name);
	e->ours = ug_copy(ours, n);
	e->n = n;
	char path[512];
	snprintf(path, sizeof path, "%s/%s.ref", T.dir, e->file);
	track(path);
}

static int rnd(int lo, int hi)
{
	return lo + (int)rt_rng_below(&T.rng, (uint64_t)(hi - lo + 1));
}

static float *rnd_buf(size_t n, float lo, float hi)
{
	return ug_rand(&T.rng, n, lo, hi);
}

static float *zeros(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	assert_non_null(p);
	return p;
}

/* ---- cases -------------------------------------------------------------- */

static void case_conv2d(int n, int h, int w, int cin, int cout, int k, int s, int pad)
{
	int ldw = cout + rnd(0, 3);
	rt_conv2d_p p = {n, h, w, cin, cout, k, s, pad, ldw};
	int ho = rt_conv_out_size(h, k, s, pad), wo = rt_conv_out_size(w, k, s, pad);
	size_t nx = (size_t)n * h * w * cin, nw = (size_t)k * k * cin * ldw;
	size_t ny = (size_t)n * ho * wo * cout;
	float *x = rnd_buf(nx, -1, 1), *wt = rnd_buf(nw, -1, 1), *r = rnd_buf(ny, -1, 1);
	float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw);
	float *ws = zeros(rt_conv2d_workspace(&p));
	rt_conv2d_forward(&p, x, wt, y, ws);
	rt_conv2d_backward(&p, x, wt, r, dx, dw, ws);
	begin_case("conv2d", "n=%d h=%d w=%d cin=%d cout=%d k=%d stride=%d pad=%d ldw=%d", n,
		   h, w, cin, cout, k, s, pad, ldw);
	put("x", x, nx), put("w", wt, nw), put("r", r, ny);
	expect_out("y", y, ny), expect_out("dx", dx, nx), expect_out("dw", dw, nw);
	free(x), free(wt), free(r), free(y), free(dx), free(dw), free(ws);
}

static void case_linear(int m, int cin, int cout)
{
	int ldw = cout + rnd(0, 4);
	rt_linear_p p = {m, cin, cout, cin, ldw, cout};
	size_t nx = (size_t)m * cin, nw = (size_t)cin * ldw, ny = (size_t)m * cout;
	float *x = rnd_buf(nx, -1, 1), *wt = rnd_buf(nw, -1, 1), *b = rnd_buf((size_t)ldw, -1, 1);
	float *r = rnd_buf(ny, -1, 1), *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw);
	float *db = zeros((size_t)ldw);
	rt_linear_forward(&p, x, wt, b, y);
	rt_linear_backward(&p, x, wt, r, dx, dw, db);
	begin_case("linear", "m=%d cin=%d cout=%d ldw=%d", m, cin, cout, ldw);
	put("x", x, nx), put("w", wt, nw), put("b", b, (size_t)ldw), put("r", r, ny);
	expect_out("y", y, ny), expect_out("dx", dx, nx), expect_out("dw", dw, nw);
	expect_out("db", db, (size_t)ldw);
	free(x), free(wt), free(b), free(r), free(y), free(dx), free(dw), free(db);
}

static void case_dwconv(int n, int h, int w, int c, int k, int s)
{
	int ldw = c + rnd(0, 5);
	rt_dwconv_p p = {n, h, w, c, k, s, ldw};
	int ho = rt_conv_out_size(h, k, s, k / 2), wo = rt_conv_out_size(w, k, s, k / 2);
	size_t nx = (size_t)n * h * w * c, nw = (size_t)k * k * ldw;
	size_t ny = (size_t)n * ho * wo * c;
	float *x = rnd_buf(nx, -1, 1), *wt = rnd_buf(nw, -1, 1), *b = rnd_buf((size_t)ldw, -1, 1);
	float *r = rnd_buf(ny, -1, 1), *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw);
	float *db = zeros((size_t)ldw);
	rt_dwconv_forward(&p, x, wt, b, y);
	rt_dwconv_backward(&p, x, wt, r, dx, dw, db);
	begin_case("dwconv", "n=%d h=%d w=%d c=%d k=%d stride=%d ldw=%d", n, h, w, c, k, s, ldw);
	put("x", x, nx), put("w", wt, nw), put("b", b, (size_t)ldw), put("r", r, ny);
	expect_out("y", y, ny), expect_out("dx", dx, nx), expect_out("dw", dw, nw);
	expect_out("db", db, (size_t)ldw);
	free(x), free(wt), free(b), free(r), free(y), free(dx), free(dw), free(db);
}

static void case_bn(int m, int c, rt_bn_mode mode, long seen)
{
	size_t nx = (size_t)m * c, nc = (size_t)c;
	/* an offset and a scale per channel, as real pre-BN activations have */
	float *x = rnd_buf(nx, -1, 1), *off = rnd_buf(nc, -2, 2), *sc = rnd_buf(nc, 0.2f, 3);
	for (size_t i = 0; i < nx; i++)
		x[i] = x[i] * sc[i % nc] + off[i % nc];
	float *g = rnd_buf(nc, 0.5f, 1.5f), *b = rnd_buf(nc, -0.5f, 0.5f);
	float *rm = rnd_buf(nc, -1, 1), *rv = rnd_buf(nc, 0.5f, 2), *r = rnd_buf(nx, -1, 1);
	float *rm2 = ug_copy(rm, nc), *rv2 = ug_copy(rv, nc), *sm = zeros(nc), *si = zeros(nc);
	float *y = zeros(nx), *dx = zeros(nx), *dg = zeros(nc), *db = zeros(nc);
	rt_bn_p p = {m, c, c, 1e-5f, 0.1f, mode, seen};
	rt_bn_forward(&p, x, g, b, rm2, rv2, sm, si, y);
	rt_bn_backward(&p, x, g, sm, si, r, dx, dg, db);
	begin_case("bn", "m=%d c=%d mode=%d seen=%ld", m, c, (int)mode, seen);
	put("x", x, nx), put("gamma", g, nc), put("beta", b, nc), put("rmean", rm, nc);
	put("rvar", rv, nc), put("r", r, nx);
	expect_out("y", y, nx), expect_out("dx", dx, nx), expect_out("dgamma", dg, nc);
	expect_out("dbeta", db, nc), expect_out("rmean", rm2, nc), expect_out("rvar", rv2, nc);
	free(x), free(off), free(sc), free(g), free(b), free(rm), free(rv), free(r);
	free(rm2), free(rv2), free(sm), free(si), free(y), free(dx), free(dg), free(db);
}

/* BN fused with its activation (TRAIN or EVAL), dx written over dy. */
static void case_bn_act(int m, int c, rt_bn_mode mode, rt_act act)
{
	size_t nx = (size_t)m * c, nc = (size_t)c;
	float *x = rnd_buf(nx, -3, 3), *g = rnd_buf(nc, 0.5f, 1.5f), *b = rnd_buf(nc, -1, 1);
	float *rm = rnd_buf(nc, -1, 1), *rv = rnd_buf(nc, 0.5f, 2), *r = rnd_buf(nx, -1, 1);
	float *rm2 = ug_copy(rm, nc), *rv2 = ug_copy(rv, nc), *sm = zeros(nc), *si = zeros(nc);
	float *y = zeros(nx), *d = ug_copy(r, nx), *dg = zeros(nc), *db = zeros(nc);
	rt_bn_p p = {m, c, c, 1e-5f, 0.1f, mode, 0};
	rt_bn_act_forward(&p, act, x, g, b, rm2, rv2, sm, si, y);
	rt_bn_act_backward(&p, act, x, g, b, sm, si, d, d, dg, db);
	begin_case("bn_act", "m=%d c=%d mode=%d act=%d", m, c, (int)mode, (int)act);
	put("x", x, nx), put("gamma", g, nc), put("beta", b, nc), put("rmean", rm, nc);
	put("rvar", rv, nc), put("r", r, nx);
	expect_out("y", y, nx), expect_out("dx", d, nx), expect_out("dgamma", dg, nc);
	expect_out("dbeta", db, nc), expect_out("rmean", rm2, nc), expect_out("rvar", rv2, nc);
	free(x), free(g), free(b), free(rm), free(rv), free(r), free(rm2), free(rv2);
	free(sm), free(si), free(y), free(d), free(dg), free(db);
}

/* kind: 0 relu, 1 hswish, 2 hsigmoid (the order ops_torch.py uses). */
static void case_act(size_t n, int kind)
{
	float *x = rnd_buf(n, -5, 5), *r = rnd_buf(n, -1, 1), *y = zeros(n), *dx = zeros(n);
	switch (kind) {
	case 0:
		rt_relu_forward(n, x, y), rt_relu_backward(n, x, r, dx);
		break;
	case 1:
		rt_hswish_forward(n, x, y), rt_hswish_backward(n, x, r, dx);
		break;
	default:
		rt_hsigmoid_forward(n, x, y), rt_hsigmoid_backward(n, x, r, dx);
		break;
	}
	begin_case("act", "n=%zu kind=%d", n, kind);
	put("x", x, n), put("r", r, n);
	expect_out("y", y, n), expect_out("dx", dx, n);
	free(x), free(r), free(y), free(dx);
}

static void case_se(int n, int hw, int c, int r)
{
	int ldw1 = r + rnd(0, 3), ldw2 = c + rnd(0, 3);
	rt_se_p p = {n, hw, c, r, ldw1, ldw2};
	size_t nx = (size_t)n * hw * c, n1 = (size_t)c * ldw1, n2 = (size_t)r * ldw2;
	float *x = rnd_buf(nx, -1, 1), *w1 = rnd_buf(n1, -1, 1), *b1 = rnd_buf((size_t)ldw1, -1, 1);
	float *w2 = rnd_buf(n2, -1, 1), *b2 = rnd_buf((size_t)ldw2, -1, 1), *pr = rnd_buf(nx, -1, 1);
	float *y = zeros(nx), *dx = zeros(nx), *ws = zeros(rt_se_workspace(&p));
	float *dw1 = zeros(n1), *db1 = zeros((size_t)ldw1), *dw2 = zeros(n2);
	float *db2 = zeros((size_t)ldw2);
	rt_se_forward(&p, x, w1, b1, w2, b2, y, ws);
	rt_se_backward(&p, x, w1, w2, pr, dx, dw1, db1, dw2, db2, ws);
	begin_case("se", "n=%d hw=%d c=%d r=%d ldw1=%d ldw2=%d", n, hw, c, r, ldw1, ldw2);
	put("x", x, nx), put("w1", w1, n1), put("b1", b1, (size_t)ldw1), put("w2", w2, n2);
	put("b2", b2, (size_t)ldw2), put("r", pr, nx);
	expect_out("y", y, nx), expect_out("dx", dx, nx), expect_out("dw1", dw1, n1);
	expect_out("db1", db1, (size_t)ldw1), expect_out("dw2", dw2, n2);
	expect_out("db2", db2, (size_t)ldw2);
	free(x), free(w1), free(b1), free(w2), free(b2), free(pr), free(y), free(dx), free(ws);
	free(dw1), free(db1), free(dw2), free(db2);
}

static void case_pool(int n, int hw, int c)
{
	size_t nx = (size_t)n * hw * c, ny = (size_t)n * c;
	float *x = rnd_buf(nx, -1, 1), *r = rnd_buf(ny, -1, 1), *y = zeros(ny), *dx = zeros(nx);
	rt_avgpool_forward(n, hw, c, x, y);
	rt_avgpool_backward(n, hw, c, r, dx);
	begin_case("pool", "n=%d hw=%d c=%d", n, hw, c);
	put("x", x, nx), put("r", r, ny);
	expect_out("y", y, ny), expect_out("dx", dx, nx);
	free(x), free(r), free(y), free(dx);
}

static void case_xent(int n, int k, float smoothing)
{
	size_t nz = (size_t)n * k;
	float *z = rnd_buf(nz, -4, 4), *dz = zeros(nz), *lab = zeros((size_t)n);
	int *labels = malloc((size_t)n * sizeof(int));
	assert_non_null(labels);
	for (int i = 0; i < n; i++) {
		labels[i] = rnd(0, k - 1);
		lab[i] = (float)labels[i];
	}
	float loss = (float)rt_xent_forward_backward(n, k, k, z, labels, smoothing, dz, NULL);
	/* a '.' in the value tells the script it is a float */
	begin_case("xent", "n=%d k=%d smoothing=%.6f", n, k, (double)smoothing);
	put("z", z, nz), put("labels", lab, (size_t)n);
	expect_out("loss", &loss, 1), expect_out("dz", dz, nz);
	free(z), free(dz), free(lab), free(labels);
}

static void case_kl(int n, int k)
{
	size_t nz = (size_t)n * k;
	float *z = rnd_buf(nz, -4, 4), *q = rnd_buf(nz, 0, 1), *dz = zeros(nz), *pr = zeros(nz);
	for (int i = 0; i < n; i++) { /* some zero probabilities, rows summing to 1 */
		float *row = q + (size_t)i * k;
		row[rnd(0, k - 1)] = 0.0f;
		double s = 0;
		for (int j = 0; j < k; j++)
			s += row[j];
		for (int j = 0; j < k; j++)
			row[j] = (float)(row[j] / s);
	}
	float loss = (float)rt_kl_forward_backward(n, k, k, z, q, dz);
	rt_softmax_forward(n, k, k, z, pr);
	begin_case("kl", "n=%d k=%d", n, k);
	put("z", z, nz), put("q", q, nz);
	expect_out("loss", &loss, 1), expect_out("dz", dz, nz), expect_out("p", pr, nz);
	free(z), free(q), free(dz), free(pr);
}

static void case_resize(int n, int h, int w, int c, int ho, int wo)
{
	rt_resize_p p = {n, h, w, c, ho, wo};
	size_t nx = (size_t)n * h * w * c, ny = (size_t)n * ho * wo * c;
	float *x = rnd_buf(nx, -1, 1), *r = rnd_buf(ny, -1, 1), *y = zeros(ny), *dx = zeros(nx);
	rt_resize_forward(&p, x, y);
	rt_resize_backward(&p, r, dx);
	begin_case("resize", "n=%d h=%d w=%d c=%d ho=%d wo=%d", n, h, w, c, ho, wo);
	put("x", x, nx), put("r", r, ny);
	expect_out("y", y, ny), expect_out("dx", dx, nx);
	free(x), free(r), free(y), free(dx);
}

/* y = a + b; the gradient of a is dy, that of b is added to what it held. */
static void case_add(size_t n)
{
	float *a = rnd_buf(n, -1, 1), *b = rnd_buf(n, -1, 1), *r = rnd_buf(n, -1, 1);
	float *gb0 = rnd_buf(n, -1, 1), *gb = ug_copy(gb0, n), *y = zeros(n);
	rt_add_forward(n, a, b, y);
	rt_add_inplace(n, r, gb);
	begin_case("add", "n=%zu", n);
	put("a", a, n), put("b", b, n), put("r", r, n), put("gb0", gb0, n);
	expect_out("y", y, n), expect_out("da", r, n), expect_out("db", gb, n);
	free(a), free(b), free(r), free(gb0), free(gb), free(y);
}

static void make_cases(void)
{
	/* dense conv: stems (3x3 s1/s2, 5x5), pointwise 1x1 s1 and s2, random, large */
	case_conv2d(2, 7, 6, 3, 5, 3, 1, 1);
	case_conv2d(2, 9, 8, 2, 6, 3, 2, 1);
	case_conv2d(1, 8, 7, 3, 4, 5, 2, 2);
	case_conv2d(3, 5, 4, 6, 7, 1, 1, 0);
	case_conv2d(2, 7, 7, 5, 3, 1, 2, 0);
	case_conv2d(1, 1, 1, 4, 3, 3, 1, 1);
	for (int i = 0; i < 3; i++) {
		int k = 2 * rnd(0, 2) + 1;
		case_conv2d(rnd(1, 3), rnd(k, 10), rnd(k, 10), rnd(1, 8), rnd(1, 12), k, rnd(1, 2),
			    k / 2);
	}
	case_conv2d(8, 28, 28, 1, 16, 3, 1, 1); /* the mbnet stem at batch 8 */
	/* linear */
	for (int i = 0; i < 3; i++)
		case_linear(rnd(1, 9), rnd(1, 40), rnd(1, 30));
	case_linear(128, 80, 256);
	/* depthwise: k = 3, 5, 7, stride 1 and 2, random shapes incl. 1x1 maps */
	for (int k = 3; k <= 7; k += 2)
		for (int s = 1; s <= 2; s++)
			case_dwconv(rnd(1, 3), rnd(1, 11), rnd(1, 11), rnd(1, 37), k, s);
	case_dwconv(2, 1, 1, 5, 3, 1);
	case_dwconv(2, 9, 11, 24, 1, 2); /* k = 1, stride 2: odd columns get no tap */
	case_dwconv(1, 9, 9, 16, 9, 1);
	case_dwconv(8, 14, 14, 72, 5, 1); /* large: threaded */
	case_dwconv(8, 14, 14, 96, 7, 2);
	/* batch norm: train, eval, recalibration (cumulative average) */
	case_bn(rnd(4, 60), rnd(1, 40), RT_BN_MODE_TRAIN, 0);
	case_bn(rnd(4, 60), rnd(1, 40), RT_BN_MODE_EVAL, 0);
	case_bn(rnd(4, 60), rnd(1, 40), RT_BN_MODE_RECAL, 0);
	case_bn(rnd(4, 60), rnd(1, 40), RT_BN_MODE_RECAL, 2);
	case_bn(2048, 48, RT_BN_MODE_TRAIN, 0);
	/* batch norm fused with relu / h-swish / nothing, dx in place of dy */
	for (int act = 0; act < RT_ACT_COUNT; act++) {
		case_bn_act(rnd(4, 60), rnd(1, 40), RT_BN_MODE_TRAIN, (rt_act)act);
		case_bn_act(rnd(4, 60), rnd(1, 40), RT_BN_MODE_EVAL, (rt_act)act);
	}
	case_bn_act(4096, 40, RT_BN_MODE_TRAIN, RT_ACT_HSWISH);
	/* activations, small and large (threaded) */
	for (int kind = 0; kind < 3; kind++) {
		case_act((size_t)rnd(1, 1000), kind);
		case_act(100003, kind);
	}
	/* squeeze-excite */
	case_se(rnd(1, 4), rnd(1, 20), rnd(2, 40), rnd(1, 10));
	case_se(rnd(1, 4), 1, rnd(2, 40), rnd(1, 10));
	case_se(16, 49, 240, 60);
	/* global pool */
	case_pool(rnd(1, 5), rnd(1, 50), rnd(1, 40));
	case_pool(32, 16, 80);
	/* losses */
	case_xent(rnd(1, 20), rnd(2, 12), 0.0f);
	case_xent(rnd(1, 20), rnd(2, 12), 0.1f);
	case_xent(128, 10, 0.1f);
	case_kl(rnd(1, 20), rnd(2, 12));
	case_kl(128, 10);
	/* bilinear resize: up, down, odd ratios, 1x1 */
	case_resize(2, 5, 7, 3, 9, 11);
	case_resize(2, 28, 28, 1, 20, 24);
	case_resize(1, 7, 5, 4, 3, 2);
	case_resize(1, 1, 1, 2, 3, 4);
	case_resize(rnd(1, 3), rnd(1, 12), rnd(1, 12), rnd(1, 6), rnd(1, 12), rnd(1, 12));
	/* residual add */
	case_add((size_t)rnd(1, 100));
	case_add(70001);
}

/* ---- the group --------------------------------------------------------- */

static int torch_available(void)
{
	if (access(PY, X_OK) != 0)
		return 0;
	return system(PY " -c 'import torch' >/dev/null 2>&1") == 0;
}

static const char *script_path(char *buf, size_t len)
{
	const char *src = getenv("ARCHD_SRCDIR");
	if (src != NULL && *src)
		snprintf(buf, len, "%s/tests/unit/ops_torch.py", src);
	else /* the build also knows the source tree through the stdlib path */
		snprintf(buf, len, "%s/../tests/unit/ops_torch.py", ARCHD_BUILD_STDLIB_DIR);
	return buf;
}

static int group_setup(void **state)
{
	(void)state;
	if (!torch_available())
		return 0;
	const char *tmp = getenv("TMPDIR");
	snprintf(T.dir, sizeof T.dir, "%s/ops_torch.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	char path[512];
	snprintf(path, sizeof path, "%s/manifest", T.dir);
	T.manifest = fopen(path, "w");
	if (T.manifest == NULL)
		return -1;
	track(path);
	if (rt_threads_init(2, NULL, 0) != 2)
		return -1;
	rt_rng_seed(&T.rng, 20261130);
	make_cases();
	if (fclose(T.manifest) != 0)
		return -1;
	char script[512], cmd[1200];
	snprintf(cmd, sizeof cmd, PY " '%s' '%s'", script_path(script, sizeof script), T.dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "ops_torch: '%s' failed\n", cmd);
		return -1;
	}
	T.have_torch = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < T.nfiles; i++) {
		unlink(T.files[i]);
		free(T.files[i]);
	}
	for (int i = 0; i < T.nexpect; i++)
		free(T.ex[i].ours);
	if (T.dir[0])
		rmdir(T.dir);
	return 0;
}

/* The metric of the header comment; reads the reference file. */
static double compare(const expect *e)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s.ref", T.dir, e->file);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "ops_torch: no reference %s\n", path);
		return INFINITY;
	}
	double *ref = malloc((e->n ? e->n : 1) * sizeof(double));
	assert_non_null(ref);
	size_t got = fread(ref, sizeof(double), e->n, f);
	int extra = fgetc(f) != EOF;
	fclose(f);
	double err = INFINITY;
	if (got == e->n && !extra)
		err = ug_max_rel(e->ours, ref, e->n);
	else
		fprintf(stderr, "ops_torch: %s has the wrong size\n", path);
	free(ref);
	return err;
}

static void check_op(const char *op)
{
	uc_require(T.have_torch, "PyTorch (/usr/bin/python3 cannot import torch: apt-get install "
				 "python3-torch)");
	int n = 0, bad = 0;
	double worst = 0.0;
	for (int i = 0; i < T.nexpect; i++) {
		const expect *e = &T.ex[i];
		if (strcmp(e->op, op) != 0)
			continue;
		double err = compare(e);
		n++;
		if (!(err <= TOL)) {
			bad++;
			printf("# %s %s: max relative error %.3g > %g\n", op, e->file, err, TOL);
		}
		if (!(err <= worst))
			worst = err;
	}
	printf("# %s: %d outputs, worst max relative error %.3g\n", op, n, worst);
	assert_true(n > 0);
	assert_int_equal(bad, 0);
}

static void test_conv2d(void **state) { (void)state; check_op("conv2d"); }
static void test_linear(void **state) { (void)state; check_op("linear"); }
static void test_dwconv(void **state) { (void)state; check_op("dwconv"); }
static void test_bn(void **state) { (void)state; check_op("bn"); }
static void test_bn_act(void **state) { (void)state; check_op("bn_act"); }
static void test_activations(void **state) { (void)state; check_op("act"); }
static void test_se(void **state) { (void)state; check_op("se"); }
static void test_pool(void **state) { (void)state; check_op("pool"); }
static void test_xent(void **state) { (void)state; check_op("xent"); }
static void test_kl_softmax(void **state) { (void)state; check_op("kl"); }
static void test_resize(void **state) { (void)state; check_op("resize"); }
static void test_add(void **state) { (void)state; check_op("add"); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv2d),     cmocka_unit_test(test_linear),
		cmocka_unit_test(test_dwconv),     cmocka_unit_test(test_bn),
		cmocka_unit_test(test_bn_act),
		cmocka_unit_test(test_activations), cmocka_unit_test(test_se),
		cmocka_unit_test(test_pool),       cmocka_unit_test(test_xent),
		cmocka_unit_test(test_kl_softmax), cmocka_unit_test(test_resize),
		cmocka_unit_test(test_add),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	rt_threads_shutdown();
	return rc;
}
