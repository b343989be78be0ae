/*
 * subnets_record.c — a subnet as POST /v1/subnets answers it (its JSON,
 * its id), and its record in the state dir (supernets/<key>/subnets/),
 * which GET /v1/subnets/{id} serves.  See subnets_priv.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "daemon/log.h"
#include "daemon/subnets_priv.h"
#include "runtime/checkpoint.h"

/* --- the subnet as JSON (worker threads) -------------------------------------------- */

static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* "<key hex>-<hash of the genes>", the hash seeded with the recalibration
 * sample size when it is not the default: the same genes of the same
 * weights, measured and cut out after another recalibration, are another
 * subnet (other metrics, other batch-norm statistics). */
static void subnet_id(const uint8_t key[16], int calib, const char *genes, char id[ID_LEN + 1])
{
	char hex[33];
	rt_state_hex(key, hex);
	XXH64_hash_t seed = calib == IR_CALIB_DEFAULT ? 0 : (XXH64_hash_t)calib;
	snprintf(id, ID_LEN + 1, "%s-%016llx", hex,
		 (unsigned long long)XXH3_64bits_withSeed(genes, strlen(genes), seed));
}

/* The active layers: kind, stage, channels, kernel, stride, sides. */
static json_t *architecture(const ir_space *sp, int nclasses, const sn_subnet *sub)
{
	sn_plan *plan = malloc(sizeof *plan);
	json_t *a = json_array();
	if (plan == NULL || a == NULL)
		goto fail;
	sn_plan_build(sp, nclasses, sub, plan);
	for (int i = 0; i < sp->nlayers; i++) {
		const sn_layer_plan *lp = &plan->layer[i];
		const ir_layer *l = &sp->layers[i];
		if (!lp->active)
			continue;
		json_t *o = json_pack("{s:s,s:s?,s:i,s:i,s:i,s:i,s:i,s:i}", "kind",
				      ir_block_names[l->kind], "stage",
				      l->stage >= 0 ? sp->stages[l->stage].name : NULL, "in", lp->cin,
				      "out", lp->cout, "kernel", lp->k, "stride", l->stride, "side",
				      lp->h, "mid", lp->mid);
		if (o == NULL || json_array_append_new(a, o) != 0)
			goto fail;
	}
	free(plan);
	return a;
fail:
	free(plan);
	json_decref(a);
	return NULL;
}

/* The API's view of an answer: id, genes, architecture, metrics, links. */
/* The checkpoint id as the JSON says it: 16 hex digits. */
static void weights_hex(uint64_t id, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)id);
}

json_t *dm_subnets_json(const dm_spec *spec, int t, const rt_answer *a,
			const rt_answer_stamp *stamp)
{
	const ir_module *m = spec->m;
	const ir_task *task = &m->tasks[t];
	const ir_space *sp = &m->spaces[task->space];
	char genes[SN_GENE_STRLEN], id[ID_LEN + 1], self[128], weights[160], onnx[160], c[160];
	sn_subnet_format(sp, &a->m.sub, genes, sizeof genes);
	subnet_id(task->supernet_key, dm_task_calib(m, t), genes, id);
	snprintf(self, sizeof self, "/v1/subnets/%s", id);
	snprintf(weights, sizeof weights, "%s/weights", self);
	snprintf(onnx, sizeof onnx, "%s/onnx", self);
	snprintf(c, sizeof c, "%s/c", self);
	const double *v = a->m.eval.v;
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o*,s:{s:o*,s:o*,s:o*,s:o*,s:o*,s:o*,s:o*},"
			 "s:{s:s,s:s,s:s,s:s}}",
			 "id", id, "spec", spec->id_str, "task", task->name, "genes", genes, "source",
			 a->searched ? "search" : "archive", "architecture",
			 architecture(sp, m->datasets[task->dataset].nclasses, &a->m.sub), "metrics",
			 "accuracy", number_or_null(v[IR_METRIC_ACCURACY]), "test_accuracy",
			 number_or_null(a->m.test), "predicted_accuracy",
			 number_or_null(a->m.predicted), "macs", number_or_null(v[IR_METRIC_MACS]),
			 "params", number_or_null(v[IR_METRIC_PARAMS]), "memory",
			 number_or_null(v[IR_METRIC_MEMORY]), "latency",
			 number_or_null(v[IR_METRIC_LATENCY]), "links", "self", self, "weights",
			 weights, "onnx", onnx, "c", c);
	if (j != NULL && stamp->has_id) {
		char hex[17];
		weights_hex(stamp->id, hex);
		if (json_object_set_new(j, "weights", json_string(hex)) != 0) {
			json_decref(j);
			j = NULL;
		}
	}
	return j;
}

/* The supernet key a subnet id starts with; -1 when id is not one. */
static int id_key(const char *id, uint8_t key[16])
{
	if (strlen(id) != ID_LEN || id[32] != '-')
		return -1;
	for (int i = 0; i < ID_LEN; i++)
		if (i != 32 && !strchr("0123456789abcdef", id[i]))
			return -1;
	for (int i = 0; i < 16; i++) {
		unsigned b;
		if (sscanf(id + 2 * i, "%2x", &b) != 1)
			return -1;
		key[i] = (uint8_t)b;
	}
	return 0;
}

int dm_subnets_current_weights(const char *root, const char *id, char out[17])
{
	char path[RT_STATE_PATH_MAX];
	uint64_t w;
	uint8_t key[16];
	if (id_key(id, key) != 0 || rt_state_checkpoint_path(root, key, path, sizeof path) != 0 ||
	    rt_ckpt_id(path, &w, NULL) != 0)
		return -1;
	weights_hex(w, out);
	return 0;
}

/* supernets/<key>/subnets/<hash><suffix> of a subnet id; -1 when id is
 * not one. */
int dm_subnets_record_path(const char *root, const char *id, const char *suffix, char *buf,
			   size_t len)
{
	uint8_t key[16];
	if (id_key(id, key) != 0)
		return -1;
	char name[64];
	snprintf(name, sizeof name, "%s%s", id + 33, suffix);
	return rt_state_subnet_path(root, key, name, buf, len);
}

void dm_subnets_keep_record(const dm_subnets *s, const uint8_t key[16], const char *id,
			    const char *text)
{
	char path[RT_STATE_PATH_MAX], model[RT_STATE_PATH_MAX], err[512] = "out of memory";
	struct stat st;
	if (dm_subnets_record_path(s->root, id, ".json", path, sizeof path) != 0 ||
	    dm_subnets_record_path(s->root, id, ".model", model, sizeof model) != 0)
		return;
	if (stat(path, &st) == 0) {
		json_t *old = json_load_file(path, 0, NULL), *now = json_loads(text ? text : "", 0, NULL);
		const char *was = json_string_value(json_object_get(old, "weights"));
		const char *is = json_string_value(json_object_get(now, "weights"));
		int same = was == NULL || is == NULL || strcmp(was, is) == 0;
		json_decref(old);
		json_decref(now);
		if (same)
			return;
		unlink(model);
	}
	if (text == NULL || rt_state_mkparents(path, err, sizeof err) != 0 ||
	    rt_state_write_file(path, text, strlen(text), 0640, err, sizeof err) != 0) {
		dm_log(DM_LOG_WARN, "subnet %s: record not saved: %s", id, err);
		return;
	}
	unsigned max = atomic_load(&s->max_answers);
	int removed = dm_subnets_records_prune(s->root, key, max, strrchr(path, '/') + 1);
	if (removed > 0)
		dm_log(DM_LOG_INFO, "supernet of subnet %s: the %d oldest subnet records no answer "
		       "names removed (max_answers %u)", id, removed, max);
}
