/*
 * http — the handler API: the request a handler sees, the response it
 * fills in, and the definition of a handler (struct handler_def).
 *
 * A handler runs on the worker's event loop and must not block. It gets the
 * parsed request (strings are not NUL-terminated unless said: use the
 * lengths; the request and its strings are valid until the handler
 * returns: http_defer copies them for a later answer) and fills in the
 * response; the engine (worker/http/response.c) frames it: status line,
 * Server, Date, Content-Length or chunked framing, Connection. A response
 * body is one of:
 *
 *   - memory: http_response_static() for bytes that outlive the response,
 *     or resp->body_buf (appended to by the handler) via http_response_buf();
 *   - a file: http_response_file() (sent with sendfile, fd owned by shoal);
 *   - a stream: http_response_stream() returns a handle the handler keeps
 *     and writes chunks to later (chunked transfer coding), from timers or
 *     other events, until http_stream_end(). Requests pipelined behind a
 *     streamed response wait until it ends.
 *
 * Or the handler answers later: http_defer() returns a handle the handler
 * keeps; it answers from any event of the loop (a backend's reply, a
 * timer, a pool job) by filling http_deferred_response() with the same
 * setters (any body kind, a stream included) and calling
 * http_deferred_send(). See "deferred responses" below.
 *
 * This header, worker/api/ws.h (WebSocket), worker/api/module.h,
 * worker/api/pool.h, worker/api/redis.h and worker/api/channel.h
 * (publish/subscribe) are the whole interface of
 * handlers, built-in (worker/handlers/) or in application modules; the
 * shoal binary exports their symbols (and common/buf.h's).
 */
#ifndef SHOAL_HTTP_H
#define SHOAL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/method.h"

struct channels;
struct event_base;
struct redis;
struct stats;

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct http_request {
	const char *method;          /* "GET", NUL-terminated */
	int method_id;               /* enum method_id (common/method.h) */
	const char *target;          /* request-target as sent */
	size_t target_len;
	const char *path;            /* target up to '?', still %-encoded;
	                                of an absolute-form target
	                                (http://host/p?q) the path after the
	                                authority, "/" if empty */
	size_t path_len;
	const char *query;           /* after '?', or NULL */
	size_t query_len;
	unsigned version_major;
	unsigned version_minor;
	const struct http_header *headers;
	size_t nheaders;
	const char *body;            /* decoded (de-chunked) */
	size_t body_len;
	bool upgrade;                /* Connection: upgrade and an Upgrade
	                                field: the client asks to switch to
	                                the protocol Upgrade names */
	const char *client;          /* "127.0.0.1:51234", "[::1]:5", "unix", NUL-terminated */
	const char *route_path;      /* the matched route's path, NUL-terminated */
	bool draining;               /* the worker is shutting down */
	struct event_base *base;     /* the worker's loop, for timers of streams */
	struct pool *pool;           /* the worker's threads, for CPU-heavy work
	                                (worker/api/pool.h) */
	const struct stats *stats;   /* every worker's counters (common/stats.h) */
	/* Added last, so that a module built before it finds the fields
	 * above where they were. */
	struct redis *redis;         /* the worker's Redis client
	                                (worker/api/redis.h); NULL: none */
	struct channels *channels;   /* the worker's publish/subscribe
	                                channels (worker/api/channel.h) */
};

struct http_stream;
struct http_deferred;
struct ws;

struct http_response {
	int status;
	const char *content_type;    /* NULL: no Content-Type */
	struct buf headers;          /* extra header lines, each ending "\r\n" */
	const char *body;            /* memory body: static or into body_buf */
	size_t body_len;
	struct buf body_buf;         /* owned memory body */
	int file_fd;                 /* file body: -1 if none; owned by shoal */
	off_t file_offset;
	off_t file_len;
	struct http_stream *stream;  /* streamed body, if any */
	bool close;                  /* close the connection after this response */
	struct http_deferred *deferred;  /* set by http_defer: answered later */
	struct ws *websocket;        /* set by http_websocket_accept (ws.h) */
};

/* The value of the first header named name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req,
    const char *name, size_t *len);

/* Status and a body that outlives the response (a string literal). */
void http_response_static(struct http_response *resp, int status,
    const char *content_type, const char *body, size_t len);
/* Status and resp->body_buf (filled by the handler) as the body. */
void http_response_buf(struct http_response *resp, int status,
    const char *content_type);
/* Status and a JSON body serialised by jansson; json is not stolen. */
void http_response_json(struct http_response *resp, int status,
    const json_t *json);
/* Add a header line ("ETag", "\"abc\""); -1 on allocation failure. */
int http_response_header(struct http_response *resp, const char *name,
    const char *value);
/* Send len bytes of fd from offset (sendfile); fd is owned by shoal now. */
void http_response_file(struct http_response *resp, int status,
    const char *content_type, int fd, off_t offset, off_t len);

/*
 * Make resp a streamed (chunked) response and return its handle; the
 * head is sent when the handler returns. NULL on allocation failure (the
 * response is then a 500). For HTTP/1.0 clients the body is sent raw and
 * the connection closes at the end.
 */
struct http_stream *http_response_stream(struct http_response *resp,
    int status, const char *content_type);
/* Queue a chunk; -1 if the client is gone (the handle stays valid until
 * http_stream_end) or on allocation failure. len 0 is a no-op. */
int http_stream_write(struct http_stream *s, const void *data, size_t len);
/* Finish the stream; the handle is invalid afterwards. */
void http_stream_end(struct http_stream *s);
/* True once the client has gone away; a handler polling a timer should
 * then stop and call http_stream_end. */
bool http_stream_closed(const struct http_stream *s);

/* ---- deferred responses ----------------------------------------------- */

/*
 * Answer later. Called inside the handler, which then returns without
 * answering; the handle stays the handler's until it calls exactly one of
 * http_deferred_send or http_deferred_release (afterwards it is invalid).
 * The request is copied into the handle: http_deferred_request stays
 * valid until then, whatever happens to the client. What the handler had
 * set on resp (headers) moves to http_deferred_response; resp itself must
 * not be touched again. NULL on allocation failure (resp untouched: answer
 * it now, a 500 say).
 *
 * cancel(arg), if not NULL, runs at most once, on the loop, when the
 * answer can no longer reach the client: the client went away, the worker
 * stops, or handler_timeout passed (the client got a 504). The handle is
 * still valid then, and still the handler's to send (the answer is
 * discarded) or release, from the callback itself or later.
 *
 * Requests pipelined behind a deferred one wait until it is answered; a
 * draining worker waits for it up to graceful_timeout.
 */
struct http_deferred *http_defer(struct http_request *req,
    struct http_response *resp, void (*cancel)(void *arg), void *arg);
/* The request, valid until send or release. */
struct http_request *http_deferred_request(struct http_deferred *d);
/* The response to fill in with the http_response_* setters. */
struct http_response *http_deferred_response(struct http_deferred *d);
/* Send the response (a memory, file or stream body); the handle is the
 * engine's now. May be called inside the handler too. */
void http_deferred_send(struct http_deferred *d);
/* Give up without answering: a client still waiting gets a 500. */
void http_deferred_release(struct http_deferred *d);
/* True once the answer can no longer reach the client (cancel ran). */
bool http_deferred_cancelled(const struct http_deferred *d);

/* The reason phrase for status ("Not Found"), "" if unknown. */
const char *http_status_reason(int status);

/* ---- HTTP-dates (RFC 9110 5.6.7) ---------------------------------------- */

/* The length of an HTTP-date: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define HTTP_DATE_LEN 29

/*
 * Write t as an IMF-fixdate and a NUL into out, which needs at least
 * HTTP_DATE_LEN + 1 bytes; returns HTTP_DATE_LEN, or 0 (and "" if outsz
 * allows) when out is too small. A time outside the years 0-9999 is written
 * as the epoch. No printf, no locale: cheap enough for every response.
 */
size_t http_date_format(time_t t, char *out, size_t outsz);

/*
 * Parse an HTTP-date of len bytes (no NUL needed; spaces and tabs around it
 * are ignored): the IMF-fixdate, or the obsolete RFC 850 and asctime forms
 * that recipients must accept. 0 with *out set, or -1 if it is none.
 */
int http_date_parse(const char *s, size_t len, time_t *out);

/* ---- handlers --------------------------------------------------------- */

typedef void http_handle_fn(struct http_request *req,
    struct http_response *resp, void *state);

struct handler_def {
	const char *name;
	const char *help;
	/* Check the route's handler-specific keys at config load (in the
	 * master and for --check); -1 with a reason in err. May be NULL. */
	int (*check)(const json_t *route, char *err, size_t errlen);
	/* Per-worker set-up for one route; *state goes to handle(). May be
	 * NULL. -1 with a reason in err fails the worker's boot. */
	int (*init)(const json_t *route, void **state, char *err, size_t errlen);
	http_handle_fn *handle;
	void (*free)(void *state);
};

#endif
