/*
 * ir_dump.c — the stable text form of a module (`archc dump`).
 *
 * Golden tests compare this output byte for byte, so its layout is a
 * contract: docs/ir.md describes it.  Every field of every struct is
 * printed; numbers round-trip (integers as integers, other values with the
 * fewest significant digits that read back to the same double); strings are
 * quoted with C escapes, and a NULL string prints as `none`.  The dump never
 * fails on a module with out-of-range indices: it prints them as `?N`.
 */
#include "compiler/ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put_num(FILE *out, double v)
{
	if (isnan(v)) {
		fputs("nan", out);
		return;
	}
	if (isinf(v)) {
		fputs(v < 0 ? "-inf" : "inf", out);
		return;
	}
	if (v == 0) {
		fputs("0", out); /* -0 too: the binary form folds it */
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		fprintf(out, "%.0f", v);
		return;
	}
	char buf[40];
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, out);
}

/* docs/ir.md's quoting: every control byte escaped, so a dump line is
 * one line whatever a path holds.  Not the .arch syntax (lang_fmt), which
 * has fewer escapes. */
static void put_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("none", out);
		return;
	}
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\x%02x", *p);
			else
				putc(*p, out);
		}
	}
	putc('"', out);
}

/* A declaration's name as an identifier (no quotes), or `none`. */
static void put_name(FILE *out, const char *s)
{
	fputs(s ? s : "none", out);
}

static void put_bool(FILE *out, int v)
{
	fputs(v ? "true" : "false", out);
}

/* An enum value by its table name; out of range prints `?N`. */
static void put_enum(FILE *out, const char *const *names, int count, int v)
{
	if (v >= 0 && v < count)
		fputs(names[v], out);
	else
		fprintf(out, "?%d", v);
}

/* A reference into a list: its name, `-` for -1 when allowed, else `?N`. */
static void put_ref(FILE *out, const char *name_or_null, int idx, int n)
{
	if (idx == -1)
		fputs("-", out);
	else if (idx < 0 || idx >= n)
		fprintf(out, "?%d", idx);
	else
		put_name(out, name_or_null);
}

static const char *gene_name(const ir_space *s, int g)
{
	return g >= 0 && g < s->ngenes ? s->genes[g].name : NULL;
}

static void put_key(FILE *out, const uint8_t key[16])
{
	char buf[IR_ID_STRLEN + 1];
	ir_id_format(key, buf);
	fputs(buf, out);
}

static void dump_dataset(FILE *out, const ir_dataset *d)
{
	fputs("\ndataset ", out);
	put_name(out, d->name);
	fputs("\n  format ", out);
	put_enum(out, ir_format_names, IR_FORMAT_COUNT, (int)d->format);
	fputs("\n  train_images ", out);
	put_str(out, d->train_images);
	fputs("\n  train_labels ", out);
	put_str(out, d->train_labels);
	fputs("\n  test_images ", out);
	put_str(out, d->test_images);
	fputs("\n  test_labels ", out);
	put_str(out, d->test_labels);
	fprintf(out, "\n  label_column %d\n  skip_rows %d\n  test_count %d\n", d->label_column,
	        d->skip_rows, d->test_count);
	fprintf(out, "  shape channels %d height %d width %d\n", d->channels, d->height, d->width);
	fprintf(out, "  classes %d", d->nclasses);
	if (d->classes) {
		fputs(" from [", out);
		for (int i = 0; i < d->nclasses; i++)
			fprintf(out, i ? " %d" : "%d", d->classes[i]);
		fputs("]\n", out);
	} else {
		fputs(" from all\n", out);
	}
	fprintf(out, "  holdout %d\n  train_limit %d\n  normalize ", d->holdout, d->train_limit);
	put_enum(out, ir_norm_names, IR_NORM_COUNT, (int)d->normalize);
	fputs(" mean ", out);
	put_num(out, d->mean);
	fputs(" std ", out);
	put_num(out, d->std);
	fprintf(out, "\n  augment crop_pad %d flip ", d->crop_pad);
	put_bool(out, d->flip);
	fprintf(out, "\n  seed %" PRIu64 "\n", d->seed);
}

static void dump_layer(FILE *out, const ir_space *s, int i)
{
	const ir_layer *l = &s->layers[i];
	fprintf(out, "  layer %d ", i);
	put_enum(out, ir_block_names, IR_BLOCK_COUNT, (int)l->kind);
	fputs(" stage ", out);
	put_ref(out, l->stage >= 0 && l->stage < s->nstages ? s->stages[l->stage].name : NULL,
	        l->stage, s->nstages);
	fprintf(out, " index %d in %d out %d kernel %d stride %d expand ", l->index,
	        l->in_channels, l->out_channels, l->kernel, l->stride);
	put_num(out, l->expand);
	fputs(" act ", out);
	put_enum(out, ir_act_names, IR_ACT_COUNT, (int)l->act);
	fputs(" se ", out);
	put_bool(out, l->se);
	const struct {
		const char *attr;
		int gene;
	} binds[] = {{"kernel", l->g_kernel}, {"expand", l->g_expand}, {"out", l->g_out}};
	int any = 0;
	for (size_t b = 0; b < sizeof binds / sizeof binds[0]; b++) {
		if (binds[b].gene == -1)
			continue;
		fprintf(out, "%s %s=", any++ ? "" : " genes", binds[b].attr);
		put_ref(out, gene_name(s, binds[b].gene), binds[b].gene, s->ngenes);
	}
	putc('\n', out);
}

static void dump_space(FILE *out, const ir_space *s)
{
	fputs("\nspace ", out);
	put_name(out, s->name);
	fprintf(out, "\n  in_channels %d\n  resolution %d gene ", s->in_channels, s->resolution);
	put_ref(out, gene_name(s, s->g_resolution), s->g_resolution, s->ngenes);
	fprintf(out, "\n  classes %d\n", s->nclasses);
	for (int i = 0; i < s->ngenes; i++) {
		const ir_gene *g = &s->genes[i];
		fprintf(out, "  gene %d ", i);
		put_name(out, g->name);
		fputs(" {", out);
		for (int j = 0; j < g->nvalues; j++) {
			if (j)
				fputs(", ", out);
			put_num(out, g->values[j]);
		}
		fputs("}\n", out);
	}
	for (int i = 0; i < s->nstages; i++) {
		const ir_stage *st = &s->stages[i];
		fprintf(out, "  stage %d ", i);
		put_name(out, st->name);
		fprintf(out, " first %d count %d depth ", st->first, st->count);
		put_ref(out, gene_name(s, st->g_depth), st->g_depth, s->ngenes);
		putc('\n', out);
	}
	for (int i = 0; i < s->nlayers; i++)
		dump_layer(out, s, i);
}

static void put_call(FILE *out, const ir_call *c)
{
	if (!c->name && c->nparams == 0) {
		fputs("none", out);
		return;
	}
	if (c->name)
		fputs(c->name, out);
	putc('(', out);
	for (int i = 0; i < c->nparams; i++) {
		const ir_param *p = &c->params[i];
		if (i)
			fputs(", ", out);
		put_name(out, p->key);
		fputs(" = ", out);
		switch (p->kind) {
		case IR_VALUE_NUMBER:
			put_num(out, p->number);
			break;
		case IR_VALUE_BOOL:
			put_bool(out, p->number != 0);
			break;
		case IR_VALUE_STRING:
			put_str(out, p->string);
			break;
		default:
			fprintf(out, "?kind%d", (int)p->kind);
		}
	}
	putc(')', out);
}

static void dump_recipe(FILE *out, const ir_recipe *r)
{
	fprintf(out, "  epochs %d\n  batch %d\n  optimizer lr ", r->epochs, r->batch);
	put_num(out, r->lr);
	fputs(" momentum ", out);
	put_num(out, r->momentum);
	fputs(" wd ", out);
	put_num(out, r->wd);
	fputs(" nesterov ", out);
	put_bool(out, r->nesterov);
	fputs(" wd_decoupled ", out);
	put_bool(out, r->wd_decoupled);
	fputs("\n  schedule ", out);
	put_enum(out, ir_schedule_names, IR_SCHEDULE_COUNT, (int)r->schedule);
	fputs(" warmup ", out);
	put_num(out, r->warmup);
	fputs("\n  label_smoothing ", out);
	put_num(out, r->label_smoothing);
	fputs("\n  sampler ", out);
	put_enum(out, ir_sampler_names, IR_SAMPLER_COUNT, (int)r->sampler);
	fprintf(out, " n %d distill ", r->sampler_n);
	put_enum(out, ir_distill_names, IR_DISTILL_COUNT, (int)r->distill);
	fputs("\n  shrink", out);
	if (r->nshrink <= 0)
		fputs(" none", out);
	for (int i = 0; i < r->nshrink && i < IR_MAX_SHRINK; i++) {
		putc(' ', out);
		put_enum(out, ir_shrink_names, IR_SHRINK_COUNT, (int)r->shrink[i]);
	}
	fprintf(out, "\n  calib_images %d\n  seed %" PRIu64 "\n", r->calib_images, r->seed);
}

static void dump_task(FILE *out, const ir_module *m, const ir_task *t)
{
	fputs("\ntask ", out);
	put_name(out, t->name);
	fputs("\n  supernet ", out);
	put_key(out, t->supernet_key);
	fputs("\n  data ", out);
	put_ref(out, t->dataset >= 0 && t->dataset < m->ndatasets ? m->datasets[t->dataset].name
	                                                           : NULL,
	        t->dataset, m->ndatasets);
	fputs("\n  space ", out);
	put_ref(out, t->space >= 0 && t->space < m->nspaces ? m->spaces[t->space].name : NULL,
	        t->space, m->nspaces);
	fputs("\n  from ", out);
	put_ref(out, t->from >= 0 && t->from < m->ntasks ? m->tasks[t->from].name : NULL, t->from,
	        m->ntasks);
	fputs("\n  objective ", out);
	put_ref(out,
	        t->objective >= 0 && t->objective < m->nobjectives ? m->objectives[t->objective].name
	                                                           : NULL,
	        t->objective, m->nobjectives);
	putc('\n', out);
	dump_recipe(out, &t->recipe);
	fputs("  adapt ", out);
	put_call(out, &t->adapt);
	fputs("\n  pretrain ", out);
	put_call(out, &t->pretrain);
	fputs("\n  search ", out);
	put_call(out, &t->search);
	putc('\n', out);
}

static void dump_objective(FILE *out, const ir_objective *o)
{
	fputs("\nobjective ", out);
	put_name(out, o->name);
	putc('\n', out);
	for (int i = 0; i < o->nterms; i++) {
		fputs(o->maximize[i] ? "  maximize " : "  minimize ", out);
		put_enum(out, ir_metric_names, IR_METRIC_COUNT, (int)o->metrics[i]);
		putc('\n', out);
	}
}

static void dump_target(FILE *out, const ir_target *t)
{
	fputs("\ntarget ", out);
	put_name(out, t->name);
	putc('\n', out);
	for (int i = 0; i < t->nconstraints; i++) {
		const ir_constraint *c = &t->constraints[i];
		fputs("  ", out);
		put_enum(out, ir_metric_names, IR_METRIC_COUNT, (int)c->metric);
		putc(' ', out);
		put_enum(out, ir_cmp_names, IR_CMP_COUNT, (int)c->cmp);
		putc(' ', out);
		put_num(out, c->value);
		putc('\n', out);
	}
}

/*
 * ir_dump — writes the module's text form to out: the id line, then each
 * declaration (datasets, spaces, tasks, objectives, targets, in the
 * module's order) after a blank line.
 */
void ir_dump(const ir_module *m, FILE *out)
{
	ir_id id = ir_module_id(m);
	fputs("module ", out);
	put_key(out, id.bytes);
	putc('\n', out);
	for (int i = 0; i < m->ndatasets; i++)
		dump_dataset(out, &m->datasets[i]);
	for (int i = 0; i < m->nspaces; i++)
		dump_space(out, &m->spaces[i]);
	for (int i = 0; i < m->ntasks; i++)
		dump_task(out, m, &m->tasks[i]);
	for (int i = 0; i < m->nobjectives; i++)
		dump_objective(out, &m->objectives[i]);
	for (int i = 0; i < m->ntargets; i++)
		dump_target(out, &m->targets[i]);
}
