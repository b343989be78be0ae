/*
 * archc.c — the archc command line: the table of subcommands, --help,
 * --version, and the helpers they share (usage errors, loading a .arch or
 * .air input).  Each command's options are a table for archc_opt.h.
 */
#include "compiler/archc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler/archc_opt.h"
#include "compiler/cc.h"
#include "lang/lang.h"
#include "runtime/ops.h"
#include "runtime/statedir.h"

/* Every command of DESIGN §9 in the order `archc --help` lists them; a
 * weak one not linked in is NULL and skipped. */
static const archc_cmd *const archc_cmds[] = {
	&archc_cmd_compile, &archc_cmd_check, &archc_cmd_dump,    &archc_cmd_id,
	&archc_cmd_fmt,     &archc_cmd_train, &archc_cmd_eval,    &archc_cmd_subnets,
	&archc_cmd_search,  &archc_cmd_archive, &archc_cmd_request, &archc_cmd_export,
	&archc_cmd_plot,    &archc_cmd_state,   &archc_cmd_similarity, &archc_cmd_bench,
};
#define ARCHC_NCMDS ((int)(sizeof archc_cmds / sizeof archc_cmds[0]))

static const archc_cmd *archc_find(const char *name)
{
	for (int i = 0; i < ARCHC_NCMDS; i++)
		if (archc_cmds[i] && !strcmp(archc_cmds[i]->name, name))
			return archc_cmds[i];
	return NULL;
}

static void archc_help(FILE *out)
{
	fputs("usage: archc COMMAND [OPTIONS] FILE\n"
	      "       archc --help | --version | help COMMAND\n\n"
	      "Compiles and inspects .arch files (see arch(5)).\n\nCommands:\n",
	      out);
	for (int i = 0; i < ARCHC_NCMDS; i++)
		if (archc_cmds[i])
			fprintf(out, "  %-11s %s\n", archc_cmds[i]->name, archc_cmds[i]->summary);
	fputs("\nExit status: 0 success, 1 errors in the input, 2 usage errors.\n"
	      "Run 'archc help COMMAND' for a command's options.\n",
	      out);
}

static int archc_unknown(const char *name)
{
	const char *names[32];
	int n = 0;
	for (int i = 0; i < ARCHC_NCMDS; i++)
		if (archc_cmds[i])
			names[n++] = archc_cmds[i]->name;
	const char *s = lang_suggest(name, names, n);
	if (s)
		fprintf(stderr, "archc: unknown command '%s'; did you mean '%s'?\n", name, s);
	else
		fprintf(stderr, "archc: unknown command '%s'\n", name);
	fputs("Run 'archc --help' for the list of commands.\n", stderr);
	return ARCHC_EUSAGE;
}

int archc_usage_error(const archc_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "archc %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	size_t n = strcspn(cmd->usage, "\n");
	fprintf(stderr, "%.*s\n", (int)n, cmd->usage);
	return ARCHC_EUSAGE;
}

/* Reads up to n bytes from the start of path; returns the count, or -1
 * (anything but a regular file: the compiler then says why). */
static long archc_head(const char *path, uint8_t *buf, size_t n)
{
	const char *why;
	FILE *f = rt_state_fopen(path, &why);
	if (!f)
		return -1;
	size_t k = fread(buf, 1, n, f);
	fclose(f);
	return (long)k;
}

ir_module *archc_load(const char *path, const char *const *includes, int nincludes)
{
	uint8_t head[64];
	long n = archc_head(path, head, sizeof head);
	if (n > 0 && ir_binary_is_air(head, (size_t)n)) {
		char err[512];
		ir_module *m = ir_binary_load(path, err, sizeof err);
		if (!m)
			fprintf(stderr, "error: %s\n", err);
		return m;
	}
	cc_options o;
	cc_options_init(&o);
	o.include_dirs = includes;
	o.ninclude_dirs = nincludes;
	o.arch_path = getenv("ARCH_PATH");
	o.stdlib_dir = cc_default_stdlib_dir();
	o.files = cc_files_new();
	lang_diags d;
	lang_diags_init(&d);
	ir_module *m = cc_compile_file(path, &o, &d);
	lang_diags_print(&d, stderr);
	lang_diags_free(&d);
	cc_files_free(o.files);
	return m;
}

int archc_output_check(const archc_cmd *cmd, const char *opt, const char *out,
		       const char *const *inputs, int ninputs)
{
	struct stat os, is;
	if (stat(out, &os) != 0)
		return ARCHC_OK;
	if (S_ISDIR(os.st_mode)) {
		fprintf(stderr, "archc %s: %s '%s' is a directory; name a file\n", cmd->name, opt,
			out);
		return ARCHC_EINPUT;
	}
	if (!S_ISREG(os.st_mode)) {
		fprintf(stderr,
			"archc %s: %s '%s' is not a regular file (a device, FIFO or socket), which "
			"would be replaced rather than written; name a file\n",
			cmd->name, opt, out);
		return ARCHC_EINPUT;
	}
	for (int i = 0; i < ninputs; i++) {
		if (!inputs[i] || stat(inputs[i], &is) != 0)
			continue;
		if (is.st_dev == os.st_dev && is.st_ino == os.st_ino) {
			fprintf(stderr,
				"archc %s: the output '%s' is the input file '%s'; name another with "
				"%s\n",
				cmd->name, out, inputs[i], opt);
			return ARCHC_EUSAGE;
		}
	}
	return ARCHC_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		archc_help(stderr);
		return ARCHC_EUSAGE;
	}
	const char *c = argv[1];
	if (!strcmp(c, "--help") || !strcmp(c, "-h")) {
		archc_help(stdout);
		return ARCHC_OK;
	}
	if (!strcmp(c, "--version") || !strcmp(c, "-V")) {
		printf("archc (archd) %s\n", ARCHD_VERSION);
		printf("inference kernels: %s\n", rt_infer_isa());
		return ARCHC_OK;
	}
	if (!strcmp(c, "help")) {
		if (argc < 3) {
			archc_help(stdout);
			return ARCHC_OK;
		}
		const archc_cmd *cmd = archc_find(argv[2]);
		if (!cmd)
			return archc_unknown(argv[2]);
		fputs(cmd->usage, stdout);
		return ARCHC_OK;
	}
	if (c[0] == '-') {
		fprintf(stderr, "archc: unknown option '%s'\nRun 'archc --help' for usage.\n", c);
		return ARCHC_EUSAGE;
	}
	const archc_cmd *cmd = archc_find(c);
	if (!cmd)
		return archc_unknown(c);
	/* `archc CMD --help` is the command's parser's to recognise: only it
	 * knows that in `-o -h` the "-h" is a file name. */
	int st = cmd->run(argc - 1, argv + 1);
	return st == ARCHC_OPT_HELP ? ARCHC_OK : st;
}
