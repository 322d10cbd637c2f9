/*
 * chanlocal — the channels' transport within one host, through the
 * master's relay (common/relay.h, master/relay.c): every message any
 * worker publishes reaches every worker, stamped with the host-wide
 * sequence number that is its id; each worker keeps the channels'
 * histories itself (channel.c). Used when "redis" is not configured.
 */
#ifndef SHOAL_SERVICES_CHANLOCAL_H
#define SHOAL_SERVICES_CHANLOCAL_H

#include <stddef.h>

struct channels;
struct event_base;

/*
 * Carry ch's messages over fd, the worker's end of its relay socket
 * (owned from now on, even on failure). -1 with a reason in err: ch then
 * has no transport, and publishing fails with ENOTCONN.
 */
int chanlocal_start(struct channels *ch, struct event_base *base, int fd,
    char *err, size_t errlen);

#endif
