/*
 * A test module whose handler never lets its worker's event loop go: GET
 * -> busy-loops on the loop for ?s=N seconds (default 30, at most 60), then
 * answers. The worker stops beating meanwhile: a real hang, for the tests
 * of hang detection (a stopped process is not hung: the master continues
 * it).
 *
 *   "modules": [{"name": "spin", "path": "build/modules/spin.so"}],
 *   "routes": [{"path": "/spin", "handler": "spin.spin"}]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/api/module.h"

/* Exported for shoal: not in a header of ours. */
int shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
spin(struct http_request *req, struct http_response *resp, void *state)
{
	double seconds = 30, until;
	volatile unsigned long turns = 0;

	(void)state;
	if (req->query != NULL && req->query_len > 2 &&
	    strncmp(req->query, "s=", 2) == 0)
		seconds = atof(req->query + 2);
	if (seconds > 60)
		seconds = 60;
	for (until = now() + seconds; now() < until; )
		turns++;
	http_response_static(resp, 200, "text/plain", "spun\n", 5);
}

static const struct handler_def spin_def = {
	.name = "spin",
	.help = "busy-loops on the worker's event loop for ?s=N seconds",
	.handle = spin,
};

int
shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen)
{
	(void)config;
	if (api->version != SHOAL_MODULE_API_VERSION) {
		snprintf(err, errlen, "built for module API %d, shoal has %u",
		    SHOAL_MODULE_API_VERSION, api->version);
		return -1;
	}
	if (api->add_handler(api->ctx, &spin_def) == -1) {
		snprintf(err, errlen, "cannot register handler spin");
		return -1;
	}
	return 0;
}
