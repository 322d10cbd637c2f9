/*
 * backoff — see backoff.h. Pure policy: no clock, no randomness of its own,
 * so the unit tests can pin every case.
 */
#include "master/backoff.h"

#include <math.h>

double
backoff_next(struct backoff *b, const struct backoff_policy *p, double uptime,
    bool ready, double rnd)
{
	double delay;

	if (uptime >= p->stable_after) {
		b->quick_deaths = 0;
		b->boot_failures = 0;
		return 0;
	}
	b->boot_failures = ready ? 0 : b->boot_failures + 1;
	b->quick_deaths++;
	if (b->quick_deaths == 1)
		return 0;
	/* min * 2^(n-2), computed without overflowing for large n */
	delay = p->min * ldexp(1.0, b->quick_deaths > 60 ? 60 :
	    (int)b->quick_deaths - 2);
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
