/*
 * backoff — when to respawn a slot whose worker died.
 *
 * A worker that ran for at least stable_after seconds died of something
 * rare: respawn at once and forget earlier deaths. A worker that dies
 * quickly again and again is respawned after a delay that doubles from
 * min up to max, with +-20% jitter so a fleet of crashing servers does not
 * restart in lock-step. The first quick death is still respawned at once.
 * A slot with loop_after quick deaths in a row is crash-looping: it is
 * still retried (never a halt), at the growing delay, up to max.
 */
#ifndef SHOAL_BACKOFF_H
#define SHOAL_BACKOFF_H

#include <stdbool.h>

struct backoff_policy {
	double min;              /* delay after the second quick death */
	double max;              /* cap */
	double stable_after;     /* uptime that resets the count */
	unsigned loop_after;     /* quick deaths in a row that mean crash-looping */
};

struct backoff {
	unsigned quick_deaths;   /* in a row */
};

/*
 * Record a death after uptime seconds and return the delay (seconds) before
 * the respawn. rnd is a uniform random number in [0, 1) for the jitter.
 */
double backoff_next(struct backoff *b, const struct backoff_policy *p,
    double uptime, double rnd);

/* True once the slot has died quickly loop_after times in a row. */
bool backoff_crash_looping(const struct backoff *b,
    const struct backoff_policy *p);

#endif
