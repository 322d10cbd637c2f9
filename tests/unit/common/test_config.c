/*
 * Unit tests for common/config.c: loading, validation messages, CLI
 * overrides, listen addresses and trusted proxies (common/config/listen.c,
 * linked in), routes and modules (common/config/routes.c and modules.c,
 * linked in), and the locator (common/config/locate.c, linked in; its
 * tests live here with its only user). The helpers of config/diag.c and
 * config/value.c have their own tests in tests/unit/common/config/.
 *
 * The group runs inside a mkdtemp directory (chdir'd into, so messages
 * read "shoal.json:3:3: ..." as a user would see them) that teardown
 * removes with everything written into it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config.c"
#include "common/method.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

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
	struct dirent *de;
	DIR *d;
	int rc = 0;

	(void)state;
	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			/* Files, and the one empty directory a test makes. */
			if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
			    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == -1)
				rc = -1;
		}
		closedir(d);
	}
	if (oldcwd != -1) {
		if (fchdir(oldcwd) == -1)
			rc = -1;
		close(oldcwd);
	}
	if (rmdir(tmpdir) == -1)
		rc = -1;
	return rc;
}

static void
write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
load_text(struct config *cfg, const char *text, const json_t *ovr,
    char *err, size_t errlen)
{
	write_file("shoal.json", text);
	return config_load(cfg, "shoal.json", ovr, err, errlen);
}

static void
assert_zeroed(const struct config *cfg)
{
	static const struct config zero;

	assert_memory_equal(cfg, &zero, sizeof(zero));
}

/* text (with optional overrides) must fail with exactly want. */
static void
expect_error(const char *text, const json_t *ovr, const char *want)
{
	struct config cfg;
	char err[512];

	/* Garbage in: config_load must zero it even so. */
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(load_text(&cfg, text, ovr, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
	assert_zeroed(&cfg);
}

static void
load_ok(struct config *cfg, const char *text, const json_t *ovr)
{
	char err[512] = "";
	int r = load_text(cfg, text, ovr, err, sizeof(err));

	if (r != 0)
		fail_msg("config_load: %s", err);
}

/* The four routes of the embedded default, wherever they were loaded for. */
static void
assert_default_routes(const struct config *cfg)
{
	static const char *const want[][3] = {
		{ "/", "welcome", "(embedded default):5:5" },
		{ "/json", "json", "(embedded default):6:5" },
		{ "/healthz", "health", "(embedded default):7:5" },
		{ "/echo", "echo", "(embedded default):8:5" },
	};
	size_t i;

	assert_int_equal(cfg->nroutes, ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(cfg->routes[i].path, want[i][0]);
		assert_false(cfg->routes[i].prefix);
		assert_int_equal(cfg->routes[i].methods, 0);
		assert_string_equal(cfg->routes[i].handler, want[i][1]);
		assert_string_equal(cfg->routes[i].where, want[i][2]);
		assert_true(json_is_object(cfg->routes[i].spec));
		assert_string_equal(json_string_value(json_object_get(
		    cfg->routes[i].spec, "handler")), want[i][1]);
	}
}

static void
test_minimal_file_gets_defaults(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{}\n", NULL);
	assert_string_equal(cfg.source, "shoal.json");
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0].text, "127.0.0.1:8080");
	assert_int_equal(cfg.listen[0].sa.ss_family, AF_INET);
	assert_int_equal(cfg.backlog, 1024);
	assert_true(cfg.workers_auto);
	assert_int_equal(cfg.workers, 0);
	assert_true(cfg.worker_timeout == 30);
	assert_true(cfg.graceful_timeout == 30);
	assert_true(cfg.respawn_delay_min == 0.1);
	assert_true(cfg.respawn_delay_max == 30);
	assert_null(cfg.pid_file);
	assert_null(cfg.log_file);
	assert_int_equal(cfg.log_level, LOGL_INFO);
	assert_int_equal(cfg.http.max_request_line, 8192);
	assert_int_equal(cfg.http.max_header_size, 16384);
	assert_int_equal(cfg.http.max_headers, 100);
	assert_int_equal(cfg.http.max_body_size, 1048576);
	assert_true(cfg.http.header_timeout == 10);
	assert_true(cfg.http.body_timeout == 30);
	assert_true(cfg.http.keepalive_timeout == 75);
	assert_true(cfg.http.keepalive_timeout > 60);
	assert_int_equal(cfg.http.keepalive_requests, 1000);
	assert_true(cfg.http.write_timeout == 30);
	assert_int_equal(cfg.http.max_connections, 10000);
	assert_false(cfg.listen[0].proxy_protocol);
	assert_int_equal(cfg.listen[0].mode, -1);
	assert_int_equal(cfg.listen[0].uid, -1);
	assert_int_equal(cfg.listen[0].gid, -1);
	assert_null(cfg.trusted);
	assert_int_equal(cfg.ntrusted, 0);
	assert_false(cfg.trust_unix);
	assert_default_routes(&cfg);
	config_free(&cfg);
	assert_zeroed(&cfg);
	config_free(&cfg);      /* twice is harmless */
}

static void
test_full_file(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg,
	    "{\n"
	    "  \"//\": \"every key, none at its default\",\n"
	    "  \"listen\": [\"*:80\", \"[::]:80\", \"unix:/run/shoal.sock\"],\n"
	    "  \"backlog\": 511,\n"
	    "  \"workers\": 8,\n"
	    "  \"worker_timeout\": 2.5,\n"
	    "  \"graceful_timeout\": 0,\n"
	    "  \"respawn_delay_min\": 0.5,\n"
	    "  \"respawn_delay_max\": 0.5,\n"
	    "  \"pid_file\": \"/run/shoal.pid\",\n"
	    "  \"log_file\": \"/var/log/shoal.log\",\n"
	    "  \"log_level\": \"debug\",\n"
	    "  \"max_request_line\": 256,\n"
	    "  \"max_header_size\": 1048576,\n"
	    "  \"max_headers\": 1,\n"
	    "  \"max_body_size\": 1099511627776,\n"
	    "  \"header_timeout\": 0.1,\n"
	    "  \"body_timeout\": 3600,\n"
	    "  \"keepalive_timeout\": 0,\n"
	    "  \"keepalive_requests\": 0,\n"
	    "  \"write_timeout\": 12.75,\n"
	    "  \"max_connections\": 1000000\n"
	    "}\n", NULL);
	assert_int_equal(cfg.nlisten, 3);
	assert_string_equal(cfg.listen[0].text, "0.0.0.0:80");
	assert_string_equal(cfg.listen[1].text, "[::]:80");
	assert_string_equal(cfg.listen[2].text, "unix:/run/shoal.sock");
	assert_int_equal(cfg.backlog, 511);
	assert_false(cfg.workers_auto);
	assert_int_equal(cfg.workers, 8);
	assert_true(cfg.worker_timeout == 2.5);
	assert_true(cfg.graceful_timeout == 0);
	assert_true(cfg.respawn_delay_min == 0.5);
	assert_true(cfg.respawn_delay_max == 0.5);
	assert_string_equal(cfg.pid_file, "/run/shoal.pid");
	assert_string_equal(cfg.log_file, "/var/log/shoal.log");
	assert_int_equal(cfg.log_level, LOGL_DEBUG);
	assert_int_equal(cfg.http.max_request_line, 256);
	assert_int_equal(cfg.http.max_header_size, 1048576);
	assert_int_equal(cfg.http.max_headers, 1);
	assert_true(cfg.http.max_body_size == (size_t)1 << 40);
	assert_true(cfg.http.header_timeout == 0.1);
	assert_true(cfg.http.body_timeout == 3600);
	assert_true(cfg.http.keepalive_timeout == 0);
	assert_int_equal(cfg.http.keepalive_requests, 0);
	assert_true(cfg.http.write_timeout == 12.75);
	assert_int_equal(cfg.http.max_connections, 1000000);
	config_free(&cfg);
}

static void
test_listen_string_or_array(void **state)
{
	struct config a, b;

	(void)state;
	load_ok(&a, "{\"listen\": \"10.0.0.1:8000\"}", NULL);
	load_ok(&b, "{\"listen\": [\"10.0.0.1:8000\"]}", NULL);
	assert_int_equal(a.nlisten, 1);
	assert_int_equal(b.nlisten, 1);
	assert_string_equal(a.listen[0].text, b.listen[0].text);
	assert_int_equal(a.listen[0].salen, b.listen[0].salen);
	assert_memory_equal(&a.listen[0].sa, &b.listen[0].sa, a.listen[0].salen);
	config_free(&a);
	config_free(&b);
}

static void
test_listen_ipv6_and_unix(void **state)
{
	const struct sockaddr_in6 *in6;
	const struct sockaddr_un *un;
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{\"listen\": [\"[0:0::1]:8443\", \"unix:/tmp/s.sock\"],"
	    " \"workers\": 1}", NULL);
	assert_int_equal(cfg.nlisten, 2);
	assert_string_equal(cfg.listen[0].text, "[::1]:8443");
	in6 = (const struct sockaddr_in6 *)&cfg.listen[0].sa;
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 8443);
	assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	assert_int_equal(cfg.listen[0].salen, sizeof(*in6));
	assert_string_equal(cfg.listen[1].text, "unix:/tmp/s.sock");
	un = (const struct sockaddr_un *)&cfg.listen[1].sa;
	assert_int_equal(un->sun_family, AF_UNIX);
	assert_string_equal(un->sun_path, "/tmp/s.sock");
	assert_int_equal(cfg.listen[1].salen,
	    offsetof(struct sockaddr_un, sun_path) + sizeof("/tmp/s.sock"));
	config_free(&cfg);
}

static void
test_embedded_default(void **state)
{
	json_error_t jerr;
	struct config cfg;
	char err[256];
	json_t *j;

	(void)state;
	j = json_loads(config_default_text(), JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_array_size(json_object_get(j, "routes")), 4);
	json_decref(j);

	assert_int_equal(config_load(&cfg, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(cfg.source, "(embedded default)");
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0].text, "127.0.0.1:8080");
	assert_true(cfg.workers_auto);
	assert_default_routes(&cfg);
	config_free(&cfg);
}

static void
test_embedded_default_errors_name_it(void **state)
{
	struct config cfg;
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "workers", "0", err, sizeof(err)), 0);
	assert_int_equal(config_load(&cfg, NULL, o, err, sizeof(err)), -1);
	assert_string_equal(err, "--workers: expected \"auto\" or an integer "
	    "from 1 to 512, got 0");
	json_decref(o);
	/* And a key in the embedded text is located in it. */
	assert_int_equal(cfg_fail(&(struct cfg_ctx){ CFG_EMBEDDED,
	    cfg_default_json, sizeof(cfg_default_json) - 1, err, sizeof(err) },
	    cfg_key_by_name("workers"), CFG_FROM_FILE, -1, "x"), -1);
	assert_string_equal(err, "(embedded default):3:3: \"workers\": x");
}

static void
test_comment_keys_ignored(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{\"//\": \"why\", \"_comment\": {\"workers\": \"nested\"},"
	    " \"workers\": 2}", NULL);
	assert_int_equal(cfg.workers, 2);
	config_free(&cfg);
}

static void
test_integral_real_is_an_integer(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{\"workers\": 4.0, \"backlog\": 1e3}", NULL);
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.backlog, 1000);
	config_free(&cfg);
	expect_error("{\"workers\": 4.5}",
	    NULL, "shoal.json:1:2: \"workers\": expected \"auto\" or an integer "
	    "from 1 to 512, got 4.5");
}

static void
test_syntax_error_position(void **state)
{
	(void)state;
	expect_error("{\n  \"workers\": 4,\n}\n", NULL,
	    "shoal.json:3:1: invalid JSON: string or '}' expected near '}'");
	expect_error("{\n  \"workers\": tru\n}\n", NULL,
	    "shoal.json:2:16: invalid JSON: invalid token near 'tru'");
	expect_error("{\n  \"workers\": 4\n", NULL,
	    "shoal.json:3:1: invalid JSON: '}' expected near end of file");
	expect_error(" \n", NULL,
	    "shoal.json:1:1: invalid JSON: the file is empty; expected an object");
	/* jansson would keep the last silently; we refuse. */
	expect_error("{\"workers\": 1, \"workers\": 2}", NULL,
	    "shoal.json:1:24: invalid JSON: duplicate object key near "
	    "'\"workers\"'");
}

static void
test_unknown_key(void **state)
{
	(void)state;
	expect_error("{\n  \"listen\": \"*:80\",\n  \"wrokers\": 4\n}\n", NULL,
	    "shoal.json:3:3: unknown key \"wrokers\"; did you mean \"workers\"?");
	expect_error("{\"worker-timeout\": 4}", NULL,
	    "shoal.json:1:2: unknown key \"worker-timeout\"; did you mean "
	    "\"worker_timeout\"?");
	expect_error("{\n\t\"colour\": \"blue\"}", NULL,
	    "shoal.json:2:2: unknown key \"colour\"");
	/* A key with a newline still gives one line, escaped. */
	expect_error("{\"a\\nb\": 1}", NULL,
	    "shoal.json:1:2: unknown key \"a\\u000ab\"");
}

static void
test_wrong_type(void **state)
{
	(void)state;
	expect_error("{\n  \"backlog\": \"big\"\n}", NULL,
	    "shoal.json:2:3: \"backlog\": expected an integer from 1 to 65535, "
	    "got \"big\"");
	expect_error("{\"worker_timeout\": true}", NULL,
	    "shoal.json:1:2: \"worker_timeout\": expected a number of seconds "
	    "from 0.5 to 86400, got true");
	expect_error("{\"pid_file\": 7}", NULL,
	    "shoal.json:1:2: \"pid_file\": expected a file name or null, got 7");
	expect_error("{\"log_file\": \"\"}", NULL,
	    "shoal.json:1:2: \"log_file\": expected a file name or null, got \"\"");
	expect_error("{\"log_level\": \"verbose\"}", NULL,
	    "shoal.json:1:2: \"log_level\": expected \"error\", \"warn\", "
	    "\"notice\", \"info\" or \"debug\", got \"verbose\"");
	expect_error("{\"listen\": 80}", NULL,
	    "shoal.json:1:2: \"listen\": expected an address or an array of "
	    "addresses, got 80");
	expect_error("{\"listen\": [\"*:80\",\n            8080]}", NULL,
	    "shoal.json:2:13: \"listen\": expected an address string or object, "
	    "got 8080");
	expect_error("{\"listen\": [[\"*:80\"]]}", NULL,
	    "shoal.json:1:13: \"listen\": expected an address string or object, "
	    "got an array");
	expect_error("{\"listen\": []}", NULL,
	    "shoal.json:1:2: \"listen\": expected at least one address, got an "
	    "empty array");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_error("{\n  \"listen\": \"*:80\",\n  \"workers\": 0\n}\n", NULL,
	    "shoal.json:3:3: \"workers\": expected \"auto\" or an integer from 1 "
	    "to 512, got 0");
	expect_error("{\"workers\": 513}", NULL,
	    "shoal.json:1:2: \"workers\": expected \"auto\" or an integer from 1 "
	    "to 512, got 513");
	expect_error("{\"worker_timeout\": 0.2}", NULL,
	    "shoal.json:1:2: \"worker_timeout\": expected a number of seconds "
	    "from 0.5 to 86400, got 0.2");
	expect_error("{\"respawn_delay_min\": 0.001}", NULL,
	    "shoal.json:1:2: \"respawn_delay_min\": expected a number of seconds "
	    "from 0.01 to 60, got 0.001");
	expect_error("{\"max_body_size\": 1099511627777}", NULL,
	    "shoal.json:1:2: \"max_body_size\": expected an integer from 0 to "
	    "1099511627776, got 1099511627777");
	expect_error("{\"max_request_line\": -1}", NULL,
	    "shoal.json:1:2: \"max_request_line\": expected an integer from 256 "
	    "to 1048576, got -1");
	/* Beyond json_int_t jansson itself refuses the number. */
	expect_error("{\"backlog\": 99999999999999999999}", NULL,
	    "shoal.json:1:32: invalid JSON: too big integer near "
	    "'99999999999999999999'");
}

static void
test_bad_address(void **state)
{
	(void)state;
	expect_error("{\n  \"listen\": [\"127.0.0.1:80\", \"localhost:80\"]\n}",
	    NULL, "shoal.json:2:30: \"listen\": \"localhost:80\": \"localhost\" is "
	    "not an IP address (host names are not resolved; use 127.0.0.1 or "
	    "[::1])");
	expect_error("{\"listen\": \"127.0.0.1:http\"}", NULL,
	    "shoal.json:1:2: \"listen\": \"127.0.0.1:http\": bad port \"http\"; "
	    "expected a number from 1 to 65535");
	/* Element columns count characters, as jansson's do, not bytes. */
	expect_error("{\"//\": \"é\", \"listen\": [\"::1:80\"]}", NULL,
	    "shoal.json:1:24: \"listen\": \"::1:80\": an IPv6 address needs "
	    "brackets, e.g. [::1]:8080");
}

static void
test_duplicate_listen(void **state)
{
	(void)state;
	expect_error("{\"listen\": [\"*:80\", \"[::1]:80\", \"0.0.0.0:80\"]}", NULL,
	    "shoal.json:1:33: \"listen\": \"0.0.0.0:80\" is listed twice "
	    "(also as \"*:80\")");
	expect_error("{\"listen\": [\"unix:/a\",\n \"unix:/a\"]}", NULL,
	    "shoal.json:2:2: \"listen\": \"unix:/a\" is listed twice");
}

static void
test_too_many_listen(void **state)
{
	char text[CONFIG_MAX_LISTEN * 24 + 64], want[128];
	size_t n = 0;
	int i;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"listen\": [");
	for (i = 0; i <= CONFIG_MAX_LISTEN; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"*:%d\"",
		    i ? ", " : "", 1000 + i);
	snprintf(text + n, sizeof(text) - n, "]}");
	snprintf(want, sizeof(want), "shoal.json:1:2: \"listen\": expected at "
	    "most %d addresses, got %d", CONFIG_MAX_LISTEN, CONFIG_MAX_LISTEN + 1);
	expect_error(text, NULL, want);
}

static void
test_listen_objects(void **state)
{
	const struct sockaddr_un *un;
	struct config cfg;

	(void)state;
	load_ok(&cfg,
	    "{\"listen\": [\n"
	    "  \"127.0.0.1:8080\",\n"
	    "  {\"address\": \"*:8081\", \"proxy_protocol\": true},\n"
	    "  {\"address\": \"unix:/tmp/a.sock\", \"mode\": \"0660\",\n"
	    "   \"owner\": \"root\", \"group\": \"root\"},\n"
	    "  {\"address\": \"unix:/tmp/b.sock\", \"mode\": 432, \"owner\": 0,\n"
	    "   \"group\": 4242, \"proxy_protocol\": false},\n"
	    "  {\"address\": \"unix:/tmp/c.sock\", \"mode\": \"600\"},\n"
	    "  {\"address\": \"[::1]:8082\"}\n"
	    "]}", NULL);
	assert_int_equal(cfg.nlisten, 6);
	/* A string: the defaults. */
	assert_string_equal(cfg.listen[0].text, "127.0.0.1:8080");
	assert_false(cfg.listen[0].proxy_protocol);
	assert_int_equal(cfg.listen[0].mode, -1);
	assert_int_equal(cfg.listen[0].uid, -1);
	assert_int_equal(cfg.listen[0].gid, -1);
	/* Normalised like a string. */
	assert_string_equal(cfg.listen[1].text, "0.0.0.0:8081");
	assert_int_equal(cfg.listen[1].sa.ss_family, AF_INET);
	assert_true(cfg.listen[1].proxy_protocol);
	assert_int_equal(cfg.listen[1].mode, -1);
	assert_int_equal(cfg.listen[1].uid, -1);
	assert_int_equal(cfg.listen[1].gid, -1);
	/* Names resolved at load. */
	assert_string_equal(cfg.listen[2].text, "unix:/tmp/a.sock");
	un = (const struct sockaddr_un *)&cfg.listen[2].sa;
	assert_int_equal(un->sun_family, AF_UNIX);
	assert_string_equal(un->sun_path, "/tmp/a.sock");
	assert_false(cfg.listen[2].proxy_protocol);
	assert_int_equal(cfg.listen[2].mode, 0660);
	assert_int_equal(cfg.listen[2].uid, 0);
	assert_int_equal(cfg.listen[2].gid, 0);
	/* Numbers taken as they are; a decimal mode is decimal. */
	assert_int_equal(cfg.listen[3].mode, 0660);
	assert_int_equal(cfg.listen[3].uid, 0);
	assert_int_equal(cfg.listen[3].gid, 4242);
	assert_false(cfg.listen[3].proxy_protocol);
	assert_int_equal(cfg.listen[4].mode, 0600);
	assert_int_equal(cfg.listen[4].uid, -1);
	assert_int_equal(cfg.listen[4].gid, -1);
	assert_string_equal(cfg.listen[5].text, "[::1]:8082");
	assert_int_equal(cfg.listen[5].mode, -1);
	config_free(&cfg);

	/* A lone object, like a lone string. */
	load_ok(&cfg, "{\"listen\": {\"address\": \"unix:/tmp/d.sock\", "
	    "\"mode\": \"0777\"}}", NULL);
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0].text, "unix:/tmp/d.sock");
	assert_int_equal(cfg.listen[0].mode, 0777);
	config_free(&cfg);
	load_ok(&cfg, "{\"listen\": [{\"address\": \"unix:/tmp/e.sock\", "
	    "\"mode\": 0}]}", NULL);
	assert_int_equal(cfg.listen[0].mode, 0);
	config_free(&cfg);
}

static void
test_listen_object_errors(void **state)
{
	(void)state;
	/* Unknown keys first, located at the key. */
	expect_error("{\"listen\": [\"*:80\",\n  {\"adress\": \"*:81\"}]}", NULL,
	    "shoal.json:2:4: \"listen\": unknown key \"adress\"; did you mean "
	    "\"address\"?");
	expect_error("{\"listen\": [{\"address\": \"*:81\", \"proxy\": true}]}",
	    NULL, "shoal.json:1:33: \"listen\": unknown key \"proxy\"");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"owenr\": 0}]}",
	    NULL, "shoal.json:1:36: \"listen\": unknown key \"owenr\"; did you "
	    "mean \"owner\"?");
	/* A lone object has no index. */
	expect_error("{\"listen\": {\"address\": \"*:81\", \"mdoe\": 1}}", NULL,
	    "shoal.json:1:32: \"listen\": unknown key \"mdoe\"; did you mean "
	    "\"mode\"?");

	/* "address": at the entry if missing, else at the key. */
	expect_error("{\"listen\": [\"*:80\",\n  {\"mode\": \"0660\"}]}", NULL,
	    "shoal.json:2:3: \"listen\": missing \"address\"");
	expect_error("{\"listen\": [{}]}", NULL,
	    "shoal.json:1:13: \"listen\": missing \"address\"");
	expect_error("{\"listen\": [{\"address\": 80}]}", NULL,
	    "shoal.json:1:14: \"listen\": \"address\": expected an address string, "
	    "got 80");
	expect_error("{\"listen\": [{\"proxy_protocol\": true,\n"
	    "               \"address\": \"localhost:80\"}]}", NULL,
	    "shoal.json:2:16: \"listen\": \"localhost:80\": \"localhost\" is not "
	    "an IP address (host names are not resolved; use 127.0.0.1 or "
	    "[::1])");
	expect_error("{\"listen\": [{\"address\": \"unix:x.sock\"}]}", NULL,
	    "shoal.json:1:14: \"listen\": \"unix:x.sock\": unix socket path must "
	    "be absolute, e.g. unix:/run/shoal.sock");

	expect_error("{\"listen\": [{\"address\": \"*:80\", \"proxy_protocol\": "
	    "\"yes\"}]}", NULL, "shoal.json:1:33: \"listen\": \"proxy_protocol\": "
	    "expected true or false, got \"yes\"");
	expect_error("{\"listen\": [{\"address\": \"*:80\", \"proxy_protocol\": 1}]}",
	    NULL, "shoal.json:1:33: \"listen\": \"proxy_protocol\": expected true "
	    "or false, got 1");

	/* A TCP socket has no file mode or owner, whatever the value. */
	expect_error("{\"listen\": [{\"address\": \"*:80\", \"mode\": \"0660\"}]}",
	    NULL, "shoal.json:1:33: \"listen\": \"mode\": only for unix: "
	    "addresses");
	expect_error("{\"listen\": [{\"address\": \"[::1]:80\",\n"
	    "  \"owner\": \"nobody-at-all\"}]}", NULL,
	    "shoal.json:2:3: \"listen\": \"owner\": only for unix: addresses");
	expect_error("{\"listen\": [{\"group\": 0, \"address\": \"*:80\"}]}", NULL,
	    "shoal.json:1:14: \"listen\": \"group\": only for unix: addresses");
}

static void
test_listen_bad_mode(void **state)
{
	static const struct {
		const char *mode, *got;
	} cases[] = {
		{ "\"0668\"", "\"0668\"" },
		{ "\"66\"", "\"66\"" },
		{ "\"00660\"", "\"00660\"" },
		{ "\"4755\"", "\"4755\"" },      /* no setuid bits on a socket */
		{ "\"rw-rw----\"", "\"rw-rw----\"" },
		{ "\"\"", "\"\"" },
		{ "800", "800" },        /* not octal digits: no hint */
		{ "1000", "1000" },
		{ "-1", "-1" },
		{ "432.5", "432.5" },
		{ "true", "true" },
		{ "null", "null" },
	};
	char text[256], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "{\"listen\": [{\"address\": "
		    "\"unix:/a\", \"mode\": %s}]}", cases[i].mode);
		snprintf(want, sizeof(want), "shoal.json:1:36: \"listen\": "
		    "\"mode\": expected an octal string such as \"0660\" or an "
		    "integer from 0 to 511, got %s", cases[i].got);
		expect_error(text, NULL, want);
	}
	/* Octal written unquoted is decimal to JSON: say so. */
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"mode\": 660}]}",
	    NULL, "shoal.json:1:36: \"listen\": \"mode\": expected an octal "
	    "string such as \"0660\" or an integer from 0 to 511, got 660; did "
	    "you mean \"0660\"?");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"mode\": 755}]}",
	    NULL, "shoal.json:1:36: \"listen\": \"mode\": expected an octal "
	    "string such as \"0660\" or an integer from 0 to 511, got 755; did "
	    "you mean \"0755\"?");
	/* The first past 0777 reads as octal too. */
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"mode\": 512}]}",
	    NULL, "shoal.json:1:36: \"listen\": \"mode\": expected an octal "
	    "string such as \"0660\" or an integer from 0 to 511, got 512; did "
	    "you mean \"0512\"?");
	/* The last integer taken. */
	expect_error("{\"listen\": [{\"address\": \"*:80\"}, {\"address\": "
	    "\"unix:/a\", \"mode\": 511}, \"unix:/a\"]}", NULL,
	    "shoal.json:1:71: \"listen\": \"unix:/a\" is listed twice");
}

static void
test_listen_bad_owner(void **state)
{
	(void)state;
	expect_error("{\"listen\": [\"*:80\", {\"address\": \"unix:/a\",\n"
	    "  \"owner\": \"no-such-user-shoal\"}]}", NULL,
	    "shoal.json:2:3: \"listen\": \"owner\": no user "
	    "\"no-such-user-shoal\"");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"owner\": \"root\","
	    " \"group\": \"no-such-group-shoal\"}]}", NULL,
	    "shoal.json:1:53: \"listen\": \"group\": no group "
	    "\"no-such-group-shoal\"");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"owner\": \"\"}]}",
	    NULL, "shoal.json:1:36: \"listen\": \"owner\": expected a user name "
	    "or a uid from 0 to 2147483647, got \"\"");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"owner\": -1}]}",
	    NULL, "shoal.json:1:36: \"listen\": \"owner\": expected a user name "
	    "or a uid from 0 to 2147483647, got -1");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"owner\": "
	    "2147483648}]}", NULL, "shoal.json:1:36: \"listen\": \"owner\": "
	    "expected a user name or a uid from 0 to 2147483647, got 2147483648");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"group\": [0]}]}",
	    NULL, "shoal.json:1:36: \"listen\": \"group\": expected a group name "
	    "or a gid from 0 to 2147483647, got an array");
}

static void
test_listen_object_duplicate(void **state)
{
	(void)state;
	/* Options do not make a second socket on the same address. */
	expect_error("{\"listen\": [\"*:80\",\n"
	    "  {\"proxy_protocol\": true, \"address\": \"0.0.0.0:80\"}]}", NULL,
	    "shoal.json:2:28: \"listen\": \"0.0.0.0:80\" is listed twice (also "
	    "as \"*:80\")");
	expect_error("{\"listen\": [{\"address\": \"unix:/a\", \"mode\": \"0600\"},\n"
	    "  \"unix:/a\"]}", NULL,
	    "shoal.json:2:3: \"listen\": \"unix:/a\" is listed twice");
}

static void
test_override_listen_unix(void **state)
{
	const struct sockaddr_un *un;
	char err[256], path[200];
	struct config cfg;
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "listen", "unix:/tmp/flag.sock", err,
	    sizeof(err)), 0);
	load_ok(&cfg, "{\"listen\": [{\"address\": \"unix:/tmp/file.sock\", "
	    "\"mode\": \"0600\", \"proxy_protocol\": true}]}", o);
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0].text, "unix:/tmp/flag.sock");
	un = (const struct sockaddr_un *)&cfg.listen[0].sa;
	assert_int_equal(un->sun_family, AF_UNIX);
	assert_string_equal(un->sun_path, "/tmp/flag.sock");
	/* The file's options went with the file's entry. */
	assert_false(cfg.listen[0].proxy_protocol);
	assert_int_equal(cfg.listen[0].mode, -1);
	assert_int_equal(cfg.listen[0].uid, -1);
	assert_int_equal(cfg.listen[0].gid, -1);
	config_free(&cfg);
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "listen", "unix:tmp/rel.sock", err,
	    sizeof(err)), 0);
	expect_error("{}", o, "--listen: \"unix:tmp/rel.sock\": unix socket path "
	    "must be absolute, e.g. unix:/run/shoal.sock");
	json_decref(o);

	/* 108 bytes of path: one past sun_path's room for the NUL. */
	memset(path, 'a', sizeof(path));
	memcpy(path, "unix:/", 6);
	path[5 + 108] = '\0';
	o = json_object();
	assert_int_equal(config_override(o, "listen", path, err, sizeof(err)), 0);
	expect_error("{}", o, "--listen: \"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaa...\": unix socket path is 108 bytes; the limit is "
	    "107");
	json_decref(o);
}

/* cfg->trusted[i] is want ("10.0.0.0") / prefix. */
static void
assert_cidr(const struct cidr *c, int family, const char *want,
    unsigned prefix)
{
	unsigned char addr[16] = { 0 };

	assert_int_equal(c->family, family);
	assert_int_equal(inet_pton(family, want, addr), 1);
	assert_memory_equal(c->addr, addr, sizeof(addr));
	assert_int_equal(c->prefix, prefix);
}

static void
test_trusted_proxies(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{\"trusted_proxies\": [\"127.0.0.1/32\", \"10.0.0.0/8\", "
	    "\"::1/128\", \"fd00::/8\", \"192.168.1.7\", \"2001:db8::1\", "
	    "\"unix\", \"0.0.0.0/0\", \"::/0\", \"172.16.0.0/12\"]}", NULL);
	assert_true(cfg.trust_unix);
	assert_int_equal(cfg.ntrusted, 9);
	assert_cidr(&cfg.trusted[0], AF_INET, "127.0.0.1", 32);
	assert_cidr(&cfg.trusted[1], AF_INET, "10.0.0.0", 8);
	assert_cidr(&cfg.trusted[2], AF_INET6, "::1", 128);
	assert_cidr(&cfg.trusted[3], AF_INET6, "fd00::", 8);
	/* A bare address is all its bits. */
	assert_cidr(&cfg.trusted[4], AF_INET, "192.168.1.7", 32);
	assert_cidr(&cfg.trusted[5], AF_INET6, "2001:db8::1", 128);
	assert_cidr(&cfg.trusted[6], AF_INET, "0.0.0.0", 0);
	assert_cidr(&cfg.trusted[7], AF_INET6, "::", 0);
	assert_cidr(&cfg.trusted[8], AF_INET, "172.16.0.0", 12);
	config_free(&cfg);
	assert_zeroed(&cfg);

	load_ok(&cfg, "{\"trusted_proxies\": [\"unix\"]}", NULL);
	assert_true(cfg.trust_unix);
	assert_int_equal(cfg.ntrusted, 0);
	config_free(&cfg);

	load_ok(&cfg, "{\"trusted_proxies\": []}", NULL);
	assert_false(cfg.trust_unix);
	assert_int_equal(cfg.ntrusted, 0);
	assert_null(cfg.trusted);
	config_free(&cfg);
}

static void
test_trusted_proxies_bad(void **state)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "10.0.0.1/8", "host bits set; did you mean 10.0.0.0/8?" },
		{ "192.168.1.1/24", "host bits set; did you mean 192.168.1.0/24?" },
		{ "172.31.0.0/12", "host bits set; did you mean 172.16.0.0/12?" },
		{ "fd00::1/8", "host bits set; did you mean fd00::/8?" },
		{ "fd12:3456::/15", "host bits set; did you mean fd12::/15?" },
		{ "10.0.0.0/33", "bad prefix \"33\"; expected a number from 0 to "
		  "32" },
		{ "::/129", "bad prefix \"129\"; expected a number from 0 to 128" },
		{ "10.0.0.0/", "bad prefix \"\"; expected a number from 0 to 32" },
		{ "10.0.0.0/-1", "bad prefix \"-1\"; expected a number from 0 to "
		  "32" },
		{ "10.0.0.0/8x", "bad prefix \"8x\"; expected a number from 0 to "
		  "32" },
		{ "10.0.0.0/0008", "bad prefix \"0008\"; expected a number from 0 "
		  "to 32" },
		{ "10.0.0.0/8/8", "bad prefix \"8/8\"; expected a number from 0 to "
		  "32" },
		{ "300.0.0.0/8", "\"300.0.0.0\" is not an IPv4 address" },
		{ "10.0.0/8", "\"10.0.0\" is not an IPv4 address" },
		{ "fd00::g/8", "\"fd00::g\" is not an IPv6 address" },
		{ "[::1]", "\"[::1]\" is not an IPv6 address" },
		{ "localhost", "expected an IP address, a range such as "
		  "10.0.0.0/8, or \"unix\"" },
		{ "UNIX", "expected an IP address, a range such as 10.0.0.0/8, "
		  "or \"unix\"" },
		{ "", "expected an IP address, a range such as 10.0.0.0/8, or "
		  "\"unix\"" },
		{ "/8", "expected an IP address, a range such as 10.0.0.0/8, or "
		  "\"unix\"" },
	};
	char text[256], want[512], quoted[80];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		/* Located at the element, after a good one. */
		snprintf(text, sizeof(text), "{\"trusted_proxies\": [\"unix\",\n"
		    "  \"%s\"]}", cases[i].in);
		snprintf(want, sizeof(want), "shoal.json:2:3: \"trusted_proxies\": "
		    "%s: %s", cfg_quote(cases[i].in, quoted, sizeof(quoted)),
		    cases[i].err);
		expect_error(text, NULL, want);
	}
	expect_error("{\"trusted_proxies\": \"10.0.0.0/8\"}", NULL,
	    "shoal.json:1:2: \"trusted_proxies\": expected an array of address "
	    "ranges, got \"10.0.0.0/8\"");
	expect_error("{\"trusted_proxies\": null}", NULL,
	    "shoal.json:1:2: \"trusted_proxies\": expected an array of address "
	    "ranges, got null");
	expect_error("{\"trusted_proxies\": [\"10.0.0.0/8\", 10]}", NULL,
	    "shoal.json:1:36: \"trusted_proxies\": expected an address range "
	    "string, got 10");
}

static void
test_too_many_trusted_proxies(void **state)
{
	char text[CFG_MAX_TRUSTED * 24 + 64], want[128];
	size_t n = 0;
	int i;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n,
	    "{\"trusted_proxies\": [");
	for (i = 0; i <= CFG_MAX_TRUSTED; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "%s\"10.%d.%d.0/24\"", i ? ", " : "", i / 256, i % 256);
	snprintf(text + n, sizeof(text) - n, "]}");
	snprintf(want, sizeof(want), "shoal.json:1:2: \"trusted_proxies\": "
	    "expected at most %d ranges, got %d", CFG_MAX_TRUSTED,
	    CFG_MAX_TRUSTED + 1);
	expect_error(text, NULL, want);
}

static void
test_override_trusted_proxies(void **state)
{
	struct config cfg;
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "trusted-proxies", "fd00::/8", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "trusted-proxies", "10.1.2.3", err,
	    sizeof(err)), 0);
	/* The flags replace the file's list, "unix" and all. */
	load_ok(&cfg, "{\"trusted_proxies\": [\"127.0.0.1\", \"unix\"]}", o);
	assert_false(cfg.trust_unix);
	assert_int_equal(cfg.ntrusted, 2);
	assert_cidr(&cfg.trusted[0], AF_INET6, "fd00::", 8);
	assert_cidr(&cfg.trusted[1], AF_INET, "10.1.2.3", 32);
	config_free(&cfg);

	assert_int_equal(config_override(o, "trusted-proxies", "unix", err,
	    sizeof(err)), 0);
	load_ok(&cfg, "{}", o);
	assert_true(cfg.trust_unix);
	assert_int_equal(cfg.ntrusted, 2);
	config_free(&cfg);

	assert_int_equal(config_override(o, "trusted-proxies", "10.0.0.1/8", err,
	    sizeof(err)), 0);
	expect_error("{}", o, "--trusted-proxies: \"10.0.0.1/8\": host bits set; "
	    "did you mean 10.0.0.0/8?");
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "trusted-proxies", "::1/200", err,
	    sizeof(err)), 0);
	expect_error("{\"trusted_proxies\": [\"unix\"]}", o, "--trusted-proxies: "
	    "\"::1/200\": bad prefix \"200\"; expected a number from 0 to 128");
	json_decref(o);

	assert_int_equal(config_override(o = json_object(), "trusted-proxys",
	    "::1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown option --trusted-proxys; did you mean "
	    "--trusted-proxies?");
	json_decref(o);
}

static void
test_respawn_min_above_max(void **state)
{
	(void)state;
	expect_error("{\n  \"respawn_delay_min\": 5,\n  \"respawn_delay_max\": 1\n}",
	    NULL, "shoal.json:3:3: \"respawn_delay_max\": expected at least "
	    "respawn_delay_min (5), got 1");
	/* Only min set: the default max (30) is not the user's doing. */
	expect_error("{\"respawn_delay_max\": 30, \"respawn_delay_min\": 40}",
	    NULL, "shoal.json:1:2: \"respawn_delay_max\": expected at least "
	    "respawn_delay_min (40), got 30");
	expect_error("{\"respawn_delay_min\": 40}", NULL,
	    "shoal.json:1:2: \"respawn_delay_min\": expected at most "
	    "respawn_delay_max (30), got 40");
}

static void
test_top_level_not_object(void **state)
{
	(void)state;
	expect_error("\n  [\"*:80\"]\n", NULL,
	    "shoal.json:2:3: expected a JSON object at top level, got an array");
	expect_error("42", NULL,
	    "shoal.json:1:1: expected a JSON object at top level, got 42");
}

static void
test_unreadable_file(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(config_load(&cfg, "nonexistent.json", NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "open(nonexistent.json): No such file or "
	    "directory");
	assert_zeroed(&cfg);

	assert_int_equal(mkdir("adir", 0700), 0);
	assert_int_equal(config_load(&cfg, "adir", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "read(adir): Is a directory");
	assert_zeroed(&cfg);
}

static void
test_override_wins(void **state)
{
	struct config cfg;
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "workers", "3", err, sizeof(err)), 0);
	assert_int_equal(config_override(o, "worker-timeout", "1.5", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "graceful-timeout", "7", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "log-level", "debug", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "pid-file", "/run/x.pid", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "max-body-size", "0", err,
	    sizeof(err)), 0);
	/* The last of a repeated flag wins, as the last key would. */
	assert_int_equal(config_override(o, "backlog", "10", err, sizeof(err)), 0);
	assert_int_equal(config_override(o, "backlog", "20", err, sizeof(err)), 0);
	load_ok(&cfg, "{\"workers\": 2, \"worker_timeout\": 9, \"backlog\": 5,"
	    " \"pid_file\": \"/run/file.pid\", \"log_file\": \"/tmp/l\"}", o);
	assert_false(cfg.workers_auto);
	assert_int_equal(cfg.workers, 3);
	assert_true(cfg.worker_timeout == 1.5);
	assert_true(cfg.graceful_timeout == 7);
	assert_int_equal(cfg.log_level, LOGL_DEBUG);
	assert_string_equal(cfg.pid_file, "/run/x.pid");
	assert_string_equal(cfg.log_file, "/tmp/l");   /* from the file */
	assert_int_equal(cfg.http.max_body_size, 0);
	assert_int_equal(cfg.backlog, 20);
	config_free(&cfg);

	assert_int_equal(config_override(o, "workers", "auto", err, sizeof(err)),
	    0);
	load_ok(&cfg, "{\"workers\": 2}", o);
	assert_true(cfg.workers_auto);
	config_free(&cfg);
	json_decref(o);
}

static void
test_override_listen_replaces(void **state)
{
	struct config cfg;
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "listen", "[::1]:9000", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "listen", "unix:/tmp/x.sock", err,
	    sizeof(err)), 0);
	load_ok(&cfg, "{\"listen\": [\"127.0.0.1:80\", \"127.0.0.1:81\"]}", o);
	assert_int_equal(cfg.nlisten, 2);
	assert_string_equal(cfg.listen[0].text, "[::1]:9000");
	assert_string_equal(cfg.listen[1].text, "unix:/tmp/x.sock");
	config_free(&cfg);

	assert_int_equal(config_override(o, "listen", "*:9000", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(o, "listen", "0.0.0.0:9000", err,
	    sizeof(err)), 0);
	expect_error("{}", o, "--listen: \"0.0.0.0:9000\" is listed twice "
	    "(also as \"*:9000\")");
	json_decref(o);
}

static void
test_override_bad_value_names_flag(void **state)
{
	char err[256];
	json_t *o;

	(void)state;
	o = json_object();
	assert_int_equal(config_override(o, "worker-timeout", "soon", err,
	    sizeof(err)), 0);
	expect_error("{\"worker_timeout\": 3}", o, "--worker-timeout: expected a "
	    "number of seconds from 0.5 to 86400, got \"soon\"");
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "workers", "4x", err, sizeof(err)), 0);
	expect_error("{}", o, "--workers: expected \"auto\" or an integer from 1 "
	    "to 512, got \"4x\"");
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "header-timeout", "inf", err,
	    sizeof(err)), 0);
	expect_error("{}", o, "--header-timeout: expected a number of seconds "
	    "from 0.1 to 3600, got \"inf\"");
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "respawn-delay-min", "100", err,
	    sizeof(err)), 0);
	expect_error("{}", o, "--respawn-delay-min: expected a number of "
	    "seconds from 0.01 to 60, got 100");
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "respawn-delay-max", "0.5", err,
	    sizeof(err)), 0);
	expect_error("{\"respawn_delay_min\": 2}", o, "--respawn-delay-max: "
	    "expected at least respawn_delay_min (2), got 0.5");
	json_decref(o);

	o = json_object();
	assert_int_equal(config_override(o, "listen", "localhost:80", err,
	    sizeof(err)), 0);
	expect_error("{}", o, "--listen: \"localhost:80\": \"localhost\" is not "
	    "an IP address (host names are not resolved; use 127.0.0.1 or "
	    "[::1])");
	json_decref(o);

	/* A hand-built overrides object with a key no flag has. */
	o = json_pack("{s:i}", "colour", 1);
	expect_error("{}", o, "unknown option --colour");
	json_decref(o);
}

static void
test_routes(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg,
	    "{\n"
	    "  \"routes\": [\n"
	    "    {\"path\": \"/\", \"handler\": \"welcome\"},\n"
	    "    {\"path\": \"/static/\", \"match\": \"prefix\", \"methods\": "
	    "[\"GET\", \"HEAD\"],\n"
	    "     \"handler\": \"static\", \"root\": \"/srv/www\"},\n"
	    "    {\"path\": \"/static/\", \"match\": \"exact\", \"handler\": "
	    "\"x\"},\n"
	    "    {\"path\": \"/api\", \"methods\": [\"POST\"], \"handler\": "
	    "\"a\"},\n"
	    "    {\"path\": \"/api\", \"methods\": [\"GET\", \"M-SEARCH\", "
	    "\"GET\"], \"handler\": \"b\"},\n"
	    "    {\"path\": \"/api\", \"match\": \"prefix\", \"handler\": \"c\"}\n"
	    "  ]\n"
	    "}\n", NULL);
	assert_int_equal(cfg.nroutes, 6);
	assert_string_equal(cfg.routes[0].path, "/");
	assert_false(cfg.routes[0].prefix);
	assert_int_equal(cfg.routes[0].methods, 0);
	assert_string_equal(cfg.routes[0].handler, "welcome");
	assert_string_equal(cfg.routes[0].where, "shoal.json:3:5");

	assert_string_equal(cfg.routes[1].path, "/static/");
	assert_true(cfg.routes[1].prefix);
	assert_int_equal(cfg.routes[1].methods,
	    (1ull << METHOD_GET) | (1ull << METHOD_HEAD));
	assert_string_equal(cfg.routes[1].handler, "static");
	assert_string_equal(cfg.routes[1].where, "shoal.json:4:5");
	/* The handler's own keys ride along; the document itself is gone. */
	assert_string_equal(json_string_value(json_object_get(
	    cfg.routes[1].spec, "root")), "/srv/www");
	assert_string_equal(json_string_value(json_object_get(
	    cfg.routes[1].spec, "match")), "prefix");

	/* Same path, other match; same path, disjoint methods: not duplicates. */
	assert_false(cfg.routes[2].prefix);
	assert_int_equal(cfg.routes[3].methods, 1ull << METHOD_POST);
	assert_int_equal(cfg.routes[4].methods,
	    (1ull << METHOD_GET) | (1ull << METHOD_MSEARCH));
	assert_true(cfg.routes[5].prefix);
	assert_string_equal(cfg.routes[5].where, "shoal.json:9:5");
	config_free(&cfg);
	assert_zeroed(&cfg);
}

/* Every method shoal knows (common/method.h) is accepted, and lands on its own bit. */
static void
test_routes_every_method(void **state)
{
	struct config cfg;
	json_t *doc, *methods;
	char *text;
	unsigned m;

	(void)state;
	doc = json_pack("{s:[{s:s,s:s,s:[]}]}", "routes", "path", "/",
	    "handler", "x", "methods");
	assert_non_null(doc);
	methods = json_object_get(json_array_get(json_object_get(doc, "routes"),
	    0), "methods");
	for (m = 0; method_name((int)m) != NULL; m++)
		assert_int_equal(json_array_append_new(methods, json_string(
		    method_name((int)m))), 0);
	assert_true(m == METHOD_COUNT && m <= 64);
	text = json_dumps(doc, 0);
	assert_non_null(text);
	load_ok(&cfg, text, NULL);
	assert_int_equal(cfg.routes[0].methods,
	    m == 64 ? ~0ull : (1ull << m) - 1);
	config_free(&cfg);
	free(text);
	json_decref(doc);
}

static void
test_routes_wrong_shape(void **state)
{
	(void)state;
	expect_error("{\"routes\": {\"path\": \"/\"}}", NULL,
	    "shoal.json:1:2: \"routes\": expected an array of route objects, "
	    "got an object");
	expect_error("{\"routes\": []}", NULL,
	    "shoal.json:1:2: \"routes\": expected at least one route, got an "
	    "empty array");
	expect_error("{\"routes\": [\n  \"/x\"\n]}", NULL,
	    "shoal.json:2:3: routes[0]: expected a route object, got \"/x\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"a\"},\n"
	    "  {\"handler\": \"b\"}]}", NULL,
	    "shoal.json:2:3: routes[1]: missing \"path\"");
	expect_error("{\"routes\": [{\"path\": \"/\"}]}", NULL,
	    "shoal.json:1:13: routes[0]: missing \"handler\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": 7}]}", NULL,
	    "shoal.json:1:27: routes[0].handler: expected a handler name, got 7");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"\"}]}", NULL,
	    "shoal.json:1:27: routes[0].handler: expected a handler name, "
	    "got \"\"");
	expect_error("{\"route\": []}", NULL,
	    "shoal.json:1:2: unknown key \"route\"; did you mean \"routes\"?");
}

static void
test_routes_bad_path(void **state)
{
	char text[CFG_ROUTE_PATH_MAX + 64];
	struct config cfg;

	(void)state;
	expect_error("{\"routes\": [{\"handler\": \"b\", \"path\": \"x\"}]}", NULL,
	    "shoal.json:1:30: routes[0].path: expected a path beginning with "
	    "'/', got \"x\"");
	expect_error("{\"routes\": [{\"path\": 1, \"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:14: routes[0].path: expected a path beginning with "
	    "'/', got 1");
	expect_error("{\"routes\": [{\"path\": \"\", \"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:14: routes[0].path: expected a path beginning with "
	    "'/', got \"\"");
	expect_error("{\"routes\": [{\"path\": \"/a b\", \"handler\": \"b\"}]}",
	    NULL, "shoal.json:1:14: routes[0].path: expected no spaces or "
	    "control characters, got \"/a b\"");
	expect_error("{\"routes\": [{\"path\": \"/a\\tb\", \"handler\": \"b\"}]}",
	    NULL, "shoal.json:1:14: routes[0].path: expected no spaces or "
	    "control characters, got \"/a\\u0009b\"");

	/* 1024 bytes is the limit, inclusive. */
	snprintf(text, sizeof(text), "{\"routes\": [{\"path\": \"/%0*d\", "
	    "\"handler\": \"b\"}]}", CFG_ROUTE_PATH_MAX - 1, 0);
	load_ok(&cfg, text, NULL);
	assert_int_equal(strlen(cfg.routes[0].path), CFG_ROUTE_PATH_MAX);
	config_free(&cfg);
	snprintf(text, sizeof(text), "{\"routes\": [{\"path\": \"/%0*d\", "
	    "\"handler\": \"b\"}]}", CFG_ROUTE_PATH_MAX, 0);
	expect_error(text, NULL, "shoal.json:1:14: routes[0].path: expected at "
	    "most 1024 bytes, got 1025");
}

/* A file cannot hold "\u0000" (jansson refuses it), but a built value can. */
static void
test_routes_nul_in_path(void **state)
{
	struct config cfg = { 0 };
	struct cfg_ctx c;
	char err[256];
	json_t *v;

	(void)state;
	c = (struct cfg_ctx){ "t.json", "{}", 2, err, sizeof(err) };
	v = json_pack("[{s:o,s:s}]", "path", json_stringn("/a\0b", 4),
	    "handler", "x");
	assert_non_null(v);
	assert_int_equal(cfg_apply_routes(&c, &cfg, cfg_key_by_name("routes"), v,
	    CFG_FROM_FILE), -1);
	assert_string_equal(err, "t.json: routes[0].path: expected no NUL "
	    "bytes, got one at byte 2");
	config_free(&cfg);
	json_decref(v);

	/* Not located, a route's where is just the source. */
	v = json_pack("[{s:s,s:s}]", "path", "/", "handler", "x");
	assert_int_equal(cfg_apply_routes(&c, &cfg, cfg_key_by_name("routes"), v,
	    CFG_FROM_FILE), 0);
	assert_string_equal(cfg.routes[0].where, "t.json");
	config_free(&cfg);
	json_decref(v);
}

static void
test_routes_bad_match_and_methods(void **state)
{
	(void)state;
	expect_error("{\"routes\": [{\"path\": \"/\", \"match\": \"glob\", "
	    "\"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:27: routes[0].match: expected \"exact\" or \"prefix\", "
	    "got \"glob\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"match\": null, "
	    "\"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:27: routes[0].match: expected \"exact\" or \"prefix\", "
	    "got null");
	expect_error("{\"routes\": [{\"path\": \"/\", \"methods\": [\"GET\", "
	    "\"FETCH\"], \"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:46: routes[0].methods[1]: unknown method \"FETCH\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"methods\": [\"get\"], "
	    "\"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:39: routes[0].methods[0]: unknown method \"get\"; "
	    "did you mean \"GET\"?");
	expect_error("{\"routes\": [{\"path\": \"/\", \"methods\": [1], "
	    "\"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:39: routes[0].methods[0]: expected a method name, "
	    "got 1");
	expect_error("{\"routes\": [{\"path\": \"/\", \"methods\": \"GET\", "
	    "\"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:27: routes[0].methods: expected an array of method "
	    "names, got \"GET\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"methods\": [], "
	    "\"handler\": \"b\"}]}", NULL,
	    "shoal.json:1:27: routes[0].methods: expected at least one method "
	    "(leave \"methods\" out to allow any), got an empty array");
}

static void
test_routes_duplicate(void **state)
{
	(void)state;
	expect_error("{\"routes\": [{\"path\": \"/a\", \"handler\": \"x\"},\n"
	    " {\"path\": \"/a\", \"handler\": \"y\"}]}", NULL,
	    "shoal.json:2:2: routes[1]: duplicate route: \"/a\" (exact) is also "
	    "routes[0]");
	expect_error("{\"routes\": [\n"
	    "{\"path\": \"/a\", \"methods\": [\"POST\", \"GET\"], \"handler\": "
	    "\"x\"},\n"
	    "{\"path\": \"/a\", \"methods\": [\"PUT\", \"GET\"], \"handler\": "
	    "\"y\"}]}", NULL,
	    "shoal.json:3:1: routes[1]: duplicate route: GET \"/a\" (exact) is "
	    "also routes[0]");
	/* No methods means all of them, so it overlaps any list. */
	expect_error("{\"routes\": [\n"
	    "{\"path\": \"/a/\", \"match\": \"prefix\", \"handler\": \"x\"},\n"
	    "{\"path\": \"/a/\", \"handler\": \"x\"},\n"
	    "{\"path\": \"/a/\", \"match\": \"prefix\", \"methods\": [\"DELETE\"], "
	    "\"handler\": \"y\"}]}", NULL,
	    "shoal.json:4:1: routes[2]: duplicate route: DELETE \"/a/\" (prefix) "
	    "is also routes[0]");
}

static void
test_too_many_routes(void **state)
{
	char text[CONFIG_MAX_ROUTES * 48 + 64], want[128];
	size_t n = 0;
	int i;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"routes\": [");
	for (i = 0; i <= CONFIG_MAX_ROUTES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"path\": "
		    "\"/%d\", \"handler\": \"x\"}", i ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "]}");
	snprintf(want, sizeof(want), "shoal.json:1:2: \"routes\": expected at "
	    "most %d routes, got %d", CONFIG_MAX_ROUTES, CONFIG_MAX_ROUTES + 1);
	expect_error(text, NULL, want);
}

static int checker_calls;

/* Stands in for the handler registry: knows every handler but "nope". */
static int
fake_route_check(const json_t *route, const struct config *cfg, char *err,
    size_t errlen)
{
	const char *handler = json_string_value(json_object_get(route,
	    "handler"));

	checker_calls++;
	/* config_load has checked path and handler before asking, and
	 * hands over what it loaded so far. */
	assert_non_null(cfg);
	assert_non_null(handler);
	assert_non_null(json_string_value(json_object_get(route, "path")));
	if (strcmp(handler, "nope") == 0) {
		snprintf(err, errlen, "\"handler\": unknown handler \"%s\"",
		    handler);
		return -1;
	}
	if (json_object_get(route, "bad") != NULL) {
		snprintf(err, errlen, "\"bad\": not allowed");
		return -1;
	}
	if (json_object_get(route, "whole") != NULL) {
		snprintf(err, errlen, "needs a \"root\"");
		return -1;
	}
	if (json_object_get(route, "ghost") != NULL) {
		snprintf(err, errlen, "\"root\": missing");
		return -1;
	}
	return 0;
}

static int
reject_echo(const json_t *route, const struct config *cfg, char *err,
    size_t errlen)
{
	(void)cfg;
	if (strcmp(json_string_value(json_object_get(route, "handler")),
	    "echo") != 0)
		return 0;
	snprintf(err, errlen, "\"handler\": unknown handler \"echo\"");
	return -1;
}

static int
reset_route_check(void **state)
{
	(void)state;
	config_set_route_check(NULL);
	return 0;
}

static void
test_route_checker(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	config_set_route_check(fake_route_check);
	checker_calls = 0;
	load_ok(&cfg, "{\"routes\": [{\"path\": \"/\", \"handler\": \"static\", "
	    "\"root\": \"/srv\"}, {\"path\": \"/b\", \"handler\": \"b\"}]}", NULL);
	assert_int_equal(checker_calls, 2);
	config_free(&cfg);
	/* The default routes are checked too. */
	checker_calls = 0;
	load_ok(&cfg, "{}", NULL);
	assert_int_equal(checker_calls, 4);
	config_free(&cfg);

	expect_error("{\n"
	    "  \"listen\": \"127.0.0.1:8080\",\n"
	    "  \"routes\": [\n"
	    "    {\"path\": \"/\", \"handler\": \"welcome\"},\n"
	    "    {\"path\": \"/a\", \"handler\": \"json\"},\n"
	    "    {\n"
	    "      \"path\": \"/hello\",\n"
	    "      \"handler\": \"nope\"\n"
	    "    }\n"
	    "  ]\n"
	    "}\n", NULL,
	    "shoal.json:8:7: routes[2].handler: unknown handler \"nope\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"static\",\n"
	    "  \"root\": \"/srv\", \"bad\": 1}]}", NULL,
	    "shoal.json:2:19: routes[0].bad: not allowed");
	/* A reason that names no key, or one the route lacks: the route. */
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"s\", "
	    "\"whole\": 1}]}", NULL,
	    "shoal.json:1:13: routes[0]: needs a \"root\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"s\", "
	    "\"ghost\": 1}]}", NULL,
	    "shoal.json:1:13: routes[0]: \"root\": missing");
	/* The config module's own checks come first. */
	expect_error("{\"routes\": [{\"path\": \"x\", \"handler\": \"nope\"}]}",
	    NULL, "shoal.json:1:14: routes[0].path: expected a path beginning "
	    "with '/', got \"x\"");

	/* A default route refused is located in the embedded text. */
	config_set_route_check(reject_echo);
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(config_load(&cfg, NULL, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "(embedded default):8:23: routes[3].handler: "
	    "unknown handler \"echo\"");
	assert_zeroed(&cfg);
	expect_error("{\"workers\": 1}", NULL, "(embedded default):8:23: "
	    "routes[3].handler: unknown handler \"echo\"");
}

static void
test_override_routes_refused(void **state)
{
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "routes", "[]", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "--routes: routes can only be set in a config "
	    "file");
	assert_int_equal(json_object_size(o), 0);
	/* Nor is it offered for a near miss. */
	assert_int_equal(config_override(o, "route", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown option --route");
	json_decref(o);

	/* A hand-built overrides object is refused the same way. */
	o = json_pack("{s:[{s:s,s:s}]}", "routes", "path", "/", "handler", "x");
	expect_error("{}", o, "--routes: routes can only be set in a config "
	    "file");
	json_decref(o);
}

/* snprintf that fails the test rather than cut the text short. */
static void
xsnprintf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
xsnprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

/* name in the test directory, as the absolute path a module needs. */
static const char *
tmp_path(const char *name, char *buf, size_t len)
{
	xsnprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static void
test_modules(void **state)
{
	char text[1024], app[PATH_MAX], other[PATH_MAX];
	struct config cfg;

	(void)state;
	write_file("app.so", "not really an ELF file: only stat() looks");
	write_file("other.so", "");
	tmp_path("app.so", app, sizeof(app));
	tmp_path("other.so", other, sizeof(other));
	config_set_route_check(fake_route_check);
	checker_calls = 0;
	/* Routes come first in the file; modules are checked first anyway. */
	xsnprintf(text, sizeof(text),
	    "{\n"
	    "  \"routes\": [\n"
	    "    {\"path\": \"/\", \"handler\": \"welcome\"},\n"
	    "    {\"path\": \"/hi\", \"methods\": [\"GET\"], \"handler\": "
	    "\"app.hello\", \"bad\": 1},\n"
	    "    {\"path\": \"/m\", \"match\": \"prefix\", \"handler\": "
	    "\"m_2.x.y\"}\n"
	    "  ],\n"
	    "  \"modules\": [\n"
	    "    {\"name\": \"app\", \"path\": \"%s\", \"config\": {\"greeting\": "
	    "\"hi\"}},\n"
	    "    {\"config\": null, \"path\": \"%s\", \"name\": \"m_2\"},\n"
	    "    {\"name\": \"z0123456789_abcdefghijklmnopqrst\", \"path\": \"%s\"}\n"
	    "  ]\n"
	    "}\n", app, other, app);
	load_ok(&cfg, text, NULL);
	assert_int_equal(cfg.nmodules, 3);
	assert_string_equal(cfg.modules[0].name, "app");
	assert_string_equal(cfg.modules[0].path, app);
	assert_string_equal(cfg.modules[0].where, "shoal.json:8:5");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    cfg.modules[0].spec, "config"), "greeting")), "hi");
	assert_string_equal(cfg.modules[1].name, "m_2");
	assert_string_equal(cfg.modules[1].path, other);
	assert_string_equal(cfg.modules[1].where, "shoal.json:9:5");
	assert_true(json_is_null(json_object_get(cfg.modules[1].spec,
	    "config")));
	/* 32 bytes is the limit, inclusive. */
	assert_int_equal(strlen(cfg.modules[2].name), 32);
	assert_null(json_object_get(cfg.modules[2].spec, "config"));

	/* The module's routes are left to the module: "bad" passed. */
	assert_int_equal(checker_calls, 1);
	assert_int_equal(cfg.nroutes, 3);
	assert_string_equal(cfg.routes[1].handler, "app.hello");
	assert_int_equal(cfg.routes[1].methods, 1ull << METHOD_GET);
	assert_string_equal(cfg.routes[1].where, "shoal.json:4:5");
	assert_int_equal(json_integer_value(json_object_get(cfg.routes[1].spec,
	    "bad")), 1);
	assert_string_equal(cfg.routes[2].handler, "m_2.x.y");
	assert_true(cfg.routes[2].prefix);
	config_free(&cfg);
	assert_zeroed(&cfg);

	/* Modules, and the default routes. */
	xsnprintf(text, sizeof(text), "{\"modules\": [{\"name\": \"app\", "
	    "\"path\": \"%s\"}]}", app);
	checker_calls = 0;
	load_ok(&cfg, text, NULL);
	assert_int_equal(cfg.nmodules, 1);
	assert_string_equal(cfg.modules[0].where, "shoal.json:1:14");
	assert_default_routes(&cfg);
	assert_int_equal(checker_calls, 4);
	config_free(&cfg);
}

static void
test_modules_default_none(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	load_ok(&cfg, "{}", NULL);
	assert_null(cfg.modules);
	assert_int_equal(cfg.nmodules, 0);
	config_free(&cfg);
	load_ok(&cfg, "{\"modules\": []}", NULL);
	assert_null(cfg.modules);
	assert_int_equal(cfg.nmodules, 0);
	config_free(&cfg);
	assert_int_equal(config_load(&cfg, NULL, NULL, err, sizeof(err)), 0);
	assert_null(cfg.modules);
	assert_int_equal(cfg.nmodules, 0);
	config_free(&cfg);
}

static void
test_modules_wrong_shape(void **state)
{
	(void)state;
	expect_error("{\"modules\": {\"name\": \"app\"}}", NULL,
	    "shoal.json:1:2: \"modules\": expected an array of module objects, "
	    "got an object");
	expect_error("{\"modules\": null}", NULL,
	    "shoal.json:1:2: \"modules\": expected an array of module objects, "
	    "got null");
	expect_error("{\"modules\": [\n  \"app\"\n]}", NULL,
	    "shoal.json:2:3: modules[0]: expected a module object, got \"app\"");
	expect_error("{\"modules\": [{\"path\": \"/x.so\"}]}", NULL,
	    "shoal.json:1:14: modules[0]: missing \"name\"");
	expect_error("{\"modules\": [{\"name\": \"app\"}]}", NULL,
	    "shoal.json:1:14: modules[0]: missing \"path\"");
	expect_error("{\"modules\": [{\"x\": 1, \"name\": \"app\"}]}", NULL,
	    "shoal.json:1:15: modules[0]: unknown key \"x\" in a module");
	/* Reported before the "name" it stands for is missed. */
	expect_error("{\"modules\": [{\"path\": \"/x.so\",\n"
	    "  \"nmae\": \"app\"}]}", NULL,
	    "shoal.json:2:3: modules[0]: unknown key \"nmae\" in a module; "
	    "did you mean \"name\"?");
	expect_error("{\"modules\": [{\"name\": \"app\", \"handler\": \"x\"}]}",
	    NULL, "shoal.json:1:30: modules[0]: unknown key \"handler\" in a "
	    "module");
}

static void
test_modules_bad_name(void **state)
{
	static const char *const bad[][2] = {
		{ "\"App\"", "\"App\"" },
		{ "\"1app\"", "\"1app\"" },
		{ "\"_app\"", "\"_app\"" },
		{ "\"my-app\"", "\"my-app\"" },
		/* The dot separates module from handler in a route. */
		{ "\"app.v2\"", "\"app.v2\"" },
		{ "\"\"", "\"\"" },
		{ "7", "7" },
		{ "[\"app\"]", "an array" },
	};
	char text[256], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		xsnprintf(text, sizeof(text), "{\"modules\": [{\"name\": %s, "
		    "\"path\": \"/x.so\"}]}", bad[i][0]);
		xsnprintf(want, sizeof(want), "shoal.json:1:15: modules[0].name: "
		    "expected a name matching [a-z][a-z0-9_]*, got %s",
		    bad[i][1]);
		expect_error(text, NULL, want);
	}
	expect_error("{\"modules\": [{\"name\": "
	    "\"a01234567890123456789012345678901\", \"path\": \"/x.so\"}]}", NULL,
	    "shoal.json:1:15: modules[0].name: expected at most 32 bytes, "
	    "got 33");
}

static void
test_modules_duplicate(void **state)
{
	char text[1024], app[PATH_MAX];

	(void)state;
	write_file("app.so", "");
	tmp_path("app.so", app, sizeof(app));
	xsnprintf(text, sizeof(text), "{\"modules\": [\n"
	    "  {\"name\": \"app\", \"path\": \"%s\"},\n"
	    "  {\"name\": \"b\", \"path\": \"%s\"},\n"
	    "  {\"name\": \"app\", \"path\": \"%s\"}\n"
	    "]}", app, app, app);
	expect_error(text, NULL, "shoal.json:4:4: modules[2].name: duplicate "
	    "module: \"app\" is also modules[0]");
}

static void
test_modules_bad_path(void **state)
{
	char text[1024], want[1024], path[PATH_MAX];

	(void)state;
	expect_error("{\"modules\": [{\"name\": \"app\", \"path\": \"app.so\"}]}",
	    NULL, "shoal.json:1:30: modules[0].path: expected an absolute file "
	    "name, got \"app.so\"");
	expect_error("{\"modules\": [{\"name\": \"app\", \"path\": \"\"}]}",
	    NULL, "shoal.json:1:30: modules[0].path: expected an absolute file "
	    "name, got \"\"");
	expect_error("{\"modules\": [{\"name\": \"app\", \"path\": 1}]}",
	    NULL, "shoal.json:1:30: modules[0].path: expected an absolute file "
	    "name, got 1");

	/* Only stat()ed: it must exist, and be a file. */
	tmp_path("missing.so", path, sizeof(path));
	xsnprintf(text, sizeof(text),
	    "{\n"
	    "  \"listen\": \"127.0.0.1:8080\",\n"
	    "  \"modules\": [\n"
	    "    {\n"
	    "      \"name\": \"app\",\n"
	    "      \"path\": \"%s\"\n"
	    "    }\n"
	    "  ]\n"
	    "}\n", path);
	xsnprintf(want, sizeof(want), "shoal.json:6:7: modules[0].path: %s: No "
	    "such file or directory", path);
	expect_error(text, NULL, want);

	assert_int_equal(mkdir("mod.d", 0700), 0);
	tmp_path("mod.d", path, sizeof(path));
	xsnprintf(text, sizeof(text), "{\"modules\": [{\"name\": \"app\", "
	    "\"path\": \"%s\"}]}", path);
	xsnprintf(want, sizeof(want), "shoal.json:1:30: modules[0].path: %s: "
	    "expected a regular file, got a directory", path);
	expect_error(text, NULL, want);
	tmp_path("mod.d/", path, sizeof(path));
	xsnprintf(text, sizeof(text), "{\"modules\": [{\"name\": \"app\", "
	    "\"path\": \"%s\"}]}", path);
	xsnprintf(want, sizeof(want), "shoal.json:1:30: modules[0].path: %s: "
	    "expected a regular file, got a directory", path);
	expect_error(text, NULL, want);
}

/* A file cannot hold "\u0000" (jansson refuses it), but a built value can. */
static void
test_modules_nul_in_path(void **state)
{
	struct config cfg = { 0 };
	struct cfg_ctx c;
	char err[256], app[PATH_MAX];
	json_t *v;

	(void)state;
	write_file("app.so", "");
	tmp_path("app.so", app, sizeof(app));
	c = (struct cfg_ctx){ "t.json", "{}", 2, err, sizeof(err) };
	v = json_pack("[{s:s,s:o}]", "name", "app", "path",
	    json_stringn("/a\0b", 4));
	assert_non_null(v);
	assert_int_equal(cfg_apply_modules(&c, &cfg, cfg_key_by_name("modules"),
	    v, CFG_FROM_FILE), -1);
	assert_string_equal(err, "t.json: modules[0].path: expected no NUL "
	    "bytes, got one at byte 2");
	config_free(&cfg);
	json_decref(v);

	/* Not located, a module's where is just the source. */
	v = json_pack("[{s:s,s:s}]", "name", "app", "path", app);
	assert_int_equal(cfg_apply_modules(&c, &cfg, cfg_key_by_name("modules"),
	    v, CFG_FROM_FILE), 0);
	assert_string_equal(cfg.modules[0].where, "t.json");
	config_free(&cfg);
	json_decref(v);
}

static void
test_too_many_modules(void **state)
{
	char text[CONFIG_MAX_MODULES * (PATH_MAX + 48) + 64], app[PATH_MAX],
	    want[128];
	struct config cfg;
	size_t n;
	int i;

	(void)state;
	write_file("app.so", "");
	tmp_path("app.so", app, sizeof(app));
	xsnprintf(text, sizeof(text), "{\"modules\": [");
	for (i = 0; i < CONFIG_MAX_MODULES; i++) {
		n = strlen(text);
		xsnprintf(text + n, sizeof(text) - n, "%s{\"name\": \"m%d\", "
		    "\"path\": \"%s\"}", i ? ", " : "", i, app);
	}
	n = strlen(text);
	xsnprintf(text + n, sizeof(text) - n, "]}");
	load_ok(&cfg, text, NULL);
	assert_int_equal(cfg.nmodules, CONFIG_MAX_MODULES);
	xsnprintf(want, sizeof(want), "m%d", CONFIG_MAX_MODULES - 1);
	assert_string_equal(cfg.modules[CONFIG_MAX_MODULES - 1].name, want);
	config_free(&cfg);

	/* One more is refused before any is looked at. */
	xsnprintf(text + n, sizeof(text) - n, ", {}]}");
	xsnprintf(want, sizeof(want), "shoal.json:1:2: \"modules\": expected at "
	    "most %d modules, got %d", CONFIG_MAX_MODULES,
	    CONFIG_MAX_MODULES + 1);
	expect_error(text, NULL, want);
}

static void
test_routes_module_handler(void **state)
{
	char text[1024], app[PATH_MAX];

	(void)state;
	write_file("app.so", "");
	tmp_path("app.so", app, sizeof(app));
	config_set_route_check(fake_route_check);
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"app.hello\"}]}",
	    NULL, "shoal.json:1:27: routes[0].handler: no module \"app\" is "
	    "declared in \"modules\"");
	xsnprintf(text, sizeof(text),
	    "{\n"
	    "  \"modules\": [{\"name\": \"app\", \"path\": \"%s\"}],\n"
	    "  \"routes\": [\n"
	    "    {\"path\": \"/\", \"handler\": \"app.hello\"},\n"
	    "    {\"path\": \"/b\", \"handler\": \"apps.hello\"}\n"
	    "  ]\n"
	    "}\n", app);
	expect_error(text, NULL, "shoal.json:5:20: routes[1].handler: no module "
	    "\"apps\" is declared in \"modules\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"app.\"}]}",
	    NULL, "shoal.json:1:27: routes[0].handler: expected "
	    "\"MODULE.HANDLER\", got \"app.\"");
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \".hello\"}]}",
	    NULL, "shoal.json:1:27: routes[0].handler: expected "
	    "\"MODULE.HANDLER\", got \".hello\"");
	/* The config module's own checks still apply to module routes. */
	xsnprintf(text, sizeof(text), "{\"modules\": [{\"name\": \"app\", "
	    "\"path\": \"%s\"}],\n"
	    " \"routes\": [{\"path\": \"/\", \"handler\": \"app.a\"},\n"
	    "  {\"path\": \"/\", \"handler\": \"app.b\"}]}", app);
	expect_error(text, NULL, "shoal.json:3:3: routes[1]: duplicate route: "
	    "\"/\" (exact) is also routes[0]");
	/* A bad module is reported first, wherever the routes are. */
	expect_error("{\"routes\": [{\"path\": \"/\", \"handler\": \"app.hello\"}],"
	    "\n \"modules\": [{\"name\": \"app\", \"path\": \"rel.so\"}]}", NULL,
	    "shoal.json:2:30: modules[0].path: expected an absolute file name, "
	    "got \"rel.so\"");
}

static void
test_override_modules_refused(void **state)
{
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "modules", "[]", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "--modules: modules can only be set in a "
	    "config file");
	assert_int_equal(json_object_size(o), 0);
	assert_int_equal(config_override(o, "module", "x", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "unknown option --module");
	json_decref(o);

	o = json_pack("{s:[]}", "modules");
	expect_error("{}", o, "--modules: modules can only be set in a config "
	    "file");
	json_decref(o);
}

static void
test_override_unknown_flag(void **state)
{
	char err[256];
	json_t *o = json_object();

	(void)state;
	assert_int_equal(config_override(o, "foo", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown option --foo");
	assert_int_equal(config_override(o, "wrokers", "1", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "unknown option --wrokers; did you mean "
	    "--workers?");
	/* The JSON spelling is not the flag. */
	assert_int_equal(config_override(o, "worker_timeout", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "unknown option --worker_timeout; did you mean "
	    "--worker-timeout?");
	assert_int_equal(config_override(o, "workers", NULL, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "--workers: missing value");
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
}

static void
test_every_key_has_a_flag(void **state)
{
	char flag[CFG_NAME_MAX + 3], err[256];
	json_t *o = json_object();
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		assert_true(strlen(cfg_keys[i].name) <= CFG_NAME_MAX);
		cfg_flag(cfg_keys[i].name, flag, sizeof(flag));
		assert_ptr_equal(cfg_key_by_flag(flag + 2), &cfg_keys[i]);
		/* Every key but the structured ones, which are refused. */
		if (!cfg_is_flag(&cfg_keys[i])) {
			assert_int_equal(config_override(o, flag + 2, "1", err,
			    sizeof(err)), -1);
			assert_null(json_object_get(o, cfg_keys[i].name));
			continue;
		}
		assert_int_equal(config_override(o, flag + 2, "1", err,
		    sizeof(err)), 0);
		assert_non_null(json_object_get(o, cfg_keys[i].name));
	}
	json_decref(o);
}

struct listen_case {
	const char *in, *norm;
	int family, port;
};

static void
test_parse_listen_good(void **state)
{
	static const struct listen_case cases[] = {
		{ "127.0.0.1:8080", "127.0.0.1:8080", AF_INET, 8080 },
		{ "*:80", "0.0.0.0:80", AF_INET, 80 },
		{ "0.0.0.0:65535", "0.0.0.0:65535", AF_INET, 65535 },
		{ "10.1.2.3:08080", "10.1.2.3:8080", AF_INET, 8080 },
		{ "[::1]:8080", "[::1]:8080", AF_INET6, 8080 },
		{ "[::]:1", "[::]:1", AF_INET6, 1 },
		{ "[2001:DB8:0:0::1]:443", "[2001:db8::1]:443", AF_INET6, 443 },
		{ "[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4]:80", AF_INET6, 80 },
		{ "unix:/run/shoal.sock", "unix:/run/shoal.sock", AF_UNIX, 0 },
	};
	struct listen_addr la;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (config_parse_listen(cases[i].in, &la, err, sizeof(err)) != 0)
			fail_msg("%s: %s", cases[i].in, err);
		assert_string_equal(la.text, cases[i].norm);
		assert_int_equal(la.sa.ss_family, cases[i].family);
		assert_false(la.proxy_protocol);
		assert_int_equal(la.mode, -1);
		assert_int_equal(la.uid, -1);
		assert_int_equal(la.gid, -1);
		if (cases[i].family == AF_INET)
			assert_int_equal(ntohs(((struct sockaddr_in *)&la.sa)->sin_port),
			    cases[i].port);
		if (cases[i].family == AF_INET6)
			assert_int_equal(ntohs(((struct sockaddr_in6 *)&la.sa)->sin6_port),
			    cases[i].port);
		free(la.text);
	}
}

static void
test_parse_listen_bad(void **state)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "", "empty address; expected host:port, [v6]:port, *:port or "
		  "unix:/path" },
		{ "8080", "missing port; expected host:port, [v6]:port, *:port or "
		  "unix:/path" },
		{ ":8080", "missing host; use *:8080 for all IPv4 addresses" },
		{ "localhost:80", "\"localhost\" is not an IP address (host names "
		  "are not resolved; use 127.0.0.1 or [::1])" },
		{ "256.1.1.1:80", "\"256.1.1.1\" is not an IPv4 address" },
		{ "1.2.3:80", "\"1.2.3\" is not an IPv4 address" },
		{ "1.2.3.4:0", "bad port \"0\"; expected a number from 1 to 65535" },
		{ "1.2.3.4:65536", "bad port \"65536\"; expected a number from 1 to "
		  "65535" },
		{ "1.2.3.4:", "bad port \"\"; expected a number from 1 to 65535" },
		{ "1.2.3.4:+80", "bad port \"+80\"; expected a number from 1 to "
		  "65535" },
		{ "1.2.3.4:000080", "bad port \"000080\"; expected a number from 1 "
		  "to 65535" },
		{ "::1:80", "an IPv6 address needs brackets, e.g. [::1]:8080" },
		{ "[::1:80", "missing ']' after IPv6 address" },
		{ "[::1]80", "missing :port after ']'" },
		{ "[::1]", "missing :port after ']'" },
		{ "[1.2.3.4]:80", "\"1.2.3.4\" is not an IPv6 address" },
		{ "[fe80::1%eth0]:80", "\"fe80::1%eth0\" is not an IPv6 address" },
		{ "unix:run/x.sock", "unix socket path must be absolute, e.g. "
		  "unix:/run/shoal.sock" },
		{ "unix:", "unix socket path must be absolute, e.g. "
		  "unix:/run/shoal.sock" },
	};
	struct listen_addr la = { 0 };
	char err[256], path[200];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (config_parse_listen(cases[i].in, &la, err, sizeof(err)) != -1)
			fail_msg("%s: accepted", cases[i].in);
		assert_string_equal(err, cases[i].err);
		assert_null(la.text);
	}
	/* sun_path is 108 bytes: 107 characters and the NUL. */
	memset(path, 'a', sizeof(path));
	memcpy(path, "unix:/", 6);
	path[5 + 107] = '\0';
	assert_int_equal(config_parse_listen(path, &la, err, sizeof(err)), 0);
	free(la.text);
	path[5 + 107] = 'a';
	path[5 + 108] = '\0';
	assert_int_equal(config_parse_listen(path, &la, err, sizeof(err)), -1);
	assert_string_equal(err, "unix socket path is 108 bytes; the limit is 107");
}

/* Where path is in text, as "line:col", or "-" if config_locate fails. */
static const char *
locate(const char *text, const struct config_step *path, size_t depth,
    char *buf, size_t len)
{
	struct config_pos pos;

	if (config_locate(text, strlen(text), path, depth, &pos) == -1)
		return "-";
	snprintf(buf, len, "%d:%d", pos.line, pos.col);
	return buf;
}

#define KEY(k) { (k), 0 }
#define IDX(i) { NULL, (i) }
#define LOCATE(text, ...) locate((text),				\
	(const struct config_step[]){ __VA_ARGS__ },			\
	ARRAY_SIZE(((const struct config_step[]){ __VA_ARGS__ })),	\
	buf, sizeof(buf))

static void
test_locator(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"_comment\": {\"listen\": [1, 2], \"s\": \"}\\\"{[\"},\n"
	    "  \"//\": \"\\\"listen\\\": [\",\n"
	    "  \"a\": [true, null, -1.5e3, {\"b\": []}],\n"
	    "  \"é\": \"ü\", \"work\\u0065rs\": 3,\n"
	    "  \"listen\" :\n"
	    "    [ \"x\",\n"
	    "\t\"y\" ]\n"
	    "}\n";
	struct config_step path[1] = { KEY("a") };
	struct config_pos pos;
	char buf[32];

	(void)state;
	assert_string_equal(LOCATE(text, KEY("listen")), "6:3");
	assert_string_equal(LOCATE(text, KEY("listen"), IDX(0)), "7:7");
	assert_string_equal(LOCATE(text, KEY("listen"), IDX(1)), "8:2");
	/* Past the end of the array: the key. */
	assert_string_equal(LOCATE(text, KEY("listen"), IDX(2)), "6:3");
	/* Escaped key, after a multi-byte character. */
	assert_string_equal(LOCATE(text, KEY("workers")), "5:13");
	assert_string_equal(LOCATE(text, KEY("a"), IDX(3)), "4:29");
	assert_string_equal(LOCATE(text, KEY("a"), IDX(3), KEY("b")), "4:30");
	/* Keys only seen nested, or not at all, are not found. */
	assert_string_equal(LOCATE(text, KEY("s")), "-");
	assert_string_equal(LOCATE(text, KEY("b")), "-");
	assert_string_equal(LOCATE(text, KEY("nope")), "-");
	assert_string_equal(LOCATE("[]", KEY("a")), "-");
	/* No steps: the top-level value. */
	assert_string_equal(locate("\n  [1]", path, 0, buf, sizeof(buf)), "2:3");
	/* Never reads past len, even on text that is not JSON. */
	assert_int_equal(config_locate("{\"a", 3, path, 1, &pos), -1);
	assert_int_equal(config_locate("{\"a\": [\"", 8,
	    (const struct config_step[]){ KEY("a"), IDX(0) }, 2, &pos), 0);
	assert_int_equal(pos.line, 1);
	assert_int_equal(pos.col, 8);
	assert_int_equal(config_locate("{\"a\": [{\"b", 10,
	    (const struct config_step[]){ KEY("a"), IDX(0), KEY("b") }, 3,
	    &pos), 0);
	assert_int_equal(pos.col, 8);
}

static void
test_locator_nested(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"routes\": [\n"
	    "    {\"path\": \"/\", \"handler\": \"x\"},\n"
	    "    {\n"
	    "      \"handler\": \"y\",\n"
	    "      \"methods\": [\"GET\", \"POST\"],\n"
	    "      \"path\": \"/a\"\n"
	    "    }\n"
	    "  ],\n"
	    "  \"a\": {\"b\": {\"c\": 1}}\n"
	    "}\n";
	char buf[32];

	(void)state;
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(0)), "3:5");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(0), KEY("handler")),
	    "3:19");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(1)), "4:5");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(1), KEY("methods")),
	    "6:7");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(1), KEY("methods"),
	    IDX(1)), "6:26");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(1), KEY("path")),
	    "7:7");
	assert_string_equal(LOCATE(text, KEY("a"), KEY("b"), KEY("c")), "10:15");
	/* A step that cannot be followed leaves the deepest one found. */
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(1), KEY("root")),
	    "4:5");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(1), KEY("methods"),
	    IDX(7)), "6:7");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(5)), "2:3");
	assert_string_equal(LOCATE(text, KEY("routes"), IDX(-1)), "2:3");
	assert_string_equal(LOCATE(text, KEY("routes"), KEY("path")), "2:3");
	assert_string_equal(LOCATE(text, KEY("a"), IDX(0)), "10:3");
	/* "path" exists only inside routes. */
	assert_string_equal(LOCATE(text, KEY("path")), "-");
}

static void
test_distance(void **state)
{
	(void)state;
	assert_int_equal(cfg_distance("workers", "workers"), 0);
	assert_int_equal(cfg_distance("wrokers", "workers"), 1);
	assert_int_equal(cfg_distance("worker", "workers"), 1);
	assert_int_equal(cfg_distance("wokrres", "workers"), 2);
	assert_int_equal(cfg_distance("", "abc"), 3);
	assert_ptr_equal(cfg_suggest("backlgo", false), cfg_key_by_name("backlog"));
	assert_null(cfg_suggest("colour", false));
	assert_null(cfg_suggest("x", false));
}

static void
test_quote(void **state)
{
	char buf[80], small[16];

	(void)state;
	assert_string_equal(cfg_quote("a\"b\\c\td", buf, sizeof(buf)),
	    "\"a\\\"b\\\\c\\u0009d\"");
	assert_string_equal(cfg_quote(
	    "0123456789012345678901234567890123456789012345678901234567890",
	    buf, sizeof(buf)),
	    "\"012345678901234567890123456789012345678901234567...\"");
	/* Cut between characters, never inside one. */
	assert_string_equal(cfg_quote("ééééééééééééééééééééééééééééééé",
	    buf, sizeof(buf)), "\"éééééééééééééééééééééééé...\"");
	assert_string_equal(cfg_quote("ééééé", small, sizeof(small)), "\"éé...\"");
}

/*
 * config_load opens files; a leaked fd on any path shows up as EMFILE
 * under a small RLIMIT_NOFILE. Forked so the limit stays in the child.
 */
static void
test_no_fd_leak(void **state)
{
	struct rlimit rl = { 16, 16 };
	struct config cfg;
	char err[256];
	int st, i, ok, lowest;
	pid_t pid;

	(void)state;
	write_file("good.json", "{\"workers\": 2}");
	write_file("bad.json", "{\"workers\": 0}");
	write_file("broken.json", "{");
	/* getpwnam and getgrnam open files of their own. */
	write_file("owner.json", "{\"listen\": [{\"address\": \"unix:/x\", "
	    "\"owner\": \"root\", \"group\": \"root\"}]}");
	write_file("noowner.json", "{\"listen\": [{\"address\": \"unix:/x\", "
	    "\"owner\": \"no-such-user-shoal\"}]}");
	assert_int_equal(mkdir("fdleak.d", 0700), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		/* valgrind refuses setrlimit(NOFILE); the fd check still holds. */
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		/*
		 * Once first: a name service cache (nscd, sssd) may keep a
		 * socket open for the process's life, which is no leak.
		 */
		ok = config_load(&cfg, "owner.json", NULL, err, sizeof(err)) == 0;
		config_free(&cfg);
		ok = ok && (lowest = dup(0)) != -1 && close(lowest) == 0;
		for (i = 0; ok && i < 64; i++) {
			ok = config_load(&cfg, "good.json", NULL, err,
			    sizeof(err)) == 0;
			config_free(&cfg);
			ok = ok && config_load(&cfg, "owner.json", NULL, err,
			    sizeof(err)) == 0;
			config_free(&cfg);
			ok = ok &&
			    config_load(&cfg, "noowner.json", NULL, err,
			    sizeof(err)) == -1 &&
			    config_load(&cfg, "bad.json", NULL, err,
			    sizeof(err)) == -1 &&
			    config_load(&cfg, "broken.json", NULL, err,
			    sizeof(err)) == -1 &&
			    config_load(&cfg, "fdleak.d", NULL, err,
			    sizeof(err)) == -1 &&
			    strstr(err, "EMFILE") == NULL &&
			    strstr(err, "Too many open files") == NULL;
		}
		/* Every fd opened was closed: the lowest free one is unchanged. */
		ok = ok && dup(0) == lowest;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The keys of the operations issue: defaults, ranges, cross-checks. */
static void
test_ops_keys(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "{}", NULL);
	assert_int_equal(cfg.max_requests, 0);
	assert_int_equal(cfg.max_requests_jitter, 0);
	assert_int_equal(cfg.max_memory, 0);
	assert_int_equal(cfg.rlimit_nofile, 0);          /* "auto" */
	assert_false(cfg.cpu_affinity_auto);
	assert_int_equal(cfg.uid, -1);
	config_free(&cfg);

	load_ok(&cfg, "{\"max_requests\": 1000, \"max_requests_jitter\": 50, "
	    "\"max_memory\": \"256M\", \"rlimit_nofile\": 20000}", NULL);
	assert_int_equal(cfg.max_requests, 1000);
	assert_int_equal(cfg.max_requests_jitter, 50);
	assert_int_equal(cfg.max_memory, 256 << 20);
	assert_int_equal(cfg.rlimit_nofile, 20000);
	config_free(&cfg);

	expect_error("{\"max_memory\": \"1.5G\"}", NULL, "shoal.json:1:2: "
	    "\"max_memory\": expected a number of bytes from 0 to "
	    "1099511627776, as digits with an optional K, M or G (\"512M\"), "
	    "got \"1.5G\"");
	expect_error("{\"max_requests\": -1}", NULL, "shoal.json:1:2: "
	    "\"max_requests\": expected an integer from 0 to 1000000000000, "
	    "got -1");
	/* A number too small for a worker's connections is refused. */
	expect_error("{\"rlimit_nofile\": 1000}", NULL, "shoal.json:1:2: "
	    "\"rlimit_nofile\": 1000 is too small for max_connections 10000: "
	    "each worker needs max_connections + 64 descriptors");
	load_ok(&cfg, "{\"rlimit_nofile\": 1064, \"max_connections\": 1000}",
	    NULL);
	config_free(&cfg);
	expect_error("{\"rlimit_nofile\": 1063, \"max_connections\": 1000}",
	    NULL, "shoal.json:1:2: \"rlimit_nofile\": 1063 is too small for "
	    "max_connections 1000: each worker needs max_connections + 64 "
	    "descriptors");
}

/* "null" as a flag's value is none, as null is in the file. */
static void
test_flag_null(void **state)
{
	struct config cfg;
	json_t *ovr = json_object();
	char err[512];

	(void)state;
	assert_int_equal(config_override(ovr, "control-socket", "null", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(ovr, "pid-file", "./null", err,
	    sizeof(err)), 0);
	assert_int_equal(config_override(ovr, "max-memory", "64M", err,
	    sizeof(err)), 0);
	load_ok(&cfg, "{\"control_socket\": \"/tmp/x.sock\"}", ovr);
	assert_null(cfg.control_socket);
	assert_string_equal(cfg.pid_file, "./null");
	assert_int_equal(cfg.max_memory, 64 << 20);
	config_free(&cfg);
	json_decref(ovr);
}

/* config_key_info walks the whole table: what --help lists. */
static void
test_key_info(void **state)
{
	struct config_key_info ki;
	size_t i;

	(void)state;
	for (i = 0; config_key_info(i, &ki); i++) {
		assert_non_null(ki.name);
		assert_true(ki.help != NULL && ki.help[0] != '\0');
		assert_ptr_equal(ki.name, cfg_keys[i].name);
		if (ki.flag)
			assert_true(ki.arg[0] != '\0');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(cfg_keys[j].name, ki.name);
	}
	assert_int_equal(i, ARRAY_SIZE(cfg_keys));
	assert_true(config_key_info(cfg_key_by_name("worker_timeout") - cfg_keys,
	    &ki));
	assert_string_equal(ki.arg, "SEC");
	assert_string_equal(ki.def, "30");
	assert_true(ki.flag && !ki.repeated);
	assert_true(config_key_info(cfg_key_by_name("listen") - cfg_keys, &ki));
	assert_true(ki.flag && ki.repeated);
	assert_true(config_key_info(cfg_key_by_name("routes") - cfg_keys, &ki));
	assert_false(ki.flag);
	assert_true(config_key_info(cfg_key_by_name("max_memory") - cfg_keys,
	    &ki));
	assert_string_equal(ki.arg, "BYTES");
	assert_true(config_key_info(cfg_key_by_name("workers") - cfg_keys, &ki));
	assert_string_equal(ki.def, "auto");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_file_gets_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_listen_string_or_array),
		cmocka_unit_test(test_listen_ipv6_and_unix),
		cmocka_unit_test(test_embedded_default),
		cmocka_unit_test(test_embedded_default_errors_name_it),
		cmocka_unit_test(test_comment_keys_ignored),
		cmocka_unit_test(test_integral_real_is_an_integer),
		cmocka_unit_test(test_syntax_error_position),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_duplicate_listen),
		cmocka_unit_test(test_too_many_listen),
		cmocka_unit_test(test_listen_objects),
		cmocka_unit_test(test_listen_object_errors),
		cmocka_unit_test(test_listen_bad_mode),
		cmocka_unit_test(test_listen_bad_owner),
		cmocka_unit_test(test_listen_object_duplicate),
		cmocka_unit_test(test_override_listen_unix),
		cmocka_unit_test(test_trusted_proxies),
		cmocka_unit_test(test_trusted_proxies_bad),
		cmocka_unit_test(test_too_many_trusted_proxies),
		cmocka_unit_test(test_override_trusted_proxies),
		cmocka_unit_test(test_respawn_min_above_max),
		cmocka_unit_test(test_top_level_not_object),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_override_wins),
		cmocka_unit_test(test_override_listen_replaces),
		cmocka_unit_test(test_override_bad_value_names_flag),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_routes_every_method),
		cmocka_unit_test(test_routes_wrong_shape),
		cmocka_unit_test(test_routes_bad_path),
		cmocka_unit_test(test_routes_nul_in_path),
		cmocka_unit_test(test_routes_bad_match_and_methods),
		cmocka_unit_test(test_routes_duplicate),
		cmocka_unit_test(test_too_many_routes),
		cmocka_unit_test_teardown(test_route_checker, reset_route_check),
		cmocka_unit_test(test_override_routes_refused),
		cmocka_unit_test_teardown(test_modules, reset_route_check),
		cmocka_unit_test(test_modules_default_none),
		cmocka_unit_test(test_modules_wrong_shape),
		cmocka_unit_test(test_modules_bad_name),
		cmocka_unit_test(test_modules_duplicate),
		cmocka_unit_test(test_modules_bad_path),
		cmocka_unit_test(test_modules_nul_in_path),
		cmocka_unit_test(test_too_many_modules),
		cmocka_unit_test_teardown(test_routes_module_handler,
		    reset_route_check),
		cmocka_unit_test(test_override_modules_refused),
		cmocka_unit_test(test_override_unknown_flag),
		cmocka_unit_test(test_every_key_has_a_flag),
		cmocka_unit_test(test_parse_listen_good),
		cmocka_unit_test(test_parse_listen_bad),
		cmocka_unit_test(test_locator),
		cmocka_unit_test(test_locator_nested),
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_ops_keys),
		cmocka_unit_test(test_flag_null),
		cmocka_unit_test(test_key_info),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests_name("config", tests, group_setup,
	    group_teardown);
}
