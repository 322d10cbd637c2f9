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

/* What a built-in handler needs of the configuration besides its route. */
enum {
	NEEDS_REDIS = 1 << 0,        /* the top-level "redis" key */
};

static const struct builtin {
	const struct handler_def *def;
	unsigned needs;
} builtin[] = {
	{ &hello_handler, 0 }, { &welcome_handler, 0 }, { &json_handler, 0 },
	{ &health_handler, 0 }, { &echo_handler, 0 },
	{ &echo_body_handler, 0 }, { &ticker_handler, 0 },
	{ &primes_handler, 0 }, { &static_handler, 0 }, { &metrics_handler, 0 },
	{ &status_handler, 0 }, { &ws_echo_handler, 0 },
	{ &kv_handler, NEEDS_REDIS }, { &pubsub_handler, 0 },
};

static const struct builtin *
builtin_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i].def->name, name) == 0)
			return &builtin[i];
	return NULL;
}

const struct handler_def *
registry_builtin(const char *name)
{
	const struct builtin *b = builtin_find(name);

	return b != NULL ? b->def : NULL;
}

const char *
registry_builtin_name(size_t i)
{
	return i < sizeof(builtin) / sizeof(builtin[0]) ? builtin[i].def->name :
	    NULL;
}

int
registry_check_route(const json_t *route, const struct config *cfg,
    char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(route, "handler"));
	const struct builtin *b = builtin_find(name);

	if (b == NULL) {
		snprintf(err, errlen, "\"handler\": unknown handler \"%s\"",
		    name ? name : "");
		return -1;
	}
	if ((b->needs & NEEDS_REDIS) && cfg != NULL &&
	    cfg->redis.address == NULL) {
		snprintf(err, errlen, "\"handler\": handler %s needs Redis: add "
		    "a top-level \"redis\" key, e.g. {\"address\": "
		    "\"127.0.0.1:6379\"}", name);
		return -1;
	}
	return b->def->check != NULL ? b->def->check(route, err, errlen) : 0;
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
