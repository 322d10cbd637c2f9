/*
 * subload — the load of scripts/bench-pubsub: N subscribers of one channel,
 * by server-sent events or WebSocket, and a publisher at a steady rate, all
 * from one thread (epoll), bounded in time. Plain libc, no library.
 *
 *   subload HOST PORT PATH KIND N RATE SECONDS [SIZE]
 *
 * PATH is the channel's path (/ps/bench): the subscribers GET it (KIND sse:
 * Accept: text/event-stream; ws: a WebSocket handshake), the publisher POSTs
 * to it, pipelined on one keep-alive connection. Phases, each ending with
 * one JSON line on stdout:
 *   1. open: N subscribers connect (at most 256 handshakes at once, each
 *      from 127.0.0.2-254 in turn, so that ten thousand connections a run
 *      never run out of source ports), every handshake answered;
 *   2. subscribed: a probe published every 50 ms until every subscriber
 *      has had one (the server's subscriptions are in place); then it waits
 *      for a line on stdin ("go"; end of input: exit, for a memory run that
 *      only holds idle subscribers);
 *   3. the run: RATE messages a second for SECONDS, then up to 3 s for the
 *      last deliveries; the last line has the counts and the latencies.
 * A message is "<CLOCK_MONOTONIC ns> <seq> " and padding to SIZE bytes (64);
 * its fan-out latency is the time it is read at a subscriber minus that
 * stamp (one process, one clock). Latencies go to a histogram of 10 us
 * buckets up to 1 s.
 *
 * Setup failures: exit 1 and one line on stderr. alarm() ends it SECONDS +
 * 120 s after it starts whatever happens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 256          /* handshakes at once */
#define LINE 256                  /* head, SSE line, WS header + payload start */
#define BUCKET_US 10
#define NBUCKETS 100000           /* 10 us .. 1 s */
#define PUB_OUT (1 << 20)
#define PUB_IN (1 << 16)

enum { SSE, WS };
enum { C_CONNECTING, C_HEAD, C_BODY, C_DEAD };
enum { K_SIZE, K_DATA, K_CR };   /* chunked decoding */
enum { W_HDR, W_PAYLOAD };       /* WebSocket frames */

struct conn {
	int fd;
	uint8_t state, chunk, ws;
	bool chunked, got_probe;
	uint8_t op;
	uint16_t len;                 /* bytes in buf */
	uint16_t need;                /* WebSocket header length */
	uint32_t last_seq;
	uint64_t left;                /* chunk or payload bytes left */
	char buf[LINE];
};

static struct {
	const char *host, *path;
	int port, kind, n, size;
	double rate, seconds;
	int ep;
	struct conn *c;
	int opened, inflight, next, dead, probed;
	/* publisher */
	int pfd;
	char *out, *in;
	size_t out_len, out_off, in_len;
	uint64_t pub_sent, pub_ok, pub_bad;
	/* the run */
	bool running;
	uint64_t first_seq, last_seq, seq;
	uint64_t delivered, reordered, probes_seen;
	uint32_t hist[NBUCKETS + 1];
	uint64_t max_ns;
} g;

static void
die(const char *what)
{
	fprintf(stderr, "subload: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
ep_add(int fd, uint32_t ev, uint64_t tag)
{
	struct epoll_event e = { .events = ev, .data.u64 = tag };

	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &e) == -1)
		die("epoll_ctl");
}

static void
ep_mod(int fd, uint32_t ev, uint64_t tag)
{
	struct epoll_event e = { .events = ev, .data.u64 = tag };

	epoll_ctl(g.ep, EPOLL_CTL_MOD, fd, &e);
}

/* Tags: a subscriber's index, or one of these. */
#define TAG_PUB    (1ull << 40)
#define TAG_TIMER  (TAG_PUB + 1)
#define TAG_STDIN  (TAG_PUB + 2)

/* ---- subscribers ----------------------------------------------------------------- */

static void
sub_dead(struct conn *c)
{
	if (c->state == C_DEAD)
		return;
	if (c->state != C_BODY)
		g.inflight--;
	c->state = C_DEAD;
	close(c->fd);
	g.dead++;
}

static void
sub_open(int i)
{
	struct conn *c = &g.c[i];
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket (raise the open-file limit?)");
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % 253));
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1)
		die("bind 127.0.0.x");
	dst.sin_port = htons((uint16_t)g.port);
	inet_pton(AF_INET, g.host, &dst.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 && errno != EINPROGRESS)
		die("connect");
	c->state = C_CONNECTING;
	g.inflight++;
	ep_add(c->fd, EPOLLOUT, (uint64_t)i);
}

static void
sub_request(int i)
{
	struct conn *c = &g.c[i];
	char req[512];
	int err = 0, n;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
		fprintf(stderr, "subload: connect: %s\n", strerror(err));
		sub_dead(c);
		return;
	}
	if (g.kind == SSE)
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "Accept: text/event-stream\r\n\r\n", g.path, g.host);
	else
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n", g.path, g.host);
	if (write(c->fd, req, (size_t)n) != n) {
		sub_dead(c);
		return;
	}
	c->state = C_HEAD;
	ep_mod(c->fd, EPOLLIN, (uint64_t)i);
}

/* One message's text (its start: the stamp and the sequence number). */
static void
message(struct conn *c, const char *s, size_t len, uint64_t t)
{
	uint64_t ts = 0, seq = 0;
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9')
		ts = ts * 10 + (uint64_t)(s[i++] - '0');
	if (i == 0 || i >= len || s[i++] != ' ')
		return;
	if (i < len && s[i] == 'P') {
		if (!c->got_probe) {
			c->got_probe = true;
			g.probed++;
		}
		g.probes_seen++;
		return;
	}
	while (i < len && s[i] >= '0' && s[i] <= '9')
		seq = seq * 10 + (uint64_t)(s[i++] - '0');
	if (seq == 0)
		return;
	if (seq <= c->last_seq)
		g.reordered++;
	c->last_seq = (uint32_t)seq;
	if (seq < g.first_seq || seq > g.last_seq)
		return;
	g.delivered++;
	uint64_t d = t > ts ? t - ts : 0;
	if (d > g.max_ns)
		g.max_ns = d;
	uint64_t b = d / 1000 / BUCKET_US;
	g.hist[b < NBUCKETS ? b : NBUCKETS]++;
}

/* Server-sent event text, line by line: "data:" lines are messages. */
static void
sse_text(struct conn *c, const char *p, size_t n, uint64_t t)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (c->len > 5 && memcmp(c->buf, "data:", 5) == 0) {
				size_t off = c->buf[5] == ' ' ? 6 : 5;
				message(c, c->buf + off, c->len - off, t);
			}
			c->len = 0;
		} else if (p[i] != '\r' && c->len < LINE - 1) {
			c->buf[c->len++] = p[i];
		}
	}
}

static void
sse_body(struct conn *c, const char *p, size_t n, uint64_t t)
{
	if (!c->chunked) {
		sse_text(c, p, n, t);
		return;
	}
	while (n > 0) {
		switch (c->chunk) {
		case K_SIZE:
			if (*p == '\n') {
				if (c->left == 0) {     /* the last chunk: the stream ended */
					sub_dead(c);
					return;
				}
				c->chunk = K_DATA;
			} else if (*p >= '0' && *p <= '9') {
				c->left = c->left * 16 + (uint64_t)(*p - '0');
			} else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f') {
				c->left = c->left * 16 + (uint64_t)((*p | 0x20) - 'a' + 10);
			}
			p++, n--;
			break;
		case K_DATA: {
			size_t m = n < c->left ? n : (size_t)c->left;
			sse_text(c, p, m, t);
			p += m, n -= m;
			if ((c->left -= m) == 0)
				c->chunk = K_CR;
			break;
		}
		case K_CR:
			if (*p == '\n')
				c->chunk = K_SIZE;
			p++, n--;
			break;
		}
	}
}

static void
ws_body(struct conn *c, const char *p, size_t n, uint64_t t)
{
	while (n > 0) {
		if (c->ws == W_HDR) {
			c->buf[c->len++] = *p++, n--;
			if (c->len == 2) {
				uint8_t l = (uint8_t)c->buf[1] & 0x7f;
				c->need = l == 126 ? 4 : l == 127 ? 10 : 2;
			}
			if (c->len < 2 || c->len < c->need)
				continue;
			uint8_t l = (uint8_t)c->buf[1] & 0x7f;
			c->op = (uint8_t)c->buf[0] & 0x0f;
			c->left = l;
			if (l == 126)
				c->left = ((uint64_t)(uint8_t)c->buf[2] << 8) | (uint8_t)c->buf[3];
			else if (l == 127)
				for (int k = 2; k < 10; k++)
					c->left = (c->left << 8) | (uint8_t)c->buf[k];
			c->len = 0;
			c->ws = W_PAYLOAD;
			if (c->op == 8) {         /* close */
				sub_dead(c);
				return;
			}
		}
		if (c->ws == W_PAYLOAD) {
			size_t m = n < c->left ? n : (size_t)c->left;
			size_t keep = m < (size_t)(LINE - 1 - c->len) ? m : (size_t)(LINE - 1 - c->len);
			memcpy(c->buf + c->len, p, keep);
			c->len = (uint16_t)(c->len + keep);
			p += m, n -= m;
			if ((c->left -= m) == 0) {
				if (c->op == 1 || c->op == 2 || c->op == 0)
					message(c, c->buf, c->len, t);
				c->len = 0;
				c->need = 0;
				c->ws = W_HDR;
			}
		}
	}
}

static void
sub_read(int i, char *rbuf, size_t rcap)
{
	struct conn *c = &g.c[i];
	ssize_t r = read(c->fd, rbuf, rcap);
	uint64_t t = now_ns();
	char *p = rbuf;
	size_t n;

	if (r <= 0) {
		if (r == -1 && errno == EAGAIN)
			return;
		sub_dead(c);
		return;
	}
	n = (size_t)r;
	if (c->state == C_HEAD) {
		size_t take = n < (size_t)(LINE - 1 - c->len) ? n : (size_t)(LINE - 1 - c->len);
		char *end;

		memcpy(c->buf + c->len, p, take);
		c->len = (uint16_t)(c->len + take);
		c->buf[c->len] = '\0';
		if ((end = strstr(c->buf, "\r\n\r\n")) == NULL) {
			if (c->len >= LINE - 1) {
				fprintf(stderr, "subload: head too long: %.80s\n", c->buf);
				sub_dead(c);
			}
			return;
		}
		size_t head = (size_t)(end + 4 - c->buf);
		int want = g.kind == SSE ? 200 : 101;
		if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0 || atoi(c->buf + 9) != want) {
			fprintf(stderr, "subload: handshake answered: %.60s\n", c->buf);
			sub_dead(c);
			return;
		}
		c->chunked = strcasestr(c->buf, "chunked") != NULL;
		/* what of this read lies past the head */
		size_t before = c->len - take;
		p += head - before;
		n -= head - before;
		c->len = 0;
		c->state = C_BODY;
		g.inflight--;
		g.opened++;
	}
	if (g.kind == SSE)
		sse_body(c, p, n, t);
	else
		ws_body(c, p, n, t);
}

/* ---- publisher ---------------------------------------------------------------------- */

static void
pub_flush(void)
{
	while (g.out_off < g.out_len) {
		ssize_t w = write(g.pfd, g.out + g.out_off, g.out_len - g.out_off);
		if (w <= 0) {
			if (w == -1 && errno == EAGAIN) {
				ep_mod(g.pfd, EPOLLIN | EPOLLOUT, TAG_PUB);
				return;
			}
			die("publisher: write");
		}
		g.out_off += (size_t)w;
	}
	g.out_off = g.out_len = 0;
	ep_mod(g.pfd, EPOLLIN, TAG_PUB);
}

static void
publish(bool probe)
{
	char body[4096];
	int n;

	if (probe)
		n = snprintf(body, sizeof(body), "%llu P ", (unsigned long long)now_ns());
	else
		n = snprintf(body, sizeof(body), "%llu %llu ", (unsigned long long)now_ns(),
		    (unsigned long long)++g.seq);
	while (n < g.size && n < (int)sizeof(body))
		body[n++] = 'x';
	if (g.out_len + (size_t)n + 256 > PUB_OUT) {
		pub_flush();
		if (g.out_len + (size_t)n + 256 > PUB_OUT)
			die("publisher: the server does not read its requests");
	}
	g.out_len += (size_t)snprintf(g.out + g.out_len, PUB_OUT - g.out_len,
	    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\n\r\n%.*s", g.path, g.host, n, n, body);
	g.pub_sent++;
	pub_flush();
}

/* Answers to the publishes: count the 200s. */
static void
pub_read(void)
{
	ssize_t r = read(g.pfd, g.in + g.in_len, PUB_IN - g.in_len - 1);

	if (r <= 0) {
		if (r == -1 && errno == EAGAIN)
			return;
		errno = 0;
		die("publisher: the server closed the connection");
	}
	g.in_len += (size_t)r;
	g.in[g.in_len] = '\0';
	for (;;) {
		char *end = strstr(g.in, "\r\n\r\n"), *cl;
		size_t head, body = 0;

		if (end == NULL)
			break;
		*end = '\0';
		head = (size_t)(end + 4 - g.in);
		if ((cl = strcasestr(g.in, "content-length:")) != NULL)
			body = (size_t)strtoul(cl + 15, NULL, 10);
		if (g.in_len < head + body) {
			*end = '\r';
			break;
		}
		if (strncmp(g.in, "HTTP/1.1 200", 12) == 0)
			g.pub_ok++;
		else {
			g.pub_bad++;
			if (g.pub_bad <= 3)
				fprintf(stderr, "subload: publish answered %.40s\n", g.in);
		}
		memmove(g.in, g.in + head + body, g.in_len - head - body);
		g.in_len -= head + body;
		g.in[g.in_len] = '\0';
	}
	if (g.in_len >= PUB_IN - 1)
		die("publisher: an answer too long");
}

static void
pub_open(void)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int one = 1;

	if ((g.pfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	setsockopt(g.pfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	dst.sin_port = htons((uint16_t)g.port);
	inet_pton(AF_INET, g.host, &dst.sin_addr);
	if (connect(g.pfd, (struct sockaddr *)&dst, sizeof(dst)) == -1)
		die("publisher: connect");
	fcntl(g.pfd, F_SETFL, O_NONBLOCK);
	g.out = malloc(PUB_OUT);
	g.in = malloc(PUB_IN);
	if (g.out == NULL || g.in == NULL)
		die("malloc");
	ep_add(g.pfd, EPOLLIN, TAG_PUB);
}

/* ---- the loop --------------------------------------------------------------------------- */

static uint64_t
pct(double q)
{
	uint64_t total = 0, seen = 0;

	for (int i = 0; i <= NBUCKETS; i++)
		total += g.hist[i];
	if (total == 0)
		return 0;
	for (int i = 0; i <= NBUCKETS; i++) {
		seen += g.hist[i];
		if ((double)seen >= q * (double)total)
			return (uint64_t)i * BUCKET_US + BUCKET_US / 2;
	}
	return (uint64_t)NBUCKETS * BUCKET_US;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Run the loop until done() says so or the deadline (ns) passes. */
static char *rbuf;
#define RBUF (256 * 1024)

static void
loop(bool (*done)(void), uint64_t deadline, int tfd, void (*tick)(void), bool want_stdin)
{
	struct epoll_event ev[512];

	while (!done() && now_ns() < deadline) {
		int n = epoll_wait(g.ep, ev, 512, 10);
		for (int k = 0; k < n; k++) {
			uint64_t tag = ev[k].data.u64;
			if (tag == TAG_TIMER) {
				uint64_t x;
				if (read(tfd, &x, sizeof(x)) > 0 && tick != NULL)
					tick();
			} else if (tag == TAG_PUB) {
				if (ev[k].events & EPOLLOUT)
					pub_flush();
				if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					pub_read();
			} else if (tag == TAG_STDIN) {
				if (want_stdin)
					return;
			} else {
				int i = (int)tag;
				if (g.c[i].state == C_CONNECTING)
					sub_request(i);
				else if (g.c[i].state != C_DEAD)
					sub_read(i, rbuf, RBUF);
			}
		}
		/* more handshakes as the earlier ones finish */
		while (g.next < g.n && g.inflight < MAX_INFLIGHT)
			sub_open(g.next++);
	}
}

static bool all_open(void) { return g.opened + g.dead >= g.n && g.next >= g.n; }
static bool all_probed(void) { return g.probed >= g.opened - g.dead || g.opened == 0; }
static bool never(void) { return false; }
static void tick_probe(void) { publish(true); }

static uint64_t run_t0, run_end;

static void
tick_run(void)
{
	uint64_t t = now_ns();

	if (t >= run_end)
		return;
	uint64_t due = (uint64_t)((double)(t - run_t0) / 1e9 * g.rate) + 1;
	while (g.seq < due)
		publish(false);
}

static bool
all_delivered(void)
{
	uint64_t alive = (uint64_t)(g.opened - g.dead);

	return now_ns() >= run_end && g.delivered >= g.seq * alive;
}

static void
set_timer(int tfd, uint64_t ns)
{
	struct itimerspec it = {
		.it_interval = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) },
		.it_value = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) },
	};

	timerfd_settime(tfd, 0, &it, NULL);
}

int
main(int argc, char **argv)
{
	char line[64];
	int tfd;

	if (argc < 8) {
		fprintf(stderr, "usage: subload HOST PORT PATH sse|ws N RATE SECONDS [SIZE]\n");
		return 2;
	}
	g.host = argv[1];
	g.port = atoi(argv[2]);
	g.path = argv[3];
	g.kind = strcmp(argv[4], "ws") == 0 ? WS : SSE;
	g.n = atoi(argv[5]);
	g.rate = atof(argv[6]);
	g.seconds = atof(argv[7]);
	g.size = argc > 8 ? atoi(argv[8]) : 64;
	if (g.n < 1 || g.rate <= 0 || g.seconds <= 0 || g.size < 32 || g.size > 4000) {
		fprintf(stderr, "subload: N >= 1, RATE > 0, SECONDS > 0, 32 <= SIZE <= 4000\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)g.seconds + 120);
	if ((g.c = calloc((size_t)g.n, sizeof(*g.c))) == NULL || (rbuf = malloc(RBUF)) == NULL)
		die("calloc");
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
		die("timerfd_create");
	ep_add(tfd, EPOLLIN, TAG_TIMER);

	/* 1. open */
	uint64_t t0 = now_ns();
	loop(all_open, t0 + 60000000000ull, tfd, NULL, false);
	printf("{\"phase\":\"open\",\"open\":%d,\"failed\":%d,\"seconds\":%.3f}\n",
	    g.opened, g.dead, (double)(now_ns() - t0) / 1e9);
	fflush(stdout);
	if (g.opened == 0) {
		errno = 0;
		die("no subscriber connected");
	}

	/* 2. subscribed */
	pub_open();
	set_timer(tfd, 50000000);
	t0 = now_ns();
	loop(all_probed, t0 + 30000000000ull, tfd, tick_probe, false);
	printf("{\"phase\":\"subscribed\",\"probed\":%d,\"open\":%d,\"seconds\":%.3f}\n",
	    g.probed, g.opened - g.dead, (double)(now_ns() - t0) / 1e9);
	fflush(stdout);
	if (!all_probed()) {
		errno = 0;
		die("not every subscriber got a probe within 30 s");
	}
	set_timer(tfd, 0);
	fcntl(0, F_SETFL, O_NONBLOCK);
	ep_add(0, EPOLLIN, TAG_STDIN);
	loop(never, now_ns() + (uint64_t)(g.seconds + 100) * 1000000000ull, tfd, NULL, true);
	if (read(0, line, sizeof(line)) <= 0)
		return 0;            /* end of input: a memory run */
	epoll_ctl(g.ep, EPOLL_CTL_DEL, 0, NULL);

	/* 3. the run */
	int dead0 = g.dead;
	double cpu0 = cpu_s();
	g.first_seq = 1;
	g.last_seq = UINT64_MAX;
	run_t0 = now_ns();
	run_end = run_t0 + (uint64_t)(g.seconds * 1e9);
	set_timer(tfd, 1000000);      /* 1 ms: publish what is due */
	loop(never, run_end, tfd, tick_run, false);
	g.last_seq = g.seq;
	set_timer(tfd, 0);
	uint64_t t1 = now_ns();
	loop(all_delivered, t1 + 3000000000ull, tfd, NULL, false);
	/* answers to the last publishes */
	loop(never, now_ns() + 100000000ull, tfd, NULL, false);
	uint64_t alive = (uint64_t)(g.opened - g.dead);
	printf("{\"phase\":\"done\",\"kind\":\"%s\",\"open\":%d,\"closed_in_run\":%d,"
	    "\"published\":%llu,\"answered_ok\":%llu,\"answered_bad\":%llu,"
	    "\"delivered\":%llu,\"expected\":%llu,\"reordered\":%llu,\"seconds\":%.3f,"
	    "\"drain_s\":%.3f,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,"
	    "\"p999_us\":%llu,\"max_us\":%llu,\"cpu_s\":%.3f}\n",
	    g.kind == WS ? "ws" : "sse", g.opened, g.dead - dead0,
	    (unsigned long long)g.seq, (unsigned long long)g.pub_ok,
	    (unsigned long long)g.pub_bad, (unsigned long long)g.delivered,
	    (unsigned long long)(g.seq * alive), (unsigned long long)g.reordered,
	    g.seconds, (double)(now_ns() - t1) / 1e9,
	    (unsigned long long)pct(0.50), (unsigned long long)pct(0.90),
	    (unsigned long long)pct(0.99), (unsigned long long)pct(0.999),
	    (unsigned long long)(g.max_ns / 1000), cpu_s() - cpu0);
	fflush(stdout);
	return 0;
}
