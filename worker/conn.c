/*
 * conn — HTTP/1.x connections over Node's http_parser and libevent.
 *
 * One struct event per connection, switched between reading and writing;
 * reads go into the worker's shared buffer and the parser copies out only
 * the request being assembled (head and body) into per-connection buffers
 * that are freed as soon as the connection is idle again.
 *
 * Pipelining: every complete request in a read is answered in order, the
 * responses appended to one output buffer and sent with one write. While
 * output is pending the connection does not read (the client must read
 * what it asked for before it can ask for more).
 *
 * Closing is always a lingering close: shut down our side, read and discard
 * what the client still sends for a moment, then close, so a response is
 * never destroyed by a reset caused by unread input.
 */
#include "worker/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <event2/event_struct.h>
#include <http_parser.h>

#include "common/buf.h"
#include "common/log.h"
#include "worker/http.h"

#define LINGER_TIMEOUT 2     /* seconds to wait for the client's FIN */
#define LINGER_MAX     (256 * 1024)  /* bytes discarded before giving up */

enum conn_state {
	CONN_IDLE,           /* between requests: keepalive_timeout */
	CONN_HEAD,           /* reading a request head: header_timeout deadline */
	CONN_BODY,           /* reading a body: body_timeout between reads */
	CONN_WRITE,          /* waiting to write: write_timeout between writes */
	CONN_LINGER,         /* our side shut down: discarding input */
};

struct hdr {                 /* offsets into head, which may move */
	uint32_t name_off, name_len, value_off, value_len;
};

struct conn {
	LIST_ENTRY(conn) entry;
	struct conn_ctx *ctx;
	int fd;
	enum conn_state state;
	bool in_message;         /* the parser is inside a request */
	bool last_was_value;     /* header callbacks: the last piece was a value */
	bool close_after;        /* close once the output is written */
	int error_status;        /* set by a callback that refused the request */
	double head_started;     /* for the header_timeout deadline */
	size_t lingered;
	struct event ev;
	http_parser parser;
	size_t url_len;
	struct buf head;         /* URL, then header names and values */
	struct hdr *hdrs;
	size_t nhdrs, hdrs_cap;
	struct buf body;
	struct buf out;
	size_t out_off;
};

static http_parser_settings parser_settings;

static void conn_event(evutil_socket_t fd, short what, void *arg);

static double
now_cached(struct conn_ctx *ctx)
{
	struct timeval tv;

	event_base_gettimeofday_cached(ctx->base, &tv);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static struct timeval
tv_of(double seconds)
{
	struct timeval tv;

	if (seconds < 0)
		seconds = 0;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Free what an idle connection does not need. */
static void
release_buffers(struct conn *c)
{
	buf_free(&c->head);
	buf_free(&c->body);
	free(c->hdrs);
	c->hdrs = NULL;
	c->nhdrs = c->hdrs_cap = 0;
	if (c->out_off == c->out.len) {
		buf_free(&c->out);
		c->out_off = 0;
	}
}

static void
conn_free(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;

	event_del(&c->ev);
	close(c->fd);
	LIST_REMOVE(c, entry);
	ctx->nconns--;
	STATS_SET(ctx->stats->conns_open, ctx->nconns);
	buf_free(&c->out);
	release_buffers(c);
	free(c);
	if (ctx->on_close != NULL)
		ctx->on_close(ctx->on_close_arg);
}

/* Watch fd for what (EV_READ or EV_WRITE) with a timeout. */
static void
conn_watch(struct conn *c, short what, const struct timeval *tv)
{
	if ((event_get_events(&c->ev) & (EV_READ | EV_WRITE)) != what) {
		event_del(&c->ev);
		event_assign(&c->ev, c->ctx->base, c->fd, what | EV_PERSIST,
		    conn_event, c);
	}
	event_add(&c->ev, tv);
}

static void
conn_linger(struct conn *c)
{
	struct timeval tv = { LINGER_TIMEOUT, 0 };

	c->state = CONN_LINGER;
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
	struct timeval tv;

	if (!c->in_message) {
		if (c->ctx->draining) {
			conn_linger(c);
			return;
		}
		c->state = CONN_IDLE;
		release_buffers(c);
		conn_watch(c, EV_READ, c->ctx->keepalive_tv);
	} else if (c->state == CONN_BODY) {
		tv = tv_of(lim->body_timeout);
		conn_watch(c, EV_READ, &tv);
	} else {
		c->state = CONN_HEAD;
		tv = tv_of(c->head_started + lim->header_timeout -
		    now_cached(c->ctx));
		conn_watch(c, EV_READ, &tv);
	}
}

/* Write what is pending; then read again, wait to write, or close. */
static void
conn_flush(struct conn *c)
{
	struct timeval tv;
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			STATS_ADD(c->ctx->stats->bytes_out, n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->state = CONN_WRITE;
			tv = tv_of(c->ctx->limits->write_timeout);
			conn_watch(c, EV_WRITE, &tv);
			return;
		}
		conn_free(c);    /* EPIPE, ECONNRESET: the client is gone */
		return;
	}
	c->out.len = c->out_off = 0;
	if (c->close_after)
		conn_linger(c);
	else
		conn_await_input(c);
}

static void
refresh_date(struct conn_ctx *ctx)
{
	struct timeval tv;
	struct tm tm;

	event_base_gettimeofday_cached(ctx->base, &tv);
	if (tv.tv_sec == ctx->date_sec)
		return;
	ctx->date_sec = tv.tv_sec;
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ctx->date, sizeof(ctx->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Frame resp onto the output buffer. */
static void
conn_respond(struct conn *c, struct http_response *resp, bool head_only,
    bool keep_alive_10)
{
	struct conn_ctx *ctx = c->ctx;
	const char *connection = "";
	unsigned cls = (unsigned)resp->status / 100;

	refresh_date(ctx);
	if (c->close_after)
		connection = "Connection: close\r\n";
	else if (keep_alive_10)
		connection = "Connection: keep-alive\r\n";
	if (buf_printf(&c->out, "HTTP/1.1 %d %s\r\nServer: shoal\r\nDate: %s\r\n"
	    "%s%s%sContent-Length: %zu\r\n%s", resp->status,
	    http_status_reason(resp->status), ctx->date,
	    resp->content_type ? "Content-Type: " : "",
	    resp->content_type ? resp->content_type : "",
	    resp->content_type ? "\r\n" : "", resp->body_len, connection) == -1 ||
	    buf_append(&c->out, resp->headers.p, resp->headers.len) == -1 ||
	    buf_append(&c->out, "\r\n", 2) == -1 ||
	    (!head_only && buf_append(&c->out, resp->body, resp->body_len) == -1)) {
		log_error("out of memory framing a response; closing");
		c->out.len = c->out_off = 0;
		c->close_after = true;
	}
	STATS_ADD(ctx->stats->responses[cls <= 5 ? cls : 0], 1);
	buf_free(&resp->headers);
	buf_free(&resp->body_buf);
}

/* Answer a refused request with status and close. */
static void
conn_error(struct conn *c, int status)
{
	struct http_response resp;
	const char *reason = http_status_reason(status);

	memset(&resp, 0, sizeof(resp));
	http_response_static(&resp, status, "text/plain", reason, strlen(reason));
	c->close_after = true;
	c->in_message = false;
	conn_respond(c, &resp, false, false);
}

/* A refusal from inside a parser callback: non-zero stops the parser. */
static int
refuse(struct conn *c, int status)
{
	c->error_status = status;
	return -1;
}

/* ---- http_parser callbacks ---------------------------------------------- */

static int
on_message_begin(http_parser *p)
{
	struct conn *c = p->data;

	c->in_message = true;
	c->state = CONN_HEAD;
	c->head_started = now_cached(c->ctx);
	c->url_len = 0;
	c->head.len = 0;
	c->nhdrs = 0;
	c->body.len = 0;
	c->last_was_value = false;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	c->url_len += len;
	if (c->url_len > c->ctx->limits->max_request_line)
		return refuse(c, 414);
	return buf_append(&c->head, at, len) == -1 ? refuse(c, 500) : 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	const struct http_limits *lim = c->ctx->limits;
	struct hdr *h;

	if (c->head.len - c->url_len + len > lim->max_header_size)
		return refuse(c, 431);
	if (c->nhdrs == 0 || c->last_was_value) {
		if (c->nhdrs == lim->max_headers)
			return refuse(c, 431);
		if (c->nhdrs == c->hdrs_cap) {
			size_t cap = c->hdrs_cap ? c->hdrs_cap * 2 : 16;

			if ((h = realloc(c->hdrs, cap * sizeof(*h))) == NULL)
				return refuse(c, 500);
			c->hdrs = h;
			c->hdrs_cap = cap;
		}
		h = &c->hdrs[c->nhdrs++];
		memset(h, 0, sizeof(*h));
		h->name_off = (uint32_t)c->head.len;
		c->last_was_value = false;
	}
	c->hdrs[c->nhdrs - 1].name_len += (uint32_t)len;
	return buf_append(&c->head, at, len) == -1 ? refuse(c, 500) : 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct hdr *h = &c->hdrs[c->nhdrs - 1];

	if (c->head.len - c->url_len + len > c->ctx->limits->max_header_size)
		return refuse(c, 431);
	if (!c->last_was_value) {
		h->value_off = (uint32_t)c->head.len;
		c->last_was_value = true;
	}
	h->value_len += (uint32_t)len;
	return buf_append(&c->head, at, len) == -1 ? refuse(c, 500) : 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct conn *c = p->data;

	if (p->http_major != 1)
		return refuse(c, 505);
	if ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > c->ctx->limits->max_body_size)
		return refuse(c, 413);
	c->state = CONN_BODY;
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	if (c->body.len + len > c->ctx->limits->max_body_size)
		return refuse(c, 413);
	return buf_append(&c->body, at, len) == -1 ? refuse(c, 500) : 0;
}

static int
on_message_complete(http_parser *p)
{
	struct conn *c = p->data;
	struct conn_ctx *ctx = c->ctx;
	struct http_header *hdrs = ctx->hdr_view;
	struct http_request req;
	struct http_response resp;
	const char *q;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	for (size_t i = 0; i < c->nhdrs; i++) {
		hdrs[i].name = c->head.p + c->hdrs[i].name_off;
		hdrs[i].name_len = c->hdrs[i].name_len;
		hdrs[i].value = c->head.p + c->hdrs[i].value_off;
		hdrs[i].value_len = c->hdrs[i].value_len;
	}
	req.method = http_method_str((enum http_method)p->method);
	req.method_id = (int)p->method;
	req.target = c->head.p;
	req.target_len = c->url_len;
	req.path = req.target;
	q = memchr(req.target, '?', c->url_len);
	req.path_len = q ? (size_t)(q - req.target) : c->url_len;
	req.query = q ? q + 1 : NULL;
	req.query_len = q ? c->url_len - req.path_len - 1 : 0;
	req.version_major = p->http_major;
	req.version_minor = p->http_minor;
	req.headers = hdrs;
	req.nheaders = c->nhdrs;
	req.body = c->body.p;
	req.body_len = c->body.len;
	req.draining = ctx->draining;

	c->in_message = false;
	STATS_ADD(ctx->stats->requests, 1);
	handlers_dispatch(&req, &resp);

	if (!http_should_keep_alive(p) || ctx->draining || p->upgrade)
		c->close_after = true;
	conn_respond(c, &resp, p->method == HTTP_HEAD,
	    p->http_minor == 0 && !c->close_after);
	if (c->close_after)
		http_parser_pause(p, 1);     /* ignore anything pipelined after */
	return 0;
}

/* ---- events ------------------------------------------------------------- */

static int
parse_error_status(const struct conn *c)
{
	if (c->error_status != 0)
		return c->error_status;
	switch (HTTP_PARSER_ERRNO(&c->parser)) {
	case HPE_INVALID_METHOD:
		return 501;
	case HPE_HEADER_OVERFLOW:
		return 431;
	default:
		return 400;
	}
}

static void
conn_read(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;
	size_t parsed;
	ssize_t n;

	n = read(c->fd, ctx->rbuf, ctx->rbuf_size);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF or error. A half-sent request cannot be answered. */
		conn_free(c);
		return;
	}
	STATS_ADD(ctx->stats->bytes_in, n);
	if (c->state == CONN_IDLE)
		c->state = CONN_HEAD;
	parsed = http_parser_execute(&c->parser, &parser_settings, ctx->rbuf,
	    (size_t)n);
	if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
		/* a response that closes the connection; the rest is dropped */
	} else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK ||
	    (parsed != (size_t)n && !c->parser.upgrade)) {
		conn_error(c, parse_error_status(c));
	} else if (c->parser.upgrade) {
		c->close_after = true;   /* no protocol switching here */
	}
	if (c->state == CONN_HEAD && c->in_message && now_cached(ctx) -
	    c->head_started > ctx->limits->header_timeout)
		conn_error(c, 408);
	conn_flush(c);
}

static void
conn_timeout(struct conn *c)
{
	switch (c->state) {
	case CONN_HEAD:
		if (!c->in_message) {    /* connected, never sent a byte */
			conn_linger(c);
			break;
		}
		/* fall through */
	case CONN_BODY:
		conn_error(c, 408);
		conn_flush(c);
		break;
	case CONN_IDLE:
		conn_linger(c);
		break;
	case CONN_WRITE:     /* the client stopped reading */
	case CONN_LINGER:
		conn_free(c);
		break;
	}
}

static void
conn_discard(struct conn *c)
{
	char *buf = c->ctx->rbuf;
	ssize_t n;

	n = read(c->fd, buf, c->ctx->rbuf_size);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0 && (c->lingered += (size_t)n) < LINGER_MAX)
		return;
	conn_free(c);
}

static void
conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		conn_timeout(c);
	else if (c->state == CONN_LINGER)
		conn_discard(c);
	else if (what & EV_WRITE)
		conn_flush(c);
	else
		conn_read(c);
}

/* ---- the worker's side -------------------------------------------------- */

int
conn_ctx_init(struct conn_ctx *ctx, struct event_base *base,
    const struct http_limits *limits, struct stats_proc *stats)
{
	struct timeval tv = tv_of(limits->keepalive_timeout);

	memset(ctx, 0, sizeof(*ctx));
	ctx->base = base;
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

	parser_settings.on_message_begin = on_message_begin;
	parser_settings.on_url = on_url;
	parser_settings.on_header_field = on_header_field;
	parser_settings.on_header_value = on_header_value;
	parser_settings.on_headers_complete = on_headers_complete;
	parser_settings.on_body = on_body;
	parser_settings.on_message_complete = on_message_complete;
	/* Our own limits are checked in the callbacks; the parser's must not
	 * be lower. */
	http_parser_set_max_header_size((uint32_t)(limits->max_request_line +
	    limits->max_header_size + 1024));
	return 0;
}

void
conn_ctx_free(struct conn_ctx *ctx)
{
	conn_close_all(ctx);
	free(ctx->rbuf);
	ctx->rbuf = NULL;
	free(ctx->hdr_view);
	ctx->hdr_view = NULL;
}

void
conn_accept(struct conn_ctx *ctx, int fd)
{
	struct conn *c;
	struct timeval tv;
	int on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("out of memory accepting a connection");
		close(fd);
		return;
	}
	/* Responses are written whole: no reason to wait for more. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c->ctx = ctx;
	c->fd = fd;
	c->state = CONN_IDLE;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	LIST_INSERT_HEAD(&ctx->conns, c, entry);
	ctx->nconns++;
	STATS_SET(ctx->stats->conns_open, ctx->nconns);
	STATS_ADD(ctx->stats->conns_accepted, 1);
	event_assign(&c->ev, ctx->base, fd, EV_READ | EV_PERSIST, conn_event, c);
	/* The first request is due within header_timeout of the accept. */
	c->head_started = now_cached(ctx);
	c->state = CONN_HEAD;
	tv = tv_of(ctx->limits->header_timeout);
	event_add(&c->ev, &tv);
}

void
conn_drain_all(struct conn_ctx *ctx)
{
	struct conn *c, *next;

	ctx->draining = true;
	for (c = LIST_FIRST(&ctx->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		/*
		 * Idle between requests: close. A connection accepted but not
		 * yet heard from is not idle: its client is about to send the
		 * request it connected for, so it is served (with close).
		 */
		if (c->state == CONN_IDLE)
			conn_linger(c);
	}
}

void
conn_close_all(struct conn_ctx *ctx)
{
	struct conn *c;

	while ((c = LIST_FIRST(&ctx->conns)) != NULL)
		conn_free(c);
}
