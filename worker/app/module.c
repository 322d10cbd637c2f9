/*
 * module — see module.h.
 */
#include "worker/app/module.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define MODULE_MAX_HANDLERS 256

struct module_handler {
	const char *module;          /* the module's configured name */
	const struct handler_def *def;
};

struct modules {
	void *handles[CONFIG_MAX_MODULES];
	size_t nhandles;
	struct module_handler handlers[MODULE_MAX_HANDLERS];
	size_t nhandlers;
	const char *loading;         /* name of the module being initialised */
};

static int
add_handler(void *ctx, const struct handler_def *def)
{
	struct modules *mods = ctx;

	if (def == NULL || def->name == NULL || def->handle == NULL ||
	    mods->nhandlers == MODULE_MAX_HANDLERS)
		return -1;
	for (size_t i = 0; i < mods->nhandlers; i++)
		if (strcmp(mods->handlers[i].module, mods->loading) == 0 &&
		    strcmp(mods->handlers[i].def->name, def->name) == 0)
			return -1;
	mods->handlers[mods->nhandlers].module = mods->loading;
	mods->handlers[mods->nhandlers].def = def;
	mods->nhandlers++;
	return 0;
}

struct modules *
modules_load(const struct config *cfg, char *err, size_t errlen)
{
	struct modules *mods = calloc(1, sizeof(*mods));
	struct module_api api = { SHOAL_MODULE_API_VERSION, mods, add_handler };

	if (mods == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < cfg->nmodules; i++) {
		const struct module_cfg *mc = &cfg->modules[i];
		shoal_module_init_fn *init;
		char why[512] = "";
		void *h;

		/* RTLD_LOCAL: modules do not see each other's symbols. */
		if ((h = dlopen(mc->path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			snprintf(err, errlen, "%s: module %s: %s", mc->where,
			    mc->name, dlerror());
			goto err;
		}
		mods->handles[mods->nhandles++] = h;
		*(void **)&init = dlsym(h, "shoal_module_init");
		if (init == NULL) {
			snprintf(err, errlen, "%s: module %s: %s exports no "
			    "shoal_module_init", mc->where, mc->name, mc->path);
			goto err;
		}
		mods->loading = mc->name;
		if (init(&api, json_object_get(mc->spec, "config"), why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: module %s: %s", mc->where,
			    mc->name, why[0] ? why : "initialisation failed");
			goto err;
		}
		log_info("module %s loaded from %s", mc->name, mc->path);
	}
	mods->loading = NULL;
	return mods;
err:
	modules_free(mods);
	return NULL;
}

const struct handler_def *
modules_find(const struct modules *mods, const char *name)
{
	const char *dot = strchr(name, '.');

	if (mods == NULL || dot == NULL)
		return NULL;
	for (size_t i = 0; i < mods->nhandlers; i++) {
		const struct module_handler *mh = &mods->handlers[i];

		if (strlen(mh->module) == (size_t)(dot - name) &&
		    strncmp(mh->module, name, (size_t)(dot - name)) == 0 &&
		    strcmp(mh->def->name, dot + 1) == 0)
			return mh->def;
	}
	return NULL;
}

void
modules_free(struct modules *mods)
{
	if (mods == NULL)
		return;
	while (mods->nhandles > 0)
		dlclose(mods->handles[--mods->nhandles]);
	free(mods);
}
