/*
 * Unit tests for common/config/value.c: the scalar kinds and their
 * defaults, objects of scalars (CFG_OBJECT), the opening of array keys
 * (cfg_array), unknown members, and freeing by the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/value.c"

#include "common/util.h"

#define CTX(text, err) \
	((struct cfg_ctx){ "t.json", (text), strlen(text), (err), sizeof(err) })

/* The value of key name in the JSON object text (a new reference). */
static json_t *
value_of(const char *text, const char *name)
{
	json_t *root = json_loads(text, 0, NULL), *v;

	assert_non_null(root);
	v = json_incref(json_object_get(root, name));
	json_decref(root);
	return v;
}

static void
test_integer(void **state)
{
	long long n = -1;
	json_t *v;

	(void)state;
	assert_true(cfg_integer(v = json_integer(4), &n));
	assert_int_equal(n, 4);
	json_decref(v);
	assert_true(cfg_integer(v = json_real(4.0), &n));
	assert_int_equal(n, 4);
	json_decref(v);
	n = -1;
	assert_false(cfg_integer(v = json_real(4.5), &n));
	json_decref(v);
	assert_false(cfg_integer(v = json_real(1e16), &n));
	json_decref(v);
	assert_false(cfg_integer(v = json_string("4"), &n));
	json_decref(v);
	assert_int_equal(n, -1);
}

struct sample {
	int i;
	size_t z;
	double s;
	int workers;
	char *path;
	int level;
};

#define S_OFF(m) offsetof(struct sample, m)

static const struct cfg_key s_int = { .name = "i", .kind = CFG_INT,
    .offset = S_OFF(i), .min = -2, .max = 64, .def = 2 };
static const struct cfg_key s_size = { .name = "z", .kind = CFG_SIZE,
    .offset = S_OFF(z), .min = 0, .max = 1099511627776.0, .def = 1048576 };
static const struct cfg_key s_secs = { .name = "s", .kind = CFG_SECONDS,
    .offset = S_OFF(s), .min = 0.01, .max = 60, .def = 0.1 };
static const struct cfg_key s_auto = { .name = "workers",
    .kind = CFG_AUTO_INT, .offset = S_OFF(workers), .min = 1, .max = 512,
    .defstr = "auto" };
static const struct cfg_key s_path = { .name = "path", .kind = CFG_PATH,
    .offset = S_OFF(path), .defstr = "/tmp/x.sock" };
static const struct cfg_key s_name = { .name = "user", .kind = CFG_STRING,
    .offset = S_OFF(path) };
static const struct cfg_key s_bytes = { .name = "max_memory",
    .kind = CFG_BYTES, .offset = S_OFF(z), .min = 0,
    .max = 1099511627776.0, .def = 0 };
static const struct cfg_key s_level = { .name = "level",
    .kind = CFG_LOG_LEVEL, .offset = S_OFF(level), .defstr = "info" };
static const struct cfg_key s_choice = { .name = "format",
    .kind = CFG_CHOICE, .offset = S_OFF(level), .defstr = "common",
    .choices = (const char *const[]){ "common", "combined", "json", NULL } };
static const struct cfg_key s_pair = { .name = "pair",
    .kind = CFG_CHOICE, .offset = S_OFF(level), .defstr = "a",
    .choices = (const char *const[]){ "a", "b", NULL } };

/* Check text (JSON) against k into s: the reason, or "" if it passed. */
static const char *
scalar(const struct cfg_key *k, const char *text, struct sample *s)
{
	static char why[256];
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	why[0] = '\0';
	if (cfg_scalar(k, v, s, why, sizeof(why)) == -1)
		assert_true(why[0] != '\0');
	else
		assert_string_equal(why, "");
	json_decref(v);
	return why;
}

static void
test_scalar(void **state)
{
	static const struct cfg_key list = { .name = "l", .kind = CFG_LIST };
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_string_equal(scalar(&s_int, "-2", &s), "");
	assert_int_equal(s.i, -2);
	assert_string_equal(scalar(&s_int, "64.0", &s), "");
	assert_int_equal(s.i, 64);
	assert_string_equal(scalar(&s_int, "65", &s), "expected an integer "
	    "from -2 to 64, got 65");
	assert_string_equal(scalar(&s_int, "1.5", &s), "expected an integer "
	    "from -2 to 64, got 1.5");
	assert_int_equal(s.i, 64);

	assert_string_equal(scalar(&s_size, "1099511627776", &s), "");
	assert_true(s.z == 1099511627776ull);
	assert_string_equal(scalar(&s_size, "-1", &s), "expected an integer "
	    "from 0 to 1099511627776, got -1");

	assert_string_equal(scalar(&s_secs, "0.01", &s), "");
	assert_true(s.s == 0.01);
	assert_string_equal(scalar(&s_secs, "60", &s), "");
	assert_true(s.s == 60);
	assert_string_equal(scalar(&s_secs, "\"soon\"", &s), "expected a "
	    "number of seconds from 0.01 to 60, got \"soon\"");

	assert_string_equal(scalar(&s_auto, "\"auto\"", &s), "");
	assert_int_equal(s.workers, 0);
	assert_string_equal(scalar(&s_auto, "4", &s), "");
	assert_int_equal(s.workers, 4);
	assert_string_equal(scalar(&s_auto, "0", &s), "expected \"auto\" or "
	    "an integer from 1 to 512, got 0");
	assert_string_equal(scalar(&s_auto, "\"Auto\"", &s), "expected "
	    "\"auto\" or an integer from 1 to 512, got \"Auto\"");

	assert_string_equal(scalar(&s_path, "\"/run/a\"", &s), "");
	assert_string_equal(s.path, "/run/a");
	free(s.path);
	assert_string_equal(scalar(&s_path, "null", &s), "");
	assert_null(s.path);
	assert_string_equal(scalar(&s_path, "\"\"", &s), "expected a file "
	    "name or null, got \"\"");
	assert_null(s.path);

	assert_string_equal(scalar(&s_level, "\"debug\"", &s), "");
	assert_int_equal(s.level, LOGL_DEBUG);
	assert_string_equal(scalar(&s_level, "3", &s), "expected \"error\", "
	    "\"warn\", \"notice\", \"info\" or \"debug\", got 3");

	/* A choice: its index; the message lists them all. */
	assert_string_equal(scalar(&s_choice, "\"json\"", &s), "");
	assert_int_equal(s.level, 2);
	assert_string_equal(scalar(&s_choice, "\"common\"", &s), "");
	assert_int_equal(s.level, 0);
	assert_string_equal(scalar(&s_choice, "\"JSON\"", &s), "expected "
	    "\"common\", \"combined\" or \"json\", got \"JSON\"");
	assert_string_equal(scalar(&s_choice, "1", &s), "expected "
	    "\"common\", \"combined\" or \"json\", got 1");
	assert_string_equal(scalar(&s_pair, "null", &s), "expected \"a\" or "
	    "\"b\", got null");

	/* Not a scalar: a bug in a table, said rather than ignored. */
	{
		char want[32];

		snprintf(want, sizeof(want), "unhandled kind %d", (int)CFG_LIST);
		assert_string_equal(scalar(&list, "1", &s), want);
	}
}

/* CFG_BYTES: digits, one suffix K/M/G (powers of 1024), nothing else. */
static void
test_bytes(void **state)
{
	static const char *const bad[] = { "\"12MB\"", "\"1.5G\"", "\"-1\"",
	    "\"\"", "\" 12M\"", "\"12M \"", "\"M\"", "\"12T\"", "\"0x10\"",
	    "-1", "1.5", "true", "null", "\"2048G\"",
	    "\"99999999999999999999K\"" };
	struct sample s;
	long long n;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_string_equal(scalar(&s_bytes, "0", &s), "");
	assert_true(s.z == 0);
	assert_string_equal(scalar(&s_bytes, "4096", &s), "");
	assert_true(s.z == 4096);
	assert_string_equal(scalar(&s_bytes, "\"4096\"", &s), "");
	assert_true(s.z == 4096);
	assert_string_equal(scalar(&s_bytes, "\"64K\"", &s), "");
	assert_true(s.z == 65536);
	assert_string_equal(scalar(&s_bytes, "\"512m\"", &s), "");
	assert_true(s.z == 512ull << 20);
	assert_string_equal(scalar(&s_bytes, "\"2G\"", &s), "");
	assert_true(s.z == 2ull << 30);
	assert_string_equal(scalar(&s_bytes, "\"1024G\"", &s), "");
	assert_true(s.z == 1099511627776ull);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		s.z = 7;
		if (strcmp(scalar(&s_bytes, bad[i], &s), "") == 0)
			fail_msg("%s was accepted as bytes", bad[i]);
		assert_true(s.z == 7);
	}
	assert_string_equal(scalar(&s_bytes, "\"12MB\"", &s), "expected a "
	    "number of bytes from 0 to 1099511627776, as digits with an "
	    "optional K, M or G (\"512M\"), got \"12MB\"");
	{
		json_t *v = json_string("3k");

		assert_int_equal(cfg_bytes(v, &n), 0);
		assert_true(n == 3072);
		json_decref(v);
	}
}

/* CFG_STRING: as CFG_PATH, but the message speaks of a name. */
static void
test_string(void **state)
{
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_string_equal(scalar(&s_name, "\"nobody\"", &s), "");
	assert_string_equal(s.path, "nobody");
	free(s.path);
	assert_string_equal(scalar(&s_name, "null", &s), "");
	assert_null(s.path);
	assert_string_equal(scalar(&s_name, "7", &s), "expected a name or "
	    "null, got 7");
}

static void
test_default_value(void **state)
{
	static const struct cfg_key none = { .name = "n", .kind = CFG_LIST };
	static const struct cfg_key one = { .name = "o", .kind = CFG_LIST,
	    .defstr = "127.0.0.1:80" };
	static const struct cfg_key st = { .name = "st", .kind = CFG_STRUCT,
	    .defstr = "[{\"a\": 1}]" };
	static const struct cfg_key bare = { .name = "b", .kind = CFG_STRUCT };
	static const struct cfg_key obj = { .name = "ob", .kind = CFG_OBJECT };
	static const struct cfg_key nopath = { .name = "p", .kind = CFG_PATH };
	json_t *v;

	(void)state;
	v = cfg_default_value(&s_int);
	assert_int_equal(json_integer_value(v), 2);
	json_decref(v);
	v = cfg_default_value(&s_size);
	assert_int_equal(json_integer_value(v), 1048576);
	json_decref(v);
	v = cfg_default_value(&s_secs);
	assert_true(json_is_real(v));
	assert_true(json_real_value(v) == 0.1);
	json_decref(v);
	v = cfg_default_value(&s_auto);
	assert_string_equal(json_string_value(v), "auto");
	json_decref(v);
	v = cfg_default_value(&s_path);
	assert_string_equal(json_string_value(v), "/tmp/x.sock");
	json_decref(v);
	v = cfg_default_value(&nopath);
	assert_true(json_is_null(v));
	json_decref(v);
	v = cfg_default_value(&s_level);
	assert_string_equal(json_string_value(v), "info");
	json_decref(v);
	v = cfg_default_value(&none);
	assert_true(json_is_array(v));
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	v = cfg_default_value(&one);
	assert_string_equal(json_string_value(v), "127.0.0.1:80");
	json_decref(v);
	/* A structured key's defstr is JSON text. */
	v = cfg_default_value(&st);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(v,
	    0), "a")), 1);
	json_decref(v);
	v = cfg_default_value(&bare);
	assert_true(json_is_null(v));
	json_decref(v);
	v = cfg_default_value(&obj);
	assert_true(json_is_object(v));
	assert_int_equal(json_object_size(v), 0);
	json_decref(v);
}

/* Every default checks against its own row. */
static void
test_defaults_pass(void **state)
{
	const struct cfg_key *rows[] = { &s_int, &s_size, &s_secs, &s_auto,
	    &s_path, &s_level };
	char why[256];
	struct sample s;
	json_t *v;
	size_t i;

	(void)state;
	memset(&s, 0, sizeof(s));
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		v = cfg_default_value(rows[i]);
		assert_int_equal(cfg_scalar(rows[i], v, &s, why, sizeof(why)), 0);
		json_decref(v);
	}
	assert_int_equal(s.i, 2);
	assert_true(s.s == 0.1);
	assert_int_equal(s.workers, 0);
	assert_string_equal(s.path, "/tmp/x.sock");
	assert_int_equal(s.level, LOGL_INFO);
	free(s.path);
}

/* An object key over struct config's HTTP limits, as a later "http": {...}
 * would be; its last member's default is out of its range on purpose. */
static const struct cfg_key http_members[] = {
	{ .name = "max_headers", .kind = CFG_SIZE,
	  .offset = offsetof(struct http_limits, max_headers), .min = 1,
	  .max = 10000, .def = 100 },
	{ .name = "header_timeout", .kind = CFG_SECONDS,
	  .offset = offsetof(struct http_limits, header_timeout), .min = 0.1,
	  .max = 3600, .def = 10 },
	{ .name = "max_connections", .kind = CFG_SIZE,
	  .offset = offsetof(struct http_limits, max_connections), .min = 1,
	  .max = 5, .def = 0 },
};
static const struct cfg_key http_key = { .name = "http",
    .kind = CFG_OBJECT, .offset = offsetof(struct config, http),
    .members = http_members, .nmembers = ARRAY_SIZE(http_members) };

/* Apply http_key (all but its bad-default member unless all) to "http"
 * in text; the error in err. */
static int
apply_http(const char *text, struct config *cfg, char *err, size_t errlen,
    bool all)
{
	struct cfg_key k = http_key;
	struct cfg_ctx c = { "t.json", text, strlen(text), err, errlen };
	json_t *v = value_of(text, "http");
	int r;

	if (!all)
		k.nmembers--;
	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	r = cfg_apply_object(&c, cfg, &k, v, CFG_FROM_FILE);
	json_decref(v);
	return r;
}

static void
test_object(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(apply_http("{\"http\": {\"max_headers\": 5}}", &cfg,
	    err, sizeof(err), false), 0);
	assert_int_equal(cfg.http.max_headers, 5);
	assert_true(cfg.http.header_timeout == 10);     /* the default */
	assert_int_equal(apply_http("{\"http\": {}}", &cfg, err, sizeof(err),
	    false), 0);
	assert_int_equal(cfg.http.max_headers, 100);

	assert_int_equal(apply_http("{\"http\": 5}", &cfg, err, sizeof(err),
	    false), -1);
	assert_string_equal(err, "t.json:1:2: \"http\": expected an object, "
	    "got 5");
	assert_int_equal(apply_http("{\"http\": {\"header_timeout\": 1,\n"
	    "  \"max_header\": 5}}", &cfg, err, sizeof(err), false), -1);
	assert_string_equal(err, "t.json:2:3: \"http\": unknown key "
	    "\"max_header\"; did you mean \"max_headers\"?");
	assert_int_equal(apply_http("{\"http\": {\"colour\": 5}}", &cfg, err,
	    sizeof(err), false), -1);
	assert_string_equal(err, "t.json:1:11: \"http\": unknown key "
	    "\"colour\"");
	assert_int_equal(apply_http("{\"http\": {\"max_headers\": 0}}", &cfg,
	    err, sizeof(err), false), -1);
	assert_string_equal(err, "t.json:1:11: \"http\": \"max_headers\": "
	    "expected an integer from 1 to 10000, got 0");
	/* A member's default is checked like a value, and named as one. */
	assert_int_equal(apply_http("{\"http\": {}}", &cfg, err, sizeof(err),
	    true), -1);
	assert_string_equal(err, "(built-in default): \"http\": "
	    "\"max_connections\": expected an integer from 1 to 5, got 0");
}

/* A member table too long for "did you mean" is refused, not cut. */
static void
test_object_too_many_members(void **state)
{
	static struct cfg_key members[CFG_MEMBERS_MAX + 1];
	const struct cfg_key k = { .name = "big", .kind = CFG_OBJECT,
	    .members = members, .nmembers = ARRAY_SIZE(members) };
	char err[256];
	struct cfg_ctx c = CTX("{\"big\": {}}", err);
	struct config cfg;
	json_t *v = json_object();

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(cfg_apply_object(&c, &cfg, &k, v, CFG_FROM_FILE), -1);
	assert_string_equal(err, "t.json:1:2: \"big\": 33 members, more than "
	    "the 32 an object key may have");
	json_decref(v);
}

static bool
lone_string(const json_t *v)
{
	return json_is_string(v);
}

/* cfg_array over the value of "k" in text, for a row of min..max. */
static int
array(const char *text, double min, double max, bool (*lone)(const json_t *),
    char *err, size_t errlen, size_t *n, int **out)
{
	const struct cfg_key k = { .name = "k", .kind = CFG_STRUCT, .min = min,
	    .max = max };
	const struct cfg_array_of of = { "an array of widgets", "widget",
	    "widgets", sizeof(int), lone };
	struct cfg_ctx c = { "t.json", text, strlen(text), err, errlen };
	json_t *v = value_of(text, "k");
	void *all = (void *)&c;         /* anything: it must be overwritten */
	int r;

	err[0] = '\0';
	r = cfg_array(&c, &k, CFG_FROM_FILE, v, &of, &all, n);
	json_decref(v);
	*out = all;
	return r;
}

static void
test_array(void **state)
{
	char err[256];
	size_t n;
	int *all;

	(void)state;
	assert_int_equal(array("{\"k\": [1, 2, 3]}", 1, 3, NULL, err,
	    sizeof(err), &n, &all), 0);
	assert_int_equal(n, 3);
	assert_non_null(all);
	/* Zeroed, for config_free to free what is not filled yet. */
	assert_int_equal(all[0] | all[1] | all[2], 0);
	free(all);
	/* None: no allocation. */
	assert_int_equal(array("{\"k\": []}", 0, 3, NULL, err, sizeof(err), &n,
	    &all), 0);
	assert_int_equal(n, 0);
	assert_null(all);
	/* A lone element, where the key allows one. */
	assert_int_equal(array("{\"k\": \"w\"}", 1, 3, lone_string, err,
	    sizeof(err), &n, &all), 0);
	assert_int_equal(n, 1);
	free(all);

	assert_int_equal(array("{\"k\": \"w\"}", 1, 3, NULL, err, sizeof(err),
	    &n, &all), -1);
	assert_null(all);
	assert_string_equal(err, "t.json:1:2: \"k\": expected an array of "
	    "widgets, got \"w\"");
	assert_int_equal(array("{\"k\": 5}", 1, 3, lone_string, err,
	    sizeof(err), &n, &all), -1);
	assert_string_equal(err, "t.json:1:2: \"k\": expected an array of "
	    "widgets, got 5");
	assert_int_equal(array("{\"k\": []}", 1, 3, NULL, err, sizeof(err), &n,
	    &all), -1);
	assert_string_equal(err, "t.json:1:2: \"k\": expected at least one "
	    "widget, got an empty array");
	assert_int_equal(array("{\"k\": [1]}", 2, 3, NULL, err, sizeof(err), &n,
	    &all), -1);
	assert_string_equal(err, "t.json:1:2: \"k\": expected at least 2 "
	    "widgets, got 1");
	assert_int_equal(array("{\"k\": [1, 2, 3, 4]}", 0, 3, NULL, err,
	    sizeof(err), &n, &all), -1);
	assert_null(all);
	assert_string_equal(err, "t.json:1:2: \"k\": expected at most 3 "
	    "widgets, got 4");
}

static void
test_unknown_member(void **state)
{
	static const char *const names[] = { "name", "path", "config" };
	json_t *o;

	(void)state;
	o = json_loads("{\"name\": 1, \"path\": 2}", 0, NULL);
	assert_null(cfg_unknown_member(o, names, ARRAY_SIZE(names)));
	json_decref(o);
	o = json_loads("{\"name\": 1, \"pth\": 2}", 0, NULL);
	assert_string_equal(cfg_unknown_member(o, names, ARRAY_SIZE(names)),
	    "pth");
	/* With no names, every member is unknown. */
	assert_non_null(cfg_unknown_member(o, names, 0));
	json_decref(o);
	o = json_object();
	assert_null(cfg_unknown_member(o, names, 0));
	json_decref(o);
}

static void
test_free_values(void **state)
{
	/* The file paths of struct config, one of them as an object member. */
	static const struct cfg_key members[] = {
		{ .name = "log_file", .kind = CFG_PATH,
		  .offset = offsetof(struct config, log_file) },
	};
	static const struct cfg_key keys[] = {
		{ .name = "pid_file", .kind = CFG_PATH,
		  .offset = offsetof(struct config, pid_file) },
		{ .name = "backlog", .kind = CFG_INT,
		  .offset = offsetof(struct config, backlog) },
		{ .name = "logs", .kind = CFG_OBJECT, .offset = 0,
		  .members = members, .nmembers = ARRAY_SIZE(members) },
	};
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.pid_file = strdup("/run/shoal.pid");
	cfg.log_file = strdup("/var/log/shoal.log");
	cfg.access_log = strdup("/var/log/access.log");
	cfg.backlog = 7;
	cfg_free_values(keys, ARRAY_SIZE(keys), &cfg);
	assert_null(cfg.pid_file);
	assert_null(cfg.log_file);
	/* No row: left alone. */
	assert_non_null(cfg.access_log);
	assert_int_equal(cfg.backlog, 7);
	free(cfg.access_log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integer),
		cmocka_unit_test(test_scalar),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_default_value),
		cmocka_unit_test(test_defaults_pass),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_object_too_many_members),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_unknown_member),
		cmocka_unit_test(test_free_values),
	};

	return cmocka_run_group_tests_name("config/value", tests, NULL, NULL);
}
