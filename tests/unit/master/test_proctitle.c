/*
 * Unit tests for master/proctitle.c: the title is written over the argv
 * (and environment) area the kernel shows, padded with NULs; the caller
 * gets copies of its arguments and keeps its environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/proctitle.c"

static void
test_title(void **state)
{
	/* argv and environ laid end to end, as the kernel lays them out */
	static char area[] = "build/shoal\0-c\0f.json\0HOME=/root\0X=1";
	char *argv[] = { area, area + 12, area + 15, NULL };
	char *env[] = { area + 22, area + 33, NULL };
	char **saved = environ, **copy;

	(void)state;
	environ = env;
	copy = proctitle_init(3, argv);
	assert_true(copy != argv);
	assert_string_equal(copy[0], "build/shoal");
	assert_string_equal(copy[2], "f.json");
	assert_null(copy[3]);
	assert_true(environ != env);
	assert_string_equal(getenv("HOME"), "/root");
	assert_int_equal(pt.len, sizeof(area));

	proctitle_set("shoal: worker %u (generation %u)", 0u, 3u);
	assert_string_equal(area, "shoal: worker 0 (generation 3)");
	for (size_t i = strlen(area); i < sizeof(area); i++)
		assert_int_equal(area[i], '\0');
	/* the copies are untouched */
	assert_string_equal(copy[1], "-c");

	/* longer than the area: cut short, the last byte still NUL */
	proctitle_set("%0100d", 7);
	assert_int_equal(strlen(area), sizeof(area) - 1);
	/* The copies are the process's for good; here, the test's to free. */
	for (size_t i = 0; environ[i] != NULL; i++)
		free(environ[i]);
	free(environ);
	environ = saved;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_title),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
