/*
 * privdrop — workers run as the configured "user" and "group"; the master
 * stays as it was started (root), because it binds (ports below 1024
 * too), opens the logs, the pid file and the sockets, and reloads.
 *
 * A worker switches right after fork, before it loads a module or
 * accepts a connection: initgroups, setgid, setuid, each checked, then
 * checked again from the other side (real, effective and saved ids, the
 * supplementary groups, and that setuid(0) now fails). Any failure ends
 * the worker before it runs: a worker never runs as root when "user" is
 * set.
 *
 * The files the workers open by name must stay theirs: the log file and
 * the access log are reopened by each worker on SIGUSR1 (after rotation),
 * as that user. As NGINX does, the master creates them (never truncating)
 * and hands them to the user with fchown before the workers open them:
 * at start-up, at a reload, and at every reopen (a rotation makes new,
 * root-owned files). The directories on their path must be searchable by
 * the user; preflight.c checks that, as that user.
 */
#ifndef SHOAL_PRIVDROP_H
#define SHOAL_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/*
 * May this master start workers as cfg's user? Yes when "user" is unset,
 * when the master runs as root, or when it already is that user and
 * group. -1 with the reason in err otherwise.
 */
int privdrop_possible(const struct config *cfg, char *err, size_t errlen);

/* True if workers of cfg change user (user set, and not the master's). */
bool privdrop_switches(const struct config *cfg);

/*
 * In a forked worker: become cfg's user and group and check it. No-op
 * when privdrop_switches is false. 0, or -1 with the reason in err (the
 * caller exits: the process is in an unknown state).
 */
int privdrop_switch(const struct config *cfg, char *err, size_t errlen);

/*
 * A file the workers append to: open path with O_APPEND|O_CREAT (never
 * O_TRUNC: what is there stays), and when workers switch user, make it
 * that user's and writable by its owner. own false: only check that it
 * can be opened (--check changes nothing it did not create). -1 with
 * "KEY PATH: reason" in err (key: "log_file", "access_log").
 */
int privdrop_prepare_file(const struct config *cfg, const char *key,
    const char *path, bool own, char *err, size_t errlen);

/*
 * Run fn(cfg, arg) in a child process switched to cfg's user as a worker
 * is (as the master's user when it does not switch), and return its
 * result: 0, or -1 with the child's reason in err. For the checks that
 * only count with the workers' rights.
 */
typedef int privdrop_probe_fn(const struct config *cfg, void *arg, char *err,
    size_t errlen);
int privdrop_probe(const struct config *cfg, privdrop_probe_fn *fn, void *arg,
    char *err, size_t errlen);

#endif
