/*
 * pool — the handler side of the worker's thread pool (req->pool), for
 * CPU-heavy work that would otherwise block the event loop.
 *
 * work() runs on a pool thread and must touch nothing of the loop's (no
 * libevent, no request, no response, no stream); done() then runs on the
 * loop thread, where it may answer the request (through a deferred
 * response, http_defer: see the primes handler).
 */
#ifndef SHOAL_API_POOL_H
#define SHOAL_API_POOL_H

#include <stdbool.h>

struct pool;

/* Queue work(arg), then done(arg) on the loop. -1 (EAGAIN) when too many
 * jobs are already waiting: the caller should answer 503. */
int pool_submit(struct pool *p, void (*work)(void *arg),
    void (*done)(void *arg), void *arg);

/* True if pool_submit would refuse a job now (answer 503 before starting). */
bool pool_full(struct pool *p);

#endif
