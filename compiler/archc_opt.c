/*
 * archc_opt.c — the table-driven command-line parser of the archc
 * commands (see archc_opt.h).
 */
#include "compiler/archc_opt.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

/* Rows in one table: the `seen` marks live on the stack. */
#define ARCHC_OPT_MAX 64

static int archc_opt_is_short(const archc_opt *o)
{
	return o->name[1] != '-';
}

/* The row of opts that argument s names ("--name", "--name=V", "-o",
 * "-oV"), or -1; *inline_value is V when the value came attached. */
static int archc_opt_find(const archc_opt *opts, int nopts, const char *s,
			  const char **inline_value)
{
	*inline_value = NULL;
	for (int i = 0; i < nopts; i++) {
		const archc_opt *o = &opts[i];
		if (o->kind == ARCHC_OPT_INPUT)
			continue;
		if (archc_opt_is_short(o)) {
			if (s[1] != o->name[1])
				continue;
			if (!s[2])
				return i;
			/* "-wx" is no flag; "-Idir" is -I with its value */
			if (o->kind == ARCHC_OPT_FLAG)
				continue;
			*inline_value = s + 2;
			return i;
		}
		size_t n = strlen(o->name);
		if (strncmp(s, o->name, n) != 0)
			continue;
		if (s[n] == '\0')
			return i;
		if (s[n] == '=') {
			*inline_value = s + n + 1;
			return i;
		}
	}
	return -1;
}

/* "unknown option '--tsak'; did you mean '--task'?" (long options only:
 * any one letter is one edit from any other). */
static int archc_opt_unknown(const archc_cmd *cmd, const archc_opt *opts, int nopts,
			     const char *s)
{
	if (s[1] != '-')
		return archc_usage_error(cmd, "unknown option '%s'", s);
	const char *names[ARCHC_OPT_MAX];
	for (int i = 0; i < nopts; i++) {
		const archc_opt *o = &opts[i];
		names[i] = o->kind == ARCHC_OPT_INPUT || archc_opt_is_short(o) ? NULL : o->name + 2;
	}
	char word[64];
	size_t n = strcspn(s + 2, "=");
	snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), s + 2);
	const char *near = lang_suggest(word, names, nopts);
	if (near)
		return archc_usage_error(cmd, "unknown option '%s'; did you mean '--%s'?", s, near);
	return archc_usage_error(cmd, "unknown option '%s'", s);
}

/* Appends v to the list of row o, which holds at most argc values. */
static int archc_opt_append(const archc_cmd *cmd, const archc_opt *o, int argc, const char *v)
{
	archc_opt_list *l = o->dst;
	if (o->max > 0 && l->n >= o->max)
		return archc_usage_error(cmd, "option '%s' given more than %lld times", o->name,
					 (long long)o->max);
	if (!l->v) {
		l->v = calloc((size_t)argc, sizeof *l->v);
		if (!l->v) {
			fprintf(stderr, "archc %s: out of memory\n", cmd->name);
			return ARCHC_EUSAGE;
		}
	}
	l->v[l->n++] = v;
	return 0;
}

/* Stores v, the value of row o; `seen` says whether o was given before. */
static int archc_opt_store(const archc_cmd *cmd, const archc_opt *o, int seen, int argc,
			   const char *v)
{
	if (!*v)
		return archc_usage_error(cmd, "option '%s' has an empty value", o->name);
	if (o->kind == ARCHC_OPT_LIST)
		return archc_opt_append(cmd, o, argc, v);
	if (seen)
		return archc_usage_error(cmd, "option '%s' given twice", o->name);
	if (o->kind == ARCHC_OPT_INT)
		return archc_opt_number(cmd, o->name, v, o->min, o->max, o->dst);
	*(const char **)o->dst = v;
	return 0;
}

/* Fills the next input row with s. */
static int archc_opt_input(const archc_cmd *cmd, const archc_opt *opts, int nopts, int *ninputs,
			   const char *s)
{
	const archc_opt *first = NULL;
	int k = 0;
	for (int i = 0; i < nopts; i++) {
		if (opts[i].kind != ARCHC_OPT_INPUT)
			continue;
		if (!first)
			first = &opts[i];
		if (k++ == *ninputs) {
			*(const char **)opts[i].dst = s;
			(*ninputs)++;
			return 0;
		}
	}
	if (k == 0)
		return archc_usage_error(cmd, "takes no input file ('%s')", s);
	if (k == 1)
		return archc_usage_error(cmd, "one input file only ('%s' and '%s')",
					 *(const char **)first->dst, s);
	return archc_usage_error(cmd, "%d input files only ('%s' is one more)", k, s);
}

int archc_opt_parse(const archc_cmd *cmd, int argc, char **argv, const archc_opt *opts,
		    int nopts)
{
	assert(nopts >= 0 && nopts <= ARCHC_OPT_MAX);
	unsigned char seen[ARCHC_OPT_MAX] = { 0 };
	int wanted = 0, ninputs = 0, only_inputs = 0, st = 0;
	for (int i = 0; i < nopts; i++) {
		const archc_opt *o = &opts[i];
		assert(o->dst);
		/* "--name" or "-x"; inputs have no name */
		if (o->kind == ARCHC_OPT_INPUT) {
			assert(!o->name);
		} else {
			assert(o->name && o->name[0] == '-' && o->name[1]);
			assert(!archc_opt_is_short(o) || !o->name[2]);
			assert(strcmp(o->name, "--help") && strcmp(o->name, "-h"));
		}
		wanted += o->kind == ARCHC_OPT_INPUT;
		if (o->kind == ARCHC_OPT_LIST)
			*(archc_opt_list *)o->dst = (archc_opt_list){ NULL, 0 };
	}
	for (int i = 1; i < argc && !st; i++) {
		const char *s = argv[i];
		if (!only_inputs && !strcmp(s, "--")) {
			only_inputs = 1;
			continue;
		}
		if (only_inputs || s[0] != '-' || !s[1]) {
			st = archc_opt_input(cmd, opts, nopts, &ninputs, s);
			continue;
		}
		/* A help flag only where an option may stand: a value or an
		 * input after "--" spelt "-h" is taken as it is. */
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			fputs(cmd->usage, stdout);
			return ARCHC_OPT_HELP;
		}
		const char *v;
		int k = archc_opt_find(opts, nopts, s, &v);
		if (k < 0)
			return archc_opt_unknown(cmd, opts, nopts, s);
		const archc_opt *o = &opts[k];
		if (o->kind == ARCHC_OPT_FLAG) {
			if (v)
				return archc_usage_error(cmd, "option '%s' takes no value",
							 o->name);
			*(int *)o->dst = 1;
			continue;
		}
		if (!v && i + 1 < argc)
			v = argv[++i];
		if (!v)
			return archc_usage_error(cmd, "option '%s' needs a value", o->name);
		st = archc_opt_store(cmd, o, seen[k], argc, v);
		seen[k] = 1;
	}
	if (st)
		return st;
	if (ninputs < wanted) {
		if (ninputs == 0)
			return archc_usage_error(cmd, "no input file");
		return archc_usage_error(cmd, "%d input files needed, %d given", wanted, ninputs);
	}
	return 0;
}

void archc_opt_list_free(archc_opt_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void archc_opt_free(const archc_opt *opts, int nopts)
{
	for (int i = 0; i < nopts; i++)
		if (opts[i].kind == ARCHC_OPT_LIST)
			archc_opt_list_free(opts[i].dst);
}

int archc_opt_number(const archc_cmd *cmd, const char *name, const char *s, int64_t min,
		     int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	int digit = (s[0] >= '0' && s[0] <= '9') ||
		    (min < 0 && s[0] == '-' && s[1] >= '0' && s[1] <= '9');
	long long v = strtoll(s, &end, 10);
	if (!digit || *end || errno == ERANGE || v < min || v > max)
		return archc_usage_error(cmd, "%s '%s' is not an integer from %lld to %lld", name,
					 s, (long long)min, (long long)max);
	*out = v;
	return 0;
}
