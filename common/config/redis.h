/*
 * config/redis — the "redis" key: the Redis server the workers' client
 * talks to (struct redis_cfg in config.h).
 */
#ifndef SHOAL_CONFIG_REDIS_H
#define SHOAL_CONFIG_REDIS_H

#include <jansson.h>

#include "common/config.h"
#include "common/config/key.h"

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/*
 * The cfg_apply_fn (key.h) of "redis": an object of scalars (checked by
 * cfg_apply_object against this file's member rows) whose "address" is
 * one to connect to: "host:port", "[v6]:port" or "unix:/path", numeric
 * (no name is resolved: hiredis would block the loop on a lookup). The
 * key absent (from CFG_FROM_BUILTIN, value {}) leaves address NULL;
 * given, it must name an address.
 */
int cfg_apply_redis(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

#pragma GCC visibility pop

#endif
