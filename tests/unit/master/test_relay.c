/*
 * Unit tests for master/relay.c on a real event loop, with workers that
 * are the far ends of relay socket pairs: every datagram a worker sends
 * comes back to every worker (the sender too) stamped with the next
 * sequence number, the rest of it untouched; a worker that does not read
 * gets its share queued, then dropped and counted past RELAY_QUEUE while
 * the others go on; an invalid datagram goes nowhere; the bridge of an
 * upgrade passes stamped messages on unchanged, and is let go when the
 * other master is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/relay.c"

#include <sys/socket.h>

static struct master *m;
static struct proc *procs[3];
static int far[3];                   /* the workers' ends */

static void
spin(void)
{
	for (int i = 0; i < 8; i++)
		event_base_loop(m->base, EVLOOP_NONBLOCK);
}

static size_t
datagram(char *buf, const char *name, const char *data, uint32_t token)
{
	struct relay_head h = { .magic = RELAY_MAGIC, .version = RELAY_VERSION,
	    .name_len = (uint16_t)strlen(name), .origin = 42, .token = token };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), name, strlen(name));
	memcpy(buf + sizeof(h) + strlen(name), data, strlen(data));
	return sizeof(h) + strlen(name) + strlen(data);
}

/* The next datagram at fd: its head and its bytes after the head. */
static ssize_t
next(int fd, struct relay_head *h, char *rest, size_t len)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < (ssize_t)sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	memcpy(rest, buf + sizeof(*h), (size_t)n - sizeof(*h));
	rest[(size_t)n - sizeof(*h) < len ? (size_t)n - sizeof(*h) : len - 1] =
	    '\0';
	return n;
}

static int
setup(void **state)
{
	(void)state;
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->base = event_base_new()) == NULL ||
	    (m->stats = stats_create(&m->stats_fd)) == NULL)
		return -1;
	relay_init(m);
	for (unsigned i = 0; i < 3; i++) {
		int fds[2];

		procs[i] = calloc(1, sizeof(*procs[i]));
		procs[i]->slot = i;
		procs[i]->stats_idx = stats_alloc(m->stats, i, 1);
		if (relay_pair(fds) == -1 || relay_attach(m, procs[i], fds[0]) == -1)
			return -1;
		far[i] = fds[1];
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		relay_detach(m, procs[i]);
		close(far[i]);
		free(procs[i]);
	}
	relay_free(m);
	event_base_free(m->base);
	stats_destroy(m->stats);
	close(m->stats_fd);
	free(m);
	return 0;
}

static void
test_stamped_to_everyone(void **state)
{
	char buf[256], rest[256];
	struct relay_head h;
	uint64_t first = m->stats->chan_seq;
	size_t n;

	(void)state;
	/* The region seeds it with the clock: ids never go back after a
	 * restart. */
	assert_true(first > 1700000000ull * 1000000);
	n = datagram(buf, "news", "hello", 1);
	assert_int_equal(send(far[0], buf, n, 0), (ssize_t)n);
	n = datagram(buf, "news", "again", 2);
	assert_int_equal(send(far[0], buf, n, 0), (ssize_t)n);
	n = datagram(buf, "other", "from 2", 1);
	assert_int_equal(send(far[2], buf, n, 0), (ssize_t)n);
	spin();
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(next(far[i], &h, rest, sizeof(rest)),
		    (ssize_t)(sizeof(h) + 9));
		assert_int_equal(h.seq, first + 1);
		assert_int_equal(h.token, 1);
		assert_int_equal(h.origin, 42);
		assert_string_equal(rest, "newshello");
		assert_true(next(far[i], &h, rest, sizeof(rest)) > 0);
		assert_int_equal(h.seq, first + 2);
		assert_string_equal(rest, "newsagain");
		assert_true(next(far[i], &h, rest, sizeof(rest)) > 0);
		assert_int_equal(h.seq, first + 3);
		assert_string_equal(rest, "otherfrom 2");
		assert_int_equal(next(far[i], &h, rest, sizeof(rest)), -1);
	}
	/* Not one of ours: dropped, nothing stamped. */
	assert_int_equal(send(far[1], "{\"v\":1}", 7, 0), 7);
	spin();
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(next(far[i], &h, rest, sizeof(rest)), -1);
	assert_int_equal(m->stats->chan_seq, first + 3);
}

static void
test_slow_worker_queued_then_dropped(void **state)
{
	static char big[RELAY_MSG_MAX];
	char rest[256];
	struct relay_head h;
	size_t n, sent = 0, got[3] = { 0 }, bytes = 0;
	uint64_t dropped;

	(void)state;
	memset(big, 'x', sizeof(big));
	n = datagram(big, "flood", "", 0) + 60000;
	/* Worker 1 reads nothing; 0 and 2 read as it goes. */
	while (bytes < RELAY_QUEUE + (8u << 20)) {
		if (send(far[0], big, n, MSG_DONTWAIT) != (ssize_t)n) {
			spin();
			continue;
		}
		sent++;
		bytes += n;
		spin();
		for (unsigned i = 0; i < 3; i += 2) {
			char sink[RELAY_MSG_MAX];

			while (recv(far[i], sink, sizeof(sink), MSG_DONTWAIT) > 0)
				got[i]++;
		}
	}
	spin();
	for (unsigned i = 0; i < 3; i += 2) {
		char sink[RELAY_MSG_MAX];

		while (recv(far[i], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			got[i]++;
	}
	assert_int_equal(got[0], sent);
	assert_int_equal(got[2], sent);
	/* Worker 1: its socket and RELAY_QUEUE took what they could; the
	 * rest was dropped, counted in its stats entry. */
	dropped = STATS_GET(m->stats->procs[procs[1]->stats_idx].
	    chan_relay_dropped);
	assert_true(dropped > 0);
	assert_true(procs[1]->relay->bytes <= RELAY_QUEUE);
	while (recv(far[1], rest, sizeof(rest), MSG_DONTWAIT | MSG_TRUNC) > 0) {
		got[1]++;
		spin();                  /* the queue follows as room is made */
	}
	assert_int_equal(got[1] + dropped, sent);
	assert_null(procs[1]->relay->q);     /* empty: it holds no memory */
	(void)h;
}

static void
test_bridge(void **state)
{
	char buf[256], rest[256];
	struct relay_head h;
	int fds[2];
	size_t n;
	uint64_t seq;

	(void)state;
	assert_int_equal(relay_pair(fds), 0);
	assert_int_equal(relay_attach_peer(m, fds[0]), 0);
	/* From the other master: already stamped, to our workers as it is,
	 * not back. */
	n = datagram(buf, "b", "theirs", 9);
	memcpy(&h, buf, sizeof(h));
	h.seq = 12345;
	memcpy(buf, &h, sizeof(h));
	seq = m->stats->chan_seq;
	assert_int_equal(send(fds[1], buf, n, 0), (ssize_t)n);
	spin();
	for (unsigned i = 0; i < 3; i++) {
		assert_true(next(far[i], &h, rest, sizeof(rest)) > 0);
		assert_int_equal(h.seq, 12345);
		assert_string_equal(rest, "btheirs");
	}
	assert_int_equal(m->stats->chan_seq, seq);
	assert_int_equal(next(fds[1], &h, rest, sizeof(rest)), -1);
	/* Ours: stamped here, to our workers and to the other master. */
	n = datagram(buf, "b", "ours", 3);
	assert_int_equal(send(far[1], buf, n, 0), (ssize_t)n);
	spin();
	assert_true(next(fds[1], &h, rest, sizeof(rest)) > 0);
	assert_int_equal(h.seq, seq + 1);
	assert_string_equal(rest, "bours");
	for (unsigned i = 0; i < 3; i++)
		assert_true(next(far[i], &h, rest, sizeof(rest)) > 0);
	/* The other master gone: the bridge is let go. */
	close(fds[1]);
	spin();
	n = 0;
	for (struct relay_link *l = TAILQ_FIRST(&m->relay.links); l != NULL;
	    l = TAILQ_NEXT(l, entry))
		n++;
	assert_int_equal(n, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamped_to_everyone),
		cmocka_unit_test(test_slow_worker_queued_then_dropped),
		cmocka_unit_test(test_bridge),
	};

	return cmocka_run_group_tests_name("relay", tests, setup, teardown);
}
