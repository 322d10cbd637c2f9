/*
 * backoff — see backoff.h. Pure policy: no clock, no randomness of its own,
 * so the unit tests can pin every case.
 */
#include "master/backoff.h"

#include <math.h>
#include <string.h>

double
backoff_next(struct backoff *b, const struct backoff_policy *p, double uptime,
    enum backoff_life life, double rnd)
{
	double delay;

	if (uptime >= p->stable_after) {
		memset(b, 0, sizeof(*b));
		return 0;
	}
	b->quick_deaths++;
	b->boot_failures = life == BACKOFF_BOOT_FAILED ? b->boot_failures + 1 : 0;
	if (life == BACKOFF_SERVED) {
		/* At once, but at most one spawn per min. */
		b->fruitless = 0;
		return uptime < p->min ? p->min - uptime : 0;
	}
	b->fruitless++;
	if (b->fruitless == 1)
		return 0;
	/* min * 2^(n-2), computed without overflowing for large n */
	delay = p->min * ldexp(1.0, b->fruitless > 60 ? 60 :
	    (int)b->fruitless - 2);
	if (delay > p->max)
		delay = p->max;
	delay *= 0.8 + 0.4 * rnd;
	return delay > p->max ? p->max : delay;
}

double
backoff_waited_for(const struct backoff *b, const struct backoff_policy *p,
    double delay, bool queued)
{
	if (backoff_boot_looping(b, p))
		return delay;
	if (queued)
		return 0;
	return delay < p->min ? delay : p->min;
}

bool
backoff_crash_looping(const struct backoff *b, const struct backoff_policy *p)
{
	return b->quick_deaths >= p->loop_after;
}

bool
backoff_boot_looping(const struct backoff *b, const struct backoff_policy *p)
{
	return b->boot_failures >= p->loop_after;
}
