/*
 * archc_fmt.c — `archc fmt [-w] FILE.arch`: prints the canonical layout,
 * or rewrites the file in place atomically (temp file in the same
 * directory, fsync, rename), refusing a file with syntax errors.
 */
#define _XOPEN_SOURCE 700 /* realpath */

#include "compiler/archc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/archc_opt.h"
#include "lang/lang.h"

static int archc_fmt_write(const ast_file *f, const char *path)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (!tmp) {
		fputs("archc fmt: out of memory\n", stderr);
		return ARCHC_EINPUT;
	}
	snprintf(tmp, n + 16, "%s.fmt-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "archc fmt: cannot create a file beside '%s': %s\n", path,
			strerror(errno));
		free(tmp);
		return ARCHC_EINPUT;
	}
	struct stat st;
	if (stat(path, &st) == 0)
		fchmod(fd, st.st_mode & 07777);
	FILE *out = fdopen(fd, "w");
	int bad = !out;
	if (out) {
		lang_fmt(f, out);
		bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
		bad |= fclose(out) != 0;
	} else {
		close(fd);
	}
	if (bad || rename(tmp, path) != 0) {
		fprintf(stderr, "archc fmt: cannot write '%s': %s\n", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return ARCHC_EINPUT;
	}
	free(tmp);
	return ARCHC_OK;
}

static int archc_fmt_run(int argc, char **argv)
{
	const char *input = NULL;
	int write = 0;
	const archc_opt opts[] = {
		{ "-w", ARCHC_OPT_FLAG, &write, 0, 0 },
		{ NULL, ARCHC_OPT_INPUT, &input, 0, 0 },
	};
	int st = archc_opt_parse(&archc_cmd_fmt, argc, argv, opts, 2);
	if (st)
		return st;
	/* -w rewrites the file a symlink names, not the link */
	struct stat in_st;
	char *real = realpath(input, NULL);
	const char *why = NULL;
	if (!real || stat(real, &in_st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(in_st.st_mode))
		why = "not a regular file";
	lang_source *src = why ? NULL : lang_source_read(real);
	if (!src) {
		fprintf(stderr, "archc fmt: cannot read '%s': %s\n", input, why ? why : strerror(errno));
		free(real);
		return ARCHC_EINPUT;
	}
	char *shown = strdup(input); /* diagnostics name the file as given */
	if (shown) {
		free(src->name);
		src->name = shown;
	}
	lang_diags d;
	lang_diags_init(&d);
	ast_file *f = lang_parse(src, &d);
	lang_diags_print(&d, stderr);
	if (d.nerrors) {
		fprintf(stderr, "archc fmt: '%s' has syntax errors; not formatted\n", input);
		st = ARCHC_EINPUT;
	} else if (write) {
		st = archc_fmt_write(f, real);
	} else {
		lang_fmt(f, stdout);
		st = fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
	}
	ast_file_free(f);
	lang_diags_free(&d);
	free(real);
	return st;
}

const archc_cmd archc_cmd_fmt = {
	"fmt",
	"print FILE.arch in the canonical layout (-w: rewrite it)",
	"usage: archc fmt [-w] FILE.arch\n"
	"\n"
	"Prints FILE.arch in the canonical layout: 4-space indents, one statement\n"
	"per line, comments kept.  With -w the file is rewritten in place\n"
	"(atomically); a file with syntax errors is refused.  Formatting never\n"
	"changes the file's id.\n",
	archc_fmt_run,
};
