/*
 * config/listen — the network keys: "listen" and "trusted_proxies" (and
 * config_parse_listen, declared in config.h for the master's use).
 */
#ifndef SHOAL_CONFIG_LISTEN_H
#define SHOAL_CONFIG_LISTEN_H

#include <jansson.h>

#include "common/config.h"
#include "common/config/key.h"

/* Most "trusted_proxies" entries; each peer is checked against all. */
#define CFG_MAX_TRUSTED 256

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/* The cfg_apply_fn (key.h) of "listen", and of "trusted_proxies": check
 * the value and fill cfg->listen (cfg->trusted) from it. */
int cfg_apply_listen(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);
int cfg_apply_trusted(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

#pragma GCC visibility pop

#endif
