/*
 * upgrade — replace the running binary without closing a listening socket
 * (m->up). Both sides live here: the old master forks and execs the new
 * one (upgrade_start) and learns the outcome, which it hands to the
 * caller's upgrade_done_fn; the new master adopts the inherited sockets
 * (upgrade_adopt) with the state the old one hands over (m->up: stats
 * region, generation, scaled worker count) and, once its workers are
 * ready, tells the old one (upgrade_announce_ready).
 */
#ifndef SHOAL_UPGRADE_H
#define SHOAL_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "master/types.h"

/* No upgrade under way, nothing inherited. */
void upgrade_init(struct master *m);

/*
 * Fork and exec binary (NULL: our own) with the listening sockets, the
 * control socket and a pipe inherited. -1 with err if it could not start;
 * otherwise done is called exactly once later: with why NULL once the new
 * master is ready, or with the reason it failed (upgrade_abort included).
 */
int upgrade_start(struct master *m, const char *binary, upgrade_done_fn *done,
    char *err, size_t errlen);

/* Give up the upgrade under way, if any: kill the new master, restore our
 * steering, report why through done. */
void upgrade_abort(struct master *m, const char *why);

/* A child that is no worker was reaped: true if it was the new master of
 * the upgrade under way (which then fails). */
bool upgrade_child_exited(struct master *m, pid_t pid, int status);

/*
 * In a new master: adopt the sockets named in the environment into
 * m->listeners and remember the control socket and the old master.
 * 0: not started by an upgrade; 1: adopted; -1 with err.
 */
int upgrade_adopt(struct master *m, char *err, size_t errlen);

/* In a new master: all workers ready; tell the old one. */
void upgrade_announce_ready(struct master *m);

/* The master's tick: after a failed upgrade, free the stats entries of
 * the failed master's workers once they have gone. */
void upgrade_tick(struct master *m);

/* In a forked worker: close the upgrade's pipes. */
void upgrade_close_in_worker(struct master *m);

/* At exit: close the pipes (the listeners belong to m->listeners). */
void upgrade_free(struct master *m);

/* The new master, once its loop exists: take up the channel bridge the old
 * master handed over (master/relay.c), if any. */
void upgrade_bridge(struct master *m);

#endif
