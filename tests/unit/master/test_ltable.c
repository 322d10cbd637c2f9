/*
 * Unit tests for master/ltable.c: the bounded table of listen addresses.
 * Most cases fill the table with entries that own no socket (the planning
 * and bookkeeping look at names and generations only); the bound on
 * opening is checked with real Unix-domain sockets in a temp dir, and the
 * worker's share with pipes standing in for sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/ltable.c"

/* A listen address by name only (planning compares names). */
static struct listen_addr
addr(char prefix, int i)
{
	struct listen_addr a;
	char text[32];

	memset(&a, 0, sizeof(a));
	snprintf(text, sizeof(text), "127.0.0.%c:%d", prefix == 'a' ? '1' : '2',
	    8000 + i);
	a.text = strdup(text);
	a.sa.ss_family = AF_INET;
	a.mode = a.uid = a.gid = -1;
	return a;
}

/* Append an entry without sockets, as if opened. */
static void
put(struct ltable *t, char prefix, int i)
{
	struct listener *l = &t->v[t->n++];

	memset(l, 0, sizeof(*l));
	l->addr = addr(prefix, i);
	for (unsigned k = 0; k < CONFIG_MAX_WORKERS; k++)
		l->fds[k] = -1;
}

static struct listen_addr *
list(char prefix, int from, int to)
{
	struct listen_addr *v = calloc((size_t)(to - from) + 1, sizeof(*v));

	for (int i = from; i < to; i++)
		v[i - from] = addr(prefix, i);
	return v;
}

static void
list_free(struct listen_addr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

static void
test_plan_counts_kept_added_held(void **state)
{
	struct ltable t;
	struct ltable_plan p;
	struct listen_addr *want;
	char err[512] = "";

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	for (int i = 0; i < 10; i++)
		put(&t, 'a', i);
	/* a5..a9 kept, a0..a4 held, b0..b2 added */
	want = calloc(8, sizeof(*want));
	for (int i = 0; i < 5; i++)
		want[i] = addr('a', 5 + i);
	for (int i = 0; i < 3; i++)
		want[5 + i] = addr('b', i);
	assert_int_equal(ltable_plan(&t, want, 8, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p.kept, 5);
	assert_int_equal(p.held, 5);
	assert_int_equal(p.added, 3);
	assert_int_equal(p.total, 13);
	assert_string_equal(err, "");
	list_free(want, 8);
	ltable_free(&t, false);
}

static void
test_plan_40_to_40_others_is_refused(void **state)
{
	struct ltable t;
	struct ltable_plan p;
	struct listen_addr *want = list('b', 0, 40);
	char err[512];

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	for (int i = 0; i < 40; i++)
		put(&t, 'a', i);
	assert_int_equal(ltable_plan(&t, want, 40, 7, &p, err, sizeof(err)), -1);
	assert_int_equal(p.total, 80);
	assert_int_equal(p.added, 40);
	assert_int_equal(p.held, 40);
	assert_int_equal(p.kept, 0);
	assert_non_null(strstr(err, "80 listen addresses"));
	assert_non_null(strstr(err, "limit of 64"));
	assert_non_null(strstr(err, "40 removed but still held by generation 7"));
	/* Planning changes nothing. */
	assert_int_equal(t.n, 40);
	for (size_t i = 0; i < t.n; i++)
		assert_int_equal(t.v[i].until_gen, 0);
	list_free(want, 40);
	ltable_free(&t, false);
}

static void
test_plan_boundary(void **state)
{
	struct ltable t;
	struct ltable_plan p;
	struct listen_addr *at = list('b', 0, 24), *over = list('b', 0, 25);
	char err[512];

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	for (int i = 0; i < 40; i++)
		put(&t, 'a', i);
	/* 40 held + 24 new = 64: exactly the limit. */
	assert_int_equal(ltable_plan(&t, at, 24, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p.total, LTABLE_MAX);
	/* One more is one too many. */
	assert_int_equal(ltable_plan(&t, over, 25, 1, &p, err, sizeof(err)), -1);
	assert_int_equal(p.total, LTABLE_MAX + 1);
	list_free(at, 24);
	list_free(over, 25);
	ltable_free(&t, false);
}

static void
test_plan_counts_earlier_removals_and_duplicates(void **state)
{
	struct ltable t;
	struct ltable_plan p;
	struct listen_addr want[3];
	char err[512];

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	put(&t, 'a', 0);
	put(&t, 'a', 1);
	t.v[1].until_gen = 2;        /* removed before: held, even if listed */
	want[0] = addr('a', 1);
	want[1] = addr('b', 0);
	want[2] = addr('b', 0);      /* listed twice: opened once */
	assert_int_equal(ltable_plan(&t, want, 3, 2, &p, err, sizeof(err)), 0);
	assert_int_equal(p.kept, 0);
	assert_int_equal(p.held, 2);
	assert_int_equal(p.added, 1);
	assert_int_equal(p.total, 3);
	for (int i = 0; i < 3; i++)
		free(want[i].text);
	ltable_free(&t, false);
}

static void
test_retire_serves_unused(void **state)
{
	struct ltable t;
	struct listen_addr *want = list('a', 1, 2);    /* keep a1 only */

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	put(&t, 'a', 0);
	put(&t, 'a', 1);
	ltable_retire_missing(&t, want, 1, 3);
	assert_int_equal(t.v[0].until_gen, 3);
	assert_int_equal(t.v[1].until_gen, 0);
	/* The removed address serves generations before 3 only. */
	assert_true(ltable_serves(&t.v[0], 2));
	assert_false(ltable_serves(&t.v[0], 3));
	assert_true(ltable_serves(&t.v[1], 3));
	/* It is unused once the oldest live worker is of generation 3. */
	assert_false(ltable_unused(&t.v[0], 2));
	assert_true(ltable_unused(&t.v[0], 3));
	assert_true(ltable_unused(&t.v[0], UINT_MAX));
	/* A kept address is never unused. */
	assert_false(ltable_unused(&t.v[1], UINT_MAX));
	ltable_unretire(&t);
	assert_int_equal(t.v[0].until_gen, 0);
	assert_false(ltable_unused(&t.v[0], UINT_MAX));
	list_free(want, 1);
	ltable_free(&t, false);
}

static void
test_remove_keeps_order_and_drop_newest(void **state)
{
	struct ltable t;

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	for (int i = 0; i < 5; i++)
		put(&t, 'a', i);
	ltable_remove(&t, 1);
	assert_int_equal(t.n, 4);
	assert_string_equal(t.v[0].addr.text, "127.0.0.1:8000");
	assert_string_equal(t.v[1].addr.text, "127.0.0.1:8002");
	assert_string_equal(t.v[3].addr.text, "127.0.0.1:8004");
	assert_null(t.v[4].addr.text);
	assert_non_null(ltable_find(&t, "127.0.0.1:8003"));
	assert_null(ltable_find(&t, "127.0.0.1:8001"));
	ltable_remove(&t, 9);        /* out of range: nothing */
	assert_int_equal(t.n, 4);
	ltable_drop_newest(&t, 2);
	assert_int_equal(t.n, 2);
	assert_null(ltable_find(&t, "127.0.0.1:8003"));
	ltable_drop_newest(&t, 9);   /* more than there are: empties it */
	assert_int_equal(t.n, 0);
	ltable_free(&t, false);
}

static struct listen_addr
unix_addr(const char *dir, int i)
{
	struct listen_addr a;
	struct sockaddr_un *sun = (struct sockaddr_un *)(void *)&a.sa;
	char text[200];

	memset(&a, 0, sizeof(a));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%d.sock", dir, i);
	snprintf(text, sizeof(text), "unix:%s", sun->sun_path);
	a.text = strdup(text);
	a.salen = sizeof(*sun);
	a.mode = a.uid = a.gid = -1;
	return a;
}

static void
test_open_is_bounded(void **state)
{
	char dir[] = "/tmp/shoal-ltable-XXXXXX", path[200];
	struct ltable t;
	struct listen_addr a;
	char err[512] = "";
	int fds[2];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ltable_init(&t), 0);
	for (int i = 0; i < LTABLE_MAX; i++) {
		a = unix_addr(dir, i);
		assert_int_equal(ltable_open(&t, &a, 2, 16, err, sizeof(err)), 0);
		free(a.text);
	}
	assert_int_equal(t.n, LTABLE_MAX);
	/* One more: refused before anything is bound (no socket file). */
	a = unix_addr(dir, LTABLE_MAX);
	assert_int_equal(ltable_open(&t, &a, 2, 16, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already holds 64 listen addresses"));
	assert_int_equal(t.n, LTABLE_MAX);
	snprintf(path, sizeof(path), "%s/%d.sock", dir, LTABLE_MAX);
	assert_int_equal(access(path, F_OK), -1);
	/* Adopting into a full table closes the inherited fds. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(ltable_adopt(&t, &a, fds, 2, err, sizeof(err)), -1);
	assert_int_equal(fcntl(fds[0], F_GETFD), -1);
	assert_int_equal(fcntl(fds[1], F_GETFD), -1);
	assert_int_equal(t.n, LTABLE_MAX);
	free(a.text);
	/* Removing one makes room again. */
	ltable_remove(&t, 0);
	snprintf(path, sizeof(path), "%s/0.sock", dir);
	assert_int_equal(access(path, F_OK), -1);    /* its file went with it */
	a = unix_addr(dir, LTABLE_MAX);
	assert_int_equal(ltable_open(&t, &a, 2, 16, err, sizeof(err)), 0);
	assert_int_equal(t.n, LTABLE_MAX);
	free(a.text);
	ltable_free(&t, true);
	for (int i = 0; i <= LTABLE_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%d.sock", dir, i);
		assert_int_equal(access(path, F_OK), -1);
	}
	assert_int_equal(rmdir(dir), 0);
}

static bool
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
test_for_worker_keeps_only_its_own(void **state)
{
	struct ltable t;
	const struct listen_addr *addrs[2];
	int fds[2], p[6][2];
	size_t n;

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	/* Two TCP entries of 3 slots each, pipes standing in for sockets;
	 * the second was removed by the reload that made generation 2. */
	for (int e = 0; e < 2; e++) {
		put(&t, 'a', e);
		for (int k = 0; k < 3; k++) {
			assert_int_equal(pipe(p[e * 3 + k]), 0);
			close(p[e * 3 + k][1]);
			t.v[e].fds[k] = p[e * 3 + k][0];
		}
		t.v[e].nfds = 3;
	}
	t.v[1].until_gen = 2;
	/* A worker of generation 2 in slot 1: entry 0's socket 1 only. */
	n = ltable_for_worker(&t, 1, 2, fds, addrs);
	assert_int_equal(n, 1);
	assert_int_equal(fds[0], p[1][0]);
	assert_ptr_equal(addrs[0], &t.v[0].addr);
	for (int i = 0; i < 6; i++)
		assert_true(is_open(p[i][0]) == (i == 1));
	close(p[1][0]);
	/* The fds are gone: forget them before the free closes them again. */
	for (int e = 0; e < 2; e++)
		t.v[e].nfds = 0;
	ltable_free(&t, false);
}

static void
test_for_worker_of_the_old_generation(void **state)
{
	struct ltable t;
	const struct listen_addr *addrs[2];
	int fds[2], p[2][2];

	(void)state;
	assert_int_equal(ltable_init(&t), 0);
	for (int e = 0; e < 2; e++) {
		put(&t, 'a', e);
		assert_int_equal(pipe(p[e]), 0);
		close(p[e][1]);
		t.v[e].fds[0] = p[e][0];
		t.v[e].nfds = 1;
	}
	t.v[1].until_gen = 2;
	/* A respawned generation-1 worker still serves the removed address. */
	assert_int_equal(ltable_for_worker(&t, 0, 1, fds, addrs), 2);
	assert_int_equal(fds[0], p[0][0]);
	assert_int_equal(fds[1], p[1][0]);
	assert_true(is_open(p[0][0]) && is_open(p[1][0]));
	ltable_free(&t, false);
	assert_false(is_open(p[0][0]) || is_open(p[1][0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_counts_kept_added_held),
		cmocka_unit_test(test_plan_40_to_40_others_is_refused),
		cmocka_unit_test(test_plan_boundary),
		cmocka_unit_test(test_plan_counts_earlier_removals_and_duplicates),
		cmocka_unit_test(test_retire_serves_unused),
		cmocka_unit_test(test_remove_keeps_order_and_drop_newest),
		cmocka_unit_test(test_open_is_bounded),
		cmocka_unit_test(test_for_worker_keeps_only_its_own),
		cmocka_unit_test(test_for_worker_of_the_old_generation),
	};

	return cmocka_run_group_tests_name("ltable", tests, NULL, NULL);
}
