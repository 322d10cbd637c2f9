/*
 * module — the interface of an application module: a shared object that
 * each worker loads at boot (never the master), so a reload brings in new
 * application code: the new generation dlopen()s the file as it is now.
 *
 * A module is declared in the configuration
 *
 *   "modules": [{"name": "app", "path": "/srv/app.so", "config": {...}}]
 *
 * and exports one function:
 *
 *   int shoal_module_init(const struct module_api *api,
 *       const json_t *config, char *err, size_t errlen);
 *
 * which registers its handlers with api->add_handler(api->ctx, &def) and
 * returns 0, or -1 with a reason in err (the worker then fails its boot,
 * and a reload rolls back). Routes name its handlers "app.NAME". Handlers
 * use the API of worker/api/http.h (and worker/api/pool.h); the shoal
 * binary exports those symbols.
 */
#ifndef SHOAL_API_MODULE_H
#define SHOAL_API_MODULE_H

#include <stddef.h>
#include <jansson.h>

#include "worker/api/http.h"

#define SHOAL_MODULE_API_VERSION 1

struct module_api {
	unsigned version;            /* SHOAL_MODULE_API_VERSION */
	void *ctx;
	/* def must outlive the worker (a static in the module); -1 if full or
	 * the name is taken. */
	int (*add_handler)(void *ctx, const struct handler_def *def);
	/* Added last, so that a module built before it finds the fields
	 * above where they were. The worker's publish/subscribe channels
	 * (worker/api/channel.h), for a module that publishes from its own
	 * events (a timer); the same as req->channels. NULL when the module
	 * is only checked (shoal --check). */
	struct channels *channels;
};

typedef int shoal_module_init_fn(const struct module_api *api,
    const json_t *config, char *err, size_t errlen);

#endif
