/*
 * Unit tests for common/config/cpus.c: CPU lists ("0", "2-3", "0-3,8")
 * and the "worker_cpu_affinity" key through config_load (linked in):
 * null, "auto", a lone list, an array of lists, repeated flags, and the
 * errors, each naming the key (and the element) it is about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config/cpus.c"

#include <unistd.h>

static void
test_parse(void **state)
{
	static const char *const bad[] = { "", ",", "0,", ",0", "1-0", "0-",
	    "-1", "a", "0 ", " 0", "0;1", "1024", "0-1024", "0--1", "0,,1" };
	cpu_set_t set;
	char why[160];

	(void)state;
	assert_int_equal(cfg_parse_cpus("0", &set, why, sizeof(why)), 0);
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_true(CPU_ISSET(0, &set));
	assert_int_equal(cfg_parse_cpus("0-3,8,10-11", &set, why, sizeof(why)),
	    0);
	assert_int_equal(CPU_COUNT(&set), 7);
	assert_true(CPU_ISSET(3, &set) && CPU_ISSET(8, &set) &&
	    CPU_ISSET(11, &set) && !CPU_ISSET(9, &set));
	assert_int_equal(cfg_parse_cpus("1023", &set, why, sizeof(why)), 0);
	assert_true(CPU_ISSET(1023, &set));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cfg_parse_cpus(bad[i], &set, why, sizeof(why)) != -1)
			fail_msg("\"%s\" was accepted as a CPU list", bad[i]);
	assert_string_equal(why, "expected a CPU list such as \"0\", \"2-3\" or "
	    "\"0-3,8\" (CPUs 0 to 1023)");
}

/* Load {"worker_cpu_affinity": text} (text NULL: absent) from a file. */
static int
load(struct config *cfg, const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/shoal-test-cpus.XXXXXX", body[512];
	int fd, r, n;

	n = snprintf(body, sizeof(body), text ? "{\n  \"worker_cpu_affinity\": "
	    "%s\n}\n" : "{}\n", text);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_true(write(fd, body, (size_t)n) == n);
	close(fd);
	r = config_load(cfg, path, NULL, err, errlen);
	unlink(path);
	/* messages without the random file name */
	if (r == -1 && strncmp(err, path, strlen(path)) == 0)
		memmove(err, err + strlen(path), strlen(err + strlen(path)) + 1);
	return r;
}

static void
test_key(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load(&cfg, NULL, err, sizeof(err)), 0);
	assert_false(cfg.cpu_affinity_auto);
	assert_int_equal(cfg.ncpu_sets, 0);
	config_free(&cfg);

	assert_int_equal(load(&cfg, "null", err, sizeof(err)), 0);
	assert_int_equal(cfg.ncpu_sets, 0);
	config_free(&cfg);

	assert_int_equal(load(&cfg, "\"auto\"", err, sizeof(err)), 0);
	assert_true(cfg.cpu_affinity_auto);
	assert_int_equal(cfg.ncpu_sets, 0);
	config_free(&cfg);

	assert_int_equal(load(&cfg, "\"0-1\"", err, sizeof(err)), 0);
	assert_false(cfg.cpu_affinity_auto);
	assert_int_equal(cfg.ncpu_sets, 1);
	assert_int_equal(CPU_COUNT(&cfg.cpu_sets[0]), 2);
	config_free(&cfg);

	assert_int_equal(load(&cfg, "[\"0\", \"1\", \"2-3\"]", err, sizeof(err)),
	    0);
	assert_int_equal(cfg.ncpu_sets, 3);
	assert_true(CPU_ISSET(1, &cfg.cpu_sets[1]) &&
	    CPU_COUNT(&cfg.cpu_sets[1]) == 1);
	assert_true(CPU_ISSET(3, &cfg.cpu_sets[2]));
	config_free(&cfg);
}

static void
test_key_errors(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load(&cfg, "[\"0\", \"auto\"]", err, sizeof(err)), -1);
	assert_string_equal(err, ":2:32: \"worker_cpu_affinity\": \"auto\" "
	    "stands alone, not in a list of CPU lists");
	assert_int_equal(load(&cfg, "[\"0\", 1]", err, sizeof(err)), -1);
	assert_string_equal(err, ":2:32: \"worker_cpu_affinity\": expected a "
	    "CPU list string such as \"0-1\", got 1");
	assert_int_equal(load(&cfg, "\"0-x\"", err, sizeof(err)), -1);
	assert_string_equal(err, ":2:3: \"worker_cpu_affinity\": \"0-x\": "
	    "expected a CPU list such as \"0\", \"2-3\" or \"0-3,8\" (CPUs 0 to "
	    "1023)");
	assert_int_equal(load(&cfg, "3", err, sizeof(err)), -1);
	assert_string_equal(err, ":2:3: \"worker_cpu_affinity\": expected "
	    "\"auto\", a CPU list or an array of CPU lists, got 3");
}

static void
test_flags(void **state)
{
	struct config cfg;
	json_t *ovr = json_object();
	char err[512];

	(void)state;
	assert_int_equal(config_override(ovr, "worker-cpu-affinity", "0",
	    err, sizeof(err)), 0);
	assert_int_equal(config_override(ovr, "worker-cpu-affinity", "1-2",
	    err, sizeof(err)), 0);
	assert_int_equal(config_load(&cfg, NULL, ovr, err, sizeof(err)), 0);
	assert_int_equal(cfg.ncpu_sets, 2);
	assert_true(CPU_ISSET(2, &cfg.cpu_sets[1]));
	config_free(&cfg);
	json_decref(ovr);

	ovr = json_object();
	assert_int_equal(config_override(ovr, "worker-cpu-affinity", "auto",
	    err, sizeof(err)), 0);
	assert_int_equal(config_load(&cfg, NULL, ovr, err, sizeof(err)), 0);
	assert_true(cfg.cpu_affinity_auto);
	config_free(&cfg);
	json_decref(ovr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
