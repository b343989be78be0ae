/*
 * archc_compile.c — `archc compile`, `check`, `dump` and `id`: the commands
 * that compile a .arch file (or load a .air file) and write or show the IR.
 */
#include "compiler/archc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/archc_opt.h"

/* FILE.arch -> FILE.air in the current directory. */
static char *archc_default_output(const char *input)
{
	const char *base = strrchr(input, '/');
	base = base ? base + 1 : input;
	size_t n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".arch"))
		n -= 5;
	char *out = malloc(n + 5);
	if (!out)
		return NULL;
	memcpy(out, base, n);
	memcpy(out + n, ".air", 5);
	return out;
}

static int archc_compile_run(int argc, char **argv)
{
	archc_opt_list includes;
	const char *input = NULL, *output = NULL;
	const archc_opt opts[] = {
		{ "-I", ARCHC_OPT_LIST, &includes, 0, 0 },
		{ "-o", ARCHC_OPT_STRING, &output, 0, 0 },
		{ NULL, ARCHC_OPT_INPUT, &input, 0, 0 },
	};
	const int nopts = (int)(sizeof opts / sizeof opts[0]);
	int st = archc_opt_parse(&archc_cmd_compile, argc, argv, opts, nopts);
	ir_module *m = st ? NULL : archc_load(input, includes.v, includes.n);
	archc_opt_free(opts, nopts);
	if (st)
		return st;
	if (!m)
		return ARCHC_EINPUT;
	char *def = output ? NULL : archc_default_output(input);
	const char *out = output ? output : def;
	char err[512];
	if (!out) {
		fputs("archc compile: out of memory\n", stderr);
		st = ARCHC_EINPUT;
	} else if ((st = archc_output_check(&archc_cmd_compile, "-o", out, &input, 1)) ==
			   ARCHC_OK &&
		   ir_binary_save(m, out, err, sizeof err) != 0) {
		fprintf(stderr, "archc compile: %s\n", err);
		st = ARCHC_EINPUT;
	}
	free(def);
	ir_module_free(m);
	return st;
}

const archc_cmd archc_cmd_compile = {
	"compile",
	"check FILE.arch and write its IR to FILE.air",
	"usage: archc compile [-I DIR]... FILE.arch [-o OUT.air]\n"
	"\n"
	"Checks FILE.arch and its imports and writes the binary IR to OUT.air\n"
	"(default: FILE.air in the current directory).  Nothing is written when\n"
	"there are errors.  -I DIR adds DIR to the import search path, before\n"
	"the importing file's directory, $ARCH_PATH and the standard library.\n",
	archc_compile_run,
};

/* check, dump and id share their options and differ in what they print. */
enum { ARCHC_SHOW_NONE, ARCHC_SHOW_DUMP, ARCHC_SHOW_ID };

static int archc_show(const archc_cmd *cmd, int argc, char **argv, int what)
{
	archc_opt_list includes;
	const char *input = NULL;
	const archc_opt opts[] = {
		{ "-I", ARCHC_OPT_LIST, &includes, 0, 0 },
		{ NULL, ARCHC_OPT_INPUT, &input, 0, 0 },
	};
	int st = archc_opt_parse(cmd, argc, argv, opts, 2);
	ir_module *m = st ? NULL : archc_load(input, includes.v, includes.n);
	archc_opt_free(opts, 2);
	if (st)
		return st;
	if (!m)
		return ARCHC_EINPUT;
	if (what == ARCHC_SHOW_DUMP) {
		ir_dump(m, stdout);
	} else if (what == ARCHC_SHOW_ID) {
		char buf[IR_ID_STRLEN + 1];
		ir_id id = ir_module_id(m);
		ir_id_format(id.bytes, buf);
		printf("%s\n", buf);
		for (int i = 0; i < m->ntasks; i++) {
			ir_id_format(m->tasks[i].supernet_key, buf);
			printf("task %s supernet %s\n", m->tasks[i].name, buf);
		}
	}
	ir_module_free(m);
	return fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
}

static int archc_check_run(int argc, char **argv)
{
	return archc_show(&archc_cmd_check, argc, argv, ARCHC_SHOW_NONE);
}

static int archc_dump_run(int argc, char **argv)
{
	return archc_show(&archc_cmd_dump, argc, argv, ARCHC_SHOW_DUMP);
}

static int archc_id_run(int argc, char **argv)
{
	return archc_show(&archc_cmd_id, argc, argv, ARCHC_SHOW_ID);
}

const archc_cmd archc_cmd_check = {
	"check",
	"report every error and warning in FILE.arch",
	"usage: archc check [-I DIR]... FILE.arch\n"
	"\n"
	"Checks FILE.arch and its imports and prints every error, warning and\n"
	"note to standard error as FILE:LINE:COL: error: MESSAGE, with the source\n"
	"line (120 bytes of it around the column when longer) and carets.  Exits 1\n"
	"when there are errors (warnings alone exit 0).\n",
	archc_check_run,
};

const archc_cmd archc_cmd_dump = {
	"dump",
	"print the IR of FILE.arch or FILE.air as text",
	"usage: archc dump [-I DIR]... FILE.arch|FILE.air\n"
	"\n"
	"Prints the IR as stable text: datasets, spaces with their genes and\n"
	"layers, tasks with their recipes, objectives and targets.  A .air file\n"
	"is recognised by its magic number, whatever its name.\n",
	archc_dump_run,
};

const archc_cmd archc_cmd_id = {
	"id",
	"print the IR's identity and each task's supernet key",
	"usage: archc id [-I DIR]... FILE.arch|FILE.air\n"
	"\n"
	"Prints xxh3: and 32 hex digits, the XXH3-128 of the canonical IR: the\n"
	"key under which archd caches it.  Comments, layout and the order of\n"
	"declarations and imports do not change it; any change of meaning does.\n"
	"Then one line per task: 'task NAME supernet xxh3:...', the key of what\n"
	"its trained weights depend on (space, data and recipe).\n",
	archc_id_run,
};
