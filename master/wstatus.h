/*
 * wstatus — why a worker ended, told from its wait status in the words the
 * master logs:
 *
 *   worker 1 (pid 4242) killed by SIGKILL after 12.4s
 *   worker 0 (pid 4243) killed by SIGSEGV (core dumped) after 3m05s
 *   worker 2 (pid 4244) failed at boot: exited with status 1 after 0.1s
 *   worker 1 (pid 4245) exited with status 0 after 1.2s     (a drain: info)
 *
 * Pure: no clock, no globals, no I/O; the reaper gathers the facts, these
 * functions only decide what they mean.
 */
#ifndef SHOAL_WSTATUS_H
#define SHOAL_WSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What a worker's end means to the master. */
enum wstatus_kind {
	WSTATUS_CLEAN,           /* exit 0 after it was told to go: expected */
	WSTATUS_BOOT_FAILURE,    /* died before it reported ready */
	WSTATUS_CRASH,           /* any other end: a runtime death */
};

/* The facts about one reaped worker. */
struct wstatus_exit {
	unsigned slot;
	pid_t pid;
	int status;              /* from waitpid() */
	double uptime;           /* seconds from fork to reap */
	bool ready;              /* it had reported ready */
	bool draining;           /* it had been told to drain, retire or stop */
	bool stopping;           /* the whole master is stopping */
};

/* "SIGKILL", or "signal 77" for a number without a name. Returns buf. */
const char *wstatus_signame(int sig, char *buf, size_t len);

/*
 * The status alone: "exited with status 3", "killed by SIGKILL",
 * "killed by SIGSEGV (core dumped)", or the raw value for anything else
 * ("ended with wait status 0x57f").
 */
void wstatus_describe(int status, char *buf, size_t len);

/*
 * Boot failure: it never became ready and the master is not stopping (a
 * stop during boot is not the worker's fault). Clean: exit 0 while it was
 * draining or the master stopping. Everything else is a crash.
 */
enum wstatus_kind wstatus_classify(const struct wstatus_exit *e);

/*
 * The log line for e: "worker 1 (pid 4242) killed by SIGKILL after 12.4s";
 * with boot, "failed at boot: " stands before the reason.
 */
void wstatus_line(const struct wstatus_exit *e, bool boot, char *buf,
    size_t len);

#endif
