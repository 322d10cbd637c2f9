/*
 * wsaccept — the WebSocket opening handshake (RFC 6455 4.2): the checks of
 * the client's request, Sec-WebSocket-Accept (SHA-1 and base64 from
 * nettle), the subprotocol, and the 101 that hands the connection to ws.c
 * (worker/api/ws.h: http_websocket_accept).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "worker/api/ws.h"
#include "worker/http/ws.h"

#define LIT(s) s, sizeof(s) - 1

/* RFC 6455 1.3: appended to the client's key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Length of s without the spaces and tabs around it; *s moves past the
 * leading ones. */
static size_t
trim(const char **s, size_t len)
{
	while (len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		len--;
	}
	while (len > 0 && ((*s)[len - 1] == ' ' || (*s)[len - 1] == '\t'))
		len--;
	return len;
}

/*
 * True if a header named name has token among its comma-separated values
 * (every field of that name counts: RFC 9110 5.3). Tokens compare without
 * case unless exact.
 */
static bool
has_token(const struct http_request *req, const char *name,
    const char *token, bool exact)
{
	size_t n = strlen(name), t = strlen(token);

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		const char *v = h->value, *end = h->value + h->value_len;

		if (h->name_len != n || strncasecmp(h->name, name, n) != 0)
			continue;
		while (v < end) {
			const char *comma = memchr(v, ',', (size_t)(end - v));
			const char *item = v;
			size_t len = trim(&item, (size_t)((comma ? comma : end) - v));

			if (len == t && (exact ? strncmp(item, token, t) :
			    strncasecmp(item, token, t)) == 0)
				return true;
			v = comma ? comma + 1 : end;
		}
	}
	return false;
}

/* The one value of header name, trimmed; NULL if absent. */
static const char *
header(const struct http_request *req, const char *name, size_t *len)
{
	const char *v = http_request_header(req, name, len);

	if (v != NULL)
		*len = trim(&v, *len);
	return v;
}

/* A key is the base64 of 16 bytes (RFC 6455 4.1): exactly 24 characters. */
static bool
key_valid(const char *key, size_t len)
{
	struct base64_decode_ctx b64;
	uint8_t raw[BASE64_DECODE_LENGTH(24)];
	size_t n = sizeof(raw);

	if (len != 24)
		return false;
	base64_decode_init(&b64);
	return base64_decode_update(&b64, &n, raw, len, key) == 1 &&
	    base64_decode_final(&b64) == 1 && n == 16;
}

/* out (29 bytes) = base64(SHA-1(key + GUID)), NUL-terminated. */
static void
accept_value(const char *key, size_t len, char out[29])
{
	struct sha1_ctx sha;
	uint8_t digest[SHA1_DIGEST_SIZE];

	sha1_init(&sha);
	sha1_update(&sha, len, (const uint8_t *)key);
	sha1_update(&sha, sizeof(ws_guid) - 1, (const uint8_t *)ws_guid);
	sha1_digest(&sha, sizeof(digest), digest);
	base64_encode_raw(out, sizeof(digest), digest);
	out[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE)] = '\0';
}

static int
refuse(struct http_response *resp, int status, const char *body, size_t len,
    const char *hname, const char *hvalue)
{
	http_response_static(resp, status, "text/plain", body, len);
	if (hname != NULL)
		http_response_header(resp, hname, hvalue);
	return -1;
}

bool
http_websocket_offers(const struct http_request *req,
    const char *subprotocol)
{
	return has_token(req, "Sec-WebSocket-Protocol", subprotocol, true);
}

int
http_websocket_accept(struct http_request *req, struct http_response *resp,
    const struct ws_handler *h, void *arg, const char *subprotocol)
{
	const char *key, *version;
	size_t key_len = 0, version_len = 0;
	char accept[29];
	struct ws *ws;
	int r;

	if (!has_token(req, "Upgrade", "websocket", false))
		return refuse(resp, 426, LIT("a WebSocket handshake is "
		    "expected here\n"), "Upgrade", "websocket");
	if (strcmp(req->method, "GET") != 0 || req->version_major != 1 ||
	    req->version_minor < 1 ||
	    !has_token(req, "Connection", "upgrade", false))
		return refuse(resp, 400, LIT("a WebSocket handshake is a GET "
		    "over HTTP/1.1 with Connection: upgrade\n"), NULL, NULL);
	version = header(req, "Sec-WebSocket-Version", &version_len);
	if (version == NULL || version_len != 2 || memcmp(version, "13", 2) != 0)
		return refuse(resp, 426, LIT("Sec-WebSocket-Version must be 13\n"),
		    "Sec-WebSocket-Version", "13");
	key = header(req, "Sec-WebSocket-Key", &key_len);
	if (key == NULL || !key_valid(key, key_len))
		return refuse(resp, 400, LIT("Sec-WebSocket-Key must be the "
		    "base64 of 16 bytes\n"), NULL, NULL);
	if (req->draining)
		return refuse(resp, 503, LIT("draining\n"), "Retry-After", "1");
	if (subprotocol != NULL && !http_websocket_offers(req, subprotocol))
		return refuse(resp, 500, LIT("the handler chose a subprotocol "
		    "the client did not offer\n"), NULL, NULL);
	if ((ws = ws_new(h, arg)) == NULL)
		return refuse(resp, 500, LIT("Internal Server Error\n"), NULL,
		    NULL);

	accept_value(key, key_len, accept);
	http_response_static(resp, 101, NULL, NULL, 0);
	r = http_response_header(resp, "Upgrade", "websocket");
	r |= http_response_header(resp, "Connection", "Upgrade");
	r |= http_response_header(resp, "Sec-WebSocket-Accept", accept);
	if (subprotocol != NULL)
		r |= http_response_header(resp, "Sec-WebSocket-Protocol",
		    subprotocol);
	if (r != 0) {
		resp->headers.len = 0;
		ws_discard(ws, false);
		return refuse(resp, 500, LIT("Internal Server Error\n"), NULL,
		    NULL);
	}
	resp->websocket = ws;
	return 0;
}
