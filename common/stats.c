/*
 * stats — see stats.h.
 */
#include "common/stats.h"

#include <string.h>
#include <sys/mman.h>
#include <jansson.h>

#include "common/util.h"

/* From half a millisecond (a cached answer) to 10 s (a slow backend). */
const double stats_duration_le[STATS_DURATION_BUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 10,
};

const char *const stats_restart_name[STATS_RESTART_REASONS] = {
	[STATS_RESTART_CRASH] = "crash",
	[STATS_RESTART_BOOT] = "boot_failure",
	[STATS_RESTART_HANG] = "hang",
};

struct stats *
stats_create(void)
{
	void *p;

	/* Anonymous and shared: inherited across fork, gone with the last user. */
	p = mmap(NULL, sizeof(struct stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
stats_destroy(struct stats *st)
{
	if (st != NULL)
		munmap(st, sizeof(*st));
}

int
stats_alloc(struct stats *st, unsigned slot, unsigned generation)
{
	for (int i = 0; i < STATS_MAX_PROCS; i++) {
		struct stats_proc *p = &st->procs[i];

		if (STATS_GET(p->state) != STATS_FREE)
			continue;
		memset(p, 0, sizeof(*p));
		STATS_SET(p->slot, slot);
		STATS_SET(p->generation, generation);
		STATS_SET(p->started_ms, util_now_ms());
		STATS_SET(p->heartbeat_ms, util_now_ms());
		STATS_SET(p->state, STATS_SPAWNING);
		return i;
	}
	return -1;
}

void
stats_release(struct stats *st, int idx)
{
	struct stats_proc *p;

	if (idx < 0 || idx >= STATS_MAX_PROCS)
		return;
	p = &st->procs[idx];
	st->exited.requests += STATS_GET(p->requests);
	for (size_t i = 0; i < ARRAY_SIZE(p->responses); i++)
		st->exited.responses[i] += STATS_GET(p->responses[i]);
	st->exited.conns_accepted += STATS_GET(p->conns_accepted);
	st->exited.bytes_in += STATS_GET(p->bytes_in);
	st->exited.bytes_out += STATS_GET(p->bytes_out);
	for (size_t i = 0; i < ARRAY_SIZE(p->duration); i++)
		st->exited.duration[i] += STATS_GET(p->duration[i]);
	st->exited.duration_us += STATS_GET(p->duration_us);
	st->exited.redis_connects += STATS_GET(p->redis_connects);
	st->exited.redis_commands += STATS_GET(p->redis_commands);
	st->exited.redis_failed += STATS_GET(p->redis_failed);
	st->exited.redis_timeouts += STATS_GET(p->redis_timeouts);
	memset(p, 0, sizeof(*p));
	STATS_SET(p->state, STATS_FREE);
}

void
stats_observe(struct stats_proc *p, double seconds)
{
	size_t i = 0;

	if (!(seconds >= 0))
		seconds = 0;
	while (i < ARRAY_SIZE(stats_duration_le) && seconds > stats_duration_le[i])
		i++;
	STATS_ADD(p->duration[i], 1);
	STATS_ADD(p->duration_us, (uint64_t)(seconds * 1e6 + 0.5));
}

void
stats_count_restart(struct stats *st, unsigned slot, enum stats_restart why)
{
	if (slot < STATS_MAX_SLOTS && why < STATS_RESTART_REASONS)
		STATS_ADD(st->restarts[slot][why], 1);
}

json_t *
stats_redis_json(const struct stats_proc *p, uint64_t now_ms)
{
	static const char *const names[] = {
		[STATS_REDIS_CONNECTING] = "connecting", [STATS_REDIS_UP] = "up",
		[STATS_REDIS_DOWN] = "down",
	};
	uint64_t st = STATS_GET(p->redis_state);
	uint64_t since = STATS_GET(p->redis_since_ms);

	if (st == STATS_REDIS_NONE || st >= ARRAY_SIZE(names))
		return NULL;
	return json_pack("{s:s, s:f, s:I, s:I, s:I, s:I}", "state", names[st],
	    "for", since != 0 && now_ms > since ?
	    (double)(now_ms - since) / 1000 : 0.0,
	    "connects", (json_int_t)STATS_GET(p->redis_connects),
	    "commands", (json_int_t)STATS_GET(p->redis_commands),
	    "failed", (json_int_t)STATS_GET(p->redis_failed),
	    "timeouts", (json_int_t)STATS_GET(p->redis_timeouts));
}
