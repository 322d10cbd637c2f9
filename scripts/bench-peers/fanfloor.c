/*
 * fanfloor — the floor of scripts/bench-pubsub: what delivering a message
 * to a subscriber costs this machine's kernel, and nothing else. A
 * yardstick, not a server: one process, one thread, epoll; it parses only
 * what subload sends, keeps no history, queues nothing.
 *
 *   fanfloor PORT
 *
 * On 127.0.0.1:PORT:
 *   GET /ps/...  with "Upgrade: websocket": 101 (subload's key is the one
 *                of RFC 6455 1.3, so the accept value is that example's),
 *                then a subscriber that gets every message as one
 *                unmasked text frame;
 *   GET /ps/...  otherwise: an event stream (no chunking), a subscriber
 *                that gets every message as "data: MESSAGE\n\n";
 *   POST ...     Content-Length bytes: answered 200 at once, then sent to
 *                every subscriber, one write() each of a frame made once;
 *   GET anything else: 200 "ok".
 * A subscriber whose socket is full misses the message (counted on exit).
 * Stops on SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536
#define IN_MAX (1 << 14)
#define FRAME_MAX (IN_MAX + 16)

enum role { R_HTTP, R_SSE, R_WS };

struct conn {
	enum role role;
	int sub;                 /* index in subs[], or -1 */
	size_t len;
	char in[IN_MAX];
};

static struct conn *conns[MAXFD];
static int subs[MAXFD], nsubs;
static unsigned long long missed;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
drop(int ep, int fd)
{
	struct conn *c = conns[fd];

	if (c->sub >= 0) {                   /* swap-remove from the list */
		int last = subs[--nsubs];

		subs[c->sub] = last;
		conns[last]->sub = c->sub;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(c);
	conns[fd] = NULL;
}

static void
say(int fd, const char *s)
{
	size_t n = strlen(s);

	if (write(fd, s, n) != (ssize_t)n)
		missed++;
}

/* One message to every subscriber: each kind's frame made once. */
static void
fan_out(const char *msg, size_t len)
{
	static char sse[FRAME_MAX], ws[FRAME_MAX];
	size_t ns = 0, nw = 0;

	memcpy(sse, "data: ", 6);
	memcpy(sse + 6, msg, len);
	memcpy(sse + 6 + len, "\n\n", 2);
	ns = len + 8;
	ws[0] = (char)0x81;
	if (len < 126) {
		ws[1] = (char)len;
		nw = 2;
	} else {
		ws[1] = 126;
		ws[2] = (char)(len >> 8);
		ws[3] = (char)(len & 0xff);
		nw = 4;
	}
	memcpy(ws + nw, msg, len);
	nw += len;
	for (int i = 0; i < nsubs; i++) {
		int fd = subs[i];
		bool is_ws = conns[fd]->role == R_WS;
		size_t n = is_ws ? nw : ns;

		if (write(fd, is_ws ? ws : sse, n) != (ssize_t)n)
			missed++;
	}
}

/* Whole requests in c->in: answer them; -1 to close. */
static int
requests(int fd, struct conn *c)
{
	for (;;) {
		char *end = memmem(c->in, c->len, "\r\n\r\n", 4), *cl;
		size_t head, body = 0;

		if (end == NULL)
			return c->len == IN_MAX ? -1 : 0;
		*end = '\0';
		head = (size_t)(end + 4 - c->in);
		if ((cl = strcasestr(c->in, "\ncontent-length:")) != NULL)
			body = strtoul(cl + 16, NULL, 10);
		if (body > IN_MAX - head)
			return -1;
		if (c->len < head + body) {
			*end = '\r';
			return 0;
		}
		if (strncmp(c->in, "POST ", 5) == 0) {
			say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"
			    "{\"id\":1}");
			fan_out(c->in + head, body);
		} else if (strncmp(c->in, "GET /ps/", 8) == 0) {
			c->role = strcasestr(c->in, "\nupgrade: websocket") != NULL ?
			    R_WS : R_SSE;
			say(fd, c->role == R_WS ?
			    "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n" :
			    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			    "Cache-Control: no-cache\r\n\r\n");
			c->sub = nsubs;
			subs[nsubs++] = fd;
			c->len = 0;              /* what a subscriber sends: ignored */
			return 0;
		} else {
			say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		}
		memmove(c->in, c->in + head + body, c->len - head - body);
		c->len -= head + body;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int one = 1, lfd, ep;

	if (argc != 2) {
		fprintf(stderr, "usage: fanfloor PORT\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(lfd, 4096) == -1 || (ep = epoll_create1(0)) == -1) {
		perror("fanfloor: listen");
		return 1;
	}
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 200);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct conn *c;
			ssize_t r;

			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) >= 0) {
					if (fd >= MAXFD ||
					    (c = calloc(1, sizeof(*c))) == NULL) {
						close(fd);
						continue;
					}
					c->sub = -1;
					conns[fd] = c;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if ((c = conns[fd]) == NULL)
				continue;
			r = read(fd, c->in + c->len, IN_MAX - c->len);
			if (r == 0 || (r == -1 && errno != EAGAIN)) {
				drop(ep, fd);
				continue;
			}
			if (r > 0 && c->role == R_HTTP) {
				c->len += (size_t)r;
				if (requests(fd, c) == -1)
					drop(ep, fd);
			}
		}
	}
	fprintf(stderr, "fanfloor: %llu writes missed\n", missed);
	return 0;
}
