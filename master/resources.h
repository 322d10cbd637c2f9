/*
 * resources — what the workers may use: their CPUs (worker_cpu_affinity)
 * and their open-file limit (rlimit_nofile).
 *
 * The limit is set in the master, at start-up and at each reload, before
 * it forks: the workers inherit it (and the master, which holds one
 * socket per address and slot, needs it raised too). Each worker needs
 * max_connections + CONFIG_FD_RESERVE descriptors; a number below that is
 * refused by the configuration, and a hard limit below it ("auto") is
 * said in a warning: the server runs, and a worker that runs out pauses
 * accepting until connections close.
 *
 * CPUs: "auto" puts worker k on the k-th CPU of the mask the master was
 * started with (wrapping around); a list gives worker k entry k (mod the
 * count), which must lie within that mask. A worker pins itself right
 * after fork (supervise.c calls resources_pin through the master's hook).
 */
#ifndef SHOAL_RESOURCES_H
#define SHOAL_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <sched.h>

#include "common/config.h"

/*
 * Set RLIMIT_NOFILE as cfg says (the hard limit for "auto"; a number above
 * the hard limit raises it, which takes root). -1 with the reason in err.
 * warn gets a warning when the limit is below what a worker may need,
 * else "".
 */
int resources_set_limit(const struct config *cfg, char *err, size_t errlen,
    char *warn, size_t warnlen);

/*
 * Check cfg's CPU lists against the CPUs this process may use. -1 with
 * the reason in err ("worker_cpu_affinity[1]: CPU 7 is not among the CPUs
 * shoal may use (0-1)").
 */
int resources_check_cpus(const struct config *cfg, char *err, size_t errlen);

/*
 * The CPUs of the worker in slot: false if cfg sets none. allowed: the
 * CPUs the master may use.
 */
bool resources_cpus(const struct config *cfg, unsigned slot,
    const cpu_set_t *allowed, cpu_set_t *out);

/* In a forked worker: pin it to its CPUs, if cfg says any. -1 with err. */
int resources_pin(const struct config *cfg, unsigned slot, char *err,
    size_t errlen);

/* "0-3,8": set as a CPU list, into buf. */
const char *resources_cpulist(const cpu_set_t *set, char *buf, size_t len);

#endif
