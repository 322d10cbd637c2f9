/*
 * chanredis — the channels' transport through Redis publish/subscribe
 * (the top-level "redis" key): every worker of every host sharing the
 * Redis server receives every message; ids are a counter per channel in
 * Redis, and the histories are Redis lists, so a subscriber resumes on
 * any host. See chanredis.c for the keys.
 */
#ifndef SHOAL_SERVICES_CHANREDIS_H
#define SHOAL_SERVICES_CHANREDIS_H

#include <stddef.h>

struct channels;
struct channel_cfg;
struct redis;

/*
 * Carry ch's messages through r (the worker's client; a subscriber
 * connection of its own is made once a channel has a subscriber here),
 * with cfg's history length and key prefix. -1 with a reason in err.
 */
int chanredis_start(struct channels *ch, struct redis *r,
    const struct channel_cfg *cfg, char *err, size_t errlen);

#endif
