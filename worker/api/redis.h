/*
 * redis — the handler side of the worker's Redis client (req->redis), for
 * handlers and application modules: a command goes out on the worker's
 * event loop and its reply comes back on it, to a callback. Nothing
 * waits; no hiredis header is needed (the reply is read through the
 * accessors below).
 *
 * One connection per worker, to the top-level "redis" address, made by
 * hiredis's libevent adapter on the worker's own loop. Commands are
 * pipelined on it in the order they are issued and answered in that
 * order. The connection counts as up once Redis has answered a PING.
 *
 *   - Down (a connection that failed or dropped, until the next one is
 *     up): redis_command refuses at once (NULL, errno ENOTCONN) and calls
 *     no callback, so a handler answers 503 in its own stack. The worker
 *     reconnects by itself, after reconnect_min, doubling up to
 *     reconnect_max (+-20 % jitter).
 *   - Before the first connection of the worker is up, commands wait for
 *     it (they are refused once it fails).
 *   - A command that was accepted gets its callback exactly once, on the
 *     loop, never inside redis_command: with the reply, or with an error
 *     if the connection drops first (ENOTCONN), if no reply came within
 *     command_timeout (ETIMEDOUT; the connection is then taken for stuck,
 *     dropped and made again, failing what else was in flight with
 *     ENOTCONN), or if the worker stops (ECANCELED). Unless cancelled.
 *   - redis_cancel(cmd): the callback will not run (the reply, when it
 *     comes, is discarded). For a handler whose client left: call it from
 *     the deferred response's cancel callback, then release the handle.
 *     Or keep no cancel callback and check http_deferred_cancelled in the
 *     reply's callback: a reply is never later than command_timeout.
 *
 * Blocking commands (BLPOP, SUBSCRIBE, WAIT ...) would hold up every
 * command behind them and trip command_timeout: do not send them here.
 * Publish/subscribe will get a connection of its own.
 *
 *   static void on_reply(void *arg, int err, const struct redis_reply *r)
 *   {
 *       struct http_deferred *d = arg;
 *       struct http_response *resp = http_deferred_response(d);
 *
 *       if (http_deferred_cancelled(d)) {
 *           http_deferred_release(d);
 *           return;
 *       }
 *       if (err != 0)
 *           http_response_static(resp, err == ETIMEDOUT ? 504 : 503, ...);
 *       else if (redis_reply_type(r) == REDIS_TYPE_INTEGER)
 *           ... redis_reply_integer(r) ...
 *       http_deferred_send(d);
 *   }
 *
 *   if (!redis_ready(req->redis)) { answer 503 now; return; }
 *   d = http_defer(req, resp, NULL, NULL);
 *   if (redis_command(req->redis, on_reply, d, "INCR %s", name) == NULL)
 *       ... answer through d now ...
 */
#ifndef SHOAL_API_REDIS_H
#define SHOAL_API_REDIS_H

#include <stdbool.h>
#include <stddef.h>

struct redis;                    /* the worker's client: req->redis */
struct redis_cmd;                /* one command in flight */
struct redis_reply;              /* a reply, valid during its callback */

enum redis_type {
	REDIS_TYPE_NIL,              /* no such key (GET), ... */
	REDIS_TYPE_STRING,           /* bulk string: redis_reply_str */
	REDIS_TYPE_INTEGER,          /* redis_reply_integer */
	REDIS_TYPE_ARRAY,            /* redis_reply_count, redis_reply_element */
	REDIS_TYPE_STATUS,           /* "OK", "PONG": redis_reply_str */
	REDIS_TYPE_ERROR,            /* Redis refused it ("WRONGTYPE ..."):
	                                redis_reply_str */
};

/*
 * The reply's callback. err 0: reply is Redis's answer (of any type,
 * REDIS_TYPE_ERROR included) and is freed when the callback returns.
 * Else reply is NULL and err says why: ENOTCONN, ETIMEDOUT, ECANCELED.
 */
typedef void redis_reply_fn(void *arg, int err,
    const struct redis_reply *reply);

/*
 * Issue a command in hiredis's format: %s a C string, %b a binary string
 * (pointer and size_t length), each argument one word ("SET %s %b", key,
 * val, len). Returns the command's handle, valid until its callback runs
 * or redis_cancel; NULL and errno if it was not issued: ENOTCONN (Redis is
 * down), EINVAL (r is NULL: no "redis" configured; or a bad format),
 * ENOMEM. No callback then.
 */
struct redis_cmd *redis_command(struct redis *r, redis_reply_fn *cb,
    void *arg, const char *fmt, ...);

/* The same with argc words, argv[i] of argvlen[i] bytes (binary-safe). */
struct redis_cmd *redis_commandv(struct redis *r, redis_reply_fn *cb,
    void *arg, int argc, const char *const *argv, const size_t *argvlen);

/* The callback of cmd will not run. cmd is invalid afterwards. */
void redis_cancel(struct redis_cmd *cmd);

/* True if a command issued now would be sent (connected, or the worker's
 * first connection under way); false if it would be refused. */
bool redis_ready(const struct redis *r);

/* ---- replies -------------------------------------------------------------- */

enum redis_type redis_reply_type(const struct redis_reply *rep);
/* The bytes of a STRING, STATUS or ERROR reply (len set), else NULL. */
const char *redis_reply_str(const struct redis_reply *rep, size_t *len);
/* An INTEGER reply's value, else 0. */
long long redis_reply_integer(const struct redis_reply *rep);
/* Elements of an ARRAY reply, else 0. */
size_t redis_reply_count(const struct redis_reply *rep);
/* Element i of an ARRAY reply, NULL if out of range. */
const struct redis_reply *redis_reply_element(const struct redis_reply *rep,
    size_t i);

#endif
