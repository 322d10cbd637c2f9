/*
 * config/modules — the "modules" key: application code declared for the
 * workers to load.
 */
#ifndef SHOAL_CONFIG_MODULES_H
#define SHOAL_CONFIG_MODULES_H

#include <jansson.h>

#include "common/config.h"
#include "common/config/key.h"

/* Longest module name; it prefixes handler names ("app.hello"). */
#define CFG_MODULE_NAME_MAX 32

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/*
 * Check the value v of "modules" and fill cfg->modules from it. Returns 0,
 * or -1 with the error written (and the part filled so far left for
 * config_free).
 */
int cfg_apply_modules(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, const json_t *v, enum cfg_from from);

#pragma GCC visibility pop

#endif
