/*
 * config/channels — see channels.h.
 */
#include "common/config/channels.h"

#include <stddef.h>
#include <stdio.h>

#include "common/config/diag.h"
#include "common/config/value.h"
#include "common/util.h"

#define CFG_COFF(member) offsetof(struct channel_cfg, member)

static const struct cfg_key cfg_channel_members[] = {
	{ .name = "history", .kind = CFG_SIZE, .offset = CFG_COFF(history),
	  .min = 0, .max = 100000, .def = 100,
	  .help = "messages of each channel kept to resume subscribers "
	  "(Last-Event-ID); 0: none" },
	{ .name = "history_bytes", .kind = CFG_BYTES,
	  .offset = CFG_COFF(history_bytes), .min = 0,
	  .max = 1073741824.0 /* 1 GiB */, .def = 1048576,
	  .help = "bytes of each channel's history at most" },
	{ .name = "memory", .kind = CFG_BYTES, .offset = CFG_COFF(memory),
	  .min = 0, .max = 1099511627776.0 /* 1 TiB */, .def = 67108864,
	  .help = "bytes of history a worker keeps over all its channels; "
	  "past it the least recently used channels' histories go" },
	{ .name = "queue", .kind = CFG_BYTES, .offset = CFG_COFF(queue),
	  .min = 1024, .max = 1073741824.0, .def = 1048576,
	  .help = "bytes waiting to be sent to one subscriber; past it the "
	  "subscriber is slow (see slow)" },
	/* In the order of enum channel_slow. */
	{ .name = "slow", .kind = CFG_CHOICE, .offset = CFG_COFF(slow),
	  .defstr = "close",
	  .choices = (const char *const[]){ "close", "drop", NULL },
	  .help = "a slow subscriber is closed (it resumes from the history) "
	  "or misses the messages that do not fit" },
	/* A message crosses the master's relay in one datagram; 128 KiB
	 * stays below the default socket buffer limit (wmem_max). */
	{ .name = "max_message", .kind = CFG_BYTES,
	  .offset = CFG_COFF(max_message), .min = 1, .max = 131072,
	  .def = 65536, .help = "bytes of one message (-> 413)" },
	{ .name = "keepalive", .kind = CFG_SECONDS,
	  .offset = CFG_COFF(keepalive), .min = 0, .max = 3600, .def = 30,
	  .help = "seconds of silence after which an event stream gets a "
	  "comment, so that proxies keep it open; 0: none" },
	{ .name = "redis_prefix", .kind = CFG_STRING,
	  .offset = CFG_COFF(redis_prefix), .defstr = "shoal:",
	  .help = "with \"redis\": what the channels' Redis keys and "
	  "publish/subscribe channels start with" },
};

/* The error at "channels"."member". */
static int
cfg_channels_fail(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const char *member, const char *msg)
{
	struct config_step at = { member, 0 };

	return cfg_fail_in(c, k, from, &at, 1, "\"%s\": %s", member, msg);
}

int
cfg_apply_channels(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	struct cfg_key obj = *k;
	struct channel_cfg *cc = &cfg->channels;
	char msg[160];

	obj.members = cfg_channel_members;
	obj.nmembers = ARRAY_SIZE(cfg_channel_members);
	if (cfg_apply_object(c, cfg, &obj, v, from) == -1)
		return -1;
	if (cc->queue < cc->max_message) {
		snprintf(msg, sizeof(msg), "expected at least max_message (%zu), "
		    "got %zu", cc->max_message, cc->queue);
		return cfg_channels_fail(c, k, from, "queue", msg);
	}
	if (cc->history > 0 && cc->history_bytes < cc->max_message) {
		snprintf(msg, sizeof(msg), "expected at least max_message (%zu) "
		    "while history is on, got %zu", cc->max_message,
		    cc->history_bytes);
		return cfg_channels_fail(c, k, from, "history_bytes", msg);
	}
	if (cc->history > 0 && cc->memory < cc->history_bytes) {
		snprintf(msg, sizeof(msg), "expected at least history_bytes "
		    "(%zu), got %zu", cc->history_bytes, cc->memory);
		return cfg_channels_fail(c, k, from, "memory", msg);
	}
	if (cc->redis_prefix == NULL || cc->redis_prefix[0] == '\0')
		return cfg_channels_fail(c, k, from, "redis_prefix",
		    "expected a non-empty string");
	return 0;
}
