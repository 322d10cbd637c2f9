/*
 * supervise — the master's table of worker processes (m->sup): spawn into
 * a slot, reap and say why a worker ended, respawn with backoff, detect
 * hung workers from their heartbeat, drain, retire and stop them.
 *
 * Whenever a worker's state changes (ready, reaped, stopped or continued
 * by a signal, found hung, promoted, retired) it has steer.c send new
 * connections to the live slots only. A slot without a worker waits out
 * its backoff only while nobody waits for it: connections in its queue
 * (looked at every 20 ms while it waits) get a worker at once, and with no
 * live slot at all every waiting slot is respawned within the minimum
 * delay (backoff.h). A stopped worker is continued at worker_timeout rather
 * than killed; a stopped or hung worker whose queue holds connections gets
 * a stand-in at once, and is told to drain.
 *
 * It knows nothing of operations or of the control socket: it reports
 * through the hooks given to supervise_init. Slots and processes are
 * written here only; ops.c moves a slot from one generation to the next
 * through supervise_promote and supervise_discard_next.
 */
#ifndef SHOAL_SUPERVISE_H
#define SHOAL_SUPERVISE_H

#include <stdbool.h>

#include "master/types.h"

/* Set up nslots slots (none spawned yet) and the backoff from m->cfg. */
void supervise_init(struct master *m, unsigned nslots,
    const struct supervise_hooks *hooks);

/*
 * Fork a worker for slot of generation gen running cfg: as the slot's
 * worker, or as its next one (a generation not yet committed) if next.
 * -1 (logged) if it could not be started.
 */
int supervise_spawn(struct master *m, unsigned slot, const struct config *cfg,
    unsigned gen, bool next);

/* Reap every child that has ended, and note workers stopped or continued
 * by a signal (SIGCHLD); reports through the hooks. */
void supervise_reap(struct master *m);

/* Heartbeat checks: stopped workers silent for worker_timeout get SIGCONT,
 * hung ones SIGABRT, then SIGKILL. */
void supervise_tick(struct master *m);

/* True if slots [from, to) all have a next worker that is ready. */
bool supervise_next_ready(const struct master *m, unsigned from, unsigned to);

/* True if slots [0, nslots) all have a ready worker. */
bool supervise_all_ready(const struct master *m);

/*
 * Slots [from, to) with a next worker: it becomes the slot's worker
 * (backoff and crash-loop state reset) and the one it replaces drains.
 */
void supervise_promote(struct master *m, unsigned from, unsigned to);

/*
 * Replace slot's serving worker (recycling): a successor starts on the
 * slot's sockets, and only once it is ready does the old one drain, so no
 * queued connection is dropped. why and detail ("1000 requests") are for
 * the log and the slot's restart counters. -1 when the slot cannot be
 * replaced now: no ready worker, one already being replaced, an operation
 * on it, or a replacement failed less than respawn_delay_max ago.
 */
int supervise_replace(struct master *m, unsigned slot, enum stats_restart why,
    const char *detail);

/* True while a successor boots in some slot. */
bool supervise_replacing(const struct master *m);

/*
 * Start-up gone wrong: if no slot in service has ever had a ready worker
 * and each has had at least tries boot failures in a row, how the last
 * one ended ("worker 1 (pid 42) failed at boot: exited with status 1
 * after 0.0s: access_log /x: Permission denied"); else NULL.
 */
const char *supervise_boot_failing(const struct master *m, unsigned tries);

/*
 * True if every worker beat its heartbeat within limit seconds and no
 * slot in service has been without a ready worker for longer; else false
 * with what is wrong in why (for the systemd watchdog).
 */
bool supervise_healthy(const struct master *m, double limit, char *why,
    size_t whylen);

/* Kill every next worker (a rollback); they are reaped as draining ones,
 * so they fail nothing that comes after. */
void supervise_discard_next(struct master *m);

/* Slots [from, to) retire: their workers empty their queues and drain. */
void supervise_retire(struct master *m, unsigned from, unsigned to);

/* From now on n slots serve (the rest retire); the total grows to n. */
void supervise_resize(struct master *m, unsigned n);

/*
 * Forget retired slots at the top whose workers are gone. Returns how many
 * slots still need sockets (the new nslots_total).
 */
unsigned supervise_trim(struct master *m);

/* The oldest generation among live workers; UINT_MAX when there is none. */
unsigned supervise_oldest_generation(const struct master *m);

/* True while a worker told to drain, retire or die has not been reaped. */
bool supervise_any_draining(const struct master *m);
/* True when no worker process is left. */
bool supervise_none_left(const struct master *m);

/* Tell every worker to drain (graceful) or to go now (fast); no respawns
 * from here on. */
void supervise_stop_all(struct master *m, bool fast);
/* Send sig to every worker still running, saying so (after a stop's
 * grace). */
void supervise_kill_all(struct master *m, int sig);
/* Pass sig on to every worker, quietly (SIGUSR1: reopen logs). */
void supervise_signal_all(struct master *m, int sig);
/* Forget every worker and timer (at exit; nothing is signalled). */
void supervise_free(struct master *m);

#endif
