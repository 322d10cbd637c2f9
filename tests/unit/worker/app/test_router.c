/*
 * Unit tests for worker/app/router.c: exact routes before prefixes,
 * longest prefix first, config order among equals, method limits (GET
 * brings HEAD), 405 with Allow listing every method the path's routes
 * take, 404; and the errors of router_new naming the route.
 *
 * Routes are built as config_load would leave them, each naming the
 * built-in "hello" handler; once built, every route's handler is swapped
 * for a probe that records which route answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/app/router.c"

#define M(m) (1ull << (m))

struct route_spec {
	const char *path;
	bool prefix;
	uint64_t methods;
	const char *handler;             /* NULL: "hello" */
};

static struct config cfg;
static struct route_cfg rcs[16];
static char wheres[16][32];
static char keys[16][32];
static char paths[16][64];       /* one copy per route: told apart by address */

/* The probe: answers 200 and records its route (state = index + 1). */
static int answered;
static const char *answered_path;

static void
probe_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	answered = (int)(intptr_t)state;
	answered_path = req->route_path;
	http_response_static(resp, 200, NULL, NULL, 0);
}

static const struct handler_def probe = {
	.name = "probe", .handle = probe_handle,
};

static void
config_of(const struct route_spec *spec, size_t n)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(rcs, 0, sizeof(rcs));
	assert_true(n <= sizeof(rcs) / sizeof(rcs[0]));
	for (size_t i = 0; i < n; i++) {
		snprintf(wheres[i], sizeof(wheres[i]), "test.json:%zu:5", i + 1);
		snprintf(paths[i], sizeof(paths[i]), "%s", spec[i].path);
		rcs[i].path = paths[i];
		rcs[i].prefix = spec[i].prefix;
		rcs[i].methods = spec[i].methods;
		rcs[i].handler = (char *)(uintptr_t)(spec[i].handler ?
		    spec[i].handler : "hello");
		rcs[i].spec = NULL;
		rcs[i].where = wheres[i];
		snprintf(keys[i], sizeof(keys[i]), "routes[%zu]", i);
		rcs[i].key = keys[i];
	}
	cfg.routes = rcs;
	cfg.nroutes = n;
}

/* A router of spec whose every route answers with the probe, as route
 * number (1-based, in config order). */
static struct router *
probed_router(const struct route_spec *spec, size_t n)
{
	struct router *r;
	char err[256];

	config_of(spec, n);
	r = router_new(cfg.routes, cfg.nroutes, NULL, err, sizeof(err));
	assert_non_null(r);
	for (size_t i = 0; i < r->n; i++) {
		size_t k;

		for (k = 0; k < n && rcs[k].path != r->routes[i].path; k++)
			;
		assert_true(k < n);
		r->routes[i].def = &probe;
		r->routes[i].state = (void *)(intptr_t)(k + 1);
	}
	return r;
}

/* Dispatch method target; returns the status, the route in answered. */
static int
request(const struct router *r, enum method_id m, const char *target,
    struct http_response *resp)
{
	struct http_request req;
	const char *q = strchr(target, '?');

	memset(&req, 0, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
	req.method = method_name(m);
	req.method_id = (int)m;
	req.target = target;
	req.target_len = strlen(target);
	req.path = target;
	req.path_len = q ? (size_t)(q - target) : strlen(target);
	answered = 0;
	answered_path = NULL;
	router_dispatch(r, &req, resp);
	return resp->status;
}

/* The response's header lines as a NUL-terminated string. */
static const char *
headers_of(struct http_response *resp)
{
	if (buf_reserve(&resp->headers, 1) == -1)
		return "";
	resp->headers.p[resp->headers.len] = '\0';
	return resp->headers.p;
}

static void
resp_free(struct http_response *resp)
{
	buf_free(&resp->headers);
	buf_free(&resp->body_buf);
}

/* ---- matching ----------------------------------------------------------- */

static void
test_exact(void **state)
{
	static const struct route_spec spec[] = {
		{ "/", false, 0, NULL },
		{ "/json", false, 0, NULL },
	};
	struct router *r = probed_router(spec, 2);
	struct http_response resp;

	(void)state;
	assert_int_equal(request(r, METHOD_GET, "/json", &resp), 200);
	assert_int_equal(answered, 2);
	assert_string_equal(answered_path, "/json");
	/* the query is not part of the path */
	assert_int_equal(request(r, METHOD_GET, "/json?x=1", &resp), 200);
	assert_int_equal(answered, 2);
	assert_int_equal(request(r, METHOD_GET, "/", &resp), 200);
	assert_int_equal(answered, 1);
	/* exact means exact: no prefix, no trailing slash, case counts */
	assert_int_equal(request(r, METHOD_GET, "/json/", &resp), 404);
	assert_int_equal(request(r, METHOD_GET, "/jso", &resp), 404);
	assert_int_equal(request(r, METHOD_GET, "/JSON", &resp), 404);
	assert_int_equal(answered, 0);
	router_free(r);
}

static void
test_prefix_longest_first(void **state)
{
	/* listed shortest first on purpose: the router sorts */
	static const struct route_spec spec[] = {
		{ "/", true, 0, NULL },
		{ "/static/", true, 0, NULL },
		{ "/static/img/", true, 0, NULL },
		{ "/static/img/logo.png", false, 0, NULL },
	};
	struct router *r = probed_router(spec, 4);
	struct http_response resp;

	(void)state;
	assert_int_equal(request(r, METHOD_GET, "/static/img/a.png", &resp), 200);
	assert_int_equal(answered, 3);
	assert_string_equal(answered_path, "/static/img/");
	assert_int_equal(request(r, METHOD_GET, "/static/a.css", &resp), 200);
	assert_int_equal(answered, 2);
	assert_int_equal(request(r, METHOD_GET, "/static/", &resp), 200);
	assert_int_equal(answered, 2);
	/* "/static" is not under "/static/": the catch-all takes it */
	assert_int_equal(request(r, METHOD_GET, "/static", &resp), 200);
	assert_int_equal(answered, 1);
	assert_int_equal(request(r, METHOD_GET, "/anything", &resp), 200);
	assert_int_equal(answered, 1);
	/* an exact route beats every prefix that also matches */
	assert_int_equal(request(r, METHOD_GET, "/static/img/logo.png", &resp),
	    200);
	assert_int_equal(answered, 4);
	router_free(r);
}

/* Among routes of the same kind and length, config order decides. */
static void
test_config_order_among_equals(void **state)
{
	static const struct route_spec spec[] = {
		{ "/a/", true, 0, NULL },
		{ "/b/", true, 0, NULL },
		{ "/a/", true, 0, NULL },
		{ "/x", false, 0, NULL },
		{ "/x", false, 0, NULL },
	};
	struct router *r = probed_router(spec, 5);
	struct http_response resp;

	(void)state;
	assert_int_equal(request(r, METHOD_GET, "/a/1", &resp), 200);
	assert_int_equal(answered, 1);
	assert_int_equal(request(r, METHOD_GET, "/x", &resp), 200);
	assert_int_equal(answered, 4);
	router_free(r);
}

static void
test_no_route_404(void **state)
{
	static const struct route_spec spec[] = {
		{ "/only", false, 0, NULL },
	};
	struct router *r = probed_router(spec, 1);
	struct http_response resp;

	(void)state;
	assert_int_equal(request(r, METHOD_GET, "/other", &resp), 404);
	assert_int_equal(answered, 0);
	assert_int_equal(resp.body_len, 9);
	assert_memory_equal(resp.body, "Not Found", 9);
	assert_int_equal(resp.headers.len, 0);
	resp_free(&resp);
	router_free(r);

	/* no routes at all */
	config_of(NULL, 0);
	{
		char err[64];

		r = router_new(cfg.routes, cfg.nroutes, NULL, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(request(r, METHOD_GET, "/", &resp), 404);
		router_free(r);
	}
}

/* ---- methods ------------------------------------------------------------ */

static void
test_methods_and_head_via_get(void **state)
{
	static const struct route_spec spec[] = {
		{ "/r", false, M(METHOD_GET), NULL },
		{ "/any", false, 0, NULL },
	};
	struct router *r = probed_router(spec, 2);
	struct http_response resp;

	(void)state;
	assert_int_equal(request(r, METHOD_GET, "/r", &resp), 200);
	assert_int_equal(answered, 1);
	/* a route that takes GET takes HEAD */
	assert_int_equal(request(r, METHOD_HEAD, "/r", &resp), 200);
	assert_int_equal(answered, 1);
	/* no methods: anything */
	assert_int_equal(request(r, METHOD_DELETE, "/any", &resp), 200);
	assert_int_equal(request(r, METHOD_PATCH, "/any", &resp), 200);
	assert_int_equal(answered, 2);
	router_free(r);
}

static void
test_405_with_allow(void **state)
{
	static const struct route_spec spec[] = {
		{ "/r", false, M(METHOD_GET), NULL },
		{ "/w", false, M(METHOD_POST), NULL },
		/* two routes of one path: the union is allowed */
		{ "/w", false, M(METHOD_PUT) | M(METHOD_DELETE), NULL },
		/* a prefix that takes only POST: its methods count too */
		{ "/w", true, M(METHOD_POST), NULL },
	};
	struct router *r = probed_router(spec, 4);
	struct http_response resp;

	(void)state;
	assert_int_equal(request(r, METHOD_POST, "/r", &resp), 405);
	assert_int_equal(answered, 0);
	assert_int_equal(resp.body_len, 18);
	assert_memory_equal(resp.body, "Method Not Allowed", 18);
	assert_string_equal(headers_of(&resp), "Allow: GET, HEAD\r\n");
	resp_free(&resp);

	/* HEAD comes only with GET: not allowed on a POST route */
	assert_int_equal(request(r, METHOD_HEAD, "/w", &resp), 405);
	assert_string_equal(headers_of(&resp),
	    "Allow: DELETE, POST, PUT\r\n");
	resp_free(&resp);

	/* the one that allows it answers, whichever comes first */
	assert_int_equal(request(r, METHOD_PUT, "/w", &resp), 200);
	assert_int_equal(answered, 3);
	assert_int_equal(request(r, METHOD_POST, "/w", &resp), 200);
	assert_int_equal(answered, 2);
	assert_int_equal(request(r, METHOD_POST, "/wx", &resp), 200);
	assert_int_equal(answered, 4);
	assert_int_equal(request(r, METHOD_GET, "/wx", &resp), 405);
	assert_string_equal(headers_of(&resp), "Allow: POST\r\n");
	resp_free(&resp);
	router_free(r);
}

/* ---- building ----------------------------------------------------------- */

static void
test_errors_name_the_route(void **state)
{
	static const struct route_spec unknown[] = {
		{ "/", false, 0, NULL },
		{ "/x", false, 0, "helo" },
	};
	static const struct route_spec module[] = {
		{ "/app", false, 0, "app.greet" },
	};
	char err[256];

	(void)state;
	config_of(unknown, 2);
	assert_null(router_new(cfg.routes, cfg.nroutes, NULL, err, sizeof(err)));
	assert_string_equal(err,
	    "test.json:2:5: routes[1].handler: unknown handler \"helo\"");
	/* a module's handler, without the module loaded */
	config_of(module, 1);
	assert_null(router_new(cfg.routes, cfg.nroutes, NULL, err, sizeof(err)));
	assert_string_equal(err,
	    "test.json:1:5: routes[0].handler: module \"app\" is not loaded");
}

/* The real handlers run when not probed: the route's state is theirs. */
static void
test_real_handlers(void **state)
{
	static const struct route_spec spec[] = {
		{ "/", false, 0, "hello" },
		{ "/json", false, 0, "json" },
	};
	struct http_response resp;
	struct router *r;
	char err[64];

	(void)state;
	config_of(spec, 2);
	r = router_new(cfg.routes, cfg.nroutes, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(request(r, METHOD_GET, "/", &resp), 200);
	assert_int_equal(resp.body_len, 13);
	assert_memory_equal(resp.body, "Hello, World!", 13);
	assert_int_equal(request(r, METHOD_GET, "/json", &resp), 200);
	assert_int_equal(resp.body_len, 27);
	assert_memory_equal(resp.body, "{\"message\":\"Hello, World!\"}", 27);
	resp_free(&resp);
	router_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_prefix_longest_first),
		cmocka_unit_test(test_config_order_among_equals),
		cmocka_unit_test(test_no_route_404),
		cmocka_unit_test(test_methods_and_head_via_get),
		cmocka_unit_test(test_405_with_allow),
		cmocka_unit_test(test_errors_name_the_route),
		cmocka_unit_test(test_real_handlers),
	};

	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
