/*
 * request — see request.h.
 */
#include "worker/http/request.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_LINE_MAX 4096      /* a chunk-size line with its extensions */
#define CHUNK_DIGITS_MAX 16      /* 64 bits of hex */

/* Where the reader is in the stream of messages. */
enum {
	PH_IDLE,                 /* between requests */
	PH_IDLE_LF,              /* ... after a CR: its LF */
	PH_HEAD,
	PH_BODY,                 /* Content-Length: remaining bytes */
	PH_CHUNKED,              /* chunked: cstate says where */
	PH_TRAILERS,
	PH_COMPLETE,             /* a whole request, not yet answered */
};

/* Inside a chunked body (RFC 9112 7.1). */
enum {
	C_SIZE0,                 /* the first digit of a chunk size */
	C_SIZE,                  /* more digits, or what follows them */
	C_EXT_SEMI,              /* whitespace, then ';' */
	C_EXT_NAME0,             /* after ';': whitespace, then a name */
	C_EXT_NAME,
	C_EXT_EQ,                /* a name, whitespace: more, then = or ; */
	C_EXT_VAL0,              /* after '=': whitespace, then a value */
	C_EXT_TOKEN,
	C_EXT_QUOTED,
	C_EXT_QPAIR,             /* after a backslash in a quoted-string */
	C_EXT_END,               /* after a quoted-string */
	C_SIZE_LF,
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
};

static enum request_fed
refuse(struct request_reader *r, int status, enum head_why why)
{
	r->head.status = (uint16_t)status;
	r->head.why = (uint8_t)why;
	return REQUEST_BAD;
}

/*
 * The reader's own copies of a request that outlives a request_feed (its
 * head, its fields) or whose body is gathered: allocated when first
 * needed, freed with request_release, so that an idle reader is small.
 */
struct request_spill {
	struct buf hbuf;             /* the head, then a trailer section */
	struct buf body;             /* the body (decoded, if chunked) */
	struct head_field *own_fields;
};

/* r's spill, allocated now if need be; NULL: out of memory. */
static struct request_spill *
spill(struct request_reader *r)
{
	if (r->spill == NULL)
		r->spill = calloc(1, sizeof(*r->spill));
	return r->spill;
}

static size_t
body_len(const struct request_reader *r)
{
	return r->spill != NULL ? r->spill->body.len : 0;
}

/* Where the fields of the request being read are. */
static struct head_field *
fields(const struct request_reader *r)
{
	return r->fields_own ? r->spill->own_fields : r->hooks->scratch;
}

/* ---- setup -------------------------------------------------------------- */

int
request_setup(struct request_hooks *h)
{
	h->scratch = calloc(h->limits->max_headers, sizeof(*h->scratch));
	return h->scratch == NULL ? -1 : 0;
}

void
request_teardown(struct request_hooks *h)
{
	free(h->scratch);
	h->scratch = NULL;
}

void
request_init(struct request_reader *r, const struct request_hooks *h)
{
	memset(r, 0, sizeof(*r));
	r->hooks = h;
	head_init(&r->head);
}

void
request_release(struct request_reader *r)
{
	if (r->spill != NULL) {
		buf_free(&r->spill->hbuf);
		buf_free(&r->spill->body);
		free(r->spill->own_fields);
		free(r->spill);
		r->spill = NULL;
	}
	r->fields_own = false;
}

int
request_error_status(const struct request_reader *r)
{
	return r->head.status != 0 ? r->head.status : 400;
}

enum head_why
request_error_code(const struct request_reader *r)
{
	return (enum head_why)r->head.why;
}

const char *
request_error_why(const struct request_reader *r)
{
	return head_why_str((enum head_why)r->head.why);
}

/* ---- messages ----------------------------------------------------------- */

/* Connection: upgrade and an Upgrade field, which an HTTP/1.0 request
 * cannot make (RFC 9110 7.8: a server MUST ignore its Upgrade). */
static bool
asks_upgrade(const struct head *h)
{
	return h->minor >= 1 && (h->flags & HEAD_F_CONN_UPGRADE) &&
	    (h->flags & HEAD_F_UPGRADE);
}

/* The first byte of a request, at: its head starts here. */
static void
message_begin(struct request_reader *r, const char *at)
{
	head_init(&r->head);
	r->hbase = at;
	if (r->spill != NULL)
		r->spill->hbuf.len = r->spill->body.len = 0;
	r->fields_own = false;
	r->body_at = NULL;
	r->keep_alive = r->upgrade = false;
	r->in_message = true;
	r->in_body = false;
	r->phase = PH_HEAD;
	r->hooks->begin(r);
}

/*
 * The head is complete and accepted: what the connection becomes, where
 * the body is, and the 100 Continue the client may wait for.
 */
static enum request_fed
head_complete(struct request_reader *r)
{
	const struct head *h = &r->head;
	bool chunked = (h->flags & HEAD_F_TE) != 0;

	r->upgrade = h->method == METHOD_CONNECT || asks_upgrade(h);
	r->keep_alive = !r->upgrade && !(h->flags & HEAD_F_CLOSE) &&
	    (h->minor >= 1 || (h->flags & HEAD_F_KEEP_ALIVE));
	/* A 1.0 client knows no 100 (RFC 9110 10.1.1). */
	if ((h->flags & HEAD_F_CONTINUE) && h->minor >= 1 &&
	    (chunked || h->content_length > 0) &&
	    r->hooks->send_continue(r) == -1)
		return refuse(r, 500, HEAD_CONTINUE_FAILED);
	if (chunked) {
		r->phase = PH_CHUNKED;
		r->cstate = C_SIZE0;
		r->chunk_line = 0;
		r->size_digits = 0;
		r->remaining = 0;
	} else if (h->content_length > 0) {
		r->phase = PH_BODY;
		r->remaining = h->content_length;
	} else {
		r->phase = PH_COMPLETE;
		return REQUEST_FED;
	}
	r->in_body = true;
	return REQUEST_FED;
}

/*
 * The head, from *pp: scanned where it lies while it started in this
 * read, else appended to hbuf (no further than a head within the limits
 * can reach) and scanned there.
 */
static enum request_fed
feed_head(struct request_reader *r, const char **pp, const char *end)
{
	const struct http_limits *lim = r->hooks->limits;
	struct head *h = &r->head;
	struct request_spill *sp;
	enum head_rc rc;
	size_t old, take;

	if (r->hbase != NULL) {
		rc = head_parse(h, r->hbase, (size_t)(end - r->hbase), lim,
		    fields(r));
		if (rc == HEAD_MORE) {
			*pp = end;
			return REQUEST_FED;
		}
		if (rc == HEAD_DONE)
			*pp = r->hbase + h->len;
	} else {
		if ((sp = spill(r)) == NULL)
			return refuse(r, 500, HEAD_NO_MEMORY);
		old = sp->hbuf.len;
		take = head_max_len(lim) + 1 - old;
		if ((size_t)(end - *pp) < take)
			take = (size_t)(end - *pp);
		if (buf_append(&sp->hbuf, *pp, take) == -1)
			return refuse(r, 500, HEAD_NO_MEMORY);
		rc = head_parse(h, sp->hbuf.p, sp->hbuf.len, lim, fields(r));
		if (rc == HEAD_MORE) {
			/* By head_max_len, a head that is still short of its end
			 * took all of this read. */
			*pp += take;
			return REQUEST_FED;
		}
		if (rc == HEAD_DONE) {
			*pp += h->len - old;
			sp->hbuf.len = h->len;
		}
	}
	if (rc == HEAD_BAD)
		return REQUEST_BAD;
	return head_complete(r);
}

/* A Content-Length body: in place if it is all here, else copied. */
static enum request_fed
feed_body(struct request_reader *r, const char **pp, const char *end)
{
	size_t n = (size_t)(end - *pp);
	struct request_spill *sp;

	if (n > r->remaining)
		n = (size_t)r->remaining;
	if (body_len(r) == 0 && n == r->remaining) {
		r->body_at = *pp;
	} else {
		if ((sp = spill(r)) == NULL || (sp->body.len == 0 &&
		    buf_reserve(&sp->body, (size_t)r->remaining) == -1) ||
		    buf_append(&sp->body, *pp, n) == -1)
			return refuse(r, 500, HEAD_NO_MEMORY);
	}
	*pp += n;
	if ((r->remaining -= n) == 0)
		r->phase = PH_COMPLETE;
	return REQUEST_FED;
}

/*
 * What may follow a chunk size or an extension: another extension (BWS
 * ";"), or the end of the line. Whitespace must lead to a ';' (BWS is
 * only allowed before one), so "5 \r\n" is refused. False if c is none.
 */
static bool
after_element(struct request_reader *r, unsigned char c)
{
	if (c == ';')
		r->cstate = C_EXT_NAME0;
	else if (c == '\r')
		r->cstate = C_SIZE_LF;
	else if (HEAD_IS(c, HEAD_OWS))
		r->cstate = C_EXT_SEMI;
	else
		return false;
	return true;
}

/* The chunk-size line is complete: the data, or the trailer section. */
static enum request_fed
chunk_size_done(struct request_reader *r)
{
	const struct http_limits *lim = r->hooks->limits;

	if (r->remaining == 0) {
		head_init_trailers(&r->head);
		r->phase = PH_TRAILERS;
		return REQUEST_FED;
	}
	if (r->remaining > lim->max_body_size - body_len(r))
		return refuse(r, 413, HEAD_BODY_LARGE);
	r->cstate = C_DATA;
	return REQUEST_FED;
}

/*
 * A chunked body (RFC 9112 7.1): chunk-size [ chunk-ext ] CRLF data CRLF,
 * to the last chunk; the data is appended to body. The size line is read
 * a byte at a time (it is short), the data in one copy.
 *   chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
 */
static enum request_fed
feed_chunked(struct request_reader *r, const char **pp, const char *end)
{
	const char *p = *pp;
	unsigned char c;
	size_t n;

	while (p < end && r->phase == PH_CHUNKED) {
		if (r->cstate == C_DATA) {
			n = (size_t)(end - p);
			if (n > r->remaining)
				n = (size_t)r->remaining;
			if (spill(r) == NULL ||
			    buf_append(&r->spill->body, p, n) == -1)
				return refuse(r, 500, HEAD_NO_MEMORY);
			p += n;
			if ((r->remaining -= n) == 0)
				r->cstate = C_DATA_CR;
			continue;
		}
		c = (unsigned char)*p++;
		if (r->cstate <= C_SIZE_LF && ++r->chunk_line > CHUNK_LINE_MAX)
			return refuse(r, 400, HEAD_CHUNK_EXT);
		switch (r->cstate) {
		case C_SIZE0:
		case C_SIZE:
			if (HEAD_IS(c, HEAD_HEX)) {
				if (++r->size_digits > CHUNK_DIGITS_MAX)
					return refuse(r, 400, HEAD_CHUNK_SIZE);
				r->remaining = r->remaining << 4 | (uint64_t)
				    (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
				r->cstate = C_SIZE;
			} else if (r->cstate == C_SIZE0 || !after_element(r, c)) {
				return refuse(r, 400, HEAD_CHUNK_SIZE);
			}
			break;
		case C_EXT_SEMI:
			if (c == ';')
				r->cstate = C_EXT_NAME0;
			else if (!HEAD_IS(c, HEAD_OWS))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_EXT_NAME0:
		case C_EXT_VAL0:
			if (HEAD_IS(c, HEAD_OWS))
				break;
			if (HEAD_IS(c, HEAD_TCHAR))
				r->cstate = r->cstate == C_EXT_NAME0 ? C_EXT_NAME :
				    C_EXT_TOKEN;
			else if (c == '"' && r->cstate == C_EXT_VAL0)
				r->cstate = C_EXT_QUOTED;
			else
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_EXT_NAME:
			if (HEAD_IS(c, HEAD_TCHAR))
				break;
			if (c == '=')
				r->cstate = C_EXT_VAL0;
			else if (HEAD_IS(c, HEAD_OWS))
				r->cstate = C_EXT_EQ;
			else if (!after_element(r, c))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_EXT_EQ:
			if (c == '=')
				r->cstate = C_EXT_VAL0;
			else if (c == ';')
				r->cstate = C_EXT_NAME0;
			else if (!HEAD_IS(c, HEAD_OWS))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_EXT_TOKEN:
			if (!HEAD_IS(c, HEAD_TCHAR) && !after_element(r, c))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_EXT_QUOTED:
			if (c == '"')
				r->cstate = C_EXT_END;
			else if (c == '\\')
				r->cstate = C_EXT_QPAIR;
			else if (!HEAD_IS(c, HEAD_QDTEXT))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_EXT_QPAIR:
			/* HTAB / SP / VCHAR / obs-text: a field byte */
			if (!HEAD_IS(c, HEAD_FIELD))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			r->cstate = C_EXT_QUOTED;
			break;
		case C_EXT_END:
			if (!after_element(r, c))
				return refuse(r, 400, HEAD_CHUNK_EXT);
			break;
		case C_SIZE_LF:
			if (c != '\n')
				return refuse(r, 400, HEAD_BARE_CR);
			if (chunk_size_done(r) == REQUEST_BAD)
				return REQUEST_BAD;
			break;
		case C_DATA_CR:
			if (c != '\r')
				return refuse(r, 400, HEAD_CHUNK_END);
			r->cstate = C_DATA_LF;
			break;
		case C_DATA_LF:
			if (c != '\n')
				return refuse(r, 400, HEAD_CHUNK_END);
			r->cstate = C_SIZE0;
			r->chunk_line = 0;
			r->size_digits = 0;
			break;
		}
	}
	*pp = p;
	return REQUEST_FED;
}

/*
 * The trailer section after the last chunk: checked as field lines are
 * (head.c) and dropped. Nearly always just CRLF, taken without a copy;
 * anything else is gathered in hbuf after the head (moved there first
 * if it is still where it was read), at most a field section's worth.
 */
static enum request_fed
feed_trailers(struct request_reader *r, const char **pp, const char *end)
{
	const struct http_limits *lim = r->hooks->limits;
	struct head *h = &r->head;
	struct request_spill *sp;
	size_t old, take;
	enum head_rc rc;

	if (r->hbase != NULL && end - *pp >= 2 && (*pp)[0] == '\r' &&
	    (*pp)[1] == '\n') {
		*pp += 2;
		r->phase = PH_COMPLETE;
		return REQUEST_FED;
	}
	if ((sp = spill(r)) == NULL)
		return refuse(r, 500, HEAD_NO_MEMORY);
	if (r->hbase != NULL) {
		if (buf_append(&sp->hbuf, r->hbase, h->len) == -1)
			return refuse(r, 500, HEAD_NO_MEMORY);
		r->hbase = NULL;
	}
	old = sp->hbuf.len - h->len;
	take = lim->max_header_size + 3 - old;
	if ((size_t)(end - *pp) < take)
		take = (size_t)(end - *pp);
	if (buf_append(&sp->hbuf, *pp, take) == -1)
		return refuse(r, 500, HEAD_NO_MEMORY);
	rc = head_parse(h, sp->hbuf.p + h->len, sp->hbuf.len - h->len, lim, NULL);
	if (rc == HEAD_BAD)
		return REQUEST_BAD;
	if (rc == HEAD_MORE) {
		*pp += take;
		return REQUEST_FED;
	}
	*pp += h->s.pos - old;
	sp->hbuf.len = h->len;
	r->phase = PH_COMPLETE;
	return REQUEST_FED;
}

/*
 * The request outlives this request_feed: copy what still lies in the
 * bytes being fed (its head, its fields) into the reader's own buffers.
 */
static enum request_fed
keep_for_next_read(struct request_reader *r, const char *end)
{
	const struct head *h = &r->head;
	size_t cap = r->hooks->limits->max_headers;
	struct request_spill *sp;

	if ((sp = spill(r)) == NULL)
		return refuse(r, 500, HEAD_NO_MEMORY);
	if (r->hbase != NULL) {
		size_t n = r->phase == PH_HEAD ? (size_t)(end - r->hbase) :
		    h->len;

		if (buf_append(&sp->hbuf, r->hbase, n) == -1)
			return refuse(r, 500, HEAD_NO_MEMORY);
		r->hbase = NULL;
	}
	if (!r->fields_own) {
		if (sp->own_fields == NULL &&
		    (sp->own_fields = malloc(cap * sizeof(*sp->own_fields))) == NULL)
			return refuse(r, 500, HEAD_NO_MEMORY);
		memcpy(sp->own_fields, r->hooks->scratch, h->nfields *
		    sizeof(*sp->own_fields));
		r->fields_own = true;
	}
	return REQUEST_FED;
}

enum request_fed
request_feed(struct request_reader *r, const char *data, size_t len,
    size_t *parsed)
{
	const char *p = data, *end = data + len;
	enum request_fed fed = REQUEST_FED;

	while (fed == REQUEST_FED && (p < end || r->phase == PH_COMPLETE)) {
		switch (r->phase) {
		case PH_IDLE:
			/* Empty lines before a request are ignored (RFC 9112 2.2);
			 * they must be CRLFs too. */
			if (*p == '\r') {
				r->phase = PH_IDLE_LF;
				p++;
			} else if (*p == '\n') {
				head_init(&r->head);
				fed = refuse(r, 400, HEAD_BARE_LF);
			} else {
				message_begin(r, p);
			}
			break;
		case PH_IDLE_LF:
			if (*p != '\n') {
				head_init(&r->head);
				fed = refuse(r, 400, HEAD_BARE_CR);
				break;
			}
			p++;
			r->phase = PH_IDLE;
			break;
		case PH_HEAD:
			fed = feed_head(r, &p, end);
			break;
		case PH_BODY:
			fed = feed_body(r, &p, end);
			break;
		case PH_CHUNKED:
			fed = feed_chunked(r, &p, end);
			break;
		case PH_TRAILERS:
			fed = feed_trailers(r, &p, end);
			break;
		case PH_COMPLETE:
			r->phase = PH_IDLE;
			r->in_message = r->in_body = false;
			r->hooks->complete(r);
			if (r->upgrade)
				fed = REQUEST_UPGRADE;
			else if (r->paused)
				fed = REQUEST_PAUSED;
			break;
		}
	}
	if (fed == REQUEST_FED && r->in_message)
		fed = keep_for_next_read(r, end);
	*parsed = (size_t)(p - data);
	return fed;
}

/* ---- the handler's view ------------------------------------------------- */

void
request_view(const struct request_reader *r, struct http_request *req,
    struct http_header *hdrs)
{
	const struct head *h = &r->head;
	const struct head_field *f = fields(r);
	const char *base = r->hbase != NULL ? r->hbase : r->spill->hbuf.p;
	const char *tend, *q;

	for (size_t i = 0; i < h->nfields; i++) {
		hdrs[i].name = base + f[i].name_off;
		hdrs[i].name_len = f[i].name_len;
		hdrs[i].value = base + f[i].value_off;
		hdrs[i].value_len = f[i].value_len;
	}
	req->method = method_name(h->method);
	req->method_id = h->method;
	req->target = base + h->target_off;
	req->target_len = h->target_len;
	/* origin-form: the target up to '?'; absolute-form: the same after
	 * the authority, "/" if that is empty ("*" for OPTIONS, RFC 9112
	 * 3.2.4); authority-form and "*": the whole target. */
	tend = req->target + req->target_len;
	req->path = base + h->path_off;
	q = h->form == HEAD_AUTHORITY ? NULL :
	    memchr(req->path, '?', (size_t)(tend - req->path));
	req->path_len = (size_t)((q ? q : tend) - req->path);
	req->query = q ? q + 1 : NULL;
	req->query_len = q ? (size_t)(tend - q - 1) : 0;
	if (req->path_len == 0) {
		req->path = h->method == METHOD_OPTIONS ? "*" : "/";
		req->path_len = 1;
	}
	req->version_major = h->major;
	req->version_minor = h->minor;
	req->headers = hdrs;
	req->nheaders = h->nfields;
	req->body = r->body_at != NULL ? r->body_at :
	    r->spill != NULL ? r->spill->body.p : NULL;
	req->body_len = r->body_at != NULL ? h->content_length : body_len(r);
	req->upgrade = asks_upgrade(h);
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
