/*
 * A test module of the Redis client API (worker/api/redis.h), as an
 * application module uses it: commands in hiredis's format, integer and
 * nil replies, and a cancel path (a client that leaves before its reply).
 *
 *   "redis": {"address": ...},
 *   "modules": [{"name": "r", "path": "build/modules/rcount.so"}],
 *   "routes": [{"path": "/count", "handler": "r.count"},
 *              {"path": "/wait", "handler": "r.wait"},
 *              {"path": "/rstats", "handler": "r.stats"}]
 *
 * GET /count?k=NAME  INCR rcount:NAME, answered with the new count
 * GET /wait?ms=N     a command Redis answers after N ms (BLPOP on a list
 *                    nobody fills, with N as its timeout): 200 "waited";
 *                    a client that leaves first cancels the command
 *                    (redis_cancel, from the deferred's cancel callback)
 * GET /rstats        {"cancelled": C, "replies": R, "refused": F}: commands
 *                    cancelled, callbacks run, commands refused at once
 *
 * A cancelled command's callback must never run: the job it would touch
 * is freed at the cancel (the sanitizer run would catch a late call).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/api/module.h"
#include "worker/api/redis.h"

int shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen);

struct job {
	struct http_deferred *d;
	struct redis_cmd *cmd;
};

static long cancelled, replies, refused;

/* The value of key in the query string (at most outsz - 1 bytes). */
static void
query(const struct http_request *req, const char *key, char *out,
    size_t outsz, const char *dflt)
{
	const char *q = req->query, *end = q ? q + req->query_len : NULL, *v;
	size_t n = strlen(key), len;

	snprintf(out, outsz, "%s", dflt);
	for (; q != NULL && q < end; q++) {
		if ((q != req->query && q[-1] != '&') || (size_t)(end - q) <= n ||
		    strncmp(q, key, n) != 0 || q[n] != '=')
			continue;
		v = q + n + 1;
		for (len = 0; v + len < end && v[len] != '&'; len++)
			;
		snprintf(out, outsz, "%.*s", (int)len, v);
		return;
	}
}

static void
answer_error(struct http_response *resp, int err)
{
	http_response_static(resp, err == ETIMEDOUT ? 504 : 503, "text/plain",
	    "redis unavailable\n", 18);
}

/* One callback for both handlers: the reply is an integer or nil. */
static void
on_reply(void *arg, int err, const struct redis_reply *rep)
{
	struct job *j = arg;
	struct http_response *resp = http_deferred_response(j->d);

	replies++;
	if (http_deferred_cancelled(j->d)) {
		http_deferred_release(j->d);
	} else {
		if (err != 0)
			answer_error(resp, err);
		else if (redis_reply_type(rep) == REDIS_TYPE_INTEGER)
			buf_printf(&resp->body_buf, "%lld\n",
			    redis_reply_integer(rep));
		else
			buf_printf(&resp->body_buf, "waited\n");
		if (err == 0)
			http_response_buf(resp, 200, "text/plain");
		http_deferred_send(j->d);
	}
	free(j);
}

/* The client left (or handler_timeout passed): the reply must not come
 * to us any more. */
static void
on_cancel(void *arg)
{
	struct job *j = arg;

	cancelled++;
	redis_cancel(j->cmd);
	http_deferred_release(j->d);
	free(j);
}

static void
start(struct http_request *req, struct http_response *resp, bool wait)
{
	char name[64], ms[16], seconds[32];
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->d = http_defer(req, resp, wait ? on_cancel : NULL, j)) == NULL) {
		free(j);
		http_response_static(resp, 500, "text/plain", "no memory\n", 10);
		return;
	}
	if (wait) {
		query(req, "ms", ms, sizeof(ms), "100");
		snprintf(seconds, sizeof(seconds), "%.3f", atof(ms) / 1000);
		j->cmd = redis_command(req->redis, on_reply, j, "BLPOP %s %s",
		    "rcount:nobody-pushes", seconds);
	} else {
		query(req, "k", name, sizeof(name), "x");
		j->cmd = redis_command(req->redis, on_reply, j, "INCR rcount:%s",
		    name);
	}
	if (j->cmd == NULL) {
		refused++;
		answer_error(http_deferred_response(j->d), errno);
		http_deferred_send(j->d);
		free(j);
	}
}

static void
count(struct http_request *req, struct http_response *resp, void *state)
{
	(void)state;
	start(req, resp, false);
}

static void
wait_(struct http_request *req, struct http_response *resp, void *state)
{
	(void)state;
	start(req, resp, true);
}

static void
stats(struct http_request *req, struct http_response *resp, void *state)
{
	(void)req;
	(void)state;
	buf_printf(&resp->body_buf, "{\"cancelled\": %ld, \"replies\": %ld, "
	    "\"refused\": %ld}\n", cancelled, replies, refused);
	http_response_buf(resp, 200, "application/json");
}

static const struct handler_def defs[] = {
	{ .name = "count", .help = "INCR a counter in Redis", .handle = count },
	{ .name = "wait", .help = "a Redis command answered after ?ms=N",
	  .handle = wait_ },
	{ .name = "stats", .help = "counters of this module", .handle = stats },
};

int
shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen)
{
	(void)config;
	if (api->version != SHOAL_MODULE_API_VERSION) {
		snprintf(err, errlen, "built for module API %d, shoal has %u",
		    SHOAL_MODULE_API_VERSION, api->version);
		return -1;
	}
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (api->add_handler(api->ctx, &defs[i]) == -1) {
			snprintf(err, errlen, "cannot register %s", defs[i].name);
			return -1;
		}
	return 0;
}
