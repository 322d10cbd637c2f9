/*
 * recycle — see recycle.h. Only reads: the decision is here, the
 * replacement is supervise.c's.
 */
#include "master/recycle.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "common/util.h"
#include "master/supervise.h"

uint64_t
recycle_rss(pid_t pid)
{
	char path[64];
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

const char *
recycle_bytes(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	double v = (double)n;
	int u = -1;

	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, n);
	else
		snprintf(buf, len, "%.*f%c", v < 10 ? 1 : 0, v, units[u]);
	return buf;
}

/* How a worker's resident set is read: recycle_rss, or a test's. */
typedef uint64_t rss_fn(pid_t pid);

/*
 * Which worker to replace now, if any: the one furthest past its limit
 * (by how many times the limit it is at), so that one that passes its
 * limit again between two ticks cannot starve the others. True with its
 * slot, the reason and the detail for the log.
 */
static bool
pick(const struct master *m, double now, rss_fn *rss_of, unsigned *slot,
    enum stats_restart *why, char *detail, size_t len)
{
	const struct config *cfg = &m->cfg;
	double score, best = 1.0;
	uint64_t requests, rss;
	char x[16], y[16];
	bool found = false;

	for (unsigned i = 0; i < m->sup.nslots; i++) {
		const struct proc *p = m->sup.slots[i].proc;

		if (p == NULL || !p->ready || p->draining || p->replaced)
			continue;
		requests = STATS_GET(m->stats->procs[p->stats_idx].requests);
		if (p->max_requests > 0 && requests >= p->max_requests &&
		    (score = (double)requests / (double)p->max_requests) >= best) {
			best = score;
			*slot = i;
			*why = STATS_RESTART_MAX_REQUESTS;
			found = true;
			snprintf(detail, len, "%" PRIu64 " requests, limit %" PRIu64,
			    requests, p->max_requests);
		}
		if (cfg->max_memory == 0 || now - p->spawned_at < RECYCLE_MIN_UPTIME)
			continue;
		rss = rss_of(p->pid);
		if (rss > cfg->max_memory &&
		    (score = (double)rss / (double)cfg->max_memory) >= best) {
			best = score;
			*slot = i;
			*why = STATS_RESTART_MAX_MEMORY;
			found = true;
			snprintf(detail, len, "resident memory %s above %s",
			    recycle_bytes(rss, x, sizeof(x)),
			    recycle_bytes(cfg->max_memory, y, sizeof(y)));
		}
	}
	return found;
}

void
recycle_tick(struct master *m)
{
	enum stats_restart why;
	char detail[96];
	unsigned slot;

	if ((m->cfg.max_requests == 0 && m->cfg.max_memory == 0) ||
	    supervise_replacing(m))
		return;
	if (pick(m, util_now(), recycle_rss, &slot, &why, detail,
	    sizeof(detail)))
		supervise_replace(m, slot, why, detail);
}
