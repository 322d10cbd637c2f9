/*
 * registry — see registry.h. Built-in handlers are few: a linear scan.
 */
#include "worker/app/registry.h"

#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "worker/api/http.h"
#include "worker/app/module.h"
#include "worker/handlers/builtin.h"

static const struct handler_def *const builtin[] = {
	&hello_handler, &welcome_handler, &json_handler, &health_handler,
	&echo_handler, &ticker_handler, &primes_handler, &static_handler,
	&metrics_handler, &status_handler, &ws_echo_handler,
};

const struct handler_def *
registry_builtin(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i]->name, name) == 0)
			return builtin[i];
	return NULL;
}

const char *
registry_builtin_name(size_t i)
{
	return i < sizeof(builtin) / sizeof(builtin[0]) ? builtin[i]->name :
	    NULL;
}

int
registry_check_route(const json_t *route, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(route, "handler"));
	const struct handler_def *def = registry_builtin(name);

	if (def == NULL) {
		snprintf(err, errlen, "\"handler\": unknown handler \"%s\"",
		    name ? name : "");
		return -1;
	}
	return def->check != NULL ? def->check(route, err, errlen) : 0;
}

const struct handler_def *
registry_resolve(const struct modules *mods, const struct route_cfg *rc,
    char *err, size_t errlen)
{
	const char *name = rc->handler, *dot = strchr(name, '.');
	const struct handler_def *def;
	char why[512] = "";
	int len;

	if (dot == NULL) {
		if ((def = registry_builtin(name)) == NULL)
			snprintf(err, errlen, "%s: %s.handler: unknown handler "
			    "\"%s\"", rc->where, rc->key, name);
		return def;
	}
	/* A module's handler: the master could not check it. */
	len = (int)(dot - name);
	if (!modules_loaded(mods, name, (size_t)len)) {
		snprintf(err, errlen, "%s: %s.handler: module \"%.*s\" is not "
		    "loaded", rc->where, rc->key, len, name);
		return NULL;
	}
	if ((def = modules_find(mods, name)) == NULL) {
		snprintf(err, errlen, "%s: %s.handler: module \"%.*s\" has no "
		    "handler \"%s\"", rc->where, rc->key, len, name, dot + 1);
		return NULL;
	}
	if (def->check != NULL && def->check(rc->spec, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s: handler %s: %s", rc->where,
		    rc->key, name, why);
		return NULL;
	}
	return def;
}
