/*
 * proxy — the PROXY protocol header (HAProxy's proxy-protocol.txt, v1 text
 * and v2 binary) that a load balancer sends first on a connection, to tell
 * the original client's address.
 *
 * A pure parser: no I/O, no allocation. The connection layer calls it on
 * what it has read so far, reads more on PROXY_NEED_MORE, closes the
 * connection on PROXY_ERROR, and on PROXY_DONE drops the header's bytes
 * and hands the rest to the HTTP parser.
 *
 * Strict, as the spec asks ("any sequence which does not exactly match the
 * protocol must be discarded"):
 *   v1  "PROXY TCP4 1.2.3.4 5.6.7.8 111 222\r\n": single spaces; addresses
 *       of the announced family (inet_pton); ports 0..65535 in decimal,
 *       no sign, no leading zero; CRLF within the first 107 bytes.
 *       "PROXY UNKNOWN" then anything up to CRLF: no address.
 *   v2  the 12-byte signature, version 2, command LOCAL or PROXY,
 *       TCP over IPv4/IPv6 (UDP is refused: shoal speaks TCP), UNSPEC,
 *       or UNIX (no usable address); the address block at least as long
 *       as its family needs; the TLVs after the addresses must be well
 *       framed and are skipped.
 */
#ifndef SHOAL_PROXY_H
#define SHOAL_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest v1 line, CRLF included (the spec's bound). */
#define PROXY_V1_MAX 107
/* The fixed part of a v2 header; the address block and TLVs follow. */
#define PROXY_V2_HDR 16
/* The longest v2 header: the fixed part and a 16-bit length. */
#define PROXY_V2_MAX (PROXY_V2_HDR + 65535)

enum proxy_result {
	PROXY_NEED_MORE,             /* a valid prefix: read more, call again */
	PROXY_DONE,                  /* a whole header */
	PROXY_ERROR                  /* not a PROXY header, or a malformed one */
};

/*
 * Parse a PROXY header at the start of buf[0..len). Never reads beyond
 * len; buf may be NULL when len is 0.
 *
 * PROXY_DONE: *consumed = the header's length (the request follows it);
 * *src and *srclen = the original client's address: AF_INET or AF_INET6 with
 * its port, or ss_family = AF_UNSPEC and *srclen = 0 when the header
 * carries no address (v1 UNKNOWN; v2 LOCAL, as for a health check from
 * the proxy itself; v2 UNSPEC or UNIX): the caller keeps the peer's.
 *
 * PROXY_NEED_MORE: what is there is a strict prefix of a header ("PRO",
 * the first bytes of the v2 signature, a v2 header whose length says more
 * is coming). Within a v1 address still being received only the
 * characters and the length are checked (exactly for an IPv4 address);
 * the whole field is checked once its delimiter arrives.
 *
 * PROXY_ERROR: anything else, including a v1 line with no CRLF in its
 * first 107 bytes. Once PROXY_ERROR, more bytes never make it valid.
 *
 * *consumed, *src and *srclen are written only on PROXY_DONE.
 */
enum proxy_result proxy_parse(const void *buf, size_t len, size_t *consumed,
    struct sockaddr_storage *src, socklen_t *srclen);

#endif
