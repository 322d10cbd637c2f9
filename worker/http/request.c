/*
 * request — see request.h.
 */
#include "worker/http/request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* A refusal from inside a parser callback: non-zero stops the parser. */
static int
refuse(struct request_reader *r, int status)
{
	r->error_status = status;
	return -1;
}

/* ---- http_parser callbacks ---------------------------------------------- */

static int
on_message_begin(http_parser *p)
{
	struct request_reader *r = p->data;

	r->in_message = true;
	r->in_body = false;
	r->url_len = 0;
	r->head.len = 0;
	r->nhdrs = 0;
	r->body.len = 0;
	r->last_was_value = false;
	r->hooks->begin(r);
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct request_reader *r = p->data;
	static const char proto[] = " HTTP/";
	size_t avail = (size_t)(r->feed_end - (at + len));

	r->url_len += len;
	if (r->url_len > r->hooks->limits->max_request_line)
		return refuse(r, 414);
	/*
	 * Debian's http_parser is built without its strict checks and takes
	 * "GET / HTTX/1.1" (or no version at all) for a request: check what
	 * follows the target ourselves when it is in this buffer (the target
	 * ends here unless it ends the buffer).
	 */
	if (avail > 0 && memcmp(at + len, proto, avail < 6 ? avail : 6) != 0)
		return refuse(r, 400);
	return buf_append(&r->head, at, len) == -1 ? refuse(r, 500) : 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct request_reader *r = p->data;
	const struct http_limits *lim = r->hooks->limits;
	struct request_hdr *h;

	if (r->head.len - r->url_len + len > lim->max_header_size)
		return refuse(r, 431);
	/* "Transfer-Encoding : chunked" must not be taken for a framing
	 * header by us and for something else by a proxy (RFC 9112 5.1). */
	if (memchr(at, ' ', len) != NULL || memchr(at, '\t', len) != NULL)
		return refuse(r, 400);
	if (r->nhdrs == 0 || r->last_was_value) {
		if (r->nhdrs == lim->max_headers)
			return refuse(r, 431);
		if (r->nhdrs == r->hdrs_cap) {
			size_t cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;

			if ((h = realloc(r->hdrs, cap * sizeof(*h))) == NULL)
				return refuse(r, 500);
			r->hdrs = h;
			r->hdrs_cap = cap;
		}
		h = &r->hdrs[r->nhdrs++];
		memset(h, 0, sizeof(*h));
		h->name_off = (uint32_t)r->head.len;
		r->last_was_value = false;
	}
	r->hdrs[r->nhdrs - 1].name_len += (uint32_t)len;
	return buf_append(&r->head, at, len) == -1 ? refuse(r, 500) : 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct request_reader *r = p->data;
	struct request_hdr *h = &r->hdrs[r->nhdrs - 1];

	if (r->head.len - r->url_len + len > r->hooks->limits->max_header_size)
		return refuse(r, 431);
	if (!r->last_was_value) {
		h->value_off = (uint32_t)r->head.len;
		r->last_was_value = true;
	}
	h->value_len += (uint32_t)len;
	return buf_append(&r->head, at, len) == -1 ? refuse(r, 500) : 0;
}

/* h is the header name (and, unless value is NULL, has that value). */
static bool
header_is(const struct request_reader *r, const struct request_hdr *h, const char *name,
    const char *value)
{
	size_t n = strlen(name), v = value ? strlen(value) : 0;

	return h->name_len == n && strncasecmp(r->head.p + h->name_off, name,
	    n) == 0 && (value == NULL || (h->value_len == v &&
	    strncasecmp(r->head.p + h->value_off, value, v) == 0));
}

/*
 * Expect: 100-continue — the client waits for our word before it sends the
 * body: a 100 if we will take it (the limits were checked before this),
 * the final error status if not. Any other expectation is a 417.
 */
static int
expect_continue(struct request_reader *r, http_parser *p)
{
	for (size_t i = 0; i < r->nhdrs; i++) {
		if (!header_is(r, &r->hdrs[i], "Expect", NULL))
			continue;
		if (!header_is(r, &r->hdrs[i], "Expect", "100-continue"))
			return refuse(r, 417);
		if (p->http_minor == 0)
			return 0;        /* 1.0 clients do not know 100 */
		if (((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) &&
		    p->content_length > 0)) && r->hooks->send_continue(r) == -1)
			return refuse(r, 500);
		return 0;
	}
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct request_reader *r = p->data;

	if (p->http_major != 1)
		return refuse(r, p->http_major == 0 ? 400 : 505);
	/* HTTP/1.1 requires Host (RFC 9112 3.2). */
	if (p->http_minor >= 1) {
		bool host = false;

		for (size_t i = 0; i < r->nhdrs && !host; i++)
			host = header_is(r, &r->hdrs[i], "Host", NULL);
		if (!host)
			return refuse(r, 400);
	}
	if ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > r->hooks->limits->max_body_size)
		return refuse(r, 413);
	if (expect_continue(r, p) == -1)
		return -1;
	r->in_body = true;
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct request_reader *r = p->data;

	if (r->body.len + len > r->hooks->limits->max_body_size)
		return refuse(r, 413);
	return buf_append(&r->body, at, len) == -1 ? refuse(r, 500) : 0;
}

static int
on_message_complete(http_parser *p)
{
	struct request_reader *r = p->data;

	r->in_message = false;
	r->in_body = false;
	r->hooks->complete(r);
	return 0;
}

/* ---- the connection's side ---------------------------------------------- */

void
request_setup(const struct http_limits *limits)
{
	/* Our own limits are checked in the callbacks; the parser's must not
	 * be lower. */
	http_parser_set_max_header_size((uint32_t)(limits->max_request_line +
	    limits->max_header_size + 1024));
}

void
request_init(struct request_reader *r, const struct request_hooks *h)
{
	memset(r, 0, sizeof(*r));
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
	r->hooks = h;
}

enum request_fed
request_feed(struct request_reader *r, const char *data, size_t len,
    size_t *parsed)
{
	r->feed_end = data + len;
	*parsed = http_parser_execute(&r->parser, &parser_settings, data, len);
	if (HTTP_PARSER_ERRNO(&r->parser) == HPE_PAUSED)
		return REQUEST_PAUSED;
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK ||
	    (*parsed != len && !r->parser.upgrade))
		return REQUEST_BAD;
	return r->parser.upgrade ? REQUEST_UPGRADE : REQUEST_FED;
}

int
request_error_status(const struct request_reader *r)
{
	if (r->error_status != 0)
		return r->error_status;
	switch (HTTP_PARSER_ERRNO(&r->parser)) {
	case HPE_INVALID_METHOD:
		return 501;
	case HPE_HEADER_OVERFLOW:
		return 431;
	default:
		return 400;
	}
}

void
request_view(const struct request_reader *r, struct http_request *req,
    struct http_header *hdrs)
{
	const char *q;

	for (size_t i = 0; i < r->nhdrs; i++) {
		hdrs[i].name = r->head.p + r->hdrs[i].name_off;
		hdrs[i].name_len = r->hdrs[i].name_len;
		hdrs[i].value = r->head.p + r->hdrs[i].value_off;
		hdrs[i].value_len = r->hdrs[i].value_len;
	}
	req->method = http_method_str((enum http_method)r->parser.method);
	req->method_id = (int)r->parser.method;
	req->target = r->head.p ? r->head.p : "";
	req->target_len = r->url_len;
	req->path = req->target;
	q = memchr(req->target, '?', r->url_len);
	req->path_len = q ? (size_t)(q - req->target) : r->url_len;
	req->query = q ? q + 1 : NULL;
	req->query_len = q ? r->url_len - req->path_len - 1 : 0;
	req->version_major = r->parser.http_major;
	req->version_minor = r->parser.http_minor;
	req->headers = hdrs;
	req->nheaders = r->nhdrs;
	req->body = r->body.p;
	req->body_len = r->body.len;
}

void
request_release(struct request_reader *r)
{
	buf_free(&r->head);
	buf_free(&r->body);
	free(r->hdrs);
	r->hdrs = NULL;
	r->nhdrs = r->hdrs_cap = 0;
}

/* ---- the handler's side (worker/api/http.h) ----------------------------- */

const char *
http_request_header(const struct http_request *req, const char *name,
    size_t *len)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
			if (len != NULL)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}
