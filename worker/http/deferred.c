/*
 * deferred — see deferred.h; the handler's side is in worker/api/http.h.
 */
#include "worker/http/deferred.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "worker/http/response.h"

struct http_deferred {
	struct http_request req;     /* a copy; its strings follow the struct */
	struct http_response resp;   /* what the handler fills in */
	void (*cancel)(void *arg);
	void *cancel_arg;
	deferred_wake_fn *wake;      /* the connection's; NULL when detached */
	void *wake_arg;
	struct event timer;          /* handler_timeout */
	bool held;                   /* the handler has not let go yet */
	bool answered;               /* ... and it let go with a send */
	bool gone;                   /* the engine let go: answers are discarded */
	bool timing;                 /* timer is armed */
};

/* Copy n bytes of s to *at and return the copy ("" for none). */
static const char *
copy_str(char **at, const char *s, size_t n)
{
	char *p = *at;

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	*at += n + 1;
	return p;
}

/* One block: the handle, the header array, then every string of req. */
static struct http_deferred *
deferred_new(const struct http_request *req)
{
	size_t client_len = req->client ? strlen(req->client) : 0;
	size_t hdrs_off, strs_off, size;
	struct http_header *hdrs;
	struct http_deferred *d;
	char *at;

	hdrs_off = (sizeof(*d) + alignof(struct http_header) - 1) &
	    ~(alignof(struct http_header) - 1);
	strs_off = hdrs_off + req->nheaders * sizeof(*hdrs);
	size = strs_off + req->target_len + 1 + req->body_len + 1 +
	    client_len + 1;
	for (size_t i = 0; i < req->nheaders; i++)
		size += req->headers[i].name_len + req->headers[i].value_len + 2;
	if ((d = calloc(1, size)) == NULL)
		return NULL;
	hdrs = (struct http_header *)(void *)((char *)d + hdrs_off);
	at = (char *)d + strs_off;

	d->req = *req;
	d->req.target = copy_str(&at, req->target, req->target_len);
	/* The path lies in the target, but for the "/" of an absolute-form
	 * target without one (request.c), a string of static storage. */
	if ((uintptr_t)req->path - (uintptr_t)req->target <= req->target_len)
		d->req.path = d->req.target + (req->path - req->target);
	if (req->query != NULL)
		d->req.query = d->req.target + (req->query - req->target);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		hdrs[i].name = copy_str(&at, h->name, h->name_len);
		hdrs[i].name_len = h->name_len;
		hdrs[i].value = copy_str(&at, h->value, h->value_len);
		hdrs[i].value_len = h->value_len;
	}
	d->req.headers = hdrs;
	d->req.body = req->body ? copy_str(&at, req->body, req->body_len) : NULL;
	d->req.client = req->client ? copy_str(&at, req->client, client_len) :
	    NULL;
	d->resp.file_fd = -1;
	return d;
}

static void
deferred_free(struct http_deferred *d)
{
	if (d->timing)
		event_del(&d->timer);
	/* An answer the engine framed is empty now; any other is dropped. */
	response_discard(&d->resp);
	free(d);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http_deferred *d = arg;

	(void)fd;
	(void)what;
	d->timing = false;
	/* The connection answers 504 and detaches; the handler still holds
	 * d (it would have been woken otherwise), so d is alive here. */
	d->wake(d->wake_arg, d, DEFERRED_TIMEOUT);
	if (d->cancel != NULL)
		d->cancel(d->cancel_arg);    /* may release d: touch it no more */
}

/* The handler let go (send or release): tell the connection, if any. */
static void
let_go(struct http_deferred *d, bool answered)
{
	if (!d->held)
		return;                  /* a second send or release: ignored */
	d->held = false;
	d->answered = answered;
	if (d->wake != NULL)
		d->wake(d->wake_arg, d, answered ? DEFERRED_ANSWER :
		    DEFERRED_DROPPED);   /* ... which detaches, and so frees */
	else if (d->gone)
		deferred_free(d);
	/* else: still inside the handler; deferred_attach takes it. */
}

/* ---- the connection's side ---------------------------------------------- */

void
deferred_attach(struct http_deferred *d, deferred_wake_fn *wake, void *arg,
    const struct timeval *timeout)
{
	d->wake = wake;
	d->wake_arg = arg;
	if (!d->held) {
		wake(arg, d, d->answered ? DEFERRED_ANSWER : DEFERRED_DROPPED);
		return;
	}
	if (timeout != NULL && d->req.base != NULL) {
		evtimer_assign(&d->timer, d->req.base, on_timeout, d);
		if (evtimer_add(&d->timer, timeout) == 0)
			d->timing = true;
	}
}

void
deferred_detach(struct http_deferred *d)
{
	d->wake = NULL;
	d->gone = true;
	if (d->timing) {
		event_del(&d->timer);
		d->timing = false;
	}
	if (!d->held)
		deferred_free(d);
}

void
deferred_cancel(struct http_deferred *d)
{
	bool tell = d->held && d->cancel != NULL;

	deferred_detach(d);
	if (tell)
		d->cancel(d->cancel_arg);
}

/* ---- the handler's side (worker/api/http.h) ----------------------------- */

struct http_deferred *
http_defer(struct http_request *req, struct http_response *resp,
    void (*cancel)(void *arg), void *arg)
{
	struct http_deferred *d;

	if (resp->deferred != NULL)
		return NULL;             /* one handle per response */
	if ((d = deferred_new(req)) == NULL)
		return NULL;
	/* What the handler set so far (headers, say) carries over. */
	d->resp = *resp;
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
	resp->deferred = d;
	d->cancel = cancel;
	d->cancel_arg = arg;
	d->held = true;
	return d;
}

struct http_request *
http_deferred_request(struct http_deferred *d)
{
	return &d->req;
}

struct http_response *
http_deferred_response(struct http_deferred *d)
{
	return &d->resp;
}

bool
http_deferred_cancelled(const struct http_deferred *d)
{
	return d->gone;
}

void
http_deferred_send(struct http_deferred *d)
{
	let_go(d, true);
}

void
http_deferred_release(struct http_deferred *d)
{
	let_go(d, false);
}
