/*
 * accesslog — see accesslog.h.
 *
 * An entry's line is written in three parts: the text known when the
 * response is framed (everything before the byte count), the byte count
 * and the rest known then (combined's referer and user agent), and, for
 * json, the duration. The queue holds each entry as a struct pending
 * followed by its text.
 */
#include "worker/http/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"

#define ACCESSLOG_FLUSH (48 * 1024)   /* write when this much is buffered */

struct accesslog {
	char *path;
	int fd;
	int format;                     /* enum config_log_format */
	struct buf lines;
	struct event *timer;
	time_t stamp_sec;
	char stamp[40];                 /* [26/Nov/2026:15:40:01 +0000] or
	                                   2026-11-26T15:40:01 */
};

/* An entry of a connection's queue; its text follows it. */
struct pending {
	uint64_t body_at, end;
	double began;
	uint32_t split;                 /* the byte count goes here */
	uint32_t len;                   /* of the text */
	bool open;
};

static void
flush(struct accesslog *al)
{
	if (al->lines.len == 0)
		return;
	/* One write: O_APPEND keeps whole lines of several workers apart. */
	if (write(al->fd, al->lines.p, al->lines.len) == -1)
		log_warn("write(%s): %s; %zu bytes of access log lost", al->path,
		    strerror(errno), al->lines.len);
	al->lines.len = 0;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush(arg);
}

struct accesslog *
accesslog_open(const char *path, int format, struct event_base *base,
    char *err, size_t errlen)
{
	struct accesslog *al = calloc(1, sizeof(*al));
	struct timeval tv = { 1, 0 };

	if (al == NULL || (al->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "access_log: out of memory");
		free(al);
		return NULL;
	}
	al->format = format;
	al->stamp_sec = -1;
	al->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (al->fd == -1) {
		snprintf(err, errlen, "open(%s): %s", path, strerror(errno));
		goto err;
	}
	al->timer = event_new(base, -1, EV_PERSIST, on_timer, al);
	if (al->timer == NULL || event_add(al->timer, &tv) == -1) {
		snprintf(err, errlen, "access_log: cannot arm the flush timer");
		goto err;
	}
	return al;
err:
	accesslog_close(al);
	return NULL;
}

/* ---- escaping ----------------------------------------------------------- */

/* s[0..n) for a quoted field of common/combined: '"', '\', control bytes
 * and bytes past ASCII as \xHH, as NGINX does: the client's text must not
 * forge a line or a field, and the log stays ASCII. */
static void
clf_escaped(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			buf_printf(b, "\\x%02x", ch);
		else
			buf_append(b, &s[i], 1);
	}
}

/* The length of the valid UTF-8 sequence at s[0..n), or 0 if none starts
 * there (overlong forms, surrogates and values past U+10FFFF are not). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * s[0..n) as a JSON string, quotes included. Valid UTF-8 passes; '"', '\'
 * and control characters are escaped; a byte that starts no valid UTF-8
 * sequence becomes \u00XX (that byte as a code point), so the line is
 * valid JSON whatever the client sent. NULL s: null.
 */
static void
json_escaped(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, len;

	if (s == NULL) {
		buf_append(b, "null", 4);
		return;
	}
	buf_append(b, "\"", 1);
	for (i = 0; i < n; i += len) {
		len = utf8_len(u + i, n - i);
		if (len > 1) {
			buf_append(b, s + i, len);
			continue;
		}
		len = 1;
		if (u[i] == '"' || u[i] == '\\')
			buf_printf(b, "\\%c", u[i]);
		else if (u[i] < 0x20 || u[i] >= 0x7f)
			buf_printf(b, "\\u%04x", u[i]);
		else
			buf_append(b, s + i, 1);
	}
	buf_append(b, "\"", 1);
}

/* ---- the fields --------------------------------------------------------- */

/*
 * The client's address without its port: "1.2.3.4:5" -> "1.2.3.4",
 * "[::1]:5" -> "::1", a bare address as it is; "unix" -> unix_as.
 */
static void
host_of(const char *client, const char *unix_as, char *out, size_t len)
{
	const char *end;

	if (strcmp(client, "unix") == 0)
		snprintf(out, len, "%s", unix_as);
	else if (client[0] == '[' && (end = strchr(client, ']')) != NULL)
		snprintf(out, len, "%.*s", (int)(end - client - 1), client + 1);
	else if ((end = strchr(client, ':')) != NULL && strchr(end + 1, ':') ==
	    NULL)
		snprintf(out, len, "%.*s", (int)(end - client), client);
	else
		snprintf(out, len, "%s", client);
}

static const char *
header(const struct http_request *req, const char *name, size_t *len)
{
	return req != NULL ? http_request_header(req, name, len) : NULL;
}

/* The request's time in this format's form, cached for a second. */
static const char *
stamp(struct accesslog *al, double t)
{
	time_t sec = (time_t)t;
	struct tm tm;

	if (sec != al->stamp_sec) {
		al->stamp_sec = sec;
		gmtime_r(&sec, &tm);
		strftime(al->stamp, sizeof(al->stamp), al->format ==
		    CONFIG_LOG_JSON ? "%Y-%m-%dT%H:%M:%S" :
		    "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
	}
	return al->stamp;
}

/* common and combined: everything up to the byte count, then the rest;
 * the request began at wall-clock time t. */
static void
format_clf(struct accesslog *al, struct buf *b, const struct accesslog_entry *e,
    double t, size_t *split)
{
	const struct http_request *req = e->req;
	char host[64];
	const char *v;
	size_t len;

	host_of(e->client, "0.0.0.0", host, sizeof(host));
	buf_printf(b, "%s - - %s \"", host, stamp(al, t));
	if (req != NULL) {
		buf_printf(b, "%s ", req->method);
		clf_escaped(b, req->target, req->target_len);
		buf_printf(b, " HTTP/%u.%u", req->version_major,
		    req->version_minor);
	} else {
		buf_append(b, "-", 1);
	}
	buf_printf(b, "\" %d ", e->status);
	*split = b->len;
	if (al->format != CONFIG_LOG_COMBINED)
		return;
	for (int i = 0; i < 2; i++) {
		v = header(req, i == 0 ? "Referer" : "User-Agent", &len);
		buf_append(b, " \"", 2);
		if (v != NULL)
			clf_escaped(b, v, len);
		else
			buf_append(b, "-", 1);
		buf_append(b, "\"", 1);
	}
}

/* json: everything up to the byte count (and the duration, at the end). */
static void
format_json(struct accesslog *al, struct buf *b,
    const struct accesslog_entry *e, double t, size_t *split)
{
	const struct http_request *req = e->req;
	char host[64], proto[16];
	const char *v;
	size_t len;

	host_of(e->client, "unix", host, sizeof(host));
	buf_printf(b, "{\"time\":\"%s.%03dZ\",\"client\":", stamp(al, t),
	    (int)((t - (double)(time_t)t) * 1000));
	json_escaped(b, host, strlen(host));
	buf_append_str(b, ",\"method\":");
	json_escaped(b, req ? req->method : NULL, req ? strlen(req->method) : 0);
	buf_append_str(b, ",\"target\":");
	json_escaped(b, req ? req->target : NULL, req ? req->target_len : 0);
	buf_append_str(b, ",\"protocol\":");
	if (req != NULL) {
		snprintf(proto, sizeof(proto), "HTTP/%u.%u", req->version_major,
		    req->version_minor);
		json_escaped(b, proto, strlen(proto));
	} else {
		json_escaped(b, NULL, 0);
	}
	buf_printf(b, ",\"status\":%d", e->status);
	for (int i = 0; i < 2; i++) {
		v = header(req, i == 0 ? "Referer" : "User-Agent", &len);
		buf_append_str(b, i == 0 ? ",\"referer\":" : ",\"user_agent\":");
		json_escaped(b, v, len);
	}
	buf_append_str(b, ",\"bytes\":");
	*split = b->len;
}

/* ---- the queue ---------------------------------------------------------- */

void
accesslog_push(struct accesslog *al, struct buf *queue,
    const struct accesslog_entry *e)
{
	struct pending p = {
		.body_at = e->body_at, .end = e->end, .began = e->began,
		.open = e->open,
	};
	size_t at = queue->len, split = 0;
	struct timespec ts;
	double t;

	if (buf_append(queue, &p, sizeof(p)) == -1)
		return;
	/* began is on the monotonic clock: the wall clock's time of it. */
	clock_gettime(CLOCK_REALTIME, &ts);
	t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (util_now() - e->began);
	if (al->format == CONFIG_LOG_JSON)
		format_json(al, queue, e, t, &split);
	else
		format_clf(al, queue, e, t, &split);
	p.split = (uint32_t)(split - at - sizeof(p));
	p.len = (uint32_t)(queue->len - at - sizeof(p));
	memcpy(queue->p + at, &p, sizeof(p));
}

/* The newest entry of queue, or -1 if it is empty. */
static long
newest(const struct buf *queue)
{
	struct pending p;
	size_t at = 0, last = 0;

	if (queue->len == 0)
		return -1;
	while (at < queue->len) {
		last = at;
		memcpy(&p, queue->p + at, sizeof(p));
		at += sizeof(p) + p.len;
	}
	return (long)last;
}

void
accesslog_extend(struct buf *queue, uint64_t end, bool open)
{
	long at = newest(queue);
	struct pending p;

	if (at < 0)
		return;
	memcpy(&p, queue->p + at, sizeof(p));
	p.end = end;
	p.open = open;
	memcpy(queue->p + at, &p, sizeof(p));
}

/* Log the entry at the head of queue with its body's bytes, and drop it. */
static void
complete(struct accesslog *al, struct buf *queue, const struct pending *p,
    uint64_t bytes)
{
	const char *text = queue->p + sizeof(*p);

	buf_append(&al->lines, text, p->split);
	if (al->format == CONFIG_LOG_JSON)
		buf_printf(&al->lines, "%llu", (unsigned long long)bytes);
	else if (bytes > 0)
		buf_printf(&al->lines, "%llu", (unsigned long long)bytes);
	else
		buf_append(&al->lines, "-", 1);    /* CLF's "no body" */
	buf_append(&al->lines, text + p->split, p->len - p->split);
	if (al->format == CONFIG_LOG_JSON)
		buf_printf(&al->lines, ",\"duration\":%.6f}",
		    util_now() - p->began);
	buf_append(&al->lines, "\n", 1);
	memmove(queue->p, queue->p + sizeof(*p) + p->len,
	    queue->len - sizeof(*p) - p->len);
	queue->len -= sizeof(*p) + p->len;
	if (al->lines.len >= ACCESSLOG_FLUSH)
		flush(al);
}

void
accesslog_progress(struct accesslog *al, struct buf *queue, uint64_t sent)
{
	struct pending p;

	while (queue->len > 0) {
		memcpy(&p, queue->p, sizeof(p));
		if (p.open || sent < p.end)
			break;
		complete(al, queue, &p, p.end - p.body_at);
	}
	if (queue->len == 0)
		buf_free(queue);
}

void
accesslog_abandon(struct accesslog *al, struct buf *queue, uint64_t sent)
{
	struct pending p;
	uint64_t upto;

	while (queue->len > 0) {
		memcpy(&p, queue->p, sizeof(p));
		upto = sent < p.end ? sent : p.end;
		complete(al, queue, &p, upto > p.body_at ? upto - p.body_at : 0);
	}
	buf_free(queue);
}

int
accesslog_reopen(struct accesslog *al)
{
	int fd;

	flush(al);
	fd = open(al->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	close(al->fd);
	al->fd = fd;
	return 0;
}

void
accesslog_close(struct accesslog *al)
{
	if (al == NULL)
		return;
	if (al->fd >= 0)
		flush(al);
	if (al->timer != NULL)
		event_free(al->timer);
	if (al->fd >= 0)
		close(al->fd);
	buf_free(&al->lines);
	free(al->path);
	free(al);
}
