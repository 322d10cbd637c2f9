/*
 * worker — see worker.h. The loop: accept on this slot's sockets, serve the
 * connections (worker/http/), beat the heartbeat, obey the master.
 *
 * It wires the parts together: the HTTP engine knows no routes, so the
 * worker gives it a dispatch callback that adds the worker's own (thread
 * pool, stats board) to each request and hands it to the router
 * (worker/app/), which runs the handler the registry named.
 */
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"
#include "worker/http/accesslog.h"
#include "worker/http/conn.h"
#include "worker/app/module.h"
#include "worker/services/chanlocal.h"
#include "worker/services/chanredis.h"
#include "worker/services/channel.h"
#include "worker/services/pool.h"
#include "worker/services/redis.h"
#include "worker/app/router.h"

/* Accepts per wake-up and socket: fairness between sockets and the rest. */
#define ACCEPT_BATCH 64
/* TCP_DEFER_ACCEPT: seconds a connection may stay silent before it is
 * accepted anyway (header_timeout runs from then). */
#define DEFER_ACCEPT 1
/* After EMFILE/ENFILE, how long accepting pauses if no connection closes. */
#define ACCEPT_PAUSE 0.1
/* When the master is gone, how long in-flight requests may still take. */
#define ORPHAN_GRACE 1.0
/* Retiring: how long to keep accepting after new connections were steered
 * away, for handshakes that were already under way. */
#define RETIRE_SETTLE 0.2

struct worker;

/* One listening socket of this worker's slot. */
struct wlistener {
	struct worker *w;
	int fd;
	struct conn_listener conn;   /* what its connections are told: PROXY
	                                header or not, and this wlistener */
	struct router *own;          /* its address's own routes; NULL: the
	                                worker's (top-level) router */
	const char *text;            /* its address, "127.0.0.1:9100" */
	struct event *ev;
};

struct worker {
	const struct config *cfg;
	unsigned slot;
	struct event_base *base;
	struct stats_proc *stats;
	int ipc_fd;
	struct event *ipc_ev;
	struct wlistener *listeners;
	size_t nlisten;
	bool accepting;
	bool fd_starved;             /* accept hit EMFILE; logged once */
	struct event *resume_ev;     /* accept pause after EMFILE */
	struct event *heartbeat_ev;
	struct event *drain_ev;      /* graceful_timeout */
	struct event *retire_ev;     /* RETIRE_SETTLE */
	struct event *signals[8];
	size_t nsignals;
	struct conn_ctx conns;
	struct router *router;
	struct modules *modules;
	struct pool *pool;
	struct redis *redis;         /* NULL: no "redis" configured */
	struct channels *channels;
	int relay_fd;                /* until the channels take it; -1 */
	const struct stats *board;   /* every worker's stats, for handlers */
	bool draining;
};

/* conn_dispatch_fn: the worker's part of a request, then the router of
 * the listener (arg) it came in on. */
static void
dispatch(void *arg, struct http_request *req, struct http_response *resp)
{
	struct wlistener *wl = arg;
	struct worker *w = wl->w;

	req->pool = w->pool;
	req->redis = w->redis;
	req->channels = w->channels;
	req->stats = w->board;
	router_dispatch(wl->own != NULL ? wl->own : w->router, req, resp);
}

static void
tv_set(struct timeval *tv, double seconds)
{
	tv->tv_sec = (time_t)seconds;
	tv->tv_usec = (suseconds_t)((seconds - (double)tv->tv_sec) * 1e6);
}

/*
 * Options of a TCP listening socket, set on the shared socket whoever made
 * it (the master, systemd, an old master). TCP_DEFER_ACCEPT: a connection
 * is queued for accept once its first bytes are in (or after about
 * DEFER_ACCEPT seconds of silence), so accepting it and reading its
 * request take one wake-up, not two. TCP_NODELAY, which its connections
 * inherit, so that none needs a setsockopt of its own: true if it is set.
 * A Unix-domain socket has neither.
 */
static bool
listener_tune(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int on = 1, defer = DEFER_ACCEPT;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return false;
	/* Best effort: without it a connection is accepted, then waited on. */
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0;
}

static void
accept_enable(struct worker *w, bool on)
{
	if (w->accepting == on)
		return;
	for (size_t i = 0; i < w->nlisten; i++) {
		if (on)
			event_add(w->listeners[i].ev, NULL);
		else
			event_del(w->listeners[i].ev);
	}
	w->accepting = on;
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct wlistener *wl = arg;
	struct worker *w = wl->w;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct timeval tv;
	int cfd;

	(void)what;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		if (w->conns.nconns >= w->cfg->http.max_connections) {
			/* Resumed by on_conn_close when one closes. */
			accept_enable(w, false);
			return;
		}
		salen = sizeof(sa);
		cfd = accept4(fd, (struct sockaddr *)&sa, &salen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			w->fd_starved = false;
			conn_accept(&w->conns, cfd, (struct sockaddr *)&sa, salen,
			    &wl->conn);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EAGAIN != EWOULDBLOCK
		case EWOULDBLOCK:
#endif
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/*
			 * Out of fds: the connection stays queued. Polling the
			 * socket now would spin, so stop until one of ours closes
			 * or a short timer expires.
			 */
			if (!w->fd_starved)  /* once per episode, not per retry */
				log_warn("accept: %s; pausing accepts until "
				    "connections close", strerror(errno));
			w->fd_starved = true;
			accept_enable(w, false);
			tv_set(&tv, ACCEPT_PAUSE);
			event_add(w->resume_ev, &tv);
			return;
		default:
			log_error("accept: %s", strerror(errno));
			return;
		}
	}
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (!w->draining)
		accept_enable(w, true);
}

static void
on_conn_close(void *arg)
{
	struct worker *w = arg;

	if (w->draining) {
		if (w->conns.nconns == 0)
			event_base_loopbreak(w->base);
		return;
	}
	if (!w->accepting && w->conns.nconns < w->cfg->http.max_connections)
		accept_enable(w, true);
}

/*
 * Stop accepting, let in-flight requests finish, exit when the last
 * connection is gone or after limit seconds.
 */
static void
worker_drain(struct worker *w, double limit, const char *why)
{
	struct timeval tv;

	if (w->draining) {
		/* A second request to drain can only shorten the deadline. */
		tv_set(&tv, limit);
		if (limit < w->cfg->graceful_timeout)
			event_add(w->drain_ev, &tv);
		return;
	}
	log_info("draining (%s): %zu connection%s open", why, w->conns.nconns,
	    w->conns.nconns == 1 ? "" : "s");
	w->draining = true;
	STATS_SET(w->stats->state, STATS_DRAINING);
	accept_enable(w, false);
	event_del(w->resume_ev);
	event_del(w->retire_ev);
	/* The master keeps the sockets (and what is queued on them) open. */
	for (size_t i = 0; i < w->nlisten; i++) {
		close(w->listeners[i].fd);
		w->listeners[i].fd = -1;
	}
	conn_drain_all(&w->conns);
	if (w->conns.nconns == 0) {
		event_base_loopbreak(w->base);
		return;
	}
	tv_set(&tv, limit);
	event_add(w->drain_ev, &tv);
}

static void
worker_exit_now(struct worker *w, const char *why)
{
	log_info("exiting now (%s)", why);
	w->draining = true;
	conn_close_all(&w->conns);
	event_base_loopbreak(w->base);
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_warn("drain timed out with %zu connection%s open; closing them",
	    w->conns.nconns, w->conns.nconns == 1 ? "" : "s");
	worker_exit_now(w, "drain timeout");
}

static void
on_retire(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	/* A last sweep of the queues before they are left for good. */
	for (size_t i = 0; w->accepting && i < w->nlisten; i++)
		on_accept(w->listeners[i].fd, EV_READ, &w->listeners[i]);
	worker_drain(w, w->cfg->graceful_timeout, "retired");
}

static void
on_ipc(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct ipc_msg msg;
	int r;

	(void)what;
	for (;;) {
		r = ipc_recv((int)fd, &msg);
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EBADMSG)) {
			/* The master is gone: nobody will respawn or stop us. */
			event_del(w->ipc_ev);
			worker_drain(w, ORPHAN_GRACE, "master gone");
			return;
		}
		if (r == -1) {
			if (errno == EAGAIN)
				return;
			log_warn("undecodable message from the master");
			continue;
		}
		switch (msg.type) {
		case IPC_MSG_DRAIN:
			worker_drain(w, w->cfg->graceful_timeout, "master");
			break;
		case IPC_MSG_STOP:
			worker_exit_now(w, "master");
			break;
		case IPC_MSG_RETIRE:
			/* Our slot is going away: serve what is queued on its
			 * socket (nothing new is steered to it), then drain. */
			if (!w->draining) {
				struct timeval tv;

				log_info("retiring: emptying the accept queue");
				tv_set(&tv, RETIRE_SETTLE);
				event_add(w->retire_ev, &tv);
			}
			break;
		default:
			log_debug("ignoring \"%s\" from the master",
			    ipc_type_name(msg.type));
			break;
		}
		ipc_msg_free(&msg);
	}
}

/* What the metrics say of this process: resident memory and CPU time. */
static void
usage_update(struct worker *w)
{
	struct rusage ru;
	unsigned long long size, resident;
	char text[128];
	ssize_t n = -1;
	int fd;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		STATS_SET(w->stats->cpu_user_us, (uint64_t)ru.ru_utime.tv_sec *
		    1000000 + (uint64_t)ru.ru_utime.tv_usec);
		STATS_SET(w->stats->cpu_system_us, (uint64_t)ru.ru_stime.tv_sec *
		    1000000 + (uint64_t)ru.ru_stime.tv_usec);
	}
	/* "size resident shared ...", in pages. Opened each time: a worker
	 * holds no descriptor but its own sockets, IPC and logs. */
	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (n > 0) {
		text[n] = '\0';
		if (sscanf(text, "%llu %llu", &size, &resident) == 2)
			STATS_SET(w->stats->rss_bytes, resident *
			    (unsigned long long)sysconf(_SC_PAGESIZE));
	}
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	STATS_SET(w->stats->heartbeat_ms, util_now_ms());
	usage_update(w);
}

/*
 * The routers: the top-level routes', and one for each of our listeners
 * whose address has routes of its own (an admin listener). Our listeners
 * come from the master's table; their routes from our configuration.
 */
static int
routers_new(struct worker *w, char *err, size_t errlen)
{
	const struct config *cfg = w->cfg;

	if ((w->router = router_new(cfg->routes, cfg->nroutes, w->modules, err,
	    errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < w->nlisten; i++)
		for (size_t j = 0; j < cfg->nlisten; j++) {
			if (strcmp(cfg->listen[j].text, w->listeners[i].text) != 0 ||
			    cfg->listen[j].routes == NULL)
				continue;
			w->listeners[i].own = router_new(cfg->listen[j].routes,
			    cfg->listen[j].nroutes, w->modules, err, errlen);
			if (w->listeners[i].own == NULL)
				return -1;
		}
	return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGQUIT:
		worker_drain(w, w->cfg->graceful_timeout,
		    sig == SIGTERM ? "SIGTERM" : "SIGQUIT");
		break;
	case SIGINT:
		worker_exit_now(w, "SIGINT");
		break;
	case SIGUSR1:
		if (log_reopen() == -1)
			log_error("reopen log: %s", strerror(errno));
		if (w->conns.access != NULL && accesslog_reopen(w->conns.access) == -1)
			log_error("reopen(%s): %s", w->cfg->access_log,
			    strerror(errno));
		break;
	}
}

/*
 * The channels, and how their messages cross workers: through the
 * master's relay, or through Redis (which reaches other hosts too), when
 * it is configured; the relay socket is then closed.
 */
static int
channels_setup(struct worker *w, char *err, size_t errlen)
{
	int fd = w->relay_fd;

	w->relay_fd = -1;
	if ((w->channels = channels_new(w->base, &w->cfg->channels, w->stats,
	    &w->conns.sse, &w->conns.ws, err, errlen)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (w->redis != NULL) {
		if (fd != -1)
			close(fd);
		return chanredis_start(w->channels, w->redis, &w->cfg->channels,
		    err, errlen);
	}
	if (fd == -1)
		return 0;                /* publishing fails: ENOTCONN */
	if (chanlocal_start(w->channels, w->base, fd, err, errlen) == -1)
		log_error("%s", err);    /* the same, said */
	return 0;
}

static int
worker_setup(struct worker *w, const struct worker_boot *boot)
{
	static const int handled[] = { SIGTERM, SIGQUIT, SIGINT, SIGUSR1 };
	/* Sent to the whole process group by terminals and operators; they
	 * are the master's business. */
	static const int ignored[] = { SIGHUP, SIGUSR2, SIGTTIN, SIGTTOU,
	    SIGWINCH, SIGPIPE };
	struct event_config *ecfg;
	struct timeval tv;
	char err[1024];
	double beat;

	ecfg = event_config_new();
	if (ecfg == NULL)
		return -1;
	/* Single-threaded loop: no locks. */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (w->base == NULL)
		return -1;

	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(handled); i++) {
		struct event *ev = evsignal_new(w->base, handled[i], on_signal, w);

		if (ev == NULL || event_add(ev, NULL) == -1)
			return -1;
		w->signals[w->nsignals++] = ev;
	}

	if (conn_ctx_init(&w->conns, w->base, w->cfg, w->stats) == -1)
		return -1;
	/* The engine knows no routes: it hands each request to dispatch,
	 * with the listener it came in on. */
	w->conns.dispatch = dispatch;
	usage_update(w);
	/* At most 1024 jobs wait per worker; beyond that handlers answer 503. */
	if ((w->pool = pool_new(w->base, (unsigned)w->cfg->threads, 1024, err,
	    sizeof(err))) == NULL) {
		log_error("thread pool: %s", err);
		return -1;
	}
	w->board = boot->stats;
	/* Connects in the background; handlers see it down until it is up. */
	if (w->cfg->redis.address != NULL &&
	    (w->redis = redis_new(w->base, &w->cfg->redis, w->stats, err,
	    sizeof(err))) == NULL) {
		log_error("%s", err);
		return -1;
	}
	if (channels_setup(w, err, sizeof(err)) == -1) {
		log_error("%s", err);
		return -1;
	}
	/* Application code: loaded here, in the worker, at every boot. */
	if ((w->modules = modules_load(w->cfg, w->channels, err,
	    sizeof(err))) == NULL) {
		log_error("%s", err);
		return -1;
	}
	for (size_t i = 0; i < w->cfg->nmodules; i++)
		log_info("module %s loaded from %s", w->cfg->modules[i].name,
		    w->cfg->modules[i].path);
	if (routers_new(w, err, sizeof(err)) == -1) {
		log_error("%s", err);
		return -1;
	}
	if (w->cfg->access_log != NULL &&
	    (w->conns.access = accesslog_open(w->cfg->access_log,
	    w->cfg->access_log_format, w->base, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return -1;
	}
	w->conns.on_close = on_conn_close;
	w->conns.on_close_arg = w;

	for (size_t i = 0; i < w->nlisten; i++) {
		w->listeners[i].ev = event_new(w->base, w->listeners[i].fd,
		    EV_READ | EV_PERSIST, on_accept, &w->listeners[i]);
		if (w->listeners[i].ev == NULL)
			return -1;
	}
	w->resume_ev = evtimer_new(w->base, on_resume, w);
	w->drain_ev = evtimer_new(w->base, on_drain_timeout, w);
	w->retire_ev = evtimer_new(w->base, on_retire, w);
	w->heartbeat_ev = event_new(w->base, -1, EV_PERSIST, on_heartbeat, w);
	w->ipc_ev = event_new(w->base, w->ipc_fd, EV_READ | EV_PERSIST, on_ipc, w);
	if (w->resume_ev == NULL || w->drain_ev == NULL || w->retire_ev == NULL ||
	    w->heartbeat_ev == NULL || w->ipc_ev == NULL ||
	    event_add(w->ipc_ev, NULL) == -1)
		return -1;
	/* Beat several times per worker_timeout so one late tick is no hang. */
	beat = boot->cfg->worker_timeout / 4;
	tv_set(&tv, beat < 1.0 ? beat : 1.0);
	if (event_add(w->heartbeat_ev, &tv) == -1)
		return -1;
	accept_enable(w, true);
	return 0;
}

static void
worker_free(struct worker *w)
{
	conn_ctx_free(&w->conns);
	channels_free(w->channels);        /* after its streams; publishes
	                                      waiting: ECANCELED */
	pool_free(w->pool);                /* its done() may still answer streams */
	redis_free(w->redis);              /* replies still due: ECANCELED, to
	                                      handlers that are still loaded */
	accesslog_close(w->conns.access);  /* after the last request is logged */
	router_free(w->router);        /* before the code it calls is unloaded */
	for (size_t i = 0; i < w->nlisten; i++)
		router_free(w->listeners[i].own);
	modules_free(w->modules);
	for (size_t i = 0; i < w->nlisten; i++) {
		if (w->listeners[i].ev != NULL)
			event_free(w->listeners[i].ev);
		if (w->listeners[i].fd != -1)
			close(w->listeners[i].fd);
	}
	free(w->listeners);
	for (size_t i = 0; i < w->nsignals; i++)
		event_free(w->signals[i]);
	if (w->resume_ev != NULL)
		event_free(w->resume_ev);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	if (w->retire_ev != NULL)
		event_free(w->retire_ev);
	if (w->heartbeat_ev != NULL)
		event_free(w->heartbeat_ev);
	if (w->ipc_ev != NULL)
		event_free(w->ipc_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	close(w->ipc_fd);
	if (w->relay_fd != -1)
		close(w->relay_fd);
}

int
worker_run(const struct worker_boot *boot)
{
	struct worker w;
	char name[16];
	sigset_t none;
	int rc = 1;

	memset(&w, 0, sizeof(w));
	w.cfg = boot->cfg;
	w.slot = boot->slot;
	w.stats = &boot->stats->procs[boot->stats_idx];
	w.ipc_fd = boot->ipc_fd;
	w.relay_fd = boot->relay_fd;
	w.nlisten = boot->nlisten;
	w.listeners = calloc(w.nlisten ? w.nlisten : 1, sizeof(*w.listeners));
	if (w.listeners == NULL)
		return 1;
	for (size_t i = 0; i < w.nlisten; i++) {
		w.listeners[i].w = &w;
		w.listeners[i].fd = boot->listen_fds[i];
		w.listeners[i].text = boot->listen_addrs[i]->text;
		w.listeners[i].conn.proxy_protocol =
		    boot->listen_addrs[i]->proxy_protocol;
		w.listeners[i].conn.dispatch_arg = &w.listeners[i];
		w.listeners[i].conn.nodelay = listener_tune(w.listeners[i].fd);
	}

	log_set_role("worker", (int)boot->slot);
	snprintf(name, sizeof(name), "shoal worker %u", boot->slot);
	prctl(PR_SET_NAME, name);
	STATS_SET(w.stats->pid, getpid());
	STATS_SET(w.stats->heartbeat_ms, util_now_ms());

	if (worker_setup(&w, boot) == -1) {
		log_error("cannot start; exiting");
		goto out;
	}
	/* Signals were blocked across fork; our handlers are in place now. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (ipc_send(w.ipc_fd, IPC_MSG_READY, NULL) == -1) {
		log_error("cannot tell the master we are ready: %s",
		    strerror(errno));
		goto out;
	}
	log_debug("ready (generation %u)", boot->generation);
	event_base_dispatch(w.base);
	rc = 0;
out:
	worker_free(&w);
	return rc;
}
