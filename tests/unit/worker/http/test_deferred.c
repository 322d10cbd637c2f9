/*
 * Unit tests for worker/http/deferred.c: the handle of a deferred response
 * on every path its two owners (the handler, the connection) can take —
 * an answer inside the handler or later, a release, the client leaving
 * before or after, a timeout and a late answer, a cancel callback that
 * lets go from inside itself — each freeing the handle exactly once (the
 * ASan build finds a leak or a double free) and never waking a connection
 * that has gone. Also: the request copied into the handle outlives the
 * connection's buffers, and what the handler set before http_defer moves
 * into the handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/deferred.c"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define LIT(s) s, sizeof(s) - 1

/* The connection's side, as deferred.h asks of it. */
struct fake_conn {
	int answers, drops, timeouts;
	int status;                  /* of the answer taken */
	char body[64];
	bool detach;                 /* detach in the wake, as conn.c does */
};

/* The handler's side. */
struct fake_handler {
	struct http_deferred *d;
	int cancels;
	bool release_in_cancel;
	bool send_in_cancel;
};

static void
wake(void *arg, struct http_deferred *d, enum deferred_event ev)
{
	struct fake_conn *c = arg;
	struct http_response *resp = http_deferred_response(d);

	if (ev == DEFERRED_ANSWER) {
		c->answers++;
		c->status = resp->status;
		snprintf(c->body, sizeof(c->body), "%.*s", (int)resp->body_len,
		    resp->body ? resp->body : "");
		response_discard(resp);  /* what framing would leave */
	} else if (ev == DEFERRED_DROPPED) {
		c->drops++;
	} else {
		c->timeouts++;
	}
	if (c->detach)
		deferred_detach(d);
}

static void
on_cancel(void *arg)
{
	struct fake_handler *h = arg;

	h->cancels++;
	if (h->release_in_cancel)
		http_deferred_release(h->d);
	else if (h->send_in_cancel)
		http_deferred_send(h->d);
}

/* A request whose strings live in buffers the test then scribbles over. */
struct req_fixture {
	char head[128];
	char body[16];
	char client[32];
	struct http_header hdrs[2];
	struct http_request req;
};

static void
req_fixture_init(struct req_fixture *f, struct event_base *base)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->head, "/kv/a?x=1" "Hostexample" "X-Keyvalue");
	strcpy(f->body, "payload");
	strcpy(f->client, "127.0.0.1:5555");
	f->hdrs[0] = (struct http_header){ f->head + 9, 4, f->head + 13, 7 };
	f->hdrs[1] = (struct http_header){ f->head + 20, 5, f->head + 25, 5 };
	f->req.method = "GET";
	f->req.target = f->head;
	f->req.target_len = 9;
	f->req.path = f->head;
	f->req.path_len = 5;
	f->req.query = f->head + 6;
	f->req.query_len = 3;
	f->req.version_major = 1;
	f->req.version_minor = 1;
	f->req.headers = f->hdrs;
	f->req.nheaders = 2;
	f->req.body = f->body;
	f->req.body_len = 7;
	f->req.client = f->client;
	f->req.route_path = "/kv/";
	f->req.base = base;
}

static void
resp_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
}

/* Defer f's request on a fresh response, as a handler would. */
static struct http_deferred *
defer(struct req_fixture *f, struct fake_handler *h)
{
	struct http_response resp;
	struct http_deferred *d;

	resp_init(&resp);
	d = http_defer(&f->req, &resp, on_cancel, h);
	assert_non_null(d);
	assert_ptr_equal(resp.deferred, d);
	h->d = d;
	return d;
}

static void
answer(struct http_deferred *d, const char *body)
{
	http_response_static(http_deferred_response(d), 200, "text/plain",
	    body, strlen(body));
	http_deferred_send(d);
}

static void
test_request_copied(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;
	struct http_request *r;
	size_t len;
	const char *v;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	/* The connection's buffers are reused for the next request. */
	memset(f.head, 'Z', sizeof(f.head) - 1);
	memset(f.body, 'Z', sizeof(f.body) - 1);
	memset(f.client, 'Z', sizeof(f.client) - 1);
	memset(f.hdrs, 0, sizeof(f.hdrs));

	r = http_deferred_request(d);
	assert_string_equal(r->method, "GET");
	assert_int_equal(r->target_len, 9);
	assert_memory_equal(r->target, "/kv/a?x=1", 9);
	assert_memory_equal(r->path, "/kv/a", r->path_len);
	assert_int_equal(r->query_len, 3);
	assert_memory_equal(r->query, "x=1", 3);
	assert_int_equal(r->nheaders, 2);
	v = http_request_header(r, "x-key", &len);
	assert_non_null(v);
	assert_int_equal(len, 5);
	assert_memory_equal(v, "value", 5);
	v = http_request_header(r, "host", &len);
	assert_memory_equal(v, "example", len);
	assert_int_equal(r->body_len, 7);
	assert_memory_equal(r->body, "payload", 7);
	assert_string_equal(r->client, "127.0.0.1:5555");
	assert_string_equal(r->route_path, "/kv/");

	deferred_attach(d, wake, &c, NULL);
	answer(d, "later");
	assert_int_equal(c.answers, 1);
	assert_string_equal(c.body, "later");
}

/* An absolute-form target without a path: the path is "/", not in the
 * target (request.c); it is kept as it is. */
static void
test_absolute_form_path_kept(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;
	struct http_request *r;

	(void)state;
	req_fixture_init(&f, NULL);
	strcpy(f.head, "http://x?q=1");
	f.req.target_len = 12;
	f.req.path = "/";
	f.req.path_len = 1;
	f.req.query = f.head + 9;
	f.req.query_len = 3;
	d = defer(&f, &h);
	memset(f.head, 'Z', sizeof(f.head) - 1);
	r = http_deferred_request(d);
	assert_memory_equal(r->target, "http://x?q=1", 12);
	assert_memory_equal(r->path, "/", 1);
	assert_memory_equal(r->query, "q=1", 3);
	deferred_attach(d, wake, &c, NULL);
	answer(d, "later");
	assert_int_equal(c.answers, 1);
}

static void
test_what_was_set_moves_over(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct http_response resp;
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	resp_init(&resp);
	assert_int_equal(http_response_header(&resp, "X-Early", "1"), 0);
	d = http_defer(&f.req, &resp, NULL, &h);
	assert_non_null(d);
	assert_int_equal(resp.headers.len, 0);
	assert_null(resp.headers.p);
	assert_int_equal(resp.file_fd, -1);
	assert_memory_equal(http_deferred_response(d)->headers.p,
	    "X-Early: 1\r\n", 12);
	/* One handle per response. */
	assert_null(http_defer(&f.req, &resp, NULL, &h));
	/* Nobody attached: the connection would, then detach at once. */
	http_deferred_release(d);
	deferred_detach(d);
}

static void
test_answered_inside_handler(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	answer(d, "now");                /* a cache hit, or threads: 0 */
	assert_int_equal(c.answers, 0);
	deferred_attach(d, wake, &c, NULL);  /* wakes before returning */
	assert_int_equal(c.answers, 1);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.body, "now");
	assert_int_equal(h.cancels, 0);
}

static void
test_released_inside_handler(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	http_deferred_release(d);
	http_deferred_release(d);        /* a second let-go is ignored */
	deferred_attach(d, wake, &c, NULL);
	assert_int_equal(c.drops, 1);
	assert_int_equal(c.answers, 0);
}

static void
test_answer_later(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	assert_int_equal(c.answers + c.drops + c.timeouts, 0);
	assert_false(http_deferred_cancelled(d));
	answer(d, "from a timer");
	assert_int_equal(c.answers, 1);
	assert_string_equal(c.body, "from a timer");
	assert_int_equal(h.cancels, 0);
}

static void
test_release_while_client_waits(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	http_deferred_release(d);
	assert_int_equal(c.drops, 1);
	assert_int_equal(h.cancels, 0);
}

static void
test_client_gone_then_send(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;
	struct http_request *r;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	deferred_cancel(d);              /* the client went away */
	assert_int_equal(h.cancels, 1);
	assert_true(http_deferred_cancelled(d));
	/* The handle, and the request in it, are still the handler's. */
	r = http_deferred_request(d);
	assert_memory_equal(r->body, "payload", 7);
	answer(d, "too late");           /* discarded, freed */
	assert_int_equal(c.answers + c.drops + c.timeouts, 0);
}

static void
test_client_gone_then_release(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	deferred_cancel(d);
	http_deferred_release(d);
	assert_int_equal(h.cancels, 1);
	assert_int_equal(c.answers + c.drops + c.timeouts, 0);
}

static void
test_cancel_lets_go_inside(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { .release_in_cancel = true };
	struct fake_handler h2 = { .send_in_cancel = true };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	deferred_cancel(d);              /* released from the callback */
	assert_int_equal(h.cancels, 1);

	d = defer(&f, &h2);
	deferred_attach(d, wake, &c, NULL);
	deferred_cancel(d);              /* sent (and dropped) from it */
	assert_int_equal(h2.cancels, 1);
	assert_int_equal(c.answers + c.drops + c.timeouts, 0);
}

static void
test_gone_before_attach(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct http_deferred *d;

	(void)state;
	/* The connection could not take it (it closed while the handler
	 * ran): it cancels without ever attaching. */
	req_fixture_init(&f, NULL);
	d = defer(&f, &h);
	deferred_cancel(d);
	assert_int_equal(h.cancels, 1);
	http_deferred_release(d);
}

static void
test_timeout_then_late_send(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct timeval tv = { 0, 20000 };
	struct event_base *base = event_base_new();
	struct http_deferred *d;

	(void)state;
	assert_non_null(base);
	req_fixture_init(&f, base);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, &tv);
	event_base_dispatch(base);       /* returns once the timer has run */
	assert_int_equal(c.timeouts, 1);
	assert_int_equal(h.cancels, 1);  /* told after the 504 */
	assert_true(http_deferred_cancelled(d));
	answer(d, "late");
	assert_int_equal(c.answers, 0);
	event_base_free(base);
}

static void
test_timeout_cancel_releases(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { .release_in_cancel = true };
	struct fake_conn c = { .detach = true };
	struct timeval tv = { 0, 1000 };
	struct event_base *base = event_base_new();

	(void)state;
	req_fixture_init(&f, base);
	deferred_attach(defer(&f, &h), wake, &c, &tv);
	event_base_dispatch(base);
	assert_int_equal(c.timeouts, 1);
	assert_int_equal(h.cancels, 1);
	event_base_free(base);
}

static void
test_answer_stops_the_timer(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct timeval tv = { 0, 1000 };
	struct event_base *base = event_base_new();
	struct http_deferred *d;

	(void)state;
	req_fixture_init(&f, base);
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, &tv);
	answer(d, "in time");
	/* Nothing is left on the loop: the timer went with the handle. */
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(c.answers, 1);
	assert_int_equal(c.timeouts, 0);
	event_base_free(base);
}

static void
test_dropped_bodies_are_freed(void **state)
{
	struct req_fixture f;
	struct fake_handler h = { 0 };
	struct fake_conn c = { .detach = true };
	struct http_deferred *d;
	struct http_stream *s;
	int fd;

	(void)state;
	req_fixture_init(&f, NULL);
	/* A file body answered after the client left: its fd is closed. */
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	deferred_cancel(d);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	http_response_file(http_deferred_response(d), 200, NULL, fd, 0, 0);
	http_deferred_send(d);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	/* A stream: the handler's writes then fail; its end frees it. */
	d = defer(&f, &h);
	deferred_attach(d, wake, &c, NULL);
	s = http_response_stream(http_deferred_response(d), 200, "text/plain");
	assert_non_null(s);
	deferred_cancel(d);
	http_deferred_send(d);
	assert_true(http_stream_closed(s));
	assert_int_equal(http_stream_write(s, LIT("x")), -1);
	http_stream_end(s);
	assert_int_equal(h.cancels, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_copied),
		cmocka_unit_test(test_absolute_form_path_kept),
		cmocka_unit_test(test_what_was_set_moves_over),
		cmocka_unit_test(test_answered_inside_handler),
		cmocka_unit_test(test_released_inside_handler),
		cmocka_unit_test(test_answer_later),
		cmocka_unit_test(test_release_while_client_waits),
		cmocka_unit_test(test_client_gone_then_send),
		cmocka_unit_test(test_client_gone_then_release),
		cmocka_unit_test(test_cancel_lets_go_inside),
		cmocka_unit_test(test_gone_before_attach),
		cmocka_unit_test(test_timeout_then_late_send),
		cmocka_unit_test(test_timeout_cancel_releases),
		cmocka_unit_test(test_answer_stops_the_timer),
		cmocka_unit_test(test_dropped_bodies_are_freed),
	};

	return cmocka_run_group_tests_name("deferred", tests, NULL, NULL);
}
