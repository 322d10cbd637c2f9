/*
 * config/redis — see redis.h.
 *
 * The numbers are the generic object members' (config/value.c); this
 * file adds what they cannot say: "address" is an address, checked by the
 * listen parser (the same forms as "listen", less the wildcard), and the
 * backoff's floor is below its cap.
 */
#include "common/config/redis.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/diag.h"
#include "common/config/value.h"
#include "common/util.h"

#define CFG_ROFF(member) offsetof(struct redis_cfg, member)

static const struct cfg_key cfg_redis_members[] = {
	/* A string or null; its form is checked by cfg_apply_redis. */
	{ .name = "address", .kind = CFG_PATH, .offset = CFG_ROFF(address),
	  .help = "host:port, [v6]:port or unix:/path of the Redis server" },
	{ .name = "connect_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_ROFF(connect_timeout), .min = 0.01, .max = 60, .def = 1,
	  .help = "seconds to connect and have PING answered" },
	{ .name = "command_timeout", .kind = CFG_SECONDS,
	  .offset = CFG_ROFF(command_timeout), .min = 0.01, .max = 3600,
	  .def = 1, .help = "seconds a reply may take before the command fails "
	  "and the connection is dropped" },
	{ .name = "reconnect_min", .kind = CFG_SECONDS,
	  .offset = CFG_ROFF(reconnect_min), .min = 0.01, .max = 60, .def = 0.1,
	  .help = "seconds before the first reconnection; doubles after each "
	  "failure" },
	{ .name = "reconnect_max", .kind = CFG_SECONDS,
	  .offset = CFG_ROFF(reconnect_max), .min = 0.01, .max = 3600, .def = 2,
	  .help = "cap of the reconnection delay, in seconds" },
};

static const char cfg_redis_forms[] = "expected \"host:port\", "
    "\"[v6]:port\" or \"unix:/path\"";

/* Write the error at "redis"."member" (or at "redis" if member is NULL). */
static int
cfg_redis_fail(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const char *member, const char *msg)
{
	struct config_step at = { member, 0 };

	if (member == NULL)
		return cfg_fail(c, k, from, -1, "%s", msg);
	return cfg_fail_in(c, k, from, &at, 1, "\"%s\": %s", member, msg);
}

/* The address, checked and normalised ("127.0.0.1:6379") in place. */
static int
cfg_redis_address(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, struct redis_cfg *rc)
{
	struct listen_addr la;
	char why[256], msg[320];
	char *norm;

	memset(&la, 0, sizeof(la));
	if (config_parse_listen(rc->address, &la, why, sizeof(why)) == -1) {
		snprintf(msg, sizeof(msg), "%s", why);
		return cfg_redis_fail(c, k, from, "address", msg);
	}
	if (strncmp(rc->address, "*:", 2) == 0 ||
	    strncmp(la.text, "0.0.0.0:", 8) == 0 ||
	    strncmp(la.text, "[::]:", 5) == 0) {
		free(la.text);
		snprintf(msg, sizeof(msg), "%s of the server, not a wildcard, "
		    "got \"%s\"", cfg_redis_forms, rc->address);
		return cfg_redis_fail(c, k, from, "address", msg);
	}
	norm = la.text;
	free(rc->address);
	rc->address = norm;
	return 0;
}

int
cfg_apply_redis(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	struct cfg_key obj = *k;
	struct redis_cfg *rc = &cfg->redis;
	char got[80], msg[160], lo[32], hi[32];
	const json_t *a;

	obj.members = cfg_redis_members;
	obj.nmembers = ARRAY_SIZE(cfg_redis_members);
	/* The address's own words, before the generic "file name" ones. */
	a = json_is_object(v) ? json_object_get(v, "address") : NULL;
	if (a != NULL && (!json_is_string(a) || *json_string_value(a) == '\0')) {
		snprintf(msg, sizeof(msg), "%s, got %s", cfg_redis_forms,
		    cfg_describe(a, got, sizeof(got)));
		return cfg_redis_fail(c, k, from, "address", msg);
	}
	if (cfg_apply_object(c, cfg, &obj, v, from) == -1)
		return -1;
	if (rc->address == NULL) {
		if (from == CFG_FROM_BUILTIN)
			return 0;        /* no "redis" key: no Redis */
		snprintf(msg, sizeof(msg), "missing \"address\" (%s)",
		    cfg_redis_forms);
		return cfg_redis_fail(c, k, from, NULL, msg);
	}
	if (cfg_redis_address(c, k, from, rc) == -1)
		return -1;
	/* Blame whichever the user set; if both, the cap. */
	if (rc->reconnect_min > rc->reconnect_max) {
		cfg_num(rc->reconnect_min, lo, sizeof(lo));
		cfg_num(rc->reconnect_max, hi, sizeof(hi));
		if (json_object_get(v, "reconnect_max") != NULL) {
			snprintf(msg, sizeof(msg), "expected at least "
			    "reconnect_min (%s), got %s", lo, hi);
			return cfg_redis_fail(c, k, from, "reconnect_max", msg);
		}
		snprintf(msg, sizeof(msg), "expected at most reconnect_max (%s), "
		    "got %s", hi, lo);
		return cfg_redis_fail(c, k, from, "reconnect_min", msg);
	}
	return 0;
}
