/*
 * ws — WebSocket connections (RFC 6455) of one worker, over wslay.
 *
 * A connection whose handler accepted the handshake (wsaccept.c) is handed
 * over here by conn.c once the 101 is framed: the socket, the output not
 * yet written, the bytes read after the handshake. From then on this file
 * owns the socket: reads go through wslay's event API, which checks the
 * frames (masking, reserved bits and opcodes, control frames, close codes,
 * UTF-8 of text) and does ping/pong and the close handshake; a handler
 * sees whole messages (worker/api/ws.h).
 *
 * An idle WebSocket connection is small: wslay's context (two 4 KiB
 * buffers) is freed whenever nothing is half-received or queued, and made
 * again when bytes arrive or a message is sent; message and output buffers
 * are freed when empty, as for HTTP connections.
 */
#ifndef SHOAL_WS_H
#define SHOAL_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <event2/event.h>

#include "common/buf.h"
#include "common/config.h"
#include "worker/api/ws.h"
#include "worker/http/outq.h"

LIST_HEAD(ws_list, ws);

/* What every WebSocket connection of a worker shares. */
struct ws_ctx {
	struct event_base *base;
	char *rbuf;                  /* the worker's read buffer (conn_ctx's) */
	size_t rbuf_size;
	size_t max_message;          /* websocket_max_message -> 1009 */
	size_t send_queue;           /* websocket_send_queue -> 1008 */
	double write_timeout;        /* a client that stops reading is dropped */
	const struct timeval *idle_tv;   /* websocket_idle_timeout; NULL: none */
	struct ws_list list;
	size_t n;
	bool draining;
	struct event *grace_ev;      /* the drain's grace before 1001 */
	struct event *flush_ev;      /* writes the connections ws_push marked */
	struct ws_list dirty;
	/* A connection with channel subscriptions (ws_subs) is gone, after
	 * its on_close: they end (the channel service). */
	void (*unsub)(void *subs);
	/* After each connection is gone (the worker counts connections). */
	void (*closed)(void *arg);
	void *closed_arg;
};

/* Set up ctx for a worker's loop; -1 on allocation failure. */
int ws_ctx_init(struct ws_ctx *ctx, struct event_base *base,
    const struct http_limits *limits, char *rbuf, size_t rbuf_size);
/* Close every connection (on_close runs) and free ctx's own. */
void ws_ctx_free(struct ws_ctx *ctx);

/* A connection-to-be for http_websocket_accept; NULL on allocation
 * failure. */
struct ws *ws_new(const struct ws_handler *h, void *arg);

/* Free a ws whose handshake was never sent (the response was dropped);
 * with report, its on_close runs first (code 1006). */
void ws_discard(struct ws *ws, bool report);

/*
 * Take over fd (non-blocking) for ws: out holds output not yet written
 * from out_off on (the 101 and anything before it) and is moved, early
 * (early_len bytes, copied) is what the client sent after the handshake.
 * on_open runs here. The connection counts among ctx's from now on.
 */
void ws_start(struct ws_ctx *ctx, struct ws *ws, int fd, struct buf *out,
    size_t out_off, const char *early, size_t early_len);

/* The worker drains: after a short grace every connection is closed with
 * 1001 (going away), and goes once its client has answered. */
void ws_drain_all(struct ws_ctx *ctx);

/* Close every connection now (fast stop, drain timeout). */
void ws_close_all(struct ws_ctx *ctx);

/* ---- frames made once for many connections (the channel service) ------- */

#define WS_FRAME_HEAD_MAX 10

/* The head of an unfragmented server frame of len bytes into out; its
 * length. The payload follows it. */
size_t ws_frame_head(uint8_t out[WS_FRAME_HEAD_MAX], enum ws_opcode op,
    size_t len);

/*
 * Queue frame (a whole frame: ws_frame_head and the payload) to be sent
 * soon, behind what is queued; written at a flush event, with every
 * other frame queued meanwhile, with one writev. 0; 1 if the bytes
 * waiting would pass limit (a slow client: frame is not queued); -1 if
 * it is closing. Never calls on_close.
 */
int ws_push(struct ws *ws, struct sbuf *frame, size_t limit);

/* Is it open (not closing, not gone)? */
bool ws_open(const struct ws *ws);

/* The slot where the channel service keeps the connection's
 * subscriptions; ctx->unsub gets it when the connection is gone. */
void **ws_subs(struct ws *ws);

#endif
