/*
 * Unit tests for master/wstatus.c: how the master tells why a worker ended.
 * Statuses are built with the <sys/wait.h> encoding, and a few come from
 * real children, so the decoding is checked against what waitpid() returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "master/wstatus.c"

/* A wait status the way the kernel encodes it. */
static int
exited(int code)
{
	return W_EXITCODE(code, 0);
}

static int
killed(int sig, bool core)
{
	return W_EXITCODE(0, sig) | (core ? WCOREFLAG : 0);
}

static char *
describe(int status)
{
	static char buf[128];

	wstatus_describe(status, buf, sizeof(buf));
	return buf;
}

static void
test_exit_codes(void **state)
{
	(void)state;
	assert_string_equal(describe(exited(0)), "exited with status 0");
	assert_string_equal(describe(exited(1)), "exited with status 1");
	assert_string_equal(describe(exited(2)), "exited with status 2");
	assert_string_equal(describe(exited(255)), "exited with status 255");
}

static void
test_signals_and_core_dumps(void **state)
{
	(void)state;
	assert_string_equal(describe(killed(SIGKILL, false)), "killed by SIGKILL");
	assert_string_equal(describe(killed(SIGTERM, false)), "killed by SIGTERM");
	assert_string_equal(describe(killed(SIGSEGV, true)),
	    "killed by SIGSEGV (core dumped)");
	assert_string_equal(describe(killed(SIGABRT, true)),
	    "killed by SIGABRT (core dumped)");
	/* 139 is how a shell reports a child's SIGSEGV; from the worker
	 * itself it is an exit code, not a signal. */
	assert_string_equal(describe(exited(128 | 11)), "exited with status 139");
}

static void
test_signal_names(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(wstatus_signame(SIGKILL, buf, sizeof(buf)), "SIGKILL");
	assert_string_equal(wstatus_signame(SIGSEGV, buf, sizeof(buf)), "SIGSEGV");
	/* Real-time signals have no abbreviation: the number is said. */
	wstatus_signame(SIGRTMIN + 3, buf, sizeof(buf));
	assert_true(strncmp(buf, "signal ", 7) == 0);
	assert_int_equal(atoi(buf + 7), SIGRTMIN + 3);
}

static void
test_neither_exit_nor_signal(void **state)
{
	(void)state;
	/* A stopped child (only with WUNTRACED, which the master does not
	 * use): said as the raw value rather than misread. */
	assert_string_equal(describe(W_STOPCODE(SIGSTOP)),
	    "ended with wait status 0x137f");
}

/* Fork a child that ends by fn and return its wait status. */
static int
status_of_child(void (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		fn();
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void exit_3(void) { _exit(3); }
static void sigkill_self(void) { raise(SIGKILL); }

static void
abort_without_core(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	signal(SIGABRT, SIG_DFL);
	abort();
}

static void
test_real_children(void **state)
{
	(void)state;
	assert_string_equal(describe(status_of_child(exit_3)),
	    "exited with status 3");
	assert_string_equal(describe(status_of_child(sigkill_self)),
	    "killed by SIGKILL");
	assert_string_equal(describe(status_of_child(abort_without_core)),
	    "killed by SIGABRT");
}

static void
test_classify(void **state)
{
	struct wstatus_exit e = { .slot = 0, .pid = 1 };

	(void)state;
	/* Never ready: a boot failure, whatever the status, even exit 0
	 * and even while it was told to drain (a rolled-back worker). */
	e.status = exited(1);
	assert_int_equal(wstatus_classify(&e), WSTATUS_BOOT_FAILURE);
	e.status = exited(0);
	assert_int_equal(wstatus_classify(&e), WSTATUS_BOOT_FAILURE);
	e.status = killed(SIGKILL, false);
	e.draining = true;
	assert_int_equal(wstatus_classify(&e), WSTATUS_BOOT_FAILURE);

	/* A stop during boot is not the worker's fault. */
	e = (struct wstatus_exit){ .stopping = true, .status = exited(0) };
	assert_int_equal(wstatus_classify(&e), WSTATUS_CLEAN);
	e.status = killed(SIGKILL, false);
	assert_int_equal(wstatus_classify(&e), WSTATUS_CRASH);

	/* Ready, told to drain, exit 0: what a drain looks like. */
	e = (struct wstatus_exit){ .ready = true, .draining = true,
	    .status = exited(0) };
	assert_int_equal(wstatus_classify(&e), WSTATUS_CLEAN);
	/* ... but a non-zero exit or a signal while draining is a crash. */
	e.status = exited(1);
	assert_int_equal(wstatus_classify(&e), WSTATUS_CRASH);
	e.status = killed(SIGSEGV, true);
	assert_int_equal(wstatus_classify(&e), WSTATUS_CRASH);

	/* Ready and serving: any end is a runtime crash, exit 0 too. */
	e = (struct wstatus_exit){ .ready = true, .status = exited(0) };
	assert_int_equal(wstatus_classify(&e), WSTATUS_CRASH);
	e.status = killed(SIGKILL, false);
	assert_int_equal(wstatus_classify(&e), WSTATUS_CRASH);
	/* Stopping: exit 0 is clean, a kill is not. */
	e.stopping = true;
	assert_int_equal(wstatus_classify(&e), WSTATUS_CRASH);
	e.status = exited(0);
	assert_int_equal(wstatus_classify(&e), WSTATUS_CLEAN);
}

static void
test_lines(void **state)
{
	struct wstatus_exit e = { .slot = 1, .pid = 4242, .ready = true,
	    .uptime = 12.4, .status = killed(SIGKILL, false) };
	char buf[192];

	(void)state;
	wstatus_line(&e, false, buf, sizeof(buf));
	assert_string_equal(buf, "worker 1 (pid 4242) killed by SIGKILL after 12.4s");

	e = (struct wstatus_exit){ .slot = 0, .pid = 4243, .ready = true,
	    .uptime = 185, .status = killed(SIGSEGV, true) };
	wstatus_line(&e, false, buf, sizeof(buf));
	assert_string_equal(buf,
	    "worker 0 (pid 4243) killed by SIGSEGV (core dumped) after 3m05s");

	e = (struct wstatus_exit){ .slot = 2, .pid = 4244, .uptime = 0.06,
	    .status = exited(1) };
	assert_int_equal(wstatus_classify(&e), WSTATUS_BOOT_FAILURE);
	wstatus_line(&e, true, buf, sizeof(buf));
	assert_string_equal(buf,
	    "worker 2 (pid 4244) failed at boot: exited with status 1 after 0.1s");
	/* The same end as an operation's reason: without the prefix. */
	wstatus_line(&e, false, buf, sizeof(buf));
	assert_string_equal(buf, "worker 2 (pid 4244) exited with status 1 after 0.1s");
}

static void
test_line_truncates_safely(void **state)
{
	struct wstatus_exit e = { .slot = 511, .pid = 4194304, .uptime = 1e9,
	    .status = killed(SIGSEGV, true) };
	/* A size the compiler cannot see (it would warn of the truncation
	 * this test wants), on the heap so a sanitizer sees any overrun. */
	volatile size_t vlen = 24;
	size_t len = vlen;
	char *buf = malloc(len);

	(void)state;
	assert_non_null(buf);
	memset(buf, 'x', len);
	wstatus_line(&e, true, buf, len);
	assert_int_equal(strlen(buf), len - 1);
	assert_string_equal(buf, "worker 511 (pid 4194304");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_signals_and_core_dumps),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_neither_exit_nor_signal),
		cmocka_unit_test(test_real_children),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_line_truncates_safely),
	};

	return cmocka_run_group_tests_name("wstatus", tests, NULL, NULL);
}
