/*
 * builtin — the handlers shoal ships with, for the registry
 * (worker/app/registry.c). Each file of worker/handlers/ uses only the
 * public handler API (worker/api/) and defines its handlers here; a new
 * built-in handler is a file there, a line here and a line in the
 * registry's table.
 */
#ifndef SHOAL_BUILTIN_H
#define SHOAL_BUILTIN_H

#include "worker/api/http.h"

/* basic.c: answered at once from memory */
extern const struct handler_def hello_handler;
extern const struct handler_def welcome_handler;
extern const struct handler_def json_handler;
extern const struct handler_def health_handler;
extern const struct handler_def echo_handler;
extern const struct handler_def echo_body_handler;
/* ticker.c: server-sent events on a stream */
extern const struct handler_def ticker_handler;
/* primes.c: CPU work on the worker's thread pool */
extern const struct handler_def primes_handler;
/* static.c: files beneath a root directory */
extern const struct handler_def static_handler;
/* metrics.c: Prometheus text of the shared stats */
extern const struct handler_def metrics_handler;
/* status.c: JSON status of the workers, from the shared stats */
extern const struct handler_def status_handler;
/* ws_echo.c: a WebSocket that echoes */
extern const struct handler_def ws_echo_handler;
/* kv.c: values in Redis (worker/api/redis.h), answered later */
extern const struct handler_def kv_handler;
/* pubsub.c: channels over HTTP (worker/api/channel.h) */
extern const struct handler_def pubsub_handler;

#endif
