/*
 * fuzz_http — libFuzzer target: arbitrary bytes through the whole request
 * path of one connection (worker/http/: conn.c, the parser in request.c
 * and head.c, response.c, stream.c; the router and the built-in handlers),
 * with the embedded default configuration's routes plus /ws (ws_echo):
 * after a WebSocket handshake the rest of the input is frames for ws.c and
 * wslay.
 *
 * Input format: the first byte is the harness's, the rest is what the
 * client sends. Its low 3 bits choose how the rest is cut into writes (see
 * split_size), so reads that end anywhere — inside a request line, a
 * header, a chunk size, a CRLF — are exercised; bit 3 makes the worker
 * start a graceful drain (conn_drain_all) half-way through the input. Seed
 * files start with an ASCII digit for readability: '0' sends everything at
 * once, '1' one byte per write, ... '7'; '8' and '9' are '0' and '1' with
 * the drain.
 *
 * Per input: a socketpair stands in for an accepted TCP connection; the
 * server end goes to conn_accept(), the client end is driven from here,
 * alternating writes with non-blocking turns of the event loop and reading
 * (and discarding) the responses. Then the client half-closes and the loop
 * turns until the server has closed its end. Everything the input created
 * is torn down before returning, so one input cannot influence the next
 * and LeakSanitizer sees each input's leaks.
 *
 *   make fuzz [FUZZ_TIME=60]
 *   build-fuzz/fuzz_http -dict=tests/fuzz/http.dict CRASH_FILE   (reproduce)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/http/conn.h"
#include "worker/api/http.h"
#include "worker/app/registry.h"
#include "worker/app/router.h"

/* Turns of the loop after the client's FIN before the server is declared
 * stuck. Each turn drains the responses, so a server that is flushing
 * always progresses; a few turns normally suffice. */
#define CLOSE_TURNS   1000
/* Turns spent waiting for room in the socket before giving up a write. */
#define WRITE_TURNS   1000
/* At most this many writes per input: keeps one-byte splits of a long input
 * from dominating the run time. */
#define MAX_PIECES    512

struct fuzz {
	struct event_base *base;
	struct config cfg;
	struct router *router;
	struct stats_proc stats;
	struct conn_ctx ctx;
	struct conn_listener listener;   /* no PROXY header; the router */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

/* As in a worker: the router answers every request. */
static void
dispatch(void *router, struct http_request *req, struct http_response *resp)
{
	router_dispatch(router, req, resp);
}

/* The default routes and a WebSocket echo, in a file for config_load. */
static const char fuzz_config[] =
	"{\"routes\": [{\"path\": \"/\", \"handler\": \"welcome\"},\n"
	" {\"path\": \"/json\", \"handler\": \"json\"},\n"
	" {\"path\": \"/healthz\", \"handler\": \"health\"},\n"
	" {\"path\": \"/echo\", \"handler\": \"echo\"},\n"
	" {\"path\": \"/ws\", \"handler\": \"ws_echo\"}]}\n";

/* One-time set-up; the state lives until the process exits. */
static struct fuzz *
fuzz_get(void)
{
	static struct fuzz f;
	static int ready;
	char err[1024], path[] = "/tmp/fuzz_http.XXXXXX";
	int fd;

	if (ready)
		return &f;
	/* As in a worker: a client gone mid-write is EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	/* Refused requests are the point here; keep the output readable. */
	log_set_level(LOGL_ERROR);

	if ((f.base = event_base_new()) == NULL)
		die("event_base_new failed");
	config_set_route_check(registry_check_route);
	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, fuzz_config, sizeof(fuzz_config) - 1) !=
	    (ssize_t)sizeof(fuzz_config) - 1)
		die("cannot write the configuration file");
	close(fd);
	if (config_load(&f.cfg, path, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_http: config_load: %s\n", err);
		abort();
	}
	unlink(path);
	/*
	 * Limits small enough that inputs of -max_len (16 KiB) reach every
	 * refusal: 414, 431 by size and by count, and 413 both ways — by
	 * Content-Length at the head and by counting a chunked body as it
	 * arrives (on_body), which needs a body limit below 16 KiB.
	 */
	f.cfg.http.max_request_line = 2048;
	f.cfg.http.max_header_size = 4096;
	f.cfg.http.max_headers = 32;
	f.cfg.http.max_body_size = 8 * 1024;
	/* And 1009 and 1008 within reach of WebSocket frames. */
	f.cfg.http.websocket_max_message = 4096;
	f.cfg.http.websocket_send_queue = 8192;
	/* The default configuration loads no modules. */
	if ((f.router = router_new(f.cfg.routes, f.cfg.nroutes, NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_http: router_new: %s\n", err);
		abort();
	}
	if (conn_ctx_init(&f.ctx, f.base, &f.cfg, &f.stats) == -1)
		die("conn_ctx_init failed");
	f.ctx.dispatch = dispatch;
	f.listener.dispatch_arg = f.router;
	ready = 1;
	return &f;
}

/* The number the next open() would get: a leaked fd shows as a higher one. */
static int
next_fd(void)
{
	int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);

	if (fd == -1)
		die("fcntl(F_DUPFD_CLOEXEC) failed");
	close(fd);
	return fd;
}

/* Bytes per write for selector byte b (its low 3 bits). */
static size_t
split_size(uint8_t b, size_t len)
{
	static const size_t sizes[8] = { 0, 1, 2, 3, 7, 16, 100, 1000 };
	size_t n = sizes[b & 7];

	if (n == 0 || n > len)
		n = len;
	if (n < len / MAX_PIECES + 1)
		n = len / MAX_PIECES + 1;
	return n;
}

/*
 * One non-blocking turn of the server's loop, then read and discard what
 * it sent. Returns 1 once the server has shut down or closed its end (EOF,
 * or a reset when it closed with input unread), else 0.
 */
static int
pump(struct fuzz *f, int fd)
{
	char sink[16384];
	ssize_t n;

	event_base_loop(f->base, EVLOOP_NONBLOCK);
	for (;;) {
		n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return 1;                /* ECONNRESET */
	}
}

/* Send len bytes, turning the loop while the socket is full. Returns 1 if
 * the server shut down, closed or reset meanwhile (the rest is not sent),
 * else 0. */
static int
send_piece(struct fuzz *f, int fd, const uint8_t *p, size_t len)
{
	int turns = 0;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			turns = 0;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return 1;            /* EPIPE, ECONNRESET: the server is gone */
		/* Full: the server does not read while its output is pending,
		 * or is lingering; let it run and take its output. */
		if (pump(f, fd))
			return 1;
		if (++turns == WRITE_TURNS)
			return 0;            /* it stopped reading: keep the rest */
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz *f = fuzz_get();
	int sv[2], fd_before, closed = 0;
	size_t piece, off, drain_at = SIZE_MAX;

	if (size == 0)
		return 0;
	fd_before = next_fd();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		die("socketpair failed");
	conn_accept(&f->ctx, sv[1], NULL, 0, &f->listener);

	piece = split_size(data[0], size - 1);
	if (data[0] & 8)
		drain_at = 1 + (size - 1) / 2;
	for (off = 1; off < size && !closed; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		closed = send_piece(f, sv[0], data + off, n) || pump(f, sv[0]);
		if (off + n >= drain_at && !f->ctx.draining)
			conn_drain_all(&f->ctx);
	}
	if (drain_at != SIZE_MAX && !f->ctx.draining)
		conn_drain_all(&f->ctx);     /* nothing sent, or closed early */
	/*
	 * EOF on sv[0] means only that the server shut down its side (a
	 * lingering close); it still reads until our FIN. The connection is
	 * gone when conn.c has freed it.
	 */
	shutdown(sv[0], SHUT_WR);
	for (int i = 0; i < CLOSE_TURNS && f->ctx.nconns != 0; i++)
		pump(f, sv[0]);
	/*
	 * The client sent FIN and read everything: whatever state the
	 * connection was in (head, body, writing, lingering), the server has
	 * to close it, not hold it until a timeout.
	 */
	if (f->ctx.nconns != 0) {
		fprintf(stderr, "fuzz_http: the server still holds the connection "
		    "%d turns after the client's FIN (nconns %zu)\n", CLOSE_TURNS,
		    f->ctx.nconns);
		abort();
	}
	close(sv[0]);
	conn_close_all(&f->ctx);
	f->ctx.draining = false;
	f->ctx.ws.draining = false;
	event_del(f->ctx.ws.grace_ev);

#ifndef NDEBUG
	/* Everything the input opened is closed again. */
	if (next_fd() != fd_before) {
		fprintf(stderr, "fuzz_http: fd leak: next fd %d, was %d\n",
		    next_fd(), fd_before);
		abort();
	}
#else
	(void)fd_before;
#endif
	return 0;
}
