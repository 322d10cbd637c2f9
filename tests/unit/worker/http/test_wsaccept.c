/*
 * Unit tests for worker/http/wsaccept.c: the WebSocket handshake — RFC
 * 6455's own example key and Sec-WebSocket-Accept, every refusal with its
 * status and the header that tells the client what to do, header tokens
 * in lists and repeated fields, the subprotocol the client offered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/http/wsaccept.c"
#include "worker/http/response.h"

#define H(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static const struct ws_handler nothing = { 0 };

static struct http_header good[] = {
	H("Host", "x"),
	H("Upgrade", "WebSocket"),
	H("Connection", "keep-alive, Upgrade"),
	H("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
	H("Sec-WebSocket-Version", "13"),
	H("Sec-WebSocket-Protocol", "chat, superchat"),
	H("Sec-WebSocket-Protocol", "echo"),
};

static void
req_init(struct http_request *req, struct http_header *h, size_t n)
{
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->version_major = 1;
	req->version_minor = 1;
	req->headers = h;
	req->nheaders = n;
}

static void
resp_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->file_fd = -1;
}

/* The status of accepting req with header i's value replaced by v (NULL:
 * header i removed). */
static int
status_with(size_t i, const char *v, const char **hdrs_out)
{
	static char headers[512];
	struct http_header h[7];
	struct http_request req;
	struct http_response resp;
	size_t n = 0;

	for (size_t k = 0; k < 7; k++) {
		if (k == i && v == NULL)
			continue;
		h[n] = good[k];
		if (k == i) {
			h[n].value = v;
			h[n].value_len = strlen(v);
		}
		n++;
	}
	req_init(&req, h, n);
	resp_init(&resp);
	assert_int_equal(http_websocket_accept(&req, &resp, &nothing, NULL,
	    NULL), -1);
	snprintf(headers, sizeof(headers), "%.*s", (int)resp.headers.len,
	    resp.headers.p ? resp.headers.p : "");
	if (hdrs_out != NULL)
		*hdrs_out = headers;
	response_discard(&resp);
	return resp.status;
}

static void
test_rfc_example(void **state)
{
	struct http_request req;
	struct http_response resp;
	char accept[29];

	(void)state;
	accept_value("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	req_init(&req, good, 7);
	resp_init(&resp);
	assert_int_equal(http_websocket_accept(&req, &resp, &nothing, NULL,
	    "echo"), 0);
	assert_int_equal(resp.status, 101);
	assert_non_null(resp.websocket);
	assert_non_null(strstr(resp.headers.p,
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_non_null(strstr(resp.headers.p, "Upgrade: websocket\r\n"));
	assert_non_null(strstr(resp.headers.p, "Connection: Upgrade\r\n"));
	assert_non_null(strstr(resp.headers.p, "Sec-WebSocket-Protocol: echo\r\n"));
	response_discard(&resp);         /* frees the ws never started */
	assert_null(resp.websocket);
}

static void
test_refusals(void **state)
{
	const char *h;
	struct http_request req;
	struct http_response resp;

	(void)state;
	assert_int_equal(status_with(1, NULL, &h), 426);     /* no Upgrade */
	assert_string_equal(h, "Upgrade: websocket\r\n");
	assert_int_equal(status_with(1, "h2c", NULL), 426);
	assert_int_equal(status_with(2, "keep-alive", NULL), 400);
	assert_int_equal(status_with(4, "8", &h), 426);
	assert_string_equal(h, "Sec-WebSocket-Version: 13\r\n");
	assert_int_equal(status_with(4, NULL, NULL), 426);
	assert_int_equal(status_with(3, NULL, NULL), 400);
	assert_int_equal(status_with(3, "c2hvcnQ=", NULL), 400);
	assert_int_equal(status_with(3, "dGhlIHNhbXBsZSBub25jZQ", NULL), 400);
	assert_int_equal(status_with(3, "dGhlIHNhbXBsZSBub25jZ!==", NULL), 400);
	/* 24 characters that decode to 17 bytes. */
	assert_int_equal(status_with(3, "AAAAAAAAAAAAAAAAAAAAAAA=", NULL), 400);

	req_init(&req, good, 7);
	req.method = "POST";
	resp_init(&resp);
	assert_int_equal(http_websocket_accept(&req, &resp, &nothing, NULL,
	    NULL), -1);
	assert_int_equal(resp.status, 400);
	response_discard(&resp);
	req.method = "GET";
	req.version_minor = 0;
	resp_init(&resp);
	http_websocket_accept(&req, &resp, &nothing, NULL, NULL);
	assert_int_equal(resp.status, 400);
	response_discard(&resp);
	req.version_minor = 1;
	req.draining = true;
	resp_init(&resp);
	http_websocket_accept(&req, &resp, &nothing, NULL, NULL);
	assert_int_equal(resp.status, 503);
	response_discard(&resp);
	req.draining = false;
	resp_init(&resp);
	assert_int_equal(http_websocket_accept(&req, &resp, &nothing, NULL,
	    "superduper"), -1);
	assert_int_equal(resp.status, 500);      /* not offered */
	assert_null(resp.websocket);
	response_discard(&resp);
}

static void
test_offers(void **state)
{
	struct http_request req;

	(void)state;
	req_init(&req, good, 7);
	assert_true(http_websocket_offers(&req, "chat"));
	assert_true(http_websocket_offers(&req, "superchat"));
	assert_true(http_websocket_offers(&req, "echo"));    /* second field */
	assert_false(http_websocket_offers(&req, "Chat"));   /* case counts */
	assert_false(http_websocket_offers(&req, "super"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_offers),
	};

	return cmocka_run_group_tests_name("wsaccept", tests, NULL, NULL);
}
