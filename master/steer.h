/*
 * steer — which slots get new connections.
 *
 * A worker is live while it is ready and neither draining, stopped (by a
 * signal) nor found hung; a slot is live while its worker, or during a
 * reload its next one, is live. Every TCP listen address's reuseport group
 * sends new connections to its live slots only (among the workers of the
 * generations that accept on it), so a slot whose worker died, hangs or
 * is stopped gets nothing new from the moment the master knows until its
 * replacement is ready. What reached its queue before stays there, in the
 * master's socket, for the replacement. With no live slot at all, the
 * group sends to every slot in service: the queues wait for the first
 * replacement, which supervise.c then starts at the minimum delay.
 *
 * supervise.c calls steer_update whenever a worker's state changes;
 * master.c at start-up and upgrade.c after an aborted upgrade force it.
 * While an upgrade runs, and after this master has handed over, the groups
 * are shared with the new master, which steers them: nothing is attached.
 * Reads the slots; writes only the listeners' steering (listener_steer).
 */
#ifndef SHOAL_STEER_H
#define SHOAL_STEER_H

#include <stdbool.h>

#include "master/types.h"

/* True if p accepts new connections: ready, not draining, not stopped,
 * not hung. */
bool steer_proc_live(const struct proc *p);

/* True if slot is in service (not retiring) and has a live worker. */
bool steer_slot_live(const struct master *m, unsigned slot);

/* How many slots are live. */
unsigned steer_live_count(const struct master *m);

/*
 * Attach to every TCP address the program for its live slots, where that
 * set changed (force: everywhere). Failures are logged; the kernel then
 * keeps the program it had.
 */
void steer_update(struct master *m, bool force);

#endif
