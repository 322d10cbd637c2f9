/*
 * listener — see listener.h.
 */
#include "master/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
open_one(const struct listen_addr *a, int reuseport, int backlog, char *err,
    size_t errlen)
{
	int fd, on = 1;

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
	if (backlog > 0 && listen(fd, backlog) == -1) {
		snprintf(err, errlen, "listen(%s): %s", a->text, strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int
listener_open(struct listener *l, const struct listen_addr *addr,
    unsigned nslots, int backlog, char *err, size_t errlen)
{
	int probe;

	memset(l, 0, sizeof(*l));
	l->addr = *addr;
	l->addr.text = strdup(addr->text);
	l->nfds = addr->sa.ss_family == AF_UNIX ? 1 : nslots;
	l->fds = calloc(l->nfds, sizeof(*l->fds));
	if (l->addr.text == NULL || l->fds == NULL) {
		snprintf(err, errlen, "%s: out of memory", addr->text);
		goto err;
	}
	for (unsigned i = 0; i < l->nfds; i++)
		l->fds[i] = -1;
	if (addr->sa.ss_family != AF_UNIX) {
		/*
		 * Sockets with SO_REUSEPORT may all bind the same port, so a
		 * second server would join our group and take part of our
		 * traffic. A bind without it fails if anyone listens there.
		 */
		if ((probe = open_one(addr, 0, 0, err, errlen)) == -1)
			goto err;
		close(probe);
	}
	for (unsigned i = 0; i < l->nfds; i++) {
		l->fds[i] = open_one(addr, addr->sa.ss_family != AF_UNIX, backlog,
		    err, errlen);
		if (l->fds[i] == -1)
			goto err;
	}
	return 0;
err:
	listener_close(l);
	return -1;
}

int
listener_fd(const struct listener *l, unsigned slot)
{
	return l->nfds == 1 ? l->fds[0] : l->fds[slot];
}

void
listener_close(struct listener *l)
{
	for (unsigned i = 0; l->fds != NULL && i < l->nfds; i++)
		if (l->fds[i] != -1)
			close(l->fds[i]);
	free(l->fds);
	free(l->addr.text);
	memset(l, 0, sizeof(*l));
}
