/*
 * primes — the "primes" handler: GET /primes?n=N counts the primes below N
 * on the worker's thread pool while the loop goes on serving, then answers
 * with an ordinary response: the showcase of pool_submit with a deferred
 * response, and a handy way to load a CPU.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "worker/api/http.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/options.h"
#include "worker/api/pool.h"

#define LIT(s) s, sizeof(s) - 1

struct primes_job {
	struct http_deferred *d;
	unsigned long n;
	unsigned long count;
	double seconds;
};

/* On a pool thread: count the primes below n (sieve of Eratosthenes). */
static void
primes_work(void *arg)
{
	struct primes_job *j = arg;
	struct timespec t0, t1;
	unsigned char *composite;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((composite = calloc(j->n + 1, 1)) != NULL) {
		for (unsigned long i = 2; i < j->n; i++) {
			if (composite[i])
				continue;
			j->count++;
			for (unsigned long k = i * i; i <= j->n / i && k < j->n; k += i)
				composite[k] = 1;
		}
		free(composite);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Back on the loop: answer (unless the client left or time ran out). */
static void
primes_done(void *arg)
{
	struct primes_job *j = arg;
	struct http_response *resp = http_deferred_response(j->d);

	if (http_deferred_cancelled(j->d)) {
		http_deferred_release(j->d);
	} else if (buf_printf(&resp->body_buf, "{\"n\":%lu,\"primes\":%lu,"
	    "\"seconds\":%.6f}\n", j->n, j->count, j->seconds) == -1) {
		http_deferred_release(j->d);     /* out of memory: a 500 */
	} else {
		http_response_buf(resp, 200, "application/json");
		http_deferred_send(j->d);
	}
	free(j);
}

/*
 * GET /primes?n=N: the number of primes below N (at most 10^8), computed on
 * the worker's thread pool while the event loop goes on serving. A demo of
 * offloading, and a handy way to load a CPU.
 */
static void
primes_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	struct primes_job *j;
	unsigned long n = 100000;
	const char *q = req->query;

	(void)state;
	if (q != NULL && req->query_len > 2 && strncmp(q, "n=", 2) == 0) {
		char num[24];
		size_t len = req->query_len - 2;
		char *end;

		if (len >= sizeof(num))
			len = sizeof(num) - 1;
		memcpy(num, q + 2, len);
		num[len] = '\0';
		n = strtoul(num, &end, 10);
		if (*end != '\0' || n > 100000000UL) {
			http_response_static(resp, 400, "text/plain",
			    LIT("n must be an integer up to 100000000\n"));
			return;
		}
	}
	if (pool_full(req->pool)) {
		http_response_static(resp, 503, "text/plain",
		    LIT("busy: too much work queued\n"));
		http_response_header(resp, "Retry-After", "1");
		return;
	}
	/* No cancel callback: the job cannot be stopped, so done() looks at
	 * http_deferred_cancelled when it comes back and lets go then. */
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->d = http_defer(req, resp, NULL, NULL)) == NULL) {
		free(j);
		http_response_static(resp, 500, "text/plain",
		    LIT("Internal Server Error"));
		return;
	}
	j->n = n;
	if (pool_submit(req->pool, primes_work, primes_done, j) == -1) {
		resp = http_deferred_response(j->d);
		http_response_static(resp, 503, "text/plain",
		    LIT("busy: too much work queued\n"));
		http_response_header(resp, "Retry-After", "1");
		http_deferred_send(j->d);
		free(j);
	}
}

const struct handler_def primes_handler = {
	.name = "primes",
	.help = "primes below ?n=N, counted on the worker's thread pool",
	.check = options_check_none,
	.handle = primes_handle,
};
