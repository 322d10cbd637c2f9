/*
 * ticker — the "ticker" handler: server-sent events on a streamed
 * (chunked) response, "count" events one per "interval" seconds, driven by
 * a timer on the worker's loop. A demo of http_response_stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <event2/event.h>

#include "worker/api/http.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

struct ticker_cfg {
	double interval;
	double count;
};

struct ticker {
	struct http_stream *stream;
	struct event *ev;
	long sent, count;
};

static const char *const ticker_keys[] = { "interval", "count", NULL };

static int
ticker_check(const json_t *route, char *err, size_t errlen)
{
	double d;

	if (options_check_keys(route, "ticker", ticker_keys, err, errlen) == -1 ||
	    options_number(route, "interval", 0.001, 3600, 1, &d, err,
	    errlen) == -1 ||
	    options_number(route, "count", 1, 1e9, 10, &d, err, errlen) == -1)
		return -1;
	return 0;
}

static int
ticker_init(const json_t *route, void **state, char *err, size_t errlen)
{
	struct ticker_cfg *tc = calloc(1, sizeof(*tc));

	if (tc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	options_number(route, "interval", 0.001, 3600, 1, &tc->interval, err,
	    errlen);
	options_number(route, "count", 1, 1e9, 10, &tc->count, err, errlen);
	*state = tc;
	return 0;
}

static void
ticker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ticker *t = arg;
	char line[96];
	int n;

	(void)fd;
	(void)what;
	n = snprintf(line, sizeof(line), "data: {\"tick\":%ld}\n\n", ++t->sent);
	if (http_stream_closed(t->stream) ||
	    http_stream_write(t->stream, line, (size_t)n) == -1 ||
	    t->sent >= t->count) {
		http_stream_end(t->stream);
		event_free(t->ev);
		free(t);
	}
}

/* Server-sent events: count ticks, one per interval, then the end. */
static void
ticker_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	const struct ticker_cfg *tc = state;
	struct ticker *t;
	struct timeval tv;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->ev = event_new(req->base, -1, EV_PERSIST, ticker_tick,
	    t)) == NULL ||
	    (t->stream = http_response_stream(resp, 200,
	    "text/event-stream")) == NULL) {
		if (t != NULL && t->ev != NULL)
			event_free(t->ev);
		free(t);
		http_response_static(resp, 500, "text/plain",
		    LIT("Internal Server Error"));
		return;
	}
	http_response_header(resp, "Cache-Control", "no-cache");
	t->count = (long)tc->count;
	tv.tv_sec = (time_t)tc->interval;
	tv.tv_usec = (suseconds_t)((tc->interval - (double)tv.tv_sec) * 1e6);
	event_add(t->ev, &tv);
}

const struct handler_def ticker_handler = {
	.name = "ticker",
	.help = "server-sent events: \"count\" ticks every \"interval\" s",
	.check = ticker_check,
	.init = ticker_init,
	.handle = ticker_handle,
	.free = free,
};
