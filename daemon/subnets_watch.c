/*
 * subnets_watch.c — noticing a checkpoint replaced outside archd.
 *
 * What the loop holds in memory (answers by request and by id, archives)
 * was measured on the checkpoint in a supernet's place at the time.  A
 * supernet trained afresh by a job of this daemon is forgotten through the
 * jobs' counter (server.c); one trained afresh by `archc train`, or a
 * checkpoint restored from a backup, changes the file only.  So each
 * supernet whose measurements the loop keeps is watched by its checkpoint's
 * stamp (rt_answer_stamp: device, inode, size, modification time and the
 * closing checksum; an atomic rename or an overwrite changes them), looked
 * at again at most once a second, before a /v1/subnets request is
 * answered.  See subnets_priv.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	w->stamp = *st;
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
		if (rt_state_checkpoint_path(s->root, s->watched[i].key, path, sizeof path) != 0 ||
		    rt_answer_stamp_current(path, &s->watched[i].stamp))
			continue;
		rt_state_hex(s->watched[i].key, hex);
		dm_log(DM_LOG_INFO,
		       "supernet %s: its checkpoint %s outside archd (%s): the answers, subnets and "
		       "archives held in memory are dropped",
		       hex, access(path, F_OK) == 0 ? "was replaced" : "went", path);
		dm_subnets_forget(s); /* clears the watch list too */
		return;
	}
}
