/*
 * config/routes — the structured keys of the configuration: "modules" and
 * "routes". See config.h for what they hold and key.h for how
 * config.c calls in.
 *
 * Both are arrays of objects, checked field by field, every error located
 * at the element or field it is about ("routes[2].handler"). A route's
 * handler-specific keys belong to the route checker the worker plugs in;
 * a route naming a module's handler ("app.hello") is checked against the
 * declared modules instead, since only a worker loads module code.
 */
#include "common/config/key.h"
#include "common/config/diag.h"
#include "common/config/value.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <http_parser.h>

#include "common/util.h"

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

/* The same for modules[i] (key NULL) or modules[i].key. */
static int
cfg_module_fail(const struct cfg_ctx *c, size_t i, const char *key,
    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
cfg_module_fail(const struct cfg_ctx *c, size_t i, const char *key,
    const char *fmt, ...)
{
	struct config_step path[3] = {
		{ "modules", 0 }, { NULL, (long)i }, { key, 0 },
	};
	va_list ap;

	va_start(ap, fmt);
	cfg_vfail_path(c, path, key == NULL ? 2 : 3, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:col" of list[i], kept for run-time messages. */
static char *
cfg_item_where(const struct cfg_ctx *c, const char *list, size_t i)
{
	struct config_step path[2] = { { list, 0 }, { NULL, (long)i } };

	return cfg_where(c, path, 2);
}

/* ---- modules ------------------------------------------------------------ */

static const char *const cfg_module_keys[] = { "name", "path", "config" };

/* modules[i] has a key no module has: say so at the key. */
static int
cfg_module_unknown(const struct cfg_ctx *c, size_t i, const char *key)
{
	struct config_step path[3] = {
		{ "modules", 0 }, { NULL, (long)i }, { key, 0 },
	};
	char what[CFG_NAME_MAX + 32], quoted[80], near[CFG_NAME_MAX + 40];

	/* Named after the module, located at the key. */
	return cfg_fail_at(c, path, 3, cfg_path_name(path, 2, what,
	    sizeof(what)), "unknown key %s in a module%s",
	    cfg_quote(key, quoted, sizeof(quoted)), cfg_did_you_mean(key,
	    cfg_module_keys, ARRAY_SIZE(cfg_module_keys), near, sizeof(near)));
}

/* Does v spell a module name: [a-z][a-z0-9_]*, any length? */
static bool
cfg_module_name_ok(const json_t *v)
{
	const char *s;
	size_t n, len;

	if (!json_is_string(v) || (len = json_string_length(v)) == 0)
		return false;
	s = json_string_value(v);
	if (s[0] < 'a' || s[0] > 'z')
		return false;
	/* A NUL (possible in a built value) fails here too. */
	for (n = 1; n < len; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return true;
}

static const char *
cfg_file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a special file";
}

/*
 * modules[i]'s "path": absolute (dlopen would search a bare name in the
 * library path) and a regular file now. Only stat()ed: the master never
 * loads application code, and a worker that cannot says so when it boots.
 */
static int
cfg_module_path(const struct cfg_ctx *c, size_t i, const json_t *v,
    char **out)
{
	struct stat st;
	char got[80];
	const char *s;

	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return cfg_module_fail(c, i, "path", "expected an absolute file "
		    "name, got %s", cfg_describe(v, got, sizeof(got)));
	s = json_string_value(v);
	/* jansson refuses \u0000 in a file, but not in a built value. */
	if (strlen(s) != json_string_length(v))
		return cfg_module_fail(c, i, "path", "expected no NUL bytes, got "
		    "one at byte %zu", strlen(s));
	if (stat(s, &st) == -1)
		return cfg_module_fail(c, i, "path", "%s: %s", s,
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cfg_module_fail(c, i, "path", "%s: expected a regular "
		    "file, got %s", s, cfg_file_type(st.st_mode));
	if ((*out = strdup(s)) == NULL)
		return cfg_module_fail(c, i, "path", "out of memory");
	return 0;
}

/* Check modules[i] and fill cfg->modules[i]; modules before it are filled. */
static int
cfg_module(const struct cfg_ctx *c, struct config *cfg, size_t i, json_t *obj)
{
	struct module_cfg *m = &cfg->modules[i];
	char got[80];
	const char *key;
	json_t *v;
	size_t j;

	if (!json_is_object(obj))
		return cfg_module_fail(c, i, NULL, "expected a module object, "
		    "got %s", cfg_describe(obj, got, sizeof(got)));
	/* First, so that a misspelt "name" is not reported missing. */
	if ((key = cfg_unknown_member(obj, cfg_module_keys,
	    ARRAY_SIZE(cfg_module_keys))) != NULL)
		return cfg_module_unknown(c, i, key);

	if ((v = json_object_get(obj, "name")) == NULL)
		return cfg_module_fail(c, i, NULL, "missing \"name\"");
	if (!cfg_module_name_ok(v))
		return cfg_module_fail(c, i, "name", "expected a name matching "
		    "[a-z][a-z0-9_]*, got %s", cfg_describe(v, got, sizeof(got)));
	if (json_string_length(v) > CFG_MODULE_NAME_MAX)
		return cfg_module_fail(c, i, "name", "expected at most %d bytes, "
		    "got %zu", CFG_MODULE_NAME_MAX, json_string_length(v));
	for (j = 0; j < i; j++)
		if (strcmp(cfg->modules[j].name, json_string_value(v)) == 0)
			return cfg_module_fail(c, i, "name", "duplicate module: "
			    "%s is also modules[%zu]", cfg_quote(
			    json_string_value(v), got, sizeof(got)), j);
	if ((m->name = strdup(json_string_value(v))) == NULL)
		return cfg_module_fail(c, i, NULL, "out of memory");

	if ((v = json_object_get(obj, "path")) == NULL)
		return cfg_module_fail(c, i, NULL, "missing \"path\"");
	if (cfg_module_path(c, i, v, &m->path) == -1)
		return -1;

	/* "config", any value, is the module's: it rides along in spec. */
	if ((m->where = cfg_item_where(c, "modules", i)) == NULL)
		return cfg_module_fail(c, i, NULL, "out of memory");
	m->spec = json_incref(obj);
	return 0;
}

int
cfg_apply_modules(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, const json_t *v, enum cfg_from from)
{
	static const struct cfg_array_of modules = {
		"an array of module objects", "module", "modules",
		sizeof(struct module_cfg), NULL,
	};
	void *all;
	size_t n, i;

	if (cfg_array(c, k, from, v, &modules, &all, &n) == -1)
		return -1;
	/* Zeroed entries free cleanly: count them all now, fill them next. */
	cfg->modules = all;
	cfg->nmodules = n;
	for (i = 0; i < n; i++)
		if (cfg_module(c, cfg, i, json_array_get(v, i)) == -1)
			return -1;
	return 0;
}

/* ---- routes ------------------------------------------------------------- */

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
	} else if (cfg_route_check != NULL && cfg_route_check(obj, why,
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
	if ((r->where = cfg_item_where(c, "routes", i)) == NULL)
		return cfg_route_fail(c, i, NULL, -1, "out of memory");
	r->spec = json_incref(obj);
	return 0;
}

int
cfg_apply_routes(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, const json_t *v, enum cfg_from from)
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
