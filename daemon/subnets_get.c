/*
 * subnets_get.c — GET /v1/subnets/{id} and GET /v1/subnets/{id}/weights
 * (see subnets.h).
 */
#include "daemon/subnets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "daemon/log.h"
#include "daemon/subnets_priv.h"
#include "runtime/export_c.h"
#include "runtime/export_onnx.h"
#include "runtime/extract.h"

/* The C identifier of an exported subnet. */
#define C_NAME "archd_subnet"

/* --- GET /v1/subnets/{id}[/weights|onnx|c] ------------------------------------------------- */

/* The subnet with this id, from memory or its record; a borrowed reference
 * (NULL when unknown), valid until the next call. */
static json_t *find_subnet(dm_subnets *s, const char *id)
{
	json_t *j = json_object_get(s->byid, id);
	char path[RT_STATE_PATH_MAX];
	if (j != NULL || dm_subnets_record_path(s->root, id, ".json", path, sizeof path) != 0)
		return j;
	json_error_t jerr;
	j = json_load_file(path, 0, &jerr);
	const char *jid = json_string_value(json_object_get(j, "id"));
	if (!json_is_string(json_object_get(j, "genes")) || jid == NULL || strcmp(jid, id) != 0) {
		json_decref(j);
		return NULL;
	}
	/* measured on another checkpoint than the one now in its place */
	const char *was = json_string_value(json_object_get(j, "weights"));
	char now[17];
	if (was != NULL && dm_subnets_current_weights(s->root, id, now) == 0 &&
	    strcmp(was, now) != 0) {
		dm_log(DM_LOG_INFO, "%s: measured on other weights (checkpoint %s, now %s): not served",
		       path, was, now);
		json_decref(j);
		return NULL;
	}
	if (json_object_size(s->byid) >= MAX_CACHED)
		json_object_clear(s->byid);
	int bad = json_object_set_new(s->byid, id, j);
	return bad ? NULL : j;
}

void dm_subnets_get(dm_subnets *s, dm_call *c, const char *id)
{
	json_t *j = find_subnet(s, id);
	if (j == NULL)
		dm_reply_error(c, 404, "unknown_subnet", "no subnet %s (ask POST /v1/subnets)", id);
	else
		dm_reply_json(c, 200, json_incref(j));
}

/* The C export as {"name","header","source"} into p->bytes. */
static int encode_c(pending *p, const rt_model *model)
{
	char *src = NULL, *hdr = NULL;
	size_t nsrc = 0, nhdr = 0;
	FILE *fs = open_memstream(&src, &nsrc), *fh = open_memstream(&hdr, &nhdr);
	int rc = -1;
	if (fs == NULL || fh == NULL)
		snprintf(p->err, sizeof p->err, "out of memory");
	else
		rc = rt_export_c_write(model, C_NAME, fs, fh, NULL, p->err, sizeof p->err);
	/* closing publishes the buffers */
	if ((fs != NULL && fclose(fs) != 0) || (fh != NULL && fclose(fh) != 0))
		rc = -1;
	json_t *j = rc == 0 ? json_pack("{s:s,s:s,s:s}", "name", C_NAME, "header", hdr,
					"source", src)
			    : NULL;
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	if (rc == 0 && text == NULL) {
		snprintf(p->err, sizeof p->err, "out of memory");
		rc = -1;
	}
	json_decref(j);
	free(src);
	free(hdr);
	p->bytes = (uint8_t *)text;
	p->nbytes = text != NULL ? strlen(text) : 0;
	return rc;
}

/* The model in p's format into p->bytes: 0, or RT_ANSWER_ERROR with a
 * message in p->err. */
static int encode(pending *p, const rt_model *model)
{
	int rc;
	switch (p->format) {
	case DM_SUBNETS_ONNX:
		rc = rt_export_onnx_encode(model, &p->bytes, &p->nbytes, p->err, sizeof p->err);
		break;
	case DM_SUBNETS_C:
		rc = encode_c(p, model);
		break;
	default:
		rc = rt_model_encode(model, &p->bytes, &p->nbytes);
		if (rc != 0)
			snprintf(p->err, sizeof p->err, "out of memory");
		break;
	}
	return rc == 0 ? 0 : RT_ANSWER_ERROR;
}

/*
 * Saves the model next to its record, for the next request of its weights.
 * The record's prune (dm_subnets_records_prune, on another worker) removes
 * the record's .json before its .model: a model saved while the record went
 * would stay behind it, so the record is looked for once the model is
 * written, and the model removed when it is gone (the weights are still
 * served, from memory).
 */
static void keep_model(pending *p, const rt_model *model)
{
	char err[512], json[RT_STATE_PATH_MAX];
	struct stat st;
	if (rt_model_save(model, p->model_path, err, sizeof err) != 0) {
		dm_log(DM_LOG_WARN, "%s", err);
		return;
	}
	size_t n = strlen(p->model_path) - strlen(".model");
	if (n + strlen(".json") < sizeof json) {
		memcpy(json, p->model_path, n);
		strcpy(json + n, ".json");
		if (stat(json, &st) != 0 && errno == ENOENT)
			unlink(p->model_path);
	}
}

static void work_weights(void *arg)
{
	pending *p = arg;
	const ir_module *m = p->spec->m;
	const ir_task *task = &m->tasks[p->task];
	p->rc = RT_ANSWER_ERROR;
	rt_model *model = NULL;
	rt_answer_env *e = NULL;
	const dm_spec *owner = NULL;
	struct stat st;
	if (stat(p->model_path, &st) == 0) {
		model = rt_model_load(p->model_path, p->err, sizeof p->err);
	} else {
		sn_subnet sub;
		e = dm_subnets_env_checkout(p->s, p, &owner);
		if (e != NULL && sn_subnet_parse(&m->spaces[task->space], p->genes, &sub, p->err,
						 sizeof p->err) == 0)
			model = rt_answer_extract(e, &sub, &p->rc, p->err, sizeof p->err);
		if (model != NULL)
			keep_model(p, model);
	}
	if (model != NULL)
		p->rc = encode(p, model);
	rt_model_free(model);
	dm_subnets_env_checkin(p->s, p, e, owner);
	if (p->spare != NULL) {
		dm_specs_release(p->spare);
		p->spare = NULL;
	}
}

static void done_weights(void *arg)
{
	pending *p = arg;
	dm_call *c = p->waiters->call;
	free(p->waiters);
	struct evbuffer *out = p->rc == 0 ? evbuffer_new() : NULL;
	if (out != NULL && evbuffer_add(out, p->bytes, p->nbytes) == 0)
		dm_reply_buffer(c, 200,
				p->format == DM_SUBNETS_C ? "application/json"
							  : "application/octet-stream",
				out);
	else if (p->rc == RT_ANSWER_UNTRAINED)
		dm_reply_error(c, 409, "untrained", "the supernet of task %s is gone from the state dir",
			       p->spec->m->tasks[p->task].name);
	else if (p->rc == RT_ANSWER_PARTIAL)
		dm_reply_error(c, 409, "untrained", "%s", p->err);
	else if (p->rc == RT_ANSWER_CHANGED) {
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
		dm_reply_error(c, 503, "retrained", "%s", p->err);
	} else
		dm_reply_error(c, p->rc == 0 ? 503 : 500, NULL, "%s",
			       p->rc == 0 ? "out of memory" : p->err);
	if (out != NULL)
		evbuffer_free(out);
	dm_subnets_pending_free(p);
}

void dm_subnets_file(dm_subnets *s, dm_call *c, const char *id, dm_subnets_format format)
{
	if (format == DM_SUBNETS_ONNX && !rt_export_onnx_available()) {
		dm_reply_error(c, 501, NULL, "this archd was built without ONNX export (--with-onnx)");
		return;
	}
	json_t *j = find_subnet(s, id);
	uint8_t bytes[16];
	const dm_spec *sp = NULL;
	if (j != NULL && ir_id_parse(json_string_value(json_object_get(j, "spec")), bytes) == 0)
		sp = dm_specs_get(s->specs, bytes);
	if (sp == NULL) {
		dm_reply_error(c, 404, "unknown_subnet", "no subnet %s (ask POST /v1/subnets)", id);
		return;
	}
	pending *p = calloc(1, sizeof *p);
	waiter *w = malloc(sizeof *w);
	int t = ir_module_find_task(sp->m, json_string_value(json_object_get(j, "task")));
	if (p == NULL || w == NULL || t < 0 ||
	    dm_subnets_record_path(s->root, id, ".model", p->model_path, sizeof p->model_path) != 0) {
		free(p);
		free(w);
		dm_reply_error(c, t < 0 ? 404 : 503, NULL, "%s",
			       t < 0 ? "the subnet's task is gone from its spec" : "out of memory");
		return;
	}
	snprintf(p->genes, sizeof p->genes, "%s", json_string_value(json_object_get(j, "genes")));
	p->s = s;
	p->task = t;
	p->format = format;
	dm_specs_hold(sp);
	dm_specs_hold(sp);
	p->spec = sp;
	p->spare = sp;
	w->call = c;
	w->next = NULL;
	p->waiters = w;
	p->gen = atomic_load(&s->gen);
	int rc = dm_workers_submit_lane(s->workers, dm_subnets_lane(sp->m->tasks[t].supernet_key),
					work_weights, done_weights, p);
	if (rc != 0) {
		free(w);
		p->waiters = NULL;
		dm_subnets_pending_free(p);
		dm_reply_error(c, 503, rc == -1 ? "busy" : NULL, "%s",
			       rc == -1 ? "the worker queue is full" : "out of memory");
	}
}
