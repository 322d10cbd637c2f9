/*
 * pace: a constant-rate HTTP/1.1 load generator for scripts/bench.
 *
 *     pace -p PORT [-P PATH] -r RATE -d SECONDS [-w SECONDS] [-c CONNS]
 *          [-t SECONDS]
 *
 * Request k is due at start + k / RATE, whatever happened before it. It goes
 * out on an idle keep-alive connection (one request at a time on each; CONNS
 * of them, default 64); when none is idle it waits, and its latency still
 * counts from the moment it was due. So a server that stalls pays for every
 * request that queued behind the stall ("coordinated omission" does not hide
 * it, unlike a closed-loop tool such as wrk, which sends the next request only
 * when a connection is free and times it from then).
 *
 * The first -w seconds (default 1) warm up and are not recorded; then -d
 * seconds are. Every run is bounded: after the last request is due, the
 * responses still out have -t seconds (default 2) to arrive, then pace stops
 * and counts them as timed out. Connections the server closes are counted
 * and reopened, at most 1,000 times in all.
 *
 * Offered more than the server can take, pace becomes a closed loop on CONNS
 * connections, and "achieved_rps" (answers per second from the start to the
 * last answer) is the server's capacity under this client.
 *
 * Prints one line of JSON: counts, achieved rate, latency percentiles in
 * microseconds (p50, p90, p99, p99.9, max) and "lag_p99_us", how late pace
 * itself sent requests that found a connection idle (large means pace, not
 * the server, could not keep up). Exit 0 when every request was answered
 * 200, 1 otherwise, 2 on bad usage. Built by scripts/bench (cc -O2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_RECORDED 20000000ULL   /* requests per run: 320 MB of records */
#define MAX_RECONNECTS 1000
#define BUF_SIZE 65536
#define SPIN_NS 2000000          /* a wait this short spins */

struct conn {
	int fd;
	bool busy;
	uint64_t req;         /* index of the request in flight */
	char *buf;
	size_t len;
};

struct pace {
	struct sockaddr_in addr;
	char request[512];
	size_t request_len;
	uint64_t start_ns;
	double period_ns;     /* 1e9 / rate */
	uint64_t total;       /* requests to send */
	uint64_t warm;        /* of which the first ones are not recorded */
	uint64_t sent, done;
	uint64_t last_ns;     /* when the last answer came */
	uint64_t errors, non200, closed, reconnects;
	int ep;
	struct conn *conns;
	int nconns;
	int *idle;            /* stack of idle connection indexes */
	int nidle;
	uint64_t *lat;        /* ns, for recorded requests */
	uint64_t nlat;
	uint64_t *lag;        /* ns, send lag when a connection was idle */
	uint64_t nlag;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "pace: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t
due_ns(const struct pace *p, uint64_t k)
{
	return p->start_ns + (uint64_t)((double)k * p->period_ns);
}

static void
conn_open(struct pace *p, int i)
{
	struct conn *c = &p->conns[i];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket");
	/* A blocking connect, then non-blocking I/O: simple, and bounded by
	 * the kernel's connect timeout on loopback (the server listens). */
	if (connect(c->fd, (struct sockaddr *)&p->addr, sizeof(p->addr)) == -1)
		die("connect");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
	if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl");
	c->busy = false;
	c->len = 0;
	p->idle[p->nidle++] = i;
}

/* The server closed c or broke the protocol: the request in flight is an
 * error; open a fresh connection in its place while the budget lasts. */
static void
conn_lost(struct pace *p, int i)
{
	struct conn *c = &p->conns[i];

	if (c->busy) {
		p->errors++;
		p->done++;
	}
	close(c->fd);
	c->fd = -1;
	c->busy = false;
	if (p->reconnects++ < MAX_RECONNECTS)
		conn_open(p, i);
}

/* lag: record how late this request leaves (only when pace went to sleep
 * with a connection idle, so the lateness is pace's own). */
static void
send_one(struct pace *p, uint64_t now, bool lag)
{
	int i = p->idle[--p->nidle];
	struct conn *c = &p->conns[i];
	ssize_t n;

	c->busy = true;
	c->req = p->sent++;
	n = send(c->fd, p->request, p->request_len, MSG_NOSIGNAL);
	if (n != (ssize_t)p->request_len) {
		/* A request this short always fits an empty socket buffer. */
		conn_lost(p, i);
		return;
	}
	if (lag)
		p->lag[p->nlag++] = now - due_ns(p, c->req);
}

/* Length of the first whole response in buf, 0 if not complete yet, -1 if
 * it cannot be read (no Content-Length: pace reads nothing else). */
static long
response_len(const char *buf, size_t len, int *status)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *h;
	long body = -1;

	if (end == NULL)
		return len > 16384 ? -1 : 0;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(buf + 9);
	for (h = memchr(buf, '\n', (size_t)(end - buf)); h != NULL && h < end;
	    h = memchr(h + 1, '\n', (size_t)(end - h - 1))) {
		if (strncasecmp(h + 1, "content-length:", 15) == 0)
			body = strtol(h + 16, NULL, 10);
		else if (strncasecmp(h + 1, "transfer-encoding:", 18) == 0)
			return -1;
	}
	if (body < 0)
		return -1;
	if ((size_t)(end + 4 - buf) + (size_t)body > len)
		return 0;
	return (long)(end + 4 - buf) + body;
}

static void
on_readable(struct pace *p, int i, uint64_t now)
{
	struct conn *c = &p->conns[i];
	ssize_t n;
	long rlen;
	int status = 0;

	n = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		p->closed++;
		conn_lost(p, i);
		return;
	}
	if (n == -1)
		return;
	c->len += (size_t)n;
	rlen = response_len(c->buf, c->len, &status);
	if (rlen == 0)
		return;
	if (rlen < 0 || !c->busy || (size_t)rlen != c->len) {
		/* Unreadable, unasked for, or more than one response. */
		conn_lost(p, i);
		return;
	}
	if (status != 200)
		p->non200++;
	if (c->req >= p->warm)
		p->lat[p->nlat++] = now - due_ns(p, c->req);
	p->done++;
	p->last_ns = now;
	c->busy = false;
	c->len = 0;
	p->idle[p->nidle++] = i;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of sorted v, in microseconds. */
static double
quantile_us(const uint64_t *v, uint64_t n, double q)
{
	uint64_t r;

	if (n == 0)
		return -1;
	r = (uint64_t)(q * (double)n + 0.999999);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return (double)v[r - 1] / 1000.0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pace -p PORT [-P PATH] -r RATE -d SECONDS "
	    "[-w SECONDS] [-c CONNS] [-t SECONDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct pace p;
	struct epoll_event evs[256];
	const char *path = "/";
	double rate = 0, duration = 0, warmup = 1, drain = 2;
	long port = 0;
	uint64_t now, deadline, timeouts;
	bool starved = false;
	struct timespec ts;
	int opt, i, n;

	p.nconns = 64;
	while ((opt = getopt(argc, argv, "p:P:r:d:w:c:t:")) != -1) {
		switch (opt) {
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'P': path = optarg; break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'w': warmup = strtod(optarg, NULL); break;
		case 'c': p.nconns = atoi(optarg); break;
		case 't': drain = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (port < 1 || port > 65535 || rate <= 0 || duration <= 0 ||
	    warmup < 0 || drain <= 0 || p.nconns < 1 || p.nconns > 10000 ||
	    strlen(path) > 400 || path[0] != '/')
		usage();
	p.total = (uint64_t)(rate * (warmup + duration));
	p.warm = (uint64_t)(rate * warmup);
	if (p.total == 0 || p.total > MAX_RECORDED) {
		fprintf(stderr, "pace: rate x time must be 1 to %llu requests\n",
		    MAX_RECORDED);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Wake-ups to the microsecond, not the default 50 us of slack. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	p.addr.sin_family = AF_INET;
	p.addr.sin_port = htons((uint16_t)port);
	p.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.request_len = (size_t)snprintf(p.request, sizeof(p.request),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\n\r\n", path, port);
	p.period_ns = 1e9 / rate;
	p.conns = calloc((size_t)p.nconns, sizeof(*p.conns));
	p.idle = calloc((size_t)p.nconns, sizeof(*p.idle));
	p.lat = malloc(p.total * sizeof(*p.lat));
	p.lag = malloc(p.total * sizeof(*p.lag));
	if (p.conns == NULL || p.idle == NULL || p.lat == NULL || p.lag == NULL)
		die("malloc");
	if ((p.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (i = 0; i < p.nconns; i++) {
		if ((p.conns[i].buf = malloc(BUF_SIZE)) == NULL)
			die("malloc");
		conn_open(&p, i);
	}

	p.start_ns = now_ns() + 1000000;  /* 1 ms from now */
	deadline = due_ns(&p, p.total) + (uint64_t)(drain * 1e9);
	for (;;) {
		int64_t wait;

		now = now_ns();
		if (now >= deadline || p.done == p.total)
			break;
		while (p.sent < p.total && p.nidle > 0 &&
		    due_ns(&p, p.sent) <= now)
			send_one(&p, now, !starved);
		if (p.sent < p.total && p.nidle > 0)
			wait = (int64_t)(due_ns(&p, p.sent) - now);
		else
			wait = (int64_t)(deadline - now);
		starved = p.sent < p.total && p.nidle == 0;
		/* Spin while a request is out or due soon: a sleeping vCPU
		 * can take tens of microseconds to wake, which would count as
		 * the server's latency and slow pace down. pace has its CPU to
		 * itself (scripts/bench pins it), as wrk does. */
		if (wait < SPIN_NS || p.nidle < p.nconns)
			wait = 0;
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		n = epoll_pwait2(p.ep, evs, 256, &ts, NULL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_pwait2");
		}
		now = now_ns();
		for (i = 0; i < n; i++)
			on_readable(&p, (int)evs[i].data.u32, now);
	}
	timeouts = p.total - p.done;
	now = now_ns();

	qsort(p.lat, p.nlat, sizeof(*p.lat), cmp_u64);
	qsort(p.lag, p.nlag, sizeof(*p.lag), cmp_u64);
	printf("{\"rate\": %.0f, \"duration_s\": %.3f, \"connections\": %d, "
	    "\"sent\": %llu, \"answered\": %llu, \"recorded\": %llu, "
	    "\"errors\": %llu, \"non200\": %llu, \"closed_by_server\": %llu, "
	    "\"timeouts\": %llu, \"achieved_rps\": %.1f, "
	    "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
	    "\"p999_us\": %.1f, \"max_us\": %.1f, \"lag_p99_us\": %.1f}\n",
	    rate, duration, p.nconns,
	    (unsigned long long)p.sent, (unsigned long long)(p.done - p.errors),
	    (unsigned long long)p.nlat, (unsigned long long)p.errors,
	    (unsigned long long)p.non200, (unsigned long long)p.closed,
	    (unsigned long long)timeouts,
	    p.last_ns > p.start_ns ? (double)(p.done - p.errors) /
	    ((double)(p.last_ns - p.start_ns) / 1e9) : 0.0,
	    quantile_us(p.lat, p.nlat, 0.50), quantile_us(p.lat, p.nlat, 0.90),
	    quantile_us(p.lat, p.nlat, 0.99), quantile_us(p.lat, p.nlat, 0.999),
	    quantile_us(p.lat, p.nlat, 1.0), quantile_us(p.lag, p.nlag, 0.99));
	return p.errors || p.non200 || timeouts ? 1 : 0;
}
