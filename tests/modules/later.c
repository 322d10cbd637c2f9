/*
 * A test module of deferred responses (http_defer): the handler returns at
 * once and answers from a timer on the worker's loop.
 *
 *   "modules": [{"name": "t", "path": "build/modules/later.so"}],
 *   "routes": [{"path": "/later", "handler": "t.later"},
 *              {"path": "/later/stats", "handler": "t.stats"}]
 *
 * GET /later?ms=N&do=WHAT — after N ms (default 50):
 *   send     200 "later N" (the default)
 *   stream   200, chunked: "a", "b", "c", one per N ms
 *   release  let go without an answer (the client gets a 500)
 *   never    no answer at all (handler_timeout answers 504)
 *   now      answer inside the handler, no timer
 *   ws       accept a WebSocket handshake (an echo), from the timer
 * GET /later/stats — {"cancels": C, "pending": P, "late": L}: cancel
 * callbacks run, handles still held, answers sent after a cancel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "worker/api/module.h"
#include "worker/api/ws.h"

int shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen);

enum what { SEND, STREAM, RELEASE, NEVER, NOW, WS };

static void
ws_echo(struct ws *ws, enum ws_opcode op, const void *data, size_t len,
    void *arg)
{
	(void)arg;
	ws_send(ws, op, data, len);
}

static const struct ws_handler echo = { .on_message = ws_echo };

struct job {
	struct http_deferred *d;
	struct http_stream *stream;
	struct event *timer;
	enum what what;
	long ms;
	int chunks;
	struct job *next, **prevp;
};

static struct job *pending;
static long cancels, npending, late;

static void
job_free(struct job *j)
{
	if (j->timer != NULL)
		event_free(j->timer);
	if ((*j->prevp = j->next) != NULL)
		j->next->prevp = j->prevp;
	npending--;
	free(j);
}

/* The client left or time ran out: a "never" job lets go now; the others
 * answer on their timer, which the engine discards (counted as late). */
static void
on_cancel(void *arg)
{
	struct job *j = arg;

	cancels++;
	if (j->what == NEVER) {
		http_deferred_release(j->d);
		job_free(j);
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct http_response *resp = http_deferred_response(j->d);
	struct timeval tv = { j->ms / 1000, (j->ms % 1000) * 1000 };

	(void)fd;
	(void)what;
	if (j->stream != NULL) {
		http_stream_write(j->stream, "abc" + j->chunks, 1);
		if (++j->chunks < 3) {
			evtimer_add(j->timer, &tv);
			return;
		}
		http_stream_end(j->stream);
		job_free(j);
		return;
	}
	if (http_deferred_cancelled(j->d))
		late++;
	switch (j->what) {
	case RELEASE:
		http_deferred_release(j->d);
		break;
	case WS:
		/* Accepted later, e.g. once a backend said the client may. */
		http_websocket_accept(http_deferred_request(j->d), resp, &echo,
		    NULL, NULL);
		http_deferred_send(j->d);
		break;
	case STREAM:
		/* The deferred response becomes a stream; the handle goes to
		 * the engine with the send, the stream stays ours. */
		j->stream = http_response_stream(resp, 200, "text/plain");
		http_deferred_send(j->d);
		if (j->stream != NULL) {
			evtimer_add(j->timer, &tv);
			return;
		}
		break;
	default:
		buf_printf(&resp->body_buf, "later %ld\n", j->ms);
		http_response_buf(resp, 200, "text/plain");
		http_deferred_send(j->d);
		break;
	}
	job_free(j);
}

static long
query_long(const struct http_request *req, const char *key, long dflt)
{
	const char *q = req->query, *end = q ? q + req->query_len : NULL;
	size_t n = strlen(key);

	for (; q != NULL && q < end; q++) {
		if ((q == req->query || q[-1] == '&') &&
		    (size_t)(end - q) > n && strncmp(q, key, n) == 0 &&
		    q[n] == '=')
			return strtol(q + n + 1, NULL, 10);
	}
	return dflt;
}

static bool
query_is(const struct http_request *req, const char *kv)
{
	size_t n = strlen(kv);

	for (const char *q = req->query; q != NULL &&
	    q + n <= req->query + req->query_len; q++)
		if ((q == req->query || q[-1] == '&') && strncmp(q, kv, n) == 0 &&
		    (q + n == req->query + req->query_len || q[n] == '&'))
			return true;
	return false;
}

static void
later(struct http_request *req, struct http_response *resp, void *state)
{
	struct timeval tv;
	struct job *j;

	(void)state;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->ms = query_long(req, "ms", 50);
	j->what = query_is(req, "do=stream") ? STREAM :
	    query_is(req, "do=release") ? RELEASE :
	    query_is(req, "do=never") ? NEVER :
	    query_is(req, "do=now") ? NOW :
	    query_is(req, "do=ws") ? WS : SEND;
	if ((j->d = http_defer(req, resp, on_cancel, j)) == NULL) {
		free(j);
		goto fail;
	}
	if ((j->next = pending) != NULL)
		pending->prevp = &j->next;
	pending = j;
	j->prevp = &pending;
	npending++;
	http_response_header(http_deferred_response(j->d), "X-Later", "yes");
	if (j->what == NOW) {
		http_response_static(http_deferred_response(j->d), 200,
		    "text/plain", "now\n", 4);
		http_deferred_send(j->d);
		job_free(j);
		return;
	}
	if (j->what == NEVER)
		return;
	tv.tv_sec = j->ms / 1000;
	tv.tv_usec = (j->ms % 1000) * 1000;
	if ((j->timer = evtimer_new(req->base, on_timer, j)) == NULL ||
	    evtimer_add(j->timer, &tv) == -1) {
		http_deferred_release(j->d);
		job_free(j);
	}
	return;
fail:
	http_response_static(resp, 500, "text/plain", "no memory\n", 10);
}

static void
stats(struct http_request *req, struct http_response *resp, void *state)
{
	(void)req;
	(void)state;
	buf_printf(&resp->body_buf, "{\"cancels\": %ld, \"pending\": %ld, "
	    "\"late\": %ld}\n", cancels, npending, late);
	http_response_buf(resp, 200, "application/json");
}

static const struct handler_def later_def = {
	.name = "later",
	.help = "answers after ?ms=N from a timer (deferred response)",
	.handle = later,
};

static const struct handler_def stats_def = {
	.name = "stats",
	.help = "counters of the later handler",
	.handle = stats,
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
	if (api->add_handler(api->ctx, &later_def) == -1 ||
	    api->add_handler(api->ctx, &stats_def) == -1) {
		snprintf(err, errlen, "cannot register the handlers");
		return -1;
	}
	return 0;
}
