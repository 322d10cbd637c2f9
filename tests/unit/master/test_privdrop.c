/*
 * Unit tests for master/privdrop.c: the log files the workers reopen
 * (created, never truncated, handed to the user), the switch itself in a
 * forked child (every id, the groups, setuid(0) refused afterwards), and
 * the probe that runs a check as the workers' user. The switching tests
 * need root and the user nobody; they are skipped otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/privdrop.c"

#include <pwd.h>

static char dir[] = "/tmp/shoal-test-privdrop.XXXXXX";

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

/* A config for user nobody (uid/gid as config_load resolves them). */
static bool
nobody(struct config *cfg)
{
	struct passwd *pw = getpwnam("nobody");

	memset(cfg, 0, sizeof(*cfg));
	cfg->uid = cfg->gid = -1;
	if (pw == NULL || geteuid() != 0)
		return false;
	cfg->user = (char *)"nobody";
	cfg->uid = (int)pw->pw_uid;
	cfg->gid = (int)pw->pw_gid;
	return true;
}

static void
test_prepare_file(void **state)
{
	struct config cfg;
	char path[256], err[512], want[600];
	struct stat sb;
	FILE *f;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	/* created, 0644 less the umask */
	assert_int_equal(privdrop_prepare_file(&cfg, "access_log", path, false,
	    err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode) && sb.st_size == 0);
	/* never truncated */
	assert_non_null(f = fopen(path, "a"));
	fputs("a line\n", f);
	fclose(f);
	assert_int_equal(privdrop_prepare_file(&cfg, "access_log", path, true,
	    err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 7);
	/* a directory, a missing one */
	assert_int_equal(privdrop_prepare_file(&cfg, "log_file", dir, false, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "log_file %s: Is a directory", dir);
	assert_string_equal(err, want);
	snprintf(path, sizeof(path), "%s/no/x.log", dir);
	assert_int_equal(privdrop_prepare_file(&cfg, "log_file", path, false, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "log_file %s: No such file or directory",
	    path);
	assert_string_equal(err, want);
	/* none: nothing to do */
	assert_int_equal(privdrop_prepare_file(&cfg, "log_file", NULL, true, err,
	    sizeof(err)), 0);
}

static void
test_prepare_file_owned(void **state)
{
	struct config cfg;
	char path[256], err[512];
	struct stat sb;
	int fd;

	(void)state;
	if (!nobody(&cfg))
		skip();
	snprintf(path, sizeof(path), "%s/owned.log", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0444);
	assert_true(fd >= 0);
	close(fd);
	/* --check (own false) changes nothing */
	assert_int_equal(privdrop_prepare_file(&cfg, "access_log", path, false,
	    err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(privdrop_prepare_file(&cfg, "access_log", path, true,
	    err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, (uid_t)cfg.uid);
	assert_true(sb.st_mode & S_IWUSR);
}

static void
test_switch(void **state)
{
	struct config cfg;
	int status;
	pid_t pid;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_false(privdrop_switches(&cfg));
	assert_int_equal(privdrop_switch(&cfg, NULL, 0), 0);
	if (!nobody(&cfg))
		skip();
	assert_true(privdrop_switches(&cfg));
	assert_int_equal(privdrop_possible(&cfg, NULL, 0), 0);
	if ((pid = fork()) == 0) {
		char err[512];
		gid_t groups[64];
		uid_t r, e, s;

		if (privdrop_switch(&cfg, err, sizeof(err)) != 0)
			_exit(1);
		if (getresuid(&r, &e, &s) != 0 || r != (uid_t)cfg.uid ||
		    e != (uid_t)cfg.uid || s != (uid_t)cfg.uid ||
		    getgid() != (gid_t)cfg.gid || getegid() != (gid_t)cfg.gid)
			_exit(2);
		if (getgroups(64, groups) < 1 || setuid(0) != -1 || setgid(0) != -1)
			_exit(3);
		/* switched already: a second call is a no-op, not an error */
		if (privdrop_switches(&cfg) || privdrop_switch(&cfg, err,
		    sizeof(err)) != 0)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int
check_uid(const struct config *cfg, void *arg, char *err, size_t errlen)
{
	(void)arg;
	if (getuid() == (uid_t)cfg->uid)
		return 0;
	snprintf(err, errlen, "running as uid %d", (int)getuid());
	return -1;
}

static int
always_fails(const struct config *cfg, void *arg, char *err, size_t errlen)
{
	(void)cfg;
	snprintf(err, errlen, "%s", (const char *)arg);
	return -1;
}

static void
test_probe(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(privdrop_probe(&cfg, always_fails, "told so", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "told so");
	if (!nobody(&cfg))
		skip();
	assert_int_equal(privdrop_probe(&cfg, check_uid, NULL, err, sizeof(err)),
	    0);
	/* the caller is unchanged */
	assert_int_equal(getuid(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepare_file),
		cmocka_unit_test(test_prepare_file_owned),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_probe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
