/*
 * op_bn.c — batch normalisation over the channels of an [m, c] view, alone
 * or fused with the activation that follows it (see ops.h).  Work is split
 * over blocks of RT_CBLOCK channels: each block's statistics are summed in
 * double, row by row, by one thread, so results do not depend on the
 * thread count.  y may be x and dx may be dy, hence no
 * `restrict` on those.
 */
#include "runtime/ops.h"

#include <assert.h>
#include <math.h>

#include "runtime/op_util.h"

typedef struct bn_job {
	const rt_bn_p *p;
	rt_act act;
	const float *x, *gamma, *beta, *dy;
	float *running_mean, *running_var, *save_mean, *save_invstd;
	float *y, *dx, *dgamma, *dbeta;
	const float *bwd_mean, *bwd_invstd; /* the forward's saved statistics */
} bn_job;

/*
 * act(v) and act'(v) as ops.h defines them (op_eltwise.c's formulas),
 * written as selects between values computed unconditionally: GCC does not
 * if-convert a conditional float expression (it might trap), and a loop
 * with control flow is not vectorised.
 */
RT_INLINE float act_f(rt_act a, float v)
{
	if (a == RT_ACT_RELU)
		return v > 0.0f ? v : 0.0f;
	if (a == RT_ACT_HSWISH) {
		float t = v + 3.0f;
		t = t < 0.0f ? 0.0f : t;
		t = t > 6.0f ? 6.0f : t;
		return v * t * (1.0f / 6.0f);
	}
	return v;
}

RT_INLINE float act_d(rt_act a, float v)
{
	if (a == RT_ACT_RELU)
		return v > 0.0f ? 1.0f : 0.0f;
	if (a == RT_ACT_HSWISH) {
		float lin = v * (1.0f / 3.0f) + 0.5f;
		float d = v < -3.0f ? 0.0f : lin;
		return v > 3.0f ? 1.0f : d;
	}
	return 1.0f;
}

/*
 * Batch mean and variance (biased) of channels [c0, c0 + nb) in one pass:
 * sums of d = x - x[row 0] and d^2 in double.  Shifting by a sample of the
 * channel keeps sum(d^2)/m - mean(d)^2 free of cancellation when the mean
 * is large against the spread.
 */
RT_KERNEL static void bn_stats(const bn_job *j, int c0, int nb, double *mean, double *var)
{
	const rt_bn_p *p = j->p;
	double s1[RT_CBLOCK] = {0}, s2[RT_CBLOCK] = {0}, sh[RT_CBLOCK] = {0};
	for (int c = 0; c < nb; c++)
		sh[c] = j->x[c0 + c];
	for (int i = 0; i < p->m; i++) {
		const float *row = j->x + (size_t)i * p->ldx + c0;
		for (int c = 0; c < nb; c++) {
			double d = (double)row[c] - sh[c];
			s1[c] += d;
			s2[c] += d * d;
		}
	}
	for (int c = 0; c < nb; c++) {
		double md = s1[c] / p->m, v = s2[c] / p->m - md * md;
		mean[c] = sh[c] + md;
		var[c] = v > 0.0 ? v : 0.0;
	}
}

/* y = act(x a + b) per channel, a and b folding the statistics and the affine. */
RT_INLINE void bn_apply_act(const bn_job *j, int c0, int nb, rt_act act)
{
	const rt_bn_p *p = j->p;
	float a[RT_CBLOCK], b[RT_CBLOCK];
	for (int c = 0; c < nb; c++) {
		a[c] = j->gamma[c0 + c] * j->save_invstd[c0 + c];
		b[c] = j->beta[c0 + c] - j->save_mean[c0 + c] * a[c];
	}
	for (int i = 0; i < p->m; i++) {
		const float *row = j->x + (size_t)i * p->ldx + c0;
		float *out = j->y + (size_t)i * p->ldx + c0;
		for (int c = 0; c < nb; c++)
			out[c] = act_f(act, row[c] * a[c] + b[c]);
	}
}

RT_INLINE void bn_apply_nb(const bn_job *j, int c0, int nb)
{
	switch (j->act) {
	case RT_ACT_RELU:
		bn_apply_act(j, c0, nb, RT_ACT_RELU);
		break;
	case RT_ACT_HSWISH:
		bn_apply_act(j, c0, nb, RT_ACT_HSWISH);
		break;
	default:
		bn_apply_act(j, c0, nb, RT_ACT_NONE);
		break;
	}
}

/*
 * bn_apply and bn_bwd_block run on a whole block (nb a constant RT_CBLOCK:
 * the loop over a row's channels becomes whole vectors, with no per-row
 * set-up for a trip count) or on a last partial block; each channel is its
 * own lane either way, so both compute the same values.  (bn_stats, whose
 * sums are in double, measured no faster so.)
 */
RT_KERNEL static void bn_apply(const bn_job *j, int c0, int nb)
{
	if (nb == RT_CBLOCK)
		bn_apply_nb(j, c0, RT_CBLOCK);
	else
		bn_apply_nb(j, c0, nb);
}

static void bn_fwd_blocks(void *ctx, int64_t b, int64_t e)
{
	const bn_job *j = ctx;
	const rt_bn_p *p = j->p;
	for (int64_t blk = b; blk < e; blk++) {
		int c0 = (int)blk * RT_CBLOCK;
		int nb = p->c - c0 < RT_CBLOCK ? p->c - c0 : RT_CBLOCK;
		if (p->mode == RT_BN_MODE_EVAL) {
			for (int c = c0; c < c0 + nb; c++) {
				j->save_mean[c] = j->running_mean[c];
				j->save_invstd[c] = (float)(1.0 / sqrt((double)j->running_var[c] + p->eps));
			}
		} else {
			double mean[RT_CBLOCK], var[RT_CBLOCK];
			bn_stats(j, c0, nb, mean, var);
			double unbias = p->m > 1 ? (double)p->m / (p->m - 1) : 1.0;
			for (int c = 0; c < nb; c++) {
				int ch = c0 + c;
				j->save_mean[ch] = (float)mean[c];
				j->save_invstd[ch] = (float)(1.0 / sqrt(var[c] + p->eps));
				double uv = var[c] * unbias;
				if (p->mode == RT_BN_MODE_TRAIN) {
					double mo = p->momentum;
					j->running_mean[ch] =
						(float)((1.0 - mo) * j->running_mean[ch] + mo * mean[c]);
					j->running_var[ch] =
						(float)((1.0 - mo) * j->running_var[ch] + mo * uv);
				} else {
					double bs = (double)p->batches_seen;
					j->running_mean[ch] =
						(float)((bs * j->running_mean[ch] + mean[c]) / (bs + 1.0));
					j->running_var[ch] =
						(float)((bs * j->running_var[ch] + uv) / (bs + 1.0));
				}
			}
		}
		bn_apply(j, c0, nb);
	}
}

static void bn_check(const rt_bn_p *p)
{
	assert(p->m > 0 && p->c > 0 && p->ldx >= p->c && p->eps > 0.0f);
	assert(p->mode >= 0 && p->mode < RT_BN_MODE_COUNT);
	assert(p->mode != RT_BN_MODE_RECAL || p->batches_seen >= 0);
}

void rt_bn_act_forward(const rt_bn_p *p, rt_act act, const float *x, const float *gamma,
		       const float *beta, float *running_mean, float *running_var,
		       float *save_mean, float *save_invstd, float *y)
{
	bn_check(p);
	assert(act >= 0 && act < RT_ACT_COUNT);
	bn_job j = {.p = p, .act = act, .x = x, .gamma = gamma, .beta = beta,
		    .running_mean = running_mean, .running_var = running_var,
		    .save_mean = save_mean, .save_invstd = save_invstd, .y = y};
	int64_t blocks = (p->c + RT_CBLOCK - 1) / RT_CBLOCK;
	rt_op_parallel(blocks, (int64_t)p->m * p->c * 3, bn_fwd_blocks, &j);
}

void rt_bn_forward(const rt_bn_p *p, const float *x, const float *gamma,
		   const float *beta, float *running_mean, float *running_var,
		   float *save_mean, float *save_invstd, float *y)
{
	rt_bn_act_forward(p, RT_ACT_NONE, x, gamma, beta, running_mean, running_var, save_mean,
			  save_invstd, y);
}

/*
 * Two passes over rows: the sums of g and g xhat, then dx.  With an
 * activation, g = dy act'(xhat gamma + beta) is recomputed in each pass
 * from x and the saved statistics (the forward did not store the BN output).
 */
RT_INLINE void bn_bwd_act(const bn_job *j, int c0, int nb, rt_act act)
{
	const rt_bn_p *p = j->p;
	const float *mu = j->bwd_mean + c0, *is = j->bwd_invstd + c0;
	float A[RT_CBLOCK], B[RT_CBLOCK];
	for (int c = 0; c < nb; c++) { /* the forward's fold: BN out = x A + B */
		A[c] = j->gamma[c0 + c] * is[c];
		B[c] = act == RT_ACT_NONE ? 0.0f : j->beta[c0 + c] - mu[c] * A[c];
	}
	double sdy[RT_CBLOCK] = {0}, sdyx[RT_CBLOCK] = {0};
	for (int i = 0; i < p->m; i++) {
		const float *xr = j->x + (size_t)i * p->ldx + c0;
		const float *gr = j->dy + (size_t)i * p->ldx + c0;
		for (int c = 0; c < nb; c++) {
			float g = gr[c] * act_d(act, xr[c] * A[c] + B[c]);
			sdy[c] += g;
			sdyx[c] += (double)g * ((xr[c] - mu[c]) * is[c]);
		}
	}
	for (int c = 0; c < nb; c++) {
		if (j->dgamma != NULL)
			j->dgamma[c0 + c] += (float)sdyx[c];
		if (j->dbeta != NULL)
			j->dbeta[c0 + c] += (float)sdy[c];
	}
	if (j->dx == NULL)
		return;
	float mdy[RT_CBLOCK], mdyx[RT_CBLOCK];
	int batch = p->mode != RT_BN_MODE_EVAL;
	for (int c = 0; c < nb; c++) {
		mdy[c] = batch ? (float)(sdy[c] / p->m) : 0.0f;
		mdyx[c] = batch ? (float)(sdyx[c] / p->m) : 0.0f;
	}
	for (int i = 0; i < p->m; i++) {
		const float *xr = j->x + (size_t)i * p->ldx + c0;
		const float *gr = j->dy + (size_t)i * p->ldx + c0;
		float *dr = j->dx + (size_t)i * p->ldx + c0;
		for (int c = 0; c < nb; c++) {
			float g = gr[c] * act_d(act, xr[c] * A[c] + B[c]);
			float xhat = (xr[c] - mu[c]) * is[c];
			dr[c] = A[c] * (g - mdy[c] - xhat * mdyx[c]);
		}
	}
}

RT_INLINE void bn_bwd_nb(const bn_job *j, int c0, int nb)
{
	switch (j->act) {
	case RT_ACT_RELU:
		bn_bwd_act(j, c0, nb, RT_ACT_RELU);
		break;
	case RT_ACT_HSWISH:
		bn_bwd_act(j, c0, nb, RT_ACT_HSWISH);
		break;
	default:
		bn_bwd_act(j, c0, nb, RT_ACT_NONE);
		break;
	}
}

RT_KERNEL static void bn_bwd_block(const bn_job *j, int c0, int nb)
{
	if (nb == RT_CBLOCK)
		bn_bwd_nb(j, c0, RT_CBLOCK);
	else
		bn_bwd_nb(j, c0, nb);
}

static void bn_bwd_blocks(void *ctx, int64_t b, int64_t e)
{
	const bn_job *j = ctx;
	for (int64_t blk = b; blk < e; blk++) {
		int c0 = (int)blk * RT_CBLOCK;
		int nb = j->p->c - c0 < RT_CBLOCK ? j->p->c - c0 : RT_CBLOCK;
		bn_bwd_block(j, c0, nb);
	}
}

void rt_bn_act_backward(const rt_bn_p *p, rt_act act, const float *x, const float *gamma,
			const float *beta, const float *save_mean, const float *save_invstd,
			const float *dy, float *dx, float *dgamma, float *dbeta)
{
	bn_check(p);
	assert(act >= 0 && act < RT_ACT_COUNT);
	assert(act == RT_ACT_NONE || beta != NULL);
	bn_job j = {.p = p, .act = act, .x = x, .gamma = gamma, .beta = beta, .dy = dy,
		    .bwd_mean = save_mean, .bwd_invstd = save_invstd,
		    .dx = dx, .dgamma = dgamma, .dbeta = dbeta};
	int64_t blocks = (p->c + RT_CBLOCK - 1) / RT_CBLOCK;
	rt_op_parallel(blocks, (int64_t)p->m * p->c * 3, bn_bwd_blocks, &j);
}

void rt_bn_backward(const rt_bn_p *p, const float *x, const float *gamma,
		    const float *save_mean, const float *save_invstd,
		    const float *dy, float *dx, float *dgamma, float *dbeta)
{
	rt_bn_act_backward(p, RT_ACT_NONE, x, gamma, NULL, save_mean, save_invstd, dy, dx,
			   dgamma, dbeta);
}
