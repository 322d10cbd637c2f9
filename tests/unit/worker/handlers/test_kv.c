/*
 * Unit tests for worker/handlers/kv.c without a server: the key's
 * percent-decoding, the route keys, what each Redis reply becomes
 * (kv_answer, fed hiredis replies as the client hands them over), and
 * the answers the handler gives in its own stack: 405 with Allow, 404 for
 * no key, 400 for a bad key, 503 with Retry-After when Redis cannot take
 * the command (no client here: req->redis is NULL), answered through the
 * deferred handle. The round trips through
 * a real redis-server are tests/integration/test_kv.py's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/handlers/kv.c"

#include <hiredis/hiredis.h>

#include "worker/http/deferred.h"

static const struct redis_reply *
as_reply(const redisReply *r)
{
	return (const struct redis_reply *)(const void *)r;
}

static const char *
header(const struct http_response *resp, const char *name)
{
	static char value[128];
	const char *p = resp->headers.p, *end = p + resp->headers.len, *eol;
	size_t n = strlen(name);

	for (; p != NULL && p < end; p = eol + 2) {
		eol = strstr(p, "\r\n");
		if (eol == NULL)
			break;
		if ((size_t)(eol - p) > n + 2 && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			snprintf(value, sizeof(value), "%.*s", (int)(eol - p - n - 2),
			    p + n + 2);
			return value;
		}
	}
	return NULL;
}

static void
resp_free(struct http_response *resp)
{
	buf_free(&resp->headers);
	buf_free(&resp->body_buf);
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
}

static void
test_decode(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(options_decode("abc", 3, out), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(options_decode("a%20b%2Fc%ff", 12, out), 6);
	assert_memory_equal(out, "a b/c\xff", 6);
	assert_int_equal(options_decode("%2f%2F", 6, out), 2);
	assert_memory_equal(out, "//", 2);
	/* Bad escapes, and NUL. */
	assert_int_equal(options_decode("a%", 2, out), -1);
	assert_int_equal(options_decode("a%2", 3, out), -1);
	assert_int_equal(options_decode("%zz", 3, out), -1);
	assert_int_equal(options_decode("%00", 3, out), -1);
	assert_int_equal(options_decode("", 0, out), 0);
}

static void
test_route_keys(void **state)
{
	static const struct {
		const char *route, *err;
	} cases[] = {
		{ "{\"path\": \"/kv/\", \"match\": \"prefix\", \"handler\": \"kv\"}",
		  NULL },
		{ "{\"path\": \"/kv/\", \"match\": \"prefix\", \"handler\": \"kv\", "
		  "\"key_prefix\": \"app:\"}", NULL },
		{ "{\"path\": \"/kv/\", \"handler\": \"kv\"}",
		  "handler kv needs \"match\": \"prefix\"" },
		{ "{\"path\": \"/kv/\", \"match\": \"exact\", \"handler\": \"kv\"}",
		  "\"match\": handler kv needs" },
		{ "{\"path\": \"/kv\", \"match\": \"prefix\", \"handler\": \"kv\"}",
		  "\"path\": handler kv needs a path that ends with \"/\"" },
		{ "{\"path\": \"/kv/\", \"match\": \"prefix\", \"handler\": \"kv\", "
		  "\"key_prefix\": 1}", "\"key_prefix\": expected a string" },
		{ "{\"path\": \"/kv/\", \"match\": \"prefix\", \"handler\": \"kv\", "
		  "\"root\": \"/\"}", "\"root\": unknown key for handler kv" },
	};
	char err[256];
	void *st;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *route = json_loads(cases[i].route, 0, NULL);

		assert_non_null(route);
		err[0] = '\0';
		if (cases[i].err == NULL) {
			assert_int_equal(kv_check(route, err, sizeof(err)), 0);
			assert_int_equal(kv_init(route, &st, err, sizeof(err)), 0);
			assert_int_equal(((struct kv *)st)->n.route_len, 4);
			kv_free(st);
		} else {
			assert_int_equal(kv_check(route, err, sizeof(err)), -1);
			if (strstr(err, cases[i].err) == NULL)
				fail_msg("%s: got \"%s\"", cases[i].route, err);
			assert_int_equal(kv_init(route, &st, err, sizeof(err)), -1);
		}
		json_decref(route);
	}
}

static void
test_replies(void **state)
{
	redisReply nil = { .type = REDIS_REPLY_NIL };
	redisReply val = { .type = REDIS_REPLY_STRING, .str = (char *)"v\0x",
	    .len = 3 };
	redisReply zero = { .type = REDIS_REPLY_INTEGER, .integer = 0 };
	redisReply one = { .type = REDIS_REPLY_INTEGER, .integer = 1 };
	redisReply wrong = { .type = REDIS_REPLY_ERROR,
	    .str = (char *)"WRONGTYPE Operation against a key", .len = 33 };
	redisReply ok = { .type = REDIS_REPLY_STATUS, .str = (char *)"OK",
	    .len = 2 };
	struct http_response resp = { .file_fd = -1 };

	(void)state;
	kv_answer(&resp, KV_GET, as_reply(&nil));
	assert_int_equal(resp.status, 404);
	resp_free(&resp);
	kv_answer(&resp, KV_GET, as_reply(&val));
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/octet-stream");
	assert_int_equal(resp.body_len, 3);
	assert_memory_equal(resp.body, "v\0x", 3);
	resp_free(&resp);
	kv_answer(&resp, KV_PUT, as_reply(&zero));
	assert_int_equal(resp.status, 201);
	resp_free(&resp);
	kv_answer(&resp, KV_PUT, as_reply(&one));
	assert_int_equal(resp.status, 204);
	resp_free(&resp);
	kv_answer(&resp, KV_DEL, as_reply(&one));
	assert_int_equal(resp.status, 204);
	resp_free(&resp);
	kv_answer(&resp, KV_DEL, as_reply(&zero));
	assert_int_equal(resp.status, 404);
	resp_free(&resp);
	/* Redis refused: 502 with its words. */
	kv_answer(&resp, KV_GET, as_reply(&wrong));
	assert_int_equal(resp.status, 502);
	assert_non_null(memmem(resp.body, resp.body_len, "WRONGTYPE", 9));
	resp_free(&resp);
	/* A reply of the wrong kind. */
	kv_answer(&resp, KV_DEL, as_reply(&ok));
	assert_int_equal(resp.status, 502);
	resp_free(&resp);
	/* No reply: why decides. */
	kv_unavailable(&resp, ENOTCONN);
	assert_int_equal(resp.status, 503);
	assert_string_equal(header(&resp, "Retry-After"), "1");
	resp_free(&resp);
	kv_unavailable(&resp, ETIMEDOUT);
	assert_int_equal(resp.status, 504);
	resp_free(&resp);
}

/*
 * Run the handler on method and path under the route "/kv/". An answer
 * made through a deferred handle (Redis refused the command) is copied
 * to resp, as the connection would frame it, and the handle freed.
 */
static void
handle(struct http_response *resp, const char *method, const char *path)
{
	struct http_deferred *d;
	struct kv kv = { .n = { .route_len = 4, .prefix = (char *)"p:",
	    .prefix_len = 2 } };
	struct http_request req;

	memset(&req, 0, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
	req.method = method;
	req.path = path;
	req.path_len = strlen(path);
	req.route_path = "/kv/";
	req.redis = NULL;
	kv_handle(&req, resp, &kv);
	if ((d = resp->deferred) != NULL) {
		*resp = *http_deferred_response(d);
		memset(http_deferred_response(d), 0, sizeof(*resp));
		http_deferred_response(d)->file_fd = -1;
		deferred_detach(d);
	}
}

static void
test_handler_answers_at_once(void **state)
{
	struct http_response resp;
	char longpath[2048];

	(void)state;
	handle(&resp, "POST", "/kv/a");
	assert_int_equal(resp.status, 405);
	assert_string_equal(header(&resp, "Allow"), "GET, HEAD, PUT, DELETE");
	resp_free(&resp);
	handle(&resp, "GET", "/kv/");
	assert_int_equal(resp.status, 404);
	resp_free(&resp);
	handle(&resp, "PUT", "/kv/a%00b");
	assert_int_equal(resp.status, 400);
	resp_free(&resp);
	handle(&resp, "DELETE", "/kv/a%4");
	assert_int_equal(resp.status, 400);
	resp_free(&resp);
	/* No client: Redis cannot be asked. */
	handle(&resp, "GET", "/kv/a");
	assert_int_equal(resp.status, 503);
	assert_string_equal(header(&resp, "Retry-After"), "1");
	resp_free(&resp);
	/* A key longer than the stack buffer takes the heap (ASan: no leak). */
	memcpy(longpath, "/kv/", 4);
	memset(longpath + 4, 'k', sizeof(longpath) - 5);
	longpath[sizeof(longpath) - 1] = '\0';
	handle(&resp, "HEAD", longpath);
	assert_int_equal(resp.status, 503);
	resp_free(&resp);
	longpath[sizeof(longpath) - 2] = '%';
	handle(&resp, "GET", longpath);
	assert_int_equal(resp.status, 400);
	resp_free(&resp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_route_keys),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_handler_answers_at_once),
	};

	return cmocka_run_group_tests_name("kv", tests, NULL, NULL);
}
