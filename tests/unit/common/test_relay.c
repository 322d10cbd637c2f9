/*
 * Unit tests for common/relay.c: what the master accepts to stamp and pass
 * on, and the socket pair (one datagram, one message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/relay.c"

#include <errno.h>
#include <unistd.h>

static size_t
make(char *buf, uint32_t magic, uint8_t version, uint16_t name_len,
    size_t data_len)
{
	struct relay_head h = { .magic = magic, .version = version,
	    .name_len = name_len };

	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 'n', name_len);
	memset(buf + sizeof(h) + name_len, 'd', data_len);
	return sizeof(h) + name_len + data_len;
}

static void
test_valid(void **state)
{
	static char buf[RELAY_MSG_MAX + 16];
	size_t n;

	(void)state;
	n = make(buf, RELAY_MAGIC, RELAY_VERSION, 4, 10);
	assert_true(relay_valid(buf, n));
	assert_true(relay_valid(buf, sizeof(struct relay_head) + 4));
	assert_false(relay_valid(buf, sizeof(struct relay_head) + 3));
	assert_false(relay_valid(buf, 3));
	n = make(buf, RELAY_MAGIC ^ 1, RELAY_VERSION, 4, 10);
	assert_false(relay_valid(buf, n));
	n = make(buf, RELAY_MAGIC, RELAY_VERSION + 1, 4, 10);
	assert_false(relay_valid(buf, n));
	n = make(buf, RELAY_MAGIC, RELAY_VERSION, 0, 10);
	assert_false(relay_valid(buf, n));
	n = make(buf, RELAY_MAGIC, RELAY_VERSION, RELAY_NAME_MAX + 1, 0);
	assert_false(relay_valid(buf, n));
	n = make(buf, RELAY_MAGIC, RELAY_VERSION, RELAY_NAME_MAX, RELAY_DATA_MAX);
	assert_int_equal(n, RELAY_MSG_MAX);
	assert_true(relay_valid(buf, n));
	assert_false(relay_valid(buf, n + 1));
}

static void
test_pair(void **state)
{
	static char big[RELAY_MSG_MAX], back[RELAY_MSG_MAX + 1];
	int fds[2];
	size_t n;

	(void)state;
	assert_int_equal(relay_pair(fds), 0);
	n = make(big, RELAY_MAGIC, RELAY_VERSION, RELAY_NAME_MAX, RELAY_DATA_MAX);
	/* The largest message fits one datagram, and comes back whole. */
	assert_int_equal(send(fds[1], big, n, 0), (ssize_t)n);
	assert_int_equal(send(fds[1], big, 30, 0), 30);
	assert_int_equal(recv(fds[0], back, sizeof(back), 0), (ssize_t)n);
	assert_memory_equal(back, big, n);
	assert_int_equal(recv(fds[0], back, sizeof(back), 0), 30);
	assert_int_equal(recv(fds[0], back, sizeof(back), 0), -1);
	assert_int_equal(errno, EAGAIN);       /* non-blocking */
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_pair),
	};

	return cmocka_run_group_tests_name("relay", tests, NULL, NULL);
}
