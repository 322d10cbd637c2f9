/*
 * Unit tests for master/activate.c: matching a socket systemd passed to a
 * listen address (IPv4, IPv6, Unix), and taking real sockets on fds 3..
 * as systemd passes them: a TCP socket with SO_REUSEPORT as slot 0's, one
 * without shared by all slots, a Unix socket shared and left to systemd,
 * an unlisted one closed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/activate.c"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

static struct listen_addr
addr(const char *text)
{
	struct listen_addr a;
	char err[256];

	assert_int_equal(config_parse_listen(text, &a, err, sizeof(err)), 0);
	return a;
}

static void
test_same_address(void **state)
{
	struct listen_addr a = addr("127.0.0.1:8080"), b = addr("[::1]:8080"),
	    u = addr("unix:/run/x.sock");
	struct listen_addr c = addr("127.0.0.1:8081"), any = addr("*:8080");

	(void)state;
	assert_true(same_address(&a.sa, a.salen, &a));
	assert_false(same_address(&c.sa, c.salen, &a));
	assert_false(same_address(&any.sa, any.salen, &a));
	assert_true(same_address(&b.sa, b.salen, &b));
	assert_false(same_address(&a.sa, a.salen, &b));
	assert_true(same_address(&u.sa, u.salen, &u));
	free(a.text);
	free(b.text);
	free(u.text);
	free(c.text);
	free(any.text);
}

/* A listening socket bound to a, with SO_REUSEPORT if reuse, on fd. */
static void
listening_on(const struct listen_addr *a, bool reuse, int fd)
{
	int s = socket(a->sa.ss_family, SOCK_STREAM, 0), on = 1;

	assert_true(s >= 0);
	if (reuse)
		assert_int_equal(setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on,
		    sizeof(on)), 0);
	assert_int_equal(bind(s, (const struct sockaddr *)&a->sa, a->salen), 0);
	assert_int_equal(listen(s, 8), 0);
	if (s != fd) {
		assert_int_equal(dup2(s, fd), fd);
		close(s);
	}
}

/* A free TCP port on 127.0.0.1. */
static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(s);
	return port;
}

static void
test_adopt(void **state)
{
	char text[4][64], dir[] = "/tmp/shoal-test-activate.XXXXXX", pid[16];
	struct listen_addr want[3];
	struct master *m;
	struct stat sb;
	char err[512];
	int fl;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(text[0], sizeof(text[0]), "127.0.0.1:%d", free_port());
	snprintf(text[1], sizeof(text[1]), "127.0.0.1:%d", free_port());
	snprintf(text[2], sizeof(text[2]), "unix:%s/http.sock", dir);
	snprintf(text[3], sizeof(text[3]), "127.0.0.1:%d", free_port());
	for (int i = 0; i < 3; i++)
		want[i] = addr(text[i]);
	/* fds 3..6 as systemd passes them; 6 is not in "listen" */
	listening_on(&want[0], true, 3);
	listening_on(&want[1], false, 4);
	listening_on(&want[2], false, 5);
	{
		struct listen_addr stray = addr(text[3]);

		listening_on(&stray, true, 6);
		free(stray.text);
	}
	assert_non_null(m = calloc(1, sizeof(*m)));
	m->cfg.listen = want;
	m->cfg.nlisten = 3;
	assert_int_equal(ltable_init(&m->listeners), 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "4", 1);
	setenv("LISTEN_FDNAMES", "a:b:c:d", 1);
	assert_int_equal(activate_adopt(m, err, sizeof(err)), 3);
	assert_null(getenv("LISTEN_FDS"));
	assert_int_equal(m->listeners.n, 3);
	assert_false(ltable_find(&m->listeners, text[0])->shared);
	assert_true(ltable_find(&m->listeners, text[0])->systemd);
	assert_int_equal(ltable_find(&m->listeners, text[0])->fds[0], 3);
	assert_true(ltable_find(&m->listeners, text[1])->shared);
	assert_true(ltable_find(&m->listeners, text[2])->shared);
	/* non-blocking, close-on-exec; the stray closed */
	fl = fcntl(3, F_GETFL);
	assert_true(fl != -1 && (fl & O_NONBLOCK));
	assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fcntl(6, F_GETFD), -1);
	/* slot 1 of the reuseport socket can be opened beside it */
	assert_int_equal(listener_grow(ltable_find(&m->listeners, text[0]), 2,
	    8, err, sizeof(err)), 0);
	assert_int_equal(ltable_find(&m->listeners, text[0])->nfds, 2);
	assert_int_equal(listener_grow(ltable_find(&m->listeners, text[1]), 2,
	    8, err, sizeof(err)), 0);
	assert_int_equal(ltable_find(&m->listeners, text[1])->nfds, 1);
	assert_int_equal(listener_fd(ltable_find(&m->listeners, text[1]), 1), 4);
	/* systemd's socket file survives the close */
	ltable_free(&m->listeners, true);
	assert_int_equal(stat(want[2].sa.ss_family == AF_UNIX ?
	    ((struct sockaddr_un *)(void *)&want[2].sa)->sun_path : "", &sb), 0);
	unlink(((struct sockaddr_un *)(void *)&want[2].sa)->sun_path);
	rmdir(dir);
	for (int i = 0; i < 3; i++)
		free(want[i].text);
	free(m);
}

static void
test_none_passed(void **state)
{
	struct master *m = calloc(1, sizeof(*m));
	char err[256];

	(void)state;
	assert_non_null(m);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	assert_int_equal(ltable_init(&m->listeners), 0);
	assert_int_equal(activate_adopt(m, err, sizeof(err)), 0);
	assert_int_equal(m->listeners.n, 0);
	ltable_free(&m->listeners, false);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_address),
		cmocka_unit_test(test_adopt),
		cmocka_unit_test(test_none_passed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
