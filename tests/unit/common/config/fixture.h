/*
 * fixture — what the unit tests of a configuration key share: a mkdtemp
 * directory to write shoal.json in (chdir'd into, so that messages read
 * "shoal.json:1:12: ..."; removed by the teardown), config_load of a
 * text, and the checks of a load that works or fails with a message.
 * Included after the .c under test (the includes it needs come with it).
 */
#ifndef SHOAL_TEST_CONFIG_FIXTURE_H
#define SHOAL_TEST_CONFIG_FIXTURE_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[PATH_MAX];
static int oldcwd = -1;

static int
group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/shoal-test-config.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if ((oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	return chdir(tmpdir);
}

static int
group_teardown(void **state)
{
	int rc = 0;

	(void)state;
	unlink("shoal.json");
	if (oldcwd != -1) {
		if (fchdir(oldcwd) == -1)
			rc = -1;
		close(oldcwd);
	}
	if (rmdir(tmpdir) == -1)
		rc = -1;
	return rc;
}

static int
load(struct config *cfg, const char *text, char *err, size_t errlen)
{
	FILE *f = fopen("shoal.json", "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return config_load(cfg, "shoal.json", NULL, err, errlen);
}

static void
load_ok(struct config *cfg, const char *text)
{
	char err[512] = "";

	if (load(cfg, text, err, sizeof(err)) != 0)
		fail_msg("config_load: %s", err);
}

static void
expect_error(const char *text, const char *want)
{
	struct config cfg;
	char err[512];

	assert_int_equal(load(&cfg, text, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	/* A failed load leaves nothing behind (cfg zeroed). */
	assert_null(cfg.source);
}

#endif
