/*
 * status — see status.h.
 */
#include "master/status.h"

#include <unistd.h>

#include "common/util.h"
#include "master/recycle.h"
#include "master/steer.h"
#include "master/supervise.h"

static const char *
proc_state(const struct proc *p)
{
	if (p->hang_stage >= HANG_ABORTED)
		return "hung";
	if (p->stopped || p->hang_stage == HANG_CONTINUED)
		return "stopped";
	if (p->draining)
		return "draining";
	if (!p->ready)
		return "spawning";
	return p->next ? "ready (new)" : "serving";
}

/* A slot: its worker's state, or why it has none. */
static const char *
slot_state(const struct slot *s)
{
	if (s->retiring)
		return "retiring";
	if (s->proc != NULL)
		return proc_state(s->proc);
	return s->respawn_at > 0 ? "waiting" : "down";
}

static const char *
operation(enum op_kind kind)
{
	switch (kind) {
	case OP_NONE: return NULL;
	case OP_RELOAD: return "reload";
	case OP_UPGRADE: return "upgrade";
	default: return "scale";
	}
}

/* Slot i's restarts: the total, and by reason (stats.h). */
static json_t *
restarts_by_reason(const struct stats *st, unsigned slot, unsigned *total)
{
	json_t *o = json_object();

	*total = 0;
	for (int r = 0; r < STATS_RESTART_REASONS; r++) {
		uint64_t n = STATS_GET(st->restarts[slot][r]);

		*total += (unsigned)n;
		json_object_set_new(o, stats_restart_name[r],
		    json_integer((json_int_t)n));
	}
	return o;
}

/* The reason of slot i's last restart, or NULL. */
static const char *
last_restart(const struct stats *st, unsigned slot)
{
	uint64_t r = STATS_GET(st->last_restart[slot]);

	return r == 0 || r > STATS_RESTART_REASONS ? NULL :
	    stats_restart_name[r - 1];
}

json_t *
status_json(struct master *m)
{
	json_t *procs = json_array(), *slots = json_array(), *st, *proc, *r;
	double now = util_now();
	uint64_t now_ms = util_now_ms();
	struct proc *p;
	uint64_t requests = m->stats->exited.requests;
	uint64_t accepted = m->stats->exited.conns_accepted;
	unsigned total;

	TAILQ_FOREACH(p, &m->sup.procs, entry) {
		struct stats_proc *sp = &m->stats->procs[p->stats_idx];
		struct slot *s = &m->sup.slots[p->slot];
		json_t *by = restarts_by_reason(m->stats, p->slot, &total);

		requests += STATS_GET(sp->requests);
		accepted += STATS_GET(sp->conns_accepted);
		proc = json_pack("{s:i, s:i, s:i, s:s, "
		    "s:f, s:i, s:o, s:s?, s:I, s:I, s:I, s:I, s:b}",
		    "slot", (int)p->slot, "pid", (int)p->pid,
		    "generation", (int)p->generation, "state", proc_state(p),
		    "uptime", now - p->spawned_at, "restarts", (int)total,
		    "restarts_by_reason", by, "last_restart", last_restart(m->stats,
		    p->slot),
		    "requests", (json_int_t)STATS_GET(sp->requests),
		    "connections", (json_int_t)STATS_GET(sp->conns_open),
		    "accepted", (json_int_t)STATS_GET(sp->conns_accepted),
		    "rss", (json_int_t)recycle_rss(p->pid),
		    "crash_looping", s->crash_looping);
		if (proc != NULL && (r = stats_redis_json(sp, now_ms)) != NULL)
			json_object_set_new(proc, "redis", r);
		if (proc != NULL && (r = stats_channels_json(sp)) != NULL)
			json_object_set_new(proc, "channels", r);
		json_array_append_new(procs, proc);
	}
	for (unsigned i = 0; i < m->sup.nslots_total; i++) {
		struct slot *s = &m->sup.slots[i];
		json_t *by = restarts_by_reason(m->stats, i, &total);
		double wait = s->respawn_at > now ? s->respawn_at - now : 0;

		json_array_append_new(slots, json_pack("{s:i, s:i, s:s, s:b, s:i, "
		    "s:o, s:s?, s:s?, s:i, s:b, s:b, s:f}",
		    "slot", (int)i, "pid", s->proc ? (int)s->proc->pid : 0,
		    "state", slot_state(s), "live", steer_slot_live(m, i),
		    "restarts", (int)total, "restarts_by_reason", by,
		    "last_restart", last_restart(m->stats, i),
		    "last_exit", s->last_exit[0] ? s->last_exit : NULL,
		    "quick_deaths", (int)s->backoff.quick_deaths,
		    "crash_looping", s->crash_looping, "retiring", s->retiring,
		    "respawn_in", wait));
	}
	st = json_pack("{s:i, s:i, s:s, s:s, s:f, s:i, s:i, s:s?, s:i, "
	    "s:s, s:o, s:o, s:{s:I, s:I}}",
	    "v", 1, "pid", (int)getpid(), "version", SHOAL_VERSION,
	    "state", m->state == MASTER_STOPPING ? "stopping" :
	    m->state == MASTER_RUNNING ? "running" : "starting",
	    "uptime", now - m->started_at, "generation", (int)m->ops.generation,
	    "workers", (int)m->sup.nslots,
	    "operation", operation(m->ops.op.kind),
	    "draining", (int)supervise_any_draining(m),
	    "config", m->cfg.source ? m->cfg.source : "",
	    "slots", slots, "processes", procs,
	    "totals", "requests", (json_int_t)requests,
	    "accepted", (json_int_t)accepted);
	if (st != NULL && m->cfg.redis.address != NULL)
		json_object_set_new(st, "redis", json_pack("{s:s}", "address",
		    m->cfg.redis.address));
	return st;
}
