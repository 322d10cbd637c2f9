/*
 * Unit tests for master/args.c: the command line in any order, strict
 * numbers, options that belong to another command, --help of each
 * command, and a help text that lists every configuration flag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/args.c"

/* Parse the words of line (split on spaces) into a; returns the result. */
static int
parse(const char *line, struct args *a, char *err, size_t errlen)
{
	static char buf[512];
	static char *argv[32];
	int argc = 0;

	snprintf(buf, sizeof(buf), "shoal %s", line);
	for (char *p = strtok(buf, " "); p != NULL && argc < 31;
	    p = strtok(NULL, " "))
		argv[argc++] = p;
	argv[argc] = NULL;
	err[0] = '\0';
	return args_parse(argc, argv, a, err, errlen);
}

/* line must parse; a is left for the caller to look at and free. */
static void
ok(const char *line, struct args *a)
{
	char err[512];

	if (parse(line, a, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", line, err);
}

/* line must fail with exactly want. */
static void
bad(const char *line, const char *want)
{
	struct args a;
	char err[512];

	if (parse(line, &a, err, sizeof(err)) != -1)
		fail_msg("'%s' was accepted", line);
	assert_string_equal(err, want);
	args_free(&a);
}

static void
test_run_and_check(void **state)
{
	struct args a;

	(void)state;
	ok("", &a);
	assert_int_equal(a.mode, ARGS_RUN);
	assert_null(a.config_path);
	args_free(&a);
	ok("-c f.json --workers 2 --worker-timeout=5", &a);
	assert_int_equal(a.mode, ARGS_RUN);
	assert_string_equal(a.config_path, "f.json");
	assert_int_equal(json_integer_value(json_object_get(a.overrides,
	    "workers")), 2);
	assert_true(json_number_value(json_object_get(a.overrides,
	    "worker_timeout")) == 5);
	args_free(&a);
	ok("--workers 2 --check --config f.json", &a);
	assert_int_equal(a.mode, ARGS_CHECK);
	assert_string_equal(a.config_path, "f.json");
	args_free(&a);
	/* --control is short for --control-socket; null is none. */
	ok("--control null", &a);
	assert_true(json_is_null(json_object_get(a.overrides,
	    "control_socket")));
	args_free(&a);
	ok("-V", &a);
	assert_int_equal(a.mode, ARGS_VERSION);
	args_free(&a);
}

/* Options before or after the command are the same. */
static void
test_command_any_order(void **state)
{
	static const char *const lines[] = {
		"-c f.json status --json", "status -c f.json --json",
		"--json -c f.json status", "status --json --config=f.json",
	};
	struct args a;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		ok(lines[i], &a);
		assert_int_equal(a.mode, ARGS_CLIENT);
		assert_string_equal(a.command, "status");
		assert_string_equal(a.config_path, "f.json");
		assert_true(a.json);
		assert_null(a.control);
		assert_true(a.timeout == ARGS_TIMEOUT_DEFAULT);
		args_free(&a);
	}
	ok("--control /run/x.sock --timeout 2.5 scale 4", &a);
	assert_string_equal(a.command, "scale");
	assert_int_equal(a.workers, 4);
	assert_string_equal(a.control, "/run/x.sock");
	assert_true(a.timeout == 2.5);
	args_free(&a);
	ok("upgrade --binary /usr/bin/shoal --control-socket /x", &a);
	assert_string_equal(a.binary, "/usr/bin/shoal");
	assert_string_equal(a.control, "/x");
	args_free(&a);
	ok("stop --fast", &a);
	assert_true(a.fast);
	args_free(&a);
	ok("reopen", &a);
	assert_string_equal(a.command, "reopen");
	args_free(&a);
}

static void
test_strict_numbers(void **state)
{
	struct args a;

	(void)state;
	bad("scale 2x", "scale: expected a worker count from 1 to 512, got "
	    "\"2x\"");
	bad("scale 0", "scale: expected a worker count from 1 to 512, got "
	    "\"0\"");
	bad("scale 513", "scale: expected a worker count from 1 to 512, got "
	    "\"513\"");
	bad("scale -1", "unknown option '-1'");
	bad("scale +2", "scale: expected a worker count from 1 to 512, got "
	    "\"+2\"");
	bad("scale", "scale needs a worker count: shoal scale N (1 to 512)");
	ok("scale 512", &a);
	assert_int_equal(a.workers, 512);
	args_free(&a);
	bad("status --timeout abc", "--timeout: expected a number of seconds "
	    "above 0, at most 86400, got \"abc\"");
	bad("status --timeout 0", "--timeout: expected a number of seconds "
	    "above 0, at most 86400, got \"0\"");
	bad("status --timeout 5s", "--timeout: expected a number of seconds "
	    "above 0, at most 86400, got \"5s\"");
	bad("status --timeout nan", "--timeout: expected a number of seconds "
	    "above 0, at most 86400, got \"nan\"");
	bad("status --timeout", "--timeout needs a value");
	/* Server flags are strict in config_load; their spelling here. */
	bad("--worker-timeout", "--worker-timeout needs a value");
	bad("--workres 2", "unknown option --workres; did you mean --workers?");
}

static void
test_misplaced_options(void **state)
{
	(void)state;
	bad("--json", "--json is an option of 'shoal status'");
	bad("--fast", "--fast is an option of 'shoal stop'");
	bad("--binary x", "--binary is an option of 'shoal upgrade'");
	bad("--timeout 3", "--timeout is an option of the commands (status, "
	    "reload, ...), not of the server");
	bad("stop --json", "--json is an option of 'shoal status', not of "
	    "'stop'");
	bad("status --fast", "--fast is an option of 'shoal stop', not of "
	    "'status'");
	bad("reload --binary x", "--binary is an option of 'shoal upgrade', "
	    "not of 'reload'");
	bad("status --workers 2", "--workers is an option of the server, not "
	    "of 'status'");
	bad("status --check", "--check does not go with 'status'");
	bad("status --control null", "--control null: 'status' needs a control "
	    "socket to talk to the master");
	bad("status reload", "unexpected argument 'reload' after 'status'");
	bad("stats", "unknown command 'stats' (commands: status, reload, "
	    "upgrade, scale, reopen, stop)");
	bad("-x", "unknown option '-x'");
	bad("-c", "-c needs a file");
}

/* --help wins wherever it stands, and names the command if one is there. */
static void
test_help(void **state)
{
	struct args a;

	(void)state;
	ok("--help", &a);
	assert_int_equal(a.mode, ARGS_HELP);
	assert_null(a.command);
	args_free(&a);
	ok("status --help", &a);
	assert_int_equal(a.mode, ARGS_HELP);
	assert_string_equal(a.command, "status");
	args_free(&a);
	ok("-h scale", &a);
	assert_string_equal(a.command, "scale");
	args_free(&a);
	ok("scale 2x --help", &a);
	assert_int_equal(a.mode, ARGS_HELP);
	args_free(&a);
	ok("--bogus --help", &a);
	assert_int_equal(a.mode, ARGS_HELP);
	args_free(&a);
}

/* The help text: every flag of the configuration, every command and its
 * options, every option of the commands. */
static void
test_help_lists_everything(void **state)
{
	static const char *const must[] = { "--json", "--fast", "--binary PATH",
	    "--timeout SEC", "--control PATH", "-c, --config FILE", "--check",
	    "--version", "status [--json]", "stop [--fast]", "scale N",
	    "reopen", "upgrade [--binary PATH]", "reload", "USR1" };
	struct config_key_info ki;
	char *text = NULL, flag[80];
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(f = open_memstream(&text, &len));
	args_help(f, NULL);
	fclose(f);
	for (size_t i = 0; i < ARRAY_SIZE(must); i++)
		if (strstr(text, must[i]) == NULL)
			fail_msg("--help does not mention %s", must[i]);
	for (size_t i = 0; config_key_info(i, &ki); i++) {
		size_t j;

		if (!ki.flag) {
			if (strstr(text, ki.name) == NULL)
				fail_msg("--help does not name file-only key %s",
				    ki.name);
			continue;
		}
		flag[0] = flag[1] = '-';
		for (j = 0; ki.name[j] != '\0'; j++)
			flag[j + 2] = ki.name[j] == '_' ? '-' : ki.name[j];
		snprintf(flag + j + 2, sizeof(flag) - j - 2, " %s", ki.arg);
		if (strstr(text, flag) == NULL)
			fail_msg("--help does not list %s", flag);
	}
	free(text);

	/* Each command's own help names its options and the common ones. */
	for (size_t i = 0; i < ARRAY_SIZE(args_commands); i++) {
		assert_non_null(f = open_memstream(&text, &len));
		args_help(f, args_commands[i].name);
		fclose(f);
		assert_non_null(strstr(text, args_commands[i].synopsis));
		assert_non_null(strstr(text, "--timeout SEC"));
		assert_non_null(strstr(text, "--control PATH"));
		free(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_and_check),
		cmocka_unit_test(test_command_any_order),
		cmocka_unit_test(test_strict_numbers),
		cmocka_unit_test(test_misplaced_options),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_help_lists_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
