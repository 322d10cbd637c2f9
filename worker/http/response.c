/*
 * response — the setters of the handler API (http.h) that need nothing of
 * the connection: status, headers, memory, JSON and file bodies.
 */
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "worker/api/http.h"

#define LIT(s) s, sizeof(s) - 1

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

static void
drop_file(struct http_response *resp)
{
	if (resp->file_fd >= 0)
		close(resp->file_fd);
	resp->file_fd = -1;
}

void
http_response_static(struct http_response *resp, int status,
    const char *content_type, const char *body, size_t len)
{
	drop_file(resp);
	resp->status = status;
	resp->content_type = content_type;
	resp->body = body;
	resp->body_len = len;
}

void
http_response_buf(struct http_response *resp, int status,
    const char *content_type)
{
	http_response_static(resp, status, content_type, resp->body_buf.p,
	    resp->body_buf.len);
}

void
http_response_json(struct http_response *resp, int status, const json_t *json)
{
	size_t n;

	resp->body_buf.len = 0;
	/* Most bodies fit the first guess; otherwise ask jansson the size. */
	if (buf_reserve(&resp->body_buf, 256) == -1)
		goto fail;
	n = json_dumpb(json, resp->body_buf.p, resp->body_buf.cap, JSON_COMPACT);
	if (n > resp->body_buf.cap) {
		if (buf_reserve(&resp->body_buf, n) == -1)
			goto fail;
		n = json_dumpb(json, resp->body_buf.p, n, JSON_COMPACT);
	}
	if (n == 0)
		goto fail;
	resp->body_buf.len = n;
	http_response_buf(resp, status, "application/json");
	return;
fail:
	http_response_static(resp, 500, "text/plain",
	    LIT("Internal Server Error"));
}

int
http_response_header(struct http_response *resp, const char *name,
    const char *value)
{
	return buf_printf(&resp->headers, "%s: %s\r\n", name, value);
}

void
http_response_file(struct http_response *resp, int status,
    const char *content_type, int fd, off_t offset, off_t len)
{
	drop_file(resp);
	resp->status = status;
	resp->content_type = content_type;
	resp->body = NULL;
	resp->body_len = 0;
	resp->file_fd = fd;
	resp->file_offset = offset;
	resp->file_len = len;
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
	case 412: return "Precondition Failed";
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
