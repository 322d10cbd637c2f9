/*
 * Unit tests for master/supervise.c: the slot bookkeeping that ops.c
 * drives (promote, discard, retire, resize, trim), the reaper's reports
 * through the hooks, and how stopped and hung workers leave the steering
 * (steer.c's view of the slots) and are continued or aborted. Workers are stand-ins: an IPC socket pair whose other
 * end the test reads, and where a signal or an exit status matters, a real
 * forked child that waits to be killed or exits at once. Nothing here
 * forks a real worker (no respawn: the table is marked stopping or the
 * slot retiring where a death would trigger one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>

#include "master/supervise.c"

static struct {
	unsigned ready, next_failed, reaped, child_reaped;
	char what[256];
	pid_t child;
	int child_status;
} seen;

/* A pid beyond any pid_max: a stray kill() finds nobody (ESRCH). */
#define NOPID ((pid_t)999999999)

static void h_ready(struct master *m, struct proc *p) { (void)m; (void)p; seen.ready++; }
static void h_reaped(struct master *m) { (void)m; seen.reaped++; }
static void h_in_worker(struct master *m) { (void)m; }

static int
h_become(const struct config *cfg, unsigned slot, char *err, size_t errlen)
{
	(void)cfg;
	(void)slot;
	(void)err;
	(void)errlen;
	return 0;
}

static void
h_next_failed(struct master *m, const char *what)
{
	(void)m;
	seen.next_failed++;
	snprintf(seen.what, sizeof(seen.what), "%s", what);
}

static void
h_child_reaped(struct master *m, pid_t pid, int status)
{
	(void)m;
	seen.child_reaped++;
	seen.child = pid;
	seen.child_status = status;
}

static const struct supervise_hooks hooks = {
	.worker_ready = h_ready, .next_failed = h_next_failed,
	.reaped = h_reaped, .child_reaped = h_child_reaped,
	.in_worker = h_in_worker,
	.become = h_become,
};

/* The other ends of the stand-ins' IPC sockets, by proc. */
struct peer {
	struct proc *p;
	int fd;
};
static struct peer peers[16];
static size_t npeers;

static int
setup(void **state)
{
	struct master *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->stats = stats_create(&m->stats_fd)) == NULL ||
	    (m->base = event_base_new()) == NULL || ltable_init(&m->listeners) == -1)
		return -1;
	m->cfg.respawn_delay_min = 0.1;
	m->cfg.respawn_delay_max = 1;
	supervise_init(m, 2, &hooks);
	memset(&seen, 0, sizeof(seen));
	npeers = 0;
	*state = m;
	return 0;
}

static int
teardown(void **state)
{
	struct master *m = *state;

	supervise_free(m);
	for (size_t i = 0; i < npeers; i++)
		close(peers[i].fd);
	ltable_free(&m->listeners, false);
	event_base_free(m->base);
	stats_destroy(m->stats);
	close(m->stats_fd);
	free(m);
	return 0;
}

/* A stand-in worker in slot (as its next one if next), pid given. */
static struct proc *
fake(struct master *m, unsigned slot, unsigned gen, bool next, bool ready,
    pid_t pid)
{
	struct proc *p = calloc(1, sizeof(*p));
	int fds[2];

	assert_non_null(p);
	assert_int_equal(ipc_pair(fds), 0);
	p->m = m;
	p->pid = pid;
	p->slot = slot;
	p->generation = gen;
	p->next = next;
	p->ready = ready;
	p->ipc_fd = fds[0];
	p->spawned_at = util_now();
	p->stats_idx = stats_alloc(m->stats, slot, gen);
	assert_true(p->stats_idx >= 0);
	TAILQ_INSERT_TAIL(&m->sup.procs, p, entry);
	if (next) {
		m->sup.slots[slot].next = p;
	} else {
		m->sup.slots[slot].proc = p;
		m->sup.slots[slot].generation = gen;
	}
	peers[npeers].p = p;
	peers[npeers++].fd = fds[1];
	return p;
}

/* The message type p's worker would read next, or -1 if none. */
static int
received(struct proc *p)
{
	struct ipc_msg msg;
	int type;

	for (size_t i = 0; i < npeers; i++) {
		if (peers[i].p != p)
			continue;
		if (ipc_recv(peers[i].fd, &msg) != 1)
			return -1;
		type = (int)msg.type;
		ipc_msg_free(&msg);
		return type;
	}
	return -1;
}

/* A child that waits to be killed. */
static pid_t
sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		struct rlimit none = { 0, 0 };

		setrlimit(RLIMIT_CORE, &none);   /* SIGABRT leaves no core file */
		pause();
		_exit(0);
	}
	return pid;
}

static void
test_ready_checks(void **state)
{
	struct master *m = *state;
	struct proc *n0;

	fake(m, 0, 1, false, true, NOPID);
	fake(m, 1, 1, false, false, NOPID);
	assert_false(supervise_all_ready(m));
	m->sup.slots[1].proc->ready = true;
	assert_true(supervise_all_ready(m));

	assert_false(supervise_next_ready(m, 0, 2));
	n0 = fake(m, 0, 2, true, false, NOPID);
	fake(m, 1, 2, true, true, NOPID);
	assert_false(supervise_next_ready(m, 0, 2));
	assert_true(supervise_next_ready(m, 1, 2));   /* a scale-up's slots */
	n0->ready = true;
	assert_true(supervise_next_ready(m, 0, 2));
	assert_int_equal(supervise_oldest_generation(m), 1);
}

static void
test_promote_drains_the_replaced(void **state)
{
	struct master *m = *state;
	struct proc *o0, *o1, *n0;
	struct slot *s0 = &m->sup.slots[0];

	o0 = fake(m, 0, 1, false, true, NOPID);
	o1 = fake(m, 1, 1, false, true, NOPID);
	n0 = fake(m, 0, 2, true, true, NOPID);
	s0->crash_looping = true;
	s0->backoff.quick_deaths = 4;
	/* Slot 1 has no next worker: it is left alone. */
	supervise_promote(m, 0, 2);
	assert_ptr_equal(s0->proc, n0);
	assert_null(s0->next);
	assert_false(n0->next);
	assert_int_equal(s0->generation, 2);
	assert_false(s0->crash_looping);
	assert_int_equal(s0->backoff.quick_deaths, 0);
	assert_true(o0->draining);
	assert_int_equal(received(o0), IPC_MSG_DRAIN);
	assert_int_equal(STATS_GET(m->stats->procs[o0->stats_idx].state),
	    STATS_DRAINING);
	assert_ptr_equal(m->sup.slots[1].proc, o1);
	assert_false(o1->draining);
	assert_int_equal(received(o1), -1);
	assert_true(supervise_any_draining(m));
}

static void
test_discard_next_kills_them(void **state)
{
	struct master *m = *state;
	struct proc *n1;
	pid_t pid = sleeper();
	int status;

	fake(m, 0, 1, false, true, NOPID);
	n1 = fake(m, 1, 2, true, false, pid);
	supervise_discard_next(m);
	assert_null(m->sup.slots[1].next);
	assert_false(n1->next);          /* reaped as a draining worker ... */
	assert_true(n1->draining);       /* ... failing nothing after it */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_non_null(m->sup.slots[0].proc);
}

static void
test_retire_resize_trim(void **state)
{
	struct master *m = *state;
	struct proc *p2;

	supervise_resize(m, 3);
	assert_int_equal(m->sup.nslots, 3);
	assert_int_equal(m->sup.nslots_total, 3);
	fake(m, 0, 1, false, true, NOPID);
	fake(m, 1, 1, false, true, NOPID);
	p2 = fake(m, 2, 1, false, true, NOPID);
	supervise_retire(m, 2, 3);
	supervise_resize(m, 2);
	assert_true(m->sup.slots[2].retiring);
	assert_true(p2->draining);
	assert_int_equal(received(p2), IPC_MSG_RETIRE);
	assert_int_equal(m->sup.nslots, 2);
	assert_int_equal(m->sup.nslots_total, 3);   /* its sockets stay */
	/* Its worker still runs: the slot keeps its sockets. */
	assert_int_equal(supervise_trim(m), 3);
	m->sup.slots[2].proc = NULL;
	proc_free(m, p2);
	assert_int_equal(supervise_trim(m), 2);
	assert_int_equal(m->sup.nslots_total, 2);
	assert_false(m->sup.slots[2].retiring);
	/* Never below the slots in service. */
	m->sup.slots[1].proc = NULL;
	assert_int_equal(supervise_trim(m), 2);
}

static void
test_oldest_generation(void **state)
{
	struct master *m = *state;

	assert_int_equal(supervise_oldest_generation(m), UINT_MAX);
	fake(m, 0, 3, false, true, NOPID);
	fake(m, 0, 4, true, true, NOPID);
	assert_int_equal(supervise_oldest_generation(m), 3);
	fake(m, 1, 2, false, true, NOPID);
	assert_int_equal(supervise_oldest_generation(m), 2);
}

static pid_t
exits_with(int code)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0)
		_exit(code);
	return pid;
}

/* Reap until pid is gone (it may not have exited yet). */
static void
reap_until(struct master *m, pid_t pid)
{
	for (int i = 0; i < 500 && (proc_find(m, pid) != NULL ||
	    (seen.child != pid && kill(pid, 0) == 0)); i++) {
		supervise_reap(m);
		usleep(2000);
	}
	supervise_reap(m);
}

static void
test_reap_reports_through_hooks(void **state)
{
	struct master *m = *state;
	pid_t next_pid = exits_with(3), other = exits_with(7), cur;

	/* A next-generation worker that dies: next_failed with the line. */
	fake(m, 0, 2, true, false, next_pid);
	reap_until(m, next_pid);
	assert_int_equal(seen.next_failed, 1);
	assert_null(m->sup.slots[0].next);
	assert_non_null(strstr(seen.what, "exited with status 3 after"));
	assert_true(strncmp(seen.what, "worker 0 (pid ", 14) == 0);
	/* Not a worker: child_reaped with its status. */
	reap_until(m, other);
	assert_int_equal(seen.child_reaped, 1);
	assert_int_equal(seen.child, other);
	assert_true(WIFEXITED(seen.child_status) &&
	    WEXITSTATUS(seen.child_status) == 7);
	assert_true(seen.reaped >= 2);
	/* A retiring slot's worker that drained: gone, no respawn. */
	cur = exits_with(0);
	fake(m, 1, 1, false, true, cur);
	supervise_retire(m, 1, 2);
	(void)received(m->sup.slots[1].proc);
	reap_until(m, cur);
	assert_null(m->sup.slots[1].proc);
	assert_null(m->sup.slots[1].respawn_ev);
	assert_true(supervise_none_left(m));
}

/* Reap until p->stopped is want (the stop or continue may take a moment). */
static void
reap_stopped(struct master *m, struct proc *p, bool want)
{
	for (int i = 0; i < 500 && p->stopped != want; i++) {
		supervise_reap(m);
		usleep(2000);
	}
	assert_true(p->stopped == want);
}

/* Kill a sleeper and forget it without a respawn. */
static void
bury(struct master *m, pid_t pid)
{
	m->sup.stopping = true;
	kill(pid, SIGKILL);
	reap_until(m, pid);
}

static void
test_stopped_worker_leaves_steering(void **state)
{
	struct master *m = *state;
	pid_t pid = sleeper();
	struct proc *p0;

	p0 = fake(m, 0, 1, false, true, pid);
	fake(m, 1, 1, false, true, NOPID);
	assert_int_equal(steer_live_count(m), 2);
	kill(pid, SIGSTOP);
	reap_stopped(m, p0, true);
	assert_false(steer_slot_live(m, 0));
	assert_true(steer_slot_live(m, 1));
	assert_int_equal(seen.child_reaped, 0);   /* a stop is no exit */
	assert_ptr_equal(m->sup.slots[0].proc, p0);
	kill(pid, SIGCONT);
	reap_stopped(m, p0, false);
	assert_true(steer_slot_live(m, 0));
	assert_int_equal(steer_live_count(m), 2);
	bury(m, pid);
}

static void
test_stopped_worker_is_continued_not_killed(void **state)
{
	struct master *m = *state;
	pid_t pid = sleeper();
	struct proc *p;
	uint64_t now = util_now_ms();

	m->cfg.worker_timeout = 1;
	p = fake(m, 0, 1, false, true, pid);
	kill(pid, SIGSTOP);
	reap_stopped(m, p, true);
	/* silent for worker_timeout while stopped: SIGCONT, no SIGABRT */
	STATS_SET(m->stats->procs[p->stats_idx].heartbeat_ms, now - 5000);
	supervise_tick(m);
	assert_int_equal(p->hang_stage, HANG_CONTINUED);
	reap_stopped(m, p, false);
	assert_false(steer_slot_live(m, 0));      /* not until it beats */
	assert_int_equal(kill(pid, 0), 0);
	/* it beats again: live, nothing more */
	usleep(20000);
	STATS_SET(m->stats->procs[p->stats_idx].heartbeat_ms, util_now_ms());
	supervise_tick(m);
	assert_int_equal(p->hang_stage, HANG_NONE);
	assert_true(steer_slot_live(m, 0));
	bury(m, pid);
}

static void
test_silent_worker_is_aborted(void **state)
{
	struct master *m = *state;
	pid_t pid = sleeper();
	struct proc *p;
	int status;

	m->cfg.worker_timeout = 1;
	p = fake(m, 0, 1, false, true, pid);
	/* continued, but still silent after the grace: hung */
	p->hang_stage = HANG_CONTINUED;
	p->hang_at = util_now() - HANG_RESUME_GRACE - 0.1;
	STATS_SET(m->stats->procs[p->stats_idx].heartbeat_ms, util_now_ms() - 5000);
	supervise_tick(m);
	assert_int_equal(p->hang_stage, HANG_ABORTED);
	assert_false(steer_slot_live(m, 0));
	m->sup.stopping = true;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

/* A stand-in successor of slot (see supervise_replace) for its worker. */
static struct proc *
successor(struct master *m, unsigned slot, pid_t pid)
{
	struct slot *s = &m->sup.slots[slot];
	struct proc *p = fake(m, slot, s->generation, true, false, pid);

	s->next = NULL;
	p->next = false;
	p->successor = true;
	s->successor = p;
	if (s->proc != NULL)
		s->proc->replaced = true;
	return p;
}

static void
test_successor_takes_over_once_ready(void **state)
{
	struct master *m = *state;
	struct slot *s0 = &m->sup.slots[0];
	struct proc *old = fake(m, 0, 1, false, true, NOPID), *succ;

	succ = successor(m, 0, NOPID);
	assert_true(supervise_replacing(m));
	/* Booting: the old worker serves, nothing is drained yet. */
	assert_ptr_equal(s0->proc, old);
	assert_int_equal(received(old), -1);
	on_ready(m, succ);
	assert_ptr_equal(s0->proc, succ);
	assert_null(s0->successor);
	assert_false(succ->successor);
	assert_true(old->draining);
	assert_int_equal(received(old), IPC_MSG_DRAIN);
	assert_false(supervise_replacing(m));
	/* A replaced worker draining holds no operation back. */
	assert_false(supervise_any_draining(m));
	assert_int_equal(seen.ready, 1);
}

static void
test_failed_successor_leaves_the_old_serving(void **state)
{
	struct master *m = *state;
	struct slot *s0 = &m->sup.slots[0];
	struct proc *old = fake(m, 0, 1, false, true, NOPID);
	pid_t pid = exits_with(1);

	successor(m, 0, pid);
	reap_until(m, pid);
	assert_ptr_equal(s0->proc, old);
	assert_null(s0->successor);
	assert_false(old->replaced);
	assert_false(old->draining);
	assert_true(s0->replace_after > util_now());
	assert_int_equal(seen.next_failed, 0);
	/* not a respawn: nothing counted against the slot */
	for (int r = 0; r < STATS_RESTART_REASONS; r++)
		assert_int_equal(m->stats->restarts[0][r], 0);
	/* too soon to try again */
	assert_int_equal(supervise_replace(m, 0, STATS_RESTART_MAX_REQUESTS,
	    "again"), -1);
}

static void
test_old_dies_while_its_successor_boots(void **state)
{
	struct master *m = *state;
	struct slot *s0 = &m->sup.slots[0];
	pid_t pid = exits_with(9);
	struct proc *succ;

	fake(m, 0, 1, false, true, pid);
	succ = successor(m, 0, NOPID);
	m->sup.stopping = false;
	reap_until(m, pid);
	assert_ptr_equal(s0->proc, succ);
	assert_null(s0->successor);
	assert_null(s0->respawn_ev);     /* the successor is the respawn */
	assert_non_null(strstr(s0->last_exit, "exited with status 9"));
}

static void
test_boot_failing(void **state)
{
	struct master *m = *state;

	m->sup.slots[0].boot_failures = 3;
	m->sup.slots[1].boot_failures = 2;
	snprintf(m->sup.slots[1].last_exit, sizeof(m->sup.slots[1].last_exit),
	    "worker 1 (pid 42) failed at boot: exited with status 1 after 0.0s: "
	    "why");
	assert_null(supervise_boot_failing(m, 3));
	m->sup.slots[1].boot_failures = 3;
	assert_string_equal(supervise_boot_failing(m, 3), m->sup.slots[1].last_exit);
	m->sup.slots[0].ever_ready = true;
	assert_null(supervise_boot_failing(m, 3));
}

static void
test_healthy(void **state)
{
	struct master *m = *state;
	struct proc *p;
	char why[160];

	for (unsigned i = 0; i < 2; i++)
		m->sup.slots[i].down_since = 0;
	p = fake(m, 0, 1, false, true, NOPID);
	assert_true(supervise_healthy(m, 2, why, sizeof(why)));
	STATS_SET(m->stats->procs[p->stats_idx].heartbeat_ms,
	    util_now_ms() - 5000);
	assert_false(supervise_healthy(m, 2, why, sizeof(why)));
	assert_non_null(strstr(why, "worker 0 (pid "));
	assert_non_null(strstr(why, ") silent for 5."));
	STATS_SET(m->stats->procs[p->stats_idx].heartbeat_ms, util_now_ms());
	m->sup.slots[1].down_since = util_now() - 10;
	assert_false(supervise_healthy(m, 2, why, sizeof(why)));
	assert_non_null(strstr(why, "slot 1 without a ready worker for 10."));
	m->sup.slots[1].down_since = util_now() - 1;
	assert_true(supervise_healthy(m, 2, why, sizeof(why)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promote_drains_the_replaced,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_next_kills_them, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retire_resize_trim, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oldest_generation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reap_reports_through_hooks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_worker_leaves_steering,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stopped_worker_is_continued_not_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_worker_is_aborted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_successor_takes_over_once_ready,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_successor_leaves_the_old_serving, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_old_dies_while_its_successor_boots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_failing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_healthy, setup, teardown),
	};

	return cmocka_run_group_tests_name("supervise", tests, NULL, NULL);
}
