/*
 * Unit tests for common/config/channels.c, the "channels" key, through
 * config_load: the defaults, every member, and the errors that tie them
 * together, each naming the member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/channels.c"

#include "fixture.h"

static void
test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{}");
	assert_int_equal(cfg.channels.history, 100);
	assert_int_equal(cfg.channels.history_bytes, 1048576);
	assert_int_equal(cfg.channels.memory, 67108864);
	assert_int_equal(cfg.channels.queue, 1048576);
	assert_int_equal(cfg.channels.slow, CHANNEL_SLOW_CLOSE);
	assert_int_equal(cfg.channels.max_message, 65536);
	assert_true(cfg.channels.keepalive == 30);
	assert_string_equal(cfg.channels.redis_prefix, "shoal:");
	config_free(&cfg);
}

static void
test_members(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{\"channels\": {\"history\": 0, \"history_bytes\": 0, "
	    "\"memory\": \"1G\", \"queue\": \"2K\", \"slow\": \"drop\", "
	    "\"max_message\": \"2K\", \"keepalive\": 0, "
	    "\"redis_prefix\": \"app/\"}}");
	assert_int_equal(cfg.channels.history, 0);
	assert_int_equal(cfg.channels.memory, 1073741824);
	assert_int_equal(cfg.channels.queue, 2048);
	assert_int_equal(cfg.channels.slow, CHANNEL_SLOW_DROP);
	assert_int_equal(cfg.channels.max_message, 2048);
	assert_true(cfg.channels.keepalive == 0);
	assert_string_equal(cfg.channels.redis_prefix, "app/");
	config_free(&cfg);
	/* The largest message a relay datagram carries. */
	load_ok(&cfg, "{\"channels\": {\"max_message\": \"128K\"}}");
	assert_int_equal(cfg.channels.max_message, 131072);
	config_free(&cfg);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("{\"channels\": []}", "shoal.json:1:2: \"channels\": "
	    "expected an object, got an empty array");
	expect_error("{\"channels\": {\"queue\": 1000}}", "shoal.json:1:15: "
	    "\"channels\": \"queue\": expected a number of bytes from 1024 to "
	    "1073741824, as digits with an optional K, M or G (\"512M\"), got "
	    "1000");
	expect_error("{\"channels\": {\"max_message\": \"4K\", \"queue\": "
	    "\"2K\"}}", "shoal.json:1:36: \"channels\": \"queue\": expected at "
	    "least max_message (4096), got 2048");
	expect_error("{\"channels\": {\"max_message\": \"64K\", "
	    "\"history_bytes\": \"1K\"}}", "shoal.json:1:37: \"channels\": "
	    "\"history_bytes\": expected at least max_message (65536) while "
	    "history is on, got 1024");
	expect_error("{\"channels\": {\"memory\": \"64K\"}}", "shoal.json:1:15: "
	    "\"channels\": \"memory\": expected at least history_bytes "
	    "(1048576), got 65536");
	expect_error("{\"channels\": {\"slow\": \"wait\"}}", "shoal.json:1:15: "
	    "\"channels\": \"slow\": expected \"close\" or \"drop\", got \"wait\"");
	expect_error("{\"channels\": {\"redis_prefix\": \"\"}}", "shoal.json:1:15: "
	    "\"channels\": \"redis_prefix\": expected a name or null, got \"\"");
	expect_error("{\"channels\": {\"redis_prefix\": null}}", "shoal.json:1:15: "
	    "\"channels\": \"redis_prefix\": expected a non-empty string");
	expect_error("{\"channels\": {\"histroy\": 1}}", "shoal.json:1:15: "
	    "\"channels\": unknown key \"histroy\"; did you mean \"history\"?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("config/channels", tests, group_setup,
	    group_teardown);
}
