/*
 * master — life cycle of the master process: start-up (logs, listeners, pid
 * file, stats), the event loop with its signal events, and the stop
 * sequence. It is the top of master/: it starts the other modules and
 * installs the hooks through which they report back (the "hook_" functions
 * below), so that each of them calls only downward.
 */
#include "master/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/util.h"
#include "master/activate.h"
#include "master/control.h"
#include "master/ops.h"
#include "master/preflight.h"
#include "master/privdrop.h"
#include "master/proctitle.h"
#include "master/recycle.h"
#include "master/relay.h"
#include "master/resources.h"
#include "master/steer.h"
#include "master/supervise.h"
#include "master/types.h"
#include "master/upgrade.h"
#include "master/watchdog.h"

static int pid_file_write(const char *path, pid_t takeover, char *err,
    size_t errlen);

/* After a fast stop, how long workers get before SIGKILL. */
#define FAST_STOP_GRACE 1.0
/* At start-up, boot failures in a row of every slot before the master
 * gives up (exit 1) instead of retrying for ever. */
#define START_TRIES 3

static void
tv_from(struct timeval *tv, double seconds)
{
	tv->tv_sec = (time_t)seconds;
	tv->tv_usec = (suseconds_t)((seconds - (double)tv->tv_sec) * 1e6);
}

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	supervise_kill_all(m, SIGKILL);
}

static void
master_stop(struct master *m, bool fast, const char *why)
{
	struct timeval tv;

	if (m->state == MASTER_STOPPING && !fast)
		return;
	log_notice("%s: stopping %s", why, fast ? "now" : "gracefully");
	if (!m->up.upgraded)
		sd_notify(0, "STOPPING=1");
	m->state = MASTER_STOPPING;
	ops_stop(m);
	supervise_stop_all(m, fast);
	tv_from(&tv, fast ? FAST_STOP_GRACE : m->cfg.graceful_timeout);
	evtimer_add(m->stop_ev, &tv);
	if (supervise_none_left(m))
		event_base_loopbreak(m->base);
}

/* Tell systemd and the log how many workers serve, once all are ready. */
static void
master_all_ready(struct master *m)
{
	char err[8192];

	/* A stop that came while workers were booting stands. */
	if (m->state != MASTER_STARTING)
		return;
	m->state = MASTER_RUNNING;
	log_notice("all %u workers ready", m->sup.nslots);
	if (m->up.parent_pipe != -1 && m->cfg.pid_file != NULL) {
		/* Take the pid file over from the old master: atomic rename. */
		if (pid_file_write(m->cfg.pid_file, m->up.parent, err,
		    sizeof(err)) == -1)
			log_error("%s", err);
		else
			m->pid_file_written = true;
	}
	upgrade_announce_ready(m);
	/* Under systemd (Type=notify): start-up is complete. */
	sd_notifyf(0, "READY=1\nMAINPID=%d\nSTATUS=%u workers serving",
	    (int)getpid(), m->sup.nslots);
	/* Operations asked for during start-up wait until now. */
	ops_open(m);
}

/*
 * Reopen the log files (after rotation): ours, then tell the workers,
 * which reopen theirs and the access log by path. 0, or -1 with why.
 */
static int
master_reopen(struct master *m, const char *why, char *err, size_t errlen)
{
	int rc = 0;

	/* A rotation leaves new files owned by root: make them the workers'
	 * before they reopen them by name. */
	if (preflight_logs(&m->cfg, err, errlen) == -1) {
		log_error("%s: %s", why, err);
		rc = -1;
	}
	if (log_reopen() == -1) {
		snprintf(err, errlen, "reopen(%s): %s", m->cfg.log_file,
		    strerror(errno));
		log_error("%s: %s", why, err);
		rc = -1;
	} else {
		log_notice("%s: log files reopened", why);
	}
	/* The workers write their own logs (and the access log). */
	supervise_signal_all(m, SIGUSR1);
	return rc;
}

/* ---- hooks: how the modules below report back ------------------------- */

static void
hook_worker_ready(struct master *m, struct proc *p)
{
	if (p->next) {
		ops_on_ready(m, p);
		return;
	}
	if (!m->all_ready_logged && !ops_busy(m) && supervise_all_ready(m)) {
		m->all_ready_logged = true;
		master_all_ready(m);
	}
	/* A replacement took over: an operation may wait for that. */
	ops_on_exit(m);
}

static void
hook_next_failed(struct master *m, const char *what)
{
	ops_on_next_failed(m, what);
}

static void
hook_reaped(struct master *m)
{
	const char *why;

	/* Workers that cannot boot at all: say why and exit non-zero (systemd
	 * restarts or reports it), rather than retry for ever. */
	if (m->state == MASTER_STARTING &&
	    (why = supervise_boot_failing(m, START_TRIES)) != NULL) {
		log_error("cannot start: every worker failed at boot %d times in a "
		    "row; the last: %s", START_TRIES, why);
		sd_notifyf(0, "STATUS=workers cannot start: %s", why);
		m->exit_code = 1;
		master_stop(m, true, "start-up failed");
	}
	ops_on_exit(m);
	if (m->state == MASTER_STOPPING && supervise_none_left(m))
		event_base_loopbreak(m->base);
}

static void
hook_child_reaped(struct master *m, pid_t pid, int status)
{
	if (!upgrade_child_exited(m, pid, status))
		log_debug("reaped child %d", (int)pid);
}

static void
hook_in_worker(struct master *m)
{
	control_close_in_worker(m);
	upgrade_close_in_worker(m);
	/* The mapping stays; the memfd is only for an upgrade to pass. */
	if (m->stats_fd != -1)
		close(m->stats_fd);
}

static int
hook_become(const struct config *cfg, unsigned slot, char *err,
    size_t errlen)
{
	if (resources_pin(cfg, slot, err, errlen) == -1)
		return -1;
	return privdrop_switch(cfg, err, errlen);
}

static void
hook_upgraded(struct master *m)
{
	/* The new master answers on the control socket from now on. */
	control_close(m, false);
	master_stop(m, false, "upgrade");
}

static void
hook_stop(struct master *m, bool fast, const char *why)
{
	master_stop(m, fast, why);
}

static int
hook_reopen(struct master *m, char *err, size_t errlen)
{
	return master_reopen(m, "reopen (control socket)", err, errlen);
}

static const struct supervise_hooks supervise_hooks = {
	.worker_ready = hook_worker_ready,
	.next_failed = hook_next_failed,
	.reaped = hook_reaped,
	.child_reaped = hook_child_reaped,
	.in_worker = hook_in_worker,
	.become = hook_become,
};
static const struct ops_hooks ops_hooks = { .upgraded = hook_upgraded };
static const struct control_hooks control_hooks = {
	.stop = hook_stop,
	.reopen = hook_reopen,
};

/* ---- signals ------------------------------------------------------------ */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;
	char err[512];

	(void)what;
	switch (sig) {
	case SIGCHLD:
		supervise_reap(m);
		break;
	case SIGTERM:
		master_stop(m, false, "SIGTERM");
		break;
	case SIGQUIT:
		master_stop(m, false, "SIGQUIT");
		break;
	case SIGINT:
		master_stop(m, true, "SIGINT");
		break;
	case SIGUSR1:
		master_reopen(m, "SIGUSR1", err, sizeof(err));
		break;
	case SIGHUP:
		ops_request(m, OP_RELOAD, 0, 0, NULL, NULL, NULL);
		break;
	case SIGUSR2:
		ops_request(m, OP_UPGRADE, 0, 0, NULL, NULL, NULL);
		break;
	case SIGTTIN:
		ops_request(m, OP_SCALE_UP, 0, +1, NULL, NULL, NULL);
		break;
	case SIGTTOU:
		ops_request(m, OP_SCALE_UP, 0, -1, NULL, NULL, NULL);
		break;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	supervise_tick(m);
	upgrade_tick(m);
	/* Recycling waits for operations: a slot in a reload is theirs. */
	if (m->state == MASTER_RUNNING && !ops_busy(m))
		recycle_tick(m);
}

/*
 * Write the pid file atomically (temp file + rename), refusing to take over
 * one that names a live process.
 */
static int
pid_file_write(const char *path, pid_t takeover, char *err, size_t errlen)
{
	char tmp[4096], buf[32];
	FILE *f;
	long old;
	int fd, n;

	if ((f = fopen(path, "r")) != NULL) {
		n = fscanf(f, "%ld", &old);
		fclose(f);
		if (n == 1 && old > 0 && old != getpid() && old != takeover &&
		    (kill((pid_t)old, 0) == 0 || errno == EPERM)) {
			snprintf(err, errlen, "pid file %s names a running process "
			    "(%ld): is shoal already running?", path, old);
			return -1;
		}
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "pid file %s: name too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "open(%s): %s", tmp, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) == -1) {
		snprintf(err, errlen, "write(%s): %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename(%s, %s): %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
open_listeners(struct master *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->cfg.nlisten; i++) {
		if (ltable_open(&m->listeners, &m->cfg.listen[i], m->sup.nslots,
		    m->cfg.backlog, err, errlen) == -1)
			return -1;
		log_notice("listening on %s (%u socket%s)", m->cfg.listen[i].text,
		    m->listeners.v[i].nfds, m->listeners.v[i].nfds == 1 ? "" : "s");
	}
	return 0;
}

/* After an upgrade: the inherited sockets, plus whatever the config adds. */
static int
complete_listeners(struct master *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->cfg.nlisten; i++) {
		struct listener *l = ltable_find(&m->listeners,
		    m->cfg.listen[i].text);

		if (l == NULL) {
			if (ltable_open(&m->listeners, &m->cfg.listen[i],
			    m->sup.nslots, m->cfg.backlog, err, errlen) == -1)
				return -1;
			log_notice("listening on %s", m->cfg.listen[i].text);
		} else if (l->nfds < m->sup.nslots) {
			if (listener_grow(l, m->sup.nslots, m->cfg.backlog, err,
			    errlen) == -1)
				return -1;
		} else {
			listener_shrink(l, m->sup.nslots);
		}
	}
	return 0;
}

static int
add_signals(struct master *m)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGQUIT, SIGINT, SIGHUP,
	    SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU };

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		struct event *ev = evsignal_new(m->base, sigs[i], on_signal, m);

		if (ev == NULL || event_add(ev, NULL) == -1)
			return -1;
		m->signals[m->nsignals++] = ev;
	}
	return 0;
}

/* Remove the pid file if it still names us (after an upgrade it does not). */
static void
pid_file_remove(struct master *m)
{
	FILE *f;
	long pid = 0;

	if (!m->pid_file_written || (f = fopen(m->cfg.pid_file, "r")) == NULL)
		return;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid == (long)getpid() && unlink(m->cfg.pid_file) == -1)
		log_warn("unlink(%s): %s", m->cfg.pid_file, strerror(errno));
}

static void
master_free(struct master *m)
{
	watchdog_free(m);
	ops_free(m);
	upgrade_free(m);
	supervise_free(m);
	relay_free(m);
	control_free(m, !m->up.upgraded);
	for (size_t i = 0; i < m->nsignals; i++)
		event_free(m->signals[i]);
	if (m->tick_ev != NULL)
		event_free(m->tick_ev);
	if (m->stop_ev != NULL)
		event_free(m->stop_ev);
	ltable_free(&m->listeners, !m->up.upgraded);
	pid_file_remove(m);
	if (m->base != NULL)
		event_base_free(m->base);
	stats_destroy(m->stats);
	if (m->stats_fd != -1)
		close(m->stats_fd);
	config_free(&m->cfg);
	json_decref(m->overrides);
}

/* "shoal: master" and the command line it was started with, for ps. */
static void
set_title(char **argv)
{
	char line[1024];
	size_t n = 0;

	line[0] = '\0';
	for (size_t i = 0; argv[i] != NULL && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s",
		    i ? " " : "", argv[i]);
	proctitle_set("shoal: master %s", line);
	prctl(PR_SET_NAME, "shoal master");
}

/*
 * The stats region: the old master's after an upgrade (the counters go
 * on), else a new one. False (errno set) if none can be had.
 */
static bool
open_stats(struct master *m)
{
	char err[256];

	if (m->up.stats_fd != -1) {
		if ((m->stats = stats_adopt(m->up.stats_fd, err,
		    sizeof(err))) != NULL) {
			m->stats_fd = m->up.stats_fd;
			m->up.stats_fd = -1;
			log_info("upgrade: counters go on in the old master's stats "
			    "region");
			return true;
		}
		log_warn("upgrade: %s; counters start again", err);
		close(m->up.stats_fd);
		m->up.stats_fd = -1;
	}
	return (m->stats = stats_create(&m->stats_fd)) != NULL;
}

static void
record_exe(struct master *m, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", m->exe, sizeof(m->exe) - 1);

	/* The path, not the inode: a rebuilt binary replaces the file. */
	m->exe[n > 0 ? n : 0] = '\0';
	if (n <= 0)
		snprintf(m->exe, sizeof(m->exe), "%s", argv[0]);
}

int
master_check(const struct config *cfg)
{
	char err[1024], warn[512];

	if (preflight_run(cfg, PREFLIGHT_CHECK, err, sizeof(err), warn,
	    sizeof(warn)) == -1) {
		fprintf(stderr, "shoal: %s\n", err);
		return 2;
	}
	if (warn[0] != '\0')
		fprintf(stderr, "shoal: warning: %s\n", warn);
	printf("shoal: configuration %s is valid\n", cfg->source);
	return 0;
}

int
master_main(struct config *cfg, const char *config_path, json_t *overrides,
    char **argv)
{
	struct master *m;
	struct timeval tv;
	char err[8192], warn[512];
	unsigned nslots, scaled = 0;
	int rc = 1, adopted, activated = 0;

	/* Large (the slot table): on the heap, not the stack. */
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		fprintf(stderr, "shoal: out of memory\n");
		config_free(cfg);
		return 1;
	}
	m->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	m->config_path = config_path;
	m->overrides = overrides;
	m->argv = argv;
	m->started_at = util_now();
	m->stats_fd = -1;
	upgrade_init(m);
	control_init(m);
	record_exe(m, argv);
	set_title(argv);
	log_set_role("master", -1);
	log_set_level((enum log_level)m->cfg.log_level);
	/* What would fail later (after binding, or in every worker) fails
	 * now, with the message --check gives. */
	if (preflight_run(&m->cfg, PREFLIGHT_START, err, sizeof(err), warn,
	    sizeof(warn)) == -1) {
		fprintf(stderr, "shoal: %s\n", err);
		goto out;
	}
	if (log_open(m->cfg.log_file) == -1) {
		fprintf(stderr, "shoal: log_file %s: %s\n", m->cfg.log_file,
		    strerror(errno));
		goto out;
	}
	/* A dead client must be an EPIPE to handle, not a signal that kills. */
	signal(SIGPIPE, SIG_IGN);

	if (ltable_init(&m->listeners) == -1) {
		log_error("out of memory");
		goto out;
	}
	/* Sockets (and state) from an old master, or sockets from systemd;
	 * then whatever the configuration adds. */
	if ((adopted = upgrade_adopt(m, err, sizeof(err))) == -1 ||
	    (!adopted && (activated = activate_adopt(m, err, sizeof(err))) == -1)) {
		log_error("%s", err);
		goto out;
	}
	nslots = m->cfg.workers_auto ? (unsigned)util_cpu_count() :
	    (unsigned)m->cfg.workers;
	/* A count set by scale goes on across an upgrade, unless the file's
	 * "workers" changed meanwhile. */
	if (adopted && m->up.scaled != 0 &&
	    m->up.scaled_setting == m->cfg.workers)
		nslots = scaled = m->up.scaled;
	relay_init(m);
	supervise_init(m, nslots, &supervise_hooks);
	log_notice("shoal %s starting: %u worker%s (%s), config %s",
	    SHOAL_VERSION, nslots, nslots == 1 ? "" : "s", scaled ? "set by scale" :
	    m->cfg.workers_auto ? "auto" : "configured", m->cfg.source);
	if (warn[0] != '\0')
		log_warn("%s", warn);
	if (!open_stats(m)) {
		log_error("stats region: %s", strerror(errno));
		goto out;
	}
	if ((adopted || activated > 0 ? complete_listeners(m, err, sizeof(err)) :
	    open_listeners(m, err, sizeof(err))) == -1) {
		log_error("%s", err);
		goto out;
	}
	/* No worker is ready yet: every slot's queue waits for its own. */
	steer_update(m, true);
	if (m->cfg.pid_file != NULL && !adopted) {
		if (pid_file_write(m->cfg.pid_file, 0, err, sizeof(err)) == -1) {
			log_error("%s", err);
			goto out;
		}
		m->pid_file_written = true;
	}
	if ((m->base = event_base_new()) == NULL || add_signals(m) == -1 ||
	    ops_init(m, &ops_hooks, m->up.generation + 1, scaled) == -1 ||
	    watchdog_init(m) == -1) {
		log_error("cannot set up the event loop");
		goto out;
	}
	upgrade_bridge(m);
	if (control_open(m, m->up.control_fd, &control_hooks, err,
	    sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	m->tick_ev = event_new(m->base, -1, EV_PERSIST, on_tick, m);
	m->stop_ev = evtimer_new(m->base, on_stop_timeout, m);
	if (m->tick_ev == NULL || m->stop_ev == NULL) {
		log_error("cannot set up timers");
		goto out;
	}
	/* Check often enough that a hang is caught within ~1.25 x worker_timeout. */
	tv_from(&tv, m->cfg.worker_timeout / 4 < 0.5 ? m->cfg.worker_timeout / 4 :
	    0.5);
	event_add(m->tick_ev, &tv);

	for (unsigned i = 0; i < nslots; i++)
		if (supervise_spawn(m, i, &m->cfg, m->ops.generation, false) == -1) {
			log_error("cannot start workers");
			goto out;
		}
	event_base_dispatch(m->base);
	/* Every worker is reaped (or was SIGKILLed and is reaped here). */
	supervise_reap(m);
	log_notice("stopped");
	rc = m->exit_code;
out:
	master_free(m);
	free(m);
	return rc;
}
