/*
 * Unit tests for common/stats.c: a duration lands in the first bucket whose
 * bound is not below it (the last has none), the sum is kept in
 * microseconds, and an exited process's durations are folded into the
 * totals with its other counters; restarts are counted by slot and reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/stats.c"

static void
test_observe_buckets(void **state)
{
	struct stats *st = stats_create();
	struct stats_proc *p;
	int idx;

	(void)state;
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
}

static void
test_restarts(void **state)
{
	struct stats *st = stats_create();

	(void)state;
	stats_count_restart(st, 3, STATS_RESTART_HANG);
	stats_count_restart(st, 3, STATS_RESTART_HANG);
	stats_count_restart(st, 0, STATS_RESTART_BOOT);
	stats_count_restart(st, STATS_MAX_SLOTS, STATS_RESTART_CRASH);  /* ignored */
	assert_int_equal(st->restarts[3][STATS_RESTART_HANG], 2);
	assert_int_equal(st->restarts[0][STATS_RESTART_BOOT], 1);
	assert_int_equal(st->restarts[0][STATS_RESTART_CRASH], 0);
	assert_string_equal(stats_restart_name[STATS_RESTART_CRASH], "crash");
	assert_string_equal(stats_restart_name[STATS_RESTART_BOOT], "boot_failure");
	assert_string_equal(stats_restart_name[STATS_RESTART_HANG], "hang");
	stats_destroy(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_observe_buckets),
		cmocka_unit_test(test_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
