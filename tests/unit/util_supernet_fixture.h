/*
 * util_supernet_fixture.h — tiny hand-built search spaces for the supernet,
 * extraction and evaluation tests, small enough that a gradient check or a
 * few hundred training steps take well under a second.  Prefix: tiny_.
 *
 * Both spaces take `c` input channels at a largest resolution `r` (r >= 6)
 * and end in fc(classes) (out_channels 0: the test picks the class count).
 * A space returned here is owned by the caller: free it with
 * tiny_space_free (not ir_module_free; it belongs to no module).
 *
 * tiny_space — MobileNet-like, genes in this table order:
 *   0 resolution {4, 5, r}     1 s1.depth {1, 2}      2 s2.depth {1, 2}
 *   3 s1.b0.kernel {3, 5}      4 s1.b1.kernel {3, 5}
 *   5 s2.b0.kernel {3, 5, 7}   6 s2.b1.kernel {3, 5, 7}
 *   7..10 s{1,2}.b{0,1}.expand {2, 3}                 11 width {4, 6}
 * layers:
 *   0 stem conv 3x3 c -> width, relu
 *   1 s1.b0 mbconv 6 -> 6 stride 2, relu       2 s1.b1 mbconv 6 -> 6, relu
 *   3 s2.b0 mbconv 6 -> width, hswish, SE       4 s2.b1 mbconv width -> width, hswish, SE
 *   5 pool                                      6 fc -> classes
 * so the largest gene string is "r6:d2,2:k5,5,7,7:e3,3,3,3:w6" for r = 6.
 *
 * tiny_resnet_space — every other block kind, genes in this table order:
 *   0 resolution {4, r}     1 s1.depth {1, 2}     2 stem.kernel {1, 3}
 *   3 s2.b0.kernel {3, 5}   4 s1.expand {0.5, 1} (shared by s1's blocks)
 *   5 s1.b0.out {4, 8}      6 s1.b1.out {4, 8}    7 head.out {6, 10}
 * layers:
 *   0 stem conv 3x3 c -> 6, relu
 *   1 s1.b0 residual 3x3 6 -> 8 stride 2 (projection shortcut)
 *   2 s1.b1 residual 3x3 8 -> 8 (identity shortcut, widths may differ)
 *   3 s2.b0 mbconv 5x5 expand 1 (no expand conv) 8 -> 8, hswish
 *   4 pool    5 dense 8 -> head.out, relu    6 fc -> classes
 */
#ifndef ARCHD_TESTS_UTIL_SUPERNET_FIXTURE_H
#define ARCHD_TESTS_UTIL_SUPERNET_FIXTURE_H

#include "compiler/ir.h"

/* The MobileNet-like space above; aborts on out-of-memory. */
ir_space *tiny_space(int c, int r);

/* The residual/dense space above; aborts on out-of-memory. */
ir_space *tiny_resnet_space(int c, int r);

/* Frees a space made by this file; NULL is fine. */
void tiny_space_free(ir_space *s);

#endif
