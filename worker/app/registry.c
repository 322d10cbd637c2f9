/*
 * registry — see registry.h. Built-in handlers are few: a linear scan.
 */
#include "worker/app/registry.h"

#include <stdio.h>
#include <string.h>

#include "worker/api/http.h"
#include "worker/app/module.h"
#include "worker/handlers/builtin.h"

static const struct handler_def *const builtin[] = {
	&hello_handler, &welcome_handler, &json_handler, &health_handler,
	&echo_handler, &ticker_handler, &primes_handler, &static_handler,
	&metrics_handler,
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
registry_lookup(const struct modules *mods, const json_t *route,
    const char *name, char *err, size_t errlen)
{
	const struct handler_def *def;
	char why[512] = "";

	if (strchr(name, '.') == NULL) {
		def = registry_builtin(name);
	} else {
		/* A module's handler: the master could not check it. */
		def = modules_find(mods, name);
		if (def != NULL && def->check != NULL &&
		    def->check(route, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "handler %s: %s", name, why);
			return NULL;
		}
	}
	if (def == NULL)
		snprintf(err, errlen, "unknown handler \"%s\"", name);
	return def;
}
