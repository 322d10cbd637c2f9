/*
 * Unit tests for master/resources.c: CPU lists as text, which CPUs a
 * worker gets ("auto" over a given mask, lists by slot mod their count),
 * lists checked against the CPUs this process may use, and the open-file
 * limit (set in a forked child, so the test process keeps its own).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/resources.c"

#include <stdlib.h>
#include <sys/wait.h>

static cpu_set_t
set_of(const char *list)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	for (const char *p = list; *p; ) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (long c = lo; c <= hi; c++)
			CPU_SET((size_t)c, &s);
		p = *end == ',' ? end + 1 : end;
	}
	return s;
}

static void
test_cpulist(void **state)
{
	cpu_set_t s = set_of("0-3,8,10-11,1023");
	char buf[64];

	(void)state;
	assert_string_equal(resources_cpulist(&s, buf, sizeof(buf)),
	    "0-3,8,10-11,1023");
	CPU_ZERO(&s);
	assert_string_equal(resources_cpulist(&s, buf, sizeof(buf)), "");
}

static void
test_cpus_of_a_slot(void **state)
{
	cpu_set_t allowed = set_of("0,2,5"), out, lists[2];
	struct config cfg;
	char buf[64];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_false(resources_cpus(&cfg, 0, &allowed, &out));
	cfg.cpu_affinity_auto = true;
	for (unsigned slot = 0; slot < 4; slot++) {
		static const char *const want[] = { "0", "2", "5", "0" };

		assert_true(resources_cpus(&cfg, slot, &allowed, &out));
		assert_string_equal(resources_cpulist(&out, buf, sizeof(buf)),
		    want[slot]);
	}
	cfg.cpu_affinity_auto = false;
	lists[0] = set_of("1");
	lists[1] = set_of("2-3");
	cfg.cpu_sets = lists;
	cfg.ncpu_sets = 2;
	assert_true(resources_cpus(&cfg, 2, &allowed, &out));
	assert_string_equal(resources_cpulist(&out, buf, sizeof(buf)), "1");
	assert_true(resources_cpus(&cfg, 3, &allowed, &out));
	assert_string_equal(resources_cpulist(&out, buf, sizeof(buf)), "2-3");
}

static void
test_check_cpus(void **state)
{
	cpu_set_t mine, lists[2];
	struct config cfg;
	char err[256], want[256], have[128];
	int first = -1;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET((size_t)c, &mine))
			first = c;
	CPU_ZERO(&lists[0]);
	CPU_SET((size_t)first, &lists[0]);
	lists[1] = set_of("1022-1023");
	cfg.cpu_sets = lists;
	cfg.ncpu_sets = 1;
	assert_int_equal(resources_check_cpus(&cfg, err, sizeof(err)), 0);
	cfg.ncpu_sets = 2;
	assert_int_equal(resources_check_cpus(&cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "worker_cpu_affinity[1]: CPU 1022-1023 are "
	    "not among the CPUs shoal may use (%s)",
	    resources_cpulist(&mine, have, sizeof(have)));
	assert_string_equal(err, want);
}

/* In a child: set the limit per cfg, report soft limit and warning. */
static void
test_limit(void **state)
{
	struct rlimit rl;
	int p[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct config cfg;
		struct rlimit now;
		char err[256], warn[256];

		memset(&cfg, 0, sizeof(cfg));
		cfg.http.max_connections = 100;
		cfg.rlimit_nofile = 200;
		if (resources_set_limit(&cfg, err, sizeof(err), warn,
		    sizeof(warn)) != 0 || warn[0] != '\0' ||
		    getrlimit(RLIMIT_NOFILE, &now) != 0 || now.rlim_cur != 200)
			_exit(1);
		cfg.rlimit_nofile = 0;          /* auto: the hard limit */
		cfg.http.max_connections = (size_t)rl.rlim_max;
		if (resources_set_limit(&cfg, err, sizeof(err), warn,
		    sizeof(warn)) != 0 || strstr(warn, "(the hard limit) is "
		    "below max_connections") == NULL ||
		    getrlimit(RLIMIT_NOFILE, &now) != 0 ||
		    now.rlim_cur != rl.rlim_max)
			_exit(2);
		_exit(0);
	}
	close(p[0]);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_cpus_of_a_slot),
		cmocka_unit_test(test_check_cpus),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
