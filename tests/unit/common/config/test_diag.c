/*
 * Unit tests for common/config/diag.c: the configuration's messages, their
 * locations and names, "did you mean", values described. (config_load's
 * messages as a user sees them are tested in tests/unit/common/
 * test_config.c; these pin the helpers' own contracts.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/diag.c"

#include "common/util.h"

/* A context over text, writing into err. */
#define CTX(text, err) \
	((struct cfg_ctx){ "t.json", (text), strlen(text), (err), sizeof(err) })

static void
test_seterr_and_oneline(void **state)
{
	char err[16] = "untouched";

	(void)state;
	cfg_seterr(err, 0, "%s", "x");
	assert_string_equal(err, "untouched");
	cfg_seterr(err, sizeof(err), "%s", "a message longer than 16");
	assert_string_equal(err, "a message longe");

	snprintf(err, sizeof(err), "a\nb\tc\x7f" "d");
	cfg_oneline(err, sizeof(err));
	assert_string_equal(err, "a?b?c?d");
	/* errlen bounds it, even without a NUL in reach. */
	snprintf(err, sizeof(err), "\n\n\n");
	cfg_oneline(err, 2);
	assert_string_equal(err, "??\n");
}

static void
test_flag(void **state)
{
	char buf[CFG_NAME_MAX + 3], tiny[6];

	(void)state;
	assert_string_equal(cfg_flag("worker_timeout", buf, sizeof(buf)),
	    "--worker-timeout");
	assert_string_equal(cfg_flag("listen", buf, sizeof(buf)), "--listen");
	/* Cut short, never past the buffer. */
	assert_string_equal(cfg_flag("worker_timeout", tiny, sizeof(tiny)),
	    "--wor");
	assert_string_equal(cfg_flag("x", tiny, 2), "");
}

static void
test_describe(void **state)
{
	char buf[80];
	json_t *v;

	(void)state;
	v = json_loads("[{}, [], [1], \"a\\\"b\", 42, 2.5, true, false, null]",
	    0, NULL);
	assert_non_null(v);
	assert_string_equal(cfg_describe(json_array_get(v, 0), buf,
	    sizeof(buf)), "an object");
	assert_string_equal(cfg_describe(json_array_get(v, 1), buf,
	    sizeof(buf)), "an empty array");
	assert_string_equal(cfg_describe(json_array_get(v, 2), buf,
	    sizeof(buf)), "an array");
	assert_string_equal(cfg_describe(json_array_get(v, 3), buf,
	    sizeof(buf)), "\"a\\\"b\"");
	assert_string_equal(cfg_describe(json_array_get(v, 4), buf,
	    sizeof(buf)), "42");
	assert_string_equal(cfg_describe(json_array_get(v, 5), buf,
	    sizeof(buf)), "2.5");
	assert_string_equal(cfg_describe(json_array_get(v, 6), buf,
	    sizeof(buf)), "true");
	assert_string_equal(cfg_describe(json_array_get(v, 7), buf,
	    sizeof(buf)), "false");
	assert_string_equal(cfg_describe(json_array_get(v, 8), buf,
	    sizeof(buf)), "null");
	json_decref(v);
}

static void
test_num(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(cfg_num(1048576, buf, sizeof(buf)), "1048576");
	assert_string_equal(cfg_num(1099511627776.0, buf, sizeof(buf)),
	    "1099511627776");
	assert_string_equal(cfg_num(0.01, buf, sizeof(buf)), "0.01");
	assert_string_equal(cfg_num(-3, buf, sizeof(buf)), "-3");
	assert_string_equal(cfg_num(1e20, buf, sizeof(buf)), "1e+20");
}

static void
test_nearest(void **state)
{
	static const char *const names[] = { "address", "mode", "owner",
	    "group" };
	static const char *const twins[] = { "abc", "abd" };
	char buf[CFG_NAME_MAX + 40], long_name[CFG_NAME_MAX + 2];

	(void)state;
	assert_string_equal(cfg_nearest("adress", names, ARRAY_SIZE(names)),
	    "address");
	assert_string_equal(cfg_nearest("grop", names, ARRAY_SIZE(names)),
	    "group");
	assert_string_equal(cfg_nearest("mdoe", names, ARRAY_SIZE(names)),
	    "mode");
	/* Three edits is too far; nothing is near in an empty list. */
	assert_null(cfg_nearest("xyz", names, ARRAY_SIZE(names)));
	assert_null(cfg_nearest("mode", names, 0));
	/* A tie goes to the first. */
	assert_string_equal(cfg_nearest("abx", twins, ARRAY_SIZE(twins)), "abc");
	/* Past CFG_NAME_MAX nothing is near, not even itself. */
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(cfg_distance(long_name, long_name), CFG_NAME_MAX + 1);

	assert_string_equal(cfg_did_you_mean("ownr", names, ARRAY_SIZE(names),
	    buf, sizeof(buf)), "; did you mean \"owner\"?");
	assert_string_equal(cfg_did_you_mean("colour", names, ARRAY_SIZE(names),
	    buf, sizeof(buf)), "");
	assert_string_equal(cfg_did_you_mean("ownr", names, ARRAY_SIZE(names),
	    buf, 0), "");
}

static void
test_path_name_and_where(void **state)
{
	static const char text[] = "{\n  \"routes\": [\n    {\"path\": \"/\"},\n"
	    "    {\"methods\": [\"GET\", \"PUT\"]}\n  ]\n}\n";
	struct config_step path[4] = {
		{ "routes", 0 }, { NULL, 1 }, { "methods", 0 }, { NULL, 1 },
	};
	struct config_step missing[1] = { { "workers", 0 } };
	char buf[64], err[8], *where;
	struct cfg_ctx c = CTX(text, err);

	(void)state;
	assert_string_equal(cfg_path_name(path, 4, buf, sizeof(buf)),
	    "routes[1].methods[1]");
	assert_string_equal(cfg_path_name(path, 2, buf, sizeof(buf)),
	    "routes[1]");
	assert_string_equal(cfg_path_name(path, 0, buf, sizeof(buf)), "");
	/* Cut short, never past the buffer. */
	assert_string_equal(cfg_path_name(path, 4, buf, 10), "routes[1]");

	assert_non_null(where = cfg_where(&c, path, 2));
	assert_string_equal(where, "t.json:4:5");
	free(where);
	assert_non_null(where = cfg_where(&c, path, 4));
	assert_string_equal(where, "t.json:4:25");
	free(where);
	/* Not in the text: the source alone. */
	assert_non_null(where = cfg_where(&c, missing, 1));
	assert_string_equal(where, "t.json");
	free(where);
}

static void
test_fail_at(void **state)
{
	static const char text[] = "{\"a\": {\"b\": 1}}";
	struct config_step path[2] = { { "a", 0 }, { "b", 0 } };
	struct config_step missing[1] = { { "z", 0 } };
	char err[128], big[1024], msg[600];
	struct cfg_ctx c = CTX(text, err);

	(void)state;
	assert_int_equal(cfg_fail_at(&c, path, 2, "a.b", "bad %d", 7), -1);
	assert_string_equal(err, "t.json:1:8: a.b: bad 7");
	/* No "what": the message follows the location. */
	assert_int_equal(cfg_fail_at(&c, path, 1, NULL, "unknown"), -1);
	assert_string_equal(err, "t.json:1:2: unknown");
	assert_int_equal(cfg_fail_at(&c, NULL, 0, NULL, "top"), -1);
	assert_string_equal(err, "t.json:1:1: top");
	/* Not found: no position. */
	assert_int_equal(cfg_fail_at(&c, missing, 1, "z", "gone"), -1);
	assert_string_equal(err, "t.json: z: gone");
	assert_int_equal(cfg_fail_at(&c, missing, 1, NULL, "gone"), -1);
	assert_string_equal(err, "t.json: gone");

	/* The message is cut at 511 bytes wherever it is written. */
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	c = CTX(text, big);
	cfg_fail_at(&c, path, 1, "a", "%s", msg);
	assert_int_equal(strlen(big), strlen("t.json:1:2: a: ") + 511);
}

/* cfg_vfail_path through a variadic front, as the checkers write it. */
static int
fail_path(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail_path(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cfg_vfail_path(c, path, depth, fmt, ap);
	va_end(ap);
	return r;
}

static void
test_vfail_path(void **state)
{
	static const char text[] = "{\"routes\": [{\"path\": 5}]}";
	struct config_step path[3] = {
		{ "routes", 0 }, { NULL, 0 }, { "path", 0 },
	};
	char err[128];
	struct cfg_ctx c = CTX(text, err);

	(void)state;
	assert_int_equal(fail_path(&c, path, 3, "expected %s", "a path"), -1);
	assert_string_equal(err, "t.json:1:14: routes[0].path: expected a path");
	assert_int_equal(fail_path(&c, path, 2, "missing"), -1);
	assert_string_equal(err, "t.json:1:13: routes[0]: missing");
}

static void
test_fail_by_source(void **state)
{
	static const char text[] = "{\n  \"listen\": [\"a\", {\"mode\": 1}]\n}";
	static const struct cfg_key k = { .name = "listen", .kind = CFG_LIST };
	static const struct cfg_key wt = { .name = "worker_timeout",
	    .kind = CFG_SECONDS };
	struct config_step sub[2] = { { NULL, 1 }, { "mode", 0 } };
	char err[128];
	struct cfg_ctx c = CTX(text, err);

	(void)state;
	/* From the file: located at the key, or at its element. */
	assert_int_equal(cfg_fail(&c, &k, CFG_FROM_FILE, -1, "x %s", "y"), -1);
	assert_string_equal(err, "t.json:2:3: \"listen\": x y");
	assert_int_equal(cfg_fail(&c, &k, CFG_FROM_FILE, 1, "x"), -1);
	assert_string_equal(err, "t.json:2:19: \"listen\": x");
	/* Inside an element, the same name. */
	assert_int_equal(cfg_fail_in(&c, &k, CFG_FROM_FILE, sub, 2, "\"mode\": "
	    "bad"), -1);
	assert_string_equal(err, "t.json:2:20: \"listen\": \"mode\": bad");
	/* From a flag, or the built-in default: named, never located. */
	assert_int_equal(cfg_fail_in(&c, &wt, CFG_FROM_FLAG, sub, 2, "x"), -1);
	assert_string_equal(err, "--worker-timeout: x");
	assert_int_equal(cfg_fail(&c, &k, CFG_FROM_BUILTIN, 1, "x"), -1);
	assert_string_equal(err, "(built-in default): \"listen\": x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seterr_and_oneline),
		cmocka_unit_test(test_flag),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_num),
		cmocka_unit_test(test_nearest),
		cmocka_unit_test(test_path_name_and_where),
		cmocka_unit_test(test_fail_at),
		cmocka_unit_test(test_vfail_path),
		cmocka_unit_test(test_fail_by_source),
	};

	return cmocka_run_group_tests_name("config/diag", tests, NULL, NULL);
}
