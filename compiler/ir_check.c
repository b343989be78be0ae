/*
 * ir_check.c — the value ranges a loaded module must respect.
 *
 * The compiler enforces far more (DESIGN §4); these are the ranges without
 * which the runtime could not even size its tensors or loops, checked on
 * every .air file because one can be handed to the daemon directly.
 * Resource limits (how large a space may be) are the daemon's business.
 */
#include "compiler/ir_enc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct checker {
	char *err;
	size_t errlen;
	int failed;
	char what[128];
} checker;

static void set_what(checker *c, const char *list, int i, const char *name)
{
	int printable = name != NULL;
	for (const char *p = name; printable && *p; p++)
		printable = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	if (printable)
		snprintf(c->what, sizeof c->what, "%s[%d] (%.60s)", list, i, name);
	else
		snprintf(c->what, sizeof c->what, "%s[%d]", list, i);
}

static void bad(checker *c, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = 1;
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "malformed: %s: %s", c->what, why);
}

static void at_least(checker *c, int v, int min, const char *field)
{
	if (v < min)
		bad(c, "%s %d is below %d", field, v, min);
}

static void finite(checker *c, double v, const char *field)
{
	if (!isfinite(v))
		bad(c, "%s is not a finite number", field);
}

static void check_dataset(checker *c, const ir_dataset *d)
{
	at_least(c, d->label_column, -1, "label_column");
	at_least(c, d->skip_rows, 0, "skip_rows");
	at_least(c, d->test_count, 0, "test_count");
	at_least(c, d->channels, 1, "channels");
	at_least(c, d->height, 1, "height");
	at_least(c, d->width, 1, "width");
	at_least(c, d->nclasses, 1, "classes");
	for (int i = 0; d->classes && i < d->nclasses; i++)
		at_least(c, d->classes[i], 0, "class label");
	at_least(c, d->holdout, 0, "holdout");
	at_least(c, d->train_limit, 0, "train_limit");
	finite(c, d->mean, "mean");
	finite(c, d->std, "std");
	at_least(c, d->crop_pad, 0, "crop_pad");
}

static void check_space(checker *c, const ir_space *s)
{
	at_least(c, s->in_channels, 1, "in_channels");
	at_least(c, s->resolution, 1, "resolution");
	at_least(c, s->nclasses, 0, "classes");
	for (int i = 0; i < s->ngenes; i++)
		for (int j = 0; j < s->genes[i].nvalues; j++)
			finite(c, s->genes[i].values[j], "a gene value");
	for (int i = 0; i < s->nlayers && !c->failed; i++) {
		const ir_layer *l = &s->layers[i];
		char f[64];
		snprintf(f, sizeof f, "layer %d's in_channels", i);
		at_least(c, l->in_channels, 1, f);
		snprintf(f, sizeof f, "layer %d's out_channels", i);
		/* The last fc of a `fc(classes)` head is 0: the task's dataset
		 * gives the count (see ir_layer in ir.h). */
		int classes_fc = i == s->nlayers - 1 && l->kind == IR_BLOCK_FC && s->nclasses == 0;
		at_least(c, l->out_channels, classes_fc ? 0 : 1, f);
		snprintf(f, sizeof f, "layer %d's kernel", i);
		at_least(c, l->kernel, 0, f);
		snprintf(f, sizeof f, "layer %d's stride", i);
		at_least(c, l->stride, 1, f);
		snprintf(f, sizeof f, "layer %d's index", i);
		at_least(c, l->index, 0, f);
		if (!(l->expand > 0) || !isfinite(l->expand))
			bad(c, "layer %d's expand is not a positive number", i);
	}
}

static void check_recipe(checker *c, const ir_recipe *r)
{
	at_least(c, r->epochs, 0, "epochs");
	at_least(c, r->batch, 1, "batch");
	finite(c, r->lr, "lr");
	finite(c, r->momentum, "momentum");
	finite(c, r->wd, "wd");
	finite(c, r->warmup, "warmup");
	finite(c, r->label_smoothing, "label_smoothing");
	at_least(c, r->sampler_n, 0, "sampler n");
	at_least(c, r->calib_images, 0, "calib_images");
}

/*
 * ir_check_values — see ir_enc.h.
 */
int ir_check_values(const ir_module *m, char *err, size_t errlen)
{
	checker c = {.err = err, .errlen = errlen};
	for (int i = 0; i < m->ndatasets && !c.failed; i++) {
		set_what(&c, "datasets", i, m->datasets[i].name);
		check_dataset(&c, &m->datasets[i]);
	}
	for (int i = 0; i < m->nspaces && !c.failed; i++) {
		set_what(&c, "spaces", i, m->spaces[i].name);
		check_space(&c, &m->spaces[i]);
	}
	for (int i = 0; i < m->ntasks && !c.failed; i++) {
		set_what(&c, "tasks", i, m->tasks[i].name);
		check_recipe(&c, &m->tasks[i].recipe);
	}
	for (int i = 0; i < m->ntargets && !c.failed; i++) {
		set_what(&c, "targets", i, m->targets[i].name);
		for (int j = 0; j < m->targets[i].nconstraints; j++)
			finite(&c, m->targets[i].constraints[j].value, "a constraint value");
	}
	return c.failed ? -1 : 0;
}
