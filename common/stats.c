/*
 * stats — see stats.h.
 */
#include "common/stats.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "common/util.h"

/* "shoalST" and a layout number: bump it when struct stats changes. */
#define STATS_MAGIC 0x73686f616c535405ull

/* Where an entry's counters start: after pid, slot, generation and state,
 * which are set one by one (the state last). */
#define STATS_BODY offsetof(struct stats_proc, heartbeat_ms)

/* From half a millisecond (a cached answer) to 10 s (a slow backend). */
const double stats_duration_le[STATS_DURATION_BUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 10,
};

const char *const stats_restart_name[STATS_RESTART_REASONS] = {
	[STATS_RESTART_CRASH] = "crash",
	[STATS_RESTART_BOOT] = "boot_failure",
	[STATS_RESTART_HANG] = "hang",
	[STATS_RESTART_MAX_REQUESTS] = "max_requests",
	[STATS_RESTART_MAX_MEMORY] = "max_memory",
};

/* The time of day in microseconds. */
static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct stats *
stats_create(int *fd)
{
	struct stats *st;
	void *p;
	int saved;

	/*
	 * A memfd rather than anonymous memory: the same sharing across fork,
	 * and an fd an upgrade can pass to the new master, which maps the
	 * very same pages.
	 */
	*fd = memfd_create("shoal-stats", MFD_CLOEXEC);
	if (*fd == -1)
		return NULL;
	if (ftruncate(*fd, (off_t)sizeof(struct stats)) == -1)
		goto err;
	p = mmap(NULL, sizeof(struct stats), PROT_READ | PROT_WRITE, MAP_SHARED,
	    *fd, 0);
	if (p == MAP_FAILED)
		goto err;
	st = p;
	st->size = sizeof(*st);
	st->magic = STATS_MAGIC;
	/* The channels' ids start at the clock (microseconds), so that after
	 * a restart they never repeat one a client has seen. */
	st->chan_seq = wall_us();
	return st;
err:
	saved = errno;
	close(*fd);
	*fd = -1;
	errno = saved;
	return NULL;
}

struct stats *
stats_adopt(int fd, char *err, size_t errlen)
{
	struct stats *st;
	struct stat sb;
	void *p;

	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "fstat(stats fd %d): %s", fd, strerror(errno));
		return NULL;
	}
	if ((size_t)sb.st_size != sizeof(struct stats)) {
		snprintf(err, errlen, "the old master's stats region is %lld bytes, "
		    "ours %zu (another layout)", (long long)sb.st_size,
		    sizeof(struct stats));
		return NULL;
	}
	p = mmap(NULL, sizeof(struct stats), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap(stats): %s", strerror(errno));
		return NULL;
	}
	st = p;
	if (st->magic != STATS_MAGIC || st->size != sizeof(*st)) {
		snprintf(err, errlen, "the old master's stats region has another "
		    "layout");
		munmap(p, sizeof(struct stats));
		return NULL;
	}
	return st;
}

void
stats_destroy(struct stats *st)
{
	if (st != NULL)
		munmap(st, sizeof(*st));
}

int
stats_alloc(struct stats *st, unsigned slot, unsigned generation)
{
	for (int i = 0; i < STATS_MAX_PROCS; i++) {
		struct stats_proc *p = &st->procs[i];
		uint64_t free_state = STATS_FREE;

		/* Claimed with a compare-and-swap: during an upgrade the old
		 * master releases entries while the new one claims them. */
		if (!__atomic_compare_exchange_n(&p->state, &free_state,
		    (uint64_t)STATS_SPAWNING, false, __ATOMIC_ACQ_REL,
		    __ATOMIC_RELAXED))
			continue;
		memset((char *)p + STATS_BODY, 0, sizeof(*p) - STATS_BODY);
		STATS_SET(p->pid, 0);
		STATS_SET(p->slot, slot);
		STATS_SET(p->generation, generation);
		STATS_SET(p->started_ms, util_now_ms());
		STATS_SET(p->heartbeat_ms, util_now_ms());
		STATS_SET(p->master_pid, getpid());
		return i;
	}
	return -1;
}

void
stats_release(struct stats *st, int idx)
{
	struct stats_proc *p;

	if (idx < 0 || idx >= STATS_MAX_PROCS)
		return;
	p = &st->procs[idx];
	__atomic_fetch_add(&st->exited.requests, STATS_GET(p->requests),
	    __ATOMIC_RELAXED);
	for (size_t i = 0; i < ARRAY_SIZE(p->responses); i++)
		__atomic_fetch_add(&st->exited.responses[i],
		    STATS_GET(p->responses[i]), __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.conns_accepted,
	    STATS_GET(p->conns_accepted), __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.bytes_in, STATS_GET(p->bytes_in),
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.bytes_out, STATS_GET(p->bytes_out),
	    __ATOMIC_RELAXED);
	for (size_t i = 0; i < ARRAY_SIZE(p->duration); i++)
		__atomic_fetch_add(&st->exited.duration[i],
		    STATS_GET(p->duration[i]), __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.duration_us, STATS_GET(p->duration_us),
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.redis_connects,
	    STATS_GET(p->redis_connects), __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.redis_commands,
	    STATS_GET(p->redis_commands), __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.redis_failed, STATS_GET(p->redis_failed),
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->exited.redis_timeouts,
	    STATS_GET(p->redis_timeouts), __ATOMIC_RELAXED);
#define FOLD(f) __atomic_fetch_add(&st->exited.f, STATS_GET(p->f), \
	    __ATOMIC_RELAXED);
	STATS_CHAN_COUNTERS(FOLD)
#undef FOLD
	/* Everything but the state, then the state: a reader that sees FREE
	 * skips the entry, one that sees it taken sees zeroes at worst. */
	memset((char *)p + STATS_BODY, 0, sizeof(*p) - STATS_BODY);
	STATS_SET(p->pid, 0);
	STATS_SET(p->slot, 0);
	STATS_SET(p->generation, 0);
	__atomic_store_n(&p->state, (uint64_t)STATS_FREE, __ATOMIC_RELEASE);
}

unsigned
stats_release_orphans(struct stats *st, pid_t master_pid)
{
	unsigned held = 0;

	for (int i = 0; i < STATS_MAX_PROCS; i++) {
		struct stats_proc *p = &st->procs[i];
		pid_t pid = (pid_t)STATS_GET(p->pid);

		if (STATS_GET(p->state) == STATS_FREE ||
		    (pid_t)STATS_GET(p->master_pid) != master_pid)
			continue;
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) {
			held++;
			continue;
		}
		stats_release(st, i);
	}
	return held;
}

void
stats_observe(struct stats_proc *p, double seconds)
{
	size_t i = 0;

	if (!(seconds >= 0))
		seconds = 0;
	while (i < ARRAY_SIZE(stats_duration_le) && seconds > stats_duration_le[i])
		i++;
	STATS_ADD(p->duration[i], 1);
	STATS_ADD(p->duration_us, (uint64_t)(seconds * 1e6 + 0.5));
}

void
stats_count_restart(struct stats *st, unsigned slot, enum stats_restart why)
{
	if (slot >= STATS_MAX_SLOTS || why >= STATS_RESTART_REASONS)
		return;
	STATS_ADD(st->restarts[slot][why], 1);
	STATS_SET(st->last_restart[slot], (uint64_t)why + 1);
}

void
stats_set_boot_error(struct stats *st, int idx, const char *why)
{
	char *dst;

	if (idx < 0 || idx >= STATS_MAX_PROCS || why == NULL)
		return;
	dst = st->procs[idx].boot_error;
	snprintf(dst, STATS_REASON_MAX, "%s", why);
}

json_t *
stats_redis_json(const struct stats_proc *p, uint64_t now_ms)
{
	static const char *const names[] = {
		[STATS_REDIS_CONNECTING] = "connecting", [STATS_REDIS_UP] = "up",
		[STATS_REDIS_DOWN] = "down",
	};
	uint64_t st = STATS_GET(p->redis_state);
	uint64_t since = STATS_GET(p->redis_since_ms);

	uint64_t sub = STATS_GET(p->redis_sub_state);
	uint64_t sub_since = STATS_GET(p->redis_sub_since_ms);
	json_t *o;

	if (st == STATS_REDIS_NONE || st >= ARRAY_SIZE(names))
		return NULL;
	o = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I}", "state", names[st],
	    "for", since != 0 && now_ms > since ?
	    (double)(now_ms - since) / 1000 : 0.0,
	    "connects", (json_int_t)STATS_GET(p->redis_connects),
	    "commands", (json_int_t)STATS_GET(p->redis_commands),
	    "failed", (json_int_t)STATS_GET(p->redis_failed),
	    "timeouts", (json_int_t)STATS_GET(p->redis_timeouts));
	if (o != NULL && sub != STATS_REDIS_NONE && sub < ARRAY_SIZE(names))
		json_object_set_new(o, "pubsub", json_pack("{s:s, s:f}", "state",
		    names[sub], "for", sub_since != 0 && now_ms > sub_since ?
		    (double)(now_ms - sub_since) / 1000 : 0.0));
	return o;
}

json_t *
stats_channels_json(const struct stats_proc *p)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "subscribers", (json_int_t)STATS_GET(p->chan_subscribers),
	    "published", (json_int_t)STATS_GET(p->chan_published),
	    "publish_failed", (json_int_t)STATS_GET(p->chan_publish_failed),
	    "received", (json_int_t)STATS_GET(p->chan_received),
	    "delivered", (json_int_t)STATS_GET(p->chan_delivered),
	    "dropped", (json_int_t)STATS_GET(p->chan_dropped),
	    "slow_closed", (json_int_t)STATS_GET(p->chan_slow_closed),
	    "relay_dropped", (json_int_t)STATS_GET(p->chan_relay_dropped));
}
