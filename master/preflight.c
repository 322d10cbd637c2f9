/*
 * preflight — see preflight.h. Each check writes "KEY PATH: reason", the
 * message a start would otherwise fail with later (after binding) or that
 * every worker would fail its boot with.
 */
#include "master/preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/privdrop.h"
#include "master/resources.h"

static preflight_worker_fn *worker_check;

void
preflight_set_worker_check(preflight_worker_fn *fn)
{
	worker_check = fn;
}

/* The directory part of path, into buf ("." for a bare name). */
static const char *
dir_of(const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s", path);
	return dirname(buf);
}

/* The directory a file will be created in must exist and be writable. */
static int
writable_dir(const char *key, const char *path, char *err, size_t errlen)
{
	char buf[4096];
	const char *dir;

	if (path == NULL)
		return 0;
	dir = dir_of(path, buf, sizeof(buf));
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "%s %s: directory %s: %s", key, path, dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* What the probe child checks: when, to know whether files are owned. */
struct probe {
	enum preflight_when when;
};

/* As the workers' user: one log file it will reopen by name. */
static int
user_log(const struct config *cfg, const struct probe *pr, const char *key,
    const char *path, char *err, size_t errlen)
{
	char buf[4096];
	const char *dir;
	int fd;

	if (path == NULL)
		return 0;
	if (pr->when == PREFLIGHT_CHECK) {
		/* Not handed over yet: only the way to it must be open. */
		dir = dir_of(path, buf, sizeof(buf));
		if (access(dir, X_OK) == -1) {
			snprintf(err, errlen, "%s %s: directory %s is not searchable "
			    "by user %s: %s", key, path, dir, cfg->user ? cfg->user :
			    "(the master's)", strerror(errno));
			return -1;
		}
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		snprintf(err, errlen, "%s %s: cannot be opened by user %s: %s", key,
		    path, cfg->user ? cfg->user : "(the master's)", strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* The probe: in a child, as the workers' user. */
static int
as_user(const struct config *cfg, void *arg, char *err, size_t errlen)
{
	const struct probe *pr = arg;
	const char *root;
	int fd;

	if (cfg->user != NULL && (user_log(cfg, pr, "log_file", cfg->log_file,
	    err, errlen) == -1 || user_log(cfg, pr, "access_log",
	    cfg->access_log, err, errlen) == -1))
		return -1;
	for (size_t i = 0; cfg->user != NULL && i < cfg->nroutes; i++) {
		root = json_string_value(json_object_get(cfg->routes[i].spec,
		    "root"));
		if (root == NULL)
			continue;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1) {
			snprintf(err, errlen, "%s: routes[%zu].root %s: cannot be "
			    "read by user %s: %s", cfg->routes[i].where, i, root,
			    cfg->user, strerror(errno));
			return -1;
		}
		close(fd);
	}
	return worker_check != NULL ? worker_check(cfg, err, errlen) : 0;
}

int
preflight_logs(const struct config *cfg, char *err, size_t errlen)
{
	if (privdrop_prepare_file(cfg, "log_file", cfg->log_file, true, err,
	    errlen) == -1 || privdrop_prepare_file(cfg, "access_log",
	    cfg->access_log, true, err, errlen) == -1)
		return -1;
	return 0;
}

int
preflight_run(const struct config *cfg, enum preflight_when when,
    char *err, size_t errlen, char *warn, size_t warnlen)
{
	struct probe pr = { when };
	bool own = when != PREFLIGHT_CHECK;

	warn[0] = '\0';
	if (privdrop_possible(cfg, err, errlen) == -1 ||
	    resources_check_cpus(cfg, err, errlen) == -1 ||
	    resources_set_limit(cfg, err, errlen, warn, warnlen) == -1)
		return -1;
	if (privdrop_prepare_file(cfg, "log_file", cfg->log_file, own, err,
	    errlen) == -1 || privdrop_prepare_file(cfg, "access_log",
	    cfg->access_log, own, err, errlen) == -1)
		return -1;
	if (writable_dir("pid_file", cfg->pid_file, err, errlen) == -1)
		return -1;
	/* A reload keeps the control socket it has. */
	if (when != PREFLIGHT_RELOAD && writable_dir("control_socket",
	    cfg->control_socket, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct listen_addr *a = &cfg->listen[i];

		if (a->sa.ss_family == AF_UNIX && writable_dir("listen",
		    ((const struct sockaddr_un *)(const void *)&a->sa)->sun_path,
		    err, errlen) == -1)
			return -1;
	}
	if (!privdrop_switches(cfg) && worker_check == NULL)
		return 0;
	return privdrop_probe(cfg, as_user, &pr, err, errlen);
}
