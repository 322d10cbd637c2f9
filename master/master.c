/*
 * master — life cycle of the master process: start-up (logs, listeners, pid
 * file, stats), the event loop with its signal events, and the stop
 * sequence. The worker table itself is in supervise.c.
 */
#include "master/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/util.h"

/* After a fast stop, how long workers get before SIGKILL. */
#define FAST_STOP_GRACE 1.0

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
	sd_notify(0, "STOPPING=1");
	m->state = MASTER_STOPPING;
	supervise_stop_all(m, fast);
	tv_from(&tv, fast ? FAST_STOP_GRACE : m->cfg.graceful_timeout);
	evtimer_add(m->stop_ev, &tv);
	if (TAILQ_EMPTY(&m->procs))
		event_base_loopbreak(m->base);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;

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
		if (log_reopen() == -1)
			log_error("reopen(%s): %s", m->cfg.log_file, strerror(errno));
		else
			log_notice("SIGUSR1: log file reopened");
		break;
	case SIGHUP:
		log_warn("SIGHUP: reload is not supported yet; ignored");
		break;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	supervise_tick(arg);
}

/*
 * Write the pid file atomically (temp file + rename), refusing to take over
 * one that names a live process.
 */
static int
pid_file_write(const char *path, char *err, size_t errlen)
{
	char tmp[4096], buf[32];
	FILE *f;
	long old;
	int fd, n;

	if ((f = fopen(path, "r")) != NULL) {
		n = fscanf(f, "%ld", &old);
		fclose(f);
		if (n == 1 && old > 0 && old != getpid() &&
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
	m->listeners = calloc(m->cfg.nlisten, sizeof(*m->listeners));
	if (m->listeners == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < m->cfg.nlisten; i++) {
		if (listener_open(&m->listeners[i], &m->cfg.listen[i], m->nslots,
		    m->cfg.backlog, err, errlen) == -1)
			return -1;
		m->nlisteners++;
		log_notice("listening on %s (%u socket%s)", m->cfg.listen[i].text,
		    m->listeners[i].nfds, m->listeners[i].nfds == 1 ? "" : "s");
	}
	return 0;
}

static int
add_signals(struct master *m)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGQUIT, SIGINT, SIGHUP,
	    SIGUSR1 };

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		struct event *ev = evsignal_new(m->base, sigs[i], on_signal, m);

		if (ev == NULL || event_add(ev, NULL) == -1)
			return -1;
		m->signals[m->nsignals++] = ev;
	}
	return 0;
}

static void
master_free(struct master *m)
{
	supervise_free(m);
	for (size_t i = 0; i < m->nsignals; i++)
		event_free(m->signals[i]);
	if (m->tick_ev != NULL)
		event_free(m->tick_ev);
	if (m->stop_ev != NULL)
		event_free(m->stop_ev);
	for (size_t i = 0; i < m->nlisteners; i++)
		listener_close(&m->listeners[i]);
	free(m->listeners);
	if (m->pid_file_written && unlink(m->cfg.pid_file) == -1)
		log_warn("unlink(%s): %s", m->cfg.pid_file, strerror(errno));
	if (m->base != NULL)
		event_base_free(m->base);
	stats_destroy(m->stats);
	config_free(&m->cfg);
}

int
master_main(struct config *cfg)
{
	struct master m;
	struct timeval tv;
	char err[8192];
	int rc = 1;

	memset(&m, 0, sizeof(m));
	m.cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	TAILQ_INIT(&m.procs);
	log_set_role("master", -1);
	log_set_level((enum log_level)m.cfg.log_level);
	if (log_open(m.cfg.log_file) == -1) {
		fprintf(stderr, "shoal: log_file %s: %s\n", m.cfg.log_file,
		    strerror(errno));
		goto out;
	}
	/* A dead client must be an EPIPE to handle, not a signal that kills. */
	signal(SIGPIPE, SIG_IGN);

	m.nslots = m.cfg.workers_auto ? (unsigned)util_cpu_count() :
	    (unsigned)m.cfg.workers;
	m.generation = 1;
	m.backoff.min = m.cfg.respawn_delay_min;
	m.backoff.max = m.cfg.respawn_delay_max;
	m.backoff.stable_after = 10;
	m.backoff.loop_after = 5;
	log_notice("shoal %s starting: %u worker%s (%s), config %s",
	    SHOAL_VERSION, m.nslots, m.nslots == 1 ? "" : "s",
	    m.cfg.workers_auto ? "auto" : "configured", m.cfg.source);

	if ((m.stats = stats_create()) == NULL) {
		log_error("mmap(stats): %s", strerror(errno));
		goto out;
	}
	if (open_listeners(&m, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	if (m.cfg.pid_file != NULL) {
		if (pid_file_write(m.cfg.pid_file, err, sizeof(err)) == -1) {
			log_error("%s", err);
			goto out;
		}
		m.pid_file_written = true;
	}
	if ((m.base = event_base_new()) == NULL || add_signals(&m) == -1) {
		log_error("cannot set up the event loop");
		goto out;
	}
	m.tick_ev = event_new(m.base, -1, EV_PERSIST, on_tick, &m);
	m.stop_ev = evtimer_new(m.base, on_stop_timeout, &m);
	if (m.tick_ev == NULL || m.stop_ev == NULL) {
		log_error("cannot set up timers");
		goto out;
	}
	/* Check often enough that a hang is caught within ~1.25 x worker_timeout. */
	tv_from(&tv, m.cfg.worker_timeout / 4 < 0.5 ? m.cfg.worker_timeout / 4 : 0.5);
	event_add(m.tick_ev, &tv);

	if (supervise_start(&m) == -1) {
		log_error("cannot start workers");
		goto out;
	}
	event_base_dispatch(m.base);
	/* Every worker is reaped (or was SIGKILLed and is reaped here). */
	supervise_reap(&m);
	log_notice("stopped");
	rc = 0;
out:
	master_free(&m);
	return rc;
}
