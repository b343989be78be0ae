/*
 * util_near.h — assert_near(a, b, eps): fails the running cmocka test
 * unless |a - b| <= eps, compared in double precision, naming both
 * expressions and their values.  Prefix: un_.
 *
 * Not cmocka 1.1's assert_float_equal: it converts both values to float,
 * and its macro casts only the first operand of an expression argument
 * (`assert_float_equal(sec * 1e6, ...)` compares `(float)sec * 1e6`), so
 * a tolerance finer than float's precision checks nothing, and a measured
 * value may round either side of a float boundary: test_latency failed
 * now and then that way.
 */
#ifndef ARCHD_TESTS_UTIL_NEAR_H
#define ARCHD_TESTS_UTIL_NEAR_H

#define assert_near(a, b, eps) \
	un_assert_near((double)(a), (double)(b), (double)(eps), #a, #b, __FILE__, __LINE__)

void un_assert_near(double a, double b, double eps, const char *as, const char *bs,
		    const char *file, int line);

#endif
