/*
 * fuzz_parse — libFuzzer target: shoal's request reader against Node's
 * http_parser on the same bytes (tests/fuzz/diff.h).
 *
 * Input format: as fuzz_http's, the first byte is the harness's and the
 * rest is what a client sends; the first byte picks where the bytes are
 * cut in two for a second run of shoal's reader (0: the middle, else
 * that byte's share of the length). Per input it aborts when:
 *
 *   - the cut changes what shoal's reader makes of the bytes (requests,
 *     refusal and reason, upgrade, a request left open);
 *   - shoal completes a request that http_parser does not complete the
 *     same way (method, target, version, fields, body, keep-alive), or
 *     refuses one that http_parser accepts outside the classes meant
 *     (diff.c's diff_meant, each checked on the bytes);
 *   - and, as in every target here, on any sanitizer report or leak.
 *
 *   make fuzz [FUZZ_TIME=60]
 *   build-fuzz/fuzz_parse -dict=tests/fuzz/http.dict CRASH_FILE   (reproduce)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	struct diff_run whole, part, theirs;
	size_t len, cut;
	char msg[4096];
	int meant;

	if (size < 2)
		return 0;
	len = size - 1;
	cut = data[0] == 0 ? len / 2 : (size_t)data[0] * len / 256;
	diff_shoal(s, len, 0, &whole);
	diff_shoal(s, len, cut, &part);
	if (!diff_same(&whole, &part)) {
		fprintf(stderr, "fuzz_parse: cut at %zu of %zu changes shoal's "
		    "reading: %zu requests, status %d, why %d (whole: %zu, %d, "
		    "%d)\n", cut, len, part.n, part.status, part.why, whole.n,
		    whole.status, whole.why);
		abort();
	}
	diff_http_parser(s, len, &theirs);
	if (diff_compare(s, len, &whole, &theirs, &meant, msg, sizeof(msg)) !=
	    NULL) {
		fprintf(stderr, "fuzz_parse: %s\n", msg);
		abort();
	}
	diff_free(&whole);
	diff_free(&part);
	diff_free(&theirs);
	return 0;
}
