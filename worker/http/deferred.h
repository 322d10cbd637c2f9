/*
 * deferred — the handles of deferred responses (http_defer in
 * worker/api/http.h): a handler returns without answering and answers
 * later, from any event of the worker's loop.
 *
 * A handle has two owners. The handler holds it from http_defer until it
 * calls http_deferred_send or http_deferred_release; the engine holds it
 * from deferred_attach until it has taken the answer or given up
 * (deferred_detach, deferred_cancel). It is freed when both have let go,
 * so every order is safe: a send after the client left is discarded, a
 * release while the client waits is answered 500, a timeout answers 504
 * and a late send is discarded.
 *
 * The request is copied into the handle at http_defer (one allocation),
 * so its strings stay valid until the handler lets go, whatever happens
 * to the connection meanwhile. The handle knows no connection: it tells
 * its connection through the callback given to deferred_attach.
 */
#ifndef SHOAL_DEFERRED_H
#define SHOAL_DEFERRED_H

#include <stdbool.h>
#include <sys/time.h>

#include "worker/api/http.h"

/* What the handler did, told to the attached connection. */
enum deferred_event {
	DEFERRED_ANSWER,             /* the response is ready: frame it */
	DEFERRED_DROPPED,            /* released without an answer: 500 */
	DEFERRED_TIMEOUT,            /* handler_timeout passed: 504 */
};

/*
 * Called on the loop. The connection answers (from http_deferred_response
 * for DEFERRED_ANSWER) and then calls deferred_detach(d) before it
 * returns; for DEFERRED_TIMEOUT the handler's cancel callback runs after.
 */
typedef void deferred_wake_fn(void *arg, struct http_deferred *d,
    enum deferred_event ev);

/*
 * The connection takes d (from resp->deferred once the handler returned):
 * wake(arg, d, ...) when the handler answers or lets go, or when timeout
 * (NULL: none) passes first. If the handler already answered or released
 * inside the handler, wake runs now, before this returns.
 */
void deferred_attach(struct http_deferred *d, deferred_wake_fn *wake,
    void *arg, const struct timeval *timeout);

/* The connection is done with d (it framed the answer, or the 500/504):
 * no more wakes; d is freed if the handler has let go too. */
void deferred_detach(struct http_deferred *d);

/*
 * The connection is gone (client left, worker stopping) before an answer:
 * detach, and tell the handler through its cancel callback if it still
 * holds d (which then stays valid until it sends or releases).
 */
void deferred_cancel(struct http_deferred *d);

#endif
