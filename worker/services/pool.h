/*
 * pool — a small thread pool per worker for CPU-heavy work, so that the
 * event loop never blocks on it. Handlers submit jobs through
 * worker/api/pool.h; the worker creates and frees the pool here.
 *
 * The pool wakes the loop through an eventfd; the loop's base stays
 * lock-free.
 */
#ifndef SHOAL_POOL_H
#define SHOAL_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/api/pool.h"

struct event_base;

/*
 * Start nthreads threads (0: no threads; work then runs inline on the loop,
 * which is only sensible for tests). At most max_queued jobs wait; beyond
 * that pool_submit refuses. NULL with a reason in err.
 */
struct pool *pool_new(struct event_base *base, unsigned nthreads,
    size_t max_queued, char *err, size_t errlen);

/* Jobs queued or running. */
size_t pool_pending(const struct pool *p);

/* Stop the threads after the running jobs; queued jobs still get their
 * work() and done() before this returns. */
void pool_free(struct pool *p);

#endif
