/*
 * chanredis — see chanredis.h.
 *
 * Keys, for a channel NAME and the "channels" redis_prefix P:
 *
 *   P chan:NAME:id    the channel's counter: its messages' ids
 *   P chan:NAME:log   its history, a list of the last "history" messages
 *   P chan:NAME       the publish/subscribe channel its messages go out on
 *
 * A message, in the list and on the wire, is "ID:t:" or "ID:b:" (text or
 * binary) followed by its bytes. One EVAL publishes: the counter, the
 * list and the PUBLISH in one atomic step, so the order of ids is the
 * order messages reach every subscriber of every host, and a history
 * holds exactly what was published.
 *
 * Each worker subscribes to the channels it has subscribers for (a second
 * connection, worker/services/redis.c, made for the first) and fetches a history with LRANGE
 * once Redis confirmed the subscription (channel.c waits for it), so
 * that nothing falls between the two. While Redis is away publishing
 * fails at once (the command connection refuses); subscribers stay, and
 * when the subscriber connection is back every channel is subscribed
 * again and caught up from its history.
 */
#include "worker/services/chanredis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "worker/services/channel.h"
#include "worker/services/redis.h"

/*
 * KEYS: counter, list, channel; ARGV: data, "t"/"b", history length. A
 * new counter starts at Redis's clock in microseconds, so that a Redis
 * that lost its data (restarted without persistence) never gives out an
 * id a subscriber has seen: ids only grow. string.format: Lua 5.1 would
 * write a number this large in its %.14g.
 */
static const char publish_script[] =
    "local id = redis.call('INCR', KEYS[1]) "
    "if id == 1 then local t = redis.call('TIME') "
    "id = tonumber(t[1] .. string.format('%06d', tonumber(t[2]))) "
    "redis.call('SET', KEYS[1], string.format('%d', id)) end "
    "local m = string.format('%d', id) .. ':' .. ARGV[2] .. ':' .. ARGV[1] "
    "local n = tonumber(ARGV[3]) "
    "if n > 0 then redis.call('RPUSH', KEYS[2], m) "
    "redis.call('LTRIM', KEYS[2], -n, -1) end "
    "redis.call('PUBLISH', KEYS[3], m) "
    "return id";

/* Longest key: prefix, "chan:", the name, ":log". */
#define KEY_MAX (CHANNEL_NAME_MAX + 256)

/* A channel whose UNSUBSCRIBE is not answered yet (see rc_watch). */
struct leaving {
	struct leaving *next;
	bool again;                  /* subscribe again once it is */
	size_t len;
	char chan[];
};

struct chanredis {
	struct channels *ch;
	struct redis_sub_handler sub_h;  /* for the subscriber connection */
	bool sub_started;
	struct leaving *leaving;
	struct redis *r;
	char *prefix;                /* P chan: */
	size_t prefix_len;
	char history[24];            /* "history", as ARGV[3] */
	struct chan_pub_list inflight;   /* their tdata: the Redis command;
	                                    tctx: this */
};

/* P chan:NAME SUFFIX into key; its length, or 0 if it does not fit. */
static size_t
key_of(const struct chanredis *cr, const char *name, size_t len,
    const char *suffix, char *key)
{
	size_t sl = strlen(suffix);

	if (cr->prefix_len + len + sl > KEY_MAX)
		return 0;
	memcpy(key, cr->prefix, cr->prefix_len);
	memcpy(key + cr->prefix_len, name, len);
	memcpy(key + cr->prefix_len + len, suffix, sl);
	return cr->prefix_len + len + sl;
}

/* "ID:t:DATA": 0 and e filled, or -1 if it is not one of ours. */
static int
parse_entry(const char *s, size_t len, struct chan_entry *e)
{
	size_t i = 0;
	uint64_t id = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9' && i < 20)
		id = id * 10 + (uint64_t)(s[i++] - '0');
	if (i == 0 || i + 3 > len || s[i] != ':' || s[i + 2] != ':' ||
	    (s[i + 1] != 't' && s[i + 1] != 'b') || id == 0)
		return -1;
	e->id = id;
	e->binary = s[i + 1] == 'b';
	e->data = s + i + 3;
	e->len = len - i - 3;
	return 0;
}

/* ---- publishing ------------------------------------------------------------- */

static void
on_published(void *arg, int err, const struct redis_reply *rep)
{
	struct chan_pub *p = arg;
	struct chanredis *cr = p->tctx;
	size_t len;
	const char *why;

	TAILQ_REMOVE(&cr->inflight, p, tentry);
	if (err == 0 && redis_reply_type(rep) != REDIS_TYPE_INTEGER) {
		why = redis_reply_str(rep, &len);
		log_warn("channels: redis refused a publish: %.*s", (int)(why ?
		    (len > 200 ? 200 : len) : 0), why ? why : "");
		err = EIO;
	}
	channels_published(cr->ch, p, err, err == 0 ?
	    (uint64_t)redis_reply_integer(rep) : 0);
}

/* chan_transport.publish */
static int
rc_publish(void *t, const char *name, size_t name_len, const void *data,
    size_t len, bool binary, struct chan_pub *p)
{
	struct chanredis *cr = t;
	char id[KEY_MAX], log[KEY_MAX], chan[KEY_MAX];
	const char *argv[9];
	size_t argvlen[9];
	struct redis_cmd *cmd;

	if ((argvlen[3] = key_of(cr, name, name_len, ":id", id)) == 0 ||
	    (argvlen[4] = key_of(cr, name, name_len, ":log", log)) == 0 ||
	    (argvlen[5] = key_of(cr, name, name_len, "", chan)) == 0) {
		errno = EINVAL;
		return -1;
	}
	argv[0] = "EVAL", argvlen[0] = 4;
	argv[1] = publish_script, argvlen[1] = sizeof(publish_script) - 1;
	argv[2] = "3", argvlen[2] = 1;
	argv[3] = id, argv[4] = log, argv[5] = chan;
	argv[6] = len > 0 ? data : "", argvlen[6] = len;
	argv[7] = binary ? "b" : "t", argvlen[7] = 1;
	argv[8] = cr->history, argvlen[8] = strlen(cr->history);
	/* Refused at once while Redis is down: ENOTCONN, a 503 now. */
	if ((cmd = redis_commandv(cr->r, on_published, p, 9, argv,
	    argvlen)) == NULL)
		return -1;
	p->tdata = cmd;
	p->tctx = cr;
	TAILQ_INSERT_TAIL(&cr->inflight, p, tentry);
	return 0;
}

/* ---- subscribing --------------------------------------------------------------- */

/* The UNSUBSCRIBE of chan waiting for its answer, or NULL. */
static struct leaving **
leaving_find(struct chanredis *cr, const char *chan, size_t len)
{
	struct leaving **pp;

	for (pp = &cr->leaving; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->len == len && memcmp((*pp)->chan, chan, len) == 0)
			return pp;
	return NULL;
}

static void
leaving_clear(struct chanredis *cr)
{
	struct leaving *l;

	while ((l = cr->leaving) != NULL) {
		cr->leaving = l->next;
		free(l);
	}
}

/*
 * chan_transport.watch. A channel subscribed again while its UNSUBSCRIBE
 * is unanswered waits for the answer (hiredis 0.14 would drop the new
 * subscription's callback with it). Not up: subscribed again when it is
 * (rc_up).
 */
static void
rc_watch(void *t, const char *name, size_t name_len, bool on)
{
	struct chanredis *cr = t;
	char chan[KEY_MAX];
	size_t len = key_of(cr, name, name_len, "", chan);
	struct leaving **pp, *l;

	if (len == 0)
		return;
	/* The subscriber connection is made for the first subscriber; its
	 * up callback subscribes it to every channel (rc_up). */
	if (!cr->sub_started) {
		if (on && redis_sub_start(cr->r, &cr->sub_h) == 0)
			cr->sub_started = true;
		else if (on)
			log_error("channels: redis subscriber: %s",
			    strerror(errno));
		return;
	}
	if ((pp = leaving_find(cr, chan, len)) != NULL) {
		(*pp)->again = on;
		return;
	}
	if (redis_sub(cr->r, chan, len, on) == -1 || on)
		return;
	if ((l = malloc(sizeof(*l) + len)) != NULL) {
		l->again = false;
		l->len = len;
		memcpy(l->chan, chan, len);
		l->next = cr->leaving;
		cr->leaving = l;
	}
}

static void
rc_unsubscribed(void *arg, const char *chan, size_t chan_len)
{
	struct chanredis *cr = arg;
	struct leaving **pp = leaving_find(cr, chan, chan_len), *l;

	if (pp == NULL)
		return;
	l = *pp;
	*pp = l->next;
	if (l->again)
		redis_sub(cr->r, l->chan, l->len, true);
	free(l);
}

/* The channel's name in one of our Redis channels; NULL if not ours. */
static const char *
name_of(const struct chanredis *cr, const char *chan, size_t len,
    size_t *name_len)
{
	if (len <= cr->prefix_len || memcmp(chan, cr->prefix,
	    cr->prefix_len) != 0)
		return NULL;
	*name_len = len - cr->prefix_len;
	return chan + cr->prefix_len;
}

static void
rc_message(void *arg, const char *chan, size_t chan_len, const char *data,
    size_t len)
{
	struct chanredis *cr = arg;
	struct chan_entry e;
	const char *name;
	size_t nlen;

	if ((name = name_of(cr, chan, chan_len, &nlen)) == NULL ||
	    parse_entry(data, len, &e) == -1)
		return;
	channels_deliver(cr->ch, name, nlen, e.id, e.binary, e.data, e.len);
}

static void
rc_subscribed(void *arg, const char *chan, size_t chan_len)
{
	struct chanredis *cr = arg;
	const char *name;
	size_t nlen;

	if ((name = name_of(cr, chan, chan_len, &nlen)) != NULL)
		channels_subscribed(cr->ch, name, nlen);
}

/* The subscriber connection is up (again): every channel with
 * subscribers subscribes again and catches up from its history. */
static void
rc_up(void *arg)
{
	struct chanredis *cr = arg;

	leaving_clear(cr);           /* a new connection subscribes to nothing */
	channels_resync(cr->ch);
}

/* ---- histories ------------------------------------------------------------------- */

struct fetch {
	struct chanredis *cr;
	size_t name_len;
	char name[];
};

static void
on_history(void *arg, int err, const struct redis_reply *rep)
{
	struct fetch *f = arg;
	struct chan_entry *e = NULL;
	size_t n = 0, k = 0, len;
	const char *s;

	if (err == 0 && redis_reply_type(rep) != REDIS_TYPE_ARRAY)
		err = EIO;
	if (err == 0 && (n = redis_reply_count(rep)) > 0 &&
	    (e = calloc(n, sizeof(*e))) == NULL)
		err = ENOMEM;
	for (size_t i = 0; err == 0 && i < n; i++)
		if ((s = redis_reply_str(redis_reply_element(rep, i), &len)) !=
		    NULL && parse_entry(s, len, &e[k]) == 0)
			k++;
	if (err != ECANCELED)
		channels_history(f->cr->ch, f->name, f->name_len, e, k, err);
	free(e);
	free(f);
}

/* chan_transport.history */
static int
rc_history(void *t, const char *name, size_t name_len)
{
	struct chanredis *cr = t;
	char log[KEY_MAX];
	size_t len = key_of(cr, name, name_len, ":log", log);
	struct fetch *f;

	if (len == 0 || (f = malloc(sizeof(*f) + name_len)) == NULL)
		return -1;
	f->cr = cr;
	f->name_len = name_len;
	memcpy(f->name, name, name_len);
	if (redis_command(cr->r, on_history, f, "LRANGE %b 0 -1", log,
	    len) == NULL) {
		free(f);
		return -1;
	}
	return 0;
}

/* chan_transport.free */
static void
rc_free(void *t)
{
	struct chanredis *cr = t;
	struct chan_pub *p;

	/* Their replies would come to a service that is gone: the service
	 * fails them itself (ECANCELED). */
	while ((p = TAILQ_FIRST(&cr->inflight)) != NULL) {
		TAILQ_REMOVE(&cr->inflight, p, tentry);
		redis_cancel(p->tdata);
	}
	leaving_clear(cr);
	free(cr->prefix);
	free(cr);
}

int
chanredis_start(struct channels *ch, struct redis *r,
    const struct channel_cfg *cfg, char *err, size_t errlen)
{
	struct chan_transport t = {
		.publish = rc_publish, .watch = rc_watch,
		.history = rc_history, .free = rc_free,
	};
	struct redis_sub_handler h = {
		.message = rc_message, .subscribed = rc_subscribed,
		.unsubscribed = rc_unsubscribed, .up = rc_up,
	};
	struct chanredis *cr = calloc(1, sizeof(*cr));

	if (cr == NULL || (cr->prefix = malloc(strlen(cfg->redis_prefix) +
	    6)) == NULL) {
		free(cr);
		snprintf(err, errlen, "channels: out of memory");
		return -1;
	}
	cr->prefix_len = (size_t)sprintf(cr->prefix, "%schan:",
	    cfg->redis_prefix);
	snprintf(cr->history, sizeof(cr->history), "%zu", cfg->history);
	cr->ch = ch;
	cr->r = r;
	TAILQ_INIT(&cr->inflight);
	h.arg = cr;
	cr->sub_h = h;
	t.t = cr;
	channels_set_transport(ch, &t);
	return 0;
}
