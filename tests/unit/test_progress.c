/*
 * test_progress.c — the training progress display: ETA and rate formats,
 * the bar and the per-epoch line, the redraw rate limit on a terminal and
 * the single line per epoch elsewhere.  Time is passed in, so these tests
 * do not sleep.
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

#include "runtime/progress.h"
#include "util_near.h"

static void eta_is(double seconds, const char *want)
{
	char buf[32];
	rt_progress_format_eta(seconds, buf, sizeof buf);
	assert_string_equal(buf, want);
}

static void rate_is(double rate, const char *want)
{
	char buf[32];
	rt_progress_format_rate(rate, buf, sizeof buf);
	assert_string_equal(buf, want);
}

static void test_eta_and_rate(void **state)
{
	(void)state;
	eta_is(0, "0:00:00");
	eta_is(59.4, "0:00:59");
	eta_is(59.6, "0:01:00");
	eta_is(3723, "1:02:03");
	eta_is(36000, "10:00:00");
	eta_is(-1, "-:--:--");
	eta_is(NAN, "-:--:--");
	eta_is(INFINITY, "-:--:--");
	rate_is(812.3, "812 img/s");
	rate_is(999.4, "999 img/s");
	rate_is(999.6, "1.0k img/s");
	rate_is(4210, "4.2k img/s");
	rate_is(1.2e6, "1.20M img/s");
	rate_is(-1, "- img/s");
}

static rt_progress_stats sample(void)
{
	rt_progress_stats s = {
		.phase = "train", .epoch = 3, .epochs = 8, .step = 117, .steps = 468,
		.loss = 0.41234, .acc = 0.8521, .lr = 0.087, .rate = 4210, .seconds = 13.24,
		.eval = "test", .eval_acc = 0.881, .eta = 751,
	};
	return s;
}

static void test_lines(void **state)
{
	(void)state;
	rt_progress_stats s = sample();
	char buf[256];
	rt_progress_format_bar(&s, buf, sizeof buf);
	assert_string_equal(buf, "train epoch 3/8 [#####...............] 117/468 loss 0.4123 "
				 "acc 85.2% lr 0.087 4.2k img/s ETA 0:12:31");
	rt_progress_format_epoch(&s, buf, sizeof buf);
	assert_string_equal(buf, "train epoch 3/8: loss 0.4123, acc 85.21%, lr 0.087, "
				 "4210 img/s, 13.2 s, test 88.10%, ETA 0:12:31");
	/* Unknown values are left out. */
	s.acc = -1;
	s.lr = -1;
	s.eval = NULL;
	s.eta = -1;
	rt_progress_format_epoch(&s, buf, sizeof buf);
	assert_string_equal(buf, "train epoch 3/8: loss 0.4123, 4210 img/s, 13.2 s, ETA -:--:--");
	/* A short buffer is cut, not overrun. */
	char tiny[12];
	rt_progress_format_bar(&s, tiny, sizeof tiny);
	assert_string_equal(tiny, "train epoch");
	/* A full bar at the last step. */
	s.step = s.steps;
	rt_progress_format_bar(&s, buf, sizeof buf);
	assert_non_null(strstr(buf, "[####################] 468/468"));
}

static int count(const char *s, char c)
{
	int n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

static void test_terminal_rate_limit(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	rt_progress p;
	rt_progress_init(&p, out, 1, 2, 100);
	rt_progress_begin_epoch(&p, NULL, 0, 0.0);
	/* A step every 1/64 s (exact in binary): a redraw is due every 7th step
	 * (7/64 >= 0.1 > 6/64), from the first, plus the epoch's last. */
	for (int k = 1; k <= 100; k++)
		rt_progress_step(&p, 32, 1.0, 16, 0.1, k / 64.0);
	fflush(out);
	assert_int_equal(count(text, '\r'), 15 + 1);
	assert_int_equal(count(text, '\n'), 0);
	rt_progress_end_epoch(&p, "holdout", 0.5, 100 / 64.0);
	fclose(out);
	assert_int_equal(count(text, '\n'), 1);
	/* The last drawn state: a full bar, the mean loss and accuracy, the
	 * pace of the run (100 steps in 100/64 s, 100 left): ETA 1.5625 s. */
	const char *last = strrchr(text, '\r');
	assert_non_null(last);
	assert_string_equal(last, "\rtrain epoch 1/2 [####################] 100/100 loss 1.0000 "
				  "acc 50.0% lr 0.1 2.0k img/s ETA 0:00:02\033[K holdout 50.00%\n");
	free(text);
}

static void test_plain_lines(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	rt_progress p;
	rt_progress_init(&p, out, 0, 2, 10);
	for (int e = 0; e < 2; e++) {
		rt_progress_begin_epoch(&p, e ? "kernel" : NULL, e, 10.0 * e);
		for (int k = 1; k <= 10; k++) {
			rt_progress_step(&p, 100, 0.5 / (e + 1), 25 * (e + 1), 0.01, 10.0 * e + k);
			if (e == 0 && k == 5) {
				/* Halfway through: 5 steps in 5 s, 15 to go. */
				rt_progress_stats s;
				rt_progress_stats_get(&p, 5.0, &s);
				assert_near(s.eta, 15.0, 1e-9);
				assert_near(s.rate, 100.0, 1e-9);
			}
		}
		fflush(out);
		assert_int_equal(count(text, '\n'), e); /* nothing during the epoch */
		rt_progress_end_epoch(&p, e ? "test" : NULL, 0.75, 10.0 * e + 10);
	}
	fclose(out);
	assert_string_equal(text,
			    "train epoch 1/2: loss 0.5000, acc 25.00%, lr 0.01, 100 img/s, 10.0 s, ETA 0:00:10\n"
			    "kernel epoch 2/2: loss 0.2500, acc 50.00%, lr 0.01, 100 img/s, 10.0 s, test 75.00%, ETA 0:00:00\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eta_and_rate),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_terminal_rate_limit),
		cmocka_unit_test(test_plain_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
