/*
 * config/modules — the "modules" key: application code each worker loads
 * at boot. See config.h (struct module_cfg) for what an entry holds.
 *
 * An array of objects, checked field by field, every error located at the
 * element or field it is about ("modules[1].path"). The master only
 * checks the declaration: that the name is well formed and unique and
 * the file is there; a worker loads the code (worker/module.c), and the
 * "config" member rides along for it.
 */
#include "common/config/modules.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config/diag.h"
#include "common/config/value.h"
#include "common/util.h"

/*
 * Write the error for modules[i] (key NULL) or modules[i].key: named and
 * located by that path. Returns -1.
 */
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

/* "file:line:col" of modules[i], kept for run-time messages. */
static char *
cfg_module_where(const struct cfg_ctx *c, size_t i)
{
	struct config_step path[2] = { { "modules", 0 }, { NULL, (long)i } };

	return cfg_where(c, path, 2);
}

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
	if ((m->where = cfg_module_where(c, i)) == NULL)
		return cfg_module_fail(c, i, NULL, "out of memory");
	m->spec = json_incref(obj);
	return 0;
}

int
cfg_apply_modules(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
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

