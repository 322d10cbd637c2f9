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
 *
 * That delay only protects the machine while nobody waits for the slot:
 * its steering keeps new connections away, and the other slots serve. When
 * clients do wait for it, the wait is cut short: connections that reached
 * its queue before the steering moved are served by a worker started at
 * once, and with no slot serving at all the slot is respawned after at
 * most min. A worker killed from outside (the OOM killer, an operator) is
 * not a crash loop of the code, and the master cannot tell the two apart.
 * Except when the slot's workers keep dying before they are ready
 * (loop_after boot failures in a row): then the fault is in the code or the
 * configuration, a faster retry cannot serve anyone, and the growing delay
 * stands.
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
	unsigned boot_failures;  /* in a row: died before it was ready */
};

/*
 * Record a death after uptime seconds (ready: the worker had reported
 * ready) and return the delay (seconds) before the respawn while nobody
 * waits for the slot. rnd is a uniform random number in [0, 1) for the
 * jitter.
 */
double backoff_next(struct backoff *b, const struct backoff_policy *p,
    double uptime, bool ready, double rnd);

/*
 * The delay to use instead of delay (what is left of it) once clients wait
 * for the slot: 0 when connections are queued on it, else (no slot serves)
 * at most min; delay itself when the slot is boot-looping.
 */
double backoff_waited_for(const struct backoff *b,
    const struct backoff_policy *p, double delay, bool queued);

/* True once the slot has died quickly loop_after times in a row. */
bool backoff_crash_looping(const struct backoff *b,
    const struct backoff_policy *p);

/* True once its workers have died before ready loop_after times in a row. */
bool backoff_boot_looping(const struct backoff *b,
    const struct backoff_policy *p);

#endif
