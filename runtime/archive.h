/*
 * archive.h — a task's Pareto archive: subnets whose holdout accuracy was
 * measured (not only predicted), with their costs, kept non-dominated over
 * all five metrics, answering specs and saved in the state dir
 * (rt_state_archive_path).  Prefix: search_archive_.
 *
 * Domination here is over every metric at once: accuracy maximised, MACs,
 * params, latency and memory minimised, an unknown (NaN) metric counting as
 * the worst.  A member is dropped only when another is at least as good in
 * all five and better in one, so whatever upper bounds on costs and lower
 * bound on accuracy a spec sets and whichever order its objective ranks
 * metrics in, the archive still holds that spec's best member.
 *
 * Text form, one member a line, closed by its checksum:
 *
 *   archd-archive 3
 *   space mbnet
 *   weights 89abcdef01234567
 *   member r28:d2:... acc=0.9012 test=0.8931 pred=0.8950 macs=... params=... latency=... memory=...
 *   xxh3 0123456789abcdef
 *
 * Numbers are written with 17 significant digits (exact round trip); an
 * unknown one is "nan".  Members are in the order they joined.  `acc` is
 * the holdout accuracy the archive ranks by; `test` the test split's,
 * measured once per member for reports (never for choosing), "nan" until
 * measured.  `weights` names the checkpoint the members were measured on
 * (rt_ckpt_id, 16 hex digits), or is "unknown": accuracies measured on
 * other weights (a supernet trained again, an archive copied from another
 * state dir) are then told apart from the current ones.  Version 2 files,
 * from before the weights were named, are read with them unknown, and
 * version 1 files, from before test accuracies were kept, with every test
 * accuracy unknown as well (search_archive_file_version says which); both
 * are written back as version 3.  Any other version is refused.
 */
#ifndef ARCHD_RUNTIME_ARCHIVE_H
#define ARCHD_RUNTIME_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/search.h"

/* Bump when the text form changes; the oldest version still read. */
#define SEARCH_ARCHIVE_VERSION 3
#define SEARCH_ARCHIVE_VERSION_MIN 1

typedef struct search_member {
	sn_subnet sub;
	search_eval eval; /* eval.v[IR_METRIC_ACCURACY] is the measured holdout one */
	double predicted; /* the predictor's accuracy, NAN when unknown */
	double test;      /* accuracy on the test split, NAN until measured */
} search_member;

typedef struct search_archive search_archive;

/* An empty archive for subnets of space s (borrowed; it must outlive the
 * archive); NULL on out-of-memory. */
search_archive *search_archive_new(const ir_space *s);
void search_archive_free(search_archive *a);

int search_archive_size(const search_archive *a);
/* Member i (0 <= i < size), valid until the next add. */
const search_member *search_archive_member(const search_archive *a, int i);

/* The member with sub's genes, or -1. */
int search_archive_find(const search_archive *a, const sn_subnet *sub);

/* Records member i's test accuracy (it takes no part in domination). */
void search_archive_set_test(search_archive *a, int i, double test);

/* The version of the file the archive was read from; SEARCH_ARCHIVE_VERSION
 * for one made by search_archive_new. */
int search_archive_file_version(const search_archive *a);

/* The checkpoint the members were measured on (rt_ckpt_id): 1 with *id
 * set, or 0 when unknown (a new archive until set, a file of version 2 or
 * 1, or one saved with "weights unknown"). */
int search_archive_weights(const search_archive *a, uint64_t *id);
void search_archive_set_weights(search_archive *a, uint64_t id);

/*
 * Offers a measured subnet.  Returns 1 when it joined (the members it
 * dominates leave; a member with the same genes is replaced by it, whose
 * test accuracy it keeps when it brings none), 0 when a member dominates
 * it or equals it in every metric, -1 on out-of-memory.
 */
int search_archive_add(search_archive *a, const search_member *m);

/*
 * The spec's answer among the members: search_pick over them (its contract
 * for the return value, *nearest and *tightest).
 */
int search_archive_answer(const search_archive *a, const ir_objective *obj,
			  const ir_constraint *cons, int ncons, int *nearest, int *tightest);

/* Writes the text form atomically; 0, or -1 with "PATH: reason" in err. */
int search_archive_save(const search_archive *a, const char *path, char *err, size_t errlen);

/*
 * Reads an archive of space s written by search_archive_save (of a version
 * from SEARCH_ARCHIVE_VERSION_MIN to SEARCH_ARCHIVE_VERSION).  Returns it,
 * or NULL with "PATH:LINE: reason" in err: unreadable, a bad header, a
 * version this build does not read or another space, a malformed weights
 * line, a malformed member (a gene string the space does not parse), a
 * checksum mismatch.  Whether its weights are the supernet's is the
 * caller's to check (rt_answer_refresh).
 */
search_archive *search_archive_load(const ir_space *s, const char *path, char *err,
				    size_t errlen);

#endif
