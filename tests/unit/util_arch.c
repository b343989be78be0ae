/*
 * util_arch.c — see util_arch.h.
 */
#include "tests/unit/util_arch.h"

#include <stdio.h>
#include <string.h>

#include "compiler/cc.h"
#include "lang/loc.h"

ir_module *ua_compile(const char *src)
{
	lang_diags d;
	cc_options o;
	lang_diags_init(&d);
	cc_options_init(&o);
	o.stdlib_dir = ARCHD_BUILD_STDLIB_DIR;
	o.files = cc_files_new();
	ir_module *m = cc_compile_source("test.arch", src, strlen(src), &o, &d);
	if (!m)
		lang_diags_print(&d, stderr);
	cc_files_free(o.files);
	lang_diags_free(&d);
	return m;
}
