/*
 * sse — server-sent event streams of one worker, once their head is sent.
 *
 * A stream of channel messages (worker/api/channel.h) never ends by
 * itself and carries nothing but what is pushed to it, so conn.c hands
 * its socket over here once the response's head is framed (as it hands a
 * WebSocket to ws.c), and its struct conn, request reader and buffers
 * are freed: an idle subscriber is this struct, its event and its queue,
 * which owns no memory while empty.
 *
 * What is sent is queued as shared frames (outq.h): the same event bytes
 * go to every subscriber of a channel. Writes are batched: a push marks
 * the stream, and one event after the current one writes every marked
 * stream with one writev each, so messages that arrive together go out
 * together. Input is read only to notice the client leaving, and thrown
 * away.
 *
 * The stream ends when the client leaves, when it stalls reading for
 * write_timeout, when its owner ends it (sse_end), or when the worker
 * drains: after a short grace each stream gets a "retry:" (a few hundred
 * milliseconds, spread out) and its end, so that the client reconnects
 * at once, to the new generation, and resumes with Last-Event-ID.
 */
#ifndef SHOAL_SSE_H
#define SHOAL_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <event2/event.h>

#include "common/buf.h"
#include "common/config.h"
#include "worker/http/outq.h"

struct sse;
LIST_HEAD(sse_list, sse);

/* What every stream of a worker shares. */
struct sse_ctx {
	struct event_base *base;
	char *rbuf;                  /* the worker's read buffer (conn_ctx's) */
	size_t rbuf_size;
	double write_timeout;        /* a client that stops reading is dropped */
	double keepalive;            /* seconds; 0: no comments */
	struct sse_list list;
	size_t n;
	bool draining;
	struct event *grace_ev;      /* the drain's grace before the retry */
	struct event *flush_ev;      /* writes the marked streams */
	struct event *keepalive_ev;
	struct sse_list dirty;       /* marked streams */
	struct sbuf *comment[2];     /* the keepalive comment, raw and chunked */
	/* After each stream is gone (the worker counts connections). */
	void (*closed)(void *arg);
	void *closed_arg;
	/* A stream its owner did not end is gone: the owner lets go of it
	 * (the channel service ends the subscription). */
	void (*gone)(void *owner);
};

/* Set up ctx for a worker's loop; -1 on allocation failure. */
int sse_ctx_init(struct sse_ctx *ctx, struct event_base *base,
    const struct config *cfg, char *rbuf, size_t rbuf_size);
/* Close every stream and free ctx's own. */
void sse_ctx_free(struct sse_ctx *ctx);

/*
 * A stream-to-be of ctx, for a response about to be framed: chunked
 * (HTTP/1.1) or raw (HTTP/1.0: it ends with the connection). owner is
 * told through ctx->gone when it is gone, unless it ended it. NULL on
 * allocation failure.
 */
struct sse *sse_new(struct sse_ctx *ctx, bool chunked, void *owner);

/* Is it chunked? Frames pushed must be framed alike. */
bool sse_chunked(const struct sse *s);

/*
 * Queue b (a whole event, framed as the stream is: see sse_chunked) to be
 * written soon. 0; 1 if the bytes waiting would pass limit (b is not
 * queued: the owner drops it or ends the stream); -1 if the stream is
 * ending or gone. Never frees the stream, nor calls ctx->gone.
 */
int sse_send(struct sse *s, struct sbuf *b, size_t limit);

/*
 * The owner ends the stream and lets go of it (ctx->gone will not be
 * called for it): with now, at once, dropping what is queued (a slow
 * client); else after what is queued, with the end of the body.
 */
void sse_end(struct sse *s, bool now);

/* Free a stream whose response was never sent (the client left first, or
 * the head could not be framed); ctx->gone tells its owner. */
void sse_discard(struct sse *s);

/*
 * Take over fd (non-blocking) for s: out holds the head and whatever was
 * framed before it, not yet written from out_off on, and is moved in
 * front of what s has queued. The stream counts among ctx's from now on.
 */
void sse_start(struct sse *s, int fd, struct buf *out, size_t out_off);

/* The worker drains: after a short grace every stream gets its retry and
 * its end, and goes once they are written. */
void sse_drain_all(struct sse_ctx *ctx);

/* Close every stream now (fast stop, drain timeout). */
void sse_close_all(struct sse_ctx *ctx);

#endif
