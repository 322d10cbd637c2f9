/*
 * Unit tests for worker/services/chanmsg.c: the server-sent event of a
 * message (its lines), its chunk, the WebSocket frame (each length form),
 * frames made once and shared, and a channel's history within its count
 * and bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/services/chanmsg.c"

static const char *
big_enough(void)
{
	return "01234567890123456789";
}

static void
expect_event(const char *data, size_t len, const char *want)
{
	char out[256];
	size_t n = chanmsg_sse_event(42, data, len, NULL);

	assert_int_equal(n, strlen(want));
	assert_int_equal(chanmsg_sse_event(42, data, len, out), n);
	assert_memory_equal(out, want, n);
}

static void
test_sse_event_lines(void **state)
{
	(void)state;
	expect_event("hi", 2, "id: 42\ndata: hi\n\n");
	expect_event("", 0, "id: 42\ndata: \n\n");
	/* CR, LF and CRLF each end a line; a last line end adds no line. */
	expect_event("a\nb\r\nc\rd", 8, "id: 42\ndata: a\ndata: b\ndata: c\n"
	    "data: d\n\n");
	expect_event("a\n", 2, "id: 42\ndata: a\n\n");
	expect_event("a\n\nb", 4, "id: 42\ndata: a\ndata: \ndata: b\n\n");
	expect_event("\r\n", 2, "id: 42\ndata: \n\n");
}

static void
test_frames(void **state)
{
	struct chanmsg *m;
	struct sbuf *f, *g;
	static char big[70000];

	(void)state;
	m = chanmsg_new(7, false, "hello", 5);
	assert_non_null(m);
	f = chanmsg_frame(m, CHANMSG_SSE_CHUNKED);
	assert_non_null(f);
	assert_int_equal(f->len, strlen("13\r\nid: 7\ndata: hello\n\n\r\n"));
	assert_memory_equal(f->data, "13\r\nid: 7\ndata: hello\n\n\r\n", f->len);
	/* Made once: the same bytes for every subscriber. */
	assert_ptr_equal(chanmsg_frame(m, CHANMSG_SSE_CHUNKED), f);
	g = chanmsg_frame(m, CHANMSG_SSE_RAW);
	assert_memory_equal(g->data, "id: 7\ndata: hello\n\n", g->len);
	g = chanmsg_frame(m, CHANMSG_WS);
	assert_int_equal(g->len, 7);
	assert_int_equal((unsigned char)g->data[0], 0x81);     /* FIN, text */
	assert_int_equal(g->data[1], 5);
	/* A queue keeps its frame after the message forgets it. */
	sbuf_ref(f);
	chanmsg_forget_frames(m);
	assert_null(m->frames[CHANMSG_SSE_CHUNKED]);
	assert_int_equal(f->refs, 1);
	sbuf_unref(f);
	chanmsg_unref(m);
	/* Lengths: 125, 126 (16 bits), 65536 (64 bits); binary. */
	m = chanmsg_new(1, true, big, 125);
	g = chanmsg_frame(m, CHANMSG_WS);
	assert_int_equal((unsigned char)g->data[0], 0x82);
	assert_int_equal(g->data[1], 125);
	assert_int_equal(g->len, 127);
	chanmsg_unref(m);
	m = chanmsg_new(1, true, big, 126);
	g = chanmsg_frame(m, CHANMSG_WS);
	assert_int_equal(g->data[1], 126);
	assert_int_equal((unsigned char)g->data[2], 0);
	assert_int_equal((unsigned char)g->data[3], 126);
	assert_int_equal(g->len, 130);
	chanmsg_unref(m);
	m = chanmsg_new(1, true, big, 65536);
	g = chanmsg_frame(m, CHANMSG_WS);
	assert_int_equal((unsigned char)g->data[1], 127);
	assert_int_equal((unsigned char)g->data[7], 1);        /* 0x10000 */
	assert_int_equal((unsigned char)g->data[8], 0);
	assert_int_equal(g->len, 65546);
	chanmsg_unref(m);
}

static void
test_history_bounds(void **state)
{
	struct chanhist h;
	struct chanmsg *m;

	(void)state;
	memset(&h, 0, sizeof(h));
	/* Count: the newest 3. */
	for (uint64_t id = 1; id <= 10; id++) {
		m = chanmsg_new(id, false, "abcd", 4);
		assert_int_equal(chanhist_push(&h, m, 3, 1000), 0);
		chanmsg_unref(m);
	}
	assert_int_equal(h.n, 3);
	assert_int_equal(h.bytes, 12);
	assert_int_equal(chanhist_at(&h, 0)->id, 8);
	assert_int_equal(chanhist_at(&h, 2)->id, 10);
	/* Bytes: a big one pushes the older out. */
	m = chanmsg_new(11, false, "0123456789", 10);
	assert_int_equal(chanhist_push(&h, m, 3, 14), 0);
	chanmsg_unref(m);
	assert_int_equal(h.n, 2);
	assert_int_equal(chanhist_at(&h, 0)->id, 10);
	/* One bigger than the bound keeps nothing. */
	m = chanmsg_new(12, false, big_enough(), 20);
	assert_int_equal(chanhist_push(&h, m, 3, 14), 0);
	chanmsg_unref(m);
	assert_int_equal(h.n, 0);
	assert_null(h.ring);
	/* max 0: nothing kept; max 1. */
	m = chanmsg_new(13, false, "x", 1);
	assert_int_equal(chanhist_push(&h, m, 0, 100), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(chanhist_push(&h, m, 1, 100), 0);
	assert_int_equal(chanhist_push(&h, m, 1, 100), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(m->refs, 2);
	assert_int_equal(chanhist_drop_oldest(&h), 1);
	assert_int_equal(m->refs, 1);
	assert_int_equal(chanhist_drop_oldest(&h), 0);
	chanmsg_unref(m);
	chanhist_clear(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_event_lines),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_history_bounds),
	};

	return cmocka_run_group_tests_name("chanmsg", tests, NULL, NULL);
}
