/*
 * predictor_file.c — the predictor's file form.  Little-endian throughout:
 *
 *   "ARCHPRED"                    8 bytes
 *   u32 version, kind, width      (PRED_FILE_VERSION, MLP 0 / RBF 1)
 *   f64 y_mean, y_std, cv_tau[2], cv_rmse[2]      (NaN: not measured)
 *   MLP: u32 hidden; f64 w1[hidden * width], b1[hidden], w2[hidden], b2
 *   RBF: u32 ncentres; f64 centres[ncentres * width]; u32 nmodels; each
 *        model: f64 gamma; u32 n; u32 idx[n]; f64 alpha[n]
 *   u64 XXH3-64 of every byte before it
 *
 * The reader checks the checksum first, then every declared count against
 * the limits in predictor_priv.h and the bytes actually left, before it
 * allocates anything.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "runtime/predictor_priv.h"
#include "runtime/statedir.h"

static const char magic[8] = {'A', 'R', 'C', 'H', 'P', 'R', 'E', 'D'};
/* A predictor file larger than this is not one of ours. */
#define MAX_FILE_BYTES ((size_t)256 << 20)

/* --- writing --------------------------------------------------------------------- */

typedef struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *p = realloc(w->p, cap);
		if (!p) {
			w->oom = 1;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u32(wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(w, b, 4);
}

static void put_u64(wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_f64(wbuf *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof(v));
	put_u64(w, v);
}

static void put_f64s(wbuf *w, const double *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_f64(w, d[i]);
}

int pred_model_encode(const pred_model *m, uint8_t **out, size_t *len)
{
	wbuf w = {0};
	put(&w, magic, sizeof(magic));
	put_u32(&w, PRED_FILE_VERSION);
	put_u32(&w, (uint32_t)m->kind);
	put_u32(&w, (uint32_t)m->d);
	put_f64(&w, m->y_mean);
	put_f64(&w, m->y_std);
	put_f64s(&w, m->cv_tau, 2);
	put_f64s(&w, m->cv_rmse, 2);
	if (m->kind == PRED_KIND_MLP) {
		put_u32(&w, (uint32_t)m->hidden);
		put_f64s(&w, m->w1, (size_t)m->hidden * m->d);
		put_f64s(&w, m->b1, (size_t)m->hidden);
		put_f64s(&w, m->w2, (size_t)m->hidden);
		put_f64(&w, m->b2);
	} else {
		put_u32(&w, (uint32_t)m->ncentres);
		put_f64s(&w, m->centres, (size_t)m->ncentres * m->d);
		put_u32(&w, (uint32_t)m->nmodels);
		for (int e = 0; e < m->nmodels; e++) {
			const pred_rbf *r = &m->rbf[e];
			put_f64(&w, r->gamma);
			put_u32(&w, (uint32_t)r->n);
			for (int a = 0; a < r->n; a++)
				put_u32(&w, (uint32_t)r->idx[a]);
			put_f64s(&w, r->alpha, (size_t)r->n);
		}
	}
	if (!w.oom)
		put_u64(&w, XXH3_64bits(w.p, w.len));
	if (w.oom) {
		free(w.p);
		return -1;
	}
	*out = w.p;
	*len = w.len;
	return 0;
}

int pred_model_save(const pred_model *m, const char *path, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	if (pred_model_encode(m, &buf, &len) != 0) {
		snprintf(err, errlen, "%s: out of memory encoding the predictor", path);
		return -1;
	}
	int rc = rt_state_write_file(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}

/* --- reading --------------------------------------------------------------------- */

typedef struct rbuf {
	const uint8_t *p;
	size_t left;
	int bad;
} rbuf;

static uint32_t get_u32(rbuf *r)
{
	if (r->bad || r->left < 4) {
		r->bad = 1;
		return 0;
	}
	const uint8_t *b = r->p;
	r->p += 4;
	r->left -= 4;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static double get_f64(rbuf *r)
{
	uint64_t lo = get_u32(r), hi = get_u32(r), v = lo | hi << 32;
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

/* n doubles into a new array, or NULL (r->bad set) when fewer bytes are left
 * than they need or memory runs out. */
static double *get_f64s(rbuf *r, size_t n)
{
	if (r->bad || n > r->left / 8) {
		r->bad = 1;
		return NULL;
	}
	double *d = malloc((n ? n : 1) * sizeof(double));
	if (!d) {
		r->bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = get_f64(r);
	return d;
}

static int decode_mlp(pred_model *m, rbuf *r)
{
	uint32_t h = get_u32(r);
	if (r->bad || h < 1 || h > PRED_MAX_HIDDEN)
		return -1;
	m->hidden = (int)h;
	m->w1 = get_f64s(r, (size_t)h * m->d);
	m->b1 = get_f64s(r, h);
	m->w2 = get_f64s(r, h);
	m->b2 = get_f64(r);
	return r->bad ? -1 : 0;
}

static int decode_rbf(pred_model *m, rbuf *r)
{
	uint32_t nc = get_u32(r);
	if (r->bad || nc < 1 || nc > PRED_MAX_CENTRES)
		return -1;
	m->ncentres = (int)nc;
	m->centres = get_f64s(r, (size_t)nc * m->d);
	uint32_t nm = get_u32(r);
	if (r->bad || nm < 1 || nm > PRED_MAX_MODELS)
		return -1;
	m->rbf = calloc(nm, sizeof(pred_rbf));
	if (!m->rbf)
		return -1;
	m->nmodels = (int)nm;
	for (uint32_t e = 0; e < nm; e++) {
		pred_rbf *f = &m->rbf[e];
		f->gamma = get_f64(r);
		uint32_t n = get_u32(r);
		if (r->bad || n < 1 || n > nc || n > r->left / 12 || !(f->gamma > 0))
			return -1;
		f->idx = malloc(n * sizeof(int));
		if (!f->idx)
			return -1;
		f->n = (int)n;
		for (uint32_t a = 0; a < n; a++) {
			uint32_t i = get_u32(r);
			if (i >= nc)
				return -1;
			f->idx[a] = (int)i;
		}
		f->alpha = get_f64s(r, n);
		if (r->bad)
			return -1;
	}
	return 0;
}

pred_model *pred_model_decode(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	size_t head = sizeof(magic) + 12 + 6 * 8;
	if (len < head + 8 || memcmp(buf, magic, sizeof(magic)) != 0) {
		snprintf(err, errlen, "not a predictor file");
		return NULL;
	}
	rbuf tail = {buf + len - 8, 8, 0};
	uint64_t lo = get_u32(&tail), hi = get_u32(&tail);
	if ((lo | hi << 32) != XXH3_64bits(buf, len - 8)) {
		snprintf(err, errlen, "checksum mismatch: the predictor file is corrupt or truncated");
		return NULL;
	}
	rbuf r = {buf + sizeof(magic), len - sizeof(magic) - 8, 0};
	uint32_t version = get_u32(&r);
	if (version != PRED_FILE_VERSION) {
		snprintf(err, errlen, "predictor file version %u, this build reads %d", version,
			 PRED_FILE_VERSION);
		return NULL;
	}
	uint32_t kind = get_u32(&r), d = get_u32(&r);
	if ((kind != PRED_KIND_MLP && kind != PRED_KIND_RBF) || d < 1 || d > PRED_MAX_WIDTH) {
		snprintf(err, errlen, "predictor file of kind %u and width %u: not one this build makes",
			 kind, d);
		return NULL;
	}
	pred_model *m = pred_model_alloc((pred_kind)kind, (int)d);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->y_mean = get_f64(&r);
	m->y_std = get_f64(&r);
	for (int k = 0; k < 2; k++)
		m->cv_tau[k] = get_f64(&r);
	for (int k = 0; k < 2; k++)
		m->cv_rmse[k] = get_f64(&r);
	int rc = kind == PRED_KIND_MLP ? decode_mlp(m, &r) : decode_rbf(m, &r);
	if (rc != 0 || r.left != 0 || !isfinite(m->y_mean) || !(m->y_std > 0)) {
		snprintf(err, errlen, "predictor file sizes do not add up (%zu bytes)", len);
		pred_model_free(m);
		return NULL;
	}
	return m;
}

pred_model *pred_model_load(const char *path, char *err, size_t errlen)
{
	const char *reason;
	FILE *f = rt_state_fopen(path, &reason);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, reason);
		return NULL;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			uint8_t *p = cap <= MAX_FILE_BYTES ? realloc(buf, cap) : NULL;
			if (!p) {
				snprintf(err, errlen, "%s: %s", path,
					 cap > MAX_FILE_BYTES ? "too large for a predictor file"
							      : "out of memory");
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		return NULL;
	}
	char why[200];
	pred_model *m = pred_model_decode(buf, len, why, sizeof(why));
	free(buf);
	if (!m)
		snprintf(err, errlen, "%s: %s", path, why);
	return m;
}
