/*
 * metrics — the "metrics" handler: Prometheus text exposition of the
 * shared stats region (every worker of this master, plus the folded-in
 * counters of exited ones, so no counter ever goes backwards).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/stats.h"
#include "common/util.h"
#include "worker/api/http.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

static const char *const state_names[] = {
	[STATS_FREE] = "free", [STATS_SPAWNING] = "spawning",
	[STATS_READY] = "serving", [STATS_DRAINING] = "draining",
	[STATS_EXITED] = "exited",
};

/*
 * The workers' Redis clients, if any worker has one: up per process, and
 * counters over all workers ever (exited ones folded in).
 */
static void
metrics_redis(struct buf *b, const struct stats *st)
{
	uint64_t connects = st->exited.redis_connects;
	uint64_t commands = st->exited.redis_commands;
	uint64_t failed = st->exited.redis_failed;
	uint64_t timeouts = st->exited.redis_timeouts;
	bool any = false;

	for (size_t i = 0; i < STATS_MAX_PROCS; i++) {
		const struct stats_proc *p = &st->procs[i];
		uint64_t s = STATS_GET(p->state), rs = STATS_GET(p->redis_state);

		if (s == STATS_FREE || rs == STATS_REDIS_NONE)
			continue;
		if (!any)
			buf_append_str(b, "# HELP shoal_redis_up 1 if the worker's "
			    "Redis connection is up (PING answered), else 0.\n"
			    "# TYPE shoal_redis_up gauge\n");
		any = true;
		connects += STATS_GET(p->redis_connects);
		commands += STATS_GET(p->redis_commands);
		failed += STATS_GET(p->redis_failed);
		timeouts += STATS_GET(p->redis_timeouts);
		buf_printf(b, "shoal_redis_up{slot=\"%" PRIu64 "\",pid=\"%" PRIu64
		    "\"} %d\n", STATS_GET(p->slot), STATS_GET(p->pid),
		    rs == STATS_REDIS_UP);
	}
	if (!any && connects == 0 && commands == 0)
		return;
	buf_printf(b,
	    "# HELP shoal_redis_connects_total Redis connections made (PING answered).\n"
	    "# TYPE shoal_redis_connects_total counter\n"
	    "shoal_redis_connects_total %" PRIu64 "\n"
	    "# HELP shoal_redis_commands_total Redis commands handlers asked for.\n"
	    "# TYPE shoal_redis_commands_total counter\n"
	    "shoal_redis_commands_total %" PRIu64 "\n"
	    "# HELP shoal_redis_commands_failed_total Redis commands refused while down, lost with a connection, or timed out.\n"
	    "# TYPE shoal_redis_commands_failed_total counter\n"
	    "shoal_redis_commands_failed_total %" PRIu64 "\n"
	    "# HELP shoal_redis_commands_timed_out_total Redis commands without a reply within command_timeout.\n"
	    "# TYPE shoal_redis_commands_timed_out_total counter\n"
	    "shoal_redis_commands_timed_out_total %" PRIu64 "\n",
	    connects, commands, failed, timeouts);
}

static void
metrics_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	const struct stats *st = req->stats;
	struct buf *b = &resp->body_buf;
	uint64_t requests = 0, accepted = 0, open = 0, in = 0, out = 0;
	uint64_t responses[6] = { 0 }, now = util_now_ms();
	unsigned workers = 0;

	(void)state;
	if (st == NULL) {
		http_response_static(resp, 503, "text/plain", LIT("no stats\n"));
		return;
	}
	buf_append_str(b,
	    "# HELP shoal_worker_up Worker processes by slot, pid, generation and state.\n"
	    "# TYPE shoal_worker_up gauge\n");
	for (size_t i = 0; i < STATS_MAX_PROCS; i++) {
		const struct stats_proc *p = &st->procs[i];
		uint64_t s = STATS_GET(p->state);

		if (s == STATS_FREE || s >= ARRAY_SIZE(state_names))
			continue;
		workers++;
		requests += STATS_GET(p->requests);
		accepted += STATS_GET(p->conns_accepted);
		open += STATS_GET(p->conns_open);
		in += STATS_GET(p->bytes_in);
		out += STATS_GET(p->bytes_out);
		for (size_t k = 0; k < ARRAY_SIZE(responses); k++)
			responses[k] += STATS_GET(p->responses[k]);
		buf_printf(b, "shoal_worker_up{slot=\"%" PRIu64 "\",pid=\"%" PRIu64
		    "\",generation=\"%" PRIu64 "\",state=\"%s\"} 1\n",
		    STATS_GET(p->slot), STATS_GET(p->pid),
		    STATS_GET(p->generation), state_names[s]);
	}
	requests += st->exited.requests;
	accepted += st->exited.conns_accepted;
	in += st->exited.bytes_in;
	out += st->exited.bytes_out;
	for (size_t k = 0; k < ARRAY_SIZE(responses); k++)
		responses[k] += st->exited.responses[k];
	buf_printf(b,
	    "# HELP shoal_workers Worker processes alive.\n"
	    "# TYPE shoal_workers gauge\nshoal_workers %u\n"
	    "# HELP shoal_requests_total Requests answered (all workers, ever).\n"
	    "# TYPE shoal_requests_total counter\nshoal_requests_total %" PRIu64 "\n"
	    "# HELP shoal_responses_total Responses by status class.\n"
	    "# TYPE shoal_responses_total counter\n",
	    workers, requests);
	for (size_t k = 1; k < ARRAY_SIZE(responses); k++)
		buf_printf(b, "shoal_responses_total{class=\"%zuxx\"} %" PRIu64 "\n",
		    k, responses[k]);
	buf_printf(b,
	    "# HELP shoal_connections_accepted_total Connections accepted.\n"
	    "# TYPE shoal_connections_accepted_total counter\n"
	    "shoal_connections_accepted_total %" PRIu64 "\n"
	    "# HELP shoal_connections_open Connections open now.\n"
	    "# TYPE shoal_connections_open gauge\nshoal_connections_open %" PRIu64 "\n"
	    "# HELP shoal_bytes_received_total Bytes read from clients.\n"
	    "# TYPE shoal_bytes_received_total counter\n"
	    "shoal_bytes_received_total %" PRIu64 "\n"
	    "# HELP shoal_bytes_sent_total Bytes written to clients.\n"
	    "# TYPE shoal_bytes_sent_total counter\nshoal_bytes_sent_total %" PRIu64 "\n"
	    "# HELP shoal_scrape_time_ms Monotonic clock of this scrape.\n"
	    "# TYPE shoal_scrape_time_ms gauge\nshoal_scrape_time_ms %" PRIu64 "\n",
	    accepted, open, in, out, now);
	metrics_redis(b, st);
	http_response_buf(resp, 200, "text/plain; version=0.0.4");
}

const struct handler_def metrics_handler = {
	.name = "metrics",
	.help = "Prometheus text: requests, responses, connections, workers",
	.check = options_check_none,
	.handle = metrics_handle,
};
