/*
 * config/locate — see locate.h.
 *
 * "workers: out of range" without a line makes the user hunt, so after
 * jansson has accepted a text this scans the raw bytes again, skipping
 * strings (with their escapes) and nested containers (tracking depth), to
 * find where a key or an array element starts. Positions are counted the
 * way jansson counts them (columns in characters, not bytes) so syntax and
 * semantic errors agree. On any surprise it gives up and the message goes
 * without a position.
 */
#include "common/config/locate.h"

#include <stdbool.h>
#include <string.h>
#include <jansson.h>

struct locate_scan {
	const char *p, *end;
	struct config_pos pos;
};

static int
locate_peek(const struct locate_scan *s)
{
	return s->p < s->end ? (unsigned char)*s->p : -1;
}

static void
locate_next(struct locate_scan *s)
{
	unsigned char c;

	if (s->p >= s->end)
		return;
	c = (unsigned char)*s->p++;
	if (c == '\n') {
		s->pos.line++;
		s->pos.col = 1;
	} else if ((c & 0xc0) != 0x80) {
		/* UTF-8 continuation bytes do not start a character. */
		s->pos.col++;
	}
}

static void
locate_ws(struct locate_scan *s)
{
	int c;

	while ((c = locate_peek(s)) == ' ' || c == '\t' || c == '\n' ||
	    c == '\r')
		locate_next(s);
}

/* At an opening quote: move past the closing one. */
static void
locate_string(struct locate_scan *s)
{
	int c;

	locate_next(s);
	while ((c = locate_peek(s)) != -1) {
		locate_next(s);
		if (c == '"')
			return;
		if (c == '\\')
			locate_next(s);
	}
}

/* Move past one value: a string, a container (with all it holds), a scalar. */
static void
locate_value(struct locate_scan *s)
{
	int c, depth = 0;

	locate_ws(s);
	while ((c = locate_peek(s)) != -1) {
		if (c == '"') {
			locate_string(s);
			if (depth == 0)
				return;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return;		/* closes the enclosing container */
			if (--depth == 0) {
				locate_next(s);
				return;
			}
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' ||
		    c == '\n' || c == '\r')) {
			return;			/* end of a scalar */
		}
		locate_next(s);
	}
}

/* Does the quoted token raw (quotes included) spell name? */
static bool
locate_key_is(const char *raw, size_t len, const char *name)
{
	json_t *decoded;
	bool same;

	if (len < 2)
		return false;
	if (memchr(raw, '\\', len) == NULL)
		return len - 2 == strlen(name) && memcmp(raw + 1, name, len - 2) == 0;
	/* Escapes ("work\u0065rs"): let jansson decode the token. */
	if ((decoded = json_loadb(raw, len, JSON_DECODE_ANY, NULL)) == NULL)
		return false;
	same = json_is_string(decoded) &&
	    strcmp(json_string_value(decoded), name) == 0;
	json_decref(decoded);
	return same;
}

/* Skip a value and the comma after it; -1 if no comma (the end). */
static int
locate_skip_member(struct locate_scan *s)
{
	locate_value(s);
	locate_ws(s);
	if (locate_peek(s) != ',')
		return -1;
	locate_next(s);
	return 0;
}

/*
 * At an object: find member key. On success *at is the key's position and
 * s is at its value.
 */
static int
locate_member(struct locate_scan *s, const char *key, struct config_pos *at)
{
	struct config_pos keypos;
	const char *start;
	bool match;

	if (locate_peek(s) != '{')
		return -1;
	locate_next(s);
	for (;;) {
		locate_ws(s);
		if (locate_peek(s) != '"')
			return -1;
		keypos = s->pos;
		start = s->p;
		locate_string(s);
		match = locate_key_is(start, (size_t)(s->p - start), key);
		locate_ws(s);
		if (locate_peek(s) != ':')
			return -1;
		locate_next(s);
		locate_ws(s);
		if (match) {
			*at = keypos;
			return 0;
		}
		if (locate_skip_member(s) == -1)
			return -1;
	}
}

/* At an array: find element index; *at and s are then at it. */
static int
locate_element(struct locate_scan *s, long index, struct config_pos *at)
{
	long i;

	if (index < 0 || locate_peek(s) != '[')
		return -1;
	locate_next(s);
	for (i = 0;; i++) {
		locate_ws(s);
		if (locate_peek(s) == -1 || locate_peek(s) == ']')
			return -1;
		if (i == index) {
			*at = s->pos;
			return 0;
		}
		if (locate_skip_member(s) == -1)
			return -1;
	}
}

int
config_locate(const char *text, size_t len, const struct config_step *path,
    size_t depth, struct config_pos *pos)
{
	struct locate_scan s = { text, text + len, { 1, 1 } };
	struct config_pos at;
	size_t d;
	int r;

	locate_ws(&s);
	at = s.pos;
	for (d = 0; d < depth; d++) {
		if (path[d].key != NULL)
			r = locate_member(&s, path[d].key, &at);
		else
			r = locate_element(&s, path[d].index, &at);
		if (r == -1)
			break;
	}
	if (d == 0 && depth > 0)
		return -1;
	*pos = at;
	return 0;
}
