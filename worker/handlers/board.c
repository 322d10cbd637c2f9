/*
 * board — see board.h.
 */
#include "worker/handlers/board.h"

#include <string.h>

#include "common/util.h"

static const char *const state_names[] = {
	[STATS_FREE] = "free", [STATS_SPAWNING] = "spawning",
	[STATS_READY] = "serving", [STATS_DRAINING] = "draining",
	[STATS_EXITED] = "exited",
};

const char *
board_state_name(uint64_t state)
{
	return state < ARRAY_SIZE(state_names) ? state_names[state] : "unknown";
}

int
board_live(const struct stats_proc *p)
{
	uint64_t s = STATS_GET(p->state);

	return s == STATS_SPAWNING || s == STATS_READY || s == STATS_DRAINING;
}

void
board_totals(const struct stats *st, struct board_totals *t)
{
	size_t i, k;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < STATS_MAX_PROCS; i++) {
		const struct stats_proc *p = &st->procs[i];

		if (!board_live(p))
			continue;
		t->procs++;
		t->serving += STATS_GET(p->state) == STATS_READY;
		t->requests += STATS_GET(p->requests);
		t->accepted += STATS_GET(p->conns_accepted);
		t->open += STATS_GET(p->conns_open);
		t->bytes_in += STATS_GET(p->bytes_in);
		t->bytes_out += STATS_GET(p->bytes_out);
		for (k = 0; k < ARRAY_SIZE(t->responses); k++)
			t->responses[k] += STATS_GET(p->responses[k]);
		for (k = 0; k < STATS_DURATION_BUCKETS; k++)
			t->duration[k] += STATS_GET(p->duration[k]);
		t->duration_us += STATS_GET(p->duration_us);
		t->redis |= STATS_GET(p->redis_state) != STATS_REDIS_NONE;
		t->redis_connects += STATS_GET(p->redis_connects);
		t->redis_commands += STATS_GET(p->redis_commands);
		t->redis_failed += STATS_GET(p->redis_failed);
		t->redis_timeouts += STATS_GET(p->redis_timeouts);
		t->pubsub |= STATS_GET(p->redis_sub_state) != STATS_REDIS_NONE;
		t->chan_subscribers += STATS_GET(p->chan_subscribers);
#define ADD(f) t->f += STATS_GET(p->f);
		STATS_CHAN_COUNTERS(ADD)
#undef ADD
	}
	t->requests += STATS_GET(st->exited.requests);
	t->accepted += STATS_GET(st->exited.conns_accepted);
	t->bytes_in += STATS_GET(st->exited.bytes_in);
	t->bytes_out += STATS_GET(st->exited.bytes_out);
	for (k = 0; k < ARRAY_SIZE(t->responses); k++)
		t->responses[k] += STATS_GET(st->exited.responses[k]);
	for (k = 0; k < STATS_DURATION_BUCKETS; k++)
		t->duration[k] += STATS_GET(st->exited.duration[k]);
	t->duration_us += STATS_GET(st->exited.duration_us);
	t->redis_connects += STATS_GET(st->exited.redis_connects);
	t->redis_commands += STATS_GET(st->exited.redis_commands);
	t->redis_failed += STATS_GET(st->exited.redis_failed);
	t->redis_timeouts += STATS_GET(st->exited.redis_timeouts);
#define ADD(f) t->f += STATS_GET(st->exited.f);
	STATS_CHAN_COUNTERS(ADD)
#undef ADD
}

/* Does p stand for its slot rather than q: ready first, then newer. */
static int
better(const struct stats_proc *p, const struct stats_proc *q)
{
	int pr = STATS_GET(p->state) == STATS_READY;
	int qr = STATS_GET(q->state) == STATS_READY;

	if (pr != qr)
		return pr;
	return STATS_GET(p->generation) > STATS_GET(q->generation);
}

unsigned
board_slots(const struct stats *st, const struct stats_proc *cur[STATS_MAX_SLOTS])
{
	unsigned n = 0;
	uint64_t slot;

	memset(cur, 0, STATS_MAX_SLOTS * sizeof(cur[0]));
	for (size_t i = 0; i < STATS_MAX_PROCS; i++) {
		const struct stats_proc *p = &st->procs[i];

		if (!board_live(p) || (slot = STATS_GET(p->slot)) >= STATS_MAX_SLOTS)
			continue;
		if (cur[slot] == NULL || better(p, cur[slot]))
			cur[slot] = p;
		if (slot + 1 > n)
			n = (unsigned)slot + 1;
	}
	return n;
}
