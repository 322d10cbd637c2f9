/*
 * Unit tests for master/backoff.c: the respawn delay policy.
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
	assert_true(backoff_next(&b, &policy, 0.5, 0.5) == 0);
	assert_int_equal(b.quick_deaths, 1);
	assert_false(backoff_crash_looping(&b, &policy));
}

static void
test_delay_doubles_to_cap(void **state)
{
	struct backoff b = { 0 };
	double prev = 0, d;

	(void)state;
	backoff_next(&b, &policy, 0.1, 0.5);
	/* rnd = 0.5 means no jitter: 0.1, 0.2, 0.4, ... */
	for (int i = 0; i < 8; i++) {
		d = backoff_next(&b, &policy, 0.1, 0.5);
		assert_true(fabs(d - 0.1 * ldexp(1, i)) < 1e-9);
		assert_true(d > prev);
		prev = d;
	}
	for (int i = 0; i < 100; i++)
		d = backoff_next(&b, &policy, 0.1, 0.5);
	assert_true(d == policy.max);
}

static void
test_jitter_bounds(void **state)
{
	struct backoff b = { 0 };
	double lo, hi;

	(void)state;
	b.quick_deaths = 3;     /* next is the 4th: 0.4 unjittered */
	lo = backoff_next(&b, &policy, 0, 0.0);
	b.quick_deaths = 3;
	hi = backoff_next(&b, &policy, 0, 0.999999);
	assert_true(fabs(lo - 0.32) < 1e-9);
	assert_true(hi > 0.479 && hi < 0.48 + 1e-9);
	/* at the cap the jitter never exceeds it */
	b.quick_deaths = 50;
	assert_true(backoff_next(&b, &policy, 0, 0.999999) <= policy.max);
	b.quick_deaths = 50;
	assert_true(backoff_next(&b, &policy, 0, 0.0) >= 0.8 * policy.max - 1e-9);
}

static void
test_stable_uptime_resets(void **state)
{
	struct backoff b = { .quick_deaths = 7 };

	(void)state;
	assert_true(backoff_crash_looping(&b, &policy));
	assert_true(backoff_next(&b, &policy, 10.0, 0.5) == 0);
	assert_int_equal(b.quick_deaths, 0);
	assert_false(backoff_crash_looping(&b, &policy));
}

static void
test_crash_looping_threshold(void **state)
{
	struct backoff b = { 0 };

	(void)state;
	for (unsigned i = 1; i < policy.loop_after; i++) {
		backoff_next(&b, &policy, 1, 0.5);
		assert_false(backoff_crash_looping(&b, &policy));
	}
	backoff_next(&b, &policy, 1, 0.5);
	assert_true(backoff_crash_looping(&b, &policy));
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
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
