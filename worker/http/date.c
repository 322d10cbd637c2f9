/*
 * date — HTTP-dates (RFC 9110 5.6.7), the one formatter and the parser:
 * the Date header of every response, Last-Modified, If-Modified-Since.
 *
 * The formatter writes digits from tables: no printf and no locale (a
 * strftime %a would follow LC_TIME), so a response head never depends on
 * the environment.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "worker/api/http.h"

static const char wkday[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
    "Sat" };
static const char month[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static char *
put2(char *p, int v)
{
	*p++ = (char)('0' + v / 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

size_t
http_date_format(time_t t, char *out, size_t outsz)
{
	static const time_t epoch = 0;
	struct tm tm;
	char *p = out;
	int year;

	if (outsz < HTTP_DATE_LEN + 1) {
		if (outsz > 0)
			*out = '\0';
		return 0;
	}
	/* Four digits of year or nothing: beyond them, the epoch. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		gmtime_r(&epoch, &tm);
	year = tm.tm_year + 1900;
	memcpy(p, wkday[tm.tm_wday % 7], 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	p = put2(p, tm.tm_mday);
	*p++ = ' ';
	memcpy(p, month[tm.tm_mon % 12], 3);
	p += 3;
	*p++ = ' ';
	p = put2(p, year / 100);
	p = put2(p, year % 100);
	*p++ = ' ';
	p = put2(p, tm.tm_hour);
	*p++ = ':';
	p = put2(p, tm.tm_min);
	*p++ = ':';
	p = put2(p, tm.tm_sec);
	memcpy(p, " GMT", 5);
	return HTTP_DATE_LEN;
}

static int
month_index(const char *m)
{
	for (int i = 0; i < 12; i++)
		if (strcmp(m, month[i]) == 0)
			return i;
	return -1;
}

int
http_date_parse(const char *s, size_t len, time_t *out)
{
	char b[64], wk[16], mon[4];
	int d, y, hh, mm, ss, n = -1;
	struct tm tm;
	time_t t;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(b))
		return -1;
	memcpy(b, s, len);
	b[len] = '\0';

	if (sscanf(b, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n",
	    wk, &d, mon, &y, &hh, &mm, &ss, &n) == 7 && n == (int)len) {
		/* IMF-fixdate */
	} else if (n = -1, sscanf(b, "%9[A-Za-z], %2d-%3[A-Za-z]-%2d "
	    "%2d:%2d:%2d GMT%n", wk, &d, mon, &y, &hh, &mm, &ss, &n) == 7 &&
	    n == (int)len) {
		/* RFC 850; a two-digit year: 70..99 are 19xx, the rest 20xx */
		y += y < 70 ? 2000 : 1900;
	} else if (n = -1, sscanf(b, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d "
	    "%4d%n", wk, mon, &d, &hh, &mm, &ss, &y, &n) == 7 &&
	    n == (int)len) {
		/* asctime */
	} else {
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	if ((tm.tm_mon = month_index(mon)) < 0 || d < 1 || d > 31 ||
	    y < 1900 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
	    ss > 60)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

