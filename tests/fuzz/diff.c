/*
 * diff — see diff.h.
 */
#include "tests/fuzz/diff.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <http_parser.h>

#include "worker/http/head.h"
#include "worker/http/request.h"

const struct http_limits diff_limits = {
	.max_request_line = 2048,
	.max_header_size = 4096,
	.max_headers = 32,
	.max_body_size = 8192,
};

/* Room in r for request n + 1 (and where request n + 2 begins). */
static void
run_grow(struct diff_run *r)
{
	size_t cap = r->cap ? r->cap * 2 : 16;

	if (r->n + 2 <= r->cap)
		return;
	if ((r->reqs = realloc(r->reqs, cap * sizeof(*r->reqs))) == NULL ||
	    (r->begin = realloc(r->begin, cap * sizeof(*r->begin))) == NULL)
		abort();
	memset(r->reqs + r->cap, 0, (cap - r->cap) * sizeof(*r->reqs));
	r->cap = cap;
}

/* ---- shoal's side ------------------------------------------------------- */

static struct diff_run *cur;         /* the run being recorded */
static const char *cur_piece;        /* the read being fed, and its offset */
static size_t cur_piece_off;

static void
ours_begin(struct request_reader *r)
{
	cur->last_begin = cur_piece_off + (size_t)(r->hbase - cur_piece);
	run_grow(cur);
	cur->begin[cur->n] = cur->last_begin;
}

static int
ours_continue(struct request_reader *r)
{
	(void)r;
	return 0;
}

static void
ours_complete(struct request_reader *r)
{
	struct http_header hdrs[32];
	struct http_request q;
	struct buf *b;

	run_grow(cur);
	b = &cur->reqs[cur->n++];
	memset(&q, 0, sizeof(q));
	request_view(r, &q, hdrs);
	buf_printf(b, "%s %.*s HTTP/%u.%u\n", q.method, (int)q.target_len,
	    q.target, q.version_major, q.version_minor);
	for (size_t i = 0; i < q.nheaders; i++)
		buf_printf(b, "%.*s: %.*s\n", (int)hdrs[i].name_len, hdrs[i].name,
		    (int)hdrs[i].value_len, hdrs[i].value);
	if (!request_upgrade(r))
		buf_printf(b, "keep-alive %d\n", request_keep_alive(r));
	buf_printf(b, "body %zu\n", q.body_len);
	buf_append(b, q.body, q.body_len);
}

static struct request_hooks ours_hooks = {
	.limits = &diff_limits,
	.begin = ours_begin,
	.send_continue = ours_continue,
	.complete = ours_complete,
};

/* One read: a copy of its own, freed when fed. false once it stops. */
static bool
ours_feed(struct request_reader *rd, const char *data, size_t off, size_t n)
{
	char *piece;
	size_t parsed;
	enum request_fed fed;

	if (n == 0)
		return true;
	if ((piece = malloc(n)) == NULL)
		abort();
	memcpy(piece, data + off, n);
	cur_piece = piece;
	cur_piece_off = off;
	fed = request_feed(rd, piece, n, &parsed);
	free(piece);
	cur_piece = NULL;
	if (fed == REQUEST_BAD) {
		cur->status = request_error_status(rd);
		cur->why = request_error_code(rd);
		/* Refused between requests: at the byte where one should
		 * start (after the CR of a bare one), which the witnesses
		 * look at from there. */
		if (!rd->in_message)
			cur->last_begin = off + parsed - (cur->why == HEAD_BARE_CR &&
			    off + parsed > 0);
	}
	cur->upgraded = fed == REQUEST_UPGRADE;
	return fed == REQUEST_FED;
}

void
diff_shoal(const char *data, size_t len, size_t cut, struct diff_run *out)
{
	struct request_reader rd;

	if (ours_hooks.scratch == NULL && request_setup(&ours_hooks) == -1)
		abort();
	memset(out, 0, sizeof(*out));
	cur = out;
	request_init(&rd, &ours_hooks);
	if (cut == 0 || cut > len)
		cut = len;
	if (ours_feed(&rd, data, 0, cut))
		ours_feed(&rd, data, cut, len - cut);
	out->in_message = out->status == 0 && !out->upgraded && rd.in_message;
	request_release(&rd);
	cur = NULL;
}

/* ---- http_parser's side ------------------------------------------------- */

struct theirs {
	struct diff_run *run;
	struct buf url, names[64], values[64], body;
	size_t nfields;
	bool in_value, trailers, in_message;
};

static int
t_begin(http_parser *p)
{
	struct theirs *t = p->data;

	t->url.len = t->body.len = 0;
	for (size_t i = 0; i < t->nfields; i++)
		t->names[i].len = t->values[i].len = 0;
	t->nfields = 0;
	t->in_value = t->trailers = false;
	t->in_message = true;
	return 0;
}

static int
t_url(http_parser *p, const char *at, size_t len)
{
	struct theirs *t = p->data;

	buf_append(&t->url, at, len);
	return 0;
}

static int
t_field(http_parser *p, const char *at, size_t len)
{
	struct theirs *t = p->data;

	if (t->trailers)
		return 0;
	if (t->nfields == 0 || t->in_value) {
		if (t->nfields == 64)
			return -1;
		t->nfields++;
		t->in_value = false;
	}
	buf_append(&t->names[t->nfields - 1], at, len);
	return 0;
}

static int
t_value(http_parser *p, const char *at, size_t len)
{
	struct theirs *t = p->data;

	if (t->trailers)
		return 0;
	t->in_value = true;
	buf_append(&t->values[t->nfields - 1], at, len);
	return 0;
}

static int
t_headers(http_parser *p)
{
	((struct theirs *)p->data)->trailers = true;
	return 0;
}

static int
t_body(http_parser *p, const char *at, size_t len)
{
	buf_append(&((struct theirs *)p->data)->body, at, len);
	return 0;
}

static int
t_complete(http_parser *p)
{
	struct theirs *t = p->data;
	struct buf *b;

	t->in_message = false;
	run_grow(t->run);
	b = &t->run->reqs[t->run->n++];
	buf_printf(b, "%s %.*s HTTP/%u.%u\n", http_method_str(
	    (enum http_method)p->method), (int)t->url.len, t->url.p ? t->url.p :
	    "", p->http_major, p->http_minor);
	for (size_t i = 0; i < t->nfields; i++) {
		const char *v = t->values[i].p ? t->values[i].p : "";
		size_t n = t->values[i].len;

		/* it keeps the whitespace after a value; RFC 9112 5 does not */
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		buf_printf(b, "%.*s: %.*s\n", (int)t->names[i].len,
		    t->names[i].p ? t->names[i].p : "", (int)n, v);
	}
	if (!p->upgrade)
		buf_printf(b, "keep-alive %d\n", http_should_keep_alive(p));
	buf_printf(b, "body %zu\n", t->body.len);
	buf_append(b, t->body.p, t->body.len);
	return 0;
}

static const http_parser_settings t_settings = {
	.on_message_begin = t_begin,
	.on_url = t_url,
	.on_header_field = t_field,
	.on_header_value = t_value,
	.on_headers_complete = t_headers,
	.on_body = t_body,
	.on_message_complete = t_complete,
};

void
diff_http_parser(const char *data, size_t len, struct diff_run *out)
{
	http_parser p;
	struct theirs t;
	size_t parsed;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	t.run = out;
	http_parser_init(&p, HTTP_REQUEST);
	p.data = &t;
	parsed = http_parser_execute(&p, &t_settings, data, len);
	/*
	 * Its upgrade flag is set at the end of the head, but it switches
	 * only where the request ends: at the head if there is no body, else
	 * after the body, which it reads as HTTP first (as shoal does: RFC
	 * 9110 7.8, the 100 before the 101). A flag with a request still
	 * being read is no upgrade yet.
	 */
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK)
		out->status = HTTP_PARSER_ERRNO(&p);
	else if (p.upgrade && !t.in_message)
		out->upgraded = true;
	else if (parsed != len)
		out->status = -1;
	out->in_message = out->status == 0 && !out->upgraded && t.in_message;
	buf_free(&t.url);
	buf_free(&t.body);
	for (size_t i = 0; i < 64; i++) {
		buf_free(&t.names[i]);
		buf_free(&t.values[i]);
	}
}

/* ---- the rule ----------------------------------------------------------- */

bool
diff_same(const struct diff_run *a, const struct diff_run *b)
{
	if (a->n != b->n || a->status != b->status || a->why != b->why ||
	    a->upgraded != b->upgraded || a->in_message != b->in_message)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->reqs[i].len != b->reqs[i].len ||
		    memcmp(a->reqs[i].p, b->reqs[i].p, a->reqs[i].len) != 0)
			return false;
	return true;
}

/*
 * The witnesses: each looks at the bytes of the refused request, from its
 * first byte to the end of the input, for the trait its class names. They
 * share no code with the parser: they look at lines, not at a grammar.
 */
struct seg {
	const char *p;
	size_t n;
};

/* The line at *off (without its LF and a CR before it); false at the end. */
static bool
next_line(struct seg s, size_t *off, struct seg *line)
{
	const char *lf;

	if (*off >= s.n)
		return false;
	line->p = s.p + *off;
	lf = memchr(line->p, '\n', s.n - *off);
	line->n = lf ? (size_t)(lf - line->p) : s.n - *off;
	*off += line->n + 1;
	if (line->n > 0 && line->p[line->n - 1] == '\r')
		line->n--;
	return true;
}

/* The field lines named name (case-insensitive): how many; the first
 * one's value, trimmed. Lines after the first, to an empty line. */
static int
fields_named(struct seg s, const char *name, struct seg *value)
{
	struct seg line;
	size_t off = 0, n = strlen(name);
	int count = 0;

	next_line(s, &off, &line);
	while (next_line(s, &off, &line) && line.n > 0) {
		if (line.n <= n || line.p[n] != ':' ||
		    strncasecmp(line.p, name, n) != 0)
			continue;
		if (count++ == 0 && value != NULL) {
			value->p = line.p + n + 1;
			value->n = line.n - n - 1;
			while (value->n > 0 && (*value->p == ' ' ||
			    *value->p == '\t')) {
				value->p++;
				value->n--;
			}
			while (value->n > 0 && (value->p[value->n - 1] == ' ' ||
			    value->p[value->n - 1] == '\t'))
				value->n--;
		}
	}
	return count;
}

static bool
has_byte(struct seg s, bool (*pred)(unsigned char))
{
	for (size_t i = 0; i < s.n; i++)
		if (pred((unsigned char)s.p[i]))
			return true;
	return false;
}

static bool
odd_target_byte(unsigned char c)
{
	return c == '#' || c == 0x7f || (c < 0x20 && c != '\r' && c != '\n');
}

static bool
ctl_byte(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

static struct seg
first_line(struct seg s)
{
	struct seg line = { s.p, 0 };
	size_t off = 0;

	next_line(s, &off, &line);
	return line;
}

/* "METHOD SP target SP HTTP/d.d" exactly, with a CRLF after it. */
static bool
line_is_request_line(struct seg s)
{
	struct seg l = first_line(s);
	const char *sp1, *sp2;

	if (l.n + 1 >= s.n || l.p[l.n] != '\r' || l.p[l.n + 1] != '\n')
		return false;
	sp1 = memchr(l.p, ' ', l.n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(l.p + l.n - sp1 - 1)) : NULL;
	return sp2 != NULL && l.p + l.n - sp2 == 9 && sp1 > l.p &&
	    sp2 > sp1 + 1 && memcmp(sp2 + 1, "HTTP/", 5) == 0 &&
	    sp2[6] >= '0' && sp2[6] <= '9' && sp2[7] == '.' && sp2[8] >= '0' &&
	    sp2[8] <= '9';
}


static bool w_connect(struct seg s);
static bool w_te(struct seg s);

/* '#', DEL or a control in the line, or an empty target
 * (two spaces: http_parser skips the second) */
static bool
w_target_char(struct seg s)
{
	struct seg l = first_line(s);

	return has_byte(l, odd_target_byte) || memmem(l.p, l.n, "  ", 2);
}

static bool
w_target_long(struct seg s)
{
	return first_line(s).n > diff_limits.max_request_line;
}

static bool
w_target_form(struct seg s)
{
	struct seg l = first_line(s);
	const char *sp = memchr(l.p, ' ', l.n);

	/* not origin-form, or origin-form for CONNECT */
	return sp != NULL && sp + 1 < l.p + l.n && (sp[1] != '/' ||
	    w_connect(s));
}

static bool
w_version(struct seg s)
{
	return !line_is_request_line(s);
}

static bool
w_version_other(struct seg s)
{
	struct seg l = first_line(s);

	return l.n >= 8 && l.p[l.n - 3] != '1';
}

static bool
w_bare_cr(struct seg s)
{
	for (size_t i = 0; i + 1 < s.n; i++)
		if (s.p[i] == '\r' && s.p[i + 1] != '\n')
			return true;
	return false;
}

static bool
w_bare_lf(struct seg s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] == '\n' && (i == 0 || s.p[i - 1] != '\r'))
			return true;
	return false;
}

static bool
w_obs_fold(struct seg s)
{
	for (size_t i = 0; i + 1 < s.n; i++)
		if (s.p[i] == '\n' && (s.p[i + 1] == ' ' || s.p[i + 1] == '\t'))
			return true;
	return false;
}

/* A field line whose name is not a run of letters, digits and -_. ...,
 * in the head or, after a chunked body, in the trailer section (any line
 * after the head, then: where the chunks end is the parser's business). */
static bool
w_name_char(struct seg s)
{
	struct seg line;
	size_t off = 0;
	bool head = true, chunked = w_te(s);

	next_line(s, &off, &line);
	while (next_line(s, &off, &line)) {
		const char *colon = memchr(line.p, ':', line.n);

		if (line.n == 0) {
			if (!chunked)
				break;
			head = false;
			continue;
		}
		if (!head && colon == NULL)
			return true;
		if (colon == NULL || colon == line.p)
			return true;
		for (const char *c = line.p; c < colon; c++)
			if (*c <= ' ' || *c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}",
			    *c) != NULL)
				return true;
	}
	return false;
}

static bool
w_value_char(struct seg s)
{
	return has_byte(s, ctl_byte);
}

static bool
w_fields_large(struct seg s)
{
	return s.n > diff_limits.max_header_size;
}

static bool
w_fields_many(struct seg s)
{
	size_t lines = 0;

	for (size_t i = 0; i < s.n; i++)
		lines += s.p[i] == '\n';
	return lines > diff_limits.max_headers;
}

static bool
w_host_missing(struct seg s)
{
	return fields_named(s, "host", NULL) == 0;
}

static bool
w_host_twice(struct seg s)
{
	return fields_named(s, "host", NULL) > 1;
}

static bool
port_bad(const char *p, size_t n)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return true;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v > 65535;
}

/* The first Host is not host[:port]: written from RFC 3986's words, not
 * from the parser's code. */
static bool
w_host_invalid(struct seg s)
{
	struct seg v;
	const char *colon, *close;
	char addr[64];
	unsigned char a6[16];

	if (fields_named(s, "host", &v) == 0)
		return false;
	if (v.n == 0)
		return true;
	for (size_t i = 0; i < v.n; i++)
		if (!isalnum((unsigned char)v.p[i]) &&
		    strchr("-._~!$&'()*+,;=%:[]", v.p[i]) == NULL)
			return true;
	if (v.p[0] == '[') {
		close = memchr(v.p, ']', v.n);
		if (close == NULL || (size_t)(close - v.p) - 1 >= sizeof(addr))
			return true;
		memcpy(addr, v.p + 1, (size_t)(close - v.p) - 1);
		addr[close - v.p - 1] = '\0';
		if (inet_pton(AF_INET6, addr, a6) != 1)
			return true;
		if (close + 1 == v.p + v.n)
			return false;
		return close[1] != ':' || port_bad(close + 2,
		    (size_t)(v.p + v.n - close - 2));
	}
	if (memchr(v.p, '[', v.n) || memchr(v.p, ']', v.n))
		return true;
	colon = memchr(v.p, ':', v.n);
	if (colon == v.p || (colon && memchr(colon + 1, ':',
	    (size_t)(v.p + v.n - colon - 1))))
		return true;
	if (colon && port_bad(colon + 1, (size_t)(v.p + v.n - colon - 1)))
		return true;
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] == '%' && (i + 2 >= v.n ||
		    !isxdigit((unsigned char)v.p[i + 1]) ||
		    !isxdigit((unsigned char)v.p[i + 2])))
			return true;
	return false;
}

static bool
w_cl_invalid(struct seg s)
{
	struct seg v;

	if (fields_named(s, "content-length", &v) == 0)
		return false;
	if (v.n == 0 || v.n > 19)
		return true;
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return true;
	return false;
}


static bool
w_te(struct seg s)
{
	return fields_named(s, "transfer-encoding", NULL) > 0;
}


static bool
w_te_http10(struct seg s)
{
	struct seg l = first_line(s);

	return w_te(s) && l.n >= 3 && memcmp(l.p + l.n - 3, "1.0", 3) == 0;
}

static bool
w_connection(struct seg s)
{
	return fields_named(s, "connection", NULL) > 0;
}

static bool
w_connect(struct seg s)
{
	return s.n > 8 && memcmp(s.p, "CONNECT ", 8) == 0;
}

static bool
w_expect(struct seg s)
{
	return fields_named(s, "expect", NULL) > 0;
}

static bool
w_body_large(struct seg s)
{
	return s.n > diff_limits.max_body_size ||
	    fields_named(s, "content-length", NULL) > 0 || w_te(s);
}

/*
 * The classes where shoal refuses what http_parser accepts, by design:
 * Debian builds http_parser without its strict checks, and some rules
 * (Host, Expect, transfer codings, chunk extensions, limits) are not its
 * business. Every other refusal must be one http_parser makes too (an
 * unknown method, two Content-Lengths, both framings: it refuses those as
 * well). The differential test
 * fails if a class here is never seen, so the list stays true.
 */
static const struct {
	enum head_why why;
	bool (*witness)(struct seg s);
} diff_meant[] = {
	{ HEAD_TARGET_CHAR, w_target_char },     /* '#', a tab, DEL */
	{ HEAD_TARGET_LONG, w_target_long },
	{ HEAD_TARGET_FORM, w_target_form },     /* "*", authority, schemes */
	{ HEAD_VERSION, w_version },             /* "HTTX/1.1", no version */
	{ HEAD_VERSION_UNSUPPORTED, w_version_other },
	{ HEAD_BARE_CR, w_bare_cr },
	{ HEAD_BARE_LF, w_bare_lf },
	{ HEAD_OBS_FOLD, w_obs_fold },
	{ HEAD_NAME_CHAR, w_name_char },
	{ HEAD_VALUE_CHAR, w_value_char },
	{ HEAD_FIELDS_LARGE, w_fields_large },
	{ HEAD_FIELDS_MANY, w_fields_many },
	{ HEAD_HOST_MISSING, w_host_missing },
	{ HEAD_HOST_TWICE, w_host_twice },
	{ HEAD_HOST_INVALID, w_host_invalid },
	{ HEAD_CL_INVALID, w_cl_invalid },       /* 20 digits and more */
	{ HEAD_TE_INVALID, w_te },
	{ HEAD_TE_NOT_CHUNKED, w_te },           /* chunked, then gzip, chunked */
	{ HEAD_TE_CHUNKED_TWICE, w_te },
	{ HEAD_TE_UNSUPPORTED, w_te },
	{ HEAD_TE_HTTP10, w_te_http10 },
	{ HEAD_CONNECTION_INVALID, w_connection },
	{ HEAD_CONNECT_BODY, w_connect },
	{ HEAD_EXPECT, w_expect },
	{ HEAD_BODY_LARGE, w_body_large },
	{ HEAD_CHUNK_SIZE, w_te },               /* "5 ", 17 digits */
	{ HEAD_CHUNK_EXT, w_te },                /* off the chunk-ext grammar */
	{ HEAD_CHUNK_END, w_te },
};

/* A field named Transfer-Encoding and more ("Transfer-EncodingX"):
 * http_parser 2.9.4 sets its Transfer-Encoding flag on the prefix, and
 * refuses the request as one with an invalid transfer coding. */
static bool
w_te_prefix(struct seg s)
{
	struct seg line;
	size_t off = 0;

	next_line(s, &off, &line);
	while (next_line(s, &off, &line) && line.n > 0)
		if (line.n > 18 && strncasecmp(line.p, "transfer-encoding", 17)
		    == 0 && line.p[17] != ':')
			return true;
	return false;
}

/* An element of a Connection list that is a proper prefix of a token
 * http_parser looks for ("k" of keep-alive, "clo" of close). */
static bool
prefix_of_known(const char *el, size_t n)
{
	static const char *const known[] = { "close", "keep-alive", "upgrade" };

	for (size_t i = 0; i < 3; i++)
		if (n > 0 && n < strlen(known[i]) &&
		    strncasecmp(el, known[i], n) == 0)
			return true;
	return false;
}

/*
 * A Connection list that http_parser 2.9.4 misreads, missing its "close",
 * "keep-alive" or "upgrade": one with an empty element (",close",
 * "a,,close"; empty elements are to be ignored, RFC 9110 5.6.1), a tab,
 * an element that is a proper prefix of close, keep-alive or upgrade
 * ("k, keep-alive"), or one after the first that starts with '_' (a
 * tchar, RFC 9110 5.6.2, that it does not take at an element's start: it
 * stops reading the list there); or "close" in an HTTP/1.0 request, which
 * it lets "keep-alive" outweigh (RFC 9112 9.3: close ends the connection,
 * whatever else is said).
 */
static bool
w_connection_list(struct seg s)
{
	struct seg line = first_line(s);
	size_t off = 0;
	bool http10 = line.n >= 3 && memcmp(line.p + line.n - 3, "1.0", 3) == 0;

	next_line(s, &off, &line);
	while (next_line(s, &off, &line) && line.n > 0) {
		const char *v = line.p + 11, *e = line.p + line.n, *q, *c;

		if (line.n < 11 || strncasecmp(line.p, "connection:", 11) != 0)
			continue;
		if (memchr(v, '\t', (size_t)(e - v)) != NULL)
			return true;
		for (q = v; q <= e; q = c + 1) {
			const char *a = q, *b;

			c = memchr(q, ',', (size_t)(e - q));
			if (c == NULL)
				c = e;
			b = c;
			while (a < b && *a == ' ')
				a++;
			while (b > a && b[-1] == ' ')
				b--;
			if ((a == b && (c < e || q > v)) ||
			    (q > v && a < b && *a == '_') ||
			    prefix_of_known(a, (size_t)(b - a)) || (http10 &&
			    b - a == 5 && strncasecmp(a, "close", 5) == 0))
				return true;
		}
	}
	return false;
}

/* A chunked request with a field named name after its head (in its
 * trailer section, or so it may be). */
static bool
trailer_named(struct seg s, const char *name)
{
	struct seg line;
	size_t off = 0, n = strlen(name);
	bool head = true;

	if (!w_te(s))
		return false;
	next_line(s, &off, &line);
	while (next_line(s, &off, &line)) {
		if (line.n == 0)
			head = false;
		else if (!head && line.n > n && line.p[n] == ':' &&
		    strncasecmp(line.p, name, n) == 0)
			return true;
	}
	return false;
}

/* Connection in a trailer section: http_parser takes it for the
 * connection's, where RFC 9110 6.5.1 keeps trailers apart from the
 * header section. */
static bool
w_connection_trailer(struct seg s)
{
	return trailer_named(s, "connection");
}

/* Content-Length in a trailer section: http_parser checks it as if it
 * framed the message (a second one, or one not a number, is an error). */
static bool
w_cl_trailer(struct seg s)
{
	return trailer_named(s, "content-length");
}

/* Transfer-Encoding: chunked with a tab after it (whitespace around a
 * value is no part of it, RFC 9112 5): http_parser 2.9.4 then does not
 * see chunked, and refuses the request. */
static bool
w_te_tab(struct seg s)
{
	struct seg line;
	size_t off = 0;

	next_line(s, &off, &line);
	while (next_line(s, &off, &line) && line.n > 0)
		if (line.n > 18 && strncasecmp(line.p, "transfer-encoding:", 18)
		    == 0 && memmem(line.p, line.n, "hunked\t", 7) != NULL)
			return true;
	return false;
}

/* Content-Length with a tab after its digits (whitespace around a value
 * is no part of it, RFC 9110 5.5): http_parser 2.9.4 takes only spaces
 * there, and refuses the request (fuzz_parse finding). */
static bool
w_cl_tab(struct seg s)
{
	struct seg line;
	size_t off = 0;

	next_line(s, &off, &line);
	while (next_line(s, &off, &line) && line.n > 0) {
		const char *d, *e = line.p + line.n;

		if (line.n <= 15 || strncasecmp(line.p, "content-length:", 15)
		    != 0)
			continue;
		for (d = line.p + 15; d < e && (*d < '0' || *d > '9'); d++)
			;
		if (d < e && memchr(d, '\t', (size_t)(e - d)) != NULL)
			return true;
	}
	return false;
}

/* A chunked request with a tab where a chunk-size line may have
 * whitespace (BWS before ';' or '=', RFC 9112 7.1.1): http_parser 2.9.4
 * takes only spaces there. */
static bool
w_chunk_tab(struct seg s)
{
	return w_te(s) && memchr(s.p, '\t', s.n) != NULL;
}

/* An HTTP/1.0 request with Connection and Upgrade fields: http_parser
 * 2.9.4 switches protocols on it, where RFC 9110 7.8 has a server ignore
 * the Upgrade of an HTTP/1.0 request (shoal reads on, as HTTP). */
static bool
w_upgrade_http10(struct seg s)
{
	struct seg l = first_line(s);

	return l.n >= 3 && memcmp(l.p + l.n - 3, "1.0", 3) == 0 &&
	    fields_named(s, "connection", NULL) > 0 &&
	    fields_named(s, "upgrade", NULL) > 0;
}

/* Their indexes in diff_theirs_wrong */
enum { W_CONNECTION_LIST = 5, W_UPGRADE_HTTP10 = 7 };

static const struct {
	const char *what;
	bool (*witness)(struct seg s);
	bool keep_alive;         /* a request where only keep-alive differs */
} diff_theirs_wrong[] = {
	{ "a field named Transfer-Encoding and more", w_te_prefix, false },
	{ "Transfer-Encoding: chunked, then a tab", w_te_tab, false },
	{ "Content-Length in the trailer section", w_cl_trailer, false },
	{ "Content-Length, then a tab", w_cl_tab, false },
	{ "a tab in a chunk extension's whitespace", w_chunk_tab, false },
	{ "keep-alive or upgrade of a Connection list it misreads",
	    w_connection_list, true },
	{ "keep-alive of a Connection in the trailer section",
	    w_connection_trailer, true },
	{ "an upgrade of an HTTP/1.0 request", w_upgrade_http10, false },
};

/* theirs is ours plus a keep-alive line: where ours saw an upgrade and
 * theirs did not (shoal in a Connection list http_parser misreads;
 * http_parser in an HTTP/1.0 request, where shoal ignores it). */
static bool
only_upgrade_missed(const struct buf *ours, const struct buf *theirs)
{
	const char *body = memmem(ours->p, ours->len, "\nbody ", 6);
	const char *ka;
	size_t at, extra;

	if (body == NULL || theirs->len <= ours->len)
		return false;
	at = (size_t)(body - ours->p) + 1;
	extra = theirs->len - ours->len;
	ka = theirs->p + at;
	return memcmp(ours->p, theirs->p, at) == 0 && extra == 13 &&
	    memcmp(ka, "keep-alive ", 11) == 0 && ka[12] == '\n' &&
	    memcmp(ours->p + at, theirs->p + at + extra, ours->len - at) == 0;
}

/* a and b are the same request but for the keep-alive line. */
static bool
only_keep_alive_differs(const struct buf *a, const struct buf *b)
{
	const char *ka = memmem(a->p, a->len, "\nkeep-alive ", 12);
	size_t at;

	if (ka == NULL || a->len != b->len)
		return false;
	at = (size_t)(ka - a->p) + 12;
	return memcmp(a->p, b->p, at) == 0 &&
	    memcmp(a->p + at + 1, b->p + at + 1, a->len - at - 1) == 0;
}

int
diff_theirs_wrong_count(void)
{
	return (int)(sizeof(diff_theirs_wrong) / sizeof(diff_theirs_wrong[0]));
}

const char *
diff_theirs_wrong_name(int i)
{
	return diff_theirs_wrong[i].what;
}

static const char *compare_ends(const char *data, size_t len,
    const struct diff_run *ours, const struct diff_run *theirs, int *meant,
    char *msg, size_t msglen);

const char *
diff_compare(const char *data, size_t len, const struct diff_run *ours,
    const struct diff_run *theirs, int *meant, char *msg, size_t msglen)
{
	size_t n = ours->n < theirs->n ? ours->n : theirs->n;
	struct seg s;
	const char *bad;
	int ka;

	*meant = 0;
	for (size_t i = 0; i < n; i++) {
		int m = 0;

		if (ours->reqs[i].len == theirs->reqs[i].len &&
		    memcmp(ours->reqs[i].p, theirs->reqs[i].p,
		    ours->reqs[i].len) == 0)
			continue;
		s.p = data + ours->begin[i];
		s.n = len - ours->begin[i];
		for (int k = 0; k < diff_theirs_wrong_count(); k++)
			if (diff_theirs_wrong[k].keep_alive &&
			    only_keep_alive_differs(&ours->reqs[i],
			    &theirs->reqs[i]) && diff_theirs_wrong[k].witness(s))
				m = -1 - k;
		/* One upgraded at this request and the other read on past it
		 * as HTTP: nothing after it can be compared. */
		if (m == 0 && ours->upgraded && i + 1 == ours->n &&
		    only_upgrade_missed(&ours->reqs[i], &theirs->reqs[i]) &&
		    w_connection_list(s)) {
			*meant = -1 - W_CONNECTION_LIST;
			return NULL;
		}
		if (m == 0 && theirs->upgraded && i + 1 == theirs->n &&
		    only_upgrade_missed(&theirs->reqs[i], &ours->reqs[i]) &&
		    w_upgrade_http10(s)) {
			*meant = -1 - W_UPGRADE_HTTP10;
			return NULL;
		}
		if (m == 0) {
			snprintf(msg, msglen, "request %zu differs:\n-- shoal:\n%.*s\n"
			    "-- http_parser:\n%.*s", i, (int)ours->reqs[i].len,
			    ours->reqs[i].p, (int)theirs->reqs[i].len,
			    theirs->reqs[i].p);
			return msg;
		}
		*meant = m;
	}
	ka = *meant;
	*meant = 0;
	bad = compare_ends(data, len, ours, theirs, meant, msg, msglen);
	if (bad == NULL && *meant == 0)
		*meant = ka;
	return bad;
}

/* The requests both completed are the same: what comes after them. */
static const char *
compare_ends(const char *data, size_t len, const struct diff_run *ours,
    const struct diff_run *theirs, int *meant, char *msg, size_t msglen)
{
	size_t n = ours->n < theirs->n ? ours->n : theirs->n;
	struct seg s;

	if (ours->n > theirs->n) {
		s.p = data + ours->begin[theirs->n];
		s.n = len - ours->begin[theirs->n];
		for (int i = 0; theirs->status != 0 &&
		    i < diff_theirs_wrong_count(); i++)
			if (!diff_theirs_wrong[i].keep_alive &&
			    diff_theirs_wrong[i].witness(s)) {
				*meant = -1 - i;
				return NULL;
			}
		snprintf(msg, msglen, "shoal completed %zu requests, http_parser "
		    "%zu (%s)", ours->n, theirs->n, theirs->status ?
		    http_errno_description((enum http_errno)theirs->status) :
		    "still reading");
		return msg;
	}
	/* http_parser's upgrade is its acceptance of the head: as if it
	 * completed one request more */
	if (ours->n == theirs->n && !(theirs->upgraded && !ours->upgraded)) {
		if (ours->upgraded != theirs->upgraded) {
			snprintf(msg, msglen, "after %zu requests, shoal upgraded "
			    "and http_parser did not", n);
			return msg;
		}
		/*
		 * Both refused, both wait for more, or one refused what the
		 * other still reads: shoal refuses some things earlier (a
		 * target over the limit before the line ends), http_parser
		 * others (a method it does not know at its first byte, where
		 * shoal reads on to tell 400 from 501). Neither accepted.
		 */
		if (ours->status == 0 && theirs->status != 0 &&
		    !ours->in_message) {
			snprintf(msg, msglen, "after %zu requests http_parser "
			    "refused (%s), shoal did not", n,
			    http_errno_description((enum http_errno)
			    theirs->status));
			return msg;
		}
		return NULL;
	}
	/* http_parser accepted more: shoal must have refused, as meant */
	if (ours->status == 0) {
		snprintf(msg, msglen, "http_parser completed %zu requests%s, "
		    "shoal %zu and %s", theirs->n, theirs->upgraded ?
		    " and upgraded" : "", ours->n, ours->upgraded ? "upgraded" :
		    "waits for more");
		return msg;
	}
	s.p = data + ours->last_begin;
	s.n = len - ours->last_begin;
	for (size_t i = 0; i < sizeof(diff_meant) / sizeof(diff_meant[0]); i++) {
		if ((int)diff_meant[i].why != ours->why)
			continue;
		if (!diff_meant[i].witness(s)) {
			snprintf(msg, msglen, "shoal refused request %zu (%d, %s) "
			    "that http_parser accepted, and the bytes show no sign "
			    "of it", ours->n, ours->status, head_why_str(
			    (enum head_why)ours->why));
			return msg;
		}
		*meant = ours->why;
		return NULL;
	}
	snprintf(msg, msglen, "shoal refused request %zu (%d, %s) that "
	    "http_parser accepted; not a difference meant", ours->n,
	    ours->status, head_why_str((enum head_why)ours->why));
	return msg;
}

void
diff_free(struct diff_run *r)
{
	for (size_t i = 0; i < r->cap; i++)
		buf_free(&r->reqs[i]);
	free(r->reqs);
	free(r->begin);
	memset(r, 0, sizeof(*r));
}
