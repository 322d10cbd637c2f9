/*
 * listener — the master's listening sockets.
 *
 * For a TCP address the master opens one SO_REUSEPORT socket per worker
 * slot, binds and listens before any fork, and keeps every one open for as
 * long as the address and the slot are configured: on Linux, closing a
 * reuseport socket resets every connection queued on it, so a worker that
 * dies must not take its slot's queue with it. Worker k accepts only on
 * socket k.
 *
 * Which socket a new connection lands on is chosen by a classic BPF program
 * attached to the group (SO_ATTACH_REUSEPORT_CBPF, steerprog.h): a random
 * one of the slots it is given. The kernel indexes a group's sockets in the
 * order they joined it (listen), and fills a closed socket's place with the
 * last one; sockets are opened in slot order and closed last first, so
 * socket k of the group is always slot k's. Scaling down first steers away
 * from the retiring slots, so nothing new reaches their sockets; their
 * workers then empty the queues before the sockets are closed (and with
 * net.ipv4.tcp_migrate_req=1 the kernel would migrate any straggler to a
 * live socket).
 *
 * A Unix-domain address cannot use reuseport: one socket, shared by all;
 * so is a TCP socket systemd passes without SO_REUSEPORT (activate.c).
 */
#ifndef SHOAL_LISTENER_H
#define SHOAL_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct listener {
	struct listen_addr addr;     /* addr.text owned (strdup) */
	int fds[CONFIG_MAX_WORKERS]; /* TCP: one per slot; shared: fds[0] */
	unsigned nfds;
	unsigned until_gen;          /* removed by a reload: serves only
	                                generations before this one; 0: all */
	bool shared;                 /* one socket for every slot: a Unix
	                                address, or a socket from systemd
	                                without SO_REUSEPORT (activate.c) */
	bool systemd;                /* passed by systemd: its file (Unix) is
	                                systemd's, never unlinked */
	/* The slots the attached steering program sends to, as a bit set. */
	uint64_t steered[(CONFIG_MAX_WORKERS + 63) / 64];
	bool steer_known;            /* steered[] is what the kernel holds */
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

/*
 * Take over sockets inherited from a previous master (binary upgrade):
 * fds[0..n-1] in slot order. The fds are owned by l from here on.
 */
int listener_adopt(struct listener *l, const struct listen_addr *addr,
    const int *fds, unsigned n, char *err, size_t errlen);

/* Add sockets for slots nfds..n-1 (TCP). -1 with err; l unchanged. */
int listener_grow(struct listener *l, unsigned n, int backlog, char *err,
    size_t errlen);

/* Close the sockets of slots n.. (TCP), last first. */
void listener_shrink(struct listener *l, unsigned n);

/*
 * Send new connections only to the sockets of slots[0..n-1] (ascending;
 * slots without a socket here are left out). Nothing is attached when the
 * program would be the one attached already, unless force (another master
 * may have replaced it), nor when no slot is left. 1 if a program was
 * attached, 0 if not; -1 with err: the kernel keeps the program it had.
 */
int listener_steer(struct listener *l, const unsigned *slots, unsigned n,
    bool force, char *err, size_t errlen);

/*
 * True if connections wait in the accept queue of slot's socket (TCP; a
 * Unix socket is shared by every slot, so it never waits for one).
 */
bool listener_queued(const struct listener *l, unsigned slot);

/* The socket slot k accepts on. */
int listener_fd(const struct listener *l, unsigned slot);

/* Close every socket; unlink_file: remove a Unix socket's file too (not
 * when another master goes on serving it, after an upgrade). */
void listener_close(struct listener *l, bool unlink_file);

#endif
