/*
 * moo_priv.h — what the moo_*.c files share and nothing else includes.
 */
#ifndef ARCHD_RUNTIME_MOO_PRIV_H
#define ARCHD_RUNTIME_MOO_PRIV_H

#include "runtime/moo.h"

/* Sorts a[0..k) ascending by key[a[i]], stable; tmp holds k ints. */
void moo_sort_by_key(int *a, int k, const double *key, int *tmp);

/*
 * NSGA-III survival state: the reference directions and what normalisation
 * remembers between generations (the ideal point and the extreme points).
 */
typedef struct moo_nsga3 {
	int m, ndirs;
	double *dirs;    /* ndirs * m, each scaled to unit length */
	double *ideal;   /* m, running minimum of every objective seen */
	double *extreme; /* m * m, row j: the point closest to axis j so far */
	int have_extreme;
} moo_nsga3;

/* Builds the state for m objectives and h divisions; returns 0 or -1 on
 * out-of-memory (the state is then freed). */
int moo_nsga3_init(moo_nsga3 *st, int m, int h);
void moo_nsga3_free(moo_nsga3 *st);

/*
 * NSGA-III survival: picks `keep` of the n solutions (objectives f, ranks
 * rank from moo_nondominated_sort) into chosen[0..keep): whole fronts in
 * rank order, then members of the front that does not fit by normalisation,
 * association with the directions and niching (random ties from r).
 * Returns 0 or -1 on out-of-memory.
 */
int moo_nsga3_select(moo_nsga3 *st, rt_rng *r, int n, const double *f, const int *rank,
		     int keep, int *chosen);

#endif
