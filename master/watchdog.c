/*
 * watchdog — see watchdog.h.
 */
#include "master/watchdog.h"

#include <stdint.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "master/supervise.h"

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	char why[160];

	(void)fd;
	(void)what;
	/* Starting (a start that cannot boot its workers exits by itself)
	 * and stopping, workers are missing on purpose: ping regardless. */
	if (m->state == MASTER_RUNNING &&
	    !supervise_healthy(m, m->cfg.worker_timeout, why, sizeof(why))) {
		if (!m->wd.silent)
			log_error("watchdog: not telling systemd all is well: %s", why);
		m->wd.silent = true;
		return;
	}
	if (m->wd.silent)
		log_notice("watchdog: workers healthy again");
	m->wd.silent = false;
	sd_notify(0, "WATCHDOG=1");
	m->wd.pings++;
}

int
watchdog_init(struct master *m)
{
	uint64_t usec = 0;
	struct timeval tv;

	/* 0: not asked (no WATCHDOG_USEC, or WATCHDOG_PID names another). */
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	m->wd.interval = (double)usec / 2e6;
	m->wd.ev = event_new(m->base, -1, EV_PERSIST, on_timer, m);
	if (m->wd.ev == NULL)
		return -1;
	tv.tv_sec = (time_t)(usec / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	if (event_add(m->wd.ev, &tv) == -1)
		return -1;
	log_info("watchdog: telling systemd all is well every %.3gs",
	    m->wd.interval);
	return 0;
}

void
watchdog_free(struct master *m)
{
	if (m->wd.ev != NULL)
		event_free(m->wd.ev);
	m->wd.ev = NULL;
}
