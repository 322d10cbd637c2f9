/*
 * supervise — the master's table of worker processes: spawn into a slot,
 * reap and say why a worker ended, respawn with backoff, detect hung
 * workers from their heartbeat, and stop them all.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"
#include "master/wstatus.h"
#include "worker/worker.h"

/* Between SIGABRT and SIGKILL for a hung worker. */
#define HANG_KILL_GRACE 2.0

static void on_respawn(evutil_socket_t fd, short what, void *arg);


static struct proc *
proc_find(struct master *m, pid_t pid)
{
	struct proc *p;

	TAILQ_FOREACH(p, &m->procs, entry)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void
proc_free(struct master *m, struct proc *p)
{
	TAILQ_REMOVE(&m->procs, p, entry);
	if (p->ipc_ev != NULL)
		event_free(p->ipc_ev);
	if (p->ipc_fd != -1)
		close(p->ipc_fd);
	stats_release(m->stats, p->stats_idx);
	free(p);
}

static bool
all_ready(const struct master *m)
{
	if (m->op.kind != OP_NONE)
		return false;
	for (unsigned i = 0; i < m->nslots; i++)
		if (m->slots[i].proc == NULL || !m->slots[i].proc->ready)
			return false;
	return true;
}

static void
on_ready(struct master *m, struct proc *p)
{
	p->ready = true;
	STATS_SET(m->stats->procs[p->stats_idx].state, STATS_READY);
	log_notice("worker %u (pid %d) ready%s", p->slot, (int)p->pid,
	    p->next ? " (new generation)" : "");
	if (p->next) {
		ops_on_ready(m, p);
		return;
	}
	if (!m->all_ready_logged && all_ready(m)) {
		m->all_ready_logged = true;
		master_all_ready(m);
	}
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
    int ipc_fd, pid_t master_pid)
{
	struct worker_boot boot;
	const struct listen_addr **addrs;
	struct proc *p;
	size_t nfds = 0;
	int *fds;

	/* If the master dies, so do we (the IPC hang-up is the other signal). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master_pid)
		_exit(1);

	/*
	 * The epoll instance is shared with the master across fork: freeing the
	 * base as it is would delete the master's events from it. event_reinit
	 * gives this process its own, which the free then closes.
	 */
	event_reinit(m->base);
	event_base_free(m->base);
	m->base = NULL;

	/* Other workers' IPC ends, the control socket, an upgrade's pipe. */
	TAILQ_FOREACH(p, &m->procs, entry)
		if (p->ipc_fd != -1)
			close(p->ipc_fd);
	if (m->control_fd != -1)
		close(m->control_fd);
	control_close_in_child(m);
	if (m->op.pipe_fd != -1)
		close(m->op.pipe_fd);
	if (m->upgrade_pipe != -1)
		close(m->upgrade_pipe);

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
	boot.listen_fds = fds;
	boot.listen_addrs = addrs;
	boot.nlisten = nfds;
	/* _exit: atexit handlers and stdio buffers belong to the master. */
	_exit(worker_run(&boot));
}

int
supervise_spawn(struct master *m, struct slot *s, const struct config *cfg,
    unsigned gen, bool next)
{
	struct proc *p = NULL;
	int fds[2] = { -1, -1 };
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
	p->ipc_fd = -1;
	p->stats_idx = stats_alloc(m->stats, s->index, gen);
	if (p->stats_idx == -1) {
		log_error("spawn worker %u: no free stats slot", s->index);
		goto err;
	}
	if (ipc_pair(fds) == -1) {
		log_error("socketpair(worker %u ipc): %s", s->index, strerror(errno));
		goto err;
	}
	/*
	 * Block signals across fork so the child cannot run the master's
	 * handlers before it has its own; the worker unblocks them.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	p->pid = fork();
	if (p->pid == 0) {
		close(fds[0]);
		become_worker(m, p, cfg, fds[1], master_pid);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (p->pid == -1) {
		log_error("fork(worker %u): %s", s->index, strerror(errno));
		goto err;
	}
	close(fds[1]);
	p->ipc_fd = fds[0];
	p->spawned_at = util_now();
	STATS_SET(m->stats->procs[p->stats_idx].pid, p->pid);
	p->ipc_ev = event_new(m->base, p->ipc_fd, EV_READ | EV_PERSIST, on_ipc, p);
	if (p->ipc_ev == NULL || event_add(p->ipc_ev, NULL) == -1)
		log_error("worker %u: cannot watch its IPC socket", s->index);
	TAILQ_INSERT_TAIL(&m->procs, p, entry);
	if (next)
		s->next = p;
	else
		s->proc = p;
	log_info("spawned worker %u (pid %d, generation %u)", s->index,
	    (int)p->pid, gen);
	return 0;
err:
	if (fds[0] != -1) {
		close(fds[0]);
		close(fds[1]);
	}
	if (p->stats_idx != -1)
		stats_release(m->stats, p->stats_idx);
	free(p);
	return -1;
}

static void
schedule_respawn(struct master *m, struct slot *s, double uptime)
{
	double delay;
	struct timeval tv;

	delay = backoff_next(&s->backoff, &m->backoff, uptime, drand48());
	if (!s->crash_looping && backoff_crash_looping(&s->backoff, &m->backoff)) {
		s->crash_looping = true;
		log_error("slot %u is crash-looping (%u quick deaths in a row); "
		    "retrying with growing delays up to %.1fs", s->index,
		    s->backoff.quick_deaths, m->backoff.max);
	}
	s->restarts++;
	if (s->respawn_ev == NULL &&
	    (s->respawn_ev = evtimer_new(m->base, on_respawn, s)) == NULL) {
		log_error("slot %u: cannot arm a respawn timer", s->index);
		return;
	}
	if (delay <= 0 && supervise_spawn(m, s, &m->cfg, m->generation,
	    false) == 0)
		return;
	if (delay <= 0)
		delay = m->backoff.max;  /* fork failed: do not spin */
	log_notice("respawning worker %u in %.2fs", s->index, delay);
	tv.tv_sec = (time_t)delay;
	tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
	evtimer_add(s->respawn_ev, &tv);
}

static void
on_respawn(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct master *m;

	(void)fd;
	(void)what;
	m = s->m;
	if (m->state == MASTER_STOPPING || s->proc != NULL || s->retiring)
		return;
	if (supervise_spawn(m, s, &m->cfg, m->generation, false) == -1)
		schedule_respawn(m, s, 0);
}

int
supervise_init(struct master *m)
{
	TAILQ_INIT(&m->procs);
	srand48((long)getpid() ^ (long)util_now_ms());
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		m->slots[i].m = m;
		m->slots[i].index = i;
	}
	return 0;
}

void
supervise_reap(struct master *m)
{
	struct wstatus_exit e;
	enum wstatus_kind kind;
	struct proc *p;
	struct slot *s;
	char line[192];
	pid_t pid;
	int status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if ((p = proc_find(m, pid)) == NULL) {
			if (m->op.kind == OP_UPGRADE && pid == m->op.child) {
				char why[96], what[160];

				wstatus_describe(status, why, sizeof(why));
				snprintf(what, sizeof(what), "the new master %s before "
				    "it was ready", why);
				m->op.child = 0;
				upgrade_abort(m, what);
			} else {
				log_debug("reaped child %d", (int)pid);
			}
			continue;
		}
		e = (struct wstatus_exit){
			.slot = p->slot, .pid = pid, .status = status,
			.uptime = util_now() - p->spawned_at, .ready = p->ready,
			.draining = p->draining,
			.stopping = m->state == MASTER_STOPPING,
		};
		kind = wstatus_classify(&e);
		wstatus_line(&e, kind == WSTATUS_BOOT_FAILURE, line, sizeof(line));
		log_msg(kind == WSTATUS_CLEAN ? LOGL_INFO : LOGL_ERROR, "%s", line);
		s = &m->slots[p->slot];
		if (p->next) {
			/* A new generation's worker: the operation fails. */
			wstatus_line(&e, false, line, sizeof(line));
			if (s->next == p)
				s->next = NULL;
			proc_free(m, p);
			ops_on_boot_failure(m, line);
			continue;
		}
		if (s->proc == p)
			s->proc = NULL;
		proc_free(m, p);
		if (s->proc == NULL && m->state != MASTER_STOPPING && !s->retiring &&
		    s->index < m->nslots)
			schedule_respawn(m, s, e.uptime);
	}
	ops_on_exit(m);
	if (m->state == MASTER_STOPPING && TAILQ_EMPTY(&m->procs))
		event_base_loopbreak(m->base);
}

void
supervise_tick(struct master *m)
{
	uint64_t now_ms = util_now_ms(), hb;
	double now = util_now(), silent;
	struct proc *p;

	TAILQ_FOREACH(p, &m->procs, entry) {
		struct slot *s = &m->slots[p->slot];

		hb = STATS_GET(m->stats->procs[p->stats_idx].heartbeat_ms);
		silent = now_ms > hb ? (double)(now_ms - hb) / 1000.0 : 0;
		if (p->hang_stage == 0 && silent > m->cfg.worker_timeout) {
			log_error("worker %u (pid %d) hung: no heartbeat for %.1fs; "
			    "sending SIGABRT", p->slot, (int)p->pid, silent);
			kill(p->pid, SIGABRT);
			/* A stopped process takes SIGABRT only once continued. */
			kill(p->pid, SIGCONT);
			p->hang_stage = 1;
			p->hang_at = now;
		} else if (p->hang_stage == 1 && now - p->hang_at > HANG_KILL_GRACE) {
			log_error("worker %u (pid %d) still alive %.1fs after SIGABRT; "
			    "sending SIGKILL", p->slot, (int)p->pid, now - p->hang_at);
			kill(p->pid, SIGKILL);
			p->hang_stage = 2;
		}
		if (s->proc == p && s->crash_looping && p->ready &&
		    now - p->spawned_at >= m->backoff.stable_after) {
			s->crash_looping = false;
			log_notice("slot %u recovered: worker %u (pid %d) up for %.0fs",
			    s->index, s->index, (int)p->pid, now - p->spawned_at);
		}
	}
}

void
supervise_drain(struct master *m, struct proc *p, bool fast)
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

void
supervise_stop_all(struct master *m, bool fast)
{
	struct proc *p;

	for (unsigned i = 0; i < m->nslots_total; i++)
		if (m->slots[i].respawn_ev != NULL)
			evtimer_del(m->slots[i].respawn_ev);
	TAILQ_FOREACH(p, &m->procs, entry)
		if (fast || !p->draining)
			supervise_drain(m, p, fast);
}

bool
supervise_any_draining(const struct master *m)
{
	const struct proc *p;

	TAILQ_FOREACH(p, &m->procs, entry)
		if (p->draining)
			return true;
	return false;
}

void
supervise_signal_all(struct master *m, int sig)
{
	struct proc *p;

	TAILQ_FOREACH(p, &m->procs, entry)
		kill(p->pid, sig);
}

void
supervise_kill_all(struct master *m, int sig)
{
	struct proc *p;
	char name[32];

	TAILQ_FOREACH(p, &m->procs, entry) {
		log_warn("worker %u (pid %d) still running; sending %s", p->slot,
		    (int)p->pid, wstatus_signame(sig, name, sizeof(name)));
		kill(p->pid, sig);
	}
}

void
supervise_free(struct master *m)
{
	struct proc *p;

	while ((p = TAILQ_FIRST(&m->procs)) != NULL)
		proc_free(m, p);
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		if (m->slots[i].respawn_ev != NULL) {
			event_free(m->slots[i].respawn_ev);
			m->slots[i].respawn_ev = NULL;
		}
}
