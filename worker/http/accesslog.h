/*
 * accesslog — one line per answered request, in one of three formats
 * ("access_log_format"):
 *
 *   common    203.0.113.7 - - [26/Nov/2026:15:40:01 +0000] "GET /json HTTP/1.1" 200 27
 *   combined  ... 200 27 "https://example.com/" "curl/7.88.1"
 *   json      {"time":"2026-11-26T15:40:01.123Z","client":"203.0.113.7",
 *              "method":"GET","target":"/json","protocol":"HTTP/1.1",
 *              "status":200,"referer":null,"user_agent":"curl/7.88.1",
 *              "bytes":27,"duration":0.000123}            (one line)
 *
 * The client is the real client address (trusted proxies and PROXY
 * protocol applied), without its port; a Unix-socket peer with no
 * forwarded address is 0.0.0.0 in common and combined (a host field must
 * be an address for log analysers) and "unix" in json. A request refused
 * before its request line was read is logged with "-" (json: null) for the
 * request. The time is when the request began; bytes (of the body, as
 * sent) and duration are taken when the response's last byte is written,
 * streams included; a response cut short by the client's leaving is
 * logged with the bytes that got out.
 *
 * A connection keeps its responses on the way out in a queue (a struct
 * buf of its own, empty and freed while it is idle), oldest first. Their
 * places are positions in the connection's output: bytes queued on it
 * since it was accepted, files and streams included.
 *
 * Lines are buffered per worker and written with one write(2) to an
 * O_APPEND file when the buffer fills, once a second, and when the worker
 * exits, so workers never interleave partial lines and the hot path makes
 * no system call.
 */
#ifndef SHOAL_ACCESSLOG_H
#define SHOAL_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "worker/api/http.h"

struct event_base;
struct accesslog;

/* Open path for appending, lines in format (enum config_log_format), and
 * arm the flush timer on base. NULL with a reason in err on failure. */
struct accesslog *accesslog_open(const char *path, int format,
    struct event_base *base, char *err, size_t errlen);

/* A response just framed, for accesslog_push. */
struct accesslog_entry {
	const char *client;          /* as http_request.client: "1.2.3.4:5",
	                                "[::1]:5", "2001:db8::1", "unix" */
	const struct http_request *req;  /* NULL: no request line was read */
	int status;
	double began;                /* util_now() at the request's first byte */
	uint64_t body_at;            /* output position where its body starts */
	uint64_t end;                /* ... and where it ends, so far */
	bool open;                   /* a stream: end moves until it ends */
};

/* Queue e on a connection's queue. Its text is formatted now; bytes and
 * duration once it completes. */
void accesslog_push(struct accesslog *al, struct buf *queue,
    const struct accesslog_entry *e);

/* The stream of the newest entry has queued output up to end; open false:
 * it has ended. */
void accesslog_extend(struct buf *queue, uint64_t end, bool open);

/* The connection has written its output up to position sent: log every
 * entry complete by then. */
void accesslog_progress(struct accesslog *al, struct buf *queue,
    uint64_t sent);

/* The connection closes: log what is left in its queue, with the bytes
 * that got out, and free the queue. */
void accesslog_abandon(struct accesslog *al, struct buf *queue,
    uint64_t sent);

/* Flush, then reopen the file (after rotation). -1 with errno on failure. */
int accesslog_reopen(struct accesslog *al);

/* Flush and close. */
void accesslog_close(struct accesslog *al);

#endif
