/*
 * head — the head of an HTTP/1.x request (RFC 9112 2-5, RFC 9110): the
 * request line and the field lines, checked in one pass over contiguous
 * bytes and refused at the first byte that breaks the grammar. Nothing is
 * guessed: a bare CR or LF, obs-fold, a field name that is not a token, a
 * control byte in a value, a second Host or Content-Length, an invalid
 * Host, a Transfer-Encoding other than a list ending in one "chunked" are
 * all refusals, each with its status and a reason (enum head_why).
 *
 * The scan is resumable at any byte: head_parse is called again with the
 * same bytes and more after them (the caller keeps the head contiguous),
 * and picks up where it stopped, so a head split over reads costs one pass
 * in all. Everything it finds is an offset from the head's first byte, so
 * the caller may move the bytes between calls. It keeps no bytes and
 * allocates nothing: fields go into an array the caller gives.
 *
 * The same scan checks a chunked body's trailer section (field lines and
 * the empty line), which is read and dropped (RFC 9110 6.5.1: a trailer
 * must not be taken for a header field).
 */
#ifndef SHOAL_HEAD_H
#define SHOAL_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* Character classes of RFC 9110/9112 and RFC 3986, one bit each. */
#define HEAD_TCHAR   0x01    /* token: field names, methods, codings */
#define HEAD_FIELD   0x02    /* in a field value: VCHAR, obs-text, SP, HTAB */
#define HEAD_TARGET  0x04    /* in a request-target: VCHAR but '#', and
                                obs-text (raw UTF-8: no delimiter) */
#define HEAD_HEX     0x08
#define HEAD_DIGIT   0x10
#define HEAD_REGNAME 0x20    /* in a reg-name: unreserved, sub-delims */
#define HEAD_QDTEXT  0x40    /* in a quoted-string, unescaped */
#define HEAD_OWS     0x80    /* SP, HTAB */
extern const uint8_t head_ctype[256];
#define HEAD_IS(c, cls) ((head_ctype[(unsigned char)(c)] & (cls)) != 0)

/* The longest method token read before it is known to be none of ours
 * (RFC 9112 3: a method longer than any implemented is a 501). */
#define HEAD_METHOD_MAX 32

/* Why a request was refused. The reader's body checks use these too. */
enum head_why {
	HEAD_OK,
	HEAD_METHOD_CHAR,        /* a byte that cannot be in a method */
	HEAD_METHOD_UNKNOWN,     /* a method token shoal does not implement */
	HEAD_TARGET_CHAR,        /* a control byte, DEL or '#' in a target */
	HEAD_TARGET_LONG,
	HEAD_TARGET_FORM,        /* a form the method does not take, a bad
	                            absolute-form or authority-form */
	HEAD_VERSION,            /* not "HTTP/" DIGIT "." DIGIT */
	HEAD_VERSION_UNSUPPORTED,
	HEAD_BARE_CR,            /* a CR not followed by LF */
	HEAD_BARE_LF,            /* an LF not preceded by CR */
	HEAD_OBS_FOLD,           /* a field line starting with whitespace */
	HEAD_NAME_CHAR,          /* a field name that is not a token, or no
	                            colon (whitespace before it: RFC 9112 5.1) */
	HEAD_VALUE_CHAR,         /* a control byte (or NUL) in a field value */
	HEAD_FIELDS_LARGE,
	HEAD_FIELDS_MANY,
	HEAD_HOST_MISSING,       /* HTTP/1.1 without Host */
	HEAD_HOST_TWICE,
	HEAD_HOST_INVALID,       /* not uri-host [":" port] */
	HEAD_CL_INVALID,         /* Content-Length not 1*DIGIT (19 at most) */
	HEAD_CL_TWICE,           /* a second Content-Length, equal or not */
	HEAD_CL_AND_TE,
	HEAD_TE_INVALID,         /* an empty or non-token coding (parameters) */
	HEAD_TE_NOT_CHUNKED,     /* chunked is not the final coding */
	HEAD_TE_CHUNKED_TWICE,
	HEAD_TE_UNSUPPORTED,     /* a coding besides chunked: 501 */
	HEAD_TE_HTTP10,          /* Transfer-Encoding in an HTTP/1.0 request */
	HEAD_CONNECTION_INVALID, /* Connection: an element that is no token */
	HEAD_CONNECT_BODY,       /* CONNECT with a body */
	HEAD_EXPECT,             /* an expectation other than 100-continue */
	HEAD_BODY_LARGE,
	HEAD_CHUNK_SIZE,         /* not 1*16HEXDIG */
	HEAD_CHUNK_EXT,          /* a chunk extension off the grammar, or long */
	HEAD_CHUNK_END,          /* chunk data not followed by CRLF */
	HEAD_NO_MEMORY,
	HEAD_CONTINUE_FAILED,    /* 100 Continue could not be queued */
	HEAD_WHY_COUNT
};

/* "bare LF in the request head", ... */
const char *head_why_str(enum head_why why);

enum head_form {
	HEAD_ORIGIN,             /* /path?query */
	HEAD_ABSOLUTE,           /* http://authority/path?query */
	HEAD_AUTHORITY,          /* host:port, CONNECT only */
	HEAD_ASTERISK,           /* *, OPTIONS only */
};

/* Flags: what the fields said. */
#define HEAD_F_HOST          0x0001
#define HEAD_F_CL            0x0002
#define HEAD_F_TE            0x0004
#define HEAD_F_CHUNKED       0x0008  /* the last coding so far is chunked */
#define HEAD_F_TE_OTHER      0x0010
#define HEAD_F_CLOSE         0x0020  /* Connection: close */
#define HEAD_F_KEEP_ALIVE    0x0040  /* Connection: keep-alive */
#define HEAD_F_CONN_UPGRADE  0x0080  /* Connection: upgrade */
#define HEAD_F_UPGRADE       0x0100  /* an Upgrade field with a value */
#define HEAD_F_CONTINUE      0x0200  /* Expect: 100-continue */
#define HEAD_F_EXPECT_OTHER  0x0400

/* A field line: offsets from the head's first byte; the value without
 * the whitespace around it. */
struct head_field {
	uint32_t name_off, name_len, value_off, value_len;
};

/* Where the scan is: private to head.c. */
struct head_scan {
	uint32_t pos;            /* the next byte to look at */
	uint32_t mark;           /* start of the element being read */
	uint32_t colon, vstart, vend;
	uint32_t section;        /* start of the field section */
	uint32_t count;          /* field lines so far */
	uint8_t state;
	bool trailers;           /* a trailer section: fields not kept */
};

struct head {
	struct head_scan s;
	int8_t method;           /* enum method_id, -1 until known */
	uint8_t major, minor;
	uint8_t form;            /* enum head_form */
	uint16_t flags;          /* HEAD_F_* */
	uint16_t status;         /* when refused: the status ... */
	uint8_t why;             /* ... and enum head_why */
	uint32_t target_off, target_len;
	uint32_t path_off;       /* the path in the target (absolute-form:
	                            after the authority) */
	uint32_t nfields;
	uint32_t len;            /* the whole head's, once HEAD_DONE */
	uint64_t content_length;
};

enum head_rc {
	HEAD_MORE,               /* all bytes so far are fine; more needed */
	HEAD_DONE,               /* complete: len is its length */
	HEAD_BAD,                /* refused: status and why */
};

/* Start on a new request head (its first byte is that of the method). */
void head_init(struct head *h);

/* Start on a trailer section, once h's head has been used. */
void head_init_trailers(struct head *h);

/*
 * Scan the head in base[0..len) from where the last call stopped; fields
 * receives every field line (room for lim->max_headers; NULL for a
 * trailer section). Refuses with 414 (target over max_request_line), 431
 * (field section over max_header_size or more than max_headers lines), 413
 * (Content-Length over max_body_size), 501 (method, coding), 505, 417 or
 * 400. A refusal is final; so is HEAD_DONE.
 */
enum head_rc head_parse(struct head *h, const char *base, size_t len,
    const struct http_limits *lim, struct head_field *fields);

/* The most bytes a head within lim can have: more cannot be HEAD_MORE. */
size_t head_max_len(const struct http_limits *lim);

/* s[0..len) is uri-host [":" port] (RFC 9110 4.2.3, 7.2): a reg-name, an
 * IPv4 address or an IPv6 address in brackets; the port 1-5 digits and at
 * most 65535, required when need_port. */
bool head_authority_ok(const char *s, size_t len, bool need_port);

#endif
