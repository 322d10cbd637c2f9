/*
 * Unit tests for worker/http/request.c: what a connection's request reader
 * makes of bytes — the handler's view (target, path of every target form,
 * query, headers without surrounding whitespace, the body in place or
 * copied, de-chunked), requests split over reads at every byte and into
 * single bytes (with the earlier bytes overwritten after each feed, as the
 * worker's read buffer is), pipelining and pausing, and every refusal with
 * its status and reason: the issue's table, bare CR/LF, obs-fold, Host,
 * Content-Length and Transfer-Encoding variants, chunk sizes and
 * extensions, limits (414, 431 by size and count, 413 both ways, also
 * when the head spans reads), Expect, upgrades and CONNECT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "worker/http/request.c"

static struct http_limits limits = {
	.max_request_line = 64,
	.max_header_size = 256,
	.max_headers = 6,
	.max_body_size = 32,
};

/* What the hooks saw: every request, as text. */
static struct {
	int begun, continues, completed;
	bool pause_each, fail_continue;
	struct http_request req;         /* the last request's view */
	struct http_header hdrs[6];
	char body[64];                   /* copies of the last request's */
	char path[80], query[80];
	const char *body_ptr;
	char log[4096];                  /* every request, one line each */
	size_t loglen;
} seen;

static void
hook_begin(struct request_reader *r)
{
	(void)r;
	seen.begun++;
}

static int
hook_continue(struct request_reader *r)
{
	(void)r;
	seen.continues++;
	return seen.fail_continue ? -1 : 0;
}

static void
hook_complete(struct request_reader *r)
{
	struct http_request *q = &seen.req;
	int n;

	seen.completed++;
	memset(q, 0, sizeof(*q));
	request_view(r, q, seen.hdrs);
	seen.body_ptr = q->body;
	snprintf(seen.body, sizeof(seen.body), "%.*s", (int)q->body_len,
	    q->body ? q->body : "");
	snprintf(seen.path, sizeof(seen.path), "%.*s", (int)q->path_len,
	    q->path);
	snprintf(seen.query, sizeof(seen.query), "%.*s", (int)q->query_len,
	    q->query ? q->query : "");
	n = snprintf(seen.log + seen.loglen, sizeof(seen.log) - seen.loglen,
	    "%s %.*s %u.%u ka=%d up=%d", q->method, (int)q->target_len,
	    q->target, q->version_major, q->version_minor,
	    request_keep_alive(r), request_upgrade(r));
	seen.loglen += (size_t)n;
	for (size_t i = 0; i < q->nheaders; i++) {
		n = snprintf(seen.log + seen.loglen, sizeof(seen.log) -
		    seen.loglen, " [%.*s|%.*s]", (int)q->headers[i].name_len,
		    q->headers[i].name, (int)q->headers[i].value_len,
		    q->headers[i].value);
		seen.loglen += (size_t)n;
	}
	n = snprintf(seen.log + seen.loglen, sizeof(seen.log) - seen.loglen,
	    " body=%.*s\n", (int)q->body_len, q->body ? q->body : "");
	seen.loglen += (size_t)n;
	assert_true(seen.loglen < sizeof(seen.log) - 1);
	if (seen.pause_each)
		request_pause(r);
}

static struct request_hooks hooks = {
	.limits = &limits,
	.begin = hook_begin,
	.send_continue = hook_continue,
	.complete = hook_complete,
};

static struct request_reader rd;

static void
reset(void)
{
	request_release(&rd);
	request_init(&rd, &hooks);
	memset(&seen, 0, sizeof(seen));
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(request_setup(&hooks), 0);
	request_init(&rd, &hooks);
	memset(&seen, 0, sizeof(seen));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	request_release(&rd);
	request_teardown(&hooks);
	return 0;
}

/*
 * Feed n bytes from a buffer of our own, which is scribbled over after
 * the call: whatever the reader kept pointing into fed bytes shows.
 */
static enum request_fed
feed_n(const char *s, size_t n, size_t *parsed)
{
	static char area[2048];
	size_t dummy;
	enum request_fed fed;

	assert_true(n <= sizeof(area));
	memcpy(area, s, n);
	fed = request_feed(&rd, area, n, parsed ? parsed : &dummy);
	memset(area, '#', sizeof(area));
	return fed;
}

static enum request_fed
feed(const char *s, size_t *parsed)
{
	return feed_n(s, strlen(s), parsed);
}

/* Feed s and expect a refusal with status and why. */
static void
refused_why(const char *s, int status, enum head_why why)
{
	reset();
	if (feed(s, NULL) != REQUEST_BAD)
		fail_msg("accepted: \"%s\"", s);
	if (request_error_status(&rd) != status || request_error_code(&rd) != why)
		fail_msg("\"%s\": %d (%s), expected %d (%s)", s,
		    request_error_status(&rd), request_error_why(&rd), status,
		    head_why_str(why));
}

/* Feed s (whole) and expect the requests it holds, logged as in want. */
static void
accepted(const char *s, const char *want)
{
	reset();
	if (feed(s, NULL) != REQUEST_FED)
		fail_msg("\"%s\" refused: %d (%s)", s, request_error_status(&rd),
		    request_error_why(&rd));
	if (strcmp(seen.log, want) != 0)
		fail_msg("\"%s\":\n  got  %s  want %s", s, seen.log, want);
}

/* ---- what a handler sees ------------------------------------------------ */

static void
test_view(void **state)
{
	/* fed from here, which stays: the view may be read afterwards */
	static char req[] = "GET /a/b%20c?x=1&y HTTP/1.1\r\n"
	    "Host: h\r\nX-Long: \t spaced \t \r\naccept:*/*\r\n\r\n";
	size_t len = 0, parsed;
	const char *v;

	(void)state;
	assert_int_equal(request_feed(&rd, req, sizeof(req) - 1, &parsed),
	    REQUEST_FED);
	assert_int_equal(seen.begun, 1);
	assert_int_equal(seen.completed, 1);
	assert_string_equal(seen.req.method, "GET");
	assert_int_equal(seen.req.method_id, METHOD_GET);
	assert_int_equal(seen.req.target_len, strlen("/a/b%20c?x=1&y"));
	assert_string_equal(seen.path, "/a/b%20c");
	assert_string_equal(seen.query, "x=1&y");
	assert_int_equal(seen.req.version_major, 1);
	assert_int_equal(seen.req.version_minor, 1);
	assert_int_equal(seen.req.nheaders, 3);
	/* whitespace around a value is not part of it (RFC 9112 5) */
	assert_int_equal(seen.hdrs[1].value_len, strlen("spaced"));
	assert_memory_equal(seen.hdrs[1].value, "spaced", 6);
	assert_memory_equal(seen.hdrs[2].value, "*/*", 3);
	/* lookups ignore case */
	v = http_request_header(&seen.req, "Accept", &len);
	assert_non_null(v);
	assert_int_equal(len, 3);
	assert_null(http_request_header(&seen.req, "Accept-X", NULL));
	assert_false(request_is_head(&rd));
	assert_false(request_is_http10(&rd));
	assert_true(request_keep_alive(&rd));
	assert_false(seen.req.upgrade);
	assert_false(rd.in_message);

	/* no query: path is the target; HTTP/1.0 closes unless asked */
	assert_int_equal(feed("HEAD / HTTP/1.0\r\n\r\n", NULL), REQUEST_FED);
	assert_null(seen.req.query);
	assert_string_equal(seen.path, "/");
	assert_true(request_is_head(&rd));
	assert_true(request_is_http10(&rd));
	assert_false(request_keep_alive(&rd));
}

/* absolute-form: routed by its path; "*" and authority-form */
static void
test_target_forms(void **state)
{
	(void)state;
	assert_int_equal(feed("GET http://x/healthz?a=1 HTTP/1.1\r\nHost: x\r\n"
	    "\r\n", NULL), REQUEST_FED);
	assert_string_equal(seen.path, "/healthz");
	assert_string_equal(seen.query, "a=1");
	assert_int_equal(seen.req.target_len, strlen("http://x/healthz?a=1"));
	assert_int_equal(feed("GET HTTPS://[::1]:8443 HTTP/1.1\r\nHost: x\r\n"
	    "\r\n", NULL), REQUEST_FED);
	assert_string_equal(seen.path, "/");
	assert_int_equal(feed("GET http://x.example?q HTTP/1.1\r\nHost: x\r\n"
	    "\r\n", NULL), REQUEST_FED);
	assert_string_equal(seen.path, "/");
	assert_string_equal(seen.query, "q");
	assert_int_equal(feed("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", NULL),
	    REQUEST_FED);
	assert_string_equal(seen.path, "*");
	assert_int_equal(feed("OPTIONS http://x HTTP/1.1\r\nHost: x\r\n\r\n",
	    NULL), REQUEST_FED);
	assert_string_equal(seen.path, "*");

	refused_why("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, HEAD_TARGET_FORM);
	refused_why("GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("GET http:/x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("CONNECT x HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_FORM);
	refused_why("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_CHAR);
	refused_why("GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_CHAR);
	refused_why("GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    HEAD_TARGET_CHAR);
	/* raw UTF-8 is no delimiter: taken as it is (NGINX does too) */
	reset();
	assert_int_equal(feed("GET /caf\xc3\xa9?q=\xff HTTP/1.1\r\nHost: x\r\n"
	    "\r\n", NULL), REQUEST_FED);
	assert_string_equal(seen.path, "/caf\xc3\xa9");
}

static void
test_bodies(void **state)
{
	static const char two[] = "POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 5\r\n\r\nhelloPOST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 2\r\n\r\nhi";
	char area[sizeof(two)];
	size_t parsed;

	(void)state;
	/* all in one read: the body is handed over where it lies */
	memcpy(area, two, sizeof(two));
	assert_int_equal(request_feed(&rd, area, sizeof(two) - 1, &parsed),
	    REQUEST_FED);
	assert_int_equal(parsed, sizeof(two) - 1);
	assert_int_equal(seen.completed, 2);
	assert_string_equal(seen.body, "hi");
	assert_ptr_equal(seen.body_ptr, area + sizeof(two) - 3);
	/* over two reads: copied */
	assert_int_equal(feed("POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 5\r\n\r\nhel", NULL), REQUEST_FED);
	assert_true(rd.in_body);
	assert_int_equal(feed("lo", NULL), REQUEST_FED);
	assert_string_equal(seen.body, "hello");
	/* chunked: de-chunked, extensions and trailers dropped */
	assert_int_equal(feed("POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n", NULL),
	    REQUEST_FED);
	assert_true(rd.in_message);
	assert_int_equal(feed("2 ; q=\"x\\\"y\" ;z\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
	    NULL), REQUEST_FED);
	assert_int_equal(seen.completed, 4);
	assert_string_equal(seen.body, "abcde");
	assert_int_equal(seen.req.nheaders, 2);     /* no trailer among them */
	/* the next request starts with an empty body */
	assert_int_equal(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", NULL),
	    REQUEST_FED);
	assert_int_equal(seen.req.body_len, 0);
	/* empty lines (CRLF) before a request are ignored */
	assert_int_equal(feed("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n", NULL),
	    REQUEST_FED);
	assert_string_equal(seen.path, "/x");
}

/*
 * Every cut of a stream of requests gives what the whole stream gives: in
 * two reads cut at each byte, and a byte per read.
 */
static void
test_split_everywhere(void **state)
{
	static const char *const streams[] = {
		"GET /split?q HTTP/1.1\r\nHost: h\r\nX-A:  1 \r\n\r\n"
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
		"\r\nPOST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
		"\r\n\r\n3 ;e=\"q\\\"\"\r\nabc\r\n0\r\nT: x\r\n\r\n"
		"GET http://a:1/abs HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /z HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	};
	char want[4096];
	size_t len, cut, i;

	(void)state;
	for (size_t k = 0; k < sizeof(streams) / sizeof(streams[0]); k++) {
		const char *s = streams[k];

		len = strlen(s);
		reset();
		assert_int_equal(feed(s, NULL), REQUEST_FED);
		assert_false(rd.in_message);
		snprintf(want, sizeof(want), "%s", seen.log);
		for (cut = 1; cut < len; cut++) {
			reset();
			assert_int_equal(feed_n(s, cut, NULL), REQUEST_FED);
			assert_int_equal(feed_n(s + cut, len - cut, NULL),
			    REQUEST_FED);
			if (strcmp(seen.log, want) != 0)
				fail_msg("cut at %zu:\n  got  %s  want %s", cut,
				    seen.log, want);
		}
		reset();
		for (i = 0; i < len; i++)
			assert_int_equal(feed_n(s + i, 1, NULL), REQUEST_FED);
		assert_string_equal(seen.log, want);
	}
}

/* complete() may pause: the rest of the read waits, parsed later. */
static void
test_pipelined_pause(void **state)
{
	static const char two[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	    "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t parsed;

	(void)state;
	seen.pause_each = true;
	assert_int_equal(feed(two, &parsed), REQUEST_PAUSED);
	assert_int_equal(seen.completed, 1);
	assert_string_equal(seen.path, "/1");
	assert_true(request_paused(&rd));
	assert_int_equal(parsed, (sizeof(two) - 1) / 2);
	request_resume(&rd);
	assert_false(request_paused(&rd));
	assert_int_equal(feed(two + parsed, &parsed), REQUEST_PAUSED);
	assert_int_equal(seen.completed, 2);
	assert_string_equal(seen.path, "/2");
	request_resume(&rd);

	/* without a pause, both in one go */
	seen.pause_each = false;
	assert_int_equal(feed(two, &parsed), REQUEST_FED);
	assert_int_equal(parsed, sizeof(two) - 1);
	assert_int_equal(seen.completed, 4);
}

/* ---- refusals ----------------------------------------------------------- */

/* The issue's table, byte for byte. */
static void
test_issue_table(void **state)
{
	(void)state;
	refused_why("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
	    HEAD_HOST_TWICE);
	refused_why("GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400,
	    HEAD_HOST_INVALID);
	refused_why("GET / HTTP/1.1\r\nHost: a\r\n  continued\r\n\r\n", 400,
	    HEAD_OBS_FOLD);
	refused_why("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5\r\nhello\r\n0\r\n\r\n", 400, HEAD_TE_HTTP10);
	refused_why("GET / HTTP/1.1\r\nHost: a\r\n\rSome-Header: x\r\n\r\n", 400,
	    HEAD_BARE_CR);
	assert_int_equal(seen.completed, 0);
	refused_why("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
	    HEAD_METHOD_CHAR);
	refused_why("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n0\r\n\r\n", 501, HEAD_TE_UNSUPPORTED);
}

static void
test_request_line(void **state)
{
	char line[160], target[80];

	(void)state;
	refused_why("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400, HEAD_VERSION);
	refused_why("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, HEAD_VERSION);
	refused_why("GET / http/1.1\r\nHost: h\r\n\r\n", 400, HEAD_VERSION);
	refused_why("GET /\r\nHost: h\r\n\r\n", 400, HEAD_VERSION);
	refused_why("GET / HTTP/1.1 junk\r\nHost: h\r\n\r\n", 400, HEAD_VERSION);
	refused_why("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, HEAD_TARGET_CHAR);
	refused_why("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, HEAD_VERSION);
	refused_why("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    HEAD_TARGET_CHAR);
	refused_why("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, HEAD_METHOD_CHAR);
	refused_why(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, HEAD_METHOD_CHAR);
	refused_why("GARBAGE\r\n\r\n", 400, HEAD_METHOD_CHAR);
	reset();
	assert_int_equal(feed_n("\0GET / HTTP/1.1\r\n\r\n", 19, NULL),
	    REQUEST_BAD);
	assert_int_equal(request_error_code(&rd), HEAD_METHOD_CHAR);
	/* a valid token that is no method we know: 501; lowercase too */
	refused_why("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 501,
	    HEAD_METHOD_UNKNOWN);
	refused_why("get / HTTP/1.1\r\nHost: h\r\n\r\n", 501,
	    HEAD_METHOD_UNKNOWN);
	refused_why("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 501,
	    HEAD_METHOD_UNKNOWN);
	refused_why("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505,
	    HEAD_VERSION_UNSUPPORTED);
	refused_why("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505,
	    HEAD_VERSION_UNSUPPORTED);
	refused_why("GET / HTTP/0.9\r\n\r\n", 400, HEAD_VERSION_UNSUPPORTED);
	/* bare LF or CR anywhere in the line */
	refused_why("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, HEAD_BARE_LF);
	refused_why("GET / HTTP/1.1\rHost: h\r\n\r\n", 400, HEAD_BARE_CR);
	refused_why("GET /\n HTTP/1.1\r\n\r\n", 400, HEAD_BARE_LF);
	refused_why("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, HEAD_BARE_LF);
	refused_why("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, HEAD_BARE_CR);

	/* a target of max_request_line (64) bytes passes, one more is 414 */
	memset(target, 'a', sizeof(target));
	target[0] = '/';
	target[64] = '\0';
	snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
	reset();
	assert_int_equal(feed(line, NULL), REQUEST_FED);
	assert_int_equal(seen.req.target_len, 64);
	target[64] = 'a';
	target[65] = '\0';
	snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
	refused_why(line, 414, HEAD_TARGET_LONG);
	/* ... even before the line ends */
	snprintf(line, sizeof(line), "GET %s", target);
	refused_why(line, 414, HEAD_TARGET_LONG);
}

static void
test_fields(void **state)
{
	char big[400];

	(void)state;
	refused_why("GET / HTTP/1.1\r\n\r\n", 400, HEAD_HOST_MISSING);
	refused_why("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, HEAD_NAME_CHAR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked"
	    "\r\n\r\n", 400, HEAD_NAME_CHAR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400,
	    HEAD_NAME_CHAR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400,
	    HEAD_NAME_CHAR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA(b: v\r\n\r\n", 400,
	    HEAD_NAME_CHAR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA: v\x01w\r\n\r\n", 400,
	    HEAD_VALUE_CHAR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA: v\x7f\r\n\r\n", 400,
	    HEAD_VALUE_CHAR);
	reset();
	assert_int_equal(feed_n("GET / HTTP/1.1\r\nHost: h\r\nA: v\0w\r\n\r\n",
	    35, NULL), REQUEST_BAD);
	assert_int_equal(request_error_code(&rd), HEAD_VALUE_CHAR);
	/* obs-text (UTF-8) in a value is fine */
	accepted("GET / HTTP/1.1\r\nHost: h\r\nA: caf\xc3\xa9\r\n\r\n",
	    "GET / 1.1 ka=1 up=0 [Host|h] [A|caf\xc3\xa9] body=\n");
	/* bare CR and LF at several places; obs-fold in several fields */
	refused_why("GET / HTTP/1.1\r\nHost: h\nA: b\r\n\r\n", 400, HEAD_BARE_LF);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, HEAD_BARE_LF);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA\n: b\r\n\r\n", 400,
	    HEAD_BARE_LF);
	refused_why("GET / HTTP/1.1\r\nHost: h\rA: b\r\n\r\n", 400, HEAD_BARE_CR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n", 400,
	    HEAD_BARE_CR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", 400, HEAD_BARE_CR);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA\r: b\r\n\r\n", 400,
	    HEAD_NAME_CHAR);
	refused_why("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, HEAD_OBS_FOLD);
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400,
	    HEAD_OBS_FOLD);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n 0\r\n"
	    "\r\n", 400, HEAD_OBS_FOLD);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
	    " , chunked\r\n\r\n", 400, HEAD_OBS_FOLD);
	/* more than max_headers (6) */
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
	    "E: 5\r\nF: 6\r\n\r\n", 431, HEAD_FIELDS_MANY);
	/* more than max_header_size (256) of field lines */
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX: %0300d\r\n"
	    "\r\n", 0);
	refused_why(big, 431, HEAD_FIELDS_LARGE);
}

/* Host: exactly one, a valid authority. */
static void
test_host(void **state)
{
	static const char *const good[] = {
		"a", "a.b-c_d~e", "1.2.3.4:80", "[::1]", "[::1]:8080",
		"[::ffff:1.2.3.4]", "xn--caf-dma.example", "a%20b", "a:65535",
		"!$&'()*+,;=",
	};
	static const char *const bad[] = {
		"", "bad host", "a b", "a:", "a:x", "a:65536", "a:123456", ":80",
		"[::1", "[]", "[v1.x]", "[::1%eth0]", "[1.2.3.4]", "u@a", "a/b",
		"a?b", "a#b", "a%2", "a%zz", "[::1]x", "caf\xc3\xa9",
	};
	char req[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		    good[i]);
		reset();
		if (feed(req, NULL) != REQUEST_FED || seen.completed != 1)
			fail_msg("Host: %s refused (%s)", good[i],
			    request_error_why(&rd));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		    bad[i]);
		refused_why(req, 400, HEAD_HOST_INVALID);
	}
	refused_why("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400,
	    HEAD_HOST_TWICE);
	refused_why("GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", 400,
	    HEAD_HOST_TWICE);
	/* HTTP/1.0 needs none */
	accepted("GET / HTTP/1.0\r\n\r\n", "GET / 1.0 ka=0 up=0 body=\n");
}

static void
test_content_length(void **state)
{
	static const char *const bad[] = {
		"+5", "-5", "5,5", "5, 5", "5 5", "0x5", "5a", "", "1e3",
		"18446744073709551616", "99999999999999999999",
	};
	char req[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Content-Length: %s\r\n\r\nhello", bad[i]);
		refused_why(req, 400, HEAD_CL_INVALID);
	}
	/* whitespace around the value is the field's, not the number's */
	accepted("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  \t5 \r\n\r\n"
	    "hello", "POST / 1.1 ka=1 up=0 [Host|h] [Content-Length|5] "
	    "body=hello\n");
	accepted("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\n"
	    "hello", "POST / 1.1 ka=1 up=0 [Host|h] [Content-Length|0005] "
	    "body=hello\n");
	/* a number over max_body_size is a 413, not a 400 */
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: "
	    "9999999999999999999\r\n\r\n", 413, HEAD_BODY_LARGE);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\nab", 400, HEAD_CL_TWICE);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	    "Content-Length: 1\r\n\r\na", 400, HEAD_CL_TWICE);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, HEAD_CL_AND_TE);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 1\r\n\r\n0\r\n\r\n", 400, HEAD_CL_AND_TE);
}

static void
test_transfer_encoding(void **state)
{
	static const struct {
		const char *te;
		int status;
		enum head_why why;
	} cases[] = {
		{ "gzip, chunked", 501, HEAD_TE_UNSUPPORTED },
		{ "identity, chunked", 501, HEAD_TE_UNSUPPORTED },
		{ "gzip", 400, HEAD_TE_NOT_CHUNKED },
		{ "identity", 400, HEAD_TE_NOT_CHUNKED },
		{ "chunked, gzip", 400, HEAD_TE_NOT_CHUNKED },
		{ "chunked, chunked", 400, HEAD_TE_CHUNKED_TWICE },
		{ "chunked,", 400, HEAD_TE_INVALID },
		{ ", chunked", 400, HEAD_TE_INVALID },
		{ "", 400, HEAD_TE_INVALID },
		{ "chunked;q=1", 400, HEAD_TE_INVALID },
		{ "\"chunked\"", 400, HEAD_TE_INVALID },
		{ "chunked x", 400, HEAD_TE_INVALID },
		{ "xchunked", 400, HEAD_TE_NOT_CHUNKED },
	};
	char req[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: %s\r\n\r\n0\r\n\r\n", cases[i].te);
		refused_why(req, cases[i].status, cases[i].why);
	}
	/* several lines make one list */
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
	    HEAD_TE_CHUNKED_TWICE);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501,
	    HEAD_TE_UNSUPPORTED);
	/* case does not matter in a coding */
	accepted("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n"
	    "\r\n1\r\nz\r\n0\r\n\r\n", "POST / 1.1 ka=1 up=0 [Host|h] "
	    "[Transfer-Encoding|Chunked] body=z\n");
}

static void
test_chunks(void **state)
{
	static const struct {
		const char *body;
		enum head_why why;
	} bad[] = {
		{ "zz\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_SIZE },
		{ "-5\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_SIZE },
		{ "0x5\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_SIZE },
		{ " 5\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_SIZE },
		{ "5 \r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a=\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a=\"x\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a b\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a \r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a=b \r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a=\"b\" \r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", HEAD_CHUNK_EXT },
		{ "5\nhello\r\n0\r\n\r\n", HEAD_CHUNK_SIZE },
		{ "5\rhello\r\n0\r\n\r\n", HEAD_BARE_CR },
		{ "5\r\nhelloX\r\n0\r\n\r\n", HEAD_CHUNK_END },
		{ "5\r\nhello\n0\r\n\r\n", HEAD_CHUNK_END },
		{ "5\r\nhello\r0\r\n\r\n", HEAD_CHUNK_END },
		{ "00000000000000001\r\nh\r\n0\r\n\r\n", HEAD_CHUNK_SIZE },
		{ "0\r\nT\n\r\n", HEAD_BARE_LF },
		{ "0\r\n T: x\r\n\r\n", HEAD_OBS_FOLD },
		{ "0\r\nT : x\r\n\r\n", HEAD_NAME_CHAR },
		{ "0\r\n\n", HEAD_BARE_LF },
	};
	char req[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n%s", bad[i].body);
		refused_why(req, 400, bad[i].why);
	}
	/* a trailer section is held to max_header_size (256) */
	snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\nT: %0100d", 0);
	reset();
	assert_int_equal(feed(req, NULL), REQUEST_FED);
	memset(req, 'x', 200);
	req[200] = '\0';
	assert_int_equal(feed(req, NULL), REQUEST_BAD);
	assert_int_equal(request_error_status(&rd), 431);
	/* 16 digits with leading zeros, upper-case hex, extensions */
	accepted("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n000000000000000A;x;y=\"\\a\" ; z = 1\r\n0123456789\r\n"
	    "00;last\r\n\r\n", "POST / 1.1 ka=1 up=0 [Host|h] "
	    "[Transfer-Encoding|chunked] body=0123456789\n");
}

static void
test_body_limits(void **state)
{
	char req[400];

	(void)state;
	/* Content-Length over max_body_size (32): refused at the head */
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 33\r\n\r\n",
	    413, HEAD_BODY_LARGE);
	/* chunked: refused at the chunk that would cross it */
	reset();
	assert_int_equal(feed("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n", NULL),
	    REQUEST_FED);
	assert_int_equal(feed("11\r\n", NULL), REQUEST_BAD);
	assert_int_equal(request_error_status(&rd), 413);
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\nffffffffffffffff\r\n", 413, HEAD_BODY_LARGE);
	/* a head spanning reads is held to the same limits */
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\nX: %0300d", 0);
	reset();
	assert_int_equal(feed_n(req, 30, NULL), REQUEST_FED);
	assert_int_equal(feed(req + 30, NULL), REQUEST_BAD);
	assert_int_equal(request_error_status(&rd), 431);
	reset();
	for (size_t i = 0; i < strlen(req) && request_error_code(&rd) == HEAD_OK; i++)
		feed_n(req + i, 1, NULL);
	assert_int_equal(request_error_status(&rd), 431);
	assert_non_null(rd.spill);
	assert_true(rd.spill->hbuf.len <= head_max_len(&limits) + 1);
	/* an idle reader keeps nothing */
	request_release(&rd);
	assert_null(rd.spill);
}

static void
test_expect(void **state)
{
	(void)state;
	/* a 100 Continue, once the limits are met */
	assert_int_equal(feed("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n", NULL),
	    REQUEST_FED);
	assert_int_equal(seen.continues, 1);
	assert_int_equal(feed("abc", NULL), REQUEST_FED);
	assert_string_equal(seen.body, "abc");
	/* none without a body to wait for, nor for an HTTP/1.0 client */
	assert_int_equal(feed("GET / HTTP/1.1\r\nHost: h\r\n"
	    "Expect: 100-continue\r\n\r\n", NULL), REQUEST_FED);
	assert_int_equal(feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 1\r\n\r\nx", NULL), REQUEST_FED);
	assert_int_equal(seen.continues, 1);
	/* too big: the final status instead */
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
	    "Content-Length: 99\r\n\r\n", 413, HEAD_BODY_LARGE);
	assert_int_equal(seen.continues, 0);
	/* any other expectation */
	refused_why("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n"
	    "Content-Length: 1\r\n\r\nx", 417, HEAD_EXPECT);
	/* the connection could not queue the 100 */
	reset();
	seen.fail_continue = true;
	assert_int_equal(feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue"
	    "\r\nContent-Length: 1\r\n\r\n", NULL), REQUEST_BAD);
	assert_int_equal(request_error_status(&rd), 500);
}

static void
test_connection(void **state)
{
	(void)state;
	accepted("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	    "GET / 1.0 ka=1 up=0 [Connection|keep-alive] body=\n");
	accepted("GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n",
	    "GET / 1.0 ka=0 up=0 [Connection|Keep-Alive, close] body=\n");
	accepted("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, , CLOSE\r\n\r\n",
	    "GET / 1.1 ka=0 up=0 [Host|h] [Connection|foo, , CLOSE] body=\n");
	accepted("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
	    "GET / 1.1 ka=1 up=0 [Host|h] [Connection|closed] body=\n");
	refused_why("GET / HTTP/1.1\r\nHost: h\r\nConnection: a b\r\n\r\n", 400,
	    HEAD_CONNECTION_INVALID);
}

static void
test_upgrade(void **state)
{
	static const char ws[] = "GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
	char data[sizeof(ws) + 2];
	size_t parsed;

	(void)state;
	/* answered, and the bytes after the head are left alone */
	memcpy(data, ws, sizeof(ws) - 1);
	memcpy(data + sizeof(ws) - 1, "\x81\x85", 2);
	assert_int_equal(request_feed(&rd, data, sizeof(data) - 1, &parsed),
	    REQUEST_UPGRADE);
	assert_int_equal(parsed, sizeof(ws) - 1);
	assert_int_equal(seen.completed, 1);
	assert_true(seen.req.upgrade);
	assert_true(request_upgrade(&rd));
	assert_false(request_keep_alive(&rd));
	/* HTTP/1.0 cannot upgrade (RFC 9110 7.8: its Upgrade is ignored):
	 * kept alive as it asks, and the next request read as HTTP */
	accepted("GET / HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
	    "GET / 1.0 ka=1 up=0 [Connection|keep-alive, Upgrade] "
	    "[Upgrade|websocket] body=\n"
	    "GET /b 1.0 ka=0 up=0 body=\n");
	assert_false(seen.req.upgrade);
	/* an Upgrade without Connection: upgrade is only a field */
	accepted("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n",
	    "GET / 1.1 ka=1 up=0 [Host|h] [Upgrade|h2c] body=\n");
	assert_false(seen.req.upgrade);
	/* CONNECT: authority-form, no body, and a tunnel after it */
	reset();
	assert_int_equal(feed("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nxx",
	    &parsed), REQUEST_UPGRADE);
	assert_string_equal(seen.path, "a:443");
	assert_false(seen.req.upgrade);
	refused_why("CONNECT a:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "\r\nx", 400, HEAD_CONNECT_BODY);
}

/*
 * An upgrade request with a body: the body is the request's, read as
 * HTTP/1.1 framing says, and the switch comes where the request ends
 * (RFC 9110 7.8: a 100 Continue goes before the 101, so the body is
 * sent before it). NGINX and http_parser read it so too; what follows
 * the body is the new protocol's, left alone.
 */
static void
test_upgrade_with_body(void **state)
{
	static const char cl[] = "GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n"
	    "\r\nhello\x81\x85";
	static const char te[] = "GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
	size_t parsed;

	(void)state;
	assert_int_equal(feed(cl, &parsed), REQUEST_UPGRADE);
	assert_int_equal(parsed, sizeof(cl) - 3);
	assert_int_equal(seen.completed, 1);
	assert_string_equal(seen.body, "hello");
	assert_true(seen.req.upgrade);
	/* chunked, the last chunk not yet here: no upgrade, no request */
	reset();
	assert_int_equal(feed(te, &parsed), REQUEST_FED);
	assert_int_equal(parsed, sizeof(te) - 1);
	assert_int_equal(seen.completed, 0);
	assert_true(rd.in_body);
	/* ... until the body ends; the frame after it is left alone */
	assert_int_equal(feed("0\r\n\r\n\x81\x85", &parsed), REQUEST_UPGRADE);
	assert_int_equal(parsed, 5);
	assert_int_equal(seen.completed, 1);
	assert_string_equal(seen.body, "hello");
	assert_true(request_upgrade(&rd));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_everywhere, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_pause, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_issue_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_length, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_transfer_encoding, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_with_body, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
