/*
 * rng.h — a small, seeded, reproducible random number generator
 * (xoshiro256** seeded through splitmix64).  Prefix: rt_rng_.
 *
 * Every random choice in the runtime (initialisation, shuffling, augmentation,
 * subnet sampling, search) draws from an rt_rng it was handed, never from a
 * global, so a fixed seed and thread count give the same run twice.
 */
#ifndef ARCHD_RUNTIME_RNG_H
#define ARCHD_RUNTIME_RNG_H

#include <stdint.h>

typedef struct rt_rng {
	uint64_t s[4];
} rt_rng;

/* Seeds the generator; any seed (including 0) is fine. */
void rt_rng_seed(rt_rng *r, uint64_t seed);
/* A generator for stream `stream` of seed `seed`: independent of the others. */
void rt_rng_seed_stream(rt_rng *r, uint64_t seed, uint64_t stream);
uint64_t rt_rng_u64(rt_rng *r);
/* Uniform in [0, 1). */
double rt_rng_uniform(rt_rng *r);
/* Uniform integer in [0, n); n > 0.  Unbiased. */
uint64_t rt_rng_below(rt_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double rt_rng_normal(rt_rng *r);
/* Fisher-Yates shuffle of n ints. */
void rt_rng_shuffle_int(rt_rng *r, int *a, int n);

#endif
