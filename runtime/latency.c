/*
 * latency.c — the lookup table: keys of a subnet's layers, the shapes a
 * space can produce, prediction, and the host's CPU model.  Timing is in
 * latency_time.c, the text form in latency_file.c.
 */
#include "runtime/latency.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <xxhash.h>

#include "runtime/latency_priv.h"
#include "runtime/ops.h"
#include "runtime/threads.h"

/* The checksum of the kernel sources and compile command, made by the
 * Makefile (runtime/kernels_id). */
#ifndef LAT_KERNELS_SOURCE_ID
#error "LAT_KERNELS_SOURCE_ID is set by the Makefile"
#endif

const char *const lat_kind_names[LAT_KIND_COUNT] = {"conv", "mbconv", "residual", "dense",
						     "pool", "fc", "resize"};
_Static_assert(LAT_KIND_COUNT == 7 && IR_BLOCK_COUNT == 6, "lat_kind_names");

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* --- CPU model ------------------------------------------------------------------- */

static int name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '+' || c == '-';
}

/* Copies src into buf as a file name (see lat_cpu_model). */
static void sanitize(const char *src, char *buf, size_t buflen)
{
	size_t o = 0;
	int gap = 0;
	for (const char *p = src; *p && o + 1 < buflen; p++) {
		if (name_char(*p)) {
			if (gap && o > 0 && o + 2 < buflen)
				buf[o++] = '_';
			gap = 0;
			buf[o++] = *p;
		} else {
			gap = 1;
		}
	}
	buf[o] = '\0';
}

void lat_cpu_model(char *buf, size_t buflen)
{
	assert(buflen >= 8);
	char model[512] = "";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
				snprintf(model, sizeof(model), "%s", strchr(line, ':') + 1);
				break;
			}
		fclose(f);
	}
	struct utsname u;
	if (!model[0] && uname(&u) == 0)
		snprintf(model, sizeof(model), "%s", u.machine);
	sanitize(model, buf, buflen);
	/* A name may not start with '.' (rt_state_name_ok). */
	if (!buf[0] || buf[0] == '.')
		snprintf(buf, buflen, "unknown");
}

/* --- the kernels' build ------------------------------------------------------------ */

void lat_kernels_id(char buf[LAT_KERNELS_ID_LEN])
{
	/* The sources and flags of the runtime's kernels, the vector width
	 * they run at (ARCHD_AVX512=0 halves it on an AVX-512 CPU) and the
	 * pool's thread count (a single image's larger layers are split over
	 * it).  No BLAS: a model's forward (what is timed) calls none. */
	char text[1024];
	int n = snprintf(text, sizeof text, "%s|%s|%d", LAT_KERNELS_SOURCE_ID, rt_infer_isa(),
			 rt_threads_count());
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof text)
		n = (int)sizeof text - 1;
	snprintf(buf, LAT_KERNELS_ID_LEN, "%016llx",
		 (unsigned long long)XXH3_64bits(text, (size_t)n));
}

/* --- the table --------------------------------------------------------------------- */

lat_table *lat_table_new(const char *cpu, const char *version)
{
	lat_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	char id[LAT_KERNELS_ID_LEN];
	lat_kernels_id(id);
	t->fallback = 1;
	t->cpu = strdup(cpu);
	t->version = strdup(version);
	t->kernels = strdup(id);
	if (!t->cpu || !t->version || !t->kernels) {
		lat_table_free(t);
		return NULL;
	}
	return t;
}

void lat_table_free(lat_table *t)
{
	if (!t)
		return;
	free(t->cpu);
	free(t->version);
	free(t->kernels);
	free(t->note);
	free(t->e);
	free(t->smp);
	free(t->sc);
	free(t);
}

const char *lat_table_cpu(const lat_table *t)
{
	return t->cpu;
}

const char *lat_table_version(const lat_table *t)
{
	return t->version;
}

const char *lat_table_kernels(const lat_table *t)
{
	return t->kernels;
}

const char *lat_table_note(const lat_table *t)
{
	return t->note;
}

int lat_table_size(const lat_table *t)
{
	return t->n;
}

int lat_key_cmp(const lat_key *a, const lat_key *b)
{
	const int va[] = {a->kind, a->act, a->h, a->ho, a->cin, a->mid,
			  a->cout, a->k, a->stride, a->se_r, a->shortcut, a->has_expand};
	const int vb[] = {b->kind, b->act, b->h, b->ho, b->cin, b->mid,
			  b->cout, b->k, b->stride, b->se_r, b->shortcut, b->has_expand};
	for (size_t i = 0; i < sizeof(va) / sizeof(va[0]); i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}

/* Index of the first entry not below k. */
static int lower_bound(const lat_table *t, const lat_key *k)
{
	int lo = 0, hi = t->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (lat_key_cmp(&t->e[mid].key, k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const lat_entry *lat_table_find(const lat_table *t, const lat_key *k)
{
	int i = lower_bound(t, k);
	return i < t->n && lat_key_cmp(&t->e[i].key, k) == 0 ? &t->e[i] : NULL;
}

int lat_table_insert(lat_table *t, const lat_key *k, double us)
{
	int i = lower_bound(t, k);
	assert(i == t->n || lat_key_cmp(&t->e[i].key, k) != 0);
	if (t->n == t->cap) {
		int cap = t->cap ? 2 * t->cap : 64;
		lat_entry *e = realloc(t->e, (size_t)cap * sizeof(*e));
		if (!e)
			return -1;
		t->e = e;
		t->cap = cap;
	}
	memmove(t->e + i + 1, t->e + i, (size_t)(t->n - i) * sizeof(*t->e));
	t->e[i].key = *k;
	t->e[i].us = us;
	t->n++;
	return 0;
}

/* --- keys ------------------------------------------------------------------------------ */

/* The key of active layer i of a plan. */
static void key_of(const ir_space *s, int i, const sn_layer_plan *p, lat_key *k)
{
	const ir_layer *l = &s->layers[i];
	memset(k, 0, sizeof(*k));
	k->kind = (int)l->kind;
	k->h = p->h;
	k->ho = p->ho;
	k->cin = p->cin;
	k->cout = p->cout;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		k->act = (int)l->act;
		k->k = p->k;
		k->stride = l->stride;
		break;
	case IR_BLOCK_MBCONV:
		k->act = (int)l->act;
		k->mid = p->mid;
		k->k = p->k;
		k->stride = l->stride;
		k->se_r = p->se_r;
		k->shortcut = p->shortcut;
		k->has_expand = l->expand != 1.0;
		break;
	case IR_BLOCK_RESIDUAL: /* always relu */
		k->mid = p->mid;
		k->k = p->k;
		k->stride = l->stride;
		k->shortcut = p->shortcut;
		break;
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		k->act = (int)l->act;
		break;
	case IR_BLOCK_POOL:
	default:
		break;
	}
}

static void resize_key(int in_res, int res, int channels, lat_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = LAT_KIND_RESIZE;
	k->h = in_res;
	k->ho = res;
	k->cin = k->cout = channels;
}

int lat_plan_keys(const ir_space *s, const sn_plan *plan, int in_res, lat_key *keys)
{
	int n = 0;
	if (plan->res != in_res)
		resize_key(in_res, plan->res, s->in_channels, &keys[n++]);
	for (int i = 0; i < plan->nlayers; i++)
		if (plan->layer[i].active)
			key_of(s, i, &plan->layer[i], &keys[n++]);
	return n;
}

int lat_entries_sum(const lat_table *t, const ir_space *s, const sn_plan *plan, int in_res,
		    double *us)
{
	lat_key keys[LAT_PLAN_KEYS_MAX];
	int n = lat_plan_keys(s, plan, in_res, keys), missing = 0;
	*us = 0;
	for (int i = 0; i < n; i++) {
		const lat_entry *e = lat_table_find(t, &keys[i]);
		missing += !e;
		*us += e ? e->us : 0;
	}
	return missing;
}

int lat_predict(const lat_table *t, const ir_space *s, const sn_plan *plan, int in_res,
		double *seconds)
{
	double us;
	int missing = lat_entries_sum(t, s, plan, in_res, &us);
	double scale = t->nsc > 0 ? lat_scale_for(t, lat_space_id(s, in_res)) : 1;
	*seconds = scale * us * 1e-6;
	return missing;
}

/* --- measuring --------------------------------------------------------------------------- */

/* A growing list of distinct keys still to time. */
typedef struct keylist {
	lat_table pending; /* only its entries are used (us unset) */
	int oom;
} keylist;

static void want(const lat_table *t, keylist *kl, const lat_key *k)
{
	if (kl->oom || lat_table_find(t, k) || lat_table_find(&kl->pending, k))
		return;
	kl->oom = lat_table_insert(&kl->pending, k, 0) != 0;
}

/* Times every pending key into t; returns the count or -1. */
static int measure(lat_table *t, keylist *kl, int reps, lat_progress_fn progress, void *ctx,
		   char *err, size_t errlen)
{
	int n = kl->pending.n, rc = n;
	if (kl->oom) {
		seterr(err, errlen, "latency table: out of memory");
		rc = -1;
	}
	for (int i = 0; rc >= 0 && i < n; i++) {
		double us;
		int ok = lat_time_key(&kl->pending.e[i].key, reps, &us) == 0;
		/* Kept to the nanosecond, as the text form holds it: a table
		 * loaded from its file predicts exactly what it did when it
		 * measured (k / 1000.0 and strtod of "%.3f" give one double). */
		us = round(us * 1000) / 1000;
		if (!ok || lat_table_insert(t, &kl->pending.e[i].key, us) != 0) {
			seterr(err, errlen, "latency table: out of memory timing %s",
			       lat_kind_names[kl->pending.e[i].key.kind]);
			rc = -1;
		}
		if (progress && rc >= 0)
			progress(ctx, i + 1, n);
	}
	free(kl->pending.e);
	return rc;
}

int lat_table_measure_plan(lat_table *t, const ir_space *s, const sn_plan *plan, int in_res,
			   int reps, char *err, size_t errlen)
{
	assert(reps >= 1);
	keylist kl = {0};
	lat_key keys[LAT_PLAN_KEYS_MAX];
	int n = lat_plan_keys(s, plan, in_res, keys);
	for (int i = 0; i < n; i++)
		want(t, &kl, &keys[i]);
	return measure(t, &kl, reps, NULL, NULL, err, errlen);
}

/* --- the shapes of a space ------------------------------------------------------------------ */

/* A set of (side, channels) pairs reaching a layer. */
typedef struct hcset {
	int n, cap;
	int (*v)[2];
	int oom;
} hcset;

static void hc_add(hcset *s, int h, int c)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i][0] == h && s->v[i][1] == c)
			return;
	if (s->oom)
		return;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		int(*v)[2] = realloc(s->v, (size_t)cap * sizeof(*v));
		if (!v) {
			s->oom = 1;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n][0] = h;
	s->v[s->n][1] = c;
	s->n++;
}

/* The values gene g can take, or the one fixed value. */
static int gene_values(const ir_space *s, int g, double fixed, const double **vals,
		       double *one)
{
	if (g < 0) {
		*one = fixed;
		*vals = one;
		return 1;
	}
	*vals = s->genes[g].values;
	return s->genes[g].nvalues;
}

/* Every shape of layer i over the inputs `in`: keys into kl, outputs into out. */
static void layer_shapes(const lat_table *t, const ir_space *s, int nclasses, int i,
			 const hcset *in, keylist *kl, hcset *out)
{
	const ir_layer *l = &s->layers[i];
	const double *ks, *es, *cs;
	double k1, e1, c1;
	int cout_max = l->kind == IR_BLOCK_FC && l->out_channels == 0 ? nclasses : l->out_channels;
	int nk = gene_values(s, l->g_kernel, l->kernel, &ks, &k1);
	int ne = gene_values(s, l->g_expand, l->expand, &es, &e1);
	int nc = gene_values(s, l->g_out, cout_max, &cs, &c1);
	for (int a = 0; a < in->n; a++)
		for (int ki = 0; ki < nk; ki++)
			for (int ei = 0; ei < ne; ei++)
				for (int ci = 0; ci < nc; ci++) {
					sn_layer_plan p;
					lat_key key;
					sn_layer_plan_fill(l, in->v[a][0], in->v[a][1], (int)ks[ki], es[ei],
						   (int)cs[ci], &p);
					key_of(s, i, &p, &key);
					want(t, kl, &key);
					hc_add(out, p.ho, p.cout);
				}
}

int lat_table_build(lat_table *t, const ir_space *s, int nclasses, int in_res, int reps,
		    lat_progress_fn progress, void *ctx, char *err, size_t errlen)
{
	assert(reps >= 1);
	keylist kl = {0};
	hcset flow = {0}, cur = {0}, next = {0};
	const double *rs;
	double r1;
	int nr = gene_values(s, s->g_resolution, s->resolution, &rs, &r1);
	for (int a = 0; a < nr; a++) {
		hc_add(&flow, (int)rs[a], s->in_channels);
		if ((int)rs[a] != in_res) {
			lat_key k;
			resize_key(in_res, (int)rs[a], s->in_channels, &k);
			want(t, &kl, &k);
		}
	}
	for (int i = 0; i < s->nlayers;) {
		const ir_layer *l = &s->layers[i];
		if (l->stage < 0) {
			next.n = 0;
			layer_shapes(t, s, nclasses, i, &flow, &kl, &next);
			hcset sw = flow;
			flow = next;
			next = sw;
			i++;
			continue;
		}
		/* A stage: what leaves it is the output of its last active
		 * block, for every depth the stage can take. */
		const ir_stage *st = &s->stages[l->stage];
		const double *ds;
		double d1;
		int nd = gene_values(s, st->g_depth, st->count, &ds, &d1);
		cur.n = 0;
		for (int a = 0; a < flow.n; a++)
			hc_add(&cur, flow.v[a][0], flow.v[a][1]);
		flow.n = 0;
		for (int j = 0; j < st->count; j++) {
			next.n = 0;
			layer_shapes(t, s, nclasses, st->first + j, &cur, &kl, &next);
			hcset sw = cur;
			cur = next;
			next = sw;
			for (int di = 0; di < nd; di++)
				if ((int)ds[di] == j + 1)
					for (int a = 0; a < cur.n; a++)
						hc_add(&flow, cur.v[a][0], cur.v[a][1]);
		}
		i = st->first + st->count;
	}
	int oom = flow.oom || cur.oom || next.oom;
	free(flow.v);
	free(cur.v);
	free(next.v);
	if (oom) {
		free(kl.pending.e);
		seterr(err, errlen, "latency table: out of memory");
		return -1;
	}
	return measure(t, &kl, reps, progress, ctx, err, errlen);
}
