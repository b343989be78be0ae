/*
 * test_data_real.c — the data sets this OS installs, loaded as the stdlib
 * describes them: Fashion-MNIST (IDX, gzip) and scikit-learn's digits,
 * wine and breast cancer (CSV).  A test whose files are not installed is
 * skipped (fails under CI=true: util_ci.h).  The expected counts are the data sets' published class sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/data.h"
#include "tests/unit/util_ci.h"
#include "util_near.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"
#define SKLEARN "/usr/lib/python3/dist-packages/sklearn/datasets/data/"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static rt_data *load_ok(const ir_dataset *d)
{
	char err[512] = "";
	rt_data *data = rt_data_load(d, err, sizeof err);
	if (!data)
		fail_msg("rt_data_load: %s", err);
	return data;
}

static void test_fashion_mnist(void **state)
{
	(void)state;
	uc_require(access(FASHION "train-images-idx3-ubyte.gz", R_OK) == 0,
		   FASHION " (apt-get install dataset-fashion-mnist)");
	ir_dataset d;
	memset(&d, 0, sizeof d);
	d.name = "fashion_mnist";
	d.format = IR_FORMAT_IDX;
	d.train_images = FASHION "train-images-idx3-ubyte.gz";
	d.train_labels = FASHION "train-labels-idx1-ubyte.gz";
	d.test_images = FASHION "t10k-images-idx3-ubyte.gz";
	d.test_labels = FASHION "t10k-labels-idx1-ubyte.gz";
	d.channels = 1;
	d.height = 28;
	d.width = 28;
	d.nclasses = 10;
	d.label_column = -1;
	d.normalize = IR_NORM_STANDARD;
	double t0 = now();
	rt_data *data = load_ok(&d);
	printf("# fashion-mnist (gzip IDX, 60000 + 10000) loaded in %.3f s\n", now() - t0);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 60000);
	assert_int_equal(data->part[RT_SPLIT_HOLDOUT].n, 0);
	assert_int_equal(data->part[RT_SPLIT_TEST].n, 10000);
	for (int k = 0; k < 10; k++) {
		assert_int_equal(data->part[RT_SPLIT_TRAIN].class_count[k], 6000);
		assert_int_equal(data->part[RT_SPLIT_TEST].class_count[k], 1000);
	}
	assert_int_equal(data->example_size, 784);
	/* Fashion-MNIST's pixel mean and std, as everyone normalises with. */
	assert_near(data->mean[0], 0.2860, 1e-3);
	assert_near(data->std[0], 0.3530, 1e-3);
	/* Pixel 0 of every image is 0 (black border): -mean/std after. */
	float zero = (0.0f - data->mean[0]) / data->std[0];
	assert_true(data->part[RT_SPLIT_TEST].x[0] == zero);
	rt_data_free(data);
}

static ir_dataset csv(const char *name, const char *path, int c, int h, int w,
		      int nclasses)
{
	ir_dataset d;
	memset(&d, 0, sizeof d);
	d.name = (char *)name;
	d.format = IR_FORMAT_CSV;
	d.train_images = (char *)path;
	d.channels = c;
	d.height = h;
	d.width = w;
	d.nclasses = nclasses;
	d.label_column = -1;
	d.seed = 3;
	return d;
}

static void test_sklearn_digits(void **state)
{
	(void)state;
	uc_require(access(SKLEARN "digits.csv.gz", R_OK) == 0,
		   SKLEARN "digits.csv.gz (apt-get install python3-sklearn)");
	/* 8 x 8 images, 0..16 per pixel, label last, no header. */
	ir_dataset d = csv("digits", SKLEARN "digits.csv.gz", 1, 8, 8, 10);
	d.test_count = 297;
	rt_data *data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 1500);
	assert_int_equal(data->part[RT_SPLIT_TEST].n, 297);
	const int sizes[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
	for (int k = 0; k < 10; k++)
		assert_int_equal(data->part[RT_SPLIT_TRAIN].class_count[k] +
					 data->part[RT_SPLIT_TEST].class_count[k],
				 sizes[k]);
	float lo = 1e9f, hi = -1e9f;
	for (int i = 0; i < 1500 * 64; i++) {
		float v = data->part[RT_SPLIT_TRAIN].x[i];
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	assert_true(lo == 0.0f && hi == 16.0f);
	rt_data_free(data);
}

static void test_sklearn_wine(void **state)
{
	(void)state;
	uc_require(access(SKLEARN "wine_data.csv", R_OK) == 0,
		   SKLEARN "wine_data.csv (apt-get install python3-sklearn)");
	/* The header line is "178,13,class_0,class_1,class_2". */
	ir_dataset d = csv("wine", SKLEARN "wine_data.csv", 13, 1, 1, 3);
	d.skip_rows = 1;
	rt_data *data = load_ok(&d);
	const rt_data_part *t = &data->part[RT_SPLIT_TRAIN];
	assert_int_equal(t->n, 178);
	assert_int_equal(t->class_count[0], 59);
	assert_int_equal(t->class_count[1], 71);
	assert_int_equal(t->class_count[2], 48);
	assert_true(t->x[0] == 14.23f && t->x[12] == 1065.0f && t->y[0] == 0);
	rt_data_free(data);
	/* Standardised per feature on the training split. */
	d.normalize = IR_NORM_STANDARD;
	d.test_count = 28;
	d.holdout = 30;
	data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 120);
	assert_near(data->mean[0], 13.0, 0.1);
	for (int c = 0; c < 13; c++) {
		double s = 0, ss = 0;
		for (int i = 0; i < 120; i++) {
			double v = data->part[RT_SPLIT_TRAIN].x[i * 13 + c];
			s += v;
			ss += v * v;
		}
		assert_near(s / 120, 0.0, 1e-4);
		assert_near(sqrt(ss / 120), 1.0, 1e-4);
	}
	rt_data_free(data);
}

static void test_sklearn_breast_cancer(void **state)
{
	(void)state;
	uc_require(access(SKLEARN "breast_cancer.csv", R_OK) == 0,
		   SKLEARN "breast_cancer.csv (apt-get install python3-sklearn)");
	ir_dataset d = csv("breast_cancer", SKLEARN "breast_cancer.csv", 30, 1, 1, 2);
	d.skip_rows = 1;
	rt_data *data = load_ok(&d);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].n, 569);
	assert_int_equal(data->part[RT_SPLIT_TRAIN].class_count[0], 212); /* malignant */
	assert_int_equal(data->part[RT_SPLIT_TRAIN].class_count[1], 357); /* benign */
	rt_data_free(data);
	/* Without skipping the header, its class names are not numbers. */
	d.skip_rows = 0;
	char err[512];
	assert_null(rt_data_load(&d, err, sizeof err));
	assert_non_null(strstr(err, "breast_cancer.csv:1: 4 columns, expected 31"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fashion_mnist),
		cmocka_unit_test(test_sklearn_digits),
		cmocka_unit_test(test_sklearn_wine),
		cmocka_unit_test(test_sklearn_breast_cancer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
