/*
 * ir_hash.c — identities: the module id (XXH3-128 of the canonical binary
 * without its trailing checksum), task supernet keys, and their text form.
 *
 * Both hashes stream the encoding into an XXH3 state, so neither allocates
 * and neither can fail.
 */
#include "compiler/ir.h"

#include <assert.h>
#include <string.h>

#include "compiler/ir_enc.h"

static void digest(XXH3_state_t *st, uint8_t out[16])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	memcpy(out, c.digest, 16); /* big-endian: high 64 bits first */
}

/*
 * ir_module_id — XXH3-128 of everything ir_binary_write writes before the
 * checksum.  Meaningful for a canonical module: canonicalise first.
 */
ir_id ir_module_id(const ir_module *m)
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	ir_sink s = {.mode = IR_SINK_HASH, .state = &st};
	ir_enc_module(&s, m);
	ir_sink_flush(&s);
	ir_id id;
	digest(&st, id.bytes);
	return id;
}

/*
 * The key of task t's space and dataset with recipe r, its calib_images
 * counted as the default (training does not use it; a key of a recipe
 * with the default is that of every key before it was left out).  The
 * bodies are self-delimiting (every list and string carries its length),
 * so their concatenation is unambiguous.
 */
static void task_key(const ir_module *m, int t, ir_recipe r, uint8_t key[16])
{
	assert(t >= 0 && t < m->ntasks);
	const ir_task *task = &m->tasks[t];
	assert(task->space >= 0 && task->space < m->nspaces);
	assert(task->dataset >= 0 && task->dataset < m->ndatasets);
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	ir_sink s = {.mode = IR_SINK_HASH, .state = &st};
	ir_enc_space_body(&s, &m->spaces[task->space]);
	ir_enc_dataset_body(&s, &m->datasets[task->dataset]);
	r.calib_images = IR_CALIB_DEFAULT;
	ir_enc_recipe(&s, &r);
	ir_sink_flush(&s);
	digest(&st, key);
}

/*
 * ir_task_supernet_key — see ir.h.
 */
void ir_task_supernet_key(const ir_module *m, int t, uint8_t key[16])
{
	task_key(m, t, m->tasks[t].recipe, key);
}

/*
 * ir_task_standalone_key — see ir.h.
 */
void ir_task_standalone_key(const ir_module *m, int t, uint8_t key[16])
{
	assert(t >= 0 && t < m->ntasks);
	ir_recipe r = m->tasks[t].recipe;
	r.sampler = IR_SAMPLER_MAX;
	r.sampler_n = 1;
	r.distill = IR_DISTILL_NONE;
	r.nshrink = 0;
	task_key(m, t, r, key);
}

static const char hexdigits[] = "0123456789abcdef";

/*
 * ir_id_format — "xxh3:" and 32 lowercase hex digits into buf, which holds
 * at least IR_ID_STRLEN + 1 bytes.
 */
void ir_id_format(const uint8_t bytes[16], char *buf)
{
	memcpy(buf, "xxh3:", 5);
	for (int i = 0; i < 16; i++) {
		buf[5 + 2 * i] = hexdigits[bytes[i] >> 4];
		buf[6 + 2 * i] = hexdigits[bytes[i] & 15];
	}
	buf[IR_ID_STRLEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * ir_id_parse — the inverse of ir_id_format.  Only the exact form is
 * accepted (lowercase, 32 digits, nothing after), so one id has one
 * spelling.  Returns 0, or -1 leaving bytes untouched.
 */
int ir_id_parse(const char *s, uint8_t bytes[16])
{
	if (strncmp(s, "xxh3:", 5) != 0)
		return -1;
	uint8_t tmp[16];
	for (int i = 0; i < 16; i++) {
		int hi = hexval(s[5 + 2 * i]);
		if (hi < 0)
			return -1;
		int lo = hexval(s[6 + 2 * i]);
		if (lo < 0)
			return -1;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	if (s[IR_ID_STRLEN] != '\0')
		return -1;
	memcpy(bytes, tmp, 16);
	return 0;
}
