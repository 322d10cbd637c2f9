/*
 * conn — HTTP/1.x connections of one worker.
 *
 * Everything a connection needs from its worker is in struct conn_ctx,
 * owned by the worker; struct conn itself is private to conn.c. An idle
 * keep-alive connection holds no buffers: only the struct, its event and
 * its parser state (well under 1 KiB).
 */
#ifndef SHOAL_CONN_H
#define SHOAL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/stats.h"
#include "worker/http/request.h"
#include "worker/http/response.h"
#include "worker/http/sse.h"
#include "worker/http/ws.h"

struct http_header;
struct http_request;
struct http_response;
struct accesslog;

/* Answers a whole request: fills in resp. arg is the dispatch_arg of the
 * listener the connection came from. The worker's adds what is its own to
 * req (pool, stats) and hands it to that listener's router. */
typedef void conn_dispatch_fn(void *arg, struct http_request *req,
    struct http_response *resp);

/* What a listening socket tells the connections accepted on it; it must
 * outlive them. */
struct conn_listener {
	bool proxy_protocol;         /* they start with a PROXY v1/v2 header */
	bool nodelay;                /* the listener has TCP_NODELAY: they
	                                inherit it (Linux) */
	void *dispatch_arg;          /* for ctx->dispatch, with their requests */
};

struct conn;
LIST_HEAD(conn_list, conn);

struct conn_ctx {
	struct event_base *base;
	const struct config *cfg;
	const struct http_limits *limits;
	struct stats_proc *stats;
	struct conn_list conns;
	size_t nconns;
	bool draining;               /* answer with Connection: close, no keep-alive */

	/* Shared buffers: a connection reads into rbuf and copies out only the
	 * part of a request that spans reads. */
	char *rbuf;
	size_t rbuf_size;
	/* An output buffer a connection gave back when it went idle, for the
	 * next one that frames a response: no malloc and free per request. */
	struct buf spare;
	struct http_header *hdr_view;    /* max_headers entries */
	conn_dispatch_fn *dispatch;      /* set by the worker */
	struct accesslog *access;        /* set by the worker; NULL: none */

	/* The Date header, and the 200 status line with Server and Date,
	 * formatted once per second. */
	struct response_clock clock;

	/* How every connection's request reader reaches its connection. */
	struct request_hooks hooks;

	/* The connections that switched to WebSocket (ws.c); nconns counts
	 * them too. */
	struct ws_ctx ws;
	/* The event streams of channels, handed over likewise (sse.c). */
	struct sse_ctx sse;

	/* Timeouts shared by all connections (libevent common timeouts: O(1)). */
	const struct timeval *keepalive_tv;
	const struct timeval *handler_tv;    /* deferred responses; NULL: none */

	/* Called after every close: the worker resumes accepting, or ends a
	 * drain when the last connection is gone. */
	void (*on_close)(void *arg);
	void *on_close_arg;
};

/* Set up ctx for a worker's loop; -1 on allocation failure. */
int conn_ctx_init(struct conn_ctx *ctx, struct event_base *base,
    const struct config *cfg, struct stats_proc *stats);
void conn_ctx_free(struct conn_ctx *ctx);

/*
 * Serve an accepted socket (non-blocking, close-on-exec); the connection
 * owns fd from here on, even on failure. sa is the peer (NULL or AF_UNIX
 * for a Unix-domain peer). With l->proxy_protocol the connection must
 * start with a PROXY v1/v2 header, whose source address then stands for
 * the peer.
 */
void conn_accept(struct conn_ctx *ctx, int fd, const struct sockaddr *sa,
    socklen_t salen, const struct conn_listener *l);

/*
 * Drain: idle connections are closed now (lingering close), busy ones after
 * their current response, which carries Connection: close; WebSocket
 * connections get a close 1001 after a short grace. ctx->on_close runs
 * after each close; the caller ends the drain when nconns is 0.
 */
void conn_drain_all(struct conn_ctx *ctx);

/* Close every connection now (fast stop). */
void conn_close_all(struct conn_ctx *ctx);

#endif
