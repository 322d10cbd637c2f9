/*
 * stats — the shared-memory scoreboard.
 *
 * One MAP_SHARED region in a memfd, created by the master before the first
 * fork, so every worker inherits it at the same address; a binary upgrade
 * hands the memfd to the new master, which maps the same region, so every
 * counter (requests, durations, restarts) goes on across the upgrade. It
 * holds one entry per worker process (not per socket slot: during a
 * reload an old and a new worker of the same socket slot live side by
 * side) and, per socket slot, what outlives its workers (restarts by
 * reason). A worker writes only its own entry; the master hands entries
 * out, writes the slots' counters and folds the counters of exited
 * workers into the totals, so no counter goes backwards.
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
/* Socket slots: as many as workers may be configured (CONFIG_MAX_WORKERS). */
#define STATS_MAX_SLOTS 512
/* Why a worker could not start, as it said it (the first error it logged). */
#define STATS_REASON_MAX 256

/*
 * Request durations, from a request's first byte to its response framed
 * (a file's or a stream's: to its end),
 * counted in buckets whose upper bounds (seconds) are stats_duration_le;
 * the last bucket has no bound (+Inf).
 */
#define STATS_DURATION_BUCKETS 14
extern const double stats_duration_le[STATS_DURATION_BUCKETS - 1];

/*
 * Why the master replaced a worker in its slot: the reason label of
 * shoal_worker_restarts_total{slot,reason}. Counted once per replacement,
 * when the new worker is started.
 */
enum stats_restart {
	STATS_RESTART_CRASH,         /* died while serving, unasked */
	STATS_RESTART_BOOT,          /* died before it was ready */
	STATS_RESTART_HANG,          /* killed: no heartbeat for worker_timeout */
	STATS_RESTART_MAX_REQUESTS,  /* recycled: served max_requests */
	STATS_RESTART_MAX_MEMORY,    /* recycled: resident set above max_memory */
	STATS_RESTART_REASONS,
};
/* "crash", "boot_failure", "hang", "max_requests", "max_memory". */
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
	uint64_t master_pid;         /* the master that handed the entry out */
	/* Channels (worker/services/channel.c). */
	uint64_t chan_subscribers;   /* subscriptions now (a gauge) */
	uint64_t chan_published;     /* messages published here, accepted */
	uint64_t chan_publish_failed;    /* ... refused at once or failed later */
	uint64_t chan_received;      /* messages that reached this worker */
	uint64_t chan_delivered;     /* ... times the subscribers they reached */
	uint64_t chan_dropped;       /* messages a slow subscriber missed
	                                ("slow": "drop") */
	uint64_t chan_slow_closed;   /* subscribers closed for being slow */
	uint64_t chan_relay_dropped; /* messages the master could not pass to
	                                this worker (its queue was full);
	                                written by the master */
	uint64_t redis_sub_state;    /* the subscriber connection (enum
	                                stats_redis), with "redis" */
	uint64_t redis_sub_since_ms; /* util_now_ms() when it last changed */
	/* Written by a worker that cannot start, before it exits: the first
	 * error it logged ("modules[0]: dlopen(...): ..."), NUL-terminated. */
	char boot_error[STATS_REASON_MAX];
} __attribute__((aligned(64)));

/* The channels' counters of struct stats_proc, each folded into the
 * totals when its worker exits: X(field) for each. */
#define STATS_CHAN_COUNTERS(X) X(chan_published) X(chan_publish_failed) \
	X(chan_received) X(chan_delivered) X(chan_dropped) X(chan_slow_closed) \
	X(chan_relay_dropped)

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
#define STATS_FIELD(f) uint64_t f;
	STATS_CHAN_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
};

struct stats {
	uint64_t magic;              /* the layout below (stats.c) */
	uint64_t size;               /* sizeof(struct stats) */
	struct stats_totals exited;
	/* Workers replaced, by slot and reason; written by the master. */
	uint64_t restarts[STATS_MAX_SLOTS][STATS_RESTART_REASONS];
	/* The reason of each slot's last restart + 1; 0: none yet. */
	uint64_t last_restart[STATS_MAX_SLOTS];
	/* The channel relay's host-wide sequence number (master/relay.c):
	 * here so that both masters of an upgrade draw from it. */
	uint64_t chan_seq;
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

/* Worker: count one request that took seconds (its own slot only). */
void stats_observe(struct stats_proc *p, double seconds);

/* Master: count a restart of slot for why (and make it the last one). */
void stats_count_restart(struct stats *st, unsigned slot,
    enum stats_restart why);

/* Worker: record why it cannot start (cut short to fit). */
void stats_set_boot_error(struct stats *st, int idx, const char *why);

/*
 * A worker's Redis client as `shoal status --json` and the status handler
 * show it: {"state": "up", "for": seconds in that state, "connects",
 * "commands", "failed", "timeouts"}; NULL if it has none (or out of
 * memory). now_ms: util_now_ms(). With a subscriber connection (channels
 * through Redis), "pubsub": {"state", "for"} too.
 */
struct json_t;
struct json_t *stats_redis_json(const struct stats_proc *p, uint64_t now_ms);

/*
 * A worker's channels as the status shows them: {"subscribers",
 * "published", "publish_failed", "received", "delivered", "dropped",
 * "slow_closed", "relay_dropped"}; NULL if out of memory.
 */
struct json_t *stats_channels_json(const struct stats_proc *p);

/* Relaxed atomic store/load/add for the fields above. */
#define STATS_SET(field, v)  __atomic_store_n(&(field), (uint64_t)(v), __ATOMIC_RELAXED)
#define STATS_GET(field)     __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define STATS_ADD(field, v)  __atomic_store_n(&(field), (field) + (uint64_t)(v), __ATOMIC_RELAXED)

#endif
