/*
 * Unit tests for common/config/routes.c as a listen object's "routes":
 * filled into that listen address, named and located as
 * listen[i].routes[j] (listen.routes[j] for a lone object), checked like
 * the top-level ones (handler, duplicates, module handlers), and absent
 * for addresses without them. Plus "access_log_format", a CFG_CHOICE key
 * of config.c. The worker's handler registry is the route checker, as in
 * shoal.
 *
 * Configurations are written to a file in a mkdtemp directory (chdir'd
 * into, so messages read "shoal.json:3:3: ..."), removed at teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/routes.c"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker/app/registry.h"

static char tmpdir[PATH_MAX];
static int oldcwd = -1;

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/shoal-test-routes.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if ((oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	config_set_route_check(registry_check_route);
	return chdir(tmpdir);
}

static int
group_teardown(void **state)
{
	int rc = 0;

	(void)state;
	unlink("shoal.json");
	unlink("app.so");
	if (oldcwd != -1) {
		if (fchdir(oldcwd) == -1)
			rc = -1;
		close(oldcwd);
	}
	return rmdir(tmpdir) == -1 ? -1 : rc;
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
expect_error(const char *text, const char *want)
{
	struct config cfg;
	char err[512];

	assert_int_equal(load(&cfg, text, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void
test_listen_routes_filled_and_named(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load(&cfg,
	    "{\"listen\": [\"127.0.0.1:8080\",\n"
	    "  {\"address\": \"127.0.0.1:9100\", \"routes\": [\n"
	    "    {\"path\": \"/metrics\", \"handler\": \"metrics\"},\n"
	    "    {\"path\": \"/status\", \"handler\": \"status\"}]}],\n"
	    " \"routes\": [{\"path\": \"/\", \"handler\": \"hello\"}]}\n",
	    err, sizeof(err)), 0);
	assert_int_equal(cfg.nlisten, 2);
	assert_null(cfg.listen[0].routes);
	assert_int_equal(cfg.listen[0].nroutes, 0);
	assert_int_equal(cfg.listen[1].nroutes, 2);
	assert_string_equal(cfg.listen[1].routes[0].path, "/metrics");
	assert_string_equal(cfg.listen[1].routes[1].handler, "status");
	assert_string_equal(cfg.listen[1].routes[1].key, "listen[1].routes[1]");
	assert_string_equal(cfg.listen[1].routes[1].where, "shoal.json:4:5");
	assert_int_equal(cfg.nroutes, 1);
	assert_string_equal(cfg.routes[0].key, "routes[0]");
	assert_string_equal(cfg.routes[0].where, "shoal.json:5:13");
	config_free(&cfg);

	/* a lone listen object */
	assert_int_equal(load(&cfg,
	    "{\"listen\": {\"address\": \"127.0.0.1:9100\", \"routes\": [\n"
	    "    {\"path\": \"/m\", \"handler\": \"metrics\"}]}}\n",
	    err, sizeof(err)), 0);
	assert_int_equal(cfg.listen[0].nroutes, 1);
	assert_string_equal(cfg.listen[0].routes[0].key, "listen.routes[0]");
	config_free(&cfg);
}

static void
test_listen_routes_errors(void **state)
{
	(void)state;
	expect_error("{\"listen\": [\"127.0.0.1:1\",\n"
	    "  {\"address\": \"127.0.0.1:2\", \"routes\": {\"path\": \"/\"}}]}\n",
	    "shoal.json:2:30: listen[1].routes: expected an array of route "
	    "objects, got an object");
	expect_error("{\"listen\": [{\"address\": \"127.0.0.1:2\", \"routes\": []}]}\n",
	    "shoal.json:1:40: listen[0].routes: expected 1 to 256 routes, got 0");
	expect_error("{\"listen\": [\"127.0.0.1:1\",\n"
	    "  {\"address\": \"127.0.0.1:2\", \"routes\": [\n"
	    "    {\"path\": \"/m\", \"handler\": \"metrix\"}]}]}\n",
	    "shoal.json:3:20: listen[1].routes[0].handler: unknown handler "
	    "\"metrix\"");
	expect_error("{\"listen\": {\"address\": \"127.0.0.1:2\", \"routes\": [\n"
	    "    {\"path\": \"/m\", \"handler\": \"metrics\"},\n"
	    "    {\"path\": \"/m\", \"handler\": \"status\"}]}}\n",
	    "shoal.json:3:5: listen.routes[1]: duplicate route: \"/m\" (exact) "
	    "is also listen.routes[0]");
	expect_error("{\"listen\": [{\"address\": \"127.0.0.1:2\", \"routes\": [\n"
	    "    {\"path\": \"/a\", \"handler\": \"app.greet\"}]}]}\n",
	    "shoal.json:2:20: listen[0].routes[0].handler: no module \"app\" is "
	    "declared in \"modules\"");
	/* a route key of the handler's own, checked by the registry */
	expect_error("{\"listen\": [{\"address\": \"127.0.0.1:2\", \"routes\": [\n"
	    "    {\"path\": \"/m\", \"handler\": \"metrics\", \"x\": 1}]}]}\n",
	    "shoal.json:2:42: listen[0].routes[0].x: unknown key for handler "
	    "metrics");
}

static void
test_listen_routes_may_name_a_module(void **state)
{
	struct config cfg;
	char err[512];
	FILE *f = fopen("app.so", "w");

	(void)state;
	assert_non_null(f);
	fclose(f);
	/* "modules" is applied before the listen objects' routes */
	assert_int_equal(load(&cfg,
	    "{\"listen\": [{\"address\": \"127.0.0.1:2\", \"routes\": [\n"
	    "    {\"path\": \"/a\", \"handler\": \"app.greet\"}]}],\n"
	    " \"modules\": [{\"name\": \"app\", \"path\": \"/dev/null/x\"}]}\n",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "modules[0].path"));
	{
		char text[PATH_MAX + 256], cwd[PATH_MAX];

		assert_non_null(getcwd(cwd, sizeof(cwd)));
		snprintf(text, sizeof(text),
		    "{\"listen\": [{\"address\": \"127.0.0.1:2\", \"routes\": [\n"
		    "    {\"path\": \"/a\", \"handler\": \"app.greet\"}]}],\n"
		    " \"modules\": [{\"name\": \"app\", \"path\": \"%s/app.so\"}]}\n",
		    cwd);
		assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
	}
	assert_string_equal(cfg.listen[0].routes[0].handler, "app.greet");
	config_free(&cfg);
}

static void
test_access_log_format(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load(&cfg, "{}", err, sizeof(err)), 0);
	assert_int_equal(cfg.access_log_format, CONFIG_LOG_COMMON);
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"access_log_format\": \"json\"}", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.access_log_format, CONFIG_LOG_JSON);
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"access_log_format\": \"combined\"}", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.access_log_format, CONFIG_LOG_COMBINED);
	config_free(&cfg);
	expect_error("{\n  \"access_log_format\": \"clf\"\n}\n",
	    "shoal.json:2:3: \"access_log_format\": expected \"common\", "
	    "\"combined\" or \"json\", got \"clf\"");
	/* every key is listed for `shoal --keys`, this one among them */
	{
		bool found = false;
		const char *k;

		for (size_t i = 0; (k = config_key_name(i)) != NULL; i++)
			found = found || strcmp(k, "access_log_format") == 0;
		assert_true(found);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_routes_filled_and_named),
		cmocka_unit_test(test_listen_routes_errors),
		cmocka_unit_test(test_listen_routes_may_name_a_module),
		cmocka_unit_test(test_access_log_format),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
