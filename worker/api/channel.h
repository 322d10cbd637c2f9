/*
 * channel — publish/subscribe channels, for handlers and application
 * modules (req->channels; a module's init gets the same in
 * module_api.channels).
 *
 * A channel is a name. Bytes published to it on any worker reach every
 * subscriber on every worker of the host and, with the top-level "redis"
 * key, on every host sharing that Redis; each subscriber receives every
 * message, in publish order per publisher, each with an id that orders
 * the channel's messages wherever the subscriber reconnects (a host-wide
 * sequence number without Redis, a per-channel counter in Redis with it),
 * so a subscriber that comes back with the last id it saw resumes from a
 * bounded per-channel history.
 *
 *   static void on_published(void *arg, int err, uint64_t id)
 *   {
 *       struct http_deferred *d = arg;          answer the publisher now
 *       ...
 *   }
 *
 *   d = http_defer(req, resp, NULL, NULL);
 *   if (channel_publish(req->channels, "news", 4, body, len, CHANNEL_AUTO,
 *       on_published, d) == -1)
 *       ... 503 (errno ENOTCONN: Redis is down) or 413 (EMSGSIZE) now ...
 *
 * Subscribers are server-sent event streams (channel_subscribe_sse),
 * WebSocket connections (channel_subscribe_ws) or a callback of the
 * application (channel_subscribe). A stream's or a WebSocket's
 * subscription ends by itself when its connection goes. Each message is
 * framed once per worker and the frame shared by all its subscribers.
 * Every subscriber has a bounded queue: one that does not read fast enough
 * is closed (or its messages dropped: "channels": "slow"), counted, and
 * never slows the others down.
 *
 * Everything runs on the worker's loop; no function here calls back
 * inside itself: callbacks come later, from the loop.
 */
#ifndef SHOAL_API_CHANNEL_H
#define SHOAL_API_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/api/http.h"

struct channels;                 /* the worker's: req->channels */
struct channel_sub;              /* one subscription */
struct ws;

/* Longest channel name, in bytes. */
#define CHANNEL_NAME_MAX 200

/* What a message is, for the WebSocket frames it is sent in. */
enum channel_type {
	CHANNEL_TEXT,                /* UTF-8 (checked): text frames */
	CHANNEL_BINARY,              /* any bytes: binary frames */
	CHANNEL_AUTO,                /* text if it is valid UTF-8, else binary */
};

/* A message as a subscriber gets it; valid during the callback. */
struct channel_msg {
	const char *channel;         /* not NUL-terminated */
	size_t channel_len;
	uint64_t id;                 /* > 0; increasing along the channel */
	const void *data;
	size_t len;
	bool binary;                 /* published as binary (not text) */
};

/*
 * A publish's outcome, on the loop, exactly once, never inside
 * channel_publish: err 0 and the message's id, or ENOTCONN (the
 * connection to Redis was lost first; the message may or may not have
 * gone out), ETIMEDOUT (no answer within the redis command_timeout: the
 * same), ECANCELED (the worker stops).
 */
typedef void channel_done_fn(void *arg, int err, uint64_t id);

/* A message for a channel_subscribe callback. */
typedef void channel_msg_fn(void *arg, const struct channel_msg *m);

/*
 * Publish len bytes of data to the channel name (1 to CHANNEL_NAME_MAX
 * bytes, none a control character). Returns 0, and done(arg, ...) follows
 * (done may be NULL); or -1, no callback, and errno: EINVAL (a bad name,
 * CHANNEL_TEXT that is not UTF-8, ch NULL), EMSGSIZE (over the
 * "channels" "max_message"), ENOTCONN (Redis is down, or the master is
 * gone: answer 503 at once), ENOBUFS (too much already waits to go out),
 * ENOMEM.
 */
int channel_publish(struct channels *ch, const char *name, size_t name_len,
    const void *data, size_t len, enum channel_type type,
    channel_done_fn *done, void *arg);

/*
 * Subscribe the callback fn(arg, m) to the channel name. With after > 0,
 * the messages of the channel's history whose id is above it come first
 * (a subscriber that resumes), then every new one; after 0: only new
 * ones. Each message once, in id order. NULL and errno: EINVAL (a bad
 * name), ENOMEM. The subscription lasts until channel_unsubscribe, or
 * until the worker stops (no callback says so).
 */
struct channel_sub *channel_subscribe(struct channels *ch, const char *name,
    size_t name_len, uint64_t after, channel_msg_fn *fn, void *arg);

/*
 * Make resp (a GET's, or a deferred response's) a stream of server-sent
 * events subscribed to the channel name: 200, text/event-stream, one
 * event per message ("id: ID" and the message as "data:" lines; a CR or
 * LF in it starts a new data line), resumed after the request's
 * Last-Event-ID if it has one (see channel_subscribe). From then on the
 * connection carries the stream alone, and the subscription is the
 * connection's: it ends when the client leaves, or when the worker
 * drains (with "retry:", so that the client reconnects at once and
 * resumes). Returns 0 (a HEAD gets the head alone), or -1, errno as
 * channel_subscribe, and resp set to the error's answer.
 */
int channel_subscribe_sse(struct channels *ch, struct http_request *req,
    struct http_response *resp, const char *name, size_t name_len);

/*
 * Subscribe an open WebSocket connection (from its on_open, or later) to
 * the channel name: every message goes to the client as one text or
 * binary message (as published). after as for channel_subscribe. The
 * handle is the application's until the connection's on_close returns;
 * then the subscription ends by itself, if channel_unsubscribe has not
 * ended it. A connection may hold several. NULL and errno: EINVAL (a bad
 * name, a closing connection), ENOMEM.
 */
struct channel_sub *channel_subscribe_ws(struct channels *ch, struct ws *ws,
    const char *name, size_t name_len, uint64_t after);

/*
 * End a subscription of channel_subscribe or channel_subscribe_ws: no
 * message reaches it any more (the WebSocket stays open). sub is invalid
 * afterwards.
 */
void channel_unsubscribe(struct channel_sub *sub);

/* The request's Last-Event-ID as an id (digits only); 0 if none. */
uint64_t channel_last_event_id(const struct http_request *req);

#endif
