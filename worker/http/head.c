/*
 * head — see head.h.
 */
#include "worker/http/head.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/method.h"

/*
 * head_ctype[c]: the HEAD_* classes of byte c, written out once by a
 * script from the RFC grammars; tests/unit/worker/http/test_head.c checks
 * every byte of every class against its definition.
 */
const uint8_t head_ctype[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xc2, 0x67, 0x06, 0x43, 0x67, 0x47, 0x67, 0x67, 0x66, 0x66, 0x67, 0x67, 0x66, 0x67, 0x67, 0x46,
	0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x46, 0x66, 0x46, 0x66, 0x46, 0x46,
	0x46, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
	0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x46, 0x06, 0x46, 0x47, 0x67,
	0x47, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
	0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x46, 0x47, 0x46, 0x67, 0x00,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
	0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
};

enum {
	H_METHOD, H_TARGET, H_VERSION, H_RL_LF,     /* the request line */
	H_LINE, H_NAME, H_OWS, H_VALUE, H_LF,       /* a field line */
	H_END_LF,                                   /* the empty line's LF */
	H_DONE,
};

static const char *const whys[HEAD_WHY_COUNT] = {
	[HEAD_OK] = "accepted",
	[HEAD_METHOD_CHAR] = "a byte that cannot be in a method",
	[HEAD_METHOD_UNKNOWN] = "a method shoal does not implement",
	[HEAD_TARGET_CHAR] = "a byte that cannot be in a request-target",
	[HEAD_TARGET_LONG] = "request-target over max_request_line",
	[HEAD_TARGET_FORM] = "a request-target of a form the method does not take",
	[HEAD_VERSION] = "not an HTTP version",
	[HEAD_VERSION_UNSUPPORTED] = "an HTTP version other than 1.x",
	[HEAD_BARE_CR] = "a CR not followed by LF",
	[HEAD_BARE_LF] = "an LF not preceded by CR",
	[HEAD_OBS_FOLD] = "a field line starting with whitespace (obs-fold)",
	[HEAD_NAME_CHAR] = "a field name that is not a token",
	[HEAD_VALUE_CHAR] = "a control byte in a field value",
	[HEAD_FIELDS_LARGE] = "field section over max_header_size",
	[HEAD_FIELDS_MANY] = "more field lines than max_headers",
	[HEAD_HOST_MISSING] = "HTTP/1.1 without Host",
	[HEAD_HOST_TWICE] = "more than one Host",
	[HEAD_HOST_INVALID] = "a Host that is not host[:port]",
	[HEAD_CL_INVALID] = "a Content-Length that is not a number",
	[HEAD_CL_TWICE] = "more than one Content-Length",
	[HEAD_CL_AND_TE] = "both Content-Length and Transfer-Encoding",
	[HEAD_TE_INVALID] = "a Transfer-Encoding that is not a list of codings",
	[HEAD_TE_NOT_CHUNKED] = "a Transfer-Encoding whose final coding is not chunked",
	[HEAD_TE_CHUNKED_TWICE] = "chunked applied twice",
	[HEAD_TE_UNSUPPORTED] = "a transfer coding shoal does not implement",
	[HEAD_TE_HTTP10] = "Transfer-Encoding in an HTTP/1.0 request",
	[HEAD_CONNECTION_INVALID] = "a Connection that is not a list of tokens",
	[HEAD_CONNECT_BODY] = "CONNECT with a body",
	[HEAD_EXPECT] = "an expectation other than 100-continue",
	[HEAD_BODY_LARGE] = "body over max_body_size",
	[HEAD_CHUNK_SIZE] = "a chunk size that is not 1 to 16 hex digits",
	[HEAD_CHUNK_EXT] = "a chunk extension off the grammar",
	[HEAD_CHUNK_END] = "chunk data not followed by CRLF",
	[HEAD_NO_MEMORY] = "out of memory",
	[HEAD_CONTINUE_FAILED] = "100 Continue could not be queued",
};

const char *
head_why_str(enum head_why why)
{
	return why < HEAD_WHY_COUNT && whys[why] ? whys[why] : "?";
}

static enum head_rc
refuse(struct head *h, int status, enum head_why why)
{
	h->status = (uint16_t)status;
	h->why = (uint8_t)why;
	return HEAD_BAD;
}

/* s[0..n) equals lower (lowercase letters and '-') ignoring ASCII case. */
static bool
lower_eq(const char *s, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] | 0x20) != lower[i])
			return false;
	return true;
}

static bool
is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!HEAD_IS(s[i], HEAD_TCHAR))
			return false;
	return n > 0;
}

void
head_init(struct head *h)
{
	memset(h, 0, sizeof(*h));
	h->method = -1;
	h->s.state = H_METHOD;
}

void
head_init_trailers(struct head *h)
{
	memset(&h->s, 0, sizeof(h->s));
	h->s.state = H_LINE;
	h->s.trailers = true;
}

size_t
head_max_len(const struct http_limits *lim)
{
	/* method SP target SP HTTP/1.1 CRLF, then the field section and the
	 * empty line */
	return HEAD_METHOD_MAX + 1 + lim->max_request_line + 1 + 8 + 2 +
	    lim->max_header_size + 2;
}

/* ---- authorities, lists, the framing fields ----------------------------- */

bool
head_authority_ok(const char *s, size_t len, bool need_port)
{
	size_t i = 0, port = 0, digits;

	if (len == 0)
		return false;
	if (s[0] == '[') {
		/* IP-literal: IPv6 only (no IPvFuture, no zone). */
		const char *close = memchr(s, ']', len);
		char addr[INET6_ADDRSTRLEN];
		struct in6_addr a;
		size_t n = close ? (size_t)(close - s) - 1 : 0;

		if (n == 0 || n >= sizeof(addr))
			return false;
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &a) != 1)
			return false;
		i = n + 2;
	} else {
		/* reg-name (an IPv4 address is one too), not empty: an http URI
		 * with an empty host is invalid (RFC 9110 4.2.1). */
		for (;;) {
			while (i < len && HEAD_IS(s[i], HEAD_REGNAME))
				i++;
			if (i == len || s[i] != '%')
				break;
			if (len - i < 3 || !HEAD_IS(s[i + 1], HEAD_HEX) ||
			    !HEAD_IS(s[i + 2], HEAD_HEX))
				return false;
			i += 3;
		}
		if (i == 0)
			return false;
	}
	if (i == len)
		return !need_port;
	if (s[i] != ':')
		return false;
	digits = len - ++i;
	if (digits == 0 || digits > 5)
		return false;
	for (; i < len; i++) {
		if (!HEAD_IS(s[i], HEAD_DIGIT))
			return false;
		port = port * 10 + (size_t)(s[i] - '0');
	}
	return port <= 65535;
}

/*
 * The next element of a list (RFC 9110 5.6.1) from *cur to end: *el, *n
 * trimmed of whitespace (n 0 for an empty element). *cur is NULL after the
 * last one; false once there is none.
 */
static bool
list_next(const char **cur, const char *end, const char **el, size_t *n)
{
	const char *p = *cur, *comma, *e;

	if (p == NULL)
		return false;
	comma = memchr(p, ',', (size_t)(end - p));
	e = comma ? comma : end;
	while (p < e && HEAD_IS(*p, HEAD_OWS))
		p++;
	while (e > p && HEAD_IS(e[-1], HEAD_OWS))
		e--;
	*el = p;
	*n = (size_t)(e - p);
	*cur = comma ? comma + 1 : NULL;
	return true;
}

static enum head_rc
content_length(struct head *h, const char *v, size_t n)
{
	uint64_t x = 0;

	/* Even an equal second one (RFC 9110 8.6 allows that, NGINX does
	 * not): two lines are two framing claims. */
	if (h->flags & HEAD_F_CL)
		return refuse(h, 400, HEAD_CL_TWICE);
	/* 1*DIGIT, no sign, no list; 19 digits cannot overflow. */
	if (n == 0 || n > 19)
		return refuse(h, 400, HEAD_CL_INVALID);
	for (size_t i = 0; i < n; i++) {
		if (!HEAD_IS(v[i], HEAD_DIGIT))
			return refuse(h, 400, HEAD_CL_INVALID);
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	h->content_length = x;
	h->flags |= HEAD_F_CL;
	return HEAD_MORE;
}

/*
 * Transfer-Encoding, over all its lines in order (RFC 9112 6.1): a list of
 * codings of which chunked is the last and only once. Anything after
 * chunked is refused here; the rest (no chunked: 400, another coding
 * before it: 501) when the head is complete. Parameters and empty
 * elements are refused: this field decides the framing.
 */
static enum head_rc
transfer_encoding(struct head *h, const char *v, size_t n)
{
	const char *cur = v, *el;
	size_t len;

	h->flags |= HEAD_F_TE;
	while (list_next(&cur, v + n, &el, &len)) {
		bool chunked = len == 7 && lower_eq(el, "chunked", 7);

		if (!is_token(el, len))
			return refuse(h, 400, HEAD_TE_INVALID);
		if (h->flags & HEAD_F_CHUNKED)
			return refuse(h, 400, chunked ? HEAD_TE_CHUNKED_TWICE :
			    HEAD_TE_NOT_CHUNKED);
		h->flags |= chunked ? HEAD_F_CHUNKED : HEAD_F_TE_OTHER;
	}
	return HEAD_MORE;
}

/* Connection: a list of tokens (empty elements are allowed, RFC 9110
 * 5.6.1); close, keep-alive and upgrade are the ones we act on. */
static enum head_rc
connection(struct head *h, const char *v, size_t n)
{
	const char *cur = v, *el;
	size_t len;

	while (list_next(&cur, v + n, &el, &len)) {
		if (len == 0)
			continue;
		if (!is_token(el, len))
			return refuse(h, 400, HEAD_CONNECTION_INVALID);
		if (len == 5 && lower_eq(el, "close", 5))
			h->flags |= HEAD_F_CLOSE;
		else if (len == 10 && lower_eq(el, "keep-alive", 10))
			h->flags |= HEAD_F_KEEP_ALIVE;
		else if (len == 7 && lower_eq(el, "upgrade", 7))
			h->flags |= HEAD_F_CONN_UPGRADE;
	}
	return HEAD_MORE;
}

/* A complete field line: keep it, and act on the fields that frame the
 * message or the connection. */
static enum head_rc
field(struct head *h, const char *base, struct head_field *fields)
{
	struct head_scan *s = &h->s;
	const char *name = base + s->mark, *v = base + s->vstart;
	uint32_t nlen = s->colon - s->mark, vlen = s->vend - s->vstart;

	s->count++;
	if (s->trailers)
		return HEAD_MORE;
	fields[h->nfields++] = (struct head_field){ s->mark, nlen, s->vstart,
	    vlen };
	switch (nlen) {
	case 4:
		if (!lower_eq(name, "host", 4))
			break;
		/* Exactly one, a valid authority (RFC 9112 3.2). */
		if (h->flags & HEAD_F_HOST)
			return refuse(h, 400, HEAD_HOST_TWICE);
		if (!head_authority_ok(v, vlen, false))
			return refuse(h, 400, HEAD_HOST_INVALID);
		h->flags |= HEAD_F_HOST;
		break;
	case 6:
		if (lower_eq(name, "expect", 6))
			h->flags |= vlen == 12 && lower_eq(v, "100-continue", 12) ?
			    HEAD_F_CONTINUE : HEAD_F_EXPECT_OTHER;
		break;
	case 7:
		if (lower_eq(name, "upgrade", 7) && vlen > 0)
			h->flags |= HEAD_F_UPGRADE;
		break;
	case 10:
		if (lower_eq(name, "connection", 10))
			return connection(h, v, vlen);
		break;
	case 14:
		if (lower_eq(name, "content-length", 14))
			return content_length(h, v, vlen);
		break;
	case 17:
		if (lower_eq(name, "transfer-encoding", 17))
			return transfer_encoding(h, v, vlen);
		break;
	}
	return HEAD_MORE;
}

/* ---- the request line --------------------------------------------------- */

/*
 * The request-target's form must be the method's (RFC 9112 3.2):
 * authority-form for CONNECT and only for it, "*" only for OPTIONS,
 * otherwise origin-form or absolute-form; an absolute-form target is an
 * http or https URI without userinfo, whose path routes the request.
 */
static enum head_rc
target_form(struct head *h, const char *base)
{
	const char *t = base + h->target_off;
	size_t n = h->target_len, i, a;

	h->path_off = h->target_off;
	if (h->method == METHOD_CONNECT) {
		h->form = HEAD_AUTHORITY;
		return head_authority_ok(t, n, true) ? HEAD_MORE :
		    refuse(h, 400, HEAD_TARGET_FORM);
	}
	if (t[0] == '/') {
		h->form = HEAD_ORIGIN;
		return HEAD_MORE;
	}
	if (n == 1 && t[0] == '*') {
		h->form = HEAD_ASTERISK;
		return h->method == METHOD_OPTIONS ? HEAD_MORE :
		    refuse(h, 400, HEAD_TARGET_FORM);
	}
	h->form = HEAD_ABSOLUTE;
	for (i = 0; i < n && t[i] != ':'; i++)
		;
	if (!((i == 4 && lower_eq(t, "http", 4)) ||
	    (i == 5 && lower_eq(t, "https", 5))) || n - i < 3 ||
	    t[i + 1] != '/' || t[i + 2] != '/')
		return refuse(h, 400, HEAD_TARGET_FORM);
	for (a = i += 3; i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	if (!head_authority_ok(t + a, i - a, false))
		return refuse(h, 400, HEAD_TARGET_FORM);
	h->path_off = h->target_off + (uint32_t)i;
	return HEAD_MORE;
}

/* The request line is complete and well-formed: is it one we serve? */
static enum head_rc
request_line(struct head *h, const char *base)
{
	if (h->major != 1)
		return refuse(h, h->major == 0 ? 400 : 505,
		    HEAD_VERSION_UNSUPPORTED);
	if (h->method < 0)
		return refuse(h, 501, HEAD_METHOD_UNKNOWN);
	return target_form(h, base);
}

/* The head is complete: do its fields make one reading of the message? */
static enum head_rc
head_done(struct head *h, const struct http_limits *lim)
{
	uint16_t f = h->flags;

	if (h->s.trailers)
		return HEAD_DONE;
	if (h->minor >= 1 && !(f & HEAD_F_HOST))
		return refuse(h, 400, HEAD_HOST_MISSING);
	if (f & HEAD_F_TE) {
		/* RFC 9112 6.1 (1.0), 6.3 items 3 and 4 */
		if (h->minor == 0)
			return refuse(h, 400, HEAD_TE_HTTP10);
		if (f & HEAD_F_CL)
			return refuse(h, 400, HEAD_CL_AND_TE);
		if (!(f & HEAD_F_CHUNKED))
			return refuse(h, 400, HEAD_TE_NOT_CHUNKED);
		if (f & HEAD_F_TE_OTHER)
			return refuse(h, 501, HEAD_TE_UNSUPPORTED);
	}
	if (h->method == METHOD_CONNECT && (f & (HEAD_F_TE | HEAD_F_CL)))
		return refuse(h, 400, HEAD_CONNECT_BODY);
	if ((f & HEAD_F_CL) && h->content_length > lim->max_body_size)
		return refuse(h, 413, HEAD_BODY_LARGE);
	if (f & HEAD_F_EXPECT_OTHER)
		return refuse(h, 417, HEAD_EXPECT);
	return HEAD_DONE;
}

/* ---- the scan ----------------------------------------------------------- */

/*
 * Values and targets are most of a head's bytes: skip them 8 at a time
 * while a whole word is clean, and leave the word with anything else in
 * it to the byte loop that follows. The tests are exact as booleans (Sean
 * Anderson's "bit twiddling hacks": a byte below n < 128, a byte 0).
 */
#define ONES          0x0101010101010101ull
#define HIGHS         0x8080808080808080ull
#define BELOW(w, n)   (((w) - ONES * (n)) & ~(w) & HIGHS)
#define ZERO(w)       (((w) - ONES) & ~(w) & HIGHS)

/* The first byte from p that is not VCHAR, obs-text or SP, or p == end. */
static size_t
skip_value(const unsigned char *b, size_t p, size_t end)
{
	uint64_t w;

	for (; end - p >= 8; p += 8) {
		memcpy(&w, b + p, 8);
		if (BELOW(w, 0x20) | ZERO(w ^ (ONES * 0x7f)))
			break;
	}
	while (p < end && HEAD_IS(b[p], HEAD_FIELD))
		p++;
	return p;
}

/* The first byte from p that cannot be in a target, or p == end. */
static size_t
skip_target(const unsigned char *b, size_t p, size_t end)
{
	uint64_t w;

	for (; end - p >= 8; p += 8) {
		memcpy(&w, b + p, 8);
		if (BELOW(w, 0x21) | ZERO(w ^ (ONES * 0x7f)) |
		    ZERO(w ^ (ONES * '#')))
			break;
	}
	while (p < end && HEAD_IS(b[p], HEAD_TARGET))
		p++;
	return p;
}

/* Where a field section starting at s->section must end, within len. */
static size_t
section_end(const struct head_scan *s, size_t len,
    const struct http_limits *lim)
{
	size_t stop = s->section + lim->max_header_size + 2;

	return len < stop ? len : stop;
}

/*
 * The states follow one another in the order of the grammar, so each
 * falls through to the next; a state that runs out of bytes breaks out
 * and the next call resumes it. A field section is not looked at past the
 * most it may hold with its empty line (section_end): a head cut short
 * there (as one held in a buffer of head_max_len is) and the same head
 * read at once get the same answer, 431, whatever follows.
 */
enum head_rc
head_parse(struct head *h, const char *base, size_t len,
    const struct http_limits *lim, struct head_field *fields)
{
	const unsigned char *b = (const unsigned char *)base;
	struct head_scan *s = &h->s;
	size_t p = s->pos, i, end = len;
	unsigned char c;

	if (s->state >= H_LINE)
		end = section_end(s, len, lim);
	while (p < end) {
		switch (s->state) {
		case H_METHOD:
			while (p < end && HEAD_IS(b[p], HEAD_TCHAR))
				p++;
			if (p - s->mark > HEAD_METHOD_MAX)
				return refuse(h, 501, HEAD_METHOD_UNKNOWN);
			if (p == end)
				break;
			if (b[p] != ' ' || p == s->mark)
				return refuse(h, 400, HEAD_METHOD_CHAR);
			h->method = (int8_t)method_lookup(base + s->mark,
			    p - s->mark);
			s->mark = (uint32_t)++p;
			h->target_off = s->mark;
			s->state = H_TARGET;
			/* fall through */
		case H_TARGET:
			p = skip_target(b, p, end);
			if (p - s->mark > lim->max_request_line)
				return refuse(h, 414, HEAD_TARGET_LONG);
			if (p == end)
				break;
			if (b[p] != ' ' || p == s->mark)
				return refuse(h, 400, b[p] == '\n' ? HEAD_BARE_LF :
				    b[p] == '\r' ? HEAD_VERSION : HEAD_TARGET_CHAR);
			h->target_len = (uint32_t)(p - s->mark);
			s->mark = (uint32_t)++p;
			s->state = H_VERSION;
			/* fall through */
		case H_VERSION:
			/* exactly "HTTP/" DIGIT "." DIGIT, then CR; 1.x at once */
			if (p == s->mark && end - p >= 9 &&
			    memcmp(b + p, "HTTP/1.", 7) == 0 &&
			    HEAD_IS(b[p + 7], HEAD_DIGIT) && b[p + 8] == '\r') {
				h->major = 1;
				h->minor = (uint8_t)(b[p + 7] - '0');
				p += 8;
			}
			for (; p < end; p++) {
				c = b[p];
				i = p - s->mark;
				if (i == 8) {
					if (c != '\r')
						return refuse(h, 400, c == '\n' ?
						    HEAD_BARE_LF : HEAD_VERSION);
					break;
				}
				if (i < 5 ? c != (unsigned char)"HTTP/"[i] :
				    i == 6 ? c != '.' : !HEAD_IS(c, HEAD_DIGIT))
					return refuse(h, 400, HEAD_VERSION);
				if (i == 5)
					h->major = (uint8_t)(c - '0');
				else if (i == 7)
					h->minor = (uint8_t)(c - '0');
			}
			if (p == end)
				break;
			p++;
			s->state = H_RL_LF;
			/* fall through */
		case H_RL_LF:
			if (p == end)
				break;
			if (b[p] != '\n')
				return refuse(h, 400, HEAD_BARE_CR);
			p++;
			if (request_line(h, base) == HEAD_BAD)
				return HEAD_BAD;
			s->section = (uint32_t)p;
			end = section_end(s, len, lim);
			s->state = H_LINE;
			/* fall through */
		case H_LINE:
			if (p == end)
				break;
			c = b[p];
			if (c == '\r') {
				p++;
				s->state = H_END_LF;
				continue;
			}
			if (!HEAD_IS(c, HEAD_TCHAR))
				return refuse(h, 400, c == '\n' ? HEAD_BARE_LF :
				    HEAD_IS(c, HEAD_OWS) ? HEAD_OBS_FOLD :
				    HEAD_NAME_CHAR);
			if (s->count == lim->max_headers)
				return refuse(h, 431, HEAD_FIELDS_MANY);
			s->mark = (uint32_t)p++;
			s->state = H_NAME;
			/* fall through */
		case H_NAME:
			while (p < end && HEAD_IS(b[p], HEAD_TCHAR))
				p++;
			if (p == end)
				break;
			if (b[p] != ':')
				return refuse(h, 400, b[p] == '\n' ? HEAD_BARE_LF :
				    HEAD_NAME_CHAR);
			s->colon = (uint32_t)p++;
			s->state = H_OWS;
			/* fall through */
		case H_OWS:
			while (p < end && HEAD_IS(b[p], HEAD_OWS))
				p++;
			if (p == end)
				break;
			s->vstart = (uint32_t)p;
			s->state = H_VALUE;
			/* fall through */
		case H_VALUE:
			p = skip_value(b, p, end);
			if (p == end)
				break;
			if (b[p] != '\r')
				return refuse(h, 400, b[p] == '\n' ? HEAD_BARE_LF :
				    HEAD_VALUE_CHAR);
			for (i = p; i > s->vstart && HEAD_IS(b[i - 1], HEAD_OWS);
			    i--)
				;
			s->vend = (uint32_t)i;
			p++;
			s->state = H_LF;
			/* fall through */
		case H_LF:
			if (p == end)
				break;
			if (b[p] != '\n')
				return refuse(h, 400, HEAD_BARE_CR);
			p++;
			if (p - s->section > lim->max_header_size)
				return refuse(h, 431, HEAD_FIELDS_LARGE);
			if (field(h, base, fields) == HEAD_BAD)
				return HEAD_BAD;
			s->state = H_LINE;
			continue;
		case H_END_LF:
			if (b[p] != '\n')
				return refuse(h, 400, HEAD_BARE_CR);
			s->pos = (uint32_t)++p;
			h->len = s->pos;
			s->state = H_DONE;
			return head_done(h, lim);
		default:
			return HEAD_DONE;
		}
	}
	s->pos = (uint32_t)p;
	if (s->state >= H_LINE && (p < len ||
	    p - s->section > lim->max_header_size + 1))
		return refuse(h, 431, HEAD_FIELDS_LARGE);
	return HEAD_MORE;
}
