/*
 * log — one line per event, tagged with role, slot and pid.
 *
 *   2026-11-26T14:02:46.123Z shoal[4242] master notice: listening on 127.0.0.1:8080
 *   2026-11-26T14:02:46.125Z shoal[4243] worker.1 info: ready
 *
 * Each line is formatted into a buffer and written with one write(2) to an
 * O_APPEND fd, so lines from the master and all workers never interleave.
 * Logging never allocates and never fails loudly: a line that cannot be
 * written is dropped.
 */
#ifndef SHOAL_LOG_H
#define SHOAL_LOG_H

#include <stdarg.h>

enum log_level {
	LOGL_ERROR,
	LOGL_WARN,
	LOGL_NOTICE,
	LOGL_INFO,
	LOGL_DEBUG,
};

/* Parse "error" | "warn" | "notice" | "info" | "debug"; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* Set the tag of every following line: role "master" or "worker", slot or -1. */
void log_set_role(const char *role, int slot);
void log_set_level(enum log_level level);

/*
 * Send lines to path (opened O_APPEND|O_CREAT|O_CLOEXEC, mode 0644) instead of
 * stderr; NULL means stderr. Returns -1 with errno set if path cannot be
 * opened; the previous destination stays in force.
 */
int log_open(const char *path);
/* Reopen the current log file (after rotation). -1 with errno on failure. */
int log_reopen(void);
/* The fd lines go to (2 for stderr): a forked worker keeps it open. */
int log_fd(void);

/*
 * The first error logged since log_error_mark (or since the start): its
 * message, without time and tag; "" if none. A worker that cannot start
 * hands it to the master, which says why (the last error would only be
 * "cannot start").
 */
const char *log_first_error(void);
void log_error_mark(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_error(...)  log_msg(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOGL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOGL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOGL_DEBUG, __VA_ARGS__)

#endif
