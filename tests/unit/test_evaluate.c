/*
 * test_evaluate.c — batch-norm recalibration and evaluation of subnets on a
 * small synthetic data set: recalibration writes only the subnet's
 * statistics, is reproducible for a seed, weighs every image alike whatever
 * the batching; evaluation matches a per-example computation and changes
 * nothing; a model extracted after recalibration measures the same as the
 * subnet; misuse is refused with messages.
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

#include "runtime/evaluate.h"
#include "runtime/rng.h"
#include "runtime/threads.h"
#include "util_grad.h"
#include "util_supernet_fixture.h"

#define C 2
#define R 6
#define NCLS 3
#define NTRAIN 21
#define NTEST 11

/* A data set held in the test: random images, random labels; the holdout
 * split is empty. */
typedef struct fixture {
	rt_data data;
	ir_space *space;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	rt_rng rng;
	rt_rng_seed(&rng, 77);
	rt_data *d = &f->data;
	d->name = "synthetic";
	d->channels = C;
	d->height = d->width = R;
	d->nclasses = NCLS;
	d->example_size = (size_t)C * R * R;
	const int counts[RT_SPLIT_COUNT] = { NTRAIN, 0, NTEST };
	for (int s = 0; s < RT_SPLIT_COUNT; s++) {
		rt_data_part *p = &d->part[s];
		p->n = counts[s];
		p->x = ug_rand(&rng, (size_t)(p->n ? p->n : 1) * d->example_size, -1, 2);
		p->y = calloc((size_t)(p->n ? p->n : 1), sizeof(int));
		p->class_count = calloc(NCLS, sizeof(int));
		assert_true(p->y && p->class_count);
		for (int i = 0; i < p->n; i++) {
			p->y[i] = (int)rt_rng_below(&rng, NCLS);
			p->class_count[p->y[i]]++;
		}
	}
	f->space = tiny_space(C, R);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	for (int s = 0; s < RT_SPLIT_COUNT; s++) {
		free(f->data.part[s].x);
		free(f->data.part[s].y);
		free(f->data.part[s].class_count);
	}
	tiny_space_free(f->space);
	free(f);
	return 0;
}

static sn_supernet *supernet(const fixture *f, int max_batch)
{
	char err[256];
	sn_supernet *sn = sn_supernet_new(f->space, NCLS, R, R, max_batch, 9, err, sizeof err);
	assert_non_null(sn);
	return sn;
}

static void test_recal_writes_only_the_subnets_statistics(void **state)
{
	fixture *f = *state;
	sn_supernet *sn = supernet(f, 8);
	size_t np = sn_supernet_nparams(sn), ns = sn_supernet_nstats(sn);
	float *w0 = ug_copy(sn_supernet_weights(sn), np);
	float *st0 = ug_copy(sn_supernet_stats(sn), ns);
	sn_subnet sub;
	sn_subnet_min(f->space, &sub);
	char err[256];
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 10, 1, err, sizeof err), 10);
	assert_memory_equal(w0, sn_supernet_weights(sn), np * sizeof(float));
	const float *st = sn_supernet_stats(sn);
	size_t changed = 0;
	for (size_t i = 0; i < ns; i++)
		changed += st[i] != st0[i];
	/* the smallest subnet skips s1.b1 and s2.b1 and uses few channels */
	assert_true(changed > 0 && changed < ns / 2);

	/* the same seed gives the same statistics, another seed others */
	float *st1 = ug_copy(st, ns);
	memcpy(sn_supernet_stats(sn), st0, ns * sizeof(float));
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 10, 1, err, sizeof err), 10);
	assert_memory_equal(st1, sn_supernet_stats(sn), ns * sizeof(float));
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 10, 2, err, sizeof err), 10);
	assert_memory_not_equal(st1, sn_supernet_stats(sn), ns * sizeof(float));

	/* asking for more images than there are uses them all */
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 2000, 1, err, sizeof err), NTRAIN);
	free(st1);
	free(w0);
	free(st0);
	sn_supernet_free(sn);
}

/* With 21 images, batches of at most 8 become 7 + 7 + 7, so the stem's
 * running mean (the first statistics of the buffer) is the mean over all
 * images, as one batch of 21 gives it. */
static void test_recal_weighs_images_alike(void **state)
{
	fixture *f = *state;
	sn_supernet *a = supernet(f, 8), *b = supernet(f, 32);
	sn_subnet sub;
	sn_subnet_max(f->space, &sub);
	char err[256];
	assert_int_equal(rt_eval_recalibrate(a, &sub, &f->data, NTRAIN, 3, err, sizeof err), NTRAIN);
	assert_int_equal(rt_eval_recalibrate(b, &sub, &f->data, NTRAIN, 3, err, sizeof err), NTRAIN);
	const float *ma = sn_supernet_stats(a), *mb = sn_supernet_stats(b);
	for (int c = 0; c < 6; c++)
		assert_true(fabs(ma[c] - mb[c]) <= 1e-5 * (1 + fabs(mb[c])));
	assert_true(ma[0] != 0.0f);
	sn_supernet_free(a);
	sn_supernet_free(b);
}

static void test_eval_matches_per_example(void **state)
{
	fixture *f = *state;
	sn_supernet *sn = supernet(f, 4);
	char err[256];
	rt_rng rng;
	rt_rng_seed(&rng, 5);
	sn_subnet sub;
	sn_subnet_random(f->space, &rng, &sub);
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 16, 1, err, sizeof err), 16);
	size_t np = sn_supernet_nparams(sn), ns = sn_supernet_nstats(sn);
	float *w0 = ug_copy(sn_supernet_weights(sn), np);
	float *st0 = ug_copy(sn_supernet_stats(sn), ns);
	rt_eval_result r;
	assert_int_equal(rt_eval_subnet(sn, &sub, &f->data, RT_SPLIT_TEST, &r, err, sizeof err), 0);
	assert_memory_equal(w0, sn_supernet_weights(sn), np * sizeof(float));
	assert_memory_equal(st0, sn_supernet_stats(sn), ns * sizeof(float));

	const rt_data_part *test = &f->data.part[RT_SPLIT_TEST];
	double loss = 0;
	int correct = 0;
	for (int i = 0; i < test->n; i++) {
		const float *z = sn_supernet_forward(sn, test->x + (size_t)i * f->data.example_size, 1,
						     RT_BN_MODE_EVAL);
		double mx = fmax(z[0], fmax(z[1], z[2])), sum = 0;
		int arg = z[0] == mx ? 0 : z[1] == mx ? 1 : 2;
		for (int k = 0; k < NCLS; k++)
			sum += exp(z[k] - mx);
		loss += log(sum) + mx - z[test->y[i]];
		correct += arg == test->y[i];
	}
	assert_int_equal(r.n, NTEST);
	assert_int_equal(r.correct, correct);
	assert_true(fabs(r.accuracy - (double)correct / NTEST) < 1e-12);
	assert_true(fabs(r.loss - loss / NTEST) < 1e-5);
	free(w0);
	free(st0);
	sn_supernet_free(sn);
}

/* rt_eval_measure gives what recalibrate + evaluate give, and leaves the
 * supernet's statistics as they were. */
static void test_measure_restores(void **state)
{
	fixture *f = *state;
	sn_supernet *sn = supernet(f, 4);
	char err[256];
	sn_subnet sub;
	sn_subnet_min(f->space, &sub);
	size_t ns = sn_supernet_nstats(sn);
	float *st0 = ug_copy(sn_supernet_stats(sn), ns);
	rt_eval_result got, want;
	assert_int_equal(rt_eval_measure(sn, &sub, &f->data, RT_SPLIT_TEST, 12, 4, &got, err, sizeof err), 0);
	assert_memory_equal(st0, sn_supernet_stats(sn), ns * sizeof(float));
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 12, 4, err, sizeof err), 12);
	assert_int_equal(rt_eval_subnet(sn, &sub, &f->data, RT_SPLIT_TEST, &want, err, sizeof err), 0);
	assert_int_equal(got.correct, want.correct);
	assert_true(got.loss == want.loss);
	/* the stored statistics differ from the recalibrated ones, so the
	 * restore above was needed */
	memcpy(sn_supernet_stats(sn), st0, ns * sizeof(float));
	assert_int_equal(rt_eval_subnet(sn, &sub, &f->data, RT_SPLIT_TEST, &got, err, sizeof err), 0);
	assert_true(got.loss != want.loss);
	/* a failure restores too */
	assert_int_equal(rt_eval_measure(sn, &sub, &f->data, RT_SPLIT_HOLDOUT, 12, 4, &got, err, sizeof err), -1);
	assert_memory_equal(st0, sn_supernet_stats(sn), ns * sizeof(float));
	free(st0);
	sn_supernet_free(sn);
}

static void test_extracted_model_measures_alike(void **state)
{
	fixture *f = *state;
	sn_supernet *sn = supernet(f, 4);
	char err[256];
	rt_rng rng;
	rt_rng_seed(&rng, 8);
	sn_subnet sub;
	sn_subnet_random(f->space, &rng, &sub);
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 12, 1, err, sizeof err), 12);
	rt_eval_result want, got;
	assert_int_equal(rt_eval_subnet(sn, &sub, &f->data, RT_SPLIT_TEST, &want, err, sizeof err), 0);
	static const uint8_t key[16] = { 0 };
	rt_model *m = rt_model_extract(sn, &sub, key, err, sizeof err);
	assert_non_null(m);
	for (int batch = 1; batch <= 16; batch += 5) {
		assert_int_equal(rt_eval_model(m, &f->data, RT_SPLIT_TEST, batch, &got, err, sizeof err), 0);
		assert_int_equal(got.n, want.n);
		assert_int_equal(got.correct, want.correct);
		assert_true(fabs(got.loss - want.loss) < 1e-6);
	}
	/* data of another shape or with more classes is refused */
	rt_data other = f->data;
	other.height = R + 1;
	assert_int_equal(rt_eval_model(m, &other, RT_SPLIT_TEST, 4, &got, err, sizeof err), -1);
	assert_non_null(strstr(err, "synthetic: examples of 7x6x2 in 3 classes do not fit a model of 6x6x2 inputs and 3 outputs"));
	other = f->data;
	other.nclasses = NCLS + 1;
	assert_int_equal(rt_eval_model(m, &other, RT_SPLIT_TEST, 4, &got, err, sizeof err), -1);
	assert_int_equal(rt_eval_model(m, &f->data, RT_SPLIT_HOLDOUT, 4, &got, err, sizeof err), -1);
	assert_string_equal(err, "synthetic: the holdout split is empty");
	rt_model_free(m);
	sn_supernet_free(sn);
}

static void test_refusals(void **state)
{
	fixture *f = *state;
	sn_supernet *sn = supernet(f, 4);
	sn_subnet sub;
	sn_subnet_max(f->space, &sub);
	char err[256];
	rt_eval_result r;
	assert_int_equal(rt_eval_subnet(sn, &sub, &f->data, RT_SPLIT_HOLDOUT, &r, err, sizeof err), -1);
	assert_string_equal(err, "synthetic: the holdout split is empty");
	float *st0 = ug_copy(sn_supernet_stats(sn), sn_supernet_nstats(sn));
	assert_int_equal(rt_eval_recalibrate(sn, &sub, &f->data, 0, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "synthetic: cannot recalibrate on 0 of 21 training images"));
	assert_memory_equal(st0, sn_supernet_stats(sn), sn_supernet_nstats(sn) * sizeof(float));
	ir_recipe recipe = { .calib_images = 0 };
	assert_int_equal(rt_eval_calib_images(&recipe), RT_EVAL_CALIB_DEFAULT);
	recipe.calib_images = 500;
	assert_int_equal(rt_eval_calib_images(&recipe), 500);
	free(st0);
	sn_supernet_free(sn);
}

int main(void)
{
	rt_threads_init(1, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recal_writes_only_the_subnets_statistics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recal_weighs_images_alike, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_matches_per_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_measure_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extracted_model_measures_alike, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_threads_shutdown();
	return rc;
}
