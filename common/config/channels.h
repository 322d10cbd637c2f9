/*
 * config/channels — the "channels" key: publish/subscribe channels
 * (struct channel_cfg in config.h; worker/api/channel.h).
 */
#ifndef SHOAL_CONFIG_CHANNELS_H
#define SHOAL_CONFIG_CHANNELS_H

#include <jansson.h>

#include "common/config.h"
#include "common/config/key.h"

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/*
 * The cfg_apply_fn (key.h) of "channels": an object of scalars (checked
 * by cfg_apply_object against this file's member rows), and what ties
 * them together: a subscriber's queue and a channel's history can hold
 * at least one message of max_message, and the history of one channel
 * fits in the worker's "memory".
 */
int cfg_apply_channels(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from);

#pragma GCC visibility pop

#endif
