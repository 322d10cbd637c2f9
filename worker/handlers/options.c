/*
 * options — see options.h.
 */
#include "worker/handlers/options.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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
