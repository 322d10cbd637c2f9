/*
 * preflight — what a start would find wrong, found before anything is
 * bound or forked. `shoal --check` runs it too, so it is `nginx -t`:
 * whatever would make the start fail makes the check fail, with the same
 * message.
 *
 *   - the workers' user can be switched to (privdrop.c);
 *   - the CPU lists lie within the CPUs shoal may use, the open-file limit
 *     can be set (resources.c);
 *   - log_file and access_log can be opened for appending (created if
 *     missing, never truncated; at start-up and reload also handed to the
 *     workers' user); the directories of pid_file, control_socket and
 *     every Unix listener exist and are writable;
 *   - as the workers' user, in a child process: the directories of the
 *     logs are searchable and the files writable, every route's "root"
 *     can be opened, and whatever the worker side adds (the hook below).
 *
 * Routes and their handlers' keys (a static root that exists) are checked
 * by the configuration itself (config_load), which --check runs first.
 */
#ifndef SHOAL_PREFLIGHT_H
#define SHOAL_PREFLIGHT_H

#include <stddef.h>

#include "common/config.h"

enum preflight_when {
	PREFLIGHT_CHECK,             /* shoal --check: change nothing it finds */
	PREFLIGHT_START,
	PREFLIGHT_RELOAD,            /* the new configuration, before its workers */
};

/*
 * The worker side's checks, run in a child switched to the workers' user:
 * the seam where loading the modules (dlopen) and resolving "module.
 * handler" route names goes, so that they fail --check too. 0, or -1 with
 * the reason in err. None is set yet.
 */
typedef int preflight_worker_fn(const struct config *cfg, char *err,
    size_t errlen);
void preflight_set_worker_check(preflight_worker_fn *fn);

/*
 * Run the checks on cfg. 0, or -1 with one line in err. warn gets what is
 * not fatal (an open-file limit below max_connections), else "". Sets the
 * open-file limit (in --check, of the checking process only).
 */
int preflight_run(const struct config *cfg, enum preflight_when when,
    char *err, size_t errlen, char *warn, size_t warnlen);

/*
 * The files the workers reopen by name (log_file, access_log): created if
 * missing and handed to the workers' user (at a reopen: a rotation leaves
 * new files owned by root). -1 with err at the first that fails.
 */
int preflight_logs(const struct config *cfg, char *err, size_t errlen);

#endif
