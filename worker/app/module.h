/*
 * module — loading application modules (worker/api/module.h) in a worker:
 * dlopen each configured file, call its shoal_module_init, keep the
 * handlers it registers for the registry ("module.name").
 */
#ifndef SHOAL_MODULE_H
#define SHOAL_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "worker/api/module.h"

struct modules;

/*
 * Load every module of cfg. NULL with the message in err on failure,
 * naming the module by its place in the file:
 *
 *   shoal.json:4:5: modules[0].path: /x/app.so: not a shared object (...)
 *   shoal.json:4:5: modules[0]: module app: <what its init said>
 *
 * Logs nothing: `shoal --check` loads modules too (worker/app/check.h).
 * channels is what the modules' init finds in module_api.channels (NULL
 * for --check).
 */
struct modules *modules_load(const struct config *cfg,
    struct channels *channels, char *err, size_t errlen);

/* Is a module called name[0..len) loaded? */
bool modules_loaded(const struct modules *mods, const char *name,
    size_t len);

/* The handler "module.name", or NULL. */
const struct handler_def *modules_find(const struct modules *mods,
    const char *name);

void modules_free(struct modules *mods);

#endif
