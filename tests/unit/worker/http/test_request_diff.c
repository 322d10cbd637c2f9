/*
 * The differential test: every input of the fuzz corpus (tests/fuzz/
 * corpus, without its first byte, which is the harness's) and a few
 * thousand generated requests go through shoal's request reader and
 * through Node's http_parser (libhttp-parser-dev, a test dependency
 * only), and must keep diff_compare's rule (tests/fuzz/diff.h): the same
 * requests where both accept, nothing shoal accepts that http_parser
 * refuses, and a refusal of what http_parser accepts only in a class
 * listed in diff.c, with the trait in the bytes. Each input is also fed
 * to shoal cut in two (at every byte for the hand-written ones): a cut
 * changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>

#include "tests/fuzz/diff.c"

static struct {
	size_t inputs, runs, agreed, meant[HEAD_WHY_COUNT], theirs_wrong[8];
	size_t problems;
} tally;

/* Check one input; every cut of it when every_cut, else a few. */
static void
check(const char *data, size_t len, bool every_cut, const char *name)
{
	struct diff_run whole, theirs, part;
	char msg[2048];
	const char *bad;
	int meant;
	size_t step = every_cut ? 1 : len / 3 + 1;

	tally.inputs++;
	diff_shoal(data, len, 0, &whole);
	diff_http_parser(data, len, &theirs);
	bad = diff_compare(data, len, &whole, &theirs, &meant, msg, sizeof(msg));
	if (bad != NULL) {
		if (tally.problems++ < 20)
			print_error("%s: %s\n   input: \"%.*s\"\n", name, bad,
			    (int)(len < 300 ? len : 300), data);
	} else if (meant < 0) {
		tally.theirs_wrong[-1 - meant]++;
	} else if (meant != 0) {
		tally.meant[meant]++;
	} else {
		tally.agreed++;
	}
	for (size_t cut = 1; cut < len; cut += step) {
		tally.runs++;
		diff_shoal(data, len, cut, &part);
		if (!diff_same(&whole, &part) && tally.problems++ < 20)
			print_error("%s: cut at %zu changes shoal's reading "
			    "(%zu requests, status %d, why %d; whole: %zu, %d, %d)\n",
			    name, cut, part.n, part.status, part.why, whole.n,
			    whole.status, whole.why);
		diff_free(&part);
	}
	diff_free(&whole);
	diff_free(&theirs);
}

static void
check_str(const char *s, bool every_cut)
{
	check(s, strlen(s), every_cut, "case");
}

/* The table, the classes of refusals, and valid requests. */
static const char *const cases[] = {
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n  continued\r\n\r\n",
	"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\rSome-Header: x\r\n\r\n",
	"\x16\x03\x01\x02\x01\x01",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n",
	"GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	/* bare LF, bare CR at several places */
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\n",
	"GET / HTTP/1.1\rHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: y\rz\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\rhello",
	/* obs-fold in several fields */
	"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
	    "0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 5\r\n\r\nhello",
	/* Host variants */
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
	/* Transfer-Encoding variants */
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
	    "0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"
	    "0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"
	    "0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n0\r\n\r\n",
	/* Content-Length variants */
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999"
	    "\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000"
	    "\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\nhello",
	/* chunks */
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5 \r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;a=\"b c\"\r\nhello\r\n0;x\r\nT: 1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhelloXX0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "00000000000000005\r\nhello\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep alive\r\n\r\n",
	/* http_parser takes this for a Transfer-Encoding */
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-EncodingX: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n"
	    "0\r\n\r\n",
	/* ... and misses these (empty list elements are to be ignored) */
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,close\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: a,,keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: k, keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nConnection: close\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nContent-Length: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1\t;a\t=\tb\r\nx\r\n0\r\n\r\n",
	/* request lines */
	"GET / HTTX/1.1\r\nHost: a\r\n\r\n",
	"GET /\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"BREW / HTTP/1.1\r\nHost: a\r\n\r\n",
	"get / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	"GET /{x}|y HTTP/1.1\r\nHost: a\r\n\r\n",
	/* fields, keep-alive, upgrade, Expect */
	"GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX : z\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	    "GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\nxyz",
	"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\nhi",
	"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\n"
	    "\r\nhi",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	/* a body that ends in CR, then LF: a bare LF before the next request */
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n\r\n"
	    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_str(cases[i], true);
	/* one of them with a NUL, which strlen would stop at */
	check("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 34, true, "NUL");
	/* over the limits (diff_limits) */
	{
		static char big[8192];
		size_t n;

		n = (size_t)snprintf(big, sizeof(big), "GET /%02100d HTTP/1.1\r\n"
		    "Host: a\r\n\r\n", 0);
		check(big, n, false, "long target");
		n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n"
		    "Host: a\r\n");
		for (int i = 0; i < 40; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n,
			    "X-%d: v\r\n", i);
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
		check(big, n, false, "many fields");
	}
	assert_int_equal(tally.problems, 0);
}

/* Methods x targets x versions x field sets x bodies. */
static void
test_generated(void **state)
{
	static const char *const methods[] = {
		"GET", "POST", "HEAD", "OPTIONS", "CONNECT", "M-SEARCH", "BREW",
		"get",
	};
	static const char *const targets[] = {
		"/", "/a/b?c=d&e", "*", "http://h/p?q", "https://h:8443", "h:1",
		"/%41%20", "/#f", "/\xff", "http://u@h/",
	};
	static const char *const versions[] = {
		"HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTX/1.1",
	};
	static const char *const fields[] = {
		"",
		"Host: h\r\n",
		"Host: h\r\nHost: h\r\n",
		"Host: h h\r\n",
		"Host: h\r\nContent-Length: 5\r\n",
		"Host: h\r\nTransfer-Encoding: chunked\r\n",
		"Host: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
		"Host: h\r\nTransfer-Encoding: gzip, chunked\r\n",
		"Host: h\r\nConnection: close\r\n",
		"Connection: keep-alive\r\n",
		"Host: h\r\nConnection: upgrade\r\nUpgrade: x\r\n",
		"Host: h\r\nX: a\r\n b\r\n",
		"Host: h\nX: a\r\n",
		"Host: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n",
		"Host: h\r\nX-Empty:\r\nX-Sp:   v  \r\n",
	};
	static const char *const bodies[] = {
		"", "hello", "5\r\nhello\r\n0\r\n\r\n",
	};
	char buf[512];
	size_t n, before = tally.problems;

	(void)state;
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
	for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++)
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		n = (size_t)snprintf(buf, sizeof(buf), "%s %s %s\r\n%s\r\n%s",
		    methods[m], targets[t], versions[v], fields[f], bodies[b]);
		check(buf, n, false, "generated");
	}
	assert_int_equal(tally.problems, before);
}

/* The fuzz corpus, next to this file's tree. */
static void
test_corpus(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 256], file[PATH_MAX];
	static char data[1 << 16];
	struct dirent *e;
	size_t n, files = 0, before = tally.problems;
	DIR *d;
	FILE *f;

	(void)state;
	/* run from the repository's root (make unit), or from elsewhere */
	snprintf(dir, sizeof(dir), "tests/fuzz/corpus");
	if ((d = opendir(dir)) == NULL) {
		snprintf(file, sizeof(file), "%s", __FILE__);
		snprintf(dir, sizeof(dir), "%s/../../../fuzz/corpus",
		    dirname(file));
		if ((d = opendir(dir)) == NULL)
			fail_msg("no corpus in tests/fuzz/corpus nor %s", dir);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_non_null(f = fopen(path, "rb"));
		n = fread(data, 1, sizeof(data), f);
		fclose(f);
		if (n > 1) {
			check(data + 1, n - 1, n < 400, e->d_name);
			files++;
		}
	}
	closedir(d);
	assert_true(files >= 30);
	assert_int_equal(tally.problems, before);
}

/* What the runs came to: each difference meant, how often; and the
 * classes listed that no input showed. */
static void
test_summary(void **state)
{
	size_t meant = 0;

	(void)state;
	for (int w = 0; w < HEAD_WHY_COUNT; w++) {
		if (tally.meant[w] == 0)
			continue;
		meant += tally.meant[w];
		print_message("  shoal refuses, http_parser accepts: %4zu x %s\n",
		    tally.meant[w], head_why_str((enum head_why)w));
	}
	print_message("  %zu inputs (%zu more cuts): %zu agreed, %zu refused by "
	    "shoal alone as meant, %zu problems\n", tally.inputs, tally.runs,
	    tally.agreed, meant, tally.problems);
	for (int i = 0; i < diff_theirs_wrong_count(); i++) {
		print_message("  http_parser gets it wrong:          %4zu x %s\n",
		    tally.theirs_wrong[i], diff_theirs_wrong_name(i));
		if (tally.theirs_wrong[i] == 0)
			tally.problems++;
	}
	for (size_t i = 0; i < sizeof(diff_meant) / sizeof(diff_meant[0]); i++)
		if (tally.meant[diff_meant[i].why] == 0) {
			print_error("listed in diff_meant, never seen: %s\n",
			    head_why_str(diff_meant[i].why));
			tally.problems++;
		}
	assert_int_equal(tally.problems, 0);
	assert_true(tally.agreed > 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests_name("request_diff", tests, NULL, NULL);
}
