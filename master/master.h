/*
 * master — the supervisor process.
 *
 * One struct master per process, passed explicitly. It binds the listening
 * sockets, forks one worker per slot, reaps and respawns them, watches their
 * heartbeats, and stops them. It never parses HTTP and never runs handlers.
 *
 * This header is shared by the master's own files (master.c: life cycle and
 * signals; supervise.c: the worker process table); nothing outside master/
 * includes it.
 */
#ifndef SHOAL_MASTER_H
#define SHOAL_MASTER_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/config.h"
#include "common/stats.h"
#include "master/backoff.h"
#include "master/listener.h"

struct master;

/* One worker process. Lives from fork until reaped. */
struct proc {
	TAILQ_ENTRY(proc) entry;
	struct master *m;
	pid_t pid;
	unsigned slot;
	unsigned generation;
	int stats_idx;
	int ipc_fd;                  /* the master's end */
	struct event *ipc_ev;
	double spawned_at;           /* util_now() */
	bool ready;
	bool draining;
	int hang_stage;              /* 0, 1: SIGABRT sent, 2: SIGKILL sent */
	double hang_at;              /* when SIGABRT was sent */
};
TAILQ_HEAD(proc_list, proc);

/* A socket slot: the sockets with index k, and the worker serving them. */
struct slot {
	struct master *m;
	unsigned index;
	struct proc *proc;           /* NULL while a respawn is pending */
	struct backoff backoff;
	struct event *respawn_ev;
	unsigned restarts;
	bool crash_looping;
};

enum master_state {
	MASTER_STARTING,
	MASTER_RUNNING,
	MASTER_STOPPING,
};

struct master {
	struct config cfg;
	struct event_base *base;
	struct event *signals[8];
	size_t nsignals;
	struct event *tick_ev;       /* heartbeat checks */
	struct event *stop_ev;       /* graceful_timeout on stop */

	struct stats *stats;
	struct listener *listeners;
	size_t nlisteners;
	struct slot *slots;
	unsigned nslots;
	struct proc_list procs;
	unsigned generation;
	struct backoff_policy backoff;

	enum master_state state;
	bool all_ready_logged;
	bool pid_file_written;
};

/* master.c */
/*
 * Run the master on cfg (taken over: zeroed on return) until it is stopped.
 * Returns the exit status: 0 after a stop, 1 if start-up failed.
 */
int master_main(struct config *cfg);

/* supervise.c */
int supervise_start(struct master *m);
void supervise_reap(struct master *m);
void supervise_tick(struct master *m);
/* Ask every worker to finish (graceful) or to exit now (fast). */
void supervise_stop_all(struct master *m, bool fast);
void supervise_kill_all(struct master *m, int sig);
void supervise_free(struct master *m);

#endif
