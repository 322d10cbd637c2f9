/*
 * handlers — the registry of handlers a route can name, and the small
 * built-in ones: hello, welcome, json, health, echo and ticker (a streamed
 * server-sent-events demo). The static file handler lives in static.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <event2/event.h>

#include "worker/api/http.h"
#include "worker/handlers/metrics.h"
#include "worker/services/pool.h"
#include "worker/handlers/static.h"

#define LIT(s) s, sizeof(s) - 1

/* Keys of a route object that belong to the config module, not the handler. */
static const char *const route_keys[] = { "path", "match", "methods",
    "handler", NULL };

static bool
in_list(const char *key, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/* Refuse keys that are neither the route's nor in allowed (may be NULL). */
static int
check_keys(const json_t *route, const char *handler, const char *const *allowed,
    char *err, size_t errlen)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)(uintptr_t)route, key, value) {
		(void)value;
		if (!in_list(key, route_keys) && !in_list(key, allowed)) {
			snprintf(err, errlen, "\"%s\": unknown key for handler %s",
			    key, handler);
			return -1;
		}
	}
	return 0;
}

/* Read a number option in [min, max], or def when absent. */
static int
number_option(const json_t *route, const char *key, double min, double max,
    double def, double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(route, key);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v) || json_number_value(v) < min ||
	    json_number_value(v) > max) {
		snprintf(err, errlen, "\"%s\": expected a number from %g to %g",
		    key, min, max);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static int
check_plain(const json_t *route, char *err, size_t errlen)
{
	return check_keys(route, json_string_value(json_object_get(route,
	    "handler")), NULL, err, errlen);
}

/* ---- hello, welcome, json, health -------------------------------------- */

static void
hello_handle(struct http_request *req, struct http_response *resp, void *state)
{
	(void)req;
	(void)state;
	http_response_static(resp, 200, "text/plain", LIT("Hello, World!"));
}

static const char welcome_page[] =
"<!doctype html>\n"
"<html lang=\"en\"><head><meta charset=\"utf-8\"><title>shoal</title>\n"
"<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;"
"padding:0 1em;color:#123}code{background:#eef3f7;padding:0 .3em}</style>\n"
"</head><body>\n"
"<h1>shoal is running</h1>\n"
"<p>A pre-forking, clustered HTTP/1.1 server: one master, one worker per "
"CPU core, sharing the load through <code>SO_REUSEPORT</code>.</p>\n"
"<ul>\n"
"<li><a href=\"/json\"><code>/json</code></a> &mdash; a JSON hello</li>\n"
"<li><a href=\"/healthz\"><code>/healthz</code></a> &mdash; health check "
"(503 while draining)</li>\n"
"<li><a href=\"/echo\"><code>/echo</code></a> &mdash; your request, as JSON"
"</li>\n"
"</ul>\n"
"<p>Configure routes in a JSON file and run <code>shoal -c FILE</code>; see "
"the README.</p>\n"
"</body></html>\n";

/*
 * "/" of the default config: browsers (Accept: text/html) get a welcome
 * page, everything else the plain hello that benchmarks and scripts expect.
 */
static void
welcome_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	const char *accept;
	size_t len;

	accept = http_request_header(req, "Accept", &len);
	if (accept != NULL && memmem(accept, len, LIT("text/html")) != NULL)
		http_response_static(resp, 200, "text/html; charset=utf-8",
		    welcome_page, sizeof(welcome_page) - 1);
	else
		hello_handle(req, resp, state);
}

/* The document is built once per worker; jansson serialises it for every
 * request, as a real handler would serialise its data. */
static int
json_init(const json_t *route, void **state, char *err, size_t errlen)
{
	(void)route;
	if ((*state = json_pack("{s:s}", "message", "Hello, World!")) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void
json_handle(struct http_request *req, struct http_response *resp, void *state)
{
	(void)req;
	http_response_json(resp, 200, state);
}

static void
json_free(void *state)
{
	json_decref(state);
}

static void
health_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	(void)state;
	/* A draining worker says so, for load balancers' health checks. */
	if (req->draining)
		http_response_static(resp, 503, "text/plain", LIT("draining"));
	else
		http_response_static(resp, 200, "text/plain", LIT("ok"));
}

/* ---- echo --------------------------------------------------------------- */

static json_t *
string_or_null(const char *s, size_t len)
{
	json_t *j = s ? json_stringn(s, len) : NULL;   /* NULL if not UTF-8 */

	return j ? j : json_null();
}

/* The request as JSON: handy to see what a proxy in front forwards. */
static void
echo_handle(struct http_request *req, struct http_response *resp, void *state)
{
	json_t *obj, *headers;

	(void)state;
	headers = json_array();
	for (size_t i = 0; headers != NULL && i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		json_array_append_new(headers, json_pack("[oo]",
		    string_or_null(h->name, h->name_len),
		    string_or_null(h->value, h->value_len)));
	}
	obj = json_pack("{s:s, s:o, s:o, s:s+, s:o, s:o, s:I, s:s}",
	    "method", req->method,
	    "path", string_or_null(req->path, req->path_len),
	    "query", string_or_null(req->query, req->query_len),
	    "version", "HTTP/", req->version_minor ? "1.1" : "1.0",
	    "headers", headers ? headers : json_array(),
	    "body", string_or_null(req->body ? req->body : "", req->body_len),
	    "body_length", (json_int_t)req->body_len,
	    "client", req->client ? req->client : "");
	if (obj == NULL) {
		http_response_static(resp, 500, "text/plain",
		    LIT("Internal Server Error"));
		return;
	}
	http_response_json(resp, 200, obj);
	json_decref(obj);
}

/* ---- ticker: a streamed response --------------------------------------- */

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

	if (check_keys(route, "ticker", ticker_keys, err, errlen) == -1 ||
	    number_option(route, "interval", 0.001, 3600, 1, &d, err,
	    errlen) == -1 ||
	    number_option(route, "count", 1, 1e9, 10, &d, err, errlen) == -1)
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
	number_option(route, "interval", 0.001, 3600, 1, &tc->interval, err,
	    errlen);
	number_option(route, "count", 1, 1e9, 10, &tc->count, err, errlen);
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

/* ---- primes: CPU-heavy work on the worker's thread pool ----------------- */

struct primes_job {
	struct http_stream *stream;
	unsigned long n;
	unsigned long count;
	double seconds;
};

/* On a pool thread: count the primes below n (sieve of Eratosthenes). */
static void
primes_work(void *arg)
{
	struct primes_job *j = arg;
	struct timespec t0, t1;
	unsigned char *composite;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((composite = calloc(j->n + 1, 1)) != NULL) {
		for (unsigned long i = 2; i < j->n; i++) {
			if (composite[i])
				continue;
			j->count++;
			for (unsigned long k = i * i; i <= j->n / i && k < j->n; k += i)
				composite[k] = 1;
		}
		free(composite);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Back on the loop: answer. */
static void
primes_done(void *arg)
{
	struct primes_job *j = arg;
	char out[160];
	int len;

	len = snprintf(out, sizeof(out), "{\"n\":%lu,\"primes\":%lu,"
	    "\"seconds\":%.6f}\n", j->n, j->count, j->seconds);
	if (!http_stream_closed(j->stream))
		http_stream_write(j->stream, out, (size_t)len);
	http_stream_end(j->stream);
	free(j);
}

/*
 * GET /primes?n=N: the number of primes below N (at most 10^8), computed on
 * the worker's thread pool while the event loop goes on serving. A demo of
 * offloading, and a handy way to load a CPU.
 */
static void
primes_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	struct primes_job *j;
	unsigned long n = 100000;
	const char *q = req->query;

	(void)state;
	if (q != NULL && req->query_len > 2 && strncmp(q, "n=", 2) == 0) {
		char num[24];
		size_t len = req->query_len - 2;
		char *end;

		if (len >= sizeof(num))
			len = sizeof(num) - 1;
		memcpy(num, q + 2, len);
		num[len] = '\0';
		n = strtoul(num, &end, 10);
		if (*end != '\0' || n > 100000000UL) {
			http_response_static(resp, 400, "text/plain",
			    LIT("n must be an integer up to 100000000\n"));
			return;
		}
	}
	if (pool_full(req->pool)) {
		http_response_static(resp, 503, "text/plain",
		    LIT("busy: too much work queued\n"));
		http_response_header(resp, "Retry-After", "1");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->stream = http_response_stream(resp, 200,
	    "application/json")) == NULL) {
		free(j);
		http_response_static(resp, 500, "text/plain",
		    LIT("Internal Server Error"));
		return;
	}
	j->n = n;
	if (pool_submit(req->pool, primes_work, primes_done, j) == -1) {
		http_stream_end(j->stream);
		free(j);
	}
}

/* ---- the registry ------------------------------------------------------- */

static const struct handler_def builtin[] = {
	{ "hello", "200 \"Hello, World!\" (text/plain)", check_plain, NULL,
	    hello_handle, NULL },
	{ "welcome", "an HTML welcome page for browsers, hello otherwise",
	    check_plain, NULL, welcome_handle, NULL },
	{ "json", "200 {\"message\":\"Hello, World!\"}", check_plain,
	    json_init, json_handle, json_free },
	{ "health", "200 \"ok\", 503 \"draining\" while the worker drains",
	    check_plain, NULL, health_handle, NULL },
	{ "echo", "the request (method, path, headers, body, client) as JSON",
	    check_plain, NULL, echo_handle, NULL },
	{ "ticker", "server-sent events: \"count\" ticks every \"interval\" s",
	    ticker_check, ticker_init, ticker_handle, free },
	{ "primes", "primes below ?n=N, counted on the worker's thread pool",
	    check_plain, NULL, primes_handle, NULL },
};

const struct handler_def *
handlers_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i].name, name) == 0)
			return &builtin[i];
	if (strcmp(static_handler.name, name) == 0)
		return &static_handler;
	if (strcmp(metrics_handler.name, name) == 0)
		return &metrics_handler;
	return NULL;
}

int
handlers_check_route(const json_t *route, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(route, "handler"));
	const struct handler_def *def = handlers_find(name);

	if (def == NULL) {
		snprintf(err, errlen, "\"handler\": unknown handler \"%s\"",
		    name ? name : "");
		return -1;
	}
	return def->check != NULL ? def->check(route, err, errlen) : 0;
}
