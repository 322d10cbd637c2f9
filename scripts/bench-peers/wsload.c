/*
 * wsload — the WebSocket load generator of scripts/bench-ws: one thread,
 * libevent, wslay's client side (masking, framing). Built by bench-ws.
 *
 *   wsload echo HOST PORT PATH CONNS DEPTH SIZE SECONDS
 *       CONNS connections each keep DEPTH messages of SIZE bytes in
 *       flight: every echo received is checked, timed, and answered with
 *       the next message. Prints one JSON line: messages echoed, seconds,
 *       latency p50/p99/p99.9 (microseconds), this process's CPU seconds,
 *       errors.
 *   wsload idle HOST PORT PATH CONNS SECONDS
 *       opens CONNS connections, one echoed message on each, then holds
 *       them idle; prints {"open": N} once all are open, and exits after
 *       SECONDS (or on SIGTERM).
 *
 * What wslay frames goes into a buffer per connection, written with one
 * send() after each wslay_event_send() (not one per frame: at depth 16
 * that made the generator, not the server, the bottleneck).
 *
 * Loopback only: HOST must be a numeric address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <wslay/wslay.h>

struct client {
	int fd;
	struct event *ev;
	wslay_event_context_ptr ws;
	bool open;
	char hs[1024];
	size_t hs_len;
	uint8_t *out;            /* framed, not yet sent */
	size_t out_len, out_off, out_cap;
};

#define OUT_MAX (256 * 1024)     /* past it wslay is told to wait */

static struct event_base *base;
static struct client *clients;
static int nconns, depth, size, idle_mode, nopen;
static uint64_t echoed, errors, *lat;
static size_t nlat, lat_cap;
static uint8_t *payload;
static bool stopping;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct client *c = user;
	ssize_t n = read(c->fd, buf, len);

	(void)flags;
	if (n > 0)
		return n;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct client *c = user;

	(void)flags;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *p;

		if (c->out_len + len > OUT_MAX) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		while (cap < c->out_len + len)
			cap *= 2;
		if ((p = realloc(c->out, cap)) == NULL) {
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return -1;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return (ssize_t)len;
}

/* Send what is buffered; -1 if the connection failed. */
static int
flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
		    c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

static int
genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	(void)ctx;
	(void)user;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rand();
	return 0;
}

static void
send_one(struct client *c)
{
	uint64_t t = now_us();
	struct wslay_event_msg m = { WSLAY_BINARY_FRAME, payload, (size_t)size };

	memcpy(payload, &t, sizeof(t));
	if (wslay_event_queue_msg(c->ws, &m) != 0)
		errors++;
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
    void *user)
{
	struct client *c = user;
	uint64_t t;

	(void)ctx;
	if (a->opcode != WSLAY_BINARY_FRAME)
		return;
	if (a->msg_length != (size_t)size) {
		errors++;
		return;
	}
	memcpy(&t, a->msg, sizeof(t));
	echoed++;
	if (nlat < lat_cap)
		lat[nlat++] = now_us() - t;
	if (!idle_mode && !stopping)
		send_one(c);
}

static const struct wslay_event_callbacks callbacks = {
	recv_cb, send_cb, genmask_cb, NULL, NULL, NULL, on_msg,
};

static void on_event(evutil_socket_t fd, short what, void *arg);

static void
watch(struct client *c)
{
	short what = EV_READ | EV_PERSIST;

	if ((c->ws != NULL && wslay_event_want_write(c->ws)) ||
	    c->out_off < c->out_len)
		what |= EV_WRITE;
	if (event_get_events(c->ev) != what) {
		event_del(c->ev);
		event_assign(c->ev, base, c->fd, what, on_event, c);
		event_add(c->ev, NULL);
	}
}

static void
fail(struct client *c)
{
	errors++;
	event_del(c->ev);
	close(c->fd);
	c->fd = -1;
}

static void
handshake(struct client *c)
{
	ssize_t n = read(c->fd, c->hs + c->hs_len, sizeof(c->hs) - 1 - c->hs_len);
	char *end;

	if (n <= 0) {
		if (n == -1 && errno == EAGAIN)
			return;
		fail(c);
		return;
	}
	c->hs_len += (size_t)n;
	c->hs[c->hs_len] = '\0';
	if ((end = strstr(c->hs, "\r\n\r\n")) == NULL)
		return;
	if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0 ||
	    end + 4 != c->hs + c->hs_len) {
		fail(c);
		return;
	}
	c->open = true;
	nopen++;
	wslay_event_context_client_init(&c->ws, &callbacks, c);
	for (int i = 0; i < (idle_mode ? 1 : depth); i++)
		send_one(c);
	if (wslay_event_send(c->ws) != 0 || flush(c) == -1)
		fail(c);
	else
		watch(c);
	if (idle_mode && nopen == nconns) {
		printf("{\"open\": %d}\n", nopen);
		fflush(stdout);
	}
}

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	if (!c->open) {
		if (what & EV_READ)
			handshake(c);
		return;
	}
	if (flush(c) == -1 ||
	    ((what & EV_READ) && wslay_event_recv(c->ws) != 0) ||
	    wslay_event_send(c->ws) != 0 || flush(c) == -1) {
		fail(c);
		return;
	}
	watch(c);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	stopping = true;
	event_base_loopbreak(base);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	return nlat ? (double)lat[(size_t)(p * (double)(nlat - 1))] : 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv;
	struct rusage ru;
	double seconds;
	uint64_t t0, t1;
	int one = 1;

	if (argc < 7 || (strcmp(argv[1], "echo") == 0 && argc != 9)) {
		fprintf(stderr, "usage: wsload echo HOST PORT PATH CONNS DEPTH SIZE "
		    "SECONDS | idle HOST PORT PATH CONNS SECONDS\n");
		return 2;
	}
	idle_mode = strcmp(argv[1], "idle") == 0;
	inet_pton(AF_INET, argv[2], &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(argv[3]));
	nconns = atoi(argv[5]);
	depth = idle_mode ? 1 : atoi(argv[6]);
	size = idle_mode ? 16 : atoi(argv[7]);
	seconds = atof(argv[idle_mode ? 6 : 8]);
	if (size < 8)
		size = 8;
	payload = calloc(1, (size_t)size);
	lat_cap = 20 * 1000 * 1000;
	lat = malloc(lat_cap * sizeof(*lat));
	clients = calloc((size_t)nconns, sizeof(*clients));
	base = event_base_new();
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < nconns; i++) {
		struct client *c = &clients[i];
		char req[512];
		int len;

		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c->fd == -1 || connect(c->fd, (struct sockaddr *)&sa,
		    sizeof(sa)) == -1) {
			perror("connect");
			return 1;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n", argv[4], argv[2]);
		if (write(c->fd, req, (size_t)len) != len) {
			perror("write");
			return 1;
		}
		evutil_make_socket_nonblocking(c->fd);
		c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_event, c);
		event_add(c->ev, NULL);
	}
	event_add(evsignal_new(base, SIGTERM, on_stop, NULL), NULL);
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	event_add(evtimer_new(base, on_stop, NULL), &tv);
	t0 = now_us();
	event_base_dispatch(base);
	t1 = now_us();
	getrusage(RUSAGE_SELF, &ru);
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("{\"mode\": \"%s\", \"conns\": %d, \"open\": %d, \"echoed\": %llu, "
	    "\"seconds\": %.3f, \"p50_us\": %.0f, \"p99_us\": %.0f, "
	    "\"p999_us\": %.0f, \"cpu_s\": %.3f, \"errors\": %llu}\n",
	    argv[1], nconns, nopen, (unsigned long long)echoed,
	    (double)(t1 - t0) / 1e6, pct(0.5), pct(0.99), pct(0.999),
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	    (unsigned long long)errors);
	return 0;
}
