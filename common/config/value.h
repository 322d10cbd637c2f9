/*
 * config/value — checks of a value that more than one key makes: an
 * integer that may be written 4.0, the opening of every key whose value is
 * an array ("an array of at most N routes"), the members an object may
 * have. A failing check writes its message through config/diag.
 */
#ifndef SHOAL_CONFIG_VALUE_H
#define SHOAL_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/config/key.h"

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/* v as an integer; reals with no fraction count ("workers": 4.0). */
bool cfg_integer(const json_t *v, long long *out);

/* What the elements of an array key are called, and how big they are. */
struct cfg_array_of {
	const char *expected;   /* the type error: "an array of route objects" */
	const char *one;        /* "expected at least one route" */
	const char *many;       /* "expected at most 256 routes" */
	size_t size;            /* of one element of the C array */
	/* A value, not an array, that stands for an array of one ("listen":
	 * "127.0.0.1:80"); NULL: only arrays are accepted. */
	bool (*lone)(const json_t *v);
};

/*
 * The opening of every array key: v must be an array (or a lone element,
 * see cfg_array_of) of k->min to k->max elements. On success returns 0,
 * with *n the count and *out that many zeroed elements of of->size bytes,
 * calloc'd (NULL if *n is 0) for the caller to fill, and to free. Else
 * returns -1 with the error written for k (cfg_fail), *out NULL.
 */
int cfg_array(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const json_t *v, const struct cfg_array_of *of,
    void **out, size_t *n);

/* The first member of object obj whose key is none of names[0..n), or
 * NULL if every member is known. */
const char *cfg_unknown_member(json_t *obj, const char *const *names,
    size_t n);

#pragma GCC visibility pop

#endif
