/*
 * stats — the shared-memory scoreboard.
 *
 * One MAP_SHARED region in a memfd, created by the master before the first
 * fork, so every worker inherits it at the same address; a binary upgrade
 * hands the memfd to the new master, which maps the same region, so every
 * counter (requests, restarts) goes on across the upgrade. It holds one
 * entry per worker process (not per socket slot: during a reload an old
 * and a new worker of the same socket slot live side by side) and one per
 * socket slot for what outlives its workers (restarts by reason). A
 * worker writes only its own entry; the master hands entries out, writes
 * the slots' counters and folds the counters of exited workers into the
 * totals, so no counter goes backwards.
 *
 * Fields are written by one process and read by others without locks: each
 * is a naturally aligned 64-bit word, written with relaxed atomics, so a
 * reader sees an old or a new value, never a torn one. The totals are the
 * exception: during an upgrade two masters fold into them, with atomic
 * adds.
 */
#ifndef SHOAL_STATS_H
#define SHOAL_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATS_MAX_PROCS 1024
#define STATS_MAX_SLOTS 512          /* CONFIG_MAX_WORKERS: socket slots */
#define STATS_REASON_MAX 192         /* why a worker could not start */

enum stats_state {
	STATS_FREE,
	STATS_SPAWNING,
	STATS_READY,
	STATS_DRAINING,
	STATS_EXITED,
};

/*
 * Why the master replaced a slot's worker: the reason label of
 * shoal_worker_restarts_total{slot,reason} (stats_restart_name gives the
 * label). Counted once per replacement, when the new worker is started.
 */
enum stats_restart {
	STATS_RESTART_CRASH,         /* "crash": died after ready, unasked */
	STATS_RESTART_BOOT,          /* "boot": died before it was ready */
	STATS_RESTART_HUNG,          /* "hung": no heartbeat for worker_timeout */
	STATS_RESTART_MAX_REQUESTS,  /* "max_requests": recycled */
	STATS_RESTART_MAX_MEMORY,    /* "max_memory": recycled, RSS too large */
	STATS_RESTART_NREASONS,
};

struct stats_proc {
	uint64_t pid;
	uint64_t slot;
	uint64_t generation;
	uint64_t state;              /* enum stats_state */
	uint64_t heartbeat_ms;       /* util_now_ms() of the worker's last loop tick */
	uint64_t started_ms;
	uint64_t requests;
	uint64_t responses[6];       /* [0] other, [1] 1xx ... [5] 5xx */
	uint64_t conns_accepted;
	uint64_t conns_open;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t master_pid;         /* the master that handed the entry out */
	/* Written by a worker that cannot start, before it exits: the first
	 * error it logged ("modules[0]: dlopen(...): ..."), NUL-terminated. */
	char boot_error[STATS_REASON_MAX];
} __attribute__((aligned(64)));

/* Per socket slot, written by the master only. */
struct stats_slot {
	uint64_t restarts[STATS_RESTART_NREASONS];
	uint64_t last_restart;       /* enum stats_restart + 1; 0: none yet */
	uint64_t last_restart_ms;    /* wall clock (ms since 1970) of it */
} __attribute__((aligned(64)));

struct stats_totals {           /* counters of workers that have exited */
	uint64_t requests;
	uint64_t responses[6];
	uint64_t conns_accepted;
	uint64_t bytes_in;
	uint64_t bytes_out;
};

struct stats {
	uint64_t magic;              /* STATS_MAGIC: the layout below */
	uint64_t size;               /* sizeof(struct stats) */
	struct stats_totals exited;
	struct stats_slot slots[STATS_MAX_SLOTS];
	struct stats_proc procs[STATS_MAX_PROCS];
};

/*
 * Create the region (zeroed) in a memfd. *fd is the memfd (close-on-exec),
 * for an upgrade to hand over. NULL with errno set on failure.
 */
struct stats *stats_create(int *fd);

/*
 * Map the region of an inherited memfd (a binary upgrade). NULL with a
 * reason in err if it cannot be mapped or was made by a build with
 * another layout (then the caller makes a new one). fd stays the caller's.
 */
struct stats *stats_adopt(int fd, char *err, size_t errlen);

void stats_destroy(struct stats *st);

/* Master: find a free proc entry and mark it spawning; -1 if none is free. */
int stats_alloc(struct stats *st, unsigned slot, unsigned generation);
/* Master: fold an exited proc's counters into the totals and free it. */
void stats_release(struct stats *st, int idx);

/*
 * Master, after a failed upgrade: release every entry handed out by the
 * master master_pid whose worker is gone (its counters are folded, so
 * nothing is lost). Returns how many are still held by live workers.
 */
unsigned stats_release_orphans(struct stats *st, pid_t master_pid);

/* Master: count a restart of slot for reason r. */
void stats_count_restart(struct stats *st, unsigned slot,
    enum stats_restart r);

/* The label of r: "crash", "boot", "hung", "max_requests", "max_memory". */
const char *stats_restart_name(enum stats_restart r);

/* Worker: record why it cannot start (cut short to fit). */
void stats_set_boot_error(struct stats *st, int idx, const char *why);

/* Relaxed atomic store/load/add for the fields above. */
#define STATS_SET(field, v)  __atomic_store_n(&(field), (uint64_t)(v), __ATOMIC_RELAXED)
#define STATS_GET(field)     __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define STATS_ADD(field, v)  __atomic_store_n(&(field), (field) + (uint64_t)(v), __ATOMIC_RELAXED)

#endif
