/*
 * redis — the worker's Redis client: one connection to the configured
 * server, on the worker's loop, through hiredis's libevent adapter.
 * Handlers and modules issue commands through worker/api/redis.h
 * (req->redis); the worker creates and frees the client here.
 */
#ifndef SHOAL_SERVICES_REDIS_H
#define SHOAL_SERVICES_REDIS_H

#include <stddef.h>

#include "worker/api/redis.h"

struct event_base;
struct redis_cfg;
struct stats_proc;

/*
 * A client for cfg (whose address is set), connecting at once on base;
 * its state and counters go to stats (may be NULL). Never waits: a server
 * that is down now is retried with backoff. NULL with a reason in err
 * only if memory or the address fails.
 */
struct redis *redis_new(struct event_base *base, const struct redis_cfg *cfg,
    struct stats_proc *stats, char *err, size_t errlen);

/* Close the connection; commands still in flight get their callback with
 * ECANCELED (so free the client before the code of those callbacks is
 * unloaded). NULL is a no-op. */
void redis_free(struct redis *r);

#endif
