/*
 * answer.c — building a task's measured archive from its trained supernet,
 * and answering specs from it (see answer.h).
 */
#include "runtime/answer.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/checkpoint.h"
#include "runtime/data.h"
#include "runtime/evaluate.h"
#include "runtime/extract.h"
#include "runtime/latency.h"
#include "runtime/moo.h"
#include "runtime/rng.h"
#include "runtime/statedir.h"
#include "runtime/supernet.h"

#define DEFAULT_BATCH 128
#define LUT_REPS 5
/* A targeted search is small: it starts from the archive's members. */
#define SPEC_POP 40
#define SPEC_GENERATIONS 10

struct rt_answer_env {
	const ir_module *m;
	const ir_task *task;
	const ir_space *space;
	int nclasses, in_res;
	rt_answer_settings set;
	char root[RT_STATE_PATH_MAX];
	char ckpt[RT_STATE_PATH_MAX], archive_path[RT_STATE_PATH_MAX];
	char pred_path[RT_STATE_PATH_MAX];
	/* why a saved archive or predictor was not used, "" when they were */
	char stale[2 * RT_STATE_PATH_MAX + 160];
	char note[RT_STATE_PATH_MAX + 800]; /* rt_answer_note's, "" for none */
	search_archive *archive; /* NULL until built or loaded */
	pred_model *pred;
	rt_answer_stamp seen; /* the checkpoint when the archive was read */
	rt_answer_stamp sn_stamp; /* the checkpoint sn was loaded from */
	/* the archive read was measured on other weights: what else was
	 * (records, kept answers) goes when the new one is saved */
	int other_weights;
	unsigned forgotten; /* times that was done (rt_answer_forgotten) */
	/* loaded on demand */
	sn_supernet *sn;
	rt_data *data;
	lat_table *lut;
};

static const ir_param *param(const ir_task *t, const char *key)
{
	return ir_call_param(&t->search, key);
}

/* An integer parameter in [lo, hi], `def` when absent. */
static int int_param(const ir_task *t, const char *key, int def, int lo, int hi, int *out,
		     char *err, size_t errlen)
{
	const ir_param *p = param(t, key);
	double v = p ? p->number : def;
	if (p && p->kind != IR_VALUE_NUMBER)
		v = NAN;
	if (!(v >= lo && v <= hi) || v != floor(v)) {
		snprintf(err, errlen, "task %s: search %s must be an integer in [%d, %d]", t->name, key,
			 lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int rt_answer_settings_get(const ir_task *t, rt_answer_settings *out, char *err, size_t errlen)
{
	const ir_param *p = param(t, "predictor");
	const char *name = p && p->string ? p->string : "auto";
	if (pred_kind_parse(name, &out->predictor) != 0) {
		snprintf(err, errlen, "task %s: unknown search predictor '%s' (auto, mlp, rbf)",
			 t->name, name);
		return -1;
	}
	int seed;
#define SEARCH_INT(key, N, out)                                                                    \
	int_param(t, key, IR_SEARCH_##N##_DEF, IR_SEARCH_##N##_MIN, IR_SEARCH_##N##_MAX, out, err, \
		  errlen)
	if (SEARCH_INT("samples", SAMPLES, &out->samples) ||
	    SEARCH_INT("population", POPULATION, &out->population) ||
	    SEARCH_INT("generations", GENERATIONS, &out->generations) ||
	    SEARCH_INT("seed", SEED, &seed))
		return -1;
#undef SEARCH_INT
	out->seed = (uint64_t)seed;
	return 0;
}

rt_answer_env *rt_answer_open(const ir_module *m, int t, const char *root, char *err,
			      size_t errlen)
{
	rt_answer_env *e = calloc(1, sizeof *e);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->m = m;
	e->task = &m->tasks[t];
	e->space = &m->spaces[e->task->space];
	const ir_dataset *ds = &m->datasets[e->task->dataset];
	e->nclasses = ds->nclasses;
	e->in_res = ds->height;
	int calib = rt_eval_calib_images(&e->task->recipe);
	if (rt_answer_settings_get(e->task, &e->set, err, errlen) != 0)
		goto fail;
	if (snprintf(e->root, sizeof e->root, "%s", root) >= (int)sizeof e->root ||
	    rt_state_checkpoint_path(root, e->task->supernet_key, e->ckpt, sizeof e->ckpt) ||
	    rt_state_archive_path(root, e->task->supernet_key, calib, e->archive_path,
				  sizeof e->archive_path) ||
	    rt_state_predictor_path(root, e->task->supernet_key, calib, e->pred_path,
				    sizeof e->pred_path)) {
		snprintf(err, errlen, "state dir %s: path too long", root);
		goto fail;
	}
	if (rt_answer_refresh(e, err, errlen) != 0)
		goto fail;
	return e;
fail:
	rt_answer_free(e);
	return NULL;
}

void rt_answer_stamp_read(const char *ckpt_path, rt_answer_stamp *out)
{
	struct stat st;
	uint64_t id;
	memset(out, 0, sizeof *out);
	int rc = rt_ckpt_id(ckpt_path, &id, &st);
	if (rc < 0)
		return;
	out->has_id = rc == 0;
	out->id = rc == 0 ? id : 0;
	out->present = 1;
	out->dev = (unsigned long long)st.st_dev;
	out->ino = (unsigned long long)st.st_ino;
	out->size = (unsigned long long)st.st_size;
	out->mtime_s = (long long)st.st_mtim.tv_sec;
	out->mtime_ns = (long long)st.st_mtim.tv_nsec;
}

static int stamp_same(const rt_answer_stamp *a, const rt_answer_stamp *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
	       a->has_id == b->has_id && a->id == b->id;
}

const rt_answer_stamp *rt_answer_stamp_of(const rt_answer_env *e)
{
	return &e->seen;
}

int rt_answer_stamp_current(const char *ckpt_path, const rt_answer_stamp *s)
{
	rt_answer_stamp now;
	rt_answer_stamp_read(ckpt_path, &now);
	return stamp_same(&now, s);
}

int rt_answer_current(const rt_answer_env *e)
{
	rt_answer_stamp now;
	rt_answer_stamp_read(e->ckpt, &now);
	return stamp_same(&now, &e->seen) && (!e->sn || stamp_same(&now, &e->sn_stamp));
}

/* The error for a result measured on weights a new run has replaced. */
static int changed(const rt_answer_env *e, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "task %s's checkpoint %s changed while its subnets were measured (the supernet "
		 "is being trained again): nothing saved; ask again",
		 e->task->name, e->ckpt);
	return RT_ANSWER_CHANGED;
}

int rt_answer_refresh(rt_answer_env *e, char *err, size_t errlen)
{
	struct stat st;
	search_archive *a = NULL;
	pred_model *p = NULL;
	rt_answer_stamp_read(e->ckpt, &e->seen);
	if (stat(e->archive_path, &st) == 0 &&
	    !(a = search_archive_load(e->space, e->archive_path, err, errlen)))
		return -1;
	/* A predictor this build cannot read (another file version, damage)
	 * is rebuilt with the archive it goes with; the archive is still
	 * read strictly, a damaged one being refused. */
	e->stale[0] = '\0';
	e->note[0] = '\0';
	if (stat(e->pred_path, &st) == 0)
		p = pred_model_load(e->pred_path, e->stale, sizeof e->stale);
	/* measured on weights that are not the checkpoint's: rebuilt, with
	 * the predictor fitted on those measurements */
	uint64_t aw;
	e->other_weights = 0;
	if (a && e->seen.has_id && search_archive_weights(a, &aw) && aw != e->seen.id) {
		snprintf(e->stale, sizeof e->stale,
			 "%s was measured on other weights (checkpoint %016llx; %s is %016llx)",
			 e->archive_path, (unsigned long long)aw, e->ckpt,
			 (unsigned long long)e->seen.id);
		search_archive_free(a);
		a = NULL;
		pred_model_free(p);
		p = NULL;
		e->other_weights = 1;
	}
	if (a && search_archive_file_version(a) == 1)
		snprintf(
			e->note, sizeof e->note,
			"%s: an archive of version 1, without test accuracies: each is measured "
			"when its member is first answered, and the file is rewritten as version %d",
			e->archive_path, SEARCH_ARCHIVE_VERSION);
	search_archive_free(e->archive);
	pred_model_free(e->pred);
	e->archive = a;
	e->pred = p;
	return 0;
}

void rt_answer_free(rt_answer_env *e)
{
	if (!e)
		return;
	search_archive_free(e->archive);
	pred_model_free(e->pred);
	sn_supernet_free(e->sn);
	rt_data_free(e->data);
	lat_table_free(e->lut);
	free(e);
}

int rt_answer_trained(const rt_answer_env *e)
{
	struct stat st;
	return stat(e->ckpt, &st) == 0;
}

const char *rt_answer_checkpoint_path(const rt_answer_env *e)
{
	return e->ckpt;
}

const search_archive *rt_answer_archive(const rt_answer_env *e)
{
	return e->archive;
}

const char *rt_answer_archive_path(const rt_answer_env *e)
{
	return e->archive_path;
}

unsigned rt_answer_forgotten(const rt_answer_env *e) { return e->forgotten; }

const char *rt_answer_stale(const rt_answer_env *e) { return e->other_weights ? e->stale : ""; }

const char *rt_answer_note(const rt_answer_env *e)
{
	return e->note;
}

/* Progress of the latency table's build, passed on as phase "latency". */
typedef struct lut_progress {
	rt_answer_progress_fn fn;
	void *ctx;
} lut_progress;

static void on_lut(void *ctx, int done, int total)
{
	lut_progress *p = ctx;
	if (p->fn)
		p->fn(p->ctx, "latency", done, total);
}

/* Saves archive a (e's, or one built to replace it) as measured on the
 * weights e->sn was loaded with; the caller has checked they are still
 * the checkpoint's (rt_answer_current). */
static int save_archive(rt_answer_env *e, search_archive *a, char *err, size_t errlen)
{
	if (e->sn && e->sn_stamp.has_id)
		search_archive_set_weights(a, e->sn_stamp.id);
	return search_archive_save(a, e->archive_path, err, errlen);
}

/* Loads the supernet, its data and the latency table unless loaded. */
static int load_heavy(rt_answer_env *e, rt_answer_progress_fn progress, void *pctx, char *err,
		      size_t errlen)
{
	/* weights of a checkpoint since replaced (a kept environment) go */
	if (e->sn && !rt_answer_stamp_current(e->ckpt, &e->sn_stamp)) {
		sn_supernet_free(e->sn);
		e->sn = NULL;
	}
	if (e->sn && e->data && e->lut)
		return 0;
	if (!rt_answer_trained(e))
		return RT_ANSWER_UNTRAINED;
	const ir_dataset *ds = &e->m->datasets[e->task->dataset];
	if (!e->sn) {
		int batch = e->task->recipe.batch > 0 ? e->task->recipe.batch : DEFAULT_BATCH;
		e->sn = sn_supernet_new(e->space, e->nclasses, ds->height, ds->width, batch,
					e->task->recipe.seed, err, errlen);
		if (!e->sn)
			return RT_ANSWER_ERROR;
		rt_ckpt_state pos;
		rt_answer_stamp before;
		rt_answer_stamp_read(e->ckpt, &before);
		int rc = rt_ckpt_load(e->ckpt, e->sn, e->task->supernet_key, &pos, err, errlen);
		rt_answer_stamp_read(e->ckpt, &e->sn_stamp);
		if (rc == 0 && !stamp_same(&before, &e->sn_stamp)) {
			sn_supernet_free(e->sn);
			e->sn = NULL;
			return changed(e, err, errlen);
		}
		if (rc == 0 && pos.epoch < e->task->recipe.epochs) {
			/* weights mid-way through training: an archive measured on
			 * them would answer for the finished supernet ever after */
			snprintf(err, errlen,
				 "task %s's supernet is trained to epoch %d of %d (%s): finish its "
				 "training first",
				 e->task->name, pos.epoch, e->task->recipe.epochs, e->ckpt);
			sn_supernet_free(e->sn);
			e->sn = NULL;
			return RT_ANSWER_PARTIAL;
		}
		if (rc == RT_CKPT_MISSING)
			snprintf(err, errlen, "%s disappeared while loading", e->ckpt);
		if (rc != 0) {
			sn_supernet_free(e->sn);
			e->sn = NULL;
			return rc == RT_CKPT_MISSING ? RT_ANSWER_UNTRAINED : RT_ANSWER_ERROR;
		}
	}
	if (!e->data && !(e->data = rt_data_load(ds, err, errlen)))
		return RT_ANSWER_ERROR;
	if (!e->lut) {
		char cpu[RT_STATE_NAME_MAX], path[RT_STATE_PATH_MAX];
		lat_cpu_model(cpu, sizeof cpu);
		if (rt_state_lut_path(e->root, cpu, ARCHD_VERSION, path, sizeof path) != 0) {
			snprintf(err, errlen, "state dir %s: no usable latency table path", e->root);
			return RT_ANSWER_ERROR;
		}
		lut_progress lp = { progress, pctx };
		e->lut = lat_table_open(path, cpu, ARCHD_VERSION, e->space, e->nclasses, e->in_res,
					LUT_REPS, on_lut, &lp, err, errlen);
		if (!e->lut)
			return RT_ANSWER_ERROR;
		/* A table of another kernel build or CPU was measured afresh:
		 * the caller tells its user why, with the archive's note. */
		if (lat_table_note(e->lut)) {
			size_t n = strlen(e->note);
			snprintf(e->note + n, sizeof e->note - n, "%s%s", n ? "; " : "",
				 lat_table_note(e->lut));
		}
		/* Entries just measured are rounded when saved: use the saved
		 * ones, so answers repeat exactly once the table is reloaded. */
		char ignored[256];
		lat_table *saved = lat_table_load(path, ignored, sizeof ignored);
		if (saved) {
			lat_table_free(e->lut);
			e->lut = saved;
		}
	}
	return 0;
}

static search_ctx make_ctx(const rt_answer_env *e)
{
	search_ctx c = { e->space, e->nclasses, e->pred, e->lut, e->in_res };
	return c;
}

/* Measures sub into *m: holdout accuracy, exact costs, latency, and the
 * predictor's accuracy when there is one. */
static int measure(rt_answer_env *e, const sn_subnet *sub, sn_plan *plan, search_member *m,
		   char *err, size_t errlen)
{
	rt_eval_result r;
	if (rt_eval_measure(e->sn, sub, e->data, RT_SPLIT_HOLDOUT,
			    rt_eval_calib_images(&e->task->recipe), e->task->recipe.seed, &r, err,
			    errlen) != 0)
		return RT_ANSWER_ERROR;
	search_ctx c = make_ctx(e);
	if (search_evaluate(&c, sub, plan, &m->eval, err, errlen) != 0)
		return RT_ANSWER_ERROR;
	m->sub = *sub;
	m->predicted = e->pred ? m->eval.v[IR_METRIC_ACCURACY] : NAN;
	m->eval.v[IR_METRIC_ACCURACY] = r.accuracy;
	m->test = NAN;
	return 0;
}

/* The test split's accuracy of sub into *test, batch norm recalibrated as
 * for its holdout measurement; NAN when the data set has no test split. */
static int measure_test(rt_answer_env *e, const sn_subnet *sub, double *test, char *err,
			size_t errlen)
{
	*test = NAN;
	if (e->data->part[RT_SPLIT_TEST].n < 1)
		return 0;
	rt_eval_result r;
	if (rt_eval_measure(e->sn, sub, e->data, RT_SPLIT_TEST,
			    rt_eval_calib_images(&e->task->recipe), e->task->recipe.seed, &r, err,
			    errlen) != 0)
		return RT_ANSWER_ERROR;
	*test = r.accuracy;
	return 0;
}

static int cancelled(const atomic_int *cancel)
{
	return cancel && atomic_load(cancel);
}

/* Samples n distinct subnets (max, min, then seeded random ones; fewer
 * when the space has fewer) into subs; returns how many. */
static int sample(const rt_answer_env *e, int n, sn_subnet *subs)
{
	rt_rng rng;
	rt_rng_seed(&rng, e->set.seed);
	int k = 0;
	for (int tries = 0; k < n && tries < 20 * n + 2; tries++) {
		sn_subnet s;
		if (tries == 0)
			sn_subnet_max(e->space, &s);
		else if (tries == 1)
			sn_subnet_min(e->space, &s);
		else
			sn_subnet_random(e->space, &rng, &s);
		int dup = 0;
		for (int i = 0; i < k && !dup; i++)
			dup = sn_subnet_equal(&subs[i], &s);
		if (!dup)
			subs[k++] = s;
	}
	return k;
}

/* Trains the predictor on the n measured members into e->pred. */
static int fit_predictor(rt_answer_env *e, const search_member *ms, int n, char *err,
			 size_t errlen)
{
	if (n < 2) {
		snprintf(err, errlen, "task %s: its space has fewer than 2 subnets to train a predictor on",
			 e->task->name);
		return RT_ANSWER_ERROR;
	}
	int d = pred_encode_width(e->space);
	if (d < 1)
		d = 1;
	double *x = calloc((size_t)n * (size_t)d, sizeof *x), *y = malloc((size_t)n * sizeof *y);
	int rc = RT_ANSWER_ERROR;
	if (!x || !y) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (pred_encode_width(e->space) > 0)
			pred_encode(e->space, &ms[i].sub, x + (size_t)i * (size_t)d);
		y[i] = ms[i].eval.v[IR_METRIC_ACCURACY];
	}
	pred_settings ps;
	pred_settings_init(&ps);
	ps.kind = e->set.predictor;
	ps.seed = e->set.seed + 1;
	if (ps.kind == PRED_KIND_AUTO && n < 2 * ps.cv_folds)
		ps.kind = PRED_KIND_RBF; /* too few samples to cross-validate */
	pred_model *p = pred_train(&ps, n, d, x, y, err, errlen);
	if (!p)
		goto out;
	pred_model_free(e->pred);
	e->pred = p;
	rc = 0;
out:
	free(x);
	free(y);
	return rc;
}

/* The objective a build searches with: accuracy up, every cost down. */
static const ir_metric all_metrics[IR_METRIC_COUNT] = { IR_METRIC_ACCURACY, IR_METRIC_MACS,
						       IR_METRIC_PARAMS, IR_METRIC_LATENCY,
						       IR_METRIC_MEMORY };
static int all_maximize[IR_METRIC_COUNT] = { 1, 0, 0, 0, 0 };

/* Up to max seeds for a search: the archive's members, the least
 * violating of the constraints first (ties: archive order). */
typedef struct seed_rank {
	double violation;
	int index;
} seed_rank;

static int by_violation(const void *pa, const void *pb)
{
	const seed_rank *a = pa, *b = pb;
	if (a->violation != b->violation)
		return a->violation < b->violation ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

static int pick_seeds(const search_archive *a, const ir_constraint *cons, int ncons, int max,
		      sn_subnet *out)
{
	int n = search_archive_size(a);
	seed_rank *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
	if (!r)
		return -1;
	for (int i = 0; i < n; i++) {
		r[i].violation = search_violation(&search_archive_member(a, i)->eval, cons, ncons);
		r[i].index = i;
	}
	qsort(r, (size_t)n, sizeof *r, by_violation);
	int k = n < max ? n : max;
	for (int i = 0; i < k; i++)
		out[i] = search_archive_member(a, r[i].index)->sub;
	free(r);
	return k;
}

int rt_answer_build(rt_answer_env *e, rt_answer_progress_fn progress, void *ctx,
		    const atomic_int *cancel, char *err, size_t errlen)
{
	if (cancelled(cancel))
		return RT_ANSWER_CANCELLED;
	int rc = load_heavy(e, progress, ctx, err, errlen);
	if (rc)
		return rc;
	int n = e->set.samples;
	sn_subnet *subs = calloc((size_t)n, sizeof *subs);
	search_member *ms = calloc((size_t)n, sizeof *ms);
	sn_plan *plan = calloc(1, sizeof *plan);
	search_archive *a = search_archive_new(e->space);
	search_result *front = NULL;
	pred_model_free(e->pred); /* the samples are measured without one */
	e->pred = NULL;
	rc = RT_ANSWER_ERROR;
	if (!subs || !ms || !plan || !a) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	n = sample(e, n, subs);
	for (int i = 0; i < n; i++) {
		if (cancelled(cancel)) {
			rc = RT_ANSWER_CANCELLED;
			goto out;
		}
		if (measure(e, &subs[i], plan, &ms[i], err, errlen) != 0)
			goto out;
		if (progress)
			progress(ctx, "sample", i + 1, n);
	}
	if (fit_predictor(e, ms, n, err, errlen) != 0)
		goto out;
	for (int i = 0; i < n; i++) {
		search_ctx c = make_ctx(e);
		search_eval pe;
		if (search_evaluate(&c, &ms[i].sub, plan, &pe, err, errlen) != 0)
			goto out;
		ms[i].predicted = pe.v[IR_METRIC_ACCURACY];
		if (search_archive_add(a, &ms[i]) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (cancelled(cancel)) {
		rc = RT_ANSWER_CANCELLED;
		goto out;
	}
	if (progress)
		progress(ctx, "search", 0, 1);
	ir_objective obj = { "archive", IR_METRIC_COUNT, (ir_metric *)all_metrics, all_maximize };
	moo_settings mset;
	moo_settings_init(&mset);
	mset.pop = e->set.population;
	mset.generations = e->set.generations;
	mset.seed = e->set.seed;
	search_ctx c = make_ctx(e);
	/* the measured samples' non-dominated ones start the search */
	int nseeds = pick_seeds(a, NULL, 0, mset.pop, subs);
	if (nseeds < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	front = search_run(&c, &obj, NULL, 0, &mset, subs, nseeds, err, errlen);
	if (!front)
		goto out;
	if (progress)
		progress(ctx, "search", 1, 1);
	for (int i = 0; i < front->n; i++) {
		if (cancelled(cancel)) {
			rc = RT_ANSWER_CANCELLED;
			goto out;
		}
		int known = 0;
		for (int j = 0; j < n && !known; j++)
			known = sn_subnet_equal(&ms[j].sub, &front->subs[i]);
		if (!known) {
			search_member m;
			if (measure(e, &front->subs[i], plan, &m, err, errlen) != 0)
				goto out;
			if (search_archive_add(a, &m) < 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
		if (progress)
			progress(ctx, "front", i + 1, front->n);
	}
	/* The members kept are measured on the test split once, for reports. */
	for (int i = 0; i < search_archive_size(a); i++) {
		if (cancelled(cancel)) {
			rc = RT_ANSWER_CANCELLED;
			goto out;
		}
		double test;
		if (measure_test(e, &search_archive_member(a, i)->sub, &test, err, errlen) != 0)
			goto out;
		search_archive_set_test(a, i, test);
		if (progress)
			progress(ctx, "test", i + 1, search_archive_size(a));
	}
	if (!rt_answer_current(e)) {
		rc = changed(e, err, errlen);
		goto out;
	}
	if (e->other_weights) {
		/* the records and kept answers of the other weights go too */
		char why[512] = "", dir[RT_STATE_PATH_MAX] = "";
		int removed = rt_state_supernet_forget(e->ckpt, why, sizeof why);
		rt_state_supernet_dir(e->root, e->task->supernet_key, dir, sizeof dir);
		snprintf(e->note, sizeof e->note,
			 "removed %d files measured on the other weights from %s (archive, "
			 "predictor, archd's subnet records and kept answers)%s%s",
			 removed, dir, why[0] ? "; " : "", why);
		e->other_weights = 0;
		e->forgotten++;
	}
	if (rt_state_mkparents(e->archive_path, err, errlen) != 0 ||
	    pred_model_save(e->pred, e->pred_path, err, errlen) != 0 ||
	    save_archive(e, a, err, errlen) != 0)
		goto out;
	search_archive_free(e->archive);
	e->archive = a;
	a = NULL;
	rc = 0;
out:
	if (rc != 0 && rc != RT_ANSWER_UNTRAINED && rc != RT_ANSWER_PARTIAL) {
		/* a half-built predictor is not one the saved archive goes with */
		pred_model_free(e->pred);
		e->pred = NULL;
		char ignored[256];
		struct stat st;
		if (stat(e->pred_path, &st) == 0)
			e->pred = pred_model_load(e->pred_path, ignored, sizeof ignored);
	}
	search_result_free(front);
	search_archive_free(a);
	free(plan);
	free(ms);
	free(subs);
	return rc;
}

/* The objective a spec without one is answered with. */
static const ir_metric acc_metric[1] = { IR_METRIC_ACCURACY };
static int acc_maximize[1] = { 1 };

const ir_objective *rt_answer_objective(const ir_module *m, int t, const ir_objective *obj,
					ir_objective *def)
{
	if (obj)
		return obj;
	if (m->tasks[t].objective >= 0)
		return &m->objectives[m->tasks[t].objective];
	*def = (ir_objective){ "accuracy", 1, (ir_metric *)acc_metric, acc_maximize };
	return def;
}

/* The archive's answer into *out: 0, or RT_ANSWER_INFEASIBLE with the
 * nearest member (or -1 members: *out untouched but tightest). */
static int from_archive(const rt_answer_env *e, const ir_objective *obj,
			const ir_constraint *cons, int ncons, rt_answer *out)
{
	int nearest, tightest;
	int i = search_archive_answer(e->archive, obj, cons, ncons, &nearest, &tightest);
	if (i < 0 && nearest < 0)
		return RT_ANSWER_INFEASIBLE;
	out->m = *search_archive_member(e->archive, i >= 0 ? i : nearest);
	out->searched = 0;
	out->tightest = i >= 0 ? -1 : tightest;
	return i >= 0 ? 0 : RT_ANSWER_INFEASIBLE;
}

/* Measures the test accuracy of the answer's subnet, which lacks one (an
 * archive of version 1), and keeps it in the archive when it is a member
 * (saved, so it is measured once).  Returns 0 or an RT_ANSWER_ code. */
static int fill_test(rt_answer_env *e, rt_answer *out, char *err, size_t errlen)
{
	int rc = load_heavy(e, NULL, NULL, err, errlen);
	if (rc)
		return rc;
	if (measure_test(e, &out->m.sub, &out->m.test, err, errlen) != 0)
		return RT_ANSWER_ERROR;
	int i = search_archive_find(e->archive, &out->m.sub);
	if (i < 0 || isnan(out->m.test))
		return 0;
	search_archive_set_test(e->archive, i, out->m.test);
	if (!rt_answer_current(e))
		return changed(e, err, errlen);
	if (save_archive(e, e->archive, err, errlen) != 0)
		return RT_ANSWER_ERROR;
	e->note[0] = '\0';
	return 0;
}

int rt_answer_spec(rt_answer_env *e, const ir_objective *obj, const ir_constraint *cons,
		   int ncons, int allow_search, rt_answer *out, char *err, size_t errlen)
{
	if (!e->archive || !e->pred) {
		if (!rt_answer_trained(e))
			return RT_ANSWER_UNTRAINED;
		if (e->stale[0])
			snprintf(err, errlen, "task %s's archive is rebuilt: %s", e->task->name,
				 e->stale);
		else
			snprintf(err, errlen, "task %s has no archive yet (%s)", e->task->name,
				 e->archive_path);
		return RT_ANSWER_NO_ARCHIVE;
	}
	ir_objective def;
	obj = rt_answer_objective(e->m, (int)(e->task - e->m->tasks), obj, &def);
	memset(out, 0, sizeof *out);
	out->tightest = -1;
	int rc = from_archive(e, obj, cons, ncons, out);
	if (rc == 0)
		return isnan(out->m.test) && allow_search ? fill_test(e, out, err, errlen) : 0;
	if (!allow_search)
		return RT_ANSWER_NEED_SEARCH;
	rc = load_heavy(e, NULL, NULL, err, errlen);
	if (rc)
		return rc;
	sn_subnet *seeds = calloc(SPEC_POP, sizeof *seeds);
	sn_plan *plan = calloc(1, sizeof *plan);
	search_result *r = NULL;
	rc = RT_ANSWER_ERROR;
	int n = seeds ? pick_seeds(e->archive, cons, ncons, SPEC_POP, seeds) : -1;
	if (n < 0 || !plan) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	moo_settings mset;
	moo_settings_init(&mset);
	mset.pop = SPEC_POP;
	mset.generations = SPEC_GENERATIONS;
	mset.seed = e->set.seed;
	search_ctx c = make_ctx(e);
	r = search_run(&c, obj, cons, ncons, &mset, seeds, n, err, errlen);
	if (!r)
		goto out;
	int nearest, tightest;
	int best = search_pick(r->evals, r->n, obj, cons, ncons, &nearest, &tightest);
	search_member m;
	if (measure(e, &r->subs[best >= 0 ? best : nearest], plan, &m, err, errlen) != 0 ||
	    measure_test(e, &m.sub, &m.test, err, errlen) != 0)
		goto out;
	if (!rt_answer_current(e)) {
		rc = changed(e, err, errlen);
		goto out;
	}
	int added = search_archive_add(e->archive, &m);
	if (added < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (added && save_archive(e, e->archive, err, errlen) != 0)
		goto out;
	rt_answer near = *out; /* the archive's nearest, when it has members */
	rc = from_archive(e, obj, cons, ncons, out);
	if (rc == 0) {
		out->searched = sn_subnet_equal(&out->m.sub, &m.sub);
	} else if (search_violation(&m.eval, cons, ncons) == 0) {
		/* it meets the spec but a member dominates it over all five
		 * metrics (a spec with a lower bound on a cost) */
		out->m = m;
		out->searched = 1;
		out->tightest = -1;
		rc = 0;
	} else {
		/* the nearest of the archive's and the measured one */
		if (near.tightest < 0 || search_violation(&m.eval, cons, ncons) <
						 search_violation(&near.m.eval, cons, ncons)) {
			out->m = m;
			out->searched = 1;
		} else {
			out->m = near.m;
			out->searched = 0;
		}
		search_pick(&out->m.eval, 1, obj, cons, ncons, &nearest, &out->tightest);
	}
	if (isnan(out->m.test)) {
		int frc = fill_test(e, out, err, errlen);
		if (frc != 0)
			rc = frc;
	}
out:
	search_result_free(r);
	free(plan);
	free(seeds);
	return rc;
}

rt_model *rt_answer_extract(rt_answer_env *e, const sn_subnet *sub, int *status, char *err,
			    size_t errlen)
{
	*status = load_heavy(e, NULL, NULL, err, errlen);
	if (*status)
		return NULL;
	*status = RT_ANSWER_ERROR;
	if (rt_eval_recalibrate(e->sn, sub, e->data, rt_eval_calib_images(&e->task->recipe),
				e->task->recipe.seed, err, errlen) < 0)
		return NULL;
	rt_model *model = rt_model_extract(e->sn, sub, e->task->supernet_key, err, errlen);
	if (!model)
		return NULL;
	/* The model takes raw values: IDX bytes are scaled to [0, 1] before
	 * the data set's normalisation (data.h). */
	float scale = e->m->datasets[e->task->dataset].format == IR_FORMAT_IDX ? 255.0f : 1.0f;
	for (int c = 0; c < model->in_channels; c++) {
		model->in_mean[c] = e->data->mean[c] * scale;
		model->in_std[c] = e->data->std[c] * scale;
	}
	*status = 0;
	return model;
}
