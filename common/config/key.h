/*
 * config/key — what config.c and the parts under config/ share: a row of
 * the key table, the document being read, where a value came from, and
 * the limits more than one part checks. Nothing outside common/config.c
 * and common/config/ (and their unit tests) includes this.
 *
 * config.c owns the key table and the loading; config/listen.c checks the
 * network keys, "listen" and "trusted_proxies"; config/routes.c the
 * structured keys, "routes" and "modules"; all of them write their errors
 * through config/diag.c.
 */
#ifndef SHOAL_CONFIG_KEY_H
#define SHOAL_CONFIG_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/config.h"

/* Longest name the did-you-mean distance is computed for. */
#define CFG_NAME_MAX    32
/* Longest route path; request paths past it are refused long before. */
#define CFG_ROUTE_PATH_MAX 1024
/* Longest module name; it prefixes handler names ("app.hello"). */
#define CFG_MODULE_NAME_MAX 32
/* Most "trusted_proxies" entries; each peer is checked against all. */
#define CFG_MAX_TRUSTED 256

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

/*
 * Hidden: the shoal binary exports its symbols to application modules
 * (worker/module.h), and names this generic must not be among them.
 */
#pragma GCC visibility push(hidden)

/*
 * Check the value v of "listen" (kind CFG_LISTEN), or of "trusted_proxies",
 * and fill cfg's array from it. Returns 0, or -1 with the error written
 * (and the part filled so far left for config_free). "listen" is not const
 * only because jansson cannot iterate a const object's keys.
 */
int cfg_apply_listen(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);
int cfg_apply_trusted(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, const json_t *v, enum cfg_from from);

/*
 * Check the value v of "modules" (kind CFG_MODULES), or of "routes", and
 * fill cfg's array from it. Returns 0, or -1 with the error written (and
 * the part filled so far left for config_free). Routes naming a module's
 * handler need the modules: check "modules" first.
 */
int cfg_apply_modules(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, const json_t *v, enum cfg_from from);
int cfg_apply_routes(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, const json_t *v, enum cfg_from from);

#pragma GCC visibility pop

#endif
