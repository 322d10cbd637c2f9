/*
 * supervise — the master's table of worker processes: spawn into a slot,
 * reap and say why a worker ended, respawn with backoff, detect hung
 * workers from their heartbeat, move slots between generations, and stop
 * them all. See supervise.h; it reports through m->sup.hooks only.
 */
#include "master/supervise.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/relay.h"
#include "common/util.h"
#include "master/hang.h"
#include "master/proctitle.h"
#include "master/relay.h"
#include "master/steer.h"
#include "master/wstatus.h"
#include "worker/worker.h"

/* While a slot waits out a backoff: how often to look at its queue. */
#define WATCH_PERIOD 0.02

/* The stats region counts restarts per slot. */
_Static_assert(STATS_MAX_SLOTS >= CONFIG_MAX_WORKERS,
    "STATS_MAX_SLOTS below CONFIG_MAX_WORKERS");

static void on_respawn(evutil_socket_t fd, short what, void *arg);
static void on_watch(evutil_socket_t fd, short what, void *arg);

static struct proc *
proc_find(struct master *m, pid_t pid)
{
	struct proc *p;

	TAILQ_FOREACH(p, &m->sup.procs, entry)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void
proc_free(struct master *m, struct proc *p)
{
	TAILQ_REMOVE(&m->sup.procs, p, entry);
	if (p->ipc_ev != NULL)
		event_free(p->ipc_ev);
	if (p->ipc_fd != -1)
		close(p->ipc_fd);
	relay_detach(m, p);
	stats_release(m->stats, p->stats_idx);
	free(p);
}

static void drain(struct master *m, struct proc *p, bool fast);

static void
on_ready(struct master *m, struct proc *p)
{
	struct slot *s = &m->sup.slots[p->slot];
	struct proc *old;

	p->ready = true;
	STATS_SET(m->stats->procs[p->stats_idx].state, STATS_READY);
	log_notice("worker %u (pid %d) ready%s", p->slot, (int)p->pid,
	    p->next ? " (new generation)" : p->successor ? " (replacement)" : "");
	if (!p->next) {
		s->ever_ready = true;
		s->boot_failures = 0;
		s->down_since = 0;
	}
	if (p->successor && s->successor == p) {
		/* It accepts on the slot's sockets already: only now does the
		 * worker it replaces stop accepting and drain. */
		old = s->proc;
		s->proc = p;
		s->successor = NULL;
		p->successor = false;
		if (old != NULL) {
			log_notice("worker %u (pid %d) took over from pid %d, which "
			    "drains", p->slot, (int)p->pid, (int)old->pid);
			drain(m, old, false);
		}
	}
	steer_update(m, false);
	m->sup.hooks.worker_ready(m, p);
}

static void
on_ipc(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	struct ipc_msg msg;
	int r;

	(void)fd;
	(void)what;
	for (;;) {
		r = ipc_recv(p->ipc_fd, &msg);
		if (r == 0 || (r == -1 && errno == ECONNRESET)) {
			/* The worker closed its end (with a message of ours still
			 * unread: a reset): it is exiting; SIGCHLD follows. */
			event_del(p->ipc_ev);
			return;
		}
		if (r == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EBADMSG) {
				log_warn("worker %u (pid %d) sent an undecodable message",
				    p->slot, (int)p->pid);
				continue;
			}
			log_error("recv(worker %u ipc): %s", p->slot, strerror(errno));
			event_del(p->ipc_ev);
			return;
		}
		if (msg.type == IPC_MSG_READY && !p->ready)
			on_ready(p->m, p);
		else
			log_debug("worker %u (pid %d) sent \"%s\"", p->slot,
			    (int)p->pid, ipc_type_name(msg.type));
		ipc_msg_free(&msg);
	}
}

/*
 * In the child: give up everything of the master's that the worker must
 * not hold, then become the worker. Never returns.
 */
static void __attribute__((noreturn))
become_worker(struct master *m, struct proc *self, const struct config *cfg,
    int ipc_fd, int relay_fd, pid_t master_pid)
{
	struct worker_boot boot;
	const struct listen_addr **addrs;
	struct proc *p;
	char err[512];
	size_t nfds;
	int *fds, rc;

	proctitle_set("shoal: worker %u (generation %u)", self->slot,
	    self->generation);
	/* The first error from here on is why this worker could not start. */
	log_error_mark();

	/*
	 * The epoll instance is shared with the master across fork: freeing the
	 * base as it is would delete the master's events from it. event_reinit
	 * gives this process its own, which the free then closes.
	 */
	event_reinit(m->base);
	event_base_free(m->base);
	m->base = NULL;

	/* Other workers' IPC ends; the other modules' fds (control socket
	 * and connections, an upgrade's pipes) through the hook. */
	TAILQ_FOREACH(p, &m->sup.procs, entry)
		if (p->ipc_fd != -1)
			close(p->ipc_fd);
	relay_forget(m);
	m->sup.hooks.in_worker(m);
	/*
	 * Our user, CPUs and limits, before anything of the application runs
	 * or a connection is accepted. Changing the user clears the
	 * parent-death signal, so that is set after it.
	 */
	if (m->sup.hooks.become(cfg, self->slot, err, sizeof(err)) == -1) {
		log_error("%s", err);
		stats_set_boot_error(m->stats, self->stats_idx, err);
		_exit(1);
	}
	/* If the master dies, so do we (the IPC hang-up is the other signal). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master_pid)
		_exit(1);

	fds = calloc(m->listeners.n ? m->listeners.n : 1, sizeof(*fds));
	addrs = calloc(m->listeners.n ? m->listeners.n : 1, sizeof(*addrs));
	if (fds == NULL || addrs == NULL)
		_exit(1);
	/*
	 * Keep our slot's socket of each address we serve; close every other
	 * (other slots', and addresses a reload removed for our generation):
	 * a worker holding them would keep them alive.
	 */
	nfds = ltable_for_worker(&m->listeners, self->slot, self->generation,
	    fds, addrs);

	memset(&boot, 0, sizeof(boot));
	boot.cfg = cfg;
	boot.slot = self->slot;
	boot.generation = self->generation;
	boot.stats = m->stats;
	boot.stats_idx = self->stats_idx;
	boot.ipc_fd = ipc_fd;
	boot.relay_fd = relay_fd;
	boot.listen_fds = fds;
	boot.listen_addrs = addrs;
	boot.nlisten = nfds;
	rc = worker_run(&boot);
	if (rc != 0 && STATS_GET(m->stats->procs[self->stats_idx].state) ==
	    STATS_SPAWNING)
		stats_set_boot_error(m->stats, self->stats_idx, log_first_error());
	/* _exit: atexit handlers and stdio buffers belong to the master. */
	_exit(rc);
}

/* What a new worker is to its slot. */
enum role {
	ROLE_CURRENT,                /* the slot's worker */
	ROLE_NEXT,                   /* of a generation not yet committed */
	ROLE_SUCCESSOR,              /* the slot's worker, once it is ready */
};

static int spawn(struct master *m, unsigned slot, const struct config *cfg,
    unsigned gen, enum role role);

int
supervise_spawn(struct master *m, unsigned slot, const struct config *cfg,
    unsigned gen, bool next)
{
	return spawn(m, slot, cfg, gen, next ? ROLE_NEXT : ROLE_CURRENT);
}

static int
spawn(struct master *m, unsigned slot, const struct config *cfg,
    unsigned gen, enum role role)
{
	bool next = role == ROLE_NEXT;
	struct slot *s = &m->sup.slots[slot];
	struct proc *p = NULL;
	int fds[2] = { -1, -1 }, rfds[2] = { -1, -1 };
	sigset_t all, old;
	pid_t master_pid = getpid();

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_error("spawn worker %u: out of memory", s->index);
		return -1;
	}
	p->m = m;
	p->slot = s->index;
	p->generation = gen;
	p->next = next;
	p->successor = role == ROLE_SUCCESSOR;
	p->ipc_fd = -1;
	/* Each worker its own limit, so that workers started together are
	 * not all replaced together (Gunicorn's max_requests_jitter). */
	if (cfg->max_requests > 0)
		p->max_requests = cfg->max_requests + (cfg->max_requests_jitter ?
		    (uint64_t)(drand48() * (double)(cfg->max_requests_jitter + 1)) :
		    0);
	p->stats_idx = stats_alloc(m->stats, s->index, gen);
	if (p->stats_idx == -1) {
		log_error("spawn worker %u: no free stats slot", s->index);
		goto err;
	}
	if (ipc_pair(fds) == -1) {
		log_error("socketpair(worker %u ipc): %s", s->index, strerror(errno));
		goto err;
	}
	/* Without it the worker's channel messages stay on it (said once). */
	if (relay_pair(rfds) == -1)
		log_error("socketpair(worker %u relay): %s", s->index,
		    strerror(errno));
	/*
	 * Block signals across fork so the child cannot run the master's
	 * handlers before it has its own; the worker unblocks them.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	p->pid = fork();
	if (p->pid == 0) {
		close(fds[0]);
		if (rfds[0] != -1)
			close(rfds[0]);
		become_worker(m, p, cfg, fds[1], rfds[1], master_pid);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (p->pid == -1) {
		log_error("fork(worker %u): %s", s->index, strerror(errno));
		goto err;
	}
	close(fds[1]);
	if (rfds[1] != -1)
		close(rfds[1]);
	/* Before its "ready": a new generation receives from the start. */
	if (rfds[0] != -1 && relay_attach(m, p, rfds[0]) == -1)
		log_error("worker %u: cannot relay its channel messages",
		    s->index);
	rfds[0] = -1;
	p->ipc_fd = fds[0];
	p->spawned_at = util_now();
	STATS_SET(m->stats->procs[p->stats_idx].pid, p->pid);
	p->ipc_ev = event_new(m->base, p->ipc_fd, EV_READ | EV_PERSIST, on_ipc, p);
	if (p->ipc_ev == NULL || event_add(p->ipc_ev, NULL) == -1)
		log_error("worker %u: cannot watch its IPC socket", s->index);
	TAILQ_INSERT_TAIL(&m->sup.procs, p, entry);
	if (role == ROLE_NEXT) {
		s->next = p;
	} else if (role == ROLE_SUCCESSOR) {
		s->successor = p;
	} else {
		s->proc = p;
		s->generation = gen;
	}
	log_info("spawned worker %u (pid %d, generation %u)", s->index,
	    (int)p->pid, gen);
	return 0;
err:
	if (fds[0] != -1) {
		close(fds[0]);
		close(fds[1]);
	}
	if (rfds[0] != -1) {
		close(rfds[0]);
		close(rfds[1]);
	}
	if (p->stats_idx != -1)
		stats_release(m->stats, p->stats_idx);
	free(p);
	return -1;
}

static void
tv_from(struct timeval *tv, double seconds)
{
	tv->tv_sec = (time_t)seconds;
	tv->tv_usec = (suseconds_t)((seconds - (double)tv->tv_sec) * 1e6);
}

static void
watch_stop(struct slot *s)
{
	if (s->watch_ev != NULL)
		event_del(s->watch_ev);
}

/* Look at s's queue every WATCH_PERIOD (on_watch). */
static void
watch_start(struct master *m, struct slot *s)
{
	struct timeval tv;

	if (s->watch_ev == NULL &&
	    (s->watch_ev = event_new(m->base, -1, EV_PERSIST, on_watch, s)) == NULL)
		return;
	tv_from(&tv, WATCH_PERIOD);
	event_add(s->watch_ev, &tv);
}

/* Start s's worker after delay seconds (now if 0). */
static void
respawn_after(struct master *m, struct slot *s, double delay)
{
	struct timeval tv;

	evtimer_del(s->respawn_ev);
	s->respawn_at = 0;
	watch_stop(s);
	if (delay <= 0) {
		if (supervise_spawn(m, s->index, &m->cfg, s->generation,
		    false) == 0)
			return;
		delay = m->sup.backoff.max;  /* fork failed: do not spin */
	}
	log_notice("respawning worker %u in %.2fs", s->index, delay);
	tv_from(&tv, delay);
	if (evtimer_add(s->respawn_ev, &tv) == -1) {
		log_error("slot %u: cannot arm a respawn timer", s->index);
		return;
	}
	s->respawn_at = util_now() + delay;
	/*
	 * Connections can still reach the queue after the steering moved (a
	 * handshake begun before completes after): look at it every
	 * WATCH_PERIOD, and cut the wait short when someone is in it.
	 */
	if (backoff_waited_for(&s->backoff, &m->sup.backoff, delay, true) <
	    delay)
		watch_start(m, s);
}

/* Clients wait for s (queued: in its queue; else: no slot serves). */
static void
hurry(struct master *m, struct slot *s, bool queued)
{
	double left = s->respawn_at - util_now(), delay;

	if (left < 0)
		left = 0;
	delay = backoff_waited_for(&s->backoff, &m->sup.backoff, left, queued);
	if (delay >= left)
		return;
	log_notice("slot %u: %s; respawning in %.2fs, not %.2fs", s->index,
	    queued ? "connections wait in its queue" : "no slot serves", delay,
	    left);
	respawn_after(m, s, delay);
}

/* With no live slot, every slot waiting out a backoff is waited for. */
static void
hurry_if_none_live(struct master *m)
{
	if (m->sup.stopping || steer_live_count(m) > 0)
		return;
	for (unsigned i = 0; i < m->sup.nslots; i++) {
		struct slot *s = &m->sup.slots[i];

		if (s->proc == NULL && s->respawn_at > 0 && !s->retiring)
			hurry(m, s, false);
	}
}

/* Drain one worker: graceful (finish, then exit) or fast (go now). */
/* s's worker is stopped or hung, and no successor is on its way. */
static bool
stuck(const struct slot *s)
{
	const struct proc *p = s->proc;

	/* A reload's next worker serving the slot is as good as a stand-in. */
	return p != NULL && p->ready && !p->draining && !p->next &&
	    !p->replaced && s->successor == NULL &&
	    (p->stopped || p->hang_stage != HANG_NONE) &&
	    !steer_proc_live(s->next);
}

/*
 * Connections wait on the queue of s, whose worker is stopped or hung:
 * they would wait until it runs again (worker_timeout) or is killed. A
 * stand-in starts on the slot's sockets now (a successor, as recycling
 * starts one) and serves them; the stuck worker is then told to drain,
 * which it does once it runs again (or it is killed as hung).
 */
static void
stand_in(struct master *m, struct slot *s)
{
	watch_stop(s);
	supervise_replace(m, s->index, STATS_RESTART_HANG, s->proc->stopped ?
	    "stopped by a signal while connections wait in its queue" :
	    "silent while connections wait in its queue");
}

/*
 * Every WATCH_PERIOD while s has no live worker: connections in its queue
 * cut a backoff short, or get a stand-in for a stopped or hung worker.
 */
static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct master *m = s->m;
	bool waiting = s->proc == NULL && s->respawn_at > 0;

	(void)fd;
	(void)what;
	if (m->sup.stopping || s->retiring || (!waiting && !stuck(s))) {
		watch_stop(s);
		return;
	}
	if (!ltable_queued(&m->listeners, s->index, s->generation))
		return;
	if (waiting)
		hurry(m, s, true);
	else
		stand_in(m, s);
}

/*
 * s lost its worker, which ran for uptime seconds and achieved life:
 * respawn now or after the backoff. Called once the steering has
 * left the slot, so whatever its queue holds now stays there.
 */
static void
schedule_respawn(struct master *m, struct slot *s, double uptime,
    enum backoff_life life)
{
	const struct backoff_policy *policy = &m->sup.backoff;
	double delay;

	delay = backoff_next(&s->backoff, policy, uptime, life, drand48());
	if (!s->crash_looping && backoff_crash_looping(&s->backoff, policy)) {
		s->crash_looping = true;
		log_error("slot %u is crash-looping (%u quick deaths in a row); "
		    "still respawned: at once after a worker that answered "
		    "requests, else after delays growing up to %.1fs while other "
		    "slots serve", s->index, s->backoff.quick_deaths, policy->max);
	}
	if (life == BACKOFF_BOOT_FAILED &&
	    s->backoff.boot_failures == policy->loop_after)
		log_error("slot %u: %u workers in a row failed before ready; its "
		    "delay grows even when no slot serves", s->index,
		    s->backoff.boot_failures);
	if (s->respawn_ev == NULL &&
	    (s->respawn_ev = evtimer_new(m->base, on_respawn, s)) == NULL) {
		log_error("slot %u: cannot arm a respawn timer", s->index);
		return;
	}
	if (delay > 0) {
		bool queued = ltable_queued(&m->listeners, s->index,
		    s->generation);
		double waited = backoff_waited_for(&s->backoff, policy, delay,
		    queued);

		if (waited < delay && (queued || steer_live_count(m) == 0)) {
			log_notice("slot %u: %s; respawning in %.2fs, not %.2fs",
			    s->index, queued ? "connections wait in its queue" :
			    "no slot serves", waited, delay);
			delay = waited;
		}
	}
	respawn_after(m, s, delay);
}

static void
on_respawn(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct master *m;

	(void)fd;
	(void)what;
	m = s->m;
	s->respawn_at = 0;
	watch_stop(s);
	if (m->sup.stopping || s->proc != NULL || s->retiring)
		return;
	if (supervise_spawn(m, s->index, &m->cfg, s->generation, false) == -1)
		schedule_respawn(m, s, 0, BACKOFF_BOOT_FAILED);
}

void
supervise_init(struct master *m, unsigned nslots,
    const struct supervise_hooks *hooks)
{
	struct supervise *sup = &m->sup;

	TAILQ_INIT(&sup->procs);
	srand48((long)getpid() ^ (long)util_now_ms());
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		sup->slots[i].m = m;
		sup->slots[i].index = i;
	}
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		sup->slots[i].down_since = util_now();
	sup->nslots = nslots;
	sup->nslots_total = nslots;
	sup->backoff.min = m->cfg.respawn_delay_min;
	sup->backoff.max = m->cfg.respawn_delay_max;
	sup->backoff.stable_after = 10;
	sup->backoff.loop_after = 5;
	sup->hooks = *hooks;
}

/* Watch s's queue from now on, and look at it at once. */
static void
watch_then_now(struct master *m, struct slot *s)
{
	watch_start(m, s);
	on_watch(-1, 0, s);
}

/*
 * A worker was stopped or continued by a signal (waitpid WUNTRACED,
 * WCONTINUED): a stopped one serves nobody, so it leaves the steering at
 * once; supervise_tick continues it if it stays silent for worker_timeout.
 */
static void
on_stop_or_continue(struct master *m, struct proc *p, int status)
{
	bool stopped = WIFSTOPPED(status);
	char name[32];

	if (p->stopped == stopped)
		return;
	p->stopped = stopped;
	if (stopped)
		log_warn("worker %u (pid %d) stopped by %s; no new connections "
		    "for it", p->slot, (int)p->pid, wstatus_signame(WSTOPSIG(status),
		    name, sizeof(name)));
	else
		log_notice("worker %u (pid %d) continued", p->slot, (int)p->pid);
	steer_update(m, false);
	hurry_if_none_live(m);
	if (stopped && stuck(&m->sup.slots[p->slot]))
		watch_then_now(m, &m->sup.slots[p->slot]);
}

void
supervise_reap(struct master *m)
{
	struct wstatus_exit e;
	enum wstatus_kind kind;
	enum stats_restart why;
	enum backoff_life life;
	const char *boot_error;
	struct proc *p;
	struct slot *s;
	char line[192];
	pid_t pid;
	int status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		p = proc_find(m, pid);
		if (WIFSTOPPED(status) || WIFCONTINUED(status)) {
			if (p != NULL)
				on_stop_or_continue(m, p, status);
			continue;
		}
		if (p == NULL) {
			m->sup.hooks.child_reaped(m, pid, status);
			continue;
		}
		e = (struct wstatus_exit){
			.slot = p->slot, .pid = pid, .status = status,
			.uptime = util_now() - p->spawned_at, .ready = p->ready,
			.draining = p->draining, .stopping = m->sup.stopping,
		};
		kind = wstatus_classify(&e);
		wstatus_line(&e, kind == WSTATUS_BOOT_FAILURE, line, sizeof(line));
		s = &m->sup.slots[p->slot];
		boot_error = m->stats->procs[p->stats_idx].boot_error;
		if (kind == WSTATUS_BOOT_FAILURE && boot_error[0] != '\0')
			log_error("%s: %.*s", line, STATS_REASON_MAX, boot_error);
		else
			log_msg(kind == WSTATUS_CLEAN ? LOGL_INFO : LOGL_ERROR, "%s",
			    line);
		if (!p->draining)
			snprintf(s->last_exit, sizeof(s->last_exit), "%s%s%.*s", line,
			    boot_error[0] != '\0' ? ": " : "", STATS_REASON_MAX,
			    boot_error);
		if (p->successor) {
			/* A replacement that never took over: the worker it was to
			 * replace goes on; try again later. */
			if (s->successor == p)
				s->successor = NULL;
			if (s->proc != NULL)
				s->proc->replaced = false;
			s->replace_after = util_now() + m->sup.backoff.max;
			log_error("slot %u: the replacement failed; worker %u (pid "
			    "%d) goes on serving", s->index, s->index,
			    s->proc ? (int)s->proc->pid : 0);
			proc_free(m, p);
			continue;
		}
		if (p->next) {
			/* A new generation's worker: the operation fails. */
			wstatus_line(&e, false, line, sizeof(line));
			if (s->next == p)
				s->next = NULL;
			proc_free(m, p);
			steer_update(m, false);
			m->sup.hooks.next_failed(m, line);
			continue;
		}
		if (s->proc == p) {
			s->proc = NULL;
			if (s->down_since == 0)
				s->down_since = util_now();
			if (!p->ready && !p->draining)
				s->boot_failures++;
			/* Its replacement, still booting, takes the slot now. */
			if (s->successor != NULL) {
				s->proc = s->successor;
				s->successor = NULL;
				s->proc->successor = false;
			}
		}
		why = kind == WSTATUS_BOOT_FAILURE ? STATS_RESTART_BOOT :
		    p->hang_stage >= HANG_ABORTED ? STATS_RESTART_HANG :
		    STATS_RESTART_CRASH;
		life = !p->ready ? BACKOFF_BOOT_FAILED :
		    STATS_GET(m->stats->procs[p->stats_idx].requests) > 0 ?
		    BACKOFF_SERVED : BACKOFF_IDLE;
		proc_free(m, p);
		/* First away from the slot, then look at what its queue holds. */
		steer_update(m, false);
		if (s->proc == NULL && !m->sup.stopping && !s->retiring &&
		    s->index < m->sup.nslots) {
			/* For status and the metrics (shoal_worker_restarts_total). */
			stats_count_restart(m->stats, s->index, why);
			schedule_respawn(m, s, e.uptime, life);
		}
	}
	hurry_if_none_live(m);
	m->sup.hooks.reaped(m);
}

void
supervise_tick(struct master *m)
{
	uint64_t now_ms = util_now_ms();
	double now = util_now();
	bool changed = false;
	struct proc *p;

	TAILQ_FOREACH(p, &m->sup.procs, entry) {
		struct slot *s = &m->sup.slots[p->slot];

		changed |= hang_check(m, p, now_ms, now);
		if (s->proc == p && s->crash_looping && p->ready &&
		    now - p->spawned_at >= m->sup.backoff.stable_after) {
			s->crash_looping = false;
			log_notice("slot %u recovered: worker %u (pid %d) up for %.0fs",
			    s->index, s->index, (int)p->pid, now - p->spawned_at);
		}
	}
	if (!changed)
		return;
	steer_update(m, false);
	hurry_if_none_live(m);
	for (unsigned i = 0; i < m->sup.nslots; i++)
		if (stuck(&m->sup.slots[i]))
			watch_then_now(m, &m->sup.slots[i]);
}

/* Tell one worker to drain (graceful) or to go now (fast). */
static void
drain(struct master *m, struct proc *p, bool fast)
{
	p->draining = true;
	STATS_SET(m->stats->procs[p->stats_idx].state, STATS_DRAINING);
	if (ipc_send(p->ipc_fd, fast ? IPC_MSG_STOP : IPC_MSG_DRAIN,
	    NULL) == -1 && errno != EPIPE) {
		/* EPIPE: the worker is already exiting (a terminal's Ctrl-C
		 * reaches the whole process group). */
		log_warn("worker %u (pid %d): cannot send %s (%s); using %s",
		    p->slot, (int)p->pid, fast ? "stop" : "drain",
		    strerror(errno), fast ? "SIGKILL" : "SIGTERM");
		kill(p->pid, fast ? SIGKILL : SIGTERM);
	}
}

bool
supervise_next_ready(const struct master *m, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		const struct slot *s = &m->sup.slots[i];

		if (s->next == NULL || !s->next->ready)
			return false;
	}
	return true;
}

bool
supervise_all_ready(const struct master *m)
{
	for (unsigned i = 0; i < m->sup.nslots; i++)
		if (m->sup.slots[i].proc == NULL || !m->sup.slots[i].proc->ready)
			return false;
	return true;
}

void
supervise_promote(struct master *m, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		struct slot *s = &m->sup.slots[i];
		struct proc *old = s->proc;

		if (s->next == NULL)     /* scale-up: the slots that stay */
			continue;
		s->proc = s->next;
		s->next = NULL;
		s->proc->next = false;
		s->generation = s->proc->generation;
		memset(&s->backoff, 0, sizeof(s->backoff));
		s->crash_looping = false;
		s->retiring = false;
		s->ever_ready = true;    /* the promoted worker is ready */
		s->boot_failures = 0;
		s->down_since = 0;
		if (s->respawn_ev != NULL)
			evtimer_del(s->respawn_ev);
		s->respawn_at = 0;
		watch_stop(s);
		if (old != NULL)
			drain(m, old, false);
	}
	steer_update(m, false);
}

void
supervise_discard_next(struct master *m)
{
	for (unsigned i = 0; i < m->sup.nslots_total; i++) {
		struct slot *s = &m->sup.slots[i];

		if (s->next != NULL) {
			/* Reaped later as an ordinary draining worker: it must
			 * not fail the next operation, which waits for it. */
			s->next->next = false;
			s->next->draining = true;
			kill(s->next->pid, SIGKILL);
			s->next = NULL;
		}
	}
	steer_update(m, false);
}

void
supervise_retire(struct master *m, unsigned from, unsigned to)
{
	/* First steer new connections away, then let the queues empty. */
	for (unsigned i = from; i < to; i++)
		m->sup.slots[i].retiring = true;
	steer_update(m, false);
	for (unsigned i = from; i < to; i++) {
		struct slot *s = &m->sup.slots[i];

		if (s->respawn_ev != NULL)
			evtimer_del(s->respawn_ev);
		s->respawn_at = 0;
		watch_stop(s);
		if (s->proc == NULL)
			continue;
		s->proc->draining = true;
		STATS_SET(m->stats->procs[s->proc->stats_idx].state,
		    STATS_DRAINING);
		if (ipc_send(s->proc->ipc_fd, IPC_MSG_RETIRE, NULL) == -1)
			kill(s->proc->pid, SIGTERM);
	}
}

void
supervise_resize(struct master *m, unsigned n)
{
	m->sup.nslots = n;
	if (m->sup.nslots_total < n)
		m->sup.nslots_total = n;
	steer_update(m, false);
}

unsigned
supervise_trim(struct master *m)
{
	struct supervise *sup = &m->sup;
	unsigned top = sup->nslots_total;

	while (top > sup->nslots && sup->slots[top - 1].proc == NULL &&
	    sup->slots[top - 1].next == NULL)
		top--;
	for (unsigned i = top; i < sup->nslots_total; i++)
		sup->slots[i].retiring = false;
	sup->nslots_total = top;
	return top;
}

unsigned
supervise_oldest_generation(const struct master *m)
{
	const struct proc *p;
	unsigned oldest = UINT_MAX;

	TAILQ_FOREACH(p, &m->sup.procs, entry)
		if (p->generation < oldest)
			oldest = p->generation;
	return oldest;
}

bool
supervise_any_draining(const struct master *m)
{
	const struct proc *p;

	/* A worker replaced in its slot (recycling) is of the serving
	 * generation: it holds no operation back. */
	TAILQ_FOREACH(p, &m->sup.procs, entry)
		if (p->draining && !p->replaced)
			return true;
	return false;
}

bool
supervise_none_left(const struct master *m)
{
	return TAILQ_EMPTY(&m->sup.procs);
}

void
supervise_stop_all(struct master *m, bool fast)
{
	struct proc *p;

	m->sup.stopping = true;
	for (unsigned i = 0; i < m->sup.nslots_total; i++) {
		if (m->sup.slots[i].respawn_ev != NULL)
			evtimer_del(m->sup.slots[i].respawn_ev);
		m->sup.slots[i].respawn_at = 0;
		watch_stop(&m->sup.slots[i]);
	}
	TAILQ_FOREACH(p, &m->sup.procs, entry)
		if (fast || !p->draining)
			drain(m, p, fast);
}

void
supervise_signal_all(struct master *m, int sig)
{
	struct proc *p;

	TAILQ_FOREACH(p, &m->sup.procs, entry)
		kill(p->pid, sig);
}

void
supervise_kill_all(struct master *m, int sig)
{
	struct proc *p;
	char name[32];

	TAILQ_FOREACH(p, &m->sup.procs, entry) {
		log_warn("worker %u (pid %d) still running; sending %s", p->slot,
		    (int)p->pid, wstatus_signame(sig, name, sizeof(name)));
		kill(p->pid, sig);
	}
}

int
supervise_replace(struct master *m, unsigned slot, enum stats_restart why,
    const char *detail)
{
	struct slot *s = &m->sup.slots[slot];
	struct proc *old = s->proc;

	if (slot >= m->sup.nslots || old == NULL || !old->ready ||
	    old->draining || old->replaced || s->successor != NULL ||
	    s->next != NULL || s->retiring || m->sup.stopping ||
	    util_now() < s->replace_after)
		return -1;
	log_notice("worker %u (pid %d) is replaced (%s: %s); its successor "
	    "starts on the same sockets", slot, (int)old->pid,
	    stats_restart_name[why], detail);
	if (spawn(m, slot, &m->cfg, s->generation, ROLE_SUCCESSOR) == -1) {
		s->replace_after = util_now() + m->sup.backoff.max;
		return -1;
	}
	old->replaced = true;
	stats_count_restart(m->stats, slot, why);
	return 0;
}

bool
supervise_replacing(const struct master *m)
{
	for (unsigned i = 0; i < m->sup.nslots_total; i++)
		if (m->sup.slots[i].successor != NULL)
			return true;
	return false;
}

const char *
supervise_boot_failing(const struct master *m, unsigned tries)
{
	const char *why = NULL;

	for (unsigned i = 0; i < m->sup.nslots; i++) {
		const struct slot *s = &m->sup.slots[i];

		if (s->ever_ready || s->boot_failures < tries)
			return NULL;
		why = s->last_exit;
	}
	return why;
}

bool
supervise_healthy(const struct master *m, double limit, char *why,
    size_t whylen)
{
	uint64_t now_ms = util_now_ms(), hb;
	double now = util_now();
	const struct proc *p;

	TAILQ_FOREACH(p, &m->sup.procs, entry) {
		hb = STATS_GET(m->stats->procs[p->stats_idx].heartbeat_ms);
		if (now_ms > hb && (double)(now_ms - hb) / 1000.0 > limit) {
			snprintf(why, whylen, "worker %u (pid %d) silent for %.1fs",
			    p->slot, (int)p->pid, (double)(now_ms - hb) / 1000.0);
			return false;
		}
	}
	for (unsigned i = 0; i < m->sup.nslots; i++) {
		const struct slot *s = &m->sup.slots[i];

		if (s->down_since > 0 && now - s->down_since > limit) {
			snprintf(why, whylen, "slot %u without a ready worker for "
			    "%.1fs", i, now - s->down_since);
			return false;
		}
	}
	return true;
}

void
supervise_free(struct master *m)
{
	struct proc *p;

	while ((p = TAILQ_FIRST(&m->sup.procs)) != NULL)
		proc_free(m, p);
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		struct slot *s = &m->sup.slots[i];

		if (s->respawn_ev != NULL)
			event_free(s->respawn_ev);
		if (s->watch_ev != NULL)
			event_free(s->watch_ev);
		s->respawn_ev = s->watch_ev = NULL;
		s->respawn_at = 0;
	}
}
