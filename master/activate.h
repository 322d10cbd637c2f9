/*
 * activate — listening sockets passed by systemd (socket activation:
 * LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; a shoal.socket unit).
 *
 * Each passed socket is matched by its address (getsockname) to an entry
 * of "listen"; the names are only for the log. A configured address
 * systemd did not pass is bound as usual; a passed socket no entry asks
 * for is closed, with a warning.
 *
 * A TCP socket is slot 0's socket. If systemd made it with SO_REUSEPORT
 * (ReusePort=yes in the .socket unit), the master opens slots 1..n-1 on
 * the same address with SO_REUSEPORT, as it does for an address it binds
 * itself: every worker has its own accept queue, and the steering program
 * covers the inherited socket too. Without it, no second socket can bind
 * the address, so every slot accepts on the one inherited socket (as with
 * a Unix socket); the log says so and how to change it. A Unix socket is
 * shared by all slots, and its file stays systemd's: shoal never chmods,
 * chowns or unlinks it.
 *
 * Connections that arrive before shoal runs, or while it restarts, wait
 * in systemd's socket and are served once the workers are ready.
 */
#ifndef SHOAL_ACTIVATE_H
#define SHOAL_ACTIVATE_H

#include <stddef.h>

#include "master/types.h"

/*
 * Take the sockets systemd passed into m->listeners (the environment
 * variables are removed, so workers and upgrades do not see them).
 * Returns how many were taken (0: none passed), -1 with err.
 */
int activate_adopt(struct master *m, char *err, size_t errlen);

#endif
