/*
 * module — loading application modules (worker/api/module.h) in a worker:
 * dlopen each configured file, call its shoal_module_init, keep the
 * handlers it registers for the registry ("module.name").
 */
#ifndef SHOAL_MODULE_H
#define SHOAL_MODULE_H

#include <stddef.h>

#include "common/config.h"
#include "worker/api/module.h"

struct modules;

/* Load every module of cfg. NULL with a reason in err on failure. */
struct modules *modules_load(const struct config *cfg, char *err,
    size_t errlen);

/* The handler "module.name", or NULL. */
const struct handler_def *modules_find(const struct modules *mods,
    const char *name);

void modules_free(struct modules *mods);

#endif
