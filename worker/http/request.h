/*
 * request — reading one HTTP/1.x request off a connection: Node's
 * http_parser, its callbacks, our limits and strictness checks, and the
 * struct http_request a handler sees (worker/api/http.h).
 *
 * The parser is a library; everything shoal adds to it is here: the
 * request line must be "METHOD target HTTP/x.y" (Debian builds http_parser
 * without its strict checks), no whitespace in a header name, Host for
 * HTTP/1.1, the size limits (414, 431, 413), Expect: 100-continue (a 100,
 * or the final status at once; any other expectation 417), and the status
 * of a request the parser refuses (501 for an unknown method, 431, 400).
 * A later parser replaces this file, not the connection.
 *
 * A reader is embedded in its connection. It copies out only the request
 * being assembled (head and body), into buffers that request_release
 * frees when the connection goes idle. It tells the connection what
 * happens through the hooks, shared by a worker's readers.
 */
#ifndef SHOAL_REQUEST_H
#define SHOAL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>

#include "common/buf.h"
#include "common/config.h"
#include "worker/api/http.h"

struct request_reader;

struct request_hooks {
	const struct http_limits *limits;
	/* The first byte of a request has arrived. */
	void (*begin)(struct request_reader *r);
	/* The client waits for "100 Continue" before it sends the body (the
	 * limits are met): queue it. -1 on failure (the request gets a 500). */
	int (*send_continue)(struct request_reader *r);
	/* A whole request: answer it (request_view), and request_pause if
	 * what follows must wait. */
	void (*complete)(struct request_reader *r);
};

struct request_hdr {         /* offsets into head, which may move */
	uint32_t name_off, name_len, value_off, value_len;
};

/* Embedded in the connection; the fields are request.c's. */
struct request_reader {
	http_parser parser;          /* parser.data is the reader */
	const struct request_hooks *hooks;
	const char *feed_end;        /* end of the bytes being parsed */
	struct buf head;             /* URL, then header names and values */
	struct request_hdr *hdrs;
	size_t nhdrs, hdrs_cap;
	size_t url_len;
	struct buf body;             /* decoded (de-chunked) */
	int error_status;            /* set by a callback that refused it */
	bool in_message;             /* inside a request */
	bool in_body;                /* ... and past its head */
	bool last_was_value;         /* header callbacks: the last piece was a
	                                value */
};

enum request_fed {
	REQUEST_FED,                 /* every byte parsed; more may come */
	REQUEST_PAUSED,              /* paused by complete(); *parsed tells how
	                                far it got, the rest waits */
	REQUEST_UPGRADE,             /* a request to switch protocols */
	REQUEST_BAD,                 /* refused: answer request_error_status */
};

/* The parser's own limit on a head, from the worker's limits (the
 * parser's is global, ours are checked in the callbacks). */
void request_setup(const struct http_limits *limits);

void request_init(struct request_reader *r, const struct request_hooks *h);

/* Parse len bytes of data (which must stay put until this returns). */
enum request_fed request_feed(struct request_reader *r, const char *data,
    size_t len, size_t *parsed);

/* The status for a refused request. */
int request_error_status(const struct request_reader *r);

/*
 * The handler's view of the complete request: req's parsed fields, with
 * the headers written into hdrs (room for limits->max_headers). The
 * caller fills in the rest (client, draining, base, pool, stats).
 * Strings point into the reader: valid until the next request_feed.
 */
void request_view(const struct request_reader *r, struct http_request *req,
    struct http_header *hdrs);

/*
 * Asked of every request by its connection, so inline (a call each would
 * be a tenth of the framing's cost).
 */

/* Stop parsing after this request; resume when its answer is complete. */
static inline void
request_pause(struct request_reader *r)
{
	http_parser_pause(&r->parser, 1);
}

static inline void
request_resume(struct request_reader *r)
{
	http_parser_pause(&r->parser, 0);
}

static inline bool
request_paused(const struct request_reader *r)
{
	return HTTP_PARSER_ERRNO(&r->parser) == HPE_PAUSED;
}

/* The connection answers the request being read itself (an error): it
 * is over. */
static inline void
request_abandon(struct request_reader *r)
{
	r->in_message = false;
	r->in_body = false;
}

/* A HEAD: known once the request line got as far as the target (an
 * invalid method leaves parser.method meaningless). */
static inline bool
request_is_head(const struct request_reader *r)
{
	return r->parser.method == HTTP_HEAD && r->url_len > 0;
}

static inline bool
request_is_http10(const struct request_reader *r)
{
	return r->parser.http_minor == 0;
}

/* The connection may stay open after the request (neither the client nor
 * its version says otherwise, and it asked for no protocol switch). */
static inline bool
request_keep_alive(const struct request_reader *r)
{
	return http_should_keep_alive(&r->parser) && !r->parser.upgrade;
}

/* Free the buffers of the last request (the connection is idle). */
void request_release(struct request_reader *r);

#endif
