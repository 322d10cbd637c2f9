/*
 * stats — the shared-memory scoreboard.
 *
 * One MAP_SHARED anonymous region, created by the master before the first
 * fork, so every worker inherits it at the same address. It holds one slot
 * per worker process (not per socket slot: during a reload an old and a new
 * worker of the same socket slot live side by side). A worker writes only
 * its own slot; the master reads all of them, hands slots out and folds the
 * counters of exited workers into the totals, so no counter goes backwards.
 *
 * Fields are written by one process and read by others without locks: each
 * is a naturally aligned 64-bit word, written with relaxed atomics, so a
 * reader sees an old or a new value, never a torn one.
 */
#ifndef SHOAL_STATS_H
#define SHOAL_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATS_MAX_PROCS 1024
/* Socket slots: as many as workers may be configured (CONFIG_MAX_WORKERS). */
#define STATS_MAX_SLOTS 512

/*
 * Request durations, from a request's first byte to its response framed
 * (a file's or a stream's: to its end),
 * counted in buckets whose upper bounds (seconds) are stats_duration_le;
 * the last bucket has no bound (+Inf).
 */
#define STATS_DURATION_BUCKETS 14
extern const double stats_duration_le[STATS_DURATION_BUCKETS - 1];

/* Why the master replaced a worker in its slot. */
enum stats_restart {
	STATS_RESTART_CRASH,         /* died while serving */
	STATS_RESTART_BOOT,          /* died before it was ready */
	STATS_RESTART_HANG,          /* killed: no heartbeat for worker_timeout */
	STATS_RESTART_REASONS,
};
/* "crash", "boot_failure", "hang": the reason label of the metrics. */
extern const char *const stats_restart_name[STATS_RESTART_REASONS];

enum stats_state {
	STATS_FREE,
	STATS_SPAWNING,
	STATS_READY,
	STATS_DRAINING,
	STATS_EXITED,
};

/* A worker's Redis client (worker/services/redis.c). */
enum stats_redis {
	STATS_REDIS_NONE,            /* no "redis" in the configuration */
	STATS_REDIS_CONNECTING,      /* first connection under way */
	STATS_REDIS_UP,              /* connected; PING answered */
	STATS_REDIS_DOWN,            /* failed; commands fail at once */
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
	/* Durations (stats_observe): counts per bucket, their sum. */
	uint64_t duration[STATS_DURATION_BUCKETS];
	uint64_t duration_us;        /* sum, microseconds */
	/* Written by the worker on each heartbeat tick. */
	uint64_t rss_bytes;          /* resident set */
	uint64_t cpu_user_us;        /* CPU time of the process, all threads */
	uint64_t cpu_system_us;
	uint64_t redis_state;        /* enum stats_redis */
	uint64_t redis_since_ms;     /* util_now_ms() when it last changed */
	uint64_t redis_connects;     /* connections made (PING answered) */
	uint64_t redis_commands;     /* commands asked for, refused ones too */
	uint64_t redis_failed;       /* ... that failed: refused while down,
	                                lost with the connection, timed out */
	uint64_t redis_timeouts;     /* ... of which timed out */
} __attribute__((aligned(64)));

struct stats_totals {           /* counters of workers that have exited */
	uint64_t requests;
	uint64_t responses[6];
	uint64_t conns_accepted;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t duration[STATS_DURATION_BUCKETS];
	uint64_t duration_us;
	uint64_t redis_connects;
	uint64_t redis_commands;
	uint64_t redis_failed;
	uint64_t redis_timeouts;
};

struct stats {
	struct stats_totals exited;
	/* Workers replaced, by slot and reason; written by the master. */
	uint64_t restarts[STATS_MAX_SLOTS][STATS_RESTART_REASONS];
	struct stats_proc procs[STATS_MAX_PROCS];
};

/* Map the region (zeroed). NULL with errno set on failure. */
struct stats *stats_create(void);
void stats_destroy(struct stats *st);

/* Master: find a free proc slot and mark it spawning; -1 if none is free. */
int stats_alloc(struct stats *st, unsigned slot, unsigned generation);
/* Master: fold an exited proc's counters into the totals and free it. */
void stats_release(struct stats *st, int idx);

/* Worker: count one request that took seconds (its own slot only). */
void stats_observe(struct stats_proc *p, double seconds);

/* Master: count a restart of slot for why. */
void stats_count_restart(struct stats *st, unsigned slot,
    enum stats_restart why);

/*
 * A worker's Redis client as `shoal status --json` and the status handler
 * show it: {"state": "up", "for": seconds in that state, "connects",
 * "commands", "failed", "timeouts"}; NULL if it has none (or out of
 * memory). now_ms: util_now_ms().
 */
struct json_t;
struct json_t *stats_redis_json(const struct stats_proc *p, uint64_t now_ms);

/* Relaxed atomic store/load/add for the fields above. */
#define STATS_SET(field, v)  __atomic_store_n(&(field), (uint64_t)(v), __ATOMIC_RELAXED)
#define STATS_GET(field)     __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define STATS_ADD(field, v)  __atomic_store_n(&(field), (field) + (uint64_t)(v), __ATOMIC_RELAXED)

#endif
