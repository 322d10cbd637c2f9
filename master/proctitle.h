/*
 * proctitle — what `ps` shows for each process, as NGINX does it:
 *
 *   shoal: master /usr/local/bin/shoal -c /etc/shoal/shoal.json
 *   shoal: worker 0 (generation 3)
 *
 * Linux shows a process's command line from the process's own memory: the
 * argv strings, followed by the environment's. A title is written over
 * that area (after the environment has been copied away), padded with
 * NULs; /proc/PID/cmdline and `ps -o args` read it from there.
 */
#ifndef SHOAL_PROCTITLE_H
#define SHOAL_PROCTITLE_H

/*
 * At the very start of main: note the area argv[] and environ[] occupy,
 * move the environment to the heap (getenv and setenv work as before) and
 * return a copy of argv to use from now on (the original strings are
 * overwritten by the title). Returns argv itself if out of memory, and
 * the titles are then not set.
 */
char **proctitle_init(int argc, char **argv);

/* Set the title (cut short to the area's size). No-op before init. */
void proctitle_set(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
