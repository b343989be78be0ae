/*
 * archc.h — what the archc subcommands share.  Prefix: archc_.
 *
 * Each subcommand lives in compiler/archc_<name>.c and defines one
 * `const archc_cmd archc_cmd_<name>`.  The table in archc.c lists every
 * command of DESIGN §9; those not built yet are weak references, so a
 * helper adding, say, archc_train.c only defines archc_cmd_train and it
 * appears in `archc --help` with no other edit.  A command reads its
 * command line with a table for archc_opt.h (through archc_task.h when it
 * works on one task of a file).
 *
 * Exit codes: 0 success, 1 errors in the input (diagnostics on stderr),
 * 2 usage errors.
 */
#ifndef ARCHD_COMPILER_ARCHC_H
#define ARCHD_COMPILER_ARCHC_H

#include "compiler/ir.h"

enum { ARCHC_OK = 0, ARCHC_EINPUT = 1, ARCHC_EUSAGE = 2 };

typedef struct archc_cmd {
	const char *name;
	const char *summary; /* one line, for `archc --help` */
	const char *usage;   /* the full help of `archc help NAME`, ending in '\n' */
	/* argv[0] is the command's name; returns the exit status, or
	 * ARCHC_OPT_HELP after its --help (archc_opt.h). */
	int (*run)(int argc, char **argv);
} archc_cmd;

extern const archc_cmd archc_cmd_compile;
extern const archc_cmd archc_cmd_check;
extern const archc_cmd archc_cmd_dump;
extern const archc_cmd archc_cmd_id;
extern const archc_cmd archc_cmd_fmt;
/* Defined by other files when they exist. */
extern const archc_cmd archc_cmd_train __attribute__((weak));
extern const archc_cmd archc_cmd_eval __attribute__((weak));
extern const archc_cmd archc_cmd_subnets __attribute__((weak));
extern const archc_cmd archc_cmd_search __attribute__((weak));
extern const archc_cmd archc_cmd_archive __attribute__((weak));
extern const archc_cmd archc_cmd_state __attribute__((weak));
extern const archc_cmd archc_cmd_request __attribute__((weak));
extern const archc_cmd archc_cmd_export __attribute__((weak));
extern const archc_cmd archc_cmd_plot __attribute__((weak));
extern const archc_cmd archc_cmd_similarity __attribute__((weak));
extern const archc_cmd archc_cmd_bench __attribute__((weak));

/* Prints "archc NAME: MESSAGE" and the command's usage line to stderr;
 * returns ARCHC_EUSAGE. */
int archc_usage_error(const archc_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads FILE.air (recognised by its magic, not its name) or compiles
 * FILE.arch with the -I dirs, $ARCH_PATH and the stdlib; prints every
 * diagnostic to stderr.  Returns the module (free with ir_module_free) or
 * NULL after errors. */
ir_module *archc_load(const char *path, const char *const *includes, int nincludes);

/*
 * Checks `out`, a file the command is about to replace atomically (a
 * temporary file renamed over it), before any work is done, so that a
 * refusal costs nothing and leaves everything as it was.  Refuses, after
 * printing why with `opt` (the option that named it, "-o"):
 *  - an output that is the same file as one of inputs[0, ninputs) (NULL
 *    entries are skipped): ARCHC_EUSAGE, as it would replace that input;
 *  - an existing output that is a directory, or not a regular file (a
 *    device such as /dev/null, a FIFO, a socket), which the rename would
 *    fail on or replace: ARCHC_EINPUT.
 * Returns ARCHC_OK otherwise, also when out does not exist yet (a missing
 * directory is reported by the writer).
 */
int archc_output_check(const archc_cmd *cmd, const char *opt, const char *out,
		       const char *const *inputs, int ninputs);

#endif
