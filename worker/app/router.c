/*
 * router — see router.h. Routes are few (at most CONFIG_MAX_ROUTES) and
 * compared by length first, so a linear scan beats anything cleverer.
 */
#include "worker/app/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/method.h"
#include "worker/app/registry.h"

#define LIT(s) s, sizeof(s) - 1

struct route {
	const char *path;            /* borrowed from the config */
	size_t path_len;
	bool prefix;
	uint64_t methods;            /* 0: any */
	const struct handler_def *def;
	void *state;
};

struct router {
	struct route *routes;        /* exact ones first, then prefixes, longest first */
	size_t n;
};

static int
route_order(const void *a, const void *b)
{
	const struct route *x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix ? 1 : -1;
	if (x->prefix && x->path_len != y->path_len)
		return x->path_len > y->path_len ? -1 : 1;
	return 0;
}

struct router *
router_new(const struct route_cfg *routes, size_t n, const struct modules *mods,
    char *err, size_t errlen)
{
	struct router *r;
	char why[768];

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->routes = calloc(n ? n : 1, sizeof(*r->routes))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct route_cfg *rc = &routes[i];
		struct route *rt = &r->routes[i];

		rt->path = rc->path;
		rt->path_len = strlen(rc->path);
		rt->prefix = rc->prefix;
		rt->methods = rc->methods;
		if (rt->methods & (1ull << METHOD_GET))
			rt->methods |= 1ull << METHOD_HEAD;
		if ((rt->def = registry_resolve(mods, rc, err, errlen)) == NULL)
			goto err;
		why[0] = '\0';
		if (rt->def->init != NULL &&
		    rt->def->init(rc->spec, &rt->state, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s: handler %s: %s", rc->where,
			    rc->key, rc->handler, why);
			goto err;
		}
		r->n++;
	}
	/* stable for equal keys: config order decides among equals */
	for (size_t i = 1; i < r->n; i++)
		for (size_t j = i; j > 0 && route_order(&r->routes[j - 1],
		    &r->routes[j]) > 0; j--) {
			struct route t = r->routes[j];

			r->routes[j] = r->routes[j - 1];
			r->routes[j - 1] = t;
		}
	return r;
err:
	router_free(r);
	return NULL;
}

static bool
path_matches(const struct route *rt, const char *path, size_t len)
{
	if (rt->prefix)
		return len >= rt->path_len && memcmp(path, rt->path,
		    rt->path_len) == 0;
	return len == rt->path_len && memcmp(path, rt->path, len) == 0;
}

static void
method_not_allowed(struct http_response *resp, uint64_t allowed)
{
	struct buf allow = { 0 };

	for (int m = 0; m < 64; m++) {
		if (!(allowed & (1ull << m)))
			continue;
		if (method_name(m) != NULL && buf_printf(&allow, "%s%s",
		    allow.len ? ", " : "", method_name(m)) == -1)
			break;
	}
	http_response_static(resp, 405, "text/plain", LIT("Method Not Allowed"));
	if (allow.len > 0 && buf_append(&allow, "", 1) == 0)
		http_response_header(resp, "Allow", allow.p);
	buf_free(&allow);
}

void
router_dispatch(const struct router *r, struct http_request *req,
    struct http_response *resp)
{
	uint64_t bit = 1ull << (req->method_id & 63), allowed = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct route *rt = &r->routes[i];

		if (!path_matches(rt, req->path, req->path_len))
			continue;
		if (rt->methods != 0 && !(rt->methods & bit)) {
			allowed |= rt->methods;
			continue;
		}
		req->route_path = rt->path;
		rt->def->handle(req, resp, rt->state);
		return;
	}
	if (allowed != 0)
		method_not_allowed(resp, allowed);
	else
		http_response_static(resp, 404, "text/plain", LIT("Not Found"));
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->routes[i].def->free != NULL)
			r->routes[i].def->free(r->routes[i].state);
	free(r->routes);
	free(r);
}
