/*
 * response — framing a handler's response (worker/api/http.h) into the
 * bytes of HTTP/1.1: status line, Server, Date, Content-Type,
 * Content-Length or chunked coding, Connection, the handler's headers, and
 * the body or the means to send it (a file, a stream).
 *
 *   - A 200's status line with Server and Date is formatted once a second
 *     (struct response_clock) and copied: no printf on the hot path.
 *   - No body for a HEAD (its head is the GET's, Content-Length included),
 *     for 1xx, 204 and 304 (and no Content-Length either).
 *   - A stream is chunked for HTTP/1.1; for 1.0 its body is sent raw and
 *     the connection closes at its end. An HTTP/1.0 client is told
 *     "Connection: keep-alive" when the connection stays open, any client
 *     "Connection: close" when it will close.
 */
#ifndef SHOAL_RESPONSE_H
#define SHOAL_RESPONSE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "common/buf.h"
#include "worker/api/http.h"
#include "worker/http/stream.h"

/* What every response of a worker shares, refreshed once a second. */
struct response_clock {
	time_t sec;                  /* the second formatted below */
	char date[HTTP_DATE_LEN + 1];
	size_t date_len;
	char head200[80];            /* "HTTP/1.1 200 OK", Server, Date lines */
	size_t head200_len;
};

/* Format the clock for now. */
void response_clock_format(struct response_clock *clk, time_t now);

/* The clock for now: formatted at most once a second (inline: it is asked
 * for every response). */
static inline void
response_clock_set(struct response_clock *clk, time_t now)
{
	if (now != clk->sec || clk->date_len == 0)
		response_clock_format(clk, now);
}

/* How one response is framed, and what the connection must do after. */
struct response_framing {
	bool head_only;              /* in: a HEAD: the head, no body */
	bool http10;                 /* in: an HTTP/1.0 client */
	bool close;                  /* in: the connection closes after this
	                                response; out: also when the response
	                                asked to (resp->close), or when only the
	                                close can end its body (a stream to 1.0) */
	stream_wake_fn *wake;        /* in: how a stream wakes the connection */
	void *wake_arg;
	struct http_stream *stream;  /* out: a stream still open (its bytes come
	                                later), else NULL */
	int file_fd;                 /* out: a file body to send after out, now
	                                the caller's; -1 if none */
	off_t file_offset, file_len;
};

/*
 * Append resp, framed, to out (a pipelined batch may already be there).
 * resp's buffers are freed; its file or stream passes to f (a file of a
 * response without a body is closed). 0, or -1 on allocation failure: out
 * then holds a partial head and must not be sent (f->file_fd is -1; a
 * stream is closed for its handler).
 */
int response_frame(struct buf *out, const struct response_clock *clk,
    struct http_response *resp, struct response_framing *f);

/* Drop resp without sending it: free its buffers, close its file, close
 * its stream for the handler (which still ends it), drop a WebSocket
 * accepted in it (its on_close runs). */
void response_discard(struct http_response *resp);

/* Append the interim "100 Continue" a client waits for before it sends a
 * request's body. -1 on allocation failure. */
int response_continue(struct buf *out);

#endif
