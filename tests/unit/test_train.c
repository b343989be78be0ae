/*
 * test_train.c — the trainer on a tiny space and 2,000 Fashion-MNIST
 * images: sandwich training with in-place distillation lifts both the
 * largest and the smallest subnet far above chance; fixed-subnet training
 * lowers the loss; OFA's channel re-sorting keeps the largest subnet's
 * function; progressive-shrinking phases split the epochs as documented;
 * a run cancelled mid-way then resumed from its checkpoint ends with
 * exactly the weights of an uninterrupted run; the three ways the smaller
 * subnets learn (distill) add up as documented; a sandwich step's subnets
 * run side by side on one lane per thread to the same weights as one after
 * another; and a fixed subnet's key ignores the recipe's supernet-only
 * settings.
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

#include "runtime/train.h"
#include "tests/unit/util_arch.h"

#define SPACE                                                                                  \
	"import \"std/datasets.arch\";\n"                                                      \
	"dataset small from fashion_mnist { train_limit = 2000; holdout = 500; }\n"            \
	"space tiny {\n"                                                                       \
	"    input channels = 1;\n"                                                            \
	"    resolution in {16, 20};\n"                                                        \
	"    stem conv(kernel = 3, out = 8, stride = 2, act = relu);\n"                        \
	"    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 4}, "    \
	"out = 16, stride = 2, se = true); }\n"                                                \
	"    head pool, fc(classes);\n"                                                        \
	"}\n"                                                                                  \
	"space mixed {\n"                                                                      \
	"    input channels = 1;\n"                                                            \
	"    resolution in {16, 20};\n"                                                        \
	"    stem conv(kernel = 3, out = 8, stride = 2, act = relu);\n"                        \
	"    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand = 1, out = 8, "  \
	"stride = 1); }\n"                                                                     \
	"    stage s2 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 4}, "    \
	"out = 16, stride = 2, se = true); }\n"                                                \
	"    stage r1 { depth in 1..2; block = residual(kernel = 3, out in {8, 16}, "           \
	"stride = 1); }\n"                                                                     \
	"    head pool, fc(classes);\n"                                                        \
	"}\n"                                                                                  \
	"space wide {\n"                                                                       \
	"    input channels = 1;\n"                                                            \
	"    resolution in {12, 16};\n"                                                        \
	"    stem conv(kernel = 3, out = 12, stride = 2, act = relu);\n"                       \
	"    stage s1 { depth in 1..3; block = mbconv(kernel in {3, 5}, expand in {2, 3}, "    \
	"out in {8, 12}, stride = 1, se = true); }\n"                                          \
	"    stage s2 { depth in 1..2; block = mbconv(kernel = 3, expand = 1, out in {12, 16}, "\
	"stride = 2, se = true); }\n"                                                          \
	"    stage r1 { depth in 1..2; block = residual(kernel = 3, out in {16, 24}, "          \
	"stride = 1); }\n"                                                                     \
	"    head pool, fc(out = 32, act = relu), fc(classes);\n"                              \
	"}\n"

static const char *src =
	SPACE "task sandwich { data = small; space = tiny; train { epochs = 6; batch = 50;\n"
	      "  optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true, wd = 1e-4);\n"
	      "  schedule = cosine(warmup = 0.5); sampler = sandwich(3); distill = inplace;\n"
	      "  calib = 500; } }\n"
	      "task shrink { data = small; space = wide; train { epochs = 5; batch = 100;\n"
	      "  sampler = sandwich(3); distill = inplace;\n"
	      "  shrink = progressive(kernel, expand, width); calib = 200; } }\n"
	      "task fixed { data = small; space = tiny; train { epochs = 3; batch = 50;\n"
	      "  label_smoothing = 0.1; } }\n"
	      "task d_none { data = small; space = tiny; train { epochs = 1; batch = 50;\n"
	      "  label_smoothing = 0.1; sampler = sandwich(2); distill = none; } }\n"
	      "task d_soft { data = small; space = tiny; train { epochs = 1; batch = 50;\n"
	      "  label_smoothing = 0.1; sampler = sandwich(2); distill = inplace; } }\n"
	      "task d_both { data = small; space = tiny; train { epochs = 1; batch = 50;\n"
	      "  label_smoothing = 0.1; sampler = sandwich(2); distill = inplace(labels = true); } }\n"
	      "task d_max { data = small; space = tiny; train { epochs = 1; batch = 50;\n"
	      "  label_smoothing = 0.1; sampler = max; distill = none; } }\n"
	      "task lanes { data = small; space = mixed; train { epochs = 1; batch = 50;\n"
	      "  label_smoothing = 0.1; sampler = sandwich(5); distill = inplace(labels = true); } }\n";

/* The callback's record of a run. */
typedef struct run_log {
	double first_loss, last_loss; /* mean over the first / last 10 steps */
	long nsteps, ncheckpoints;
	int nepoch_end;
	double eval_acc;
	int phases_seen[8];
	long cancel_at;   /* set *cancel at this global step, 0 = never */
	atomic_int *cancel;
	double loss_ring[10];
} run_log;

static void on_event(void *ctx, const rt_train_event *ev)
{
	run_log *l = ctx;
	switch (ev->kind) {
	case RT_TRAIN_EVENT_EPOCH_BEGIN:
		assert_true(ev->phase >= 0 && ev->phase < 8);
		l->phases_seen[ev->phase]++;
		break;
	case RT_TRAIN_EVENT_STEP:
		assert_true(isfinite(ev->loss));
		assert_true(ev->images > 0);
		l->loss_ring[l->nsteps % 10] = ev->loss;
		l->nsteps++;
		if (l->nsteps == 10) {
			l->first_loss = 0;
			for (int i = 0; i < 10; i++)
				l->first_loss += l->loss_ring[i] / 10;
		}
		if (l->cancel && ev->global_step == l->cancel_at)
			atomic_store(l->cancel, 1);
		break;
	case RT_TRAIN_EVENT_EPOCH_END:
		l->nepoch_end++;
		l->eval_acc = ev->eval_acc;
		break;
	case RT_TRAIN_EVENT_CHECKPOINT:
		l->ncheckpoints++;
		break;
	default:
		fail();
	}
	l->last_loss = 0;
	for (int i = 0; i < 10; i++)
		l->last_loss += l->loss_ring[i] / 10;
}

/* The module and the data set every test shares (loaded once). */
typedef struct fixture {
	ir_module *m;
	rt_data *data;
} fixture;

static int group_setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f || !(f->m = ua_compile(src)))
		return -1;
	char err[512];
	f->data = rt_data_load(&f->m->datasets[f->m->tasks[0].dataset], err, sizeof err);
	if (!f->data) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	fixture *f = *state;
	rt_data_free(f->data);
	ir_module_free(f->m);
	free(f);
	return 0;
}

static rt_trainer *trainer(const fixture *f, const char *task, rt_train_opts *o, run_log *l)
{
	if (o->threads < 0)
		o->threads = 2;
	o->cb = on_event;
	o->cb_ctx = l;
	o->data = f->data;
	char err[512];
	int ti = ir_module_find_task(f->m, task);
	assert_true(ti >= 0);
	rt_trainer *t = rt_train_new(f->m, ti, o, err, sizeof err);
	if (!t)
		fail_msg("%s", err);
	return t;
}

static void test_sandwich(void **state)
{
	fixture *f = *state;
	const ir_module *m = f->m;
	rt_train_opts o;
	rt_train_opts_init(&o);
	run_log l = {0};
	rt_trainer *t = trainer(f, "sandwich", &o, &l);
	assert_int_equal(rt_train_nphases(t), 1);
	char err[256];
	assert_int_equal(rt_train_run(t, err, sizeof err), RT_TRAIN_DONE);
	assert_int_equal(l.nsteps, 6 * 30);
	assert_int_equal(l.nepoch_end, 6);
	assert_int_equal(l.ncheckpoints, 0);
	const ir_space *s = &m->spaces[m->tasks[ir_module_find_task(m, "sandwich")].space];
	sn_subnet mx, mn;
	sn_subnet_max(s, &mx);
	sn_subnet_min(s, &mn);
	double amax, amin, loss;
	assert_int_equal(rt_train_eval(t, &mx, RT_SPLIT_HOLDOUT, &amax, &loss), 0);
	assert_int_equal(rt_train_eval(t, &mn, RT_SPLIT_HOLDOUT, &amin, &loss), 0);
	print_message("# sandwich: holdout max %.3f min %.3f (chance 0.1)\n", amax, amin);
	assert_true(amax > 0.6);
	assert_true(amin > 0.5);
	assert_true(fabs(l.eval_acc - amax) < 1e-12); /* the epoch's evaluation */
	rt_train_free(t);
}

static void test_fixed(void **state)
{
	fixture *f = *state;
	const ir_module *m = f->m;
	sn_subnet sub;
	char err[256];
	assert_int_equal(sn_subnet_parse_spec(&m->spaces[m->tasks[ir_module_find_task(m, "fixed")].space], "random:3", &sub, err, sizeof err), 0);
	rt_train_opts o;
	rt_train_opts_init(&o);
	o.subnet = &sub;
	run_log l = {0};
	rt_trainer *t = trainer(f, "fixed", &o, &l);
	/* Fixed subnets have their own checkpoint key. */
	assert_memory_not_equal(rt_train_ckpt_key(t), m->tasks[ir_module_find_task(m, "fixed")].supernet_key, 16);
	assert_int_equal(rt_train_run(t, err, sizeof err), RT_TRAIN_DONE);
	print_message("# fixed: loss %.3f -> %.3f, holdout %.3f\n", l.first_loss, l.last_loss,
		      l.eval_acc);
	assert_true(l.last_loss < 0.75 * l.first_loss);
	assert_true(l.eval_acc > 0.5);
	rt_train_free(t);
}

/* Re-sorting by `sort` on space `name` keeps the largest subnet's logits
 * and moves a smaller subnet's; a second sort is a no-op. */
static void sort_check(const ir_module *m, const char *name, int (*sort)(sn_supernet *))
{
	const ir_space *s = NULL;
	for (int i = 0; i < m->nspaces; i++)
		if (!strcmp(m->spaces[i].name, name))
			s = &m->spaces[i];
	assert_non_null(s);
	char err[256];
	sn_supernet *sn = sn_supernet_new(s, 10, 28, 28, 4, 7, err, sizeof err);
	assert_non_null(sn);
	/* Perturbed weights (BN shifts, SE biases: every per-channel tensor
	 * matters) and running statistics measured on the input. */
	rt_rng r;
	rt_rng_seed(&r, 5);
	float *w = sn_supernet_weights(sn);
	size_t np = sn_supernet_nparams(sn);
	for (size_t i = 0; i < np; i++)
		w[i] += (float)(0.05 * rt_rng_normal(&r));
	float x[4 * 28 * 28];
	for (int i = 0; i < 4 * 28 * 28; i++)
		x[i] = (float)rt_rng_normal(&r);
	sn_subnet mx, mid;
	sn_subnet_max(s, &mx);
	sn_subnet_min(s, &mid);
	mid.g[s->g_resolution] = mx.g[s->g_resolution];
	sn_supernet_set_subnet(sn, &mx);
	sn_supernet_recal_begin(sn);
	sn_supernet_forward(sn, x, 4, RT_BN_MODE_RECAL);
	float before[40], after[40], small_before[40], small_after[40];
	sn_supernet_set_subnet(sn, &mx);
	memcpy(before, sn_supernet_forward(sn, x, 4, RT_BN_MODE_EVAL), sizeof before);
	sn_supernet_set_subnet(sn, &mid);
	memcpy(small_before, sn_supernet_forward(sn, x, 4, RT_BN_MODE_EVAL), sizeof before);

	float *copy = malloc(np * sizeof(float));
	assert_non_null(copy);
	memcpy(copy, w, np * sizeof(float));
	assert_int_equal(sort(sn), 0);
	assert_memory_not_equal(copy, w, np * sizeof(float));

	sn_supernet_set_subnet(sn, &mx);
	memcpy(after, sn_supernet_forward(sn, x, 4, RT_BN_MODE_EVAL), sizeof after);
	sn_supernet_set_subnet(sn, &mid);
	memcpy(small_after, sn_supernet_forward(sn, x, 4, RT_BN_MODE_EVAL), sizeof after);
	/* Largest difference relative to the largest logit: sums run in
	 * another order after the permutation, so equal up to rounding. */
	double worst = 0, big = 0, moved = 0, size = 0;
	for (int i = 0; i < 40; i++) {
		worst = fmax(worst, fabs(before[i] - after[i]));
		big = fmax(big, fabs(before[i]));
		moved += fabs(small_before[i] - small_after[i]);
		size += fabs(small_before[i]);
	}
	worst /= big;
	print_message("# %s: largest subnet's logits move by %.1e (relative)\n", name, worst);
	assert_true(worst < 1e-5);
	assert_true(moved > 1e-2 * size); /* a smaller expansion now keeps other channels */

	/* Sorted already: a second sort changes nothing. */
	memcpy(copy, w, np * sizeof(float));
	assert_int_equal(sort(sn), 0);
	assert_memory_equal(copy, w, np * sizeof(float));
	free(copy);
	sn_supernet_free(sn);
}

static void test_sort_keeps_function(void **state)
{
	const fixture *f = *state;
	sort_check(f->m, "tiny", sn_supernet_sort_channels);
	/* an MBCONV without expand conv (nothing to sort), and RESIDUAL blocks */
	sort_check(f->m, "mixed", sn_supernet_sort_channels);
	/* output widths: a chain of identity blocks after the stem, MBCONV
	 * readers with and without expand conv, RESIDUAL blocks with and
	 * without projection, the head past the pool */
	sort_check(f->m, "wide", sn_supernet_sort_widths);
}

/* Final weights of an uninterrupted run, then of a run cancelled at global
 * step 23 (mid-epoch, in the "kernel" phase) and resumed through the
 * channel re-sorting of the "expand" and "width" phases: identical. */
static void test_resume_exact(void **state)
{
	fixture *f = *state;
	char path[64], err[512];
	snprintf(path, sizeof path, "/tmp/test_train.%ld/ck/checkpoint", (long)getpid());

	rt_train_opts o;
	rt_train_opts_init(&o);
	o.eval_each_epoch = 0; /* evaluation is not what this test is about */
	run_log l = {0};
	rt_trainer *a = trainer(f, "shrink", &o, &l);
	assert_int_equal(rt_train_nphases(a), 4);
	assert_string_equal(rt_train_phase_name(a, 0), "full");
	assert_string_equal(rt_train_phase_name(a, 2), "expand");
	assert_string_equal(rt_train_phase_name(a, 3), "width");
	/* 5 epochs over 4 phases: the remainder goes to the last. */
	assert_int_equal(rt_train_phase_epochs(a, 0), 1);
	assert_int_equal(rt_train_phase_epochs(a, 2), 1);
	assert_int_equal(rt_train_phase_epochs(a, 3), 2);
	assert_int_equal(rt_train_run(a, err, sizeof err), RT_TRAIN_DONE);
	assert_int_equal(l.phases_seen[3], 2);
	size_t np = sn_supernet_nparams(rt_train_supernet(a));
	const float *wa = sn_supernet_weights(rt_train_supernet(a));

	atomic_int cancel = 0;
	run_log l1 = {.cancel = &cancel, .cancel_at = 23};
	rt_train_opts_init(&o);
	o.eval_each_epoch = 0;
	o.checkpoint = path;
	o.checkpoint_every = 10;
	o.cancel = &cancel;
	rt_trainer *b = trainer(f, "shrink", &o, &l1);
	assert_int_equal(rt_train_run(b, err, sizeof err), RT_TRAIN_CANCELLED);
	rt_ckpt_state pos;
	rt_train_position(b, &pos);
	assert_int_equal(pos.global_step, 23);
	assert_int_equal(pos.epoch, 1);
	assert_int_equal(pos.phase, 1);
	/* Checkpoints at steps 10, 15 (end of epoch 1), 20, and on cancel. */
	assert_int_equal(l1.ncheckpoints, 4);
	rt_train_free(b);

	run_log l2 = {0};
	rt_train_opts_init(&o);
	o.eval_each_epoch = 0;
	o.checkpoint = path;
	o.resume = 1;
	rt_trainer *c = trainer(f, "shrink", &o, &l2);
	assert_int_equal(rt_train_resumed(c), 1);
	assert_int_equal(rt_train_run(c, err, sizeof err), RT_TRAIN_DONE);
	assert_int_equal(l1.nsteps + l2.nsteps, l.nsteps);
	assert_memory_equal(sn_supernet_weights(rt_train_supernet(c)), wa, np * sizeof(float));
	rt_train_free(c);

	/* A finished checkpoint resumes to nothing left to do. */
	run_log l3 = {0};
	c = trainer(f, "shrink", &o, &l3);
	assert_int_equal(rt_train_run(c, err, sizeof err), RT_TRAIN_DONE);
	assert_int_equal(l3.nsteps, 0);
	rt_train_free(c);
	rt_train_free(a);

	unlink(path);
	snprintf(path, sizeof path, "/tmp/test_train.%ld/ck", (long)getpid());
	rmdir(path);
	snprintf(path, sizeof path, "/tmp/test_train.%ld", (long)getpid());
	rmdir(path);
}

/* The weights after the first `steps` steps of task `name` on `threads`
 * threads (np of them, malloc'd). */
static float *after_steps(const fixture *f, const char *name, long steps, int threads,
			  size_t *np)
{
	atomic_int cancel = 0;
	run_log l = {.cancel = &cancel, .cancel_at = steps};
	rt_train_opts o;
	rt_train_opts_init(&o);
	o.eval_each_epoch = 0;
	o.cancel = &cancel;
	o.threads = threads;
	rt_trainer *t = trainer(f, name, &o, &l);
	char err[256];
	assert_int_equal(rt_train_run(t, err, sizeof err), RT_TRAIN_CANCELLED);
	assert_int_equal(l.nsteps, steps);
	*np = sn_supernet_nparams(rt_train_supernet(t));
	float *w = malloc(*np * sizeof(float));
	assert_non_null(w);
	memcpy(w, sn_supernet_weights(rt_train_supernet(t)), *np * sizeof(float));
	rt_train_free(t);
	return w;
}

static float *first_step(const fixture *f, const char *name, size_t *np)
{
	return after_steps(f, name, 1, 2, np);
}

/*
 * A first step is linear in the summed gradient (same initial weights,
 * batch and learning rate in every task), and sandwich(2) trains the
 * largest and the smallest subnet.  The smallest learns from the labels
 * (none), from the largest's soft labels (inplace), or from both
 * (inplace(labels = true)), so both - none = inplace - max alone.
 */
static void test_distill_modes(void **state)
{
	fixture *f = *state;
	size_t n, n1;
	float *none = first_step(f, "d_none", &n), *soft = first_step(f, "d_soft", &n1);
	assert_int_equal(n1, n);
	float *both = first_step(f, "d_both", &n1), *max = first_step(f, "d_max", &n1);
	assert_int_equal(n1, n);
	double kd = 0, resid = 0, change = 0;
	for (size_t i = 0; i < n; i++) {
		double a = (double)both[i] - none[i], b = (double)soft[i] - max[i];
		kd += b * b;
		resid += (a - b) * (a - b);
		change += ((double)none[i] - soft[i]) * ((double)none[i] - soft[i]);
	}
	print_message("# distill: |soft labels' step| %.3g, |labels' - soft labels'| %.3g, "
		      "residual %.3g\n", sqrt(kd), sqrt(change), sqrt(resid));
	assert_true(kd > 0 && change > 0);
	assert_true(sqrt(resid) < 1e-2 * sqrt(kd)); /* float rounding of the weights */
	free(none);
	free(soft);
	free(both);
	free(max);
}

/*
 * sandwich(5) on 1, 2 and 3 threads: one lane runs the five subnets one
 * after another; two or three share out the largest's backward and the
 * other four (a replica each past the first) and add up their gradients.
 * The weights after 4 steps differ by float rounding only: a subnet's
 * gradient lost or counted twice moves them by lr * |g|, about 1e-3.
 */
static void test_lanes(void **state)
{
	fixture *f = *state;
	size_t n, n1;
	float *one = after_steps(f, "lanes", 4, 1, &n);
	for (int threads = 2; threads <= 3; threads++) {
		float *w = after_steps(f, "lanes", 4, threads, &n1);
		assert_int_equal(n1, n);
		double d = 0, moved = 0;
		for (size_t i = 0; i < n; i++)
			if (fabs((double)w[i] - one[i]) > d)
				d = fabs((double)w[i] - one[i]);
		float *w0 = after_steps(f, "lanes", 3, threads, &n1);
		for (size_t i = 0; i < n; i++)
			if (fabs((double)w[i] - w0[i]) > moved)
				moved = fabs((double)w[i] - w0[i]);
		print_message("# %d threads: weights within %.3g of one thread's (a step moves "
			      "them by up to %.3g)\n", threads, d, moved);
		assert_true(d < 1e-5);
		assert_true(moved > 1e-3);
		/* the same thread count gives the same weights, bit for bit */
		float *again = after_steps(f, "lanes", 4, threads, &n1);
		assert_memory_equal(again, w, n * sizeof(float));
		free(w);
		free(w0);
		free(again);
	}
	free(one);
}

/* A fixed subnet's checkpoint key ignores the settings it does not use
 * (sampler, distillation), not the ones it does (epochs, ...). */
static void test_fixed_key(void **state)
{
	fixture *f = *state;
	const ir_module *m = f->m;
	static const char *const same[] = {"d_none", "d_soft", "d_both", "d_max"};
	sn_subnet sub;
	char err[256];
	const ir_space *s = &m->spaces[m->tasks[ir_module_find_task(m, "d_none")].space];
	assert_int_equal(sn_subnet_parse_spec(s, "random:3", &sub, err, sizeof err), 0);
	uint8_t k0[16], k[16], sk0[16];
	rt_train_key(m, ir_module_find_task(m, same[0]), &sub, k0);
	rt_train_key(m, ir_module_find_task(m, same[0]), NULL, sk0);
	for (int i = 1; i < 4; i++) {
		int ti = ir_module_find_task(m, same[i]);
		rt_train_key(m, ti, &sub, k);
		assert_memory_equal(k, k0, 16);
		rt_train_key(m, ti, NULL, k); /* the supernets differ */
		assert_memory_not_equal(k, sk0, 16);
	}
	rt_train_key(m, ir_module_find_task(m, "fixed"), &sub, k); /* 3 epochs, not 1 */
	assert_memory_not_equal(k, k0, 16);
	sn_subnet_max(s, &sub);
	rt_train_key(m, ir_module_find_task(m, same[0]), &sub, k);
	assert_memory_not_equal(k, k0, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_keeps_function),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_resume_exact),
		cmocka_unit_test(test_sandwich),
		cmocka_unit_test(test_distill_modes),
		cmocka_unit_test(test_lanes),
		cmocka_unit_test(test_fixed_key),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
