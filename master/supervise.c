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
#include <systemd/sd-daemon.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"
#include "worker/worker.h"

/* Between SIGABRT and SIGKILL for a hung worker. */
#define HANG_KILL_GRACE 2.0

static int spawn(struct master *m, struct slot *s);

static const char *
signame(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL)
		snprintf(buf, sizeof(buf), "signal %d", sig);
	else
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return buf;
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s%s", signame(WTERMSIG(status)),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "ended with wait status 0x%x", status);
}

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
	log_notice("worker %u (pid %d) ready", p->slot, (int)p->pid);
	if (!m->all_ready_logged && all_ready(m)) {
		m->all_ready_logged = true;
		m->state = MASTER_RUNNING;
		log_notice("all %u workers ready", m->nslots);
		/* Under systemd (Type=notify): start-up is complete. */
		sd_notifyf(0, "READY=1\nMAINPID=%d\nSTATUS=%u workers serving",
		    (int)getpid(), m->nslots);
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
		if (r == 0) {
			/* The worker closed its end: it is exiting; SIGCHLD follows. */
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
become_worker(struct master *m, struct proc *self, int ipc_fd, pid_t master_pid)
{
	struct worker_boot boot;
	struct proc *p;
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

	/* Other workers' IPC ends and our own master end. */
	TAILQ_FOREACH(p, &m->procs, entry)
		if (p->ipc_fd != -1)
			close(p->ipc_fd);

	fds = calloc(m->nlisteners ? m->nlisteners : 1, sizeof(*fds));
	if (fds == NULL)
		_exit(1);
	/* Other slots' sockets: a worker holding them would keep them alive. */
	for (size_t i = 0; i < m->nlisteners; i++) {
		struct listener *l = &m->listeners[i];

		fds[i] = listener_fd(l, self->slot);
		for (unsigned k = 0; k < l->nfds; k++)
			if (l->fds[k] != fds[i])
				close(l->fds[k]);
	}

	memset(&boot, 0, sizeof(boot));
	boot.cfg = &m->cfg;
	boot.slot = self->slot;
	boot.generation = self->generation;
	boot.stats = m->stats;
	boot.stats_idx = self->stats_idx;
	boot.ipc_fd = ipc_fd;
	boot.listen_fds = fds;
	boot.nlisten = m->nlisteners;
	/* _exit: atexit handlers and stdio buffers belong to the master. */
	_exit(worker_run(&boot));
}

static int
spawn(struct master *m, struct slot *s)
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
	p->generation = m->generation;
	p->ipc_fd = -1;
	p->stats_idx = stats_alloc(m->stats, s->index, m->generation);
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
		become_worker(m, p, fds[1], master_pid);
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
	s->proc = p;
	log_info("spawned worker %u (pid %d)", s->index, (int)p->pid);
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
	if (delay <= 0 && spawn(m, s) == 0)
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
	if (m->state == MASTER_STOPPING || s->proc != NULL)
		return;
	if (spawn(m, s) == -1)
		schedule_respawn(m, s, 0);
}

int
supervise_start(struct master *m)
{
	TAILQ_INIT(&m->procs);
	m->slots = calloc(m->nslots, sizeof(*m->slots));
	if (m->slots == NULL)
		return -1;
	srand48((long)getpid() ^ (long)util_now_ms());
	for (unsigned i = 0; i < m->nslots; i++) {
		struct slot *s = &m->slots[i];

		s->m = m;
		s->index = i;
		s->respawn_ev = evtimer_new(m->base, on_respawn, s);
		if (s->respawn_ev == NULL)
			return -1;
	}
	for (unsigned i = 0; i < m->nslots; i++)
		if (spawn(m, &m->slots[i]) == -1)
			schedule_respawn(m, &m->slots[i], 0);
	return 0;
}

void
supervise_reap(struct master *m)
{
	struct proc *p;
	struct slot *s;
	char why[96], up[32];
	double uptime;
	pid_t pid;
	int status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if ((p = proc_find(m, pid)) == NULL) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		uptime = util_now() - p->spawned_at;
		describe_status(status, why, sizeof(why));
		util_fmt_duration(uptime, up, sizeof(up));
		if (!p->ready && m->state != MASTER_STOPPING)
			log_error("worker %u (pid %d) failed at boot: %s after %s",
			    p->slot, (int)pid, why, up);
		else if ((m->state == MASTER_STOPPING || p->draining) &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("worker %u (pid %d) %s after %s", p->slot,
			    (int)pid, why, up);
		else
			log_error("worker %u (pid %d) %s after %s", p->slot,
			    (int)pid, why, up);
		s = &m->slots[p->slot];
		if (s->proc == p)
			s->proc = NULL;
		proc_free(m, p);
		if (s->proc == NULL && m->state != MASTER_STOPPING)
			schedule_respawn(m, s, uptime);
	}
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
supervise_stop_all(struct master *m, bool fast)
{
	struct proc *p;

	for (unsigned i = 0; i < m->nslots; i++)
		evtimer_del(m->slots[i].respawn_ev);
	TAILQ_FOREACH(p, &m->procs, entry) {
		p->draining = true;
		STATS_SET(m->stats->procs[p->stats_idx].state, STATS_DRAINING);
		if (ipc_send(p->ipc_fd, fast ? IPC_MSG_STOP : IPC_MSG_DRAIN,
		    NULL) == -1 && errno != EPIPE) {
			/* EPIPE: the worker is already exiting (a terminal's
			 * Ctrl-C reaches the whole process group). */
			log_warn("worker %u (pid %d): cannot send %s (%s); using %s",
			    p->slot, (int)p->pid, fast ? "stop" : "drain",
			    strerror(errno), fast ? "SIGKILL" : "SIGTERM");
			kill(p->pid, fast ? SIGKILL : SIGTERM);
		}
	}
}

void
supervise_kill_all(struct master *m, int sig)
{
	struct proc *p;

	TAILQ_FOREACH(p, &m->procs, entry) {
		log_warn("worker %u (pid %d) still running; sending %s", p->slot,
		    (int)p->pid, signame(sig));
		kill(p->pid, sig);
	}
}

void
supervise_free(struct master *m)
{
	struct proc *p;

	while ((p = TAILQ_FIRST(&m->procs)) != NULL)
		proc_free(m, p);
	for (unsigned i = 0; m->slots != NULL && i < m->nslots; i++)
		if (m->slots[i].respawn_ev != NULL)
			event_free(m->slots[i].respawn_ev);
	free(m->slots);
	m->slots = NULL;
}
