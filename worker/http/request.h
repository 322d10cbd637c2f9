/*
 * request — reading HTTP/1.x requests off a connection: bytes in, whole
 * requests out (struct http_request, worker/api/http.h), or a refusal
 * with its status. shoal's own strict parser: the head is head.c's; this
 * file frames messages over reads (where a head starts and ends, the
 * body by Content-Length or chunked, pipelining), applies the limits,
 * answers Expect: 100-continue through a hook, and builds the handler's
 * view.
 *
 * Zero-copy: a request that arrives within one read is parsed where it
 * lies and handed to the connection pointing into those bytes; only the
 * part of a request that spans reads is copied, into per-connection
 * buffers that request_release frees when the connection goes idle.
 *
 * What a refused request gets: 400 for anything off the grammar or
 * ambiguous (head.h lists the reasons; chunk sizes and extensions, chunk
 * data not followed by CRLF), 414/431/413 over the limits, 501 for an
 * unknown method or transfer coding, 505 for a version other than 1.x,
 * 417 for an expectation other than 100-continue. A refusal is final:
 * the connection answers it and closes.
 */
#ifndef SHOAL_REQUEST_H
#define SHOAL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/method.h"
#include "worker/api/http.h"
#include "worker/http/head.h"

struct request_reader;
struct request_spill;

/* Shared by a worker's readers. */
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
	/* Room for limits->max_headers fields, where a request that is read
	 * within one request_feed keeps its fields (request_setup). */
	struct head_field *scratch;
};

/* Embedded in the connection; the fields are request.c's. */
struct request_reader {
	const struct request_hooks *hooks;
	struct head head;            /* the head's scan, what it says, and
	                                the status of a refusal */
	const char *hbase;           /* the head, in the bytes being fed, or
	                                NULL: in the spill, once it spans
	                                reads (and a trailer section after) */
	const char *body_at;         /* the body, in the bytes being fed, or
	                                NULL: in the spill (decoded, if
	                                chunked) */
	struct request_spill *spill; /* request.c's copies: NULL until needed
	                                (fields_own: the fields are there, else
	                                in hooks->scratch) */
	uint64_t remaining;          /* body or chunk bytes still due */
	uint16_t chunk_line;         /* bytes of the chunk-size line so far */
	uint8_t phase, cstate, size_digits;
	bool fields_own;
	bool in_message;             /* inside a request */
	bool in_body;                /* ... and past its head */
	bool paused;
	bool keep_alive;             /* of the last complete head */
	bool upgrade;                /* ... which asks to switch protocols */
};

enum request_fed {
	REQUEST_FED,                 /* every byte parsed; more may come */
	REQUEST_PAUSED,              /* paused by complete(); *parsed tells how
	                                far it got, the rest waits */
	REQUEST_UPGRADE,             /* a request to switch protocols (Upgrade,
	                                CONNECT) was answered; the bytes from
	                                *parsed on are not HTTP */
	REQUEST_BAD,                 /* refused: answer request_error_status */
};

/* Allocate h->scratch for h->limits; -1 on failure. */
int request_setup(struct request_hooks *h);
void request_teardown(struct request_hooks *h);

void request_init(struct request_reader *r, const struct request_hooks *h);

/* Parse len bytes of data (which must stay put until this returns). */
enum request_fed request_feed(struct request_reader *r, const char *data,
    size_t len, size_t *parsed);

/* The status for a refused request, and why (for logs and tests). */
int request_error_status(const struct request_reader *r);
enum head_why request_error_code(const struct request_reader *r);
const char *request_error_why(const struct request_reader *r);

/*
 * The handler's view of the complete request: req's parsed fields, with
 * the headers written into hdrs (room for limits->max_headers). The
 * caller fills in the rest (client, draining, base, pool, stats).
 * Strings point into the bytes being fed or the reader's buffers: valid
 * while complete() runs.
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
	r->paused = true;
}

static inline void
request_resume(struct request_reader *r)
{
	r->paused = false;
}

static inline bool
request_paused(const struct request_reader *r)
{
	return r->paused;
}

/* The connection answers the request being read itself (an error): it
 * is over. */
static inline void
request_abandon(struct request_reader *r)
{
	r->in_message = false;
	r->in_body = false;
}

/* A HEAD: known once the request line got past the method. */
static inline bool
request_is_head(const struct request_reader *r)
{
	return r->head.method == METHOD_HEAD;
}

static inline bool
request_is_http10(const struct request_reader *r)
{
	return r->head.minor == 0;
}

/* The connection may stay open after the request (neither the client nor
 * its version says otherwise, and it asked for no protocol switch). */
static inline bool
request_keep_alive(const struct request_reader *r)
{
	return r->keep_alive;
}

/* The request asks to switch protocols: Connection: upgrade with an
 * Upgrade field (its value says to what) in HTTP/1.1, or CONNECT. */
static inline bool
request_upgrade(const struct request_reader *r)
{
	return r->upgrade;
}

/* Free the buffers of the last request (the connection is idle). */
void request_release(struct request_reader *r);

#endif
