/*
 * redis — see redis.h, and worker/api/redis.h for the handler's side.
 *
 * hiredis (0.14) does the protocol and the socket; its libevent adapter
 * puts the socket on the worker's loop. What hiredis 0.14 lacks, this file
 * adds: timeouts (it has none for asynchronous use), the "up" test (a
 * PING answered, so a stopped server whose kernel still completes the
 * handshake does not count as up), failing fast while down, reconnection
 * with backoff, and the counters of the stats region.
 *
 * One deadline timer per connection, not per command: Redis answers in
 * order, so the oldest command in flight is the first to miss its
 * deadline. The timer sleeps until that deadline and, when it wakes,
 * either finds the oldest answered (and sleeps until the new oldest's) or
 * drops the connection. The handshake's PING is the first command of each
 * connection and carries the connect deadline, so a connection that never
 * completes times out the same way.
 *
 * How hiredis 0.14 ends a connection, which the callbacks below rely on:
 * every command still in flight gets its reply callback with a NULL reply
 * (in order), then the disconnect callback (if it had connected), then
 * the context is freed. A connection that fails before connecting calls
 * the connect callback with REDIS_ERR first. A context freed from inside
 * one of its callbacks is freed when that callback returns. We mark a
 * context we have given up on with ac->data = NULL and ignore what it
 * says after that.
 *
 * Publish/subscribe (channels across hosts, chanredis.c) has a second
 * struct rconn per worker, with the role RCONN_SUBSCRIBER, started on
 * demand: the same connection, backoff and handshake code, and no
 * command deadlines once subscribed (a subscribed connection answers
 * nothing but its subscriptions: hiredis would hand a PING's late reply
 * a message). Its liveness follows the command connection's: when that
 * one is dropped for a reply overdue (a server that stopped), so is the
 * subscriber, whose silence would prove nothing. Once up again, it tells
 * its owner, who subscribes again.
 */
#include "worker/services/redis.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "common/config.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/util.h"

/* What a connection is for (see the top of the file). */
enum rconn_role {
	RCONN_COMMANDS,              /* request and reply, pipelined */
	RCONN_SUBSCRIBER,            /* SUBSCRIBE: messages, as they come */
};

enum rconn_state {
	RCONN_CONNECTING,            /* the first connection, under way */
	RCONN_UP,                    /* PING answered */
	RCONN_DOWN,                  /* failed; retrying; commands refused */
};

struct rconn;

struct redis_cmd {
	TAILQ_ENTRY(redis_cmd) entry;
	struct rconn *c;
	redis_reply_fn *cb;          /* NULL: cancelled (or the handshake) */
	void *arg;
	uint64_t deadline_ms;        /* util_now_ms() clock */
	bool handshake;              /* the connection's PING */
	bool timed_out;              /* its deadline passed: ETIMEDOUT */
};

TAILQ_HEAD(cmd_queue, redis_cmd);

/* One connection to the server and what it waits for. */
struct rconn {
	struct redis *r;
	enum rconn_role role;
	enum rconn_state state;
	redisAsyncContext *ac;       /* NULL between attempts */
	unsigned failures;           /* attempts failed in a row */
	uint64_t since_ms;           /* when the state last changed */
	struct cmd_queue inflight;   /* issued, oldest first */
	struct event *deadline_ev;   /* the oldest command's deadline */
	bool deadline_armed;
	uint64_t deadline_ms;        /* ... for which it is armed */
	struct event *retry_ev;      /* the backoff's */
};

struct redis {
	struct event_base *base;
	struct stats_proc *stats;    /* may be NULL */
	char *address;               /* as configured, for messages */
	bool unix_socket;
	char host[INET6_ADDRSTRLEN];
	int port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t connect_ms, command_ms;
	double reconnect_min, reconnect_max;
	bool stopping;               /* redis_free: fail with ECANCELED */
	struct rconn cmd;            /* RCONN_COMMANDS */
	struct rconn sub;            /* RCONN_SUBSCRIBER, once started */
	bool sub_started;
	struct redis_sub_handler sub_h;
};

static void rconn_connect(struct rconn *c);

/*
 * The delay before the next attempt after `failures` (>= 1) in a row: min,
 * doubling, capped at max, times 0.8 to 1.2 (rnd in [0, 1)) so that the
 * workers of a fleet do not reconnect in step, and never above max.
 */
static double
rconn_backoff(unsigned failures, double min, double max, double rnd)
{
	double d;

	d = min * ldexp(1.0, failures < 1 ? 0 : failures > 31 ? 30 :
	    (int)failures - 1);
	if (d > max)
		d = max;
	d *= 0.8 + 0.4 * rnd;
	return d > max ? max : d;
}

static void
tv_ms(struct timeval *tv, uint64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

static void
rconn_set_state(struct rconn *c, enum rconn_state st)
{
	static const uint64_t board[] = {
		[RCONN_CONNECTING] = STATS_REDIS_CONNECTING,
		[RCONN_UP] = STATS_REDIS_UP, [RCONN_DOWN] = STATS_REDIS_DOWN,
	};

	c->state = st;
	c->since_ms = util_now_ms();
	if (c->r->stats != NULL && c->role == RCONN_COMMANDS) {
		STATS_SET(c->r->stats->redis_state, board[st]);
		STATS_SET(c->r->stats->redis_since_ms, c->since_ms);
	} else if (c->r->stats != NULL) {
		STATS_SET(c->r->stats->redis_sub_state, board[st]);
		STATS_SET(c->r->stats->redis_sub_since_ms, c->since_ms);
	}
}

/* Count into the stats region, if there is one. */
#define RSTAT_ADD(r, field, n) do {                                        \
	if ((r)->stats != NULL)                                            \
		STATS_ADD((r)->stats->field, (n));                         \
} while (0)

/*
 * Sleep until the oldest command's deadline, unless already asleep until
 * then or sooner. Deadlines grow in issue order but for the handshake's,
 * whose connect_timeout may be longer than command_timeout: a command
 * issued behind it may have to wake the timer sooner.
 */
static void
deadline_arm(struct rconn *c, uint64_t deadline_ms)
{
	uint64_t now;
	struct timeval tv;

	if (c->deadline_armed && c->deadline_ms <= deadline_ms)
		return;
	now = util_now_ms();
	tv_ms(&tv, deadline_ms > now ? deadline_ms - now : 0);
	if (event_add(c->deadline_ev, &tv) == 0) {
		c->deadline_armed = true;
		c->deadline_ms = deadline_ms;
	}
}

/*
 * The connection failed (or was never made): forget it, fail what was in
 * flight (through hiredis's NULL replies), count, say so once per outage,
 * and plan the next attempt. hiredis_frees: called from a hiredis callback
 * after which hiredis frees the context itself.
 */
static void
rconn_fail(struct rconn *c, const char *why, bool hiredis_frees)
{
	struct redis *r = c->r;
	redisAsyncContext *ac = c->ac;
	struct timeval tv;
	double delay;

	c->ac = NULL;
	c->failures++;
	delay = rconn_backoff(c->failures, r->reconnect_min, r->reconnect_max,
	    drand48());
	if (c->state != RCONN_DOWN) {
		log_warn("redis %s%s: %s; %s until it is back (retrying in "
		    "%.2fs)", r->address, c->role == RCONN_SUBSCRIBER ?
		    " (subscriber)" : "", why, c->role == RCONN_SUBSCRIBER ?
		    "channel messages from Redis stop" : "commands fail", delay);
		rconn_set_state(c, RCONN_DOWN);
	} else {
		log_debug("redis %s: %s (attempt %u; retrying in %.2fs)",
		    r->address, why, c->failures, delay);
	}
	if (ac != NULL) {
		ac->data = NULL;         /* what it says from now on is old news */
		if (!hiredis_frees)
			redisAsyncFree(ac);  /* its commands fail, in order */
	}
	if (!r->stopping) {
		tv_ms(&tv, (uint64_t)(delay * 1000));
		event_add(c->retry_ev, &tv);
	}
	/* A server that stopped answering commands says nothing to a
	 * subscriber either: drop that one too, it reconnects alike. */
	if (c->role == RCONN_COMMANDS && r->sub_started && r->sub.ac != NULL &&
	    r->sub.state == RCONN_UP)
		rconn_fail(&r->sub, "the command connection failed", false);
}

/* The PING of a new connection was answered. */
static void
rconn_handshake(struct rconn *c, redisAsyncContext *ac, const redisReply *rep)
{
	char why[160];
	double down;

	if (rep == NULL || ac->data == NULL)
		return;                  /* the failure is being handled */
	if (rep->type != REDIS_REPLY_STATUS || strcmp(rep->str, "PONG") != 0) {
		snprintf(why, sizeof(why), "PING answered with %.100s",
		    rep->str != NULL ? rep->str : "something else than PONG");
		rconn_fail(c, why, false);
		return;
	}
	down = (double)(util_now_ms() - c->since_ms) / 1000;
	if (c->state == RCONN_DOWN)
		log_notice("redis %s%s: connected again after %.1fs down",
		    c->r->address, c->role == RCONN_SUBSCRIBER ? " (subscriber)" :
		    "", down);
	else
		log_info("redis %s%s: connected", c->r->address,
		    c->role == RCONN_SUBSCRIBER ? " (subscriber)" : "");
	c->failures = 0;
	rconn_set_state(c, RCONN_UP);
	if (c->role == RCONN_SUBSCRIBER) {
		/* No deadline once subscribed: its replies are messages. */
		if (c->r->sub_h.up != NULL)
			c->r->sub_h.up(c->r->sub_h.arg);
		return;
	}
	RSTAT_ADD(c->r, redis_connects, 1);
}

/* hiredis's reply callback of every command: a reply, or NULL if the
 * connection ended first. */
static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_cmd *cmd = privdata;
	struct rconn *c = cmd->c;
	struct redis *r = c->r;
	redisReply *rep = reply;
	int err = 0;

	TAILQ_REMOVE(&c->inflight, cmd, entry);
	if (rep == NULL) {
		/* The first news of a connection that broke: down, before
		 * anyone's callback may issue a command. */
		if (ac->data != NULL)
			rconn_fail(c, ac->errstr != NULL && ac->errstr[0] != '\0' ?
			    ac->errstr : "connection lost", true);
		err = r->stopping ? ECANCELED : cmd->timed_out ? ETIMEDOUT :
		    ENOTCONN;
	}
	if (cmd->handshake) {
		rconn_handshake(c, ac, rep);
	} else {
		if (err != 0)
			RSTAT_ADD(r, redis_failed, 1);
		if (err == ETIMEDOUT)
			RSTAT_ADD(r, redis_timeouts, 1);
		if (cmd->cb != NULL)
			cmd->cb(cmd->arg, err, (const struct redis_reply *)rep);
	}
	free(cmd);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	if (c == NULL || status == REDIS_OK)
		return;                  /* up once PING is answered */
	rconn_fail(c, ac->errstr != NULL && ac->errstr[0] != '\0' ?
	    ac->errstr : "cannot connect", true);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	(void)status;
	if (c != NULL)                   /* closed by the server, no command out */
		rconn_fail(c, ac->errstr != NULL && ac->errstr[0] != '\0' ?
		    ac->errstr : "connection closed", true);
}

/* The oldest command's deadline: passed (drop the connection), or not
 * yet (it was answered; sleep until the new oldest's). */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;
	struct redis_cmd *oldest = TAILQ_FIRST(&c->inflight);
	char why[128];

	(void)fd;
	(void)what;
	c->deadline_armed = false;
	if (oldest == NULL)
		return;
	if (oldest->deadline_ms > util_now_ms()) {
		deadline_arm(c, oldest->deadline_ms);
		return;
	}
	oldest->timed_out = true;
	if (oldest->handshake)
		snprintf(why, sizeof(why), "not connected and answering within "
		    "connect_timeout (%gs)", (double)c->r->connect_ms / 1000);
	else
		snprintf(why, sizeof(why), "no reply within command_timeout (%gs); "
		    "dropping the connection", (double)c->r->command_ms / 1000);
	rconn_fail(c, why, false);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rconn_connect(arg);
}

static struct redis_cmd *
cmd_new(struct rconn *c, redis_reply_fn *cb, void *arg, uint64_t timeout_ms)
{
	struct redis_cmd *cmd = malloc(sizeof(*cmd));

	if (cmd == NULL)
		return NULL;
	cmd->c = c;
	cmd->cb = cb;
	cmd->arg = arg;
	cmd->deadline_ms = util_now_ms() + timeout_ms;
	cmd->handshake = false;
	cmd->timed_out = false;
	return cmd;
}

/* A new connection, and its PING at the head of its pipeline. */
static void
rconn_connect(struct rconn *c)
{
	struct redis *r = c->r;
	struct redis_cmd *ping = NULL;
	redisAsyncContext *ac;
	char why[160];

	ac = r->unix_socket ? redisAsyncConnectUnix(r->path) :
	    redisAsyncConnect(r->host, r->port);
	if (ac == NULL) {
		rconn_fail(c, "out of memory", false);
		return;
	}
	if (ac->err != 0) {
		/* Refused at once (nothing listens, no such socket file). */
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		rconn_fail(c, why, false);
		return;
	}
	util_set_cloexec(ac->c.fd, 1);
	if (!r->unix_socket)
		redisEnableKeepAlive(&ac->c);
	c->ac = ac;
	ac->data = c;
	if ((ping = cmd_new(c, NULL, NULL, r->connect_ms)) == NULL ||
	    redisLibeventAttach(ac, r->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK ||
	    redisAsyncCommand(ac, on_reply, ping, "PING") != REDIS_OK) {
		free(ping);
		rconn_fail(c, "cannot set the connection up", false);
		return;
	}
	ping->handshake = true;
	TAILQ_INSERT_TAIL(&c->inflight, ping, entry);
	deadline_arm(c, ping->deadline_ms);
}

/* Would a command be sent now? Refused while down, even while a new
 * connection is under way: it may take connect_timeout to fail. */
static bool
rconn_accepts(const struct rconn *c)
{
	return c->ac != NULL && c->state != RCONN_DOWN;
}

/* The common part of issuing: refuse, or queue cmd once hiredis took it. */
static struct redis_cmd *
rconn_issue(struct rconn *c, redis_reply_fn *cb, void *arg,
    int (*send)(redisAsyncContext *ac, struct redis_cmd *cmd, void *how),
    void *how)
{
	struct redis *r = c->r;
	struct redis_cmd *cmd;

	RSTAT_ADD(r, redis_commands, 1);
	if (!rconn_accepts(c)) {
		RSTAT_ADD(r, redis_failed, 1);
		errno = ENOTCONN;
		return NULL;
	}
	if ((cmd = cmd_new(c, cb, arg, r->command_ms)) == NULL) {
		RSTAT_ADD(r, redis_failed, 1);
		errno = ENOMEM;
		return NULL;
	}
	if (send(c->ac, cmd, how) != REDIS_OK) {
		/* A bad format, or out of memory: hiredis says which only in
		 * a context error it does not set for these. */
		free(cmd);
		RSTAT_ADD(r, redis_failed, 1);
		errno = EINVAL;
		return NULL;
	}
	TAILQ_INSERT_TAIL(&c->inflight, cmd, entry);
	deadline_arm(c, cmd->deadline_ms);
	return cmd;
}

struct argv_cmd {
	int argc;
	const char *const *argv;
	const size_t *argvlen;
};

static int
send_argv(redisAsyncContext *ac, struct redis_cmd *cmd, void *how)
{
	const struct argv_cmd *a = how;

	/* hiredis only reads argv; its prototype lacks the const. */
	return redisAsyncCommandArgv(ac, on_reply, cmd, a->argc,
	    (const char **)(uintptr_t)a->argv, a->argvlen);
}

struct format_cmd {
	const char *fmt;
	va_list *ap;
};

static int
send_format(redisAsyncContext *ac, struct redis_cmd *cmd, void *how)
{
	struct format_cmd *f = how;

	return redisvAsyncCommand(ac, on_reply, cmd, f->fmt, *f->ap);
}

/* ---- worker/api/redis.h -------------------------------------------------- */

struct redis_cmd *
redis_commandv(struct redis *r, redis_reply_fn *cb, void *arg, int argc,
    const char *const *argv, const size_t *argvlen)
{
	struct argv_cmd a = { argc, argv, argvlen };

	if (r == NULL || argc < 1 || argv == NULL || argvlen == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return rconn_issue(&r->cmd, cb, arg, send_argv, &a);
}

struct redis_cmd *
redis_command(struct redis *r, redis_reply_fn *cb, void *arg,
    const char *fmt, ...)
{
	struct format_cmd f;
	struct redis_cmd *cmd;
	va_list ap;

	if (r == NULL || fmt == NULL) {
		errno = EINVAL;
		return NULL;
	}
	va_start(ap, fmt);
	f.fmt = fmt;
	f.ap = &ap;
	cmd = rconn_issue(&r->cmd, cb, arg, send_format, &f);
	va_end(ap);
	return cmd;
}

void
redis_cancel(struct redis_cmd *cmd)
{
	if (cmd != NULL)
		cmd->cb = NULL;
}

bool
redis_ready(const struct redis *r)
{
	return r != NULL && rconn_accepts(&r->cmd);
}

/* A reply is hiredis's redisReply, behind an opaque name. */
static const redisReply *
as_hiredis(const struct redis_reply *rep)
{
	return (const redisReply *)(const void *)rep;
}

enum redis_type
redis_reply_type(const struct redis_reply *rep)
{
	switch (as_hiredis(rep)->type) {
	case REDIS_REPLY_STRING: return REDIS_TYPE_STRING;
	case REDIS_REPLY_ARRAY: return REDIS_TYPE_ARRAY;
	case REDIS_REPLY_INTEGER: return REDIS_TYPE_INTEGER;
	case REDIS_REPLY_STATUS: return REDIS_TYPE_STATUS;
	case REDIS_REPLY_ERROR: return REDIS_TYPE_ERROR;
	default: return REDIS_TYPE_NIL;
	}
}

const char *
redis_reply_str(const struct redis_reply *rep, size_t *len)
{
	const redisReply *h = as_hiredis(rep);

	switch (h->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		*len = h->len;
		return h->str;
	default:
		*len = 0;
		return NULL;
	}
}

long long
redis_reply_integer(const struct redis_reply *rep)
{
	const redisReply *h = as_hiredis(rep);

	return h->type == REDIS_REPLY_INTEGER ? h->integer : 0;
}

size_t
redis_reply_count(const struct redis_reply *rep)
{
	const redisReply *h = as_hiredis(rep);

	return h->type == REDIS_REPLY_ARRAY ? h->elements : 0;
}

const struct redis_reply *
redis_reply_element(const struct redis_reply *rep, size_t i)
{
	const redisReply *h = as_hiredis(rep);

	if (h->type != REDIS_REPLY_ARRAY || i >= h->elements)
		return NULL;
	return (const struct redis_reply *)(const void *)h->element[i];
}

/* ---- the subscriber (worker/services/redis.h) ------------------------------ */

/* hiredis's callback of a SUBSCRIBE: its confirmation, then each message
 * of the channel; NULL when the connection goes (handled by its fail). */
static void
on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rconn *c = privdata;
	const struct redis_sub_handler *h = &c->r->sub_h;
	redisReply *rep = reply, **e;

	if (rep == NULL || ac->data == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements < 3)
		return;
	e = rep->element;
	if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(e[0]->str, "message") == 0 &&
	    e[2]->type == REDIS_REPLY_STRING && h->message != NULL)
		h->message(h->arg, e[1]->str, e[1]->len, e[2]->str, e[2]->len);
	else if (strcmp(e[0]->str, "subscribe") == 0 && h->subscribed != NULL)
		h->subscribed(h->arg, e[1]->str, e[1]->len);
	else if (strcmp(e[0]->str, "unsubscribe") == 0 &&
	    h->unsubscribed != NULL)
		h->unsubscribed(h->arg, e[1]->str, e[1]->len);
}

int
redis_sub_start(struct redis *r, const struct redis_sub_handler *h)
{
	struct rconn *c = &r->sub;

	if (r->sub_started) {
		errno = EALREADY;
		return -1;
	}
	c->r = r;
	c->role = RCONN_SUBSCRIBER;
	TAILQ_INIT(&c->inflight);
	if ((c->deadline_ev = evtimer_new(r->base, on_deadline, c)) == NULL ||
	    (c->retry_ev = evtimer_new(r->base, on_retry, c)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r->sub_h = *h;
	r->sub_started = true;
	rconn_set_state(c, RCONN_CONNECTING);
	rconn_connect(c);
	return 0;
}

int
redis_sub(struct redis *r, const char *channel, size_t len, bool on)
{
	struct rconn *c = &r->sub;
	int rc;

	if (!r->sub_started || c->ac == NULL || c->state != RCONN_UP) {
		errno = ENOTCONN;
		return -1;               /* the up callback subscribes again */
	}
	rc = on ? redisAsyncCommand(c->ac, on_sub_reply, c, "SUBSCRIBE %b",
	    channel, len) : redisAsyncCommand(c->ac, NULL, NULL,
	    "UNSUBSCRIBE %b", channel, len);
	if (rc != REDIS_OK) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

bool
redis_sub_up(const struct redis *r)
{
	return r != NULL && r->sub_started && r->sub.state == RCONN_UP;
}

/* ---- worker/services/redis.h --------------------------------------------- */

/* The configured address as hiredis takes it: host and port, or a path. */
static int
redis_target(struct redis *r, const char *address, char *err, size_t errlen)
{
	struct listen_addr la;
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;
	char why[256];

	memset(&la, 0, sizeof(la));
	if (config_parse_listen(address, &la, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "redis address %s: %s", address, why);
		return -1;
	}
	free(la.text);
	switch (la.sa.ss_family) {
	case AF_UNIX:
		r->unix_socket = true;
		snprintf(r->path, sizeof(r->path), "%s",
		    ((const struct sockaddr_un *)&la.sa)->sun_path);
		return 0;
	case AF_INET:
		in4 = (const struct sockaddr_in *)&la.sa;
		inet_ntop(AF_INET, &in4->sin_addr, r->host, sizeof(r->host));
		r->port = ntohs(in4->sin_port);
		return 0;
	default:
		in6 = (const struct sockaddr_in6 *)&la.sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, r->host, sizeof(r->host));
		r->port = ntohs(in6->sin6_port);
		return 0;
	}
}

struct redis *
redis_new(struct event_base *base, const struct redis_cfg *cfg,
    struct stats_proc *stats, char *err, size_t errlen)
{
	struct redis *r;
	struct rconn *c;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->address = strdup(cfg->address)) == NULL) {
		snprintf(err, errlen, "redis: out of memory");
		goto err;
	}
	if (redis_target(r, cfg->address, err, errlen) == -1)
		goto err;
	r->base = base;
	r->stats = stats;
	r->connect_ms = (uint64_t)(cfg->connect_timeout * 1000 + 0.5);
	r->command_ms = (uint64_t)(cfg->command_timeout * 1000 + 0.5);
	r->reconnect_min = cfg->reconnect_min;
	r->reconnect_max = cfg->reconnect_max;
	c = &r->cmd;
	c->r = r;
	c->role = RCONN_COMMANDS;
	TAILQ_INIT(&c->inflight);
	if ((c->deadline_ev = evtimer_new(base, on_deadline, c)) == NULL ||
	    (c->retry_ev = evtimer_new(base, on_retry, c)) == NULL) {
		snprintf(err, errlen, "redis: out of memory");
		goto err;
	}
	rconn_set_state(c, RCONN_CONNECTING);
	rconn_connect(c);
	return r;
err:
	redis_free(r);
	return NULL;
}

static void
rconn_free(struct rconn *c)
{
	redisAsyncContext *ac;

	if ((ac = c->ac) != NULL) {
		c->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);      /* in-flight callbacks: ECANCELED */
	}
	if (c->deadline_ev != NULL)
		event_free(c->deadline_ev);
	if (c->retry_ev != NULL)
		event_free(c->retry_ev);
}

void
redis_free(struct redis *r)
{
	if (r == NULL)
		return;
	r->stopping = true;
	rconn_free(&r->cmd);
	if (r->sub_started)
		rconn_free(&r->sub);
	free(r->address);
	free(r);
}
