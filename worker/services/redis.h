/*
 * redis — the worker's Redis client: one connection to the configured
 * server, on the worker's loop, through hiredis's libevent adapter.
 * Handlers and modules issue commands through worker/api/redis.h
 * (req->redis); the worker creates and frees the client here.
 */
#ifndef SHOAL_SERVICES_REDIS_H
#define SHOAL_SERVICES_REDIS_H

#include <stdbool.h>
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

/* ---- publish/subscribe: a second connection (channels, chanredis.c) ---- */

/* What the subscriber connection tells its owner; each may be NULL. */
struct redis_sub_handler {
	/* A message published to a channel subscribed (data valid during
	 * the call). */
	void (*message)(void *arg, const char *channel, size_t channel_len,
	    const char *data, size_t len);
	/* Redis confirmed a SUBSCRIBE: from now on nothing published to the
	 * channel is missed. */
	void (*subscribed)(void *arg, const char *channel, size_t channel_len);
	/* ... an UNSUBSCRIBE. hiredis 0.14 forgets a channel's callback when
	 * the UNSUBSCRIBE's answer comes, even if it was subscribed again
	 * meanwhile: subscribe again only after this. */
	void (*unsubscribed)(void *arg, const char *channel,
	    size_t channel_len);
	/* The connection is up (again): subscribe to every channel again. */
	void (*up)(void *arg);
	void *arg;
};

/*
 * Start r's subscriber connection (once), in the background, reconnecting
 * like the command connection; its state goes to the stats region's
 * redis_sub_state. -1 with errno (EALREADY, ENOMEM).
 */
int redis_sub_start(struct redis *r, const struct redis_sub_handler *h);

/* SUBSCRIBE (on) or UNSUBSCRIBE channel. -1 with errno ENOTCONN while
 * the connection is not up (h->up comes when it is), or ENOMEM. */
int redis_sub(struct redis *r, const char *channel, size_t len, bool on);

/* Is the subscriber connection up? */
bool redis_sub_up(const struct redis *r);

#endif
