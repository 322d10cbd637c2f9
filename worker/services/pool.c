/*
 * pool — see pool.h. One mutex, two lists (queued, finished), one condition
 * variable for the threads and an eventfd for the loop.
 */
#include "worker/services/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <event2/event.h>

#define POOL_MAX_THREADS 64

struct job {
	struct job *next;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct job *queued, **queued_tail;
	struct job *finished;          /* any order: done() calls are independent */
	size_t nqueued, pending, max_queued;
	bool stopping;
	pthread_t threads[POOL_MAX_THREADS];
	unsigned nthreads;
	int efd;
	struct event *ev;
};

static void *
run(void *arg)
{
	struct pool *p = arg;
	struct job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->queued == NULL && !p->stopping)
			pthread_cond_wait(&p->more, &p->lock);
		if ((j = p->queued) == NULL)
			break;                 /* stopping, and nothing left */
		if ((p->queued = j->next) == NULL)
			p->queued_tail = &p->queued;
		p->nqueued--;
		pthread_mutex_unlock(&p->lock);
		j->work(j->arg);
		pthread_mutex_lock(&p->lock);
		j->next = p->finished;
		p->finished = j;
		/* Wake the loop; the counter coalesces, nothing is lost. */
		if (write(p->efd, &one, sizeof(one)) == -1) {
			/* only EAGAIN at 2^64-1 wake-ups: the loop will see it */
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* On the loop: call done() for every finished job. */
static void
reap(struct pool *p)
{
	struct job *j, *next;

	pthread_mutex_lock(&p->lock);
	j = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		p->pending--;
		j->done(j->arg);
		free(j);
	}
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) == -1) {
		/* EAGAIN: another wake-up already drained the counter */
	}
	reap(arg);
}

struct pool *
pool_new(struct event_base *base, unsigned nthreads, size_t max_queued,
    char *err, size_t errlen)
{
	struct pool *p;
	int rc;

	if (nthreads > POOL_MAX_THREADS) {
		snprintf(err, errlen, "at most %d threads", POOL_MAX_THREADS);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	p->queued_tail = &p->queued;
	p->max_queued = max_queued;
	p->efd = -1;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto err;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_wake, p);
	if (p->ev == NULL || event_add(p->ev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch the pool's eventfd");
		goto err;
	}
	for (; p->nthreads < nthreads; p->nthreads++) {
		rc = pthread_create(&p->threads[p->nthreads], NULL, run, p);
		if (rc != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(rc));
			goto err;
		}
	}
	return p;
err:
	pool_free(p);
	return NULL;
}

int
pool_submit(struct pool *p, void (*work)(void *arg), void (*done)(void *arg),
    void *arg)
{
	struct job *j;

	if (p->nthreads == 0) {
		work(arg);
		done(arg);
		return 0;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->nqueued >= p->max_queued) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		errno = EAGAIN;
		return -1;
	}
	*p->queued_tail = j;
	p->queued_tail = &j->next;
	p->nqueued++;
	p->pending++;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

size_t
pool_pending(const struct pool *p)
{
	return p->pending;
}

bool
pool_full(struct pool *p)
{
	bool full;

	pthread_mutex_lock(&p->lock);
	full = p->nthreads > 0 && p->nqueued >= p->max_queued;
	pthread_mutex_unlock(&p->lock);
	return full;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	reap(p);
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->efd != -1)
		close(p->efd);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
