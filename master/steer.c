/*
 * steer — see steer.h.
 */
#include "master/steer.h"

#include <stdio.h>

#include "common/log.h"

bool
steer_proc_live(const struct proc *p)
{
	return p != NULL && p->ready && !p->draining && !p->stopped &&
	    p->hang_stage == HANG_NONE;
}

bool
steer_slot_live(const struct master *m, unsigned slot)
{
	const struct slot *s = &m->sup.slots[slot];

	return slot < m->sup.nslots && !s->retiring &&
	    (steer_proc_live(s->proc) || steer_proc_live(s->next));
}

unsigned
steer_live_count(const struct master *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->sup.nslots; i++)
		n += steer_slot_live(m, i);
	return n;
}

/* Live for l: a live worker of a generation that accepts on l. */
static bool
live_for(const struct master *m, const struct listener *l, unsigned slot)
{
	const struct slot *s = &m->sup.slots[slot];

	if (slot >= m->sup.nslots || s->retiring)
		return false;
	return (steer_proc_live(s->proc) &&
	    ltable_serves(l, s->proc->generation)) ||
	    (steer_proc_live(s->next) && ltable_serves(l, s->next->generation));
}

/* "0 2 3" (cut short with "..." when long). */
static void
describe(const unsigned *slots, unsigned n, char *text, size_t len)
{
	size_t at = 0;

	text[0] = '\0';
	for (unsigned i = 0; i < n && at + 16 < len; i++)
		at += (size_t)snprintf(text + at, len - at, "%s%u", i ? " " : "",
		    slots[i]);
	if (n > 0 && at + 16 >= len)
		snprintf(text + at, len - at, " ...");
}

void
steer_update(struct master *m, bool force)
{
	unsigned slots[CONFIG_MAX_WORKERS], n;
	char err[256], text[160];

	/* The groups are shared with a new master, which steers them. */
	if (m->up.child != 0 || m->up.upgraded)
		return;
	for (size_t i = 0; i < m->listeners.n; i++) {
		struct listener *l = &m->listeners.v[i];

		n = 0;
		for (unsigned k = 0; k < m->sup.nslots; k++)
			if (live_for(m, l, k))
				slots[n++] = k;
		if (n == 0) {
			/* Nobody serves: let every queue wait for a replacement. */
			for (unsigned k = 0; k < m->sup.nslots; k++)
				if (!m->sup.slots[k].retiring)
					slots[n++] = k;
		}
		switch (listener_steer(l, slots, n, force, err, sizeof(err))) {
		case -1:
			log_warn("%s; new connections may reach slots without a "
			    "worker", err);
			break;
		case 1:
			describe(slots, n, text, sizeof(text));
			log_debug("%s: new connections go to slot%s %s",
			    l->addr.text, n == 1 ? "" : "s", text);
			break;
		}
	}
}
