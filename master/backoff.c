/*
 * backoff — see backoff.h. Pure policy: no clock, no randomness of its own,
 * so the unit tests can pin every case.
 */
#include "master/backoff.h"

#include <math.h>

double
backoff_next(struct backoff *b, const struct backoff_policy *p, double uptime,
    double rnd)
{
	double delay;

	if (uptime >= p->stable_after) {
		b->quick_deaths = 0;
		return 0;
	}
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

bool
backoff_crash_looping(const struct backoff *b, const struct backoff_policy *p)
{
	return b->quick_deaths >= p->loop_after;
}
