/* rng.c — xoshiro256** (Blackman and Vigna), seeded with splitmix64. */
#include "runtime/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rt_rng_seed(rt_rng *r, uint64_t seed)
{
	rt_rng_seed_stream(r, seed, 0);
}

void rt_rng_seed_stream(rt_rng *r, uint64_t seed, uint64_t stream)
{
	/* Mixing the stream through splitmix first keeps nearby streams apart. */
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint64_t rt_rng_u64(rt_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double rt_rng_uniform(rt_rng *r)
{
	return (double)(rt_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t rt_rng_below(rt_rng *r, uint64_t n)
{
	/* Rejection keeps the result unbiased for any n. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = rt_rng_u64(r);
	while (x >= limit);
	return x % n;
}

double rt_rng_normal(rt_rng *r)
{
	double u1 = rt_rng_uniform(r);
	double u2 = rt_rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rt_rng_shuffle_int(rt_rng *r, int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)rt_rng_below(r, (uint64_t)i + 1);
		int t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}
