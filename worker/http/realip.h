/*
 * realip — the client address of a request, for logs and handlers.
 *
 * Behind a reverse proxy the peer is the proxy; the client is in the
 * X-Forwarded-For / X-Real-IP headers the proxy adds. Those headers are
 * believed only from a trusted peer ("trusted_proxies": cfg->trusted, and
 * cfg->trust_unix for a Unix-domain peer); anyone else could write any
 * address in them.
 *
 * IPv4-mapped IPv6 addresses (::ffff:1.2.3.4, as a dual-stack socket
 * reports an IPv4 peer) are IPv4 everywhere here: they match IPv4 ranges
 * only, and are written as IPv4.
 *
 * Pure functions: no I/O, no allocation.
 */
#ifndef SHOAL_REALIP_H
#define SHOAL_REALIP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/config.h"
#include "worker/api/http.h"

/* Room for any address realip_client writes: "[v6]:65535" and the NUL. */
#define REALIP_ADDRSTRLEN (INET6_ADDRSTRLEN + 8)

/*
 * Does sa (AF_INET or AF_INET6; other families, or NULL, never match) fall
 * in one of the n ranges of list? A range's host bits need not be zero; a
 * prefix beyond the family's width counts as the full width.
 */
bool realip_trusted(const struct cidr *list, size_t n,
    const struct sockaddr *sa);

/*
 * Write the client address of a request into out (outlen bytes, at least
 * REALIP_ADDRSTRLEN to never truncate; always NUL-terminated if outlen >
 * 0). Returns 1 if it came from a header, 0 if it is the peer's.
 *
 * peer is the connection's peer address (NULL for a Unix-domain peer, as
 * is peer_is_unix or an AF_UNIX peer). xff/xff_len is the X-Forwarded-For
 * value, xri/xri_len the X-Real-IP value: not NUL-terminated; NULL when
 * absent. A request with several X-Forwarded-For fields is given one value,
 * the fields joined in order with ", " (the list they form, RFC 9110 5.3).
 *
 * From a trusted peer, X-Forwarded-For is walked from the right (the hop
 * nearest to us), past the addresses that are themselves trusted; the
 * first untrusted one is the client. If every hop is trusted, the leftmost
 * is. An entry that is not an address ("unknown", a host name, garbage)
 * stops the walk and nothing is taken from X-Forwarded-For: beyond it the
 * chain cannot be followed. Empty entries (", ,") are skipped, as list
 * syntax allows. Failing that, X-Real-IP if it is one valid address.
 * Failing that, or from an untrusted peer, the peer.
 *
 * Header entries may carry spaces or tabs around them, a port
 * ("1.2.3.4:5678", "[2001:db8::1]:80") and brackets around IPv6
 * ("[2001:db8::1]"); the result is the bare address in canonical form
 * ("203.0.113.7", "2001:db8::1"). A peer address is written with its port
 * ("1.2.3.4:5678", "[::1]:5678"), a Unix peer as "unix", a peer of any
 * other family as "unknown".
 */
int realip_client(const struct config *cfg, const struct sockaddr *peer,
    bool peer_is_unix, const char *xff, size_t xff_len, const char *xri,
    size_t xri_len, char *out, size_t outlen);

/*
 * The same, with X-Forwarded-For and X-Real-IP found among a request's
 * header fields (hdrs, nhdrs): 1 if the client came from one of them, 0
 * if it is the peer (out is then not to be used).
 */
int realip_request_client(const struct config *cfg,
    const struct sockaddr *peer, bool peer_is_unix,
    const struct http_header *hdrs, size_t nhdrs, char *out, size_t outlen);

/* A connection's peer as text into out (len: REALIP_ADDRSTRLEN never
 * truncates): "1.2.3.4:5", "[::1]:5", "unix" when sa is NULL, "?" for
 * another family. Cheap enough to be done for every request. */
void realip_format(char *out, size_t len, const struct sockaddr *sa);

#endif
