/*
 * Unit tests for common/ipc.c: message encoding, decoding and transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/ipc.c"

static void
test_encode_decode_roundtrip(void **state)
{
	char buf[IPC_MAX_MSG], err[128];
	struct ipc_msg msg;
	json_t *extra = json_pack("{s:i}", "generation", 7);
	int n;

	(void)state;
	for (int t = 0; t < IPC_MSG__COUNT; t++) {
		n = ipc_encode(buf, sizeof(buf), (enum ipc_type)t, extra);
		assert_true(n > 0);
		assert_int_equal(ipc_decode(buf, (size_t)n, &msg, err,
		    sizeof(err)), 0);
		assert_int_equal(msg.type, t);
		assert_int_equal(json_integer_value(json_object_get(msg.body,
		    "generation")), 7);
		assert_int_equal(json_integer_value(json_object_get(msg.body,
		    "v")), IPC_VERSION);
		ipc_msg_free(&msg);
	}
	/* extra is not stolen */
	assert_int_equal(extra->refcount, 1);
	json_decref(extra);
}

static void
test_encode_wire_format(void **state)
{
	char buf[IPC_MAX_MSG];
	int n;

	(void)state;
	n = ipc_encode(buf, sizeof(buf), IPC_MSG_READY, NULL);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"v\":1,\"type\":\"ready\"}");
}

static void
test_encode_too_small(void **state)
{
	char buf[8];

	(void)state;
	errno = 0;
	assert_int_equal(ipc_encode(buf, sizeof(buf), IPC_MSG_DRAIN, NULL), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(ipc_encode(buf, sizeof(buf), IPC_MSG__COUNT, NULL), -1);
}

static void
check_decode_error(const char *text, const char *expect)
{
	struct ipc_msg msg;
	char err[128];

	assert_int_equal(ipc_decode(text, strlen(text), &msg, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, expect));
	assert_null(msg.body);
}

static void
test_decode_errors(void **state)
{
	(void)state;
	check_decode_error("not json", "not JSON");
	check_decode_error("{\"type\":\"ready\"}", "version");
	check_decode_error("{\"v\":2,\"type\":\"ready\"}", "version");
	check_decode_error("{\"v\":1}", "without a \"type\"");
	check_decode_error("{\"v\":1,\"type\":\"explode\"}",
	    "unknown message type \"explode\"");
	check_decode_error("{\"v\":1,\"type\":\"ready\",\"type\":\"drain\"}",
	    "not JSON");
}

/* One send is one recv: SOCK_SEQPACKET keeps the boundaries. */
static void
test_transport_boundaries_and_eof(void **state)
{
	struct ipc_msg msg;
	int fds[2];

	(void)state;
	assert_int_equal(ipc_pair(fds), 0);
	assert_int_equal(ipc_send(fds[1], IPC_MSG_READY, NULL), 0);
	assert_int_equal(ipc_send(fds[1], IPC_MSG_DRAIN, NULL), 0);
	assert_int_equal(send(fds[1], "garbage", 7, 0), 7);
	assert_int_equal(ipc_recv(fds[0], &msg), 1);
	assert_int_equal(msg.type, IPC_MSG_READY);
	ipc_msg_free(&msg);
	assert_int_equal(ipc_recv(fds[0], &msg), 1);
	assert_int_equal(msg.type, IPC_MSG_DRAIN);
	ipc_msg_free(&msg);
	assert_int_equal(ipc_recv(fds[0], &msg), -1);
	assert_int_equal(errno, EBADMSG);
	/* non-blocking: nothing queued is EAGAIN, not a hang */
	assert_int_equal(ipc_recv(fds[0], &msg), -1);
	assert_int_equal(errno, EAGAIN);
	close(fds[1]);
	assert_int_equal(ipc_recv(fds[0], &msg), 0);
	/* a dead peer is an error, not a SIGPIPE */
	assert_int_equal(ipc_send(fds[0], IPC_MSG_STOP, NULL), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[0]);
}

static void
test_pair_flags(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(ipc_pair(fds), 0);
	for (int i = 0; i < 2; i++) {
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		assert_true(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
	}
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode_roundtrip),
		cmocka_unit_test(test_encode_wire_format),
		cmocka_unit_test(test_encode_too_small),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_transport_boundaries_and_eof),
		cmocka_unit_test(test_pair_flags),
	};

	return cmocka_run_group_tests_name("ipc", tests, NULL, NULL);
}
