/*
 * ops — reload and scale (and the start of an upgrade): operations that
 * start a new set of workers next to the serving ones and commit only once
 * every new worker is ready. One at a time; the rest wait in a queue.
 *
 * Whoever asks passes a completion callback (ops_done_fn) that is called
 * exactly once with the outcome; ops.c knows nothing of who that is (the
 * control socket, or nobody for a signal). It drives supervise.c, ltable.c
 * and upgrade.c, and tells the master through m->ops.hooks when a new
 * master has taken over.
 */
#ifndef SHOAL_OPS_H
#define SHOAL_OPS_H

#include <stdbool.h>

#include "master/types.h"

/*
 * generation serves (1, or the one after the old master's after an
 * upgrade); scaled: a worker count set by scale that goes on (0: none).
 * Operations wait for ops_open. -1 if the timer cannot be made.
 */
int ops_init(struct master *m, const struct ops_hooks *hooks,
    unsigned generation, unsigned scaled);

/*
 * Start (or queue) an operation. kind OP_SCALE_UP stands for any scale: to
 * arg workers, or one more / one less when delta is +1 / -1. binary: the
 * upgrade's binary, NULL for our own. done (may be NULL) gets the outcome.
 */
void ops_request(struct master *m, enum op_kind kind, unsigned arg,
    int delta, const char *binary, ops_done_fn *done, void *done_arg);

/* True while an operation runs. */
bool ops_busy(const struct master *m);

/* Start-up is complete: queued operations may start. */
void ops_open(struct master *m);

/* A worker of a generation not yet committed became ready. */
void ops_on_ready(struct master *m, struct proc *p);
/* A worker of a generation not yet committed died: roll back. */
void ops_on_next_failed(struct master *m, const char *what);
/* Workers were reaped: a drain or retirement may be complete. */
void ops_on_exit(struct master *m);

/* Stopping: abort an upgrade in progress, answer everyone still waiting
 * ("shoal stopped"); nothing starts any more. */
void ops_stop(struct master *m);
/* ops_stop, and free the timer (at exit). */
void ops_free(struct master *m);

#endif
