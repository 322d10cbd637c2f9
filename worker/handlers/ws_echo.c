/*
 * ws_echo — the "ws_echo" handler: accepts a WebSocket on its route and
 * echoes every message back, text as text, binary as binary. It picks the
 * subprotocol "echo" when the client offers it (a demo of the choice),
 * and answers a request that is not a WebSocket handshake with 426.
 */
#include "worker/api/http.h"
#include "worker/api/ws.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

static void
echo_message(struct ws *ws, enum ws_opcode op, const void *data, size_t len,
    void *arg)
{
	(void)arg;
	/* -1: a client that does not read its echoes is being closed (1008). */
	ws_send(ws, op, data, len);
}

static const struct ws_handler echo_ws = {
	.on_message = echo_message,
};

static void
ws_echo_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	(void)state;
	http_websocket_accept(req, resp, &echo_ws, NULL,
	    http_websocket_offers(req, "echo") ? "echo" : NULL);
}

const struct handler_def ws_echo_handler = {
	.name = "ws_echo",
	.help = "a WebSocket that echoes every message",
	.check = options_check_none,
	.handle = ws_echo_handle,
};
