/*
 * util_arch.h — compiling an .arch source held in a test, for tests that
 * need a real IR (a space to build a supernet from, a task to train).
 * Prefix: ua_.
 */
#ifndef ARCHD_TESTS_UTIL_ARCH_H
#define ARCHD_TESTS_UTIL_ARCH_H

#include "compiler/ir.h"

/*
 * Compiles `src` (NUL-terminated) with the source tree's stdlib.  Returns
 * the module (free with ir_module_free), or NULL after printing the
 * diagnostics to stderr.
 */
ir_module *ua_compile(const char *src);

#endif
