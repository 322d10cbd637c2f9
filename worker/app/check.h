/*
 * check — what `shoal --check` does beyond loading the configuration: boot
 * the application part of a worker in the checking process, so that what
 * would fail a worker's boot fails the check, with the message the worker
 * would log:
 *
 *   shoal.json:9:7: routes[3].handler: module "app" has no handler "gret"
 *   shoal.json:4:5: modules[0].path: /srv/app.so: not a shared object (...)
 *
 * The running master never calls it: it loads no application code, so a
 * bad module cannot take it down (its workers fail at boot instead, and a
 * reload rolls back).
 */
#ifndef SHOAL_APP_CHECK_H
#define SHOAL_APP_CHECK_H

#include <stddef.h>

#include "common/config.h"

/*
 * Load cfg's modules (dlopen, shoal_module_init) and build the router of
 * every route list (the top-level routes, each listen object's), running
 * each handler's per-worker set-up, then undo it all. 0, or -1 with the
 * first failure in err.
 */
int app_check_config(const struct config *cfg, char *err, size_t errlen);

#endif
