/*
 * accesslog — one line per request, in the common log format plus the
 * time taken:
 *
 *   203.0.113.7 - - [26/Nov/2026:15:40:01 +0000] "GET /json HTTP/1.1" 200 27 0.000123
 *
 * The client is the real client address (trusted proxies and PROXY
 * protocol applied). Lines are buffered per worker and written with one
 * write(2) to an O_APPEND file when the buffer fills, once a second, and
 * when the worker exits, so workers never interleave partial lines and the
 * hot path makes no system call.
 */
#ifndef SHOAL_ACCESSLOG_H
#define SHOAL_ACCESSLOG_H

#include <stddef.h>

#include "worker/api/http.h"

struct event_base;
struct accesslog;

/* Open path for appending and arm the flush timer on base. NULL with a
 * reason in err on failure. */
struct accesslog *accesslog_open(const char *path, struct event_base *base,
    char *err, size_t errlen);

/* Record one request. bytes < 0: unknown (a streamed body). */
void accesslog_write(struct accesslog *al, const char *client,
    const struct http_request *req, int status, long long bytes,
    double seconds);

/* Flush, then reopen the file (after rotation). -1 with errno on failure. */
int accesslog_reopen(struct accesslog *al);

/* Flush and close. */
void accesslog_close(struct accesslog *al);

#endif
