/*
 * export_c.c — a model as a standalone C99 source and header (see
 * export_c.h for what the generated code promises).
 *
 * Three steps: plan where every activation lives in the scratch buffer
 * (first fit over lifetimes), emit the weights with batch norm folded in,
 * then emit the kernels the model uses and one call per layer step.  The
 * kernels below mirror the runtime's ops (ops.h) formula for formula, so
 * the generated function agrees with rt_model_forward to float rounding.
 */
#include "runtime/export_c.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/export_c_priv.h"
#include "runtime/statedir.h"

#define BN_EPS 1e-5

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int rt_export_c_name(const char *path, char *name, size_t namelen, char *err, size_t errlen)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base), pre = isdigit((unsigned char)base[0]) ? 2 : 0;
	if (n == 0) {
		seterr(err, errlen, "%s: no file name to derive a C identifier from", path);
		return -1;
	}
	if (n + pre > RT_EXPORT_C_NAME_MAX || n + pre >= namelen) {
		seterr(err, errlen, "%s: the name is longer than %d characters", path,
		       RT_EXPORT_C_NAME_MAX);
		return -1;
	}
	memcpy(name, "m_", pre);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)base[i];
		name[pre + i] = (char)(isalnum(c) || c == '_' ? c : '_');
	}
	name[pre + n] = '\0';
	return 0;
}

/* --- the scratch plan ---------------------------------------------------------- */

enum { LOC_SCRATCH, LOC_INPUT, LOC_LOGITS };

/* Where a tensor lives: the caller's input, the caller's logits, or
 * scratch + off floats. */
typedef struct loc {
	int where;
	size_t off;
} loc;

/* The tensors of one layer (those its kind uses; see plan_layer). */
typedef struct lplan {
	loc x, y;         /* input, output */
	loc t1, t2;       /* MBCONV: expanded, depthwise output; RESIDUAL: inner, projection */
	loc pool, hidden; /* MBCONV with SE: the pooled and reduced vectors */
} lplan;

#define ARENA_LIVE 8

/* Live blocks, sorted by offset, and the high-water mark. */
typedef struct arena {
	size_t off[ARENA_LIVE], len[ARENA_LIVE];
	int n;
	size_t peak;
} arena;

/* First fit: the lowest offset where len floats overlap no live block. */
static loc arena_alloc(arena *a, size_t len)
{
	assert(a->n < ARENA_LIVE && len > 0);
	size_t at = 0;
	int i = 0;
	for (; i < a->n; i++) {
		if (a->off[i] >= at + len)
			break;
		at = a->off[i] + a->len[i];
	}
	memmove(a->off + i + 1, a->off + i, (size_t)(a->n - i) * sizeof a->off[0]);
	memmove(a->len + i + 1, a->len + i, (size_t)(a->n - i) * sizeof a->len[0]);
	a->off[i] = at;
	a->len[i] = len;
	a->n++;
	if (at + len > a->peak)
		a->peak = at + len;
	return (loc){ LOC_SCRATCH, at };
}

/* Frees a scratch tensor; the caller's buffers are not the arena's. */
static void arena_release(arena *a, loc t)
{
	if (t.where != LOC_SCRATCH)
		return;
	for (int i = 0; i < a->n; i++)
		if (a->off[i] == t.off) {
			memmove(a->off + i, a->off + i + 1, (size_t)(a->n - i - 1) * sizeof a->off[0]);
			memmove(a->len + i, a->len + i + 1, (size_t)(a->n - i - 1) * sizeof a->len[0]);
			a->n--;
			return;
		}
	assert(!"releasing a tensor that is not live");
}

/* Floats of a layer's output. */
static size_t out_size(const rt_model_layer *l)
{
	if (l->kind == IR_BLOCK_POOL || l->kind == IR_BLOCK_DENSE || l->kind == IR_BLOCK_FC)
		return (size_t)l->cout;
	return (size_t)l->ho * l->wo * l->cout;
}

/* Places layer l's tensors, x already set; the last layer writes the logits. */
static void plan_layer(arena *a, const rt_model_layer *l, int last, lplan *p)
{
	size_t ysz = out_size(l), hw = (size_t)l->h * l->w, howo = (size_t)l->ho * l->wo;
	loc out = { LOC_LOGITS, 0 };
	switch (l->kind) {
	case IR_BLOCK_MBCONV:
		if (l->has_expand) {
			p->t1 = arena_alloc(a, (size_t)l->mid * hw);
			if (!l->shortcut)
				arena_release(a, p->x);
		}
		p->t2 = arena_alloc(a, (size_t)l->mid * howo);
		if (l->has_expand)
			arena_release(a, p->t1);
		else if (!l->shortcut)
			arena_release(a, p->x);
		if (l->se_r) {
			p->pool = arena_alloc(a, (size_t)l->mid);
			p->hidden = arena_alloc(a, (size_t)l->se_r);
			arena_release(a, p->hidden);
			arena_release(a, p->pool);
		}
		p->y = last ? out : arena_alloc(a, ysz);
		arena_release(a, p->t2);
		if (l->shortcut)
			arena_release(a, p->x);
		break;
	case IR_BLOCK_RESIDUAL:
		p->t1 = arena_alloc(a, (size_t)l->mid * howo);
		p->y = last ? out : arena_alloc(a, ysz);
		arena_release(a, p->t1);
		if (l->shortcut == 2) {
			p->t2 = arena_alloc(a, ysz);
			arena_release(a, p->t2);
		}
		arena_release(a, p->x);
		break;
	default:
		p->y = last ? out : arena_alloc(a, ysz);
		arena_release(a, p->x);
		break;
	}
}

/* Plans every layer (p has nlayers entries) and the resized input;
 * returns the scratch floats needed. */
static size_t plan_model(const rt_model *m, lplan *p, loc *resized)
{
	arena a = { .n = 0 };
	loc cur = { LOC_INPUT, 0 };
	if (m->res != m->in_h || m->res != m->in_w) {
		cur = arena_alloc(&a, (size_t)m->res * m->res * m->in_channels);
		*resized = cur;
	}
	for (int i = 0; i < m->nlayers; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].x = cur;
		plan_layer(&a, &m->layers[i], i == m->nlayers - 1, &p[i]);
		cur = p[i].y;
	}
	assert(a.n == 0);
	return a.peak;
}

/* --- emission ------------------------------------------------------------------- */

/* The generator's state. */
typedef struct gen {
	FILE *f;
	const rt_model *m;
	size_t flash;   /* floats of weights emitted */
	int nonfinite;  /* a weight was NaN or infinite */
	unsigned kernels; /* RT_EXPORT_C_K_* bits the model uses */
} gen;

/* Emits `static const float NAME[n]` with a comment; v holds n floats. */
static void emit_array(gen *g, const char *name, const char *what, const float *v, size_t n)
{
	fprintf(g->f, "/* %s */\nstatic const float %s[%zu] = {", what, name, n);
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			g->nonfinite = 1;
		fprintf(g->f, "%s%.8ef%s", i % 6 ? " " : "\n\t", (double)v[i], i + 1 < n ? "," : "");
	}
	fputs("\n};\n\n", g->f);
	g->flash += n;
}

/*
 * Emits W [rows, cols] with the batch norm at bn (gamma, beta, mean, var of
 * cols channels) folded in, as NAME_w and NAME_b:
 *   s = gamma / sqrt(var + eps), W'[r][c] = W[r][c] s[c], b = beta - mean s.
 * Returns 0, or -1 when memory is short.
 */
static int emit_folded(gen *g, const char *name, const char *what, const float *W, int rows,
		       int cols, const float *bn)
{
	size_t nw = (size_t)rows * cols;
	float *w = malloc(nw * sizeof *w), *b = malloc((size_t)cols * sizeof *b);
	if (!w || !b) {
		free(w);
		free(b);
		return -1;
	}
	const float *gamma = bn, *beta = bn + cols, *mean = bn + 2 * cols, *var = bn + 3 * cols;
	for (int c = 0; c < cols; c++) {
		double s = gamma[c] / sqrt((double)var[c] + BN_EPS);
		b[c] = (float)(beta[c] - mean[c] * s);
		for (int r = 0; r < rows; r++)
			w[(size_t)r * cols + c] = (float)(W[(size_t)r * cols + c] * s);
	}
	char nm[96], desc[160];
	snprintf(nm, sizeof nm, "%s_w", name);
	snprintf(desc, sizeof desc, "%s: weights [%d][%d], batch norm folded in", what, rows, cols);
	emit_array(g, nm, desc, w, nw);
	snprintf(nm, sizeof nm, "%s_b", name);
	snprintf(desc, sizeof desc, "%s: bias [%d] (the folded batch norm)", what, cols);
	emit_array(g, nm, desc, b, (size_t)cols);
	free(w);
	free(b);
	return 0;
}

/* Emits layer i's arrays (the layout of extract.h, BN folded). */
static int emit_weights(gen *g, int i, const rt_model_layer *l)
{
	const float *w = g->m->weights + l->off;
	size_t kk = (size_t)l->k * l->k;
	char nm[64], what[96];
	int rc = 0;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		snprintf(nm, sizeof nm, "l%d", i);
		snprintf(what, sizeof what, "layer %d, conv %dx%d", i, l->k, l->k);
		return emit_folded(g, nm, what, w, (int)kk * l->cin, l->cout, w + kk * l->cin * l->cout);
	case IR_BLOCK_MBCONV:
		if (l->has_expand) {
			snprintf(nm, sizeof nm, "l%d_expand", i);
			snprintf(what, sizeof what, "layer %d, expand 1x1", i);
			rc |= emit_folded(g, nm, what, w, l->cin, l->mid, w + (size_t)l->cin * l->mid);
			w += (size_t)l->cin * l->mid + 4 * (size_t)l->mid;
		}
		snprintf(nm, sizeof nm, "l%d_depthwise", i);
		snprintf(what, sizeof what, "layer %d, depthwise %dx%d", i, l->k, l->k);
		rc |= emit_folded(g, nm, what, w, (int)kk, l->mid, w + kk * l->mid);
		w += kk * l->mid + 4 * (size_t)l->mid;
		if (l->se_r) {
			size_t r = (size_t)l->se_r, mid = (size_t)l->mid;
			snprintf(what, sizeof what, "layer %d, squeeze-excite reduce [%d][%d]", i, l->mid,
				 l->se_r);
			snprintf(nm, sizeof nm, "l%d_se_w1", i);
			emit_array(g, nm, what, w, mid * r);
			snprintf(what, sizeof what, "layer %d, squeeze-excite reduce bias [%d]", i, l->se_r);
			snprintf(nm, sizeof nm, "l%d_se_b1", i);
			emit_array(g, nm, what, w + mid * r, r);
			snprintf(what, sizeof what, "layer %d, squeeze-excite expand [%d][%d]", i, l->se_r,
				 l->mid);
			snprintf(nm, sizeof nm, "l%d_se_w2", i);
			emit_array(g, nm, what, w + mid * r + r, r * mid);
			snprintf(what, sizeof what, "layer %d, squeeze-excite expand bias [%d]", i, l->mid);
			snprintf(nm, sizeof nm, "l%d_se_b2", i);
			emit_array(g, nm, what, w + 2 * mid * r + r, mid);
			w += 2 * mid * r + r + mid;
		}
		snprintf(nm, sizeof nm, "l%d_project", i);
		snprintf(what, sizeof what, "layer %d, project 1x1", i);
		rc |= emit_folded(g, nm, what, w, l->mid, l->cout, w + (size_t)l->mid * l->cout);
		return rc;
	case IR_BLOCK_RESIDUAL:
		snprintf(nm, sizeof nm, "l%d_conv1", i);
		snprintf(what, sizeof what, "layer %d, first conv %dx%d", i, l->k, l->k);
		rc |= emit_folded(g, nm, what, w, (int)kk * l->cin, l->mid, w + kk * l->cin * l->mid);
		w += kk * l->cin * l->mid + 4 * (size_t)l->mid;
		snprintf(nm, sizeof nm, "l%d_conv2", i);
		snprintf(what, sizeof what, "layer %d, second conv %dx%d", i, l->k, l->k);
		rc |= emit_folded(g, nm, what, w, (int)kk * l->mid, l->cout, w + kk * l->mid * l->cout);
		w += kk * l->mid * l->cout + 4 * (size_t)l->cout;
		if (l->shortcut == 2) {
			snprintf(nm, sizeof nm, "l%d_shortcut", i);
			snprintf(what, sizeof what, "layer %d, projection shortcut 1x1", i);
			rc |= emit_folded(g, nm, what, w, l->cin, l->cout, w + (size_t)l->cin * l->cout);
		}
		return rc;
	case IR_BLOCK_DENSE:
		snprintf(nm, sizeof nm, "l%d", i);
		snprintf(what, sizeof what, "layer %d, dense", i);
		return emit_folded(g, nm, what, w, l->cin, l->cout, w + (size_t)l->cin * l->cout);
	case IR_BLOCK_FC:
		snprintf(nm, sizeof nm, "l%d_w", i);
		snprintf(what, sizeof what, "layer %d, fully connected: weights [%d][%d]", i, l->cin,
			 l->cout);
		emit_array(g, nm, what, w, (size_t)l->cin * l->cout);
		snprintf(nm, sizeof nm, "l%d_b", i);
		snprintf(what, sizeof what, "layer %d, fully connected: bias [%d]", i, l->cout);
		emit_array(g, nm, what, w + (size_t)l->cin * l->cout, (size_t)l->cout);
		return 0;
	default:
		return 0;
	}
}

/* The kernels layer l calls. */
static unsigned layer_kernels(const rt_model_layer *l)
{
	unsigned k = 1u << RT_EXPORT_C_K_ACT;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		return k | 1u << RT_EXPORT_C_K_CONV;
	case IR_BLOCK_MBCONV:
		k |= 1u << RT_EXPORT_C_K_DEPTHWISE | 1u << RT_EXPORT_C_K_POINTWISE;
		if (l->se_r)
			k |= 1u << RT_EXPORT_C_K_SE;
		if (l->shortcut)
			k |= 1u << RT_EXPORT_C_K_SHORTCUT;
		return k;
	case IR_BLOCK_RESIDUAL:
		k |= 1u << RT_EXPORT_C_K_CONV | 1u << RT_EXPORT_C_K_SHORTCUT;
		if (l->shortcut == 2 && l->stride == 1)
			k |= 1u << RT_EXPORT_C_K_POINTWISE;
		return k;
	case IR_BLOCK_POOL:
		return 1u << RT_EXPORT_C_K_POOL;
	default:
		return k | 1u << RT_EXPORT_C_K_POINTWISE;
	}
}

/* "input", "logits", "scratch" or "scratch + N". */
static const char *locstr(loc t, char buf[40])
{
	if (t.where == LOC_INPUT)
		return "input";
	if (t.where == LOC_LOGITS)
		return "logits";
	if (t.off == 0)
		return "scratch";
	snprintf(buf, 40, "scratch + %zu", t.off);
	return buf;
}

static const char *act_name(ir_act a)
{
	return a == IR_ACT_RELU ? "ACT_RELU" : a == IR_ACT_HSWISH ? "ACT_HSWISH" : "ACT_NONE";
}

static const char *act_word(ir_act a)
{
	return a == IR_ACT_RELU ? "relu" : a == IR_ACT_HSWISH ? "hswish" : "no activation";
}

/* Emits layer i's calls, with its shapes as a comment. */
static void emit_layer(gen *g, int i, const rt_model_layer *l, const lplan *p)
{
	FILE *f = g->f;
	char bx[40], by[40], b1[40], b2[40];
	const char *x = locstr(p->x, bx), *y = locstr(p->y, by);
	int hw = l->h * l->w, howo = l->ho * l->wo;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		fprintf(f, "\t/* layer %d: conv %dx%d stride %d, %s: [%d, %d, %d] -> [%d, %d, %d] */\n",
			i, l->k, l->k, l->stride, act_word(l->act), l->h, l->w, l->cin, l->ho, l->wo,
			l->cout);
		fprintf(f, "\tconv(%s, %d, %d, %d, l%d_w, l%d_b, %d, %d, %d, %s, %s);\n", x, l->h, l->w,
			l->cin, i, i, l->cout, l->k, l->stride, act_name(l->act), y);
		break;
	case IR_BLOCK_MBCONV: {
		fprintf(f, "\t/* layer %d: mbconv %dx%d stride %d, %s, expanded to %d%s%s: "
			   "[%d, %d, %d] -> [%d, %d, %d] */\n",
			i, l->k, l->k, l->stride, act_word(l->act), l->mid,
			l->se_r ? ", squeeze-excite" : "", l->shortcut ? ", identity shortcut" : "",
			l->h, l->w, l->cin, l->ho, l->wo, l->cout);
		const char *e = x, *d = locstr(p->t2, b2);
		if (l->has_expand) {
			e = locstr(p->t1, b1);
			fprintf(f, "\tpointwise(%s, %d, %d, l%d_expand_w, l%d_expand_b, %d, %s, %s);\n", x,
				hw, l->cin, i, i, l->mid, act_name(l->act), e);
		}
		fprintf(f, "\tdepthwise(%s, %d, %d, %d, l%d_depthwise_w, l%d_depthwise_b, %d, %d, %s, %s);\n",
			e, l->h, l->w, l->mid, i, i, l->k, l->stride, act_name(l->act), d);
		if (l->se_r) {
			char b3[40], b4[40];
			fprintf(f, "\tsqueeze_excite(%s, %d, %d, l%d_se_w1, l%d_se_b1, %d, l%d_se_w2, "
				   "l%d_se_b2, %s, %s);\n",
				d, howo, l->mid, i, i, l->se_r, i, i, locstr(p->pool, b3),
				locstr(p->hidden, b4));
		}
		fprintf(f, "\tpointwise(%s, %d, %d, l%d_project_w, l%d_project_b, %d, ACT_NONE, %s);\n",
			d, howo, l->mid, i, i, l->cout, y);
		if (l->shortcut)
			fprintf(f, "\tshortcut(%s, %d, %d, %s, %d, ACT_NONE);\n", y, howo, l->cout, x,
				l->cin);
		break;
	}
	case IR_BLOCK_RESIDUAL: {
		fprintf(f, "\t/* layer %d: residual %dx%d stride %d, inner width %d, %s shortcut: "
			   "[%d, %d, %d] -> [%d, %d, %d] */\n",
			i, l->k, l->k, l->stride, l->mid, l->shortcut == 2 ? "projection" : "identity",
			l->h, l->w, l->cin, l->ho, l->wo, l->cout);
		const char *a = locstr(p->t1, b1);
		fprintf(f, "\tconv(%s, %d, %d, %d, l%d_conv1_w, l%d_conv1_b, %d, %d, %d, ACT_RELU, %s);\n",
			x, l->h, l->w, l->cin, i, i, l->mid, l->k, l->stride, a);
		fprintf(f, "\tconv(%s, %d, %d, %d, l%d_conv2_w, l%d_conv2_b, %d, %d, 1, ACT_NONE, %s);\n",
			a, l->ho, l->wo, l->mid, i, i, l->cout, l->k, y);
		if (l->shortcut == 2) {
			const char *s = locstr(p->t2, b2);
			if (l->stride == 1)
				fprintf(f, "\tpointwise(%s, %d, %d, l%d_shortcut_w, l%d_shortcut_b, %d, "
					   "ACT_NONE, %s);\n",
					x, hw, l->cin, i, i, l->cout, s);
			else
				fprintf(f, "\tconv(%s, %d, %d, %d, l%d_shortcut_w, l%d_shortcut_b, %d, 1, "
					   "%d, ACT_NONE, %s);\n",
					x, l->h, l->w, l->cin, i, i, l->cout, l->stride, s);
			fprintf(f, "\tshortcut(%s, %d, %d, %s, %d, ACT_RELU);\n", y, howo, l->cout, s,
				l->cout);
		} else {
			fprintf(f, "\tshortcut(%s, %d, %d, %s, %d, ACT_RELU);\n", y, howo, l->cout, x,
				l->cin);
		}
		break;
	}
	case IR_BLOCK_POOL:
		fprintf(f, "\t/* layer %d: global average pool: [%d, %d, %d] -> [%d] */\n", i, l->h, l->w,
			l->cin, l->cout);
		fprintf(f, "\tmean_pool(%s, %d, %d, %s);\n", x, hw, l->cin, y);
		break;
	default:
		fprintf(f, "\t/* layer %d: %s, %s: [%d] -> [%d] */\n", i,
			l->kind == IR_BLOCK_FC ? "fully connected" : "dense", act_word(l->act), l->cin,
			l->cout);
		fprintf(f, "\tpointwise(%s, 1, %d, l%d_w, l%d_b, %d, %s, %s);\n", x, l->cin, i, i,
			l->cout, act_name(l->act), y);
		break;
	}
}

/* Writes "{ a, b, ... }" of n floats, an initialiser for the header's macros. */
static void emit_init(FILE *f, const float *v, int n)
{
	fputs("{ ", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%.8ef", i ? ", " : "", (double)v[i]);
	fputs(" }", f);
}

static void emit_header(const rt_model *m, const char *name, const rt_export_c_info *info,
			FILE *f)
{
	char up[RT_EXPORT_C_NAME_MAX + 1];
	size_t n = strlen(name);
	assert(n <= RT_EXPORT_C_NAME_MAX);
	for (size_t i = 0; i <= n; i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	fprintf(f, "/*\n"
		   " * %s.h — subnet %s as standalone C, written by `archc export --c`.\n"
		   " *\n"
		   " * int %s_predict(const float *input, float *logits);\n"
		   " *   input   one image [%d][%d][%d] (height, width, channels; channels\n"
		   " *           innermost), ALREADY NORMALISED: input = (raw - mean[c]) / std[c]\n"
		   " *           with mean and std from %s_INPUT_MEAN and %s_INPUT_STD, raw being\n"
		   " *           the value as the data set's file holds it.  The normalisation is\n"
		   " *           not applied inside, as in archd's runtime.%s\n"
		   " *   logits  receives %d floats, the class scores.\n"
		   " *   returns the index of the largest logit (the first on ties).\n"
		   " * Not reentrant: every call uses one static scratch buffer.  Build with\n"
		   " * -O3 (and -march for the target) where speed matters: the kernels'\n"
		   " * loops are written to vectorise, which GCC does not do at -O2.\n"
		   " *\n"
		   " * %.0f multiply-accumulates and %.0f parameters per image.\n"
		   " * Flash: %zu bytes of weights (batch norm folded into the layers before it).\n"
		   " * RAM:   %zu bytes of scratch, besides the caller's input and logits.\n"
		   " */\n",
		name, m->genes, name, m->in_h, m->in_w, m->in_channels, up, up,
		m->res != m->in_h || m->res != m->in_w ? "\n *           It is resized bilinearly to the subnet's resolution inside." : "",
		m->nclasses, m->macs, m->params, info->flash, info->ram);
	fprintf(f, "#ifndef %s_H\n#define %s_H\n\n", up, up);
	fprintf(f, "#define %s_INPUT_HEIGHT %d\n#define %s_INPUT_WIDTH %d\n#define %s_INPUT_CHANNELS %d\n",
		up, m->in_h, up, m->in_w, up, m->in_channels);
	fprintf(f, "#define %s_CLASSES %d\n#define %s_FLASH_BYTES %zu\n#define %s_RAM_BYTES %zu\n", up,
		m->nclasses, up, info->flash, up, info->ram);
	fprintf(f, "/* Initialisers of float [%d]: static const float mean[] = %s_INPUT_MEAN; */\n",
		m->in_channels, up);
	fprintf(f, "#define %s_INPUT_MEAN ", up);
	emit_init(f, m->in_mean, m->in_channels);
	fprintf(f, "\n#define %s_INPUT_STD ", up);
	emit_init(f, m->in_std, m->in_channels);
	fprintf(f, "\n\nint %s_predict(const float *input, float *logits);\n\n#endif\n", name);
}

int rt_export_c_write(const rt_model *m, const char *name, FILE *src, FILE *hdr,
		      rt_export_c_info *info, char *err, size_t errlen)
{
	assert(m->nlayers >= 1 && strlen(name) <= RT_EXPORT_C_NAME_MAX);
	lplan *plan = calloc((size_t)m->nlayers, sizeof *plan);
	if (!plan) {
		seterr(err, errlen, "%s: out of memory", name);
		return -1;
	}
	loc resized = { LOC_INPUT, 0 };
	size_t scratch = plan_model(m, plan, &resized);
	gen g = { .f = src, .m = m };
	for (int i = 0; i < m->nlayers; i++)
		g.kernels |= layer_kernels(&m->layers[i]);
	if (resized.where == LOC_SCRATCH)
		g.kernels |= 1u << RT_EXPORT_C_K_RESIZE;

	fprintf(src, "/*\n * %s.c — subnet %s as standalone C, written by `archc export --c`.\n"
		     " * See %s.h.  Layers run in order on one static scratch buffer; every\n"
		     " * batch norm is folded into the convolution before it.\n */\n",
		name, m->genes, name);
	fprintf(src, "#include \"%s.h\"\n\n#include <stddef.h>\n\n", name);
	int rc = 0;
	for (int i = 0; i < m->nlayers && rc == 0; i++)
		rc = emit_weights(&g, i, &m->layers[i]);
	if (rc != 0) {
		free(plan);
		seterr(err, errlen, "%s: out of memory", name);
		return -1;
	}
	fprintf(src, "/* Activations, placed by a first-fit plan over their lifetimes. */\n"
		     "static float scratch[%zu];\n\n", scratch ? scratch : 1);
	for (int k = 0; k < RT_EXPORT_C_K_COUNT; k++)
		if (g.kernels & 1u << k) {
			assert(rt_export_c_kernel_src[k]);
			fprintf(src, "%s\n", rt_export_c_kernel_src[k]);
		}
	fprintf(src, "int %s_predict(const float *input, float *logits)\n{\n", name);
	if (resized.where == LOC_SCRATCH) {
		char b[40];
		fprintf(src, "\t/* resize: [%d, %d, %d] -> [%d, %d, %d] */\n", m->in_h, m->in_w,
			m->in_channels, m->res, m->res, m->in_channels);
		fprintf(src, "\tresize(input, %d, %d, %d, %d, %d, %s);\n", m->in_h, m->in_w,
			m->in_channels, m->res, m->res, locstr(resized, b));
	}
	for (int i = 0; i < m->nlayers; i++)
		emit_layer(&g, i, &m->layers[i], &plan[i]);
	fprintf(src, "\n\tint best = 0;\n\tfor (int i = 1; i < %d; i++)\n"
		     "\t\tif (logits[i] > logits[best])\n\t\t\tbest = i;\n\treturn best;\n}\n",
		m->nclasses);
	free(plan);
	if (g.nonfinite) {
		seterr(err, errlen, "subnet %s: a weight is not finite once batch norm is folded",
		       m->genes);
		return -1;
	}
	rt_export_c_info in = { .flash = g.flash * sizeof(float), .ram = scratch * sizeof(float) };
	emit_header(m, name, &in, hdr);
	if (info)
		*info = in;
	if (ferror(src) || ferror(hdr)) {
		seterr(err, errlen, "%s: write error", name);
		return -1;
	}
	return 0;
}

int rt_export_c_save(const rt_model *m, const char *base, rt_export_c_info *info, char *err,
		     size_t errlen)
{
	char name[RT_EXPORT_C_NAME_MAX + 1];
	if (rt_export_c_name(base, name, sizeof name, err, errlen) != 0)
		return -1;
	size_t n = strlen(base) + 3;
	char *cpath = malloc(n), *hpath = malloc(n);
	if (!cpath || !hpath) {
		free(cpath);
		free(hpath);
		seterr(err, errlen, "%s: out of memory", base);
		return -1;
	}
	snprintf(cpath, n, "%s.c", base);
	snprintf(hpath, n, "%s.h", base);
	rt_state_atomic c, h;
	int rc = -1;
	if (rt_state_atomic_open(&c, cpath, 0644, err, errlen) != 0)
		goto out;
	if (rt_state_atomic_open(&h, hpath, 0644, err, errlen) != 0) {
		rt_state_atomic_abort(&c);
		goto out;
	}
	if (rt_export_c_write(m, name, c.f, h.f, info, err, errlen) != 0) {
		rt_state_atomic_abort(&c);
		rt_state_atomic_abort(&h);
		goto out;
	}
	if (rt_state_atomic_commit(&h, err, errlen) != 0) {
		rt_state_atomic_abort(&c);
		goto out;
	}
	rc = rt_state_atomic_commit(&c, err, errlen);
out:
	free(cpath);
	free(hpath);
	return rc;
}
