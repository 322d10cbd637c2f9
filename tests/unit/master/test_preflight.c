/*
 * Unit tests for master/preflight.c: each check's message (the one a
 * start would fail with), --check changing nothing it did not create, and
 * the worker side's hook, run in a child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/preflight.c"

#include <stdlib.h>
#include <sys/stat.h>

static char dir[] = "/tmp/shoal-test-preflight.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A configuration as config_load leaves it, enough for preflight. */
static void
base(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->uid = cfg->gid = -1;
	cfg->http.max_connections = 100;
	cfg->rlimit_nofile = 1024;
}

static void
test_dir_of(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(dir_of("/run/shoal/x.pid", buf, sizeof(buf)),
	    "/run/shoal");
	assert_string_equal(dir_of("x.pid", buf, sizeof(buf)), ".");
	assert_string_equal(dir_of("/x.pid", buf, sizeof(buf)), "/");
}

static void
test_messages(void **state)
{
	struct config cfg;
	char err[512], warn[256], path[256], want[600];

	(void)state;
	base(&cfg);
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_CHECK, err, sizeof(err),
	    warn, sizeof(warn)), 0);
	assert_string_equal(warn, "");
	snprintf(path, sizeof(path), "%s/no/shoal.pid", dir);
	cfg.pid_file = path;
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_CHECK, err, sizeof(err),
	    warn, sizeof(warn)), -1);
	snprintf(want, sizeof(want), "pid_file %s: directory %s/no: No such "
	    "file or directory", path, dir);
	assert_string_equal(err, want);
	base(&cfg);
	cfg.control_socket = path;
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_START, err, sizeof(err),
	    warn, sizeof(warn)), -1);
	assert_non_null(strstr(err, "control_socket "));
	/* a reload keeps its control socket: not checked again */
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_RELOAD, err, sizeof(err),
	    warn, sizeof(warn)), 0);
	base(&cfg);
	cfg.access_log = dir;
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_CHECK, err, sizeof(err),
	    warn, sizeof(warn)), -1);
	snprintf(want, sizeof(want), "access_log %s: Is a directory", dir);
	assert_string_equal(err, want);
	base(&cfg);
	cfg.rlimit_nofile = 100;
	cfg.http.max_connections = 1000;
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_CHECK, err, sizeof(err),
	    warn, sizeof(warn)), 0);
	assert_non_null(strstr(warn, "rlimit_nofile: the limit 100 (as set) is "
	    "below max_connections 1000 + 64"));
}

static int
hook_fails(const struct config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	/* In a child: the parent's state is not ours to change. */
	snprintf(err, errlen, "modules[0]: %s", getpid() == getpgrp() ?
	    "in the group leader" : "in a child");
	return -1;
}

static void
test_worker_hook(void **state)
{
	struct config cfg;
	char err[512], warn[256];

	(void)state;
	base(&cfg);
	preflight_set_worker_check(hook_fails);
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_CHECK, err, sizeof(err),
	    warn, sizeof(warn)), -1);
	assert_string_equal(err, "modules[0]: in a child");
	preflight_set_worker_check(NULL);
	assert_int_equal(preflight_run(&cfg, PREFLIGHT_CHECK, err, sizeof(err),
	    warn, sizeof(warn)), 0);
}

static void
test_logs(void **state)
{
	struct config cfg;
	char err[512], log[256];
	struct stat sb;

	(void)state;
	base(&cfg);
	snprintf(log, sizeof(log), "%s/shoal.log", dir);
	cfg.log_file = log;
	assert_int_equal(preflight_logs(&cfg, err, sizeof(err)), 0);
	assert_int_equal(stat(log, &sb), 0);
	unlink(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_of),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_worker_hook),
		cmocka_unit_test(test_logs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
