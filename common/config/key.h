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
 * (worker/module.h), and names this generic must not be among them.
 */
#ifndef SHOAL_CONFIG_KEY_H
#define SHOAL_CONFIG_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/config.h"

/* Longest name the did-you-mean distance is computed for. */
#define CFG_NAME_MAX    32

enum cfg_kind {
	CFG_LISTEN,     /* address string or object, or array of them ->
	                 * listen, nlisten; the flag repeats */
	CFG_TRUSTED,    /* array of ranges -> trusted, ntrusted, trust_unix;
	                 * the flag repeats */
	CFG_INT,        /* integer -> int */
	CFG_SIZE,       /* integer -> size_t */
	CFG_SECONDS,    /* integer or real -> double */
	CFG_WORKERS,    /* "auto" or integer -> workers_auto, workers */
	CFG_PATH,       /* non-empty string or null -> char * */
	CFG_LOG_LEVEL,  /* level name -> int */
	CFG_MODULES,    /* array of module objects -> modules, nmodules; no flag */
	CFG_ROUTES,     /* array of route objects -> routes, nroutes; no flag */
};

/* Where a value came from; it decides how an error names its location. */
enum cfg_from {
	CFG_FROM_BUILTIN,
	CFG_FROM_FILE,
	CFG_FROM_FLAG,
};

struct cfg_key {
	const char *name;       /* JSON key; the flag is --name with '-' for '_' */
	enum cfg_kind kind;
	size_t offset;          /* into struct config */
	double min, max;        /* numeric kinds; element count for arrays */
	double def;             /* default of numeric kinds */
	const char *defstr;     /* default of string kinds; NULL: null */
	const char *help;
};

/* What config_load is reading: for locating keys and writing the message. */
struct cfg_ctx {
	const char *source;     /* file name, or "(embedded default)" */
	const char *text;       /* its raw text */
	size_t len;
	char *err;
	size_t errlen;
};

#endif
