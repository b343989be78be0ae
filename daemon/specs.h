/*
 * specs.h — the spec cache: compiled `.arch` sources and uploaded `.air`
 * files, by IR id, in memory and in the state dir.  Prefix: dm_specs_.
 *
 * A spec is an ir_module and its id (ir_module_id).  Each is stored once,
 * content-addressed, as <state>/ir/<id>.air (runtime/statedir.h), written
 * atomically by a worker thread.  An upload is also indexed by a hash of
 * what was sent (the bytes, and for a source the stdlib and include dirs
 * it was compiled against) in <state>/sources/<hash>, holding the id: the
 * same upload is then answered from the cache, after a restart too, without
 * compiling again.  Imported files are assumed not to change under a given
 * set of include dirs; a changed import is seen by changing the upload (or
 * clearing <state>/sources).
 *
 * Compiles run on the worker pool; identical uploads in flight at the same
 * time share one compile.  Everything here is called on the loop thread;
 * results come back there too.
 *
 * Memory is bounded: past dm_specs_set_max specs, the least recently used
 * one nobody holds (dm_specs_hold) leaves memory; the state dir still has
 * it, and the next request for it loads it again.  A dm_spec pointer
 * returned here is valid until the next call into the cache, unless held.
 */
#ifndef ARCHD_DAEMON_SPECS_H
#define ARCHD_DAEMON_SPECS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "compiler/ir.h"
#include "daemon/metrics.h"
#include "daemon/workers.h"

typedef struct dm_spec {
	uint8_t id[16];
	char id_str[IR_ID_STRLEN + 1]; /* "xxh3:..." */
	ir_module *m;                  /* owned by the cache */
	atomic_int holds;              /* dm_specs_hold minus dm_specs_release */
} dm_spec;

/* What an upload came to.  Pointers are valid during the callback only. */
typedef struct dm_specs_result {
	int status;           /* 201 stored now, 200 already known, 400 bad .air,
				 422 compile errors, 503 out of memory */
	int shared;           /* this request joined another one's compile */
	const dm_spec *spec;  /* 200 and 201 */
	json_t *diagnostics;  /* 422: [{"line","column","severity","message"}] */
	const char *text;     /* 422: the diagnostics as archc prints them;
				 400 and 503: the reason */
} dm_specs_result;

typedef void dm_specs_done_fn(void *arg, const dm_specs_result *r);

typedef struct dm_specs dm_specs;

/*
 * A cache over the state dir at root (created if missing), compiling on
 * workers and counting in metrics (both borrowed; they must outlive the
 * cache).  Returns NULL with a message naming the directory in err.
 */
dm_specs *dm_specs_new(const char *root, dm_workers *workers, dm_metrics *metrics, char *err,
		       size_t errlen);

/*
 * Sets where imports are found (copied): stdlib_dir (NULL: the compiler's
 * default) and include dirs, in search order.  Compiles already running
 * keep the old ones.  Returns 0, or -1 on out-of-memory (nothing changed).
 */
int dm_specs_configure(dm_specs *s, const char *stdlib_dir, char *const *include_dirs, int n);

/*
 * Takes an upload: len bytes of `.arch` source (name shown in diagnostics)
 * or of an `.air` file (told apart by its magic).  Returns
 *    0  answered from the cache: done was called before the return;
 *    1  compiling (or joined a compile in flight): done will be called;
 *   -1  the worker queue is full (the caller answers 503);
 *   -2  out of memory.
 * body is copied.
 */
int dm_specs_submit(dm_specs *s, const char *name, const void *body, size_t len,
		    dm_specs_done_fn *done, void *arg);

/* The spec with this id, from memory or else the state dir; NULL when
 * neither has it (or the stored file is damaged, which is logged). */
const dm_spec *dm_specs_get(dm_specs *s, const uint8_t id[16]);

/*
 * The spec as the API shows it: {"id","tasks":[{"name","supernet","state"}],
 * "targets":[{"name","constraints":[{"metric","cmp","value"}]}]}.  A task's
 * state is "untrained", or "checkpointed" when its supernet has a
 * checkpoint in the state dir.  Returns a new reference, or NULL on
 * out-of-memory.
 */
json_t *dm_specs_json(dm_specs *s, const dm_spec *spec);

/* Keeps spec in memory, unchanged, until a matching dm_specs_release
 * (for a training job that reads its module on another thread).  Hold on
 * the loop thread; release from any thread. */
void dm_specs_hold(const dm_spec *spec);
void dm_specs_release(const dm_spec *spec);

/* At most max specs stay in memory (at least 1; held ones may exceed it).
 * The default is DM_SPECS_DEFAULT_MAX. */
#define DM_SPECS_DEFAULT_MAX 1024
void dm_specs_set_max(dm_specs *s, unsigned max);

/* Specs held in memory; compiles queued or running. */
unsigned dm_specs_count(const dm_specs *s);
unsigned dm_specs_in_flight(const dm_specs *s);

/* Frees the cache.  Call after dm_workers_free, which finishes every
 * compile; NULL is fine. */
void dm_specs_free(dm_specs *s);

#endif
