/*
 * proxy — PROXY protocol v1/v2 header parser (see proxy.h).
 *
 * Both versions are parsed from the first byte every call: the header is
 * at most 107 bytes (v1) or one length-prefixed block (v2), so there is no
 * state to keep between calls, and the caller's buffer is the only memory.
 */
#include "worker/http/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Braces, not a string literal: the signature has a NUL in it. */
static const unsigned char v2_sig[12] = {
	'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'
};

#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1

#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4   0x11
#define V2_FAM_UDP4   0x12
#define V2_FAM_TCP6   0x21
#define V2_FAM_UDP6   0x22
#define V2_FAM_STREAM 0x31           /* AF_UNIX, SOCK_STREAM */
#define V2_FAM_DGRAM  0x32           /* AF_UNIX, SOCK_DGRAM */

/* Address block sizes: two addresses and, for INET, two ports. */
#define V2_LEN_INET4 (2 * 4 + 2 * 2)
#define V2_LEN_INET6 (2 * 16 + 2 * 2)
#define V2_LEN_UNIX  (2 * 108)

/* The longest text of each v1 field. */
#define V1_IPV4_MAX  15              /* "255.255.255.255" */
#define V1_IPV6_MAX  (INET6_ADDRSTRLEN - 1)
#define V1_PORT_MAX  5               /* "65535" */

static void
set_unspec(struct sockaddr_storage *src, socklen_t *srclen)
{
	memset(src, 0, sizeof(*src));
	src->ss_family = AF_UNSPEC;
	*srclen = 0;
}

/* addr: 4 or 16 bytes in network order; port in host order. */
static void
set_inet(struct sockaddr_storage *src, socklen_t *srclen, int family,
    const void *addr, uint16_t port)
{
	memset(src, 0, sizeof(*src));
	if (family == AF_INET) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(&sin.sin_addr, addr, 4);
		memcpy(src, &sin, sizeof(sin));
		*srclen = sizeof(sin);
	} else {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(&sin6.sin6_addr, addr, 16);
		memcpy(src, &sin6, sizeof(sin6));
		*srclen = sizeof(sin6);
	}
}

/* ---- v1 ------------------------------------------------------------------ */

/*
 * A cursor over the line. end is min(len, PROXY_V1_MAX): running into it
 * means "read more" while the buffer is shorter than the limit, and "line
 * too long" once it is not; shortage says which.
 */
struct v1 {
	const unsigned char *p;
	size_t end;
	size_t off;
	enum proxy_result shortage;
};

/*
 * The literal s at the cursor: 1 (and the cursor moves past it) when all
 * there, 0 when the bytes run out on a prefix of it, -1 on a mismatch.
 */
static int
v1_lit(struct v1 *v, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++) {
		if (v->off + i == v->end)
			return 0;
		if (v->p[v->off + i] != (unsigned char)s[i])
			return -1;
	}
	v->off += n;
	return 1;
}

/*
 * The field at the cursor up to the byte stop, copied into out (max + 1
 * bytes, NUL-terminated). 1 when complete (the cursor moves past stop), 0
 * when the bytes run out inside it, -1 on a byte not in set or a field
 * longer than max. An empty field (two delimiters in a row) is complete
 * and empty: the caller refuses it.
 */
static int
v1_field(struct v1 *v, unsigned char stop, const char *set, size_t max,
    char *out)
{
	size_t n = 0;
	unsigned char c;

	for (;;) {
		if (v->off + n == v->end) {
			out[n] = '\0';
			return 0;
		}
		c = v->p[v->off + n];
		if (c == stop)
			break;
		if (n == max || c == '\0' || strchr(set, c) == NULL)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	v->off += n + 1;
	return 1;
}

/*
 * Is s a dotted quad (whole) or the beginning of one (!whole)? Four
 * decimal numbers 0..255 without leading zeros, as the spec says; checked
 * here rather than left to inet_pton, whose leniency varies by libc.
 */
static bool
v1_ipv4_ok(const char *s, bool whole)
{
	unsigned parts = 1, val = 0, digits = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (digits == 0 || ++parts > 4)
				return false;
			val = digits = 0;
		} else {
			if (digits == 1 && val == 0)
				return false;        /* leading zero */
			val = val * 10 + (unsigned)(*s - '0');
			if (++digits > 3 || val > 255)
				return false;
		}
	}
	return !whole || (parts == 4 && digits > 0);
}

/* A port, whole or the beginning of one: 0..65535, no leading zero. */
static bool
v1_port_ok(const char *s, bool whole, uint16_t *port)
{
	size_t n = strlen(s), i;
	unsigned long val = 0;

	if (n == 0)
		return !whole;
	if (n > 1 && s[0] == '0')
		return false;
	for (i = 0; i < n; i++)
		val = val * 10 + (unsigned long)(s[i] - '0');
	if (val > 65535)
		return false;
	*port = (uint16_t)val;
	return true;
}

/*
 * One address field of family, ended by a space. 1: complete and valid,
 * in addr; 0: the bytes ran out on a valid beginning; -1: invalid.
 */
static int
v1_addr(struct v1 *v, int family, unsigned char *addr)
{
	char text[V1_IPV6_MAX + 1];
	int r;

	if (family == AF_INET) {
		r = v1_field(v, ' ', "0123456789.", V1_IPV4_MAX, text);
		if (r == -1 || !v1_ipv4_ok(text, r == 1))
			return -1;
	} else {
		r = v1_field(v, ' ', "0123456789abcdefABCDEF:.", V1_IPV6_MAX,
		    text);
		if (r == -1)
			return -1;
	}
	if (r == 0)
		return 0;
	return inet_pton(family, text, addr) == 1 ? 1 : -1;
}

/* One port field ended by stop. Same returns as v1_addr. */
static int
v1_port(struct v1 *v, unsigned char stop, uint16_t *port)
{
	char text[V1_PORT_MAX + 1];
	int r;

	r = v1_field(v, stop, "0123456789", V1_PORT_MAX, text);
	if (r == -1 || !v1_port_ok(text, r == 1, port))
		return -1;
	return r;
}

/* What a step's 0/-1 means for the parse. */
#define V1_STEP(v, expr) do {                                               \
	int step_ = (expr);                                                 \
	if (step_ != 1)                                                     \
		return step_ == 0 ? (v)->shortage : PROXY_ERROR;            \
} while (0)

static enum proxy_result
v1_parse(const unsigned char *p, size_t len, size_t *consumed,
    struct sockaddr_storage *src, socklen_t *srclen)
{
	static const struct {
		const char *text;
		int family;
	} protos[] = {
		{ "TCP4 ", AF_INET },
		{ "TCP6 ", AF_INET6 },
		{ "UNKNOWN", AF_UNSPEC },
	};
	struct v1 v = {
		.p = p,
		.end = len < PROXY_V1_MAX ? len : PROXY_V1_MAX,
		.off = 0,
		.shortage = len < PROXY_V1_MAX ? PROXY_NEED_MORE : PROXY_ERROR,
	};
	unsigned char saddr[16], daddr[16];
	uint16_t sport = 0, dport = 0;
	bool partial = false;
	int family = -1;
	size_t i;

	V1_STEP(&v, v1_lit(&v, "PROXY "));
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		int r = v1_lit(&v, protos[i].text);

		if (r == 1) {
			family = protos[i].family;
			break;
		}
		partial |= r == 0;
	}
	if (family == -1)
		return partial ? v.shortage : PROXY_ERROR;

	if (family == AF_UNSPEC) {
		/*
		 * "PROXY UNKNOWN" then, after a space, anything up to CRLF,
		 * which the spec tells receivers to ignore.
		 */
		if (v.off == v.end)
			return v.shortage;
		if (p[v.off] != ' ' && p[v.off] != '\r')
			return PROXY_ERROR;
		for (; v.off < v.end && p[v.off] != '\r'; v.off++)
			if (p[v.off] == '\n')
				return PROXY_ERROR;
		V1_STEP(&v, v1_lit(&v, "\r\n"));
		*consumed = v.off;
		set_unspec(src, srclen);
		return PROXY_DONE;
	}

	V1_STEP(&v, v1_addr(&v, family, saddr));
	V1_STEP(&v, v1_addr(&v, family, daddr));
	V1_STEP(&v, v1_port(&v, ' ', &sport));
	V1_STEP(&v, v1_port(&v, '\r', &dport));
	V1_STEP(&v, v1_lit(&v, "\n"));
	*consumed = v.off;
	set_inet(src, srclen, family, saddr, sport);
	return PROXY_DONE;
}

/* ---- v2 ------------------------------------------------------------------ */

/*
 * Walk the TLVs in p[off..total) as far as len allows: each is a type
 * byte, a 16-bit length and that many bytes, and must end within total.
 * Their bytes need not have arrived to be skipped, only their headers.
 */
static enum proxy_result
v2_tlvs(const unsigned char *p, size_t len, size_t off, size_t total)
{
	while (off < total) {
		if (off + 3 > total)
			return PROXY_ERROR;
		if (off + 3 > len)
			return PROXY_NEED_MORE;
		off += 3 + ((size_t)p[off + 1] << 8 | p[off + 2]);
		if (off > total)
			return PROXY_ERROR;
	}
	return len < total ? PROXY_NEED_MORE : PROXY_DONE;
}

static enum proxy_result
v2_parse(const unsigned char *p, size_t len, size_t *consumed,
    struct sockaddr_storage *src, socklen_t *srclen)
{
	size_t addrlen, total, need = 0;
	unsigned cmd, fam;
	enum proxy_result r;

	/* The caller checked the signature. */
	if (len < 13)
		return PROXY_NEED_MORE;
	if (p[12] >> 4 != 2)
		return PROXY_ERROR;
	cmd = p[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return PROXY_ERROR;
	if (len < 14)
		return PROXY_NEED_MORE;
	fam = p[13];

	/*
	 * LOCAL: the proxy speaking for itself (a health check). The spec
	 * has the receiver discard the block, family included, so its
	 * family byte is not checked.
	 */
	if (cmd == V2_CMD_PROXY) {
		switch (fam) {
		case V2_FAM_UNSPEC:
			break;
		case V2_FAM_TCP4:
			need = V2_LEN_INET4;
			break;
		case V2_FAM_TCP6:
			need = V2_LEN_INET6;
			break;
		case V2_FAM_STREAM:
		case V2_FAM_DGRAM:
			need = V2_LEN_UNIX;
			break;
		case V2_FAM_UDP4:
		case V2_FAM_UDP6:
		default:
			return PROXY_ERROR;
		}
	}
	if (len < PROXY_V2_HDR)
		return PROXY_NEED_MORE;
	addrlen = (size_t)p[14] << 8 | p[15];
	if (addrlen < need)
		return PROXY_ERROR;
	total = PROXY_V2_HDR + addrlen;

	/* No address: the block is opaque, only its length counts. */
	if (cmd == V2_CMD_LOCAL || fam == V2_FAM_UNSPEC) {
		if (len < total)
			return PROXY_NEED_MORE;
		*consumed = total;
		set_unspec(src, srclen);
		return PROXY_DONE;
	}

	r = v2_tlvs(p, len, PROXY_V2_HDR + need, total);
	if (r != PROXY_DONE)
		return r;
	*consumed = total;
	if (fam == V2_FAM_TCP4) {
		const unsigned char *a = p + PROXY_V2_HDR;

		set_inet(src, srclen, AF_INET, a, (uint16_t)(a[8] << 8 | a[9]));
	} else if (fam == V2_FAM_TCP6) {
		const unsigned char *a = p + PROXY_V2_HDR;

		set_inet(src, srclen, AF_INET6, a,
		    (uint16_t)(a[32] << 8 | a[33]));
	} else {
		set_unspec(src, srclen);     /* a Unix path is no client address */
	}
	return PROXY_DONE;
}

/* ---- entry --------------------------------------------------------------- */

enum proxy_result
proxy_parse(const void *buf, size_t len, size_t *consumed,
    struct sockaddr_storage *src, socklen_t *srclen)
{
	const unsigned char *p = buf;
	size_t n;

	if (len == 0)
		return PROXY_NEED_MORE;      /* a prefix of either */
	if (p[0] == 'P')
		return v1_parse(p, len, consumed, src, srclen);
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(p, v2_sig, n) != 0)
		return PROXY_ERROR;
	if (len < sizeof(v2_sig))
		return PROXY_NEED_MORE;
	return v2_parse(p, len, consumed, src, srclen);
}
