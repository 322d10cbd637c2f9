/*
 * Unit tests for worker/http/request.c: what a connection's request reader
 * makes of bytes — the handler's view of a request (target, path, query,
 * headers, de-chunked body), pipelining and pausing, a head split over
 * reads, and every refusal with its status: a malformed request line, 414,
 * 431 by size and by count, 413 by Content-Length and by counting a
 * chunked body, 501, 505, whitespace in a header name, HTTP/1.1 without
 * Host, Expect (100 Continue, 417, none for 1.0), protocol upgrades.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/request.c"

#define LIT(s) s, sizeof(s) - 1

static struct http_limits limits = {
	.max_request_line = 64,
	.max_header_size = 256,
	.max_headers = 4,
	.max_body_size = 32,
};

/* What the hooks saw. */
static struct {
	int begun, continues, completed;
	bool pause_each;                 /* pause after every request */
	bool fail_continue;
	struct http_request req;         /* the last request's view */
	struct http_header hdrs[4];
	char body[64];                   /* a copy: the view's last request */
	char path[64];
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
	seen.completed++;
	memset(&seen.req, 0, sizeof(seen.req));
	request_view(r, &seen.req, seen.hdrs);
	snprintf(seen.body, sizeof(seen.body), "%.*s", (int)seen.req.body_len,
	    seen.req.body ? seen.req.body : "");
	snprintf(seen.path, sizeof(seen.path), "%.*s", (int)seen.req.path_len,
	    seen.req.path);
	if (seen.pause_each)
		request_pause(r);
}

static const struct request_hooks hooks = {
	.limits = &limits,
	.begin = hook_begin,
	.send_continue = hook_continue,
	.complete = hook_complete,
};

static struct request_reader rd;

static int
setup(void **state)
{
	(void)state;
	memset(&seen, 0, sizeof(seen));
	request_setup(&limits);
	request_init(&rd, &hooks);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	request_release(&rd);
	return 0;
}

/* Feed a whole string; the result, and how far it got in *parsed. */
static enum request_fed
feed(const char *s, size_t *parsed)
{
	size_t n;

	return request_feed(&rd, s, strlen(s), parsed ? parsed : &n);
}

/* Feed s and expect a refusal with status. */
static void
refused(const char *s, int status)
{
	request_release(&rd);
	request_init(&rd, &hooks);
	assert_int_equal(feed(s, NULL), REQUEST_BAD);
	assert_int_equal(request_error_status(&rd), status);
	request_release(&rd);
}

/* ---- what a handler sees ------------------------------------------------ */

static void
test_view(void **state)
{
	(void)state;
	assert_int_equal(feed("GET /a/b%20c?x=1&y HTTP/1.1\r\n"
	    "Host: h\r\nX-Long:  spaced  \r\naccept: */*\r\n\r\n", NULL),
	    REQUEST_FED);
	assert_int_equal(seen.begun, 1);
	assert_int_equal(seen.completed, 1);
	assert_string_equal(seen.req.method, "GET");
	assert_int_equal(seen.req.method_id, HTTP_GET);
	assert_int_equal(seen.req.target_len, strlen("/a/b%20c?x=1&y"));
	assert_memory_equal(seen.req.target, "/a/b%20c?x=1&y",
	    seen.req.target_len);
	assert_string_equal(seen.path, "/a/b%20c");
	assert_int_equal(seen.req.query_len, 5);
	assert_memory_equal(seen.req.query, "x=1&y", 5);
	assert_int_equal(seen.req.version_major, 1);
	assert_int_equal(seen.req.version_minor, 1);
	assert_int_equal(seen.req.nheaders, 3);
	assert_memory_equal(seen.hdrs[1].name, "X-Long", 6);
	/* the parser strips the value's leading whitespace, not its trailing */
	assert_int_equal(seen.hdrs[1].value_len, strlen("spaced  "));
	assert_memory_equal(seen.hdrs[1].value, "spaced  ", 8);
	/* lookups ignore case */
	{
		size_t len = 0;
		const char *v = http_request_header(&seen.req, "Accept", &len);

		assert_non_null(v);
		assert_int_equal(len, 3);
		assert_memory_equal(v, "*/*", 3);
		assert_null(http_request_header(&seen.req, "Accept-X", NULL));
	}
	assert_false(request_is_head(&rd));
	assert_false(request_is_http10(&rd));
	assert_true(request_keep_alive(&rd));
	assert_false(rd.in_message);

	/* no query: path is the target */
	assert_int_equal(feed("HEAD / HTTP/1.0\r\n\r\n", NULL), REQUEST_FED);
	assert_null(seen.req.query);
	assert_string_equal(seen.path, "/");
	assert_true(request_is_head(&rd));
	assert_true(request_is_http10(&rd));
	assert_false(request_keep_alive(&rd));
	assert_int_equal(feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	    NULL), REQUEST_FED);
	assert_true(request_keep_alive(&rd));
}

static void
test_bodies(void **state)
{
	(void)state;
	assert_int_equal(feed("POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 5\r\n\r\nhello", NULL), REQUEST_FED);
	assert_string_equal(seen.body, "hello");
	/* chunked: de-chunked, over several reads */
	assert_int_equal(feed("POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", NULL), REQUEST_FED);
	assert_true(rd.in_message);
	assert_true(rd.in_body);
	assert_int_equal(seen.completed, 1);
	assert_int_equal(feed("2\r\nde\r\n0\r\n\r\n", NULL), REQUEST_FED);
	assert_int_equal(seen.completed, 2);
	assert_string_equal(seen.body, "abcde");
	/* the next request starts with an empty body */
	assert_int_equal(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", NULL),
	    REQUEST_FED);
	assert_int_equal(seen.req.body_len, 0);
}

/* A head split anywhere is the same request. */
static void
test_split_head(void **state)
{
	static const char req[] = "GET /split?q HTTP/1.1\r\nHost: h\r\n"
	    "X-A: 1\r\n\r\n";

	(void)state;
	for (size_t cut = 1; cut < sizeof(req) - 1; cut++) {
		request_release(&rd);
		request_init(&rd, &hooks);
		memset(&seen, 0, sizeof(seen));
		assert_int_equal(request_feed(&rd, req, cut, &(size_t){ 0 }),
		    REQUEST_FED);
		assert_int_equal(seen.completed, 0);
		assert_int_equal(request_feed(&rd, req + cut,
		    sizeof(req) - 1 - cut, &(size_t){ 0 }), REQUEST_FED);
		assert_int_equal(seen.completed, 1);
		assert_string_equal(seen.path, "/split");
		assert_int_equal(seen.req.nheaders, 2);
		assert_memory_equal(seen.hdrs[1].value, "1", 1);
		request_release(&rd);
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

/* ---- refusals ------------------------------------------------------------ */

static void
test_request_line(void **state)
{
	(void)state;
	refused("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400);
	refused("GET /\r\nHost: h\r\n\r\n", 400);
	refused("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 501);
	refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
	refused("GET / HTTP/0.9\r\n\r\n", 400);
	/* a target of max_request_line (64) bytes passes, one more is 414 */
	{
		char line[128], target[66];

		memset(target, 'a', sizeof(target));
		target[0] = '/';
		target[64] = '\0';
		snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n",
		    target);
		request_release(&rd);
		request_init(&rd, &hooks);
		assert_int_equal(feed(line, NULL), REQUEST_FED);
		assert_int_equal(seen.req.target_len, 64);
		request_release(&rd);
		target[64] = 'a';
		target[65] = '\0';
		snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n",
		    target);
		refused(line, 414);
	}
}

static void
test_headers(void **state)
{
	char big[400];

	(void)state;
	refused("GET / HTTP/1.1\r\n\r\n", 400);                 /* no Host */
	refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked"
	    "\r\n\r\n", 400);
	/* more than max_headers (4) */
	refused("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
	    "\r\n", 431);
	/* more than max_header_size (256) of names and values */
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX: %0300d\r\n"
	    "\r\n", 0);
	refused(big, 431);
	/* both framings, or two lengths: ambiguous */
	refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\nab", 400);
}

static void
test_body_limits(void **state)
{
	(void)state;
	/* Content-Length over max_body_size (32): refused at the head */
	refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 33\r\n\r\n", 413);
	/* chunked: counted as it comes */
	request_release(&rd);
	request_init(&rd, &hooks);
	assert_int_equal(feed("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n", NULL),
	    REQUEST_FED);
	assert_int_equal(feed("11\r\n0123456789abcdefg\r\n", NULL), REQUEST_BAD);
	assert_int_equal(request_error_status(&rd), 413);
	refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\n", 400);
}

static void
test_expect(void **state)
{
	(void)state;
	/* a 100 Continue, once the limits are met */
	assert_int_equal(feed("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", NULL),
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
	refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
	    "Content-Length: 99\r\n\r\n", 413);
	assert_int_equal(seen.continues, 1);
	/* any other expectation */
	refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n"
	    "Content-Length: 1\r\n\r\nx", 417);
	/* the connection could not queue the 100 */
	seen.fail_continue = true;
	refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
	    "Content-Length: 1\r\n\r\n", 500);
}

static void
test_upgrade(void **state)
{
	size_t parsed;

	(void)state;
	assert_int_equal(feed("GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85", &parsed),
	    REQUEST_UPGRADE);
	assert_int_equal(seen.completed, 1);
	assert_false(request_keep_alive(&rd));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_pause, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_request_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
	};

	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
