/*
 * master — the supervisor process.
 *
 * It binds the listening sockets, forks one worker per slot, reaps and
 * respawns them, watches their heartbeats, reloads, upgrades, scales and
 * stops them. It never parses HTTP and never runs handlers. The work is
 * split over the files of master/ (types.h says who owns what); master.c
 * is the top: it starts the others, owns the loop and the signals, and
 * wires the hooks through which they report back.
 */
#ifndef SHOAL_MASTER_H
#define SHOAL_MASTER_H

#include <jansson.h>

#include "common/config.h"

/*
 * Run the master on cfg (taken over: zeroed on return) until it is stopped.
 * config_path and overrides are kept for reloads, argv for upgrades.
 * Returns the exit status: 0 after a stop, 1 if start-up failed.
 */
int master_main(struct config *cfg, const char *config_path,
    json_t *overrides, char **argv);

/*
 * `shoal --check`: the checks a start makes before it binds anything
 * (files it will open, the pid file's directory, users, CPUs, limits) on
 * cfg, as loaded. Prints the outcome; returns the exit status: 0 valid,
 * 2 not, with the message a start would give.
 */
int master_check(const struct config *cfg);

#endif
