/*
 * relay — see relay.h.
 */
#include "common/relay.h"

#include <string.h>
#include <sys/socket.h>

int
relay_pair(int fds[2])
{
	int size = RELAY_SOCKBUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, fds) == -1)
		return -1;
	/* Best effort: the default (wmem_default, 208 KiB) works too. */
	for (int i = 0; i < 2; i++) {
		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	return 0;
}

int
relay_valid(const void *buf, size_t len)
{
	struct relay_head h;

	if (len < sizeof(h) || len > RELAY_MSG_MAX)
		return 0;
	memcpy(&h, buf, sizeof(h));
	return h.magic == RELAY_MAGIC && h.version == RELAY_VERSION &&
	    h.name_len >= 1 && h.name_len <= RELAY_NAME_MAX &&
	    sizeof(h) + h.name_len <= len;
}
