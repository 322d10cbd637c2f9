/*
 * sse — see sse.h.
 *
 * Nothing here frees a stream from inside a call of its owner's
 * (sse_send, sse_end): those only queue and mark; the stream's own event,
 * or the flush event, finds it dead and frees it, so ctx->gone never runs
 * inside the channel service's fan-out.
 */
#include "worker/http/sse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event_struct.h>

#include "worker/http/loop.h"

#define SSE_DRAIN_GRACE 0.5          /* seconds before the retry on a drain */
#define SSE_LINGER      2.0          /* seconds to read after our FIN */
#define SSE_INPUT_MAX   (64 * 1024)  /* bytes a client may send us, ever */
#define SSE_RETRY_MIN   250          /* the retry, milliseconds: from this */
#define SSE_RETRY_SPAN  750          /* ... spread over this much more */

struct sse {
	LIST_ENTRY(sse) entry;       /* ctx->list, once started */
	LIST_ENTRY(sse) dirty_entry; /* ctx's marked streams */
	struct sse_ctx *ctx;
	void *owner;                 /* NULL once the owner let go */
	int fd;
	struct event ev;
	struct outq q;
	double last_write;           /* loop time of the last bytes out */
	double deadline;             /* of a linger */
	size_t input;                /* bytes the client sent, discarded */
	bool chunked;
	bool started;
	bool dirty;                  /* on ctx's marked list */
	bool blocked;                /* the socket is full: EV_WRITE wakes it */
	bool ending;                 /* its end is queued (or it was cut) */
	bool dead;                   /* free at the next chance */
	bool lingering;
};

static void sse_event(evutil_socket_t fd, short what, void *arg);

/* The end of the body: a chunked stream's last chunk; a raw one ends with
 * the connection. */
static const char sse_last_chunk[] = "0\r\n\r\n";

static void
sse_free(struct sse *s)
{
	struct sse_ctx *ctx = s->ctx;
	void *owner = s->owner;
	bool counted = s->started;

	if (s->dirty)
		LIST_REMOVE(s, dirty_entry);
	if (s->started) {
		event_del(&s->ev);
		close(s->fd);
		LIST_REMOVE(s, entry);
		ctx->n--;
	}
	outq_clear(&s->q);
	free(s);
	if (owner != NULL && ctx->gone != NULL)
		ctx->gone(owner);
	if (counted && ctx->closed != NULL)
		ctx->closed(ctx->closed_arg);
}

/* Write soon: at the flush event, after what the loop is doing now. */
static void
sse_mark(struct sse *s)
{
	if (!s->started || s->dirty)
		return;
	s->dirty = true;
	LIST_INSERT_HEAD(&s->ctx->dirty, s, dirty_entry);
	event_active(s->ctx->flush_ev, EV_TIMEOUT, 0);
}

/* Queue bytes of our own (the end, a retry) as one frame. */
static int
sse_queue_text(struct sse *s, const char *text, size_t len)
{
	struct sbuf *b;
	char head[24];
	int hl = 0, r;

	if (s->chunked)
		hl = snprintf(head, sizeof(head), "%zx\r\n", len);
	if ((b = sbuf_new((size_t)hl + len + (s->chunked ? 2 : 0))) == NULL)
		return -1;
	memcpy(b->data, head, (size_t)hl);
	memcpy(b->data + hl, text, len);
	if (s->chunked)
		memcpy(b->data + hl + len, "\r\n", 2);
	r = outq_push(&s->q, b);
	sbuf_unref(b);
	return r;
}

static int
sse_queue_end(struct sse *s)
{
	struct sbuf *b;
	int r;

	if (!s->chunked)
		return 0;
	if ((b = sbuf_copy(sse_last_chunk, sizeof(sse_last_chunk) - 1)) == NULL)
		return -1;
	r = outq_push(&s->q, b);
	sbuf_unref(b);
	return r;
}

/* Our side is done: shut it down, read what the client still sends for a
 * moment, then close (no reset for bytes it sent meanwhile). */
static void
sse_linger(struct sse *s)
{
	struct timeval tv = loop_tv(SSE_LINGER);

	s->lingering = true;
	s->deadline = loop_now(s->ctx->base) + SSE_LINGER;
	if (shutdown(s->fd, SHUT_WR) == -1) {
		sse_free(s);
		return;
	}
	loop_watch(&s->ev, s->ctx->base, s->fd, EV_READ, &tv, sse_event, s);
}

/* Send what is queued; then free, linger or wait. */
static void
sse_flush(struct sse *s)
{
	struct timeval tv;
	ssize_t n;

	if (s->dead) {
		sse_free(s);
		return;
	}
	if (s->lingering)
		return;
	if ((n = outq_write(&s->q, s->fd)) == -1) {
		sse_free(s);             /* the client is gone */
		return;
	}
	if (n > 0)
		s->last_write = loop_now(s->ctx->base);
	if (s->q.n == 0 && s->ending) {
		sse_linger(s);
		return;
	}
	s->blocked = s->q.n > 0;
	if (s->blocked) {
		tv = loop_tv(s->ctx->write_timeout);
		loop_watch(&s->ev, s->ctx->base, s->fd, EV_READ | EV_WRITE, &tv,
		    sse_event, s);
	} else {
		loop_watch(&s->ev, s->ctx->base, s->fd, EV_READ, NULL, sse_event,
		    s);
	}
}

/* Input: only its end matters (the client left). */
static void
sse_read(struct sse *s)
{
	ssize_t n = read(s->fd, s->ctx->rbuf, s->ctx->rbuf_size);

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0 || (s->input += (size_t)n) > SSE_INPUT_MAX)
		s->dead = true;
}

static void
sse_event(evutil_socket_t fd, short what, void *arg)
{
	struct sse *s = arg;
	struct timeval tv;

	(void)fd;
	if (what & EV_TIMEOUT) {
		/* Stalled for write_timeout, or the linger is over. */
		sse_free(s);
		return;
	}
	if (what & EV_READ)
		sse_read(s);
	if (s->lingering) {
		if (s->dead) {
			sse_free(s);
			return;
		}
		tv = loop_tv(s->deadline - loop_now(s->ctx->base));
		event_add(&s->ev, &tv);  /* a deadline, however it trickles */
		return;
	}
	sse_flush(s);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct sse_ctx *ctx = arg;
	struct sse *s;

	(void)fd;
	(void)what;
	while ((s = LIST_FIRST(&ctx->dirty)) != NULL) {
		LIST_REMOVE(s, dirty_entry);
		s->dirty = false;
		/* A full socket waits for EV_WRITE; the dead go now. */
		if (!s->blocked || s->dead)
			sse_flush(s);
	}
}

/* Tell s to come back soon (a drain): its retry, then its end. */
static void
sse_retry(struct sse *s)
{
	static unsigned spread;
	char text[32];
	int n;

	if (s->ending)
		return;
	spread = (spread + 211) % (SSE_RETRY_SPAN + 1);
	n = snprintf(text, sizeof(text), "retry: %u\n\n",
	    SSE_RETRY_MIN + spread);
	s->ending = true;
	if (sse_queue_text(s, text, (size_t)n) == -1 || sse_queue_end(s) == -1)
		s->dead = true;
	sse_mark(s);
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct sse_ctx *ctx = arg;
	struct sse *s;

	(void)fd;
	(void)what;
	LIST_FOREACH(s, &ctx->list, entry)
		sse_retry(s);
}

/* Every keepalive seconds: a comment to each stream silent for half. */
static void
on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct sse_ctx *ctx = arg;
	double idle = loop_now(ctx->base) - ctx->keepalive / 2;
	struct sse *s;

	(void)fd;
	(void)what;
	LIST_FOREACH(s, &ctx->list, entry)
		if (!s->ending && s->q.n == 0 && s->last_write <= idle &&
		    outq_push(&s->q, ctx->comment[s->chunked]) == 0)
			sse_mark(s);
}

/* ---- the owner's side ---------------------------------------------------- */

struct sse *
sse_new(struct sse_ctx *ctx, bool chunked, void *owner)
{
	struct sse *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ctx = ctx;
	s->owner = owner;
	s->chunked = chunked;
	s->fd = -1;
	return s;
}

bool
sse_chunked(const struct sse *s)
{
	return s->chunked;
}

int
sse_send(struct sse *s, struct sbuf *b, size_t limit)
{
	if (s->ending || s->dead)
		return -1;
	if (s->q.bytes + b->len > limit || outq_push(&s->q, b) == -1)
		return 1;
	sse_mark(s);
	return 0;
}

void
sse_end(struct sse *s, bool now)
{
	s->owner = NULL;
	if (s->ending)
		return;
	s->ending = true;
	if (now && s->started) {
		outq_clear(&s->q);       /* a client this slow gets no more */
		s->dead = true;
	} else if (sse_queue_end(s) == -1) {
		s->dead = s->started;
	}
	sse_mark(s);
}

void
sse_discard(struct sse *s)
{
	sse_free(s);
}

void
sse_start(struct sse *s, int fd, struct buf *out, size_t out_off)
{
	struct sse_ctx *ctx = s->ctx;
	struct sbuf *head = NULL;

	s->fd = fd;
	s->started = true;
	s->last_write = loop_now(ctx->base);
	LIST_INSERT_HEAD(&ctx->list, s, entry);
	ctx->n++;
	event_assign(&s->ev, ctx->base, fd, EV_READ | EV_PERSIST, sse_event, s);
	/* The head (and what was framed before it) goes first. */
	if (out_off < out->len && ((head = sbuf_copy(out->p + out_off,
	    out->len - out_off)) == NULL || outq_push_front(&s->q, head) == -1))
		s->dead = true;
	sbuf_unref(head);
	buf_free(out);
	/* A stream that starts on a draining worker is told to go at once. */
	if (ctx->draining)
		sse_retry(s);
	sse_mark(s);
}

/* ---- the worker's side ----------------------------------------------------- */

void
sse_drain_all(struct sse_ctx *ctx)
{
	struct timeval tv = loop_tv(SSE_DRAIN_GRACE);

	ctx->draining = true;
	if (ctx->keepalive_ev != NULL)
		event_del(ctx->keepalive_ev);
	/* A moment for messages in flight, then the retry to everyone. */
	if (ctx->n > 0)
		event_add(ctx->grace_ev, &tv);
}

void
sse_close_all(struct sse_ctx *ctx)
{
	struct sse *s;

	while ((s = LIST_FIRST(&ctx->list)) != NULL)
		sse_free(s);
}

int
sse_ctx_init(struct sse_ctx *ctx, struct event_base *base,
    const struct config *cfg, char *rbuf, size_t rbuf_size)
{
	static const char comment[] = ":\n\n";
	struct timeval tv = loop_tv(cfg->channels.keepalive);

	memset(ctx, 0, sizeof(*ctx));
	ctx->base = base;
	ctx->rbuf = rbuf;
	ctx->rbuf_size = rbuf_size;
	ctx->write_timeout = cfg->http.write_timeout;
	ctx->keepalive = cfg->channels.keepalive;
	LIST_INIT(&ctx->list);
	LIST_INIT(&ctx->dirty);
	if ((ctx->grace_ev = evtimer_new(base, on_grace, ctx)) == NULL ||
	    (ctx->flush_ev = event_new(base, -1, 0, on_flush, ctx)) == NULL ||
	    (ctx->comment[0] = sbuf_copy(comment, 3)) == NULL ||
	    (ctx->comment[1] = sbuf_copy("3\r\n:\n\n\r\n", 8)) == NULL)
		return -1;
	if (ctx->keepalive > 0 && ((ctx->keepalive_ev = event_new(base, -1,
	    EV_PERSIST, on_keepalive, ctx)) == NULL ||
	    event_add(ctx->keepalive_ev, &tv) == -1))
		return -1;
	return 0;
}

void
sse_ctx_free(struct sse_ctx *ctx)
{
	sse_close_all(ctx);
	if (ctx->grace_ev != NULL)
		event_free(ctx->grace_ev);
	if (ctx->flush_ev != NULL)
		event_free(ctx->flush_ev);
	if (ctx->keepalive_ev != NULL)
		event_free(ctx->keepalive_ev);
	sbuf_unref(ctx->comment[0]);
	sbuf_unref(ctx->comment[1]);
	memset(ctx, 0, sizeof(*ctx));
}
