/*
 * Unit tests for master/hang.c: the heartbeat judgement (hang_judge, pure)
 * in every stage. hang_check, which carries it out, is exercised with real
 * stopped and silent processes in test_supervise.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/hang.c"

#define TIMEOUT 1.0

static void
test_beating_worker_is_left_alone(void **state)
{
	(void)state;
	assert_int_equal(hang_judge(HANG_NONE, 0.2, 99, false, TIMEOUT), HANG_WAIT);
	assert_int_equal(hang_judge(HANG_NONE, 0.2, 99, true, TIMEOUT), HANG_WAIT);
	assert_int_equal(hang_judge(HANG_NONE, TIMEOUT, 99, false, TIMEOUT),
	    HANG_WAIT);
}

static void
test_stopped_worker_is_continued(void **state)
{
	(void)state;
	/* silent past the timeout while stopped: continued, not aborted */
	assert_int_equal(hang_judge(HANG_NONE, 1.2, 99, true, TIMEOUT),
	    HANG_CONTINUE);
	/* a beat since the SIGCONT (silent 0.01s, continued 0.3s ago) */
	assert_int_equal(hang_judge(HANG_CONTINUED, 0.01, 0.3, false, TIMEOUT),
	    HANG_RECOVER);
	/* no beat yet, within the grace */
	assert_int_equal(hang_judge(HANG_CONTINUED, 1.5, 0.3, false, TIMEOUT),
	    HANG_WAIT);
	/* no beat after the grace: hung after all */
	assert_int_equal(hang_judge(HANG_CONTINUED, 2.6, HANG_RESUME_GRACE + 0.1,
	    false, TIMEOUT), HANG_ABORT);
	/* stopped again by someone before it beat: still no beat, same end */
	assert_int_equal(hang_judge(HANG_CONTINUED, 2.6, HANG_RESUME_GRACE + 0.1,
	    true, TIMEOUT), HANG_ABORT);
}

static void
test_silent_worker_is_aborted_then_killed(void **state)
{
	(void)state;
	assert_int_equal(hang_judge(HANG_NONE, 1.2, 99, false, TIMEOUT),
	    HANG_ABORT);
	assert_int_equal(hang_judge(HANG_ABORTED, 3, 1.0, false, TIMEOUT),
	    HANG_WAIT);
	assert_int_equal(hang_judge(HANG_ABORTED, 3, HANG_KILL_GRACE + 0.1, false,
	    TIMEOUT), HANG_KILL);
	/* once SIGKILL is sent, only the reaper has more to say */
	assert_int_equal(hang_judge(HANG_KILLED, 60, 60, false, TIMEOUT),
	    HANG_WAIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_beating_worker_is_left_alone),
		cmocka_unit_test(test_stopped_worker_is_continued),
		cmocka_unit_test(test_silent_worker_is_aborted_then_killed),
	};

	return cmocka_run_group_tests_name("hang", tests, NULL, NULL);
}
