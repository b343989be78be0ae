/*
 * op_se.c — squeeze-and-excite built from the other ops (see ops.h).
 *
 * Workspace layout, in floats (n rows each):
 *   saved by the forward:  pool [c] | hid [r] (pre-ReLU) | hact [r] |
 *                          gpre [c] (pre-h-sigmoid) | gate [c]
 *   backward scratch:      dgate [c] | dhid [r] | dpool [c]
 */
#include "runtime/ops.h"

#include <assert.h>

#include "runtime/op_util.h"

typedef struct se_bufs {
	float *pool, *hid, *hact, *gpre, *gate, *dgate, *dhid, *dpool;
} se_bufs;

static se_bufs se_layout(const rt_se_p *p, float *ws)
{
	size_t n = (size_t)p->n, c = (size_t)p->c, r = (size_t)p->r;
	se_bufs b;
	b.pool = ws;
	b.hid = b.pool + n * c;
	b.hact = b.hid + n * r;
	b.gpre = b.hact + n * r;
	b.gate = b.gpre + n * c;
	b.dgate = b.gate + n * c;
	b.dhid = b.dgate + n * c;
	b.dpool = b.dhid + n * r;
	return b;
}

static void se_check(const rt_se_p *p)
{
	assert(p->n > 0 && p->hw > 0 && p->c > 0 && p->r > 0);
	assert(p->ldw1 >= p->r && p->ldw2 >= p->c);
}

size_t rt_se_workspace(const rt_se_p *p)
{
	se_check(p);
	return (size_t)p->n * (5 * (size_t)p->c + 3 * (size_t)p->r);
}

typedef struct se_job {
	const rt_se_p *p;
	const float *x, *dy, *gate;
	float *y, *dx, *dgate;
} se_job;

/* y[n, i, c] = x[n, i, c] gate[n, c] */
RT_KERNEL static void se_scale_images(void *ctx, int64_t b, int64_t e)
{
	const se_job *j = ctx;
	size_t hw = (size_t)j->p->hw, C = (size_t)j->p->c;
	for (int64_t n = b; n < e; n++) {
		const float *restrict g = j->gate + (size_t)n * C;
		const float *restrict x = j->x + (size_t)n * hw * C;
		float *restrict y = j->y + (size_t)n * hw * C;
		for (size_t i = 0; i < hw; i++)
			for (size_t c = 0; c < C; c++)
				y[i * C + c] = x[i * C + c] * g[c];
	}
}

/* dgate[n, c] = sum_i dy x (in double);  dx = dy gate. */
RT_KERNEL static void se_bwd_images(void *ctx, int64_t b, int64_t e)
{
	const se_job *j = ctx;
	size_t hw = (size_t)j->p->hw, C = (size_t)j->p->c;
	double acc[256];
	for (int64_t n = b; n < e; n++) {
		const float *restrict g = j->gate + (size_t)n * C;
		const float *restrict x = j->x + (size_t)n * hw * C;
		const float *restrict dy = j->dy + (size_t)n * hw * C;
		float *restrict dx = j->dx + (size_t)n * hw * C;
		for (size_t c0 = 0; c0 < C; c0 += 256) {
			size_t nb = C - c0 < 256 ? C - c0 : 256;
			for (size_t c = 0; c < nb; c++)
				acc[c] = 0.0;
			for (size_t i = 0; i < hw; i++) {
				size_t o = i * C + c0;
				for (size_t c = 0; c < nb; c++) {
					acc[c] += (double)dy[o + c] * x[o + c];
					dx[o + c] = dy[o + c] * g[c0 + c];
				}
			}
			for (size_t c = 0; c < nb; c++)
				j->dgate[(size_t)n * C + c0 + c] = (float)acc[c];
		}
	}
}

void rt_se_forward(const rt_se_p *p, const float *x, const float *w1,
		   const float *b1, const float *w2, const float *b2, float *y,
		   float *ws)
{
	se_check(p);
	assert(x != y);
	se_bufs s = se_layout(p, ws);
	rt_avgpool_forward(p->n, p->hw, p->c, x, s.pool);
	rt_linear_p l1 = {p->n, p->c, p->r, p->c, p->ldw1, p->r};
	rt_linear_forward(&l1, s.pool, w1, b1, s.hid);
	rt_relu_forward((size_t)p->n * p->r, s.hid, s.hact);
	rt_linear_p l2 = {p->n, p->r, p->c, p->r, p->ldw2, p->c};
	rt_linear_forward(&l2, s.hact, w2, b2, s.gpre);
	rt_hsigmoid_forward((size_t)p->n * p->c, s.gpre, s.gate);
	se_job j = {.p = p, .x = x, .gate = s.gate, .y = y};
	rt_op_parallel(p->n, (int64_t)p->n * p->hw * p->c, se_scale_images, &j);
}

void rt_se_backward(const rt_se_p *p, const float *x, const float *w1,
		    const float *w2, const float *dy, float *dx, float *dw1,
		    float *db1, float *dw2, float *db2, float *ws)
{
	se_check(p);
	assert(dx != NULL);
	se_bufs s = se_layout(p, ws);
	se_job j = {.p = p, .x = x, .dy = dy, .gate = s.gate, .dx = dx, .dgate = s.dgate};
	rt_op_parallel(p->n, (int64_t)p->n * p->hw * p->c * 2, se_bwd_images, &j);
	size_t nc = (size_t)p->n * p->c, nr = (size_t)p->n * p->r;
	rt_hsigmoid_backward(nc, s.gpre, s.dgate, s.dgate);
	rt_linear_p l2 = {p->n, p->r, p->c, p->r, p->ldw2, p->c};
	rt_linear_backward(&l2, s.hact, w2, s.dgate, s.dhid, dw2, db2);
	rt_relu_backward(nr, s.hid, s.dhid, s.dhid);
	rt_linear_p l1 = {p->n, p->c, p->r, p->c, p->ldw1, p->r};
	rt_linear_backward(&l1, s.pool, w1, s.dhid, s.dpool, dw1, db1);
	/* the pooled path: dx[n, i, c] += dpool[n, c] / hw */
	float inv = 1.0f / (float)p->hw;
	for (int n = 0; n < p->n; n++) {
		const float *dp = s.dpool + (size_t)n * p->c;
		float *d = dx + (size_t)n * p->hw * p->c;
		for (int i = 0; i < p->hw; i++)
			for (int c = 0; c < p->c; c++)
				d[(size_t)i * p->c + c] += dp[c] * inv;
	}
}
