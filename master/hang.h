/*
 * hang — a worker's heartbeat, judged on the master's tick.
 *
 * Each worker's loop writes a heartbeat into the shared stats region. A
 * worker silent for worker_timeout is either stopped by a signal (the
 * master knows from waitpid's WUNTRACED) or hung:
 *
 *   stopped (SIGSTOP from an operator or a tool)   SIGCONT: a stopped worker
 *                                                  is not hung, and its
 *                                                  connections survive the
 *                                                  pause if it runs again
 *   continued, and beats again                     live again
 *   continued, still silent after RESUME_GRACE     hung after all: as below
 *   running but silent (a loop that never yields)  SIGABRT (plus SIGCONT: a
 *                                                  stopped process takes it
 *                                                  only once continued)
 *   still there KILL_GRACE after SIGABRT           SIGKILL
 *
 * hang_judge is the pure decision; hang_check carries it out for one
 * worker. hang.c is part of the worker table (supervise.c calls it): of
 * m->sup it writes only a worker's hang_stage and hang_at.
 */
#ifndef SHOAL_HANG_H
#define SHOAL_HANG_H

#include <stdbool.h>
#include <stdint.h>

/* Between SIGABRT and SIGKILL. */
#define HANG_KILL_GRACE 2.0
/* After SIGCONT to a stopped worker: time to beat again before SIGABRT. */
#define HANG_RESUME_GRACE 1.0

/* How far the master has gone with a worker that stopped beating. */
enum hang_stage {
	HANG_NONE,
	HANG_CONTINUED,              /* it was stopped (SIGSTOP): SIGCONT sent */
	HANG_ABORTED,                /* hung: SIGABRT sent */
	HANG_KILLED,                 /* still there: SIGKILL sent */
};

/* What to do now. */
enum hang_action {
	HANG_WAIT,                   /* nothing */
	HANG_CONTINUE,               /* SIGCONT; stage HANG_CONTINUED */
	HANG_RECOVER,                /* it beats again; stage HANG_NONE */
	HANG_ABORT,                  /* SIGABRT; stage HANG_ABORTED */
	HANG_KILL,                   /* SIGKILL; stage HANG_KILLED */
};

/*
 * The action for a worker at stage, silent for silent seconds, since
 * seconds after the last hang signal, stopped by a signal or not, with
 * worker_timeout timeout.
 */
enum hang_action hang_judge(enum hang_stage stage, double silent,
    double since, bool stopped, double timeout);

struct master;
struct proc;

/*
 * Judge p's heartbeat at now (now_ms for the stats region's clock), log
 * and send what hang_judge says. True if that changed whether p is live.
 */
bool hang_check(struct master *m, struct proc *p, uint64_t now_ms,
    double now);

#endif
