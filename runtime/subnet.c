/*
 * subnet.c — gene vectors, their string form, and the active shape of each
 * layer (see subnet.h for the definitions this file implements).
 */
#include "runtime/subnet.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GROUP_R, GROUP_D, GROUP_K, GROUP_E, GROUP_W, GROUP_COUNT };
static const char group_letters[GROUP_COUNT] = { 'r', 'd', 'k', 'e', 'w' };

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The group of every gene (see the header); -1 for a gene nothing uses. */
static void gene_groups(const ir_space *s, int *group)
{
	for (int i = 0; i < s->ngenes; i++)
		group[i] = -1;
	if (s->g_resolution >= 0)
		group[s->g_resolution] = GROUP_R;
	for (int i = 0; i < s->nstages; i++)
		if (s->stages[i].g_depth >= 0 && group[s->stages[i].g_depth] < 0)
			group[s->stages[i].g_depth] = GROUP_D;
	for (int i = 0; i < s->nlayers; i++)
		if (s->layers[i].g_kernel >= 0 && group[s->layers[i].g_kernel] < 0)
			group[s->layers[i].g_kernel] = GROUP_K;
	for (int i = 0; i < s->nlayers; i++)
		if (s->layers[i].g_expand >= 0 && group[s->layers[i].g_expand] < 0)
			group[s->layers[i].g_expand] = GROUP_E;
	for (int i = 0; i < s->nlayers; i++)
		if (s->layers[i].g_out >= 0 && group[s->layers[i].g_out] < 0)
			group[s->layers[i].g_out] = GROUP_W;
}

static int gene_ok(const ir_space *s, int g)
{
	return g >= -1 && g < s->ngenes;
}

/* The largest value of gene g, or `fixed` when g < 0. */
static double gene_max(const ir_space *s, int g, double fixed)
{
	return g < 0 ? fixed : s->genes[g].values[s->genes[g].nvalues - 1];
}

int sn_space_check(const ir_space *s, int nclasses, char *err, size_t errlen)
{
	const char *name = s->name ? s->name : "(unnamed)";
	if (s->ngenes > SN_MAX_GENES || s->nlayers > SN_MAX_LAYERS || s->nlayers < 1) {
		seterr(err, errlen, "space %s: %d genes and %d layers (at most %d and %d)",
		       name, s->ngenes, s->nlayers, SN_MAX_GENES, SN_MAX_LAYERS);
		return -1;
	}
	if (s->in_channels < 1 || s->resolution < 1) {
		seterr(err, errlen, "space %s: input of %d channels at resolution %d",
		       name, s->in_channels, s->resolution);
		return -1;
	}
	for (int i = 0; i < s->ngenes; i++) {
		const ir_gene *g = &s->genes[i];
		if (g->nvalues < 1 || g->nvalues > SN_MAX_VALUES) {
			seterr(err, errlen, "space %s: gene %s has %d values (1 to %d allowed)",
			       name, g->name, g->nvalues, SN_MAX_VALUES);
			return -1;
		}
		for (int v = 0; v < g->nvalues; v++)
			if (!(g->values[v] > 0)) {
				seterr(err, errlen, "space %s: gene %s has value %g, not positive",
				       name, g->name, g->values[v]);
				return -1;
			}
	}
	if (!gene_ok(s, s->g_resolution)) {
		seterr(err, errlen, "space %s: bad resolution gene", name);
		return -1;
	}
	if (s->g_resolution >= 0 && gene_max(s, s->g_resolution, 0) > s->resolution) {
		seterr(err, errlen, "space %s: resolution gene exceeds %d", name, s->resolution);
		return -1;
	}
	for (int i = 0; i < s->nstages; i++) {
		const ir_stage *st = &s->stages[i];
		if (!gene_ok(s, st->g_depth) || st->first < 0 || st->count < 1 ||
		    st->first + st->count > s->nlayers ||
		    gene_max(s, st->g_depth, st->count) > st->count) {
			seterr(err, errlen, "space %s: stage %s has a bad layer range or depth gene",
			       name, st->name);
			return -1;
		}
	}
	int cin = s->in_channels, h = s->resolution, fc_seen = 0;
	for (int i = 0; i < s->nlayers; i++) {
		const ir_layer *l = &s->layers[i];
		if (!gene_ok(s, l->g_kernel) || !gene_ok(s, l->g_expand) || !gene_ok(s, l->g_out)) {
			seterr(err, errlen, "space %s: layer %d has a bad gene index", name, i);
			return -1;
		}
		int cout = l->out_channels;
		if (l->kind == IR_BLOCK_FC && cout == 0)
			cout = nclasses;
		if (l->kind == IR_BLOCK_POOL)
			cout = cin;
		if (l->in_channels != cin || cout < 1 || l->stride < 1 ||
		    gene_max(s, l->g_out, cout) > cout) {
			seterr(err, errlen,
			       "space %s: layer %d (%s) takes %d channels, %d arrive; out %d",
			       name, i, ir_block_names[l->kind], l->in_channels, cin, cout);
			return -1;
		}
		int conv = l->kind == IR_BLOCK_CONV || l->kind == IR_BLOCK_MBCONV ||
			   l->kind == IR_BLOCK_RESIDUAL;
		if (conv && (l->kernel < 1 || l->kernel % 2 == 0 || l->kernel > IR_MAX_KERNEL ||
			     gene_max(s, l->g_kernel, l->kernel) != l->kernel)) {
			seterr(err, errlen, "space %s: layer %d has kernel %d (odd, <= %d, the gene's largest)",
			       name, i, l->kernel, IR_MAX_KERNEL);
			return -1;
		}
		if (l->g_kernel >= 0)
			for (int v = 0; v < s->genes[l->g_kernel].nvalues; v++) {
				double kv = s->genes[l->g_kernel].values[v];
				if (kv != floor(kv) || ((int)kv) % 2 == 0) {
					seterr(err, errlen, "space %s: gene %s has even kernel %g",
					       name, s->genes[l->g_kernel].name, kv);
					return -1;
				}
			}
		if ((l->kind == IR_BLOCK_MBCONV || l->kind == IR_BLOCK_RESIDUAL) &&
		    (!(l->expand > 0) || gene_max(s, l->g_expand, l->expand) != l->expand)) {
			seterr(err, errlen, "space %s: layer %d has expand %g, not the gene's largest",
			       name, i, l->expand);
			return -1;
		}
		if ((l->kind == IR_BLOCK_FC || l->kind == IR_BLOCK_DENSE) && h != 1) {
			seterr(err, errlen, "space %s: layer %d (%s) needs a 1x1 input, has %dx%d",
			       name, i, ir_block_names[l->kind], h, h);
			return -1;
		}
		if (fc_seen && l->kind != IR_BLOCK_FC) {
			seterr(err, errlen, "space %s: layer %d follows the head", name, i);
			return -1;
		}
		if (l->kind == IR_BLOCK_FC)
			fc_seen = 1;
		if (l->kind == IR_BLOCK_POOL)
			h = 1;
		else if (conv)
			h = (h - 1) / l->stride + 1;
		cin = cout;
	}
	if (!fc_seen || s->layers[s->nlayers - 1].kind != IR_BLOCK_FC) {
		seterr(err, errlen, "space %s: does not end with an fc layer", name);
		return -1;
	}
	return 0;
}

void sn_subnet_max(const ir_space *s, sn_subnet *out)
{
	memset(out, 0, sizeof(*out));
	out->ngenes = s->ngenes;
	for (int i = 0; i < s->ngenes; i++)
		out->g[i] = (uint8_t)(s->genes[i].nvalues - 1);
}

void sn_subnet_min(const ir_space *s, sn_subnet *out)
{
	memset(out, 0, sizeof(*out));
	out->ngenes = s->ngenes;
}

void sn_subnet_random(const ir_space *s, rt_rng *rng, sn_subnet *out)
{
	memset(out, 0, sizeof(*out));
	out->ngenes = s->ngenes;
	for (int i = 0; i < s->ngenes; i++)
		out->g[i] = (uint8_t)rt_rng_below(rng, (uint64_t)s->genes[i].nvalues);
}

int sn_subnet_equal(const sn_subnet *a, const sn_subnet *b)
{
	return a->ngenes == b->ngenes && memcmp(a->g, b->g, (size_t)a->ngenes) == 0;
}

double sn_subnet_value(const ir_space *s, const sn_subnet *sub, int gene)
{
	assert(gene >= 0 && gene < s->ngenes && sub->g[gene] < s->genes[gene].nvalues);
	return s->genes[gene].values[sub->g[gene]];
}

int sn_subnet_format(const ir_space *s, const sn_subnet *sub, char *buf, size_t buflen)
{
	int group[SN_MAX_GENES];
	gene_groups(s, group);
	size_t len = 0;
	if (buflen == 0)
		return -1;
	buf[0] = '\0';
	for (int grp = 0; grp < GROUP_COUNT; grp++) {
		int first = 1;
		for (int i = 0; i < s->ngenes; i++) {
			if (group[i] != grp)
				continue;
			int n;
			if (first)
				n = snprintf(buf + len, buflen - len, "%s%c%g", len ? ":" : "",
					     group_letters[grp], sn_subnet_value(s, sub, i));
			else
				n = snprintf(buf + len, buflen - len, ",%g", sn_subnet_value(s, sub, i));
			if (n < 0 || (size_t)n >= buflen - len)
				return -1;
			len += (size_t)n;
			first = 0;
		}
	}
	return (int)len;
}

/* Index of `v` among gene g's values, or -1. */
static int value_index(const ir_gene *g, double v)
{
	for (int i = 0; i < g->nvalues; i++)
		if (fabs(g->values[i] - v) <= 1e-9 * fmax(1.0, fabs(v)))
			return i;
	return -1;
}

/* Formats gene g's domain as "{3, 5, 7}" into buf. */
static void domain_str(const ir_gene *g, char *buf, size_t buflen)
{
	size_t len = 0;
	int n = snprintf(buf, buflen, "{");
	len = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < g->nvalues && len < buflen; i++) {
		n = snprintf(buf + len, buflen - len, "%s%g", i ? ", " : "", g->values[i]);
		if (n < 0)
			return;
		len += (size_t)n;
	}
	if (len < buflen)
		snprintf(buf + len, buflen - len, "}");
}

int sn_subnet_parse(const ir_space *s, const char *str, sn_subnet *out, char *err,
		    size_t errlen)
{
	int group[SN_MAX_GENES];
	int seen[GROUP_COUNT] = { 0 };
	gene_groups(s, group);
	memset(out, 0, sizeof(*out));
	out->ngenes = s->ngenes;
	const char *p = str;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t glen = end ? (size_t)(end - p) : strlen(p);
		int grp = -1;
		for (int i = 0; i < GROUP_COUNT; i++)
			if (*p == group_letters[i])
				grp = i;
		if (grp < 0) {
			seterr(err, errlen, "gene string '%s': group '%.*s' does not start with one of r, d, k, e, w",
			       str, (int)glen, p);
			return -1;
		}
		if (seen[grp]) {
			seterr(err, errlen, "gene string '%s': group '%c' appears twice", str, *p);
			return -1;
		}
		seen[grp] = 1;
		const char *q = p + 1;
		for (int i = 0; i < s->ngenes; i++) {
			if (group[i] != grp)
				continue;
			if (q >= p + glen) {
				seterr(err, errlen, "gene string '%s': group '%.*s' has too few values (%s needs one)",
				       str, (int)glen, p, s->genes[i].name);
				return -1;
			}
			char *vend;
			errno = 0;
			double v = strtod(q, &vend);
			/* Decimal as sn_subnet_format writes it: strtod's "inf" would
			 * match any value, and " 16", "+16" or "0x10" are not ours. */
			int plain = *q >= '0' && *q <= '9' && isfinite(v);
			for (const char *c = q; plain && c < vend; c++)
				plain = strchr("0123456789.eE+-", *c) != NULL;
			if (vend == q || errno || !plain || (vend < p + glen && *vend != ',')) {
				seterr(err, errlen, "gene string '%s': '%.*s' in group '%c' is not a number",
				       str, (int)(p + glen - q), q, *p);
				return -1;
			}
			int idx = value_index(&s->genes[i], v);
			if (idx < 0) {
				char dom[256];
				domain_str(&s->genes[i], dom, sizeof dom);
				seterr(err, errlen, "gene string '%s': %s = %g is not one of %s",
				       str, s->genes[i].name, v, dom);
				return -1;
			}
			out->g[i] = (uint8_t)idx;
			q = vend < p + glen ? vend + 1 : vend;
		}
		if (q != p + glen) {
			seterr(err, errlen, "gene string '%s': group '%.*s' has too many values",
			       str, (int)glen, p);
			return -1;
		}
		p = end ? end + 1 : p + glen;
		if (end && !*p) {
			seterr(err, errlen, "gene string '%s' ends with ':'", str);
			return -1;
		}
	}
	for (int i = 0; i < s->ngenes; i++)
		if (group[i] >= 0 && !seen[group[i]]) {
			seterr(err, errlen, "gene string '%s': group '%c' is missing (for %s)",
			       str, group_letters[group[i]], s->genes[i].name);
			return -1;
		}
	return 0;
}

int sn_subnet_parse_spec(const ir_space *s, const char *spec, sn_subnet *out,
			 char *err, size_t errlen)
{
	if (strcmp(spec, "max") == 0) {
		sn_subnet_max(s, out);
		return 0;
	}
	if (strcmp(spec, "min") == 0) {
		sn_subnet_min(s, out);
		return 0;
	}
	if (strncmp(spec, "random:", 7) == 0) {
		const char *num = spec + 7;
		char *end;
		errno = 0;
		unsigned long long seed = strtoull(num, &end, 10);
		if (*num < '0' || *num > '9' || *end || errno) {
			seterr(err, errlen, "subnet '%s': the seed after 'random:' must be a decimal integer", spec);
			return -1;
		}
		rt_rng rng;
		rt_rng_seed(&rng, (uint64_t)seed);
		sn_subnet_random(s, &rng, out);
		return 0;
	}
	return sn_subnet_parse(s, spec, out, err, errlen);
}

/* --- active shapes ---------------------------------------------------------- */

static int round_pos(double v)
{
	int r = (int)floor(v + 0.5);
	return r < 1 ? 1 : r;
}

int sn_layer_max_mid(const ir_layer *l)
{
	if (l->kind == IR_BLOCK_MBCONV)
		return l->expand == 1.0 ? l->in_channels : round_pos(l->in_channels * l->expand);
	if (l->kind == IR_BLOCK_RESIDUAL)
		return round_pos(l->out_channels * l->expand);
	return 0;
}

static double choose(const ir_space *s, const sn_subnet *sub, int gene, double fixed)
{
	return gene < 0 ? fixed : sn_subnet_value(s, sub, gene);
}

void sn_layer_plan_fill(const ir_layer *l, int h, int cin, int k, double e, int cout,
			sn_layer_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->active = 1;
	p->cin = cin;
	p->h = p->w = h;
	p->cout = cout;
	p->k = k;
	p->ho = p->wo = 1;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		p->ho = p->wo = (h - 1) / l->stride + 1;
		break;
	case IR_BLOCK_MBCONV:
		p->mid = l->expand == 1.0 ? cin : round_pos(cin * e);
		p->se_r = l->se ? (p->mid / 4 > 1 ? p->mid / 4 : 1) : 0;
		p->ho = p->wo = (h - 1) / l->stride + 1;
		p->shortcut = l->stride == 1 && cin == p->cout;
		break;
	case IR_BLOCK_RESIDUAL:
		p->mid = round_pos(p->cout * e);
		p->ho = p->wo = (h - 1) / l->stride + 1;
		p->shortcut = (l->stride == 1 && l->in_channels == l->out_channels) ? 1 : 2;
		break;
	case IR_BLOCK_POOL:
		p->cout = cin;
		p->k = 0;
		break;
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
	default:
		p->k = 0;
		break;
	}
}

void sn_plan_build(const ir_space *s, int nclasses, const sn_subnet *sub, sn_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->nlayers = s->nlayers;
	plan->nclasses = nclasses;
	plan->res = (int)choose(s, sub, s->g_resolution, s->resolution);
	for (int i = 0; i < s->nstages; i++) {
		const ir_stage *st = &s->stages[i];
		int d = (int)choose(s, sub, st->g_depth, st->count);
		for (int j = 0; j < st->count; j++)
			plan->layer[st->first + j].active = j < d ? 1 : -1;
	}
	int cin = s->in_channels, h = plan->res;
	for (int i = 0; i < s->nlayers; i++) {
		const ir_layer *l = &s->layers[i];
		sn_layer_plan *p = &plan->layer[i];
		if (p->active < 0) {
			p->active = 0;
			continue;
		}
		int cout_max = l->out_channels;
		if (l->kind == IR_BLOCK_FC && cout_max == 0)
			cout_max = nclasses;
		sn_layer_plan_fill(l, h, cin, (int)choose(s, sub, l->g_kernel, l->kernel),
				   choose(s, sub, l->g_expand, l->expand),
				   (int)choose(s, sub, l->g_out, cout_max), p);
		cin = p->cout;
		h = p->ho;
	}
}

void sn_plan_cost(const ir_space *s, const sn_plan *plan, sn_cost *out)
{
	double macs = 0, params = 0;
	for (int i = 0; i < plan->nlayers; i++) {
		const sn_layer_plan *p = &plan->layer[i];
		const ir_layer *l = &s->layers[i];
		if (!p->active)
			continue;
		double hw = (double)p->ho * p->wo, kk = (double)p->k * p->k;
		double cin = p->cin, cout = p->cout, mid = p->mid;
		switch (l->kind) {
		case IR_BLOCK_CONV:
			macs += hw * kk * cin * cout;
			params += kk * cin * cout + 2 * cout;
			break;
		case IR_BLOCK_MBCONV:
			if (l->expand != 1.0) {
				macs += (double)p->h * p->w * cin * mid;
				params += cin * mid + 2 * mid;
			}
			macs += hw * kk * mid;
			params += kk * mid + 2 * mid;
			if (p->se_r) {
				macs += 2.0 * mid * p->se_r;
				params += 2.0 * mid * p->se_r + p->se_r + mid;
			}
			macs += hw * mid * cout;
			params += mid * cout + 2 * cout;
			break;
		case IR_BLOCK_RESIDUAL:
			macs += hw * kk * cin * mid + hw * kk * mid * cout;
			params += kk * cin * mid + 2 * mid + kk * mid * cout + 2 * cout;
			if (p->shortcut == 2) {
				macs += hw * cin * cout;
				params += cin * cout + 2 * cout;
			}
			break;
		case IR_BLOCK_DENSE:
			macs += cin * cout;
			params += cin * cout + 2 * cout;
			break;
		case IR_BLOCK_FC:
			macs += cin * cout;
			params += cin * cout + cout;
			break;
		default:
			break;
		}
	}
	out->macs = macs;
	out->params = params;
}
