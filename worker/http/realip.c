/*
 * realip — the client address of a request (see realip.h).
 */
#include "worker/http/realip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

/* An address without a port; IPv4 (mapped ones too) in the first 4 bytes. */
struct ip {
	int family;                  /* AF_INET or AF_INET6 */
	unsigned char a[16];
};

/* ::ffff:a.b.c.d -> a.b.c.d: the one form an IPv4 address has here. */
static void
ip_unmap(struct ip *ip)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (ip->family == AF_INET6 && memcmp(ip->a, mapped, 12) == 0) {
		memmove(ip->a, ip->a + 12, 4);
		memset(ip->a + 4, 0, 12);
		ip->family = AF_INET;
	}
}

/*
 * The address (and port, host order) of sa; false for other families.
 * Copied out rather than cast, so that any sockaddr the caller holds,
 * however aligned, is read as what it is.
 */
static bool
ip_from_sockaddr(const struct sockaddr *sa, struct ip *ip, unsigned *port)
{
	if (sa == NULL)
		return false;
	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		ip->family = AF_INET;
		memcpy(ip->a, &sin.sin_addr, 4);
		*port = ntohs(sin.sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		ip->family = AF_INET6;
		memcpy(ip->a, &sin6.sin6_addr, 16);
		*port = ntohs(sin6.sin6_port);
		ip_unmap(ip);
	} else {
		return false;
	}
	return true;
}

static bool
cidr_match(const struct cidr *c, const struct ip *ip)
{
	unsigned width = ip->family == AF_INET ? 32 : 128;
	unsigned prefix = c->prefix < width ? c->prefix : width;
	unsigned full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (c->family != ip->family || memcmp(c->addr, ip->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return ((c->addr[full] ^ ip->a[full]) & mask) == 0;
}

static bool
ip_trusted(const struct cidr *list, size_t n, const struct ip *ip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&list[i], ip))
			return true;
	return false;
}

bool
realip_trusted(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	struct ip ip;
	unsigned port;

	return ip_from_sockaddr(sa, &ip, &port) && ip_trusted(list, n, &ip);
}

/* s[0..n) is empty or ":PORT", PORT 0..65535 in decimal. */
static bool
port_suffix_ok(const char *s, size_t n)
{
	unsigned long val = 0;
	size_t i;

	if (n == 0)
		return true;
	if (s[0] != ':' || n < 2 || n > 6)
		return false;
	for (i = 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		val = val * 10 + (unsigned long)(s[i] - '0');
	}
	return val <= 65535;
}

/*
 * One header entry s[0..n), already trimmed: "1.2.3.4", "1.2.3.4:80",
 * "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". A bare IPv6 address
 * cannot carry a port (its last group would be read as one): one colon
 * means IPv4 and a port, more mean IPv6.
 */
static bool
ip_parse(const char *s, size_t n, struct ip *ip)
{
	char text[INET6_ADDRSTRLEN];
	const char *colon;
	int family;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL ||
		    !port_suffix_ok(close + 1, n - (size_t)(close + 1 - s)))
			return false;
		family = AF_INET6;
		n = (size_t)(close - s) - 1;
		s++;
	} else if ((colon = memchr(s, ':', n)) != NULL &&
	    memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL) {
		if (!port_suffix_ok(colon, n - (size_t)(colon - s)))
			return false;
		family = AF_INET;
		n = (size_t)(colon - s);
	} else {
		family = colon != NULL ? AF_INET6 : AF_INET;
	}
	if (n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(family, text, ip->a) != 1)
		return false;
	ip->family = family;
	ip_unmap(ip);
	return true;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim spaces and tabs off both ends of s[0..*n); returns the new start. */
static const char *
trim(const char *s, size_t *n)
{
	while (*n > 0 && is_ows(s[0])) {
		s++;
		(*n)--;
	}
	while (*n > 0 && is_ows(s[*n - 1]))
		(*n)--;
	return s;
}

/*
 * The client from X-Forwarded-For s[0..n) (see realip.h): walked from the
 * right, since only the entries our trusted proxies appended are true;
 * whatever the client sent is to their left.
 */
static bool
xff_pick(const struct config *cfg, const char *s, size_t n, struct ip *out)
{
	size_t end = n, start, elen;
	const char *e;
	bool have = false;
	struct ip ip;

	for (;;) {
		for (start = end; start > 0 && s[start - 1] != ','; start--)
			;
		elen = end - start;
		e = trim(s + start, &elen);
		if (elen > 0) {
			if (!ip_parse(e, elen, &ip))
				return false;
			*out = ip;
			have = true;
			if (!ip_trusted(cfg->trusted, cfg->ntrusted, &ip))
				return true;
		}
		if (start == 0)
			return have;         /* all trusted: the leftmost */
		end = start - 1;
	}
}

static void
format_ip(const struct ip *ip, char *out, size_t outlen)
{
	char text[INET6_ADDRSTRLEN];

	if (inet_ntop(ip->family, ip->a, text, sizeof(text)) == NULL)
		text[0] = '\0';              /* cannot happen: the size fits */
	snprintf(out, outlen, "%s", text);
}

int
realip_client(const struct config *cfg, const struct sockaddr *peer,
    bool peer_is_unix, const char *xff, size_t xff_len, const char *xri,
    size_t xri_len, char *out, size_t outlen)
{
	bool is_unix = peer_is_unix || peer == NULL ||
	    peer->sa_family == AF_UNIX;
	bool have_peer = false, trusted;
	struct ip peer_ip, ip;
	unsigned port = 0;
	char text[INET6_ADDRSTRLEN];
	const char *v;
	size_t vlen;

	if (is_unix) {
		trusted = cfg->trust_unix;
	} else {
		have_peer = ip_from_sockaddr(peer, &peer_ip, &port);
		trusted = have_peer &&
		    ip_trusted(cfg->trusted, cfg->ntrusted, &peer_ip);
	}

	if (trusted) {
		if (xff != NULL && xff_pick(cfg, xff, xff_len, &ip)) {
			format_ip(&ip, out, outlen);
			return 1;
		}
		if (xri != NULL) {
			vlen = xri_len;
			v = trim(xri, &vlen);
			if (ip_parse(v, vlen, &ip)) {
				format_ip(&ip, out, outlen);
				return 1;
			}
		}
	}

	if (is_unix) {
		snprintf(out, outlen, "unix");
	} else if (!have_peer ||
	    inet_ntop(peer_ip.family, peer_ip.a, text, sizeof(text)) == NULL) {
		snprintf(out, outlen, "unknown");
	} else if (peer_ip.family == AF_INET) {
		snprintf(out, outlen, "%s:%u", text, port);
	} else {
		snprintf(out, outlen, "[%s]:%u", text, port);
	}
	return 0;
}

/* v in decimal at p; the end. */
static char *
put_uint(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

void
realip_format(char *out, size_t len, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];

	if (sa == NULL) {
		snprintf(out, len, "unix");
	} else if (sa->sa_family == AF_INET && len >= sizeof("255.255.255.255:65535")) {
		/* Formatted for every request: no printf. */
		const struct sockaddr_in *in = (const struct sockaddr_in *)
		    (const void *)sa;
		const unsigned char *a = (const unsigned char *)&in->sin_addr;
		char *p = out;

		for (int i = 0; i < 4; i++) {
			p = put_uint(p, a[i]);
			*p++ = i < 3 ? '.' : ':';
		}
		*put_uint(p, ntohs(in->sin_port)) = '\0';
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, len, "?");
	}
}

static bool
header_named(const struct http_header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

int
realip_request_client(const struct config *cfg, const struct sockaddr *peer,
    bool peer_is_unix, const struct http_header *hdrs, size_t nhdrs,
    char *out, size_t outlen)
{
	struct buf xff = { 0 };
	const char *xri = NULL;
	size_t xri_len = 0;
	int r;

	if (!(peer_is_unix ? cfg->trust_unix : realip_trusted(cfg->trusted,
	    cfg->ntrusted, peer)))
		return 0;
	for (size_t i = 0; i < nhdrs; i++) {
		const struct http_header *h = &hdrs[i];

		/* Several X-Forwarded-For lines are one list (RFC 9110 5.3). */
		if (header_named(h, "X-Forwarded-For")) {
			if (xff.len > 0)
				buf_append(&xff, ", ", 2);
			buf_append(&xff, h->value, h->value_len);
		} else if (xri == NULL && header_named(h, "X-Real-IP")) {
			xri = h->value;
			xri_len = h->value_len;
		}
	}
	r = realip_client(cfg, peer, peer_is_unix, xff.p, xff.len, xri,
	    xri_len, out, outlen);
	buf_free(&xff);
	return r;
}
