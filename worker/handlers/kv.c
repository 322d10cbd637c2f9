/*
 * kv — the "kv" handler: a key-value store over HTTP, kept in Redis
 * through the worker's client (worker/api/redis.h). The showcase of a
 * handler that asks a backend and answers later (a deferred response).
 *
 *   {"path": "/kv/", "match": "prefix", "handler": "kv", "key_prefix": "app:"}
 *
 *   PUT    /kv/KEY   the body becomes the value: 201 (new), 204 (replaced)
 *   GET    /kv/KEY   200 with the value (application/octet-stream), 404
 *   HEAD   /kv/KEY   the same without the body
 *   DELETE /kv/KEY   204, or 404 if there was none
 *
 * The Redis key is key_prefix followed by the rest of the path after the
 * route's path, percent-decoded (so any byte but NUL can be a key: 400
 * for %00 or a bad escape; an empty key is 404). Values are bytes, up to
 * max_body_size; their Content-Type is not kept. Redis down: 503 with
 * Retry-After, at once; no reply within command_timeout: 504 (and
 * handler_timeout's 504 before it, if shorter); an error reply from Redis
 * (a key holding a list, say): 502 with its text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/api/http.h"
#include "worker/api/redis.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

/* Keys up to this long are decoded on the stack. */
#define KV_KEY_STACK 512

/* PUT as one command: the value set, and whether the key was there
 * (201 or 204) told by the same atomic step. */
static const char kv_put_script[] =
    "local e = redis.call('EXISTS', KEYS[1]) "
    "redis.call('SET', KEYS[1], ARGV[1]) return e";

enum kv_op { KV_GET, KV_PUT, KV_DEL, KV_OTHER };

struct kv {
	struct options_named n;      /* the route's path, which the key
	                                follows; key_prefix */
};

static enum kv_op
kv_op(const char *method)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return KV_GET;
	if (strcmp(method, "PUT") == 0)
		return KV_PUT;
	if (strcmp(method, "DELETE") == 0)
		return KV_DEL;
	return KV_OTHER;
}

static void
kv_text(struct http_response *resp, int status, const char *text, size_t len)
{
	http_response_static(resp, status, "text/plain", text, len);
}

/* Redis cannot be asked (err from the client): 503 to retry, or 504. */
static void
kv_unavailable(struct http_response *resp, int err)
{
	if (err == ETIMEDOUT) {
		kv_text(resp, 504, LIT("redis: no reply in time\n"));
		return;
	}
	kv_text(resp, 503, LIT("redis: unavailable\n"));
	http_response_header(resp, "Retry-After", "1");
}

/* Redis's answer to the request's command, as the response. */
static void
kv_answer(struct http_response *resp, enum kv_op op,
    const struct redis_reply *rep)
{
	enum redis_type t = redis_reply_type(rep);
	long long n = redis_reply_integer(rep);
	const char *s;
	size_t len;

	if (t == REDIS_TYPE_ERROR) {
		s = redis_reply_str(rep, &len);
		if (buf_printf(&resp->body_buf, "redis: %.*s\n", (int)(len > 200 ?
		    200 : len), s) == -1)
			kv_text(resp, 500, LIT("out of memory\n"));
		else
			http_response_buf(resp, 502, "text/plain");
		return;
	}
	switch (op) {
	case KV_GET:
		if (t == REDIS_TYPE_NIL) {
			kv_text(resp, 404, LIT("no such key\n"));
			return;
		}
		if (t != REDIS_TYPE_STRING)
			break;
		s = redis_reply_str(rep, &len);
		if (len > 0 && buf_append(&resp->body_buf, s, len) == -1) {
			kv_text(resp, 500, LIT("out of memory\n"));
			return;
		}
		http_response_buf(resp, 200, "application/octet-stream");
		return;
	case KV_PUT:
		if (t != REDIS_TYPE_INTEGER)
			break;
		http_response_static(resp, n == 0 ? 201 : 204, NULL, "", 0);
		return;
	case KV_DEL:
		if (t != REDIS_TYPE_INTEGER)
			break;
		if (n == 0)
			kv_text(resp, 404, LIT("no such key\n"));
		else
			http_response_static(resp, 204, NULL, "", 0);
		return;
	case KV_OTHER:
		break;
	}
	kv_text(resp, 502, LIT("redis: unexpected reply\n"));
}

/* redis_reply_fn: back on the loop with the reply (or why there is none). */
static void
kv_reply(void *arg, int err, const struct redis_reply *rep)
{
	struct http_deferred *d = arg;
	struct http_response *resp = http_deferred_response(d);

	/* No cancel callback: a reply comes within command_timeout, and the
	 * handle is let go then. */
	if (http_deferred_cancelled(d)) {
		http_deferred_release(d);
		return;
	}
	if (err != 0)
		kv_unavailable(resp, err);
	else
		kv_answer(resp, kv_op(http_deferred_request(d)->method), rep);
	http_deferred_send(d);
}

static void
kv_handle(struct http_request *req, struct http_response *resp, void *state)
{
	const struct kv *kv = state;
	enum kv_op op = kv_op(req->method);
	const char *raw = req->path + kv->n.route_len;
	size_t rawlen = req->path_len - kv->n.route_len, keylen;
	char stack[KV_KEY_STACK], *key = stack;
	const char *argv[5];
	size_t argvlen[5];
	struct http_deferred *d;
	long n;
	int argc;

	if (op == KV_OTHER) {
		kv_text(resp, 405, LIT("Method Not Allowed\n"));
		http_response_header(resp, "Allow", "GET, HEAD, PUT, DELETE");
		return;
	}
	if (req->path_len <= kv->n.route_len) {
		kv_text(resp, 404, LIT("no key: the key follows the route's "
		    "path\n"));
		return;
	}
	if (kv->n.prefix_len + rawlen > sizeof(stack) &&
	    (key = malloc(kv->n.prefix_len + rawlen)) == NULL) {
		kv_text(resp, 500, LIT("out of memory\n"));
		return;
	}
	memcpy(key, kv->n.prefix, kv->n.prefix_len);
	if ((n = options_decode(raw, rawlen, key + kv->n.prefix_len)) < 0) {
		kv_text(resp, 400, LIT("bad key: a bad %-escape, or %00\n"));
		goto out;
	}
	keylen = kv->n.prefix_len + (size_t)n;
	if ((d = http_defer(req, resp, NULL, NULL)) == NULL) {
		kv_text(resp, 500, LIT("out of memory\n"));
		goto out;
	}
	switch (op) {
	case KV_PUT:
		argv[0] = "EVAL", argvlen[0] = 4;
		argv[1] = kv_put_script, argvlen[1] = sizeof(kv_put_script) - 1;
		argv[2] = "1", argvlen[2] = 1;
		argv[3] = key, argvlen[3] = keylen;
		argv[4] = req->body != NULL ? req->body : "";
		argvlen[4] = req->body_len;
		argc = 5;
		break;
	case KV_DEL:
		argv[0] = "DEL", argvlen[0] = 3;
		argv[1] = key, argvlen[1] = keylen;
		argc = 2;
		break;
	default:
		argv[0] = "GET", argvlen[0] = 3;
		argv[1] = key, argvlen[1] = keylen;
		argc = 2;
		break;
	}
	/*
	 * hiredis copies the words: key and body may go when this returns.
	 * Refused (Redis down, or no client at all): answered now, through
	 * the handle, and counted by the client as a failed command.
	 */
	if (redis_commandv(req->redis, kv_reply, d, argc, argv, argvlen) ==
	    NULL) {
		if (errno == ENOMEM)
			kv_text(http_deferred_response(d), 500,
			    LIT("out of memory\n"));
		else
			kv_unavailable(http_deferred_response(d), ENOTCONN);
		http_deferred_send(d);
	}
out:
	if (key != stack)
		free(key);
}

static int
kv_check(const json_t *route, char *err, size_t errlen)
{
	static const char *const keys[] = { "key_prefix", NULL };
	const char *prefix;

	if (options_check_keys(route, "kv", keys, err, errlen) == -1 ||
	    options_prefix_route(route, "kv", "the key", err, errlen) == -1 ||
	    options_string(route, "key_prefix", &prefix, err, errlen) == -1)
		return -1;
	return 0;
}

static int
kv_init(const json_t *route, void **state, char *err, size_t errlen)
{
	struct kv *kv;

	if (kv_check(route, err, errlen) == -1)
		return -1;
	if ((kv = calloc(1, sizeof(*kv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (options_named_init(route, "key_prefix", &kv->n, err, errlen) == -1) {
		free(kv);
		return -1;
	}
	*state = kv;
	return 0;
}

static void
kv_free(void *state)
{
	struct kv *kv = state;

	if (kv != NULL)
		options_named_free(&kv->n);
	free(kv);
}

const struct handler_def kv_handler = {
	.name = "kv",
	.help = "GET/HEAD/PUT/DELETE of values in Redis, the key following "
	"the route's path",
	.check = kv_check,
	.init = kv_init,
	.handle = kv_handle,
	.free = kv_free,
};
