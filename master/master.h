/*
 * master — the supervisor process.
 *
 * One struct master per process, passed explicitly. It binds the listening
 * sockets, forks one worker per slot, reaps and respawns them, watches their
 * heartbeats, reloads, upgrades, scales and stops them. It never parses
 * HTTP and never runs handlers.
 *
 * This header is shared by the master's own files; nothing outside master/
 * includes it:
 *   master.c     life cycle, signals, stop
 *   supervise.c  the worker process table: spawn, reap, respawn, hangs
 *   ops.c        reload and scale: generations, commit and rollback
 *   upgrade.c    binary upgrade: exec with inherited sockets, hand-over
 *   control.c    the control socket and status
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
#include "master/ltable.h"

struct master;
struct control_req;
TAILQ_HEAD(control_list, control_req);

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
	bool next;                   /* of a generation not yet committed */
	int hang_stage;              /* 0, 1: SIGABRT sent, 2: SIGKILL sent */
	double hang_at;              /* when SIGABRT was sent */
};
TAILQ_HEAD(proc_list, proc);

/* A socket slot: the sockets with index k, and the worker serving them. */
struct slot {
	struct master *m;
	unsigned index;
	struct proc *proc;           /* current worker; NULL while a respawn is pending */
	struct proc *next;           /* the new generation's, during a reload or scale-up */
	struct backoff backoff;
	struct event *respawn_ev;
	unsigned restarts;
	bool crash_looping;
	bool retiring;               /* scale-down: draining, sockets close after */
};

enum master_state {
	MASTER_STARTING,
	MASTER_RUNNING,
	MASTER_STOPPING,
};

enum op_kind {
	OP_NONE,
	OP_RELOAD,
	OP_SCALE_UP,
	OP_SCALE_DOWN,
	OP_UPGRADE,
};

/* The operation in progress (one at a time) and who waits for its result. */
struct op {
	enum op_kind kind;
	struct control_req *req;     /* NULL when started by a signal */
	struct event *timer;         /* ready_timeout */
	struct config next_cfg;      /* reload: the new configuration */
	bool has_next_cfg;
	unsigned next_nslots;
	size_t opened_listeners;     /* reload: new addresses bound for it */
	unsigned generation;         /* the generation it creates */
	/* upgrade */
	pid_t child;
	int pipe_fd;
	struct event *pipe_ev;
};

/* A request waiting for the current operation to end (reload, scale). */
struct pending {
	TAILQ_ENTRY(pending) entry;
	enum op_kind kind;           /* OP_SCALE_UP stands for any scale */
	unsigned arg;                /* scale: the target count ... */
	int delta;                   /* ... or +1 / -1 when non-zero (signals) */
	char binary[4096];           /* upgrade: the binary, "" for our own */
	struct control_req *req;
};
TAILQ_HEAD(pending_list, pending);

struct master {
	struct config cfg;
	const char *config_path;     /* NULL: the embedded default */
	json_t *overrides;           /* CLI flags, re-applied on reload */
	char **argv;                 /* for upgrade: the same command line */
	char exe[4096];              /* for upgrade: our binary's path */
	struct event_base *base;
	struct event *signals[12];
	size_t nsignals;
	struct event *tick_ev;       /* heartbeat checks */
	struct event *stop_ev;       /* graceful_timeout on stop */
	double started_at;

	struct stats *stats;
	struct ltable listeners;     /* at most LTABLE_MAX addresses */
	struct slot slots[CONFIG_MAX_WORKERS];
	unsigned nslots;             /* slots in service (not retiring) */
	unsigned nslots_total;       /* including retiring ones */
	struct proc_list procs;
	unsigned generation;
	struct backoff_policy backoff;

	struct op op;
	struct pending_list pending;

	int control_fd;              /* listening control socket, or -1 */
	struct control_list controls;    /* accepted control connections */
	struct event *control_ev;
	bool control_owned;          /* unlink the path on exit */

	enum master_state state;
	bool all_ready_logged;
	bool pid_file_written;
	bool upgraded;               /* handed over to a new master */
	pid_t upgrade_parent;        /* started by an upgrade: the old master */
	int upgrade_pipe;            /* ... and the pipe to tell it we are ready */
};

/* master.c */
/*
 * Run the master on cfg (taken over: zeroed on return) until it is stopped.
 * config_path and overrides are kept for reloads, argv for upgrades.
 * Returns the exit status: 0 after a stop, 1 if start-up failed.
 */
int master_main(struct config *cfg, const char *config_path,
    json_t *overrides, char **argv);
void master_stop(struct master *m, bool fast, const char *why);
/* Tell systemd and the log how many workers serve, once all are ready. */
void master_all_ready(struct master *m);

/* supervise.c */
int supervise_init(struct master *m);
/* Fork a worker for slot s of generation gen running cfg; as s->next if next. */
int supervise_spawn(struct master *m, struct slot *s, const struct config *cfg,
    unsigned gen, bool next);
void supervise_reap(struct master *m);
void supervise_tick(struct master *m);
/* Tell one worker to drain (graceful) or to go now (fast). */
void supervise_drain(struct master *m, struct proc *p, bool fast);
void supervise_stop_all(struct master *m, bool fast);
void supervise_kill_all(struct master *m, int sig);
void supervise_signal_all(struct master *m, int sig);
void supervise_free(struct master *m);
bool supervise_any_draining(const struct master *m);

/* ops.c */
/* Start (or queue) an operation; the result goes to req (may be NULL). */
void ops_request(struct master *m, enum op_kind kind, unsigned arg,
    int delta, const char *binary, struct control_req *req);
/* A worker of a new generation became ready. */
void ops_on_ready(struct master *m, struct proc *p);
/* A worker of a new generation died before the operation committed. */
void ops_on_boot_failure(struct master *m, const char *what);
/* A proc was reaped: a drain or retirement may be complete. */
void ops_on_exit(struct master *m);
/* Start queued operations (once start-up is complete). */
void ops_resume(struct master *m);
/* The current operation is over (upgrade.c): start the next one. */
void ops_finish(struct master *m);
void ops_free(struct master *m);

/* upgrade.c */
int upgrade_start(struct master *m, const char *binary, char *err,
    size_t errlen);
void upgrade_abort(struct master *m, const char *why);
/* In a new master: adopt inherited sockets named in the environment. */
int upgrade_adopt(struct master *m, char *err, size_t errlen);
/* In a new master: all workers ready; tell the old one. */
void upgrade_announce_ready(struct master *m);

/* control.c */
int control_open(struct master *m, char *err, size_t errlen);
void control_close(struct master *m);
/* Answer a waiting request: ok with message, or an error. Frees req. */
void control_reply(struct control_req *req, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *control_status(struct master *m);
/* In a forked worker: close the control connections' fds. */
void control_close_in_child(struct master *m);

#endif
