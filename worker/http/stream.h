/*
 * stream — the handles of streamed responses (http_response_stream in
 * worker/api/http.h): a body written after the handler returned, from
 * timers, pool jobs or any other event of the worker's loop.
 *
 * Until the response's head is framed, what the handler writes waits in
 * the handle. Framing attaches the handle to the connection's output
 * buffer; from then on each write is appended there (as a chunk for
 * HTTP/1.1, raw for 1.0) and the connection is woken through the callback
 * it gave, so that the stream knows nothing of connections. When the
 * client goes, the connection detaches the handle: the handler's writes
 * then fail and http_stream_closed says so, until it ends the stream.
 */
#ifndef SHOAL_STREAM_H
#define SHOAL_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "worker/api/http.h"

/* Why a stream wakes its connection. */
enum stream_wake {
	STREAM_MORE,                 /* more bytes are on the output buffer */
	STREAM_END,                  /* the stream ended (the handle is gone) */
	STREAM_BROKEN,               /* it ended, but its last chunk could not
	                                be queued: close the connection */
};

typedef void stream_wake_fn(void *arg, enum stream_wake why);

/* A new handle, not attached yet; NULL on allocation failure. */
struct http_stream *stream_new(void);

/*
 * The response's head is on out (NULL: it could not be framed, the stream
 * is as good as closed): queue what was written so far, and from now on
 * append to out (chunked, or raw for HTTP/1.0; nothing for a HEAD) and
 * call wake(arg, ...) after each write and at the end. *open tells whether
 * the stream goes on: if it had already ended, it is freed here (with its
 * last chunk queued) and *open is false. -1 if out could not take the
 * bytes.
 */
int stream_attach(struct http_stream *s, struct buf *out, bool chunked,
    bool head_only, stream_wake_fn *wake, void *arg, bool *open);

/* The connection is gone: writes fail from now on; the handler still ends
 * the stream, which frees it. (A stream handed over to an sse stream is
 * freed here, the sse discarded.) */
void stream_detach(struct http_stream *s);

struct sse;

/*
 * Hand s over to the server-sent event stream t (worker/http/sse.h) once
 * its head is framed: no handler holds s; the connection takes it with
 * stream_take_sse and gives its socket to t. If the head is never framed,
 * t is discarded (its owner is told).
 */
void stream_set_sse(struct http_stream *s, struct sse *t);

/* s's sse stream, with s freed; NULL (s untouched) for any other stream. */
struct sse *stream_take_sse(struct http_stream *s);

#endif
