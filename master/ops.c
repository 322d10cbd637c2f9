/*
 * ops — reload and scale: operations that start a new set of workers next
 * to the serving ones and commit only once every new worker is ready.
 *
 * One operation at a time. A request that arrives while one runs, or while
 * an older generation still drains, waits in a queue, so at most one old
 * generation ever drains. Each operation ends in a commit (the new workers
 * serve, the replaced ones drain) or a rollback (the new workers are killed
 * and whatever was opened for them is closed; the serving ones never
 * noticed), and its requester is told which.
 *
 *   reload      new config -> new generation on every slot (same sockets)
 *   scale up    new slots: sockets join the reuseport groups, then workers
 *   scale down  steer new connections away from the retiring slots, let
 *               their workers empty their queues and drain, then close
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"

static void ops_next(struct master *m);

static const char *
op_name(enum op_kind kind)
{
	switch (kind) {
	case OP_RELOAD: return "reload";
	case OP_SCALE_UP: return "scale";
	case OP_SCALE_DOWN: return "scale";
	case OP_UPGRADE: return "upgrade";
	default: return "none";
	}
}

static void
steer_all(struct master *m, unsigned n)
{
	char err[256];

	if (ltable_steer(&m->listeners, n, err, sizeof(err)) == -1)
		log_warn("%s; new connections may reach retiring slots", err);
}

static void
op_end(struct master *m)
{
	if (m->op.timer != NULL)
		evtimer_del(m->op.timer);
	if (m->op.has_next_cfg)
		config_free(&m->op.next_cfg);
	m->op.has_next_cfg = false;
	m->op.kind = OP_NONE;
	m->op.req = NULL;
	m->op.opened_listeners = 0;
}

static void
arm_timer(struct master *m, double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(m->op.timer, &tv);
}

/* Kill the new workers and close what was opened for them. */
static void
rollback(struct master *m, const char *why)
{
	struct op *op = &m->op;

	for (unsigned i = 0; i < m->nslots_total; i++) {
		struct slot *s = &m->slots[i];

		if (s->next != NULL) {
			/* Reaped later as an ordinary draining worker: it must
			 * not fail the next operation, which waits for it. */
			s->next->next = false;
			s->next->draining = true;
			kill(s->next->pid, SIGKILL);
			s->next = NULL;
		}
	}
	/* Sockets grown for new slots: nothing accepted on them yet. */
	ltable_shrink(&m->listeners, m->nslots_total);
	ltable_drop_newest(&m->listeners, op->opened_listeners);
	op->opened_listeners = 0;
	ltable_unretire(&m->listeners);
	log_error("%s failed: %s; rolled back, generation %u still serving",
	    op_name(op->kind), why, m->generation);
	if (op->kind == OP_RELOAD)
		sd_notifyf(0, "READY=1\nSTATUS=reload failed: %s", why);
	control_reply(op->req, false, "%s failed: %s; rolled back, generation "
	    "%u still serving", op_name(op->kind), why, m->generation);
	op_end(m);
	ops_next(m);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	char why[128];

	(void)fd;
	(void)what;
	if (m->op.kind == OP_UPGRADE) {
		upgrade_abort(m, "the new master was not ready in time");
		return;
	}
	snprintf(why, sizeof(why), "new workers not ready within %.1fs",
	    m->op.has_next_cfg ? m->op.next_cfg.ready_timeout :
	    m->cfg.ready_timeout);
	rollback(m, why);
}

/* Spawn the next workers of slots [from, to) with cfg. */
static int
spawn_next(struct master *m, unsigned from, unsigned to,
    const struct config *cfg, char *err, size_t errlen)
{
	for (unsigned i = from; i < to; i++)
		if (supervise_spawn(m, &m->slots[i], cfg, m->op.generation,
		    true) == -1) {
			snprintf(err, errlen, "cannot spawn worker %u", i);
			return -1;
		}
	return 0;
}

static int
grow_sockets(struct master *m, unsigned n, char *err, size_t errlen)
{
	return ltable_grow(&m->listeners, n, m->cfg.backlog, err, errlen);
}

static void
start_reload(struct master *m)
{
	struct op *op = &m->op;
	struct config *nc = &op->next_cfg;
	struct ltable_plan plan;
	char err[1024];
	unsigned n;

	log_notice("reload: reading %s", m->config_path ? m->config_path :
	    "the embedded default configuration");
	if (config_load(nc, m->config_path, m->overrides, err,
	    sizeof(err)) == -1) {
		log_error("reload: %s; still serving generation %u unchanged",
		    err, m->generation);
		control_reply(op->req, false, "%s", err);
		op_end(m);
		return;
	}
	op->has_next_cfg = true;
	/* Every address in use now stays open until the old generation has
	 * gone: the new ones must fit beside them, or nothing starts. */
	if (ltable_plan(&m->listeners, nc->listen, nc->nlisten, m->generation,
	    &plan, err, sizeof(err)) == -1) {
		log_error("reload: %s; still serving generation %u unchanged",
		    err, m->generation);
		control_reply(op->req, false, "%s", err);
		op_end(m);
		return;
	}
	sd_notify(0, "RELOADING=1");
	n = nc->workers_auto ? (unsigned)util_cpu_count() : (unsigned)nc->workers;
	op->next_nslots = n;

	/* Addresses: kept ones keep their sockets; new ones are bound now for
	 * every slot; removed ones serve the old generation until it is gone. */
	op->generation = m->generation + 1;
	ltable_retire_missing(&m->listeners, nc->listen, nc->nlisten,
	    op->generation);
	for (size_t j = 0; j < nc->nlisten; j++) {
		if (ltable_find(&m->listeners, nc->listen[j].text) != NULL)
			continue;
		if (ltable_open(&m->listeners, &nc->listen[j],
		    m->nslots_total > n ? m->nslots_total : n, nc->backlog, err,
		    sizeof(err)) == -1)
			goto fail;
		op->opened_listeners++;
		log_notice("reload: listening on %s", nc->listen[j].text);
	}
	if (n > m->nslots_total && grow_sockets(m, n, err, sizeof(err)) == -1)
		goto fail;
	if (spawn_next(m, 0, n, nc, err, sizeof(err)) == -1)
		goto fail;
	arm_timer(m, nc->ready_timeout);
	return;
fail:
	rollback(m, err);
}

/*
 * Slots [from, to) go away: their workers empty their sockets' queues
 * (new connections were steered off them before), then drain; the sockets
 * close once the workers are gone (collect).
 */
static void
retire_slots(struct master *m, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		struct slot *s = &m->slots[i];

		s->retiring = true;
		if (s->respawn_ev != NULL)
			evtimer_del(s->respawn_ev);
		if (s->proc == NULL)
			continue;
		s->proc->draining = true;
		STATS_SET(m->stats->procs[s->proc->stats_idx].state,
		    STATS_DRAINING);
		if (ipc_send(s->proc->ipc_fd, IPC_MSG_RETIRE, NULL) == -1)
			kill(s->proc->pid, SIGTERM);
	}
}

static void
start_scale(struct master *m, unsigned n)
{
	struct op *op = &m->op;
	char err[512];

	if (n < 1 || n > CONFIG_MAX_WORKERS) {
		control_reply(op->req, false, "scale: %u is not from 1 to %d", n,
		    CONFIG_MAX_WORKERS);
		op_end(m);
		return;
	}
	op->next_nslots = n;
	if (n == m->nslots) {
		control_reply(op->req, true, "already %u workers", n);
		op_end(m);
		return;
	}
	if (n > m->nslots) {
		op->kind = OP_SCALE_UP;
		op->generation = m->generation;
		log_notice("scale: %u -> %u workers", m->nslots, n);
		if (grow_sockets(m, n, err, sizeof(err)) == -1 ||
		    spawn_next(m, m->nslots, n, &m->cfg, err, sizeof(err)) == -1) {
			rollback(m, err);
			return;
		}
		arm_timer(m, m->cfg.ready_timeout);
		return;
	}
	/* Down: first steer new connections to the slots that stay. */
	op->kind = OP_SCALE_DOWN;
	log_notice("scale: %u -> %u workers; retiring slots %u..%u", m->nslots,
	    n, n, m->nslots - 1);
	steer_all(m, n);
	retire_slots(m, n, m->nslots);
	m->nslots = n;
	ops_on_exit(m);
}

static void
commit(struct master *m)
{
	struct op *op = &m->op;
	unsigned n = op->next_nslots, old_gen = m->generation;

	evtimer_del(op->timer);
	/* First steer new connections to the slots that serve from now on
	 * (a reload to fewer workers retires the others below). */
	steer_all(m, n);
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &m->slots[i];
		struct proc *old = s->proc;

		if (s->next == NULL)     /* scale-up: the slots that stay */
			continue;
		s->proc = s->next;
		s->next = NULL;
		s->proc->next = false;
		s->backoff.quick_deaths = 0;
		s->crash_looping = false;
		s->retiring = false;
		if (s->respawn_ev != NULL)
			evtimer_del(s->respawn_ev);
		if (old != NULL)
			supervise_drain(m, old, false);
	}
	if (op->kind == OP_RELOAD) {
		/* Slots beyond the new count retire like a scale-down. */
		retire_slots(m, n, m->nslots);
		config_free(&m->cfg);
		m->cfg = op->next_cfg;
		op->has_next_cfg = false;
		m->generation = op->generation;
		log_set_level((enum log_level)m->cfg.log_level);
	}
	m->nslots = n;
	if (m->nslots_total < n)
		m->nslots_total = n;
	if (op->kind == OP_RELOAD) {
		log_notice("reload: generation %u serving with %u workers; "
		    "generation %u draining", m->generation, n, old_gen);
		sd_notifyf(0, "READY=1\nSTATUS=generation %u, %u workers",
		    m->generation, n);
		control_reply(op->req, true, "reloaded: generation %u serving with "
		    "%u workers", m->generation, n);
	} else {
		log_notice("scale: %u workers serving", n);
		control_reply(op->req, true, "scaled to %u workers", n);
	}
	op_end(m);
	ops_on_exit(m);
}

void
ops_on_ready(struct master *m, struct proc *p)
{
	(void)p;
	if (m->op.kind != OP_RELOAD && m->op.kind != OP_SCALE_UP)
		return;
	for (unsigned i = 0; i < m->op.next_nslots; i++) {
		struct slot *s = &m->slots[i];

		if (m->op.kind == OP_SCALE_UP && i < m->nslots)
			continue;
		if (s->next == NULL || !s->next->ready)
			return;
	}
	commit(m);
}

void
ops_on_boot_failure(struct master *m, const char *what)
{
	if (m->op.kind == OP_RELOAD || m->op.kind == OP_SCALE_UP)
		rollback(m, what);
}

/* Close what retired slots and removed addresses leave behind. */
static void
collect(struct master *m)
{
	unsigned top = m->nslots_total, oldest = UINT_MAX;
	struct proc *p;

	while (top > m->nslots && m->slots[top - 1].proc == NULL &&
	    m->slots[top - 1].next == NULL)
		top--;
	if (top < m->nslots_total) {
		for (unsigned i = top; i < m->nslots_total; i++)
			m->slots[i].retiring = false;
		ltable_shrink(&m->listeners, top);
		log_info("closed the sockets of slots %u..%u", top,
		    m->nslots_total - 1);
		m->nslots_total = top;
	}
	/* A removed address closes once no worker that serves it is left. */
	TAILQ_FOREACH(p, &m->procs, entry)
		if (p->generation < oldest)
			oldest = p->generation;
	for (size_t i = 0; m->op.kind == OP_NONE && i < m->listeners.n; ) {
		struct listener *l = &m->listeners.v[i];

		if (!ltable_unused(l, oldest)) {
			i++;
			continue;
		}
		log_notice("no longer listening on %s", l->addr.text);
		ltable_remove(&m->listeners, i);
	}
}

void
ops_on_exit(struct master *m)
{
	collect(m);
	if (m->op.kind == OP_SCALE_DOWN && m->nslots_total == m->nslots) {
		log_notice("scale: %u workers serving", m->nslots);
		control_reply(m->op.req, true, "scaled to %u workers", m->nslots);
		op_end(m);
	}
	ops_next(m);
}

static void
start(struct master *m, struct pending *pe)
{
	struct op *op = &m->op;
	char err[512];
	unsigned target;

	memset(&op->next_cfg, 0, sizeof(op->next_cfg));
	op->kind = pe->kind;
	op->req = pe->req;
	op->opened_listeners = 0;
	if (op->timer == NULL &&
	    (op->timer = evtimer_new(m->base, on_timeout, m)) == NULL) {
		control_reply(op->req, false, "out of memory");
		op_end(m);
		return;
	}
	switch (pe->kind) {
	case OP_RELOAD:
		start_reload(m);
		break;
	case OP_SCALE_UP:
	case OP_SCALE_DOWN:
		target = pe->arg;
		if (pe->delta > 0)
			target = m->nslots + 1;
		else if (pe->delta < 0)
			target = m->nslots > 1 ? m->nslots - 1 : 1;
		start_scale(m, target);
		break;
	case OP_UPGRADE:
		if (upgrade_start(m, pe->binary[0] ? pe->binary : NULL, err,
		    sizeof(err)) == -1) {
			log_error("upgrade failed: %s; carrying on", err);
			control_reply(op->req, false, "upgrade failed: %s", err);
			op_end(m);
			return;
		}
		arm_timer(m, m->cfg.ready_timeout);
		break;
	default:
		op_end(m);
		break;
	}
}

/* Start the next queued request once nothing runs and nothing drains. */
static void
ops_next(struct master *m)
{
	struct pending *pe;

	while (m->op.kind == OP_NONE && m->state == MASTER_RUNNING &&
	    !supervise_any_draining(m) && m->nslots_total == m->nslots &&
	    (pe = TAILQ_FIRST(&m->pending)) != NULL) {
		TAILQ_REMOVE(&m->pending, pe, entry);
		start(m, pe);
		free(pe);
	}
}

void
ops_request(struct master *m, enum op_kind kind, unsigned arg, int delta,
    const char *binary, struct control_req *req)
{
	struct pending *pe;

	if (m->state == MASTER_STOPPING) {
		control_reply(req, false, "shoal is stopping");
		return;
	}
	if ((pe = calloc(1, sizeof(*pe))) == NULL) {
		control_reply(req, false, "out of memory");
		return;
	}
	pe->kind = kind;
	pe->arg = arg;
	pe->delta = delta;
	pe->req = req;
	if (binary != NULL)
		snprintf(pe->binary, sizeof(pe->binary), "%s", binary);
	if (m->op.kind != OP_NONE || supervise_any_draining(m))
		log_info("%s queued behind the %s in progress", op_name(kind),
		    m->op.kind != OP_NONE ? op_name(m->op.kind) : "drain");
	TAILQ_INSERT_TAIL(&m->pending, pe, entry);
	ops_next(m);
}

void
ops_resume(struct master *m)
{
	ops_next(m);
}

void
ops_finish(struct master *m)
{
	op_end(m);
	ops_next(m);
}

void
ops_free(struct master *m)
{
	struct pending *pe;

	while ((pe = TAILQ_FIRST(&m->pending)) != NULL) {
		TAILQ_REMOVE(&m->pending, pe, entry);
		control_reply(pe->req, false, "shoal stopped");
		free(pe);
	}
	if (m->op.kind != OP_NONE)
		control_reply(m->op.req, false, "shoal stopped");
	op_end(m);
	if (m->op.timer != NULL)
		event_free(m->op.timer);
	m->op.timer = NULL;
}
