/*
 * config/value — the checks of a value that more than one key makes: the
 * scalar kinds (cfg_scalar), objects of scalars (cfg_apply_object), the
 * opening of every key whose value is an array ("an array of at most N
 * routes"), the members an object may have. A failing check writes its
 * message through config/diag, or hands its reason to the caller to
 * locate.
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

/* v as a byte count (CFG_BYTES): an integer, or digits with one suffix
 * K, M or G ("512M"). -1 if it is neither. */
int cfg_bytes(const json_t *v, long long *out);

/*
 * Check v against row k, of a scalar kind, and store it at base +
 * k->offset (base: struct config, or the struct of k's object). Returns 0,
 * or -1 with the reason in why ("expected an integer from 1 to 65535, got
 * \"x\"") for the caller to locate.
 */
int cfg_scalar(const struct cfg_key *k, const json_t *v, void *base,
    char *why, size_t whylen);

/* k's default as a JSON value (new reference; NULL if out of memory), to
 * be checked like any other: see struct cfg_key's def and defstr. */
json_t *cfg_default_value(const struct cfg_key *k);

/*
 * The checker of CFG_OBJECT keys: v must be an object whose members are
 * among k's member rows (did you mean, else); each member, or its default,
 * is checked by cfg_scalar into the struct at cfg + k->offset. An error
 * is located at the member: "shoal.json:4:5: \"redis\": \"timeout\": ...".
 */
int cfg_apply_object(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

/* Free what keys[0..n) stored at base (CFG_PATH strings, and those of
 * objects' members) and set it NULL. */
void cfg_free_values(const struct cfg_key *keys, size_t n, void *base);

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
