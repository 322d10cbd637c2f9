/*
 * config/key — what config.c and the parts under config/ share: a row of
 * the key table, the document being read, where a value came from. Nothing
 * outside common/config.c and common/config/ (and their unit tests)
 * includes this or the parts' headers.
 *
 * config.c owns the key table and the loading, and calls down into the
 * parts: listen.c ("listen", "trusted_proxies"), modules.c, routes.c, each
 * checking its keys; value.c, checks several keys make; diag.c, the error
 * messages; locate.c, where a value sits in the text. No part calls back
 * up into config.c.
 *
 * The parts' functions carry the cfg_ prefix and are declared hidden: the
 * shoal binary exports its symbols to application modules
 * (worker/api/module.h), and names this generic must not be among them.
 */
#ifndef SHOAL_CONFIG_KEY_H
#define SHOAL_CONFIG_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/config.h"

/* Longest name the did-you-mean distance is computed for. */
#define CFG_NAME_MAX    32

/*
 * What a key's value is, and so who checks it (see the recipe above the
 * key table in config.c).
 */
enum cfg_kind {
	/* Scalars: checked and stored at the offset by cfg_scalar (value.c). */
	CFG_INT,        /* integer from min to max -> int */
	CFG_SIZE,       /* integer from min to max -> size_t */
	CFG_SECONDS,    /* integer or real from min to max -> double */
	CFG_AUTO_INT,   /* "auto" (stored as 0) or integer from min (> 0) to
	                 * max -> int */
	CFG_PATH,       /* non-empty string or null -> char *, malloc'd */
	CFG_STRING,     /* the same, for a name ("user") rather than a file */
	CFG_LOG_LEVEL,  /* level name -> int (enum log_level) */
	CFG_BYTES,      /* integer, or digits with one suffix K, M or G
	                 * (powers of 1024), from min to max -> size_t */
	CFG_CHOICE,     /* one of the strings .choices -> int, its index */
	/* Checked and stored by the row's apply function. */
	CFG_LIST,       /* an array, each repeated flag one element ("listen") */
	CFG_STRUCT,     /* anything, from the config file only ("routes") */
	/* An object of scalars, the member rows, from the config file only;
	 * checked by cfg_apply_object (value.c). */
	CFG_OBJECT,
};

/* Where a value came from; it decides how an error names its location. */
enum cfg_from {
	CFG_FROM_BUILTIN,
	CFG_FROM_FILE,
	CFG_FROM_FLAG,
};

/* What config_load is reading: for locating keys and writing the message. */
struct cfg_ctx {
	const char *source;     /* file name, or "(embedded default)" */
	const char *text;       /* its raw text */
	size_t len;
	char *err;
	size_t errlen;
};

struct cfg_key;

/*
 * Check v, the value of key k that came from `from`, and fill cfg from it.
 * Returns 0, or -1 with the error written to c->err (and what was filled
 * so far left for config_free). v is only read; it is not const because
 * jansson cannot iterate a const object's keys.
 */
typedef int cfg_apply_fn(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

/* A row of the key table, or of an object's member table. */
struct cfg_key {
	const char *name;       /* JSON key; the flag is --name with '-' for '_' */
	enum cfg_kind kind;
	size_t offset;          /* of the field, in struct config (a member:
	                         * in its object's struct) */
	double min, max;        /* numeric kinds; element count for arrays */
	double def;             /* default of numeric kinds */
	const char *defstr;     /* default of string kinds, and "auto"; NULL:
	                         * null. CFG_LIST: the one element (NULL: none);
	                         * CFG_STRUCT: JSON text */
	const char *help;
	const char *arg;        /* what --help shows after the flag ("ADDR");
	                         * NULL: named after the kind (N, SEC, PATH) */
	const char *const *choices;     /* CFG_CHOICE: the names, NULL-ended */
	cfg_apply_fn *apply;    /* CFG_LIST, CFG_STRUCT */
	const struct cfg_key *members;  /* CFG_OBJECT: its member rows, */
	size_t nmembers;                /* scalars all */
};

#endif
