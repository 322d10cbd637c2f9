/*
 * Unit tests for worker/handlers/board.c, and through it what the metrics
 * handler (linked in) answers for a stats region set up by hand: a slot's
 * current process is its ready one, the newest generation's during a
 * reload; totals fold in the exited workers; the exposition has one series
 * per slot, pid and generation only in shoal_worker_info, cumulative
 * histogram buckets, and every family HELP'd and TYPE'd once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/handlers/board.c"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker/handlers/builtin.h"

static struct stats *
region(void)
{
	int a, b, c, fd;
	struct stats *st = stats_create(&fd);

	assert_non_null(st);
	close(fd);                   /* the mapping outlives its memfd */
	/* slot 0: gen 1 draining, gen 2 ready (a reload); slot 1: ready */
	a = stats_alloc(st, 0, 1);
	b = stats_alloc(st, 0, 2);
	c = stats_alloc(st, 1, 1);
	STATS_SET(st->procs[a].pid, 100);
	STATS_SET(st->procs[a].state, STATS_DRAINING);
	STATS_SET(st->procs[b].pid, 200);
	STATS_SET(st->procs[b].state, STATS_READY);
	STATS_SET(st->procs[c].pid, 300);
	STATS_SET(st->procs[c].state, STATS_READY);
	STATS_SET(st->procs[a].requests, 10);
	STATS_SET(st->procs[c].requests, 5);
	STATS_SET(st->procs[b].rss_bytes, 4096);
	STATS_SET(st->procs[b].cpu_user_us, 1500000);
	stats_observe(&st->procs[a], 0.001);
	stats_observe(&st->procs[c], 0.3);
	st->exited.requests = 7;
	st->exited.duration[0] = 2;
	st->exited.duration_us = 400;
	stats_count_restart(st, 1, STATS_RESTART_CRASH);
	return st;
}

static void
test_slots_and_totals(void **state)
{
	const struct stats_proc *cur[STATS_MAX_SLOTS];
	struct stats *st = region();
	struct board_totals t;

	(void)state;
	assert_int_equal(board_slots(st, cur), 2);
	assert_int_equal(STATS_GET(cur[0]->pid), 200);   /* ready beats draining */
	assert_int_equal(STATS_GET(cur[1]->pid), 300);
	board_totals(st, &t);
	assert_int_equal(t.procs, 3);
	assert_int_equal(t.serving, 2);
	assert_int_equal(t.requests, 22);
	assert_int_equal(t.duration[0], 2);              /* exited only: 0.001 > 0.0005 */
	assert_int_equal(t.duration_us, 400 + 1000 + 300000);
	assert_string_equal(board_state_name(STATS_DRAINING), "draining");
	assert_string_equal(board_state_name(99), "unknown");
	/* two ready processes of a slot (before a reload commits): the newer */
	STATS_SET(st->procs[0].state, STATS_READY);
	board_slots(st, cur);
	assert_int_equal(STATS_GET(cur[0]->pid), 200);
	stats_destroy(st);
}

/* The metrics handler's answer for st, NUL-terminated (malloc'd). */
static char *
metrics(const struct stats *st)
{
	struct http_request req = { .stats = st };
	struct http_response resp;
	char *text;

	memset(&resp, 0, sizeof(resp));
	resp.file_fd = -1;
	metrics_handler.handle(&req, &resp, NULL);
	assert_int_equal(resp.status, 200);
	text = malloc(resp.body_len + 1);
	assert_non_null(text);
	memcpy(text, resp.body, resp.body_len);
	text[resp.body_len] = '\0';
	buf_free(&resp.body_buf);
	buf_free(&resp.headers);
	return text;
}

static void
test_metrics_exposition(void **state)
{
	struct stats *st = region();
	char *text = metrics(st), *line, *save = NULL, *copy;
	char seen[64][96];
	size_t nseen = 0;

	(void)state;
	assert_non_null(strstr(text, "shoal_worker_up{slot=\"0\"} 1\n"));
	assert_non_null(strstr(text, "shoal_worker_info{slot=\"0\",pid=\"100\","
	    "generation=\"1\"} 1\n"));
	assert_non_null(strstr(text, "shoal_worker_info{slot=\"0\",pid=\"200\","
	    "generation=\"2\"} 1\n"));
	assert_non_null(strstr(text, "shoal_worker_restarts_total{slot=\"1\","
	    "reason=\"crash\"} 1\n"));
	assert_non_null(strstr(text, "shoal_worker_resident_memory_bytes{slot=\"0\"}"
	    " 4096\n"));
	assert_non_null(strstr(text, "shoal_worker_cpu_seconds_total{slot=\"0\","
	    "mode=\"user\"} 1.500000\n"));
	assert_non_null(strstr(text, "shoal_requests_total 22\n"));
	assert_non_null(strstr(text, "shoal_request_duration_seconds_bucket{le="
	    "\"0.0005\"} 2\n"));
	assert_non_null(strstr(text, "shoal_request_duration_seconds_bucket{le="
	    "\"0.001\"} 3\n"));
	assert_non_null(strstr(text, "shoal_request_duration_seconds_bucket{le="
	    "\"+Inf\"} 4\n"));
	assert_non_null(strstr(text, "shoal_request_duration_seconds_count 4\n"));
	assert_null(strstr(text, "_ms"));
	/* each TYPE once; pid= only in the info lines */
	copy = strdup(text);
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			for (size_t i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], line);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", line);
		}
		if (strstr(line, "pid=") != NULL)
			assert_true(strncmp(line, "shoal_worker_info{", 18) == 0);
	}
	free(copy);
	free(text);
	stats_destroy(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_and_totals),
		cmocka_unit_test(test_metrics_exposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
