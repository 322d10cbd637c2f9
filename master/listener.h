/*
 * listener — the master's listening sockets.
 *
 * For a TCP address the master opens one SO_REUSEPORT socket per worker
 * slot, binds and listens before any fork, and keeps every one open for as
 * long as the address is configured: on Linux, closing a reuseport socket
 * resets every connection queued on it, so a worker that dies must not take
 * its slot's queue with it. Worker k accepts only on socket k.
 *
 * A Unix-domain address cannot use reuseport: one socket, shared by all.
 */
#ifndef SHOAL_LISTENER_H
#define SHOAL_LISTENER_H

#include <stddef.h>

#include "common/config.h"

struct listener {
	struct listen_addr addr;     /* addr.text owned (strdup) */
	int *fds;                    /* one per slot (TCP), or one (Unix) */
	unsigned nfds;
};

/*
 * Open the sockets for addr, nslots of them for TCP. Fails with a reason in
 * err ("bind(127.0.0.1:8080): Address already in use") and nothing left
 * open. An address another program already listens on is refused, even
 * when that program also uses SO_REUSEPORT (it would otherwise silently
 * share our traffic).
 */
int listener_open(struct listener *l, const struct listen_addr *addr,
    unsigned nslots, int backlog, char *err, size_t errlen);

/* The socket slot k accepts on. */
int listener_fd(const struct listener *l, unsigned slot);

void listener_close(struct listener *l);

#endif
