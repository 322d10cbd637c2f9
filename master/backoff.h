/*
 * backoff — when to respawn a slot whose worker died.
 *
 * A worker that ran for at least stable_after seconds died of something
 * rare: respawn at once and forget earlier deaths. A death before that is
 * quick; a slot with loop_after quick deaths in a row is crash-looping (the
 * master logs it and `status` shows it), whatever its workers did.
 *
 * How long the slot then waits depends on what its last worker achieved:
 *
 *   it answered requests   it was useful, and whoever killed it (the OOM
 *                          killer, an operator, a crash on one request)
 *                          left clients without it: respawn at once, but no
 *                          sooner than min after the last spawn, so a slot
 *                          forks at most once per min
 *   it answered nothing    (died before ready, or ready but idle) a retry
 *                          is likely to fare the same: the first is at once,
 *                          then the delay doubles from min up to max, with
 *                          +-20% jitter so a fleet does not restart in
 *                          lock-step; never a halt
 *
 * That delay only protects the machine while nobody waits for the slot:
 * its steering keeps new connections away, and the other slots serve. When
 * clients do wait for it, the wait is cut short: connections that reached
 * its queue before the steering moved are served by a worker started at
 * once, and with no slot serving at all the slot is respawned after at
 * most min. Except when the slot's workers keep dying before they are ready
 * (loop_after boot failures in a row): then the fault is in the code or the
 * configuration, a faster retry cannot serve anyone, and the delay stands.
 */
#ifndef SHOAL_BACKOFF_H
#define SHOAL_BACKOFF_H

#include <stdbool.h>

struct backoff_policy {
	double min;              /* the shortest delay, and the doubling's start */
	double max;              /* cap */
	double stable_after;     /* uptime that resets the counts */
	unsigned loop_after;     /* quick deaths in a row that mean crash-looping */
};

/* What a worker achieved before it died. */
enum backoff_life {
	BACKOFF_BOOT_FAILED,     /* never reported ready */
	BACKOFF_IDLE,            /* ready, but answered no request */
	BACKOFF_SERVED,          /* answered requests */
};

struct backoff {
	unsigned quick_deaths;   /* in a row */
	unsigned fruitless;      /* in a row: died having answered nothing */
	unsigned boot_failures;  /* in a row: died before it was ready */
};

/*
 * Record a death after uptime seconds and return the delay (seconds) before
 * the respawn while nobody waits for the slot. rnd is a uniform random
 * number in [0, 1) for the jitter.
 */
double backoff_next(struct backoff *b, const struct backoff_policy *p,
    double uptime, enum backoff_life life, double rnd);

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
