/*
 * ws — see ws.h; the handler's side is in worker/api/ws.h.
 *
 * wslay pulls bytes through a recv callback and pushes frames through a
 * send callback. Ours feed it from the worker's read buffer and append
 * what it sends to the connection's output buffer, which one write(2)
 * sends after each read (or at once, for a message sent from another
 * event). wslay's send queue is emptied into that buffer right after each
 * message is queued, so the bytes waiting to be sent are the buffer's, and
 * websocket_send_queue bounds them.
 *
 * wslay is used without its message buffering: it would allocate a whole
 * frame's announced length before a byte of it arrives. Messages are
 * assembled here as their bytes come, and a message that arrives whole in
 * one frame and one read is handed to the handler where wslay has it.
 *
 * Freeing wslay's context when idle needs to know that it holds no
 * half-read frame: every byte given to it is counted, and so is every
 * frame it finishes (header and payload); equal counts and no fragmented
 * message under way mean a fresh context would behave the same.
 *
 * Handlers' calls (ws_send, ws_close) never free a connection, whatever
 * they find: they mark it, and its own event frees it, so a handler never
 * sees on_close run inside its own call.
 */
#include "worker/http/ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <event2/event_struct.h>
#include <wslay/wslay.h>

#include "common/log.h"
#include "worker/http/loop.h"
#include "worker/http/outq.h"

#define WS_CLOSE_WAIT    5.0         /* seconds for the client's close frame */
#define WS_LINGER        2.0         /* seconds to read after our FIN */
#define WS_DRAIN_GRACE   0.5         /* seconds before 1001 on a drain */
#define WS_KEEP_MSG_BUF  (16 * 1024) /* a message buffer kept between
                                        messages while busy */

struct ws {
	LIST_ENTRY(ws) entry;
	struct ws_ctx *ctx;
	const struct ws_handler *h;
	void *arg;
	int fd;
	struct event ev;
	wslay_event_context_ptr wslay;   /* NULL while idle */
	struct buf out;
	size_t out_off;
	struct outq shared;          /* frames made once for many connections
	                                (ws_push), after out */
	LIST_ENTRY(ws) dirty_entry;  /* ctx->dirty: to be flushed */
	void *subs;                  /* the channel subscriptions' (ws_subs) */
	/* Input being fed to wslay, and the idle accounting (see above). */
	const char *in;
	size_t in_len;
	uint64_t given, consumed, frame_size;
	/* The data message being received. */
	struct buf msg;
	uint64_t msg_total;          /* its announced length so far */
	const uint8_t *direct;       /* ... or all of it, inside wslay */
	size_t direct_len;
	uint8_t msg_op;              /* WS_TEXT/WS_BINARY while under way, 0 */
	bool frame_ctrl, frame_whole;
	/* Life. */
	bool started;
	bool in_event;               /* inside ws_event: it will flush */
	bool awaiting_pong;
	bool closing;                /* a close frame is queued or sent */
	bool failed;                 /* ... and we do not wait for the client's */
	bool close_sent, close_received;
	bool lingering;
	bool dead;                   /* free at the next chance */
	bool reported;               /* on_close ran */
	bool dirty;                  /* on ctx->dirty */
	uint16_t sent_code, recv_code;
	double deadline;             /* of a linger */
};

static void ws_event(evutil_socket_t fd, short what, void *arg);
static void ws_run(struct ws *ws);

/* ---- wslay's callbacks -------------------------------------------------- */

static ssize_t
recv_cb(wslay_event_context_ptr wc, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct ws *ws = user;

	(void)flags;
	if (ws->in_len == 0) {
		wslay_event_set_error(wc, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > ws->in_len)
		len = ws->in_len;
	memcpy(buf, ws->in, len);
	ws->in += len;
	ws->in_len -= len;
	ws->given += len;
	return (ssize_t)len;
}

static ssize_t
send_cb(wslay_event_context_ptr wc, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws *ws = user;

	struct sbuf *b;
	int r;

	(void)flags;
	if (ws->shared.n > 0) {
		/* Behind frames already queued: in order, as one more. */
		r = (b = sbuf_copy(data, len)) == NULL ? -1 :
		    outq_push(&ws->shared, b);
		sbuf_unref(b);
	} else {
		r = buf_append(&ws->out, data, len);
	}
	if (r == -1) {
		wslay_event_set_error(wc, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* Bytes waiting to be written, ours and shared. */
static size_t
ws_waiting(const struct ws *ws)
{
	return ws->out.len - ws->out_off + ws->shared.bytes;
}

/* Header bytes of a client frame (masked) with this payload length. */
static uint64_t
frame_header_len(uint64_t payload)
{
	return 2 + (payload < 126 ? 0 : payload < 65536 ? 2 : 8) + 4;
}

/* Fail the connection with code: a close frame, then no more reading. */
static void
ws_fail(struct ws *ws, uint16_t code)
{
	if (ws->failed)
		return;
	ws->failed = true;
	ws->closing = true;
	/* NO_MORE_MSG: a close is queued already, which will do. */
	wslay_event_queue_close(ws->wslay, code, NULL, 0);
	wslay_event_shutdown_read(ws->wslay);
}

static void
on_frame_start(wslay_event_context_ptr wc,
    const struct wslay_event_on_frame_recv_start_arg *a, void *user)
{
	struct ws *ws = user;

	(void)wc;
	ws->frame_size = frame_header_len(a->payload_length) + a->payload_length;
	ws->frame_ctrl = wslay_is_ctrl_frame(a->opcode);
	if (ws->frame_ctrl) {
		/* A close body is empty or starts with a two-byte code; wslay
		 * would take one byte for "no code" (RFC 6455 5.5.1). */
		if (a->opcode == WSLAY_CONNECTION_CLOSE && a->payload_length == 1)
			ws_fail(ws, WS_CLOSE_PROTOCOL);
		return;
	}
	if (a->opcode != WSLAY_CONTINUATION_FRAME) {
		ws->msg_op = a->opcode;
		ws->msg_total = 0;
		ws->msg.len = 0;
		ws->direct = NULL;
	}
	ws->frame_whole = a->opcode != WSLAY_CONTINUATION_FRAME && a->fin;
	ws->msg_total += a->payload_length;
	if (ws->msg_total > ws->ctx->max_message)
		ws_fail(ws, WS_CLOSE_TOO_BIG);
}

static void
on_frame_chunk(wslay_event_context_ptr wc,
    const struct wslay_event_on_frame_recv_chunk_arg *a, void *user)
{
	struct ws *ws = user;

	(void)wc;
	if (ws->frame_ctrl || ws->failed)
		return;
	/* The whole message in one piece: hand it over from wslay's buffer,
	 * valid until its next read. */
	if (ws->frame_whole && ws->msg.len == 0 && ws->direct == NULL &&
	    a->data_length == ws->msg_total) {
		ws->direct = a->data;
		ws->direct_len = a->data_length;
		return;
	}
	if (buf_append(&ws->msg, a->data, a->data_length) == -1)
		ws_fail(ws, 1011);       /* internal error: no memory */
}

static void
on_frame_end(wslay_event_context_ptr wc, void *user)
{
	struct ws *ws = user;

	(void)wc;
	ws->consumed += ws->frame_size;
}

static void
on_msg(wslay_event_context_ptr wc, const struct wslay_event_on_msg_recv_arg *a,
    void *user)
{
	struct ws *ws = user;
	const void *data;
	size_t len;

	(void)wc;
	switch (a->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		data = ws->direct != NULL ? (const void *)ws->direct : ws->msg.p;
		len = ws->direct != NULL ? ws->direct_len : ws->msg.len;
		ws->msg_op = 0;
		if (!ws->closing && ws->h->on_message != NULL)
			ws->h->on_message(ws, (enum ws_opcode)a->opcode,
			    data != NULL ? data : "", len, ws->arg);
		ws->direct = NULL;
		ws->msg.len = 0;
		if (ws->msg.cap > WS_KEEP_MSG_BUF)
			buf_free(&ws->msg);
		break;
	case WSLAY_CONNECTION_CLOSE:
		ws->close_received = true;
		ws->closing = true;
		ws->recv_code = a->status_code != 0 ? a->status_code : 1005;
		break;
	case WSLAY_PONG:
		ws->awaiting_pong = false;
		break;
	default:
		break;
	}
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = recv_cb,
	.send_callback = send_cb,
	.on_frame_recv_start_callback = on_frame_start,
	.on_frame_recv_chunk_callback = on_frame_chunk,
	.on_frame_recv_end_callback = on_frame_end,
	.on_msg_recv_callback = on_msg,
};

/* wslay's context, made if the connection was idle; -1 on no memory. */
static int
ws_wslay(struct ws *ws)
{
	if (ws->wslay != NULL)
		return 0;
	if (wslay_event_context_server_init(&ws->wslay, &callbacks, ws) != 0) {
		ws->wslay = NULL;
		return -1;
	}
	wslay_event_config_set_no_buffering(ws->wslay, 1);
	wslay_event_config_set_max_recv_msg_length(ws->wslay,
	    ws->ctx->max_message);
	ws->given = ws->consumed = 0;
	return 0;
}

/* Free wslay's context if a new one would do as well (see the top). */
static void
ws_idle(struct ws *ws)
{
	if (ws->wslay == NULL || ws->closing || ws->given != ws->consumed ||
	    ws->msg_op != 0 || wslay_event_want_write(ws->wslay))
		return;
	wslay_event_context_free(ws->wslay);
	ws->wslay = NULL;
	buf_free(&ws->msg);
}

/* Move what wslay has queued onto the output buffer. */
static void
ws_pump(struct ws *ws)
{
	if (ws->wslay == NULL)
		return;
	if (wslay_event_send(ws->wslay) != 0)
		ws->dead = true;         /* no memory for the output */
	if (!ws->close_sent && wslay_event_get_close_sent(ws->wslay)) {
		ws->close_sent = true;
		ws->closing = true;
		ws->sent_code = wslay_event_get_status_code_sent(ws->wslay);
	}
}

/* ---- the socket --------------------------------------------------------- */

static void
ws_watch(struct ws *ws, short what, const struct timeval *tv)
{
	loop_watch(&ws->ev, ws->ctx->base, ws->fd, what, tv, ws_event, ws);
}

/* Write the output buffer, then the shared frames: 0 when all is written
 * or the socket is full, -1 when the client is gone. */
static int
ws_flush(struct ws *ws)
{
	ssize_t n;

	while (ws->out_off < ws->out.len) {
		n = write(ws->fd, ws->out.p + ws->out_off, ws->out.len - ws->out_off);
		if (n > 0) {
			ws->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	buf_free(&ws->out);
	ws->out_off = 0;
	return outq_write(&ws->shared, ws->fd) == -1 ? -1 : 0;
}

static int
ws_code(const struct ws *ws)
{
	if (ws->close_received)
		return ws->recv_code;
	if (ws->close_sent)
		return ws->sent_code;
	return WS_CLOSE_ABNORMAL;
}

static void
ws_free(struct ws *ws)
{
	struct ws_ctx *ctx = ws->ctx;

	ws->dead = true;
	if (ws->started) {
		event_del(&ws->ev);
		close(ws->fd);
		LIST_REMOVE(ws, entry);
		ctx->n--;
	}
	if (ws->dirty)
		LIST_REMOVE(ws, dirty_entry);
	if (!ws->reported) {
		ws->reported = true;
		ws->closing = true;          /* ws_send and ws_close refuse now */
		if (ws->h->on_close != NULL)
			ws->h->on_close(ws, ws_code(ws), ws->arg);
	}
	/* Subscriptions the application did not end end now. */
	if (ws->subs != NULL && ctx != NULL && ctx->unsub != NULL)
		ctx->unsub(ws->subs);
	if (ws->wslay != NULL)
		wslay_event_context_free(ws->wslay);
	outq_clear(&ws->shared);
	buf_free(&ws->out);
	buf_free(&ws->msg);
	free(ws);
	if (ctx != NULL && ctx->closed != NULL)
		ctx->closed(ctx->closed_arg);
}

/* Our side is done: shut it down, read what the client still sends for a
 * moment (so it sees our close frame, not a reset), then close. */
static void
ws_linger(struct ws *ws)
{
	struct timeval tv = loop_tv(WS_LINGER);

	ws->lingering = true;
	ws->deadline = loop_now(ws->ctx->base) + WS_LINGER;
	if (ws->wslay != NULL) {
		wslay_event_context_free(ws->wslay);
		ws->wslay = NULL;
	}
	buf_free(&ws->msg);
	if (shutdown(ws->fd, SHUT_WR) == -1) {
		ws->dead = true;
		return;
	}
	ws_watch(ws, EV_READ, &tv);
}

/* Feed len bytes the client sent to wslay. */
static void
ws_feed(struct ws *ws, const char *data, size_t len)
{
	int r;

	if (ws_wslay(ws) == -1) {
		ws->dead = true;
		return;
	}
	if (!wslay_event_get_read_enabled(ws->wslay))
		return;                  /* after a close: discarded */
	ws->in = data;
	ws->in_len = len;
	r = wslay_event_recv(ws->wslay);
	ws->in_len = 0;
	if (r == WSLAY_ERR_NOMEM) {
		ws->dead = true;
	} else if (r != 0 && !ws->failed) {
		/*
		 * A frame wslay refused at its header (a fragmented or too
		 * long control frame, a length not minimally encoded): it has
		 * queued a close without a code. Answer 1002 from a fresh
		 * context instead; the old one holds nothing else of ours
		 * (each message left for the output buffer when it was sent).
		 */
		wslay_event_context_free(ws->wslay);
		ws->wslay = NULL;
		if (ws_wslay(ws) == -1)
			ws->dead = true;
		else
			ws_fail(ws, WS_CLOSE_PROTOCOL);
	} else if (!wslay_event_get_read_enabled(ws->wslay) &&
	    !ws->close_received) {
		/* wslay failed it with its own code (1002, 1007, 1009). */
		ws->failed = true;
		ws->closing = true;
	}
}

static void
ws_read(struct ws *ws)
{
	struct ws_ctx *ctx = ws->ctx;
	ssize_t n;

	n = read(ws->fd, ctx->rbuf, ctx->rbuf_size);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		ws->dead = true;         /* the client is gone */
		return;
	}
	if (ws->lingering)
		return;      /* discarded; unlike an HTTP linger there is no byte
		                cap, only the deadline: a client that was held back
		                flooding us (see ws_run) has megabytes in flight,
		                and closing on them would reset our close frame */
	ws->awaiting_pong = false;   /* it is alive */
	ws_feed(ws, ctx->rbuf, (size_t)n);
}

static void
ws_timeout(struct ws *ws)
{
	static const struct wslay_event_msg ping = { WSLAY_PING, NULL, 0 };

	if (ws->lingering || ws->closing || ws_waiting(ws) > 0 ||
	    ws->awaiting_pong) {
		/* No close frame in time, a client that stopped reading, or no
		 * answer to our ping: it is gone as far as we care. */
		ws->dead = true;
		return;
	}
	/* websocket_idle_timeout without a byte: is anyone there? */
	if (ws_wslay(ws) == -1 || wslay_event_queue_msg(ws->wslay, &ping) != 0) {
		ws->dead = true;
		return;
	}
	ws->awaiting_pong = true;
}

/* After anything happened: send, then free, linger or wait. */
static void
ws_run(struct ws *ws)
{
	struct ws_ctx *ctx = ws->ctx;
	struct timeval tv;
	bool pending;

	if (!ws->dead && !ws->lingering) {
		ws_pump(ws);
		if (!ws->dead && ws_flush(ws) == -1)
			ws->dead = true;
	}
	if (ws->dead) {
		ws_free(ws);
		return;
	}
	if (ws->lingering) {
		tv = loop_tv(ws->deadline - loop_now(ctx->base));
		event_add(&ws->ev, &tv);     /* a deadline, however they trickle */
		return;
	}
	pending = ws_waiting(ws) > 0;
	if (!pending && ws->close_sent && (ws->close_received || ws->failed)) {
		ws_linger(ws);
		if (ws->dead)
			ws_free(ws);
		return;
	}
	ws_idle(ws);
	if (pending) {
		/* A failed connection reads nothing more until its close frame
		 * is out: a client flooding us is held back by TCP, not read and
		 * thrown away at full speed. */
		tv = loop_tv(ctx->write_timeout);
		ws_watch(ws, ws->failed ? EV_WRITE : EV_READ | EV_WRITE, &tv);
	} else if (ws->closing) {
		tv = loop_tv(WS_CLOSE_WAIT);
		ws_watch(ws, EV_READ, &tv);
	} else {
		ws_watch(ws, EV_READ, ctx->idle_tv);
	}
}

static void
ws_event(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;

	(void)fd;
	ws->in_event = true;
	if (what & EV_TIMEOUT)
		ws_timeout(ws);
	else if (what & EV_READ)
		ws_read(ws);
	ws->in_event = false;
	ws_run(ws);
}

/* A handler queued something from outside this connection's own event:
 * send it now if the socket takes it, else when it is writable. */
static void
ws_kick(struct ws *ws)
{
	if (ws->in_event || !ws->started)
		return;
	ws_pump(ws);
	if (!ws->dead && ws_flush(ws) == -1)
		ws->dead = true;
	/* Errors, the linger and the watch are for the connection's event,
	 * so that no handler sees on_close inside its own call. */
	if (ws->dead || ws_waiting(ws) > 0 || ws->closing)
		event_active(&ws->ev, EV_WRITE, 0);
	else
		ws_idle(ws);
}

/* ---- the handler's side (worker/api/ws.h) ------------------------------- */

int
ws_send(struct ws *ws, enum ws_opcode op, const void *data, size_t len)
{
	struct wslay_event_msg m = { (uint8_t)op, data, len };
	size_t waiting;

	if (!ws->started || ws->closing || ws->dead ||
	    (op != WS_TEXT && op != WS_BINARY))
		return -1;
	if (ws_wslay(ws) == -1) {
		ws->dead = true;
		ws_kick(ws);
		return -1;
	}
	waiting = ws_waiting(ws) +
	    wslay_event_get_queued_msg_length(ws->wslay);
	if (waiting + len > ws->ctx->send_queue) {
		/* A slow reader: close it rather than grow. The close frame
		 * goes after what is queued; write_timeout bounds the wait. */
		log_debug("websocket: %zu bytes waiting to be sent; closing "
		    "with 1008", waiting);
		ws_fail(ws, WS_CLOSE_POLICY);
		ws_kick(ws);
		return -1;
	}
	if (wslay_event_queue_msg(ws->wslay, &m) != 0)
		return -1;
	/* Onto the output buffer now, so wslay's queue stays empty. */
	if (wslay_event_send(ws->wslay) != 0)
		ws->dead = true;
	ws_kick(ws);
	return 0;
}

int
ws_close(struct ws *ws, int code, const char *reason)
{
	size_t len = reason != NULL ? strlen(reason) : 0;

	if (!ws->started || ws->closing || ws->dead || len > 123)
		return -1;
	if (ws_wslay(ws) == -1) {
		ws->dead = true;
		ws_kick(ws);
		return -1;
	}
	if (wslay_event_queue_close(ws->wslay, (uint16_t)code,
	    (const uint8_t *)reason, len) != 0)
		return -1;
	ws->closing = true;
	ws_kick(ws);
	return 0;
}

void *
ws_user(const struct ws *ws)
{
	return ws->arg;
}

/* ---- frames made once (channels) ----------------------------------------- */

size_t
ws_frame_head(uint8_t out[WS_FRAME_HEAD_MAX], enum ws_opcode op, size_t len)
{
	/* A server's frames are not masked (RFC 6455 5.1): FIN, the opcode,
	 * the length in its shortest form. */
	out[0] = (uint8_t)(0x80 | op);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

int
ws_push(struct ws *ws, struct sbuf *frame, size_t limit)
{
	struct ws_ctx *ctx = ws->ctx;

	if (!ws->started || ws->closing || ws->dead)
		return -1;
	if (ws_waiting(ws) + (ws->wslay != NULL ?
	    wslay_event_get_queued_msg_length(ws->wslay) : 0) + frame->len >
	    limit || outq_push(&ws->shared, frame) == -1)
		return 1;
	/* Written at the flush event, with whatever else comes meanwhile. */
	if (!ws->dirty) {
		ws->dirty = true;
		LIST_INSERT_HEAD(&ctx->dirty, ws, dirty_entry);
		event_active(ctx->flush_ev, EV_TIMEOUT, 0);
	}
	return 0;
}

bool
ws_open(const struct ws *ws)
{
	return ws->started && !ws->closing && !ws->dead;
}

void **
ws_subs(struct ws *ws)
{
	return &ws->subs;
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct ws_ctx *ctx = arg;
	struct ws *ws;

	(void)fd;
	(void)what;
	while ((ws = LIST_FIRST(&ctx->dirty)) != NULL) {
		LIST_REMOVE(ws, dirty_entry);
		ws->dirty = false;
		ws_kick(ws);
	}
}

/* ---- the worker's side -------------------------------------------------- */

struct ws *
ws_new(const struct ws_handler *h, void *arg)
{
	struct ws *ws = calloc(1, sizeof(*ws));

	if (ws == NULL)
		return NULL;
	ws->h = h;
	ws->arg = arg;
	ws->fd = -1;
	return ws;
}

void
ws_discard(struct ws *ws, bool report)
{
	ws->reported = !report;
	ws_free(ws);                 /* not started: nothing but on_close */
}

void
ws_start(struct ws_ctx *ctx, struct ws *ws, int fd, struct buf *out,
    size_t out_off, const char *early, size_t early_len)
{
	ws->ctx = ctx;
	ws->fd = fd;
	ws->out = *out;
	ws->out_off = out_off;
	memset(out, 0, sizeof(*out));
	ws->started = true;
	LIST_INSERT_HEAD(&ctx->list, ws, entry);
	ctx->n++;
	event_assign(&ws->ev, ctx->base, fd, EV_READ | EV_PERSIST, ws_event, ws);
	ws->in_event = true;         /* the handler's sends wait for ws_run */
	if (ws->h->on_open != NULL)
		ws->h->on_open(ws, ws->arg);
	if (ctx->draining && !ws->closing && !ws->dead)
		ws_close(ws, WS_CLOSE_GOING_AWAY, "going away");
	if (early_len > 0 && !ws->dead) {
		/* early is not the read buffer: feeding it is safe. */
		ws_feed(ws, early, early_len);
	}
	ws->in_event = false;
	ws_run(ws);
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct ws_ctx *ctx = arg;
	struct ws *ws;

	(void)fd;
	(void)what;
	LIST_FOREACH(ws, &ctx->list, entry)
		if (!ws->closing && !ws->dead)
			ws_close(ws, WS_CLOSE_GOING_AWAY, "going away");
}

void
ws_drain_all(struct ws_ctx *ctx)
{
	struct timeval tv = loop_tv(WS_DRAIN_GRACE);

	ctx->draining = true;
	/* A moment for messages in flight, then 1001 to everyone. */
	if (ctx->n > 0)
		event_add(ctx->grace_ev, &tv);
}

void
ws_close_all(struct ws_ctx *ctx)
{
	struct ws *ws;

	while ((ws = LIST_FIRST(&ctx->list)) != NULL)
		ws_free(ws);
}

int
ws_ctx_init(struct ws_ctx *ctx, struct event_base *base,
    const struct http_limits *limits, char *rbuf, size_t rbuf_size)
{
	struct timeval tv = loop_tv(limits->websocket_idle_timeout);

	memset(ctx, 0, sizeof(*ctx));
	ctx->base = base;
	ctx->rbuf = rbuf;
	ctx->rbuf_size = rbuf_size;
	ctx->max_message = limits->websocket_max_message;
	ctx->send_queue = limits->websocket_send_queue;
	ctx->write_timeout = limits->write_timeout;
	LIST_INIT(&ctx->list);
	LIST_INIT(&ctx->dirty);
	if ((ctx->flush_ev = event_new(base, -1, 0, on_flush, ctx)) == NULL)
		return -1;
	if (limits->websocket_idle_timeout > 0 &&
	    (ctx->idle_tv = event_base_init_common_timeout(base, &tv)) == NULL)
		return -1;
	if ((ctx->grace_ev = evtimer_new(base, on_grace, ctx)) == NULL)
		return -1;
	return 0;
}

void
ws_ctx_free(struct ws_ctx *ctx)
{
	ws_close_all(ctx);
	if (ctx->grace_ev != NULL)
		event_free(ctx->grace_ev);
	ctx->grace_ev = NULL;
	if (ctx->flush_ev != NULL)
		event_free(ctx->flush_ev);
	ctx->flush_ev = NULL;
}
