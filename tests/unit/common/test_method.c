/*
 * Unit tests for common/method.c: names and numbers both ways, case
 * sensitivity, and the numbers of Node's http_parser (which shoal used
 * before it had its own parser; modules may have been built against it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <http_parser.h>

#include "common/method.c"

static void
test_both_ways(void **state)
{
	(void)state;
	for (int m = 0; m < METHOD_COUNT; m++) {
		const char *name = method_name(m);

		assert_non_null(name);
		assert_true(strlen(name) <= METHOD_NAME_MAX);
		assert_int_equal(method_lookup(name, strlen(name)), m);
		/* as http_parser numbers them */
		assert_string_equal(name, http_method_str((enum http_method)m));
	}
	assert_null(method_name(-1));
	assert_null(method_name(METHOD_COUNT));
	assert_string_equal(http_method_str((enum http_method)METHOD_COUNT),
	    "<unknown>");
	assert_int_equal(METHOD_GET, HTTP_GET);
	assert_int_equal(METHOD_MSEARCH, HTTP_MSEARCH);
	assert_int_equal(METHOD_SOURCE, HTTP_SOURCE);
}

static void
test_unknown(void **state)
{
	(void)state;
	assert_int_equal(method_lookup("get", 3), -1);
	assert_int_equal(method_lookup("GE", 2), -1);
	assert_int_equal(method_lookup("GETS", 4), -1);
	assert_int_equal(method_lookup("", 0), -1);
	assert_int_equal(method_lookup("POST /", 4), METHOD_POST);
	assert_int_equal(method_lookup("M-SEARCH", 8), METHOD_MSEARCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways),
		cmocka_unit_test(test_unknown),
	};

	return cmocka_run_group_tests_name("method", tests, NULL, NULL);
}
