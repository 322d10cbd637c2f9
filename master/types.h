/*
 * types — the master's types, in one place.
 *
 * One struct master per process, passed explicitly. Each module owns one
 * part of it and is the only file that writes it (others read):
 *
 *   master.c     the process: config, loop, signals, life-cycle state
 *   supervise.c  m->sup        worker slots and processes (hang.c, its
 *                              heartbeat checks: a worker's hang_stage
 *                              and hang_at)
 *   ops.c        m->ops        reload and scale, the queue, generations
 *   upgrade.c    m->up         binary upgrade, old and new master's side
 *   control.c    m->ctl        the control socket and its connections
 *   ltable.c     m->listeners  the listening sockets
 *   watchdog.c   m->wd         systemd's watchdog pings
 *   relay.c      m->relay      the channel relay: its links to workers
 *
 * Calls run one way: master -> control -> ops -> upgrade / supervise ->
 * steer -> ltable -> listener; supervise -> hang -> steer; supervise ->
 * relay; control also asks status.c (which only reads); master and ops ->
 * preflight -> privdrop / resources; master -> recycle / watchdog ->
 * supervise; master -> activate -> ltable; wstatus.c, backoff.c,
 * steerprog.c, args.c and proctitle.c are leaves. steer.c owns no part: it
 * reads the slots and writes the listeners' steering programs through
 * ltable / listener. A module reports upward only through a function
 * pointer: the hooks the master installs at start-up (supervise_hooks,
 * ops_hooks, control_hooks) or the completion callback a caller passes
 * with a request (ops_done_fn, upgrade_done_fn). So no file calls a file
 * that calls it. (recycle.c reads m->sup and m->stats and writes nothing;
 * its replacements go through supervise.c.)
 *
 * This header is only for master/; nothing outside includes it.
 */
#ifndef SHOAL_MASTER_TYPES_H
#define SHOAL_MASTER_TYPES_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/config.h"
#include "common/stats.h"
#include "master/backoff.h"
#include "master/hang.h"
#include "master/ltable.h"

struct master;

/* ---- supervise.c: m->sup ---------------------------------------------- */

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
	struct relay_link *relay;    /* its channel messages (relay.c); NULL */
	double spawned_at;           /* util_now() */
	bool ready;
	bool draining;
	bool next;                   /* of a generation not yet committed */
	bool successor;              /* replaces its slot's worker once ready */
	bool replaced;               /* a successor is taking over from it */
	bool stopped;                /* stopped by a signal (waitpid WUNTRACED) */
	enum hang_stage hang_stage;
	double hang_at;              /* when the last hang signal was sent */
	uint64_t max_requests;       /* its limit (jitter drawn); 0: none */
};
TAILQ_HEAD(proc_list, proc);

/* A socket slot: the sockets with index k, and the worker serving them. */
struct slot {
	struct master *m;
	unsigned index;
	struct proc *proc;           /* current worker; NULL while a respawn is pending */
	struct proc *next;           /* the new generation's, during a reload or scale-up */
	struct proc *successor;      /* proc's replacement (recycling), booting */
	unsigned generation;         /* of proc: a respawn joins it */
	struct backoff backoff;
	struct event *respawn_ev;
	double respawn_at;           /* util_now() of the respawn; 0: none due */
	struct event *watch_ev;      /* while it waits: are connections queued? */
	bool crash_looping;
	bool retiring;               /* scale-down: draining, sockets close after */
	bool ever_ready;             /* some worker of the slot was ready */
	unsigned boot_failures;      /* in a row, before any was ready */
	double down_since;           /* util_now() since it has had no ready
	                                worker; 0 while it has one */
	double replace_after;        /* no new recycling before (util_now()) */
	char last_exit[512];         /* how its last worker ended; "" */
};

/*
 * What the worker table reports, to whoever the master says. Each is
 * called from inside supervise.c; none may be NULL.
 */
struct supervise_hooks {
	/* p reported ready (p->next: of a generation not yet committed). */
	void (*worker_ready)(struct master *m, struct proc *p);
	/* A worker of a generation not yet committed died; what says how
	 * ("worker 1 (pid 4242) exited with status 1 after 0.1s"). */
	void (*next_failed)(struct master *m, const char *what);
	/* A reap pass is over: workers may have gone. */
	void (*reaped)(struct master *m);
	/* A child that is no worker was reaped (an upgrade's new master). */
	void (*child_reaped)(struct master *m, pid_t pid, int status);
	/* In a newly forked worker, before it runs: close what the other
	 * modules hold (control connections, upgrade pipes). */
	void (*in_worker)(struct master *m);
	/* In a newly forked worker, before it loads code or accepts: take
	 * the worker's user, CPUs and limits (privdrop.c, resources.c).
	 * 0, or -1 with the reason in err: the worker exits at once. */
	int (*become)(const struct config *cfg, unsigned slot, char *err,
	    size_t errlen);
};

struct supervise {
	struct slot slots[CONFIG_MAX_WORKERS];
	unsigned nslots;             /* slots in service (not retiring) */
	unsigned nslots_total;       /* including retiring ones: their sockets */
	struct proc_list procs;
	struct backoff_policy backoff;
	bool stopping;               /* told to stop all: no respawn */
	struct supervise_hooks hooks;
};

/* ---- ops.c: m->ops ----------------------------------------------------- */

enum op_kind {
	OP_NONE,
	OP_RELOAD,
	OP_SCALE_UP,
	OP_SCALE_DOWN,
	OP_UPGRADE,
};

/*
 * How an operation answers whoever asked for it: called exactly once, when
 * it has committed, rolled back or been refused; message is the text to
 * show ("reloaded: generation 3 serving with 4 workers").
 */
typedef void ops_done_fn(void *arg, bool ok, const char *message);

/* The operation in progress (one at a time) and who waits for its result. */
struct op {
	enum op_kind kind;
	ops_done_fn *done;           /* NULL when started by a signal */
	void *done_arg;
	struct config next_cfg;      /* reload: the new configuration */
	bool has_next_cfg;
	unsigned next_nslots;
	size_t opened_listeners;     /* reload: new addresses bound for it */
	unsigned generation;         /* the generation it creates */
};

/* A request waiting for the current operation to end (reload, scale). */
struct pending {
	TAILQ_ENTRY(pending) entry;
	enum op_kind kind;           /* OP_SCALE_UP stands for any scale */
	unsigned arg;                /* scale: the target count ... */
	int delta;                   /* ... or +1 / -1 when non-zero (signals) */
	char binary[4096];           /* upgrade: the binary, "" for our own */
	ops_done_fn *done;
	void *done_arg;
};
TAILQ_HEAD(pending_list, pending);

struct ops_hooks {
	/* A new master took over (upgrade): this one must stop. */
	void (*upgraded)(struct master *m);
};

struct ops {
	unsigned generation;         /* the generation serving now */
	unsigned scaled;             /* workers set by scale or TTIN/TTOU;
	                                kept across reloads and upgrades
	                                while the file's "workers" stays as
	                                it was; 0: none */
	struct op op;
	struct pending_list pending;
	struct event *timer;         /* ready_timeout of the operation */
	bool open;                   /* start-up complete: operations may run */
	bool shut;                   /* stopping: none will run any more */
	struct ops_hooks hooks;
};

/* ---- upgrade.c: m->up ------------------------------------------------- */

/* An upgrade's outcome: why is NULL when the new master (child) is ready. */
typedef void upgrade_done_fn(struct master *m, pid_t child, const char *why);

struct upgrade {
	/* The old master's side, while an upgrade runs. */
	upgrade_done_fn *done;       /* set while one runs */
	pid_t child;                 /* the new master, until ready or gone */
	int pipe_fd;                 /* its "ready" arrives here; -1 */
	struct event *pipe_ev;
	bool upgraded;               /* handed over: shared files are not ours */
	pid_t failed;                /* a new master that failed: its
	                                workers' stats entries are freed as
	                                they go (upgrade_tick); 0 */
	/* The new master's side, when started by an upgrade. */
	pid_t parent;                /* the old master */
	int parent_pipe;             /* to tell it we are ready; -1 once told */
	int control_fd;              /* the inherited control socket; -1 */
	int stats_fd;                /* the old master's stats memfd; -1 */
	int relay_fd;                /* the channel bridge, until the relay
	                                takes it (upgrade_bridge); -1 */
	unsigned generation;         /* its serving generation; 0: none */
	unsigned workers;            /* its worker count */
	unsigned scaled;             /* set by scale (see struct ops); 0 */
	int scaled_setting;          /* "workers" of its config (0: auto) */
};

/* ---- control.c: m->ctl ------------------------------------------------ */

struct control_req;
TAILQ_HEAD(control_list, control_req);

struct control_hooks {
	/* "stop" [+ "fast"] arrived on the control socket. */
	void (*stop)(struct master *m, bool fast, const char *why);
	/* "reopen": what SIGUSR1 does. 0, or -1 with the reason in err. */
	int (*reopen)(struct master *m, char *err, size_t errlen);
};

struct control {
	int fd;                      /* listening control socket, or -1 */
	struct event *ev;
	struct control_list conns;   /* accepted connections */
	bool owned;                  /* we bound or adopted its path */
	struct control_hooks hooks;
};

/* ---- watchdog.c: m->wd ------------------------------------------------ */

struct watchdog {
	struct event *ev;            /* every half of WATCHDOG_USEC; NULL: off */
	double interval;             /* seconds */
	bool silent;                 /* not pinging (said once in the log) */
	unsigned pings;              /* WATCHDOG=1 sent */
};

/* ---- relay.c: m->relay ------------------------------------------------- */

struct relay_link;
TAILQ_HEAD(relay_links, relay_link);

struct relay {
	struct relay_links links;    /* one per worker with a relay socket */
	char *bufs;                  /* room for a batch of datagrams; NULL
	                                until the first message */
};

/* ---- master.c ----------------------------------------------------------- */

enum master_state {
	MASTER_STARTING,
	MASTER_RUNNING,
	MASTER_STOPPING,
};

struct master {
	struct config cfg;           /* serving config: replaced by ops.c's
	                                commit of a reload, and only there */
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
	int stats_fd;                /* its memfd: an upgrade hands it over */
	int exit_code;               /* of master_main after the loop */
	enum master_state state;
	bool all_ready_logged;
	bool pid_file_written;

	struct ltable listeners;     /* ltable.c */
	struct supervise sup;        /* supervise.c */
	struct ops ops;              /* ops.c */
	struct upgrade up;           /* upgrade.c */
	struct control ctl;          /* control.c */
	struct watchdog wd;          /* watchdog.c */
	struct relay relay;          /* relay.c */
};

#endif
