/*
 * config/routes — the "routes" key: which handler answers which path. See
 * config.h (struct route_cfg) for what an entry holds.
 *
 * An array of objects, checked field by field, every error located at the
 * element or field it is about ("routes[2].handler"). A listen object may
 * carry its own "routes" ("listen[1].routes[0]"), checked the same way
 * once the top-level keys are applied. A route's
 * handler-specific keys belong to the route checker the worker plugs in;
 * a route naming a module's handler ("app.hello") is checked against the
 * declared modules instead (config/modules.c has filled them: "modules"
 * is applied first), since only a worker loads module code.
 */
#include "common/config/routes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/diag.h"
#include "common/config/value.h"
#include "common/method.h"

/*
 * Set once at start-up, before any config_load: the worker's handler
 * registry lives above common/, so it is plugged in rather than linked.
 */
static config_route_check_fn *cfg_route_check;

/*
 * Where a list of routes sits in the document: "routes", or a listen
 * object's ("listen[1].routes"; "listen.routes" for a lone object).
 */
struct cfg_routes_at {
	struct config_step steps[3];
	size_t depth;
};

/*
 * Write the error for routes[i] (key NULL), routes[i].key or, with j >= 0,
 * routes[i].key[j] of the list at `at`: named and located by that path.
 * Returns -1.
 */
static int
cfg_route_fail(const struct cfg_ctx *c, const struct cfg_routes_at *at,
    size_t i, const char *key, long j, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int
cfg_route_fail(const struct cfg_ctx *c, const struct cfg_routes_at *at,
    size_t i, const char *key, long j, const char *fmt, ...)
{
	struct config_step path[6];
	size_t depth = at->depth;
	va_list ap;

	memcpy(path, at->steps, depth * sizeof(path[0]));
	path[depth++] = (struct config_step){ NULL, (long)i };
	if (key != NULL)
		path[depth++] = (struct config_step){ key, 0 };
	if (key != NULL && j >= 0)
		path[depth++] = (struct config_step){ NULL, j };
	va_start(ap, fmt);
	cfg_vfail_path(c, path, depth, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Fill r->where ("file:line:col" of the route, for run-time messages) and
 * r->key (its name: "routes[2]"). -1 if out of memory.
 */
static int
cfg_route_names(const struct cfg_ctx *c, const struct cfg_routes_at *at,
    size_t i, struct route_cfg *r)
{
	struct config_step path[4];
	char name[64];

	memcpy(path, at->steps, at->depth * sizeof(path[0]));
	path[at->depth] = (struct config_step){ NULL, (long)i };
	if ((r->where = cfg_where(c, path, at->depth + 1)) == NULL)
		return -1;
	cfg_path_name(path, at->depth + 1, name, sizeof(name));
	return (r->key = strdup(name)) == NULL ? -1 : 0;
}

/* The bit of the method called name (1 << enum method_id), or 0 if shoal
 * knows no such method (common/method.h). */
static uint64_t
cfg_method_bit(const char *name)
{
	int m = method_lookup(name, strlen(name));

	return m < 0 ? 0 : 1ull << m;
}

static int
cfg_route_methods(const struct cfg_ctx *c, const struct cfg_routes_at *at,
    size_t i, const json_t *v, uint64_t *out)
{
	char got[80], upper[16];
	const json_t *m;
	const char *name;
	uint64_t bit;
	size_t j, n;

	if (!json_is_array(v))
		return cfg_route_fail(c, at, i, "methods", -1, "expected an array of "
		    "method names, got %s", cfg_describe(v, got, sizeof(got)));
	if (json_array_size(v) == 0)
		return cfg_route_fail(c, at, i, "methods", -1, "expected at least one "
		    "method (leave \"methods\" out to allow any), got an empty "
		    "array");
	json_array_foreach(v, j, m) {
		if (!json_is_string(m))
			return cfg_route_fail(c, at, i, "methods", (long)j, "expected "
			    "a method name, got %s", cfg_describe(m, got,
			    sizeof(got)));
		name = json_string_value(m);
		if ((bit = cfg_method_bit(name)) == 0) {
			cfg_quote(name, got, sizeof(got));
			for (n = 0; name[n] != '\0' && n + 1 < sizeof(upper); n++)
				upper[n] = name[n] >= 'a' && name[n] <= 'z' ?
				    (char)(name[n] - 'a' + 'A') : name[n];
			upper[n] = '\0';
			if (name[n] == '\0' && cfg_method_bit(upper) != 0)
				return cfg_route_fail(c, at, i, "methods", (long)j,
				    "unknown method %s; did you mean \"%s\"?",
				    got, upper);
			return cfg_route_fail(c, at, i, "methods", (long)j, "unknown "
			    "method %s", got);
		}
		*out |= bit;
	}
	return 0;
}

static int
cfg_route_path(const struct cfg_ctx *c, const struct cfg_routes_at *at,
    size_t i, const json_t *v, char **out)
{
	char got[80];
	const char *s;
	size_t len, n;

	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return cfg_route_fail(c, at, i, "path", -1, "expected a path "
		    "beginning with '/', got %s", cfg_describe(v, got,
		    sizeof(got)));
	s = json_string_value(v);
	len = json_string_length(v);
	/* jansson refuses \u0000 in a file, but not in a built value. */
	if (strlen(s) != len)
		return cfg_route_fail(c, at, i, "path", -1, "expected no NUL bytes, "
		    "got one at byte %zu", strlen(s));
	if (len > CFG_ROUTE_PATH_MAX)
		return cfg_route_fail(c, at, i, "path", -1, "expected at most %d "
		    "bytes, got %zu", CFG_ROUTE_PATH_MAX, len);
	/* A request line cannot carry these, so such a route never matches. */
	for (n = 0; n < len; n++)
		if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f)
			return cfg_route_fail(c, at, i, "path", -1, "expected no "
			    "spaces or control characters, got %s",
			    cfg_describe(v, got, sizeof(got)));
	if ((*out = strdup(s)) == NULL)
		return cfg_route_fail(c, at, i, "path", -1, "out of memory");
	return 0;
}

/*
 * The route checker's reason, located. One that starts with a quoted key
 * of the route ("\"root\": no such directory") is placed at that key and
 * named routes[i].root; any other at the route itself.
 */
static int
cfg_route_rejected(const struct cfg_ctx *c, const struct cfg_routes_at *at,
    size_t i, const json_t *obj, const char *why)
{
	static const char ident[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	char key[CFG_NAME_MAX + 1];
	size_t n;

	if (why[0] == '"') {
		n = strspn(why + 1, ident);
		if (n > 0 && n <= CFG_NAME_MAX &&
		    strncmp(why + 1 + n, "\": ", 3) == 0) {
			memcpy(key, why + 1, n);
			key[n] = '\0';
			if (json_object_get(obj, key) != NULL)
				return cfg_route_fail(c, at, i, key, -1, "%s",
				    why + n + 4);
		}
	}
	return cfg_route_fail(c, at, i, NULL, -1, "%s",
	    why[0] != '\0' ? why : "refused by its handler");
}

/*
 * routes[i] names a module's handler, "MODULE.HANDLER": MODULE must be
 * declared. The handler itself, and the route's other keys, are for the
 * module to check when a worker loads it.
 */
static int
cfg_route_module(const struct cfg_ctx *c, const struct config *cfg,
    const struct cfg_routes_at *at, size_t i, const char *handler)
{
	const char *dot = strchr(handler, '.');
	size_t len = (size_t)(dot - handler), j;
	char name[256], got[80];

	if (len == 0 || dot[1] == '\0')
		return cfg_route_fail(c, at, i, "handler", -1, "expected "
		    "\"MODULE.HANDLER\", got %s", cfg_quote(handler, got,
		    sizeof(got)));
	for (j = 0; j < cfg->nmodules; j++)
		if (strlen(cfg->modules[j].name) == len &&
		    memcmp(cfg->modules[j].name, handler, len) == 0)
			return 0;
	/* Enough for the 48 characters cfg_quote shows and a sign of more. */
	snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len :
	    sizeof(name) - 1), handler);
	return cfg_route_fail(c, at, i, "handler", -1, "no module %s is declared in "
	    "\"modules\"", cfg_quote(name, got, sizeof(got)));
}

/* Check routes[i] of the list at `at` and fill set[i]; the routes before
 * it are filled. */
static int
cfg_route(const struct cfg_ctx *c, const struct config *cfg,
    const struct cfg_routes_at *at, struct route_cfg *set, size_t i,
    json_t *obj)
{
	struct route_cfg *r = &set[i], *prev;
	char got[80], why[256];
	const json_t *v;
	uint64_t both;
	size_t j;

	if (!json_is_object(obj))
		return cfg_route_fail(c, at, i, NULL, -1, "expected a route object, "
		    "got %s", cfg_describe(obj, got, sizeof(got)));
	if ((v = json_object_get(obj, "path")) == NULL)
		return cfg_route_fail(c, at, i, NULL, -1, "missing \"path\"");
	if (cfg_route_path(c, at, i, v, &r->path) == -1)
		return -1;
	if ((v = json_object_get(obj, "match")) != NULL) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "prefix") == 0)
			r->prefix = true;
		else if (!json_is_string(v) ||
		    strcmp(json_string_value(v), "exact") != 0)
			return cfg_route_fail(c, at, i, "match", -1, "expected "
			    "\"exact\" or \"prefix\", got %s",
			    cfg_describe(v, got, sizeof(got)));
	}
	if ((v = json_object_get(obj, "methods")) != NULL &&
	    cfg_route_methods(c, at, i, v, &r->methods) == -1)
		return -1;
	if ((v = json_object_get(obj, "handler")) == NULL)
		return cfg_route_fail(c, at, i, NULL, -1, "missing \"handler\"");
	if (!json_is_string(v) || *json_string_value(v) == '\0')
		return cfg_route_fail(c, at, i, "handler", -1, "expected a handler "
		    "name, got %s", cfg_describe(v, got, sizeof(got)));
	if ((r->handler = strdup(json_string_value(v))) == NULL)
		return cfg_route_fail(c, at, i, NULL, -1, "out of memory");
	why[0] = '\0';
	if (strchr(r->handler, '.') != NULL) {
		if (cfg_route_module(c, cfg, at, i, r->handler) == -1)
			return -1;
	} else if (cfg_route_check != NULL && cfg_route_check(obj, cfg, why,
	    sizeof(why)) == -1) {
		return cfg_route_rejected(c, at, i, obj, why);
	}

	/* The same request would match both and the second is dead. */
	for (j = 0; j < i; j++) {
		prev = &set[j];
		if (prev->prefix != r->prefix || strcmp(prev->path, r->path) != 0)
			continue;
		both = (prev->methods != 0 ? prev->methods : ~0ull) &
		    (r->methods != 0 ? r->methods : ~0ull);
		if (both == 0)
			continue;
		cfg_quote(r->path, got, sizeof(got));
		if (both == ~0ull)
			return cfg_route_fail(c, at, i, NULL, -1, "duplicate route: "
			    "%s (%s) is also %s", got,
			    r->prefix ? "prefix" : "exact", prev->key);
		return cfg_route_fail(c, at, i, NULL, -1, "duplicate route: %s %s "
		    "(%s) is also %s", method_name(__builtin_ctzll(both)),
		    got, r->prefix ? "prefix" : "exact", prev->key);
	}
	if (cfg_route_names(c, at, i, r) == -1)
		return cfg_route_fail(c, at, i, NULL, -1, "out of memory");
	r->spec = json_incref(obj);
	return 0;
}

int
cfg_apply_routes(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	static const struct cfg_array_of routes = {
		"an array of route objects", "route", "routes",
		sizeof(struct route_cfg), NULL,
	};
	static const struct cfg_routes_at at = { { { "routes", 0 } }, 1 };
	void *all;
	size_t n, i;

	if (cfg_array(c, k, from, v, &routes, &all, &n) == -1)
		return -1;
	/* Zeroed entries free cleanly: count them all now, fill them next. */
	cfg->routes = all;
	cfg->nroutes = n;
	for (i = 0; i < n; i++)
		if (cfg_route(c, cfg, &at, cfg->routes, i,
		    json_array_get(v, i)) == -1)
			return -1;
	return 0;
}

/* cfg->listen[li]'s own routes, v (listen[li].routes; at says where). */
static int
cfg_listen_routes(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_routes_at *at, size_t li, json_t *v)
{
	struct listen_addr *la = &cfg->listen[li];
	char name[64], got[80];
	size_t n, i;

	cfg_path_name(at->steps, at->depth, name, sizeof(name));
	if (!json_is_array(v))
		return cfg_fail_at(c, at->steps, at->depth, name, "expected an "
		    "array of route objects, got %s", cfg_describe(v, got,
		    sizeof(got)));
	n = json_array_size(v);
	if (n == 0 || n > CONFIG_MAX_ROUTES)
		return cfg_fail_at(c, at->steps, at->depth, name, "expected 1 to "
		    "%d routes, got %zu", CONFIG_MAX_ROUTES, n);
	if ((la->routes = calloc(n, sizeof(*la->routes))) == NULL)
		return cfg_fail_at(c, at->steps, at->depth, name, "out of "
		    "memory");
	la->nroutes = n;
	for (i = 0; i < n; i++)
		if (cfg_route(c, cfg, at, la->routes, i,
		    json_array_get(v, i)) == -1)
			return -1;
	return 0;
}

int
cfg_apply_listen_routes(const struct cfg_ctx *c, struct config *cfg,
    json_t *listen)
{
	struct cfg_routes_at at;
	json_t *e, *v;
	size_t i;

	for (i = 0; i < cfg->nlisten; i++) {
		e = json_is_array(listen) ? json_array_get(listen, i) : listen;
		if (!json_is_object(e) ||
		    (v = json_object_get(e, "routes")) == NULL)
			continue;
		at.depth = 0;
		at.steps[at.depth++] = (struct config_step){ "listen", 0 };
		if (json_is_array(listen))
			at.steps[at.depth++] = (struct config_step){ NULL,
			    (long)i };
		at.steps[at.depth++] = (struct config_step){ "routes", 0 };
		if (cfg_listen_routes(c, cfg, &at, i, v) == -1)
			return -1;
	}
	return 0;
}

void
cfg_free_routes(struct route_cfg *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(routes[i].path);
		free(routes[i].handler);
		free(routes[i].where);
		free(routes[i].key);
		json_decref(routes[i].spec);
	}
	free(routes);
}

void
config_set_route_check(config_route_check_fn *fn)
{
	cfg_route_check = fn;
}
