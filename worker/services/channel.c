/*
 * channel — see channel.h; the handler's side is worker/api/channel.h.
 *
 * Channels are found by name in a hash table. A channel lives while it
 * has subscribers, a history (kept here when the transport keeps none:
 * chanlocal), or a fetch under way; its history counts against the
 * worker's "memory", and past it the least recently published channels
 * lose their oldest messages first.
 *
 * Fan-out: a message is one struct chanmsg; each kind of subscriber gets
 * one frame of it, made on first need and shared (chanmsg.c); an event
 * stream or a WebSocket only queues it and is written at a flush event
 * of its own (sse.c, ws.c), so a message to ten thousand subscribers is
 * ten thousand queue appends here and one writev each there.
 *
 * Resuming (Last-Event-ID, "after"): the subscriber waits, "replaying",
 * while the channel's history is fetched (from here on the next turn of
 * the loop, or from Redis); live messages meanwhile wait on it, and when
 * the history comes it gets the history's messages above its last id,
 * then the waiting ones above that, each id once and in order. The same
 * catches every subscriber of a channel up when the transport comes back
 * (channels_resync) or, with ids that count up one by one (Redis), when
 * a message shows that some were missed.
 *
 * A subscriber's end never frees memory under a loop over the channel's
 * subscribers, nor a channel under a function that still uses it: such a
 * function holds the channel (chan_hold: c->busy), a subscriber that ends
 * meanwhile is marked dead, and the last chan_release sweeps the dead and
 * frees the channel if nothing else holds it.
 */
#include "worker/services/channel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/http/sse.h"
#include "worker/http/stream.h"
#include "worker/http/ws.h"
#include "worker/services/chanmsg.h"

#define LIT(s) s, sizeof(s) - 1

enum sub_kind {
	SUB_CALLBACK,
	SUB_SSE,
	SUB_WS,
};

struct chan;

struct channel_sub {
	TAILQ_ENTRY(channel_sub) entry;  /* in its channel */
	struct channel_sub *ws_next;     /* its WebSocket's other ones */
	struct channels *ch;
	struct chan *c;
	enum sub_kind kind;
	channel_msg_fn *fn;              /* SUB_CALLBACK */
	void *arg;
	struct sse *sse;                 /* SUB_SSE; NULL once gone */
	struct ws *ws;                   /* SUB_WS; NULL once gone */
	uint64_t last;                   /* the id it has had (or resumes after) */
	bool no_floor;                   /* joined with no id to go by: a
	                                    catch-up gives it no history */
	bool replaying;                  /* waits for the history */
	bool dead;                       /* ended during a loop over the channel */
	unsigned need;                   /* the fetch that will serve it */
	struct chanmsg **pend;           /* live messages waiting meanwhile */
	uint32_t npend, pcap;
	size_t pend_bytes;
};
TAILQ_HEAD(sub_list, channel_sub);

struct chan {
	struct chan *hnext;              /* hash chain */
	TAILQ_ENTRY(chan) lru;           /* on ch->lru while it has history */
	TAILQ_ENTRY(chan) fetch_entry;   /* on ch->local_fetches */
	struct sub_list subs;
	size_t nsubs;
	struct chanhist hist;
	uint64_t last_id;                /* the newest id seen here */
	unsigned busy;                   /* holds (chan_hold) */
	unsigned fetches;                /* fetches issued */
	bool sweep;                      /* dead subscribers to free */
	bool fetching;
	bool fetch_failed;               /* ... and it could not be issued */
	bool on_fetch_list;              /* on ch->local_fetches */
	bool confirmed;                  /* channels_subscribed said so */
	bool fetch_wanted;               /* ... and a fetch waits for it */
	bool on_lru;
	bool watched;                    /* the transport was told */
	uint32_t hash;
	size_t name_len;
	char name[];
};
TAILQ_HEAD(chan_list, chan);

struct channels {
	struct event_base *base;
	struct stats_proc *stats;
	struct sse_ctx *sse;
	struct ws_ctx *ws;
	size_t history, history_bytes, memory, queue, max_message;
	bool drop;                       /* "slow": "drop" */
	struct chan_transport t;
	bool has_t;
	struct chan **table;
	size_t nbuckets, nchans;
	struct chan_list lru;            /* least recently published first */
	size_t hist_bytes;               /* all histories */
	struct chan_list local_fetches;  /* answered at fetch_ev */
	struct event *fetch_ev;
	struct chan_pub_list pubs;
	uint64_t nsubs;
};

#define CSTAT_ADD(ch, field, n) do {                                       \
	if ((ch)->stats != NULL)                                           \
		STATS_ADD((ch)->stats->field, (n));                        \
} while (0)

static void chan_fetch(struct channels *ch, struct chan *c);

/* ---- the table ------------------------------------------------------------ */

static uint32_t
name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;    /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

static bool
name_ok(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > CHANNEL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static struct chan *
chan_find(const struct channels *ch, const char *name, size_t len)
{
	uint32_t h = name_hash(name, len);
	struct chan *c;

	if (ch->nbuckets == 0)
		return NULL;
	for (c = ch->table[h & (ch->nbuckets - 1)]; c != NULL; c = c->hnext)
		if (c->hash == h && c->name_len == len &&
		    memcmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

/* Twice the buckets once there are more channels than buckets. */
static void
table_grow(struct channels *ch)
{
	size_t n = ch->nbuckets ? ch->nbuckets * 2 : 64;
	struct chan **t = calloc(n, sizeof(*t)), *c, *next;

	if (t == NULL)
		return;                  /* longer chains; still correct */
	for (size_t i = 0; i < ch->nbuckets; i++)
		for (c = ch->table[i]; c != NULL; c = next) {
			next = c->hnext;
			c->hnext = t[c->hash & (n - 1)];
			t[c->hash & (n - 1)] = c;
		}
	free(ch->table);
	ch->table = t;
	ch->nbuckets = n;
}

static struct chan *
chan_get(struct channels *ch, const char *name, size_t len)
{
	struct chan *c = chan_find(ch, name, len);
	size_t b;

	if (c != NULL)
		return c;
	if (ch->nchans >= ch->nbuckets)
		table_grow(ch);
	if (ch->nbuckets == 0 || (c = calloc(1, sizeof(*c) + len)) == NULL)
		return NULL;
	TAILQ_INIT(&c->subs);
	c->hash = name_hash(name, len);
	c->name_len = len;
	memcpy(c->name, name, len);
	b = c->hash & (ch->nbuckets - 1);
	c->hnext = ch->table[b];
	ch->table[b] = c;
	ch->nchans++;
	return c;
}

static void
chan_hist_clear(struct channels *ch, struct chan *c)
{
	ch->hist_bytes -= c->hist.bytes;
	chanhist_clear(&c->hist);
	if (c->on_lru) {
		TAILQ_REMOVE(&ch->lru, c, lru);
		c->on_lru = false;
	}
}

/* Free c if nothing holds it any more. */
static void
chan_maybe_free(struct channels *ch, struct chan *c)
{
	struct chan **pp;

	if (c->nsubs > 0 || c->hist.n > 0 || c->busy > 0 || c->fetching)
		return;
	if (c->watched && ch->t.watch != NULL)
		ch->t.watch(ch->t.t, c->name, c->name_len, false);
	for (pp = &ch->table[c->hash & (ch->nbuckets - 1)]; *pp != c;
	    pp = &(*pp)->hnext)
		;
	*pp = c->hnext;
	ch->nchans--;
	chan_hist_clear(ch, c);
	free(c);
}

/* ---- subscribers ----------------------------------------------------------- */

static void
sub_pend_clear(struct channel_sub *sub)
{
	for (uint32_t i = 0; i < sub->npend; i++)
		chanmsg_unref(sub->pend[i]);
	free(sub->pend);
	sub->pend = NULL;
	sub->npend = sub->pcap = 0;
	sub->pend_bytes = 0;
}

/* Unlink and free a subscriber (not under a loop over its channel). */
static void
sub_free(struct channels *ch, struct channel_sub *sub)
{
	struct chan *c = sub->c;

	TAILQ_REMOVE(&c->subs, sub, entry);
	c->nsubs--;
	ch->nsubs--;
	if (ch->stats != NULL)
		STATS_SET(ch->stats->chan_subscribers, ch->nsubs);
	sub_pend_clear(sub);
	free(sub);
}

static void
chan_hold(struct chan *c)
{
	c->busy++;
}

/* Let go of c: the last hold frees the dead subscribers, and c itself if
 * nothing keeps it. c may be gone afterwards. */
static void
chan_release(struct channels *ch, struct chan *c)
{
	struct channel_sub *sub, *next;

	if (--c->busy > 0)
		return;
	if (c->sweep) {
		c->sweep = false;
		for (sub = TAILQ_FIRST(&c->subs); sub != NULL; sub = next) {
			next = TAILQ_NEXT(sub, entry);
			if (sub->dead)
				sub_free(ch, sub);
		}
	}
	chan_maybe_free(ch, c);
}

/* Take sub out of its WebSocket's list. */
static void
sub_ws_unlink(struct channel_sub *sub)
{
	struct channel_sub **pp;

	if (sub->ws == NULL)
		return;
	for (pp = (struct channel_sub **)(void *)ws_subs(sub->ws);
	    *pp != NULL; pp = &(*pp)->ws_next)
		if (*pp == sub) {
			*pp = sub->ws_next;
			break;
		}
	sub->ws = NULL;
}

/* End sub now, or as soon as the loop over its channel allows. */
static void
sub_end(struct channels *ch, struct channel_sub *sub)
{
	struct chan *c = sub->c;

	if (sub->dead)
		return;
	sub->dead = true;
	sub->fn = NULL;
	sub_ws_unlink(sub);
	sub_pend_clear(sub);
	c->sweep = true;
	chan_hold(c);
	chan_release(ch, c);         /* now, unless someone holds c */
}

static struct channel_sub *
sub_new(struct channels *ch, const char *name, size_t len, enum sub_kind kind,
    uint64_t after)
{
	struct channel_sub *sub;
	struct chan *c;

	if (!name_ok(name, len)) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = chan_get(ch, name, len)) == NULL ||
	    (sub = calloc(1, sizeof(*sub))) == NULL) {
		if (c != NULL)
			chan_maybe_free(ch, c);
		errno = ENOMEM;
		return NULL;
	}
	sub->ch = ch;
	sub->c = c;
	sub->kind = kind;
	sub->last = after > 0 ? after : c->last_id;
	sub->no_floor = after == 0 && c->last_id == 0;
	TAILQ_INSERT_TAIL(&c->subs, sub, entry);
	c->nsubs++;
	ch->nsubs++;
	if (ch->stats != NULL)
		STATS_SET(ch->stats->chan_subscribers, ch->nsubs);
	if (!c->watched && ch->t.watch != NULL) {
		c->watched = true;
		ch->t.watch(ch->t.t, name, len, true);
	}
	return sub;
}

static void sub_pend(struct channels *ch, struct channel_sub *sub,
    struct chanmsg *m, bool from_history);

/*
 * Resume after sub->last: wait for the channel's history. One kept here
 * is taken now (what a live message would push out before the next turn
 * of the loop must not be lost), and handed over at the next turn.
 */
static void
sub_replay(struct channels *ch, struct channel_sub *sub)
{
	struct chan *c = sub->c;

	sub->replaying = true;
	sub->need = c->fetches + 1;
	if (ch->t.history == NULL)
		for (uint32_t i = 0; i < c->hist.n && !sub->dead; i++)
			if (chanhist_at(&c->hist, i)->id > sub->last)
				sub_pend(ch, sub, chanhist_at(&c->hist, i), true);
	chan_fetch(ch, c);
}

/* sub is too slow for m: drop m for it, or end it. */
static void
sub_slow(struct channels *ch, struct channel_sub *sub)
{
	if (ch->drop || sub->kind == SUB_CALLBACK) {
		CSTAT_ADD(ch, chan_dropped, 1);
		return;
	}
	CSTAT_ADD(ch, chan_slow_closed, 1);
	if (sub->kind == SUB_SSE && sub->sse != NULL) {
		/* It reconnects and resumes from the history. */
		sse_end(sub->sse, true);
		sub->sse = NULL;
	} else if (sub->kind == SUB_WS && sub->ws != NULL) {
		ws_close(sub->ws, WS_CLOSE_POLICY, "too slow");
	}
	sub_end(ch, sub);
}

/*
 * Hand m to sub. A replayed (or held) message goes only if it is newer
 * than what sub has had: each id once. A live one goes unless it is the
 * very one sub had last: ids arrive in order but for the overlap of a
 * binary upgrade, where two generations' messages of one instant may
 * cross (master/relay.c), and then a message is better twice (a client
 * resuming after the lower id gets the higher one again) than lost.
 */
static void
sub_deliver(struct channels *ch, struct channel_sub *sub, struct chanmsg *m,
    bool live)
{
	struct channel_msg view;
	struct sbuf *frame;
	/* A replay may fill the queue with a whole history on top (it is
	 * bounded by it): closing a subscriber for catching up would have it
	 * come back for the same replay, forever. */
	size_t limit = ch->queue + (live ? 0 : ch->history_bytes);
	int r = -1;

	if (sub->dead || (live ? m->id == sub->last : m->id <= sub->last))
		return;
	if (m->id > sub->last)
		sub->last = m->id;
	sub->no_floor = false;
	switch (sub->kind) {
	case SUB_CALLBACK:
		view = (struct channel_msg){
			.channel = sub->c->name, .channel_len = sub->c->name_len,
			.id = m->id, .data = m->data, .len = m->len,
			.binary = m->binary,
		};
		CSTAT_ADD(ch, chan_delivered, 1);
		sub->fn(sub->arg, &view);
		return;
	case SUB_SSE:
		if (sub->sse == NULL)
			return;
		frame = chanmsg_frame(m, sse_chunked(sub->sse) ?
		    CHANMSG_SSE_CHUNKED : CHANMSG_SSE_RAW);
		r = frame == NULL ? 1 : sse_send(sub->sse, frame, limit);
		break;
	case SUB_WS:
		if (sub->ws == NULL)
			return;
		frame = chanmsg_frame(m, CHANMSG_WS);
		r = frame == NULL ? 1 : ws_push(sub->ws, frame, limit);
		break;
	}
	if (r == 0)
		CSTAT_ADD(ch, chan_delivered, 1);
	else if (r == 1)
		sub_slow(ch, sub);
}

/*
 * Hold m for a subscriber that waits for its history: a live message
 * (within "queue", else it is slow), or one of the history kept here
 * (bounded by the history already).
 */
static void
sub_pend(struct channels *ch, struct channel_sub *sub, struct chanmsg *m,
    bool from_history)
{
	struct chanmsg **p;

	if (!from_history && sub->pend_bytes + m->len > ch->queue) {
		sub_slow(ch, sub);
		return;
	}
	if (sub->npend == sub->pcap) {
		uint32_t cap = sub->pcap ? sub->pcap * 2 : 8;

		if ((p = realloc(sub->pend, cap * sizeof(*p))) == NULL) {
			sub_slow(ch, sub);
			return;
		}
		sub->pend = p;
		sub->pcap = cap;
	}
	sub->pend[sub->npend++] = chanmsg_ref(m);
	if (!from_history)
		sub->pend_bytes += m->len;
}

/* ---- delivery --------------------------------------------------------------- */

/* m to every subscriber of c (which the caller holds). */
static void
chan_fanout(struct channels *ch, struct chan *c, struct chanmsg *m)
{
	struct channel_sub *sub;

	TAILQ_FOREACH(sub, &c->subs, entry) {
		if (sub->dead)
			continue;
		if (sub->replaying)
			sub_pend(ch, sub, m, false);
		else
			sub_deliver(ch, sub, m, true);
	}
	chanmsg_forget_frames(m);
}

/* Keep m in c's history, within the channel's and the worker's bounds. */
static void
chan_remember(struct channels *ch, struct chan *c, struct chanmsg *m)
{
	struct chan *old;
	size_t before = c->hist.bytes;

	if (ch->history == 0 || chanhist_push(&c->hist, m, ch->history,
	    ch->history_bytes) == -1)
		return;
	ch->hist_bytes = ch->hist_bytes - before + c->hist.bytes;
	if (c->on_lru)
		TAILQ_REMOVE(&ch->lru, c, lru);
	c->on_lru = c->hist.n > 0;
	if (c->on_lru)
		TAILQ_INSERT_TAIL(&ch->lru, c, lru);
	/* Past the worker's budget: the stalest channels' oldest go. */
	while (ch->hist_bytes > ch->memory && (old = TAILQ_FIRST(&ch->lru)) !=
	    NULL) {
		ch->hist_bytes -= chanhist_drop_oldest(&old->hist);
		if (old->hist.n == 0) {
			TAILQ_REMOVE(&ch->lru, old, lru);
			old->on_lru = false;
			if (old != c)
				chan_maybe_free(ch, old);
		}
	}
}

void
channels_deliver(struct channels *ch, const char *name, size_t name_len,
    uint64_t id, bool binary, const void *data, size_t len)
{
	struct chan *c = chan_find(ch, name, name_len);
	struct channel_sub *sub;
	struct chanmsg *m;
	bool gap;

	CSTAT_ADD(ch, chan_received, 1);
	/* Without subscribers here it only matters for the history. */
	if (c == NULL && (ch->t.history != NULL || ch->history == 0))
		return;
	if ((c == NULL && (c = chan_get(ch, name, name_len)) == NULL) ||
	    (m = chanmsg_new(id, binary, data, len)) == NULL) {
		if (c != NULL)
			chan_maybe_free(ch, c);
		return;
	}
	chan_hold(c);
	/* Ids that count one by one (Redis) show a message missed. */
	gap = ch->t.history != NULL && c->last_id != 0 && id > c->last_id + 1;
	if (id > c->last_id)
		c->last_id = id;
	if (ch->t.history == NULL)
		chan_remember(ch, c, m);
	if (gap) {
		TAILQ_FOREACH(sub, &c->subs, entry)
			if (!sub->dead && !sub->replaying)
				sub_replay(ch, sub);
	}
	chan_fanout(ch, c, m);
	chanmsg_unref(m);
	chan_release(ch, c);
}

/* The history is here (msgs, n, oldest first): serve who waited for it. */
static void
chan_replayed(struct channels *ch, struct chan *c, struct chanmsg **msgs,
    size_t n)
{
	struct channel_sub *sub;
	bool more = false;

	c->fetching = false;
	chan_hold(c);
	/* What the history shows is seen: no gap up to it. */
	for (size_t i = 0; i < n; i++)
		if (msgs[i]->id > c->last_id)
			c->last_id = msgs[i]->id;
	TAILQ_FOREACH(sub, &c->subs, entry) {
		if (sub->dead || !sub->replaying)
			continue;
		if (sub->need > c->fetches) {
			more = true;         /* came after this fetch was asked */
			continue;
		}
		sub->replaying = false;
		for (size_t i = 0; i < n && !sub->no_floor && !sub->dead; i++)
			sub_deliver(ch, sub, msgs[i], false);
		for (uint32_t i = 0; i < sub->npend && !sub->dead; i++)
			sub_deliver(ch, sub, sub->pend[i], false);
		sub_pend_clear(sub);
	}
	for (size_t i = 0; i < n; i++)
		chanmsg_forget_frames(msgs[i]);
	if (more)
		chan_fetch(ch, c);
	chan_release(ch, c);
}

void
channels_history(struct channels *ch, const char *name, size_t name_len,
    const struct chan_entry *e, size_t n, int err)
{
	struct chan *c = chan_find(ch, name, name_len);
	struct chanmsg **msgs = NULL;
	size_t k = 0, keep = 0;

	if (c == NULL || !c->fetching)
		return;
	if (err != 0)
		log_warn("channel %.*s: no history to resume from (%s)",
		    (int)name_len, name, strerror(err));
	/* A history of the transport's is bounded in count: the newest
	 * within history_bytes, as one kept here would be. */
	for (size_t bytes = 0; err == 0 && keep < n; keep++) {
		bytes += e[n - 1 - keep].len;
		if (bytes > ch->history_bytes)
			break;
	}
	if (err == 0 && keep > 0 && (msgs = calloc(keep, sizeof(*msgs))) != NULL)
		for (size_t i = n - keep; i < n; i++)
			if ((msgs[k] = chanmsg_new(e[i].id, e[i].binary, e[i].data,
			    e[i].len)) != NULL)
				k++;
	chan_replayed(ch, c, msgs, k);
	for (size_t i = 0; i < k; i++)
		chanmsg_unref(msgs[i]);
	free(msgs);
}

/* Kept here, or a fetch that could not be asked for: answered on the next
 * turn of the loop. */
static void
on_fetch(evutil_socket_t fd, short what, void *arg)
{
	struct channels *ch = arg;
	struct chan *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&ch->local_fetches)) != NULL) {
		TAILQ_REMOVE(&ch->local_fetches, c, fetch_entry);
		c->on_fetch_list = false;
		if (c->fetch_failed) {
			c->fetch_failed = false;
			channels_history(ch, c->name, c->name_len, NULL, 0, EIO);
			continue;
		}
		/* Subscribers took what they need of the history when they
		 * came (sub_replay): hand it over. */
		chan_replayed(ch, c, NULL, 0);
	}
}

static void
chan_fetch(struct channels *ch, struct chan *c)
{
	if (c->fetching)
		return;                  /* its end asks again for latecomers */
	if (ch->t.history != NULL && !c->confirmed) {
		/* A history read before the subscription holds could miss
		 * what is published in between. */
		c->fetch_wanted = true;
		return;
	}
	c->fetching = true;
	c->fetches++;
	if (ch->t.history == NULL ||
	    ch->t.history(ch->t.t, c->name, c->name_len) == -1) {
		c->fetch_failed = ch->t.history != NULL;
		c->on_fetch_list = true;
		TAILQ_INSERT_TAIL(&ch->local_fetches, c, fetch_entry);
		event_active(ch->fetch_ev, EV_TIMEOUT, 0);
	}
}

void
channels_resync(struct channels *ch)
{
	struct channel_sub *sub;
	struct chan *c;

	for (size_t b = 0; b < ch->nbuckets; b++)
		for (c = ch->table[b]; c != NULL; c = c->hnext) {
			if (c->nsubs == 0)
				continue;
			c->confirmed = false;
			TAILQ_FOREACH(sub, &c->subs, entry)
				if (!sub->dead && !sub->replaying)
					sub_replay(ch, sub);
			if (ch->t.watch != NULL) {
				c->watched = true;
				ch->t.watch(ch->t.t, c->name, c->name_len, true);
			}
		}
}

void
channels_subscribed(struct channels *ch, const char *name, size_t name_len)
{
	struct chan *c = chan_find(ch, name, name_len);

	if (c == NULL)
		return;
	c->confirmed = true;
	if (c->fetch_wanted) {
		c->fetch_wanted = false;
		chan_fetch(ch, c);
	}
}

/* ---- publishing ------------------------------------------------------------- */

int
channel_publish(struct channels *ch, const char *name, size_t name_len,
    const void *data, size_t len, enum channel_type type,
    channel_done_fn *done, void *arg)
{
	struct chan_pub *p;
	bool binary;
	int saved;

	if (ch == NULL || !name_ok(name, name_len) || (data == NULL && len > 0) ||
	    (unsigned)type > CHANNEL_AUTO) {
		errno = EINVAL;
		goto refused;
	}
	if (len > ch->max_message) {
		errno = EMSGSIZE;
		goto refused;
	}
	/* Text goes out in text frames, which a client fails on bad UTF-8. */
	binary = type == CHANNEL_BINARY || (len > 0 &&
	    u8_check((const uint8_t *)data, len) != NULL);
	if (binary && type == CHANNEL_TEXT) {
		errno = EINVAL;
		goto refused;
	}
	if (!ch->has_t) {
		errno = ENOTCONN;
		goto refused;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		errno = ENOMEM;
		goto refused;
	}
	p->done = done;
	p->arg = arg;
	TAILQ_INSERT_TAIL(&ch->pubs, p, entry);
	if (ch->t.publish(ch->t.t, name, name_len, data, len, binary, p) == -1) {
		saved = errno;
		TAILQ_REMOVE(&ch->pubs, p, entry);
		free(p);
		errno = saved;
		goto refused;
	}
	return 0;
refused:
	if (ch != NULL)
		CSTAT_ADD(ch, chan_publish_failed, 1);
	return -1;
}

void
channels_published(struct channels *ch, struct chan_pub *p, int err,
    uint64_t id)
{
	TAILQ_REMOVE(&ch->pubs, p, entry);
	if (err == 0)
		CSTAT_ADD(ch, chan_published, 1);
	else
		CSTAT_ADD(ch, chan_publish_failed, 1);
	if (p->done != NULL)
		p->done(p->arg, err, err == 0 ? id : 0);
	free(p);
}

/* ---- subscribing -------------------------------------------------------------- */

struct channel_sub *
channel_subscribe(struct channels *ch, const char *name, size_t name_len,
    uint64_t after, channel_msg_fn *fn, void *arg)
{
	struct channel_sub *sub;

	if (ch == NULL || fn == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((sub = sub_new(ch, name, name_len, SUB_CALLBACK, after)) == NULL)
		return NULL;
	sub->fn = fn;
	sub->arg = arg;
	if (after > 0)
		sub_replay(ch, sub);
	return sub;
}

int
channel_subscribe_sse(struct channels *ch, struct http_request *req,
    struct http_response *resp, const char *name, size_t name_len)
{
	struct channel_sub *sub = NULL;
	struct http_stream *stream;
	struct sse *sse = NULL;
	uint64_t after;
	bool chunked;

	if (ch == NULL || !name_ok(name, name_len)) {
		http_response_static(resp, ch == NULL ? 500 : 400, "text/plain",
		    LIT("bad channel name\n"));
		errno = EINVAL;
		return -1;
	}
	if (strcmp(req->method, "HEAD") == 0) {
		/* The head of the stream, no subscription. */
		if ((stream = http_response_stream(resp, 200,
		    "text/event-stream")) == NULL)
			goto nomem;
		http_stream_end(stream);
		return 0;
	}
	after = channel_last_event_id(req);
	chunked = !(req->version_major == 1 && req->version_minor == 0);
	if ((sub = sub_new(ch, name, name_len, SUB_SSE, after)) == NULL ||
	    (sse = sse_new(ch->sse, chunked, sub)) == NULL ||
	    (stream = http_response_stream(resp, 200,
	    "text/event-stream")) == NULL)
		goto nomem;
	/* Intermediaries must pass each event on at once (NGINX buffers
	 * otherwise), and nothing may cache it. */
	if (http_response_header(resp, "Cache-Control", "no-cache") == -1 ||
	    http_response_header(resp, "X-Accel-Buffering", "no") == -1) {
		http_stream_end(stream);
		goto nomem;
	}
	stream_set_sse(stream, sse);
	sub->sse = sse;
	if (after > 0)
		sub_replay(ch, sub);
	return 0;
nomem:
	if (sse != NULL) {
		sse_end(sse, true);      /* its owner lets go: no gone */
		sse_discard(sse);
	}
	if (sub != NULL)
		sub_end(ch, sub);
	http_response_static(resp, 503, "text/plain", LIT("out of memory\n"));
	errno = ENOMEM;
	return -1;
}

struct channel_sub *
channel_subscribe_ws(struct channels *ch, struct ws *ws, const char *name,
    size_t name_len, uint64_t after)
{
	struct channel_sub *sub, **head;

	if (ch == NULL || ws == NULL || !ws_open(ws)) {
		errno = EINVAL;
		return NULL;
	}
	if ((sub = sub_new(ch, name, name_len, SUB_WS, after)) == NULL)
		return NULL;
	sub->ws = ws;
	head = (struct channel_sub **)(void *)ws_subs(ws);
	sub->ws_next = *head;
	*head = sub;
	if (after > 0)
		sub_replay(ch, sub);
	return sub;
}

void
channel_unsubscribe(struct channel_sub *sub)
{
	if (sub != NULL)
		sub_end(sub->ch, sub);
}

uint64_t
channel_last_event_id(const struct http_request *req)
{
	const char *v = NULL;
	size_t len = 0;
	uint64_t id = 0;

	if (req != NULL)
		v = http_request_header(req, "Last-Event-ID", &len);
	if (v == NULL || len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		if (id > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return 0;
		id = id * 10 + (uint64_t)(v[i] - '0');
	}
	return id;
}

/* sse.c: a stream its subscription did not end is gone. */
static void
on_sse_gone(void *owner)
{
	struct channel_sub *sub = owner;

	sub->sse = NULL;
	sub_end(sub->ch, sub);
}

/* ws.c: a connection is gone, after its on_close; its subscriptions end. */
static void
on_ws_gone(void *subs)
{
	struct channel_sub *sub = subs, *next;

	for (; sub != NULL; sub = next) {
		next = sub->ws_next;
		sub->ws = NULL;          /* the list goes with the connection */
		sub_end(sub->ch, sub);
	}
}

/* ---- the worker's side ------------------------------------------------------------ */

struct channels *
channels_new(struct event_base *base, const struct channel_cfg *cfg,
    struct stats_proc *stats, struct sse_ctx *sse, struct ws_ctx *ws,
    char *err, size_t errlen)
{
	struct channels *ch = calloc(1, sizeof(*ch));

	if (ch == NULL || (ch->fetch_ev = event_new(base, -1, 0, on_fetch,
	    ch)) == NULL) {
		snprintf(err, errlen, "channels: out of memory");
		free(ch);
		return NULL;
	}
	ch->base = base;
	ch->stats = stats;
	ch->sse = sse;
	ch->ws = ws;
	ch->history = cfg->history;
	ch->history_bytes = cfg->history_bytes;
	ch->memory = cfg->memory;
	ch->queue = cfg->queue;
	ch->max_message = cfg->max_message;
	ch->drop = cfg->slow == CHANNEL_SLOW_DROP;
	TAILQ_INIT(&ch->lru);
	TAILQ_INIT(&ch->local_fetches);
	TAILQ_INIT(&ch->pubs);
	if (sse != NULL)
		sse->gone = on_sse_gone;
	if (ws != NULL)
		ws->unsub = on_ws_gone;
	return ch;
}

void
channels_set_transport(struct channels *ch, const struct chan_transport *t)
{
	ch->t = *t;
	ch->has_t = true;
}

void
channels_free(struct channels *ch)
{
	struct channel_sub *sub;
	struct chan_pub *p;
	struct chan *c;

	if (ch == NULL)
		return;
	if (ch->has_t && ch->t.free != NULL)
		ch->t.free(ch->t.t);
	ch->has_t = false;
	memset(&ch->t, 0, sizeof(ch->t));
	while ((p = TAILQ_FIRST(&ch->pubs)) != NULL)
		channels_published(ch, p, ECANCELED, 0);
	for (size_t b = 0; b < ch->nbuckets; b++)
		while ((c = ch->table[b]) != NULL) {
			while ((sub = TAILQ_FIRST(&c->subs)) != NULL) {
				sub_ws_unlink(sub);
				if (sub->sse != NULL) {
					sse_end(sub->sse, true);
					sub->sse = NULL;
				}
				sub->dead = true;
				sub_free(ch, sub);   /* may free c */
			}
			if (ch->table[b] == c) {
				c->fetching = false;
				if (c->on_fetch_list)
					TAILQ_REMOVE(&ch->local_fetches, c,
					    fetch_entry);
				c->on_fetch_list = false;
				chan_hist_clear(ch, c);
				chan_maybe_free(ch, c);
			}
		}
	if (ch->sse != NULL)
		ch->sse->gone = NULL;
	if (ch->ws != NULL)
		ch->ws->unsub = NULL;
	event_free(ch->fetch_ev);
	free(ch->table);
	free(ch);
}
