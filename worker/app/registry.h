/*
 * registry — the handlers a route can name: the built-in ones
 * (worker/handlers/) and, in a worker, those that application modules
 * registered ("module.name", worker/app/module.c).
 *
 * The master includes this header, and only this one of the worker's: it
 * checks each route's handler when it loads the configuration
 * (registry_check_route), without loading any application code (only
 * `shoal --check` does, in its own process: worker/app/check.h).
 */
#ifndef SHOAL_REGISTRY_H
#define SHOAL_REGISTRY_H

#include <stddef.h>
#include <jansson.h>

struct config;
struct handler_def;
struct modules;
struct route_cfg;

/*
 * config_route_check_fn for the config module: route's "handler" is a
 * built-in one, what it needs of cfg is there (Redis, for "kv"; cfg may
 * be NULL: not checked), and its own keys are valid. 0, or -1 with a
 * reason in err.
 */
int registry_check_route(const json_t *route, const struct config *cfg,
    char *err, size_t errlen);

/* The built-in handler called name, or NULL. */
const struct handler_def *registry_builtin(const char *name);

/* The name of built-in handler i, NULL past the last (`shoal --keys`). */
const char *registry_builtin_name(size_t i);

/*
 * The handler route rc names in a worker: a built-in one, or "module.name"
 * from mods (may be NULL), whose route keys are checked here since the
 * master cannot (it loads no module). NULL with the message in err, the
 * one a worker's boot and `shoal --check` both print:
 *
 *   shoal.json:9:7: routes[3].handler: module "app" has no handler "gret"
 *   shoal.json:9:7: routes[3]: handler app.greet: "greeting": expected ...
 */
const struct handler_def *registry_resolve(const struct modules *mods,
    const struct route_cfg *rc, char *err, size_t errlen);

#endif
