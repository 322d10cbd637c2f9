/*
 * options — see options.h.
 */
#include "worker/handlers/options.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys of a route object that belong to the router, not the handler. */
static const char *const route_keys[] = { "path", "match", "methods",
    "handler", NULL };

static bool
in_list(const char *key, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

int
options_check_keys(const json_t *route, const char *handler,
    const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *value;

	/* jansson's iterators take a non-const object; we only read it. */
	json_object_foreach((json_t *)(uintptr_t)route, key, value) {
		(void)value;
		if (!in_list(key, route_keys) && !in_list(key, allowed)) {
			snprintf(err, errlen, "\"%s\": unknown key for handler %s",
			    key, handler);
			return -1;
		}
	}
	return 0;
}

int
options_check_none(const json_t *route, char *err, size_t errlen)
{
	return options_check_keys(route, json_string_value(json_object_get(route,
	    "handler")), NULL, err, errlen);
}

int
options_number(const json_t *route, const char *key, double min, double max,
    double def, double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(route, key);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v) || json_number_value(v) < min ||
	    json_number_value(v) > max) {
		snprintf(err, errlen, "\"%s\": expected a number from %g to %g",
		    key, min, max);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

int
options_prefix_route(const json_t *route, const char *handler,
    const char *what, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(route, "path"));
	const char *match = json_string_value(json_object_get(route, "match"));

	if (match == NULL || strcmp(match, "prefix") != 0) {
		snprintf(err, errlen, "%shandler %s needs \"match\": \"prefix\" "
		    "(%s follows the route's path)", match != NULL ?
		    "\"match\": " : "", handler, what);
		return -1;
	}
	if (path == NULL || path[0] == '\0' || path[strlen(path) - 1] != '/') {
		snprintf(err, errlen, "\"path\": handler %s needs a path that "
		    "ends with \"/\" (\"/%s/\"): %s is what follows it", handler,
		    handler, what);
		return -1;
	}
	return 0;
}

int
options_string(const json_t *route, const char *key, const char **out,
    char *err, size_t errlen)
{
	const json_t *v = json_object_get(route, key);

	*out = "";
	if (v == NULL)
		return 0;
	/* A NUL inside would cut it short where it is used as a C string. */
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "\"%s\": expected a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
options_bool(const json_t *route, const char *key, bool def, bool *out,
    char *err, size_t errlen)
{
	const json_t *v = json_object_get(route, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "\"%s\": expected true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
options_named_init(const json_t *route, const char *prefix_key,
    struct options_named *n, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(route, "path"));
	const char *prefix;

	memset(n, 0, sizeof(*n));
	if (options_string(route, prefix_key, &prefix, err, errlen) == -1)
		return -1;
	if ((n->prefix = strdup(prefix)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->prefix_len = strlen(prefix);
	n->route_len = path != NULL ? strlen(path) : 0;
	return 0;
}

void
options_named_free(struct options_named *n)
{
	free(n->prefix);
	n->prefix = NULL;
}

static int
hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long
options_decode(const char *in, size_t len, char *out)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (in[i] != '%') {
			out[n++] = in[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((hi = hex_digit((unsigned char)in[i + 1])) < 0 ||
		    (lo = hex_digit((unsigned char)in[i + 2])) < 0 ||
		    (hi | lo) == 0)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return (long)n;
}
