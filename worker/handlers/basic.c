/*
 * basic — the small built-in handlers: hello, welcome, json, health, echo
 * and echo_body. Each answers at once from memory.
 */
#include <stdio.h>
#include <string.h>

#include "worker/api/http.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

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

/* The request's body as it came: an echo with nothing around it. */
static void
echo_body_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	(void)state;
	resp->body_buf.len = 0;
	if (req->body_len > 0 &&
	    buf_append(&resp->body_buf, req->body, req->body_len) == -1) {
		http_response_static(resp, 500, "text/plain",
		    LIT("Internal Server Error"));
		return;
	}
	http_response_buf(resp, 200, "application/octet-stream");
}

const struct handler_def hello_handler = {
	.name = "hello",
	.help = "200 \"Hello, World!\" (text/plain)",
	.check = options_check_none,
	.handle = hello_handle,
};

const struct handler_def welcome_handler = {
	.name = "welcome",
	.help = "an HTML welcome page for browsers, hello otherwise",
	.check = options_check_none,
	.handle = welcome_handle,
};

const struct handler_def json_handler = {
	.name = "json",
	.help = "200 {\"message\":\"Hello, World!\"}",
	.check = options_check_none,
	.init = json_init,
	.handle = json_handle,
	.free = json_free,
};

const struct handler_def health_handler = {
	.name = "health",
	.help = "200 \"ok\", 503 \"draining\" while the worker drains",
	.check = options_check_none,
	.handle = health_handle,
};

const struct handler_def echo_body_handler = {
	.name = "echo_body",
	.help = "the request body as it came (application/octet-stream)",
	.check = options_check_none,
	.handle = echo_body_handle,
};

const struct handler_def echo_handler = {
	.name = "echo",
	.help = "the request (method, path, headers, body, client) as JSON",
	.check = options_check_none,
	.handle = echo_handle,
};
