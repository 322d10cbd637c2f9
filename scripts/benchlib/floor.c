/*
 * floor: the yardstick of scripts/bench. Not a server: one thread, one epoll
 * loop, no HTTP parsing. It reads, counts request ends ("\r\n\r\n") and
 * writes a canned response for each, so what it costs per request is about
 * what the kernel's TCP work for one read and one write costs on this
 * machine. Every server's figure can then be read as a fraction of it.
 *
 *     floor PORT:MODE...        (listens on 127.0.0.1 only)
 *
 * MODE, per listening port:
 *   hello      "Hello, World!" (text/plain) for every request end
 *   json       {"message":"Hello, World!"} (application/json)
 *   close      as hello, with "Connection: close"; the socket is closed
 *              once the response is written (the client sends one request)
 *   file=PATH  a header, then the whole file with sendfile(2)
 *   echo=N     every request head is followed by N body bytes (the client
 *              promises it: nothing is parsed); the answer carries the same
 *              N bytes back
 *
 * Pipelined requests are answered in order, all that one read brought in
 * one write. A connection whose output is pending is not read from until it
 * drains, so memory stays bounded. Built by scripts/bench (cc -O2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_LISTENERS 16
#define READ_SIZE (64 * 1024)
#define EVENTS 256

#define HEAD(type, len) \
	"HTTP/1.1 200 OK\r\nServer: floor\r\n" \
	"Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n" \
	"Content-Type: " type "\r\nContent-Length: " len "\r\n"
static const char hello_resp[] =
    HEAD("text/plain", "13") "\r\nHello, World!";
static const char json_resp[] =
    HEAD("application/json", "27") "\r\n{\"message\":\"Hello, World!\"}";
static const char close_resp[] =
    HEAD("text/plain", "13") "Connection: close\r\n\r\nHello, World!";

enum mode { M_HELLO, M_JSON, M_CLOSE, M_FILE, M_ECHO };

struct listener {
	int fd;
	enum mode mode;
	int file_fd;          /* M_FILE */
	off_t file_size;      /* M_FILE */
	size_t body_len;      /* M_ECHO */
	char head[160];       /* M_FILE, M_ECHO: the response head */
	size_t head_len;
};

struct conn {
	int fd;               /* -1: slot free */
	struct listener *l;
	unsigned match;       /* bytes of "\r\n\r\n" matched so far */
	size_t body_left;     /* M_ECHO: body bytes of this request to come */
	char *out;            /* output not written yet (heap) */
	size_t out_len, out_off, out_cap;
	unsigned files;       /* M_FILE: responses not yet sent */
	size_t head_off;      /* M_FILE: progress in the current one */
	off_t file_off;
	bool closing;         /* M_CLOSE: close once the output is written */
	bool want_out;        /* registered for EPOLLOUT (not EPOLLIN) */
};

struct floor {
	int ep;
	struct listener ls[MAX_LISTENERS];
	int nls;
	struct conn *conns;   /* indexed by fd */
	int nconns;
	char rbuf[READ_SIZE];
	char *stage;          /* output built from one read */
	size_t stage_len, stage_cap;
};

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
stage_add(struct floor *f, const char *p, size_t n)
{
	if (f->stage_len + n > f->stage_cap) {
		size_t cap = f->stage_cap ? f->stage_cap : 65536;

		while (cap < f->stage_len + n)
			cap *= 2;
		if ((f->stage = realloc(f->stage, cap)) == NULL)
			die("realloc");
		f->stage_cap = cap;
	}
	memcpy(f->stage + f->stage_len, p, n);
	f->stage_len += n;
}

static void
set_events(struct floor *f, struct conn *c, bool want_out)
{
	struct epoll_event ev = { .events = want_out ? EPOLLOUT : EPOLLIN,
	    .data.fd = c->fd };

	if (c->want_out == want_out)
		return;
	c->want_out = want_out;
	if (epoll_ctl(f->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl(MOD)");
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Write what is pending (heap output, then files). 1: all written, 0: the
 * socket is full, -1: the connection is gone. */
static int
flush(struct conn *c)
{
	struct listener *l = c->l;
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	while (c->files > 0) {
		while (c->head_off < l->head_len) {
			n = send(c->fd, l->head + c->head_off,
			    l->head_len - c->head_off, MSG_NOSIGNAL | MSG_MORE);
			if (n == -1)
				return errno == EAGAIN ? 0 : -1;
			c->head_off += (size_t)n;
		}
		while (c->file_off < l->file_size) {
			n = sendfile(c->fd, l->file_fd, &c->file_off,
			    (size_t)(l->file_size - c->file_off));
			if (n == -1)
				return errno == EAGAIN ? 0 : -1;
			if (n == 0)
				return -1;  /* the file shrank */
		}
		c->files--;
		c->head_off = 0;
		c->file_off = 0;
	}
	return 1;
}

/* The staged output of one read: written at once; what does not fit is
 * kept on the connection. 0, or -1 if the connection is gone. */
static int
send_stage(struct floor *f, struct conn *c)
{
	size_t off = 0;
	ssize_t n;

	while (off < f->stage_len) {
		n = send(c->fd, f->stage + off, f->stage_len - off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN)
				break;
			return -1;
		}
		off += (size_t)n;
	}
	if (off < f->stage_len) {
		size_t rest = f->stage_len - off;

		if (rest > c->out_cap) {
			free(c->out);
			if ((c->out = malloc(rest)) == NULL)
				die("malloc");
			c->out_cap = rest;
		}
		memcpy(c->out, f->stage + off, rest);
		c->out_len = rest;
		c->out_off = 0;
	}
	return 0;
}

static void
request_end(struct floor *f, struct conn *c)
{
	struct listener *l = c->l;

	switch (l->mode) {
	case M_HELLO:
		stage_add(f, hello_resp, sizeof(hello_resp) - 1);
		break;
	case M_JSON:
		stage_add(f, json_resp, sizeof(json_resp) - 1);
		break;
	case M_CLOSE:
		stage_add(f, close_resp, sizeof(close_resp) - 1);
		c->closing = true;
		break;
	case M_ECHO:
		stage_add(f, l->head, l->head_len);
		c->body_left = l->body_len;
		break;
	case M_FILE:
		c->files++;
		break;
	}
}

static void
on_readable(struct floor *f, struct conn *c)
{
	static const char end[4] = "\r\n\r\n";
	ssize_t n;
	size_t i;

	n = read(c->fd, f->rbuf, sizeof(f->rbuf));
	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		conn_close(c);
		return;
	}
	if (n == -1)
		return;
	f->stage_len = 0;
	for (i = 0; i < (size_t)n && !c->closing; i++) {
		if (c->body_left > 0) {
			size_t take = (size_t)n - i;

			if (take > c->body_left)
				take = c->body_left;
			stage_add(f, f->rbuf + i, take);
			c->body_left -= take;
			i += take - 1;
			continue;
		}
		if (f->rbuf[i] == end[c->match])
			c->match++;
		else
			c->match = f->rbuf[i] == '\r';
		if (c->match == 4) {
			c->match = 0;
			request_end(f, c);
		}
	}
	if (f->stage_len > 0 && send_stage(f, c) == -1) {
		conn_close(c);
		return;
	}
	switch (c->files > 0 ? flush(c) : c->out_len > 0 ? 0 : 1) {
	case -1:
		conn_close(c);
		return;
	case 0:
		set_events(f, c, true);
		return;
	}
	if (c->closing)
		conn_close(c);
}

static void
on_writable(struct floor *f, struct conn *c)
{
	switch (flush(c)) {
	case -1:
		conn_close(c);
		return;
	case 0:
		return;
	}
	if (c->closing) {
		conn_close(c);
		return;
	}
	set_events(f, c, false);
}

static void
on_accept(struct floor *f, struct listener *l)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != ECONNABORTED)
				fprintf(stderr, "floor: accept4: %s\n",
				    strerror(errno));
			return;
		}
		if (fd >= f->nconns) {
			fprintf(stderr, "floor: fd %d over the limit\n", fd);
			close(fd);
			continue;
		}
		f->conns[fd] = (struct conn){ .fd = fd, .l = l };
		ev.data.fd = fd;
		if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			die("epoll_ctl(ADD)");
	}
}

static void
listener_open(struct floor *f, const char *arg)
{
	struct listener *l = &f->ls[f->nls];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN };
	const char *mode = strchr(arg, ':');
	char *endp;
	long port;
	int one = 1;
	struct stat st;

	if (f->nls == MAX_LISTENERS || mode == NULL)
		goto usage;
	port = strtol(arg, &endp, 10);
	if (endp != mode || port < 1 || port > 65535)
		goto usage;
	mode++;
	if (strcmp(mode, "hello") == 0) {
		l->mode = M_HELLO;
	} else if (strcmp(mode, "json") == 0) {
		l->mode = M_JSON;
	} else if (strcmp(mode, "close") == 0) {
		l->mode = M_CLOSE;
	} else if (strncmp(mode, "file=", 5) == 0) {
		l->mode = M_FILE;
		if ((l->file_fd = open(mode + 5, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(l->file_fd, &st) == -1)
			die(mode + 5);
		l->file_size = st.st_size;
		l->head_len = (size_t)snprintf(l->head, sizeof(l->head),
		    HEAD("application/octet-stream", "%lld") "\r\n",
		    (long long)st.st_size);
	} else if (strncmp(mode, "echo=", 5) == 0) {
		l->mode = M_ECHO;
		l->body_len = strtoul(mode + 5, &endp, 10);
		if (*endp != '\0' || l->body_len == 0)
			goto usage;
		l->head_len = (size_t)snprintf(l->head, sizeof(l->head),
		    HEAD("application/octet-stream", "%zu") "\r\n", l->body_len);
	} else {
		goto usage;
	}
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd == -1)
		die("socket");
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die(arg);
	if (listen(l->fd, 4096) == -1)
		die("listen");
	/* Listener fds are told apart from connections by a negative tag. */
	ev.data.fd = -1 - f->nls;
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, l->fd, &ev) == -1)
		die("epoll_ctl(ADD)");
	f->nls++;
	return;
usage:
	fprintf(stderr, "floor: bad listener %s (PORT:hello|json|close|"
	    "file=PATH|echo=N, at most %d)\n", arg, MAX_LISTENERS);
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct floor f;
	struct epoll_event evs[EVENTS];
	struct rlimit rl;
	int i, n;

	if (argc < 2) {
		fprintf(stderr, "usage: floor PORT:MODE...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit");
	f.nconns = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	/* calloc: pages are touched only by the fds in use. */
	if ((f.conns = calloc((size_t)f.nconns, sizeof(*f.conns))) == NULL)
		die("calloc");
	if ((f.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (i = 1; i < argc; i++)
		listener_open(&f, argv[i]);
	for (;;) {
		n = epoll_wait(f.ep, evs, EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct conn *c;

			if (fd < 0) {
				on_accept(&f, &f.ls[-1 - fd]);
				continue;
			}
			c = &f.conns[fd];
			if (c->fd != fd)
				continue;  /* closed earlier in this batch */
			if (c->want_out)
				on_writable(&f, c);
			else
				on_readable(&f, c);
		}
	}
}
