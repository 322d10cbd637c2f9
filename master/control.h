/*
 * control — the master's control socket (m->ctl): a Unix stream socket
 * (mode 0600) speaking one JSON object per line each way. Operations go to
 * ops.c with a callback that answers the client; "status" comes from
 * status.c; "stop" goes to the master through m->ctl.hooks.
 */
#ifndef SHOAL_CONTROL_H
#define SHOAL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "master/types.h"

/* No socket, no connections (before anything can fail). */
void control_init(struct master *m);

/*
 * Listen on cfg.control_socket (nothing if unset): on inherited_fd when an
 * upgrade handed one over (-1: bind the path, replacing a stale socket
 * file, refusing one a live master answers on). -1 with err.
 */
int control_open(struct master *m, int inherited_fd,
    const struct control_hooks *hooks, char *err, size_t errlen);

/* Stop listening; unlink_path: remove the socket file too (not when a new
 * master serves it after an upgrade). Waiting clients keep their answer. */
void control_close(struct master *m, bool unlink_path);

/* In a forked worker: close the control socket and connections' fds. */
void control_close_in_worker(struct master *m);

/* At exit: close everything, connections included. */
void control_free(struct master *m, bool unlink_path);

#endif
