/*
 * recycle — replace a worker that has served enough, as Gunicorn's
 * max_requests (+ max_requests_jitter) and PM2's max_memory_restart do:
 * past its request limit, or above max_memory of resident memory, a
 * worker is replaced in its slot. The master drives it from its tick: it
 * reads each serving worker's request counter in the shared stats region
 * and its resident set from /proc/PID/statm, and asks supervise.c for a
 * successor, which accepts on the slot's sockets before the old worker
 * stops accepting and drains; so no connection is refused or reset.
 *
 * One replacement at a time, none while an operation (reload, scale,
 * upgrade) runs, and for memory only a worker up for RECYCLE_MIN_UPTIME:
 * a limit below what a fresh worker needs replaces workers every few
 * seconds, not in a storm (and the log says why each time). Each
 * replacement counts in the slot's restarts by reason (stats.h).
 */
#ifndef SHOAL_RECYCLE_H
#define SHOAL_RECYCLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "master/types.h"

/* Seconds a worker serves before its memory is held against it. */
#define RECYCLE_MIN_UPTIME 1.0

/* The master's tick, when no operation runs: replace at most one worker. */
void recycle_tick(struct master *m);

/* Resident set of pid in bytes, from /proc/PID/statm; 0 if unknown. */
uint64_t recycle_rss(pid_t pid);

/* "512M", "1.5G", "812K": bytes for a log line, into buf. */
const char *recycle_bytes(uint64_t n, char *buf, size_t len);

#endif
