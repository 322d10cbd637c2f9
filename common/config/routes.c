/*
 * config/routes — the "routes" key: which handler answers which path. See
 * config.h (struct route_cfg) for what an entry holds.
 *
 * An array of objects, checked field by field, every error located at the
 * element or field it is about ("routes[2].handler"). A route's
 * handler-specific keys belong to the route checker the worker plugs in;
 * a route naming a module's handler ("app.hello") is checked against the
 * declared modules instead (config/modules.c has filled them: "modules"
 * is applied first), since only a worker loads module code.
 */
#include "common/config/routes.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <http_parser.h>

#include "common/config/diag.h"
#include "common/config/value.h"

/*
 * Set once at start-up, before any config_load: the worker's handler
 * registry lives above common/, so it is plugged in rather than linked.
 */
static config_route_check_fn *cfg_route_check;

/*
 * Write the error for routes[i] (key NULL), routes[i].key or, with j >= 0,
 * routes[i].key[j]: named and located by that path. Returns -1.
 */
static int
cfg_route_fail(const struct cfg_ctx *c, size_t i, const char *key, long j,
    const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int
cfg_route_fail(const struct cfg_ctx *c, size_t i, const char *key, long j,
    const char *fmt, ...)
{
	struct config_step path[4] = {
		{ "routes", 0 }, { NULL, (long)i }, { key, 0 }, { NULL, j },
	};
	va_list ap;

	va_start(ap, fmt);
	cfg_vfail_path(c, path, key == NULL ? 2 : j < 0 ? 3 : 4, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:col" of routes[i], kept for run-time messages. */
static char *
cfg_route_where(const struct cfg_ctx *c, size_t i)
{
	struct config_step path[2] = { { "routes", 0 }, { NULL, (long)i } };

	return cfg_where(c, path, 2);
}

/*
 * The bit of the method called name (1 << enum http_method), or 0 if
 * http_parser knows no such method. Asking http_method_str, which answers
 * "<unknown>" past the last method, keeps this in step with the parser.
 */
static uint64_t
cfg_method_bit(const char *name)
{
	const char *s;
	unsigned m;

	for (m = 0; m < 64; m++) {
		s = http_method_str((enum http_method)m);
		if (strcmp(s, "<unknown>") == 0)
			break;
		if (strcmp(s, name) == 0)
			return 1ull << m;
	}
	return 0;
}

static int
cfg_route_methods(const struct cfg_ctx *c, size_t i, const json_t *v,
    uint64_t *out)
{
	char got[80], upper[16];
	const json_t *m;
	const char *name;
	uint64_t bit;
	size_t j, n;

	if (!json_is_array(v))
		return cfg_route_fail(c, i, "methods", -1, "expected an array of "
		    "method names, got %s", cfg_describe(v, got, sizeof(got)));
	if (json_array_size(v) == 0)
		return cfg_route_fail(c, i, "methods", -1, "expected at least one "
		    "method (leave \"methods\" out to allow any), got an empty "
		    "array");
	json_array_foreach(v, j, m) {
		if (!json_is_string(m))
			return cfg_route_fail(c, i, "methods", (long)j, "expected "
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
				return cfg_route_fail(c, i, "methods", (long)j,
				    "unknown method %s; did you mean \"%s\"?",
				    got, upper);
			return cfg_route_fail(c, i, "methods", (long)j, "unknown "
			    "method %s", got);
		}
		*out |= bit;
	}
	return 0;
}

static int
cfg_route_path(const struct cfg_ctx *c, size_t i, const json_t *v, char **out)
{
	char got[80];
	const char *s;
	size_t len, n;

	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return cfg_route_fail(c, i, "path", -1, "expected a path "
		    "beginning with '/', got %s", cfg_describe(v, got,
		    sizeof(got)));
	s = json_string_value(v);
	len = json_string_length(v);
	/* jansson refuses \u0000 in a file, but not in a built value. */
	if (strlen(s) != len)
		return cfg_route_fail(c, i, "path", -1, "expected no NUL bytes, "
		    "got one at byte %zu", strlen(s));
	if (len > CFG_ROUTE_PATH_MAX)
		return cfg_route_fail(c, i, "path", -1, "expected at most %d "
		    "bytes, got %zu", CFG_ROUTE_PATH_MAX, len);
	/* A request line cannot carry these, so such a route never matches. */
	for (n = 0; n < len; n++)
		if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f)
			return cfg_route_fail(c, i, "path", -1, "expected no "
			    "spaces or control characters, got %s",
			    cfg_describe(v, got, sizeof(got)));
	if ((*out = strdup(s)) == NULL)
		return cfg_route_fail(c, i, "path", -1, "out of memory");
	return 0;
}

/*
 * The route checker's reason, located. One that starts with a quoted key
 * of the route ("\"root\": no such directory") is placed at that key and
 * named routes[i].root; any other at the route itself.
 */
static int
cfg_route_rejected(const struct cfg_ctx *c, size_t i, const json_t *obj,
    const char *why)
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
				return cfg_route_fail(c, i, key, -1, "%s",
				    why + n + 4);
		}
	}
	return cfg_route_fail(c, i, NULL, -1, "%s",
	    why[0] != '\0' ? why : "refused by its handler");
}

/*
 * routes[i] names a module's handler, "MODULE.HANDLER": MODULE must be
 * declared. The handler itself, and the route's other keys, are for the
 * module to check when a worker loads it.
 */
static int
cfg_route_module(const struct cfg_ctx *c, const struct config *cfg, size_t i,
    const char *handler)
{
	const char *dot = strchr(handler, '.');
	size_t len = (size_t)(dot - handler), j;
	char name[256], got[80];

	if (len == 0 || dot[1] == '\0')
		return cfg_route_fail(c, i, "handler", -1, "expected "
		    "\"MODULE.HANDLER\", got %s", cfg_quote(handler, got,
		    sizeof(got)));
	for (j = 0; j < cfg->nmodules; j++)
		if (strlen(cfg->modules[j].name) == len &&
		    memcmp(cfg->modules[j].name, handler, len) == 0)
			return 0;
	/* Enough for the 48 characters cfg_quote shows and a sign of more. */
	snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len :
	    sizeof(name) - 1), handler);
	return cfg_route_fail(c, i, "handler", -1, "no module %s is declared in "
	    "\"modules\"", cfg_quote(name, got, sizeof(got)));
}

/* Check routes[i] and fill cfg->routes[i]; routes before it are filled. */
static int
cfg_route(const struct cfg_ctx *c, struct config *cfg, size_t i, json_t *obj)
{
	struct route_cfg *r = &cfg->routes[i], *prev;
	char got[80], why[256];
	const json_t *v;
	uint64_t both;
	size_t j;

	if (!json_is_object(obj))
		return cfg_route_fail(c, i, NULL, -1, "expected a route object, "
		    "got %s", cfg_describe(obj, got, sizeof(got)));
	if ((v = json_object_get(obj, "path")) == NULL)
		return cfg_route_fail(c, i, NULL, -1, "missing \"path\"");
	if (cfg_route_path(c, i, v, &r->path) == -1)
		return -1;
	if ((v = json_object_get(obj, "match")) != NULL) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "prefix") == 0)
			r->prefix = true;
		else if (!json_is_string(v) ||
		    strcmp(json_string_value(v), "exact") != 0)
			return cfg_route_fail(c, i, "match", -1, "expected "
			    "\"exact\" or \"prefix\", got %s",
			    cfg_describe(v, got, sizeof(got)));
	}
	if ((v = json_object_get(obj, "methods")) != NULL &&
	    cfg_route_methods(c, i, v, &r->methods) == -1)
		return -1;
	if ((v = json_object_get(obj, "handler")) == NULL)
		return cfg_route_fail(c, i, NULL, -1, "missing \"handler\"");
	if (!json_is_string(v) || *json_string_value(v) == '\0')
		return cfg_route_fail(c, i, "handler", -1, "expected a handler "
		    "name, got %s", cfg_describe(v, got, sizeof(got)));
	if ((r->handler = strdup(json_string_value(v))) == NULL)
		return cfg_route_fail(c, i, NULL, -1, "out of memory");
	why[0] = '\0';
	if (strchr(r->handler, '.') != NULL) {
		if (cfg_route_module(c, cfg, i, r->handler) == -1)
			return -1;
	} else if (cfg_route_check != NULL && cfg_route_check(obj, cfg, why,
	    sizeof(why)) == -1) {
		return cfg_route_rejected(c, i, obj, why);
	}

	/* The same request would match both and the second is dead. */
	for (j = 0; j < i; j++) {
		prev = &cfg->routes[j];
		if (prev->prefix != r->prefix || strcmp(prev->path, r->path) != 0)
			continue;
		both = (prev->methods != 0 ? prev->methods : ~0ull) &
		    (r->methods != 0 ? r->methods : ~0ull);
		if (both == 0)
			continue;
		cfg_quote(r->path, got, sizeof(got));
		if (both == ~0ull)
			return cfg_route_fail(c, i, NULL, -1, "duplicate route: "
			    "%s (%s) is also routes[%zu]", got,
			    r->prefix ? "prefix" : "exact", j);
		return cfg_route_fail(c, i, NULL, -1, "duplicate route: %s %s "
		    "(%s) is also routes[%zu]",
		    http_method_str((enum http_method)__builtin_ctzll(both)),
		    got, r->prefix ? "prefix" : "exact", j);
	}
	if ((r->where = cfg_route_where(c, i)) == NULL)
		return cfg_route_fail(c, i, NULL, -1, "out of memory");
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
	void *all;
	size_t n, i;

	if (cfg_array(c, k, from, v, &routes, &all, &n) == -1)
		return -1;
	/* Zeroed entries free cleanly: count them all now, fill them next. */
	cfg->routes = all;
	cfg->nroutes = n;
	for (i = 0; i < n; i++)
		if (cfg_route(c, cfg, i, json_array_get(v, i)) == -1)
			return -1;
	return 0;
}

void
config_set_route_check(config_route_check_fn *fn)
{
	cfg_route_check = fn;
}
