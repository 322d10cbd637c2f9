/*
 * worker — one event loop serving HTTP on one slot's sockets.
 *
 * A worker is forked from the master (never exec'd) and runs worker_run()
 * until it exits. It accepts only on its slot's sockets, reports "ready" to
 * the master over its IPC socket once they are armed, writes a heartbeat to
 * its stats slot from a timer, and on "drain" (or SIGTERM/SIGQUIT, or the
 * master's disappearance) stops accepting, finishes what is in flight and
 * exits.
 */
#ifndef SHOAL_WORKER_H
#define SHOAL_WORKER_H

#include <stddef.h>

#include "common/config.h"
#include "common/stats.h"

struct worker_boot {
	const struct config *cfg;
	unsigned slot;
	unsigned generation;
	struct stats *stats;
	int stats_idx;
	int ipc_fd;                  /* the worker's end of the IPC pair */
	int relay_fd;                /* ... of the channel relay's; -1: none */
	const int *listen_fds;       /* this slot's sockets, one per address */
	const struct listen_addr *const *listen_addrs;  /* ... and their options */
	size_t nlisten;
};

/*
 * Run the worker. Called in the child right after fork, with all signals
 * blocked and every fd the worker does not own already closed. Returns the
 * exit status for _exit().
 */
int worker_run(const struct worker_boot *boot);

#endif
