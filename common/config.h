/*
 * config — shoal's configuration: a JSON file read with jansson, with every
 * key also settable by a long command-line flag that overrides the file.
 *
 * One validation path for both sources: CLI flags are collected into a JSON
 * object of overrides (config_override), merged over the file's object, and
 * the result is checked key by key against one table. An error names the
 * key and where it came from:
 *
 *   shoal.json:3:3: "workers": expected "auto" or an integer from 1 to 512, got "many"
 *   --worker-timeout: expected a number of seconds from 0.5 to 86400, got "soon"
 *
 * Library code: never prints, never exits; errors go to the caller's buffer.
 */
#ifndef SHOAL_CONFIG_H
#define SHOAL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <sys/socket.h>
#include <jansson.h>

#define CONFIG_MAX_WORKERS 512
#define CONFIG_MAX_LISTEN  64
#define CONFIG_MAX_ROUTES  256
#define CONFIG_MAX_MODULES 32
/*
 * Descriptors a worker needs besides its connections: listening sockets,
 * IPC, logs, epoll and timers, the thread pool, files a handler opens. A
 * worker's open-file limit must leave room for max_connections plus these.
 */
#define CONFIG_FD_RESERVE  64

/*
 * One listen address. In the file, an entry is a string ("127.0.0.1:8080",
 * "[::1]:8080", "unix:/run/shoal/http.sock") or an object with options:
 *   {"address": "unix:/run/shoal/http.sock", "mode": "0660",
 *    "owner": "www-data", "group": "www-data", "proxy_protocol": true}
 */
struct listen_addr {
	char *text;                  /* normalised: "127.0.0.1:8080", "[::1]:8080", "unix:/run/x.sock" */
	struct sockaddr_storage sa;  /* AF_INET, AF_INET6 or AF_UNIX */
	socklen_t salen;
	bool proxy_protocol;         /* connections start with a PROXY v1/v2 header */
	int mode;                    /* unix: permission bits of the file; -1: 0666 */
	int uid, gid;                /* unix: owner and group of the file; -1: unchanged */
	/*
	 * The object's own "routes", which its connections are answered by
	 * instead of the top-level ones (an admin listener with /metrics);
	 * NULL: the top-level routes. Owned by the config that loaded it: a
	 * copy of the struct (the master's listener table) must not use them.
	 */
	struct route_cfg *routes;
	size_t nroutes;
};

/* An address range of "trusted_proxies". */
struct cidr {
	int family;                  /* AF_INET or AF_INET6 */
	unsigned char addr[16];      /* network order; IPv4 in the first 4 bytes */
	unsigned prefix;             /* bits */
};

/* Everything a client controls is bounded by one of these (issue: HTTP engine). */
struct http_limits {
	size_t max_request_line;     /* bytes of method + URI + version -> 414 */
	size_t max_header_size;      /* bytes of all header lines -> 431 */
	size_t max_headers;          /* number of header fields -> 431 */
	size_t max_body_size;        /* bytes of decoded request body -> 413 */
	double header_timeout;       /* seconds to receive the whole head -> 408 */
	double body_timeout;         /* seconds between body reads -> 408 */
	double keepalive_timeout;    /* seconds an idle keep-alive connection lives */
	size_t keepalive_requests;   /* requests on one connection; 0: no limit */
	double write_timeout;        /* seconds a client may stall reading a response */
	double handler_timeout;      /* seconds a deferred response may take -> 504;
	                                0: no limit */
	size_t websocket_max_message;    /* bytes of a received message -> 1009 */
	double websocket_idle_timeout;   /* seconds of silence before a ping, and
	                                    then before giving up; 0: no pings */
	size_t websocket_send_queue;     /* bytes waiting to be sent -> 1008 */
	size_t max_connections;      /* open connections per worker */
};

/* "access_log_format": what a line of the access log holds. */
enum config_log_format {
	CONFIG_LOG_COMMON,           /* Common Log Format */
	CONFIG_LOG_COMBINED,         /* ... plus referer and user agent */
	CONFIG_LOG_JSON,             /* one JSON object a line, every field */
};

/*
 * One entry of "routes":
 *   {"path": "/static/", "match": "prefix", "methods": ["GET"],
 *    "handler": "static", "root": "/srv/www"}
 * path, match, methods and handler are the config module's; every other
 * key belongs to the handler and is checked by the route checker.
 */
struct route_cfg {
	char *path;                  /* begins with '/' */
	bool prefix;                 /* "match": "prefix" (default "exact") */
	uint64_t methods;            /* bits (1 << enum method_id); 0: any */
	char *handler;               /* accepted by the route checker */
	json_t *spec;                /* the route object (own reference) */
	char *where;                 /* "shoal.json:7:5", for run-time messages */
	char *key;                   /* "routes[3]", "listen[1].routes[0]": how
	                                messages name it */
};

/*
 * One entry of "modules": application code each worker loads at boot
 * (worker/api/module.h); the master only checks the declaration.
 *   {"name": "app", "path": "/srv/app.so", "config": {"greeting": "hi"}}
 * A route names its handlers "app.NAME"; config_load checks that the
 * module is declared and leaves the rest of such a route to the module.
 */
struct module_cfg {
	char *name;                  /* [a-z][a-z0-9_]*, at most 32 bytes; unique */
	char *path;                  /* absolute; a regular file when loaded */
	json_t *spec;                /* the module object (own reference); its
	                              * "config" member is passed to the module */
	char *where;                 /* "shoal.json:9:5", for run-time messages */
};

/*
 * "redis": the Redis server of the workers' client
 * (worker/services/redis.c), for handlers and modules:
 *   {"address": "127.0.0.1:6379", "connect_timeout": 1,
 *    "command_timeout": 1, "reconnect_min": 0.1, "reconnect_max": 2}
 * Without the key, address is NULL: no client, and a route whose handler
 * needs Redis ("kv") fails the configuration.
 */
struct redis_cfg {
	char *address;               /* normalised: "127.0.0.1:6379", "[::1]:6379",
	                                "unix:/run/redis/redis.sock"; NULL: none */
	double connect_timeout;      /* seconds for the connection and its PING */
	double command_timeout;      /* seconds a reply may take: then the command
	                                fails and the connection is dropped */
	double reconnect_min;        /* delay after the first failure; doubles */
	double reconnect_max;        /* ... up to this */
};

/* "channels" "slow": what becomes of a subscriber that does not keep up. */
enum channel_slow {
	CHANNEL_SLOW_CLOSE,          /* closed: it resumes from the history */
	CHANNEL_SLOW_DROP,           /* the messages that do not fit are lost */
};

/*
 * "channels": publish/subscribe channels (worker/api/channel.h):
 *   {"history": 100, "history_bytes": "1M", "memory": "64M",
 *    "queue": "1M", "slow": "close", "max_message": "64K",
 *    "keepalive": 30, "redis_prefix": "shoal:"}
 * Every member has a default; the key absent is all of them.
 */
struct channel_cfg {
	size_t history;              /* messages kept per channel; 0: none */
	size_t history_bytes;        /* ... and their bytes at most */
	size_t memory;               /* history bytes per worker, all channels */
	size_t queue;                /* bytes waiting for one subscriber */
	int slow;                    /* enum channel_slow */
	size_t max_message;          /* bytes of one message */
	double keepalive;            /* seconds before a comment to an idle
	                                event stream; 0: none */
	char *redis_prefix;          /* Redis keys and channels start with it */
};

/*
 * Checks one route object's handler and handler-specific keys, against
 * the configuration loaded so far (every key before "routes" in the key
 * table: "redis", "modules"). Returns 0,
 * or -1 with a reason in err (without location: config_load adds it).
 * The worker's handler registry provides it (registry_check_route); with
 * none set, any handler name passes.
 */
struct config;
typedef int config_route_check_fn(const json_t *route,
    const struct config *cfg, char *err, size_t errlen);
void config_set_route_check(config_route_check_fn *fn);

struct config {
	char *source;                /* the file's path, or "(embedded default)" */

	struct listen_addr *listen;  /* at least one */
	size_t nlisten;
	int backlog;                 /* listen(2) backlog per socket */

	bool workers_auto;           /* "workers": "auto" */
	int workers;                 /* when !workers_auto: 1..CONFIG_MAX_WORKERS */
	double worker_timeout;       /* heartbeat silence that marks a worker hung */
	double graceful_timeout;     /* drain limit on stop/reload */
	double respawn_delay_min;    /* backoff after the first quick crash */
	double respawn_delay_max;    /* backoff cap; a slot at the cap is crash-looping */

	char *pid_file;              /* NULL: none */
	char *control_socket;        /* NULL: none */
	double ready_timeout;        /* new workers must be ready within it */
	char *log_file;              /* NULL: stderr */
	char *access_log;            /* NULL: no access log */
	int access_log_format;       /* enum config_log_format */
	int threads;                 /* per worker, for CPU-heavy handlers */
	int log_level;               /* enum log_level */

	/* Who the workers run as: the master stays as it was started (root,
	 * to bind low ports, open logs and reload) and each worker switches
	 * before it loads a module or accepts (master/privdrop.c). */
	char *user;                  /* NULL: as the master */
	char *group;                 /* NULL: the user's primary group */
	int uid, gid;                /* resolved at load; -1 when user is unset */

	/* Recycling: a worker is replaced in its slot (a new one accepts
	 * first, then the old one drains) past either limit. */
	size_t max_requests;         /* requests served; 0: no limit */
	size_t max_requests_jitter;  /* each worker's limit: + random 0..this */
	size_t max_memory;           /* resident set, bytes; 0: no limit */

	/* Resources of the worker processes. */
	bool cpu_affinity_auto;      /* worker k on the k-th CPU allowed */
	cpu_set_t *cpu_sets;         /* else worker k on cpu_sets[k % n]; */
	size_t ncpu_sets;            /* 0 and !auto: no affinity set */
	int rlimit_nofile;           /* RLIMIT_NOFILE; 0: "auto", the hard limit */

	struct http_limits http;

	/* Peers whose X-Forwarded-For / X-Real-IP are believed. */
	struct cidr *trusted;        /* "trusted_proxies" ranges */
	size_t ntrusted;
	bool trust_unix;             /* "unix" in trusted_proxies */

	struct route_cfg *routes;    /* in match order; the defaults if absent */
	size_t nroutes;

	struct module_cfg *modules;  /* in declaration order; none if absent */
	size_t nmodules;

	struct redis_cfg redis;      /* address NULL: no Redis */
	struct channel_cfg channels;
};

/*
 * Load the configuration: the JSON file at path (NULL: the embedded default),
 * with overrides (may be NULL; as built by config_override) merged over it,
 * validated, defaults filled in. On success returns 0 and cfg owns its
 * memory (config_free). On failure returns -1, leaves cfg zeroed, and writes
 * one line to err naming the key and the location (file:line:column, or
 * the CLI flag).
 */
int config_load(struct config *cfg, const char *path, const json_t *overrides,
    char *err, size_t errlen);

/*
 * Record the command-line flag --name (name without dashes, e.g.
 * "worker-timeout") with value into overrides. Numbers are converted for
 * numeric keys; "listen" and "trusted_proxies" accumulate (repeatable
 * flags) and replace the file's list. Returns -1 with err
 * set if no key matches the flag. Values are checked by config_load.
 */
int config_override(json_t *overrides, const char *name, const char *value,
    char *err, size_t errlen);

/* What `shoal --help` says of one key of the configuration. */
struct config_key_info {
	const char *name;            /* "worker_timeout" (flag: --worker-timeout) */
	const char *arg;             /* "SEC", "PATH", "N|auto", ... */
	const char *help;            /* one sentence */
	char def[48];                /* the default as a flag would spell it;
	                                "" when there is none */
	bool flag;                   /* settable by a flag; else file only */
	bool repeated;               /* the flag may be given several times */
};

/* Key i of the table (in the order they are applied) into out; false past
 * the last. For `shoal --help`, so it lists every key there is. */
bool config_key_info(size_t i, struct config_key_info *out);

/* The name of key i of the table ("worker_timeout"), in the order they are
 * applied; NULL past the last. For `shoal --keys`: every key there is. */
const char *config_key_name(size_t i);

/* The embedded default configuration (JSON text), used when no -c is given. */
const char *config_default_text(void);

/*
 * Parse a listen address: "host:port", "[v6]:port", "*:port" (all IPv4),
 * "[::]:port", or "unix:/path". Fills out and returns 0; -1 with a reason in
 * err. Host names are not resolved: listen on addresses.
 */
int config_parse_listen(const char *text, struct listen_addr *out,
    char *err, size_t errlen);

void config_free(struct config *cfg);

#endif
