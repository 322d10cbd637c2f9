/*
 * Unit tests for worker/app/registry.c: a route's handler is a built-in
 * one, what it needs of the configuration is there (Redis, for "kv"),
 * and its own keys are then the handler's to check; lookups of built-in
 * names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/app/registry.c"

static int
check(const char *route_text, const struct config *cfg, char *err,
    size_t errlen)
{
	json_t *route = json_loads(route_text, 0, NULL);
	int r;

	assert_non_null(route);
	err[0] = '\0';
	r = registry_check_route(route, cfg, err, errlen);
	json_decref(route);
	return r;
}

static void
test_unknown_handler(void **state)
{
	struct config cfg = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(check("{\"path\": \"/\", \"handler\": \"helo\"}", &cfg,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "\"handler\": unknown handler \"helo\"");
	assert_int_equal(check("{\"path\": \"/\", \"handler\": \"hello\"}", &cfg,
	    err, sizeof(err)), 0);
}

static void
test_kv_needs_redis(void **state)
{
	static const char kv[] = "{\"path\": \"/kv/\", \"match\": \"prefix\", "
	    "\"handler\": \"kv\"}";
	struct config cfg = { 0 };
	char err[256], address[] = "127.0.0.1:6379";

	(void)state;
	assert_int_equal(check(kv, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "\"handler\": handler kv needs Redis: add a "
	    "top-level \"redis\" key, e.g. {\"address\": \"127.0.0.1:6379\"}");
	cfg.redis.address = address;
	assert_int_equal(check(kv, &cfg, err, sizeof(err)), 0);
	/* With Redis there, kv's own checks speak. */
	assert_int_equal(check("{\"path\": \"/kv\", \"match\": \"prefix\", "
	    "\"handler\": \"kv\"}", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"path\": "));
	/* Without a configuration to ask, only the route is checked. */
	assert_int_equal(check(kv, NULL, err, sizeof(err)), 0);
}

static void
test_builtin_lookup(void **state)
{
	(void)state;
	assert_ptr_equal(registry_builtin("kv"), &kv_handler);
	assert_ptr_equal(registry_builtin("metrics"), &metrics_handler);
	assert_null(registry_builtin("nope"));
	assert_null(registry_builtin(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_handler),
		cmocka_unit_test(test_kv_needs_redis),
		cmocka_unit_test(test_builtin_lookup),
	};

	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
