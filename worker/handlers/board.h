/*
 * board — what the shared stats region (common/stats.h, req->stats) says,
 * read the one way both the metrics and the status handlers need it: the
 * live processes, the current process of each slot, the totals with the
 * exited workers' counters folded in (so they never go backwards).
 */
#ifndef SHOAL_BOARD_H
#define SHOAL_BOARD_H

#include <stdint.h>

#include "common/stats.h"

struct board_totals {
	unsigned procs;                  /* live processes */
	unsigned serving;                /* ... of which ready */
	uint64_t requests;
	uint64_t responses[6];           /* [1] 1xx ... [5] 5xx */
	uint64_t accepted;
	uint64_t open;                   /* connections now */
	uint64_t bytes_in, bytes_out;
	uint64_t duration[STATS_DURATION_BUCKETS];
	uint64_t duration_us;
	int redis;                       /* a live worker has a Redis client */
	uint64_t redis_connects, redis_commands, redis_failed, redis_timeouts;
	int pubsub;                      /* ... with a subscriber connection */
	/* Channels: subscribers now; the counters of common/stats.h. */
	uint64_t chan_subscribers;
#define BOARD_FIELD(f) uint64_t f;
	STATS_CHAN_COUNTERS(BOARD_FIELD)
#undef BOARD_FIELD
};

/* The state's name as `shoal status` says it: "serving", "draining"... */
const char *board_state_name(uint64_t state);

/* p is a live process (spawning, ready or draining). */
int board_live(const struct stats_proc *p);

/* Sum every live process and the exited ones' counters into t. */
void board_totals(const struct stats *st, struct board_totals *t);

/*
 * The current process of each slot into cur[0..STATS_MAX_SLOTS) (NULL for
 * a slot with none): the ready one, the newest generation's if a reload
 * has two. Returns the number of slots, one past the highest in use.
 */
unsigned board_slots(const struct stats *st,
    const struct stats_proc *cur[STATS_MAX_SLOTS]);

#endif
