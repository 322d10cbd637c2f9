/*
 * pubsub — the "pubsub" handler: channels (worker/api/channel.h) over
 * HTTP, the channel's name following the route's path.
 *
 *   {"path": "/pubsub/", "match": "prefix", "handler": "pubsub",
 *    "channel_prefix": "app:", "publish": true}
 *
 *   GET  /pubsub/NAME   with Upgrade: websocket: a WebSocket subscribed to
 *                       the channel; each message it sends is published
 *                       (text as text, binary as binary); ?after=ID (or
 *                       Last-Event-ID) resumes after ID
 *   GET  /pubsub/NAME   accepting text/event-stream (or anything): a
 *                       stream of server-sent events, resumed after
 *                       Last-Event-ID
 *   POST /pubsub/NAME   publishes the body: 200 {"id": ID} once it is out
 *
 * The channel is channel_prefix and the rest of the path, percent-decoded
 * (400 for a bad escape, %00 or a name the channels refuse; 404 if
 * empty). A body is published as text if it is UTF-8, else as binary.
 * Publishing refused or failed: 503 with Retry-After (Redis down, the
 * relay's queue full), 504 (Redis did not answer in time), 413 (over the
 * channels' max_message). With "publish": false, POST is 405 and a
 * WebSocket's messages close it (1008).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker/api/channel.h"
#include "worker/api/http.h"
#include "worker/api/ws.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

struct pubsub {
	struct options_named n;      /* the route's path, which the name
	                                follows; channel_prefix */
	bool publish;
};

/* One WebSocket subscriber. */
struct pubsub_ws {
	struct channels *ch;
	uint64_t after;
	bool publish;
	size_t name_len;
	char name[];
};

static void
text(struct http_response *resp, int status, const char *body, size_t len)
{
	http_response_static(resp, status, "text/plain", body, len);
}

/* ---- WebSocket ------------------------------------------------------------- */

static void
ws_opened(struct ws *ws, void *arg)
{
	struct pubsub_ws *p = arg;

	if (channel_subscribe_ws(p->ch, ws, p->name, p->name_len,
	    p->after) == NULL)
		ws_close(ws, 1011, "cannot subscribe");
}

static void
ws_message(struct ws *ws, enum ws_opcode op, const void *data, size_t len,
    void *arg)
{
	struct pubsub_ws *p = arg;

	if (!p->publish) {
		ws_close(ws, 1008, "publishing is off");
		return;
	}
	/* Refused (Redis down, too big): counted by the channels; the
	 * subscription goes on. */
	channel_publish(p->ch, p->name, p->name_len, data, len,
	    op == WS_TEXT ? CHANNEL_TEXT : CHANNEL_BINARY, NULL, NULL);
}

static void
ws_closed(struct ws *ws, int code, void *arg)
{
	(void)ws;
	(void)code;
	free(arg);                   /* the subscription ends after this */
}

static const struct ws_handler pubsub_ws_handler = {
	.on_open = ws_opened,
	.on_message = ws_message,
	.on_close = ws_closed,
};

/* ?after=ID of the query, else Last-Event-ID. */
static uint64_t
ws_after(const struct http_request *req)
{
	const char *q = req->query, *end, *v;
	uint64_t id = 0;

	if (q == NULL)
		return channel_last_event_id(req);
	end = q + req->query_len;
	for (v = q; v < end; v++) {
		if ((v != q && v[-1] != '&') || (size_t)(end - v) < 6 ||
		    memcmp(v, "after=", 6) != 0)
			continue;
		for (v += 6; v < end && *v >= '0' && *v <= '9' &&
		    id < UINT64_MAX / 10; v++)
			id = id * 10 + (uint64_t)(*v - '0');
		return id;
	}
	return channel_last_event_id(req);
}

static void
subscribe_ws(const struct pubsub *ps, struct http_request *req,
    struct http_response *resp, const char *name, size_t len)
{
	struct pubsub_ws *p = malloc(sizeof(*p) + len);

	if (p == NULL) {
		text(resp, 503, LIT("out of memory\n"));
		return;
	}
	p->ch = req->channels;
	p->after = ws_after(req);
	p->publish = ps->publish;
	p->name_len = len;
	memcpy(p->name, name, len);
	if (http_websocket_accept(req, resp, &pubsub_ws_handler, p, NULL) == -1)
		free(p);                 /* resp is the refusal */
}

/* ---- publishing ------------------------------------------------------------- */

/* Why publishing failed, as the answer. */
static void
publish_failed(struct http_response *resp, int err)
{
	switch (err) {
	case EMSGSIZE:
		text(resp, 413, LIT("message too large for the channels' "
		    "max_message\n"));
		return;
	case EINVAL:
		text(resp, 400, LIT("bad channel name\n"));
		return;
	case ETIMEDOUT:
		text(resp, 504, LIT("channels: no answer in time\n"));
		return;
	default:
		text(resp, 503, LIT("channels: unavailable\n"));
		http_response_header(resp, "Retry-After", "1");
		return;
	}
}

static void
published(void *arg, int err, uint64_t id)
{
	struct http_deferred *d = arg;
	struct http_response *resp = http_deferred_response(d);

	if (http_deferred_cancelled(d)) {
		http_deferred_release(d);
		return;
	}
	if (err != 0)
		publish_failed(resp, err);
	else if (buf_printf(&resp->body_buf, "{\"id\":%llu}\n",
	    (unsigned long long)id) == -1)
		text(resp, 500, LIT("out of memory\n"));
	else
		http_response_buf(resp, 200, "application/json");
	http_deferred_send(d);
}

static void
publish(struct http_request *req, struct http_response *resp,
    const char *name, size_t len)
{
	struct http_deferred *d;

	if ((d = http_defer(req, resp, NULL, NULL)) == NULL) {
		text(resp, 500, LIT("out of memory\n"));
		return;
	}
	/* The outcome comes later, on the loop: never inside the call. */
	if (channel_publish(req->channels, name, len, req->body, req->body_len,
	    CHANNEL_AUTO, published, d) == -1) {
		publish_failed(http_deferred_response(d), errno);
		http_deferred_send(d);
	}
}

/* ---- the handler -------------------------------------------------------------- */

/* Does the request ask for a WebSocket (not another upgrade: curl's
 * "Upgrade: h2c" still gets its event stream)? */
static bool
wants_websocket(const struct http_request *req)
{
	size_t len;
	const char *u = http_request_header(req, "Upgrade", &len);

	for (size_t i = 0; u != NULL && i + 9 <= len; i++)
		if (strncasecmp(u + i, "websocket", 9) == 0)
			return true;
	return false;
}

/* Does the request take server-sent events? Anything that does not name
 * some other type does. */
static bool
accepts_events(const struct http_request *req)
{
	size_t len;
	const char *a = http_request_header(req, "Accept", &len);
	static const char *const ok[] = { "text/event-stream", "text/*", "*/*" };

	if (a == NULL)
		return true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (memmem(a, len, ok[i], strlen(ok[i])) != NULL)
			return true;
	return false;
}

static void
pubsub_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	const struct pubsub *ps = state;
	const char *raw = req->path + ps->n.route_len;
	size_t rawlen = req->path_len - ps->n.route_len;
	char name[CHANNEL_NAME_MAX], decoded[3 * CHANNEL_NAME_MAX];
	bool get = strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0;
	long n;

	if (!get && !(ps->publish && strcmp(req->method, "POST") == 0)) {
		text(resp, 405, LIT("Method Not Allowed\n"));
		http_response_header(resp, "Allow", ps->publish ?
		    "GET, HEAD, POST" : "GET, HEAD");
		return;
	}
	if (req->path_len <= ps->n.route_len) {
		text(resp, 404, LIT("no channel: its name follows the route's "
		    "path\n"));
		return;
	}
	/* Each byte of the name is at most three of the path ("%2F"). */
	if (rawlen > 3 * CHANNEL_NAME_MAX) {
		text(resp, 400, LIT("channel name too long\n"));
		return;
	}
	memcpy(name, ps->n.prefix, ps->n.prefix_len);
	if ((n = options_decode(raw, rawlen, decoded)) < 0) {
		text(resp, 400, LIT("bad channel name: a bad %-escape, or %00\n"));
		return;
	}
	if (ps->n.prefix_len + (size_t)n > CHANNEL_NAME_MAX) {
		text(resp, 400, LIT("channel name too long\n"));
		return;
	}
	memcpy(name + ps->n.prefix_len, decoded, (size_t)n);
	n += (long)ps->n.prefix_len;
	if (!get)
		publish(req, resp, name, (size_t)n);
	else if (wants_websocket(req))
		subscribe_ws(ps, req, resp, name, (size_t)n);
	else if (accepts_events(req))
		channel_subscribe_sse(req->channels, req, resp, name, (size_t)n);
	else
		text(resp, 406, LIT("subscribe with Accept: text/event-stream, "
		    "or a WebSocket\n"));
}

static int
pubsub_check(const json_t *route, char *err, size_t errlen)
{
	static const char *const keys[] = { "channel_prefix", "publish", NULL };
	const char *prefix;
	bool publish;

	if (options_check_keys(route, "pubsub", keys, err, errlen) == -1 ||
	    options_prefix_route(route, "pubsub", "the channel's name", err,
	    errlen) == -1 ||
	    options_string(route, "channel_prefix", &prefix, err, errlen) == -1 ||
	    options_bool(route, "publish", true, &publish, err, errlen) == -1)
		return -1;
	if (strlen(prefix) >= CHANNEL_NAME_MAX) {
		snprintf(err, errlen, "\"channel_prefix\": expected at most %d "
		    "bytes, leaving room for a name", CHANNEL_NAME_MAX - 1);
		return -1;
	}
	return 0;
}

static int
pubsub_init(const json_t *route, void **state, char *err, size_t errlen)
{
	struct pubsub *ps;

	if (pubsub_check(route, err, errlen) == -1)
		return -1;
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (options_named_init(route, "channel_prefix", &ps->n, err,
	    errlen) == -1) {
		free(ps);
		return -1;
	}
	options_bool(route, "publish", true, &ps->publish, err, errlen);
	*state = ps;
	return 0;
}

static void
pubsub_free(void *state)
{
	struct pubsub *ps = state;

	if (ps != NULL)
		options_named_free(&ps->n);
	free(ps);
}

const struct handler_def pubsub_handler = {
	.name = "pubsub",
	.help = "channels: GET subscribes (server-sent events or WebSocket), "
	"POST publishes; the channel follows the route's path",
	.check = pubsub_check,
	.init = pubsub_init,
	.handle = pubsub_handle,
	.free = pubsub_free,
};
