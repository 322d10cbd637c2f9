/*
 * router — maps a request to the handler of a configured route.
 *
 * Exact routes are tried first, then prefix routes, longest prefix first.
 * A route allowing GET also allows HEAD. A path that matches routes none
 * of which allows the method gets 405 with an Allow header; no match at
 * all gets 404.
 */
#ifndef SHOAL_ROUTER_H
#define SHOAL_ROUTER_H

#include <stddef.h>

#include "common/config.h"
#include "worker/api/http.h"

struct router;
struct modules;

/*
 * Build the router for routes[0..n) (the configuration's top-level routes,
 * or a listen object's), running each handler's per-worker init;
 * "module.name" handlers come from mods (may be NULL). NULL with a reason
 * in err (naming the route and its location) on failure. The router
 * borrows the routes' strings: they must outlive it.
 */
struct router *router_new(const struct route_cfg *routes, size_t n,
    const struct modules *mods, char *err, size_t errlen);

/* Find req's route and run its handler on resp. */
void router_dispatch(const struct router *r, struct http_request *req,
    struct http_response *resp);

void router_free(struct router *r);

#endif
