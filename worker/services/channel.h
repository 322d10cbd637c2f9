/*
 * channel — the worker's publish/subscribe channels: the table of
 * channels, their subscribers and histories, the fan-out of each message
 * to the subscribers of this worker. Handlers and modules use it through
 * worker/api/channel.h (req->channels); the worker creates it here and
 * gives it a transport, which carries messages between workers and hosts:
 *
 *   chanlocal.c  through the master's relay (common/relay.h): one host,
 *                no service; ids are the host-wide sequence numbers, and
 *                every worker keeps each channel's history itself.
 *   chanredis.c  through Redis publish/subscribe ("redis" configured):
 *                every host; ids and histories are Redis's.
 *
 * A transport hands in what it receives (channels_deliver), the outcome
 * of each publish (channels_published) and histories it fetched
 * (channels_history); it never calls back inside a call of the service's.
 */
#ifndef SHOAL_SERVICES_CHANNEL_H
#define SHOAL_SERVICES_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "worker/api/channel.h"

struct event_base;
struct channel_cfg;
struct stats_proc;
struct sse_ctx;
struct ws_ctx;

/* A publish waiting for its outcome: the service's, lent to the
 * transport between its publish and channels_published. */
struct chan_pub {
	TAILQ_ENTRY(chan_pub) entry;     /* the service's list */
	TAILQ_ENTRY(chan_pub) tentry;    /* the transport's own, if it wants */
	channel_done_fn *done;           /* NULL: nobody waits */
	void *arg;
	uint32_t token;                  /* the transport's */
	void *tdata, *tctx;              /* the transport's */
};
TAILQ_HEAD(chan_pub_list, chan_pub);

/* What the service asks of its transport; t is the transport's own. */
struct chan_transport {
	void *t;
	/* Send the message out; its outcome later, through
	 * channels_published(ch, p, ...). 0, or -1 with errno (ENOTCONN,
	 * ENOBUFS, ENOMEM) and no outcome. */
	int (*publish)(void *t, const char *name, size_t name_len,
	    const void *data, size_t len, bool binary, struct chan_pub *p);
	/* The first subscriber of the channel on this worker came (on), or
	 * the last went. May be NULL: every message reaches every worker. */
	void (*watch)(void *t, const char *name, size_t name_len, bool on);
	/* Fetch the channel's history, answered by channels_history. 0, or
	 * -1 (none will come). NULL: the service keeps histories itself. */
	int (*history)(void *t, const char *name, size_t name_len);
	/* Let go: no call of the service's from now on. */
	void (*free)(void *t);
};

/* One message of a fetched history. */
struct chan_entry {
	uint64_t id;
	bool binary;
	const void *data;
	size_t len;
};

/*
 * The service for a worker's loop, with cfg's limits, counting into stats
 * (may be NULL). Its streams and WebSocket connections are those of the
 * engine's sse and ws (their gone and unsub hooks are set here). NULL
 * with a reason in err.
 */
struct channels *channels_new(struct event_base *base,
    const struct channel_cfg *cfg, struct stats_proc *stats,
    struct sse_ctx *sse, struct ws_ctx *ws, char *err, size_t errlen);

/* Its transport, once (copied). Until then publishing fails (ENOTCONN). */
void channels_set_transport(struct channels *ch, const struct chan_transport *t);

/* Free it: publishes still waiting get ECANCELED, callbacks' subscriptions
 * end (streams and WebSocket connections must be gone already: free the
 * connections first); the transport is freed first. NULL is a no-op. */
void channels_free(struct channels *ch);

/* ---- from the transport ------------------------------------------------- */

/* A message for this worker's subscribers (and history). */
void channels_deliver(struct channels *ch, const char *name, size_t name_len,
    uint64_t id, bool binary, const void *data, size_t len);

/* The outcome of publish p: err 0 and its id, or an errno. */
void channels_published(struct channels *ch, struct chan_pub *p, int err,
    uint64_t id);

/* The history fetched for a channel (err 0: n entries, oldest first), or
 * why none came (err != 0: the subscribers waiting for it go live without
 * it). */
void channels_history(struct channels *ch, const char *name, size_t name_len,
    const struct chan_entry *e, size_t n, int err);

/*
 * The transport is connected (again): messages may have been missed.
 * Every channel with subscribers is watched again (t.watch) and, once
 * channels_subscribed confirms it, catches up from its history.
 */
void channels_resync(struct channels *ch);

/* The transport confirms that a channel's messages reach this worker from
 * now on: a history fetched after this misses nothing (with t.history,
 * fetches wait for it). */
void channels_subscribed(struct channels *ch, const char *name,
    size_t name_len);

#endif
