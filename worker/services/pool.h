/*
 * pool — a small thread pool per worker for CPU-heavy work, so that the
 * event loop never blocks on it.
 *
 * work() runs on a pool thread and must touch nothing of the loop's (no
 * libevent, no connection, no response); done() then runs on the loop
 * thread, where it may answer the request (e.g. through a stream). The pool
 * wakes the loop through an eventfd; the loop's base stays lock-free.
 */
#ifndef SHOAL_POOL_H
#define SHOAL_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct pool;

/*
 * Start nthreads threads (0: no threads; work then runs inline on the loop,
 * which is only sensible for tests). NULL with a reason in err.
 */
struct pool *pool_new(struct event_base *base, unsigned nthreads,
    size_t max_queued, char *err, size_t errlen);

/* Queue work(arg), then done(arg) on the loop. -1 (EAGAIN) when max_queued
 * jobs are already waiting: the caller should answer 503. */
int pool_submit(struct pool *p, void (*work)(void *arg),
    void (*done)(void *arg), void *arg);

/* Jobs queued or running. */
size_t pool_pending(const struct pool *p);

/* True if pool_submit would refuse a job now (answer 503 before starting). */
bool pool_full(struct pool *p);

/* Stop the threads after the running jobs; queued jobs still get their
 * work() and done() before this returns. */
void pool_free(struct pool *p);

#endif
