/*
 * handlers — the built-in handlers.
 */
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "worker/http.h"

#define LIT(s) s, sizeof(s) - 1

static bool
path_is(const struct http_request *req, const char *path)
{
	size_t n = strlen(path);

	return req->path_len == n && memcmp(req->path, path, n) == 0;
}

/* {"message":"Hello, World!"}, serialised by jansson on every request. */
static void
hello_json(struct http_response *resp)
{
	json_t *obj = json_pack("{s:s}", "message", "Hello, World!");
	size_t n;

	if (obj == NULL || (n = json_dumpb(obj, NULL, 0, JSON_COMPACT)) == 0 ||
	    buf_reserve(&resp->body_buf, n) == -1) {
		json_decref(obj);
		http_response_static(resp, 500, "text/plain",
		    LIT("Internal Server Error"));
		return;
	}
	resp->body_buf.len = json_dumpb(obj, resp->body_buf.p, n, JSON_COMPACT);
	json_decref(obj);
	http_response_static(resp, 200, "application/json", resp->body_buf.p,
	    resp->body_buf.len);
}

void
handlers_dispatch(const struct http_request *req, struct http_response *resp)
{
	if (path_is(req, "/"))
		http_response_static(resp, 200, "text/plain",
		    LIT("Hello, World!"));
	else if (path_is(req, "/json"))
		hello_json(resp);
	else if (path_is(req, "/healthz"))
		/* A draining worker says so, for load balancers' health checks. */
		if (req->draining)
			http_response_static(resp, 503, "text/plain",
			    LIT("draining"));
		else
			http_response_static(resp, 200, "text/plain", LIT("ok"));
	else
		http_response_static(resp, 404, "text/plain", LIT("Not Found"));
}

const char *
http_request_header(const struct http_request *req, const char *name,
    size_t *len)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
			if (len != NULL)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

void
http_response_static(struct http_response *resp, int status,
    const char *content_type, const char *body, size_t len)
{
	resp->status = status;
	resp->content_type = content_type;
	resp->body = body;
	resp->body_len = len;
}

const char *
http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}
