/*
 * config/routes — the "routes" key: handlers by path (and
 * config_set_route_check, declared in config.h for the worker's use).
 */
#ifndef SHOAL_CONFIG_ROUTES_H
#define SHOAL_CONFIG_ROUTES_H

#include <jansson.h>

#include "common/config.h"
#include "common/config/key.h"

/* Longest route path; request paths past it are refused long before. */
#define CFG_ROUTE_PATH_MAX 1024

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/* The cfg_apply_fn (key.h) of "routes": check the value and fill
 * cfg->routes from it. A route naming a module's handler needs
 * cfg->modules: apply "modules" first. */
int cfg_apply_routes(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

/* The "routes" of the listen objects in listen (the file's "listen"
 * value, whose entries cfg->listen already holds) into cfg->listen[i].
 * After "modules" and "routes": the same checks as the top-level ones,
 * located at listen[i].routes[j]. 0, or -1 with c->err written. */
int cfg_apply_listen_routes(const struct cfg_ctx *c, struct config *cfg,
    json_t *listen);

/* Free n routes and the array. */
void cfg_free_routes(struct route_cfg *routes, size_t n);

#pragma GCC visibility pop

#endif
