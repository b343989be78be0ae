/*
 * util_ci.c — see util_ci.h.
 */
#include "tests/unit/util_ci.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

bool uc_ci(void)
{
	const char *ci = getenv("CI");
	return ci != NULL && strcmp(ci, "true") == 0;
}

void uc_require(bool have, const char *what)
{
	if (have)
		return;
	if (uc_ci())
		fail_msg("CI=true and %s is missing", what);
	print_message("# SKIP %s is missing\n", what);
	skip();
}
