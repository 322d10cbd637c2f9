/*
 * accesslog — see accesslog.h.
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

#include "common/buf.h"
#include "common/log.h"

#define ACCESSLOG_FLUSH (48 * 1024)   /* write when this much is buffered */

struct accesslog {
	char *path;
	int fd;
	struct buf lines;
	struct event *timer;
	time_t stamp_sec;
	char stamp[40];                 /* [26/Nov/2026:15:40:01 +0000] */
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
accesslog_open(const char *path, struct event_base *base, char *err,
    size_t errlen)
{
	struct accesslog *al = calloc(1, sizeof(*al));
	struct timeval tv = { 1, 0 };

	if (al == NULL || (al->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "access_log: out of memory");
		free(al);
		return NULL;
	}
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

/* Append s[0..n), with '"' and control bytes escaped (a target is the
 * client's text: it must not forge a line or a field). */
static void
append_escaped(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			buf_printf(b, "\\x%02x", ch);
		else
			buf_append(b, &s[i], 1);
	}
}

void
accesslog_write(struct accesslog *al, const char *client,
    const struct http_request *req, int status, long long bytes,
    double seconds)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now != al->stamp_sec) {
		al->stamp_sec = now;
		gmtime_r(&now, &tm);
		strftime(al->stamp, sizeof(al->stamp), "[%d/%b/%Y:%H:%M:%S +0000]",
		    &tm);
	}
	buf_printf(&al->lines, "%s - - %s \"%s ", client, al->stamp,
	    req->method);
	append_escaped(&al->lines, req->target, req->target_len);
	if (bytes >= 0)
		buf_printf(&al->lines, " HTTP/%u.%u\" %d %lld %.6f\n",
		    req->version_major, req->version_minor, status, bytes, seconds);
	else
		buf_printf(&al->lines, " HTTP/%u.%u\" %d - %.6f\n",
		    req->version_major, req->version_minor, status, seconds);
	if (al->lines.len >= ACCESSLOG_FLUSH)
		flush(al);
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
