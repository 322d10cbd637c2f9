/*
 * activate — see activate.h.
 */
#include "master/activate.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/util.h"

/* Is the socket's address (sa, as getsockname gave it) that of a? */
static bool
same_address(const struct sockaddr_storage *sa, socklen_t len,
    const struct listen_addr *a)
{
	const struct sockaddr_in *x4, *y4;
	const struct sockaddr_in6 *x6, *y6;
	const struct sockaddr_un *xu, *yu;

	if (sa->ss_family != a->sa.ss_family)
		return false;
	switch (sa->ss_family) {
	case AF_INET:
		x4 = (const struct sockaddr_in *)(const void *)sa;
		y4 = (const struct sockaddr_in *)(const void *)&a->sa;
		return x4->sin_port == y4->sin_port &&
		    x4->sin_addr.s_addr == y4->sin_addr.s_addr;
	case AF_INET6:
		x6 = (const struct sockaddr_in6 *)(const void *)sa;
		y6 = (const struct sockaddr_in6 *)(const void *)&a->sa;
		return x6->sin6_port == y6->sin6_port &&
		    memcmp(&x6->sin6_addr, &y6->sin6_addr, 16) == 0;
	case AF_UNIX:
		xu = (const struct sockaddr_un *)(const void *)sa;
		yu = (const struct sockaddr_un *)(const void *)&a->sa;
		return len > offsetof(struct sockaddr_un, sun_path) &&
		    strncmp(xu->sun_path, yu->sun_path, sizeof(xu->sun_path)) == 0;
	}
	return false;
}

/* Take fd (named name) for its entry of the configuration. 1 taken, 0
 * not wanted (closed), -1 with err. */
static int
take(struct master *m, int fd, const char *name, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct listener *l;
	int reuse = 0;
	socklen_t ol = sizeof(reuse);

	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		log_warn("socket activation: fd %d (%s) is not a listening stream "
		    "socket; closed", fd, name);
		close(fd);
		return 0;
	}
	for (size_t j = 0; j < m->cfg.nlisten; j++) {
		const struct listen_addr *a = &m->cfg.listen[j];

		if (!same_address(&sa, len, a))
			continue;
		if (ltable_find(&m->listeners, a->text) != NULL) {
			log_warn("socket activation: fd %d (%s) is a second socket for "
			    "%s; closed", fd, name, a->text);
			close(fd);
			return 0;
		}
		/* Workers accept in a loop until EAGAIN. */
		if (util_set_nonblock(fd) == -1 ||
		    ltable_adopt(&m->listeners, a, &fd, 1, err, errlen) == -1) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s: %s", a->text, strerror(errno));
			return -1;
		}
		l = ltable_find(&m->listeners, a->text);
		l->systemd = true;
		if (a->sa.ss_family == AF_UNIX) {
			l->shared = true;
		} else if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuse,
		    &ol) == -1 || !reuse) {
			l->shared = true;
			log_warn("socket activation: %s came without SO_REUSEPORT: "
			    "every worker accepts on this one socket (ReusePort=yes in "
			    "the .socket unit gives each worker its own)", a->text);
		}
		log_notice("socket activation: took %s from systemd (fd %d, %s)%s",
		    a->text, fd, name, l->shared ? ", shared by all workers" : "");
		return 1;
	}
	log_warn("socket activation: fd %d (%s) matches no listen address; "
	    "closed", fd, name);
	close(fd);
	return 0;
}

int
activate_adopt(struct master *m, char *err, size_t errlen)
{
	char **names = NULL;
	int n, taken = 0, r;

	/* 1: unset LISTEN_*, so workers and a new binary do not take them;
	 * the fds get close-on-exec. */
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return -1;
	}
	err[0] = '\0';
	for (int i = 0; i < n; i++) {
		r = take(m, SD_LISTEN_FDS_START + i, names && names[i] ? names[i] :
		    "unnamed", err, errlen);
		if (r == -1) {
			for (int k = i + 1; k < n; k++)
				close(SD_LISTEN_FDS_START + k);
			taken = -1;
			break;
		}
		taken += r;
	}
	for (int i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
	return taken;
}
