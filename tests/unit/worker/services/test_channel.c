/*
 * Unit tests for worker/services/channel.c, the channel service, on a
 * real event loop with a fake transport: publishing and its refusals, the
 * fan-out to every subscriber of a channel in order, subscribers that
 * leave inside a callback, histories within their bounds and the worker's
 * memory, resuming after an id (kept here, or fetched once the transport
 * confirmed the subscription, with live messages held meanwhile and each
 * id once), a gap that triggers a catch-up, resync, and a slow event
 * stream closed or its messages dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/services/channel.c"

#include "worker/http/response.h"

/* ---- a fake transport ------------------------------------------------------ */

struct fake {
	struct chan_pub *pubs[16];
	bool binary[16];
	size_t npubs;
	int watch_on, watch_off;
	int fetches;
	bool remote;                 /* histories are the transport's */
};

static int
fake_publish(void *t, const char *name, size_t name_len, const void *data,
    size_t len, bool binary, struct chan_pub *p)
{
	struct fake *f = t;

	(void)name;
	(void)name_len;
	(void)data;
	(void)len;
	if (f->npubs == 16) {
		errno = ENOBUFS;
		return -1;
	}
	f->binary[f->npubs] = binary;
	f->pubs[f->npubs++] = p;
	return 0;
}

static void
fake_watch(void *t, const char *name, size_t name_len, bool on)
{
	struct fake *f = t;

	(void)name;
	(void)name_len;
	if (on)
		f->watch_on++;
	else
		f->watch_off++;
}

static int
fake_history(void *t, const char *name, size_t name_len)
{
	struct fake *f = t;

	(void)name;
	(void)name_len;
	f->fetches++;
	return 0;
}

static struct event_base *base;
static struct stats_proc stats;
static struct fake fake;

static struct channels *
service(size_t history, size_t memory, bool remote)
{
	struct channel_cfg cfg = {
		.history = history, .history_bytes = 1000, .memory = memory,
		.queue = 1024, .slow = CHANNEL_SLOW_CLOSE, .max_message = 512,
	};
	struct chan_transport t = { .t = &fake, .publish = fake_publish };
	struct channels *ch;
	char err[128];

	memset(&fake, 0, sizeof(fake));
	memset(&stats, 0, sizeof(stats));
	fake.remote = remote;
	if (remote) {
		t.watch = fake_watch;
		t.history = fake_history;
	}
	ch = channels_new(base, &cfg, &stats, NULL, NULL, err, sizeof(err));
	assert_non_null(ch);
	channels_set_transport(ch, &t);
	return ch;
}

static void
spin(void)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* A callback subscriber that records what it gets. */
struct rec {
	uint64_t ids[64];
	char data[64][16];
	bool binary[64];
	size_t n;
	struct channel_sub *self, *other;    /* to unsubscribe inside */
	struct channels *ch;
};

static void
rec_msg(void *arg, const struct channel_msg *m)
{
	struct rec *r = arg;

	assert_true(r->n < 64);
	r->ids[r->n] = m->id;
	snprintf(r->data[r->n], sizeof(r->data[0]), "%.*s", (int)m->len,
	    (const char *)m->data);
	r->binary[r->n] = m->binary;
	r->n++;
	if (r->other != NULL) {
		channel_unsubscribe(r->other);
		r->other = NULL;
	}
	if (r->self != NULL) {
		channel_unsubscribe(r->self);
		r->self = NULL;
	}
}

static void
deliver(struct channels *ch, const char *name, uint64_t id)
{
	char data[16];

	snprintf(data, sizeof(data), "m%llu", (unsigned long long)id);
	channels_deliver(ch, name, strlen(name), id, false, data, strlen(data));
}

static void
expect_ids(const struct rec *r, const uint64_t *ids, size_t n)
{
	assert_int_equal(r->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r->ids[i], ids[i]);
}

/* ---- publishing ------------------------------------------------------------ */

struct outcome {
	int calls, err;
	uint64_t id;
};

static void
on_done(void *arg, int err, uint64_t id)
{
	struct outcome *o = arg;

	o->calls++;
	o->err = err;
	o->id = id;
}

static void
test_publish(void **state)
{
	struct channels *ch;
	struct outcome o = { 0, -1, 0 };
	char big[600], name[CHANNEL_NAME_MAX + 1];
	char err[64];
	struct channel_cfg cfg = { .history = 1, .history_bytes = 1000,
	    .memory = 1000, .queue = 1024, .max_message = 512 };

	(void)state;
	/* No transport yet: the master is not there. */
	ch = channels_new(base, &cfg, &stats, NULL, NULL, err, sizeof(err));
	assert_int_equal(channel_publish(ch, "a", 1, "x", 1, CHANNEL_AUTO, NULL,
	    NULL), -1);
	assert_int_equal(errno, ENOTCONN);
	channels_free(ch);

	ch = service(1, 1000, false);
	memset(big, 'b', sizeof(big));
	memset(name, 'n', sizeof(name));
	assert_int_equal(channel_publish(ch, "", 0, "x", 1, CHANNEL_AUTO, NULL,
	    NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(channel_publish(ch, name, sizeof(name), "x", 1,
	    CHANNEL_AUTO, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(channel_publish(ch, "a\nb", 3, "x", 1, CHANNEL_AUTO,
	    NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(channel_publish(ch, "a", 1, big, sizeof(big),
	    CHANNEL_AUTO, NULL, NULL), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(channel_publish(ch, "a", 1, "\xff", 1, CHANNEL_TEXT,
	    NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(STATS_GET(stats.chan_publish_failed), 5);
	assert_int_equal(fake.npubs, 0);
	/* Text or binary, as the bytes say (CHANNEL_AUTO). */
	assert_int_equal(channel_publish(ch, name, CHANNEL_NAME_MAX,
	    "h\xc3\xa9llo", 6, CHANNEL_AUTO, on_done, &o), 0);
	assert_int_equal(channel_publish(ch, "a", 1, "\xff\xfe", 2,
	    CHANNEL_AUTO, NULL, NULL), 0);
	assert_int_equal(channel_publish(ch, "a", 1, "text", 4,
	    CHANNEL_BINARY, NULL, NULL), 0);
	assert_int_equal(fake.npubs, 3);
	assert_false(fake.binary[0]);
	assert_true(fake.binary[1]);
	assert_true(fake.binary[2]);
	/* The outcome comes from the transport, never inside the call. */
	assert_int_equal(o.calls, 0);
	channels_published(ch, fake.pubs[0], 0, 77);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.id, 77);
	channels_published(ch, fake.pubs[1], ENOTCONN, 0);
	assert_int_equal(STATS_GET(stats.chan_published), 1);
	assert_int_equal(STATS_GET(stats.chan_publish_failed), 6);
	/* What still waits when the worker stops: ECANCELED. */
	o.calls = 0;
	assert_int_equal(channel_publish(ch, "a", 1, "x", 1, CHANNEL_AUTO,
	    on_done, &o), 0);
	channels_free(ch);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, ECANCELED);
}

/* ---- fan-out ---------------------------------------------------------------- */

static void
test_fanout_in_order(void **state)
{
	struct channels *ch = service(0, 1000, false);
	struct rec r1 = { 0 }, r2 = { 0 }, rb = { 0 };
	static const uint64_t want[] = { 5, 6, 9 };

	(void)state;
	assert_non_null(channel_subscribe(ch, "a", 1, 0, rec_msg, &r1));
	assert_non_null(channel_subscribe(ch, "a", 1, 0, rec_msg, &r2));
	assert_non_null(channel_subscribe(ch, "b", 1, 0, rec_msg, &rb));
	assert_null(channel_subscribe(ch, "", 0, 0, rec_msg, &rb));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(STATS_GET(stats.chan_subscribers), 3);
	deliver(ch, "a", 5);
	deliver(ch, "a", 6);
	deliver(ch, "zz", 7);        /* nobody's: not even kept (history 0) */
	deliver(ch, "a", 9);
	expect_ids(&r1, want, 3);
	expect_ids(&r2, want, 3);
	assert_string_equal(r1.data[2], "m9");
	assert_int_equal(rb.n, 0);
	assert_null(chan_find(ch, "zz", 2));
	assert_int_equal(STATS_GET(stats.chan_received), 4);
	assert_int_equal(STATS_GET(stats.chan_delivered), 6);
	channels_free(ch);
	assert_int_equal(STATS_GET(stats.chan_subscribers), 0);
}

static void
test_unsubscribe_inside_callback(void **state)
{
	struct channels *ch = service(0, 1000, false);
	struct rec r1 = { 0 }, r2 = { 0 }, r3 = { 0 };

	(void)state;
	r1.self = channel_subscribe(ch, "a", 1, 0, rec_msg, &r1);
	r2.self = NULL;
	assert_non_null(channel_subscribe(ch, "a", 1, 0, rec_msg, &r2));
	r3.self = channel_subscribe(ch, "a", 1, 0, rec_msg, &r3);
	/* r1 ends itself and r3 (which has not had the message yet). */
	r1.other = r3.self;
	r3.self = NULL;
	deliver(ch, "a", 1);
	deliver(ch, "a", 2);
	assert_int_equal(r1.n, 1);
	assert_int_equal(r2.n, 2);
	assert_int_equal(r3.n, 0);
	assert_int_equal(STATS_GET(stats.chan_subscribers), 1);
	channels_free(ch);
}

/* ---- histories -------------------------------------------------------------- */

static void
test_resume_from_local_history(void **state)
{
	struct channels *ch = service(3, 1000, false);
	struct rec r = { 0 }, live = { 0 };
	static const uint64_t want[] = { 13, 14, 15, 16, 17 };

	(void)state;
	for (uint64_t id = 10; id <= 15; id++)
		deliver(ch, "h", id);
	assert_int_equal(chan_find(ch, "h", 1)->hist.n, 3);
	assert_non_null(channel_subscribe(ch, "h", 1, 11, rec_msg, &r));
	assert_non_null(channel_subscribe(ch, "h", 1, 0, rec_msg, &live));
	/* Nothing inside the call; a live message meanwhile waits its turn. */
	assert_int_equal(r.n, 0);
	deliver(ch, "h", 16);
	assert_int_equal(r.n, 0);
	assert_int_equal(live.n, 1);
	spin();
	deliver(ch, "h", 17);
	expect_ids(&r, want, 5);
	assert_int_equal(live.n, 2);
	channels_free(ch);
}

static void
test_memory_budget(void **state)
{
	struct channels *ch;
	struct channel_cfg cfg = { .history = 10, .history_bytes = 1000,
	    .memory = 10, .queue = 1024, .max_message = 512 };
	struct chan_transport t = { .t = &fake, .publish = fake_publish };
	char err[64];
	struct rec r = { 0 };

	(void)state;
	ch = channels_new(base, &cfg, &stats, NULL, NULL, err, sizeof(err));
	channels_set_transport(ch, &t);
	/* "old" keeps a subscriber (it stays, its history goes first). */
	assert_non_null(channel_subscribe(ch, "old", 3, 0, rec_msg, &r));
	deliver(ch, "old", 1);           /* "m1": 2 bytes each */
	deliver(ch, "gone", 2);
	deliver(ch, "a", 3);
	deliver(ch, "a", 4);
	deliver(ch, "b", 5);
	assert_int_equal(ch->hist_bytes, 10);
	deliver(ch, "b", 6);             /* past 10: the stalest go */
	assert_int_equal(ch->hist_bytes, 10);
	assert_int_equal(chan_find(ch, "old", 3)->hist.n, 0);
	assert_int_equal(chan_find(ch, "gone", 4)->hist.n, 1);
	deliver(ch, "b", 7);
	assert_int_equal(ch->hist_bytes, 10);
	assert_null(chan_find(ch, "gone", 4));   /* nothing held it */
	assert_non_null(chan_find(ch, "old", 3));
	assert_int_equal(chan_find(ch, "a", 1)->hist.n, 2);
	assert_int_equal(chan_find(ch, "b", 1)->hist.n, 3);
	channels_free(ch);
}

/* ---- a transport that keeps the histories (Redis) ------------------------- */

static void
history(struct channels *ch, const char *name, uint64_t from, uint64_t to)
{
	struct chan_entry e[16];
	char data[16][16];
	size_t n = 0;

	for (uint64_t id = from; id <= to; id++, n++) {
		snprintf(data[n], sizeof(data[n]), "m%llu", (unsigned long long)id);
		e[n] = (struct chan_entry){ id, false, data[n], strlen(data[n]) };
	}
	channels_history(ch, name, strlen(name), e, n, 0);
}

static void
test_resume_waits_for_the_subscription(void **state)
{
	struct channels *ch = service(100, 1000, true);
	struct rec r = { 0 };
	static const uint64_t want[] = { 6, 7, 8, 9, 10 };

	(void)state;
	assert_non_null(channel_subscribe(ch, "r", 1, 5, rec_msg, &r));
	assert_int_equal(fake.watch_on, 1);
	/* A history read before the subscription holds could miss some. */
	spin();
	assert_int_equal(fake.fetches, 0);
	channels_subscribed(ch, "r", 1);
	assert_int_equal(fake.fetches, 1);
	deliver(ch, "r", 9);             /* live, while the history comes */
	assert_int_equal(r.n, 0);
	history(ch, "r", 3, 9);          /* 9 twice: once delivered */
	deliver(ch, "r", 10);
	expect_ids(&r, want, 5);
	/* The last subscriber gone: the channel is let go. */
	channel_unsubscribe(r.self = chan_find(ch, "r", 1)->subs.tqh_first);
	r.self = NULL;
	assert_int_equal(fake.watch_off, 1);
	assert_null(chan_find(ch, "r", 1));
	channels_free(ch);
}

static void
test_gap_and_resync_catch_up(void **state)
{
	struct channels *ch = service(100, 1000, true);
	struct rec r = { 0 }, fresh = { 0 }, blank = { 0 };
	static const uint64_t want[] = { 20, 21, 22, 23, 24, 25 };
	static const uint64_t want_fresh[] = { 24, 25, 26 };

	(void)state;
	assert_non_null(channel_subscribe(ch, "g", 1, 0, rec_msg, &r));
	channels_subscribed(ch, "g", 1);
	deliver(ch, "g", 20);
	deliver(ch, "g", 23);            /* 21 and 22 missed: fetch */
	assert_int_equal(fake.fetches, 1);
	assert_int_equal(r.n, 1);
	history(ch, "g", 15, 23);
	assert_int_equal(r.n, 4);
	/* The transport comes back: subscribed again, then caught up. One
	 * that joined at 23 gets what came after; one that joined a channel
	 * with nothing seen yet has nothing to go by: no history. */
	assert_non_null(channel_subscribe(ch, "g", 1, 0, rec_msg, &fresh));
	assert_non_null(channel_subscribe(ch, "n", 1, 0, rec_msg, &blank));
	channels_resync(ch);
	assert_int_equal(fake.watch_on, 4);      /* g, n; and each again */
	assert_int_equal(fake.fetches, 1);       /* waits for the subscription */
	channels_subscribed(ch, "g", 1);
	channels_subscribed(ch, "n", 1);
	assert_int_equal(fake.fetches, 3);
	history(ch, "g", 18, 25);
	history(ch, "n", 1, 3);
	expect_ids(&r, want, 6);
	assert_int_equal(blank.n, 0);
	deliver(ch, "g", 26);
	deliver(ch, "n", 4);
	expect_ids(&fresh, want_fresh, 3);
	assert_int_equal(blank.n, 1);
	channels_free(ch);
}

/* ---- a slow event stream ----------------------------------------------------- */

static void
test_slow_stream(void **state)
{
	struct config cfg;
	struct sse_ctx sse;
	struct http_request req;
	struct http_response resp;
	struct channels *ch;
	struct chan_transport t = { .t = &fake, .publish = fake_publish };
	char err[64], data[600];

	(void)state;
	memset(data, 'd', sizeof(data));
	memset(&cfg, 0, sizeof(cfg));
	cfg.http.write_timeout = 1;
	cfg.channels = (struct channel_cfg){ .history = 0, .history_bytes = 0,
	    .memory = 0, .queue = 1024, .max_message = 600 };
	for (int drop = 0; drop <= 1; drop++) {
		cfg.channels.slow = drop ? CHANNEL_SLOW_DROP : CHANNEL_SLOW_CLOSE;
		memset(&stats, 0, sizeof(stats));
		assert_int_equal(sse_ctx_init(&sse, base, &cfg, NULL, 0), 0);
		ch = channels_new(base, &cfg.channels, &stats, &sse, NULL, err,
		    sizeof(err));
		channels_set_transport(ch, &t);
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		resp.file_fd = -1;
		req.method = "GET";
		req.version_major = req.version_minor = 1;
		assert_int_equal(channel_subscribe_sse(ch, &req, &resp, "s", 1), 0);
		assert_int_equal(resp.status, 200);
		assert_non_null(resp.stream);
		/* Two of these pass the queue (1024): the second is too many. */
		channels_deliver(ch, "s", 1, 1, false, data, sizeof(data));
		channels_deliver(ch, "s", 1, 2, false, data, sizeof(data));
		channels_deliver(ch, "s", 1, 3, false, data, 10);
		assert_int_equal(STATS_GET(stats.chan_delivered), drop ? 2 : 1);
		assert_int_equal(STATS_GET(stats.chan_dropped), drop ? 1 : 0);
		assert_int_equal(STATS_GET(stats.chan_slow_closed), drop ? 0 : 1);
		assert_int_equal(STATS_GET(stats.chan_subscribers), drop ? 1 : 0);
		/* The client never got the head: the stream is discarded, and
		 * with it the subscription. */
		response_discard(&resp);
		assert_int_equal(STATS_GET(stats.chan_subscribers), 0);
		channels_free(ch);
		sse_ctx_free(&sse);
	}
}

static int
setup(void **state)
{
	(void)state;
	base = event_base_new();
	return base == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	event_base_free(base);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_fanout_in_order),
		cmocka_unit_test(test_unsubscribe_inside_callback),
		cmocka_unit_test(test_resume_from_local_history),
		cmocka_unit_test(test_memory_budget),
		cmocka_unit_test(test_resume_waits_for_the_subscription),
		cmocka_unit_test(test_gap_and_resync_catch_up),
		cmocka_unit_test(test_slow_stream),
	};

	return cmocka_run_group_tests_name("channel", tests, setup, teardown);
}
