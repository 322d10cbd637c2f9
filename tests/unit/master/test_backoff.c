/*
 * Unit tests for master/backoff.c: the respawn delay policy, and how it
 * gives way when clients wait for the slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/backoff.c"

static const struct backoff_policy policy = {
	.min = 0.1, .max = 30, .stable_after = 10, .loop_after = 5,
};

static void
test_first_quick_death_is_immediate(void **state)
{
	struct backoff b = { 0 };

	(void)state;
	assert_true(backoff_next(&b, &policy, 0.5, BACKOFF_IDLE, 0.5) == 0);
	assert_int_equal(b.quick_deaths, 1);
	assert_false(backoff_crash_looping(&b, &policy));
}

static void
test_delay_doubles_to_cap(void **state)
{
	struct backoff b = { 0 };
	double prev = 0, d;

	(void)state;
	backoff_next(&b, &policy, 0.1, BACKOFF_IDLE, 0.5);
	/* rnd = 0.5 means no jitter: 0.1, 0.2, 0.4, ... */
	for (int i = 0; i < 8; i++) {
		d = backoff_next(&b, &policy, 0.1, BACKOFF_IDLE, 0.5);
		assert_true(fabs(d - 0.1 * ldexp(1, i)) < 1e-9);
		assert_true(d > prev);
		prev = d;
	}
	for (int i = 0; i < 100; i++)
		d = backoff_next(&b, &policy, 0.1, BACKOFF_IDLE, 0.5);
	assert_true(d == policy.max);
}

static void
test_jitter_bounds(void **state)
{
	struct backoff b = { 0 };
	double lo, hi;

	(void)state;
	b.fruitless = 3;        /* next is the 4th: 0.4 unjittered */
	lo = backoff_next(&b, &policy, 0, BACKOFF_IDLE, 0.0);
	b.fruitless = 3;
	hi = backoff_next(&b, &policy, 0, BACKOFF_IDLE, 0.999999);
	assert_true(fabs(lo - 0.32) < 1e-9);
	assert_true(hi > 0.479 && hi < 0.48 + 1e-9);
	/* at the cap the jitter never exceeds it */
	b.fruitless = 50;
	assert_true(backoff_next(&b, &policy, 0, BACKOFF_IDLE, 0.999999) <= policy.max);
	b.fruitless = 50;
	assert_true(backoff_next(&b, &policy, 0, BACKOFF_IDLE, 0.0) >= 0.8 * policy.max - 1e-9);
}

static void
test_stable_uptime_resets(void **state)
{
	struct backoff b = { .quick_deaths = 7 };

	(void)state;
	assert_true(backoff_crash_looping(&b, &policy));
	assert_true(backoff_next(&b, &policy, 10.0, BACKOFF_IDLE, 0.5) == 0);
	assert_int_equal(b.quick_deaths, 0);
	assert_false(backoff_crash_looping(&b, &policy));
}

static void
test_crash_looping_threshold(void **state)
{
	struct backoff b = { 0 };

	(void)state;
	for (unsigned i = 1; i < policy.loop_after; i++) {
		backoff_next(&b, &policy, 1, BACKOFF_IDLE, 0.5);
		assert_false(backoff_crash_looping(&b, &policy));
	}
	backoff_next(&b, &policy, 1, BACKOFF_IDLE, 0.5);
	assert_true(backoff_crash_looping(&b, &policy));
}

static void
test_queued_connections_mean_now(void **state)
{
	struct backoff b = { .quick_deaths = 9, .fruitless = 9 };
	double d;

	(void)state;
	d = backoff_next(&b, &policy, 1, BACKOFF_IDLE, 0.5);
	assert_true(d > 10);
	/* connections wait on the slot's socket: at once */
	assert_true(backoff_waited_for(&b, &policy, d, true) == 0);
	/* no slot serves: at most the minimum */
	assert_true(backoff_waited_for(&b, &policy, d, false) == policy.min);
	/* a wait already shorter than the minimum is kept */
	assert_true(backoff_waited_for(&b, &policy, 0.05, false) == 0.05);
	assert_true(backoff_waited_for(&b, &policy, 0, false) == 0);
	/* crash-looping stays visible while the wait is cut short */
	assert_true(backoff_crash_looping(&b, &policy));
}

static void
test_boot_loop_keeps_its_delay(void **state)
{
	struct backoff b = { 0 };
	double d = 0;

	(void)state;
	/* deaths before ready, in a row: the backoff holds once they are a loop */
	for (unsigned i = 1; i < policy.loop_after; i++) {
		d = backoff_next(&b, &policy, 0.1, BACKOFF_BOOT_FAILED, 0.5);
		assert_false(backoff_boot_looping(&b, &policy));
		assert_true(backoff_waited_for(&b, &policy, d, false) <= policy.min);
	}
	d = backoff_next(&b, &policy, 0.1, BACKOFF_BOOT_FAILED, 0.5);
	assert_true(backoff_boot_looping(&b, &policy));
	assert_true(d > policy.min);
	assert_true(backoff_waited_for(&b, &policy, d, false) == d);
	assert_true(backoff_waited_for(&b, &policy, d, true) == d);
	/* one worker that got ready breaks the boot loop (not the quick deaths) */
	d = backoff_next(&b, &policy, 0.1, BACKOFF_IDLE, 0.5);
	assert_false(backoff_boot_looping(&b, &policy));
	assert_true(backoff_crash_looping(&b, &policy));
	assert_true(backoff_waited_for(&b, &policy, d, false) == policy.min);
	/* a stable run forgets both */
	b.boot_failures = 7;
	assert_true(backoff_next(&b, &policy, 10, BACKOFF_BOOT_FAILED, 0.5) == 0);
	assert_int_equal(b.boot_failures, 0);
	assert_int_equal(b.quick_deaths, 0);
}

static void
test_a_useful_worker_is_replaced_at_once(void **state)
{
	struct backoff b = { .fruitless = 8 };

	(void)state;
	/* killed after it answered requests: at once, the count of idle
	 * deaths forgotten, the quick deaths still counted */
	for (unsigned i = 1; i <= policy.loop_after; i++)
		assert_true(backoff_next(&b, &policy, 0.5, BACKOFF_SERVED, 0.9) == 0);
	assert_int_equal(b.fruitless, 0);
	assert_true(backoff_crash_looping(&b, &policy));
	/* ... but a slot forks at most once per min */
	assert_true(fabs(backoff_next(&b, &policy, 0.03, BACKOFF_SERVED, 0.5) -
	    (policy.min - 0.03)) < 1e-9);
	/* the next idle death starts the doubling over: at once, then min */
	assert_true(backoff_next(&b, &policy, 0.5, BACKOFF_IDLE, 0.5) == 0);
	assert_true(fabs(backoff_next(&b, &policy, 0.5, BACKOFF_IDLE, 0.5) -
	    policy.min) < 1e-9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_quick_death_is_immediate),
		cmocka_unit_test(test_delay_doubles_to_cap),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_stable_uptime_resets),
		cmocka_unit_test(test_crash_looping_threshold),
		cmocka_unit_test(test_queued_connections_mean_now),
		cmocka_unit_test(test_boot_loop_keeps_its_delay),
		cmocka_unit_test(test_a_useful_worker_is_replaced_at_once),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
