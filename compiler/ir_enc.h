/*
 * ir_enc.h — the byte encoding of the IR, shared by the binary writer, the
 * module id and the supernet keys.  Private to compiler/ir*.c.
 * Prefix: ir_enc_ (encoders), ir_sink_ (where the bytes go).
 *
 * Every value is written little-endian byte by byte, doubles as their
 * IEEE-754 bits (with -0 written as +0 and every NaN as one quiet NaN, so
 * that one meaning has one encoding), strings as a u32 length and the bytes,
 * NULL as the length 0xffffffff.  docs/ir.md is the byte-level reference.
 */
#ifndef ARCHD_IR_ENC_H
#define ARCHD_IR_ENC_H

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: no malloc */
#include <xxhash.h>

#include "compiler/ir.h"

/* "\x89AIR\r\n\x1a\n": a high byte, the name, and the line-ending and
 * EOF bytes that text-mode transfers mangle (the PNG trick). */
#define IR_MAGIC_LEN 8
extern const uint8_t ir_magic[IR_MAGIC_LEN];

/* Section tags, in the order they appear in a file. */
enum {
	IR_SECTION_DATASETS = 1,
	IR_SECTION_SPACES = 2,
	IR_SECTION_TASKS = 3,
	IR_SECTION_OBJECTIVES = 4,
	IR_SECTION_TARGETS = 5,
	IR_SECTION_COUNT = 5
};

#define IR_NULL_STRING 0xffffffffu
#define IR_CANONICAL_NAN UINT64_C(0x7ff8000000000000)
#define IR_HEADER_LEN (IR_MAGIC_LEN + 4)
#define IR_SECTION_HEADER_LEN 12
#define IR_CHECKSUM_LEN 8

typedef enum ir_sink_mode {
	IR_SINK_BUFFER, /* append to a growable buffer */
	IR_SINK_COUNT,  /* only count the bytes */
	IR_SINK_HASH    /* feed an XXH3 streaming state */
} ir_sink_mode;

/* Where encoded bytes go.  A failed buffer sink (out of memory) drops
 * everything after the failure and keeps failed set. */
typedef struct ir_sink {
	ir_sink_mode mode;
	uint8_t *buf;
	size_t len, cap;
	XXH3_state_t *state;
	/* A hash sink gathers the many small writes here and feeds XXH3 in
	 * blocks: a call per byte or word would cost more than the hashing. */
	uint8_t stage[1024];
	size_t nstage;
	int failed;
} ir_sink;

/* Feeds what a hash sink has gathered to its state; call before the digest. */
void ir_sink_flush(ir_sink *s);

void ir_sink_bytes(ir_sink *s, const void *p, size_t n);
void ir_sink_f64(ir_sink *s, double v);
void ir_sink_str(ir_sink *s, const char *str);

/* The small fixed-size writes are inline: an encoding is millions of them,
 * and a buffer with room (the usual case) needs no call at all. */
static inline void ir_sink_small(ir_sink *s, const uint8_t *b, size_t n)
{
	if (s->mode == IR_SINK_BUFFER && n <= s->cap - s->len) {
		for (size_t i = 0; i < n; i++)
			s->buf[s->len + i] = b[i];
		s->len += n;
	} else if (s->mode == IR_SINK_COUNT) {
		s->len += n;
	} else if (s->mode == IR_SINK_HASH && n <= sizeof s->stage - s->nstage) {
		for (size_t i = 0; i < n; i++)
			s->stage[s->nstage + i] = b[i];
		s->nstage += n;
		s->len += n;
	} else {
		ir_sink_bytes(s, b, n);
	}
}

static inline void ir_sink_u8(ir_sink *s, unsigned v)
{
	uint8_t b = (uint8_t)v;
	ir_sink_small(s, &b, 1);
}

static inline void ir_sink_u32(ir_sink *s, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	ir_sink_small(s, b, 4);
}

/* Conversion to unsigned is modular: two's complement on any host. */
static inline void ir_sink_i32(ir_sink *s, int v)
{
	ir_sink_u32(s, (uint32_t)v);
}

static inline void ir_sink_u64(ir_sink *s, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	ir_sink_small(s, b, 8);
}

/* The bits a double is encoded as (-0 and NaN folded, see above). */
uint64_t ir_enc_f64_bits(double v);

/* Encoders for the parts a supernet key is made of.  The bodies leave out
 * the dataset's and the space's names, which the sections write first. */
void ir_enc_dataset_body(ir_sink *s, const ir_dataset *d);
void ir_enc_space_body(ir_sink *s, const ir_space *sp);
void ir_enc_recipe(ir_sink *s, const ir_recipe *r);

/* The fewest bytes one element of the section with this tag can take. */
size_t ir_enc_min_size(int section);

/* Checks the value ranges every loaded module must respect (sizes at least
 * 1, counts not negative, numbers finite; ir_check.c lists them).  Returns
 * 0, or -1 with "malformed: LIST[i] (name): reason" in err. */
int ir_check_values(const ir_module *m, char *err, size_t errlen);

/* The whole file minus its trailing checksum: magic, version, sections. */
void ir_enc_module(ir_sink *s, const ir_module *m);

/* A total order on doubles that agrees with < on numbers (NaN last);
 * returns <0, 0, >0.  Used to sort constraints and to check the order. */
int ir_f64_order(double a, double b);

/* The canonical orders (ir.c) that ir_module_canonicalize sorts by and the
 * reader checks; <0, 0, >0 like strcmp. */
int ir_param_order(const ir_param *x, const ir_param *y);
int ir_constraint_order(const ir_constraint *x, const ir_constraint *y);

#endif
