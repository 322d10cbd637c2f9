/*
 * config/diag — see diag.h.
 *
 * A location is a path of keys and indices (routes[2].methods[0]) that
 * config_locate finds in the raw text; the message goes without a
 * position when it cannot. Messages are formatted into a 512-byte buffer
 * first, so that one too long is cut the same way wherever it is written.
 */
#include "common/config/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/locate.h"

/* Names the defaults' values: a bad one is a bug, but say where it is. */
#define CFG_BUILTIN     "(built-in default)"

/* The longest path cfg_vfail_in locates: the key and its sub-steps. */
#define CFG_DEPTH_MAX   7

/* ---- text ---------------------------------------------------------------- */

void
cfg_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
cfg_oneline(char *err, size_t errlen)
{
	for (; errlen > 0 && *err != '\0'; err++, errlen--)
		if ((unsigned char)*err < 0x20 || *err == 0x7f)
			*err = '?';
}

const char *
cfg_flag(const char *name, char *buf, size_t len)
{
	size_t i;

	if (len < 3) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[0] = buf[1] = '-';
	for (i = 0; name[i] != '\0' && i + 3 < len; i++)
		buf[i + 2] = name[i] == '_' ? '-' : name[i];
	buf[i + 2] = '\0';
	return buf;
}

const char *
cfg_quote(const char *s, char *buf, size_t len)
{
	static const size_t maxshown = 48;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, shown = 0;

	/* Room for the quotes, "...", an escape and the NUL is assumed. */
	if (len < 16) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (; *p != '\0'; p++, shown++) {
		/*
		 * Cut at a character boundary, not inside a UTF-8 sequence; the
		 * 12 spare bytes hold the rest of a sequence, "...\"" and NUL.
		 */
		if ((shown >= maxshown || n + 12 >= len) && (*p & 0xc0) != 0x80)
			break;
		if (*p == '"' || *p == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			n += (size_t)snprintf(buf + n, len - n, "\\u%04x", *p);
		} else {
			buf[n++] = (char)*p;
		}
	}
	if (*p != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

const char *
cfg_describe(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return json_array_size(v) == 0 ? "an empty array" : "an array";
	case JSON_STRING:
		return cfg_quote(json_string_value(v), buf, len);
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%.15g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

const char *
cfg_num(double x, char *buf, size_t len)
{
	if (x > -1e15 && x < 1e15 && x == (double)(long long)x)
		snprintf(buf, len, "%lld", (long long)x);
	else
		snprintf(buf, len, "%g", x);
	return buf;
}

/* ---- did you mean -------------------------------------------------------- */

/*
 * Optimal string alignment: adjacent transpositions count as one edit, so
 * "wrokers" is 1 from "workers", as a typist would count it. Names longer
 * than CFG_NAME_MAX are never "close".
 */
int
cfg_distance(const char *a, const char *b)
{
	int d[CFG_NAME_MAX + 1][CFG_NAME_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;
	int cost, best;

	if (la > CFG_NAME_MAX || lb > CFG_NAME_MAX)
		return CFG_NAME_MAX + 1;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] != b[j - 1];
			best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *
cfg_nearest(const char *name, const char *const *names, size_t n)
{
	const char *best = NULL;
	int dist, bestdist = 3;
	size_t i;

	for (i = 0; i < n; i++) {
		dist = cfg_distance(name, names[i]);
		if (dist < bestdist) {
			bestdist = dist;
			best = names[i];
		}
	}
	return best;
}

const char *
cfg_did_you_mean(const char *name, const char *const *names, size_t n,
    char *buf, size_t len)
{
	const char *near = cfg_nearest(name, names, n);

	if (len == 0)
		return "";
	if (near != NULL)
		snprintf(buf, len, "; did you mean \"%s\"?", near);
	else
		buf[0] = '\0';
	return buf;
}

/* ---- where --------------------------------------------------------------- */

const char *
cfg_path_name(const struct config_step *path, size_t depth, char *buf,
    size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < depth && n < len; i++) {
		if (path[i].key != NULL)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    i > 0 ? "." : "", path[i].key);
		else
			n += (size_t)snprintf(buf + n, len - n, "[%ld]",
			    path[i].index);
	}
	return buf;
}

char *
cfg_where(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth)
{
	struct config_pos pos;
	char *s;

	if (config_locate(c->text, c->len, path, depth, &pos) == -1)
		return strdup(c->source);
	if (asprintf(&s, "%s:%d:%d", c->source, pos.line, pos.col) == -1)
		return NULL;
	return s;
}

/* ---- failing ------------------------------------------------------------- */

int
cfg_vfail_at(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *what, const char *fmt, va_list ap)
{
	struct config_pos pos;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (config_locate(c->text, c->len, path, depth, &pos) == -1)
		cfg_seterr(c->err, c->errlen, "%s: %s%s%s", c->source,
		    what != NULL ? what : "", what != NULL ? ": " : "", msg);
	else
		cfg_seterr(c->err, c->errlen, "%s:%d:%d: %s%s%s", c->source,
		    pos.line, pos.col, what != NULL ? what : "",
		    what != NULL ? ": " : "", msg);
	return -1;
}

int
cfg_fail_at(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_vfail_at(c, path, depth, what, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_vfail_path(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *fmt, va_list ap)
{
	char what[CFG_NAME_MAX * 2 + 32];

	return cfg_vfail_at(c, path, depth,
	    cfg_path_name(path, depth, what, sizeof(what)), fmt, ap);
}

int
cfg_vfail_in(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const struct config_step *sub, size_t subdepth,
    const char *fmt, va_list ap)
{
	struct config_step path[CFG_DEPTH_MAX] = { { k->name, 0 } };
	char msg[512], flag[CFG_NAME_MAX + 3], what[CFG_NAME_MAX + 3];
	size_t i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	switch (from) {
	case CFG_FROM_FLAG:
		cfg_seterr(c->err, c->errlen, "%s: %s",
		    cfg_flag(k->name, flag, sizeof(flag)), msg);
		break;
	case CFG_FROM_FILE:
		for (i = 0; i < subdepth && i + 1 < CFG_DEPTH_MAX; i++)
			path[i + 1] = sub[i];
		snprintf(what, sizeof(what), "\"%s\"", k->name);
		return cfg_fail_at(c, path, i + 1, what, "%s", msg);
	case CFG_FROM_BUILTIN:
		cfg_seterr(c->err, c->errlen, "%s: \"%s\": %s", CFG_BUILTIN,
		    k->name, msg);
		break;
	}
	return -1;
}

int
cfg_fail_in(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const struct config_step *sub, size_t subdepth,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_vfail_in(c, k, from, sub, subdepth, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_fail(const struct cfg_ctx *c, const struct cfg_key *k, enum cfg_from from,
    long index, const char *fmt, ...)
{
	struct config_step sub[1] = { { NULL, index } };
	va_list ap;

	va_start(ap, fmt);
	cfg_vfail_in(c, k, from, sub, index < 0 ? 0 : 1, fmt, ap);
	va_end(ap);
	return -1;
}
