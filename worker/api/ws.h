/*
 * ws — the WebSocket side of the handler API (RFC 6455).
 *
 * A handler accepts a WebSocket upgrade with http_websocket_accept(); the
 * engine answers the handshake (101 Switching Protocols) and from then on
 * the connection carries WebSocket messages, told to the struct
 * ws_handler the handler gave. Framing, masking, fragmentation, control
 * frames, UTF-8 of text messages, ping/pong and the close handshake are
 * the engine's (with wslay); a handler sees whole messages.
 *
 *   static void on_message(struct ws *ws, enum ws_opcode op,
 *       const void *data, size_t len, void *arg)
 *   {
 *       ws_send(ws, op, data, len);                 echo it back
 *   }
 *   static const struct ws_handler echo = { .on_message = on_message };
 *
 *   static void handle(struct http_request *req, struct http_response *resp,
 *       void *state)
 *   {
 *       http_websocket_accept(req, resp, &echo, NULL, NULL);
 *   }
 *
 * Everything runs on the worker's loop: ws_send and ws_close may be called
 * from any event (a timer, a backend's reply, another connection's
 * message), never from another thread. A ws is valid from on_open until
 * on_close returns.
 */
#ifndef SHOAL_API_WS_H
#define SHOAL_API_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/api/http.h"

struct ws;

enum ws_opcode {
	WS_TEXT = 1,                 /* UTF-8 (checked on receipt) */
	WS_BINARY = 2,
};

/* Close codes (RFC 6455 7.4.1) a handler meets most. */
#define WS_CLOSE_NORMAL       1000
#define WS_CLOSE_GOING_AWAY   1001   /* the worker drains, or idle */
#define WS_CLOSE_PROTOCOL     1002
#define WS_CLOSE_BAD_DATA     1007   /* text that is not UTF-8 */
#define WS_CLOSE_POLICY       1008   /* the send queue overflowed */
#define WS_CLOSE_TOO_BIG      1009   /* over websocket_max_message */
#define WS_CLOSE_ABNORMAL     1006   /* gone without a close frame (never
                                        sent, only reported) */

struct ws_handler {
	/* The handshake is sent; messages may be sent now. May be NULL. */
	void (*on_open)(struct ws *ws, void *arg);
	/* A whole message (reassembled from its fragments); data is valid
	 * until this returns. */
	void (*on_message)(struct ws *ws, enum ws_opcode op, const void *data,
	    size_t len, void *arg);
	/*
	 * The connection is over, called exactly once (also when the
	 * worker stops): code is the peer's close code (1005 if its close
	 * frame had none), else the code shoal closed with (1002, 1007, 1008,
	 * 1009, 1001), else 1006 (gone without a close). Free arg here; ws is
	 * invalid once this returns. May be NULL.
	 */
	void (*on_close)(struct ws *ws, int code, void *arg);
};

/*
 * Accept req as a WebSocket handshake: GET, HTTP/1.1, Upgrade: websocket,
 * Connection: upgrade, a valid Sec-WebSocket-Key and Sec-WebSocket-Version
 * 13. On success resp becomes the 101 (with Sec-WebSocket-Accept and, if
 * subprotocol is not NULL, Sec-WebSocket-Protocol: it must be one the
 * client offered, see http_websocket_offers) and 0 is returned; h and arg
 * serve the connection from then on (h must outlive it). Otherwise resp is
 * the refusal and -1 is returned (arg is not used): 426 with
 * "Upgrade: websocket" to a request that is not an upgrade, 426 with
 * "Sec-WebSocket-Version: 13" to another version, 400 for a bad key,
 * method or HTTP version, 503 while the worker drains, 500 for a
 * subprotocol the client did not offer or no memory.
 *
 * Works on a deferred response too (http_deferred_request/_response),
 * e.g. after asking a backend whether the client may connect.
 */
int http_websocket_accept(struct http_request *req, struct http_response *resp,
    const struct ws_handler *h, void *arg, const char *subprotocol);

/* True if req asks for a WebSocket and offers subprotocol (compared
 * case-sensitively, RFC 6455 4.1) in Sec-WebSocket-Protocol. */
bool http_websocket_offers(const struct http_request *req,
    const char *subprotocol);

/*
 * Queue a message (WS_TEXT must be UTF-8). 0, or -1 if the connection is
 * closing or closed, or if the message would take the bytes waiting to be
 * sent past websocket_send_queue: the client does not read fast enough,
 * and the connection is then closed with 1008. Never calls on_close.
 */
int ws_send(struct ws *ws, enum ws_opcode op, const void *data, size_t len);

/*
 * Start the close handshake with code (1000, or 3000-4999 for the
 * application's own) and a reason of at most 123 bytes of UTF-8 (may be
 * NULL). Messages are no longer delivered; on_close follows once the
 * client answers (or after a few seconds). -1 if already closing.
 */
int ws_close(struct ws *ws, int code, const char *reason);

/* The arg given to http_websocket_accept. */
void *ws_user(const struct ws *ws);

#endif
