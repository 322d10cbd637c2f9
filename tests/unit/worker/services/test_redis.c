/*
 * Unit tests for worker/services/redis.c: the reconnection backoff, and
 * the client's life against a fake Redis on the same loop (a loopback
 * listener that speaks just enough RESP): the handshake, fail fast while
 * down, coming back, a reply that never comes (command_timeout), a
 * connection that never answers (connect_timeout), a connection lost with
 * commands in flight (each fails exactly once), cancel, and free with
 * commands in flight (ECANCELED). The real redis-server is the
 * integration tests' (tests/integration/test_kv.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/services/redis.c"

#include <signal.h>
#include <unistd.h>

/* ---- the fake server ------------------------------------------------------ */

enum fake_mode {
	FAKE_ANSWER,                 /* PING: +PONG; GET: $-1 or the value; else :1 */
	FAKE_MUTE_AFTER_PING,        /* answers PING only */
	FAKE_MUTE,                   /* answers nothing */
	FAKE_CLOSE_ON_COMMAND,       /* PING answered; closes on the next one */
	FAKE_PING_ERROR,             /* PING: -LOADING */
};

struct fake {
	struct event_base *base;
	int lfd;
	int port;
	struct event *accept_ev;
	enum fake_mode mode;
	int cfd;                     /* one client at a time */
	struct event *read_ev;
	char in[65536];
	size_t inlen;
	int accepted;
	int commands;                /* complete commands read, PING included */
};

static void
fake_close_client(struct fake *f)
{
	if (f->read_ev != NULL)
		event_free(f->read_ev);
	f->read_ev = NULL;
	if (f->cfd != -1)
		close(f->cfd);
	f->cfd = -1;
	f->inlen = 0;
}

/* One RESP command ("*N\r\n$L\r\n...") at the head of in: its length,
 * 0 if incomplete; its first word into word. */
static size_t
fake_parse(const char *in, size_t len, char *word, size_t wordsz)
{
	const char *p = in, *end = in + len, *nl;
	long n, l;

	word[0] = '\0';
	if (len < 4 || *p != '*' || (nl = memchr(p, '\n', len)) == NULL)
		return 0;
	n = strtol(p + 1, NULL, 10);
	p = nl + 1;
	for (long i = 0; i < n; i++) {
		if (p >= end || *p != '$' ||
		    (nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return 0;
		l = strtol(p + 1, NULL, 10);
		p = nl + 1;
		if (end - p < l + 2)
			return 0;
		if (i == 0)
			snprintf(word, wordsz, "%.*s", (int)l, p);
		p += l + 2;
	}
	return (size_t)(p - in);
}

static void
fake_send(struct fake *f, const char *s)
{
	assert_int_equal(write(f->cfd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
fake_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	char word[64];
	ssize_t n;
	size_t used;

	(void)what;
	n = read(fd, f->in + f->inlen, sizeof(f->in) - f->inlen);
	if (n <= 0) {
		fake_close_client(f);
		return;
	}
	f->inlen += (size_t)n;
	while ((used = fake_parse(f->in, f->inlen, word, sizeof(word))) > 0) {
		memmove(f->in, f->in + used, f->inlen - used);
		f->inlen -= used;
		f->commands++;
		if (f->mode == FAKE_MUTE)
			continue;
		if (strcmp(word, "PING") == 0) {
			fake_send(f, f->mode == FAKE_PING_ERROR ?
			    "-LOADING Redis is loading\r\n" : "+PONG\r\n");
			continue;
		}
		if (f->mode == FAKE_MUTE_AFTER_PING)
			continue;
		if (f->mode == FAKE_CLOSE_ON_COMMAND) {
			fake_close_client(f);
			return;
		}
		if (strcmp(word, "GET") == 0)
			fake_send(f, "$5\r\nvalue\r\n");
		else if (strcmp(word, "MGET") == 0)
			fake_send(f, "*2\r\n$1\r\na\r\n$-1\r\n");
		else if (strcmp(word, "BAD") == 0)
			fake_send(f, "-ERR unknown command\r\n");
		else
			fake_send(f, ":1\r\n");
	}
}

static void
fake_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	int c;

	(void)what;
	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	fake_close_client(f);
	f->cfd = c;
	f->accepted++;
	f->read_ev = event_new(f->base, c, EV_READ | EV_PERSIST, fake_on_read, f);
	assert_non_null(f->read_ev);
	event_add(f->read_ev, NULL);
}

/* Listen on port (0: any free one); accept only if accepting. */
static void
fake_start(struct fake *f, struct event_base *base, int port, bool accepting)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->base = base;
	f->cfd = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 16), 0);
	getsockname(f->lfd, (struct sockaddr *)&sa, &salen);
	f->port = ntohs(sa.sin_port);
	f->accept_ev = event_new(base, f->lfd, EV_READ | EV_PERSIST,
	    fake_on_accept, f);
	if (accepting)
		event_add(f->accept_ev, NULL);
}

static void
fake_stop(struct fake *f)
{
	fake_close_client(f);
	event_free(f->accept_ev);
	close(f->lfd);
}

/* A port nothing listens on (bound, then closed). */
static int
dead_port(void)
{
	struct fake f;
	struct event_base *base = event_base_new();
	int port;

	fake_start(&f, base, 0, false);
	port = f.port;
	fake_stop(&f);
	event_base_free(base);
	return port;
}

/* ---- the client's side ---------------------------------------------------- */

struct calls {
	int n;                       /* callbacks run */
	int err;                     /* the last one's */
	enum redis_type type;
	long long integer;
	char str[64];
	size_t count;
	struct redis *again;         /* issue a command from the callback */
	struct redis_cmd *again_cmd;
	int again_errno;
};

static void
on_done(void *arg, int err, const struct redis_reply *rep)
{
	struct calls *c = arg;
	const char *s;
	size_t len;

	c->n++;
	c->err = err;
	if (rep != NULL) {
		c->type = redis_reply_type(rep);
		c->integer = redis_reply_integer(rep);
		c->count = redis_reply_count(rep);
		if ((s = redis_reply_str(rep, &len)) != NULL)
			snprintf(c->str, sizeof(c->str), "%.*s", (int)len, s);
	}
	if (c->again != NULL) {
		errno = 0;
		c->again_cmd = redis_command(c->again, on_done, c, "GET x");
		c->again_errno = errno;
		c->again = NULL;
	}
}

static struct redis_cfg
cfg_for(char *address, double connect, double command)
{
	struct redis_cfg rc = {
		.address = address, .connect_timeout = connect,
		.command_timeout = command, .reconnect_min = 0.01,
		.reconnect_max = 0.05,
	};
	return rc;
}

/* Run the loop until *flag (an int) reaches want, at most ms. */
static bool
run_until(struct event_base *base, const int *flag, int want, int ms)
{
	uint64_t end = util_now_ms() + (uint64_t)ms;
	struct timeval tick = { 0, 5000 };

	while (*flag < want && util_now_ms() < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	return *flag >= want;
}

/* Run the loop until the client's state is st, at most ms. */
static bool
run_until_state(struct event_base *base, struct redis *r, enum rconn_state st,
    int ms)
{
	uint64_t end = util_now_ms() + (uint64_t)ms;
	struct timeval tick = { 0, 5000 };

	while (r->cmd.state != st && util_now_ms() < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	return r->cmd.state == st;
}

struct world {
	struct event_base *base;
	struct fake f;
	struct stats_proc stats;
	char address[32];
	struct redis *r;
};

static void
world_start(struct world *w, enum fake_mode mode, double connect,
    double command)
{
	struct redis_cfg rc;
	char err[128];

	memset(w, 0, sizeof(*w));
	w->base = event_base_new();
	assert_non_null(w->base);
	fake_start(&w->f, w->base, 0, true);
	w->f.mode = mode;
	snprintf(w->address, sizeof(w->address), "127.0.0.1:%d", w->f.port);
	rc = cfg_for(w->address, connect, command);
	w->r = redis_new(w->base, &rc, &w->stats, err, sizeof(err));
	assert_non_null(w->r);
}

static void
world_end(struct world *w)
{
	redis_free(w->r);
	fake_stop(&w->f);
	event_base_free(w->base);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_backoff_doubles_to_the_cap_with_jitter(void **state)
{
	(void)state;
	/* rnd 0.5: no jitter. */
	assert_true(fabs(rconn_backoff(1, 0.1, 2, 0.5) - 0.1) < 1e-9);
	assert_true(fabs(rconn_backoff(2, 0.1, 2, 0.5) - 0.2) < 1e-9);
	assert_true(fabs(rconn_backoff(3, 0.1, 2, 0.5) - 0.4) < 1e-9);
	assert_true(fabs(rconn_backoff(5, 0.1, 2, 0.5) - 1.6) < 1e-9);
	assert_true(fabs(rconn_backoff(6, 0.1, 2, 0.5) - 2.0) < 1e-9);
	assert_true(fabs(rconn_backoff(1000, 0.1, 2, 0.5) - 2.0) < 1e-9);
	/* 0 failures is read as the first. */
	assert_true(fabs(rconn_backoff(0, 0.1, 2, 0.5) - 0.1) < 1e-9);
	/* Jitter: 0.8 to 1.2 times, but never above the cap. */
	assert_true(fabs(rconn_backoff(1, 0.1, 2, 0.0) - 0.08) < 1e-9);
	assert_true(fabs(rconn_backoff(1, 0.1, 2, 0.999999) - 0.12) < 1e-6);
	assert_true(rconn_backoff(6, 0.1, 2, 0.999999) <= 2.0);
	assert_true(rconn_backoff(6, 0.1, 2, 0.0) >= 1.6 - 1e-9);
	for (unsigned n = 1; n < 80; n++)
		assert_true(rconn_backoff(n, 0.1, 2, drand48()) <= 2.0);
}

static void
test_connects_and_answers(void **state)
{
	struct world w;
	struct calls c = { 0 };
	const char *argv[] = { "SET", "k\0ey", "v" };
	size_t argvlen[] = { 3, 4, 1 };

	(void)state;
	world_start(&w, FAKE_ANSWER, 1, 1);
	/* Before the first connection is up, commands wait for it. */
	assert_int_equal(w.r->cmd.state, RCONN_CONNECTING);
	assert_true(redis_ready(w.r));
	assert_int_equal(STATS_GET(w.stats.redis_state), STATS_REDIS_CONNECTING);
	assert_non_null(redis_command(w.r, on_done, &c, "GET %s", "k"));
	assert_true(run_until(w.base, &c.n, 1, 2000));
	assert_int_equal(c.err, 0);
	assert_int_equal(c.type, REDIS_TYPE_STRING);
	assert_string_equal(c.str, "value");
	assert_int_equal(w.r->cmd.state, RCONN_UP);
	assert_int_equal(STATS_GET(w.stats.redis_state), STATS_REDIS_UP);
	assert_int_equal(STATS_GET(w.stats.redis_connects), 1);

	/* Binary-safe words; an integer reply. */
	assert_non_null(redis_commandv(w.r, on_done, &c, 3, argv, argvlen));
	assert_true(run_until(w.base, &c.n, 2, 2000));
	assert_int_equal(c.type, REDIS_TYPE_INTEGER);
	assert_int_equal(c.integer, 1);
	/* An array; an error reply is a reply (err 0). */
	assert_non_null(redis_command(w.r, on_done, &c, "MGET a b"));
	assert_true(run_until(w.base, &c.n, 3, 2000));
	assert_int_equal(c.type, REDIS_TYPE_ARRAY);
	assert_int_equal(c.count, 2);
	assert_non_null(redis_command(w.r, on_done, &c, "BAD"));
	assert_true(run_until(w.base, &c.n, 4, 2000));
	assert_int_equal(c.err, 0);
	assert_int_equal(c.type, REDIS_TYPE_ERROR);
	assert_string_equal(c.str, "ERR unknown command");
	assert_int_equal(STATS_GET(w.stats.redis_commands), 4);
	assert_int_equal(STATS_GET(w.stats.redis_failed), 0);
	/* The handshake's PING, then the four. */
	assert_int_equal(w.f.commands, 5);
	world_end(&w);
}

static void
test_reply_accessors_refuse_other_types(void **state)
{
	redisReply nil = { .type = REDIS_REPLY_NIL };
	redisReply one = { .type = REDIS_REPLY_INTEGER, .integer = 7 };
	redisReply *elems[] = { &nil, &one };
	redisReply arr = { .type = REDIS_REPLY_ARRAY, .elements = 2,
	    .element = elems };
	const struct redis_reply *a = (const struct redis_reply *)(void *)&arr;
	size_t len = 99;

	(void)state;
	assert_int_equal(redis_reply_type(a), REDIS_TYPE_ARRAY);
	assert_null(redis_reply_str(a, &len));
	assert_int_equal(len, 0);
	assert_int_equal(redis_reply_integer(a), 0);
	assert_int_equal(redis_reply_count(a), 2);
	assert_int_equal(redis_reply_type(redis_reply_element(a, 0)),
	    REDIS_TYPE_NIL);
	assert_int_equal(redis_reply_integer(redis_reply_element(a, 1)), 7);
	assert_null(redis_reply_element(a, 2));
	assert_int_equal(redis_reply_count(redis_reply_element(a, 1)), 0);
}

static void
test_down_fails_fast_then_comes_back(void **state)
{
	struct event_base *base = event_base_new();
	struct stats_proc stats;
	struct calls c = { 0 };
	struct redis_cfg rc;
	char address[32], err[128];
	struct redis *r;
	struct fake f;
	int port = dead_port();

	(void)state;
	memset(&stats, 0, sizeof(stats));
	snprintf(address, sizeof(address), "127.0.0.1:%d", port);
	rc = cfg_for(address, 1, 1);
	r = redis_new(base, &rc, &stats, err, sizeof(err));
	assert_non_null(r);
	assert_true(run_until_state(base, r, RCONN_DOWN, 2000));
	/* Refused in the caller's stack, no callback. */
	assert_false(redis_ready(r));
	errno = 0;
	assert_null(redis_command(r, on_done, &c, "GET k"));
	assert_int_equal(errno, ENOTCONN);
	assert_int_equal(STATS_GET(stats.redis_state), STATS_REDIS_DOWN);
	assert_true(STATS_GET(stats.redis_commands) >= 1);
	assert_int_equal(STATS_GET(stats.redis_failed),
	    STATS_GET(stats.redis_commands));
	/* The server comes up on that port: the client reconnects by itself. */
	fake_start(&f, base, port, true);
	assert_true(run_until_state(base, r, RCONN_UP, 3000));
	assert_true(redis_ready(r));
	assert_true(r->cmd.failures == 0);
	assert_non_null(redis_command(r, on_done, &c, "GET k"));
	assert_true(run_until(base, &c.n, 1, 2000));
	assert_int_equal(c.err, 0);
	assert_int_equal(STATS_GET(stats.redis_connects), 1);
	redis_free(r);
	fake_stop(&f);
	event_base_free(base);
}

static void
test_reply_never_comes(void **state)
{
	struct world w;
	struct calls c1 = { 0 }, c2 = { 0 };
	uint64_t t0;

	(void)state;
	world_start(&w, FAKE_MUTE_AFTER_PING, 1, 0.2);
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 2000));
	t0 = util_now_ms();
	assert_non_null(redis_command(w.r, on_done, &c1, "GET a"));
	assert_non_null(redis_command(w.r, on_done, &c2, "GET b"));
	assert_true(run_until(w.base, &c2.n, 1, 2000));
	/* The oldest timed out; the one behind it went with the connection. */
	assert_int_equal(c1.n, 1);
	assert_int_equal(c1.err, ETIMEDOUT);
	assert_int_equal(c2.err, ENOTCONN);
	/* command_timeout's, not the handshake's connect_timeout (1 s). */
	assert_true(util_now_ms() - t0 >= 190);
	assert_true(util_now_ms() - t0 < 700);
	assert_int_equal(w.r->cmd.state, RCONN_DOWN);
	assert_false(redis_ready(w.r));
	assert_int_equal(STATS_GET(w.stats.redis_timeouts), 1);
	assert_int_equal(STATS_GET(w.stats.redis_failed), 2);
	/* Dropped and made again. */
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 2000));
	assert_int_equal(w.f.accepted, 2);
	/* Each callback ran once. */
	assert_int_equal(c1.n, 1);
	assert_int_equal(c2.n, 1);
	world_end(&w);
}

static void
test_connect_timeout(void **state)
{
	struct world w;
	uint64_t t0 = util_now_ms();

	(void)state;
	/* The kernel completes the handshake; PING is never answered. */
	world_start(&w, FAKE_MUTE, 0.1, 1);
	assert_true(run_until_state(w.base, w.r, RCONN_DOWN, 2000));
	assert_true(util_now_ms() - t0 >= 90);
	assert_int_equal(STATS_GET(w.stats.redis_connects), 0);
	/* It keeps trying, and comes up once PING is answered. */
	w.f.mode = FAKE_ANSWER;
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 3000));
	assert_true(w.f.accepted >= 2);
	world_end(&w);
}

static void
test_ping_error_is_not_up(void **state)
{
	struct world w;

	(void)state;
	world_start(&w, FAKE_PING_ERROR, 1, 1);
	assert_true(run_until_state(w.base, w.r, RCONN_DOWN, 2000));
	assert_int_equal(STATS_GET(w.stats.redis_connects), 0);
	w.f.mode = FAKE_ANSWER;
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 3000));
	world_end(&w);
}

static void
test_lost_with_commands_in_flight(void **state)
{
	struct world w;
	struct calls c[3];

	(void)state;
	memset(c, 0, sizeof(c));
	world_start(&w, FAKE_CLOSE_ON_COMMAND, 1, 1);
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 2000));
	/* The first callback issues a command: refused, the connection is
	 * down by then. */
	c[0].again = w.r;
	for (int i = 0; i < 3; i++)
		assert_non_null(redis_command(w.r, on_done, &c[i], "GET k"));
	assert_true(run_until(w.base, &c[2].n, 1, 2000));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c[i].n, 1);
		assert_int_equal(c[i].err, ENOTCONN);
	}
	assert_null(c[0].again_cmd);
	assert_int_equal(c[0].again_errno, ENOTCONN);
	assert_int_equal(w.r->cmd.state, RCONN_DOWN);
	/* Run on a while: no callback runs twice. */
	w.f.mode = FAKE_ANSWER;
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 2000));
	for (int i = 0; i < 3; i++)
		assert_int_equal(c[i].n, 1);
	world_end(&w);
}

static void
test_cancel_and_free(void **state)
{
	struct world w;
	struct calls c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
	struct redis_cmd *cmd;

	(void)state;
	world_start(&w, FAKE_ANSWER, 1, 1);
	assert_true(run_until_state(w.base, w.r, RCONN_UP, 2000));
	/* Cancelled: the reply comes and is dropped. */
	cmd = redis_command(w.r, on_done, &c1, "GET a");
	assert_non_null(cmd);
	redis_cancel(cmd);
	assert_non_null(redis_command(w.r, on_done, &c2, "GET b"));
	assert_true(run_until(w.base, &c2.n, 1, 2000));
	assert_int_equal(c1.n, 0);
	assert_int_equal(w.f.commands, 3);
	/* Freed with one in flight: its callback says ECANCELED. */
	w.f.mode = FAKE_MUTE;
	assert_non_null(redis_command(w.r, on_done, &c3, "GET c"));
	redis_free(w.r);
	w.r = NULL;
	assert_int_equal(c3.n, 1);
	assert_int_equal(c3.err, ECANCELED);
	world_end(&w);
}

static void
test_bad_arguments(void **state)
{
	struct world w;
	struct calls c = { 0 };
	const char *argv[] = { "GET" };
	size_t argvlen[] = { 3 };
	struct redis_cfg rc;
	char err[128];

	(void)state;
	errno = 0;
	assert_null(redis_command(NULL, on_done, &c, "GET k"));
	assert_int_equal(errno, EINVAL);
	assert_false(redis_ready(NULL));
	redis_cancel(NULL);
	world_start(&w, FAKE_ANSWER, 1, 1);
	errno = 0;
	assert_null(redis_commandv(w.r, on_done, &c, 0, argv, argvlen));
	assert_int_equal(errno, EINVAL);
	world_end(&w);
	/* An address the client cannot use. */
	rc = cfg_for((char *)(uintptr_t)"nowhere", 1, 1);
	assert_null(redis_new(NULL, &rc, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "nowhere"));
	assert_int_equal(c.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_to_the_cap_with_jitter),
		cmocka_unit_test(test_connects_and_answers),
		cmocka_unit_test(test_reply_accessors_refuse_other_types),
		cmocka_unit_test(test_down_fails_fast_then_comes_back),
		cmocka_unit_test(test_reply_never_comes),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_ping_error_is_not_up),
		cmocka_unit_test(test_lost_with_commands_in_flight),
		cmocka_unit_test(test_cancel_and_free),
		cmocka_unit_test(test_bad_arguments),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("redis", tests, NULL, NULL);
}
