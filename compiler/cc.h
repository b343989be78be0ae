/*
 * cc.h — the `.arch` compiler: imports, name resolution, semantic checks and
 * lowering to the IR (compiler/ir.h).  Prefix: cc_.
 *
 * Used by archc and by the daemon, so it keeps no global mutable state, never
 * exits and frees everything it allocates: two threads may compile at once
 * with their own options and diagnostics.
 *
 *     lang_diags d;
 *     cc_options o;
 *     lang_diags_init(&d);
 *     cc_options_init(&o);
 *     o.files = cc_files_new();
 *     ir_module *m = cc_compile_file("fashion.arch", &o, &d);
 *     lang_diags_print(&d, stderr);        (points into o.files)
 *     cc_files_free(o.files);
 *     lang_diags_free(&d);
 *
 * Import search order for `import "P";`: when P is absolute or starts with
 * "./" or "../", only that path (relative to the importing file's
 * directory); otherwise each include dir, the importing file's directory,
 * each directory of arch_path, then stdlib_dir.
 */
#ifndef ARCHD_COMPILER_CC_H
#define ARCHD_COMPILER_CC_H

#include <stddef.h>

#include "compiler/ir.h"
#include "lang/loc.h"

/* The parsed files of one or more compiles, kept alive for as long as the
 * diagnostics that point into them.  Opaque. */
typedef struct cc_files cc_files;

/* A new, empty set; aborts on out-of-memory. */
cc_files *cc_files_new(void);
/* Frees every file in the set; NULL is fine. */
void cc_files_free(cc_files *f);

typedef struct cc_options {
	/* -I directories, searched in this order. */
	const char *const *include_dirs;
	int ninclude_dirs;
	/* Colon-separated directories searched after the importing file's
	 * directory (archc passes $ARCH_PATH); NULL or "" for none. */
	const char *arch_path;
	/* The directory holding std/...; NULL for none. */
	const char *stdlib_dir;
	/* Directory against which an in-memory source (cc_compile_source)
	 * resolves its imports and relative dataset paths; NULL means the
	 * current directory. */
	const char *source_dir;
	/* Receives the parsed files.  When NULL they are freed before the
	 * compile returns and the diagnostics lose their locations (src set
	 * to NULL), so nothing dangles. */
	cc_files *files;
} cc_options;

/* No include dirs, no files, arch_path and stdlib_dir NULL. */
void cc_options_init(cc_options *o);

/* The stdlib directory archc should use: ARCHD_BUILD_STDLIB_DIR when the
 * running program sits in a configured build tree (its directory holds
 * config.status), else the installed ARCHD_STDLIB_DIR.  A static string. */
const char *cc_default_stdlib_dir(void);

/* Compiles the file at path with its imports.  Returns a canonical module
 * (the caller frees it with ir_module_free) or NULL when there were errors;
 * every error, warning and note is appended to d.  Warnings alone do not
 * fail the compile. */
ir_module *cc_compile_file(const char *path, const cc_options *o, lang_diags *d);

/* The same for a source in memory; name is shown in diagnostics.  text need
 * not be NUL-terminated. */
ir_module *cc_compile_source(const char *name, const char *text, size_t len,
			     const cc_options *o, lang_diags *d);

#endif
