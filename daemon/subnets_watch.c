/*
 * subnets_watch.c — noticing a checkpoint replaced outside archd.
 *
 * What the loop holds in memory (answers by request and by id, archives)
 * was measured on the checkpoint in a supernet's place at the time.  A
 * supernet trained afresh by a job of this daemon is forgotten through the
 * jobs' counter (server.c); one trained afresh by `archc train`, or a
 * checkpoint restored from a backup, changes the file only.  So each
 * supernet whose measurements the loop keeps is watched by its checkpoint's
 * stat stamp (device, inode, size, modification time: an atomic rename or
 * an overwrite changes one of them), looked at again at most once a
 * second, before a /v1/subnets request is answered.  See subnets_priv.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/log.h"
#include "daemon/subnets_priv.h"

/* Looked at no more often than this. */
#define WATCH_PERIOD_NS 1000000000LL

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The stamp of the checkpoint at `path` (present 0 when there is none). */
static void file_stamp(const char *path, watched *w)
{
	struct stat st;
	w->present = stat(path, &st) == 0;
	w->dev = w->present ? (unsigned long long)st.st_dev : 0;
	w->ino = w->present ? (unsigned long long)st.st_ino : 0;
	w->size = w->present ? (unsigned long long)st.st_size : 0;
	w->mtime_s = w->present ? (long long)st.st_mtim.tv_sec : 0;
	w->mtime_ns = w->present ? (long long)st.st_mtim.tv_nsec : 0;
}

static int same_file(const watched *a, const watched *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns;
}

void dm_subnets_watch(dm_subnets *s, const uint8_t key[16], const rt_answer_stamp *st)
{
	if (!st->present)
		return; /* nothing known to compare with: not kept (done_answer) */
	for (int i = 0; i < s->nwatched; i++)
		if (memcmp(s->watched[i].key, key, 16) == 0)
			return; /* the first stamp stands: anything newer is checked against it */
	if (s->nwatched == s->capwatched) {
		int cap = s->capwatched ? 2 * s->capwatched : 8;
		watched *w = realloc(s->watched, (size_t)cap * sizeof *w);
		if (w == NULL)
			return; /* unwatched: only SIGHUP then drops it */
		s->watched = w;
		s->capwatched = cap;
	}
	watched *w = &s->watched[s->nwatched++];
	memcpy(w->key, key, 16);
	w->present = 1;
	w->dev = st->dev;
	w->ino = st->ino;
	w->size = st->size;
	w->mtime_s = st->mtime_s;
	w->mtime_ns = st->mtime_ns;
}

void dm_subnets_watch_clear(dm_subnets *s)
{
	s->nwatched = 0;
}

void dm_subnets_check(dm_subnets *s)
{
	long long t = now_ns();
	if (s->nwatched == 0 || (s->watch_checked != 0 && t - s->watch_checked < WATCH_PERIOD_NS))
		return;
	s->watch_checked = t;
	for (int i = 0; i < s->nwatched; i++) {
		char path[RT_STATE_PATH_MAX], hex[33];
		watched now;
		if (rt_state_checkpoint_path(s->root, s->watched[i].key, path, sizeof path) != 0)
			continue;
		file_stamp(path, &now);
		if (same_file(&now, &s->watched[i]))
			continue;
		rt_state_hex(s->watched[i].key, hex);
		dm_log(DM_LOG_INFO,
		       "supernet %s: its checkpoint %s outside archd (%s): the answers, subnets and "
		       "archives held in memory are dropped",
		       hex, now.present ? "was replaced" : "went", path);
		dm_subnets_forget(s); /* clears the watch list too */
		return;
	}
}
