/*
 * status — the "status" handler: the JSON of `shoal status --json`, as far
 * as a worker can see it: the processes and counters of the shared stats
 * region, the master's pid, the version. For an admin listener, beside
 * /metrics, where a monitor cannot reach the control socket.
 *
 * What only the master knows is left out: its state and uptime, the
 * operation under way, the configuration file, crash-looping and retiring
 * slots. "generation" is the newest generation of a live worker.
 */
#include <unistd.h>

#include "common/stats.h"
#include "common/util.h"
#include "worker/api/http.h"
#include "worker/handlers/board.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

/* The restarts of a slot, every reason. */
static json_int_t
restarts(const struct stats *st, unsigned slot)
{
	uint64_t n = 0;

	for (unsigned r = 0; r < STATS_RESTART_REASONS; r++)
		n += STATS_GET(st->restarts[slot][r]);
	return (json_int_t)n;
}

static json_t *
status_document(const struct stats *st)
{
	const struct stats_proc *cur[STATS_MAX_SLOTS];
	json_t *procs = json_array(), *slots = json_array(), *proc, *r;
	unsigned n = board_slots(st, cur), workers = 0;
	uint64_t now = util_now_ms(), gen = 0, started;
	struct board_totals t;

	board_totals(st, &t);
	for (size_t i = 0; i < STATS_MAX_PROCS; i++) {
		const struct stats_proc *p = &st->procs[i];

		if (!board_live(p))
			continue;
		if (STATS_GET(p->generation) > gen)
			gen = STATS_GET(p->generation);
		started = STATS_GET(p->started_ms);
		proc = json_pack("{s:I, s:I, s:I, s:s, "
		    "s:f, s:I, s:I, s:I, s:I}",
		    "slot", (json_int_t)STATS_GET(p->slot),
		    "pid", (json_int_t)STATS_GET(p->pid),
		    "generation", (json_int_t)STATS_GET(p->generation),
		    "state", board_state_name(STATS_GET(p->state)),
		    "uptime", now > started ? (double)(now - started) / 1e3 : 0.0,
		    "restarts", restarts(st, (unsigned)STATS_GET(p->slot) %
		    STATS_MAX_SLOTS),
		    "requests", (json_int_t)STATS_GET(p->requests),
		    "connections", (json_int_t)STATS_GET(p->conns_open),
		    "accepted", (json_int_t)STATS_GET(p->conns_accepted));
		/* With "redis": its client, as the master's status shows it. */
		if (proc != NULL && (r = stats_redis_json(p, now)) != NULL)
			json_object_set_new(proc, "redis", r);
		if (proc != NULL && (r = stats_channels_json(p)) != NULL)
			json_object_set_new(proc, "channels", r);
		json_array_append_new(procs, proc);
	}
	for (unsigned s = 0; s < n; s++) {
		if (cur[s] == NULL)
			continue;
		workers++;
		json_array_append_new(slots, json_pack("{s:i, s:I, s:I}",
		    "slot", (int)s, "pid", (json_int_t)STATS_GET(cur[s]->pid),
		    "restarts", restarts(st, s)));
	}
	return json_pack("{s:i, s:i, s:s, s:I, s:i, s:o, s:o, s:{s:I, s:I}}",
	    "v", 1, "pid", (int)getppid(), "version", SHOAL_VERSION,
	    "generation", (json_int_t)gen, "workers", (int)workers,
	    "slots", slots, "processes", procs,
	    "totals", "requests", (json_int_t)t.requests,
	    "accepted", (json_int_t)t.accepted);
}

static void
status_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	json_t *j;

	(void)state;
	if (req->stats == NULL || (j = status_document(req->stats)) == NULL) {
		http_response_static(resp, 503, "text/plain", LIT("no stats\n"));
		return;
	}
	http_response_json(resp, 200, j);
	json_decref(j);
}

const struct handler_def status_handler = {
	.name = "status",
	.help = "the JSON of `shoal status --json`, from the shared stats",
	.check = options_check_none,
	.handle = status_handle,
};
