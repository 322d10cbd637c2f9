/*
 * module — see module.h.
 */
#include "worker/app/module.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODULE_MAX_HANDLERS 256

struct module_handler {
	const char *module;          /* the module's configured name */
	const struct handler_def *def;
};

struct modules {
	void *handles[CONFIG_MAX_MODULES];
	const char *names[CONFIG_MAX_MODULES];  /* of the loaded ones */
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

/*
 * Why dlopen refused mc->path, into err. A file that is no ELF object at
 * all is said plainly; dlerror's own words follow in parentheses.
 */
static void
load_error(const struct module_cfg *mc, size_t i, const char *why, char *err,
    size_t errlen)
{
	size_t plen = strlen(mc->path);
	unsigned char magic[4];
	ssize_t n = -1;
	int fd;

	/* dlerror starts with the path: "/x/app.so: invalid ELF header". */
	if (strncmp(why, mc->path, plen) == 0 && strncmp(why + plen, ": ",
	    2) == 0)
		why += plen + 2;
	if ((fd = open(mc->path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, magic, sizeof(magic));
		close(fd);
	}
	if (n != -1 && (n < 4 || memcmp(magic, "\177ELF", 4) != 0))
		snprintf(err, errlen, "%s: modules[%zu].path: %s: not a shared "
		    "object (%s)", mc->where, i, mc->path, why);
	else
		snprintf(err, errlen, "%s: modules[%zu].path: %s: %s", mc->where,
		    i, mc->path, why);
}

struct modules *
modules_load(const struct config *cfg, struct channels *channels, char *err,
    size_t errlen)
{
	struct modules *mods = calloc(1, sizeof(*mods));
	struct module_api api = { SHOAL_MODULE_API_VERSION, mods, add_handler,
	    channels };

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
			load_error(mc, i, dlerror(), err, errlen);
			goto err;
		}
		mods->names[mods->nhandles] = mc->name;
		mods->handles[mods->nhandles++] = h;
		*(void **)&init = dlsym(h, "shoal_module_init");
		if (init == NULL) {
			snprintf(err, errlen, "%s: modules[%zu].path: %s exports "
			    "no shoal_module_init", mc->where, i, mc->path);
			goto err;
		}
		mods->loading = mc->name;
		if (init(&api, json_object_get(mc->spec, "config"), why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: modules[%zu]: module %s: %s",
			    mc->where, i, mc->name, why[0] ? why :
			    "initialisation failed");
			goto err;
		}
	}
	mods->loading = NULL;
	return mods;
err:
	modules_free(mods);
	return NULL;
}

bool
modules_loaded(const struct modules *mods, const char *name, size_t len)
{
	for (size_t i = 0; mods != NULL && i < mods->nhandles; i++)
		if (strlen(mods->names[i]) == len &&
		    memcmp(mods->names[i], name, len) == 0)
			return true;
	return false;
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
