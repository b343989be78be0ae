/*
 * util_near.c — assert_near (util_near.h).
 */
#include "util_near.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

void un_assert_near(double a, double b, double eps, const char *as, const char *bs,
		    const char *file, int line)
{
	if (fabs(a - b) <= eps)
		return;
	print_error("%s = %.17g and %s = %.17g differ by %.3g, more than %.3g\n", as, a, bs, b,
		    fabs(a - b), eps);
	_fail(file, line);
}
