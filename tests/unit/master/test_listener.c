/*
 * Unit tests for master/listener.c: a TCP address's reuseport group and its
 * steering. Each test opens real sockets on 127.0.0.1 (a port picked free),
 * attaches a program, makes loopback connections and counts what each
 * socket's accept queue received: the kernel's verdict, including how it
 * indexes the group (order of joining; a closed socket's place taken by the
 * last one), which the slot-to-index mapping relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "master/listener.c"

#define NCONN 48

/* A port nobody listens on right now. */
static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
open_group(struct listener *l, unsigned n)
{
	struct listen_addr a;
	char text[64], err[256];

	snprintf(text, sizeof(text), "127.0.0.1:%d", free_port());
	assert_int_equal(config_parse_listen(text, &a, err, sizeof(err)), 0);
	if (listener_open(l, &a, n, 128, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	free(a.text);
}

/* Make NCONN connections; count how many each of fds[0..n-1] received. */
static void
spread(const int *fds, unsigned n, const struct sockaddr_storage *sa,
    socklen_t salen, unsigned *got)
{
	int c[NCONN];

	for (unsigned k = 0; k < n; k++)
		got[k] = 0;
	for (int i = 0; i < NCONN; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(c[i] >= 0);
		assert_int_equal(connect(c[i], (const struct sockaddr *)sa, salen), 0);
	}
	for (unsigned k = 0; k < n; k++) {
		int a;

		if (fds[k] == -1)
			continue;
		while ((a = accept(fds[k], NULL, NULL)) >= 0) {
			got[k]++;
			close(a);
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	}
	for (int i = 0; i < NCONN; i++)
		close(c[i]);
}

static void
test_only_given_slots_get_connections(void **state)
{
	struct listener l;
	unsigned slots[] = { 1, 3 }, got[4];
	char err[256];
	int c;

	(void)state;
	open_group(&l, 4);
	assert_int_equal(listener_steer(&l, slots, 2, false, err, sizeof(err)), 1);
	spread(l.fds, 4, &l.addr.sa, l.addr.salen, got);
	assert_int_equal(got[0], 0);
	assert_int_equal(got[2], 0);
	assert_true(got[1] > 0 && got[3] > 0);
	assert_int_equal(got[1] + got[3], NCONN);

	/* a queued connection shows, and only on its slot */
	assert_false(listener_queued(&l, 1));
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&l.addr.sa, l.addr.salen), 0);
	assert_true(listener_queued(&l, 1) || listener_queued(&l, 3));
	assert_false(listener_queued(&l, 0));
	assert_false(listener_queued(&l, 2));
	assert_false(listener_queued(&l, 9));
	close(c);
	listener_close(&l, false);
}

static void
test_attached_once_unless_forced(void **state)
{
	struct listener l;
	unsigned all[] = { 0, 1 }, one[] = { 1 }, got[2];
	char err[256];

	(void)state;
	open_group(&l, 2);
	assert_int_equal(listener_steer(&l, all, 2, false, err, sizeof(err)), 1);
	assert_int_equal(listener_steer(&l, all, 2, false, err, sizeof(err)), 0);
	assert_int_equal(listener_steer(&l, all, 2, true, err, sizeof(err)), 1);
	assert_int_equal(listener_steer(&l, one, 1, false, err, sizeof(err)), 1);
	spread(l.fds, 2, &l.addr.sa, l.addr.salen, got);
	assert_int_equal(got[0], 0);
	assert_int_equal(got[1], NCONN);
	/* back to both: both get some */
	assert_int_equal(listener_steer(&l, all, 2, false, err, sizeof(err)), 1);
	spread(l.fds, 2, &l.addr.sa, l.addr.salen, got);
	assert_true(got[0] > 0 && got[1] > 0);
	listener_close(&l, false);
}

static void
test_slots_without_a_socket_are_left_out(void **state)
{
	struct listener l;
	unsigned some[] = { 0, 5 }, none[] = { 7 }, got[2];
	char err[256];

	(void)state;
	open_group(&l, 2);
	assert_int_equal(listener_steer(&l, some, 2, false, err, sizeof(err)), 1);
	spread(l.fds, 2, &l.addr.sa, l.addr.salen, got);
	assert_int_equal(got[0], NCONN);
	/* nothing left to steer to: nothing attached, the old program stays */
	assert_int_equal(listener_steer(&l, none, 1, false, err, sizeof(err)), 0);
	spread(l.fds, 2, &l.addr.sa, l.addr.salen, got);
	assert_int_equal(got[0], NCONN);
	listener_close(&l, false);
}

static void
test_shrink_keeps_slot_indices(void **state)
{
	struct listener l;
	unsigned slots[] = { 0, 2 }, got[4];
	char err[256];

	(void)state;
	open_group(&l, 4);
	assert_int_equal(listener_steer(&l, slots, 2, false, err, sizeof(err)), 1);
	/* closing the last socket moves no other one: slot 2 is still index 2 */
	listener_shrink(&l, 3);
	assert_false(l.steer_known);
	assert_int_equal(listener_steer(&l, slots, 2, false, err, sizeof(err)), 1);
	spread(l.fds, 3, &l.addr.sa, l.addr.salen, got);
	assert_int_equal(got[1], 0);
	assert_true(got[0] > 0 && got[2] > 0);
	listener_close(&l, false);
}

static void
test_kernel_moves_the_last_socket_into_a_gap(void **state)
{
	struct listener l;
	unsigned one[] = { 1 }, got[4];
	char err[256];

	(void)state;
	/* Why sockets close last first: close socket 1 of 4 and index 1 is
	 * socket 3 from then on. */
	open_group(&l, 4);
	close(l.fds[1]);
	l.fds[1] = -1;
	assert_int_equal(listener_steer(&l, one, 1, false, err, sizeof(err)), 1);
	spread(l.fds, 4, &l.addr.sa, l.addr.salen, got);
	assert_int_equal(got[3], NCONN);
	assert_int_equal(got[0] + got[2], 0);
	listener_close(&l, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_given_slots_get_connections),
		cmocka_unit_test(test_attached_once_unless_forced),
		cmocka_unit_test(test_slots_without_a_socket_are_left_out),
		cmocka_unit_test(test_shrink_keeps_slot_indices),
		cmocka_unit_test(test_kernel_moves_the_last_socket_into_a_gap),
	};

	return cmocka_run_group_tests_name("listener", tests, NULL, NULL);
}
