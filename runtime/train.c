/*
 * train.c — the trainer of train.h: phases, samplers, the step, evaluation
 * and checkpoints.
 */
#include "runtime/train.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "runtime/evaluate.h"
#include "runtime/ops.h"
#include "runtime/optim.h"
#include "runtime/statedir.h"
#include "runtime/threads.h"

#define TR_MAX_PHASES (IR_MAX_SHRINK + 1)
#define TR_MAX_SAMPLES 64 /* subnets per step: sandwich(n) has n <= 64 */
#define TR_MAX_LANES 16   /* subnets run at once (each lane past the first holds a replica) */
/* Stream numbers of the recipe seed. */
#define TR_STREAM_SAMPLER 1

/*
 * The subnets of a sandwich step run side by side on lanes, one per pool
 * thread: lane 0 on the supernet, the others on replicas of it
 * (sn_supernet_replica), each with its own gradient and loss buffers.  The
 * ops of one small subnet split poorly across threads (a batch of 128 at
 * 7x7 is little work per op), whole subnets split well.  The largest
 * subnet's forward runs first, alone, on every thread: the others learn
 * from its soft labels.  Then its backward and the other subnets are
 * shared out by cost, the largest first, each to the lane with the least
 * work so far (a fixed assignment: results are the same for a fixed seed
 * and thread count), and the replicas' gradients are added to the
 * supernet's in lane order.  The replicas' running statistics are their
 * own: a sandwich-trained subnet is always measured after recalibration.
 */
typedef struct tr_lane {
	sn_supernet *sn;     /* the trainer's supernet for lane 0 */
	float *dlogits, *dkd;
	int sub[TR_MAX_SAMPLES]; /* the step's subnets this lane runs */
	int nsub;
	double work;         /* their time (subnet_work) */
	int bad;             /* a non-finite loss */
} tr_lane;

struct rt_trainer {
	const ir_module *m;
	const ir_task *task;
	const ir_recipe *r;
	const ir_space *space;
	const rt_data *data;
	rt_data *own_data; /* data, when the trainer loaded it */
	sn_supernet *sn;
	int nclasses;

	int fixed;          /* fixed-subnet mode */
	sn_subnet sub;      /* the fixed subnet */
	uint8_t key[16];
	int8_t *gene_dim;   /* ir_shrink of each gene, -1 when not elastic */

	int nphases;
	const char *phase_name[TR_MAX_PHASES];
	int phase_first[TR_MAX_PHASES + 1];
	unsigned locked[TR_MAX_PHASES]; /* bit d: dimension d held at its largest */

	char *ckpt_path;
	int lock_fd; /* ckpt_path.lock, held while the trainer lives; -1: none */
	int read_only;
	char note[6144]; /* rt_train_note */
	long ckpt_every;
	int eval_each;
	rt_train_cb cb;
	void *cb_ctx;
	const atomic_int *cancel;

	rt_batcher batcher;
	long steps; /* per epoch */
	rt_sched sched;
	rt_sgd sgd;
	rt_rng rng; /* subnet sampling */
	rt_ckpt_state pos;
	int resumed;

	float *x, *dlogits, *teacher, *dkd; /* dkd: the soft labels' gradient */
	int *y;
	float *stats_save;
	tr_lane lane[TR_MAX_LANES];   /* lane[0] uses sn, dlogits and dkd */
	int nlanes;                   /* lanes built so far (0 until a step needs them) */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void rt_train_opts_init(rt_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threads = -1;
	o->eval_each_epoch = 1;
}

void rt_train_key(const ir_module *m, int task, const sn_subnet *fixed, uint8_t key[16])
{
	const ir_task *t = &m->tasks[task];
	if (!fixed) {
		memcpy(key, t->supernet_key, 16);
		return;
	}
	const ir_space *s = &m->spaces[t->space];
	char buf[16 + 6 + SN_GENE_STRLEN];
	ir_task_standalone_key(m, task, (uint8_t *)buf);
	memcpy(buf + 16, "fixed:", 6);
	int n = sn_subnet_format(s, fixed, buf + 22, SN_GENE_STRLEN);
	assert(n >= 0);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(buf, (size_t)(22 + n)));
	memcpy(key, c.digest, 16);
}

/* --- phases ----------------------------------------------------------------- */

/* Which dimension each gene controls (the order of sn_subnet's groups). */
static int map_genes(rt_trainer *t)
{
	const ir_space *s = t->space;
	t->gene_dim = malloc((size_t)(s->ngenes ? s->ngenes : 1));
	if (!t->gene_dim)
		return -1;
	memset(t->gene_dim, -1, (size_t)(s->ngenes ? s->ngenes : 1));
	for (int i = s->nlayers - 1; i >= 0; i--) {
		const ir_layer *l = &s->layers[i];
		if (l->g_out >= 0)
			t->gene_dim[l->g_out] = IR_SHRINK_WIDTH;
		if (l->g_expand >= 0)
			t->gene_dim[l->g_expand] = IR_SHRINK_EXPAND;
		if (l->g_kernel >= 0)
			t->gene_dim[l->g_kernel] = IR_SHRINK_KERNEL;
	}
	for (int i = 0; i < s->nstages; i++)
		if (s->stages[i].g_depth >= 0)
			t->gene_dim[s->stages[i].g_depth] = IR_SHRINK_DEPTH;
	if (s->g_resolution >= 0)
		t->gene_dim[s->g_resolution] = IR_SHRINK_RESOLUTION;
	return 0;
}

/* The phases of train.h and their epochs. */
static void plan_phases(rt_trainer *t)
{
	const ir_recipe *r = t->r;
	int shrink = !t->fixed && r->sampler != IR_SAMPLER_MAX && r->nshrink > 0;
	if (!shrink) {
		t->nphases = 1;
		t->phase_name[0] = "train";
		t->locked[0] = 0;
	} else {
		t->nphases = r->nshrink + 1;
		t->phase_name[0] = "full";
		for (int p = 0; p < t->nphases; p++) {
			unsigned lock = 0;
			for (int j = p; j < r->nshrink; j++)
				lock |= 1u << r->shrink[j];
			t->locked[p] = lock;
			if (p > 0)
				t->phase_name[p] = ir_shrink_names[r->shrink[p - 1]];
		}
	}
	int base = r->epochs / t->nphases, extra = r->epochs % t->nphases;
	t->phase_first[0] = 0;
	for (int p = 0; p < t->nphases; p++)
		t->phase_first[p + 1] =
			t->phase_first[p] + base + (p >= t->nphases - extra ? 1 : 0);
	assert(t->phase_first[t->nphases] == r->epochs);
}

static int phase_of(const rt_trainer *t, int epoch)
{
	int p = 0;
	while (p + 1 < t->nphases && epoch >= t->phase_first[p + 1])
		p++;
	return p;
}

/* Holds the locked genes of phase p at their largest value. */
static void apply_locks(const rt_trainer *t, int p, sn_subnet *sub)
{
	for (int g = 0; g < t->space->ngenes; g++)
		if (t->gene_dim[g] >= 0 && (t->locked[p] >> t->gene_dim[g] & 1u))
			sub->g[g] = (uint8_t)(t->space->genes[g].nvalues - 1);
}

/* The subnets of one step; returns their count (duplicates dropped). */
static int sample_step(rt_trainer *t, int p, sn_subnet *out)
{
	if (t->fixed) {
		out[0] = t->sub;
		return 1;
	}
	const ir_recipe *r = t->r;
	int want = r->sampler == IR_SAMPLER_SANDWICH ? r->sampler_n : 1;
	if (want > TR_MAX_SAMPLES)
		want = TR_MAX_SAMPLES;
	int n = 0;
	for (int i = 0; i < want; i++) {
		sn_subnet s;
		if (r->sampler == IR_SAMPLER_MAX || (r->sampler == IR_SAMPLER_SANDWICH && i == 0))
			sn_subnet_max(t->space, &s);
		else if (r->sampler == IR_SAMPLER_SANDWICH && i == 1)
			sn_subnet_min(t->space, &s);
		else
			sn_subnet_random(t->space, &t->rng, &s);
		apply_locks(t, p, &s);
		int dup = 0;
		for (int j = 0; j < n && !dup; j++)
			dup = sn_subnet_equal(&s, &out[j]);
		if (!dup)
			out[n++] = s;
	}
	return n;
}

/* --- construction ------------------------------------------------------------- */

/* A run from scratch: what was measured on the weights of an earlier
 * training of this supernet (its checkpoint gone) would answer for the new
 * ones; it goes, and the note says so. */
static void forget_measured(rt_trainer *t)
{
	char why[1024];
	int removed = rt_state_supernet_forget(t->ckpt_path, why, sizeof why);
	if (removed > 0)
		snprintf(t->note, sizeof t->note,
			 "%s: trained afresh, so the %d files measured on its earlier weights "
			 "(archive, predictor, subnet records) beside it were removed%s%s",
			 t->ckpt_path, removed, why[0] ? "; " : "", why);
	else if (why[0])
		snprintf(t->note, sizeof t->note, "%s", why);
}

rt_trainer *rt_train_new(const ir_module *m, int task, const rt_train_opts *o, char *err,
			 size_t errlen)
{
	assert(task >= 0 && task < m->ntasks);
	const ir_task *tk = &m->tasks[task];
	if (tk->from >= 0) {
		seterr(err, errlen,
		       "task %s: transfers from task %s and has no training recipe of its own",
		       tk->name, m->tasks[tk->from].name);
		return NULL;
	}
	if (tk->recipe.epochs < 1 || tk->recipe.batch < 1) {
		seterr(err, errlen, "task %s: recipe has %d epochs and batch %d", tk->name,
		       tk->recipe.epochs, tk->recipe.batch);
		return NULL;
	}
	if (o->threads >= 0 && rt_threads_init(o->threads, err, (int)errlen) < 0)
		return NULL;
	rt_trainer *t = calloc(1, sizeof(*t));
	if (!t) {
		seterr(err, errlen, "task %s: out of memory", tk->name);
		return NULL;
	}
	t->m = m;
	t->task = tk;
	t->lock_fd = -1;
	t->read_only = o->read_only;
	t->r = &tk->recipe;
	t->space = &m->spaces[tk->space];
	t->ckpt_every = o->checkpoint_every > 0 ? o->checkpoint_every : 0;
	t->eval_each = o->eval_each_epoch;
	t->cb = o->cb;
	t->cb_ctx = o->cb_ctx;
	t->cancel = o->cancel;
	if (o->subnet) {
		if (o->subnet->ngenes != t->space->ngenes) {
			seterr(err, errlen, "task %s: the subnet has %d genes, space %s has %d",
			       tk->name, o->subnet->ngenes, t->space->name, t->space->ngenes);
			goto fail;
		}
		t->fixed = 1;
		t->sub = *o->subnet;
	}
	rt_train_key(m, task, o->subnet, t->key);
	if (o->checkpoint && !(t->ckpt_path = strdup(o->checkpoint)))
		goto oom;
	if (map_genes(t) != 0)
		goto oom;
	plan_phases(t);

	char derr[512];
	t->data = o->data;
	if (!t->data) {
		t->data = t->own_data = rt_data_load(&m->datasets[tk->dataset], derr, sizeof derr);
		if (!t->data) {
			seterr(err, errlen, "task %s: %s", tk->name, derr);
			goto fail;
		}
	}
	const rt_data *d = t->data;
	if (strcmp(d->name, m->datasets[tk->dataset].name) != 0) {
		seterr(err, errlen, "task %s: given data set %s, the task trains on %s",
		       tk->name, d->name, m->datasets[tk->dataset].name);
		goto fail;
	}
	if (d->channels != t->space->in_channels) {
		seterr(err, errlen, "task %s: data set %s has %d channels, space %s takes %d",
		       tk->name, d->name, d->channels, t->space->name, t->space->in_channels);
		goto fail;
	}
	t->nclasses = d->nclasses;
	int batch = t->r->batch;
	t->sn = sn_supernet_new(t->space, d->nclasses, d->height, d->width, batch, t->r->seed,
				derr, sizeof derr);
	if (!t->sn) {
		seterr(err, errlen, "task %s: %s", tk->name, derr);
		goto fail;
	}
	if (rt_batcher_init(&t->batcher, d, RT_SPLIT_TRAIN, batch, RT_BATCH_TRAIN) != 0)
		goto oom;
	t->steps = rt_batcher_steps(&t->batcher);
	if (t->steps < 1) {
		seterr(err, errlen, "task %s: batch %d is larger than the %d training examples",
		       tk->name, batch, d->part[RT_SPLIT_TRAIN].n);
		goto fail;
	}
	rt_sched_from_recipe(&t->sched, t->r, t->steps);
	rt_sgd_from_recipe(&t->sgd, t->r);
	rt_rng_seed_stream(&t->rng, t->r->seed, TR_STREAM_SAMPLER);
	t->x = malloc((size_t)batch * d->example_size * sizeof(float));
	t->y = malloc((size_t)batch * sizeof(int));
	t->dlogits = malloc((size_t)batch * d->nclasses * sizeof(float));
	t->teacher = malloc((size_t)batch * d->nclasses * sizeof(float));
	t->dkd = malloc((size_t)batch * d->nclasses * sizeof(float));
	t->stats_save = malloc((sn_supernet_nstats(t->sn) + 1) * sizeof(float));
	if (!t->x || !t->y || !t->dlogits || !t->teacher || !t->dkd || !t->stats_save)
		goto oom;

	if (t->ckpt_path) {
		if (!o->read_only && rt_state_mkparents(t->ckpt_path, err, errlen) != 0)
			goto fail;
		/* two runs on one checkpoint would overwrite each other's steps */
		char lock[4096], why[4200];
		if (snprintf(lock, sizeof lock, "%s.lock", t->ckpt_path) >= (int)sizeof lock) {
			seterr(err, errlen, "%s: path too long", t->ckpt_path);
			goto fail;
		}
		if (!o->read_only && (t->lock_fd = rt_state_lock(lock, why, sizeof why)) < 0) {
			seterr(err, errlen, "%s%s", why,
			       strstr(why, ": in use by") ? " (another run is training this supernet)"
							 : "");
			goto fail;
		}
		if (o->resume) {
			int rc = rt_ckpt_load(t->ckpt_path, t->sn, t->key, &t->pos, err, errlen);
			if (rc == RT_CKPT_ERROR)
				goto fail;
			if (rc == 0) {
				if (t->pos.nrng != 1 || t->pos.epoch > t->r->epochs ||
				    t->pos.step > t->steps ||
				    t->pos.phase != phase_of(t, t->pos.epoch)) {
					seterr(err, errlen,
					       "%s: position (phase %d, epoch %d, step %d) does not fit "
					       "task %s's recipe",
					       t->ckpt_path, t->pos.phase, t->pos.epoch, t->pos.step,
					       tk->name);
					goto fail;
				}
				t->rng = t->pos.rng[0];
				t->resumed = 1;
			}
		}
		if (!t->resumed && !o->read_only && o->state_dir)
			forget_measured(t);
	}
	return t;
oom:
	seterr(err, errlen, "task %s: out of memory", tk->name);
fail:
	rt_train_free(t);
	return NULL;
}

void rt_train_free(rt_trainer *t)
{
	if (!t)
		return;
	rt_batcher_free(&t->batcher);
	for (int l = 1; l < t->nlanes; l++) {
		sn_supernet_free(t->lane[l].sn);
		free(t->lane[l].dlogits);
		free(t->lane[l].dkd);
	}
	sn_supernet_free(t->sn);
	rt_data_free(t->own_data);
	free(t->gene_dim);
	free(t->ckpt_path);
	rt_state_unlock(t->lock_fd);
	free(t->x);
	free(t->y);
	free(t->dlogits);
	free(t->teacher);
	free(t->dkd);
	free(t->stats_save);
	free(t);
}

/* --- evaluation ----------------------------------------------------------------- */

/* Whether the stored statistics already belong to sub alone. */
static int stats_are_own(const rt_trainer *t, const sn_subnet *sub)
{
	if (t->fixed)
		return sn_subnet_equal(sub, &t->sub);
	if (t->r->sampler != IR_SAMPLER_MAX)
		return 0;
	sn_subnet mx;
	sn_subnet_max(t->space, &mx);
	return sn_subnet_equal(sub, &mx);
}

int rt_train_eval(rt_trainer *t, const sn_subnet *sub, rt_split split, double *acc,
		  double *loss)
{
	size_t ns = sn_supernet_nstats(t->sn);
	float *st = sn_supernet_stats(t->sn);
	int recal = !stats_are_own(t, sub);
	char err[256];
	if (recal) {
		memcpy(t->stats_save, st, ns * sizeof(float));
		if (rt_eval_recalibrate(t->sn, sub, t->data, rt_eval_calib_images(t->r), t->r->seed,
					err, sizeof err) < 0)
			return -1;
	}
	rt_eval_result r;
	int rc = rt_eval_subnet(t->sn, sub, t->data, split, &r, err, sizeof err);
	if (recal)
		memcpy(st, t->stats_save, ns * sizeof(float));
	if (rc != 0)
		return -1;
	*acc = r.accuracy;
	if (loss)
		*loss = r.loss;
	return 0;
}

/* --- the loop ------------------------------------------------------------------- */

static void event_init(const rt_trainer *t, rt_train_event *ev, rt_train_event_kind kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->phase = t->pos.phase;
	ev->nphases = t->nphases;
	ev->phase_name = t->phase_name[t->pos.phase];
	ev->epoch = t->pos.epoch;
	ev->epochs = t->r->epochs;
	ev->step = t->pos.step;
	ev->steps = t->steps;
	ev->global_step = t->pos.global_step;
	ev->total_steps = (int64_t)t->steps * t->r->epochs;
}

static int save(rt_trainer *t, char *err, size_t errlen)
{
	if (!t->ckpt_path)
		return 0;
	t->pos.nrng = 1;
	t->pos.rng[0] = t->rng;
	if (rt_ckpt_save(t->ckpt_path, t->sn, t->key, &t->pos, err, errlen) != 0)
		return -1;
	if (t->cb) {
		rt_train_event ev;
		event_init(t, &ev, RT_TRAIN_EVENT_CHECKPOINT);
		t->cb(t->cb_ctx, &ev);
	}
	return 0;
}

/* The loss of the step's subnet i (0: the first, the largest of a sandwich
 * step, whose soft labels the others learn from) on its logits, with its
 * gradient in ln->dlogits; subnet 0's correct count in *correct. */
static double loss_of(rt_trainer *t, tr_lane *ln, int i, int nsub, const float *logits, int n,
		      int *correct)
{
	int K = t->nclasses;
	ir_distill distill = !t->fixed && t->r->sampler == IR_SAMPLER_SANDWICH ? t->r->distill
									      : IR_DISTILL_NONE;
	if (i > 0 && distill == IR_DISTILL_INPLACE)
		return rt_kl_forward_backward(n, K, K, logits, t->teacher, ln->dlogits);
	int c = 0;
	double l = rt_xent_forward_backward(n, K, K, logits, t->y, (float)t->r->label_smoothing,
					    ln->dlogits, &c);
	if (i == 0)
		*correct = c;
	if (i == 0 && distill != IR_DISTILL_NONE && nsub > 1)
		rt_softmax_forward(n, K, K, logits, t->teacher);
	if (i > 0 && distill == IR_DISTILL_LABELS) {
		l += rt_kl_forward_backward(n, K, K, logits, t->teacher, ln->dkd);
		for (int j = 0; j < n * K; j++)
			ln->dlogits[j] += ln->dkd[j];
	}
	return l;
}

/* Lanes for a step of nsub subnets: as many as pool threads, at most one
 * per subnet; fewer when memory for another replica is short. */
static int lanes_for(rt_trainer *t, int nsub)
{
	if (t->nlanes == 0) {
		t->lane[0].sn = t->sn;
		t->lane[0].dlogits = t->dlogits;
		t->lane[0].dkd = t->dkd;
		t->nlanes = 1;
	}
	int want = rt_threads_count();
	if (want > nsub)
		want = nsub;
	if (want > TR_MAX_LANES)
		want = TR_MAX_LANES;
	size_t nk = (size_t)sn_supernet_max_batch(t->sn) * t->nclasses;
	while (t->nlanes < want) {
		tr_lane *ln = &t->lane[t->nlanes];
		char err[256];
		ln->sn = sn_supernet_replica(t->sn, err, sizeof err);
		ln->dlogits = malloc(nk * sizeof(float));
		ln->dkd = malloc(nk * sizeof(float));
		if (!ln->sn || !ln->dlogits || !ln->dkd) {
			sn_supernet_free(ln->sn);
			free(ln->dlogits);
			free(ln->dkd);
			memset(ln, 0, sizeof *ln);
			break;
		}
		t->nlanes++;
	}
	return want < t->nlanes ? want : t->nlanes;
}

/*
 * The time a subnet's forward and backward take on one core, in MACs: its
 * MACs, and 33 for each float of activation the batch norms, activations
 * and depthwise convolutions read and write (a least-squares fit on
 * fashion.arch's space: within 5% per subnet, where MACs alone are off by
 * 11%, the small subnets costing more per MAC).
 */
static double subnet_work(const rt_trainer *t, const sn_subnet *sub)
{
	sn_plan plan;
	sn_cost c;
	sn_plan_build(t->space, t->nclasses, sub, &plan);
	sn_plan_cost(t->space, &plan, &c);
	double floats = 0;
	for (int i = 0; i < plan.nlayers; i++) {
		const sn_layer_plan *p = &plan.layer[i];
		if (p->active)
			floats += (double)p->h * p->w * p->mid +
				  (double)p->ho * p->wo * (p->mid + p->cout);
	}
	return c.macs + 33 * floats;
}

typedef struct tr_step {
	rt_trainer *t;
	const sn_subnet *subs;
	int nsub, n;
} tr_step;

/* Lanes [b, e) of a step: lane 0 back-propagates subnet 0 first. */
static void run_lanes(void *ctx, int64_t b, int64_t e)
{
	tr_step *st = ctx;
	rt_trainer *t = st->t;
	for (int64_t l = b; l < e; l++) {
		tr_lane *ln = &t->lane[l];
		if (l == 0)
			sn_supernet_backward(ln->sn, ln->dlogits);
		for (int k = 0; k < ln->nsub; k++) {
			int i = ln->sub[k], c;
			sn_supernet_set_subnet(ln->sn, &st->subs[i]);
			const float *logits =
				sn_supernet_forward(ln->sn, t->x, st->n, RT_BN_MODE_TRAIN);
			if (!isfinite(loss_of(t, ln, i, st->nsub, logits, st->n, &c))) {
				ln->bad = 1;
				break;
			}
			sn_supernet_backward(ln->sn, ln->dlogits);
		}
	}
}

/* Shares subnets 1.. of the step out to nl lanes (above). */
static void assign(rt_trainer *t, const sn_subnet *subs, int nsub, int nl)
{
	double work[TR_MAX_SAMPLES] = {0};
	int order[TR_MAX_SAMPLES];
	for (int l = 0; l < nl; l++) {
		t->lane[l].nsub = 0;
		t->lane[l].work = 0;
		t->lane[l].bad = 0;
	}
	for (int i = 0; i < nsub; i++) {
		work[i] = subnet_work(t, &subs[i]);
		order[i] = i;
	}
	t->lane[0].work = 2 * work[0] / 3; /* subnet 0's backward */
	for (int a = 2; a < nsub; a++) /* subnets 1.. by decreasing cost */
		for (int b = a; b > 1 && work[order[b]] > work[order[b - 1]]; b--) {
			int x = order[b];
			order[b] = order[b - 1];
			order[b - 1] = x;
		}
	for (int k = 1; k < nsub; k++) {
		int i = order[k], best = 0;
		for (int l = 1; l < nl; l++)
			if (t->lane[l].work < t->lane[best].work)
				best = l;
		tr_lane *ln = &t->lane[best];
		ln->sub[ln->nsub++] = i;
		ln->work += work[i];
	}
}

/* One optimiser step on the batch in t->x / t->y (n examples).  Fills the
 * first subnet's loss and correct count; returns 0 or -1 on a non-finite
 * loss. */
static int step(rt_trainer *t, int n, double lr, double *loss, int *correct)
{
	sn_subnet subs[TR_MAX_SAMPLES];
	int nsub = sample_step(t, t->pos.phase, subs);
	int nl = lanes_for(t, nsub);
	for (int l = 0; l < nl; l++)
		sn_supernet_zero_grad(t->lane[l].sn);
	sn_supernet_set_subnet(t->sn, &subs[0]);
	const float *logits = sn_supernet_forward(t->sn, t->x, n, RT_BN_MODE_TRAIN);
	*loss = loss_of(t, &t->lane[0], 0, nsub, logits, n, correct);
	if (!isfinite(*loss))
		return -1;
	tr_step st = {t, subs, nsub, n};
	if (nl == 1) {
		/* one lane: every op on every thread, in the order drawn */
		t->lane[0].nsub = 0;
		t->lane[0].bad = 0;
		for (int i = 1; i < nsub; i++)
			t->lane[0].sub[t->lane[0].nsub++] = i;
		run_lanes(&st, 0, 1);
	} else {
		assign(t, subs, nsub, nl);
		rt_parallel_for(nl, run_lanes, &st);
	}
	float *g = sn_supernet_grads(t->sn);
	size_t ng = sn_supernet_nparams(t->sn);
	for (int l = 0; l < nl; l++) {
		if (t->lane[l].bad)
			return -1;
		const float *gl = l > 0 ? sn_supernet_grads(t->lane[l].sn) : NULL;
		for (size_t j = 0; gl && j < ng; j++)
			g[j] += gl[j];
	}
	int np;
	rt_param *params = sn_supernet_params(t->sn, &np);
	rt_sgd_step(&t->sgd, params, np, lr);
	return 0;
}

static int unlocked(const rt_trainer *t, int phase, ir_shrink d)
{
	return !(t->locked[phase] >> d & 1u);
}

/* OFA's re-sorting when epoch e starts a phase that unlocks expand or
 * width; 0 or -1 when memory is short. */
static int sort_for_phase(rt_trainer *t, int e)
{
	if (e == 0 || t->pos.step != 0)
		return 0;
	int cur = phase_of(t, e), prev = phase_of(t, e - 1);
	if (unlocked(t, cur, IR_SHRINK_EXPAND) && !unlocked(t, prev, IR_SHRINK_EXPAND) &&
	    sn_supernet_sort_channels(t->sn) != 0)
		return -1;
	if (unlocked(t, cur, IR_SHRINK_WIDTH) && !unlocked(t, prev, IR_SHRINK_WIDTH) &&
	    sn_supernet_sort_widths(t->sn) != 0)
		return -1;
	return 0;
}

/* The evaluation split of the end of an epoch. */
static rt_split eval_split(const rt_trainer *t)
{
	return t->data->part[RT_SPLIT_HOLDOUT].n > 0 ? RT_SPLIT_HOLDOUT : RT_SPLIT_TEST;
}

static int end_epoch(rt_trainer *t, char *err, size_t errlen)
{
	rt_train_event ev;
	event_init(t, &ev, RT_TRAIN_EVENT_EPOCH_END);
	ev.step = t->steps;
	if (t->eval_each) {
		sn_subnet sub;
		if (t->fixed)
			sub = t->sub;
		else
			sn_subnet_max(t->space, &sub);
		rt_split sp = eval_split(t);
		if (rt_train_eval(t, &sub, sp, &ev.eval_acc, &ev.eval_loss) == 0)
			ev.eval_split = rt_split_names[sp];
	}
	if (t->cb)
		t->cb(t->cb_ctx, &ev);
	t->pos.epoch++;
	t->pos.step = 0;
	t->pos.phase = phase_of(t, t->pos.epoch < t->r->epochs ? t->pos.epoch : t->r->epochs - 1);
	return save(t, err, errlen);
}

int rt_train_run(rt_trainer *t, char *err, size_t errlen)
{
	if (t->read_only) {
		seterr(err, errlen, "task %s: a read-only trainer does not train", t->task->name);
		return RT_TRAIN_ERROR;
	}
	const int epochs = t->r->epochs;
	while (t->pos.epoch < epochs) {
		int e = t->pos.epoch;
		t->pos.phase = phase_of(t, e);
		if (sort_for_phase(t, e) != 0) {
			seterr(err, errlen, "task %s: out of memory sorting channels", t->task->name);
			return RT_TRAIN_ERROR;
		}
		rt_train_event ev;
		if (t->cb) {
			event_init(t, &ev, RT_TRAIN_EVENT_EPOCH_BEGIN);
			t->cb(t->cb_ctx, &ev);
		}
		rt_batcher_seek(&t->batcher, e, t->pos.step);
		while (t->pos.step < t->steps) {
			if (t->cancel && atomic_load(t->cancel)) {
				if (save(t, err, errlen) != 0)
					return RT_TRAIN_ERROR;
				return RT_TRAIN_CANCELLED;
			}
			int n = rt_batcher_next(&t->batcher, t->x, t->y);
			assert(n > 0);
			double lr = rt_sched_lr(&t->sched, (long)t->pos.global_step);
			double loss = 0;
			int correct = 0;
			if (step(t, n, lr, &loss, &correct) != 0) {
				seterr(err, errlen,
				       "task %s: training diverged (non-finite loss at epoch %d, "
				       "step %d); try a lower learning rate",
				       t->task->name, e + 1, t->pos.step + 1);
				return RT_TRAIN_ERROR;
			}
			t->pos.step++;
			t->pos.global_step++;
			if (t->cb) {
				event_init(t, &ev, RT_TRAIN_EVENT_STEP);
				ev.images = n;
				ev.loss = loss;
				ev.correct = correct;
				ev.lr = lr;
				t->cb(t->cb_ctx, &ev);
			}
			if (t->ckpt_every && t->pos.global_step % t->ckpt_every == 0 &&
			    t->pos.step < t->steps && save(t, err, errlen) != 0)
				return RT_TRAIN_ERROR;
		}
		if (end_epoch(t, err, errlen) != 0)
			return RT_TRAIN_ERROR;
	}
	return RT_TRAIN_DONE;
}

/* --- accessors ------------------------------------------------------------------- */

const char *rt_train_note(const rt_trainer *t)
{
	return t->note;
}

int rt_train_resumed(const rt_trainer *t) { return t->resumed; }
sn_supernet *rt_train_supernet(rt_trainer *t) { return t->sn; }
const rt_data *rt_train_data(const rt_trainer *t) { return t->data; }
const uint8_t *rt_train_ckpt_key(const rt_trainer *t) { return t->key; }
int rt_train_nphases(const rt_trainer *t) { return t->nphases; }
long rt_train_steps_per_epoch(const rt_trainer *t) { return t->steps; }

void rt_train_position(const rt_trainer *t, rt_ckpt_state *pos)
{
	*pos = t->pos;
	pos->nrng = 1;
	pos->rng[0] = t->rng;
}

const char *rt_train_phase_name(const rt_trainer *t, int phase)
{
	assert(phase >= 0 && phase < t->nphases);
	return t->phase_name[phase];
}

int rt_train_phase_epochs(const rt_trainer *t, int phase)
{
	assert(phase >= 0 && phase < t->nphases);
	return t->phase_first[phase + 1] - t->phase_first[phase];
}
