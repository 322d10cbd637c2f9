/*
 * Unit tests for worker/http/outq.c: shared bytes counted by references,
 * a queue written with writev through a socket that takes only part of
 * it, what goes in front, and a queue that owns nothing once empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/outq.c"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Read everything the socket has now. */
static size_t
drain(int fd, char *out, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len && (r = read(fd, out + n, len - n)) > 0)
		n += (size_t)r;
	return n;
}

static void
test_refs_and_order(void **state)
{
	struct outq q;
	struct sbuf *a = sbuf_copy("aaa", 3), *b = sbuf_copy("bb", 2);
	struct sbuf *head = sbuf_copy("H:", 2);
	char got[16];
	int sv[2];

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	assert_int_equal(outq_push(&q, a), 0);
	assert_int_equal(outq_push(&q, b), 0);
	assert_int_equal(outq_push(&q, a), 0);
	assert_int_equal(a->refs, 3);        /* ours and the queue's two */
	assert_int_equal(outq_push_front(&q, head), 0);
	assert_int_equal(q.bytes, 10);
	assert_int_equal(outq_write(&q, sv[0]), 10);
	assert_int_equal(q.n, 0);
	assert_null(q.ring);                 /* an empty queue owns nothing */
	assert_int_equal(a->refs, 1);
	assert_int_equal(drain(sv[1], got, sizeof(got)), 10);
	assert_memory_equal(got, "H:aaabbaaa", 10);
	/* A peer that is gone: -1. */
	assert_int_equal(outq_push(&q, b), 0);
	close(sv[1]);
	assert_int_equal(outq_write(&q, sv[0]), -1);
	outq_clear(&q);
	assert_int_equal(b->refs, 1);
	close(sv[0]);
	sbuf_unref(a);
	sbuf_unref(b);
	sbuf_unref(head);
}

static void
test_partial_writes(void **state)
{
	static char big[300000], back[sizeof(big) * 2];
	struct outq q;
	struct sbuf *b;
	size_t got = 0, total = 0;
	int sv[2], small = 4096;
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i % 251);
	memset(&q, 0, sizeof(q));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	b = sbuf_copy(big, sizeof(big));
	assert_int_equal(outq_push(&q, b), 0);
	assert_int_equal(outq_push(&q, b), 0);
	sbuf_unref(b);
	/* The socket takes part of it at a time; the rest waits, in order. */
	while (q.n > 0) {
		n = outq_write(&q, sv[0]);
		assert_true(n >= 0);
		total += (size_t)n;
		assert_int_equal(q.bytes, 2 * sizeof(big) - total);
		got += drain(sv[1], back + got, sizeof(back) - got);
	}
	got += drain(sv[1], back + got, sizeof(back) - got);
	assert_int_equal(total, 2 * sizeof(big));
	assert_int_equal(got, 2 * sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
	assert_memory_equal(back + sizeof(big), big, sizeof(big));
	close(sv[0]);
	close(sv[1]);
}

static void
test_ring_grows(void **state)
{
	struct outq q;
	struct sbuf *b[40];
	char expect[40], got[64];
	int sv[2];

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	for (int i = 0; i < 40; i++) {
		expect[i] = (char)('A' + i % 26);
		b[i] = sbuf_copy(&expect[i], 1);
	}
	/* Wrapped: pushes at the back and the front around a ring. */
	for (int i = 20; i < 40; i++)
		assert_int_equal(outq_push(&q, b[i]), 0);
	for (int i = 19; i >= 0; i--)
		assert_int_equal(outq_push_front(&q, b[i]), 0);
	assert_int_equal(q.n, 40);
	assert_int_equal(outq_write(&q, sv[0]), 40);
	assert_int_equal(drain(sv[1], got, sizeof(got)), 40);
	assert_memory_equal(got, expect, 40);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(b[i]->refs, 1);
		sbuf_unref(b[i]);
	}
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs_and_order),
		cmocka_unit_test(test_partial_writes),
		cmocka_unit_test(test_ring_grows),
	};

	return cmocka_run_group_tests_name("outq", tests, NULL, NULL);
}
