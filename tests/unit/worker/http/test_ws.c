/*
 * Unit tests for worker/http/ws.c: a WebSocket connection driven over a
 * socketpair on a real event loop — whole, fragmented and split messages
 * echoed; wslay's context freed whenever it holds nothing and kept while a
 * frame or a fragmented message is half-received; the codes ws.c adds to
 * wslay's (1002 for a header wslay refuses, a one-byte close body; 1009
 * over fragments); the send queue's 1008; on_close exactly once with the
 * right code, also for a connection never started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/ws.c"

#include <arpa/inet.h>
#include <fcntl.h>

struct seen {
	int opens, messages, closes, close_code;
	char last[256];
	size_t last_len;
	bool echo;
};

static void
t_open(struct ws *ws, void *arg)
{
	(void)ws;
	((struct seen *)arg)->opens++;
}

static void
t_message(struct ws *ws, enum ws_opcode op, const void *data, size_t len,
    void *arg)
{
	struct seen *s = arg;

	s->messages++;
	s->last_len = len;
	memcpy(s->last, data, len < sizeof(s->last) ? len : sizeof(s->last));
	if (s->echo)
		ws_send(ws, op, data, len);
}

static void
t_close(struct ws *ws, int code, void *arg)
{
	struct seen *s = arg;

	assert_int_equal(ws_send(ws, WS_TEXT, "x", 1), -1);
	s->closes++;
	s->close_code = code;
}

static const struct ws_handler handler = {
	.on_open = t_open, .on_message = t_message, .on_close = t_close,
};

struct fixture {
	struct event_base *base;
	struct ws_ctx ctx;
	char rbuf[65536];
	struct http_limits lim;
	int peer;                    /* the client's end */
	struct ws *ws;
	struct seen seen;
	int gone;                    /* ctx.closed calls */
};

static void
closed(void *arg)
{
	((struct fixture *)arg)->gone++;
}

static struct fixture fx;

static int
setup(void **state)
{
	int sv[2];
	struct buf out = { 0 };

	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.base = event_base_new();
	fx.lim.websocket_max_message = 1000;
	fx.lim.websocket_send_queue = 4096;
	fx.lim.write_timeout = 5;
	assert_int_equal(ws_ctx_init(&fx.ctx, fx.base, &fx.lim, fx.rbuf,
	    sizeof(fx.rbuf)), 0);
	fx.ctx.closed = closed;
	fx.ctx.closed_arg = &fx;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	fx.peer = sv[1];
	fx.seen.echo = true;
	fx.ws = ws_new(&handler, &fx.seen);
	assert_non_null(fx.ws);
	ws_start(&fx.ctx, fx.ws, sv[0], &out, 0, NULL, 0);
	assert_int_equal(fx.seen.opens, 1);
	assert_int_equal(fx.ctx.n, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ws_ctx_free(&fx.ctx);
	close(fx.peer);
	event_base_free(fx.base);
	return 0;
}

/* A masked client frame. */
static size_t
frame(uint8_t *out, uint8_t first, const void *payload, size_t n)
{
	static const uint8_t key[4] = { 9, 8, 7, 6 };
	size_t off = 0;

	out[off++] = first;
	if (n < 126) {
		out[off++] = (uint8_t)(0x80 | n);
	} else {
		out[off++] = 0x80 | 126;
		out[off++] = (uint8_t)(n >> 8);
		out[off++] = (uint8_t)n;
	}
	memcpy(out + off, key, 4);
	off += 4;
	for (size_t i = 0; i < n; i++)
		out[off + i] = ((const uint8_t *)payload)[i] ^ key[i % 4];
	return off + n;
}

static void
client_send(const void *data, size_t len)
{
	assert_int_equal(write(fx.peer, data, len), (ssize_t)len);
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
}

/* Read what the server sent: its first frame's opcode and payload. */
static int
client_frame(uint8_t *payload, size_t *len)
{
	uint8_t b[8192];
	ssize_t n;
	size_t plen, off = 2;

	event_base_loop(fx.base, EVLOOP_NONBLOCK);
	n = read(fx.peer, b, sizeof(b));
	if (n < 2)
		return -1;
	plen = b[1] & 0x7f;
	if (plen == 126) {
		plen = (size_t)b[2] << 8 | b[3];
		off = 4;
	}
	assert_true((size_t)n >= off + plen);
	memcpy(payload, b + off, plen);
	*len = plen;
	return b[0] & 0x0f;
}

static int
close_code_of(const uint8_t *p, size_t len)
{
	return len >= 2 ? p[0] << 8 | p[1] : -1;
}

static void
test_echo_and_idle_context(void **state)
{
	uint8_t f[2048], got[8192];
	size_t n, len;

	(void)state;
	n = frame(f, 0x81, "hello", 5);
	client_send(f, n);
	assert_int_equal(fx.seen.messages, 1);
	assert_int_equal(client_frame(got, &len), WSLAY_TEXT_FRAME);
	assert_memory_equal(got, "hello", 5);
	/* Nothing half-read, nothing queued: wslay's 8 KiB are given back. */
	assert_null(fx.ws->wslay);
	assert_int_equal(fx.ws->out.cap, 0);
	assert_int_equal(fx.ws->msg.cap, 0);

	/* Half a frame: the context stays, and the rest completes it. */
	client_send(f, 3);
	assert_non_null(fx.ws->wslay);
	assert_int_equal(fx.seen.messages, 1);
	client_send(f + 3, n - 3);
	assert_int_equal(fx.seen.messages, 2);
	assert_int_equal(client_frame(got, &len), WSLAY_TEXT_FRAME);
	assert_null(fx.ws->wslay);
}

static void
test_fragments_and_control_between(void **state)
{
	uint8_t f[4096], got[8192];
	size_t n = 0, len;

	(void)state;
	n += frame(f + n, 0x02, "abc", 3);           /* binary, not final */
	client_send(f, n);
	assert_non_null(fx.ws->wslay);              /* a message under way */
	n = frame(f, 0x89, "p", 1);                  /* a ping between */
	n += frame(f + n, 0x80, "def", 3);           /* the final fragment */
	client_send(f, n);
	assert_int_equal(fx.seen.messages, 1);
	assert_int_equal(fx.seen.last_len, 6);
	assert_memory_equal(fx.seen.last, "abcdef", 6);
	assert_int_equal(client_frame(got, &len), WSLAY_PONG);
	assert_null(fx.ws->wslay);
}

static void
expect_close(int code)
{
	uint8_t got[8192];
	size_t len;

	assert_int_equal(client_frame(got, &len), WSLAY_CONNECTION_CLOSE);
	assert_int_equal(close_code_of(got, len), code);
}

static void
test_one_byte_close_is_1002(void **state)
{
	uint8_t f[64];
	size_t n = frame(f, 0x88, "\x03", 1);

	(void)state;
	client_send(f, n);
	expect_close(1002);
	assert_true(fx.ws->failed);
}

static void
test_header_refusal_is_1002(void **state)
{
	/* A ping of 126 bytes: wslay refuses it at the header and would
	 * answer a close without a code. */
	uint8_t f[256], ping[126];
	size_t n;

	(void)state;
	memset(ping, 'p', sizeof(ping));
	n = frame(f, 0x89, ping, sizeof(ping));
	client_send(f, n);
	expect_close(1002);
}

static void
test_too_big_over_fragments_is_1009(void **state)
{
	uint8_t f[2048], part[600];
	size_t n;

	(void)state;
	memset(part, 'a', sizeof(part));
	n = frame(f, 0x01, part, sizeof(part));
	n += frame(f + n, 0x80, part, sizeof(part));
	client_send(f, n);
	expect_close(1009);
	assert_int_equal(fx.seen.messages, 0);
}

static void
test_close_handshake_reports_once(void **state)
{
	uint8_t f[64], got[256];
	size_t n, len;
	uint8_t body[5] = { 0x03, 0xe8, 'b', 'y', 'e' };

	(void)state;
	n = frame(f, 0x88, body, sizeof(body));
	client_send(f, n);
	assert_int_equal(client_frame(got, &len), WSLAY_CONNECTION_CLOSE);
	assert_int_equal(close_code_of(got, len), 1000);
	assert_true(fx.ws->lingering);
	assert_int_equal(fx.seen.closes, 0);
	close(fx.peer);                  /* the client's FIN ends the linger */
	fx.peer = open("/dev/null", O_RDONLY);
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
	assert_int_equal(fx.seen.closes, 1);
	assert_int_equal(fx.seen.close_code, 1000);
	assert_int_equal(fx.gone, 1);
	assert_int_equal(fx.ctx.n, 0);
}

static void
test_send_queue_overflow_is_1008(void **state)
{
	char big[3000];

	(void)state;
	memset(big, 'b', sizeof(big));
	/* Nobody reads the peer end; the socketpair's buffer absorbs some
	 * first, so fill it to be sure. */
	for (int i = 0; i < 1000 && ws_send(fx.ws, WS_BINARY, big,
	    sizeof(big)) == 0; i++)
		;
	assert_true(fx.ws->failed);
	assert_int_equal(ws_send(fx.ws, WS_BINARY, "x", 1), -1);
	assert_int_equal(ws_close(fx.ws, 1000, NULL), -1);
	assert_true(fx.ws->out.len - fx.ws->out_off <= 4096 + 16);
	assert_int_equal(fx.seen.closes, 0);     /* never inside ws_send */
	ws_close_all(&fx.ctx);
	assert_int_equal(fx.seen.closes, 1);
	assert_int_equal(fx.seen.close_code, 1008);
}

static void
test_peer_gone_is_1006(void **state)
{
	(void)state;
	close(fx.peer);
	fx.peer = open("/dev/null", O_RDONLY);
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
	assert_int_equal(fx.seen.closes, 1);
	assert_int_equal(fx.seen.close_code, 1006);
}

static void
test_discarded_before_start(void **state)
{
	struct seen s = { 0 };
	struct ws *ws = ws_new(&handler, &s);

	(void)state;
	ws_discard(ws, true);
	assert_int_equal(s.closes, 1);
	assert_int_equal(s.close_code, 1006);
	assert_int_equal(s.opens, 0);
	ws = ws_new(&handler, &s);
	ws_discard(ws, false);           /* refused inside accept: silent */
	assert_int_equal(s.closes, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_and_idle_context,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_and_control_between,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_byte_close_is_1002,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_refusal_is_1002,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big_over_fragments_is_1009,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_handshake_reports_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_queue_overflow_is_1008,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_is_1006,
		    setup, teardown),
		cmocka_unit_test(test_discarded_before_start),
	};

	return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
