/*
 * Unit tests for common/config/account.c: "user" and "group" resolved
 * when the configuration is loaded, through config_load (linked in) as a
 * user meets them: a known user gives its uid and primary group, "group"
 * overrides the group, unknown names and a group without a user are
 * errors naming the key and its place. Uses root and nobody/nogroup,
 * which every Debian system has.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/account.c"

#include <grp.h>
#include <pwd.h>

/* Load the embedded default with flags name=value pairs (NULL-ended). */
static int
load_flags(struct config *cfg, char *err, size_t errlen, ...)
{
	json_t *ovr = json_object();
	const char *name, *value;
	va_list ap;
	int r;

	assert_non_null(ovr);
	va_start(ap, errlen);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		assert_int_equal(config_override(ovr, name, value, err, errlen), 0);
	}
	va_end(ap);
	r = config_load(cfg, NULL, ovr, err, errlen);
	json_decref(ovr);
	return r;
}

static void
test_unset(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_flags(&cfg, err, sizeof(err), NULL), 0);
	assert_null(cfg.user);
	assert_null(cfg.group);
	assert_int_equal(cfg.uid, -1);
	assert_int_equal(cfg.gid, -1);
	config_free(&cfg);
}

static void
test_user_and_primary_group(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	struct config cfg;
	char err[512];

	(void)state;
	assert_non_null(pw);
	assert_int_equal(load_flags(&cfg, err, sizeof(err), "user", "nobody",
	    NULL), 0);
	assert_string_equal(cfg.user, "nobody");
	assert_int_equal(cfg.uid, (int)pw->pw_uid);
	assert_int_equal(cfg.gid, (int)pw->pw_gid);
	config_free(&cfg);

	assert_int_equal(load_flags(&cfg, err, sizeof(err), "user", "root",
	    NULL), 0);
	assert_int_equal(cfg.uid, 0);
	assert_int_equal(cfg.gid, 0);
	config_free(&cfg);
}

static void
test_group_overrides(void **state)
{
	struct group *gr = getgrnam("nogroup");
	struct config cfg;
	char err[512];

	(void)state;
	assert_non_null(gr);
	assert_int_equal(load_flags(&cfg, err, sizeof(err), "user", "root",
	    "group", "nogroup", NULL), 0);
	assert_int_equal(cfg.uid, 0);
	assert_int_equal(cfg.gid, (int)gr->gr_gid);
	assert_string_equal(cfg.group, "nogroup");
	config_free(&cfg);
}

static void
test_errors(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_flags(&cfg, err, sizeof(err), "user",
	    "no-such-user-here", NULL), -1);
	assert_string_equal(err, "--user: no user \"no-such-user-here\" in the "
	    "user database");
	assert_int_equal(load_flags(&cfg, err, sizeof(err), "user", "nobody",
	    "group", "no-such-group", NULL), -1);
	assert_string_equal(err, "--group: no group \"no-such-group\" in the "
	    "group database");
	assert_int_equal(load_flags(&cfg, err, sizeof(err), "group", "nogroup",
	    NULL), -1);
	assert_string_equal(err, "--group: needs \"user\" too: the workers "
	    "change group only along with their user");
	/* As in the file, null on the command line is none. */
	assert_int_equal(load_flags(&cfg, err, sizeof(err), "user", "null",
	    NULL), 0);
	assert_null(cfg.user);
	config_free(&cfg);
}

/* In a file, the error points at the key. */
static void
test_error_located(void **state)
{
	char path[] = "/tmp/shoal-test-account.XXXXXX", err[512], want[600];
	struct config cfg;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_true(write(fd, "{\n  \"user\": \"nobdy\"\n}\n", 22) == 22);
	close(fd);
	assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2:3: \"user\": no user \"nobdy\" in the "
	    "user database", path);
	assert_string_equal(err, want);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset),
		cmocka_unit_test(test_user_and_primary_group),
		cmocka_unit_test(test_group_overrides),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_located),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
