/*
 * archc_task.c — the command line of the commands that work on one task
 * (see archc_task.h).
 */
#include "compiler/archc_task.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The option of opts matching argument s ("--name", "--name=V", "-o",
 * "-oV"); *inline_value is set to V when given in the same argument. */
static const archc_task_opt *find_opt(const archc_task_opt *opts, int nopts, const char *s,
				      const char **inline_value)
{
	*inline_value = NULL;
	for (int i = 0; i < nopts; i++) {
		const char *name = opts[i].name;
		size_t n = strlen(name);
		if (n == 1) {
			if (s[0] == '-' && s[1] == name[0]) {
				*inline_value = s[2] ? s + 2 : NULL;
				return &opts[i];
			}
			continue;
		}
		if (strncmp(s, "--", 2) != 0 || strncmp(s + 2, name, n) != 0)
			continue;
		if (s[2 + n] == '\0')
			return &opts[i];
		if (s[2 + n] == '=') {
			*inline_value = s + 3 + n;
			return &opts[i];
		}
	}
	return NULL;
}

int archc_task_parse(const archc_cmd *cmd, int argc, char **argv, const archc_task_opt *opts,
		     int nopts, archc_task_args *a)
{
	memset(a, 0, sizeof *a);
	a->includes = calloc((size_t)argc + 1, sizeof *a->includes);
	if (!a->includes) {
		fprintf(stderr, "archc %s: out of memory\n", cmd->name);
		return ARCHC_EUSAGE;
	}
	/* -I and --task first, then the command's own options */
	archc_task_opt all[16];
	const char *task = NULL, *include = NULL;
	int nall = 0;
	all[nall++] = (archc_task_opt){ "I", &include };
	all[nall++] = (archc_task_opt){ "task", &task };
	for (int i = 0; i < nopts && nall < (int)(sizeof all / sizeof all[0]); i++)
		all[nall++] = opts[i];
	for (int i = 0; i < nall; i++)
		*all[i].value = NULL;
	int only_files = 0;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (only_files || s[0] != '-' || !s[1]) {
			if (a->input)
				return archc_usage_error(cmd, "one input file only ('%s' and '%s')",
							 a->input, s);
			a->input = s;
			continue;
		}
		if (!strcmp(s, "--")) {
			only_files = 1;
			continue;
		}
		const char *v;
		const archc_task_opt *o = find_opt(all, nall, s, &v);
		if (!o)
			return archc_usage_error(cmd, "unknown option '%s'", s);
		if (!v && i + 1 < argc)
			v = argv[++i];
		if (!v)
			return archc_usage_error(cmd, "option '%s' needs a value", s);
		if (o->value == &include) {
			a->includes[a->nincludes++] = v;
			continue;
		}
		if (*o->value)
			return archc_usage_error(cmd, "option '%s' given twice", s);
		*o->value = v;
	}
	a->task = task;
	if (!a->input)
		return archc_usage_error(cmd, "no input file");
	return 0;
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
	char *end;
	errno = 0;
	int digit = (s[0] >= '0' && s[0] <= '9') ||
		    (min < 0 && s[0] == '-' && s[1] >= '0' && s[1] <= '9');
	long long v = strtoll(s, &end, 10);
	if (!digit || *end || errno == ERANGE || v < min || v > max)
		return archc_usage_error(cmd, "--%s '%s' is not an integer from %lld to %lld", opt, s,
					 (long long)min, (long long)max);
	*out = v;
	return 0;
}
