/*
 * archc_opt.h — the one command-line parser of every archc command: a
 * table of options and inputs, parsed in one pass.  Prefix: archc_opt_.
 *
 * Syntax, the same for every command:
 *   --name VALUE, --name=VALUE   a long option with a value
 *   -o VALUE, -oVALUE            a short option (one letter) with a value
 *   --json, -w                   a flag
 *   FILE                         an input, anywhere among the options
 *   --help, -h                   prints the command's usage to stdout
 *   --                           ends the options: the rest are inputs
 * "-" alone is an input.  A value is the next argument even when it starts
 * with '-' (so `--recal -3` is refused as a number, not as an option).
 *
 * The parser writes only through the pointers in the table; the caller
 * sets the defaults before calling it.  What it allocates (the values of
 * repeatable options) is freed by archc_opt_free.
 */
#ifndef ARCHD_COMPILER_ARCHC_OPT_H
#define ARCHD_COMPILER_ARCHC_OPT_H

#include <stdint.h>

#include "compiler/archc.h"

/* What archc_opt_parse returns after printing the command's help: the
 * command returns it as its status and main exits 0.  Not an exit code. */
enum { ARCHC_OPT_HELP = -1 };

typedef enum archc_opt_kind {
	ARCHC_OPT_FLAG,   /* no value; *(int *)dst = 1; may be repeated */
	ARCHC_OPT_STRING, /* one value, at most once; *(const char **)dst */
	ARCHC_OPT_LIST,   /* one value each time; appended to *(archc_opt_list *)dst */
	ARCHC_OPT_INT,    /* a decimal integer in [min, max], at most once; *(int64_t *)dst */
	ARCHC_OPT_INPUT,  /* the next positional argument; *(const char **)dst */
} archc_opt_kind;

/* The values of a repeatable option, in the order given; v points into
 * argv and is owned by the list (archc_opt_free). */
typedef struct archc_opt_list {
	const char **v;
	int n;
} archc_opt_list;

/*
 * One row of a command's table.  `name` is the option as typed, with its
 * dashes: "--task", "--c", "-o", "-I"; one dash means one letter, which
 * may carry its value attached ("-Idir").  ARCHC_OPT_INPUT rows have no
 * name and are filled in table order by the positional arguments, all
 * required.  `min` and `max` bound an ARCHC_OPT_INT's value, and the
 * number of values of an ARCHC_OPT_LIST when max > 0.
 */
typedef struct archc_opt {
	const char *name;
	archc_opt_kind kind;
	void *dst;
	int64_t min, max;
} archc_opt;

/*
 * Parses argv[1..] (argv[0] is the command's name) against
 * opts[0, nopts).  Returns 0; ARCHC_OPT_HELP after printing cmd->usage to
 * stdout for a --help or -h where an option may stand (not as the value of
 * an option, nor after "--") and no error came before it; or ARCHC_EUSAGE
 * after printing the problem and the command's usage line
 * (archc_usage_error): an unknown option (with the nearest known one), an
 * option without its value or with an empty one, a value given to a flag,
 * an option that takes one value given twice, a number out of its range,
 * too many or too few values of a repeatable option, no input or one too
 * many.  Call archc_opt_free afterwards, also after help or an error.
 */
int archc_opt_parse(const archc_cmd *cmd, int argc, char **argv, const archc_opt *opts,
		    int nopts);

/* Frees the lists of the ARCHC_OPT_LIST rows and empties them. */
void archc_opt_free(const archc_opt *opts, int nopts);
void archc_opt_list_free(archc_opt_list *l);

/*
 * Parses s, the value of option `name` (as typed: "--count"), as a
 * decimal integer in [min, max]: no sign besides a leading '-' when
 * min < 0, no trailing junk, no overflow.  Returns 0 with *out set, or
 * ARCHC_EUSAGE after printing "NAME 'S' is not an integer from MIN to
 * MAX".
 */
int archc_opt_number(const archc_cmd *cmd, const char *name, const char *s, int64_t min,
		     int64_t max, int64_t *out);

#endif
