/*
 * Unit tests for worker/http/realip.c: CIDR matching (IPv4, IPv6 with odd
 * prefixes, IPv4-mapped peers) and the client address of a request from
 * the peer, X-Forwarded-For and X-Real-IP.
 *
 * Header values are passed as exact-size heap copies, not NUL-terminated,
 * so that under ASan a read past the length is caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/realip.c"

#include <stdlib.h>

#include "common/util.h"

/* ---- helpers ----------------------------------------------------------- */

static struct cidr
cidr(const char *addr, unsigned prefix)
{
	struct cidr c;

	memset(&c, 0, sizeof(c));
	c.family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	c.prefix = prefix;
	assert_int_equal(inet_pton(c.family, addr, c.addr), 1);
	return c;
}

/* addr: IPv4 or IPv6 text; a sockaddr of its family. */
static struct sockaddr_storage
sa(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') == NULL) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
		memcpy(&ss, &sin, sizeof(sin));
	} else {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
		memcpy(&ss, &sin6, sizeof(sin6));
	}
	return ss;
}

static bool
trusted_by(const struct cidr *list, size_t n, const char *addr)
{
	struct sockaddr_storage ss = sa(addr, 1);

	return realip_trusted(list, n, (const struct sockaddr *)&ss);
}

static bool
in(const char *range, unsigned prefix, const char *addr)
{
	struct cidr c = cidr(range, prefix);

	return trusted_by(&c, 1, addr);
}

/* The ranges of the tests below: 10/8, 192.168.0.0/16, 2001:db8:1::/48. */
static struct cidr ranges[3];

static struct config
config(bool trust_unix)
{
	struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	ranges[0] = cidr("10.0.0.0", 8);
	ranges[1] = cidr("192.168.0.0", 16);
	ranges[2] = cidr("2001:db8:1::", 48);
	cfg.trusted = ranges;
	cfg.ntrusted = ARRAY_SIZE(ranges);
	cfg.trust_unix = trust_unix;
	return cfg;
}

/* A header value as the connection layer has it: length-bounded. */
static char *
dup_value(const char *s, size_t *len)
{
	char *p;

	if (s == NULL) {
		*len = 0;
		return NULL;
	}
	*len = strlen(s);
	p = malloc(*len > 0 ? *len : 1);
	assert_non_null(p);
	memcpy(p, s, *len);
	return p;
}

/*
 * realip_client for peer (text, NULL: Unix) with the X-Forwarded-For and
 * X-Real-IP values given (NULL: absent); checks the result and whether it
 * came from a header.
 */
static void
check_client(const struct config *cfg, const char *peer, unsigned port,
    const char *xff, const char *xri, const char *expect, int from_header)
{
	struct sockaddr_storage ss;
	char out[REALIP_ADDRSTRLEN];
	char *x1, *x2;
	size_t l1, l2;
	int r;

	x1 = dup_value(xff, &l1);
	x2 = dup_value(xri, &l2);
	memset(out, 'z', sizeof(out));
	if (peer != NULL) {
		ss = sa(peer, port);
		r = realip_client(cfg, (const struct sockaddr *)&ss, false,
		    x1, l1, x2, l2, out, sizeof(out));
	} else {
		r = realip_client(cfg, NULL, true, x1, l1, x2, l2, out,
		    sizeof(out));
	}
	free(x1);
	free(x2);
	assert_string_equal(out, expect);
	assert_int_equal(r, from_header);
}

/* ---- realip_trusted ----------------------------------------------------- */

static void
test_trusted_ipv4(void **state)
{
	(void)state;
	assert_true(in("10.0.0.0", 8, "10.0.0.0"));
	assert_true(in("10.0.0.0", 8, "10.255.255.255"));
	assert_false(in("10.0.0.0", 8, "11.0.0.0"));
	assert_false(in("10.0.0.0", 8, "9.255.255.255"));
	assert_true(in("192.168.4.0", 22, "192.168.7.255"));
	assert_false(in("192.168.4.0", 22, "192.168.8.0"));
	assert_false(in("192.168.4.0", 22, "192.168.3.255"));
	assert_true(in("203.0.113.7", 32, "203.0.113.7"));
	assert_false(in("203.0.113.7", 32, "203.0.113.6"));
	assert_true(in("0.0.0.0", 0, "255.255.255.255"));
	assert_true(in("128.0.0.0", 1, "200.1.1.1"));
	assert_false(in("128.0.0.0", 1, "127.255.255.255"));
	assert_true(in("10.0.0.0", 31, "10.0.0.1"));
	assert_false(in("10.0.0.0", 31, "10.0.0.2"));
	/* Host bits in the range do not matter. */
	assert_true(in("10.1.2.3", 8, "10.9.9.9"));
	/* A prefix too long for the family is the whole address. */
	assert_true(in("10.1.2.3", 40, "10.1.2.3"));
	assert_false(in("10.1.2.3", 40, "10.1.2.4"));
	/* Families do not mix. */
	assert_false(in("0.0.0.0", 0, "::1"));
	assert_false(in("::", 0, "10.0.0.1"));
}

static void
test_trusted_ipv6_prefixes(void **state)
{
	(void)state;
	/* /0: every IPv6 address. */
	assert_true(in("::", 0, "::"));
	assert_true(in("::", 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(in("2001:db8::", 0, "fe80::1"));
	/* /1: the top bit. */
	assert_true(in("::", 1, "7fff::1"));
	assert_true(in("::", 1, "2001:db8::1"));
	assert_false(in("::", 1, "8000::"));
	assert_true(in("8000::", 1, "ffff::"));
	assert_false(in("8000::", 1, "7fff:ffff::"));
	/* /63: bit 63, the low bit of the fourth group, is free. */
	assert_true(in("2001:db8:0:0::", 63, "2001:db8:0:0::1"));
	assert_true(in("2001:db8:0:0::", 63,
	    "2001:db8:0:1:ffff:ffff:ffff:ffff"));
	assert_false(in("2001:db8:0:0::", 63, "2001:db8:0:2::"));
	assert_false(in("2001:db8:0:2::", 63, "2001:db8:0:1::"));
	assert_true(in("2001:db8:0:2::", 63, "2001:db8:0:3::"));
	/* /64 and /65 around the byte boundary. */
	assert_false(in("2001:db8::", 64, "2001:db8:0:1::"));
	assert_true(in("2001:db8::", 65, "2001:db8::7fff:ffff:ffff:ffff"));
	assert_false(in("2001:db8::", 65, "2001:db8::8000:0:0:0"));
	/* /127: a pair. */
	assert_true(in("2001:db8::", 127, "2001:db8::"));
	assert_true(in("2001:db8::", 127, "2001:db8::1"));
	assert_false(in("2001:db8::", 127, "2001:db8::2"));
	assert_true(in("2001:db8::3", 127, "2001:db8::2"));
	/* /128: one address. */
	assert_true(in("::1", 128, "::1"));
	assert_false(in("::1", 128, "::"));
	assert_false(in("::1", 128, "::3"));
	assert_false(in("::1", 128, "8000::1"));
	assert_true(in("2001:db8::1", 200, "2001:db8::1"));
	assert_false(in("2001:db8::1", 200, "2001:db8::"));
}

/* An IPv4-mapped IPv6 peer is the IPv4 address it maps. */
static void
test_trusted_mapped(void **state)
{
	(void)state;
	assert_true(in("10.0.0.0", 8, "::ffff:10.1.2.3"));
	assert_false(in("10.0.0.0", 8, "::ffff:11.1.2.3"));
	assert_true(in("203.0.113.7", 32, "::ffff:203.0.113.7"));
	assert_false(in("::", 0, "::ffff:10.1.2.3"));
	assert_false(in("::ffff:0:0", 96, "::ffff:10.1.2.3"));
	/* Only ::ffff:0:0/96 is mapped: ::10.1.2.3 is IPv6. */
	assert_false(in("10.0.0.0", 8, "::10.1.2.3"));
}

static void
test_trusted_other(void **state)
{
	struct sockaddr_storage ss;
	struct cidr c = cidr("0.0.0.0", 0);

	(void)state;
	assert_false(realip_trusted(&c, 1, NULL));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(realip_trusted(&c, 1, (const struct sockaddr *)&ss));
	ss = sa("10.0.0.1", 80);
	assert_false(realip_trusted(NULL, 0, (const struct sockaddr *)&ss));
	assert_true(realip_trusted(&c, 1, (const struct sockaddr *)&ss));
}

/* ---- realip_client ------------------------------------------------------- */

static void
test_untrusted_peer(void **state)
{
	struct config cfg = config(true);

	(void)state;
	check_client(&cfg, "203.0.113.9", 4444, NULL, NULL,
	    "203.0.113.9:4444", 0);
	check_client(&cfg, "203.0.113.9", 4444, "198.51.100.7", "198.51.100.8",
	    "203.0.113.9:4444", 0);
	check_client(&cfg, "2001:db8:2::5", 443, "198.51.100.7", NULL,
	    "[2001:db8:2::5]:443", 0);
	/* No ranges at all: nobody is trusted. */
	cfg.ntrusted = 0;
	check_client(&cfg, "10.0.0.1", 1, "198.51.100.7", "198.51.100.8",
	    "10.0.0.1:1", 0);
}

static void
test_xff_chain(void **state)
{
	struct config cfg = config(false);

	(void)state;
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7", NULL,
	    "198.51.100.7", 1);
	/* The rightmost untrusted hop; what the client wrote is left of it. */
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7, 10.0.0.2, 10.0.0.3",
	    NULL, "198.51.100.7", 1);
	check_client(&cfg, "10.0.0.1", 80,
	    "1.1.1.1, 198.51.100.7, 192.168.1.1", NULL, "198.51.100.7", 1);
	check_client(&cfg, "10.0.0.1", 80, "10.9.9.9, 1.1.1.1, 198.51.100.7",
	    NULL, "198.51.100.7", 1);
	/* IPv6 hops and an IPv6 range. */
	check_client(&cfg, "2001:db8:1::1", 80,
	    "2001:db8:2::9, 2001:db8:1:ffff::1", NULL, "2001:db8:2::9", 1);
	check_client(&cfg, "10.0.0.1", 80, "2001:DB8:0:0::7, 10.0.0.2", NULL,
	    "2001:db8::7", 1);
	/* A mapped hop is IPv4: trusted by 10/8, written as IPv4. */
	check_client(&cfg, "10.0.0.1", 80,
	    "::ffff:198.51.100.7, ::ffff:10.0.0.2", NULL, "198.51.100.7", 1);
	/* X-Forwarded-For wins over X-Real-IP. */
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7", "198.51.100.8",
	    "198.51.100.7", 1);
}

static void
test_xff_all_trusted(void **state)
{
	struct config cfg = config(false);

	(void)state;
	check_client(&cfg, "10.0.0.1", 80, "10.0.0.5, 192.168.0.1, 10.0.0.2",
	    NULL, "10.0.0.5", 1);
	check_client(&cfg, "10.0.0.1", 80, "10.0.0.5", NULL, "10.0.0.5", 1);
}

static void
test_xff_spaces_ports_brackets(void **state)
{
	struct config cfg = config(false);

	(void)state;
	check_client(&cfg, "10.0.0.1", 80, "  198.51.100.7 ,\t10.0.0.2  ",
	    NULL, "198.51.100.7", 1);
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7,10.0.0.2", NULL,
	    "198.51.100.7", 1);
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7:5678, 10.0.0.2:80",
	    NULL, "198.51.100.7", 1);
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7:0", NULL,
	    "198.51.100.7", 1);
	check_client(&cfg, "10.0.0.1", 80, "[2001:db8::7]:80", NULL,
	    "2001:db8::7", 1);
	check_client(&cfg, "10.0.0.1", 80, "[2001:db8::7]", NULL,
	    "2001:db8::7", 1);
	check_client(&cfg, "10.0.0.1", 80, "[::1]:65535, [2001:db8:1::1]:1",
	    NULL, "::1", 1);
	check_client(&cfg, "10.0.0.1", 80, "2001:db8::7", NULL,
	    "2001:db8::7", 1);
	/* Empty elements are allowed by list syntax and skipped. */
	check_client(&cfg, "10.0.0.1", 80, ",198.51.100.7,, 10.0.0.2 , ,",
	    NULL, "198.51.100.7", 1);
	/* Two X-Forwarded-For fields, joined with ", " by the caller. */
	check_client(&cfg, "10.0.0.1", 80, "198.51.100.7, 10.0.0.9, 10.0.0.2",
	    NULL, "198.51.100.7", 1);
}

/* An entry that is no address stops the walk: nothing from XFF. */
static void
test_xff_invalid(void **state)
{
	static const char *bad[] = {
		"unknown", "garbage", "example.com", "1.2.3", "1.2.3.4:",
		"1.2.3.4:65536", "1.2.3.4:+80", "1.2.3.4:8o", "[1.2.3.4]",
		"[2001:db8::1", "2001:db8::1]", "[::1]x", "[::1]:", "[]",
		"1.2.3.4 5.6.7.8", "fe80::1%eth0", "01.2.3.4", "_hidden",
		"1.2.3.4:1:2", "[::1]:123456", "1.2.3.4:000080",
	};
	struct config cfg = config(false);
	char xff[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(xff, sizeof(xff), "198.51.100.7, %s, 10.0.0.2",
		    bad[i]);
		check_client(&cfg, "10.0.0.1", 80, xff, NULL,
		    "10.0.0.1:80", 0);
		check_client(&cfg, "10.0.0.1", 80, xff, "198.51.100.8",
		    "198.51.100.8", 1);
		check_client(&cfg, "10.0.0.1", 80, bad[i], NULL,
		    "10.0.0.1:80", 0);
	}
	/* Invalid beyond the client: never reached. */
	check_client(&cfg, "10.0.0.1", 80, "garbage, 198.51.100.7", NULL,
	    "198.51.100.7", 1);
	/* Nothing but empty elements: no address. */
	check_client(&cfg, "10.0.0.1", 80, " , ,", "198.51.100.8",
	    "198.51.100.8", 1);
	check_client(&cfg, "10.0.0.1", 80, "", NULL, "10.0.0.1:80", 0);
}

static void
test_xri(void **state)
{
	struct config cfg = config(false);

	(void)state;
	check_client(&cfg, "10.0.0.1", 80, NULL, "198.51.100.8",
	    "198.51.100.8", 1);
	check_client(&cfg, "10.0.0.1", 80, NULL, " 198.51.100.8\t",
	    "198.51.100.8", 1);
	check_client(&cfg, "10.0.0.1", 80, NULL, "2001:db8::8",
	    "2001:db8::8", 1);
	check_client(&cfg, "10.0.0.1", 80, NULL, "[2001:db8::8]:443",
	    "2001:db8::8", 1);
	/* Trusted or not, X-Real-IP is the client: no chain to walk. */
	check_client(&cfg, "10.0.0.1", 80, NULL, "10.0.0.8", "10.0.0.8", 1);
	check_client(&cfg, "10.0.0.1", 80, NULL, "garbage", "10.0.0.1:80", 0);
	check_client(&cfg, "10.0.0.1", 80, NULL, "", "10.0.0.1:80", 0);
	check_client(&cfg, "10.0.0.1", 80, NULL, "1.2.3.4, 5.6.7.8",
	    "10.0.0.1:80", 0);
	/* From an untrusted peer, ignored. */
	check_client(&cfg, "198.51.100.1", 80, NULL, "198.51.100.8",
	    "198.51.100.1:80", 0);
}

static void
test_unix_peer(void **state)
{
	struct config cfg = config(false);
	struct sockaddr_storage ss;
	char out[REALIP_ADDRSTRLEN];

	(void)state;
	check_client(&cfg, NULL, 0, "198.51.100.7", "198.51.100.8", "unix", 0);
	cfg.trust_unix = true;
	check_client(&cfg, NULL, 0, "198.51.100.7, 10.0.0.2", NULL,
	    "198.51.100.7", 1);
	check_client(&cfg, NULL, 0, NULL, "198.51.100.8", "198.51.100.8", 1);
	check_client(&cfg, NULL, 0, NULL, NULL, "unix", 0);
	/* peer_is_unix with an address, or an AF_UNIX address, is Unix too. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(realip_client(&cfg, (const struct sockaddr *)&ss,
	    false, NULL, 0, "198.51.100.8", 12, out, sizeof(out)), 1);
	assert_string_equal(out, "198.51.100.8");
	cfg.trust_unix = false;
	assert_int_equal(realip_client(&cfg, (const struct sockaddr *)&ss,
	    true, NULL, 0, "198.51.100.8", 12, out, sizeof(out)), 0);
	assert_string_equal(out, "unix");
	/* A Unix peer is not trusted by a range, even 0.0.0.0/0. */
	ranges[0] = cidr("0.0.0.0", 0);
	cfg.ntrusted = 1;
	assert_int_equal(realip_client(&cfg, NULL, true, NULL, 0,
	    "198.51.100.8", 12, out, sizeof(out)), 0);
	assert_string_equal(out, "unix");
}

static void
test_mapped_peer(void **state)
{
	struct config cfg = config(false);

	(void)state;
	/* Trusted through 10/8. */
	check_client(&cfg, "::ffff:10.0.0.1", 8080, "198.51.100.7", NULL,
	    "198.51.100.7", 1);
	/* Untrusted, and written as the IPv4 it is. */
	check_client(&cfg, "::ffff:192.0.2.5", 8080, "198.51.100.7", NULL,
	    "192.0.2.5:8080", 0);
}

static void
test_peer_format(void **state)
{
	struct config cfg = config(false);
	struct sockaddr_storage ss;
	char out[REALIP_ADDRSTRLEN], small[8];
	int r;

	(void)state;
	check_client(&cfg, "192.0.2.5", 0, NULL, NULL, "192.0.2.5:0", 0);
	check_client(&cfg, "::1", 5678, NULL, NULL, "[::1]:5678", 0);
	check_client(&cfg, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
	    NULL, NULL, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535", 0);
	/* A family that has no address here. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNSPEC;
	r = realip_client(&cfg, (const struct sockaddr *)&ss, false, NULL, 0,
	    NULL, 0, out, sizeof(out));
	assert_int_equal(r, 0);
	assert_string_equal(out, "unknown");
	/* A short buffer truncates, NUL-terminated. */
	ss = sa("192.0.2.5", 443);
	r = realip_client(&cfg, (const struct sockaddr *)&ss, false, NULL, 0,
	    NULL, 0, small, sizeof(small));
	assert_int_equal(r, 0);
	assert_string_equal(small, "192.0.2");
	r = realip_client(&cfg, (const struct sockaddr *)&ss, false, NULL, 0,
	    NULL, 0, NULL, 0);
	assert_int_equal(r, 0);
}

/* Lengths, not NUL bytes, bound the values. */
static void
test_lengths(void **state)
{
	struct config cfg = config(false);
	struct sockaddr_storage ss = sa("10.0.0.1", 80);
	const struct sockaddr *peer = (const struct sockaddr *)&ss;
	static const char xff[] = "198.51.100.7, 10.0.0.2, 203.0.113.1";
	char out[REALIP_ADDRSTRLEN];

	(void)state;
	/* Cut before the last hop: 10.0.0.2 is the last, trusted. */
	assert_int_equal(realip_client(&cfg, peer, false, xff, 22, NULL, 0,
	    out, sizeof(out)), 1);
	assert_string_equal(out, "198.51.100.7");
	/* Cut inside an address: "198.51" is none. */
	assert_int_equal(realip_client(&cfg, peer, false, xff, 6, NULL, 0,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.1:80");
	/* Zero length: no address, X-Real-IP is next. */
	assert_int_equal(realip_client(&cfg, peer, false, xff, 0,
	    "198.51.100.8xyz", 12, out, sizeof(out)), 1);
	assert_string_equal(out, "198.51.100.8");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trusted_ipv4),
		cmocka_unit_test(test_trusted_ipv6_prefixes),
		cmocka_unit_test(test_trusted_mapped),
		cmocka_unit_test(test_trusted_other),
		cmocka_unit_test(test_untrusted_peer),
		cmocka_unit_test(test_xff_chain),
		cmocka_unit_test(test_xff_all_trusted),
		cmocka_unit_test(test_xff_spaces_ports_brackets),
		cmocka_unit_test(test_xff_invalid),
		cmocka_unit_test(test_xri),
		cmocka_unit_test(test_unix_peer),
		cmocka_unit_test(test_mapped_peer),
		cmocka_unit_test(test_peer_format),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests_name("realip", tests, NULL, NULL);
}
