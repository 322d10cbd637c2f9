/*
 * Unit tests for worker/http/date.c: the one HTTP-date formatter (known
 * dates, every day of a long span against the C library's strftime in
 * the C locale, too-small buffers, years it cannot write) and the parser
 * of the three forms RFC 9110 allows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/date.c"

#include <locale.h>

#define LIT(s) s, sizeof(s) - 1

static void
test_format_known(void **state)
{
	char out[40];

	(void)state;
	http_date_format(784111777, out, sizeof(out));
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_date_format(0, out, sizeof(out));
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Every day from 1970 to 2100, at a time of day that walks through the
 * hours, minutes and seconds, against strftime in the C locale. */
static void
test_format_span(void **state)
{
	char want[64], got[40];
	struct tm tm;
	time_t t;

	(void)state;
	setlocale(LC_TIME, "C");
	for (t = 0; t < 4102444800; t += 86400 + 3607) {
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(http_date_format(t, got, sizeof(got)),
		    HTTP_DATE_LEN);
		assert_string_equal(got, want);
	}
	/* a leap day, and the last second of a year */
	http_date_format(951782400, got, sizeof(got));
	assert_string_equal(got, "Tue, 29 Feb 2000 00:00:00 GMT");
	http_date_format(1704067199, got, sizeof(got));
	assert_string_equal(got, "Sun, 31 Dec 2023 23:59:59 GMT");
}

static void
test_format_limits(void **state)
{
	char out[HTTP_DATE_LEN + 1];

	(void)state;
	/* exactly room for the date and its NUL */
	memset(out, 'x', sizeof(out));
	assert_int_equal(http_date_format(784111777, out, sizeof(out)),
	    HTTP_DATE_LEN);
	assert_int_equal(out[HTTP_DATE_LEN], '\0');
	/* one byte short: nothing but an empty string */
	memset(out, 'x', sizeof(out));
	assert_int_equal(http_date_format(784111777, out, HTTP_DATE_LEN), 0);
	assert_int_equal(out[0], '\0');
	assert_int_equal(http_date_format(784111777, NULL, 0), 0);
	/* a year of five digits does not fit the form: the epoch instead */
	assert_int_equal(http_date_format((time_t)253402300800LL, out,
	    sizeof(out)), HTTP_DATE_LEN);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	/* the last second it can write */
	http_date_format((time_t)253402300799LL, out, sizeof(out));
	assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 GMT");
}

static void
test_parse(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(http_date_parse(
	    LIT("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(http_date_parse(
	    LIT(" Sun, 06 Nov 1994 08:49:37 GMT\t"), &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(http_date_parse(
	    LIT("Sunday, 06-Nov-94 08:49:37 GMT"), &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(http_date_parse(
	    LIT("Sun Nov  6 08:49:37 1994"), &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(http_date_parse(
	    LIT("Tue, 01 Jan 2030 00:00:00 GMT"), &t), 0);
	assert_int_equal(t, 1893456000);

	t = 42;
	assert_int_equal(http_date_parse(LIT(""), &t), -1);
	assert_int_equal(http_date_parse(LIT("yesterday"), &t), -1);
	assert_int_equal(http_date_parse(
	    LIT("Sun, 06 Foo 1994 08:49:37 GMT"), &t), -1);
	assert_int_equal(http_date_parse(
	    LIT("Sun, 06 Nov 1994 25:49:37 GMT"), &t), -1);
	assert_int_equal(http_date_parse(
	    LIT("Sun, 06 Nov 1994 08:49:37 GMTx"), &t), -1);
	assert_int_equal(http_date_parse(
	    LIT("Sun, 06 Nov 1994 08:49:37 UTC"), &t), -1);
	assert_int_equal(http_date_parse(
	    LIT("Sun, 06 Nov 1994 08:49:37"), &t), -1);
	assert_int_equal(t, 42);
	/* the length bounds the parse, not a NUL */
	assert_int_equal(http_date_parse(
	    "Sun, 06 Nov 1994 08:49:37 GMT", 20, &t), -1);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_known),
		cmocka_unit_test(test_format_span),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests_name("date", tests, NULL, NULL);
}
