/*
 * subnets.c — POST /v1/subnets, and the state the /v1/subnets routes share
 * (see subnets.h; the GET routes are in subnets_get.c, a subnet's JSON and
 * record in subnets_record.c).
 */
#include "daemon/subnets.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/subnets_priv.h"

dm_subnets *dm_subnets_new(const char *root, dm_workers *workers, dm_specs *specs,
			   dm_metrics *metrics, char *err, size_t errlen)
{
	dm_subnets *s = calloc(1, sizeof *s);
	if (s == NULL || snprintf(s->root, sizeof s->root, "%s", root) >= (int)sizeof s->root ||
	    (s->answers = json_object()) == NULL || (s->byid = json_object()) == NULL ||
	    (s->raw = json_object()) == NULL) {
		snprintf(err, errlen, "subnets: out of memory or state dir path too long");
		dm_subnets_free(s);
		return NULL;
	}
	s->workers = workers;
	s->specs = specs;
	s->metrics = metrics;
	atomic_init(&s->cancel, 0);
	atomic_init(&s->gen, 0);
	atomic_init(&s->max_answers, 10000);
	pthread_mutex_init(&s->env_lock, NULL);
	return s;
}

void dm_subnets_set_max_answers(dm_subnets *s, unsigned max)
{
	atomic_store(&s->max_answers, max > 0 ? max : 1);
}

void dm_subnets_stop(dm_subnets *s)
{
	atomic_store(&s->cancel, 1);
}

/* Frees the archives held on the loop. */
static void free_archives(dm_subnets *s)
{
	for (loaded *l = s->archives, *next; l != NULL; l = next) {
		next = l->next;
		search_archive_free(l->archive);
		dm_specs_release(l->spec);
		free(l);
	}
	s->archives = NULL;
}

void dm_subnets_forget(dm_subnets *s)
{
	free_archives(s);
	dm_subnets_watch_clear(s);
	json_object_clear(s->answers);
	json_object_clear(s->raw);
	json_object_clear(s->byid);
	pthread_mutex_lock(&s->env_lock);
	atomic_fetch_add(&s->gen, 1); /* under the lock: a checkin sees it or is undone here */
	rt_answer_env *e = s->env;
	const dm_spec *owner = s->env_spec;
	s->env = NULL;
	s->env_spec = NULL;
	pthread_mutex_unlock(&s->env_lock);
	rt_answer_free(e);
	if (owner != NULL)
		dm_specs_release(owner);
}

void dm_subnets_free(dm_subnets *s)
{
	if (s == NULL)
		return;
	free_archives(s);
	free(s->watched);
	json_decref(s->answers);
	json_decref(s->byid);
	json_decref(s->raw);
	rt_answer_free(s->env);
	if (s->env_spec != NULL)
		dm_specs_release(s->env_spec);
	if (s->answers != NULL && s->byid != NULL)
		pthread_mutex_destroy(&s->env_lock);
	free(s);
}

/* --- POST /v1/subnets --------------------------------------------------------------- */

/* An environment for p's task: the kept one when it is of the same
 * supernet (refreshed from the state dir), else a new one.  *owner is the
 * spec whose module it borrows, held (p->spare's hold for a new one).
 * Returns NULL with a message in p->err.  Call from a job of the
 * supernet's lane: no other job then uses an environment of this
 * supernet. */
rt_answer_env *dm_subnets_env_checkout(dm_subnets *s, pending *p, const dm_spec **owner)
{
	const uint8_t *key = p->spec->m->tasks[p->task].supernet_key;
	int calib = dm_task_calib(p->spec->m, p->task);
	rt_answer_env *e = NULL;
	pthread_mutex_lock(&s->env_lock);
	/* the same weights measured another way (another calib) has other
	 * files: not this environment */
	if (s->env != NULL && memcmp(s->env_key, key, 16) == 0 && s->env_calib == calib) {
		e = s->env;
		*owner = s->env_spec;
		s->env = NULL;
		s->env_spec = NULL;
	}
	pthread_mutex_unlock(&s->env_lock);
	if (e != NULL && rt_answer_refresh(e, p->err, sizeof p->err) != 0) {
		rt_answer_free(e);
		dm_specs_release(*owner);
		return NULL;
	}
	if (e == NULL) {
		e = rt_answer_open(p->spec->m, p->task, s->root, p->err, sizeof p->err);
		if (e == NULL)
			return NULL;
		*owner = p->spare;
		p->spare = NULL;
	}
	return e;
}

/* Keeps e for the next job (replacing the one kept), or frees it after an
 * error, when its state is not known. */
void dm_subnets_env_checkin(dm_subnets *s, const pending *p, rt_answer_env *e,
			    const dm_spec *owner)
{
	if (e == NULL)
		return;
	if (p->rc == RT_ANSWER_ERROR) {
		rt_answer_free(e);
		dm_specs_release(owner);
		return;
	}
	pthread_mutex_lock(&s->env_lock);
	if (p->gen != atomic_load(&s->gen)) { /* dm_subnets_forget since: not kept */
		pthread_mutex_unlock(&s->env_lock);
		rt_answer_free(e);
		dm_specs_release(owner);
		return;
	}
	rt_answer_env *old = s->env;
	const dm_spec *old_spec = s->env_spec;
	s->env = e;
	s->env_spec = owner;
	memcpy(s->env_key, p->spec->m->tasks[p->task].supernet_key, 16);
	s->env_calib = dm_task_calib(p->spec->m, p->task);
	pthread_mutex_unlock(&s->env_lock);
	rt_answer_free(old);
	if (old_spec != NULL)
		dm_specs_release(old_spec);
}

uint64_t dm_subnets_lane(const uint8_t key[16])
{
	/* the key is a hash already: two supernets sharing a lane (one
	 * chance in 2^64) would only wait for each other */
	uint64_t lane = 0;
	for (int i = 0; i < 8; i++)
		lane = lane << 8 | key[i];
	return lane != 0 ? lane : 1;
}

/* An archive build's progress: a line for each phase as it starts. */
typedef struct build_progress {
	const char *spec, *task;
	char phase[16];
} build_progress;

static void on_build_progress(void *arg, const char *phase, int done, int total)
{
	build_progress *b = arg;
	if (strcmp(b->phase, phase) == 0)
		return;
	snprintf(b->phase, sizeof b->phase, "%s", phase);
	dm_log(DM_LOG_INFO, "spec %s: task %s's archive: %s (%d of %d)", b->spec, b->task, phase,
	       done, total);
}

static void work_answer(void *arg)
{
	pending *p = arg;
	dm_subnets *s = p->s;
	const ir_module *m = p->spec->m;
	const ir_task *task = &m->tasks[p->task];
	rt_answer a = { .tightest = -1 };
	const dm_spec *owner = NULL;
	rt_answer_env *e = dm_subnets_env_checkout(s, p, &owner);
	p->rc = RT_ANSWER_ERROR;
	unsigned forgotten = e != NULL ? rt_answer_forgotten(e) : 0;
	if (e != NULL) {
		/* explicit: a kept environment may be of another task */
		ir_objective def;
		const ir_objective *obj = rt_answer_objective(
			m, p->task, p->objective >= 0 ? &m->objectives[p->objective] : NULL, &def);
		if (rt_answer_note(e)[0] != '\0')
			dm_log(DM_LOG_INFO, "%s", rt_answer_note(e));
		p->rc = rt_answer_spec(e, obj, p->cons, p->ncons, 1, &a, p->err, sizeof p->err);
		if (p->rc == RT_ANSWER_NO_ARCHIVE) {
			dm_log(DM_LOG_INFO, "spec %s: %s; building it", p->spec->id_str, p->err);
			build_progress bp = { p->spec->id_str, task->name, "" };
			p->rc = rt_answer_build(e, on_build_progress, &bp, &s->cancel, p->err,
						sizeof p->err);
			if (rt_answer_note(e)[0] != '\0')
				dm_log(DM_LOG_INFO, "%s", rt_answer_note(e));
			if (p->rc == RT_ANSWER_CANCELLED)
				dm_log(DM_LOG_INFO, "spec %s: task %s's archive build cancelled (shutting down); nothing of it saved",
				       p->spec->id_str, task->name);
			if (p->rc == 0)
				p->rc = rt_answer_spec(e, obj, p->cons, p->ncons, 1, &a, p->err,
						       sizeof p->err);
		}
	}
	p->forgot = e != NULL && rt_answer_forgotten(e) != forgotten;
	/* measured on weights a run training the supernet afresh has since
	 * replaced (its files removed): answered, but nothing written back */
	int current = e != NULL && rt_answer_current(e);
	if (p->rc == 0 || p->rc == RT_ANSWER_INFEASIBLE) {
		p->body = dm_subnets_json(p->spec, p->task, &a, rt_answer_stamp_of(e));
		if (p->body == NULL) {
			p->rc = RT_ANSWER_ERROR;
			snprintf(p->err, sizeof p->err, "out of memory");
		} else if (p->rc == 0 && current) {
			char *text = dm_subnets_answer_text(p->key, p->body);
			dm_subnets_answer_write(s->root, task->supernet_key, p->key, text,
						atomic_load(&s->max_answers));
			free(text);
			text = json_dumps(p->body, JSON_COMPACT);
			dm_subnets_keep_record(s, task->supernet_key, json_string_value(json_object_get(p->body, "id")),
				    text);
			free(text);
		} else {
			const ir_constraint *c = &p->cons[a.tightest >= 0 ? a.tightest : 0];
			snprintf(p->err, sizeof p->err,
				 "no subnet of task %s meets the spec; the tightest constraint is %s %s %.6g",
				 task->name, ir_metric_names[c->metric], ir_cmp_names[c->cmp], c->value);
		}
	}
	if (current && (p->rc == 0 || p->rc == RT_ANSWER_INFEASIBLE)) {
		/* the loop's own copy, to answer the next specs there */
		char ignored[512];
		p->stamp = *rt_answer_stamp_of(e);
		p->archive = search_archive_load(&m->spaces[task->space], rt_answer_archive_path(e),
						 ignored, sizeof ignored);
		uint64_t w;
		if (p->archive != NULL &&
		    (!rt_answer_current(e) ||
		     (p->stamp.has_id && search_archive_weights(p->archive, &w) &&
		      w != p->stamp.id))) {
			search_archive_free(p->archive);
			p->archive = NULL;
		}
	}
	dm_subnets_env_checkin(s, p, e, owner);
	if (p->spare != NULL) {
		dm_specs_release(p->spare);
		p->spare = NULL;
	}
}

static void unlink_pending(dm_subnets *s, pending *p)
{
	for (pending **pp = &s->inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

void dm_subnets_pending_free(pending *p)
{
	if (p->spec != NULL)
		dm_specs_release(p->spec);
	if (p->spare != NULL)
		dm_specs_release(p->spare);
	json_decref(p->body);
	search_archive_free(p->archive);
	free(p->bytes);
	free(p->key);
	free(p);
}

/* Replies to one waiter of an answer. */
static void reply_answer(const pending *p, dm_call *c)
{
	const ir_task *task = &p->spec->m->tasks[p->task];
	switch (p->rc) {
	case 0:
		dm_reply_json(c, 200, json_incref(p->body));
		return;
	case RT_ANSWER_INFEASIBLE: {
		json_t *b = json_pack("{s:{s:s,s:s},s:O}", "error", "code", "infeasible", "message",
				      p->err, "nearest", p->body);
		if (b == NULL)
			dm_reply_error(c, 503, NULL, "out of memory");
		else
			dm_reply_json(c, 422, b);
		return;
	}
	case RT_ANSWER_UNTRAINED: {
		char link[256];
		snprintf(link, sizeof link, "/v1/specs/%s/tasks/%s/train", p->spec->id_str,
			 task->name);
		char msg[512];
		snprintf(msg, sizeof msg,
			 "task %s has no trained supernet yet: train it with POST %s", task->name,
			 link);
		json_t *b = json_pack("{s:{s:s,s:s},s:s}", "error", "code", "untrained", "message",
				      msg, "train", link);
		if (b == NULL)
			dm_reply_error(c, 503, NULL, "out of memory");
		else
			dm_reply_json(c, 409, b);
		return;
	}
	case RT_ANSWER_PARTIAL: {
		/* the same code as untrained: POST train resumes it (or names
		 * the job already training it) */
		char link[256];
		snprintf(link, sizeof link, "/v1/specs/%s/tasks/%s/train", p->spec->id_str,
			 task->name);
		json_t *b = json_pack("{s:{s:s,s:s++},s:s}", "error", "code", "untrained", "message",
				      p->err, "; finish it with POST ", link, "train", link);
		if (b == NULL)
			dm_reply_error(c, 503, NULL, "out of memory");
		else
			dm_reply_json(c, 409, b);
		return;
	}
	case RT_ANSWER_CHANGED:
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
		dm_reply_error(c, 503, "retrained", "%s", p->err);
		return;
	case RT_ANSWER_CANCELLED:
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
		dm_reply_error(c, 503, "shutting_down",
			       "archd is shutting down: task %s's archive build was cancelled; ask again once it is back",
			       task->name);
		return;
	default:
		dm_log(DM_LOG_ERROR, "task %s of spec %s: %s", task->name, p->spec->id_str, p->err);
		dm_reply_error(c, 500, NULL, "task %s: %s", task->name, p->err);
		return;
	}
}

/* Caches an answer by request key and by subnet id. */
static void cache_answer(dm_subnets *s, const char *key, json_t *body)
{
	if (json_object_size(s->answers) >= MAX_CACHED) {
		json_object_clear(s->answers);
		json_object_clear(s->byid);
		json_object_clear(s->raw);
	}
	/* a failed insertion (out of memory) only loses the cache entry;
	 * the reply is kept as bytes, serialised once */
	size_t len;
	char *text = dm_json_text(body, &len);
	if (text != NULL)
		json_object_set_new(s->answers, key, json_stringn_nocheck(text, len));
	free(text);
	json_object_set(s->byid, json_string_value(json_object_get(body, "id")), body);
}

/* Keeps the archive a worker left in p on the loop, replacing the task's
 * older one. */
static void keep_archive(dm_subnets *s, pending *p)
{
	const uint8_t *key = p->spec->m->tasks[p->task].supernet_key;
	int calib = dm_task_calib(p->spec->m, p->task);
	loaded *l = s->archives;
	while (l != NULL && (memcmp(l->key, key, 16) != 0 || l->calib != calib))
		l = l->next;
	if (l == NULL) {
		if ((l = calloc(1, sizeof *l)) == NULL)
			return; /* only the loop's copy is lost */
		memcpy(l->key, key, 16);
		l->calib = calib;
		dm_specs_hold(p->spec);
		l->spec = p->spec;
		l->next = s->archives;
		s->archives = l;
	}
	search_archive_free(l->archive);
	/* the archive borrows the space of the module it was loaded with */
	if (l->spec != p->spec) {
		dm_specs_release(l->spec);
		dm_specs_hold(p->spec);
		l->spec = p->spec;
	}
	l->archive = p->archive;
	l->stamp = p->stamp;
	p->archive = NULL;
	dm_subnets_watch(s, key, &l->stamp);
}

static void done_answer(void *arg)
{
	pending *p = arg;
	dm_subnets *s = p->s;
	unlink_pending(s, p);
	/* the build found an archive of other weights and removed what was
	 * measured on them (rt_answer_forgotten): so goes what memory holds */
	if (p->forgot) {
		dm_subnets_forget(s);
		p->gen = atomic_load(&s->gen); /* its own answer is of the new weights */
	}
	/* asked before a supernet was trained afresh: answered, not kept */
	int current = p->gen == atomic_load(&s->gen);
	if (p->archive != NULL && current)
		keep_archive(s, p);
	if (p->rc == 0 && current) {
		cache_answer(s, p->key, p->body);
		dm_subnets_watch(s, p->spec->m->tasks[p->task].supernet_key, &p->stamp);
	}
	for (waiter *w = p->waiters, *next; w != NULL; w = next) {
		next = w->next;
		reply_answer(p, w->call);
		free(w);
	}
	dm_subnets_pending_free(p);
}

static const dm_json_field post_fields[] = {
	{ "spec", JSON_STRING, 1 },	   { "task", JSON_STRING, 1 },
	{ "target", JSON_STRING, 0 },	   { "constraints", JSON_OBJECT, 0 },
	{ "objective", JSON_STRING, 0 },
};

/* Reads the constraints object into p (sorted by metric: one key each).
 * Returns 0, or -1 with a message naming the field. */
static int read_constraints(const json_t *obj, pending *p, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		int metric = -1;
		for (int i = 0; i < IR_METRIC_COUNT; i++)
			if (strcmp(k, ir_metric_names[i]) == 0)
				metric = i;
		if (metric < 0) {
			snprintf(err, errlen,
				 "field 'constraints.%s' is not a metric (accuracy, macs, params, latency, memory)",
				 k);
			return -1;
		}
		if (!json_is_string(v)) {
			snprintf(err, errlen, "field 'constraints.%s' must be a string such as \"<=2M\"",
				 k);
			return -1;
		}
		char why[512];
		ir_constraint c;
		if (rt_answer_parse_bound((ir_metric)metric, json_string_value(v), &c, why,
					  sizeof why) != 0) {
			snprintf(err, errlen, "field 'constraints.%s': %s", k, why);
			return -1;
		}
		int at = p->ncons;
		while (at > 0 && p->cons[at - 1].metric > c.metric) {
			p->cons[at] = p->cons[at - 1];
			at--;
		}
		p->cons[at] = c;
		p->ncons++;
	}
	if (p->ncons == 0) {
		snprintf(err, errlen, "field 'constraints' is empty");
		return -1;
	}
	return 0;
}

/* Appends to buf (size len) at *n; past the end *n becomes len. */
static void key_append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	if (*n >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	*n = k < 0 || (size_t)k >= len - *n ? len : *n + (size_t)k;
}

/* The request's key: spec, task, the constraints (or target) and the
 * objective, as one string; NULL when it would pass 2 KB (names that long
 * name nothing: the request is refused). */
static char *request_key(const json_t *body, const pending *p)
{
	char buf[2048];
	size_t n = 0;
	const char *target = json_string_value(json_object_get(body, "target"));
	const char *obj = json_string_value(json_object_get(body, "objective"));
	key_append(buf, sizeof buf, &n, "%s|%s|%s|", json_string_value(json_object_get(body, "spec")),
		   json_string_value(json_object_get(body, "task")), obj ? obj : "");
	if (target != NULL)
		key_append(buf, sizeof buf, &n, "target=%s", target);
	for (int i = 0; i < p->ncons; i++)
		key_append(buf, sizeof buf, &n, "%s%s%.17g;", ir_metric_names[p->cons[i].metric],
			   ir_cmp_names[p->cons[i].cmp], p->cons[i].value);
	return n < sizeof buf ? strdup(buf) : NULL;
}

/* Checks the spec, task, target and objective the body names; answers
 * 404 and returns -1 when one is unknown. */
static int resolve(dm_subnets *s, dm_call *c, const json_t *body, pending *p)
{
	const char *id = json_string_value(json_object_get(body, "spec"));
	const char *task = json_string_value(json_object_get(body, "task"));
	const char *target = json_string_value(json_object_get(body, "target"));
	const char *obj = json_string_value(json_object_get(body, "objective"));
	uint8_t bytes[16];
	const dm_spec *sp = ir_id_parse(id, bytes) == 0 ? dm_specs_get(s->specs, bytes) : NULL;
	if (sp == NULL) {
		dm_reply_error(c, 404, "unknown_spec", "no spec %s (upload it with POST /v1/specs)", id);
		return -1;
	}
	const ir_module *m = sp->m;
	p->task = ir_module_find_task(m, task);
	if (p->task < 0) {
		dm_reply_error(c, 404, "unknown_task", "spec %s has no task '%s'", sp->id_str, task);
		return -1;
	}
	p->objective = -1;
	if (obj != NULL && (p->objective = ir_module_find_objective(m, obj)) < 0) {
		dm_reply_error(c, 404, "unknown_objective", "spec %s has no objective '%s'", sp->id_str,
			       obj);
		return -1;
	}
	if (target != NULL) {
		int t = ir_module_find_target(m, target);
		if (t < 0) {
			dm_reply_error(c, 404, "unknown_target", "spec %s has no target '%s'", sp->id_str,
				       target);
			return -1;
		}
		if (m->targets[t].nconstraints > MAX_CONS) {
			dm_reply_error(c, 422, "too_many_constraints",
				       "target '%s' has more than %d constraints", target, MAX_CONS);
			return -1;
		}
		p->ncons = m->targets[t].nconstraints;
		memcpy(p->cons, m->targets[t].constraints, (size_t)p->ncons * sizeof *p->cons);
	}
	dm_specs_hold(sp);
	dm_specs_hold(sp);
	p->spec = sp;
	p->spare = sp;
	return 0;
}

/* Parses and checks the body into p; answers 400 and returns -1 when it is
 * malformed. */
static json_t *read_body(dm_call *c, pending *p)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	const char *text = (const char *)evbuffer_pullup(in, -1);
	char err[600];
	json_t *body = NULL;
	if (len == 0 || text == NULL) {
		snprintf(err, sizeof err, "the body must be {\"spec\",\"task\",\"target\"} or "
					  "{\"spec\",\"task\",\"constraints\":{...}}");
	} else if ((body = dm_json_parse_object(text, len, err, sizeof err)) != NULL &&
		   dm_json_check(body, post_fields, sizeof post_fields / sizeof post_fields[0], err,
				 sizeof err) == 0) {
		const json_t *cons = json_object_get(body, "constraints");
		int has_target = json_object_get(body, "target") != NULL;
		if (has_target == (cons != NULL))
			snprintf(err, sizeof err, "give one of the fields 'target' and 'constraints'");
		else if (cons == NULL || (json_object_size(cons) <= MAX_CONS &&
					  read_constraints(cons, p, err, sizeof err) == 0))
			return body;
		else if (json_object_size(cons) > MAX_CONS)
			snprintf(err, sizeof err, "field 'constraints' has more than %d metrics",
				 MAX_CONS);
	}
	json_decref(body);
	dm_reply_error(c, 400, "invalid_request", "%s", err);
	return NULL;
}

/* The record and the kept answer, written by a worker for an answer the
 * loop gave. */
typedef struct record_job {
	dm_subnets *s;
	rt_answer_stamp stamp; /* the checkpoint the archive answering went with */
	char *text;   /* the record */
	char *answer; /* the answer's file */
	char *reqkey;
	uint8_t key[16];
	char id[ID_LEN + 1];
} record_job;

static void work_record(void *arg)
{
	record_job *r = arg;
	char ckpt[RT_STATE_PATH_MAX];
	/* queued behind a long job while a run began training the supernet
	 * afresh (its files removed): not written back */
	if (rt_state_checkpoint_path(r->s->root, r->key, ckpt, sizeof ckpt) != 0 ||
	    !rt_answer_stamp_current(ckpt, &r->stamp))
		return;
	dm_subnets_answer_write(r->s->root, r->key, r->reqkey, r->answer,
				atomic_load(&r->s->max_answers));
	dm_subnets_keep_record(r->s, r->key, r->id, r->text);
}

static void done_record(void *arg)
{
	record_job *r = arg;
	free(r->text);
	free(r->answer);
	free(r->reqkey);
	free(r);
}

/* Answers from the task's archive held on the loop when a member meets the
 * spec; returns 1 when it replied, 0 to leave the request to a worker. */
static int answer_on_loop(dm_subnets *s, dm_call *c, const pending *p)
{
	const ir_module *m = p->spec->m;
	const uint8_t *key = m->tasks[p->task].supernet_key;
	int calib = dm_task_calib(m, p->task);
	const loaded *l = s->archives;
	while (l != NULL && (memcmp(l->key, key, 16) != 0 || l->calib != calib))
		l = l->next;
	if (l == NULL)
		return 0;
	ir_objective def;
	const ir_objective *obj = rt_answer_objective(
		m, p->task, p->objective >= 0 ? &m->objectives[p->objective] : NULL, &def);
	int nearest, tightest;
	int i = search_archive_answer(l->archive, obj, p->cons, p->ncons, &nearest, &tightest);
	/* a member whose test accuracy is not known yet (an archive of
	 * version 1) is measured on a worker */
	if (i < 0 || isnan(search_archive_member(l->archive, i)->test))
		return 0;
	rt_answer a = { *search_archive_member(l->archive, i), 0, -1 };
	json_t *body = dm_subnets_json(p->spec, p->task, &a, &l->stamp);
	if (body == NULL)
		return 0;
	cache_answer(s, p->key, body);
	record_job *r = calloc(1, sizeof *r);
	if (r != NULL && (r->text = json_dumps(body, JSON_COMPACT)) != NULL &&
	    (r->reqkey = strdup(p->key)) != NULL &&
	    (r->answer = dm_subnets_answer_text(p->key, body)) != NULL) {
		r->s = s;
		r->stamp = l->stamp;
		memcpy(r->key, key, 16);
		snprintf(r->id, sizeof r->id, "%s", json_string_value(json_object_get(body, "id")));
		if (dm_workers_submit(s->workers, work_record, done_record, r) == 0)
			r = NULL;
	}
	if (r != NULL)
		done_record(r);
	dm_reply_json(c, 200, body);
	return 1;
}

/* Answers a request answered before this start from the state dir;
 * returns 1 when it replied. */
static int answer_kept(dm_subnets *s, dm_call *c, const pending *p)
{
	const uint8_t *key = p->spec->m->tasks[p->task].supernet_key;
	/* read before the answer is checked against the checkpoint: a file
	 * replaced in between is then noticed (dm_subnets_check) */
	char ckpt[RT_STATE_PATH_MAX];
	rt_answer_stamp st = {0};
	if (rt_state_checkpoint_path(s->root, key, ckpt, sizeof ckpt) == 0)
		rt_answer_stamp_read(ckpt, &st);
	json_t *body = dm_subnets_answer_load(s->root, key, p->key);
	if (body == NULL) {
		dm_metrics_count(s->metrics, DM_COUNTER_ANSWER_MISSES);
		return 0;
	}
	dm_metrics_count(s->metrics, DM_COUNTER_ANSWER_HITS);
	cache_answer(s, p->key, body);
	dm_subnets_watch(s, key, &st);
	dm_reply_json(c, 200, body);
	return 1;
}

/* The cached reply to a body seen before byte for byte, or NULL. */
static json_t *raw_hit(dm_subnets *s, dm_call *c, const char **text, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	*len = evbuffer_get_length(in);
	*text = NULL;
	if (*len == 0 || *len > RAW_KEY_MAX)
		return NULL;
	*text = (const char *)evbuffer_pullup(in, -1);
	return *text != NULL ? json_object_getn(s->raw, *text, *len) : NULL;
}

void dm_subnets_post(dm_subnets *s, dm_call *c)
{
	/* The hot path: a pipeline asking the same thing again. */
	const char *raw;
	size_t rawlen;
	json_t *again = raw_hit(s, c, &raw, &rawlen);
	if (again != NULL) {
		dm_metrics_count(s->metrics, DM_COUNTER_ANSWER_HITS);
		dm_reply_json_bytes(c, 200, json_string_value(again), json_string_length(again));
		return;
	}
	pending *p = calloc(1, sizeof *p);
	waiter *w = malloc(sizeof *w);
	if (p == NULL || w == NULL) {
		free(p);
		free(w);
		dm_reply_error(c, 503, NULL, "out of memory");
		return;
	}
	json_t *body = read_body(c, p);
	if (body == NULL)
		goto drop;
	p->key = request_key(body, p);
	if (p->key == NULL) {
		dm_reply_error(c, 400, "invalid_request", "the request's names are too long");
		goto drop;
	}
	json_t *hit = json_object_get(s->answers, p->key);
	if (hit != NULL) {
		/* a failed insertion (out of memory) only loses the shortcut */
		if (raw != NULL && json_object_size(s->raw) < MAX_CACHED)
			json_object_setn(s->raw, raw, rawlen, hit);
		dm_metrics_count(s->metrics, DM_COUNTER_ANSWER_HITS);
		dm_reply_json_bytes(c, 200, json_string_value(hit), json_string_length(hit));
		goto drop;
	}
	for (pending *q = s->inflight; q != NULL; q = q->next)
		if (q->key != NULL && strcmp(q->key, p->key) == 0) {
			w->call = c;
			w->next = q->waiters;
			q->waiters = w;
			w = NULL;
			goto drop;
		}
	if (resolve(s, c, body, p) != 0 || answer_kept(s, c, p) || answer_on_loop(s, c, p))
		goto drop;
	p->s = s;
	w->call = c;
	w->next = NULL;
	p->waiters = w;
	p->gen = atomic_load(&s->gen);
	int rc = dm_workers_submit_lane(s->workers,
					dm_subnets_lane(p->spec->m->tasks[p->task].supernet_key),
					work_answer, done_answer, p);
	if (rc != 0) {
		p->waiters = NULL;
		if (rc == -1) {
			evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
			dm_reply_error(c, 503, "busy", "the worker queue is full");
		} else {
			dm_reply_error(c, 503, NULL, "out of memory");
		}
		goto drop;
	}
	p->next = s->inflight;
	s->inflight = p;
	json_decref(body);
	return;
drop:
	json_decref(body);
	free(w);
	dm_subnets_pending_free(p);
}
