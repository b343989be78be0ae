/*
 * ir_enc.c — the byte encoding of the IR (see ir_enc.h and docs/ir.md).
 */
#include "compiler/ir_enc.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const uint8_t ir_magic[IR_MAGIC_LEN] = {0x89, 'A', 'I', 'R', '\r', '\n', 0x1a, '\n'};

/*
 * ir_sink_bytes — appends, counts or hashes n bytes, by the sink's mode.
 */
void ir_sink_bytes(ir_sink *s, const void *p, size_t n)
{
	if (s->mode == IR_SINK_BUFFER && n <= s->cap - s->len) {
		memcpy(s->buf + s->len, p, n); /* the common case, first */
		s->len += n;
		return;
	}
	switch (s->mode) {
	case IR_SINK_COUNT:
		s->len += n;
		return;
	case IR_SINK_HASH:
		s->len += n;
		if (n > sizeof s->stage - s->nstage) {
			ir_sink_flush(s);
			if (n > sizeof s->stage) {
				XXH3_128bits_update(s->state, p, n);
				return;
			}
		}
		memcpy(s->stage + s->nstage, p, n);
		s->nstage += n;
		return;
	case IR_SINK_BUFFER:
		break;
	}
	if (s->failed)
		return;
	if (n > s->cap - s->len) {
		size_t cap = s->cap ? s->cap : 4096;
		while (n > cap - s->len) {
			if (cap > SIZE_MAX / 2) {
				s->failed = 1;
				return;
			}
			cap *= 2;
		}
		uint8_t *nb = realloc(s->buf, cap);
		if (!nb) {
			s->failed = 1;
			return;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/*
 * ir_sink_flush — hands a hash sink's gathered bytes to XXH3.
 */
void ir_sink_flush(ir_sink *s)
{
	if (s->mode == IR_SINK_HASH && s->nstage) {
		XXH3_128bits_update(s->state, s->stage, s->nstage);
		s->nstage = 0;
	}
}

/*
 * ir_enc_f64_bits — the bits a double is stored as: -0 as +0, any NaN as
 * the one quiet NaN.
 */
uint64_t ir_enc_f64_bits(double v)
{
	if (isnan(v))
		return IR_CANONICAL_NAN;
	if (v == 0)
		return 0; /* folds -0 */
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	return bits;
}

/*
 * ir_sink_f64, ir_sink_str — a double as its stored bits; a string as its
 * length and bytes, NULL as the length 0xffffffff.
 */
void ir_sink_f64(ir_sink *s, double v)
{
	ir_sink_u64(s, ir_enc_f64_bits(v));
}

void ir_sink_str(ir_sink *s, const char *str)
{
	if (!str) {
		ir_sink_u32(s, IR_NULL_STRING);
		return;
	}
	size_t n = strlen(str);
	assert(n < IR_NULL_STRING);
	ir_sink_u32(s, (uint32_t)n);
	ir_sink_bytes(s, str, n);
}

static void sink_bool(ir_sink *s, int v)
{
	ir_sink_u8(s, v ? 1 : 0);
}

static void sink_count(ir_sink *s, int n)
{
	assert(n >= 0);
	ir_sink_u32(s, (uint32_t)n);
}

/*
 * ir_f64_order — a total order on doubles, numeric for numbers.
 */
int ir_f64_order(double a, double b)
{
	/* Flip the sign bit of positives and every bit of negatives: the bit
	 * patterns then sort as unsigned integers in numeric order. */
	uint64_t x = ir_enc_f64_bits(a), y = ir_enc_f64_bits(b);
	const uint64_t sign = UINT64_C(1) << 63;
	x = (x & sign) ? ~x : (x | sign);
	y = (y & sign) ? ~y : (y | sign);
	return (x > y) - (x < y);
}

/*
 * ir_enc_dataset_body — a dataset without its name (supernet keys use it).
 */
void ir_enc_dataset_body(ir_sink *s, const ir_dataset *d)
{
	ir_sink_u8(s, (unsigned)d->format);
	ir_sink_str(s, d->train_images);
	ir_sink_str(s, d->train_labels);
	ir_sink_str(s, d->test_images);
	ir_sink_str(s, d->test_labels);
	ir_sink_i32(s, d->label_column);
	ir_sink_i32(s, d->skip_rows);
	ir_sink_i32(s, d->test_count);
	ir_sink_i32(s, d->channels);
	ir_sink_i32(s, d->height);
	ir_sink_i32(s, d->width);
	ir_sink_i32(s, d->nclasses);
	/* classes NULL (every label, unmapped) is written as an empty list. */
	int nlist = d->classes ? d->nclasses : 0;
	sink_count(s, nlist);
	for (int i = 0; i < nlist; i++)
		ir_sink_i32(s, d->classes[i]);
	ir_sink_i32(s, d->holdout);
	ir_sink_i32(s, d->train_limit);
	ir_sink_u8(s, (unsigned)d->normalize);
	ir_sink_f64(s, d->mean);
	ir_sink_f64(s, d->std);
	ir_sink_i32(s, d->crop_pad);
	sink_bool(s, d->flip);
	ir_sink_u64(s, d->seed);
}

/*
 * ir_enc_space_body — a space without its name: genes, stages, layers.
 */
void ir_enc_space_body(ir_sink *s, const ir_space *sp)
{
	ir_sink_i32(s, sp->in_channels);
	ir_sink_i32(s, sp->resolution);
	ir_sink_i32(s, sp->g_resolution);
	ir_sink_i32(s, sp->nclasses);
	sink_count(s, sp->ngenes);
	for (int i = 0; i < sp->ngenes; i++) {
		const ir_gene *g = &sp->genes[i];
		ir_sink_str(s, g->name);
		sink_count(s, g->nvalues);
		for (int j = 0; j < g->nvalues; j++)
			ir_sink_f64(s, g->values[j]);
	}
	sink_count(s, sp->nstages);
	for (int i = 0; i < sp->nstages; i++) {
		const ir_stage *st = &sp->stages[i];
		ir_sink_str(s, st->name);
		ir_sink_i32(s, st->first);
		ir_sink_i32(s, st->count);
		ir_sink_i32(s, st->g_depth);
	}
	sink_count(s, sp->nlayers);
	for (int i = 0; i < sp->nlayers; i++) {
		const ir_layer *l = &sp->layers[i];
		ir_sink_u8(s, (unsigned)l->kind);
		ir_sink_i32(s, l->stage);
		ir_sink_i32(s, l->index);
		ir_sink_i32(s, l->in_channels);
		ir_sink_i32(s, l->out_channels);
		ir_sink_i32(s, l->kernel);
		ir_sink_i32(s, l->stride);
		ir_sink_f64(s, l->expand);
		ir_sink_u8(s, (unsigned)l->act);
		sink_bool(s, l->se);
		ir_sink_i32(s, l->g_kernel);
		ir_sink_i32(s, l->g_expand);
		ir_sink_i32(s, l->g_out);
	}
}

/*
 * ir_enc_recipe — a training recipe; only the first nshrink phases.
 */
void ir_enc_recipe(ir_sink *s, const ir_recipe *r)
{
	ir_sink_i32(s, r->epochs);
	ir_sink_i32(s, r->batch);
	ir_sink_f64(s, r->lr);
	ir_sink_f64(s, r->momentum);
	ir_sink_f64(s, r->wd);
	sink_bool(s, r->nesterov);
	sink_bool(s, r->wd_decoupled);
	ir_sink_u8(s, (unsigned)r->schedule);
	ir_sink_f64(s, r->warmup);
	ir_sink_f64(s, r->label_smoothing);
	ir_sink_u8(s, (unsigned)r->sampler);
	ir_sink_i32(s, r->sampler_n);
	ir_sink_u8(s, (unsigned)r->distill);
	assert(r->nshrink >= 0 && r->nshrink <= IR_MAX_SHRINK);
	ir_sink_u8(s, (unsigned)r->nshrink);
	for (int i = 0; i < r->nshrink; i++)
		ir_sink_u8(s, (unsigned)r->shrink[i]);
	ir_sink_i32(s, r->calib_images);
	ir_sink_u64(s, r->seed);
}

static void enc_call(ir_sink *s, const ir_call *c)
{
	ir_sink_str(s, c->name);
	sink_count(s, c->nparams);
	for (int i = 0; i < c->nparams; i++) {
		const ir_param *p = &c->params[i];
		ir_sink_str(s, p->key);
		ir_sink_u8(s, (unsigned)p->kind);
		switch (p->kind) {
		case IR_VALUE_NUMBER:
			ir_sink_f64(s, p->number);
			break;
		case IR_VALUE_BOOL:
			sink_bool(s, p->number != 0);
			break;
		case IR_VALUE_STRING:
			ir_sink_str(s, p->string);
			break;
		case IR_VALUE_COUNT:
			assert(!"bad ir_value_kind");
		}
	}
}

static void enc_datasets(ir_sink *s, const ir_module *m)
{
	sink_count(s, m->ndatasets);
	for (int i = 0; i < m->ndatasets; i++) {
		ir_sink_str(s, m->datasets[i].name);
		ir_enc_dataset_body(s, &m->datasets[i]);
	}
}

static void enc_spaces(ir_sink *s, const ir_module *m)
{
	sink_count(s, m->nspaces);
	for (int i = 0; i < m->nspaces; i++) {
		ir_sink_str(s, m->spaces[i].name);
		ir_enc_space_body(s, &m->spaces[i]);
	}
}

static void enc_task(ir_sink *s, const ir_task *t)
{
	ir_sink_str(s, t->name);
	ir_sink_i32(s, t->dataset);
	ir_sink_i32(s, t->space);
	ir_sink_i32(s, t->from);
	ir_enc_recipe(s, &t->recipe);
	enc_call(s, &t->adapt);
	enc_call(s, &t->pretrain);
	enc_call(s, &t->search);
	ir_sink_i32(s, t->objective);
	ir_sink_bytes(s, t->supernet_key, sizeof t->supernet_key);
}

static void enc_tasks(ir_sink *s, const ir_module *m)
{
	sink_count(s, m->ntasks);
	for (int i = 0; i < m->ntasks; i++)
		enc_task(s, &m->tasks[i]);
}

static void enc_objective(ir_sink *s, const ir_objective *o)
{
	ir_sink_str(s, o->name);
	sink_count(s, o->nterms);
	for (int j = 0; j < o->nterms; j++) {
		ir_sink_u8(s, (unsigned)o->metrics[j]);
		sink_bool(s, o->maximize[j]);
	}
}

static void enc_objectives(ir_sink *s, const ir_module *m)
{
	sink_count(s, m->nobjectives);
	for (int i = 0; i < m->nobjectives; i++)
		enc_objective(s, &m->objectives[i]);
}

static void enc_target(ir_sink *s, const ir_target *t)
{
	ir_sink_str(s, t->name);
	sink_count(s, t->nconstraints);
	for (int j = 0; j < t->nconstraints; j++) {
		ir_sink_u8(s, (unsigned)t->constraints[j].metric);
		ir_sink_u8(s, (unsigned)t->constraints[j].cmp);
		ir_sink_f64(s, t->constraints[j].value);
	}
}

static void enc_targets(ir_sink *s, const ir_module *m)
{
	sink_count(s, m->ntargets);
	for (int i = 0; i < m->ntargets; i++)
		enc_target(s, &m->targets[i]);
}

/*
 * ir_enc_min_size — the fewest bytes one element of a section can take:
 * the encoding of an all-zero element (NULL strings, empty lists), which is
 * the smallest because every variable part only adds bytes.
 */
size_t ir_enc_min_size(int section)
{
	ir_sink s = {.mode = IR_SINK_COUNT};
	switch (section) {
	case IR_SECTION_DATASETS: {
		ir_dataset d = {0};
		ir_sink_str(&s, NULL);
		ir_enc_dataset_body(&s, &d);
		break;
	}
	case IR_SECTION_SPACES: {
		ir_space sp = {0};
		ir_sink_str(&s, NULL);
		ir_enc_space_body(&s, &sp);
		break;
	}
	case IR_SECTION_TASKS: {
		ir_task t = {0};
		enc_task(&s, &t);
		break;
	}
	case IR_SECTION_OBJECTIVES: {
		ir_objective o = {0};
		enc_objective(&s, &o);
		break;
	}
	case IR_SECTION_TARGETS: {
		ir_target t = {0};
		enc_target(&s, &t);
		break;
	}
	default:
		assert(!"bad section");
	}
	return s.len;
}

typedef void section_fn(ir_sink *s, const ir_module *m);

/* A section is its tag, its payload length and the payload.  A buffer
 * patches the length in afterwards; other sinks count the payload first. */
static void enc_section(ir_sink *s, uint32_t tag, section_fn *fn, const ir_module *m)
{
	ir_sink_u32(s, tag);
	if (s->mode == IR_SINK_BUFFER) {
		size_t at = s->len;
		ir_sink_u64(s, 0);
		fn(s, m);
		if (s->failed)
			return;
		uint64_t n = (uint64_t)(s->len - at - 8);
		for (int i = 0; i < 8; i++)
			s->buf[at + (size_t)i] = (uint8_t)(n >> (8 * i));
		return;
	}
	ir_sink count = {.mode = IR_SINK_COUNT};
	fn(&count, m);
	ir_sink_u64(s, (uint64_t)count.len);
	fn(s, m);
}

/*
 * ir_enc_module — the whole file but its checksum.
 */
void ir_enc_module(ir_sink *s, const ir_module *m)
{
	ir_sink_bytes(s, ir_magic, IR_MAGIC_LEN);
	ir_sink_u32(s, IR_VERSION);
	enc_section(s, IR_SECTION_DATASETS, enc_datasets, m);
	enc_section(s, IR_SECTION_SPACES, enc_spaces, m);
	enc_section(s, IR_SECTION_TASKS, enc_tasks, m);
	enc_section(s, IR_SECTION_OBJECTIVES, enc_objectives, m);
	enc_section(s, IR_SECTION_TARGETS, enc_targets, m);
}
