/*
 * subnets_answers.c — the answers POST /v1/subnets gave, kept in the state
 * dir by request, so that after a restart (kill -9 included) a request
 * answered before gets the very same answer, without a worker, even when
 * targeted searches have since added members to the task's archive that
 * would now be chosen.  See subnets_priv.h.
 *
 * One file a request: supernets/<key>/answers/<XXH3-64 of the request
 * key, 16 hex>.json holding {"request": KEY, "answer": BODY}; the request
 * key is checked on reading, so a hash collision is a miss, not a wrong
 * answer.
 *
 * Bounded: past max_answers files a supernet's oldest answers go (a
 * daemon asked for ever new constraint values would otherwise fill the
 * disk); such a request asked again after a restart is answered afresh.
 * The subnet records those answers point to (supernets/<key>/subnets/,
 * with their cached weights) are bounded the same way, but a record a
 * kept answer names stays, so its links keep working.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "daemon/log.h"
#include "daemon/subnets_priv.h"

int dm_subnets_answer_path(const char *root, const uint8_t key[16], const char *reqkey, char *buf,
			   size_t len)
{
	char dir[RT_STATE_PATH_MAX];
	if (rt_state_supernet_dir(root, key, dir, sizeof dir) != 0)
		return -1;
	int n = snprintf(buf, len, "%s/answers/%016llx.json", dir,
			 (unsigned long long)XXH3_64bits(reqkey, strlen(reqkey)));
	return n > 0 && (size_t)n < len ? 0 : -1;
}

char *dm_subnets_answer_text(const char *reqkey, const json_t *body)
{
	json_t *o = json_pack("{s:s,s:O}", "request", reqkey, "answer", body);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(o);
	return text;
}

/* An answer's file name: 16 lower-case hex digits and ".json". */
static int answer_name(const char *name)
{
	return strlen(name) == 21 && strspn(name, "0123456789abcdef") == 16 &&
	       strcmp(name + 16, ".json") == 0;
}

typedef struct aged {
	struct timespec mtime;
	char name[22];
} aged;

static int older(const void *a, const void *b)
{
	const aged *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Whether `name` (<16 hex>.json) may go; NULL: every one may. */
typedef int (*may_go_fn)(const char *name, void *ctx);

/*
 * Past max files <16 hex>.json in dir, removes the oldest written that may
 * go, down to nine tenths of max, never `keep`; with `sidecar`, also the
 * file of the same hash with that suffix.  Returns the number removed.
 */
static int prune_oldest(const char *dir, unsigned max, const char *keep, may_go_fn may_go,
			void *ctx, const char *sidecar)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	aged *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!answer_name(e->d_name))
			continue;
		if (n == cap) {
			size_t c = cap ? 2 * cap : 256;
			aged *p = realloc(v, c * sizeof *v);
			if (p == NULL)
				break; /* prune what was listed */
			v = p;
			cap = c;
		}
		memcpy(v[n].name, e->d_name, sizeof v[n].name);
		n++;
	}
	/* under the cap (most writes): no file is looked at further */
	int removed = 0;
	if (n > max) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			struct stat st;
			if (fstatat(dirfd(d), v[i].name, &st, 0) != 0)
				continue; /* removed meanwhile */
			v[i].mtime = st.st_mtim;
			v[m++] = v[i];
		}
		n = m;
		size_t target = max - max / 10;
		qsort(v, n, sizeof *v, older);
		for (size_t i = 0; i < n && n - (size_t)removed > target; i++) {
			if ((keep != NULL && strcmp(v[i].name, keep) == 0) ||
			    (may_go != NULL && !may_go(v[i].name, ctx)))
				continue;
			if (unlinkat(dirfd(d), v[i].name, 0) != 0 && errno != ENOENT)
				continue;
			removed++;
			if (sidecar != NULL) {
				char side[64];
				snprintf(side, sizeof side, "%.16s%s", v[i].name, sidecar);
				unlinkat(dirfd(d), side, 0);
			}
		}
	}
	closedir(d);
	free(v);
	return removed;
}

int dm_subnets_answers_prune(const char *dir, unsigned max, const char *keep)
{
	return prune_oldest(dir, max, keep, NULL, NULL, NULL);
}

/* The subnets the kept answers name: their ids' 16-hex hashes, sorted,
 * read from `answers` on first use (state 1; -1: unreadable). */
typedef struct named {
	const char *answers;
	int state;
	char (*hash)[17];
	size_t n;
} named;

static int answers_named(const char *dir, named *k);

static int cmp_hash(const void *a, const void *b) { return strcmp(a, b); }

/* Whether no kept answer names the record `name`; every record is named
 * when the answers cannot be read. */
static int unnamed(const char *name, void *ctx)
{
	named *k = ctx;
	if (k->state == 0)
		k->state = answers_named(k->answers, k) == 0 ? 1 : -1;
	if (k->state < 0)
		return 0;
	char h[17];
	memcpy(h, name, 16);
	h[16] = '\0';
	return bsearch(h, k->hash, k->n, sizeof *k->hash, cmp_hash) == NULL;
}

/* Reads the ids of the answers in dir into *k; -1 when it could not read
 * them all (out of memory), which keeps every record. */
static int answers_named(const char *dir, named *k)
{
	DIR *d = opendir(dir);
	k->hash = NULL;
	k->n = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	size_t cap = 0;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!answer_name(e->d_name))
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
		json_t *j = fd >= 0 ? json_loadfd(fd, 0, NULL) : NULL;
		if (fd >= 0)
			close(fd);
		const char *id = json_string_value(json_object_get(json_object_get(j, "answer"), "id"));
		if (id != NULL && strlen(id) == ID_LEN) {
			if (k->n == cap) {
				size_t c = cap ? 2 * cap : 256;
				char(*p)[17] = realloc(k->hash, c * sizeof *p);
				if (p == NULL)
					rc = -1;
				else
					k->hash = p, cap = c;
			}
			if (rc == 0)
				memcpy(k->hash[k->n++], id + 33, 17);
		}
		json_decref(j);
	}
	closedir(d);
	if (rc == 0)
		qsort(k->hash, k->n, sizeof *k->hash, cmp_hash);
	return rc;
}

int dm_subnets_records_prune(const char *root, const uint8_t key[16], unsigned max,
			     const char *keep)
{
	char dir[RT_STATE_PATH_MAX], answers[RT_STATE_PATH_MAX], subnets[RT_STATE_PATH_MAX];
	if (rt_state_supernet_dir(root, key, dir, sizeof dir) != 0 ||
	    snprintf(answers, sizeof answers, "%s/answers", dir) >= (int)sizeof answers ||
	    snprintf(subnets, sizeof subnets, "%s/subnets", dir) >= (int)sizeof subnets)
		return 0;
	/* the answers are read only once the records are past the cap */
	named k = {.answers = answers};
	int removed = prune_oldest(subnets, max, keep, unnamed, &k, ".model");
	free(k.hash);
	return removed;
}

void dm_subnets_answer_write(const char *root, const uint8_t key[16], const char *reqkey,
			     const char *text, unsigned max)
{
	char path[RT_STATE_PATH_MAX], err[512];
	if (text == NULL) {
		dm_log(DM_LOG_WARN, "answer to %s: not kept (out of memory)", reqkey);
		return;
	}
	if (dm_subnets_answer_path(root, key, reqkey, path, sizeof path) != 0) {
		dm_log(DM_LOG_WARN, "answer to %s: not kept (state dir path too long)", reqkey);
		return;
	}
	if (rt_state_mkparents(path, err, sizeof err) != 0 ||
	    rt_state_write_file(path, text, strlen(text), 0640, err, sizeof err) != 0) {
		dm_log(DM_LOG_WARN, "answer to %s: not kept: %s", reqkey, err);
		return;
	}
	char *slash = strrchr(path, '/');
	*slash = '\0';
	int removed = dm_subnets_answers_prune(path, max, slash + 1);
	if (removed > 0)
		dm_log(DM_LOG_INFO, "%s: the %d oldest answers removed (max_answers %u)", path,
		       removed, max);
}

json_t *dm_subnets_answer_load(const char *root, const uint8_t key[16], const char *reqkey)
{
	char path[RT_STATE_PATH_MAX];
	if (dm_subnets_answer_path(root, key, reqkey, path, sizeof path) != 0)
		return NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL; /* never answered: the usual case */
	json_error_t jerr;
	json_t *o = json_loadf(f, 0, &jerr);
	fclose(f);
	const char *req = json_string_value(json_object_get(o, "request"));
	json_t *body = json_object_get(o, "answer");
	if (req == NULL || !json_is_object(body) ||
	    !json_is_string(json_object_get(body, "id"))) {
		dm_log(DM_LOG_WARN, "%s: not a kept answer (%s); answering afresh", path,
		       o == NULL ? jerr.text : "fields missing");
		json_decref(o);
		return NULL;
	}
	if (strcmp(req, reqkey) != 0) { /* another request with the same hash */
		json_decref(o);
		return NULL;
	}
	/* measured on another checkpoint (one restored or copied in since);
	 * an answer kept by an older archd names none and stands */
	const char *kept = json_string_value(json_object_get(body, "weights"));
	char now[17];
	if (kept != NULL &&
	    dm_subnets_current_weights(root, json_string_value(json_object_get(body, "id")), now) == 0 &&
	    strcmp(kept, now) != 0) {
		dm_log(DM_LOG_INFO,
		       "%s: measured on other weights (checkpoint %s, now %s); answering afresh", path,
		       kept, now);
		json_decref(o);
		return NULL;
	}
	json_incref(body);
	json_decref(o);
	return body;
}
