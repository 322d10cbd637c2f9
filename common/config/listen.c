/*
 * config/listen — the network keys of the configuration: "listen" and
 * "trusted_proxies". See config.h for what they hold.
 *
 * A "listen" entry is an address string, or an object holding one with
 * the socket's options; an error in an object is located at the key it is
 * about (listen[1].mode) and names it: "listen": "mode": .... A
 * "trusted_proxies" entry is a CIDR range, a bare address, or "unix".
 * Both keys' flags repeat, one element each; a flag cannot give options.
 */
#include "common/config/listen.h"

#include <arpa/inet.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/config/diag.h"
#include "common/config/value.h"
#include "common/util.h"

/* ---- addresses ---------------------------------------------------------- */

/* A port: digits only, 1..65535. */
static int
cfg_parse_port(const char *s, int *port)
{
	long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0 || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* The len bytes at s as a C string in buf; -1 if they do not fit. */
static int
cfg_copy(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

int
config_parse_listen(const char *text, struct listen_addr *out, char *err,
    size_t errlen)
{
	static const char forms[] = "expected host:port, [v6]:port, *:port or "
	    "unix:/path";
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un *un = (struct sockaddr_un *)&ss;
	char host[INET6_ADDRSTRLEN + 1], norm[sizeof(un->sun_path) + 8];
	const char *colon, *rbracket, *portstr, *path;
	size_t hostlen, pathlen;
	socklen_t salen;
	int port, shown;

	memset(&ss, 0, sizeof(ss));
	if (text == NULL || *text == '\0') {
		cfg_seterr(err, errlen, "empty address; %s", forms);
		return -1;
	}

	if (strncmp(text, "unix:", 5) == 0) {
		path = text + 5;
		pathlen = strlen(path);
		if (path[0] != '/') {
			cfg_seterr(err, errlen, "unix socket path must be "
			    "absolute, e.g. unix:/run/shoal.sock");
			return -1;
		}
		if (pathlen >= sizeof(un->sun_path)) {
			cfg_seterr(err, errlen, "unix socket path is %zu bytes; "
			    "the limit is %zu", pathlen,
			    sizeof(un->sun_path) - 1);
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, pathlen + 1);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    pathlen + 1);
		snprintf(norm, sizeof(norm), "unix:%s", path);
		goto done;
	}

	if (text[0] == '[') {
		if ((rbracket = strchr(text, ']')) == NULL) {
			cfg_seterr(err, errlen, "missing ']' after IPv6 address");
			return -1;
		}
		if (rbracket[1] != ':') {
			cfg_seterr(err, errlen, "missing :port after ']'");
			return -1;
		}
		hostlen = (size_t)(rbracket - text - 1);
		portstr = rbracket + 2;
		if (cfg_copy(host, sizeof(host), text + 1, hostlen) == -1 ||
		    inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
			shown = hostlen > 64 ? 64 : (int)hostlen;
			cfg_seterr(err, errlen, "\"%.*s\" is not an IPv6 address",
			    shown, text + 1);
			return -1;
		}
		if (cfg_parse_port(portstr, &port) == -1)
			goto badport;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		salen = sizeof(*in6);
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(norm, sizeof(norm), "[%s]:%d", host, port);
		goto done;
	}

	if ((colon = strrchr(text, ':')) == NULL) {
		cfg_seterr(err, errlen, "missing port; %s", forms);
		return -1;
	}
	hostlen = (size_t)(colon - text);
	portstr = colon + 1;
	shown = hostlen > 64 ? 64 : (int)hostlen;
	if (memchr(text, ':', hostlen) != NULL) {
		cfg_seterr(err, errlen, "an IPv6 address needs brackets, "
		    "e.g. [::1]:8080");
		return -1;
	}
	if (hostlen == 0) {
		cfg_seterr(err, errlen, "missing host; use *:%.16s for all "
		    "IPv4 addresses", portstr);
		return -1;
	}
	if (hostlen == 1 && text[0] == '*') {
		in4->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (cfg_copy(host, sizeof(host), text, hostlen) == -1 ||
	    inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
		/*
		 * No DNS here: a name can resolve to several addresses, or to
		 * others after a reload, and start-up would hang on a dead
		 * resolver. Say so rather than just "invalid address".
		 */
		if (strspn(text, "0123456789.") >= hostlen)
			cfg_seterr(err, errlen, "\"%.*s\" is not an IPv4 "
			    "address", shown, text);
		else
			cfg_seterr(err, errlen, "\"%.*s\" is not an IP address "
			    "(host names are not resolved; use 127.0.0.1 or "
			    "[::1])", shown, text);
		return -1;
	}
	if (cfg_parse_port(portstr, &port) == -1)
		goto badport;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	salen = sizeof(*in4);
	inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
	snprintf(norm, sizeof(norm), "%s:%d", host, port);

done:
	if ((out->text = strdup(norm)) == NULL) {
		cfg_seterr(err, errlen, "out of memory");
		return -1;
	}
	memcpy(&out->sa, &ss, sizeof(ss));
	out->salen = salen;
	/* The options' defaults; an address object may then change them. */
	out->proxy_protocol = false;
	out->mode = -1;
	out->uid = -1;
	out->gid = -1;
	return 0;

badport:
	cfg_seterr(err, errlen, "bad port \"%.16s\"; expected a number from 1 "
	    "to 65535", portstr);
	return -1;
}

/* ---- listen ------------------------------------------------------------- */

/* "routes" is checked after the modules are (config/routes.c). */
static const char *const cfg_listen_keys[] = {
	"address", "proxy_protocol", "mode", "owner", "group", "routes",
};

/*
 * Write the error for "listen", located at entry i (key NULL) or at its
 * key; a lone entry (v not an array) has no index. A flag, or the
 * default, is named instead. Returns -1.
 */
static int
cfg_listen_fail(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const json_t *v, size_t i, const char *key,
    const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int
cfg_listen_fail(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const json_t *v, size_t i, const char *key,
    const char *fmt, ...)
{
	struct config_step sub[2];
	size_t depth = 0;
	va_list ap;

	if (json_is_array(v))
		sub[depth++] = (struct config_step){ NULL, (long)i };
	if (key != NULL)
		sub[depth++] = (struct config_step){ key, 0 };
	va_start(ap, fmt);
	cfg_vfail_in(c, k, from, sub, depth, fmt, ap);
	va_end(ap);
	return -1;
}

/* The address text of an entry, a string or an object's "address"; or NULL. */
static const char *
cfg_listen_text(const json_t *e)
{
	if (json_is_object(e))
		e = json_object_get(e, "address");
	return json_is_string(e) ? json_string_value(e) : NULL;
}

/*
 * "mode": "0660" (3 or 4 octal digits) or an integer, 0 to 0777. JSON has
 * no octal numbers, so an integer is decimal: 432 is 0660. Octal written
 * unquoted (660, 644, 755) is past the range and refused with a hint;
 * only the rare 400..511 would slip through as other bits.
 */
static int
cfg_listen_mode(const json_t *f, int *mode)
{
	const char *s;
	long long n = 0;
	size_t len, j;

	if (json_is_string(f)) {
		s = json_string_value(f);
		if ((len = strlen(s)) < 3 || len > 4)
			return -1;
		for (j = 0; j < len; j++) {
			if (s[j] < '0' || s[j] > '7')
				return -1;
			n = n * 8 + (s[j] - '0');
		}
	} else if (!cfg_integer(f, &n)) {
		return -1;
	}
	if (n < 0 || n > 0777)
		return -1;
	*mode = (int)n;
	return 0;
}

/* An integer that reads as octal permission bits: 660, 755. */
static bool
cfg_looks_octal(const json_t *f)
{
	char digits[32];
	long long n;

	if (!cfg_integer(f, &n) || n < 100 || n > 777)
		return false;
	snprintf(digits, sizeof(digits), "%lld", n);
	return strspn(digits, "01234567") == strlen(digits);
}

/*
 * "owner" or "group" (is_group): a name, looked up now, so that a typo
 * fails the check and not the bind; or a number. The reason into why.
 */
static int
cfg_listen_id(const json_t *f, bool is_group, int *id, char *why,
    size_t whylen)
{
	const char *what = is_group ? "group" : "user";
	const struct passwd *pw;
	const struct group *gr;
	char got[80];
	long long n;
	unsigned long long found;

	if (cfg_integer(f, &n)) {
		if (n < 0 || n > INT_MAX)
			goto bad;
		*id = (int)n;
		return 0;
	}
	if (!json_is_string(f) || json_string_length(f) == 0)
		goto bad;
	/* Start-up only: the master is single-threaded here. */
	if (is_group) {
		if ((gr = getgrnam(json_string_value(f))) == NULL)
			goto unknown;
		found = gr->gr_gid;
	} else {
		if ((pw = getpwnam(json_string_value(f))) == NULL)
			goto unknown;
		found = pw->pw_uid;
	}
	if (found > INT_MAX) {
		snprintf(why, whylen, "%s %s has id %llu, past %d", what,
		    cfg_quote(json_string_value(f), got, sizeof(got)), found,
		    INT_MAX);
		return -1;
	}
	*id = (int)found;
	return 0;

unknown:
	snprintf(why, whylen, "no %s %s", what,
	    cfg_quote(json_string_value(f), got, sizeof(got)));
	return -1;
bad:
	snprintf(why, whylen, "expected a %s name or a %cid from 0 to %d, got %s",
	    what, is_group ? 'g' : 'u', INT_MAX, cfg_describe(f, got,
	    sizeof(got)));
	return -1;
}

/* Entry i of "listen" (v, or v itself), an object: fill *la from it. */
static int
cfg_listen_object(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const json_t *v, size_t i, json_t *e,
    struct listen_addr *la)
{
	static const char *const unix_only[] = { "mode", "owner", "group" };
	char got[80], why[256];
	const char *key, *shown;
	json_t *f;
	size_t n;

	/* First, so that a misspelt "address" is not reported missing. */
	if ((key = cfg_unknown_member(e, cfg_listen_keys,
	    ARRAY_SIZE(cfg_listen_keys))) != NULL)
		return cfg_listen_fail(c, k, from, v, i, key, "unknown key %s%s",
		    cfg_quote(key, got, sizeof(got)), cfg_did_you_mean(key,
		    cfg_listen_keys, ARRAY_SIZE(cfg_listen_keys), why,
		    sizeof(why)));

	if ((f = json_object_get(e, "address")) == NULL)
		return cfg_listen_fail(c, k, from, v, i, NULL, "missing "
		    "\"address\"");
	if (!json_is_string(f))
		return cfg_listen_fail(c, k, from, v, i, "address", "\"address\": "
		    "expected an address string, got %s", cfg_describe(f, got,
		    sizeof(got)));
	if (config_parse_listen(json_string_value(f), la, why,
	    sizeof(why)) == -1)
		return cfg_listen_fail(c, k, from, v, i, "address", "%s: %s",
		    cfg_quote(json_string_value(f), got, sizeof(got)), why);

	if ((f = json_object_get(e, "proxy_protocol")) != NULL) {
		if (!json_is_boolean(f))
			return cfg_listen_fail(c, k, from, v, i, "proxy_protocol",
			    "\"proxy_protocol\": expected true or false, got %s",
			    cfg_describe(f, got, sizeof(got)));
		la->proxy_protocol = json_is_true(f);
	}

	/* A TCP socket has no file to own: refuse rather than ignore. */
	for (n = 0; n < ARRAY_SIZE(unix_only); n++)
		if (la->sa.ss_family != AF_UNIX &&
		    json_object_get(e, unix_only[n]) != NULL)
			return cfg_listen_fail(c, k, from, v, i, unix_only[n],
			    "\"%s\": only for unix: addresses", unix_only[n]);

	if ((f = json_object_get(e, "mode")) != NULL &&
	    cfg_listen_mode(f, &la->mode) == -1) {
		shown = cfg_describe(f, got, sizeof(got));
		if (cfg_looks_octal(f))
			return cfg_listen_fail(c, k, from, v, i, "mode", "\"mode\": "
			    "expected an octal string such as \"0660\" or an "
			    "integer from 0 to 511, got %s; did you mean \"0%s\"?",
			    shown, shown);
		return cfg_listen_fail(c, k, from, v, i, "mode", "\"mode\": "
		    "expected an octal string such as \"0660\" or an integer "
		    "from 0 to 511, got %s", shown);
	}
	if ((f = json_object_get(e, "owner")) != NULL &&
	    cfg_listen_id(f, false, &la->uid, why, sizeof(why)) == -1)
		return cfg_listen_fail(c, k, from, v, i, "owner", "\"owner\": %s",
		    why);
	if ((f = json_object_get(e, "group")) != NULL &&
	    cfg_listen_id(f, true, &la->gid, why, sizeof(why)) == -1)
		return cfg_listen_fail(c, k, from, v, i, "group", "\"group\": %s",
		    why);
	return 0;
}

/* "listen": "127.0.0.1:80" is a list of one, as is a lone object. */
static bool
cfg_listen_lone(const json_t *v)
{
	return json_is_string(v) || json_is_object(v);
}

int
cfg_apply_listen(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	static const struct cfg_array_of addresses = {
		"an address or an array of addresses", "address", "addresses",
		sizeof(struct listen_addr), cfg_listen_lone,
	};
	char got[80], prev[80], why[256];
	const char *text;
	void *all;
	json_t *e;
	size_t n, i, j;

	if (cfg_array(c, k, from, v, &addresses, &all, &n) == -1)
		return -1;
	/* Zeroed entries free cleanly: count them all now, fill them next. */
	cfg->listen = all;
	cfg->nlisten = n;

	for (i = 0; i < n; i++) {
		e = json_is_array(v) ? json_array_get(v, i) : v;
		if (json_is_object(e)) {
			if (cfg_listen_object(c, k, from, v, i, e,
			    &cfg->listen[i]) == -1)
				return -1;
		} else if (!json_is_string(e)) {
			return cfg_listen_fail(c, k, from, v, i, NULL, "expected "
			    "an address string or object, got %s",
			    cfg_describe(e, got, sizeof(got)));
		} else if (config_parse_listen(json_string_value(e),
		    &cfg->listen[i], why, sizeof(why)) == -1) {
			return cfg_listen_fail(c, k, from, v, i, NULL, "%s: %s",
			    cfg_quote(json_string_value(e), got, sizeof(got)),
			    why);
		}
		/* Compare normalised forms: "*:80" and "0.0.0.0:80" are one socket. */
		text = cfg_listen_text(e);
		cfg_quote(text, got, sizeof(got));
		for (j = 0; j < i; j++) {
			if (strcmp(cfg->listen[j].text, cfg->listen[i].text) != 0)
				continue;
			cfg_quote(cfg_listen_text(json_array_get(v, j)), prev,
			    sizeof(prev));
			if (strcmp(prev, got) == 0)
				return cfg_listen_fail(c, k, from, v, i,
				    json_is_object(e) ? "address" : NULL, "%s is "
				    "listed twice", got);
			return cfg_listen_fail(c, k, from, v, i,
			    json_is_object(e) ? "address" : NULL, "%s is listed "
			    "twice (also as %s)", got, prev);
		}
	}
	return 0;
}

/* ---- trusted_proxies ---------------------------------------------------- */

/*
 * One range: "10.0.0.0/8", "fd00::/8", or a bare address (all its bits).
 * Host bits past the prefix are refused, not masked: "10.0.0.1/8" more
 * likely means a typo than the whole of 10/8. The reason into why.
 */
static int
cfg_parse_cidr(const char *s, struct cidr *out, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1], net[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hostlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned char masked[16];
	unsigned maxbits, prefix = 0, b;
	int shown = hostlen > 64 ? 64 : (int)hostlen;

	memset(out, 0, sizeof(*out));
	out->family = memchr(s, ':', hostlen) != NULL ? AF_INET6 : AF_INET;
	maxbits = out->family == AF_INET6 ? 128 : 32;
	if (cfg_copy(host, sizeof(host), s, hostlen) == -1 ||
	    inet_pton(out->family, host, out->addr) != 1) {
		if (out->family == AF_INET6)
			snprintf(why, whylen, "\"%.*s\" is not an IPv6 address",
			    shown, s);
		else if (hostlen > 0 && strspn(s, "0123456789.") >= hostlen)
			snprintf(why, whylen, "\"%.*s\" is not an IPv4 address",
			    shown, s);
		else
			snprintf(why, whylen, "expected an IP address, a range "
			    "such as 10.0.0.0/8, or \"unix\"");
		return -1;
	}

	if (slash == NULL) {
		prefix = maxbits;
	} else {
		for (b = 1; slash[b] >= '0' && slash[b] <= '9' && b <= 3; b++)
			prefix = prefix * 10 + (unsigned)(slash[b] - '0');
		if (b == 1 || slash[b] != '\0' || prefix > maxbits) {
			snprintf(why, whylen, "bad prefix \"%.16s\"; expected a "
			    "number from 0 to %u", slash + 1, maxbits);
			return -1;
		}
	}
	out->prefix = prefix;

	memcpy(masked, out->addr, sizeof(masked));
	for (b = prefix; b < maxbits; b++)
		masked[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
	if (memcmp(masked, out->addr, sizeof(masked)) != 0) {
		inet_ntop(out->family, masked, net, sizeof(net));
		snprintf(why, whylen, "host bits set; did you mean %s/%u?", net,
		    prefix);
		return -1;
	}
	return 0;
}

int
cfg_apply_trusted(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	static const struct cfg_array_of ranges = {
		"an array of address ranges", "range", "ranges",
		sizeof(struct cidr), NULL,
	};
	char got[80], why[256];
	const json_t *e;
	const char *s;
	void *all;
	size_t n, i;

	/* Enough for all; "unix" entries leave some unused. */
	if (cfg_array(c, k, from, v, &ranges, &all, &n) == -1)
		return -1;
	cfg->trusted = all;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return cfg_fail(c, k, from, (long)i, "expected an "
			    "address range string, got %s", cfg_describe(e, got,
			    sizeof(got)));
		s = json_string_value(e);
		/* Peers on a unix: socket have no address to match. */
		if (strcmp(s, "unix") == 0) {
			cfg->trust_unix = true;
			continue;
		}
		if (cfg_parse_cidr(s, &cfg->trusted[cfg->ntrusted], why,
		    sizeof(why)) == -1)
			return cfg_fail(c, k, from, (long)i, "%s: %s",
			    cfg_quote(s, got, sizeof(got)), why);
		cfg->ntrusted++;
	}
	return 0;
}
