/*
 * answer.h — a trained supernet turned into answers: a task's measured
 * Pareto archive built from its supernet, and a spec (constraints plus an
 * objective) answered from that archive or, when no member meets it, by a
 * targeted predictor-driven search whose choice is measured and joins the
 * archive.  Prefix: rt_answer_.
 *
 * Building (rt_answer_build), as NAT does for its surrogate:
 *   1. the recipe's `samples` subnets (max, min, then seeded random ones,
 *      distinct) are measured: batch norm recalibrated, accuracy on the
 *      holdout split (rt_eval_measure);
 *   2. the predictor the task asks for (mlp, rbf, or auto by cross-validated
 *      Kendall tau) is trained on those pairs;
 *   3. search_run, over all five metrics (predicted accuracy, exact costs,
 *      the host's latency table), with the recipe's population and
 *      generations, seeded with the measured samples;
 *   4. the front's members are measured; every measured subnet is offered
 *      to the archive, which keeps the non-dominated ones;
 *   5. the members kept are measured once on the test split (batch norm
 *      recalibrated the same way), for reports only: nothing is chosen
 *      by it;
 *   6. archive and predictor are saved atomically in the state dir
 *      (supernets/<key>/archive and supernets/<key>/predictor).
 *
 * An environment (rt_answer_env) borrows the module and is used by one
 * thread at a time; the supernet, its data and the latency table are
 * loaded only when a build or a targeted search needs them.
 */
#ifndef ARCHD_RUNTIME_ANSWER_H
#define ARCHD_RUNTIME_ANSWER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/archive.h"
#include "runtime/predictor.h"
#include "runtime/search.h"

/* Return values besides 0 (success). */
enum {
	RT_ANSWER_ERROR = -1,      /* err says why */
	RT_ANSWER_UNTRAINED = -2,  /* no checkpoint of the task's supernet */
	RT_ANSWER_NO_ARCHIVE = -3, /* the archive has not been built */
	RT_ANSWER_INFEASIBLE = -4, /* nothing meets the spec: see rt_answer */
	RT_ANSWER_CANCELLED = -5,  /* *cancel became nonzero */
	RT_ANSWER_NEED_SEARCH = -6, /* no member meets it and search was not allowed */
	RT_ANSWER_PARTIAL = -7,    /* the checkpoint is mid-way through training (err
				    * says where): nothing is measured on it, or an
				    * archive of it would answer for the finished
				    * supernet ever after */
	RT_ANSWER_CHANGED = -8     /* the checkpoint was replaced while measuring (a
				    * new training): nothing saved; ask again */
};

/* The task's `search { }` settings, defaults filled in by the compiler. */
typedef struct rt_answer_settings {
	pred_kind predictor;
	int samples;     /* subnets measured to train the predictor, >= 2 */
	int population;  /* NSGA-II/III population, >= 4 */
	int generations; /* >= 1 */
	uint64_t seed;
} rt_answer_settings;

/*
 * Reads task t's search settings into *out.  Returns 0, or -1 with a
 * message naming the parameter (an unknown predictor, a count out of range).
 */
int rt_answer_settings_get(const ir_task *t, rt_answer_settings *out, char *err, size_t errlen);

typedef struct rt_answer_env rt_answer_env;

/*
 * An environment for task t of module m (borrowed, must outlive it) in the
 * state dir `root`: loads the archive and predictor when they exist.
 * Returns it, or NULL with a message in err (bad settings, an unreadable or
 * corrupt archive or predictor file, out of memory).
 */
rt_answer_env *rt_answer_open(const ir_module *m, int t, const char *root, char *err,
			      size_t errlen);
void rt_answer_free(rt_answer_env *e);

/* 1 when the task's supernet has a checkpoint in the state dir. */
int rt_answer_trained(const rt_answer_env *e);

/*
 * Which checkpoint file an environment's archive and weights go with: its
 * identity when they were read (a checkpoint is saved by renaming a new
 * file over the old, so each save is a new inode).  When a run trains the
 * supernet afresh (rt_state_supernet_forget removes the files measured on
 * the old weights), whatever a reader still holds of the old ones must not
 * be written back: writers check rt_answer_stamp_current first.
 */
typedef struct rt_answer_stamp {
	int present;
	unsigned long long dev, ino, size;
	long long mtime_s, mtime_ns;
	int has_id;
	uint64_t id; /* rt_ckpt_id: what the archive records as its weights */
} rt_answer_stamp;

/* The checkpoint's stamp now (present 0 when there is none). */
void rt_answer_stamp_read(const char *ckpt_path, rt_answer_stamp *out);
/* The stamp e's archive was read with (rt_answer_open, rt_answer_refresh). */
const rt_answer_stamp *rt_answer_stamp_of(const rt_answer_env *e);
/* 1 when the checkpoint is still the one of `s`. */
int rt_answer_stamp_current(const char *ckpt_path, const rt_answer_stamp *s);
/* 1 when e's archive and loaded weights still go with the checkpoint; when
 * 0, save nothing measured through e. */
int rt_answer_current(const rt_answer_env *e);
/* The checkpoint path looked for (valid while e lives). */
const char *rt_answer_checkpoint_path(const rt_answer_env *e);
/* The archive, or NULL before it is built (valid until the next call that
 * may add to it: rt_answer_build, rt_answer_spec). */
const search_archive *rt_answer_archive(const rt_answer_env *e);
/* The archive's path in the state dir. */
const char *rt_answer_archive_path(const rt_answer_env *e);

/* Why the archive in the state dir was set aside, to be rebuilt (measured
 * on other weights than the checkpoint's), or "" (valid while e lives,
 * until the next rt_answer_refresh or build). */
const char *rt_answer_stale(const rt_answer_env *e);

/* How many times a build of e removed what was measured on other weights
 * than the checkpoint's (its archive, predictor, archd's subnet records and
 * kept answers: rt_state_supernet_forget), having found an archive that
 * names other weights; whoever keeps copies of those drops them. */
unsigned rt_answer_forgotten(const rt_answer_env *e);

/* What the caller should tell its user about the files read: an archive
 * of an older file version (migrated as answers are given), a latency
 * table measured afresh (another kernel build or CPU), or "" (valid while
 * e lives, until the next call). */
const char *rt_answer_note(const rt_answer_env *e);

/* Reloads the archive and predictor from the state dir (another process
 * may have changed them), keeping the loaded supernet, data and latency
 * table.  A predictor file this build cannot read counts as missing (the
 * archive is then rebuilt; RT_ANSWER_NO_ARCHIVE's message says why).
 * Returns 0, or -1 with a message in err for an archive that does not
 * load (nothing changed). */
int rt_answer_refresh(rt_answer_env *e, char *err, size_t errlen);

/* The objective a spec is answered with: obj, else task t's, else the
 * highest accuracy (written into *def, which must outlive the result). */
const ir_objective *rt_answer_objective(const ir_module *m, int t, const ir_objective *obj,
					ir_objective *def);

/* Progress of a build: what runs ("sample", "search", "front") and how far. */
typedef void (*rt_answer_progress_fn)(void *ctx, const char *phase, int done, int total);

/*
 * Builds the archive as described above, replacing any the environment
 * holds.  progress may be NULL; cancel (may be NULL; set from another
 * thread) is polled between measurements.  Returns 0, RT_ANSWER_UNTRAINED, RT_ANSWER_PARTIAL,
 * RT_ANSWER_CANCELLED (nothing saved: the archive and predictor already in
 * the state dir, if any, stay as they were), or RT_ANSWER_ERROR with a
 * message in err.
 */
int rt_answer_build(rt_answer_env *e, rt_answer_progress_fn progress, void *ctx,
		    const atomic_int *cancel, char *err, size_t errlen);

/* A spec's answer. */
typedef struct rt_answer {
	search_member m;  /* the subnet; eval's accuracy measured on holdout,
			   * m.test on the test split (NAN without one) */
	int searched;     /* 1 when a targeted search found it */
	int tightest;     /* infeasible: the constraint missed most, else -1 */
} rt_answer;

/*
 * Answers constraints cons[0, ncons) with objective obj (NULL: the task's,
 * else maximal accuracy).  The archive's best member meeting them when
 * there is one (0).  Else, when allow_search, a targeted search (predictor,
 * exact costs, latency; seeded with the archive) whose best subnet is
 * measured, joins the archive, and the archive is saved: 0 when the
 * archive's answer now exists.  When allow_search, an answer whose test
 * accuracy is not known yet (an archive of version 1) has it measured and
 * kept in the archive, which is saved.  RT_ANSWER_INFEASIBLE fills *out with the
 * nearest subnet and its tightest constraint.  Also RT_ANSWER_NO_ARCHIVE,
 * RT_ANSWER_NEED_SEARCH (allow_search 0), RT_ANSWER_UNTRAINED, RT_ANSWER_PARTIAL and
 * RT_ANSWER_ERROR with a message in err.
 */
int rt_answer_spec(rt_answer_env *e, const ir_objective *obj, const ir_constraint *cons,
		   int ncons, int allow_search, rt_answer *out, char *err, size_t errlen);

/*
 * The subnet as a standalone model (extract.h): batch norm recalibrated
 * as for its measurement, the data set's input normalisation recorded.
 * Returns a new model (rt_model_free), or NULL with *status set to
 * RT_ANSWER_UNTRAINED, RT_ANSWER_PARTIAL or RT_ANSWER_ERROR (message in err).
 */
struct rt_model *rt_answer_extract(rt_answer_env *e, const sn_subnet *sub, int *status,
				   char *err, size_t errlen);

/*
 * Parses a constraint's right-hand side for metric `metric`, such as
 * "<=2M", ">= 90%", "<1.5ms", "<=300K": a comparison, a number, and an
 * optional unit suffix (K, M, G for counts and bytes (B, KB, MB, GB, KiB, MiB, GiB too); s, ms,
 * us for latency; % for accuracy).  Returns 0 with *out filled, or -1 with
 * a message quoting the text.
 */
int rt_answer_parse_bound(ir_metric metric, const char *text, ir_constraint *out, char *err,
			  size_t errlen);

/*
 * Parses "METRIC OP VALUE" (e.g. "macs<=2M") into *out; see
 * rt_answer_parse_bound.  Returns 0, or -1 with a message quoting it.
 */
int rt_answer_parse_constraint(const char *text, ir_constraint *out, char *err, size_t errlen);

#endif
