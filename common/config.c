/*
 * config — see config.h.
 *
 * Every key is one row of cfg_keys: its JSON name (the flag is the same name
 * with '-' for '_'), the kind of value, where it lands in struct config, its
 * range and default. config_load looks each row up in the overrides, then in
 * the file, then falls back to the default, and validates all three the same
 * way, so a default can never bypass a check a user value would fail.
 *
 * "listen" and "trusted_proxies" are checked in config/listen.c; their
 * flags repeat, and together replace the file's list. "modules" and
 * "routes" are the structured keys: arrays of objects, checked field by
 * field in config/routes.c, with no flag. The default routes are those of
 * the embedded default text (one source of truth); the default modules
 * are none.
 */
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/diag.h"
#include "common/config/listen.h"
#include "common/config/modules.h"
#include "common/config/routes.h"
#include "common/config/value.h"
#include "common/log.h"
#include "common/util.h"

#define CFG_EMBEDDED    "(embedded default)"
/* A config file is a few hundred bytes; refuse to slurp a mistaken -c /dev/zero. */
#define CFG_MAX_FILE    (1024 * 1024)
#define CFG_OFF(member) offsetof(struct config, member)

static const struct cfg_key cfg_keys[] = {
	/* name, kind, offset, min, max, default, default string, help */
	{ "listen", CFG_LISTEN, CFG_OFF(listen), 1, CONFIG_MAX_LISTEN, 0,
	  "127.0.0.1:8080",
	  "address to listen on: host:port, [v6]:port, *:port or unix:/path" },
	{ "backlog", CFG_INT, CFG_OFF(backlog), 1, 65535, 1024, NULL,
	  "listen(2) backlog of each socket" },
	{ "workers", CFG_WORKERS, CFG_OFF(workers), 1, CONFIG_MAX_WORKERS, 0,
	  "auto", "worker processes, or \"auto\" for one per usable CPU" },
	{ "worker_timeout", CFG_SECONDS, CFG_OFF(worker_timeout), 0.5, 86400,
	  30, NULL, "seconds of heartbeat silence before a worker is killed" },
	{ "graceful_timeout", CFG_SECONDS, CFG_OFF(graceful_timeout), 0, 86400,
	  30, NULL, "seconds workers may drain on stop or reload" },
	{ "respawn_delay_min", CFG_SECONDS, CFG_OFF(respawn_delay_min), 0.01,
	  60, 0.1, NULL, "seconds before respawning a worker that died young" },
	{ "respawn_delay_max", CFG_SECONDS, CFG_OFF(respawn_delay_max), 0.1,
	  3600, 30, NULL, "cap on the respawn backoff, in seconds" },
	{ "pid_file", CFG_PATH, CFG_OFF(pid_file), 0, 0, 0, NULL,
	  "file to write the master's pid to (null: none)" },
	{ "control_socket", CFG_PATH, CFG_OFF(control_socket), 0, 0, 0,
	  "/tmp/shoal.sock",
	  "Unix socket of the control protocol, mode 0600 (null: none)" },
	{ "ready_timeout", CFG_SECONDS, CFG_OFF(ready_timeout), 0.1, 3600, 30,
	  NULL, "seconds new workers (reload, scale, upgrade) have to be ready" },
	{ "log_file", CFG_PATH, CFG_OFF(log_file), 0, 0, 0, NULL,
	  "file to append the log to (null: stderr)" },
	{ "threads", CFG_INT, CFG_OFF(threads), 0, 64, 2, NULL,
	  "threads per worker for CPU-heavy handlers (0: run them inline)" },
	{ "access_log", CFG_PATH, CFG_OFF(access_log), 0, 0, 0, NULL,
	  "file to append one line per request to (null: none)" },
	{ "log_level", CFG_LOG_LEVEL, CFG_OFF(log_level), 0, 0, 0, "info",
	  "error, warn, notice, info or debug" },
	{ "max_request_line", CFG_SIZE, CFG_OFF(http.max_request_line), 256,
	  1048576, 8192, NULL, "bytes of request line before 414" },
	{ "max_header_size", CFG_SIZE, CFG_OFF(http.max_header_size), 1024,
	  1048576, 16384, NULL, "bytes of header lines before 431" },
	{ "max_headers", CFG_SIZE, CFG_OFF(http.max_headers), 1, 10000, 100,
	  NULL, "header fields before 431" },
	{ "max_body_size", CFG_SIZE, CFG_OFF(http.max_body_size), 0,
	  1099511627776.0 /* 1 TiB */, 1048576, NULL,
	  "bytes of request body before 413" },
	{ "header_timeout", CFG_SECONDS, CFG_OFF(http.header_timeout), 0.1,
	  3600, 10, NULL, "seconds to receive the request head before 408" },
	{ "body_timeout", CFG_SECONDS, CFG_OFF(http.body_timeout), 0.1, 3600,
	  30, NULL, "seconds between body reads before 408" },
	/*
	 * 75 s, longer than the 60 s idle timeout of common load balancers:
	 * the balancer must be the side that closes an idle connection, or it
	 * may send a request down one we are closing and get a reset.
	 */
	{ "keepalive_timeout", CFG_SECONDS, CFG_OFF(http.keepalive_timeout), 0,
	  86400, 75, NULL, "seconds an idle keep-alive connection is kept" },
	{ "write_timeout", CFG_SECONDS, CFG_OFF(http.write_timeout), 0.1, 3600,
	  30, NULL, "seconds a client may stall reading a response" },
	{ "max_connections", CFG_SIZE, CFG_OFF(http.max_connections), 1,
	  1000000, 10000, NULL, "open connections per worker" },
	{ "trusted_proxies", CFG_TRUSTED, CFG_OFF(trusted), 0, CFG_MAX_TRUSTED,
	  0, NULL, "peers whose X-Forwarded-For is believed: address, "
	  "CIDR range or \"unix\"" },
	/*
	 * Rows are applied in this order, not the file's: "modules" comes
	 * before "routes" because a route may name a module's handler.
	 */
	{ "modules", CFG_MODULES, CFG_OFF(modules), 0, CONFIG_MAX_MODULES, 0,
	  NULL, "application code each worker loads (config file only)" },
	{ "routes", CFG_ROUTES, CFG_OFF(routes), 1, CONFIG_MAX_ROUTES, 0, NULL,
	  "handlers by path (config file only)" },
};

static const char cfg_default_json[] =
	"{\n"
	"  \"listen\": [\"127.0.0.1:8080\"],\n"
	"  \"workers\": \"auto\",\n"
	"  \"routes\": [\n"
	"    {\"path\": \"/\", \"handler\": \"welcome\"},\n"
	"    {\"path\": \"/json\", \"handler\": \"json\"},\n"
	"    {\"path\": \"/healthz\", \"handler\": \"health\"},\n"
	"    {\"path\": \"/echo\", \"handler\": \"echo\"}\n"
	"  ]\n"
	"}\n";

static const struct cfg_key *
cfg_key_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* The key whose flag is --flag; flag is given without the dashes. */
static const struct cfg_key *
cfg_key_by_flag(const char *flag)
{
	const char *a, *b;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		for (a = cfg_keys[i].name, b = flag; *a != '\0'; a++, b++)
			if (*b != (*a == '_' ? '-' : *a))
				break;
		if (*a == '\0' && *b == '\0')
			return &cfg_keys[i];
	}
	return NULL;
}

/* Structured keys have no flag: a command line cannot spell them. */
static bool
cfg_is_flag(const struct cfg_key *k)
{
	return k->kind != CFG_ROUTES && k->kind != CFG_MODULES;
}

/* Lists whose flag repeats, each flag one element. */
static bool
cfg_is_repeated(const struct cfg_key *k)
{
	return k->kind == CFG_LISTEN || k->kind == CFG_TRUSTED;
}

static int
cfg_not_flag(const struct cfg_key *k, char *err, size_t errlen)
{
	char flag[CFG_NAME_MAX + 3];

	cfg_seterr(err, errlen, "%s: %s can only be set in a config file",
	    cfg_flag(k->name, flag, sizeof(flag)), k->name);
	return -1;
}

/*
 * The key closest to an unknown name (within 2 edits), or NULL. as_flag
 * compares flag spellings ("worker-timeout") instead of JSON ones.
 */
static const struct cfg_key *
cfg_suggest(const char *name, bool as_flag)
{
	const struct cfg_key *best = NULL;
	char flag[CFG_NAME_MAX + 3];
	int dist, bestdist = 3;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		if (as_flag && !cfg_is_flag(&cfg_keys[i]))
			continue;
		if (as_flag)
			dist = cfg_distance(name,
			    cfg_flag(cfg_keys[i].name, flag, sizeof(flag)) + 2);
		else
			dist = cfg_distance(name, cfg_keys[i].name);
		if (dist < bestdist) {
			bestdist = dist;
			best = &cfg_keys[i];
		}
	}
	return best;
}

/* The whole file at path into a NUL-terminated malloc'd buffer. */
static int
cfg_read_file(const char *path, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	char *buf = NULL, *bigger;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_seterr(err, errlen, "open(%s): %s", path, strerror(errno));
		goto err;
	}
	for (;;) {
		if (cap - len < 2) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((bigger = realloc(buf, cap)) == NULL) {
				cfg_seterr(err, errlen, "%s: out of memory", path);
				goto err;
			}
			buf = bigger;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			cfg_seterr(err, errlen, "read(%s): %s", path,
			    strerror(errno));
			goto err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CFG_MAX_FILE) {
			cfg_seterr(err, errlen, "%s: larger than %d bytes; "
			    "not a configuration file?", path, CFG_MAX_FILE);
			goto err;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
err:
	free(buf);
	if (fd != -1)
		close(fd);
	return -1;
}

/* Check v against k and store it into cfg. v is only read (see
 * cfg_apply_listen for why it is not const). */
static int
cfg_apply(const struct cfg_ctx *c, struct config *cfg, const struct cfg_key *k,
    json_t *v, enum cfg_from from)
{
	char *field = (char *)cfg + k->offset;
	char got[80], lo[32], hi[32];
	long long n;
	double d;
	int level;

	cfg_num(k->min, lo, sizeof(lo));
	cfg_num(k->max, hi, sizeof(hi));
	switch (k->kind) {
	case CFG_LISTEN:
		return cfg_apply_listen(c, cfg, k, v, from);
	case CFG_TRUSTED:
		return cfg_apply_trusted(c, cfg, k, v, from);
	case CFG_MODULES:
		return cfg_apply_modules(c, cfg, k, v, from);
	case CFG_ROUTES:
		return cfg_apply_routes(c, cfg, k, v, from);
	case CFG_INT:
	case CFG_SIZE:
		/* k->max fits a size_t on 64-bit; the cast guards 32-bit. */
		if (!cfg_integer(v, &n) || n < k->min || n > k->max ||
		    (k->kind == CFG_SIZE && (unsigned long long)n > SIZE_MAX))
			return cfg_fail(c, k, from, -1, "expected an integer from "
			    "%s to %s, got %s", lo, hi, cfg_describe(v, got,
			    sizeof(got)));
		if (k->kind == CFG_INT)
			*(int *)field = (int)n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	case CFG_SECONDS:
		d = json_is_number(v) ? json_number_value(v) : -1;
		/* Written so that NaN fails too. */
		if (!json_is_number(v) || !(d >= k->min && d <= k->max))
			return cfg_fail(c, k, from, -1, "expected a number of "
			    "seconds from %s to %s, got %s", lo, hi,
			    cfg_describe(v, got, sizeof(got)));
		*(double *)field = d;
		return 0;
	case CFG_WORKERS:
		if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
			cfg->workers_auto = true;
			cfg->workers = 0;
			return 0;
		}
		if (!cfg_integer(v, &n) || n < k->min || n > k->max)
			return cfg_fail(c, k, from, -1, "expected \"auto\" or an "
			    "integer from %s to %s, got %s", lo, hi,
			    cfg_describe(v, got, sizeof(got)));
		cfg->workers_auto = false;
		cfg->workers = (int)n;
		return 0;
	case CFG_PATH:
		if (json_is_null(v)) {
			*(char **)field = NULL;
			return 0;
		}
		if (!json_is_string(v) || *json_string_value(v) == '\0')
			return cfg_fail(c, k, from, -1, "expected a file name or "
			    "null, got %s", cfg_describe(v, got, sizeof(got)));
		if ((*(char **)field = strdup(json_string_value(v))) == NULL)
			return cfg_fail(c, k, from, -1, "out of memory");
		return 0;
	case CFG_LOG_LEVEL:
		if (!json_is_string(v) ||
		    (level = log_level_parse(json_string_value(v))) == -1)
			return cfg_fail(c, k, from, -1, "expected \"error\", "
			    "\"warn\", \"notice\", \"info\" or \"debug\", got %s",
			    cfg_describe(v, got, sizeof(got)));
		*(int *)field = level;
		return 0;
	}
	return cfg_fail(c, k, from, -1, "unhandled kind %d", (int)k->kind);
}

/* k's default as a JSON value (new reference), to validate like any other. */
static json_t *
cfg_default(const struct cfg_key *k)
{
	json_t *root, *v;

	switch (k->kind) {
	case CFG_INT:
	case CFG_SIZE:
		return json_integer((json_int_t)k->def);
	case CFG_SECONDS:
		return json_real(k->def);
	case CFG_PATH:
		return k->defstr == NULL ? json_null() : json_string(k->defstr);
	case CFG_LISTEN:
	case CFG_WORKERS:
	case CFG_LOG_LEVEL:
		return json_string(k->defstr);
	case CFG_TRUSTED:
	case CFG_MODULES:
		return json_array();
	case CFG_ROUTES:
		/* One source of truth: the embedded default text's routes. */
		root = json_loadb(cfg_default_json, sizeof(cfg_default_json) - 1,
		    0, NULL);
		v = json_incref(json_object_get(root, k->name));
		json_decref(root);
		return v;
	}
	return NULL;
}

/* Reject keys no row knows, suggesting the nearest one. */
static int
cfg_check_keys(const struct cfg_ctx *c, json_t *obj, enum cfg_from from)
{
	char quoted[80], flag[CFG_NAME_MAX + 3], sugg[CFG_NAME_MAX + 40];
	const struct cfg_key *k, *near;
	struct config_step path[1];
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		/* JSON has no comments; these keys stand in for them. */
		if (from == CFG_FROM_FILE &&
		    (strcmp(key, "//") == 0 || strcmp(key, "_comment") == 0))
			continue;
		if ((k = cfg_key_by_name(key)) != NULL) {
			if (from == CFG_FROM_FLAG && !cfg_is_flag(k))
				return cfg_not_flag(k, c->err, c->errlen);
			continue;
		}
		near = cfg_suggest(key, false);
		sugg[0] = '\0';
		if (from == CFG_FROM_FLAG) {
			if (near != NULL)
				snprintf(sugg, sizeof(sugg), "; did you mean %s?",
				    cfg_flag(near->name, flag, sizeof(flag)));
			cfg_seterr(c->err, c->errlen, "unknown option %s%s",
			    cfg_flag(key, quoted, sizeof(quoted)), sugg);
			return -1;
		}
		if (near != NULL)
			snprintf(sugg, sizeof(sugg), "; did you mean \"%s\"?",
			    near->name);
		path[0] = (struct config_step){ key, 0 };
		return cfg_fail_at(c, path, 1, NULL, "unknown key %s%s",
		    cfg_quote(key, quoted, sizeof(quoted)), sugg);
	}
	return 0;
}

int
config_load(struct config *cfg, const char *path, const json_t *overrides,
    char *err, size_t errlen)
{
	enum cfg_from from[ARRAY_SIZE(cfg_keys)];
	const struct cfg_key *k, *kmin, *kmax;
	struct cfg_ctx c = { NULL, NULL, 0, err, errlen };
	struct cfg_ctx dc = { CFG_EMBEDDED, cfg_default_json,
	    sizeof(cfg_default_json) - 1, err, errlen };
	const struct cfg_ctx *cc;
	struct config tmp;
	json_error_t jerr;
	json_t *root = NULL, *ovr = NULL, *def = NULL, *v;
	char *text = NULL, got[80], num[32];
	size_t len = 0, i;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	memset(&tmp, 0, sizeof(tmp));
	cfg_seterr(err, errlen, "%s", "");

	if (path == NULL) {
		c.source = CFG_EMBEDDED;
		c.text = cfg_default_json;
		c.len = sizeof(cfg_default_json) - 1;
	} else {
		if (cfg_read_file(path, &text, &len, err, errlen) == -1)
			goto err;
		c.source = path;
		c.text = text;
		c.len = len;
	}
	if ((tmp.source = strdup(c.source)) == NULL) {
		cfg_seterr(err, errlen, "out of memory");
		goto err;
	}

	/*
	 * Duplicate keys are rejected: jansson would silently keep the last,
	 * and a setting that seems to be on but is not is worse than an error.
	 * DECODE_ANY lets a scalar top level reach the clearer message below.
	 */
	root = json_loadb(c.text, c.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (root == NULL && strspn(c.text, " \t\r\n") == c.len) {
		/* jansson says "unexpected token near end of file". */
		cfg_seterr(err, errlen, "%s:1:1: invalid JSON: the file is empty; "
		    "expected an object", c.source);
		goto err;
	}
	if (root == NULL) {
		cfg_seterr(err, errlen, "%s:%d:%d: invalid JSON: %s", c.source,
		    jerr.line < 1 ? 1 : jerr.line,
		    jerr.column < 1 ? 1 : jerr.column, jerr.text);
		goto err;
	}
	if (!json_is_object(root)) {
		cfg_fail_at(&c, NULL, 0, NULL, "expected a JSON object at top "
		    "level, got %s", cfg_describe(root, got, sizeof(got)));
		goto err;
	}
	if (overrides != NULL && !json_is_object(overrides)) {
		cfg_seterr(err, errlen, "overrides: expected a JSON object");
		goto err;
	}
	if (cfg_check_keys(&c, root, CFG_FROM_FILE) == -1)
		goto err;
	/* A copy only because jansson cannot iterate a const object. */
	if (overrides != NULL) {
		if ((ovr = json_deep_copy(overrides)) == NULL) {
			cfg_seterr(err, errlen, "out of memory");
			goto err;
		}
		if (cfg_check_keys(&c, ovr, CFG_FROM_FLAG) == -1)
			goto err;
	}

	/* Flags beat the file, the file beats the default; one check for all. */
	for (i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		k = &cfg_keys[i];
		cc = &c;
		if (ovr != NULL && (v = json_object_get(ovr, k->name)) != NULL) {
			from[i] = CFG_FROM_FLAG;
		} else if ((v = json_object_get(root, k->name)) != NULL) {
			from[i] = CFG_FROM_FILE;
		} else {
			if ((def = cfg_default(k)) == NULL) {
				cfg_seterr(err, errlen, "out of memory");
				goto err;
			}
			v = def;
			from[i] = CFG_FROM_BUILTIN;
			/*
			 * The default routes come from the embedded text: they
			 * are located, and their "where" is, in it.
			 */
			if (k->kind == CFG_ROUTES) {
				cc = &dc;
				from[i] = CFG_FROM_FILE;
			}
		}
		r = cfg_apply(cc, &tmp, k, v, from[i]);
		json_decref(def);
		def = NULL;
		if (r == -1)
			goto err;
	}

	/*
	 * The backoff grows from min to max, so min > max is meaningless.
	 * Blame whichever the user set; if both, the cap.
	 */
	if (tmp.respawn_delay_min > tmp.respawn_delay_max) {
		kmin = cfg_key_by_name("respawn_delay_min");
		kmax = cfg_key_by_name("respawn_delay_max");
		if (from[kmax - cfg_keys] != CFG_FROM_BUILTIN)
			cfg_fail(&c, kmax, from[kmax - cfg_keys], -1, "expected "
			    "at least respawn_delay_min (%s), got %s",
			    cfg_num(tmp.respawn_delay_min, num, sizeof(num)),
			    cfg_num(tmp.respawn_delay_max, got, sizeof(got)));
		else
			cfg_fail(&c, kmin, from[kmin - cfg_keys], -1, "expected "
			    "at most respawn_delay_max (%s), got %s",
			    cfg_num(tmp.respawn_delay_max, num, sizeof(num)),
			    cfg_num(tmp.respawn_delay_min, got, sizeof(got)));
		goto err;
	}

	json_decref(ovr);
	json_decref(root);
	free(text);
	*cfg = tmp;
	return 0;

err:
	cfg_oneline(err, errlen);
	config_free(&tmp);
	json_decref(ovr);
	json_decref(root);
	free(text);
	return -1;
}

/* A flag's value as the JSON its key expects, or the raw string if it does
 * not parse, so that config_load reports the type error against the flag. */
static json_t *
cfg_flag_value(const struct cfg_key *k, const char *value)
{
	long long n;
	double d;
	char *end;

	switch (k->kind) {
	case CFG_INT:
	case CFG_SIZE:
	case CFG_WORKERS:
	case CFG_SECONDS:
		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno == 0 && end != value && *end == '\0')
			return json_integer((json_int_t)n);
		if (k->kind != CFG_SECONDS)
			break;
		errno = 0;
		d = strtod(value, &end);
		/* json_real refuses NaN and infinities; keep them as text. */
		if (errno == 0 && end != value && *end == '\0' &&
		    d == d && d - d == 0)
			return json_real(d);
		break;
	case CFG_LISTEN:
	case CFG_TRUSTED:
	case CFG_PATH:
	case CFG_LOG_LEVEL:
	case CFG_MODULES:
	case CFG_ROUTES:
		break;
	}
	/* Paths need not be UTF-8; jansson's check would refuse them. */
	return json_string_nocheck(value);
}

int
config_override(json_t *overrides, const char *name, const char *value,
    char *err, size_t errlen)
{
	char flag[CFG_NAME_MAX + 3], shown[80];
	const struct cfg_key *k, *near;
	json_t *v = NULL, *list;

	if ((k = cfg_key_by_flag(name)) == NULL) {
		near = cfg_suggest(name, true);
		if (near != NULL)
			cfg_seterr(err, errlen, "unknown option --%s; did you mean "
			    "%s?", name, cfg_flag(near->name, flag, sizeof(flag)));
		else
			cfg_seterr(err, errlen, "unknown option --%s", name);
		goto err;
	}
	if (!cfg_is_flag(k)) {
		cfg_not_flag(k, err, errlen);
		goto err;
	}
	if (!json_is_object(overrides)) {
		cfg_seterr(err, errlen, "overrides: expected a JSON object");
		goto err;
	}
	if (value == NULL) {
		cfg_seterr(err, errlen, "%s: missing value",
		    cfg_flag(k->name, flag, sizeof(flag)));
		goto err;
	}
	if ((v = cfg_flag_value(k, value)) == NULL)
		goto oom;

	if (!cfg_is_repeated(k)) {
		/* Last flag wins, as with the file's keys. */
		if (json_object_set_new(overrides, k->name, v) == -1) {
			v = NULL;
			goto oom;
		}
		return 0;
	}
	/*
	 * Repeated --listen (--trusted-proxies) accumulate; together they
	 * replace the file's list.
	 */
	list = json_object_get(overrides, k->name);
	if (!json_is_array(list)) {
		if ((list = json_array()) == NULL)
			goto oom;
		if (json_object_set_new(overrides, k->name, list) == -1)
			goto oom;
	}
	if (json_array_append_new(list, v) == -1) {
		v = NULL;
		goto oom;
	}
	return 0;

oom:
	cfg_seterr(err, errlen, "%s %s: out of memory",
	    cfg_flag(k->name, flag, sizeof(flag)), cfg_quote(value, shown,
	    sizeof(shown)));
err:
	json_decref(v);
	cfg_oneline(err, errlen);
	return -1;
}

const char *
config_default_text(void)
{
	return cfg_default_json;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i].text);
	free(cfg->listen);
	free(cfg->trusted);
	for (i = 0; i < cfg->nroutes; i++) {
		free(cfg->routes[i].path);
		free(cfg->routes[i].handler);
		free(cfg->routes[i].where);
		json_decref(cfg->routes[i].spec);
	}
	free(cfg->routes);
	for (i = 0; i < cfg->nmodules; i++) {
		free(cfg->modules[i].name);
		free(cfg->modules[i].path);
		free(cfg->modules[i].where);
		json_decref(cfg->modules[i].spec);
	}
	free(cfg->modules);
	free(cfg->pid_file);
	free(cfg->control_socket);
	free(cfg->log_file);
	free(cfg->access_log);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}
