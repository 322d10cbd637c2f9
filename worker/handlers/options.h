/*
 * options — checks of the keys a route gives its handler, shared by the
 * built-in handlers' check() and init().
 *
 * A route object holds the router's keys ("path", "match", "methods",
 * "handler") and the handler's own; a handler refuses any other key, so a
 * typo fails --check instead of being ignored.
 */
#ifndef SHOAL_OPTIONS_H
#define SHOAL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Refuse a key that is neither the router's nor in allowed (a NULL-ended
 * list; may be NULL): -1 with "\"KEY\": unknown key for handler HANDLER". */
int options_check_keys(const json_t *route, const char *handler,
    const char *const *allowed, char *err, size_t errlen);

/* A handler_def check() for handlers without keys of their own. */
int options_check_none(const json_t *route, char *err, size_t errlen);

/* Read the number key in [min, max] into *out, or def when absent; -1 with
 * a reason in err if it is out of range or not a number. */
int options_number(const json_t *route, const char *key, double min,
    double max, double def, double *out, char *err, size_t errlen);

/* A route whose handler takes what follows its path (a key, a channel):
 * "match": "prefix" and a path ending with '/'; -1 with a reason saying
 * what follows (what: "the key"). */
int options_prefix_route(const json_t *route, const char *handler,
    const char *what, char *err, size_t errlen);

/*
 * What a handler on such a route keeps: the length of the route's path
 * (the name follows it) and the value of the string key prefix_key (what
 * names start with: "key_prefix", "channel_prefix"). 0, or -1 with a
 * reason in err (not a string; no memory).
 */
struct options_named {
	size_t route_len;
	char *prefix;
	size_t prefix_len;
};
int options_named_init(const json_t *route, const char *prefix_key,
    struct options_named *n, char *err, size_t errlen);
void options_named_free(struct options_named *n);

/* The string key into *out ("" when absent; valid while route is); -1 if
 * it is not a string, or holds a NUL. */
int options_string(const json_t *route, const char *key, const char **out,
    char *err, size_t errlen);

/* The boolean key into *out, or def when absent; -1 if not a boolean. */
int options_bool(const json_t *route, const char *key, bool def, bool *out,
    char *err, size_t errlen);

/* Percent-decode len bytes of in into out (room for len); its length, or
 * -1 for a bad escape or a NUL (%00). */
long options_decode(const char *in, size_t len, char *out);

#endif
