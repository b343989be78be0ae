/*
 * util_ci.h — a unit test's outside dependencies (Debian packages that
 * tools/install-deps --test installs: PyTorch, python3-onnx, the data
 * sets, onnxruntime-node through npm).  Outside CI a missing one skips the
 * test that needs it, saying what is missing; under CI=true, where they
 * are installed first (.ci/run), a missing one is a failure: a suite that
 * quietly skips its reference checks must not pass there.  Prefix: uc_.
 */
#ifndef ARCHD_TESTS_UTIL_CI_H
#define ARCHD_TESTS_UTIL_CI_H

#include <stdbool.h>

/* True when the environment has CI=true. */
bool uc_ci(void);

/*
 * Returns when `have`; otherwise fails the running cmocka test under
 * CI=true, else skips it, with a message naming `what` (the dependency
 * and how to install it).
 */
void uc_require(bool have, const char *what);

#endif
