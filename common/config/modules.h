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

/* The cfg_apply_fn (key.h) of "modules": check the value and fill
 * cfg->modules from it. */
int cfg_apply_modules(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

#pragma GCC visibility pop

#endif
