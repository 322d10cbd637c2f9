/*
 * stream — see stream.h; the handler's side is in worker/api/http.h.
 */
#include "worker/http/stream.h"

#include <stdlib.h>

#include "worker/http/sse.h"

struct http_stream {
	struct buf *out;             /* the connection's output; NULL once it is
	                                gone (or before framing) */
	stream_wake_fn *wake;        /* tells the connection, see stream_attach */
	void *wake_arg;
	struct buf early;            /* written before the head was framed */
	bool framed;                 /* attached to its connection */
	bool chunked;                /* HTTP/1.1: chunked; 1.0: raw, then close */
	bool head_only;              /* HEAD: the body is discarded */
	bool ended;                  /* http_stream_end was called */
	struct sse *sse;             /* handed over to it once framed */
};

/* One chunk of the body (RFC 9112 7.1), or the raw bytes for HTTP/1.0. */
static int
append_chunk(struct buf *out, bool chunked, const void *data, size_t len)
{
	if (!chunked)
		return buf_append(out, data, len);
	return buf_printf(out, "%zx\r\n", len) == -1 ||
	    buf_append(out, data, len) == -1 ||
	    buf_append(out, "\r\n", 2) == -1 ? -1 : 0;
}

struct http_stream *
stream_new(void)
{
	return calloc(1, sizeof(struct http_stream));
}

int
stream_attach(struct http_stream *s, struct buf *out, bool chunked,
    bool head_only, stream_wake_fn *wake, void *arg, bool *open)
{
	int r = 0;

	if (s->sse != NULL && (out == NULL || head_only)) {
		sse_discard(s->sse);     /* nothing to take over */
		free(s);
		*open = false;
		return 0;
	}
	s->out = out;
	s->wake = wake;
	s->wake_arg = arg;
	s->framed = true;
	s->chunked = chunked;
	s->head_only = head_only;
	if (out != NULL && !head_only && s->early.len > 0)
		r = append_chunk(out, chunked, s->early.p, s->early.len);
	buf_free(&s->early);
	if (s->ended) {
		if (out != NULL && r == 0 && chunked && !head_only)
			r = buf_append(out, "0\r\n\r\n", 5);
		free(s);
		*open = false;
		return r;
	}
	*open = out != NULL;
	return r;
}

void
stream_detach(struct http_stream *s)
{
	if (s->sse != NULL) {
		sse_discard(s->sse);
		free(s);
		return;
	}
	s->out = NULL;
}

void
stream_set_sse(struct http_stream *s, struct sse *t)
{
	s->sse = t;
}

struct sse *
stream_take_sse(struct http_stream *s)
{
	struct sse *t = s->sse;

	if (t == NULL)
		return NULL;
	buf_free(&s->early);
	free(s);
	return t;
}

/* ---- the handler's side (worker/api/http.h) ----------------------------- */

bool
http_stream_closed(const struct http_stream *s)
{
	return s->framed && s->out == NULL;
}

int
http_stream_write(struct http_stream *s, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (!s->framed)
		return buf_append(&s->early, data, len);
	if (s->out == NULL)
		return -1;
	if (s->head_only)
		return 0;
	if (append_chunk(s->out, s->chunked, data, len) == -1)
		return -1;
	s->wake(s->wake_arg, STREAM_MORE);
	/* Sending may have found the client gone (the connection detached us). */
	return s->out == NULL ? -1 : 0;
}

void
http_stream_end(struct http_stream *s)
{
	struct buf *out = s->out;
	stream_wake_fn *wake = s->wake;
	void *arg = s->wake_arg;
	bool terminate, broken;

	if (!s->framed) {            /* still inside the handler */
		s->ended = true;
		return;
	}
	terminate = s->chunked && !s->head_only;
	buf_free(&s->early);
	free(s);
	if (out == NULL)
		return;
	broken = terminate && buf_append(out, "0\r\n\r\n", 5) == -1;
	wake(arg, broken ? STREAM_BROKEN : STREAM_END);
}
