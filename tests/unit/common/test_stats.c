/*
 * Unit tests for common/stats.c: a duration lands in the first bucket whose
 * bound is not below it (the last has none), the sum is kept in
 * microseconds; entries handed out and freed with their counters folded
 * into the totals; restarts by slot and reason, and each slot's last; a
 * boot error; the region handed to another mapping (an upgrade's new
 * master) and refused when its layout differs; entries of a failed
 * master's workers freed once they are gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/stats.c"

#include <fcntl.h>
#include <sys/wait.h>

static void
test_observe_buckets(void **state)
{
	struct stats_proc *p;
	struct stats *st;
	int fd, idx;

	(void)state;
	st = stats_create(&fd);
	assert_non_null(st);
	idx = stats_alloc(st, 0, 1);
	assert_true(idx >= 0);
	p = &st->procs[idx];
	stats_observe(p, 0.0001);             /* <= 0.0005 */
	stats_observe(p, 0.0005);             /* on the bound: that bucket */
	stats_observe(p, 0.003);              /* <= 0.005 */
	stats_observe(p, 0.4);                /* <= 0.5 */
	stats_observe(p, 11);                 /* past 10: +Inf */
	stats_observe(p, -1);                 /* a clock step: 0 */
	assert_int_equal(p->duration[0], 3);
	assert_int_equal(p->duration[3], 1);
	assert_int_equal(p->duration[9], 1);
	assert_int_equal(p->duration[STATS_DURATION_BUCKETS - 1], 1);
	assert_int_equal(p->duration_us, 100 + 500 + 3000 + 400000 + 11000000);
	/* the bounds grow */
	for (size_t i = 1; i < STATS_DURATION_BUCKETS - 1; i++)
		assert_true(stats_duration_le[i] > stats_duration_le[i - 1]);

	STATS_ADD(p->requests, 6);
	stats_release(st, idx);
	assert_int_equal(st->exited.requests, 6);
	assert_int_equal(st->exited.duration[0], 3);
	assert_int_equal(st->exited.duration[STATS_DURATION_BUCKETS - 1], 1);
	assert_int_equal(st->exited.duration_us, 11403600);
	assert_int_equal(p->duration[0], 0);
	stats_destroy(st);
	close(fd);
}

static void
test_alloc_release_fold(void **state)
{
	struct stats *st;
	int fd, a, b;

	(void)state;
	assert_non_null(st = stats_create(&fd));
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	a = stats_alloc(st, 0, 1);
	b = stats_alloc(st, 1, 1);
	assert_true(a >= 0 && b >= 0 && a != b);
	assert_int_equal(STATS_GET(st->procs[a].state), STATS_SPAWNING);
	assert_int_equal(STATS_GET(st->procs[a].master_pid), getpid());
	STATS_SET(st->procs[a].requests, 10);
	STATS_SET(st->procs[a].responses[2], 9);
	STATS_SET(st->procs[b].requests, 5);
	stats_release(st, a);
	assert_int_equal(STATS_GET(st->procs[a].state), STATS_FREE);
	assert_int_equal(STATS_GET(st->procs[a].requests), 0);
	assert_int_equal(st->exited.requests, 10);
	assert_int_equal(st->exited.responses[2], 9);
	/* a freed entry comes back clean */
	assert_int_equal(stats_alloc(st, 3, 2), a);
	assert_int_equal(STATS_GET(st->procs[a].slot), 3);
	assert_int_equal(STATS_GET(st->procs[a].requests), 0);
	stats_destroy(st);
	close(fd);
}

static void
test_restarts_and_boot_error(void **state)
{
	struct stats *st;
	int fd, i;

	(void)state;
	assert_non_null(st = stats_create(&fd));
	stats_count_restart(st, 3, STATS_RESTART_HANG);
	stats_count_restart(st, 3, STATS_RESTART_HANG);
	stats_count_restart(st, 0, STATS_RESTART_BOOT);
	stats_count_restart(st, 2, STATS_RESTART_CRASH);
	stats_count_restart(st, 2, STATS_RESTART_MAX_MEMORY);
	stats_count_restart(st, STATS_MAX_SLOTS, STATS_RESTART_CRASH);  /* ignored */
	assert_int_equal(st->restarts[3][STATS_RESTART_HANG], 2);
	assert_int_equal(st->restarts[0][STATS_RESTART_BOOT], 1);
	assert_int_equal(st->restarts[0][STATS_RESTART_CRASH], 0);
	assert_int_equal(st->restarts[2][STATS_RESTART_MAX_MEMORY], 1);
	/* the last one of each slot, + 1 (0: none) */
	assert_int_equal(st->last_restart[2], STATS_RESTART_MAX_MEMORY + 1);
	assert_int_equal(st->last_restart[3], STATS_RESTART_HANG + 1);
	assert_int_equal(st->last_restart[1], 0);
	assert_string_equal(stats_restart_name[STATS_RESTART_CRASH], "crash");
	assert_string_equal(stats_restart_name[STATS_RESTART_BOOT], "boot_failure");
	assert_string_equal(stats_restart_name[STATS_RESTART_HANG], "hang");
	assert_string_equal(stats_restart_name[STATS_RESTART_MAX_REQUESTS],
	    "max_requests");
	assert_string_equal(stats_restart_name[STATS_RESTART_MAX_MEMORY],
	    "max_memory");
	i = stats_alloc(st, 0, 1);
	stats_set_boot_error(st, i, "module app: /x.so: file too short");
	assert_string_equal(st->procs[i].boot_error,
	    "module app: /x.so: file too short");
	stats_destroy(st);
	close(fd);
}

static void
test_adopt(void **state)
{
	struct stats *st, *other;
	char err[256];
	int fd, bad;

	(void)state;
	assert_non_null(st = stats_create(&fd));
	STATS_SET(st->exited.requests, 42);
	/* a second mapping of the same memfd sees the same counters */
	assert_non_null(other = stats_adopt(fd, err, sizeof(err)));
	assert_int_equal(other->exited.requests, 42);
	STATS_SET(other->restarts[1][0], 7);
	assert_int_equal(st->restarts[1][0], 7);
	stats_destroy(other);
	/* another layout is refused */
	bad = memfd_create("x", MFD_CLOEXEC);
	assert_int_equal(ftruncate(bad, 4096), 0);
	assert_null(stats_adopt(bad, err, sizeof(err)));
	assert_non_null(strstr(err, "another layout"));
	close(bad);
	st->magic ^= 1;
	assert_null(stats_adopt(fd, err, sizeof(err)));
	assert_string_equal(err, "the old master's stats region has another "
	    "layout");
	stats_destroy(st);
	close(fd);
}

static void
test_orphans(void **state)
{
	struct stats *st;
	int fd, live, dead, status;
	pid_t child;

	(void)state;
	assert_non_null(st = stats_create(&fd));
	/* entries "handed out by master 4242": one worker alive (us), one gone */
	live = stats_alloc(st, 0, 2);
	dead = stats_alloc(st, 1, 2);
	STATS_SET(st->procs[live].master_pid, 4242);
	STATS_SET(st->procs[dead].master_pid, 4242);
	STATS_SET(st->procs[live].pid, getpid());
	if ((child = fork()) == 0)
		_exit(0);
	waitpid(child, &status, 0);
	STATS_SET(st->procs[dead].pid, child);
	STATS_SET(st->procs[dead].requests, 3);
	assert_int_equal(stats_release_orphans(st, 4242), 1);
	assert_int_equal(STATS_GET(st->procs[dead].state), STATS_FREE);
	assert_int_equal(st->exited.requests, 3);
	assert_int_equal(STATS_GET(st->procs[live].state), STATS_SPAWNING);
	/* another master's entries are not touched */
	assert_int_equal(stats_release_orphans(st, 4243), 0);
	assert_int_equal(STATS_GET(st->procs[live].state), STATS_SPAWNING);
	stats_destroy(st);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_observe_buckets),
		cmocka_unit_test(test_alloc_release_fold),
		cmocka_unit_test(test_restarts_and_boot_error),
		cmocka_unit_test(test_adopt),
		cmocka_unit_test(test_orphans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
