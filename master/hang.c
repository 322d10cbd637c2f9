/*
 * hang — see hang.h.
 */
#include "master/hang.h"

#include <signal.h>

#include "common/log.h"
#include "master/steer.h"

enum hang_action
hang_judge(enum hang_stage stage, double silent, double since, bool stopped,
    double timeout)
{
	switch (stage) {
	case HANG_NONE:
		if (silent <= timeout)
			return HANG_WAIT;
		return stopped ? HANG_CONTINUE : HANG_ABORT;
	case HANG_CONTINUED:
		/* A beat since the SIGCONT: it was only stopped. */
		if (silent < since)
			return HANG_RECOVER;
		return since > HANG_RESUME_GRACE ? HANG_ABORT : HANG_WAIT;
	case HANG_ABORTED:
		return since > HANG_KILL_GRACE ? HANG_KILL : HANG_WAIT;
	case HANG_KILLED:
		break;
	}
	return HANG_WAIT;
}

bool
hang_check(struct master *m, struct proc *p, uint64_t now_ms, double now)
{
	uint64_t hb = STATS_GET(m->stats->procs[p->stats_idx].heartbeat_ms);
	double silent = now_ms > hb ? (double)(now_ms - hb) / 1000.0 : 0;
	double since = now - p->hang_at;
	bool was_live = steer_proc_live(p);

	switch (hang_judge(p->hang_stage, silent, since, p->stopped,
	    m->cfg.worker_timeout)) {
	case HANG_WAIT:
		return false;
	case HANG_CONTINUE:
		log_warn("worker %u (pid %d) stopped by a signal for %.1fs; "
		    "sending SIGCONT", p->slot, (int)p->pid, silent);
		kill(p->pid, SIGCONT);
		p->hang_stage = HANG_CONTINUED;
		p->hang_at = now;
		break;
	case HANG_RECOVER:
		log_notice("worker %u (pid %d) beats again after SIGCONT", p->slot,
		    (int)p->pid);
		p->hang_stage = HANG_NONE;
		break;
	case HANG_ABORT:
		log_error("worker %u (pid %d) hung: no heartbeat for %.1fs; sending "
		    "SIGABRT", p->slot, (int)p->pid, silent);
		kill(p->pid, SIGABRT);
		kill(p->pid, SIGCONT);
		p->hang_stage = HANG_ABORTED;
		p->hang_at = now;
		break;
	case HANG_KILL:
		log_error("worker %u (pid %d) still alive %.1fs after SIGABRT; "
		    "sending SIGKILL", p->slot, (int)p->pid, since);
		kill(p->pid, SIGKILL);
		p->hang_stage = HANG_KILLED;
		break;
	}
	return was_live != steer_proc_live(p);
}
