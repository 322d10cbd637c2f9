/*
 * util — small helpers shared by master and worker: clocks, fds, CPUs.
 */
#ifndef SHOAL_UTIL_H
#define SHOAL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic clock in milliseconds / seconds (CLOCK_MONOTONIC). */
uint64_t util_now_ms(void);
double util_now(void);

/* fcntl helpers: return -1 with errno set on failure. */
int util_set_nonblock(int fd);
int util_set_cloexec(int fd, int on);

/*
 * The number of CPUs this process may use: the CPUs in its affinity mask,
 * lowered to ceil(quota / period) when a cgroup v2 "cpu.max" on the path from
 * its cgroup to the root sets a quota. Never less than 1.
 */
int util_cpu_count(void);

/*
 * The same, with the inputs given: ncpus from the affinity mask, the cgroup
 * v2 mount (normally "/sys/fs/cgroup") and the text of /proc/self/cgroup.
 * Split out so tests can point it at a fake cgroup tree.
 */
int util_cpu_count_from(int ncpus, const char *cgroup_root,
    const char *proc_self_cgroup);

/* Format a duration "12.4s" / "3m05s" / "2h10m" into buf; returns buf. */
char *util_fmt_duration(double seconds, char *buf, size_t len);

#endif
