/*
 * diff — the same bytes through shoal's request reader (worker/http/
 * request.c, head.c) and through Node's http_parser, and what each made
 * of them: the requests it completed (method, target, version, header
 * fields, body, keep-alive), then a refusal, an upgrade, or nothing more.
 *
 * diff_compare states the rule the two must keep, used by the unit test
 * over the corpus (tests/unit/worker/http/test_request_diff.c) and by the
 * differential fuzz target (fuzz_parse.c):
 *
 *   - every request both completed is the same request;
 *   - whatever shoal accepts, http_parser accepts (it never completes a
 *     request that http_parser refused or had not finished);
 *   - where shoal refuses what http_parser accepted, the reason is one
 *     of the classes listed in diff.c (diff_meant[]), each with a check
 *     of its own on the bytes that the input has that trait;
 *   - where http_parser refuses what shoal accepts, the request is one of
 *     http_parser's known mistakes (diff.c's diff_theirs_wrong[]).
 *
 * shoal's side runs on the limits below (http_parser has only its 80 KiB
 * head), fed whole or cut in two at any byte; a cut must not change what
 * it makes of the bytes.
 */
#ifndef SHOAL_DIFF_H
#define SHOAL_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"

#define DIFF_MAX_REQUESTS 64

extern const struct http_limits diff_limits;

struct diff_run {
	struct buf reqs[DIFF_MAX_REQUESTS];  /* each request, as text */
	size_t n;                    /* requests completed */
	size_t begin[DIFF_MAX_REQUESTS + 1]; /* shoal: where each began */
	size_t last_begin;           /* offset of the last request begun */
	int status;                  /* refused: the status (shoal), the
	                                http_errno (http_parser); else 0 */
	int why;                     /* shoal: enum head_why */
	bool upgraded;               /* stopped at an upgrade or CONNECT */
	bool in_message;             /* a request left incomplete */
};

/* Run data through shoal's reader, in two reads cut at cut (0 or len:
 * one). Each read is from a buffer of its own, freed after the call, so a
 * pointer kept into an earlier read is a use-after-free. */
void diff_shoal(const char *data, size_t len, size_t cut, struct diff_run *out);

/* Run data through http_parser (one call). */
void diff_http_parser(const char *data, size_t len, struct diff_run *out);

/* Two runs of shoal are the same (a cut changed nothing). */
bool diff_same(const struct diff_run *a, const struct diff_run *b);

/*
 * NULL if ours (shoal) and theirs (http_parser) keep the rule above on
 * data; else what breaks it, written into msg. *meant gets the class of
 * an allowed difference: enum head_why when shoal refused, -1 - i for
 * diff_theirs_wrong[i] when http_parser did; 0 where they agree.
 */
const char *diff_compare(const char *data, size_t len,
    const struct diff_run *ours, const struct diff_run *theirs, int *meant,
    char *msg, size_t msglen);

void diff_free(struct diff_run *r);

/* The number of classes in diff_theirs_wrong[], and the name of one. */
int diff_theirs_wrong_count(void);
const char *diff_theirs_wrong_name(int i);

#endif
