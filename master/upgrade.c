/*
 * upgrade — replace the running binary without closing a listening socket.
 *
 * The old master forks and execs the new binary with the same command line;
 * the listening sockets, the control socket and the write end of a pipe
 * survive the exec (close-on-exec cleared on them alone), named in the
 * SHOAL_UPGRADE environment variable:
 *
 *   {"v":1,"parent":4242,"pipe":7,"control":6,
 *    "listeners":[{"addr":"127.0.0.1:8080","fds":[3,4]}]}
 *
 * The new master adopts them, starts its workers, writes its pid file and
 * then "ready" down the pipe. Only then does the old master drain its own
 * workers and exit; it leaves the pid file and the control socket to the
 * new one. If the new master exits, or is not ready within ready_timeout,
 * the old one kills it and carries on as if nothing had happened.
 */
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
#include "master/master.h"

#define UPGRADE_ENV "SHOAL_UPGRADE"

static int
keep_open(int fd)
{
	return util_set_cloexec(fd, 0);
}

/* In the child: leave the sockets open across exec and describe them. */
static char *
describe(struct master *m, int pipe_fd)
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
		json_array_append_new(ls, json_pack("{s:s, s:o}", "addr",
		    l->addr.text, "fds", fds));
	}
	if (m->control_fd != -1)
		keep_open(m->control_fd);
	keep_open(pipe_fd);
	/* We are the forked child: the old master is our parent. */
	obj = json_pack("{s:i, s:i, s:i, s:i, s:o}", "v", 1, "parent",
	    (int)getppid(), "pipe", pipe_fd, "control", m->control_fd,
	    "listeners", ls);
	text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	return text;
}

static void
finish(struct master *m)
{
	if (m->op.pipe_ev != NULL) {
		event_free(m->op.pipe_ev);
		m->op.pipe_ev = NULL;
	}
	if (m->op.pipe_fd != -1) {
		close(m->op.pipe_fd);
		m->op.pipe_fd = -1;
	}
}

void
upgrade_abort(struct master *m, const char *why)
{
	if (m->op.kind != OP_UPGRADE)
		return;
	if (m->op.child > 0)
		kill(m->op.child, SIGKILL);  /* reaped as an unknown child */
	m->op.child = 0;
	finish(m);
	/* The steering program belongs to the sockets' reuseport groups,
	 * which the failed master shared: put ours back. */
	{
		char err[256];

		if (ltable_steer(&m->listeners, m->nslots, err, sizeof(err)) == -1)
			log_warn("%s", err);
	}
	log_error("upgrade failed: %s; carrying on with pid %d", why,
	    (int)getpid());
	control_reply(m->op.req, false, "upgrade failed: %s", why);
	m->op.req = NULL;
	ops_finish(m);
}

static void
on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	char buf[64];
	ssize_t n;
	pid_t child = m->op.child;

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
	m->op.child = 0;
	m->upgraded = true;
	log_notice("upgrade: new master (pid %d) is ready; draining and exiting",
	    (int)child);
	control_reply(m->op.req, true, "upgraded: new master pid %d",
	    (int)child);
	m->op.req = NULL;
	/* The new master answers on the control socket from now on. */
	control_close(m);
	ops_finish(m);
	master_stop(m, false, "upgrade");
}

int
upgrade_start(struct master *m, const char *binary, char *err, size_t errlen)
{
	char *env = NULL;
	int p[2];
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
	log_notice("upgrade: starting %s", binary);
	pid = fork();
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		close(p[0]);
		if ((env = describe(m, p[1])) == NULL ||
		    setenv(UPGRADE_ENV, env, 1) == -1)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(binary, m->argv);
		fprintf(stderr, "shoal: exec(%s): %s\n", binary, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	m->op.child = pid;
	m->op.pipe_fd = p[0];
	m->op.pipe_ev = event_new(m->base, p[0], EV_READ | EV_PERSIST, on_pipe, m);
	if (m->op.pipe_ev == NULL || event_add(m->op.pipe_ev, NULL) == -1) {
		kill(pid, SIGKILL);
		finish(m);
		snprintf(err, errlen, "cannot watch the upgrade pipe");
		return -1;
	}
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
	m->upgrade_parent = (pid_t)json_integer_value(json_object_get(obj,
	    "parent"));
	m->upgrade_pipe = (int)json_integer_value(json_object_get(obj, "pipe"));
	m->control_fd = (int)json_integer_value(json_object_get(obj, "control"));
	util_set_cloexec(m->upgrade_pipe, 1);
	if (m->control_fd != -1)
		util_set_cloexec(m->control_fd, 1);
	json_array_foreach(ls, i, item) {
		const char *addr = json_string_value(json_object_get(item, "addr"));
		json_t *fds = json_object_get(item, "fds"), *fd;
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
			log_notice("upgrade: took over %s (%u socket%s) from pid %d",
			    addr, n, n == 1 ? "" : "s", (int)m->upgrade_parent);
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
upgrade_announce_ready(struct master *m)
{
	static const char ready[] = "ready\n";

	if (m->upgrade_pipe == -1)
		return;
	if (write(m->upgrade_pipe, ready, sizeof(ready) - 1) == -1)
		log_warn("upgrade: cannot tell the old master (pid %d): %s",
		    (int)m->upgrade_parent, strerror(errno));
	close(m->upgrade_pipe);
	m->upgrade_pipe = -1;
	log_notice("upgrade: serving; the old master (pid %d) drains and exits",
	    (int)m->upgrade_parent);
}
