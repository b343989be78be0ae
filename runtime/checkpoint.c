/*
 * checkpoint.c — writing and checking the checkpoint format of checkpoint.h.
 */
#include "runtime/checkpoint.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "runtime/statedir.h"

#define CKPT_MAGIC "ARCHDCKP"
#define CKPT_HEADER 72 /* bytes before the rng states */
#define CKPT_CHUNK 4096 /* floats converted per write */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The bytes of the header and rng states for (key, nparams, nstats, st). */
static size_t encode_header(uint8_t *h, const uint8_t key[16], size_t nparams,
			    size_t nstats, const rt_ckpt_state *st)
{
	memset(h, 0, CKPT_HEADER);
	memcpy(h, CKPT_MAGIC, 8);
	put_le(h + 8, RT_CKPT_VERSION, 4);
	put_le(h + 12, (uint64_t)st->nrng, 4);
	memcpy(h + 16, key, 16);
	put_le(h + 32, nparams, 8);
	put_le(h + 40, nstats, 8);
	put_le(h + 48, (uint32_t)st->phase, 4);
	put_le(h + 52, (uint32_t)st->epoch, 4);
	put_le(h + 56, (uint32_t)st->step, 4);
	put_le(h + 64, (uint64_t)st->global_step, 8);
	size_t off = CKPT_HEADER;
	for (int r = 0; r < st->nrng; r++)
		for (int i = 0; i < 4; i++, off += 8)
			put_le(h + off, st->rng[r].s[i], 8);
	return off;
}

/* Writes n floats little-endian, hashing what is written. */
static int write_floats(FILE *f, XXH3_state_t *xs, const float *x, size_t n)
{
	uint8_t buf[4 * CKPT_CHUNK];
	for (size_t at = 0; at < n; at += CKPT_CHUNK) {
		size_t k = n - at;
		if (k > CKPT_CHUNK)
			k = CKPT_CHUNK;
		for (size_t i = 0; i < k; i++) {
			uint32_t u;
			memcpy(&u, &x[at + i], 4);
			put_le(buf + 4 * i, u, 4);
		}
		if (fwrite(buf, 4, k, f) != k)
			return -1;
		XXH3_64bits_update(xs, buf, 4 * k);
	}
	return 0;
}

int rt_ckpt_save(const char *path, sn_supernet *sn, const uint8_t key[16],
		 const rt_ckpt_state *st, char *err, size_t errlen)
{
	assert(st->nrng >= 0 && st->nrng <= RT_CKPT_MAX_RNG);
	assert(st->phase >= 0 && st->epoch >= 0 && st->step >= 0 && st->global_step >= 0);
	size_t np = sn_supernet_nparams(sn), ns = sn_supernet_nstats(sn);
	uint8_t head[CKPT_HEADER + 32 * RT_CKPT_MAX_RNG];
	size_t hlen = encode_header(head, key, np, ns, st);

	XXH3_state_t *xs = XXH3_createState();
	if (!xs) {
		seterr(err, errlen, "%s: out of memory", path);
		return -1;
	}
	XXH3_64bits_reset(xs);
	rt_state_atomic a;
	if (rt_state_atomic_open(&a, path, 0600, err, errlen) != 0) {
		XXH3_freeState(xs);
		return -1;
	}
	int bad = fwrite(head, 1, hlen, a.f) != hlen;
	XXH3_64bits_update(xs, head, hlen);
	bad = bad || write_floats(a.f, xs, sn_supernet_weights(sn), np) != 0;
	bad = bad || write_floats(a.f, xs, sn_supernet_momentum(sn), np) != 0;
	bad = bad || write_floats(a.f, xs, sn_supernet_stats(sn), ns) != 0;
	uint8_t sum[8];
	put_le(sum, XXH3_64bits_digest(xs), 8);
	XXH3_freeState(xs);
	bad = bad || fwrite(sum, 1, 8, a.f) != 8;
	if (bad) {
		seterr(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		rt_state_atomic_abort(&a);
		return -1;
	}
	return rt_state_atomic_commit(&a, err, errlen);
}

static void read_floats(const uint8_t *p, float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u = (uint32_t)get_le(p + 4 * i, 4);
		memcpy(&x[i], &u, 4);
	}
}

/* Reads a whole file; NULL with errno set and *why on failure. */
static uint8_t *slurp(const char *path, size_t *len, const char **why)
{
	FILE *f = rt_state_fopen(path, why);
	if (!f)
		return NULL;
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		int e = errno;
		fclose(f);
		errno = e;
		return NULL;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		int e = buf ? (ferror(f) ? errno : EIO) : ENOMEM;
		free(buf);
		fclose(f);
		errno = e;
		*why = strerror(e);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Checks the first len bytes of a file as the start of a checkpoint at
 * least `need` bytes long: magic, length, a version this build reads.  0
 * or -1 with err set. */
static int check_header(const char *path, const uint8_t *buf, size_t len, size_t need,
			char *err, size_t errlen)
{
	if (len < 8 || memcmp(buf, CKPT_MAGIC, 8) != 0) {
		seterr(err, errlen, "%s: not an archd checkpoint (wrong magic)", path);
		return -1;
	}
	if (len < need) {
		seterr(err, errlen, "%s: truncated checkpoint (%zu bytes)", path, len);
		return -1;
	}
	uint32_t version = (uint32_t)get_le(buf + 8, 4);
	if (version > RT_CKPT_VERSION) {
		seterr(err, errlen,
		       "%s: checkpoint version %u is newer than this build reads (%d)",
		       path, version, RT_CKPT_VERSION);
		return -1;
	}
	if (version == 0) {
		seterr(err, errlen, "%s: bad checkpoint version 0", path);
		return -1;
	}
	return 0;
}

/* The trainer's position in a header into st (rng states left alone): 0,
 * or -1 with err set when a field is negative. */
static int read_position(const char *path, const uint8_t *h, rt_ckpt_state *st, char *err,
			 size_t errlen)
{
	int32_t pos[3];
	for (int i = 0; i < 3; i++)
		pos[i] = (int32_t)(uint32_t)get_le(h + 48 + 4 * i, 4);
	int64_t global = (int64_t)get_le(h + 64, 8);
	if (pos[0] < 0 || pos[1] < 0 || pos[2] < 0 || global < 0) {
		seterr(err, errlen, "%s: corrupt trainer position", path);
		return -1;
	}
	st->phase = pos[0];
	st->epoch = pos[1];
	st->step = pos[2];
	st->global_step = global;
	return 0;
}

/* Checks buf as a checkpoint of sn with key; 0 or -1 with err set. */
static int check(const char *path, const uint8_t *buf, size_t len, sn_supernet *sn,
		 const uint8_t key[16], char *err, size_t errlen)
{
	if (check_header(path, buf, len, CKPT_HEADER + 8, err, errlen) != 0)
		return -1;
	uint32_t nrng = (uint32_t)get_le(buf + 12, 4);
	uint64_t np = get_le(buf + 32, 8), ns = get_le(buf + 40, 8);
	if (nrng > RT_CKPT_MAX_RNG || np > SIZE_MAX / 16 || ns > SIZE_MAX / 16) {
		seterr(err, errlen, "%s: corrupt checkpoint header", path);
		return -1;
	}
	size_t want = CKPT_HEADER + 32 * (size_t)nrng + 8 * (size_t)np + 4 * (size_t)ns + 8;
	if (len < want) {
		seterr(err, errlen, "%s: truncated checkpoint (%zu of %zu bytes)", path, len,
		       want);
		return -1;
	}
	if (len > want) {
		seterr(err, errlen, "%s: %zu unexpected bytes after the checkpoint", path,
		       len - want);
		return -1;
	}
	if (XXH3_64bits(buf, len - 8) != get_le(buf + len - 8, 8)) {
		seterr(err, errlen, "%s: corrupt checkpoint (checksum mismatch)", path);
		return -1;
	}
	if (memcmp(buf + 16, key, 16) != 0) {
		char have[33], exp[33];
		rt_state_hex(buf + 16, have);
		rt_state_hex(key, exp);
		seterr(err, errlen,
		       "%s: checkpoint of another supernet (key %s, this task's is %s)", path,
		       have, exp);
		return -1;
	}
	if (np != sn_supernet_nparams(sn) || ns != sn_supernet_nstats(sn)) {
		seterr(err, errlen,
		       "%s: checkpoint holds %llu parameters and %llu statistics, the "
		       "supernet has %zu and %zu",
		       path, (unsigned long long)np, (unsigned long long)ns,
		       sn_supernet_nparams(sn), sn_supernet_nstats(sn));
		return -1;
	}
	rt_ckpt_state pos;
	return read_position(path, buf, &pos, err, errlen);
}

int rt_ckpt_load(const char *path, sn_supernet *sn, const uint8_t key[16],
		 rt_ckpt_state *st, char *err, size_t errlen)
{
	size_t len = 0;
	const char *why = "";
	uint8_t *buf = slurp(path, &len, &why);
	if (!buf) {
		if (errno == ENOENT)
			return RT_CKPT_MISSING;
		seterr(err, errlen, "%s: cannot read: %s", path, why);
		return RT_CKPT_ERROR;
	}
	if (check(path, buf, len, sn, key, err, errlen) != 0) {
		free(buf);
		return RT_CKPT_ERROR;
	}
	memset(st, 0, sizeof(*st));
	st->nrng = (int)get_le(buf + 12, 4);
	read_position(path, buf, st, err, errlen); /* checked above */
	const uint8_t *p = buf + CKPT_HEADER;
	for (int r = 0; r < st->nrng; r++)
		for (int i = 0; i < 4; i++, p += 8)
			st->rng[r].s[i] = get_le(p, 8);
	size_t np = sn_supernet_nparams(sn), ns = sn_supernet_nstats(sn);
	read_floats(p, sn_supernet_weights(sn), np);
	p += 4 * np;
	read_floats(p, sn_supernet_momentum(sn), np);
	p += 4 * np;
	read_floats(p, sn_supernet_stats(sn), ns);
	free(buf);
	return 0;
}

int rt_ckpt_peek(const char *path, uint8_t key[16], rt_ckpt_state *st, char *err,
		 size_t errlen)
{
	const char *why = "";
	FILE *f = rt_state_fopen(path, &why);
	if (!f) {
		if (errno == ENOENT)
			return RT_CKPT_MISSING;
		seterr(err, errlen, "%s: cannot read: %s", path, why);
		return RT_CKPT_ERROR;
	}
	uint8_t h[CKPT_HEADER];
	size_t n = fread(h, 1, sizeof h, f);
	fclose(f);
	memset(st, 0, sizeof *st);
	if (check_header(path, h, n, sizeof h, err, errlen) != 0 ||
	    read_position(path, h, st, err, errlen) != 0)
		return RT_CKPT_ERROR;
	memcpy(key, h + 16, 16);
	return 0;
}

int rt_ckpt_id(const char *path, uint64_t *id, struct stat *st)
{
	/* O_NONBLOCK: a FIFO put in the checkpoint's place must not hang us */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat own;
	uint8_t tail[8];
	int rc = 1;
	if (!st)
		st = &own;
	if (fstat(fd, st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (S_ISREG(st->st_mode) && st->st_size >= CKPT_HEADER + 8 &&
	    pread(fd, tail, sizeof tail, st->st_size - 8) == (ssize_t)sizeof tail) {
		*id = get_le(tail, 8);
		rc = 0;
	}
	close(fd);
	return rc;
}
