/*
 * archc_task.h — what the commands working on one task of a file share
 * (`archc subnets`, `eval`, `search`, `archive`, `export`, `train`): their
 * command line (-I DIR, --task T and one input, on archc_opt.h), strict
 * number parsing, finding the task, and loading its trained supernet.
 * Prefix: archc_task_.
 *
 * archc_task.c defines no command: it is linked into archc with the
 * archc_*.c files and used by those that include this header.
 */
#ifndef ARCHD_COMPILER_ARCHC_TASK_H
#define ARCHD_COMPILER_ARCHC_TASK_H

#include <stdint.h>

#include "compiler/archc.h"
#include "compiler/archc_opt.h"
#include "compiler/ir.h"
#include "runtime/checkpoint.h"
#include "runtime/data.h"
#include "runtime/extract.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"

/* A long option taking one value, as "--name VALUE" or "--name=VALUE";
 * the value is stored in *value (pointing into argv).  A name of one
 * letter is a short option instead: "-o VALUE" or "-oVALUE". */
typedef struct archc_task_opt {
	const char *name;
	const char **value;
} archc_task_opt;

typedef struct archc_task_args {
	const char **includes; /* -I DIR, in order; NULL when none */
	int nincludes;
	const char *input;
	const char *task; /* --task, NULL when not given */
} archc_task_args;

/*
 * Parses argv[1..]: -I DIR, --task T, the options in opts[0, nopts), and
 * one input file, as archc_opt_parse does (the values of opts are set to
 * NULL first).  Returns 0, or ARCHC_EUSAGE after printing the problem
 * (unknown option, missing value, repeated option, no or two inputs).
 * Free with archc_task_args_free, also after an error.
 */
int archc_task_parse(const archc_cmd *cmd, int argc, char **argv,
		     const archc_task_opt *opts, int nopts, archc_task_args *a);

/*
 * The same with the command's own rows of any kind but ARCHC_OPT_INPUT
 * (flags, repeatable options, ranged integers; see archc_opt.h), whose
 * destinations the caller has set to their defaults.  The lists of
 * repeatable rows are freed with archc_opt_free(opts, nopts), the rest
 * with archc_task_args_free, also after an error.
 */
int archc_task_parse_opts(const archc_cmd *cmd, int argc, char **argv, const archc_opt *opts,
			  int nopts, archc_task_args *a);
void archc_task_args_free(archc_task_args *a);

/*
 * Loads the input (archc_load) and finds the task named by --task, or the
 * file's only task when --task is absent.  Returns the module (free with
 * ir_module_free) and the task's index in *task, or NULL after printing
 * why (diagnostics, no such task with the list of tasks, several tasks and
 * no --task); *status is then ARCHC_EINPUT.
 */
ir_module *archc_task_load(const archc_cmd *cmd, const archc_task_args *a,
			   int *task, int *status);

/*
 * Parses s, the value of option --opt, as a decimal integer in [min, max]
 * (archc_opt_number).  Returns 0 with *out set, or ARCHC_EUSAGE after
 * printing the problem.
 */
int archc_task_number(const archc_cmd *cmd, const char *opt, const char *s,
		      int64_t min, int64_t max, int64_t *out);

/* The batch a supernet is built for when the recipe names none. */
#define ARCHC_TASK_BATCH 128

/* archc_task_supernet: the state dir has no checkpoint for the task. */
enum { ARCHC_TASK_UNTRAINED = -1 };

/*
 * Loads the supernet `archc train` left for task t of m in the state dir
 * (`state`, NULL for the default; statedir.h) under the task's supernet
 * key, or with `alone` the one `archc train --subnet` left when it trained
 * that subnet alone (under rt_train_key's key: the same supernet, of which
 * only that subnet was trained); then the task's data.  Returns 0 with
 * *sn, *data (free with sn_supernet_free and rt_data_free), *pos, where
 * training stopped, and key, the checkpoint's (a model cut from it
 * records it); ARCHC_TASK_UNTRAINED after printing that there is no
 * checkpoint (the caller says how to train one); or ARCHC_EINPUT after
 * printing why.  The checkpoint is read before any data, so a refused one
 * costs no loading.
 */
int archc_task_supernet(const archc_cmd *cmd, const ir_module *m, int t, const char *state,
			const sn_subnet *alone, sn_supernet **sn, rt_data **data,
			rt_ckpt_state *pos, uint8_t key[16]);

/*
 * The training images a subnet's batch norm is recalibrated on before it
 * is measured or cut out: `recal` when given (>= 0), else none for a
 * subnet trained alone (its running statistics are its own), else the
 * recipe's calib.
 */
int archc_task_recal_images(const ir_task *task, int64_t recal, int alone);

/*
 * Checks an output of a command working on task t of m (archc_output_check
 * with opt, the option that named it) before any work: refuses the input
 * file, and any file in a supernet's directory of the state dir (`state`,
 * NULL for the default), which holds its checkpoint, archive and
 * predictor: the commands promise to leave the state dir as it is.
 * Returns ARCHC_OK, or the status after printing why.
 */
int archc_task_output_check(const archc_cmd *cmd, const char *opt, const char *out,
			    const archc_task_args *a, const ir_module *m, int t, const char *state);

/*
 * Records in a model cut from task t's supernet how raw values of its data
 * set's files become inputs: IDX bytes are scaled to [0, 1] before the
 * data set's normalisation (data.h), so the raw mean and deviation are 255
 * times larger.
 */
void archc_task_model_norm(rt_model *model, const rt_data *data, const ir_dataset *ds);

#endif
