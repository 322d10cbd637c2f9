/*
 * util — see util.h.
 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Upper bound on the affinity mask we try: far beyond any real machine. */
#define UTIL_MAX_CPU_BITS (1 << 20)

uint64_t
util_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

double
util_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
util_set_nonblock(int fd)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (flags & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ? -1 : 0;
}

int
util_set_cloexec(int fd, int on)
{
	int flags, want;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return -1;
	want = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	if (want == flags)
		return 0;
	return fcntl(fd, F_SETFD, want) == -1 ? -1 : 0;
}

/*
 * Read a small file whole into buf (NUL-terminated). -1 with errno on
 * failure; a file longer than the buffer is cut short, which is fine for
 * the one-line kernel files read here.
 */
static int
util_read_small(const char *path, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (n < len - 1) {
		r = read(fd, buf + n, len - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto err;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	close(fd);
	return 0;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * The CPUs in our affinity mask. The kernel rejects (EINVAL) a mask shorter
 * than its own nr_cpu_ids, so a fixed cpu_set_t (1024 bits) fails outright
 * on bigger machines: grow a dynamically sized set until it fits.
 */
static int
util_affinity_count(void)
{
	cpu_set_t *set;
	size_t size;
	int bits, n;

	for (bits = 1024; bits <= UTIL_MAX_CPU_BITS; bits *= 2) {
		if ((set = CPU_ALLOC(bits)) == NULL)
			return -1;
		size = CPU_ALLOC_SIZE(bits);
		CPU_ZERO_S(size, set);
		if (sched_getaffinity(0, size, set) == 0) {
			n = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return n;
		}
		CPU_FREE(set);
		if (errno != EINVAL)
			return -1;
	}
	return -1;
}

/*
 * The CPU limit a cgroup v2 "cpu.max" file sets: ceil(quota / period), or 0
 * for no limit. "max PERIOD" is the kernel's "no limit"; a missing or
 * malformed file is also treated as no limit, since guessing low would
 * starve the server for a parse error.
 */
static long
util_cpu_max_limit(const char *path)
{
	char buf[128], *end, *end2;
	unsigned long long quota, period, limit;

	if (util_read_small(path, buf, sizeof(buf)) == -1)
		return 0;
	if (buf[0] < '0' || buf[0] > '9')
		return 0;			/* "max 100000", or garbage */
	errno = 0;
	quota = strtoull(buf, &end, 10);
	if (errno != 0 || *end != ' ' || end[1] < '0' || end[1] > '9')
		return 0;
	period = strtoull(end + 1, &end2, 10);
	if (errno != 0 || period == 0 || (*end2 != '\n' && *end2 != '\0'))
		return 0;
	limit = quota / period + (quota % period != 0);
	if (limit < 1)
		limit = 1;
	return limit > INT_MAX ? INT_MAX : (long)limit;
}

int
util_cpu_count_from(int ncpus, const char *cgroup_root,
    const char *proc_self_cgroup)
{
	char dir[PATH_MAX], file[PATH_MAX + sizeof("/cpu.max")];
	const char *line, *path, *eol;
	size_t rootlen, pathlen = 0;
	long limit;
	int n, r;

	n = ncpus < 1 ? 1 : ncpus;
	if (cgroup_root == NULL || proc_self_cgroup == NULL)
		return n;

	/*
	 * The cgroup v2 entry is the line "0::/path". Without it we are on a
	 * pure cgroup v1 host, whose quota files we do not read.
	 */
	path = NULL;
	for (line = proc_self_cgroup; *line != '\0'; line = eol + 1) {
		eol = strchr(line, '\n');
		if (eol == NULL)
			eol = line + strlen(line);
		if (strncmp(line, "0::", 3) == 0) {
			path = line + 3;
			pathlen = (size_t)(eol - path);
			break;
		}
		if (*eol == '\0')
			break;
	}
	if (path == NULL || pathlen == 0 || path[0] != '/')
		return n;

	/*
	 * A process outside its cgroup namespace's root sees a path with "..";
	 * joined to the mount it would escape it. Only the mount's own level
	 * is meaningful then.
	 */
	if (memmem(path, pathlen, "/..", 3) != NULL)
		pathlen = 1;

	rootlen = strlen(cgroup_root);
	while (rootlen > 1 && cgroup_root[rootlen - 1] == '/')
		rootlen--;
	while (pathlen > 0 && path[pathlen - 1] == '/')
		pathlen--;
	r = snprintf(dir, sizeof(dir), "%.*s%.*s", (int)rootlen, cgroup_root,
	    (int)pathlen, path);
	if (r < 0 || (size_t)r >= sizeof(dir))
		return n;

	/*
	 * Walk from our cgroup up to the mount: a parent's quota caps all its
	 * children, so the tightest level wins. The mount itself is included
	 * because inside a container without a cgroup namespace it is the
	 * container's own cgroup.
	 */
	for (;;) {
		snprintf(file, sizeof(file), "%s/cpu.max", dir);
		limit = util_cpu_max_limit(file);
		if (limit > 0 && limit < n)
			n = (int)limit;
		if (strlen(dir) <= rootlen)
			break;
		*strrchr(dir + rootlen, '/') = '\0';
	}
	return n;
}

int
util_cpu_count(void)
{
	char cgroup[16384];
	long online;
	int n;

	if ((n = util_affinity_count()) < 1) {
		online = sysconf(_SC_NPROCESSORS_ONLN);
		n = online < 1 ? 1 : online > INT_MAX ? INT_MAX : (int)online;
	}
	if (util_read_small("/proc/self/cgroup", cgroup, sizeof(cgroup)) == -1)
		return n;
	return util_cpu_count_from(n, "/sys/fs/cgroup", cgroup);
}

char *
util_fmt_duration(double seconds, char *buf, size_t len)
{
	long long tenths, secs, mins;

	if (len == 0)
		return buf;
	/*
	 * Durations come from clock differences; clamp nonsense (NaN,
	 * negative, absurdly large) rather than hand llround an overflow.
	 */
	if (!(seconds > 0))
		seconds = 0;
	if (seconds > 1e12)
		seconds = 1e12;

	/* Round first, then pick the unit, so 59.96 prints "1m00s", not "60.0s". */
	tenths = llround(seconds * 10);
	if (tenths < 600) {
		snprintf(buf, len, "%lld.%llds", tenths / 10, tenths % 10);
		return buf;
	}
	secs = llround(seconds);
	if (secs < 3600) {
		snprintf(buf, len, "%lldm%02llds", secs / 60, secs % 60);
		return buf;
	}
	mins = llround(seconds / 60);
	snprintf(buf, len, "%lldh%02lldm", mins / 60, mins % 60);
	return buf;
}
