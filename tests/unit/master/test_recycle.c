/*
 * Unit tests for master/recycle.c: which worker is replaced (the one
 * furthest past its limit, by requests or by resident memory, only
 * serving ones, memory only after RECYCLE_MIN_UPTIME), and the helpers
 * (resident set from /proc, byte counts for the log). Workers are
 * stand-ins in the slot table; their memory comes from a fake reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "master/recycle.c"

#include <string.h>

static uint64_t fake_rss[8];

static uint64_t
rss_by_pid(pid_t pid)
{
	return fake_rss[pid % 8];
}

static struct master *
table(unsigned n)
{
	struct master *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	assert_non_null(m->stats = stats_create(&m->stats_fd));
	TAILQ_INIT(&m->sup.procs);
	m->sup.nslots = n;
	for (unsigned i = 0; i < n; i++) {
		struct proc *p = calloc(1, sizeof(*p));

		assert_non_null(p);
		p->pid = (pid_t)i;
		p->slot = i;
		p->ready = true;
		p->spawned_at = 0;
		p->stats_idx = stats_alloc(m->stats, i, 1);
		m->sup.slots[i].proc = p;
	}
	return m;
}

static void
table_free(struct master *m)
{
	for (unsigned i = 0; i < m->sup.nslots; i++)
		free(m->sup.slots[i].proc);
	stats_destroy(m->stats);
	close(m->stats_fd);
	free(m);
}

static void
requests(struct master *m, unsigned slot, uint64_t n, uint64_t limit)
{
	struct proc *p = m->sup.slots[slot].proc;

	STATS_SET(m->stats->procs[p->stats_idx].requests, n);
	p->max_requests = limit;
}

static void
test_pick_requests(void **state)
{
	struct master *m = table(3);
	enum stats_restart why;
	char detail[96];
	unsigned slot = 99;

	(void)state;
	memset(fake_rss, 0, sizeof(fake_rss));
	requests(m, 0, 99, 100);
	requests(m, 1, 10, 0);                  /* no limit */
	requests(m, 2, 50, 100);
	assert_false(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	requests(m, 0, 100, 100);               /* exactly at the limit */
	assert_true(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	assert_int_equal(slot, 0);
	assert_int_equal(why, STATS_RESTART_MAX_REQUESTS);
	assert_string_equal(detail, "100 requests, limit 100");
	/* The one furthest past its limit first: 300/100 beats 150/100. */
	requests(m, 0, 150, 100);
	requests(m, 2, 300, 100);
	assert_true(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	assert_int_equal(slot, 2);
	/* Not a worker being replaced, draining or not ready. */
	m->sup.slots[2].proc->replaced = true;
	assert_true(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	assert_int_equal(slot, 0);
	m->sup.slots[0].proc->draining = true;
	assert_false(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	table_free(m);
}

static void
test_pick_memory(void **state)
{
	struct master *m = table(2);
	enum stats_restart why;
	char detail[96];
	unsigned slot = 99;

	(void)state;
	m->cfg.max_memory = 4 << 20;
	fake_rss[0] = 3 << 20;
	fake_rss[1] = 6 << 20;
	assert_true(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	assert_int_equal(slot, 1);
	assert_int_equal(why, STATS_RESTART_MAX_MEMORY);
	assert_string_equal(detail, "resident memory 6.0M above 4.0M");
	/* Memory counts only after RECYCLE_MIN_UPTIME. */
	m->sup.slots[1].proc->spawned_at = 9.5;
	assert_false(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	/* Requests and memory compete by how far past they are. */
	m->sup.slots[1].proc->spawned_at = 0;
	requests(m, 0, 200, 100);               /* 2x its limit */
	assert_true(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	assert_int_equal(slot, 0);
	assert_int_equal(why, STATS_RESTART_MAX_REQUESTS);
	fake_rss[1] = 12 << 20;                 /* 3x */
	assert_true(pick(m, 10, rss_by_pid, &slot, &why, detail, sizeof(detail)));
	assert_int_equal(slot, 1);
	table_free(m);
}

static void
test_helpers(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(recycle_bytes(512, buf, sizeof(buf)), "512");
	assert_string_equal(recycle_bytes(1536, buf, sizeof(buf)), "1.5K");
	assert_string_equal(recycle_bytes(300ull << 20, buf, sizeof(buf)), "300M");
	assert_string_equal(recycle_bytes(3ull << 30, buf, sizeof(buf)), "3.0G");
	assert_true(recycle_rss(getpid()) > 100 * 1024);
	assert_true(recycle_rss((pid_t)999999999) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_requests),
		cmocka_unit_test(test_pick_memory),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
