/*
 * specs.c — the spec cache (see specs.h).
 */
#include "daemon/specs.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* For XXH3_state_t on the stack. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "compiler/cc.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "lang/loc.h"
#include "runtime/statedir.h"

/* Longest source index file accepted ("xxh3:" + 32 hex + newline). */
#define INDEX_MAX 64

/* --- a small table keyed by 16-byte hashes ------------------------------- */

typedef struct tab_entry {
	struct tab_entry *next;
	uint8_t key[16];
	void *value;
} tab_entry;

typedef struct tab {
	tab_entry **b;
	size_t nb, n;
} tab;

static size_t tab_slot(const tab *t, const uint8_t key[16])
{
	uint64_t h;
	memcpy(&h, key, sizeof h); /* the keys are hashes already */
	return (size_t)(h % t->nb);
}

static void *tab_get(const tab *t, const uint8_t key[16])
{
	if (t->nb == 0)
		return NULL;
	for (tab_entry *e = t->b[tab_slot(t, key)]; e != NULL; e = e->next)
		if (memcmp(e->key, key, 16) == 0)
			return e->value;
	return NULL;
}

/* Adds key (absent) -> value; 0, or -1 on out-of-memory. */
static int tab_put(tab *t, const uint8_t key[16], void *value)
{
	assert(tab_get(t, key) == NULL);
	if (t->n + 1 > t->nb) {
		size_t nb = t->nb ? 2 * t->nb : 64;
		tab_entry **b = calloc(nb, sizeof *b);
		if (b == NULL)
			return -1;
		tab old = *t;
		t->b = b;
		t->nb = nb;
		for (size_t i = 0; i < old.nb; i++) {
			for (tab_entry *e = old.b[i], *next; e != NULL; e = next) {
				next = e->next;
				size_t s = tab_slot(t, e->key);
				e->next = b[s];
				b[s] = e;
			}
		}
		free(old.b);
	}
	tab_entry *e = malloc(sizeof *e);
	if (e == NULL)
		return -1;
	memcpy(e->key, key, 16);
	e->value = value;
	size_t s = tab_slot(t, key);
	e->next = t->b[s];
	t->b[s] = e;
	t->n++;
	return 0;
}

static void tab_del(tab *t, const uint8_t key[16])
{
	if (t->nb == 0)
		return;
	for (tab_entry **p = &t->b[tab_slot(t, key)]; *p != NULL; p = &(*p)->next) {
		if (memcmp((*p)->key, key, 16) == 0) {
			tab_entry *e = *p;
			*p = e->next;
			free(e);
			t->n--;
			return;
		}
	}
}

/* Frees the table, calling free_value on each value when not NULL. */
static void tab_free(tab *t, void (*free_value)(void *))
{
	for (size_t i = 0; i < t->nb; i++) {
		for (tab_entry *e = t->b[i], *next; e != NULL; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	}
	free(t->b);
	memset(t, 0, sizeof *t);
}

/* --- the cache ------------------------------------------------------------- */

/* What a compile is run against; shared by the jobs that started with it. */
typedef struct config {
	int refs;
	char *stdlib_dir;
	char **include_dirs;
	int ninclude_dirs;
} config;

/* A cached spec on the recency list. */
typedef struct entry {
	dm_spec spec; /* first: a dm_spec pointer is its entry */
	struct entry *prev, *next;
} entry;

struct dm_specs {
	char *root;
	dm_workers *workers;
	dm_metrics *metrics;
	config *conf;
	unsigned max;  /* specs kept in memory */
	tab by_id;     /* id -> entry */
	entry *mru, *lru; /* recency list of by_id's entries */
	tab by_source; /* upload hash -> its spec's id (16 malloc'd bytes) */
	tab pending;   /* upload hash -> job */
};

typedef struct waiter {
	struct waiter *next;
	dm_specs_done_fn *done;
	void *arg;
} waiter;

/* One compile (or .air decode) and the requests waiting for it. */
typedef struct job {
	dm_specs *owner;
	uint8_t key[16];
	char *name;
	char *body;
	size_t len;
	config *conf;
	char *root;
	waiter *waiters, *last;
	/* Filled by the worker. */
	ir_module *m;
	uint8_t id[16];
	int existed; /* the IR file was already in the state dir */
	int status;
	json_t *diagnostics;
	char *text;
} job;

static void config_unref(config *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	free(c->stdlib_dir);
	for (int i = 0; i < c->ninclude_dirs; i++)
		free(c->include_dirs[i]);
	free(c->include_dirs);
	free(c);
}

static void spec_free(void *p)
{
	dm_spec *s = p;
	ir_module_free(s->m);
	free(s); /* the entry it starts */
}

static void lru_unlink(dm_specs *s, entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->mru = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->lru = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(dm_specs *s, entry *e)
{
	e->prev = NULL;
	e->next = s->mru;
	if (s->mru)
		s->mru->prev = e;
	s->mru = e;
	if (s->lru == NULL)
		s->lru = e;
}

/* Drops the least recently used unheld specs past s->max from memory;
 * never the most recent, which a caller is about to use. */
static void evict(dm_specs *s)
{
	for (entry *e = s->lru, *prev; e != NULL && e != s->mru && s->by_id.n > s->max; e = prev) {
		prev = e->prev;
		if (atomic_load(&e->spec.holds) > 0)
			continue;
		dm_log(DM_LOG_DEBUG, "spec %s leaves memory", e->spec.id_str);
		lru_unlink(s, e);
		tab_del(&s->by_id, e->spec.id);
		spec_free(&e->spec);
	}
	/* The upload index is only a shortcut to files in the state dir:
	 * past a bound it starts again. */
	if (s->by_source.n > 4 * (size_t)s->max)
		tab_free(&s->by_source, free);
}

void dm_specs_hold(const dm_spec *spec)
{
	atomic_fetch_add(&((dm_spec *)spec)->holds, 1);
}

void dm_specs_release(const dm_spec *spec)
{
	int before = atomic_fetch_sub(&((dm_spec *)spec)->holds, 1);
	assert(before > 0);
	(void)before;
}

void dm_specs_set_max(dm_specs *s, unsigned max)
{
	s->max = max > 0 ? max : 1;
	evict(s);
}

dm_specs *dm_specs_new(const char *root, dm_workers *workers, dm_metrics *metrics, char *err,
		       size_t errlen)
{
	char dir[RT_STATE_PATH_MAX];
	snprintf(dir, sizeof dir, "%s/ir", root);
	if (rt_state_mkdirs(dir, err, errlen) != 0)
		return NULL;
	snprintf(dir, sizeof dir, "%s/sources", root);
	if (rt_state_mkdirs(dir, err, errlen) != 0)
		return NULL;
	dm_specs *s = calloc(1, sizeof *s);
	if (s == NULL || (s->root = strdup(root)) == NULL || dm_specs_configure(s, NULL, NULL, 0) != 0) {
		snprintf(err, errlen, "out of memory");
		if (s)
			free(s->root);
		free(s);
		return NULL;
	}
	s->workers = workers;
	s->metrics = metrics;
	s->max = DM_SPECS_DEFAULT_MAX;
	return s;
}

int dm_specs_configure(dm_specs *s, const char *stdlib_dir, char *const *include_dirs, int n)
{
	config *c = calloc(1, sizeof *c);
	if (c == NULL)
		return -1;
	c->refs = 1;
	c->stdlib_dir = strdup(stdlib_dir != NULL ? stdlib_dir : cc_default_stdlib_dir());
	c->include_dirs = calloc((size_t)n + 1, sizeof *c->include_dirs);
	int ok = c->stdlib_dir != NULL && c->include_dirs != NULL;
	for (int i = 0; ok && i < n; i++, c->ninclude_dirs++)
		ok = (c->include_dirs[i] = strdup(include_dirs[i])) != NULL;
	if (!ok) {
		config_unref(c);
		return -1;
	}
	config_unref(s->conf);
	s->conf = c;
	return 0;
}

/* The upload hash: what was sent, and for a source what it compiles
 * against. */
static void upload_key(const config *c, int air, const void *body, size_t len, uint8_t key[16])
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	static const char tag[] = "archd upload 1";
	XXH3_128bits_update(&st, tag, sizeof tag);
	XXH3_128bits_update(&st, air ? "A" : "S", 1);
	if (!air) {
		XXH3_128bits_update(&st, c->stdlib_dir, strlen(c->stdlib_dir) + 1);
		for (int i = 0; i < c->ninclude_dirs; i++)
			XXH3_128bits_update(&st, c->include_dirs[i], strlen(c->include_dirs[i]) + 1);
		XXH3_128bits_update(&st, "", 1);
	}
	XXH3_128bits_update(&st, body, len);
	XXH128_canonical_t canon;
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(&st));
	memcpy(key, canon.digest, 16);
}

static void index_path(const char *root, const uint8_t key[16], char *buf, size_t n)
{
	char hex[33];
	rt_state_hex(key, hex);
	snprintf(buf, n, "%s/sources/%s", root, hex);
}

/* Adds a spec for m (taken) under id as the most recently used, evicting
 * others past the bound; returns it, or NULL on out-of-memory (m is then
 * freed). */
static dm_spec *cache_add(dm_specs *s, ir_module *m, const uint8_t id[16])
{
	entry *e = calloc(1, sizeof *e);
	if (e == NULL || tab_put(&s->by_id, id, e) != 0) {
		free(e);
		ir_module_free(m);
		return NULL;
	}
	memcpy(e->spec.id, id, 16);
	ir_id_format(id, e->spec.id_str);
	e->spec.m = m;
	atomic_init(&e->spec.holds, 0);
	lru_push(s, e);
	evict(s);
	return &e->spec;
}

const dm_spec *dm_specs_get(dm_specs *s, const uint8_t id[16])
{
	entry *e = tab_get(&s->by_id, id);
	if (e != NULL) {
		lru_unlink(s, e);
		lru_push(s, e);
		return &e->spec;
	}
	char path[RT_STATE_PATH_MAX], err[512];
	if (rt_state_ir_path(s->root, id, path, sizeof path) != 0 || access(path, F_OK) != 0)
		return NULL;
	ir_module *m = ir_binary_load(path, err, sizeof err);
	if (m == NULL) {
		dm_log(DM_LOG_ERROR, "%s", err);
		return NULL;
	}
	ir_id got = ir_module_id(m);
	if (memcmp(got.bytes, id, 16) != 0) {
		dm_log(DM_LOG_ERROR, "%s: holds another spec than its name says; ignoring it", path);
		ir_module_free(m);
		return NULL;
	}
	dm_metrics_count(s->metrics, DM_COUNTER_SPEC_LOADS);
	dm_log(DM_LOG_DEBUG, "%s: loaded", path);
	return cache_add(s, m, id);
}

/* Notes in memory that upload key came to spec id; on out-of-memory the
 * index file still says so. */
static void remember_upload(dm_specs *s, const uint8_t key[16], const uint8_t id[16])
{
	if (tab_get(&s->by_source, key) != NULL)
		return;
	uint8_t *copy = malloc(16);
	if (copy == NULL)
		return;
	memcpy(copy, id, 16);
	if (tab_put(&s->by_source, key, copy) != 0)
		free(copy);
}

/* The spec an earlier identical upload came to, from memory or the index
 * in the state dir. */
static const dm_spec *lookup_upload(dm_specs *s, const uint8_t key[16])
{
	const uint8_t *known = tab_get(&s->by_source, key);
	if (known != NULL)
		return dm_specs_get(s, known);
	char path[RT_STATE_PATH_MAX], text[INDEX_MAX + 1];
	index_path(s->root, key, path, sizeof path);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	size_t n = fread(text, 1, INDEX_MAX, f);
	fclose(f);
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	uint8_t id[16];
	if (ir_id_parse(text, id) != 0) {
		dm_log(DM_LOG_WARN, "%s: not a spec id; ignoring it", path);
		return NULL;
	}
	const dm_spec *sp = dm_specs_get(s, id);
	if (sp != NULL)
		remember_upload(s, key, id);
	return sp;
}

/* --- the worker side -------------------------------------------------------- */

/* Diagnostics as a JSON list and as text; the worker owns both. */
static void render_diags(job *j, const lang_diags *d)
{
	j->diagnostics = json_array();
	static const char *const sev[] = {"error", "warning", "note"};
	/* a message quotes the source and the text shows its lines, which
	 * need not be UTF-8; JSON strings must be */
	for (int i = 0; j->diagnostics != NULL && i < d->n; i++) {
		const lang_diag *g = &d->items[i];
		char *msg = dm_http_utf8_clean(g->message);
		json_t *item = msg == NULL ? NULL
			: json_pack("{s:o,s:o,s:s,s:s}", "line",
				    g->loc.src ? json_integer(g->loc.first_line) : json_null(), "column",
				    g->loc.src ? json_integer(g->loc.first_column) : json_null(),
				    "severity", sev[g->severity], "message", msg);
		free(msg);
		if (item != NULL)
			json_array_append_new(j->diagnostics, item);
	}
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (f != NULL) {
		lang_diags_print(d, f);
		if (fclose(f) == 0) {
			j->text = dm_http_utf8_clean(buf);
			free(buf);
		} else {
			free(buf);
		}
	}
}

/* Stores the IR and the upload index; a failure is logged and counted in
 * status as -1 (the answer itself does not change). */
static int store(job *j)
{
	char path[RT_STATE_PATH_MAX], err[1024];
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = 0;
	if (rt_state_ir_path(j->root, j->id, path, sizeof path) != 0)
		return -1;
	j->existed = access(path, F_OK) == 0;
	if (!j->existed) {
		if (ir_binary_write(j->m, &bytes, &len) != 0 ||
		    rt_state_write_file(path, bytes, len, 0644, err, sizeof err) != 0) {
			dm_log(DM_LOG_ERROR, "cannot store a spec: %s", bytes ? err : "out of memory");
			rc = -1;
		}
		free(bytes);
	}
	if (rc == 0) {
		char id[IR_ID_STRLEN + 2];
		ir_id_format(j->id, id);
		strcat(id, "\n");
		index_path(j->root, j->key, path, sizeof path);
		if (rt_state_write_file(path, id, strlen(id), 0644, err, sizeof err) != 0) {
			dm_log(DM_LOG_ERROR, "cannot index an upload: %s", err);
			rc = -1;
		}
	}
	return rc;
}

static void job_work(void *arg)
{
	job *j = arg;
	char err[512];
	if (ir_binary_is_air((const uint8_t *)j->body, j->len)) {
		j->m = ir_binary_read((const uint8_t *)j->body, j->len, err, sizeof err);
		if (j->m == NULL) {
			j->status = 400;
			size_t n = strlen(err) + 32;
			if ((j->text = malloc(n)) != NULL)
				snprintf(j->text, n, "not a valid .air file: %s", err);
			return;
		}
	} else {
		lang_diags d;
		cc_options o;
		lang_diags_init(&d);
		cc_options_init(&o);
		o.include_dirs = (const char *const *)j->conf->include_dirs;
		o.ninclude_dirs = j->conf->ninclude_dirs;
		o.stdlib_dir = j->conf->stdlib_dir;
		o.files = cc_files_new();
		j->m = cc_compile_source(j->name, j->body, j->len, &o, &d);
		if (j->m == NULL) {
			j->status = 422;
			render_diags(j, &d);
		}
		cc_files_free(o.files);
		lang_diags_free(&d);
		if (j->m == NULL)
			return;
	}
	ir_id id = ir_module_id(j->m);
	memcpy(j->id, id.bytes, 16);
	j->status = store(j) == 0 ? 0 : -1;
}

static void job_free(job *j)
{
	for (waiter *w = j->waiters, *next; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	ir_module_free(j->m);
	json_decref(j->diagnostics);
	config_unref(j->conf);
	free(j->text);
	free(j->name);
	free(j->body);
	free(j->root);
	free(j);
}

/* Back on the loop: cache the result and answer every waiter. */
static void job_done(void *arg)
{
	job *j = arg;
	dm_specs *s = j->owner;
	tab_del(&s->pending, j->key);
	dm_specs_result r = {.status = j->status};
	if (j->status == 0 || j->status == -1) {
		if (j->status == -1)
			dm_metrics_count(s->metrics, DM_COUNTER_STORE_ERRORS);
		entry *e = tab_get(&s->by_id, j->id);
		const dm_spec *sp;
		r.status = e != NULL || j->existed ? 200 : 201;
		if (e == NULL) {
			sp = cache_add(s, j->m, j->id);
		} else {
			ir_module_free(j->m);
			lru_unlink(s, e);
			lru_push(s, e);
			sp = &e->spec;
		}
		j->m = NULL;
		if (sp != NULL)
			remember_upload(s, j->key, j->id);
		r.spec = sp;
		if (sp == NULL) {
			r.status = 503;
			r.text = "out of memory";
		}
	} else {
		if (j->status == 422)
			dm_metrics_count(s->metrics, DM_COUNTER_COMPILE_ERRORS);
		r.diagnostics = j->diagnostics;
		r.text = j->text != NULL ? j->text : "out of memory";
	}
	for (waiter *w = j->waiters; w != NULL; w = w->next) {
		r.shared = w != j->waiters;
		if (r.shared && (r.status == 201))
			r.status = 200;
		w->done(w->arg, &r);
	}
	job_free(j);
}

int dm_specs_submit(dm_specs *s, const char *name, const void *body, size_t len,
		    dm_specs_done_fn *done, void *arg)
{
	int air = ir_binary_is_air(body, len);
	uint8_t key[16];
	upload_key(s->conf, air, body, len, key);
	const dm_spec *sp = lookup_upload(s, key);
	if (sp != NULL) {
		dm_metrics_count(s->metrics, DM_COUNTER_SPEC_HITS);
		dm_specs_result r = {.status = 200, .spec = sp};
		done(arg, &r);
		return 0;
	}
	waiter *w = calloc(1, sizeof *w);
	if (w == NULL)
		return -2;
	w->done = done;
	w->arg = arg;
	job *j = tab_get(&s->pending, key);
	if (j != NULL) {
		dm_metrics_count(s->metrics, DM_COUNTER_COMPILE_SHARED);
		j->last->next = w;
		j->last = w;
		return 1;
	}
	j = calloc(1, sizeof *j);
	if (j == NULL || (j->name = strdup(name)) == NULL || (j->root = strdup(s->root)) == NULL ||
	    (j->body = malloc(len ? len : 1)) == NULL) {
		if (j)
			job_free(j);
		free(w);
		return -2;
	}
	memcpy(j->body, body, len);
	j->len = len;
	j->owner = s;
	memcpy(j->key, key, 16);
	j->conf = s->conf;
	j->conf->refs++;
	j->waiters = j->last = w;
	if (tab_put(&s->pending, key, j) != 0) {
		job_free(j);
		return -2;
	}
	int rc = dm_workers_submit(s->workers, job_work, job_done, j);
	if (rc != 0) {
		tab_del(&s->pending, key);
		job_free(j);
		return rc == -1 ? -1 : -2;
	}
	dm_metrics_count(s->metrics, DM_COUNTER_SPEC_MISSES);
	if (!air)
		dm_metrics_count(s->metrics, DM_COUNTER_COMPILES);
	return 1;
}

/* --- the API view ----------------------------------------------------------- */

static const char *task_state(const dm_specs *s, const ir_task *t)
{
	char path[RT_STATE_PATH_MAX];
	if (rt_state_checkpoint_path(s->root, t->supernet_key, path, sizeof path) == 0 &&
	    access(path, F_OK) == 0)
		return "checkpointed";
	return "untrained";
}

json_t *dm_specs_json(dm_specs *s, const dm_spec *spec)
{
	const ir_module *m = spec->m;
	json_t *tasks = json_array(), *targets = json_array();
	int ok = tasks != NULL && targets != NULL;
	for (int i = 0; ok && i < m->ntasks; i++) {
		char key[IR_ID_STRLEN + 1];
		ir_id_format(m->tasks[i].supernet_key, key);
		ok = json_array_append_new(tasks, json_pack("{s:s,s:s,s:s}", "name", m->tasks[i].name,
							    "supernet", key, "state",
							    task_state(s, &m->tasks[i]))) == 0;
	}
	for (int i = 0; ok && i < m->ntargets; i++) {
		const ir_target *t = &m->targets[i];
		json_t *cons = json_array();
		for (int k = 0; cons != NULL && k < t->nconstraints; k++) {
			const ir_constraint *c = &t->constraints[k];
			if (json_array_append_new(cons, json_pack("{s:s,s:s,s:f}", "metric",
								  ir_metric_names[c->metric], "cmp",
								  ir_cmp_names[c->cmp], "value", c->value)) != 0) {
				json_decref(cons);
				cons = NULL;
			}
		}
		ok = cons != NULL && json_array_append_new(targets, json_pack("{s:s,s:o}", "name", t->name,
									      "constraints", cons)) == 0;
	}
	if (!ok) {
		json_decref(tasks);
		json_decref(targets);
		return NULL;
	}
	return json_pack("{s:s,s:o,s:o}", "id", spec->id_str, "tasks", tasks, "targets", targets);
}

unsigned dm_specs_count(const dm_specs *s)
{
	return (unsigned)s->by_id.n;
}

unsigned dm_specs_in_flight(const dm_specs *s)
{
	return (unsigned)s->pending.n;
}

void dm_specs_free(dm_specs *s)
{
	if (s == NULL)
		return;
	assert(s->pending.n == 0);
	tab_free(&s->pending, NULL);
	tab_free(&s->by_source, free);
	tab_free(&s->by_id, spec_free);
	config_unref(s->conf);
	free(s->root);
	free(s);
}
