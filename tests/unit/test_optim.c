/*
 * test_optim.c — SGD (momentum, Nesterov, coupled and decoupled weight
 * decay, no-decay parameters) and the learning rate schedule, against values
 * worked out by hand and against torch.optim.SGD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "runtime/optim.h"
#include "util_near.h"

#define near(a, b) assert_near(a, b, 1e-6 * (fabs(b) + 1e-3))

static rt_sgd sgd(double mu, double wd, int nesterov, int decoupled)
{
	rt_sgd o = {.momentum = mu, .wd = wd, .nesterov = nesterov, .decoupled = decoupled};
	return o;
}

/* One scalar parameter, `steps` steps with a constant gradient. */
static float scalar_run(rt_sgd o, float w0, float g, int no_decay, int steps, double lr)
{
	float w = w0, m = 0.0f;
	rt_param p = {.w = &w, .g = &g, .m = &m, .n = 1, .no_decay = no_decay};
	for (int i = 0; i < steps; i++)
		rt_sgd_step(&o, &p, 1, lr);
	return w;
}

static void test_sgd_by_hand(void **state)
{
	(void)state;
	/* Plain: w = 1 - 0.1 * 0.5. */
	near(scalar_run(sgd(0, 0, 0, 0), 1.0f, 0.5f, 0, 1, 0.1), 0.95);
	/* L2: g = 0.5 + 0.1 * 2 = 0.7; w = 2 - 0.07. */
	near(scalar_run(sgd(0, 0.1, 0, 0), 2.0f, 0.5f, 0, 1, 0.1), 1.93);
	/* ...but not on a no-decay parameter. */
	near(scalar_run(sgd(0, 0.1, 0, 0), 2.0f, 0.5f, 1, 1, 0.1), 1.95);
	/* Momentum 0.9, g = 1: m = 1, w = 0.9; m = 1.9, w = 0.71. */
	near(scalar_run(sgd(0.9, 0, 0, 0), 1.0f, 1.0f, 0, 2, 0.1), 0.71);
	/* Nesterov: m = 1, d = 1.9, w = 0.81; m = 1.9, d = 2.71, w = 0.539. */
	near(scalar_run(sgd(0.9, 0, 1, 0), 1.0f, 1.0f, 0, 1, 0.1), 0.81);
	near(scalar_run(sgd(0.9, 0, 1, 0), 1.0f, 1.0f, 0, 2, 0.1), 0.539);
	/* Coupled decay with momentum, w = 2, g = 0.5, wd = 0.1, lr = 0.1:
	 *   g = 0.7, m = 0.7, w = 1.93;
	 *   g = 0.5 + 0.193 = 0.693, m = 0.63 + 0.693 = 1.323, w = 1.7977. */
	near(scalar_run(sgd(0.9, 0.1, 0, 0), 2.0f, 0.5f, 0, 2, 0.1), 1.7977);
	/* Decoupled: w = 2 * 0.99 - 0.05 = 1.93, m = 0.5;
	 *   m = 0.95, w = 1.93 * 0.99 - 0.095 = 1.8157. */
	near(scalar_run(sgd(0.9, 0.1, 0, 1), 2.0f, 0.5f, 0, 2, 0.1), 1.8157);
	/* Momentum 0 never touches the (absent) buffer. */
	float w = 1.0f, g = 1.0f;
	rt_param p = {.w = &w, .g = &g, .m = NULL, .n = 1};
	rt_sgd o = sgd(0, 0, 1, 0);
	rt_sgd_step(&o, &p, 1, 0.5);
	near(w, 0.5);
	assert_true(g == 1.0f); /* the gradient is left alone */
}

/* The loss of the torch reference, written out: for w (weight decay on),
 * L = sum c_i w_i^2 + w_0 w_1, c = (0.5, 1, 2, 0.1); for b (no decay),
 * 3 sum b_j^2 + b_0. */
static void grads(const float *w, const float *b, float *gw, float *gb)
{
	const float c[4] = {0.5f, 1.0f, 2.0f, 0.1f};
	for (int i = 0; i < 4; i++)
		gw[i] = 2.0f * c[i] * w[i];
	gw[0] += w[1];
	gw[1] += w[0];
	gb[0] = 6.0f * b[0] + 1.0f;
	gb[1] = 6.0f * b[1];
}

static void test_sgd_matches_torch(void **state)
{
	(void)state;
	/* Expected values printed by torch 1.13 (torch.optim.SGD, float32) for
	 * five steps at lr 0.05, 0.1, 0.1, 0.08, 0.02 from w = (1, -2, 0.5, 3),
	 * b = (0.25, -0.75); the decoupled case applied w *= 1 - lr * wd by
	 * hand before each step, as AdamW does.  To regenerate:
	 *
	 *   w = torch.tensor([1., -2., .5, 3.], requires_grad=True)
	 *   b = torch.tensor([.25, -.75], requires_grad=True)
	 *   opt = torch.optim.SGD([{'params': [w], 'weight_decay': 0 if dec else wd},
	 *                          {'params': [b], 'weight_decay': 0}],
	 *                         lr=0.1, momentum=mu, nesterov=nest)
	 *   for lr in lrs:
	 *       for g in opt.param_groups: g['lr'] = lr
	 *       opt.zero_grad()
	 *       ((w * w * torch.tensor([.5, 1., 2., .1])).sum() + w[0] * w[1]
	 *        + 3 * (b * b).sum() + b[0]).backward()
	 *       if dec:
	 *           with torch.no_grad(): w.mul_(1 - lr * wd)
	 *       opt.step()
	 *   print(w, b)
	 */
	struct {
		rt_sgd o;
		float want[6];
	} cases[] = {
		{{0.9, 1e-2, 1, 0},
		 {1.2480365f, -0.149244174f, -0.237045005f, 2.3248744f, -0.264830828f,
		  0.176695511f}},
		{{0.9, 1e-2, 0, 0},
		 {1.42372906f, -0.151256457f, -0.422204584f, 2.46943974f, -0.542373955f,
		  0.676273108f}},
		{{0.9, 5e-2, 1, 1},
		 {1.23987412f, -0.147996172f, -0.235297963f, 2.31000376f, -0.264830828f,
		  0.176695511f}},
		{{0.0, 1e-2, 0, 0},
		 {1.18906915f, -1.22300673f, 0.0896051973f, 2.78558493f, -0.145312011f,
		  -0.0384383984f}},
	};
	const double lrs[5] = {0.05, 0.1, 0.1, 0.08, 0.02};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		float w[4] = {1.0f, -2.0f, 0.5f, 3.0f}, b[2] = {0.25f, -0.75f};
		float gw[4], gb[2], mw[4] = {0}, mb[2] = {0};
		rt_param p[2] = {{.w = w, .g = gw, .m = mw, .n = 4},
				 {.w = b, .g = gb, .m = mb, .n = 2, .no_decay = 1}};
		for (int s = 0; s < 5; s++) {
			grads(w, b, gw, gb);
			rt_sgd_step(&cases[k].o, p, 2, lrs[s]);
		}
		for (int i = 0; i < 4; i++)
			assert_near(w[i], cases[k].want[i], 2e-6);
		for (int i = 0; i < 2; i++)
			assert_near(b[i], cases[k].want[4 + i], 2e-6);
	}
}

static void test_sgd_from_recipe(void **state)
{
	(void)state;
	ir_recipe r;
	memset(&r, 0, sizeof r);
	r.momentum = 0.9;
	r.wd = 4e-5;
	r.nesterov = 1;
	r.wd_decoupled = 1;
	rt_sgd o;
	rt_sgd_from_recipe(&o, &r);
	assert_true(o.momentum == 0.9 && o.wd == 4e-5 && o.nesterov == 1 && o.decoupled == 1);
}

static void test_schedule_cosine(void **state)
{
	(void)state;
	ir_recipe r;
	memset(&r, 0, sizeof r);
	r.lr = 0.1;
	r.epochs = 10;
	r.warmup = 1;
	r.schedule = IR_SCHEDULE_COSINE;
	rt_sched s;
	rt_sched_from_recipe(&s, &r, 10); /* W = 10 steps, T = 100 */
	near(rt_sched_lr(&s, 0), 0.01);   /* 0.1 * 1 / 10 */
	near(rt_sched_lr(&s, 4), 0.05);
	near(rt_sched_lr(&s, 9), 0.1);
	near(rt_sched_lr(&s, 10), 0.1);   /* cosine from p = 0 */
	near(rt_sched_lr(&s, 55), 0.05);  /* p = 1/2 */
	near(rt_sched_lr(&s, 40), 0.075); /* p = 1/3: 0.05 * (1 + 0.5) */
	near(rt_sched_lr(&s, 70), 0.025); /* p = 2/3 */
	near(rt_sched_lr(&s, 100), 0.0);
	near(rt_sched_lr(&s, 150), 0.0); /* past the end: stays at 0 */
	/* Fractional warm-up: W = 2.5 steps; step 2 would be 3 / 2.5, capped. */
	r.warmup = 0.25;
	rt_sched_from_recipe(&s, &r, 10);
	near(rt_sched_lr(&s, 0), 0.04);
	near(rt_sched_lr(&s, 1), 0.08);
	near(rt_sched_lr(&s, 2), 0.1);
	/* p = (3 - 2.5) / 97.5 */
	near(rt_sched_lr(&s, 3), 0.05 * (1 + cos(3.14159265358979 * 0.5 / 97.5)));
	/* No warm-up: the cosine starts at step 0. */
	r.warmup = 0;
	rt_sched_from_recipe(&s, &r, 10);
	near(rt_sched_lr(&s, 0), 0.1);
	near(rt_sched_lr(&s, 50), 0.05);
}

static void test_schedule_constant(void **state)
{
	(void)state;
	ir_recipe r;
	memset(&r, 0, sizeof r);
	r.lr = 0.2;
	r.epochs = 3;
	r.schedule = IR_SCHEDULE_CONSTANT;
	rt_sched s;
	rt_sched_from_recipe(&s, &r, 7);
	near(rt_sched_lr(&s, 0), 0.2);
	near(rt_sched_lr(&s, 20), 0.2);
	r.warmup = 2; /* 14 steps of warm-up, then flat */
	rt_sched_from_recipe(&s, &r, 7);
	near(rt_sched_lr(&s, 6), 0.1);
	near(rt_sched_lr(&s, 13), 0.2);
	near(rt_sched_lr(&s, 18), 0.2);
	/* Warm-up as long as training: cosine never starts. */
	r.schedule = IR_SCHEDULE_COSINE;
	r.warmup = 3;
	rt_sched_from_recipe(&s, &r, 7);
	near(rt_sched_lr(&s, 20), 0.2);
	near(rt_sched_lr(&s, 30), 0.2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sgd_by_hand),
		cmocka_unit_test(test_sgd_matches_torch),
		cmocka_unit_test(test_sgd_from_recipe),
		cmocka_unit_test(test_schedule_cosine),
		cmocka_unit_test(test_schedule_constant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
