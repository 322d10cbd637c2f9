/*
 * resources — see resources.h.
 */
#include "master/resources.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char *
resources_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;
	int lo;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n < len; c++) {
		if (!CPU_ISSET((size_t)c, set))
			continue;
		for (lo = c; c + 1 < CPU_SETSIZE && CPU_ISSET((size_t)c + 1, set);
		    c++)
			;
		n += (size_t)snprintf(buf + n, len - n, c == lo ? "%s%d" :
		    "%s%d-%d", n ? "," : "", lo, c);
	}
	return buf;
}

bool
resources_cpus(const struct config *cfg, unsigned slot,
    const cpu_set_t *allowed, cpu_set_t *out)
{
	int n, k, c;

	CPU_ZERO(out);
	if (cfg->ncpu_sets > 0) {
		CPU_OR(out, out, &cfg->cpu_sets[slot % cfg->ncpu_sets]);
		return true;
	}
	if (!cfg->cpu_affinity_auto || (n = CPU_COUNT(allowed)) == 0)
		return false;
	/* The (slot mod n)-th CPU of the mask. */
	for (k = (int)(slot % (unsigned)n), c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET((size_t)c, allowed) && k-- == 0) {
			CPU_SET((size_t)c, out);
			break;
		}
	return true;
}

int
resources_check_cpus(const struct config *cfg, char *err, size_t errlen)
{
	cpu_set_t allowed, extra;
	char have[256], bad[256];

	if (cfg->ncpu_sets == 0)
		return 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == -1) {
		snprintf(err, errlen, "worker_cpu_affinity: sched_getaffinity: %s",
		    strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < cfg->ncpu_sets; i++) {
		CPU_ZERO(&extra);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET((size_t)c, &cfg->cpu_sets[i]) &&
			    !CPU_ISSET((size_t)c, &allowed))
				CPU_SET((size_t)c, &extra);
		if (CPU_COUNT(&extra) > 0) {
			snprintf(err, errlen, "worker_cpu_affinity[%zu]: CPU %s %s not "
			    "among the CPUs shoal may use (%s)", i,
			    resources_cpulist(&extra, bad, sizeof(bad)),
			    CPU_COUNT(&extra) == 1 ? "is" : "are",
			    resources_cpulist(&allowed, have, sizeof(have)));
			return -1;
		}
	}
	return 0;
}

int
resources_pin(const struct config *cfg, unsigned slot, char *err,
    size_t errlen)
{
	cpu_set_t allowed, want;
	char list[256];

	if (cfg->ncpu_sets == 0 && !cfg->cpu_affinity_auto)
		return 0;
	/* Inherited from the master: the CPUs it was started on. */
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == -1) {
		snprintf(err, errlen, "sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	if (!resources_cpus(cfg, slot, &allowed, &want))
		return 0;
	if (sched_setaffinity(0, sizeof(want), &want) == -1) {
		snprintf(err, errlen, "worker_cpu_affinity: sched_setaffinity(%s): "
		    "%s", resources_cpulist(&want, list, sizeof(list)),
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* fs.nr_open: the most a process's limit can be; 0 if unknown. */
static unsigned long
nr_open(void)
{
	unsigned long n = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f != NULL) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

int
resources_set_limit(const struct config *cfg, char *err, size_t errlen,
    char *warn, size_t warnlen)
{
	struct rlimit rl, want;
	size_t need = cfg->http.max_connections + CONFIG_FD_RESERVE;
	unsigned long most = nr_open();

	warn[0] = '\0';
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(err, errlen, "rlimit_nofile: getrlimit: %s", strerror(errno));
		return -1;
	}
	want.rlim_cur = cfg->rlimit_nofile > 0 ? (rlim_t)cfg->rlimit_nofile :
	    rl.rlim_max;
	want.rlim_max = rl.rlim_max;
	if (want.rlim_cur > rl.rlim_max) {
		if (most > 0 && want.rlim_cur > most) {
			snprintf(err, errlen, "rlimit_nofile: %d is above the system's "
			    "most (fs.nr_open = %lu)", cfg->rlimit_nofile, most);
			return -1;
		}
		want.rlim_max = want.rlim_cur;
	}
	if (setrlimit(RLIMIT_NOFILE, &want) == -1) {
		if (want.rlim_max > rl.rlim_max)
			snprintf(err, errlen, "rlimit_nofile: %d is above the hard "
			    "limit %llu, which only root (CAP_SYS_RESOURCE) can raise: "
			    "%s", cfg->rlimit_nofile,
			    (unsigned long long)rl.rlim_max, strerror(errno));
		else
			snprintf(err, errlen, "rlimit_nofile: setrlimit(%llu): %s",
			    (unsigned long long)want.rlim_cur, strerror(errno));
		return -1;
	}
	if (want.rlim_cur < need)
		snprintf(warn, warnlen, "rlimit_nofile: the limit %llu (%s) is "
		    "below max_connections %zu + %d: a worker that runs out of "
		    "descriptors pauses accepting until connections close",
		    (unsigned long long)want.rlim_cur, cfg->rlimit_nofile > 0 ?
		    "as set" : "the hard limit", cfg->http.max_connections,
		    CONFIG_FD_RESERVE);
	return 0;
}
