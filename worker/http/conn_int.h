/*
 * conn_int — a connection's state, shared by the two files of the HTTP
 * engine and nothing else: conn.c (one connection: reading, answering,
 * writing, closing) and conns.c (the worker's set of them: its context,
 * accepting, draining, closing all). Handlers never see it.
 */
#ifndef SHOAL_WORKER_HTTP_CONN_INT_H
#define SHOAL_WORKER_HTTP_CONN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/buf.h"
#include "worker/http/conn.h"
#include "worker/http/request.h"

enum conn_state {
	CONN_IDLE,           /* between requests: keepalive_timeout */
	CONN_HEAD,           /* reading a request head: header_timeout deadline */
	CONN_BODY,           /* reading a body: body_timeout between reads */
	CONN_WRITE,          /* waiting to write: write_timeout between writes */
	CONN_STREAM,         /* a streamed or deferred response waits for its
	                        handler */
	CONN_LINGER,         /* our side shut down: discarding input */
};

struct conn {
	LIST_ENTRY(conn) entry;
	struct conn_ctx *ctx;
	int fd;
	enum conn_state state;
	bool close_after;        /* close once the output is written */
	bool client_closes;      /* ... because the client said so, and sent
	                            nothing after: no lingering close needed */
	bool busy;               /* a file or stream response is in progress */
	bool peer_unix;
	bool awaiting_proxy;     /* the PROXY header has not been read yet */
	bool defer_head;         /* the deferred request was a HEAD ... */
	bool defer_http10;       /* ... from an HTTP/1.0 client */
	double since;            /* the start of the state's deadline: the
	                            head's first byte (or the accept) in
	                            CONN_HEAD, going idle in CONN_IDLE, the
	                            shutdown in CONN_LINGER */
	double began;            /* util_now() at the request's first byte:
	                            its duration (stats, access log) */
	uint32_t requests;       /* requests received on this connection */
	uint32_t lingered;       /* bytes discarded, up to LINGER_MAX */
	struct event ev;
	struct request_reader rd;    /* the request being read */
	struct buf out;
	size_t out_off;
	struct conn_more *more;  /* while busy: NULL when idle */
	struct http_stream *stream;
	struct http_deferred *deferred;  /* a response the handler owes */
	struct ws *upgrade;      /* accepted WebSocket, handed over next */
	struct sse *sse;         /* an event stream of a channel, likewise */
	const struct conn_listener *listener;
	uint64_t sent;           /* bytes written, ever: output positions */
	union {                  /* the peer, or the PROXY header's source */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
};

/*
 * What a connection needs only while it is busy, allocated then and freed
 * once it is idle again, so that an idle connection stays small.
 */
struct conn_more {
	struct buf held;         /* input received while busy, parsed later */
	struct buf logq;         /* access log: responses framed, not yet
	                            complete (accesslog.h) */
	int file_fd;             /* file body being sent, or -1 */
	off_t file_off, file_left;
};

/* conn.c's side, for conns.c */
void conn_event(evutil_socket_t fd, short what, void *arg);
void conn_read(struct conn *c);            /* read now: data may be there */
void conn_free(struct conn *c);
void conn_gone(void *arg);                 /* one connection fewer (ws, sse) */
void conn_hooks_init(struct request_hooks *h);  /* the request reader's */

#endif
