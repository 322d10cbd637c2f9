/*
 * metrics — the "metrics" handler: Prometheus text exposition (format
 * 0.0.4) of the shared stats region: every worker of this master, plus
 * the folded-in counters of exited ones, so no counter ever goes
 * backwards across reloads.
 *
 * Series are stable: per-worker metrics carry only the slot label, for
 * the slot's current process (a restart or a reload does not make new
 * series); which process that is, its pid and generation, is
 * shoal_worker_info's. Names follow Prometheus' conventions (base units,
 * _total on counters), which `promtool check metrics` checks.
 */
#include <inttypes.h>
#include <stdio.h>

#include "common/stats.h"
#include "common/util.h"
#include "worker/api/http.h"
#include "worker/handlers/board.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"

#define LIT(s) s, sizeof(s) - 1

/* "# HELP" and "# TYPE" of a family. */
static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The per-slot families: up, info, restarts, memory, CPU. */
static void
slots(struct buf *b, const struct stats *st)
{
	const struct stats_proc *cur[STATS_MAX_SLOTS];
	unsigned n = board_slots(st, cur), s, r;

	family(b, "shoal_worker_up", "gauge",
	    "1 if the slot's worker is serving, else 0.");
	for (s = 0; s < n; s++)
		buf_printf(b, "shoal_worker_up{slot=\"%u\"} %d\n", s,
		    cur[s] != NULL && STATS_GET(cur[s]->state) == STATS_READY);
	family(b, "shoal_worker_info", "gauge",
	    "Worker processes alive: slot, pid and generation.");
	for (size_t i = 0; i < STATS_MAX_PROCS; i++) {
		const struct stats_proc *p = &st->procs[i];

		if (board_live(p))
			buf_printf(b, "shoal_worker_info{slot=\"%" PRIu64 "\",pid=\""
			    "%" PRIu64 "\",generation=\"%" PRIu64 "\"} 1\n",
			    STATS_GET(p->slot), STATS_GET(p->pid),
			    STATS_GET(p->generation));
	}
	family(b, "shoal_worker_restarts_total", "counter",
	    "Workers the master replaced in the slot, by reason.");
	for (s = 0; s < n; s++)
		for (r = 0; r < STATS_RESTART_REASONS; r++)
			buf_printf(b, "shoal_worker_restarts_total{slot=\"%u\","
			    "reason=\"%s\"} %" PRIu64 "\n", s, stats_restart_name[r],
			    STATS_GET(st->restarts[s][r]));
	family(b, "shoal_worker_resident_memory_bytes", "gauge",
	    "Resident memory of the slot's worker.");
	for (s = 0; s < n; s++)
		if (cur[s] != NULL)
			buf_printf(b, "shoal_worker_resident_memory_bytes{slot=\"%u\"}"
			    " %" PRIu64 "\n", s, STATS_GET(cur[s]->rss_bytes));
	family(b, "shoal_worker_cpu_seconds_total", "counter",
	    "CPU time of the slot's worker (restarts from 0 with a new one).");
	for (s = 0; s < n; s++) {
		if (cur[s] == NULL)
			continue;
		buf_printf(b, "shoal_worker_cpu_seconds_total{slot=\"%u\",mode="
		    "\"user\"} %.6f\n", s,
		    (double)STATS_GET(cur[s]->cpu_user_us) / 1e6);
		buf_printf(b, "shoal_worker_cpu_seconds_total{slot=\"%u\",mode="
		    "\"system\"} %.6f\n", s,
		    (double)STATS_GET(cur[s]->cpu_system_us) / 1e6);
	}
}

static void
histogram(struct buf *b, const struct board_totals *t)
{
	uint64_t count = 0;
	size_t i;

	family(b, "shoal_request_duration_seconds", "histogram",
	    "From a request's first byte to its response (a file's or a "
	    "stream's end).");
	for (i = 0; i < STATS_DURATION_BUCKETS; i++) {
		count += t->duration[i];
		if (i + 1 < STATS_DURATION_BUCKETS)
			buf_printf(b, "shoal_request_duration_seconds_bucket{le=\"%g\"}"
			    " %" PRIu64 "\n", stats_duration_le[i], count);
		else
			buf_printf(b, "shoal_request_duration_seconds_bucket{le="
			    "\"+Inf\"} %" PRIu64 "\n", count);
	}
	buf_printf(b, "shoal_request_duration_seconds_sum %.6f\n"
	    "shoal_request_duration_seconds_count %" PRIu64 "\n",
	    (double)t->duration_us / 1e6, count);
}

/* The workers' Redis clients, if any has one: up per slot, and counters
 * over all workers ever. -1 if memory ran out. */
static int
redis(struct buf *b, const struct stats *st, const struct board_totals *t)
{
	const struct stats_proc *cur[STATS_MAX_SLOTS];
	unsigned n, s;

	if (!t->redis)
		return 0;
	n = board_slots(st, cur);
	family(b, "shoal_redis_up", "gauge",
	    "1 if the slot's worker is connected to Redis (PING answered), "
	    "else 0.");
	for (s = 0; s < n; s++)
		if (cur[s] != NULL && STATS_GET(cur[s]->redis_state) !=
		    STATS_REDIS_NONE)
			buf_printf(b, "shoal_redis_up{slot=\"%u\"} %d\n", s,
			    STATS_GET(cur[s]->redis_state) == STATS_REDIS_UP);
	if (t->pubsub) {
		family(b, "shoal_redis_pubsub_up", "gauge",
		    "1 if the slot's worker's subscriber connection to Redis (the "
		    "channels') is up, else 0.");
		for (s = 0; s < n; s++)
			if (cur[s] != NULL && STATS_GET(cur[s]->redis_sub_state) !=
			    STATS_REDIS_NONE)
				buf_printf(b, "shoal_redis_pubsub_up{slot=\"%u\"} %d\n",
				    s, STATS_GET(cur[s]->redis_sub_state) ==
				    STATS_REDIS_UP);
	}
	family(b, "shoal_redis_connects_total", "counter",
	    "Connections to Redis made (PING answered).");
	buf_printf(b, "shoal_redis_connects_total %" PRIu64 "\n",
	    t->redis_connects);
	family(b, "shoal_redis_commands_total", "counter",
	    "Redis commands handlers asked for.");
	buf_printf(b, "shoal_redis_commands_total %" PRIu64 "\n",
	    t->redis_commands);
	family(b, "shoal_redis_commands_failed_total", "counter",
	    "Redis commands refused while down, lost with a connection, or "
	    "timed out.");
	buf_printf(b, "shoal_redis_commands_failed_total %" PRIu64 "\n",
	    t->redis_failed);
	family(b, "shoal_redis_commands_timed_out_total", "counter",
	    "Redis commands without a reply within command_timeout.");
	return buf_printf(b, "shoal_redis_commands_timed_out_total %" PRIu64
	    "\n", t->redis_timeouts);
}

/* One counter family of one value. */
static void
counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* The channels (worker/api/channel.h), over all workers ever. */
static int
channels(struct buf *b, const struct board_totals *t)
{
	family(b, "shoal_channel_subscribers", "gauge",
	    "Channel subscriptions now (streams, WebSocket connections, "
	    "callbacks).");
	buf_printf(b, "shoal_channel_subscribers %" PRIu64 "\n",
	    t->chan_subscribers);
	counter(b, "shoal_channel_published_total", "Messages published "
	    "(accepted and sent out).", t->chan_published);
	counter(b, "shoal_channel_publish_failed_total", "Publishes refused "
	    "(Redis down, queue full, too large) or failed.",
	    t->chan_publish_failed);
	counter(b, "shoal_channel_received_total", "Messages that reached a "
	    "worker, counted once per worker.", t->chan_received);
	counter(b, "shoal_channel_delivered_total", "Messages queued for a "
	    "subscriber, once per subscriber.", t->chan_delivered);
	family(b, "shoal_channel_dropped_total", "counter",
	    "Messages lost on the way: a slow subscriber's (\"slow\": "
	    "\"drop\"), or a worker's whose relay queue was full.");
	buf_printf(b, "shoal_channel_dropped_total{reason=\"slow\"} %" PRIu64
	    "\n", t->chan_dropped);
	buf_printf(b, "shoal_channel_dropped_total{reason=\"relay\"} %" PRIu64
	    "\n", t->chan_relay_dropped);
	family(b, "shoal_channel_slow_closed_total", "counter",
	    "Subscribers closed because they did not read fast enough.");
	return buf_printf(b, "shoal_channel_slow_closed_total %" PRIu64 "\n",
	    t->chan_slow_closed);
}

static void
metrics_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	const struct stats *st = req->stats;
	struct buf *b = &resp->body_buf;
	struct board_totals t;

	(void)state;
	if (st == NULL) {
		http_response_static(resp, 503, "text/plain", LIT("no stats\n"));
		return;
	}
	board_totals(st, &t);
	family(b, "shoal_build_info", "gauge", "The version of shoal serving.");
	buf_printf(b, "shoal_build_info{version=\"%s\"} 1\n", SHOAL_VERSION);
	family(b, "shoal_workers", "gauge", "Worker processes alive.");
	buf_printf(b, "shoal_workers %u\n", t.procs);
	slots(b, st);
	family(b, "shoal_requests_total", "counter",
	    "Requests answered (all workers, ever).");
	buf_printf(b, "shoal_requests_total %" PRIu64 "\n", t.requests);
	family(b, "shoal_responses_total", "counter", "Responses by status class.");
	for (size_t k = 1; k < ARRAY_SIZE(t.responses); k++)
		buf_printf(b, "shoal_responses_total{class=\"%zuxx\"} %" PRIu64 "\n",
		    k, t.responses[k]);
	histogram(b, &t);
	family(b, "shoal_connections_accepted_total", "counter",
	    "Connections accepted.");
	buf_printf(b, "shoal_connections_accepted_total %" PRIu64 "\n",
	    t.accepted);
	family(b, "shoal_connections_open", "gauge", "Connections open now.");
	buf_printf(b, "shoal_connections_open %" PRIu64 "\n", t.open);
	family(b, "shoal_bytes_received_total", "counter",
	    "Bytes read from clients.");
	buf_printf(b, "shoal_bytes_received_total %" PRIu64 "\n", t.bytes_in);
	family(b, "shoal_bytes_sent_total", "counter", "Bytes written to clients.");
	if (buf_printf(b, "shoal_bytes_sent_total %" PRIu64 "\n",
	    t.bytes_out) == -1 || channels(b, &t) == -1 ||
	    redis(b, st, &t) == -1) {
		http_response_static(resp, 500, "text/plain", LIT("out of memory\n"));
		return;
	}
	http_response_buf(resp, 200, "text/plain; version=0.0.4");
}

const struct handler_def metrics_handler = {
	.name = "metrics",
	.help = "Prometheus text: requests, durations, connections, workers",
	.check = options_check_none,
	.handle = metrics_handle,
};
