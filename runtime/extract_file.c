/*
 * extract_file.c — the native model file (layout in extract.h): encoding,
 * a decoder that checks everything before trusting a count, and atomic
 * saving through the state dir's writer.
 */
#include "runtime/extract.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "runtime/extract_priv.h"
#include "runtime/statedir.h"

#define MAGIC_LEN 8
#define HEAD_LEN ((size_t)76) /* up to and including the gene string length */
#define LAYER_WORDS 16
#define LAYER_LEN ((size_t)4 * LAYER_WORDS)
/* Bounds on what a layer may declare: far above any space sn_space_check
 * accepts, low enough that no size computed from them overflows. */
#define MAX_DIM 65536
#define MAX_LAYERS SN_MAX_LAYERS
#define MAX_FILE ((size_t)1 << 34)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* --- encoding ----------------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *put_f64(uint8_t *p, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	return put_u64(p, v);
}

static uint8_t *put_f32(uint8_t *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, sizeof v);
	return put_u32(p, v);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static float get_f32(const uint8_t *p)
{
	uint32_t v = get_u32(p);
	float f;
	memcpy(&f, &v, sizeof f);
	return f;
}

static double get_f64(const uint8_t *p)
{
	uint64_t v = get_u64(p);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

int rt_model_encode(const rt_model *m, uint8_t **out, size_t *len)
{
	size_t glen = strlen(m->genes);
	size_t n = HEAD_LEN + glen + 8 * (size_t)m->in_channels + (size_t)m->nlayers * LAYER_LEN + 8 +
		   4 * (size_t)m->nweights + 8;
	uint8_t *buf = malloc(n);
	if (!buf)
		return -1;
	uint8_t *p = buf;
	memcpy(p, RT_MODEL_MAGIC, MAGIC_LEN);
	p = put_u32(p + MAGIC_LEN, RT_MODEL_VERSION);
	p = put_u32(p, 0);
	memcpy(p, m->supernet_key, 16);
	p += 16;
	const int head[6] = { m->in_channels, m->in_h, m->in_w, m->res, m->nclasses, m->nlayers };
	for (int i = 0; i < 6; i++)
		p = put_u32(p, (uint32_t)head[i]);
	p = put_f64(p, m->macs);
	p = put_f64(p, m->params);
	p = put_u32(p, (uint32_t)glen);
	memcpy(p, m->genes, glen);
	p += glen;
	for (int c = 0; c < m->in_channels; c++)
		p = put_f32(p, m->in_mean[c]);
	for (int c = 0; c < m->in_channels; c++)
		p = put_f32(p, m->in_std[c]);
	for (int i = 0; i < m->nlayers; i++) {
		const rt_model_layer *l = &m->layers[i];
		const int v[LAYER_WORDS] = { (int)l->kind, (int)l->act, l->cin, l->cout, l->mid,
					     l->se_r, l->k, l->stride, l->h, l->w, l->ho, l->wo,
					     l->has_expand, l->shortcut, 0, 0 };
		for (int j = 0; j < LAYER_WORDS; j++)
			p = put_u32(p, (uint32_t)v[j]);
	}
	p = put_u64(p, m->nweights);
	for (size_t i = 0; i < m->nweights; i++)
		p = put_f32(p, m->weights[i]);
	put_u64(p, XXH3_64bits(buf, (size_t)(p - buf)));
	*out = buf;
	*len = n;
	return 0;
}

/* --- decoding ----------------------------------------------------------------- */

/* Checks layer i (already read into l) against the shape arriving from the
 * previous layer (*c channels at *h x *w); advances them.  Returns 0, or -1
 * with the reason in why. */
static int check_layer(const rt_model_layer *l, int last, int *c, int *h, int *w,
		       char *why, size_t whylen)
{
	int dims[] = { l->cin, l->cout, l->mid, l->se_r, l->k, l->stride, l->h, l->w, l->ho, l->wo };
	for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
		if (dims[i] < 0 || dims[i] > MAX_DIM) {
			snprintf(why, whylen, "a size outside 0..%d", MAX_DIM);
			return -1;
		}
	if ((unsigned)l->kind >= IR_BLOCK_COUNT || (unsigned)l->act >= IR_ACT_COUNT) {
		snprintf(why, whylen, "unknown kind %d or activation %d", (int)l->kind, (int)l->act);
		return -1;
	}
	if (l->cin != *c || l->h != *h || l->w != *w) {
		snprintf(why, whylen, "takes %d channels at %dx%d, %d at %dx%d arrive", l->cin, l->h,
			 l->w, *c, *h, *w);
		return -1;
	}
	if (l->cout < 1 || l->stride < 1) {
		snprintf(why, whylen, "%d output channels, stride %d", l->cout, l->stride);
		return -1;
	}
	int conv = l->kind == IR_BLOCK_CONV || l->kind == IR_BLOCK_MBCONV ||
		   l->kind == IR_BLOCK_RESIDUAL;
	int ho = conv ? (l->h - 1) / l->stride + 1 : 1, wo = conv ? (l->w - 1) / l->stride + 1 : 1;
	if (conv && (l->k < 1 || l->k % 2 == 0 || l->k > 11)) {
		snprintf(why, whylen, "kernel %d (odd, at most 11)", l->k);
		return -1;
	}
	if (!conv && (l->k || l->mid || l->se_r || l->shortcut || l->has_expand)) {
		snprintf(why, whylen, "a %s with convolution fields set", ir_block_names[l->kind]);
		return -1;
	}
	if ((l->kind == IR_BLOCK_DENSE || l->kind == IR_BLOCK_FC) && (l->h != 1 || l->w != 1)) {
		snprintf(why, whylen, "a %s on a %dx%d map", ir_block_names[l->kind], l->h, l->w);
		return -1;
	}
	if (l->ho != ho || l->wo != wo) {
		snprintf(why, whylen, "output %dx%d, stride %d gives %dx%d", l->ho, l->wo, l->stride,
			 ho, wo);
		return -1;
	}
	int ok = 1;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		ok = !l->mid && !l->se_r && !l->shortcut && !l->has_expand;
		break;
	case IR_BLOCK_MBCONV:
		ok = l->mid >= 1 && l->se_r <= l->mid && (l->has_expand == 1 || l->has_expand == 0) &&
		     (l->has_expand || l->mid == l->cin) &&
		     (!l->shortcut || (l->shortcut == 1 && l->cin == l->cout && l->stride == 1));
		break;
	case IR_BLOCK_RESIDUAL:
		ok = l->mid >= 1 && !l->se_r && !l->has_expand && l->act == IR_ACT_RELU &&
		     (l->shortcut == 2 || (l->shortcut == 1 && l->stride == 1));
		break;
	case IR_BLOCK_POOL:
		ok = l->cout == l->cin && l->act == IR_ACT_NONE;
		break;
	default:
		break;
	}
	if (!ok) {
		snprintf(why, whylen, "inconsistent %s fields (mid %d, se %d, expand %d, shortcut %d)",
			 ir_block_names[l->kind], l->mid, l->se_r, l->has_expand, l->shortcut);
		return -1;
	}
	if (last && l->kind != IR_BLOCK_FC) {
		snprintf(why, whylen, "the last layer is a %s, not an fc", ir_block_names[l->kind]);
		return -1;
	}
	*c = l->cout;
	*h = l->ho;
	*w = l->wo;
	return 0;
}

static rt_model *refuse(rt_model *m, char *err, size_t errlen, const char *name,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static rt_model *refuse(rt_model *m, char *err, size_t errlen, const char *name,
			const char *fmt, ...)
{
	char why[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	seterr(err, errlen, "%s: %s", name, why);
	rt_model_free(m);
	return NULL;
}

rt_model *rt_model_decode(const uint8_t *buf, size_t len, const char *name, char *err,
			  size_t errlen)
{
	if (len < MAGIC_LEN || memcmp(buf, RT_MODEL_MAGIC, MAGIC_LEN) != 0)
		return refuse(NULL, err, errlen, name, "not an archd model file (bad magic)");
	if (len < HEAD_LEN)
		return refuse(NULL, err, errlen, name, "truncated (%zu bytes, the header needs %zu)",
			      len, HEAD_LEN);
	uint32_t version = get_u32(buf + 8);
	if (version > RT_MODEL_VERSION)
		return refuse(NULL, err, errlen, name,
			      "model file version %u is newer than this build reads (%d)", version,
			      RT_MODEL_VERSION);
	if (version < 1)
		return refuse(NULL, err, errlen, name, "model file version %u is not valid", version);
	if (get_u32(buf + 12) != 0)
		return refuse(NULL, err, errlen, name, "the reserved header word is not 0");
	uint32_t head[6];
	for (int i = 0; i < 6; i++)
		head[i] = get_u32(buf + 32 + 4 * (size_t)i);
	uint32_t glen = get_u32(buf + 72);
	if (head[5] < 1 || head[5] > MAX_LAYERS || glen >= RT_MODEL_GENES_MAX || head[0] > MAX_DIM)
		return refuse(NULL, err, errlen, name,
			      "malformed header (%u layers, gene string of %u bytes, %u channels)",
			      head[5], glen, head[0]);
	size_t norm_at = HEAD_LEN + (size_t)glen, layers_at = norm_at + 8 * (size_t)head[0];
	size_t at = layers_at + head[5] * LAYER_LEN;
	if (len < at + 8)
		return refuse(NULL, err, errlen, name, "truncated (%zu bytes, the layer list needs %zu)",
			      len, at + 8);
	uint64_t nweights = get_u64(buf + at);
	if (nweights > MAX_FILE / 4)
		return refuse(NULL, err, errlen, name, "malformed header (%llu weights)",
			      (unsigned long long)nweights);
	size_t want = at + 8 + 4 * (size_t)nweights + 8;
	if (len < want)
		return refuse(NULL, err, errlen, name, "truncated (%zu bytes of %zu)", len, want);
	if (len > want)
		return refuse(NULL, err, errlen, name, "%zu trailing bytes after the checksum",
			      len - want);
	if (XXH3_64bits(buf, want - 8) != get_u64(buf + want - 8))
		return refuse(NULL, err, errlen, name, "checksum mismatch (the file is corrupt)");

	rt_model *m = calloc(1, sizeof(*m));
	if (!m)
		return refuse(NULL, err, errlen, name, "out of memory");
	memcpy(m->supernet_key, buf + 16, 16);
	for (int i = 0; i < 6; i++)
		if (head[i] > MAX_DIM)
			return refuse(m, err, errlen, name, "malformed header (a size above %d)", MAX_DIM);
	m->in_channels = (int)head[0];
	m->in_h = (int)head[1];
	m->in_w = (int)head[2];
	m->res = (int)head[3];
	m->nclasses = (int)head[4];
	m->nlayers = (int)head[5];
	if (m->in_channels < 1 || m->in_h < 1 || m->in_w < 1 || m->res < 1 || m->nclasses < 1)
		return refuse(m, err, errlen, name, "malformed header (input %dx%dx%d, resolution %d, %d classes)",
			      m->in_h, m->in_w, m->in_channels, m->res, m->nclasses);
	if ((size_t)m->in_h * m->in_w * m->in_channels > RT_MODEL_IMAGE_MAX)
		return refuse(m, err, errlen, name,
			      "an input of %dx%dx%d floats, more than the %zu a model may take",
			      m->in_h, m->in_w, m->in_channels, RT_MODEL_IMAGE_MAX);
	m->macs = get_f64(buf + 56);
	m->params = get_f64(buf + 64);
	m->genes = malloc((size_t)glen + 1);
	m->in_mean = malloc((size_t)m->in_channels * sizeof(float));
	m->in_std = malloc((size_t)m->in_channels * sizeof(float));
	m->layers = calloc((size_t)m->nlayers, sizeof(*m->layers));
	m->weights = malloc(nweights ? 4 * (size_t)nweights : 1);
	if (!m->genes || !m->in_mean || !m->in_std || !m->layers || !m->weights)
		return refuse(m, err, errlen, name, "out of memory");
	memcpy(m->genes, buf + HEAD_LEN, glen);
	m->genes[glen] = '\0';
	for (uint32_t i = 0; i < glen; i++)
		if (m->genes[i] < 0x21 || m->genes[i] > 0x7e)
			return refuse(m, err, errlen, name,
				      "malformed gene string (byte 0x%02x at %u is not printable)",
				      (unsigned)(uint8_t)m->genes[i], i);
	for (int c = 0; c < m->in_channels; c++) {
		m->in_mean[c] = get_f32(buf + norm_at + 4 * (size_t)c);
		m->in_std[c] = get_f32(buf + norm_at + 4 * ((size_t)m->in_channels + c));
		if (!isfinite(m->in_mean[c]) || !isfinite(m->in_std[c]) || !(m->in_std[c] > 0))
			return refuse(m, err, errlen, name,
				      "input normalisation of channel %d: mean %g, std %g (finite, std > 0)",
				      c, (double)m->in_mean[c], (double)m->in_std[c]);
	}
	int c = m->in_channels, h = m->res;
	int w = h;
	for (int i = 0; i < m->nlayers; i++) {
		const uint8_t *p = buf + layers_at + (size_t)i * LAYER_LEN;
		uint32_t v[LAYER_WORDS];
		for (int j = 0; j < LAYER_WORDS; j++)
			v[j] = get_u32(p + 4 * (size_t)j);
		for (int j = 0; j < LAYER_WORDS; j++)
			if (v[j] > MAX_DIM)
				return refuse(m, err, errlen, name, "layer %d: a field above %d", i, MAX_DIM);
		rt_model_layer *l = &m->layers[i];
		l->kind = (ir_block)v[0];
		l->act = (ir_act)v[1];
		l->cin = (int)v[2];
		l->cout = (int)v[3];
		l->mid = (int)v[4];
		l->se_r = (int)v[5];
		l->k = (int)v[6];
		l->stride = (int)v[7];
		l->h = (int)v[8];
		l->w = (int)v[9];
		l->ho = (int)v[10];
		l->wo = (int)v[11];
		l->has_expand = (int)v[12];
		l->shortcut = (int)v[13];
		char why[256];
		if (v[14] || v[15])
			return refuse(m, err, errlen, name, "layer %d: reserved fields are not 0", i);
		if (check_layer(l, i == m->nlayers - 1, &c, &h, &w, why, sizeof why) != 0)
			return refuse(m, err, errlen, name, "layer %d: %s", i, why);
	}
	if (c != m->nclasses)
		return refuse(m, err, errlen, name, "the last layer gives %d outputs for %d classes", c,
			      m->nclasses);
	m->nweights = rt_model_layout(m);
	if (m->nweights != nweights)
		return refuse(m, err, errlen, name, "%llu weights stored, the layers need %zu",
			      (unsigned long long)nweights, m->nweights);
	const uint8_t *p = buf + at + 8;
	for (size_t i = 0; i < m->nweights; i++) {
		m->weights[i] = get_f32(p + 4 * i);
		if (!isfinite(m->weights[i]))
			return refuse(m, err, errlen, name,
				      "weight %zu of %zu is not finite (%g): the model gives no logits",
				      i, m->nweights, (double)m->weights[i]);
	}
	if (rt_model_fuse(m) < 0)
		return refuse(m, err, errlen, name, "out of memory");
	if (!rt_model_fused_finite(m))
		return refuse(m, err, errlen, name,
			      "a batch norm with a negative variance, or weights too large, folds to "
			      "values that are not finite");
	size_t ws = rt_model_workspace(m, 1);
	if (ws > RT_MODEL_IMAGE_MAX)
		return refuse(
			m, err, errlen, name,
			"the layers need %zu floats of workspace an image, more than the %zu a model may take",
			ws, RT_MODEL_IMAGE_MAX);
	return m;
}

/* --- files -------------------------------------------------------------------- */

int rt_model_save(const rt_model *m, const char *path, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	if (rt_model_encode(m, &buf, &len) != 0) {
		seterr(err, errlen, "%s: out of memory encoding the model", path);
		return -1;
	}
	int rc = rt_state_write_file(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}

rt_model *rt_model_load(const char *path, char *err, size_t errlen)
{
	const char *why;
	FILE *f = rt_state_fopen(path, &why); /* a FIFO is refused, not waited on */
	if (!f) {
		seterr(err, errlen, "%s: %s", path, why);
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE) {
		seterr(err, errlen, "%s: not a regular file of a model's size", path);
		fclose(f);
		return NULL;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		seterr(err, errlen, "%s: out of memory reading %zu bytes", path, len);
		fclose(f);
		return NULL;
	}
	size_t got = fread(buf, 1, len, f);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		seterr(err, errlen, "%s: read error", path);
		free(buf);
		return NULL;
	}
	rt_model *m = rt_model_decode(buf, got, path, err, errlen);
	free(buf);
	return m;
}
