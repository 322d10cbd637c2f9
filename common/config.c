/*
 * config — see config.h.
 *
 * Every key is one row of cfg_keys: its JSON name (the flag is the same name
 * with '-' for '_'), the kind of value, where it lands in struct config, its
 * range and default. config_load looks each row up in the overrides, then in
 * the file, then falls back to the default, and validates all three the same
 * way, so a default can never bypass a check a user value would fail.
 *
 * This file reads the file and the flags and walks the table; the checks
 * are below it, in common/config/: scalars in value.c, "listen" and
 * "trusted_proxies" (whose flags repeat, and together replace the file's
 * list) in listen.c, the structured keys "modules" and "routes" (no flag)
 * in modules.c and routes.c, every message through diag.c. None of them
 * calls back up here. The default routes are those of the embedded
 * default text (one source of truth); the default modules are none.
 */
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/account.h"
#include "common/config/channels.h"
#include "common/config/cpus.h"
#include "common/config/diag.h"
#include "common/config/listen.h"
#include "common/config/modules.h"
#include "common/config/redis.h"
#include "common/config/routes.h"
#include "common/config/value.h"
#include "common/log.h"         /* enum log_level, of "log_level" */
#include "common/util.h"

#define CFG_EMBEDDED    "(embedded default)"
/* A config file is a few hundred bytes; refuse to slurp a mistaken -c /dev/zero. */
#define CFG_MAX_FILE    (1024 * 1024)
#define CFG_OFF(member) offsetof(struct config, member)

/*
 * The key table: one row a key, applied in this order. To add a key:
 *
 *  - Its field in struct config (config.h); its row here: name (a JSON
 *    key, lower_snake_case: its flag --lower-snake-case comes with it),
 *    kind (key.h), offset, range and default; a line in the README's
 *    table of keys; a test in tests/unit/common/test_config.c.
 *  - A scalar (CFG_INT, CFG_SIZE, CFG_SECONDS, CFG_AUTO_INT, CFG_PATH,
 *    CFG_STRING, CFG_LOG_LEVEL, CFG_BYTES) needs nothing more:
 *    cfg_scalar (config/value.c) checks it against the range, the error
 *    names the key and where its value came from, config_free frees a
 *    CFG_PATH or CFG_STRING. `shoal --help` lists it, with .help and
 *    .arg (what follows the flag; the kind names it when NULL).
 *  - An object of scalars ("redis": {"address": ..., "timeout": ...}): a
 *    struct for it in config.h, a table of member rows like these (offsets
 *    into that struct), and a row of kind CFG_OBJECT whose .members and
 *    .nmembers name the table. Unknown members ("did you mean"), defaults
 *    and located errors ("redis": "timeout": ...) come with it; no flag.
 *  - Anything else structured (an array of objects, members that are not
 *    scalars): kind CFG_STRUCT (config file only) or CFG_LIST (repeated
 *    flags, one element each), and .apply, a checker in its own file under
 *    common/config/ with its header, made like modules.c: cfg_array opens
 *    an array, cfg_unknown_member and cfg_did_you_mean refuse a misspelt
 *    member, every error goes through config/diag.h located at the element
 *    or member it is about; what it allocates is freed in config_free. Its
 *    default is its value in cfg_default_json if that has one, else
 *    .defstr as JSON text.
 *  - A new scalar kind: its enum value in key.h, then the cases -Wswitch
 *    asks for (cfg_scalar and cfg_default_value in config/value.c,
 *    cfg_apply, cfg_flag_value and cfg_arg_name here).
 *  - A check across keys (respawn_delay_min <= respawn_delay_max) goes
 *    in config_load, after the rows are applied.
 */
static const struct cfg_key cfg_keys[] = {
	{ .name = "listen", .kind = CFG_LIST, .offset = CFG_OFF(listen),
	  .min = 1, .max = CONFIG_MAX_LISTEN, .defstr = "127.0.0.1:8080",
	  .apply = cfg_apply_listen, .arg = "ADDR",
	  .help = "address to listen on: host:port, [v6]:port, *:port or "
	  "unix:/path" },
	{ .name = "backlog", .kind = CFG_INT, .offset = CFG_OFF(backlog),
	  .min = 1, .max = 65535, .def = 1024,
	  .help = "listen(2) backlog of each socket" },
	/* "auto" is stored as 0; config_load sets workers_auto from it. */
	{ .name = "workers", .kind = CFG_AUTO_INT, .offset = CFG_OFF(workers),
	  .min = 1, .max = CONFIG_MAX_WORKERS, .defstr = "auto",
	  .help = "worker processes, or \"auto\" for one per usable CPU" },
	{ .name = "worker_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(worker_timeout), .min = 0.5, .max = 86400, .def = 30,
	  .help = "seconds of heartbeat silence before a worker is killed" },
	{ .name = "graceful_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(graceful_timeout), .min = 0, .max = 86400, .def = 30,
	  .help = "seconds workers may drain on stop or reload" },
	{ .name = "respawn_delay_min", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(respawn_delay_min), .min = 0.01, .max = 60,
	  .def = 0.1,
	  .help = "seconds before respawning a worker that died young" },
	{ .name = "respawn_delay_max", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(respawn_delay_max), .min = 0.1, .max = 3600,
	  .def = 30, .help = "cap on the respawn backoff, in seconds" },
	{ .name = "pid_file", .kind = CFG_PATH, .offset = CFG_OFF(pid_file),
	  .help = "file to write the master's pid to (null: none)" },
	{ .name = "control_socket", .kind = CFG_PATH,
	  .offset = CFG_OFF(control_socket), .defstr = "/tmp/shoal.sock",
	  .help = "Unix socket of the control protocol, mode 0600 (null: none)" },
	{ .name = "user", .kind = CFG_STRING, .offset = CFG_OFF(user),
	  .arg = "NAME",
	  .help = "user the workers run as; the master keeps its own, to "
	  "bind, log and reload (null: the master's)" },
	{ .name = "group", .kind = CFG_STRING, .offset = CFG_OFF(group),
	  .arg = "NAME",
	  .help = "group the workers run as (null: the user's primary group)" },
	{ .name = "ready_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(ready_timeout), .min = 0.1, .max = 3600, .def = 30,
	  .help = "seconds new workers (reload, scale, upgrade) have to be "
	  "ready" },
	{ .name = "log_file", .kind = CFG_PATH, .offset = CFG_OFF(log_file),
	  .help = "file to append the log to (null: stderr)" },
	{ .name = "threads", .kind = CFG_INT, .offset = CFG_OFF(threads),
	  .min = 0, .max = 64, .def = 2,
	  .help = "threads per worker for CPU-heavy handlers (0: run them "
	  "inline)" },
	{ .name = "access_log", .kind = CFG_PATH, .offset = CFG_OFF(access_log),
	  .help = "file to append one line per request to (null: none)" },
	/* In the order of enum config_log_format. */
	{ .name = "access_log_format", .kind = CFG_CHOICE,
	  .offset = CFG_OFF(access_log_format), .defstr = "common",
	  .choices = (const char *const[]){ "common", "combined", "json", NULL },
	  .arg = "common|combined|json",
	  .help = "common, combined (with referer and user agent) or json" },
	{ .name = "log_level", .kind = CFG_LOG_LEVEL,
	  .offset = CFG_OFF(log_level), .defstr = "info",
	  .help = "error, warn, notice, info or debug" },
	{ .name = "max_request_line", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.max_request_line), .min = 256, .max = 1048576,
	  .def = 8192, .help = "bytes of request line before 414" },
	{ .name = "max_header_size", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.max_header_size), .min = 1024, .max = 1048576,
	  .def = 16384, .help = "bytes of header lines before 431" },
	{ .name = "max_headers", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.max_headers), .min = 1, .max = 10000,
	  .def = 100, .help = "header fields before 431" },
	{ .name = "max_body_size", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.max_body_size), .min = 0,
	  .max = 1099511627776.0 /* 1 TiB */, .def = 1048576,
	  .help = "bytes of request body before 413" },
	{ .name = "header_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(http.header_timeout), .min = 0.1, .max = 3600,
	  .def = 10, .help = "seconds to receive the request head before 408" },
	{ .name = "body_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(http.body_timeout), .min = 0.1, .max = 3600,
	  .def = 30, .help = "seconds between body reads before 408" },
	/*
	 * 75 s, longer than the 60 s idle timeout of common load balancers:
	 * the balancer must be the side that closes an idle connection, or it
	 * may send a request down one we are closing and get a reset.
	 */
	{ .name = "keepalive_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(http.keepalive_timeout), .min = 0, .max = 86400,
	  .def = 75, .help = "seconds an idle keep-alive connection is kept" },
	/*
	 * As NGINX's default: a connection that carried this many requests is
	 * closed after the last, so that clients reconnect now and then and
	 * the connections spread again over the workers (after a worker was
	 * replaced, or more were added).
	 */
	{ .name = "keepalive_requests", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.keepalive_requests), .min = 0, .max = 1e9,
	  .def = 1000, .help = "requests on one keep-alive connection; the "
	  "last is answered with Connection: close (0: no limit)" },
	{ .name = "write_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(http.write_timeout), .min = 0.1, .max = 3600,
	  .def = 30, .help = "seconds a client may stall reading a response" },
	{ .name = "handler_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(http.handler_timeout), .min = 0, .max = 86400,
	  .def = 30, .help = "seconds a handler may take to answer a deferred "
	  "response before 504 (0: no limit)" },
	{ .name = "websocket_max_message", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.websocket_max_message), .min = 125,
	  .max = 1073741824.0 /* 1 GiB */, .def = 1048576,
	  .help = "bytes of a received WebSocket message before 1009" },
	{ .name = "websocket_idle_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_OFF(http.websocket_idle_timeout), .min = 0,
	  .max = 86400, .def = 60,
	  .help = "seconds of WebSocket silence before a ping, and then before "
	  "closing (0: no pings)" },
	{ .name = "websocket_send_queue", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.websocket_send_queue), .min = 1024,
	  .max = 1073741824.0 /* 1 GiB */, .def = 1048576,
	  .help = "bytes waiting to be sent to a WebSocket client before it is "
	  "closed with 1008" },
	{ .name = "max_connections", .kind = CFG_SIZE,
	  .offset = CFG_OFF(http.max_connections), .min = 1, .max = 1000000,
	  .def = 10000, .help = "open connections per worker" },
	{ .name = "max_requests", .kind = CFG_SIZE,
	  .offset = CFG_OFF(max_requests), .min = 0, .max = 1e12, .def = 0,
	  .help = "requests after which a worker is replaced (0: never)" },
	{ .name = "max_requests_jitter", .kind = CFG_SIZE,
	  .offset = CFG_OFF(max_requests_jitter), .min = 0, .max = 1e12,
	  .def = 0, .help = "adds 0 to N requests, at random per worker, to "
	  "max_requests, so that workers are not all replaced at once" },
	{ .name = "max_memory", .kind = CFG_BYTES,
	  .offset = CFG_OFF(max_memory), .min = 0,
	  .max = 1099511627776.0 /* 1 TiB */, .def = 0, .arg = "BYTES",
	  .help = "resident memory above which a worker is replaced: bytes, "
	  "or with K, M or G (\"512M\"); 0: no limit" },
	{ .name = "worker_cpu_affinity", .kind = CFG_LIST,
	  .offset = CFG_OFF(cpu_sets), .min = 0, .max = CONFIG_MAX_WORKERS,
	  .apply = cfg_apply_cpu_affinity, .arg = "auto|CPUS",
	  .help = "\"auto\" (worker k on the k-th CPU allowed) or a CPU list "
	  "per worker, such as 0 or 2-3; none by default" },
	/* "auto" (0) raises the soft limit to the hard one. */
	{ .name = "rlimit_nofile", .kind = CFG_AUTO_INT,
	  .offset = CFG_OFF(rlimit_nofile), .min = 64, .max = 1073741816,
	  .defstr = "auto",
	  .help = "open-file limit of master and workers (RLIMIT_NOFILE); "
	  "auto: the hard limit" },
	{ .name = "trusted_proxies", .kind = CFG_LIST, .offset = CFG_OFF(trusted),
	  .min = 0, .max = CFG_MAX_TRUSTED, .apply = cfg_apply_trusted,
	  .arg = "CIDR|unix",
	  .help = "peers whose X-Forwarded-For is believed: address, CIDR range "
	  "or \"unix\"" },
	/* Before "routes": a route's handler may need Redis ("kv"). */
	{ .name = "redis", .kind = CFG_STRUCT, .offset = CFG_OFF(redis),
	  .defstr = "{}", .apply = cfg_apply_redis,
	  .help = "the Redis server of the workers' client: {\"address\": "
	  "\"127.0.0.1:6379\", ...} (config file only)" },
	{ .name = "channels", .kind = CFG_STRUCT, .offset = CFG_OFF(channels),
	  .defstr = "{}", .apply = cfg_apply_channels,
	  .help = "publish/subscribe channels: history, queues, limits: "
	  "{\"history\": 100, ...} (config file only)" },
	/*
	 * "modules" comes before "routes" (rows are applied in this order,
	 * not the file's) because a route may name a module's handler.
	 */
	{ .name = "modules", .kind = CFG_STRUCT, .offset = CFG_OFF(modules),
	  .min = 0, .max = CONFIG_MAX_MODULES, .defstr = "[]",
	  .apply = cfg_apply_modules,
	  .help = "application code each worker loads (config file only)" },
	/* The default routes are those of cfg_default_json. */
	{ .name = "routes", .kind = CFG_STRUCT, .offset = CFG_OFF(routes),
	  .min = 1, .max = CONFIG_MAX_ROUTES, .apply = cfg_apply_routes,
	  .help = "handlers by path (config file only)" },
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
	return k->kind != CFG_STRUCT && k->kind != CFG_OBJECT;
}

/* Lists whose flag repeats, each flag one element. */
static bool
cfg_is_repeated(const struct cfg_key *k)
{
	return k->kind == CFG_LIST;
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

/* Check v against k and store it into cfg. */
static int
cfg_apply(const struct cfg_ctx *c, struct config *cfg, const struct cfg_key *k,
    json_t *v, enum cfg_from from)
{
	char why[256];

	switch (k->kind) {
	case CFG_LIST:
	case CFG_STRUCT:
		return k->apply(c, cfg, k, v, from);
	case CFG_OBJECT:
		return cfg_apply_object(c, cfg, k, v, from);
	case CFG_INT:
	case CFG_SIZE:
	case CFG_SECONDS:
	case CFG_AUTO_INT:
	case CFG_PATH:
	case CFG_STRING:
	case CFG_LOG_LEVEL:
	case CFG_BYTES:
	case CFG_CHOICE:
		break;
	}
	if (cfg_scalar(k, v, cfg, why, sizeof(why)) == -1)
		return cfg_fail(c, k, from, -1, "%s", why);
	return 0;
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

/*
 * The checks that involve more than one row, after all are applied; from[]
 * says where each row's value came from, to locate the error.
 */
static int
cfg_check_across(const struct cfg_ctx *c, struct config *cfg,
    const enum cfg_from *from)
{
	const struct cfg_key *ku = cfg_key_by_name("user");
	const struct cfg_key *kg = cfg_key_by_name("group");
	const struct cfg_key *kr = cfg_key_by_name("rlimit_nofile");

	if (cfg_resolve_account(c, cfg, ku, from[ku - cfg_keys], kg,
	    from[kg - cfg_keys]) == -1)
		return -1;
	/*
	 * A limit given as a number must hold a worker's connections: one
	 * that does not is a mistake now, not a worker out of descriptors
	 * under load. "auto" is the hard limit, known only at start-up,
	 * where it is checked (master/preflight.c).
	 */
	if (cfg->rlimit_nofile != 0 && (size_t)cfg->rlimit_nofile <
	    cfg->http.max_connections + CONFIG_FD_RESERVE)
		return cfg_fail(c, kr, from[kr - cfg_keys], -1, "%d is too "
		    "small for max_connections %zu: each worker needs "
		    "max_connections + %d descriptors", cfg->rlimit_nofile,
		    cfg->http.max_connections, CONFIG_FD_RESERVE);
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
	json_t *root = NULL, *ovr = NULL, *dflt = NULL, *def = NULL, *v;
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

	/* The defaults of the structured keys it holds (one source of truth). */
	if ((dflt = json_loadb(cfg_default_json, sizeof(cfg_default_json) - 1,
	    0, NULL)) == NULL) {
		cfg_seterr(err, errlen, "out of memory");
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
		} else if (k->kind == CFG_STRUCT &&
		    (v = json_object_get(dflt, k->name)) != NULL) {
			/* Located, and its "where" is, in the embedded text. */
			cc = &dc;
			from[i] = CFG_FROM_FILE;
		} else {
			if ((def = cfg_default_value(k)) == NULL) {
				cfg_seterr(err, errlen, "out of memory");
				goto err;
			}
			v = def;
			from[i] = CFG_FROM_BUILTIN;
		}
		r = cfg_apply(cc, &tmp, k, v, from[i]);
		json_decref(def);
		def = NULL;
		if (r == -1)
			goto err;
	}
	tmp.workers_auto = tmp.workers == 0;    /* "auto" is stored as 0 */

	/*
	 * A listen object's own "routes": after the rows, since a route may
	 * name a module's handler. Only a file has listen objects (a --listen
	 * flag is an address string).
	 */
	k = cfg_key_by_name("listen");
	if (from[k - cfg_keys] == CFG_FROM_FILE &&
	    cfg_apply_listen_routes(&c, &tmp, json_object_get(root,
	    "listen")) == -1)
		goto err;

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

	if (cfg_check_across(&c, &tmp, from) == -1)
		goto err;

	json_decref(dflt);
	json_decref(ovr);
	json_decref(root);
	free(text);
	*cfg = tmp;
	return 0;

err:
	cfg_oneline(err, errlen);
	config_free(&tmp);
	json_decref(dflt);
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
	case CFG_AUTO_INT:
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
	case CFG_BYTES:
		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno == 0 && end != value && *end == '\0')
			return json_integer((json_int_t)n);
		break;                   /* "512M" stays a string */
	case CFG_PATH:
	case CFG_STRING:
		/* As in the file: null is none ("--control-socket null"); a
		 * file of that name is "./null". */
		if (strcmp(value, "null") == 0)
			return json_null();
		break;
	case CFG_LOG_LEVEL:
	case CFG_CHOICE:
	case CFG_LIST:
	case CFG_STRUCT:
	case CFG_OBJECT:
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

/* What follows a key's flag in --help when its row does not say. */
static const char *
cfg_arg_name(const struct cfg_key *k)
{
	if (k->arg != NULL)
		return k->arg;
	switch (k->kind) {
	case CFG_INT:
	case CFG_SIZE:
		return "N";
	case CFG_SECONDS:
		return "SEC";
	case CFG_AUTO_INT:
		return "N|auto";
	case CFG_PATH:
		return "PATH";
	case CFG_STRING:
		return "NAME";
	case CFG_LOG_LEVEL:
		return "LEVEL";
	case CFG_BYTES:
		return "BYTES";
	case CFG_CHOICE:
		return "NAME";
	case CFG_LIST:
		return "VALUE";
	case CFG_STRUCT:
	case CFG_OBJECT:
		break;
	}
	return "";
}

bool
config_key_info(size_t i, struct config_key_info *out)
{
	const struct cfg_key *k;
	char num[32];

	if (i >= ARRAY_SIZE(cfg_keys))
		return false;
	k = &cfg_keys[i];
	memset(out, 0, sizeof(*out));
	out->name = k->name;
	out->arg = cfg_arg_name(k);
	out->help = k->help;
	out->flag = cfg_is_flag(k);
	out->repeated = cfg_is_repeated(k);
	switch (k->kind) {
	case CFG_INT:
	case CFG_SIZE:
	case CFG_SECONDS:
	case CFG_BYTES:
		snprintf(out->def, sizeof(out->def), "%s",
		    cfg_num(k->def, num, sizeof(num)));
		break;
	case CFG_AUTO_INT:
		snprintf(out->def, sizeof(out->def), "%s", k->defstr != NULL ?
		    k->defstr : cfg_num(k->def, num, sizeof(num)));
		break;
	case CFG_PATH:
	case CFG_STRING:
	case CFG_LOG_LEVEL:
	case CFG_CHOICE:
	case CFG_LIST:
		snprintf(out->def, sizeof(out->def), "%s", k->defstr != NULL ?
		    k->defstr : "");
		break;
	case CFG_STRUCT:
	case CFG_OBJECT:
		break;
	}
	return true;
}

const char *
config_key_name(size_t i)
{
	return i < ARRAY_SIZE(cfg_keys) ? cfg_keys[i].name : NULL;
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
	for (i = 0; i < cfg->nlisten; i++) {
		free(cfg->listen[i].text);
		cfg_free_routes(cfg->listen[i].routes, cfg->listen[i].nroutes);
	}
	free(cfg->listen);
	free(cfg->trusted);
	cfg_free_routes(cfg->routes, cfg->nroutes);
	for (i = 0; i < cfg->nmodules; i++) {
		free(cfg->modules[i].name);
		free(cfg->modules[i].path);
		free(cfg->modules[i].where);
		json_decref(cfg->modules[i].spec);
	}
	free(cfg->modules);
	free(cfg->cpu_sets);
	free(cfg->redis.address);
	free(cfg->channels.redis_prefix);
	/* The strings of the scalar keys (pid_file, log_file, ...). */
	cfg_free_values(cfg_keys, ARRAY_SIZE(cfg_keys), cfg);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}
