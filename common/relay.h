/*
 * relay — the datagrams of the channel relay (master/relay.c,
 * worker/services/chanlocal.c).
 *
 * Besides its control IPC (common/ipc.h), each worker has a second
 * socketpair(AF_UNIX, SOCK_SEQPACKET) to the master for channel messages:
 * a worker sends each message it publishes to the master, which stamps it
 * with the next host-wide sequence number and sends it to every worker
 * (the publisher too). One datagram is one message, so nothing needs
 * framing, and the master never looks past this head: the channel's name
 * and the bytes are opaque to it (it runs no application code and parses
 * no HTTP). A second socket, rather than the control one, so that a burst
 * of messages never holds up a "drain" or a "stop" behind it.
 *
 *   struct relay_head | name (name_len bytes) | data (the rest)
 *
 * Fields are in the host's byte order: both ends are processes of one
 * machine, of one build or of two builds during an upgrade (whose layout
 * the version says).
 */
#ifndef SHOAL_RELAY_H
#define SHOAL_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_MAGIC   0x6c6e6863u    /* "chnl" */
#define RELAY_VERSION 1

/* Flags of a message. */
#define RELAY_BINARY  0x01           /* published as binary, not text */

struct relay_head {
	uint32_t magic;              /* RELAY_MAGIC */
	uint8_t version;             /* RELAY_VERSION */
	uint8_t flags;               /* RELAY_BINARY */
	uint16_t name_len;           /* 1 .. 255 */
	uint32_t origin;             /* the publisher's pid */
	uint32_t token;              /* the publisher's count of its publishes */
	uint64_t seq;                /* 0 from a worker; the master's stamp */
};

/* The longest name and data a datagram may carry (data: the "channels"
 * "max_message" maximum). */
#define RELAY_NAME_MAX 255
#define RELAY_DATA_MAX (128 * 1024)
#define RELAY_MSG_MAX  (sizeof(struct relay_head) + RELAY_NAME_MAX + \
                        RELAY_DATA_MAX)

/* Socket buffer asked for on both ends: room for a burst of messages
 * (the kernel caps it at net.core.wmem_max). */
#define RELAY_SOCKBUF  (1024 * 1024)

/*
 * Create the pair: fds[0] for the master, fds[1] for the worker;
 * non-blocking, close-on-exec, with RELAY_SOCKBUF asked for. -1 on error.
 */
int relay_pair(int fds[2]);

/* Is buf[0..len) a datagram the master may stamp and pass on? */
int relay_valid(const void *buf, size_t len);

#endif
