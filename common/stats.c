/*
 * stats — see stats.h.
 */
#include "common/stats.h"

#include <string.h>
#include <sys/mman.h>

#include "common/util.h"

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
	st->exited.redis_connects += STATS_GET(p->redis_connects);
	st->exited.redis_commands += STATS_GET(p->redis_commands);
	st->exited.redis_failed += STATS_GET(p->redis_failed);
	st->exited.redis_timeouts += STATS_GET(p->redis_timeouts);
	memset(p, 0, sizeof(*p));
	STATS_SET(p->state, STATS_FREE);
}
