/*
 * An example application module: GET -> 200 with the "greeting" of the
 * module's config ("Hello from a module" by default), plus the GREETING_TAG
 * it was compiled with, so a test can tell two builds apart across a
 * reload. "init_delay" (seconds) makes its start-up slow, for tests.
 *
 *   "modules": [{"name": "app", "path": "build/modules/greeting.so",
 *                "config": {"greeting": "hi"}}],
 *   "routes": [{"path": "/app", "handler": "app.greet"}]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker/api/module.h"

#ifndef GREETING_TAG
#define GREETING_TAG "v1"
#endif

static char greeting[256] = "Hello from a module";

/* Exported for shoal: not in a header of ours. */
int shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen);

static void
greet(struct http_request *req, struct http_response *resp, void *state)
{
	(void)req;
	(void)state;
	resp->body_buf.len = 0;
	if (buf_printf(&resp->body_buf, "%s (%s)\n", greeting,
	    GREETING_TAG) == -1) {
		http_response_static(resp, 500, "text/plain", "error", 5);
		return;
	}
	http_response_buf(resp, 200, "text/plain");
}

static const struct handler_def greet_def = {
	.name = "greet",
	.help = "a greeting from the module's config",
	.handle = greet,
};

int
shoal_module_init(const struct module_api *api, const json_t *config,
    char *err, size_t errlen)
{
	const char *g = json_string_value(json_object_get(config, "greeting"));
	double delay = json_number_value(json_object_get(config, "init_delay"));

	if (api->version != SHOAL_MODULE_API_VERSION) {
		snprintf(err, errlen, "built for module API %d, shoal has %u",
		    SHOAL_MODULE_API_VERSION, api->version);
		return -1;
	}
	if (g != NULL)
		snprintf(greeting, sizeof(greeting), "%s", g);
	/* "init_delay": seconds of start-up work, for tests of slow boots. */
	if (delay > 0)
		usleep((useconds_t)(delay * 1e6));
	if (api->add_handler(api->ctx, &greet_def) == -1) {
		snprintf(err, errlen, "cannot register handler greet");
		return -1;
	}
	return 0;
}
