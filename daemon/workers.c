/*
 * workers.c — a fixed pool of threads behind a queue, results posted back
 * to the event loop through a pipe (see workers.h).  A thread takes the
 * first queued job whose lane no running job holds; the lanes held are at
 * most one per thread, so the scan is short.
 */
#include "daemon/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/log.h"

typedef struct job {
	struct job *next;
	uint64_t lane; /* 0: none */
	dm_work_fn *work;
	dm_done_fn *done;
	void *arg;
} job;

/* A FIFO of jobs. */
typedef struct job_list {
	job *head, *tail;
	unsigned n;
} job_list;

struct dm_workers {
	struct event_base *base;
	struct event *wake_ev;
	int wake_rd, wake_wr;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	job_list todo; /* guarded by lock */
	job_list finished; /* guarded by lock */
	int stopping;  /* guarded by lock */
	int wake_pending; /* a byte is in the pipe; guarded by lock */
	unsigned running; /* guarded by lock */
	uint64_t completed; /* guarded by lock */
	uint64_t *busy; /* the lanes of running jobs, nbusy of nthreads; guarded by lock */
	unsigned nbusy;

	/* Loop thread only. */
	unsigned max_queued;
	uint64_t submitted, rejected;

	unsigned nthreads;
	pthread_t *threads;
};

static void list_push(job_list *l, job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static job *list_pop(job_list *l)
{
	job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
	}
	return j;
}

static int lane_busy(const dm_workers *w, uint64_t lane)
{
	for (unsigned i = 0; i < w->nbusy; i++)
		if (w->busy[i] == lane)
			return 1;
	return 0;
}

/* Unlinks and returns the first queued job free to run (its lane, if any,
 * taken), or NULL when there is none; call with lock held. */
static job *take_runnable(dm_workers *w)
{
	job *prev = NULL;
	for (job *j = w->todo.head; j != NULL; prev = j, j = j->next) {
		if (j->lane != 0 && lane_busy(w, j->lane))
			continue;
		if (prev != NULL)
			prev->next = j->next;
		else
			w->todo.head = j->next;
		if (w->todo.tail == j)
			w->todo.tail = prev;
		w->todo.n--;
		if (j->lane != 0)
			w->busy[w->nbusy++] = j->lane;
		return j;
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	dm_workers *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		job *j;
		while ((j = take_runnable(w)) == NULL && !(w->stopping && w->todo.n == 0))
			pthread_cond_wait(&w->cond, &w->lock);
		if (j == NULL)
			break; /* stopping and nothing left */
		w->running++;
		pthread_mutex_unlock(&w->lock);

		j->work(j->arg);

		pthread_mutex_lock(&w->lock);
		if (j->lane != 0) {
			for (unsigned i = 0; i < w->nbusy; i++)
				if (w->busy[i] == j->lane) {
					w->busy[i] = w->busy[--w->nbusy];
					break;
				}
		}
		/* the lane's next job may wait; when stopping, threads asleep
		 * on an empty queue are to leave */
		if ((j->lane != 0 && w->todo.n > 0) || w->stopping)
			pthread_cond_broadcast(&w->cond);
		list_push(&w->finished, j);
		w->completed++;
		if (!w->wake_pending) {
			w->wake_pending = 1;
			/* The pipe holds at most one byte, so this cannot block. */
			ssize_t r;
			do
				r = write(w->wake_wr, "j", 1);
			while (r < 0 && errno == EINTR);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Runs done() for every finished job; loop thread. */
static void drain_finished(dm_workers *w)
{
	pthread_mutex_lock(&w->lock);
	job_list l = w->finished;
	memset(&w->finished, 0, sizeof w->finished);
	w->wake_pending = 0;
	char buf[16];
	while (read(w->wake_rd, buf, sizeof buf) > 0)
		;
	pthread_mutex_unlock(&w->lock);
	job *j;
	while ((j = list_pop(&l)) != NULL) {
		j->done(j->arg);
		pthread_mutex_lock(&w->lock);
		w->running--;
		pthread_mutex_unlock(&w->lock);
		free(j);
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_finished(arg);
}

dm_workers *dm_workers_new(struct event_base *base, unsigned nthreads, unsigned max_queued, char *err,
			   size_t errlen)
{
	dm_workers *w = calloc(1, sizeof *w);
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->base = base;
	w->max_queued = max_queued;
	w->wake_rd = w->wake_wr = -1;
	int fds[2];
	if (pipe(fds) != 0) {
		snprintf(err, errlen, "cannot create the worker pipe: %s", strerror(errno));
		free(w);
		return NULL;
	}
	w->wake_rd = fds[0];
	w->wake_wr = fds[1];
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "cannot set up the worker pipe: %s", strerror(errno));
			close(fds[0]);
			close(fds[1]);
			free(w);
			return NULL;
		}
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->wake_ev = event_new(base, w->wake_rd, EV_READ | EV_PERSIST, on_wake, w);
	w->threads = calloc(nthreads, sizeof *w->threads);
	w->busy = calloc(nthreads > 0 ? nthreads : 1, sizeof *w->busy);
	if (w->wake_ev == NULL || w->threads == NULL || w->busy == NULL ||
	    event_add(w->wake_ev, NULL) != 0) {
		snprintf(err, errlen, "out of memory");
		dm_workers_free(w);
		return NULL;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (rc != 0) {
			snprintf(err, errlen, "cannot start worker thread %u: %s", i, strerror(rc));
			dm_workers_free(w);
			return NULL;
		}
		w->nthreads++;
	}
	return w;
}

int dm_workers_submit(dm_workers *w, dm_work_fn *work, dm_done_fn *done, void *arg)
{
	return dm_workers_submit_lane(w, 0, work, done, arg);
}

int dm_workers_submit_lane(dm_workers *w, uint64_t lane, dm_work_fn *work, dm_done_fn *done,
			   void *arg)
{
	pthread_mutex_lock(&w->lock);
	unsigned queued = w->todo.n;
	int stopping = w->stopping;
	pthread_mutex_unlock(&w->lock);
	if (stopping || queued >= w->max_queued) {
		w->rejected++;
		return -1;
	}
	job *j = malloc(sizeof *j);
	if (j == NULL)
		return -2;
	j->lane = lane;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	list_push(&w->todo, j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->submitted++;
	return 0;
}

void dm_workers_set_max_queued(dm_workers *w, unsigned max_queued)
{
	w->max_queued = max_queued;
}

void dm_workers_stats_get(dm_workers *w, dm_workers_stats *st)
{
	pthread_mutex_lock(&w->lock);
	st->queued = w->todo.n;
	st->running = w->running;
	st->completed = w->completed;
	pthread_mutex_unlock(&w->lock);
	st->threads = w->nthreads;
	st->submitted = w->submitted;
	st->rejected = w->rejected;
}

void dm_workers_free(dm_workers *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	drain_finished(w);
	if (w->wake_ev)
		event_free(w->wake_ev);
	close(w->wake_rd);
	close(w->wake_wr);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w->busy);
	free(w);
}
