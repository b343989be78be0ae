/*
 * archc_export.c — `archc export SUBNET (--c OUT | --onnx OUT.onnx)`: a
 * subnet written as a standalone C source and header (runtime/export_c.h)
 * or as an ONNX model (runtime/export_onnx.h).
 *
 * SUBNET is either a model file (`archc eval -o`, or a subnet archd
 * served), recognised by its magic, or `FILE.arch [--task T] --subnet
 * SPEC [--state DIR] [--recal N]`: the subnet is then cut out of the
 * task's trained supernet as `archc eval -o` does it (batch norm
 * recalibrated in memory, the data set's input normalisation recorded),
 * and the state dir is left untouched; with --alone, out of the
 * checkpoint `archc train --subnet SPEC` left, as `archc eval --alone`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/archc.h"
#include "compiler/archc_task.h"
#include "runtime/data.h"
#include "runtime/evaluate.h"
#include "runtime/export_c.h"
#include "runtime/statedir.h"
#include "runtime/export_onnx.h"
#include "runtime/extract.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"

#define MAX_RECAL 1000000

/* The command line, parsed and checked. */
typedef struct export_args {
	archc_task_args a;
	const char *c_out, *onnx_out; /* --c, --onnx */
	const char *subnet, *state;
	int64_t recal; /* -1: the recipe's */
	int alone;     /* --alone: the subnet trained alone, not the supernet */
} export_args;

static int parse(int argc, char **argv, export_args *e)
{
	memset(e, 0, sizeof *e);
	e->recal = -1;
	const archc_opt opts[] = {
		{ "--c", ARCHC_OPT_STRING, &e->c_out, 0, 0 },
		{ "--onnx", ARCHC_OPT_STRING, &e->onnx_out, 0, 0 },
		{ "--subnet", ARCHC_OPT_STRING, &e->subnet, 0, 0 },
		{ "--state", ARCHC_OPT_STRING, &e->state, 0, 0 },
		{ "--recal", ARCHC_OPT_INT, &e->recal, 0, MAX_RECAL },
		{ "--alone", ARCHC_OPT_FLAG, &e->alone, 0, 0 },
	};
	int st = archc_task_parse_opts(&archc_cmd_export, argc, argv, opts,
				       (int)(sizeof opts / sizeof opts[0]), &e->a);
	if (st)
		return st;
	if (!e->c_out == !e->onnx_out)
		return archc_usage_error(&archc_cmd_export, "give one of --c OUT and --onnx OUT.onnx");
	return 0;
}

/* 1 when `path` starts with the model file magic, 0 when not, -1 with
 * *why set when it cannot be opened (a FIFO is refused, not waited on). */
static int is_model_file(const char *path, const char **why)
{
	FILE *f = rt_state_fopen(path, why);
	if (!f)
		return -1;
	char magic[8];
	int yes = fread(magic, 1, sizeof magic, f) == sizeof magic &&
		  !memcmp(magic, RT_MODEL_MAGIC, sizeof magic);
	fclose(f);
	return yes;
}

/* Refuses, before any work, an output that would replace an input or a
 * file of the state dir, or that cannot be a file (archc_task_output_check;
 * m is NULL when the input is a model file). */
static int check_outputs(const export_args *e, const ir_module *m, int t)
{
	const char *opt = e->c_out ? "--c" : "--onnx";
	char path[2][4096];
	int n = 0;
	if (e->c_out) {
		snprintf(path[n++], sizeof path[0], "%s.c", e->c_out);
		snprintf(path[n++], sizeof path[0], "%s.h", e->c_out);
	} else {
		snprintf(path[n++], sizeof path[0], "%s", e->onnx_out);
	}
	for (int i = 0; i < n; i++) {
		int st = m ? archc_task_output_check(&archc_cmd_export, opt, path[i], &e->a, m, t,
						     e->state)
			   : archc_output_check(&archc_cmd_export, opt, path[i], &e->a.input, 1);
		if (st != ARCHC_OK)
			return st;
	}
	return ARCHC_OK;
}

/* Cuts subnet e->subnet out of the task's trained supernet, recalibrated
 * and with the data set's normalisation; NULL after printing why. */
static rt_model *cut_model(const export_args *e, int *status)
{
	char err[1024];
	int t;
	rt_model *model = NULL;
	sn_supernet *sn = NULL;
	rt_data *data = NULL;
	rt_ckpt_state pos;
	uint8_t key[16];
	ir_module *m = archc_task_load(&archc_cmd_export, &e->a, &t, status);
	if (!m)
		return NULL;
	*status = ARCHC_EINPUT;
	const ir_task *task = &m->tasks[t];
	sn_subnet sub;
	if (sn_subnet_parse_spec(&m->spaces[task->space], e->subnet, &sub, err, sizeof err) != 0) {
		*status = archc_usage_error(&archc_cmd_export, "%s", err);
		goto out;
	}
	if ((*status = check_outputs(e, m, t)) != ARCHC_OK)
		goto out;
	*status = ARCHC_EINPUT;
	int rc = archc_task_supernet(&archc_cmd_export, m, t, e->state, e->alone ? &sub : NULL, &sn,
				     &data, &pos, key);
	if (rc == ARCHC_TASK_UNTRAINED)
		fprintf(stderr, "  train it first: archc train %s --task %s%s%s%s%s\n", e->a.input,
			task->name, e->state ? " --state " : "", e->state ? e->state : "",
			e->alone ? " --subnet " : "", e->alone ? e->subnet : "");
	if (rc)
		goto out;
	int nrecal = archc_task_recal_images(task, e->recal, e->alone);
	if (nrecal > 0 && rt_eval_recalibrate(sn, &sub, data, nrecal, task->recipe.seed, err,
					      sizeof err) < 0) {
		fprintf(stderr, "archc export: %s\n", err);
		goto out;
	}
	model = rt_model_extract(sn, &sub, key, err, sizeof err);
	if (!model) {
		fprintf(stderr, "archc export: %s\n", err);
		goto out;
	}
	archc_task_model_norm(model, data, &m->datasets[task->dataset]);
	*status = ARCHC_OK;
out:
	rt_data_free(data);
	sn_supernet_free(sn);
	ir_module_free(m);
	return model;
}

/* Writes the model in the format asked for and says where. */
static int write_model(const export_args *e, const rt_model *model)
{
	char err[1024];
	if (e->c_out) {
		rt_export_c_info info;
		if (rt_export_c_save(model, e->c_out, &info, err, sizeof err) != 0) {
			fprintf(stderr, "archc export: %s\n", err);
			return ARCHC_EINPUT;
		}
		printf("subnet    %s\n", model->genes);
		printf("c         %s.c %s.h\n", e->c_out, e->c_out);
		printf("flash     %zu bytes\n", info.flash);
		printf("ram       %zu bytes\n", info.ram);
	} else {
		if (rt_export_onnx_save(model, e->onnx_out, err, sizeof err) != 0) {
			fprintf(stderr, "archc export: %s\n", err);
			return ARCHC_EINPUT;
		}
		printf("subnet    %s\n", model->genes);
		printf("onnx      %s\n", e->onnx_out);
	}
	return fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
}

static int archc_export_run(int argc, char **argv)
{
	export_args e;
	int st = parse(argc, argv, &e);
	rt_model *model = NULL;
	char err[1024];
	if (st)
		goto out;
	st = ARCHC_EINPUT;
	if (rt_threads_init(0, err, (int)sizeof err) < 0) {
		fprintf(stderr, "archc export: %s\n", err);
		goto out;
	}
	const char *why = NULL;
	int kind = is_model_file(e.a.input, &why);
	if (kind < 0) {
		fprintf(stderr, "archc export: %s: %s\n", e.a.input, why);
		goto out;
	}
	if (kind == 1) {
		if (e.subnet || e.a.task || e.state || e.recal >= 0 || e.alone || e.a.nincludes) {
			st = archc_usage_error(&archc_cmd_export,
					       "%s is a model file: no --subnet, --task, --state, --recal, "
					       "--alone or -I",
					       e.a.input);
			goto out;
		}
		if ((st = check_outputs(&e, NULL, 0)) != ARCHC_OK)
			goto out;
		st = ARCHC_EINPUT;
		model = rt_model_load(e.a.input, err, sizeof err);
		if (!model)
			fprintf(stderr, "archc export: %s\n", err);
	} else if (!e.subnet) {
		st = archc_usage_error(&archc_cmd_export,
				       "%s is not a model file: give --subnet SPEC (max, min, random:SEED "
				       "or a gene string) to cut one from its task's supernet",
				       e.a.input);
		goto out;
	} else {
		model = cut_model(&e, &st);
	}
	if (model)
		st = write_model(&e, model);
out:
	rt_model_free(model);
	archc_task_args_free(&e.a);
	return st;
}

const archc_cmd archc_cmd_export = {
	"export",
	"write a subnet as standalone C or ONNX",
	"usage: archc export IN.model (--c OUT | --onnx OUT.onnx)\n"
	"       archc export [-I DIR]... FILE.arch [--task T] --subnet SPEC [--state DIR]\n"
	"                    [--recal N] [--alone] (--c OUT | --onnx OUT.onnx)\n"
	"\n"
	"Writes a subnet for deployment.  The subnet is a model file (`archc eval -o`,\n"
	"or the weights archd serves), or subnet SPEC (max, min, random:SEED or a\n"
	"gene string) cut out of the supernet `archc train` left for task T in the\n"
	"state dir, its batch norm recalibrated on N training images (default: the\n"
	"recipe's calib, 2000) as `archc eval` does.  With --alone, SPEC is cut out\n"
	"of the checkpoint `archc train --subnet SPEC` left when it trained it alone,\n"
	"with its own statistics (recalibrated only if --recal N asks), as `archc\n"
	"eval --alone` does.  Nothing in the state dir is changed.\n"
	"\n"
	"--c OUT writes OUT.c and OUT.h: one function `int NAME_predict(const float\n"
	"*input, float *logits)` (NAME is OUT's file name made a C identifier)\n"
	"returning the arg-max, with the weights as static const arrays, batch norm\n"
	"folded, one static scratch buffer, no allocation and no library; C99.  The\n"
	"header states the input shape, the normalisation the caller applies, and\n"
	"the flash (weights) and RAM (scratch) bytes, which are also printed.\n"
	"\n"
	"--onnx OUT.onnx writes an ONNX model (see runtime/export_onnx.h): input\n"
	"\"input\" [N, C, H, W] float32, normalised as for --c; output \"logits\"\n"
	"[N, classes]; the batch size N is symbolic.\n",
	archc_export_run,
};
