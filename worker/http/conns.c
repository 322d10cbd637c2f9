/*
 * conns — the worker's side of the HTTP engine: the context its
 * connections share (the read buffer, the request reader's hooks, the
 * WebSocket and event-stream sets), accepting a connection, draining and
 * closing them all. What one connection does is conn.c's.
 */
#include "worker/http/conn.h"
#include "worker/http/conn_int.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/http/loop.h"
#include "worker/http/sse.h"
#include "worker/http/ws.h"

#define DRAIN_IDLE_GRACE 1.0         /* seconds an idle connection may still
                                        send a request once we drain */

int
conn_ctx_init(struct conn_ctx *ctx, struct event_base *base,
    const struct config *cfg, struct stats_proc *stats)
{
	const struct http_limits *limits = &cfg->http;
	struct timeval tv = loop_tv(limits->keepalive_timeout);

	memset(ctx, 0, sizeof(*ctx));
	ctx->base = base;
	ctx->cfg = cfg;
	ctx->limits = limits;
	ctx->stats = stats;
	LIST_INIT(&ctx->conns);
	ctx->rbuf_size = 64 * 1024;
	if ((ctx->rbuf = malloc(ctx->rbuf_size)) == NULL)
		return -1;
	ctx->hdr_view = calloc(limits->max_headers, sizeof(*ctx->hdr_view));
	if (ctx->hdr_view == NULL)
		return -1;
	/* One timeout for every idle connection: libevent keeps a FIFO, O(1). */
	ctx->keepalive_tv = event_base_init_common_timeout(base, &tv);
	if (ctx->keepalive_tv == NULL)
		return -1;
	if (limits->handler_timeout > 0) {
		tv = loop_tv(limits->handler_timeout);
		ctx->handler_tv = event_base_init_common_timeout(base, &tv);
		if (ctx->handler_tv == NULL)
			return -1;
	}

	if (ws_ctx_init(&ctx->ws, base, limits, ctx->rbuf, ctx->rbuf_size) == -1)
		return -1;
	ctx->ws.closed = conn_gone;
	ctx->ws.closed_arg = ctx;
	if (sse_ctx_init(&ctx->sse, base, cfg, ctx->rbuf, ctx->rbuf_size) == -1)
		return -1;
	ctx->sse.closed = conn_gone;
	ctx->sse.closed_arg = ctx;

	ctx->hooks.limits = limits;
	conn_hooks_init(&ctx->hooks);
	if (request_setup(&ctx->hooks) == -1)
		return -1;
	return 0;
}

void
conn_ctx_free(struct conn_ctx *ctx)
{
	conn_close_all(ctx);
	ws_ctx_free(&ctx->ws);
	request_teardown(&ctx->hooks);
	sse_ctx_free(&ctx->sse);
	free(ctx->rbuf);
	ctx->rbuf = NULL;
	buf_free(&ctx->spare);
	free(ctx->hdr_view);
	ctx->hdr_view = NULL;
}

void
conn_accept(struct conn_ctx *ctx, int fd, const struct sockaddr *sa,
    socklen_t salen, const struct conn_listener *l)
{
	struct conn *c;
	struct timeval tv;
	int on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("out of memory accepting a connection");
		close(fd);
		return;
	}
	c->peer_unix = sa == NULL || salen == 0 || sa->sa_family == AF_UNIX;
	if (!c->peer_unix) {
		/* Responses are written whole: no reason to wait for more. A
		 * listener with TCP_NODELAY passes it on (Linux). */
		if (!l->nodelay)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		memcpy(&c->peer, sa, salen < sizeof(c->peer) ? salen :
		    sizeof(c->peer));
	}
	c->ctx = ctx;
	c->fd = fd;
	c->listener = l;
	c->awaiting_proxy = l->proxy_protocol;
	request_init(&c->rd, &ctx->hooks);
	LIST_INSERT_HEAD(&ctx->conns, c, entry);
	ctx->nconns++;
	STATS_SET(ctx->stats->conns_open, ctx->nconns);
	STATS_ADD(ctx->stats->conns_accepted, 1);
	event_assign(&c->ev, ctx->base, fd, EV_READ | EV_PERSIST, conn_event, c);
	/* The first request (and a PROXY header) is due within header_timeout. */
	c->state = CONN_HEAD;
	c->since = loop_now(ctx->base);
	tv = loop_tv(ctx->limits->header_timeout);
	event_add(&c->ev, &tv);
	/* With TCP_DEFER_ACCEPT the request is usually here already: read it
	 * now rather than after a trip through epoll. */
	conn_read(c);
}

void
conn_drain_all(struct conn_ctx *ctx)
{
	struct timeval grace = loop_tv(DRAIN_IDLE_GRACE);
	struct conn *c, *next;

	ctx->draining = true;
	ws_drain_all(&ctx->ws);
	sse_drain_all(&ctx->sse);
	for (c = LIST_FIRST(&ctx->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		/*
		 * Idle between requests: closing it now races with a client (an
		 * NGINX upstream pool) that is sending its next request on it
		 * right now, which then fails. So it gets DRAIN_IDLE_GRACE for
		 * one more request, answered with Connection: close; only a
		 * connection still idle after that is closed. One accepted but
		 * not yet heard from is served the same way.
		 */
		if (c->state == CONN_IDLE ||
		    (c->state == CONN_HEAD && !c->rd.in_message && !c->awaiting_proxy))
			event_add(&c->ev, &grace);
	}
}

void
conn_close_all(struct conn_ctx *ctx)
{
	struct conn *c;

	while ((c = LIST_FIRST(&ctx->conns)) != NULL)
		conn_free(c);
	ws_close_all(&ctx->ws);
	sse_close_all(&ctx->sse);
}
