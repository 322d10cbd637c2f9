/*
 * Unit tests for worker/http/proxy.c: PROXY protocol v1 and v2 headers, valid
 * and malformed, and fed one byte at a time.
 *
 * Every parse runs on an exact-size heap copy of its input, so that under
 * ASan a read past len is caught. check_prefixes() runs every prefix of an
 * input and checks the parser's promise: NEED_MORE on each prefix until
 * the verdict, then the same verdict (DONE with the same length and
 * address, or ERROR) for every longer one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/proxy.c"

#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

#define LIT(s) s, sizeof(s) - 1

struct res {
	enum proxy_result r;
	size_t consumed;
	struct sockaddr_storage ss;
	socklen_t sslen;
};

/* ---- helpers ----------------------------------------------------------- */

static enum proxy_result
run(const void *data, size_t len, struct res *out)
{
	unsigned char *copy = NULL;

	if (len > 0) {
		copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, data, len);
	}
	out->consumed = SIZE_MAX;
	memset(&out->ss, 0xa5, sizeof(out->ss));
	out->sslen = 12345;
	out->r = proxy_parse(copy, len, &out->consumed, &out->ss, &out->sslen);
	free(copy);
	if (out->r != PROXY_DONE) {
		/* The outputs are written only on DONE. */
		assert_int_equal(out->consumed, SIZE_MAX);
		assert_int_equal(out->sslen, 12345);
	}
	return out->r;
}

static void
assert_same_result(const struct res *a, const struct res *b)
{
	assert_int_equal(a->r, b->r);
	if (a->r != PROXY_DONE)
		return;
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->sslen, b->sslen);
	assert_memory_equal(&a->ss, &b->ss, sizeof(a->ss));
}

/*
 * Every prefix of data[0..len): NEED_MORE, then the verdict of the whole
 * for every prefix from the point it is reached. Returns the length at
 * which the verdict came (len + 1 if none did).
 */
static size_t
check_prefixes(const void *data, size_t len)
{
	struct res full, r;
	size_t i, at = len + 1;

	run(data, len, &full);
	for (i = 0; i <= len; i++) {
		run(data, i, &r);
		if (at > len && r.r != PROXY_NEED_MORE)
			at = i;
		if (i < at)
			assert_int_equal(r.r, PROXY_NEED_MORE);
		else
			assert_same_result(&r, &full);
	}
	if (full.r == PROXY_DONE)
		assert_int_equal(at, full.consumed);
	return at;
}

/* The whole of data is an invalid header, found so at the latest at len. */
static void
assert_error_n(const void *data, size_t len)
{
	struct res r;

	assert_int_equal(run(data, len, &r), PROXY_ERROR);
	check_prefixes(data, len);
}

static void
assert_error(const char *s)
{
	assert_error_n(s, strlen(s));
}

/* data[0..len) begins with a header of hlen bytes giving family addr:port. */
static void
assert_done_n(const void *data, size_t len, size_t hlen, int family,
    const char *addr, unsigned port)
{
	struct res r;
	char text[INET6_ADDRSTRLEN];

	assert_int_equal(run(data, len, &r), PROXY_DONE);
	assert_int_equal(r.consumed, hlen);
	assert_int_equal(r.ss.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in sin;

		assert_int_equal(r.sslen, sizeof(sin));
		memcpy(&sin, &r.ss, sizeof(sin));
		assert_non_null(inet_ntop(AF_INET, &sin.sin_addr, text,
		    sizeof(text)));
		assert_string_equal(text, addr);
		assert_int_equal(ntohs(sin.sin_port), port);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6;

		assert_int_equal(r.sslen, sizeof(sin6));
		memcpy(&sin6, &r.ss, sizeof(sin6));
		assert_non_null(inet_ntop(AF_INET6, &sin6.sin6_addr, text,
		    sizeof(text)));
		assert_string_equal(text, addr);
		assert_int_equal(ntohs(sin6.sin6_port), port);
		assert_int_equal(sin6.sin6_flowinfo, 0);
		assert_int_equal(sin6.sin6_scope_id, 0);
	} else {
		assert_int_equal(family, AF_UNSPEC);
		assert_int_equal(r.sslen, 0);
	}
	check_prefixes(data, len);
}

/* A v1 line alone, then the line with a request after it. */
static void
assert_v1(const char *line, int family, const char *addr, unsigned port)
{
	char buf[512];
	size_t n = strlen(line);

	assert_done_n(line, n, n, family, addr, port);
	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\nHost: x\r\n\r\n", line);
	assert_done_n(buf, strlen(buf), n, family, addr, port);
}

/*
 * A v2 header in out: signature, ver_cmd, fam, then addrlen bytes of
 * block (may be NULL: zeros) and extra bytes after the header. Returns
 * the bytes written.
 */
static size_t
v2(unsigned char *out, unsigned ver_cmd, unsigned fam, const void *block,
    size_t addrlen, const void *extra, size_t extralen)
{
	memcpy(out, v2_sig, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(addrlen >> 8);
	out[15] = (unsigned char)addrlen;
	if (block != NULL)
		memcpy(out + 16, block, addrlen);
	else
		memset(out + 16, 0, addrlen);
	if (extralen > 0)
		memcpy(out + 16 + addrlen, extra, extralen);
	return 16 + addrlen + extralen;
}

/* 192.0.2.1:56324 -> 198.51.100.2:443 */
static const unsigned char block4[12] = {
	192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb
};

/* [2001:db8::1]:56324 -> [2001:db8::2]:443 */
static const unsigned char block6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0xdc, 0x04, 0x01, 0xbb
};

/* ALPN "h2", a NOOP with no value, an SSL TLV with 5 bytes. */
static const unsigned char tlvs[] = {
	0x01, 0x00, 0x02, 'h', '2',
	0x04, 0x00, 0x00,
	0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00
};

/* ---- v1 ---------------------------------------------------------------- */

static void
test_v1_tcp4(void **state)
{
	(void)state;
	assert_v1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
	    AF_INET, "192.0.2.1", 56324);
	assert_v1("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", AF_INET, "0.0.0.0", 0);
	assert_v1("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
	    AF_INET, "255.255.255.255", 65535);
	assert_v1("PROXY TCP4 10.20.30.40 1.2.3.4 1 2\r\n",
	    AF_INET, "10.20.30.40", 1);
}

static void
test_v1_tcp6(void **state)
{
	(void)state;
	assert_v1("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n",
	    AF_INET6, "2001:db8::1", 56324);
	assert_v1("PROXY TCP6 2001:DB8:0:0:0:0:0:A ::1 1 2\r\n",
	    AF_INET6, "2001:db8::a", 1);
	assert_v1("PROXY TCP6 ::ffff:192.0.2.1 ::1 0 80\r\n",
	    AF_INET6, "::ffff:192.0.2.1", 0);
	assert_v1("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	assert_v1("PROXY TCP6 :: :: 0 0\r\n", AF_INET6, "::", 0);
}

static void
test_v1_unknown(void **state)
{
	char line[200];

	(void)state;
	assert_v1("PROXY UNKNOWN\r\n", AF_UNSPEC, NULL, 0);
	assert_v1("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", AF_UNSPEC, NULL, 0);
	/* The rest of the line is ignored, whatever it is. */
	assert_v1("PROXY UNKNOWN  what\tever  \r\n", AF_UNSPEC, NULL, 0);
	assert_done_n(LIT("PROXY UNKNOWN \0x\r\n"), 18, AF_UNSPEC, NULL, 0);

	/* The spec's longest line: 107 bytes, CRLF included. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(strlen(line), PROXY_V1_MAX);
	assert_v1(line, AF_UNSPEC, NULL, 0);
}

static void
test_v1_too_long(void **state)
{
	char line[300];
	size_t n;

	(void)state;
	/* 108 bytes: the CRLF ends one byte past the limit. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	assert_int_equal(check_prefixes(line, 108), PROXY_V1_MAX);
	assert_error_n(line, 108);

	/* No CRLF at all: refused once 107 bytes are there, not before. */
	assert_int_equal(check_prefixes(line, 100), 101);
	assert_int_equal(check_prefixes(line, sizeof(line)), PROXY_V1_MAX);

	/* TCP6 with the long embedded-IPv4 form: valid fields, too long. */
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	n = strlen(line);
	assert_true(n > PROXY_V1_MAX);
	assert_error_n(line, n);
	assert_int_equal(check_prefixes(line, n), PROXY_V1_MAX);
}

static void
test_v1_spaces(void **state)
{
	(void)state;
	assert_error("PROXY  TCP4 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY TCP4  1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY TCP4 1.2.3.4  5.6.7.8 111 222\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8  111 222\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111  222\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111 222 \r\n");
	assert_error(" PROXY TCP4 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY\tTCP4 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY TCP4\t1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY TCP4 1.2.3.4\t5.6.7.8 111 222\r\n");
}

static void
test_v1_terminator(void **state)
{
	(void)state;
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111 222\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111 222\rX");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111 222\r\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111 222X\r\n");
	assert_error("PROXY UNKNOWN\n");
	assert_error("PROXY UNKNOWN x\ny\r\n");
	assert_error("PROXY UNKNOWN\rx\n");
	assert_error("PROXY UNKNOWNX\r\n");
	assert_error("PROXY UNKNOWN\t\r\n");
	assert_error_n(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 111 222\0\r\n"));
	assert_error_n(LIT("PROXY TCP4 1.2.3.4\0 5.6.7.8 111 222\r\n"));
}

static void
test_v1_fields(void **state)
{
	(void)state;
	/* Missing or extra fields. */
	assert_error("PROXY\r\n");
	assert_error("PROXY \r\n");
	assert_error("PROXY TCP4\r\n");
	assert_error("PROXY TCP4 \r\n");
	assert_error("PROXY TCP4 1.2.3.4\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 111 222 333\r\n");
	/* Protocols. */
	assert_error("PROXY TCP5 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY UDP4 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY TCP 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY tcp4 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("PROXY unknown\r\n");
	assert_error("proxy TCP4 1.2.3.4 5.6.7.8 111 222\r\n");
	assert_error("Proxy TCP4 1.2.3.4 5.6.7.8 111 222\r\n");
}

static void
test_v1_addresses(void **state)
{
	static const char *bad4[] = {
		"1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "01.2.3.4",
		"1.2.3.04", "1..3.4", ".1.2.3", "1.2.3.", "1234.1.1.1",
		"1.2.3.-4", "0x1.2.3.4", "::1", "1.2.3.4/8", "a.b.c.d",
	};
	static const char *bad6[] = {
		"1.2.3.4", "::g", "1:2:3:4:5:6:7:8:9", ":::", "2001:db8:::1",
		"[::1]", "fe80::1%eth0", "12345::", "::1.2.3", "1::2::3",
	};
	char line[200];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad4); i++) {
		snprintf(line, sizeof(line),
		    "PROXY TCP4 %s 5.6.7.8 111 222\r\n", bad4[i]);
		assert_error(line);
		snprintf(line, sizeof(line),
		    "PROXY TCP4 5.6.7.8 %s 111 222\r\n", bad4[i]);
		assert_error(line);
	}
	for (i = 0; i < ARRAY_SIZE(bad6); i++) {
		snprintf(line, sizeof(line),
		    "PROXY TCP6 %s ::2 111 222\r\n", bad6[i]);
		assert_error(line);
		snprintf(line, sizeof(line),
		    "PROXY TCP6 ::2 %s 111 222\r\n", bad6[i]);
		assert_error(line);
	}
}

static void
test_v1_ports(void **state)
{
	static const char *bad[] = {
		"65536", "99999", "100000", "+80", "-1", "080", "00", "1e3",
		"0x50", "8 0", "",
	};
	char line[200];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(line, sizeof(line),
		    "PROXY TCP4 1.2.3.4 5.6.7.8 %s 222\r\n", bad[i]);
		assert_error(line);
		snprintf(line, sizeof(line),
		    "PROXY TCP4 1.2.3.4 5.6.7.8 111 %s\r\n", bad[i]);
		assert_error(line);
	}
}

/* Not a PROXY header at all: refused on the first byte that tells. */
static void
test_garbage(void **state)
{
	(void)state;
	assert_int_equal(check_prefixes(LIT("GET / HTTP/1.1\r\n\r\n")), 1);
	assert_int_equal(check_prefixes(LIT("POST / HTTP/1.1\r\n\r\n")), 2);
	assert_int_equal(check_prefixes(LIT("PROXX TCP4")), 5);
	assert_int_equal(check_prefixes(LIT("XPROXY TCP4")), 1);
	assert_int_equal(check_prefixes(LIT("\0\0\0\0")), 1);
	assert_int_equal(check_prefixes(LIT("\x16\x03\x01\x02\x00")), 1);
	/* HTTP allows empty lines before a request; a PROXY listener not. */
	assert_int_equal(check_prefixes(LIT("\r\nGET / HTTP/1.1\r\n")), 3);
	assert_int_equal(check_prefixes(LIT("\r\n\r\nGET /")), 5);
	assert_error("GET / HTTP/1.1\r\n\r\n");
}

/* A bad field is refused as soon as it cannot become valid. */
static void
test_v1_early_error(void **state)
{
	static const struct {
		const char *line;
		size_t at;               /* the length that shows the error */
	} cases[] = {
		{ "PROXY TCP4 1.2.3.4x", 19 },
		{ "PROXY TCP4 300", 14 },
		{ "PROXY TCP4 1.2.3.4.", 19 },
		{ "PROXY TCP4 01", 13 },
		{ "PROXY TCP4 1.2.3.4  ", 20 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536", 32 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 99999", 32 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 123456", 33 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 00", 29 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", 31 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", 32 },
		{ "PROXY TCP6 2001:db8::g", 22 },
		{ "PROXY UNKNOWN\rx", 15 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(check_prefixes(cases[i].line,
		    strlen(cases[i].line)), cases[i].at);
}

/* "PRO" and friends: valid beginnings wait for more. */
static void
test_need_more(void **state)
{
	static const char *prefixes[] = {
		"", "P", "PRO", "PROXY", "PROXY ", "PROXY T", "PROXY TCP",
		"PROXY TCP4", "PROXY TCP4 ", "PROXY TCP4 1", "PROXY TCP4 1.2.",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", "PROXY TCP6 2001:db8:",
		"PROXY U", "PROXY UNKNOWN", "PROXY UNKNOWN ",
		"PROXY UNKNOWN anything\r",
	};
	struct res r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(prefixes); i++)
		assert_int_equal(run(prefixes[i], strlen(prefixes[i]), &r),
		    PROXY_NEED_MORE);
	assert_int_equal(proxy_parse(NULL, 0, &i, &r.ss, &r.sslen),
	    PROXY_NEED_MORE);
	/* The first bytes of the v2 signature. */
	for (i = 0; i < sizeof(v2_sig); i++)
		assert_int_equal(run(v2_sig, i, &r), PROXY_NEED_MORE);
	assert_int_equal(run("\r\n\r\n\0", 5, &r), PROXY_NEED_MORE);
}

/* ---- v2 ---------------------------------------------------------------- */

static void
test_v2_tcp4(void **state)
{
	unsigned char buf[256];
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x11, block4, sizeof(block4), NULL, 0);
	assert_int_equal(n, 28);
	assert_done_n(buf, n, 28, AF_INET, "192.0.2.1", 56324);

	/* The request after it is not part of the header. */
	n = v2(buf, 0x21, 0x11, block4, sizeof(block4), LIT("GET / HTTP/1.1"));
	assert_done_n(buf, n, 28, AF_INET, "192.0.2.1", 56324);
}

static void
test_v2_tcp4_tlvs(void **state)
{
	unsigned char block[64], buf[256];
	size_t n;

	(void)state;
	memcpy(block, block4, sizeof(block4));
	memcpy(block + sizeof(block4), tlvs, sizeof(tlvs));
	n = v2(buf, 0x21, 0x11, block, sizeof(block4) + sizeof(tlvs),
	    LIT("GET /"));
	assert_done_n(buf, n, 16 + 12 + sizeof(tlvs), AF_INET, "192.0.2.1",
	    56324);
}

static void
test_v2_tcp6(void **state)
{
	unsigned char block[64], buf[256];
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x21, block6, sizeof(block6), NULL, 0);
	assert_int_equal(n, 52);
	assert_done_n(buf, n, 52, AF_INET6, "2001:db8::1", 56324);

	memcpy(block, block6, sizeof(block6));
	memcpy(block + sizeof(block6), tlvs, sizeof(tlvs));
	n = v2(buf, 0x21, 0x21, block, sizeof(block6) + sizeof(tlvs),
	    LIT("\r\n"));
	assert_done_n(buf, n, 16 + 36 + sizeof(tlvs), AF_INET6,
	    "2001:db8::1", 56324);
}

/* LOCAL: no address, whatever the block says. */
static void
test_v2_local(void **state)
{
	unsigned char buf[256];
	size_t n;

	(void)state;
	n = v2(buf, 0x20, 0x00, NULL, 0, LIT("GET"));
	assert_done_n(buf, n, 16, AF_UNSPEC, NULL, 0);
	n = v2(buf, 0x20, 0x11, block4, sizeof(block4), NULL, 0);
	assert_done_n(buf, n, 28, AF_UNSPEC, NULL, 0);
	/* The family is discarded with the block, even one PROXY refuses. */
	n = v2(buf, 0x20, 0x12, block4, sizeof(block4), NULL, 0);
	assert_done_n(buf, n, 28, AF_UNSPEC, NULL, 0);
	n = v2(buf, 0x20, 0x11, NULL, 3, NULL, 0);
	assert_done_n(buf, n, 19, AF_UNSPEC, NULL, 0);
}

static void
test_v2_unspec(void **state)
{
	unsigned char buf[256];
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x00, NULL, 0, LIT("GET"));
	assert_done_n(buf, n, 16, AF_UNSPEC, NULL, 0);
	/* Its block, whatever is in it, is skipped, not read as TLVs. */
	n = v2(buf, 0x21, 0x00, "\xff\xff\xff\xff\xff", 5, NULL, 0);
	assert_done_n(buf, n, 21, AF_UNSPEC, NULL, 0);
}

static void
test_v2_unix(void **state)
{
	unsigned char block[300], buf[600];
	size_t n;

	(void)state;
	memset(block, 0, sizeof(block));
	memcpy(block, "/run/haproxy/client.sock", 24);
	memcpy(block + 108, "/run/shoal/http.sock", 20);
	n = v2(buf, 0x21, 0x31, block, 216, NULL, 0);
	assert_done_n(buf, n, 232, AF_UNSPEC, NULL, 0);
	n = v2(buf, 0x21, 0x32, block, 216, LIT("x"));
	assert_done_n(buf, n, 232, AF_UNSPEC, NULL, 0);
	memcpy(block + 216, tlvs, sizeof(tlvs));
	n = v2(buf, 0x21, 0x31, block, 216 + sizeof(tlvs), NULL, 0);
	assert_done_n(buf, n, 232 + sizeof(tlvs), AF_UNSPEC, NULL, 0);
	/* Too short for two paths. */
	n = v2(buf, 0x21, 0x31, block, 215, NULL, 0);
	assert_error_n(buf, n);
}

static void
test_v2_families(void **state)
{
	static const unsigned bad[] = {
		0x12, 0x22, 0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x30, 0x33,
		0x41, 0xff,
	};
	unsigned char buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		n = v2(buf, 0x21, bad[i], NULL, 216, NULL, 0);
		assert_error_n(buf, n);
		/* Known from the family byte on. */
		assert_int_equal(check_prefixes(buf, n), 14);
	}
}

static void
test_v2_version_command(void **state)
{
	static const unsigned bad[] = {
		0x11, 0x10, 0x31, 0x01, 0xf1, 0x22, 0x2f, 0x23,
	};
	unsigned char buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		n = v2(buf, bad[i], 0x11, block4, sizeof(block4), NULL, 0);
		assert_error_n(buf, n);
		assert_int_equal(check_prefixes(buf, n), 13);
	}
}

static void
test_v2_lengths(void **state)
{
	unsigned char block[300], buf[600];
	size_t n;

	(void)state;
	memset(block, 0, sizeof(block));
	/* Address blocks too short for the family: known at byte 16. */
	n = v2(buf, 0x21, 0x11, block4, 11, NULL, 0);
	assert_int_equal(check_prefixes(buf, n), 16);
	assert_error_n(buf, n);
	n = v2(buf, 0x21, 0x21, block6, 35, NULL, 0);
	assert_error_n(buf, n);
	n = v2(buf, 0x21, 0x21, block4, 12, NULL, 0);
	assert_error_n(buf, n);
	n = v2(buf, 0x21, 0x11, NULL, 0, NULL, 0);
	assert_error_n(buf, n);

	/* A truncated header waits for the rest; the length says how much. */
	n = v2(buf, 0x21, 0x11, block4, sizeof(block4), NULL, 0);
	assert_int_equal(check_prefixes(buf, n - 1), n);
	n = v2(buf, 0x21, 0x00, NULL, 300, NULL, 0);
	assert_int_equal(check_prefixes(buf, n - 1), n);
}

/* TLVs must end where the header does. */
static void
test_v2_bad_tlvs(void **state)
{
	unsigned char block[64], buf[256];
	size_t n;

	(void)state;
	memcpy(block, block4, sizeof(block4));
	/* One or two stray bytes: no room for a TLV header. */
	memcpy(block + 12, "\x01\x00", 2);
	n = v2(buf, 0x21, 0x11, block, 13, NULL, 0);
	assert_error_n(buf, n);
	n = v2(buf, 0x21, 0x11, block, 14, NULL, 0);
	assert_error_n(buf, n);
	/* A TLV longer than what is left, known from its header. */
	memcpy(block + 12, "\x01\x00\x05hi", 5);
	n = v2(buf, 0x21, 0x11, block, 17, LIT("GET / HTTP/1.1"));
	assert_error_n(buf, n);
	assert_int_equal(check_prefixes(buf, n), 31);
	/* The same, well framed. */
	memcpy(block + 12, "\x01\x00\x02hi", 5);
	n = v2(buf, 0x21, 0x11, block, 17, LIT("GET / HTTP/1.1"));
	assert_done_n(buf, n, 33, AF_INET, "192.0.2.1", 56324);
}

/* The largest header: a 16-bit length, one NOOP TLV filling it. */
static void
test_v2_largest(void **state)
{
	unsigned char *block, *buf;
	size_t n, tlen = 65535 - 12 - 3;
	struct res r;

	(void)state;
	block = calloc(1, 65535);
	buf = malloc(PROXY_V2_MAX + 8);
	assert_non_null(block);
	assert_non_null(buf);
	memcpy(block, block4, 12);
	block[12] = 0x04;
	block[13] = (unsigned char)(tlen >> 8);
	block[14] = (unsigned char)tlen;
	n = v2(buf, 0x21, 0x11, block, 65535, LIT("GET /"));
	assert_int_equal(n, PROXY_V2_MAX + 5);
	/* Every prefix would be slow; the boundaries are enough. */
	assert_int_equal(run(buf, 16, &r), PROXY_NEED_MORE);
	assert_int_equal(run(buf, 31, &r), PROXY_NEED_MORE);
	assert_int_equal(run(buf, PROXY_V2_MAX - 1, &r), PROXY_NEED_MORE);
	assert_int_equal(run(buf, PROXY_V2_MAX, &r), PROXY_DONE);
	assert_int_equal(r.consumed, PROXY_V2_MAX);
	assert_int_equal(run(buf, n, &r), PROXY_DONE);
	assert_int_equal(r.consumed, PROXY_V2_MAX);
	assert_int_equal(r.ss.ss_family, AF_INET);
	/* One TLV byte too long for the block. */
	block[14] = (unsigned char)(tlen + 1);
	n = v2(buf, 0x21, 0x11, block, 65535, NULL, 0);
	assert_int_equal(run(buf, 31, &r), PROXY_ERROR);
	assert_int_equal(run(buf, n, &r), PROXY_ERROR);
	free(buf);
	free(block);
}

static void
test_v2_signature(void **state)
{
	unsigned char buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v2_sig); i++) {
		n = v2(buf, 0x21, 0x11, block4, sizeof(block4), NULL, 0);
		buf[i] ^= 0x20;
		assert_int_equal(check_prefixes(buf, n), i + 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_too_long),
		cmocka_unit_test(test_v1_spaces),
		cmocka_unit_test(test_v1_terminator),
		cmocka_unit_test(test_v1_fields),
		cmocka_unit_test(test_v1_addresses),
		cmocka_unit_test(test_v1_ports),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_v1_early_error),
		cmocka_unit_test(test_need_more),
		cmocka_unit_test(test_v2_tcp4),
		cmocka_unit_test(test_v2_tcp4_tlvs),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_unspec),
		cmocka_unit_test(test_v2_unix),
		cmocka_unit_test(test_v2_families),
		cmocka_unit_test(test_v2_version_command),
		cmocka_unit_test(test_v2_lengths),
		cmocka_unit_test(test_v2_bad_tlvs),
		cmocka_unit_test(test_v2_largest),
		cmocka_unit_test(test_v2_signature),
	};

	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
