/*
 * upgrade — replace the running binary without closing a listening socket.
 *
 * The old master forks and execs the new binary with the same command line;
 * the listening sockets, the control socket and the write end of a pipe
 * survive the exec (close-on-exec cleared on them alone), named in the
 * SHOAL_UPGRADE environment variable:
 *
 *   {"v":1,"parent":4242,"pipe":7,"control":6,"stats":5,"relay":8,
 *    "generation":3,"workers":4,"scaled":4,"scaled_setting":2,
 *    "listeners":[{"addr":"127.0.0.1:8080","fds":[3,4],"shared":false,
 *                  "systemd":false}]}
 *
 * With the sockets go the state an operator set and the counters: the
 * stats region (a memfd, mapped by both masters: the new one's workers
 * count on from where the old ones are), the generation (the new master's
 * workers are the next one), and the worker count set by `shoal scale`
 * (kept unless the new configuration's "workers" differs from the one it
 * was set under). And one end of a relay socket: the bridge over which the
 * two masters pass each other their workers' channel messages while both
 * have workers (master/relay.c).
 *
 * The new master adopts them, starts its workers, writes its pid file and
 * then "ready" down the pipe. Only then does the old master drain its own
 * workers and exit; it leaves the pid file and the control socket to the
 * new one. If the new master exits, or is not ready within ready_timeout,
 * the old one kills it and carries on as if nothing had happened.
 */
#include "master/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/relay.h"
#include "common/util.h"
#include "master/relay.h"
#include "master/steer.h"
#include "master/wstatus.h"

#define UPGRADE_ENV "SHOAL_UPGRADE"

static int
keep_open(int fd)
{
	return util_set_cloexec(fd, 0);
}

/* In the child: leave the sockets open across exec and describe them. */
static char *
describe(struct master *m, int pipe_fd, int relay_fd)
{
	json_t *obj, *ls, *fds;
	char *text;

	ls = json_array();
	for (size_t i = 0; i < m->listeners.n; i++) {
		struct listener *l = &m->listeners.v[i];

		fds = json_array();
		for (unsigned k = 0; k < l->nfds; k++) {
			keep_open(l->fds[k]);
			json_array_append_new(fds, json_integer(l->fds[k]));
		}
		json_array_append_new(ls, json_pack("{s:s, s:o, s:b, s:b}", "addr",
		    l->addr.text, "fds", fds, "shared", l->shared, "systemd",
		    l->systemd));
	}
	if (m->ctl.fd != -1)
		keep_open(m->ctl.fd);
	if (m->stats_fd != -1)
		keep_open(m->stats_fd);
	keep_open(pipe_fd);
	if (relay_fd != -1)
		keep_open(relay_fd);
	/* We are the forked child: the old master is our parent. State the
	 * operator set goes along: the worker count set by scale (with the
	 * "workers" it was set under), the generation, the counters (the
	 * stats region itself). */
	obj = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
	    "s:o}", "v", 1, "parent", (int)getppid(), "pipe", pipe_fd,
	    "control", m->ctl.fd, "stats", m->stats_fd, "relay", relay_fd,
	    "generation", (int)m->ops.generation, "workers", (int)m->sup.nslots,
	    "scaled", (int)m->ops.scaled, "scaled_setting", m->cfg.workers,
	    "listeners", ls);
	text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	return text;
}

static void
finish(struct master *m)
{
	if (m->up.pipe_ev != NULL) {
		event_free(m->up.pipe_ev);
		m->up.pipe_ev = NULL;
	}
	if (m->up.pipe_fd != -1) {
		close(m->up.pipe_fd);
		m->up.pipe_fd = -1;
	}
}

/* The upgrade is over: hand the outcome back, once. */
static void
report(struct master *m, pid_t child, const char *why)
{
	upgrade_done_fn *done = m->up.done;

	m->up.done = NULL;
	m->up.child = 0;
	if (done != NULL)
		done(m, child, why);
}

void
upgrade_init(struct master *m)
{
	memset(&m->up, 0, sizeof(m->up));
	m->up.pipe_fd = -1;
	m->up.parent_pipe = -1;
	m->up.control_fd = -1;
	m->up.stats_fd = -1;
	m->up.relay_fd = -1;
}

void
upgrade_abort(struct master *m, const char *why)
{
	if (m->up.done == NULL)
		return;
	if (m->up.child > 0)
		kill(m->up.child, SIGKILL);  /* reaped as an unknown child */
	/* Its workers (gone with it, PR_SET_PDEATHSIG) hold entries of the
	 * stats region we share: free them as they go. */
	if (m->up.child > 0)
		m->up.failed = m->up.child;
	m->up.child = 0;
	finish(m);
	/* The steering program belongs to the sockets' reuseport groups,
	 * which the failed master shared: put ours back. */
	steer_update(m, true);
	report(m, 0, why);
}

bool
upgrade_child_exited(struct master *m, pid_t pid, int status)
{
	char why[96], what[160];

	if (m->up.done == NULL || pid != m->up.child)
		return false;
	wstatus_describe(status, why, sizeof(why));
	snprintf(what, sizeof(what), "the new master %s before it was ready",
	    why);
	m->up.failed = m->up.child;
	m->up.child = 0;
	upgrade_abort(m, what);
	return true;
}

static void
on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	char buf[64];
	ssize_t n;
	pid_t child = m->up.child;

	(void)what;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Closed without a word: it died; the reap says how. */
		finish(m);
		return;
	}
	buf[n] = '\0';
	if (strncmp(buf, "ready", 5) != 0) {
		upgrade_abort(m, "the new master sent nonsense");
		return;
	}
	finish(m);
	m->up.upgraded = true;
	log_notice("upgrade: new master (pid %d) is ready; draining and exiting",
	    (int)child);
	report(m, child, NULL);
}

int
upgrade_start(struct master *m, const char *binary, upgrade_done_fn *done,
    char *err, size_t errlen)
{
	char *env = NULL;
	int p[2], bridge[2] = { -1, -1 };
	pid_t pid;

	if (binary == NULL)
		binary = m->exe;         /* our own path, recorded at start-up */
	if (access(binary, X_OK) == -1) {
		snprintf(err, errlen, "%s: %s", binary, strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* Without a bridge, each generation's subscribers see only what
	 * their own generation publishes until they reconnect. */
	if (relay_pair(bridge) == -1)
		log_warn("upgrade: socketpair(relay): %s; no channel bridge",
		    strerror(errno));
	log_notice("upgrade: starting %s", binary);
	pid = fork();
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		if (bridge[0] != -1) {
			close(bridge[0]);
			close(bridge[1]);
		}
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		close(p[0]);
		if (bridge[0] != -1)
			close(bridge[0]);
		if ((env = describe(m, p[1], bridge[1])) == NULL ||
		    setenv(UPGRADE_ENV, env, 1) == -1)
			_exit(127);
		/* systemd's watchdog names the process that pings: us, after
		 * the exec (NotifyAccess=all lets systemd hear it). */
		if (getenv("WATCHDOG_USEC") != NULL) {
			char self[16];

			snprintf(self, sizeof(self), "%d", (int)getpid());
			setenv("WATCHDOG_PID", self, 1);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(binary, m->argv);
		fprintf(stderr, "shoal: exec(%s): %s\n", binary, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (bridge[0] != -1) {
		close(bridge[1]);
		if (relay_attach_peer(m, bridge[0]) == -1)
			log_warn("upgrade: cannot watch the channel bridge");
	}
	m->up.child = pid;
	m->up.pipe_fd = p[0];
	m->up.pipe_ev = event_new(m->base, p[0], EV_READ | EV_PERSIST, on_pipe, m);
	if (m->up.pipe_ev == NULL || event_add(m->up.pipe_ev, NULL) == -1) {
		kill(pid, SIGKILL);  /* reaped as an unknown child */
		m->up.child = 0;
		finish(m);
		snprintf(err, errlen, "cannot watch the upgrade pipe");
		return -1;
	}
	m->up.done = done;
	return 0;
}

int
upgrade_adopt(struct master *m, char *err, size_t errlen)
{
	const char *text = getenv(UPGRADE_ENV);
	json_t *obj, *ls, *item;
	json_error_t jerr;
	size_t i, j;
	int rc = -1;

	if (text == NULL)
		return 0;
	obj = json_loads(text, 0, &jerr);
	unsetenv(UPGRADE_ENV);       /* not for the workers, not twice */
	ls = json_object_get(obj, "listeners");
	if (obj == NULL || !json_is_array(ls)) {
		snprintf(err, errlen, "%s: malformed", UPGRADE_ENV);
		goto out;
	}
	m->up.parent = (pid_t)json_integer_value(json_object_get(obj, "parent"));
	m->up.parent_pipe = (int)json_integer_value(json_object_get(obj, "pipe"));
	m->up.control_fd = (int)json_integer_value(json_object_get(obj,
	    "control"));
	m->up.stats_fd = json_is_integer(json_object_get(obj, "stats")) ?
	    (int)json_integer_value(json_object_get(obj, "stats")) : -1;
	/* An older master hands over no bridge. */
	m->up.relay_fd = json_is_integer(json_object_get(obj, "relay")) ?
	    (int)json_integer_value(json_object_get(obj, "relay")) : -1;
	m->up.generation = (unsigned)json_integer_value(json_object_get(obj,
	    "generation"));
	m->up.workers = (unsigned)json_integer_value(json_object_get(obj,
	    "workers"));
	m->up.scaled = (unsigned)json_integer_value(json_object_get(obj,
	    "scaled"));
	m->up.scaled_setting = (int)json_integer_value(json_object_get(obj,
	    "scaled_setting"));
	util_set_cloexec(m->up.parent_pipe, 1);
	if (m->up.control_fd != -1)
		util_set_cloexec(m->up.control_fd, 1);
	if (m->up.stats_fd != -1)
		util_set_cloexec(m->up.stats_fd, 1);
	if (m->up.relay_fd != -1)
		util_set_cloexec(m->up.relay_fd, 1);
	json_array_foreach(ls, i, item) {
		const char *addr = json_string_value(json_object_get(item, "addr"));
		json_t *fds = json_object_get(item, "fds"), *fd;
		struct listener *l;
		int inherited[CONFIG_MAX_WORKERS];
		unsigned n = 0;
		bool wanted = false;

		json_array_foreach(fds, j, fd)
			if (n < CONFIG_MAX_WORKERS)
				inherited[n++] = (int)json_integer_value(fd);
		for (j = 0; addr != NULL && j < m->cfg.nlisten && !wanted; j++) {
			if (strcmp(m->cfg.listen[j].text, addr) != 0)
				continue;
			wanted = true;
			if (ltable_adopt(&m->listeners, &m->cfg.listen[j],
			    inherited, n, err, errlen) == -1)
				goto out;
			l = ltable_find(&m->listeners, addr);
			l->shared = json_is_true(json_object_get(item, "shared"));
			l->systemd = json_is_true(json_object_get(item, "systemd"));
			log_notice("upgrade: took over %s (%u socket%s) from pid %d",
			    addr, n, n == 1 ? "" : "s", (int)m->up.parent);
		}
		if (!wanted)             /* no longer configured */
			for (unsigned k = 0; k < n; k++)
				close(inherited[k]);
	}
	rc = 1;
out:
	json_decref(obj);
	return rc;
}

void
upgrade_bridge(struct master *m)
{
	int fd = m->up.relay_fd;

	m->up.relay_fd = -1;
	if (fd != -1 && relay_attach_peer(m, fd) == -1)
		log_warn("upgrade: cannot watch the channel bridge");
}

void
upgrade_announce_ready(struct master *m)
{
	static const char ready[] = "ready\n";

	if (m->up.parent_pipe == -1)
		return;
	if (write(m->up.parent_pipe, ready, sizeof(ready) - 1) == -1)
		log_warn("upgrade: cannot tell the old master (pid %d): %s",
		    (int)m->up.parent, strerror(errno));
	close(m->up.parent_pipe);
	m->up.parent_pipe = -1;
	log_notice("upgrade: serving; the old master (pid %d) drains and exits",
	    (int)m->up.parent);
}

void
upgrade_tick(struct master *m)
{
	if (m->up.failed != 0 && m->stats != NULL &&
	    stats_release_orphans(m->stats, m->up.failed) == 0)
		m->up.failed = 0;
}

void
upgrade_close_in_worker(struct master *m)
{
	if (m->up.pipe_fd != -1)
		close(m->up.pipe_fd);
	if (m->up.parent_pipe != -1)
		close(m->up.parent_pipe);
	if (m->up.relay_fd != -1)
		close(m->up.relay_fd);
}

void
upgrade_free(struct master *m)
{
	finish(m);
	if (m->up.parent_pipe != -1) {
		close(m->up.parent_pipe);
		m->up.parent_pipe = -1;
	}
	if (m->up.relay_fd != -1) {
		close(m->up.relay_fd);
		m->up.relay_fd = -1;
	}
}
