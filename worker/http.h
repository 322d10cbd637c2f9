/*
 * http — the request and response a handler sees.
 *
 * A handler gets the parsed request (strings are not NUL-terminated: use
 * the lengths) and fills in the response. The connection layer (conn.c)
 * frames it: status line, Server, Date, Content-Length, Connection.
 */
#ifndef SHOAL_HTTP_H
#define SHOAL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct http_request {
	const char *method;          /* "GET", NUL-terminated */
	int method_id;               /* enum http_method of http_parser.h */
	const char *target;          /* request-target as sent */
	size_t target_len;
	const char *path;            /* target up to '?' */
	size_t path_len;
	const char *query;           /* after '?', or NULL */
	size_t query_len;
	unsigned version_major;
	unsigned version_minor;
	const struct http_header *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
	bool draining;               /* the worker is shutting down */
};

struct http_response {
	int status;
	const char *content_type;    /* NULL: no Content-Type */
	struct buf headers;          /* extra header lines, each ending "\r\n" */
	const char *body;            /* static or pointing into body_buf */
	size_t body_len;
	struct buf body_buf;         /* owned body, when built at run time */
};

/* The value of the first header named name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req,
    const char *name, size_t *len);

/* A body that outlives the response (a string literal). */
void http_response_static(struct http_response *resp, int status,
    const char *content_type, const char *body, size_t len);

/* The reason phrase for status ("Not Found"), "" if unknown. */
const char *http_status_reason(int status);

/* Built-in handlers: "/" hello, "/healthz" health; 404 otherwise. */
void handlers_dispatch(const struct http_request *req,
    struct http_response *resp);

#endif
