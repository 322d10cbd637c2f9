/*
 * relay — the master's channel relay (m->relay): every channel message a
 * worker publishes, stamped with the host-wide sequence number, to every
 * worker. See relay.c; the datagrams are common/relay.h's.
 */
#ifndef SHOAL_MASTER_RELAY_H
#define SHOAL_MASTER_RELAY_H

#include "master/types.h"

/* Set up m->relay (no link yet). */
void relay_init(struct master *m);
/* Free what relay_init and the links left (after every detach). */
void relay_free(struct master *m);

/*
 * Relay the messages of worker p, whose relay socket's master end is fd
 * (owned by the relay from now on, even on failure). p->relay is set.
 * -1 on allocation failure: fd is closed, and the worker's own channel
 * service finds the master gone (its messages stay on its worker).
 */
int relay_attach(struct master *m, struct proc *p, int fd);

/*
 * The bridge to the other master of a binary upgrade (fd: its end of a
 * relay socket, owned from now on): what our workers publish goes to it
 * too, and what comes from it, stamped there, goes to our workers. It is
 * freed when the other master is gone. -1 on allocation failure (fd is
 * closed).
 */
int relay_attach_peer(struct master *m, int fd);

/* p is reaped: close its socket, drop what waited for it. */
void relay_detach(struct master *m, struct proc *p);

/* In a newly forked worker: close the master's ends of every link. */
void relay_forget(struct master *m);

#endif
