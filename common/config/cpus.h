/*
 * config/cpus — the "worker_cpu_affinity" key: which CPUs each worker may
 * run on. "auto" puts worker k on the k-th CPU the master may use; a list
 * gives worker k the k-th entry (wrapping around when there are fewer
 * entries than workers), each a CPU list as taskset -c and cpuset(7)
 * write them: "0", "2-3", "0-3,8".
 */
#ifndef SHOAL_CONFIG_CPUS_H
#define SHOAL_CONFIG_CPUS_H

#include <sched.h>
#include <stddef.h>
#include <jansson.h>

#include "common/config.h"
#include "common/config/key.h"

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/* The cfg_apply_fn (key.h) of "worker_cpu_affinity": null (none), "auto",
 * or an array of CPU lists (a lone list stands for an array of one). */
int cfg_apply_cpu_affinity(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

/*
 * Parse a CPU list ("0-3,8") into set: numbers below CPU_SETSIZE, ranges
 * low-high with low <= high, separated by commas; nothing else (no
 * spaces, no empty entries). 0, or -1 with the reason in why.
 */
int cfg_parse_cpus(const char *s, cpu_set_t *set, char *why, size_t whylen);

#pragma GCC visibility pop

#endif
