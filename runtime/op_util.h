/*
 * op_util.h — private helpers shared by the op_*.c files (not a public
 * header: nothing outside runtime/op_*.c includes it).
 *
 * RT_KERNEL marks the few hot loops: GCC at -O2 does not vectorise loops
 * whose trip count is unknown, so those functions are built at -O3 (on
 * the mbnet training step, ~10% less CPU than -O2 with the vectoriser
 * alone), and on x86-64 they are also built for AVX2 and picked at load
 * time.  -std=c11 keeps
 * -ffp-contract=off and no reassociation, so every clone computes bitwise
 * the same result.  They also drop -ftrapping-math, which changes no result
 * (we never read the floating-point exception flags) but otherwise stops
 * GCC from turning a conditional float expression such as the h-swish
 * derivative into a select, leaving such loops scalar.
 */
#ifndef ARCHD_RUNTIME_OP_UTIL_H
#define ARCHD_RUNTIME_OP_UTIL_H

#include <stdint.h>
#include <string.h>

#include "runtime/threads.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RT_KERNEL \
	__attribute__((optimize("O3", "no-trapping-math"), \
		       target_clones("arch=x86-64-v3", "default")))
#else
#define RT_KERNEL
#endif

/*
 * RT_KERNEL_FMA marks the inference kernels (op_infer.c): like RT_KERNEL,
 * and also letting GCC contract a * b + c into fused multiply-adds, which
 * changes results by float rounding only, and with an AVX-512 clone:
 * the kernels keep 8-float vectors, but AVX-512VL's 32 vector registers
 * hold the depthwise kernel's eight sums and a kernel row of weights
 * without spilling.  The training ops keep -ffp-contract=off so that every
 * clone agrees bitwise.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RT_KERNEL_FMA \
	__attribute__((optimize("O3", "no-trapping-math", "fp-contract=fast"), \
		       target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define RT_KERNEL_FMA __attribute__((optimize("O3", "no-trapping-math", "fp-contract=fast")))
#else
#define RT_KERNEL_FMA
#endif

/*
 * RT_INLINE marks a kernel body that RT_KERNEL functions instantiate with
 * constant arguments (an activation kind, a full vector width): always
 * inlined, and with the same floating-point options, since GCC keeps an
 * inlined body's own -ftrapping-math.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define RT_INLINE \
	static inline __attribute__((always_inline, optimize("O3", "no-trapping-math")))
#else
#define RT_INLINE static inline
#endif

/* Below this many floats touched, a job is not worth waking the pool. */
#define RT_PAR_MIN_WORK 32768

/*
 * Runs fn over [0, n) on the pool when `work` (floats touched) is large
 * enough, else inline.  Every op partitions so that each output is computed
 * by one item in a fixed order: results do not depend on the thread count.
 */
static inline void rt_op_parallel(int64_t n, int64_t work, rt_parallel_fn fn, void *ctx)
{
	if (work < RT_PAR_MIN_WORK)
		fn(ctx, 0, n);
	else
		rt_parallel_for(n, fn, ctx);
}

/* Channels per block for ops that partition over channels. */
#define RT_CBLOCK 16

/*
 * Vectors of 8 floats (GCC vector extensions), loaded and stored with
 * memcpy, so no alignment is assumed.
 */
typedef float v8 __attribute__((vector_size(32)));
#define VW 8 /* floats per vector */

/*
 * Loads and stores of 8 floats at any alignment.  Macros (GNU statement
 * expressions, like the vector types themselves) rather than functions:
 * a function taking or returning a 32-byte vector has a different ABI in
 * the AVX2 and the default clone, which GCC warns about.
 */
#define LD(p) ({ v8 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define ST(p, v) ({ v8 v_ = (v); memcpy((p), &v_, sizeof v_); })
/* The first nb (1..8) floats, the rest zero; and the matching store.  The
 * partial case goes through a separate array so that `v_` itself never
 * needs an address and stays in a register. */
#define LDN(p, nb)                                                        \
	({                                                                \
		v8 v_;                                                    \
		if ((nb) == VW) {                                         \
			memcpy(&v_, (p), sizeof v_);                      \
		} else {                                                  \
			float t_[VW] = {0};                               \
			memcpy(t_, (p), (size_t)(nb) * sizeof(float));    \
			memcpy(&v_, t_, sizeof v_);                       \
		}                                                         \
		v_;                                                       \
	})
#define STN(p, v, nb)                                                     \
	({                                                                \
		v8 v_ = (v);                                              \
		if ((nb) == VW) {                                         \
			memcpy((p), &v_, sizeof v_);                      \
		} else {                                                  \
			float t_[VW];                                     \
			memcpy(t_, &v_, sizeof v_);                       \
			memcpy((p), t_, (size_t)(nb) * sizeof(float));    \
		}                                                         \
	})

#endif
