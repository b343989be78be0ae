/*
 * predictor.c — training entry point (standardisation, auto's
 * cross-validation), prediction, the subnet encoding and the agreement
 * measures.  The models are in predictor_mlp.c and predictor_rbf.c, the file
 * form in predictor_file.c.
 */
#include "runtime/predictor.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/predictor_priv.h"

const char *const pred_kind_names[PRED_KIND_COUNT] = { "mlp", "rbf", "auto" };
_Static_assert(PRED_KIND_COUNT == 3, "pred_kind_names");
const char *const pred_optim_names[PRED_OPTIM_COUNT] = { "adam", "sgd" };
_Static_assert(PRED_OPTIM_COUNT == 2, "pred_optim_names");

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int pred_kind_parse(const char *name, pred_kind *out)
{
	for (int k = 0; k < PRED_KIND_COUNT; k++)
		if (strcmp(name, pred_kind_names[k]) == 0) {
			*out = (pred_kind)k;
			return 0;
		}
	return -1;
}

void pred_settings_init(pred_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = PRED_KIND_AUTO;
	s->seed = 1;
	s->mlp_hidden = 64;
	s->mlp_epochs = 150;
	s->mlp_batch = 16;
	s->mlp_lr = 3e-3;
	s->mlp_wd = 1e-2;
	s->mlp_optim = PRED_OPTIM_ADAM;
	s->mlp_momentum = 0.9;
	s->rbf_models = 8;
	s->rbf_ridge = 1e-2;
	s->cv_folds = 5;
}

pred_model *pred_model_alloc(pred_kind kind, int d)
{
	assert(kind == PRED_KIND_MLP || kind == PRED_KIND_RBF);
	pred_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->kind = kind;
	m->d = d;
	m->y_std = 1;
	for (int k = 0; k < 2; k++)
		m->cv_tau[k] = m->cv_rmse[k] = NAN;
	return m;
}

void pred_model_free(pred_model *m)
{
	if (!m)
		return;
	free(m->w1);
	free(m->b1);
	free(m->w2);
	free(m->centres);
	for (int e = 0; m->rbf && e < m->nmodels; e++) {
		free(m->rbf[e].idx);
		free(m->rbf[e].alpha);
	}
	free(m->rbf);
	free(m);
}

double pred_predict(const pred_model *m, const double *x)
{
	double raw = m->kind == PRED_KIND_MLP ? pred_mlp_raw(m, x) : pred_rbf_raw(m, x);
	return m->y_mean + m->y_std * raw;
}

void pred_predict_many(const pred_model *m, int n, const double *x, double *out)
{
	for (int i = 0; i < n; i++)
		out[i] = pred_predict(m, x + (size_t)i * m->d);
}

pred_kind pred_model_kind(const pred_model *m)
{
	return m->kind;
}

int pred_model_width(const pred_model *m)
{
	return m->d;
}

int pred_model_cv(const pred_model *m, pred_kind kind, double *tau, double *rmse)
{
	assert(kind == PRED_KIND_MLP || kind == PRED_KIND_RBF);
	if (isnan(m->cv_tau[kind]))
		return -1;
	*tau = m->cv_tau[kind];
	*rmse = m->cv_rmse[kind];
	return 0;
}

/* Trains one model of `kind` (MLP or RBF); NULL on failure. */
static pred_model *fit(const pred_settings *s, pred_kind kind, int n, int d, const double *x,
		       const double *y)
{
	pred_model *m = pred_model_alloc(kind, d);
	double *z = malloc((size_t)n * sizeof(double));
	if (!m || !z) {
		free(z);
		pred_model_free(m);
		return NULL;
	}
	double mean = 0, var = 0;
	for (int i = 0; i < n; i++)
		mean += y[i] / n;
	for (int i = 0; i < n; i++)
		var += (y[i] - mean) * (y[i] - mean) / n;
	m->y_mean = mean;
	m->y_std = var > 0 ? sqrt(var) : 1;
	for (int i = 0; i < n; i++)
		z[i] = (y[i] - mean) / m->y_std;
	int rc = kind == PRED_KIND_MLP ? pred_mlp_fit(m, s, n, x, z) : pred_rbf_fit(m, s, n, x, z);
	free(z);
	if (rc != 0) {
		pred_model_free(m);
		return NULL;
	}
	return m;
}

/*
 * Out-of-fold predictions of `kind` over a seeded split of the n examples
 * into s->cv_folds folds, into pred; -1 on failure.  xs, ys: room for n
 * rows of training data.
 */
static int cross_validate(const pred_settings *s, pred_kind kind, int n, int d, const double *x,
			  const double *y, const int *perm, double *xs, double *ys, double *pred)
{
	int folds = s->cv_folds;
	for (int f = 0; f < folds; f++) {
		/* Fold f: positions [f n / folds, (f + 1) n / folds) of perm. */
		int lo = (int)((long)f * n / folds), hi = (int)((long)(f + 1) * n / folds), k = 0;
		for (int a = 0; a < n; a++) {
			if (a >= lo && a < hi)
				continue;
			memcpy(xs + (size_t)k * d, x + (size_t)perm[a] * d, (size_t)d * sizeof(double));
			ys[k++] = y[perm[a]];
		}
		pred_model *m = fit(s, kind, k, d, xs, ys);
		if (!m)
			return -1;
		for (int a = lo; a < hi; a++)
			pred[perm[a]] = pred_predict(m, x + (size_t)perm[a] * d);
		pred_model_free(m);
	}
	return 0;
}

static pred_model *train_auto(const pred_settings *s, int n, int d, const double *x,
			      const double *y)
{
	int *perm = malloc((size_t)n * sizeof(int));
	double *xs = malloc((size_t)n * d * sizeof(double));
	double *ys = malloc((size_t)n * sizeof(double));
	double *pred = malloc((size_t)n * sizeof(double));
	double tau[2], rmse[2];
	pred_model *m = NULL;
	if (!perm || !xs || !ys || !pred)
		goto out;
	rt_rng r;
	rt_rng_seed_stream(&r, s->seed, 3);
	for (int i = 0; i < n; i++)
		perm[i] = i;
	rt_rng_shuffle_int(&r, perm, n);
	for (int k = 0; k < 2; k++) {
		if (cross_validate(s, (pred_kind)k, n, d, x, y, perm, xs, ys, pred) != 0)
			goto out;
		tau[k] = pred_kendall_tau(n, pred, y);
		rmse[k] = pred_rmse(n, pred, y);
	}
	m = fit(s, tau[PRED_KIND_RBF] > tau[PRED_KIND_MLP] ? PRED_KIND_RBF : PRED_KIND_MLP, n, d,
		x, y);
	if (m)
		for (int k = 0; k < 2; k++) {
			m->cv_tau[k] = tau[k];
			m->cv_rmse[k] = rmse[k];
		}
out:
	free(perm);
	free(xs);
	free(ys);
	free(pred);
	return m;
}

pred_model *pred_train(const pred_settings *s, int n, int d, const double *x, const double *y,
		       char *err, size_t errlen)
{
	if (s->kind < 0 || s->kind >= PRED_KIND_COUNT || s->mlp_hidden < 1 ||
	    s->mlp_hidden > PRED_MAX_HIDDEN || s->mlp_epochs < 0 || s->mlp_batch < 1 ||
	    !(s->mlp_lr > 0) || !(s->mlp_wd >= 0) || s->mlp_optim < 0 ||
	    s->mlp_optim >= PRED_OPTIM_COUNT || !(s->mlp_momentum >= 0 && s->mlp_momentum < 1) ||
	    s->rbf_models < 1 || s->rbf_models > PRED_MAX_MODELS || !(s->rbf_ridge > 0) ||
	    s->cv_folds < 2) {
		seterr(err, errlen, "predictor settings out of range");
		return NULL;
	}
	if (d < 1 || d > PRED_MAX_WIDTH || n < 2 || n > PRED_MAX_CENTRES) {
		seterr(err, errlen, "a predictor needs 2 to %d examples of 1 to %d features, got %d of %d",
		       PRED_MAX_CENTRES, PRED_MAX_WIDTH, n, d);
		return NULL;
	}
	if (s->kind == PRED_KIND_AUTO && n < 2 * s->cv_folds) {
		seterr(err, errlen, "auto predictor: %d examples for %d folds (at least 2 per fold)", n,
		       s->cv_folds);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		int ok = isfinite(y[i]);
		for (int j = 0; ok && j < d; j++)
			ok = isfinite(x[(size_t)i * d + j]);
		if (!ok) {
			seterr(err, errlen, "example %d has a non-finite feature or target", i);
			return NULL;
		}
	}
	pred_model *m = s->kind == PRED_KIND_AUTO ? train_auto(s, n, d, x, y) : fit(s, s->kind, n, d, x, y);
	if (!m)
		seterr(err, errlen, "%s predictor on %d examples: out of memory or a singular system",
		       pred_kind_names[s->kind], n);
	return m;
}

/* --- encoding and agreement ----------------------------------------------------- */

int pred_encode_width(const ir_space *s)
{
	int w = 0;
	for (int g = 0; g < s->ngenes; g++)
		if (s->genes[g].nvalues > 1)
			w += s->genes[g].nvalues;
	return w;
}

/* Marks in live[] the genes that shape subnet sub: resolution and depth
 * genes, and the genes of the layers its depths keep. */
static void live_genes(const ir_space *s, const sn_subnet *sub, unsigned char *live)
{
	memset(live, 0, (size_t)s->ngenes);
	if (s->g_resolution >= 0)
		live[s->g_resolution] = 1;
	for (int i = 0; i < s->nlayers; i++) {
		const ir_layer *l = &s->layers[i];
		if (l->stage >= 0) {
			const ir_stage *st = &s->stages[l->stage];
			int depth = st->g_depth < 0 ? st->count
						    : (int)sn_subnet_value(s, sub, st->g_depth);
			if (st->g_depth >= 0)
				live[st->g_depth] = 1;
			if (l->index >= depth)
				continue;
		}
		if (l->g_kernel >= 0)
			live[l->g_kernel] = 1;
		if (l->g_expand >= 0)
			live[l->g_expand] = 1;
		if (l->g_out >= 0)
			live[l->g_out] = 1;
	}
}

void pred_encode(const ir_space *s, const sn_subnet *sub, double *out)
{
	assert(sub->ngenes == s->ngenes && s->ngenes <= SN_MAX_GENES);
	unsigned char live[SN_MAX_GENES];
	live_genes(s, sub, live);
	int at = 0;
	for (int g = 0; g < s->ngenes; g++) {
		int nv = s->genes[g].nvalues;
		if (nv <= 1)
			continue;
		assert(sub->g[g] < nv);
		for (int v = 0; v < nv; v++)
			out[at + v] = live[g] && v == sub->g[g];
		at += nv;
	}
}

double pred_kendall_tau(int n, const double *a, const double *b)
{
	double conc = 0, disc = 0, untied_a = 0, untied_b = 0;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			double da = a[i] - a[j], db = b[i] - b[j];
			untied_a += da != 0;
			untied_b += db != 0;
			if (da * db > 0)
				conc++;
			else if (da * db < 0)
				disc++;
		}
	if (untied_a == 0 || untied_b == 0)
		return 0;
	return (conc - disc) / sqrt(untied_a * untied_b);
}

double pred_rmse(int n, const double *a, const double *b)
{
	if (n == 0)
		return 0;
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (a[i] - b[i]) * (a[i] - b[i]);
	return sqrt(s / n);
}
