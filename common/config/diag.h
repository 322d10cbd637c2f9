/*
 * config/diag — the configuration's error messages: where a value came
 * from ("shoal.json:7:5", "--worker-timeout", "(built-in default)"), what
 * it is ("got an empty array", "got \"many\""), and the name a misspelt
 * one was nearest to ("did you mean \"workers\"?").
 *
 * Every checker of the configuration (config.c and the parts under
 * config/) writes its message through here, and nothing here calls back
 * into them. A message is one line, at most a few hundred bytes, written
 * into the caller's buffer (struct cfg_ctx's err); nothing is printed.
 *
 * The failing helpers return -1, for a check to end with
 * "return cfg_fail(...);".
 */
#ifndef SHOAL_CONFIG_DIAG_H
#define SHOAL_CONFIG_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>

#include "common/config/key.h"
#include "common/config/locate.h"

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/* ---- text ---------------------------------------------------------------- */

/* snprintf into err, if errlen > 0. */
void cfg_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Make the message in err one line: control characters (a newline in a
 * file name) become '?'. */
void cfg_oneline(char *err, size_t errlen);

/* The flag of key name: "worker_timeout" -> "--worker-timeout", into buf
 * (cut short if it does not fit; empty if len < 3). */
const char *cfg_flag(const char *name, char *buf, size_t len);

/* s quoted and escaped as a JSON string, cut short if long, into buf
 * (at least 16 bytes; 80 shows the 48 characters it ever shows). */
const char *cfg_quote(const char *s, char *buf, size_t len);

/* v as the "got ..." of a message: a quoted string, a number, "an object",
 * "an empty array"; buf is used for strings and numbers. */
const char *cfg_describe(const json_t *v, char *buf, size_t len);

/* A number as a range bound reads: 1048576, not 1.04858e+06; 0.01. */
const char *cfg_num(double x, char *buf, size_t len);

/* ---- did you mean -------------------------------------------------------- */

/* Edit distance, adjacent transpositions counting one; > CFG_NAME_MAX if
 * either name is longer than that. */
int cfg_distance(const char *a, const char *b);

/* The one of names[0..n) nearest to name, within 2 edits, or NULL. */
const char *cfg_nearest(const char *name, const char *const *names, size_t n);

/* "; did you mean \"NEAR\"?", NEAR being cfg_nearest's answer, or "" if
 * none is near, into buf: the tail of an "unknown key" message. */
const char *cfg_did_you_mean(const char *name, const char *const *names,
    size_t n, char *buf, size_t len);

/* ---- where --------------------------------------------------------------- */

/* path as messages name it: routes[2].methods[0]. */
const char *cfg_path_name(const struct config_step *path, size_t depth,
    char *buf, size_t len);

/* "source:line:col" of path in c->text (just "source" if it cannot be
 * found), malloc'd for a message at run time; NULL if out of memory. */
char *cfg_where(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth);

/* ---- failing ------------------------------------------------------------- */

/*
 * Write "source:line:col: what: message" to c->err, the position being
 * that of path in c->text ("source: what: message" if it cannot be found;
 * no "what: " if what is NULL). Returns -1.
 */
int cfg_fail_at(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int cfg_vfail_at(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *what, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* cfg_vfail_at, what being path's own name: "routes[2].path: ...".
 * Returns -1. */
int cfg_vfail_path(const struct cfg_ctx *c, const struct config_step *path,
    size_t depth, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/*
 * Write the error for key k, whose value came from `from`: located at k
 * or, with index >= 0, at its element index, and named "k" (file), --k
 * (flag) or "(built-in default): k". Returns -1.
 */
int cfg_fail(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, long index, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* cfg_fail, located at a place inside k's value: k's value, then the
 * sub[0..subdepth) steps (at most 6). Flags and defaults have no place. */
int cfg_fail_in(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const struct config_step *sub, size_t subdepth,
    const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
int cfg_vfail_in(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const struct config_step *sub, size_t subdepth,
    const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

#pragma GCC visibility pop

#endif
