/*
 * Unit tests for common/config/redis.c, the "redis" key, through
 * config_load: absent (no Redis), the address forms and their
 * normalisation, the defaults, every refusal with its location, and that
 * nothing leaks on the way out (ASan's leak check, in the sanitizer run).
 *
 * The files are written to a mkdtemp directory (chdir'd into, so the
 * messages read "shoal.json:1:12: ..."), removed by the teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/redis.c"

#include "fixture.h"

static void
test_absent_is_no_redis(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{\"workers\": 1}");
	assert_null(cfg.redis.address);
	config_free(&cfg);
}

static void
test_defaults_and_forms(void **state)
{
	static const struct {
		const char *in, *out;
	} forms[] = {
		{ "127.0.0.1:6379", "127.0.0.1:6379" },
		{ "[::1]:6380", "[::1]:6380" },
		{ "[0:0::1]:6380", "[::1]:6380" },
		{ "unix:/run/redis/redis.sock", "unix:/run/redis/redis.sock" },
	};
	struct config cfg;
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), "{\"redis\": {\"address\": \"%s\"}}",
		    forms[i].in);
		load_ok(&cfg, text);
		assert_string_equal(cfg.redis.address, forms[i].out);
		assert_true(cfg.redis.connect_timeout == 1);
		assert_true(cfg.redis.command_timeout == 1);
		assert_true(cfg.redis.reconnect_min == 0.1);
		assert_true(cfg.redis.reconnect_max == 2);
		config_free(&cfg);
	}
	load_ok(&cfg, "{\"redis\": {\"address\": \"127.0.0.1:1\", "
	    "\"connect_timeout\": 0.5, \"command_timeout\": 0.25, "
	    "\"reconnect_min\": 0.2, \"reconnect_max\": 0.2}}");
	assert_true(cfg.redis.connect_timeout == 0.5);
	assert_true(cfg.redis.command_timeout == 0.25);
	assert_true(cfg.redis.reconnect_min == 0.2);
	assert_true(cfg.redis.reconnect_max == 0.2);
	config_free(&cfg);
}

static void
test_refusals_are_located(void **state)
{
	(void)state;
	expect_error("{\"redis\": {}}", "shoal.json:1:2: \"redis\": missing "
	    "\"address\" (expected \"host:port\", \"[v6]:port\" or "
	    "\"unix:/path\")");
	expect_error("{\"redis\": \"127.0.0.1:6379\"}", "shoal.json:1:2: "
	    "\"redis\": expected an object, got \"127.0.0.1:6379\"");
	expect_error("{\"redis\": {\"address\": 6379}}", "shoal.json:1:12: "
	    "\"redis\": \"address\": expected \"host:port\", \"[v6]:port\" or "
	    "\"unix:/path\", got 6379");
	expect_error("{\"redis\": {\"address\": null}}", "shoal.json:1:12: "
	    "\"redis\": \"address\": expected \"host:port\", \"[v6]:port\" or "
	    "\"unix:/path\", got null");
	expect_error("{\"redis\": {\"address\": \"\"}}", "shoal.json:1:12: "
	    "\"redis\": \"address\": expected \"host:port\", \"[v6]:port\" or "
	    "\"unix:/path\", got \"\"");
	expect_error("{\"redis\": {\"address\": \"*:6379\"}}", "shoal.json:1:12: "
	    "\"redis\": \"address\": expected \"host:port\", \"[v6]:port\" or "
	    "\"unix:/path\" of the server, not a wildcard, got \"*:6379\"");
	expect_error("{\"redis\": {\"address\": \"0.0.0.0:6379\"}}",
	    "shoal.json:1:12: \"redis\": \"address\": expected \"host:port\", "
	    "\"[v6]:port\" or \"unix:/path\" of the server, not a wildcard, "
	    "got \"0.0.0.0:6379\"");
	expect_error("{\"redis\": {\"address\": \"127.0.0.1\"}}", "shoal.json:1:12: "
	    "\"redis\": \"address\": missing port; expected host:port, "
	    "[v6]:port, *:port or unix:/path");
	expect_error("{\"redis\": {\"address\": \"unix:r.sock\"}}",
	    "shoal.json:1:12: \"redis\": \"address\": unix socket path must be "
	    "absolute, e.g. unix:/run/shoal.sock");
	expect_error("{\"redis\": {\"adress\": \"127.0.0.1:6379\"}}",
	    "shoal.json:1:12: \"redis\": unknown key \"adress\"; did you mean "
	    "\"address\"?");
	expect_error("{\"redis\": {\"address\": \"127.0.0.1:6379\", "
	    "\"command_timeout\": 0}}", "shoal.json:1:41: \"redis\": "
	    "\"command_timeout\": expected a number of seconds from 0.01 to "
	    "3600, got 0");
	/* The floor above the cap: blamed on the one that was set. */
	expect_error("{\"redis\": {\"address\": \"127.0.0.1:6379\", "
	    "\"reconnect_min\": 5}}", "shoal.json:1:41: \"redis\": "
	    "\"reconnect_min\": expected at most reconnect_max (2), got 5");
	expect_error("{\"redis\": {\"address\": \"127.0.0.1:6379\", "
	    "\"reconnect_min\": 1, \"reconnect_max\": 0.5}}", "shoal.json:1:61: "
	    "\"redis\": \"reconnect_max\": expected at least reconnect_min (1), "
	    "got 0.5");
}

static void
test_not_a_flag(void **state)
{
	json_t *ovr = json_object();
	char err[256];

	(void)state;
	assert_int_equal(config_override(ovr, "redis", "127.0.0.1:6379", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--redis: redis can only be set in a config "
	    "file");
	json_decref(ovr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_is_no_redis),
		cmocka_unit_test(test_defaults_and_forms),
		cmocka_unit_test(test_refusals_are_located),
		cmocka_unit_test(test_not_a_flag),
	};

	return cmocka_run_group_tests_name("config/redis", tests, group_setup,
	    group_teardown);
}
