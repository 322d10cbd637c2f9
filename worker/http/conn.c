/*
 * conn — HTTP/1.x connections over libevent.
 *
 * One struct event per connection, switched between reading and writing.
 * Reads go into the worker's shared buffer; the request reader
 * (request.c) parses requests where they lie and copies out only a
 * request that spans reads into per-connection buffers, which are freed
 * as soon as the connection is idle again. A whole request goes to
 * ctx->dispatch (the worker's router); the answer is framed by response.c
 * onto the output buffer.
 *
 * Pipelining: every complete request in a read is answered in order; the
 * responses are appended to one output buffer and go out with one write.
 * While output is pending the connection does not read: a client must read
 * what it asked for before it may ask for more. A response whose body is a
 * file or a stream pauses the parser; the bytes after it are held and
 * parsed once that response is complete, so order is kept. So does a
 * deferred response (deferred.c): the connection waits, watching only for
 * the client leaving, until the handler answers or handler_timeout passes.
 *
 * Closing is a lingering close: shut down our side, read and discard what
 * the client still sends for a moment, then close, so a response is never
 * destroyed by a reset caused by unread input.
 *
 * A handler that accepts a WebSocket handshake sets resp->websocket: once
 * the 101 is framed the socket, its pending output and the bytes after
 * the handshake go to ws.c, and the struct conn is freed.
 */
#include "worker/http/conn.h"
#include "worker/http/conn_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "worker/api/http.h"
#include "worker/http/accesslog.h"
#include "worker/http/deferred.h"
#include "worker/http/loop.h"
#include "worker/http/proxy.h"
#include "worker/http/realip.h"
#include "worker/http/sse.h"
#include "worker/http/request.h"
#include "worker/http/response.h"
#include "worker/http/stream.h"
#include "worker/http/ws.h"

#define LINGER_TIMEOUT 2             /* seconds to wait for the client's FIN */
#define LINGER_MAX     (256 * 1024)  /* bytes discarded before giving up */
#define SENDFILE_CHUNK (1 << 20)     /* per call: keep the loop responsive */
#define SPARE_MAX      (64 * 1024)   /* the largest output buffer kept */

/* The connection of a reader (embedded in it). */
#define CONN_OF(r) \
	((struct conn *)(void *)((char *)(r) - offsetof(struct conn, rd)))

static void conn_run(struct conn *c);
static uint64_t conn_queued(const struct conn *c);

/* The peer as text, formatted when asked for: not kept, to keep an idle
 * connection small. */
static const char *
conn_peer(const struct conn *c, char *out, size_t len)
{
	realip_format(out, len, c->peer_unix ? NULL : &c->peer.sa);
	return out;
}

/* c->more, allocated if need be; NULL: out of memory. */
static struct conn_more *
conn_more(struct conn *c)
{
	if (c->more == NULL && (c->more = calloc(1, sizeof(*c->more))) != NULL)
		c->more->file_fd = -1;
	return c->more;
}

static size_t
held_len(const struct conn *c)
{
	return c->more != NULL ? c->more->held.len : 0;
}

static bool
has_file(const struct conn *c)
{
	return c->more != NULL && c->more->file_fd >= 0;
}

/* Drop what waits to be parsed. */
static void
held_free(struct conn *c)
{
	if (c->more != NULL)
		buf_free(&c->more->held);
}

/* Free what an idle connection does not need. */
static void
release_buffers(struct conn *c)
{
	struct conn_more *m = c->more;

	request_release(&c->rd);
	if (c->out_off == c->out.len) {
		if (c->ctx->spare.p == NULL && c->out.cap <= SPARE_MAX) {
			c->ctx->spare = c->out;
			c->ctx->spare.len = 0;
			memset(&c->out, 0, sizeof(c->out));
		}
		buf_free(&c->out);
		c->out_off = 0;
	}
	if (m != NULL && m->held.len == 0 && m->logq.len == 0 &&
	    m->file_fd < 0) {
		buf_free(&m->held);
		buf_free(&m->logq);
		free(m);
		c->more = NULL;
	}
}

/* One connection fewer (HTTP, or WebSocket: ws_ctx.closed). */
void
conn_gone(void *arg)
{
	struct conn_ctx *ctx = arg;

	ctx->nconns--;
	STATS_SET(ctx->stats->conns_open, ctx->nconns);
	if (ctx->on_close != NULL)
		ctx->on_close(ctx->on_close_arg);
}

void
conn_free(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;

	event_del(&c->ev);
	close(c->fd);
	if (has_file(c))
		close(c->more->file_fd);
	if (c->stream != NULL)
		stream_detach(c->stream);    /* the handler ends it; it sees closed */
	if (c->deferred != NULL) {
		struct http_deferred *d = c->deferred;

		c->deferred = NULL;
		deferred_cancel(d);          /* the handler's cancel may run here */
	}
	if (c->upgrade != NULL)
		ws_discard(c->upgrade, true);
	if (c->sse != NULL)
		sse_discard(c->sse);
	if (c->busy)                     /* a stream, file or deferred answer
	                                    cut short */
		stats_observe(ctx->stats, util_now() - c->began);
	if (ctx->access != NULL && c->more != NULL)
		accesslog_abandon(ctx->access, &c->more->logq, c->sent);
	LIST_REMOVE(c, entry);
	buf_free(&c->out);
	if (c->more != NULL) {
		c->more->file_fd = -1;
		held_free(c);
	}
	release_buffers(c);
	free(c);
	conn_gone(ctx);
}

/* The handshake (or an event stream's head) is framed: the socket is the
 * WebSocket's (the stream's) from now on. */
static void
conn_upgrade(struct conn *c)
{
	struct ws *ws = c->upgrade;

	c->upgrade = NULL;
	event_del(&c->ev);
	LIST_REMOVE(c, entry);       /* still counted in nconns: ws.c's now */
	if (c->ctx->access != NULL && c->more != NULL) {
		/* The 101 (and what came before it) is as good as sent: ws.c
		 * writes it now. */
		accesslog_progress(c->ctx->access, &c->more->logq, conn_queued(c));
		accesslog_abandon(c->ctx->access, &c->more->logq, conn_queued(c));
	}
	if (c->sse != NULL)          /* what the client sends after is not read */
		sse_start(c->sse, c->fd, &c->out, c->out_off);
	else
		ws_start(&c->ctx->ws, ws, c->fd, &c->out, c->out_off,
		    c->more != NULL ? c->more->held.p : NULL, held_len(c));
	held_free(c);
	release_buffers(c);
	free(c);
}

/* Watch fd for what (EV_READ or EV_WRITE), with a timeout unless tv is NULL. */
static void
conn_watch(struct conn *c, short what, const struct timeval *tv)
{
	loop_watch(&c->ev, c->ctx->base, c->fd, what, tv, conn_event, c);
}

static void
conn_linger(struct conn *c)
{
	struct timeval tv = { LINGER_TIMEOUT, 0 };

	c->state = CONN_LINGER;
	c->since = loop_now(c->ctx->base);    /* the linger deadline's start */
	held_free(c);
	release_buffers(c);
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_free(c);
		return;
	}
	conn_watch(c, EV_READ, &tv);
}

/* Wait for the next request, or for the rest of this one. */
static void
conn_await_input(struct conn *c)
{
	const struct http_limits *lim = c->ctx->limits;
	double now = loop_now(c->ctx->base);
	struct timeval tv;

	if (!c->rd.in_message) {
		if (c->ctx->draining) {
			conn_linger(c);
			return;
		}
		if (c->requests == 0) {
			/* Nothing asked yet: header_timeout runs from the accept,
			 * whatever stray bytes (bare CRLFs) arrive meanwhile. */
			c->state = CONN_HEAD;
			tv = loop_tv(c->since + lim->header_timeout - now);
			conn_watch(c, EV_READ, &tv);
			return;
		}
		release_buffers(c);
		if (c->state != CONN_IDLE) {
			/* Just went idle: the shared, O(1) keep-alive timeout. */
			c->state = CONN_IDLE;
			c->since = now;
			conn_watch(c, EV_READ, c->ctx->keepalive_tv);
			return;
		}
		/* Still idle after input that started no request (CRLFs between
		 * messages): the keep-alive countdown goes on, it does not restart. */
		tv = loop_tv(c->since + lim->keepalive_timeout - now);
		conn_watch(c, EV_READ, &tv);
	} else if (c->rd.in_body) {
		c->state = CONN_BODY;
		tv = loop_tv(lim->body_timeout);
		conn_watch(c, EV_READ, &tv);
	} else {
		c->state = CONN_HEAD;
		tv = loop_tv(c->since + lim->header_timeout - now);
		conn_watch(c, EV_READ, &tv);
	}
}

enum flush_result { FLUSH_DONE, FLUSH_WAIT, FLUSH_GONE };

/* The output position after everything queued: what is written, what
 * waits in out, what is left of a file body. */
static uint64_t
conn_queued(const struct conn *c)
{
	return c->sent + (c->out.len - c->out_off) +
	    (has_file(c) ? (uint64_t)c->more->file_left : 0);
}

/* Write the output buffer, then the file body if any. */
static enum flush_result
conn_flush(struct conn *c)
{
	struct conn_more *m = c->more;
	struct timeval tv;
	ssize_t n;

	for (;;) {
		if (c->out_off < c->out.len && has_file(c) && m->file_left > 0)
			/* A head before a file body: MSG_MORE lets it go out
			 * in the body's first segments, not in one of its own. */
			n = send(c->fd, c->out.p + c->out_off,
			    c->out.len - c->out_off, MSG_MORE | MSG_NOSIGNAL);
		else if (c->out_off < c->out.len)
			n = write(c->fd, c->out.p + c->out_off,
			    c->out.len - c->out_off);
		else if (has_file(c) && m->file_left > 0)
			n = sendfile(c->fd, m->file_fd, &m->file_off,
			    m->file_left < SENDFILE_CHUNK ? (size_t)m->file_left :
			    SENDFILE_CHUNK);
		else
			break;
		if (n > 0) {
			if (c->out_off < c->out.len)
				c->out_off += (size_t)n;
			else
				m->file_left -= n;
			c->sent += (uint64_t)n;
			STATS_ADD(c->ctx->stats->bytes_out, n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->state = CONN_WRITE;
			tv = loop_tv(c->ctx->limits->write_timeout);
			conn_watch(c, EV_WRITE, &tv);
			if (c->ctx->access != NULL && m != NULL)
				accesslog_progress(c->ctx->access, &m->logq, c->sent);
			return FLUSH_WAIT;
		}
		/* EPIPE, ECONNRESET: the client is gone. n == 0: the file
		 * shrank under us; the promised length cannot be kept. */
		if (n == 0)
			log_warn("file body ended early; closing the connection");
		conn_free(c);
		return FLUSH_GONE;
	}
	c->out.len = c->out_off = 0;
	if (has_file(c)) {
		close(m->file_fd);
		m->file_fd = -1;
		c->busy = false;
		stats_observe(c->ctx->stats, util_now() - c->began);
	}
	if (c->ctx->access != NULL && m != NULL)
		accesslog_progress(c->ctx->access, &m->logq, c->sent);
	return FLUSH_DONE;
}

/* ---- responses ---------------------------------------------------------- */

/* A stream of this connection's response has more bytes, or has ended. */
static void
conn_stream_wake(void *arg, enum stream_wake why)
{
	struct conn *c = arg;

	if (c->ctx->access != NULL && c->more != NULL)
		accesslog_extend(&c->more->logq, conn_queued(c),
		    why == STREAM_MORE);
	if (why != STREAM_MORE) {
		c->stream = NULL;
		c->busy = false;
		stats_observe(c->ctx->stats, util_now() - c->began);
		if (why == STREAM_BROKEN)
			c->close_after = true;
	}
	if (c->state == CONN_STREAM)
		conn_run(c);             /* not already waiting to write: send now */
}

/*
 * The response just framed at out[at..] (its head, and its body or the
 * start of it), for the access log: its body starts after the head's
 * blank line.
 */
static void
conn_log(struct conn *c, const struct http_request *req, const char *client,
    int status, uint64_t before, size_t at)
{
	struct accesslog_entry e = {
		.client = client, .req = req, .status = status,
		.began = c->began, .end = conn_queued(c),
		.open = c->stream != NULL,
	};
	const char *blank = memmem(c->out.p + at, c->out.len - at, "\r\n\r\n",
	    4);

	e.body_at = blank != NULL ? before + (uint64_t)(blank + 4 -
	    (c->out.p + at)) : e.end;
	if (conn_more(c) != NULL)        /* else the line is lost, not more */
		accesslog_push(c->ctx->access, &c->more->logq, &e);
}

/*
 * Frame resp, the answer to req (NULL: a request refused before it could
 * be read) from client, onto the output buffer and take over its file or
 * stream.
 */
static void
conn_respond(struct conn *c, struct http_response *resp, bool head_only,
    bool http10, const struct http_request *req, const char *client)
{
	struct conn_ctx *ctx = c->ctx;
	struct response_framing f = {
		.head_only = head_only, .http10 = http10,
		.close = c->close_after,
		.wake = conn_stream_wake, .wake_arg = c,
	};
	struct timeval tv;
	int status = resp->status;
	unsigned cls = (unsigned)status / 100;
	uint64_t before = conn_queued(c);
	size_t at = c->out.len;
	int r;

	if (resp->websocket != NULL) {
		/* Switching protocols: no Connection: close on the 101. */
		c->upgrade = resp->websocket;
		resp->websocket = NULL;
		c->close_after = false;
		f.close = false;
	}
	if (c->out.p == NULL && ctx->spare.p != NULL) {
		c->out = ctx->spare;
		memset(&ctx->spare, 0, sizeof(ctx->spare));
	}
	event_base_gettimeofday_cached(ctx->base, &tv);
	response_clock_set(&ctx->clock, tv.tv_sec);
	r = response_frame(&c->out, &ctx->clock, resp, &f);
	c->close_after = f.close;
	if (f.stream != NULL && (c->sse = stream_take_sse(f.stream)) != NULL)
		f.stream = NULL;
	if (f.stream != NULL) {
		c->stream = f.stream;
		c->busy = true;
	}
	if (f.file_fd >= 0 && conn_more(c) == NULL) {
		close(f.file_fd);
		r = -1;
	} else if (f.file_fd >= 0) {
		c->more->file_fd = f.file_fd;
		c->more->file_off = f.file_offset;
		c->more->file_left = f.file_len;
		c->busy = true;
	}
	if (r == -1) {
		log_error("out of memory framing a response; closing");
		c->out.len = c->out_off = 0;
		c->close_after = true;
		if (c->upgrade != NULL) {
			ws_discard(c->upgrade, true);
			c->upgrade = NULL;
		}
	}
	STATS_ADD(ctx->stats->responses[cls <= 5 ? cls : 0], 1);
	if (ctx->access != NULL)
		conn_log(c, req, client, status, before, r == -1 ? c->out.len : at);
	/* A file or a stream is timed when it ends (conn_flush, the wake). */
	if (!c->busy)
		stats_observe(ctx->stats, util_now() - c->began);
}

/* Answer a refused request with status and close. */
static void
conn_error(struct conn *c, int status)
{
	struct http_response resp;
	struct http_request req, *seen = NULL;
	const char *reason = http_status_reason(status);
	char client[REALIP_ADDRSTRLEN];

	memset(&resp, 0, sizeof(resp));
	resp.file_fd = -1;
	http_response_static(&resp, status, "text/plain", reason, strlen(reason));
	c->close_after = true;
	c->client_closes = false;    /* ours: the client may send more */
	/* Refused before the parser saw a request begin: it begins now. */
	if (!c->rd.in_message)
		c->began = util_now();
	/* Refused past its head (413, a stalled body's 408): the access log
	 * still has its request line. */
	if (c->ctx->access != NULL && c->rd.in_body) {
		memset(&req, 0, sizeof(req));
		request_view(&c->rd, &req, c->ctx->hdr_view);
		seen = &req;
	}
	/* A HEAD gets the head only, even of an error. */
	conn_respond(c, &resp, request_is_head(&c->rd), false, seen,
	    conn_peer(c, client, sizeof(client)));
	request_abandon(&c->rd);
}

/* ---- the request reader's hooks ----------------------------------------- */

static void
on_request_begin(struct request_reader *r)
{
	struct conn *c = CONN_OF(r);

	c->requests++;
	c->state = CONN_HEAD;
	c->since = loop_now(c->ctx->base);
	c->began = util_now();   /* the loop's cached time is too coarse */
}

static int
on_request_continue(struct request_reader *r)
{
	return response_continue(&CONN_OF(r)->out);
}

/*
 * The client of the current request: the peer, unless the peer is a
 * trusted proxy whose X-Forwarded-For / X-Real-IP say otherwise.
 */
static const char *
conn_client(struct conn *c, const struct http_request *req, char *out,
    size_t len)
{
	const struct config *cfg = c->ctx->cfg;

	if (cfg->ntrusted == 0 && !cfg->trust_unix)
		return conn_peer(c, out, len);
	if (realip_request_client(cfg, c->peer_unix ? NULL : &c->peer.sa,
	    c->peer_unix, req->headers, req->nheaders, out, len) != 1)
		conn_peer(c, out, len);
	return out;
}

/* The handler of a deferred response answered, let go, or ran out of
 * time: frame what the client gets. */
static void
conn_deferred_wake(void *arg, struct http_deferred *d,
    enum deferred_event ev)
{
	struct conn *c = arg;
	struct http_response *resp = http_deferred_response(d), err;
	int status = ev == DEFERRED_TIMEOUT ? 504 : 500;

	c->deferred = NULL;
	c->busy = false;
	if (c->ctx->draining)
		c->close_after = true;
	if (ev != DEFERRED_ANSWER) {
		memset(&err, 0, sizeof(err));
		err.file_fd = -1;
		http_response_static(&err, status, "text/plain",
		    http_status_reason(status), strlen(http_status_reason(status)));
		resp = &err;
	}
	conn_respond(c, resp, c->defer_head, c->defer_http10,
	    http_deferred_request(d), http_deferred_request(d)->client);
	deferred_detach(d);
	if (c->state == CONN_STREAM)
		conn_run(c);             /* not inside on_request: send now */
}

/* The handler deferred its answer: wait for it, parse nothing meanwhile. */
static void
conn_defer(struct conn *c, struct http_deferred *d, bool head_only,
    bool http10)
{
	c->deferred = d;
	c->busy = true;
	c->defer_head = head_only;
	c->defer_http10 = http10;
	/* An answer given inside the handler is framed at once. */
	deferred_attach(d, conn_deferred_wake, c, c->ctx->handler_tv);
}

/* A whole request: dispatch it and frame the answer. */
static void
on_request(struct request_reader *r)
{
	struct conn *c = CONN_OF(r);
	struct conn_ctx *ctx = c->ctx;
	struct http_request req;
	struct http_response resp;
	char client[REALIP_ADDRSTRLEN];

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	resp.file_fd = -1;
	request_view(r, &req, ctx->hdr_view);
	req.client = conn_client(c, &req, client, sizeof(client));
	req.draining = ctx->draining;
	req.base = ctx->base;

	STATS_ADD(ctx->stats->requests, 1);
	ctx->dispatch(c->listener->dispatch_arg, &req, &resp);

	if (!request_keep_alive(r) || ctx->draining ||
	    (ctx->limits->keepalive_requests > 0 &&
	    c->requests >= ctx->limits->keepalive_requests))
		c->close_after = true;
	c->client_closes = !request_keep_alive(r) && !request_upgrade(r);
	if (resp.deferred != NULL) {
		conn_defer(c, resp.deferred, request_is_head(r),
		    request_is_http10(r));
		response_discard(&resp);     /* nothing of it is sent */
	} else {
		conn_respond(c, &resp, request_is_head(r), request_is_http10(r),
		    &req, req.client);
	}
	/* Stop after a closing response (the rest is dropped), one whose
	 * body comes later or a switch to WebSocket (the rest waits in held). */
	if (c->close_after || c->busy || c->upgrade != NULL || c->sse != NULL)
		request_pause(r);
}

/* ---- input -------------------------------------------------------------- */

/* Parse len bytes of data (the shared read buffer). */
static void
conn_feed(struct conn *c, const char *data, size_t len)
{
	struct conn_ctx *ctx = c->ctx;
	size_t parsed;

	switch (request_feed(&c->rd, data, len, &parsed)) {
	case REQUEST_PAUSED:
		if (parsed < len)
			c->client_closes = false;    /* it sent more: linger */
		if (!c->close_after && parsed < len && (conn_more(c) == NULL ||
		    buf_append(&c->more->held, data + parsed, len - parsed) == -1))
			c->close_after = true;
		break;
	case REQUEST_BAD:
		conn_error(c, request_error_status(&c->rd));
		break;
	case REQUEST_UPGRADE:
		/* The rest is the new protocol's, if the handler switched (or
		 * may yet, from a deferred answer); else it is refused. */
		if (c->upgrade == NULL && c->deferred == NULL)
			c->close_after = true;
		else if (parsed < len && (conn_more(c) == NULL ||
		    buf_append(&c->more->held, data + parsed, len - parsed) == -1))
			c->close_after = true;
		break;
	case REQUEST_FED:
		break;
	}
	if (c->rd.in_message && !c->rd.in_body && !c->close_after &&
	    loop_now(ctx->base) - c->since > ctx->limits->header_timeout)
		conn_error(c, 408);
}

/*
 * Drive the connection until it must wait: send what is pending, then
 * parse what was held back, then wait for input (or close).
 */
static void
conn_run(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;
	size_t n;

	for (;;) {
		if (c->upgrade != NULL || c->sse != NULL) {
			conn_upgrade(c);
			return;
		}
		if (conn_flush(c) != FLUSH_DONE)
			return;
		if (c->stream != NULL || c->deferred != NULL) {
			/* Watch for the client leaving while the handler works. */
			c->state = CONN_STREAM;
			conn_watch(c, EV_READ, NULL);
			return;
		}
		if (c->close_after) {
			/*
			 * The client asked for the close and sent nothing after
			 * its request (RFC 9112 9.6: it must not): nothing unread
			 * can turn our close into a reset, so close now. Else
			 * linger: the client may be sending more.
			 */
			if (c->client_closes)
				conn_free(c);
			else
				conn_linger(c);
			return;
		}
		/* The response that paused the parser is complete. */
		if (request_paused(&c->rd))
			request_resume(&c->rd);
		if (held_len(c) == 0)
			break;
		/* held is at most rbuf_size (see conn_read): parse it from rbuf */
		n = c->more->held.len;
		memcpy(ctx->rbuf, c->more->held.p, n);
		held_free(c);
		conn_feed(c, ctx->rbuf, n);
	}
	conn_await_input(c);
}

/*
 * The PROXY header (v1 or v2) that a proxy_protocol listener expects before
 * anything else: its source address stands for the peer. Anything else,
 * or a malformed header, closes the connection without a response.
 */
static void
conn_proxy(struct conn *c, size_t n)
{
	struct conn_ctx *ctx = c->ctx;
	struct sockaddr_storage src;
	struct timeval tv;
	char peer[REALIP_ADDRSTRLEN];
	struct buf *held;
	socklen_t srclen = 0;
	size_t consumed = 0, rest;

	if (held_len(c) + n > ctx->rbuf_size || conn_more(c) == NULL ||
	    buf_append(&c->more->held, ctx->rbuf, n) == -1) {
		conn_free(c);
		return;
	}
	held = &c->more->held;
	switch (proxy_parse(held->p, held->len, &consumed, &src, &srclen)) {
	case PROXY_NEED_MORE:
		/* The header is due within header_timeout of the accept, however
		 * slowly it trickles in. */
		tv = loop_tv(c->since + ctx->limits->header_timeout -
		    loop_now(ctx->base));
		event_add(&c->ev, &tv);
		return;
	case PROXY_ERROR:
		log_debug("%s: no valid PROXY header; closing",
		    conn_peer(c, peer, sizeof(peer)));
		conn_free(c);
		return;
	case PROXY_DONE:
		break;
	}
	c->awaiting_proxy = false;
	if (src.ss_family == AF_INET || src.ss_family == AF_INET6) {
		memcpy(&c->peer, &src, srclen < sizeof(c->peer) ? srclen :
		    sizeof(c->peer));
		c->peer_unix = false;
	}
	/* What followed the header is the start of the first request. */
	rest = held->len - consumed;
	memmove(ctx->rbuf, held->p + consumed, rest);
	held_free(c);
	if (rest > 0)
		conn_feed(c, ctx->rbuf, rest);
	conn_run(c);
}

void
conn_read(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;
	size_t room = ctx->rbuf_size;
	ssize_t n;

	if (c->busy) {
		/* Streaming: keep what the client pipelines, up to a limit. */
		room = ctx->rbuf_size - held_len(c);
		if (room == 0) {
			event_del(&c->ev);   /* a write or the end wakes us */
			return;
		}
	}
	n = read(c->fd, ctx->rbuf, room);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF or error. A half-sent request cannot be answered. */
		conn_free(c);
		return;
	}
	STATS_ADD(ctx->stats->bytes_in, n);
	if (c->awaiting_proxy) {
		conn_proxy(c, (size_t)n);
		return;
	}
	if (c->busy) {
		if (conn_more(c) == NULL ||
		    buf_append(&c->more->held, ctx->rbuf, (size_t)n) == -1)
			conn_free(c);
		return;
	}
	conn_feed(c, ctx->rbuf, (size_t)n);
	conn_run(c);
}

static void
conn_timeout(struct conn *c)
{
	switch (c->state) {
	case CONN_HEAD:
		if (!c->rd.in_message) {    /* connected, never sent a byte */
			conn_linger(c);
			break;
		}
		/* fall through */
	case CONN_BODY:
		conn_error(c, 408);
		conn_run(c);
		break;
	case CONN_IDLE:
		conn_linger(c);
		break;
	case CONN_WRITE:             /* the client stopped reading */
	case CONN_STREAM:
	case CONN_LINGER:
		conn_free(c);
		break;
	}
}

static void
conn_discard(struct conn *c)
{
	struct timeval tv;
	ssize_t n;

	n = read(c->fd, c->ctx->rbuf, c->ctx->rbuf_size);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0 && (c->lingered += (uint32_t)n) < LINGER_MAX) {
		/* A persistent event restarts its timeout on every read: keep
		 * the deadline a deadline, or a trickle would hold us forever. */
		tv = loop_tv(c->since + LINGER_TIMEOUT - loop_now(c->ctx->base));
		event_add(&c->ev, &tv);
		return;
	}
	conn_free(c);
}

void
conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		conn_timeout(c);
	else if (c->state == CONN_LINGER)
		conn_discard(c);
	else if (what & EV_WRITE)
		conn_run(c);
	else
		conn_read(c);
}

void
conn_hooks_init(struct request_hooks *h)
{
	h->begin = on_request_begin;
	h->send_continue = on_request_continue;
	h->complete = on_request;
}
