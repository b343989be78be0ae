/*
 * util_supernet_fixture.c — the tiny spaces described in
 * util_supernet_fixture.h, built field by field as the compiler would lower
 * them.
 */
#include "util_supernet_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		fputs("util_supernet_fixture: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xcalloc(n, 1);
	memcpy(d, s, n);
	return d;
}

/* Gene i named `name` with n values given as doubles. */
static void gene(ir_space *s, int i, const char *name, int n, ...)
{
	ir_gene *g = &s->genes[i];
	g->name = xstrdup(name);
	g->nvalues = n;
	g->values = xcalloc((size_t)n, sizeof(double));
	va_list ap;
	va_start(ap, n);
	for (int v = 0; v < n; v++)
		g->values[v] = va_arg(ap, double);
	va_end(ap);
}

static ir_layer *layer(ir_space *s, int i, ir_block kind, int cin, int cout, int k,
		       int stride, ir_act act)
{
	ir_layer *l = &s->layers[i];
	l->kind = kind;
	l->stage = -1;
	l->in_channels = cin;
	l->out_channels = cout;
	l->kernel = k;
	l->stride = stride;
	l->expand = 1;
	l->act = act;
	l->g_kernel = l->g_expand = l->g_out = -1;
	return l;
}

static void stage(ir_space *s, int i, const char *name, int first, int count, int g_depth)
{
	s->stages[i].name = xstrdup(name);
	s->stages[i].first = first;
	s->stages[i].count = count;
	s->stages[i].g_depth = g_depth;
	for (int j = 0; j < count; j++) {
		s->layers[first + j].stage = i;
		s->layers[first + j].index = j;
	}
}

static ir_space *space_new(const char *name, int c, int r, int ngenes, int nstages,
			   int nlayers)
{
	ir_space *s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(name);
	s->in_channels = c;
	s->resolution = r;
	s->g_resolution = 0;
	s->ngenes = ngenes;
	s->genes = xcalloc((size_t)ngenes, sizeof(ir_gene));
	s->nstages = nstages;
	s->stages = xcalloc((size_t)nstages, sizeof(ir_stage));
	s->nlayers = nlayers;
	s->layers = xcalloc((size_t)nlayers, sizeof(ir_layer));
	return s;
}

ir_space *tiny_space(int c, int r)
{
	ir_space *s = space_new("tiny", c, r, 12, 2, 7);
	gene(s, 0, "resolution", 3, 4.0, 5.0, (double)r);
	gene(s, 1, "s1.depth", 2, 1.0, 2.0);
	gene(s, 2, "s2.depth", 2, 1.0, 2.0);
	gene(s, 3, "s1.b0.kernel", 2, 3.0, 5.0);
	gene(s, 4, "s1.b1.kernel", 2, 3.0, 5.0);
	gene(s, 5, "s2.b0.kernel", 3, 3.0, 5.0, 7.0);
	gene(s, 6, "s2.b1.kernel", 3, 3.0, 5.0, 7.0);
	gene(s, 7, "s1.b0.expand", 2, 2.0, 3.0);
	gene(s, 8, "s1.b1.expand", 2, 2.0, 3.0);
	gene(s, 9, "s2.b0.expand", 2, 2.0, 3.0);
	gene(s, 10, "s2.b1.expand", 2, 2.0, 3.0);
	gene(s, 11, "width", 2, 4.0, 6.0);

	layer(s, 0, IR_BLOCK_CONV, c, 6, 3, 1, IR_ACT_RELU)->g_out = 11;
	for (int b = 0; b < 4; b++) {
		int s2 = b >= 2;
		ir_layer *l = layer(s, 1 + b, IR_BLOCK_MBCONV, 6, 6, s2 ? 7 : 5, b == 0 ? 2 : 1,
				    s2 ? IR_ACT_HSWISH : IR_ACT_RELU);
		l->expand = 3;
		l->se = s2;
		l->g_kernel = 3 + b;
		l->g_expand = 7 + b;
		if (s2)
			l->g_out = 11;
	}
	layer(s, 5, IR_BLOCK_POOL, 6, 6, 0, 1, IR_ACT_NONE);
	layer(s, 6, IR_BLOCK_FC, 6, 0, 0, 1, IR_ACT_NONE);
	stage(s, 0, "s1", 1, 2, 1);
	stage(s, 1, "s2", 3, 2, 2);
	return s;
}

ir_space *tiny_resnet_space(int c, int r)
{
	ir_space *s = space_new("tiny_resnet", c, r, 8, 2, 7);
	gene(s, 0, "resolution", 2, 4.0, (double)r);
	gene(s, 1, "s1.depth", 2, 1.0, 2.0);
	gene(s, 2, "stem.kernel", 2, 1.0, 3.0);
	gene(s, 3, "s2.b0.kernel", 2, 3.0, 5.0);
	gene(s, 4, "s1.expand", 2, 0.5, 1.0);
	gene(s, 5, "s1.b0.out", 2, 4.0, 8.0);
	gene(s, 6, "s1.b1.out", 2, 4.0, 8.0);
	gene(s, 7, "head.out", 2, 6.0, 10.0);

	layer(s, 0, IR_BLOCK_CONV, c, 6, 3, 1, IR_ACT_RELU)->g_kernel = 2;
	ir_layer *l = layer(s, 1, IR_BLOCK_RESIDUAL, 6, 8, 3, 2, IR_ACT_RELU);
	l->g_expand = 4;
	l->g_out = 5;
	l = layer(s, 2, IR_BLOCK_RESIDUAL, 8, 8, 3, 1, IR_ACT_RELU);
	l->g_expand = 4;
	l->g_out = 6;
	layer(s, 3, IR_BLOCK_MBCONV, 8, 8, 5, 1, IR_ACT_HSWISH)->g_kernel = 3;
	layer(s, 4, IR_BLOCK_POOL, 8, 8, 0, 1, IR_ACT_NONE);
	layer(s, 5, IR_BLOCK_DENSE, 8, 10, 0, 1, IR_ACT_RELU)->g_out = 7;
	layer(s, 6, IR_BLOCK_FC, 10, 0, 0, 1, IR_ACT_NONE);
	stage(s, 0, "s1", 1, 2, 1);
	stage(s, 1, "s2", 3, 1, -1);
	return s;
}

void tiny_space_free(ir_space *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->ngenes; i++) {
		free(s->genes[i].name);
		free(s->genes[i].values);
	}
	for (int i = 0; i < s->nstages; i++)
		free(s->stages[i].name);
	free(s->genes);
	free(s->stages);
	free(s->layers);
	free(s->name);
	free(s);
}
