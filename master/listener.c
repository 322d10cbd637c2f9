/*
 * listener — see listener.h.
 */
#include "master/listener.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "master/steerprog.h"

/* One socket per slot (reuseport), or one shared by all. */
static bool
is_tcp(const struct listener *l)
{
	return l->addr.sa.ss_family != AF_UNIX && !l->shared;
}

/*
 * A Unix socket file left by a dead process is replaced; one that a live
 * process accepts on is not ours to take.
 */
static int
unix_prepare(const struct listen_addr *a, char *err, size_t errlen)
{
	const char *path = ((const struct sockaddr_un *)(const void *)&a->sa)->sun_path;
	int probe;

	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe == -1) {
		snprintf(err, errlen, "socket(%s): %s", a->text, strerror(errno));
		return -1;
	}
	if (connect(probe, (const struct sockaddr *)&a->sa, a->salen) == 0) {
		close(probe);
		snprintf(err, errlen, "%s: another process is listening on it",
		    a->text);
		return -1;
	}
	close(probe);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
unix_permissions(const struct listen_addr *a, char *err, size_t errlen)
{
	const char *path = ((const struct sockaddr_un *)(const void *)&a->sa)->sun_path;

	if (chmod(path, a->mode >= 0 ? (mode_t)a->mode : 0666) == -1) {
		snprintf(err, errlen, "chmod(%s): %s", path, strerror(errno));
		return -1;
	}
	if ((a->uid >= 0 || a->gid >= 0) && chown(path, (uid_t)a->uid,
	    (gid_t)a->gid) == -1) {
		snprintf(err, errlen, "chown(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
open_one(const struct listen_addr *a, int reuseport, int backlog, char *err,
    size_t errlen)
{
	int fd, on = 1;

	if (a->sa.ss_family == AF_UNIX && unix_prepare(a, err, errlen) == -1)
		return -1;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket(%s): %s", a->text, strerror(errno));
		return -1;
	}
	if (a->sa.ss_family != AF_UNIX) {
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
		    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
		    sizeof(on)) == -1) ||
		    (a->sa.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
			snprintf(err, errlen, "setsockopt(%s): %s", a->text,
			    strerror(errno));
			goto err;
		}
	}
	if (bind(fd, (const struct sockaddr *)&a->sa, a->salen) == -1) {
		snprintf(err, errlen, "bind(%s): %s", a->text, strerror(errno));
		goto err;
	}
	if (a->sa.ss_family == AF_UNIX && unix_permissions(a, err, errlen) == -1)
		goto err;
	if (backlog > 0 && listen(fd, backlog) == -1) {
		snprintf(err, errlen, "listen(%s): %s", a->text, strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int
init(struct listener *l, const struct listen_addr *addr, char *err,
    size_t errlen)
{
	memset(l, 0, sizeof(*l));
	l->addr = *addr;
	/* A worker finds its address's routes in its own configuration. */
	l->addr.routes = NULL;
	l->addr.nroutes = 0;
	if ((l->addr.text = strdup(addr->text)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", addr->text);
		return -1;
	}
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		l->fds[i] = -1;
	return 0;
}

int
listener_open(struct listener *l, const struct listen_addr *addr,
    unsigned nslots, int backlog, char *err, size_t errlen)
{
	int probe;

	if (init(l, addr, err, errlen) == -1)
		return -1;
	if (is_tcp(l)) {
		/*
		 * Sockets with SO_REUSEPORT may all bind the same port, so a
		 * second server would join our group and take part of our
		 * traffic. A bind without it fails if anyone listens there.
		 */
		if ((probe = open_one(addr, 0, 0, err, errlen)) == -1)
			goto err;
		close(probe);
	}
	if (listener_grow(l, is_tcp(l) ? nslots : 1, backlog, err, errlen) == -1)
		goto err;
	return 0;
err:
	listener_close(l, false);
	return -1;
}

int
listener_adopt(struct listener *l, const struct listen_addr *addr,
    const int *fds, unsigned n, char *err, size_t errlen)
{
	if (n == 0 || n > CONFIG_MAX_WORKERS || init(l, addr, err, errlen) == -1) {
		if (n == 0 || n > CONFIG_MAX_WORKERS)
			snprintf(err, errlen, "%s: %u inherited sockets", addr->text, n);
		for (unsigned i = 0; i < n && i < CONFIG_MAX_WORKERS; i++)
			close(fds[i]);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		l->fds[i] = fds[i];
		/* inherited across exec with close-on-exec cleared: set it again */
		util_set_cloexec(fds[i], 1);
	}
	l->nfds = n;
	return 0;
}

int
listener_grow(struct listener *l, unsigned n, int backlog, char *err,
    size_t errlen)
{
	unsigned had = l->nfds;

	if (!is_tcp(l))
		n = 1;
	if (n > CONFIG_MAX_WORKERS) {
		snprintf(err, errlen, "%s: at most %d sockets", l->addr.text,
		    CONFIG_MAX_WORKERS);
		return -1;
	}
	for (unsigned i = had; i < n; i++) {
		l->fds[i] = open_one(&l->addr, is_tcp(l), backlog, err, errlen);
		if (l->fds[i] == -1) {
			listener_shrink(l, had);
			return -1;
		}
		l->nfds = i + 1;
	}
	return 0;
}

void
listener_shrink(struct listener *l, unsigned n)
{
	if (!is_tcp(l))
		return;
	/*
	 * Last first: the kernel fills a closed socket's place in the group
	 * with the last one, so closing from the end keeps every remaining
	 * socket's index, which the steering program relies on.
	 */
	/* The steering program may name a socket that goes: attach anew. */
	if (l->nfds > n)
		l->steer_known = false;
	while (l->nfds > n) {
		l->nfds--;
		close(l->fds[l->nfds]);
		l->fds[l->nfds] = -1;
	}
}

int
listener_steer(struct listener *l, const unsigned *slots, unsigned n,
    bool force, char *err, size_t errlen)
{
	struct sock_filter code[STEERPROG_MAX_INSNS];
	struct sock_fprog prog;
	uint64_t set[ARRAY_SIZE(l->steered)];
	unsigned idx[CONFIG_MAX_WORKERS], m = 0;
	size_t len;

	if (!is_tcp(l) || l->nfds == 0)
		return 0;
	memset(set, 0, sizeof(set));
	/* Socket k of the group is slot k's (see listener.h). */
	for (unsigned i = 0; i < n && m < CONFIG_MAX_WORKERS; i++)
		if (slots[i] < l->nfds) {
			idx[m++] = slots[i];
			set[slots[i] / 64] |= (uint64_t)1 << (slots[i] % 64);
		}
	if (m == 0 || (l->steer_known && !force &&
	    memcmp(set, l->steered, sizeof(set)) == 0))
		return 0;
	len = steerprog_build(idx, m, code, ARRAY_SIZE(code));
	prog.len = (unsigned short)len;
	prog.filter = code;
	if (len == 0 || setsockopt(l->fds[0], SOL_SOCKET,
	    SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == -1) {
		snprintf(err, errlen, "setsockopt(%s, SO_ATTACH_REUSEPORT_CBPF): %s",
		    l->addr.text, len == 0 ? "program too long" : strerror(errno));
		l->steer_known = false;
		return -1;
	}
	memcpy(l->steered, set, sizeof(set));
	l->steer_known = true;
	return 1;
}

bool
listener_queued(const struct listener *l, unsigned slot)
{
	struct pollfd pfd;

	if (!is_tcp(l) || slot >= l->nfds)
		return false;
	pfd.fd = l->fds[slot];
	pfd.events = POLLIN;
	pfd.revents = 0;
	/* A listening socket is readable while its accept queue is not empty. */
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

int
listener_fd(const struct listener *l, unsigned slot)
{
	return is_tcp(l) ? l->fds[slot] : l->fds[0];
}

void
listener_close(struct listener *l, bool unlink_file)
{
	for (unsigned i = 0; i < l->nfds; i++)
		if (l->fds[i] != -1)
			close(l->fds[i]);
	if (unlink_file && l->nfds > 0 && l->addr.sa.ss_family == AF_UNIX &&
	    !l->systemd)
		unlink(((struct sockaddr_un *)(void *)&l->addr.sa)->sun_path);
	free(l->addr.text);
	memset(l, 0, sizeof(*l));
}
