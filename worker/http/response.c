/*
 * response — see response.h; and the response side of the handler API
 * (worker/api/http.h): status, headers, memory, JSON, file and stream
 * bodies.
 */
#include "worker/http/response.h"

#include "worker/http/ws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LIT(s) s, sizeof(s) - 1
#define APPEND(b, lit) buf_append((b), lit, sizeof(lit) - 1)

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

/*
 * Make resp a streamed response. The stream is created here, not in
 * stream.c, so that framing (below) may call the stream module and not the
 * other way round.
 */
struct http_stream *
http_response_stream(struct http_response *resp, int status,
    const char *content_type)
{
	struct http_stream *s = stream_new();

	if (s == NULL)
		return NULL;
	http_response_static(resp, status, content_type, NULL, 0);
	resp->stream = s;
	return s;
}

const char *
http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
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
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

/* ---- framing ------------------------------------------------------------ */

void
response_clock_format(struct response_clock *clk, time_t now)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: shoal\r\nDate: ";
	char *p = clk->head200;

	clk->sec = now;
	clk->date_len = http_date_format(now, clk->date, sizeof(clk->date));
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	memcpy(p, clk->date, clk->date_len);
	p += clk->date_len;
	memcpy(p, "\r\n", 2);
	clk->head200_len = (size_t)(p + 2 - clk->head200);
}

/* Append v in decimal; -1 on allocation failure. */
static int
append_uint(struct buf *b, unsigned long long v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* The status line, Server and Date: copied for a 200, built otherwise. */
static int
append_status(struct buf *out, const struct response_clock *clk, int status)
{
	const char *reason;
	int r;

	/* Hot path: no printf; the 200 status line + Server + Date is cached. */
	if (status == 200)
		return buf_append(out, clk->head200, clk->head200_len);
	reason = http_status_reason(status);
	if (buf_reserve(out, 64 + strlen(reason) + clk->date_len) == -1)
		return -1;
	r = APPEND(out, "HTTP/1.1 ");
	r |= append_uint(out, (unsigned long long)status);
	r |= buf_append(out, " ", 1);
	r |= buf_append_str(out, reason);
	r |= APPEND(out, "\r\nServer: shoal\r\nDate: ");
	r |= buf_append(out, clk->date, clk->date_len);
	r |= APPEND(out, "\r\n");
	return r;
}

int
response_frame(struct buf *out, const struct response_clock *clk,
    struct http_response *resp, struct response_framing *f)
{
	struct http_stream *s = resp->stream;
	bool no_body = resp->status < 200 || resp->status == 204 ||
	    resp->status == 304;
	const char *connection = "";
	bool open = false;
	int r;

	f->stream = NULL;
	f->file_fd = -1;
	if (resp->close)
		f->close = true;
	if (s != NULL && f->http10 && !f->head_only)
		f->close = true;         /* no chunked in 1.0: the end is the close */
	if (f->close)
		connection = "Connection: close\r\n";
	else if (f->http10)
		connection = "Connection: keep-alive\r\n";
	r = append_status(out, clk, resp->status);
	if (r == 0 && resp->content_type != NULL) {
		r |= APPEND(out, "Content-Type: ");
		r |= buf_append_str(out, resp->content_type);
		r |= APPEND(out, "\r\n");
	}
	if (r == 0 && s != NULL && !f->http10) {
		r = APPEND(out, "Transfer-Encoding: chunked\r\n");
	} else if (r == 0 && s == NULL && !no_body) {
		r |= APPEND(out, "Content-Length: ");
		r |= append_uint(out, resp->file_fd >= 0 ?
		    (unsigned long long)resp->file_len :
		    (unsigned long long)resp->body_len);
		r |= APPEND(out, "\r\n");
	}
	if (r == 0)
		r = buf_append_str(out, connection);
	if (r == 0)
		r = buf_append(out, resp->headers.p, resp->headers.len);
	if (r == 0)
		r = buf_append(out, "\r\n", 2);
	if (r == 0 && !f->head_only && !no_body && s == NULL &&
	    resp->file_fd < 0)
		r = buf_append(out, resp->body, resp->body_len);
	if (s != NULL) {
		/* Without a head there is nothing to stream into: closed. */
		if (stream_attach(s, r == 0 ? out : NULL, !f->http10,
		    f->head_only, f->wake, f->wake_arg, &open) == -1)
			r = -1;
		if (open && r == -1)
			stream_detach(s);
		else if (open)
			f->stream = s;
		resp->stream = NULL;
	}
	if (resp->file_fd >= 0) {
		if (f->head_only || no_body || r == -1) {
			close(resp->file_fd);
		} else {
			f->file_fd = resp->file_fd;
			f->file_offset = resp->file_offset;
			f->file_len = resp->file_len;
		}
		resp->file_fd = -1;
	}
	buf_free(&resp->headers);
	buf_free(&resp->body_buf);
	return r;
}

void
response_discard(struct http_response *resp)
{
	bool open;

	if (resp->stream != NULL) {
		/* Closed before framing: the handler's writes fail, its end
		 * frees the handle. */
		stream_attach(resp->stream, NULL, false, true, NULL, NULL, &open);
		resp->stream = NULL;
	}
	if (resp->websocket != NULL) {
		ws_discard(resp->websocket, true);   /* its handler is told */
		resp->websocket = NULL;
	}
	drop_file(resp);
	buf_free(&resp->headers);
	buf_free(&resp->body_buf);
	resp->body = NULL;
	resp->body_len = 0;
}

int
response_continue(struct buf *out)
{
	return APPEND(out, "HTTP/1.1 100 Continue\r\n\r\n");
}
