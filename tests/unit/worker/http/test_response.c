/*
 * Unit tests for worker/http/response.c (and the stream handles of
 * stream.c that framing attaches): the bytes of a response as a client
 * receives them — status line, Server and Date, Content-Length or chunked
 * coding, HEAD, 1xx/204/304 without a body, Connection for HTTP/1.0 and on
 * close, file bodies handed over, streams with bytes written before and
 * after framing, the cached head of a 200 and the Date it carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/response.c"

#include <fcntl.h>
#include <stdio.h>

#define LIT(s) s, sizeof(s) - 1

/* Sun, 06 Nov 1994 08:49:37 GMT: RFC 9110's example date. */
#define T0 784111777
#define DATE0 "Sun, 06 Nov 1994 08:49:37 GMT"
#define HEAD200 "HTTP/1.1 200 OK\r\nServer: shoal\r\nDate: " DATE0 "\r\n"

/* What the stream's connection was told. */
struct wakes {
	int more, end, broken;
};

static void
wake(void *arg, enum stream_wake why)
{
	struct wakes *w = arg;

	if (why == STREAM_MORE)
		w->more++;
	else if (why == STREAM_END)
		w->end++;
	else
		w->broken++;
}

static struct response_clock clk;
static struct wakes wakes;

static int
setup(void **state)
{
	(void)state;
	memset(&clk, 0, sizeof(clk));
	memset(&wakes, 0, sizeof(wakes));
	response_clock_set(&clk, T0);
	return 0;
}

static void
resp_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
}

/*
 * Frame resp into out (appended to what is there) for a GET (or HEAD) from
 * an HTTP/1.1 (or 1.0) client, with Connection: close when close; out is
 * NUL-terminated for the string asserts.
 */
static struct response_framing
frame(struct buf *out, struct http_response *resp, bool head_only,
    bool http10, bool close)
{
	struct response_framing f = {
		.head_only = head_only, .http10 = http10, .close = close,
		.wake = wake, .wake_arg = &wakes,
	};

	assert_int_equal(response_frame(out, &clk, resp, &f), 0);
	assert_int_equal(buf_reserve(out, 1), 0);
	out->p[out->len] = '\0';
	return f;
}

/* A new fd on /dev/null, to see a file body handed over or closed. */
static int
file_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static bool
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* ---- the status line, Server and Date ---------------------------------- */

static void
test_status_line(void **state)
{
	struct http_response resp;
	struct buf out = { 0 };

	(void)state;
	resp_init(&resp);
	http_response_static(&resp, 404, "text/plain", LIT("Not Found"));
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p,
	    "HTTP/1.1 404 Not Found\r\n"
	    "Server: shoal\r\n"
	    "Date: " DATE0 "\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 9\r\n"
	    "\r\n"
	    "Not Found");
	buf_free(&out);

	/* A status without a known reason keeps the space before it. */
	resp_init(&resp);
	http_response_static(&resp, 299, NULL, LIT("x"));
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p,
	    "HTTP/1.1 299 \r\nServer: shoal\r\nDate: " DATE0 "\r\n"
	    "Content-Length: 1\r\n\r\nx");
	buf_free(&out);

	/* The handler's header lines, after ours and before the blank line. */
	resp_init(&resp);
	http_response_static(&resp, 201, "application/json", LIT("{}"));
	assert_int_equal(http_response_header(&resp, "Location", "/a/1"), 0);
	assert_int_equal(http_response_header(&resp, "ETag", "\"x\""), 0);
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p,
	    "HTTP/1.1 201 Created\r\nServer: shoal\r\nDate: " DATE0 "\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n"
	    "Location: /a/1\r\nETag: \"x\"\r\n\r\n{}");
	/* framing freed the response's buffers */
	assert_null(resp.headers.p);
	buf_free(&out);
}

/* The head of a 200 is the cached one, byte for byte the same as built. */
static void
test_cached_200_head(void **state)
{
	struct http_response resp;
	struct buf out = { 0 };

	(void)state;
	assert_int_equal(clk.head200_len, sizeof(HEAD200) - 1);
	assert_memory_equal(clk.head200, HEAD200, clk.head200_len);
	resp_init(&resp);
	http_response_static(&resp, 200, "text/plain", LIT("Hello, World!"));
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p, HEAD200
	    "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
	    "Hello, World!");
	buf_free(&out);

	/* Within the same second nothing is formatted again... */
	memcpy(clk.date, "XXX", 3);
	response_clock_set(&clk, T0);
	assert_memory_equal(clk.date, "XXX", 3);
	/* ...the next second is, Date line and cached head alike. */
	response_clock_set(&clk, T0 + 3600);
	assert_string_equal(clk.date, "Sun, 06 Nov 1994 09:49:37 GMT");
	assert_int_equal(clk.date_len, HTTP_DATE_LEN);
	assert_memory_equal(clk.head200, "HTTP/1.1 200 OK\r\nServer: shoal\r\n"
	    "Date: Sun, 06 Nov 1994 09:49:37 GMT\r\n", clk.head200_len);
	resp_init(&resp);
	http_response_static(&resp, 500, NULL, NULL, 0);
	frame(&out, &resp, false, false, false);
	assert_non_null(strstr(out.p,
	    "\r\nDate: Sun, 06 Nov 1994 09:49:37 GMT\r\n"));
	buf_free(&out);

	/* The epoch itself is a second like any other. */
	memset(&clk, 0, sizeof(clk));
	response_clock_set(&clk, 0);
	assert_string_equal(clk.date, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Responses to pipelined requests pile up in one buffer, in order. */
static void
test_pipelined_batch(void **state)
{
	struct http_response resp;
	struct buf out = { 0 };

	(void)state;
	for (int i = 0; i < 3; i++) {
		resp_init(&resp);
		http_response_static(&resp, 200, NULL, "abc" + i, 3 - (size_t)i);
		frame(&out, &resp, false, false, false);
	}
	assert_string_equal(out.p,
	    HEAD200 "Content-Length: 3\r\n\r\nabc"
	    HEAD200 "Content-Length: 2\r\n\r\nbc"
	    HEAD200 "Content-Length: 1\r\n\r\nc");
	buf_free(&out);
}

/* ---- bodies: Content-Length, HEAD, no body ---------------------------- */

static void
test_content_length(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct buf out = { 0 };
	int fd;

	(void)state;
	/* an empty body still says its length */
	resp_init(&resp);
	http_response_static(&resp, 200, NULL, NULL, 0);
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p, HEAD200 "Content-Length: 0\r\n\r\n");
	buf_free(&out);

	/* body_buf, filled by the handler */
	resp_init(&resp);
	assert_int_equal(buf_printf(&resp.body_buf, "n=%d", 42), 0);
	http_response_buf(&resp, 200, "text/plain");
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p, HEAD200
	    "Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nn=42");
	assert_null(resp.body_buf.p);
	buf_free(&out);

	/* a file: its length, its fd handed over, no bytes of it in out */
	fd = file_fd();
	resp_init(&resp);
	http_response_file(&resp, 206, "text/html", fd, 100, 1234567890123LL);
	f = frame(&out, &resp, false, false, false);
	assert_string_equal(out.p,
	    "HTTP/1.1 206 Partial Content\r\nServer: shoal\r\nDate: " DATE0
	    "\r\nContent-Type: text/html\r\nContent-Length: 1234567890123\r\n"
	    "\r\n");
	assert_int_equal(f.file_fd, fd);
	assert_int_equal(f.file_offset, 100);
	assert_int_equal(f.file_len, 1234567890123LL);
	assert_int_equal(resp.file_fd, -1);
	assert_null(f.stream);
	assert_true(fd_open(fd));
	close(fd);
	buf_free(&out);

	/* JSON, serialised by jansson */
	resp_init(&resp);
	{
		json_t *j = json_pack("{s:i}", "a", 1);

		http_response_json(&resp, 200, j);
		json_decref(j);
	}
	frame(&out, &resp, false, false, false);
	assert_string_equal(out.p, HEAD200
	    "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n"
	    "{\"a\":1}");
	buf_free(&out);
}

/* A HEAD gets the GET's head, Content-Length included, and no body. */
static void
test_head_keeps_headers_drops_body(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct buf get = { 0 }, head = { 0 };
	int fd;

	(void)state;
	resp_init(&resp);
	http_response_static(&resp, 200, "text/plain", LIT("Hello, World!"));
	http_response_header(&resp, "X-A", "1");
	frame(&get, &resp, false, false, false);
	resp_init(&resp);
	http_response_static(&resp, 200, "text/plain", LIT("Hello, World!"));
	http_response_header(&resp, "X-A", "1");
	frame(&head, &resp, true, false, false);
	assert_int_equal(head.len, get.len - 13);
	assert_memory_equal(head.p, get.p, head.len);
	assert_string_equal(head.p, HEAD200 "Content-Type: text/plain\r\n"
	    "Content-Length: 13\r\nX-A: 1\r\n\r\n");
	buf_free(&get);
	buf_free(&head);

	/* A file of a HEAD is not sent: closed, its length still told. */
	fd = file_fd();
	resp_init(&resp);
	http_response_file(&resp, 200, NULL, fd, 0, 5000);
	f = frame(&head, &resp, true, false, false);
	assert_string_equal(head.p, HEAD200 "Content-Length: 5000\r\n\r\n");
	assert_int_equal(f.file_fd, -1);
	assert_false(fd_open(fd));
	buf_free(&head);

	/* An error to a HEAD: the same, no body. */
	resp_init(&resp);
	http_response_static(&resp, 404, "text/plain", LIT("Not Found"));
	frame(&head, &resp, true, false, true);
	assert_string_equal(head.p, "HTTP/1.1 404 Not Found\r\nServer: shoal\r\n"
	    "Date: " DATE0 "\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 9\r\nConnection: close\r\n\r\n");
	buf_free(&head);
}

/* 1xx, 204 and 304 have no body and no Content-Length. */
static void
test_no_body_statuses(void **state)
{
	static const int statuses[] = { 204, 304, 100 };
	struct http_response resp;
	struct response_framing f;
	struct buf out = { 0 };
	char want[256];
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		resp_init(&resp);
		/* even if the handler gave one */
		http_response_static(&resp, statuses[i], "text/plain",
		    LIT("should not be sent"));
		frame(&out, &resp, false, false, false);
		snprintf(want, sizeof(want), "HTTP/1.1 %d %s\r\nServer: shoal\r\n"
		    "Date: " DATE0 "\r\nContent-Type: text/plain\r\n\r\n",
		    statuses[i], http_status_reason(statuses[i]));
		assert_string_equal(out.p, want);
		buf_free(&out);
	}

	/* a 304 for a file (static's conditional GET): the file is closed */
	fd = file_fd();
	resp_init(&resp);
	http_response_file(&resp, 304, NULL, fd, 0, 10);
	f = frame(&out, &resp, false, false, false);
	assert_int_equal(f.file_fd, -1);
	assert_false(fd_open(fd));
	assert_null(strstr(out.p, "Content-Length"));
	buf_free(&out);
}

/* ---- Connection -------------------------------------------------------- */

static void
test_connection_header(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct buf out = { 0 };

	(void)state;
	/* HTTP/1.1 keep-alive is the default: nothing said */
	resp_init(&resp);
	http_response_static(&resp, 200, NULL, LIT("x"));
	f = frame(&out, &resp, false, false, false);
	assert_null(strstr(out.p, "Connection"));
	assert_false(f.close);
	buf_free(&out);

	/* HTTP/1.0 kept open: said explicitly */
	resp_init(&resp);
	http_response_static(&resp, 200, NULL, LIT("x"));
	f = frame(&out, &resp, false, true, false);
	assert_string_equal(out.p, HEAD200
	    "Content-Length: 1\r\nConnection: keep-alive\r\n\r\nx");
	assert_false(f.close);
	buf_free(&out);

	/* the connection closes after it (1.0 or 1.1) */
	resp_init(&resp);
	http_response_static(&resp, 200, NULL, LIT("x"));
	f = frame(&out, &resp, false, true, true);
	assert_string_equal(out.p, HEAD200
	    "Content-Length: 1\r\nConnection: close\r\n\r\nx");
	assert_true(f.close);
	buf_free(&out);

	/* the handler asks for a close: the connection is told to close */
	resp_init(&resp);
	http_response_static(&resp, 503, NULL, LIT("x"));
	resp.close = true;
	f = frame(&out, &resp, false, false, false);
	assert_non_null(strstr(out.p, "\r\nConnection: close\r\n"));
	assert_true(f.close);
	buf_free(&out);
}

/* ---- streams ----------------------------------------------------------- */

/* HTTP/1.1: chunked; bytes written inside the handler come right after
 * the head; later ones wake the connection; the end terminates. */
static void
test_stream_chunked(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct http_stream *s;
	struct buf out = { 0 };

	(void)state;
	resp_init(&resp);
	s = http_response_stream(&resp, 200, "text/event-stream");
	assert_non_null(s);
	http_response_header(&resp, "Cache-Control", "no-cache");
	/* before framing: kept in the handle, nobody woken */
	assert_int_equal(http_stream_write(s, LIT("early")), 0);
	assert_int_equal(http_stream_write(s, LIT("")), 0);
	assert_int_equal(http_stream_write(s, LIT("!")), 0);
	assert_false(http_stream_closed(s));
	f = frame(&out, &resp, false, false, false);
	assert_ptr_equal(f.stream, s);
	assert_false(f.close);
	assert_string_equal(out.p, HEAD200
	    "Content-Type: text/event-stream\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Cache-Control: no-cache\r\n\r\n"
	    "6\r\nearly!\r\n");
	assert_int_equal(wakes.more, 0);

	out.len = 0;
	assert_int_equal(http_stream_write(s, LIT("0123456789abcdefX")), 0);
	assert_int_equal(wakes.more, 1);
	assert_int_equal(out.len, 4 + 17 + 2);
	assert_memory_equal(out.p, "11\r\n0123456789abcdefX\r\n", out.len);
	http_stream_end(s);
	assert_int_equal(wakes.end, 1);
	assert_int_equal(out.len, 23 + 5);
	assert_memory_equal(out.p + 23, "0\r\n\r\n", 5);
	buf_free(&out);
}

/* A stream that ended inside its handler is framed whole and freed. */
static void
test_stream_ended_before_framing(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct http_stream *s;
	struct buf out = { 0 };

	(void)state;
	resp_init(&resp);
	s = http_response_stream(&resp, 200, "application/json");
	assert_int_equal(http_stream_write(s, LIT("{}")), 0);
	http_stream_end(s);
	f = frame(&out, &resp, false, false, false);
	assert_null(f.stream);
	assert_string_equal(out.p, HEAD200
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "2\r\n{}\r\n0\r\n\r\n");
	assert_int_equal(wakes.more + wakes.end, 0);
	buf_free(&out);
}

/* HTTP/1.0 knows no chunks: raw bytes, and the close ends the body. */
static void
test_stream_http10(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct http_stream *s;
	struct buf out = { 0 };

	(void)state;
	resp_init(&resp);
	s = http_response_stream(&resp, 200, NULL);
	http_stream_write(s, LIT("a"));
	f = frame(&out, &resp, false, true, false);
	assert_true(f.close);
	assert_string_equal(out.p, HEAD200 "Connection: close\r\n\r\na");
	out.len = 0;
	http_stream_write(s, LIT("bc"));
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.p, "bc", 2);
	http_stream_end(s);
	assert_int_equal(out.len, 2);        /* no terminating chunk */
	assert_int_equal(wakes.end, 1);
	buf_free(&out);
}

/* A HEAD of a stream: the head (chunked, as a GET would be), no bytes. */
static void
test_stream_head(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct http_stream *s;
	struct buf out = { 0 };
	size_t len;

	(void)state;
	resp_init(&resp);
	s = http_response_stream(&resp, 200, NULL);
	http_stream_write(s, LIT("early"));
	f = frame(&out, &resp, true, false, false);
	assert_ptr_equal(f.stream, s);
	assert_false(f.close);
	assert_string_equal(out.p, HEAD200
	    "Transfer-Encoding: chunked\r\n\r\n");
	len = out.len;
	assert_int_equal(http_stream_write(s, LIT("later")), 0);
	http_stream_end(s);
	assert_int_equal(out.len, len);
	assert_int_equal(wakes.end, 1);
	buf_free(&out);
}

/* The client went away: writes fail, closed says so, the end frees. */
static void
test_stream_detached(void **state)
{
	struct http_response resp;
	struct response_framing f;
	struct http_stream *s;
	struct buf out = { 0 };

	(void)state;
	resp_init(&resp);
	s = http_response_stream(&resp, 200, NULL);
	f = frame(&out, &resp, false, false, false);
	assert_ptr_equal(f.stream, s);
	stream_detach(s);
	assert_true(http_stream_closed(s));
	assert_int_equal(http_stream_write(s, LIT("x")), -1);
	http_stream_end(s);
	assert_int_equal(wakes.more + wakes.end + wakes.broken, 0);
	buf_free(&out);
}

static void
test_continue_and_reasons(void **state)
{
	struct buf out = { 0 };

	(void)state;
	assert_int_equal(response_continue(&out), 0);
	assert_int_equal(out.len, 25);
	assert_memory_equal(out.p, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	buf_free(&out);
	assert_string_equal(http_status_reason(413), "Content Too Large");
	assert_string_equal(http_status_reason(505),
	    "HTTP Version Not Supported");
	assert_string_equal(http_status_reason(299), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_status_line, setup),
		cmocka_unit_test_setup(test_cached_200_head, setup),
		cmocka_unit_test_setup(test_pipelined_batch, setup),
		cmocka_unit_test_setup(test_content_length, setup),
		cmocka_unit_test_setup(test_head_keeps_headers_drops_body, setup),
		cmocka_unit_test_setup(test_no_body_statuses, setup),
		cmocka_unit_test_setup(test_connection_header, setup),
		cmocka_unit_test_setup(test_stream_chunked, setup),
		cmocka_unit_test_setup(test_stream_ended_before_framing, setup),
		cmocka_unit_test_setup(test_stream_http10, setup),
		cmocka_unit_test_setup(test_stream_head, setup),
		cmocka_unit_test_setup(test_stream_detached, setup),
		cmocka_unit_test_setup(test_continue_and_reasons, setup),
	};

	return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
