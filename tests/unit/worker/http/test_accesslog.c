/*
 * Unit tests for worker/http/accesslog.c: the escaping of the client's
 * text (common/combined: \xHH; json: valid JSON whatever the bytes), the
 * client's address without its port, and a connection's queue: entries
 * logged in order once the output passes their end, a stream's end moving
 * until it ends, what is left logged with the bytes that got out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/accesslog.c"

#include <jansson.h>

#define LIT(s) s, sizeof(s) - 1

static char *
escaped_json(const char *s, size_t n)
{
	static char out[4096];
	struct buf b = { 0 };

	json_escaped(&b, s, n);
	assert_true(b.len < sizeof(out));
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	buf_free(&b);
	return out;
}

static char *
escaped_clf(const char *s, size_t n)
{
	static char out[4096];
	struct buf b = { 0 };

	clf_escaped(&b, s, n);
	assert_true(b.len < sizeof(out));
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	buf_free(&b);
	return out;
}

static void
test_json_escaping(void **state)
{
	/* every byte value, and sequences that are not UTF-8 */
	static const char *const odd[] = {
		"\xc3\xa9", "\xe9", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xe2\x82", "\xf0\x9f\x98\x80", "a\"b\\c\n\x01\x7f",
	};
	char all[256];
	json_error_t jerr;
	json_t *v;

	(void)state;
	assert_string_equal(escaped_json(LIT("plain /path?q=1")),
	    "\"plain /path?q=1\"");
	assert_string_equal(escaped_json(LIT("caf\xc3\xa9")), "\"caf\xc3\xa9\"");
	assert_string_equal(escaped_json(LIT("caf\xe9")), "\"caf\\u00e9\"");
	assert_string_equal(escaped_json(LIT("a\"b\\c\n\x01\x7f")),
	    "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\"");
	/* overlong, surrogate, past U+10FFFF, cut short: byte by byte */
	assert_string_equal(escaped_json(LIT("\xc0\xaf")), "\"\\u00c0\\u00af\"");
	assert_string_equal(escaped_json(LIT("\xed\xa0\x80")),
	    "\"\\u00ed\\u00a0\\u0080\"");
	assert_string_equal(escaped_json(LIT("\xe2\x82")), "\"\\u00e2\\u0082\"");
	assert_string_equal(escaped_json(NULL, 0), "null");
	/* whatever the bytes, the result is JSON that jansson reads */
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	v = json_loads(escaped_json(all, sizeof(all)), JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &jerr);
	assert_non_null(v);
	assert_int_equal(json_string_length(v), 256 + 128);   /* past 0x7f: 2 bytes */
	json_decref(v);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		v = json_loads(escaped_json(odd[i], strlen(odd[i])),
		    JSON_DECODE_ANY, &jerr);
		assert_non_null(v);
		json_decref(v);
	}
}

static void
test_clf_escaping(void **state)
{
	(void)state;
	assert_string_equal(escaped_clf(LIT("/a b?c=d")), "/a b?c=d");
	assert_string_equal(escaped_clf(LIT("/\"x\\\n\x7f\xe9")),
	    "/\\x22x\\x5c\\x0a\\x7f\\xe9");
}

static void
test_host_of(void **state)
{
	char out[64];

	(void)state;
	host_of("127.0.0.1:51234", "0.0.0.0", out, sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	host_of("[::1]:5", "0.0.0.0", out, sizeof(out));
	assert_string_equal(out, "::1");
	host_of("2001:db8::1", "0.0.0.0", out, sizeof(out));
	assert_string_equal(out, "2001:db8::1");
	host_of("203.0.113.7", "0.0.0.0", out, sizeof(out));
	assert_string_equal(out, "203.0.113.7");
	host_of("unix", "0.0.0.0", out, sizeof(out));
	assert_string_equal(out, "0.0.0.0");
	host_of("unix", "unix", out, sizeof(out));
	assert_string_equal(out, "unix");
}

/* ---- the queue ---------------------------------------------------------- */

struct fixture {
	struct event_base *base;
	struct accesslog *al;
	char path[64];
};

static struct fixture *
open_log(int format)
{
	static struct fixture f;
	char err[256];
	int fd;

	snprintf(f.path, sizeof(f.path), "/tmp/shoal-accesslog-XXXXXX");
	fd = mkstemp(f.path);
	assert_true(fd != -1);
	close(fd);
	f.base = event_base_new();
	assert_non_null(f.base);
	f.al = accesslog_open(f.path, format, f.base, err, sizeof(err));
	assert_non_null(f.al);
	return &f;
}

/* Close the log and return its lines (static). */
static char *
close_log(struct fixture *f)
{
	static char text[8192];
	ssize_t n;
	int fd;

	accesslog_close(f->al);
	event_base_free(f->base);
	fd = open(f->path, O_RDONLY);
	assert_true(fd != -1);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	unlink(f->path);
	return text;
}

/* The buffered lines hold s (they are not NUL-terminated). */
static const char *
in_lines(const struct accesslog *al, const char *s)
{
	return al->lines.len == 0 ? NULL : memmem(al->lines.p, al->lines.len, s,
	    strlen(s));
}

static void
request(struct http_request *req, const char *target)
{
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->target = target;
	req->target_len = strlen(target);
	req->version_major = 1;
	req->version_minor = 1;
}

static void
test_queue_in_order_when_written(void **state)
{
	struct fixture *f = open_log(CONFIG_LOG_COMMON);
	struct buf q = { 0 };
	struct http_request a, b, c;
	struct accesslog_entry e = { .client = "10.0.0.1:1", .status = 200,
	    .began = util_now() };
	char *text;

	(void)state;
	/* a pipelined pair in one buffer, then a stream */
	request(&a, "/a");
	request(&b, "/b");
	request(&c, "/c");
	e.req = &a, e.body_at = 100, e.end = 113;
	accesslog_push(f->al, &q, &e);
	e.req = &b, e.body_at = 200, e.end = 200, e.status = 304;
	accesslog_push(f->al, &q, &e);
	e.req = &c, e.body_at = 300, e.end = 300, e.status = 200, e.open = true;
	accesslog_push(f->al, &q, &e);
	accesslog_progress(f->al, &q, 112);      /* /a not all out yet */
	assert_int_equal(f->al->lines.len, 0);
	accesslog_progress(f->al, &q, 250);      /* /a and /b */
	assert_non_null(in_lines(f->al, "\"GET /a HTTP/1.1\" 200 13\n"));
	assert_non_null(in_lines(f->al, "\"GET /b HTTP/1.1\" 304 -\n"));
	assert_null(in_lines(f->al, "/c"));
	accesslog_extend(&q, 400, true);         /* the stream goes on */
	accesslog_progress(f->al, &q, 400);
	assert_null(in_lines(f->al, "/c"));
	accesslog_extend(&q, 450, false);        /* ... and ends */
	accesslog_progress(f->al, &q, 449);
	assert_null(in_lines(f->al, "/c"));
	accesslog_progress(f->al, &q, 450);
	assert_null(q.p);                        /* empty: freed */
	text = close_log(f);
	assert_non_null(strstr(text, "10.0.0.1 - - ["));
	assert_non_null(strstr(text, "\"GET /c HTTP/1.1\" 200 150\n"));
	assert_ptr_equal(strstr(text, "/a") < strstr(text, "/b") &&
	    strstr(text, "/b") < strstr(text, "/c") ? text : NULL, text);
}

static void
test_abandon_logs_what_got_out(void **state)
{
	struct fixture *f = open_log(CONFIG_LOG_JSON);
	struct buf q = { 0 };
	struct http_request a;
	struct accesslog_entry e = { .client = "unix", .status = 200,
	    .began = util_now() - 0.25, .body_at = 50, .end = 90, .open = true };
	json_t *line;
	char *text, *nl;

	(void)state;
	request(&a, "/events");
	e.req = &a;
	accesslog_push(f->al, &q, &e);
	e.req = NULL;                            /* a refused request, no line */
	e.status = 400, e.body_at = 150, e.end = 161, e.open = false;
	accesslog_push(f->al, &q, &e);
	accesslog_abandon(f->al, &q, 70);        /* the client left */
	assert_null(q.p);
	text = close_log(f);
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	line = json_loads(text, 0, NULL);
	assert_non_null(line);
	assert_string_equal(json_string_value(json_object_get(line, "client")),
	    "unix");
	assert_string_equal(json_string_value(json_object_get(line, "target")),
	    "/events");
	assert_int_equal(json_integer_value(json_object_get(line, "bytes")), 20);
	assert_true(json_real_value(json_object_get(line, "duration")) >= 0.25);
	assert_true(json_is_null(json_object_get(line, "referer")));
	json_decref(line);
	line = json_loads(nl + 1, 0, NULL);
	assert_non_null(line);
	assert_true(json_is_null(json_object_get(line, "method")));
	assert_int_equal(json_integer_value(json_object_get(line, "status")), 400);
	assert_int_equal(json_integer_value(json_object_get(line, "bytes")), 0);
	json_decref(line);
}

static void
test_combined_fields(void **state)
{
	struct fixture *f = open_log(CONFIG_LOG_COMBINED);
	struct http_header h[2] = {
		{ LIT("Referer"), LIT("http://r/\"x") },
		{ LIT("user-agent"), LIT("ua 1.0") },
	};
	struct buf q = { 0 };
	struct http_request a;
	struct accesslog_entry e = { .client = "[2001:db8::7]:443", .status = 404,
	    .began = util_now(), .body_at = 10, .end = 19 };
	char *text;

	(void)state;
	request(&a, "/nope");
	a.headers = h;
	a.nheaders = 2;
	e.req = &a;
	accesslog_push(f->al, &q, &e);
	request(&a, "/bare");                    /* no Referer, no User-Agent */
	e.req = &a;
	e.body_at = e.end = 30;
	accesslog_push(f->al, &q, &e);
	accesslog_progress(f->al, &q, 30);
	text = close_log(f);
	assert_non_null(strstr(text, "2001:db8::7 - - ["));
	assert_non_null(strstr(text, "\"GET /nope HTTP/1.1\" 404 9 "
	    "\"http://r/\\x22x\" \"ua 1.0\"\n"));
	assert_non_null(strstr(text, "\"GET /bare HTTP/1.1\" 404 - \"-\" \"-\"\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_clf_escaping),
		cmocka_unit_test(test_host_of),
		cmocka_unit_test(test_queue_in_order_when_written),
		cmocka_unit_test(test_abandon_logs_what_got_out),
		cmocka_unit_test(test_combined_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
