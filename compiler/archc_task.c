/*
 * archc_task.c — the command line of the commands that work on one task,
 * and the task and its supernet they load (see archc_task.h).
 */
#include "compiler/archc_task.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/evaluate.h"
#include "runtime/statedir.h"
#include "runtime/train.h"

int archc_task_parse_opts(const archc_cmd *cmd, int argc, char **argv, const archc_opt *opts,
			  int nopts, archc_task_args *a)
{
	memset(a, 0, sizeof *a);
	archc_opt *all = calloc((size_t)nopts + 3, sizeof *all);
	if (!all) {
		fprintf(stderr, "archc %s: out of memory\n", cmd->name);
		return ARCHC_EUSAGE;
	}
	archc_opt_list includes = { NULL, 0 };
	all[0] = (archc_opt){ "-I", ARCHC_OPT_LIST, &includes, 0, 0 };
	all[1] = (archc_opt){ "--task", ARCHC_OPT_STRING, &a->task, 0, 0 };
	all[2] = (archc_opt){ NULL, ARCHC_OPT_INPUT, &a->input, 0, 0 };
	for (int i = 0; i < nopts; i++)
		all[3 + i] = opts[i];
	int st = archc_opt_parse(cmd, argc, argv, all, nopts + 3);
	a->includes = includes.v;
	a->nincludes = includes.n;
	free(all);
	return st;
}

int archc_task_parse(const archc_cmd *cmd, int argc, char **argv, const archc_task_opt *opts,
		     int nopts, archc_task_args *a)
{
	/* "o" is -o, "state" is --state: the names with their dashes */
	archc_opt *rows = calloc((size_t)nopts + 1, sizeof *rows);
	char(*names)[40] = calloc((size_t)nopts + 1, sizeof *names);
	int st = ARCHC_EUSAGE;
	if (!rows || !names) {
		memset(a, 0, sizeof *a);
		fprintf(stderr, "archc %s: out of memory\n", cmd->name);
		goto out;
	}
	for (int i = 0; i < nopts; i++) {
		size_t n = strlen(opts[i].name);
		assert(n > 0 && n + 3 <= sizeof names[i]);
		snprintf(names[i], sizeof names[i], "%s%s", n == 1 ? "-" : "--", opts[i].name);
		rows[i] = (archc_opt){ names[i], ARCHC_OPT_STRING, opts[i].value, 0, 0 };
		*opts[i].value = NULL;
	}
	st = archc_task_parse_opts(cmd, argc, argv, rows, nopts, a);
out:
	free(rows);
	free(names);
	return st;
}

void archc_task_args_free(archc_task_args *a)
{
	free(a->includes);
	memset(a, 0, sizeof *a);
}

/* Prints the task names of m as "a, b, c". */
static void print_tasks(const ir_module *m, FILE *out)
{
	for (int i = 0; i < m->ntasks; i++)
		fprintf(out, "%s%s", i ? ", " : "", m->tasks[i].name);
}

ir_module *archc_task_load(const archc_cmd *cmd, const archc_task_args *a, int *task,
			   int *status)
{
	*status = ARCHC_EINPUT;
	ir_module *m = archc_load(a->input, a->includes, a->nincludes);
	if (!m)
		return NULL;
	if (m->ntasks == 0) {
		fprintf(stderr, "archc %s: '%s' declares no task\n", cmd->name, a->input);
	} else if (!a->task && m->ntasks > 1) {
		fprintf(stderr, "archc %s: '%s' declares several tasks; choose one with --task (",
			cmd->name, a->input);
		print_tasks(m, stderr);
		fputs(")\n", stderr);
	} else {
		*task = a->task ? ir_module_find_task(m, a->task) : 0;
		if (*task >= 0) {
			*status = ARCHC_OK;
			return m;
		}
		fprintf(stderr, "archc %s: '%s' has no task '%s' (it has: ", cmd->name, a->input,
			a->task);
		print_tasks(m, stderr);
		fputs(")\n", stderr);
	}
	ir_module_free(m);
	return NULL;
}

int archc_task_number(const archc_cmd *cmd, const char *opt, const char *s, int64_t min,
		      int64_t max, int64_t *out)
{
	char name[64];
	snprintf(name, sizeof name, "--%s", opt);
	return archc_opt_number(cmd, name, s, min, max, out);
}

int archc_task_supernet(const archc_cmd *cmd, const ir_module *m, int t, const char *state,
			const sn_subnet *alone, sn_supernet **sn, rt_data **data,
			rt_ckpt_state *pos, uint8_t key[16])
{
	*sn = NULL;
	*data = NULL;
	const ir_task *task = &m->tasks[t];
	const ir_dataset *ds = &m->datasets[task->dataset];
	char err[1024], root[RT_STATE_PATH_MAX], path[RT_STATE_PATH_MAX];
	if (rt_state_root(state, root, sizeof root, err, sizeof err) != 0) {
		fprintf(stderr, "archc %s: state dir: %s\n", cmd->name, err);
		return ARCHC_EINPUT;
	}
	rt_train_key(m, t, alone, key);
	if (rt_state_checkpoint_path(root, key, path, sizeof path) != 0) {
		fprintf(stderr, "archc %s: state dir: '%s' is too long a path\n", cmd->name, root);
		return ARCHC_EINPUT;
	}
	struct stat st;
	if (stat(path, &st) != 0) {
		char genes[SN_GENE_STRLEN] = "?";
		if (alone)
			sn_subnet_format(&m->spaces[task->space], alone, genes, sizeof genes);
		fprintf(stderr, "archc %s: task %s has no %s%s in %s (no %s)\n", cmd->name,
			task->name, alone ? "subnet trained alone: " : "trained supernet",
			alone ? genes : "", root, path);
		return ARCHC_TASK_UNTRAINED;
	}
	int batch = task->recipe.batch > 0 ? task->recipe.batch : ARCHC_TASK_BATCH;
	*sn = sn_supernet_new(&m->spaces[task->space], ds->nclasses, ds->height, ds->width, batch,
			      task->recipe.seed, err, sizeof err);
	if (!*sn) {
		fprintf(stderr, "archc %s: task %s: %s\n", cmd->name, task->name, err);
		return ARCHC_EINPUT;
	}
	int rc = rt_ckpt_load(path, *sn, key, pos, err, sizeof err);
	if (rc == 0)
		*data = rt_data_load(ds, err, sizeof err);
	if (*data)
		return 0;
	if (rc == RT_CKPT_MISSING)
		fprintf(stderr, "archc %s: %s disappeared while loading\n", cmd->name, path);
	else
		fprintf(stderr, "archc %s: %s\n", cmd->name, err);
	sn_supernet_free(*sn);
	*sn = NULL;
	return ARCHC_EINPUT;
}

int archc_task_recal_images(const ir_task *task, int64_t recal, int alone)
{
	if (recal >= 0)
		return (int)recal;
	return alone ? 0 : rt_eval_calib_images(&task->recipe);
}

int archc_task_output_check(const archc_cmd *cmd, const char *opt, const char *out,
			    const archc_task_args *a, const ir_module *m, int t, const char *state)
{
	int st = archc_output_check(cmd, opt, out, &a->input, 1);
	if (st != ARCHC_OK)
		return st;
	/* The output's directory against the supernets': every file in a
	 * supernet's directory (checkpoint, archive, predictor, and any new
	 * one) is the state dir's, the task's supernet's as much as a subnet
	 * trained alone (`archc train --subnet`, `archc eval --alone`). */
	char root[RT_STATE_ROOT_MAX], dir[RT_STATE_PATH_MAX], odir[RT_STATE_PATH_MAX];
	char parent[RT_STATE_PATH_MAX + 4], err[256];
	const char *slash = strrchr(out, '/');
	size_t n = slash ? (size_t)(slash - out) : 0;
	struct stat ds, os;
	if (n >= sizeof odir || rt_state_root(state, root, sizeof root, err, sizeof err) != 0 ||
	    rt_state_supernet_dir(root, m->tasks[t].supernet_key, dir, sizeof dir) != 0)
		return ARCHC_OK;
	if (!slash)
		snprintf(odir, sizeof odir, ".");
	else /* "/name" is in "/" */
		snprintf(odir, sizeof odir, "%.*s", (int)(slash == out ? 1 : n), out);
	if (stat(odir, &os) != 0)
		return ARCHC_OK; /* archc_output_check has said what is wrong */
	if (stat(dir, &ds) == 0 && os.st_dev == ds.st_dev && os.st_ino == ds.st_ino) {
		fprintf(stderr,
			"archc %s: the output '%s' is in the state dir, beside task %s's supernet "
			"(%s); name another with %s\n",
			cmd->name, out, m->tasks[t].name, dir, opt);
		return ARCHC_EUSAGE;
	}
	snprintf(dir, sizeof dir, "%s/supernets", root);
	snprintf(parent, sizeof parent, "%s/..", odir);
	if (stat(dir, &ds) == 0 && stat(parent, &os) == 0 && os.st_dev == ds.st_dev &&
	    os.st_ino == ds.st_ino) {
		fprintf(stderr,
			"archc %s: the output '%s' is in the state dir, beside a checkpoint in %s; "
			"name another with %s\n",
			cmd->name, out, dir, opt);
		return ARCHC_EUSAGE;
	}
	return ARCHC_OK;
}

void archc_task_model_norm(rt_model *model, const rt_data *data, const ir_dataset *ds)
{
	float scale = ds->format == IR_FORMAT_IDX ? 255.0f : 1.0f;
	for (int c = 0; c < model->in_channels; c++) {
		model->in_mean[c] = data->mean[c] * scale;
		model->in_std[c] = data->std[c] * scale;
	}
}
