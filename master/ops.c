/*
 * ops — reload and scale: operations that start a new set of workers next
 * to the serving ones and commit only once every new worker is ready.
 *
 * One operation at a time. A request that arrives while one runs, or while
 * an older generation still drains, waits in a queue, so at most one old
 * generation ever drains. Each operation ends in a commit (the new workers
 * serve, the replaced ones drain) or a rollback (the new workers are killed
 * and whatever was opened for them is closed; the serving ones never
 * noticed), and its requester's callback is told which.
 *
 *   reload      new config (checked as a start checks it: preflight.c) ->
 *               new generation on every slot (same sockets)
 *   scale up    new slots: sockets join the reuseport groups, then workers
 *   scale down  steer new connections away from the retiring slots, let
 *               their workers empty their queues and drain, then close
 *   upgrade     upgrade.c runs it; ops queues it, times it and answers
 */
#include "master/ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/util.h"
#include "master/preflight.h"
#include "master/supervise.h"
#include "master/upgrade.h"

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

/* Answer whoever waits for the current operation (once). */
static void __attribute__((format(printf, 3, 4)))
reply(struct master *m, bool ok, const char *fmt, ...)
{
	struct op *op = &m->ops.op;
	ops_done_fn *done = op->done;
	char text[1024];
	va_list ap;

	if (done == NULL)
		return;
	op->done = NULL;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	done(op->done_arg, ok, text);
}

static void
op_end(struct master *m)
{
	struct op *op = &m->ops.op;

	if (m->ops.timer != NULL)
		evtimer_del(m->ops.timer);
	if (op->has_next_cfg)
		config_free(&op->next_cfg);
	op->has_next_cfg = false;
	op->kind = OP_NONE;
	op->done = NULL;
	op->done_arg = NULL;
	op->opened_listeners = 0;
}

static void
arm_timer(struct master *m, double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(m->ops.timer, &tv);
}

/* Kill the new workers and close what was opened for them. */
static void
rollback(struct master *m, const char *why)
{
	struct op *op = &m->ops.op;
	unsigned gen = m->ops.generation;

	supervise_discard_next(m);
	/* Sockets grown for new slots: nothing accepted on them yet. */
	ltable_shrink(&m->listeners, m->sup.nslots_total);
	ltable_drop_newest(&m->listeners, op->opened_listeners);
	op->opened_listeners = 0;
	ltable_unretire(&m->listeners);
	log_error("%s failed: %s; rolled back, generation %u still serving",
	    op_name(op->kind), why, gen);
	if (op->kind == OP_RELOAD)
		sd_notifyf(0, "READY=1\nSTATUS=reload failed: %s", why);
	reply(m, false, "%s failed: %s; rolled back, generation %u still "
	    "serving", op_name(op->kind), why, gen);
	op_end(m);
	ops_next(m);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	struct op *op = &m->ops.op;
	char why[128];

	(void)fd;
	(void)what;
	if (op->kind == OP_UPGRADE) {
		/* upgrade.c answers through upgrade_done */
		upgrade_abort(m, "the new master was not ready in time");
		return;
	}
	snprintf(why, sizeof(why), "new workers not ready within %.1fs",
	    op->has_next_cfg ? op->next_cfg.ready_timeout :
	    m->cfg.ready_timeout);
	rollback(m, why);
}

/* Spawn the next workers of slots [from, to) with cfg. */
static int
spawn_next(struct master *m, unsigned from, unsigned to,
    const struct config *cfg, char *err, size_t errlen)
{
	for (unsigned i = from; i < to; i++)
		if (supervise_spawn(m, i, cfg, m->ops.op.generation, true) == -1) {
			snprintf(err, errlen, "cannot spawn worker %u", i);
			return -1;
		}
	return 0;
}

static void
start_reload(struct master *m)
{
	struct op *op = &m->ops.op;
	struct config *nc = &op->next_cfg;
	struct ltable_plan plan;
	unsigned n, gen = m->ops.generation, total = m->sup.nslots_total;
	char err[1024], warn[512];

	log_notice("reload: reading %s", m->config_path ? m->config_path :
	    "the embedded default configuration");
	if (config_load(nc, m->config_path, m->overrides, err,
	    sizeof(err)) == -1)
		goto refuse;
	op->has_next_cfg = true;
	/* What the new workers would fail at boot (a log they cannot open, a
	 * user that cannot be switched to) fails the reload instead; the new
	 * logs are handed to the new user. */
	if (preflight_run(nc, PREFLIGHT_RELOAD, err, sizeof(err), warn,
	    sizeof(warn)) == -1)
		goto refuse;
	if (warn[0] != '\0')
		log_warn("reload: %s", warn);
	/* Every address in use now stays open until the old generation has
	 * gone: the new ones must fit beside them, or nothing starts. */
	if (ltable_plan(&m->listeners, nc->listen, nc->nlisten, gen, &plan, err,
	    sizeof(err)) == -1)
		goto refuse;
	sd_notify(0, "RELOADING=1");
	n = nc->workers_auto ? (unsigned)util_cpu_count() : (unsigned)nc->workers;
	/* A count set by scale stands as long as the file's "workers" is what
	 * it was: a reload applies the file's changes, not its old value. */
	if (m->ops.scaled != 0 && nc->workers == m->cfg.workers) {
		log_notice("reload: keeping the %u worker%s set by scale (\"workers\" "
		    "unchanged)", m->ops.scaled, m->ops.scaled == 1 ? "" : "s");
		n = m->ops.scaled;
	}
	op->next_nslots = n;

	/* Addresses: kept ones keep their sockets; new ones are bound now for
	 * every slot; removed ones serve the old generation until it is gone. */
	op->generation = gen + 1;
	ltable_retire_missing(&m->listeners, nc->listen, nc->nlisten,
	    op->generation);
	for (size_t j = 0; j < nc->nlisten; j++) {
		if (ltable_find(&m->listeners, nc->listen[j].text) != NULL)
			continue;
		if (ltable_open(&m->listeners, &nc->listen[j], total > n ? total : n,
		    nc->backlog, err, sizeof(err)) == -1)
			goto fail;
		op->opened_listeners++;
		log_notice("reload: listening on %s", nc->listen[j].text);
	}
	if (n > total && ltable_grow(&m->listeners, n, m->cfg.backlog, err,
	    sizeof(err)) == -1)
		goto fail;
	if (spawn_next(m, 0, n, nc, err, sizeof(err)) == -1)
		goto fail;
	arm_timer(m, nc->ready_timeout);
	return;
refuse:                          /* nothing was started */
	log_error("reload: %s; still serving generation %u unchanged", err, gen);
	reply(m, false, "%s", err);
	op_end(m);
	return;
fail:                            /* undo what was started */
	rollback(m, err);
}

static void
start_scale(struct master *m, unsigned n)
{
	struct op *op = &m->ops.op;
	unsigned had = m->sup.nslots;
	char err[512];

	if (n < 1 || n > CONFIG_MAX_WORKERS) {
		reply(m, false, "scale: %u is not from 1 to %d", n,
		    CONFIG_MAX_WORKERS);
		op_end(m);
		return;
	}
	op->next_nslots = n;
	if (n == had) {
		log_info("scale: already %u worker%s", n, n == 1 ? "" : "s");
		reply(m, true, "already %u workers", n);
		op_end(m);
		return;
	}
	if (n > had) {
		op->kind = OP_SCALE_UP;
		op->generation = m->ops.generation;
		log_notice("scale: %u -> %u workers", had, n);
		if (ltable_grow(&m->listeners, n, m->cfg.backlog, err,
		    sizeof(err)) == -1 ||
		    spawn_next(m, had, n, &m->cfg, err, sizeof(err)) == -1) {
			rollback(m, err);
			return;
		}
		arm_timer(m, m->cfg.ready_timeout);
		return;
	}
	/* Down: first steer new connections to the slots that stay. */
	op->kind = OP_SCALE_DOWN;
	log_notice("scale: %u -> %u workers; retiring slots %u..%u", had, n, n,
	    had - 1);
	/* supervise_retire first steers new connections away from them. */
	supervise_retire(m, n, had);
	supervise_resize(m, n);
	ops_on_exit(m);
}

static void
commit(struct master *m)
{
	struct op *op = &m->ops.op;
	unsigned n = op->next_nslots, old_gen = m->ops.generation;

	evtimer_del(m->ops.timer);
	/* Each of these re-steers new connections to the live slots (a reload
	 * to fewer workers retires the others below). */
	supervise_promote(m, 0, n);
	if (op->kind == OP_RELOAD) {
		/* Slots beyond the new count retire like a scale-down. */
		supervise_retire(m, n, m->sup.nslots);
		if (op->next_cfg.workers != m->cfg.workers)
			m->ops.scaled = 0;   /* the file's new count wins */
		config_free(&m->cfg);
		m->cfg = op->next_cfg;
		op->has_next_cfg = false;
		m->ops.generation = op->generation;
		log_set_level((enum log_level)m->cfg.log_level);
	}
	supervise_resize(m, n);
	if (op->kind == OP_RELOAD) {
		log_notice("reload: generation %u serving with %u workers; "
		    "generation %u draining", m->ops.generation, n, old_gen);
		sd_notifyf(0, "READY=1\nSTATUS=generation %u, %u workers",
		    m->ops.generation, n);
		reply(m, true, "reloaded: generation %u serving with %u workers",
		    m->ops.generation, n);
	} else {
		m->ops.scaled = n;
		log_notice("scale: %u workers serving", n);
		reply(m, true, "scaled to %u workers", n);
	}
	op_end(m);
	ops_on_exit(m);
}

void
ops_on_ready(struct master *m, struct proc *p)
{
	struct op *op = &m->ops.op;

	(void)p;
	if (op->kind != OP_RELOAD && op->kind != OP_SCALE_UP)
		return;
	/* A scale-up waits for its new slots only. */
	if (supervise_next_ready(m, op->kind == OP_SCALE_UP ? m->sup.nslots : 0,
	    op->next_nslots))
		commit(m);
}

void
ops_on_next_failed(struct master *m, const char *what)
{
	if (m->ops.op.kind == OP_RELOAD || m->ops.op.kind == OP_SCALE_UP)
		rollback(m, what);
}

/* Close what retired slots and removed addresses leave behind. */
static void
collect(struct master *m)
{
	unsigned had = m->sup.nslots_total, top = supervise_trim(m), oldest;

	if (top < had) {
		ltable_shrink(&m->listeners, top);
		log_info("closed the sockets of slots %u..%u", top, had - 1);
	}
	if (m->ops.op.kind != OP_NONE)
		return;
	/* A removed address closes once no worker that serves it is left. */
	oldest = supervise_oldest_generation(m);
	for (size_t i = 0; i < m->listeners.n; ) {
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
	if (m->ops.op.kind == OP_SCALE_DOWN &&
	    m->sup.nslots_total == m->sup.nslots) {
		m->ops.scaled = m->sup.nslots;
		log_notice("scale: %u workers serving", m->sup.nslots);
		reply(m, true, "scaled to %u workers", m->sup.nslots);
		op_end(m);
	}
	ops_next(m);
}

/* upgrade.c's outcome. */
static void
upgrade_done(struct master *m, pid_t child, const char *why)
{
	if (why != NULL) {
		log_error("upgrade failed: %s; carrying on with pid %d", why,
		    (int)getpid());
		reply(m, false, "upgrade failed: %s", why);
		op_end(m);
		ops_next(m);
		return;
	}
	reply(m, true, "upgraded: new master pid %d", (int)child);
	op_end(m);
	/* The new master serves from now on: this one drains and exits. */
	m->ops.hooks.upgraded(m);
}

static void
start(struct master *m, struct pending *pe)
{
	struct op *op = &m->ops.op;
	char err[512];
	unsigned target, now = m->sup.nslots;

	memset(&op->next_cfg, 0, sizeof(op->next_cfg));
	op->kind = pe->kind;
	op->done = pe->done;
	op->done_arg = pe->done_arg;
	op->opened_listeners = 0;
	switch (pe->kind) {
	case OP_RELOAD:
		start_reload(m);
		break;
	case OP_SCALE_UP:
	case OP_SCALE_DOWN:
		target = pe->arg;
		if (pe->delta > 0) {
			target = now + 1;
		} else if (pe->delta < 0 && now <= 1) {
			/* A signal has nobody to answer: the log says why. */
			log_warn("SIGTTOU ignored: 1 worker is the minimum (SIGTERM "
			    "stops shoal)");
			reply(m, false, "1 worker is the minimum");
			op_end(m);
			break;
		} else if (pe->delta < 0) {
			target = now - 1;
		}
		start_scale(m, target);
		break;
	case OP_UPGRADE:
		if (upgrade_start(m, pe->binary[0] ? pe->binary : NULL,
		    upgrade_done, err, sizeof(err)) == -1) {
			log_error("upgrade failed: %s; carrying on", err);
			reply(m, false, "upgrade failed: %s", err);
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

	while (m->ops.op.kind == OP_NONE && m->ops.open && !m->ops.shut &&
	    !supervise_any_draining(m) && !supervise_replacing(m) &&
	    m->sup.nslots_total == m->sup.nslots &&
	    (pe = TAILQ_FIRST(&m->ops.pending)) != NULL) {
		TAILQ_REMOVE(&m->ops.pending, pe, entry);
		start(m, pe);
		free(pe);
	}
}

int
ops_init(struct master *m, const struct ops_hooks *hooks, unsigned generation,
    unsigned scaled)
{
	TAILQ_INIT(&m->ops.pending);
	m->ops.generation = generation;
	m->ops.scaled = scaled;
	m->ops.hooks = *hooks;
	m->ops.timer = evtimer_new(m->base, on_timeout, m);
	return m->ops.timer == NULL ? -1 : 0;
}

void
ops_request(struct master *m, enum op_kind kind, unsigned arg, int delta,
    const char *binary, ops_done_fn *done, void *done_arg)
{
	struct pending *pe;

	if (m->ops.shut) {
		if (done != NULL)
			done(done_arg, false, "shoal is stopping");
		return;
	}
	if ((pe = calloc(1, sizeof(*pe))) == NULL) {
		if (done != NULL)
			done(done_arg, false, "out of memory");
		return;
	}
	pe->kind = kind;
	pe->arg = arg;
	pe->delta = delta;
	pe->done = done;
	pe->done_arg = done_arg;
	if (binary != NULL)
		snprintf(pe->binary, sizeof(pe->binary), "%s", binary);
	if (m->ops.op.kind != OP_NONE || supervise_any_draining(m))
		log_info("%s queued behind the %s in progress", op_name(kind),
		    m->ops.op.kind != OP_NONE ? op_name(m->ops.op.kind) : "drain");
	TAILQ_INSERT_TAIL(&m->ops.pending, pe, entry);
	ops_next(m);
}

bool
ops_busy(const struct master *m)
{
	return m->ops.op.kind != OP_NONE;
}

void
ops_open(struct master *m)
{
	m->ops.open = true;
	ops_next(m);
}

void
ops_stop(struct master *m)
{
	struct pending *pe;

	m->ops.shut = true;
	if (m->ops.op.kind == OP_UPGRADE)
		upgrade_abort(m, "shoal is stopping");
	while ((pe = TAILQ_FIRST(&m->ops.pending)) != NULL) {
		TAILQ_REMOVE(&m->ops.pending, pe, entry);
		if (pe->done != NULL)
			pe->done(pe->done_arg, false, "shoal stopped");
		free(pe);
	}
	if (m->ops.op.kind != OP_NONE)
		reply(m, false, "shoal stopped");
	op_end(m);
}

void
ops_free(struct master *m)
{
	ops_stop(m);
	if (m->ops.timer != NULL)
		event_free(m->ops.timer);
	m->ops.timer = NULL;
}
