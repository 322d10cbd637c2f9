/*
 * Unit tests for worker/http/head.c: the character table against the RFC
 * grammars it was written from, authorities (Host, absolute-form,
 * CONNECT), the scan resumed at every byte giving what one pass gives,
 * and the bound head_max_len sets on what a head within the limits can
 * be.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "worker/http/head.c"

static const struct http_limits limits = {
	.max_request_line = 256,
	.max_header_size = 1024,
	.max_headers = 8,
	.max_body_size = 100,
};

static bool
in(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

static bool
alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Each class, byte by byte, from its definition. */
static void
test_ctype(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		bool vchar = c >= 0x21 && c <= 0x7e, obs = c >= 0x80;
		/* RFC 9110 5.6.2 */
		bool tchar = alpha(c) || digit(c) || in(c, "!#$%&'*+-.^_`|~");
		/* RFC 9110 5.5: field-vchar, SP, HTAB */
		bool field = vchar || obs || c == ' ' || c == '\t';
		/* RFC 3986: unreserved, sub-delims */
		bool regname = alpha(c) || digit(c) || in(c, "-._~!$&'()*+,;=");
		/* RFC 9110 5.6.4 */
		bool qdtext = c == '\t' || c == ' ' || c == 0x21 ||
		    (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || obs;
		bool hex = digit(c) || in(c, "abcdefABCDEF");

		if (HEAD_IS(c, HEAD_TCHAR) != tchar ||
		    HEAD_IS(c, HEAD_FIELD) != field ||
		    HEAD_IS(c, HEAD_TARGET) != ((vchar && c != '#') || obs) ||
		    HEAD_IS(c, HEAD_HEX) != hex ||
		    HEAD_IS(c, HEAD_DIGIT) != digit(c) ||
		    HEAD_IS(c, HEAD_REGNAME) != regname ||
		    HEAD_IS(c, HEAD_QDTEXT) != qdtext ||
		    HEAD_IS(c, HEAD_OWS) != (c == ' ' || c == '\t'))
			fail_msg("byte 0x%02x: classes 0x%02x", c, head_ctype[c]);
	}
}

static void
test_authority(void **state)
{
	(void)state;
#define OK(s, port) assert_true(head_authority_ok(s, strlen(s), port))
#define NO(s, port) assert_false(head_authority_ok(s, strlen(s), port))
	OK("example.com", false);
	OK("example.com:8080", true);
	OK("127.0.0.1", false);
	OK("[2001:db8::1]:443", true);
	OK("[::]", false);
	OK("a%41b", false);
	OK("host:0", false);
	NO("example.com", true);             /* CONNECT needs a port */
	NO("[::1]", true);
	NO("", false);
	NO(":80", false);
	NO("a:", false);
	NO("a:1:2", false);
	NO("a:-1", false);
	NO("a:99999", false);
	NO("a:000080", false);               /* 1-5 digits */
	NO("[::1]:", false);
	NO("[::1]80", false);
	NO("[:::]", false);
	NO("[fe80::1%25eth0]", false);
	NO("[v7.a]", false);
	NO("[0000:0000:0000:0000:0000:0000:0000:0000:0]", false);
	NO("a b", false);
	NO("a@b", false);
	NO("a%4", false);
	NO("a%", false);
	NO("\xc3\xa9", false);
#undef OK
#undef NO
}

/* Parse all of s at once; then again a byte more per call, rescanning the
 * same growing prefix: the outcome and the fields are the same. */
static void
parse_both_ways(const char *s, enum head_rc want_rc, int want_status)
{
	struct head whole, step;
	struct head_field fw[8], fs[8];
	size_t len = strlen(s), n;
	enum head_rc rc;

	head_init(&whole);
	rc = head_parse(&whole, s, len, &limits, fw);
	if (rc != want_rc || (rc == HEAD_BAD && whole.status != want_status))
		fail_msg("\"%s\": rc %d status %d (%s)", s, rc, whole.status,
		    head_why_str((enum head_why)whole.why));
	head_init(&step);
	for (n = 1, rc = HEAD_MORE; n <= len && rc == HEAD_MORE; n++)
		rc = head_parse(&step, s, n, &limits, fs);
	assert_int_equal(rc, want_rc);
	assert_int_equal(step.why, whole.why);
	if (rc != HEAD_DONE)
		return;
	assert_int_equal(step.len, whole.len);
	assert_int_equal(step.nfields, whole.nfields);
	assert_memory_equal(fs, fw, whole.nfields * sizeof(fw[0]));
	assert_int_equal(step.target_off, whole.target_off);
	assert_int_equal(step.target_len, whole.target_len);
	assert_int_equal(step.flags, whole.flags);
	assert_int_equal(step.content_length, whole.content_length);
}

static void
test_resumable(void **state)
{
	(void)state;
	parse_both_ways("GET /x?y HTTP/1.1\r\nHost: a\r\nA:  b c \r\nB:\r\n\r\n",
	    HEAD_DONE, 0);
	parse_both_ways("POST http://h:1/p HTTP/1.1\r\nHost: h\r\nContent-Length:"
	    " 12\r\nConnection: keep-alive,Upgrade\r\nUpgrade: x\r\n\r\nbody",
	    HEAD_DONE, 0);
	parse_both_ways("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", HEAD_BAD, 400);
	parse_both_ways("GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n", HEAD_BAD,
	    400);
	parse_both_ways("FOO / HTTP/1.1\r\n\r\n", HEAD_BAD, 501);
	parse_both_ways("GET / HTTP/3.0\r\n\r\n", HEAD_BAD, 505);
	parse_both_ways("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n"
	    "\r\n", HEAD_BAD, 413);
	parse_both_ways("GET / HTTP/1.1\r\nHost: a", HEAD_MORE, 0);
	{
		struct head h;
		struct head_field f[8];
		const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET";

		head_init(&h);
		assert_int_equal(head_parse(&h, s, strlen(s), &limits, f),
		    HEAD_DONE);
		assert_int_equal(h.len, strlen(s) - 3);  /* stops at the end */
		assert_int_equal(h.nfields, 1);
		assert_int_equal(f[0].name_off, 16);
		assert_int_equal(f[0].name_len, 4);
		assert_int_equal(f[0].value_off, 22);
		assert_int_equal(f[0].value_len, 1);
	}
}

/* Build a head: a target of tlen bytes, nf fields making a field section
 * of slen bytes (with the empty line). Returns its length. */
static size_t
build(char *buf, size_t cap, size_t tlen, size_t nf, size_t slen)
{
	size_t n, line, i;

	n = (size_t)snprintf(buf, cap, "GET /");
	for (i = 1; i < tlen; i++)
		buf[n++] = 'a';
	n += (size_t)snprintf(buf + n, cap - n, " HTTP/1.1\r\nHost: h\r\n");
	line = n - strlen("Host: h\r\n");
	for (i = 1; i + 1 < nf; i++)
		n += (size_t)snprintf(buf + n, cap - n, "H%zu: v\r\n", i);
	n += (size_t)snprintf(buf + n, cap - n, "X: ");
	while (n - line < slen - 4)
		buf[n++] = 'x';
	memcpy(buf + n, "\r\n\r\n", 4);
	return n + 4;
}

/* A head at every limit is accepted; one more byte or field is refused;
 * nothing longer than head_max_len is still short of its end. */
static void
test_limits(void **state)
{
	static char buf[4096];
	struct head h;
	struct head_field f[8];
	size_t n;

	(void)state;
	n = build(buf, sizeof(buf), 256, 8, 1024 + 2);
	head_init(&h);
	assert_int_equal(head_parse(&h, buf, n, &limits, f), HEAD_DONE);
	assert_int_equal(h.nfields, 8);
	assert_int_equal(h.target_len, 256);
	assert_true(n <= head_max_len(&limits));

	n = build(buf, sizeof(buf), 257, 8, 1024 + 2);
	head_init(&h);
	assert_int_equal(head_parse(&h, buf, n, &limits, f), HEAD_BAD);
	assert_int_equal(h.status, 414);
	n = build(buf, sizeof(buf), 256, 8, 1024 + 3);
	head_init(&h);
	assert_int_equal(head_parse(&h, buf, n, &limits, f), HEAD_BAD);
	assert_int_equal(h.status, 431);
	assert_int_equal(h.why, HEAD_FIELDS_LARGE);
	n = build(buf, sizeof(buf), 256, 9, 1024 + 2);
	head_init(&h);
	assert_int_equal(head_parse(&h, buf, n, &limits, f), HEAD_BAD);
	assert_int_equal(h.why, HEAD_FIELDS_MANY);

	/* a value that never ends, a method that never ends */
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: ");
	memset(buf + n, 'x', sizeof(buf) - n);
	head_init(&h);
	assert_int_equal(head_parse(&h, buf, head_max_len(&limits) + 1, &limits,
	    f), HEAD_BAD);
	assert_int_equal(h.status, 431);
	memset(buf, 'A', sizeof(buf));
	head_init(&h);
	assert_int_equal(head_parse(&h, buf, HEAD_METHOD_MAX, &limits, f),
	    HEAD_MORE);
	assert_int_equal(head_parse(&h, buf, HEAD_METHOD_MAX + 1, &limits, f),
	    HEAD_BAD);
	assert_int_equal(h.status, 501);
}

static void
test_why(void **state)
{
	(void)state;
	for (int w = 0; w < HEAD_WHY_COUNT; w++)
		assert_string_not_equal(head_why_str((enum head_why)w), "?");
	assert_string_equal(head_why_str(HEAD_WHY_COUNT), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctype),
		cmocka_unit_test(test_authority),
		cmocka_unit_test(test_resumable),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_why),
	};

	return cmocka_run_group_tests_name("head", tests, NULL, NULL);
}
