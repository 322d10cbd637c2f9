/*
 * control — the master's control socket: a Unix stream socket (mode 0600)
 * speaking one JSON object per line each way.
 *
 *   -> {"v":1,"cmd":"status"}
 *   <- {"ok":true,"status":{...}}
 *   -> {"v":1,"cmd":"reload"}          (also "upgrade" [+"binary"],
 *   <- {"ok":false,"error":"..."}       "scale" + "workers", "stop" [+"fast"])
 *
 * Reload, upgrade and scale answer when the operation has committed or
 * rolled back, so a client that waits for the answer knows the outcome.
 * `shoal status|reload|upgrade|scale|stop` is the client (cli.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"

#define CONTROL_MAX_LINE 65536

struct control_req {
	TAILQ_ENTRY(control_req) entry;
	struct master *m;
	struct bufferevent *bev;     /* NULL once the client has gone */
	bool waiting;                /* an operation will answer */
	bool answered;               /* the answer is being written */
};

static void
req_free(struct control_req *req)
{
	TAILQ_REMOVE(&req->m->controls, req, entry);
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	free(req);
}

static void on_event(struct bufferevent *bev, short what, void *arg);

void
control_close_in_child(struct master *m)
{
	struct control_req *req;

	TAILQ_FOREACH(req, &m->controls, entry)
		if (req->bev != NULL)
			close(bufferevent_getfd(req->bev));
}

static void
on_flushed(struct bufferevent *bev, void *arg)
{
	struct control_req *req = arg;

	(void)bev;
	req_free(req);
}

static void
send_json(struct control_req *req, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);

	if (text == NULL || req->bev == NULL) {
		free(text);
		req_free(req);
		return;
	}
	req->answered = true;
	bufferevent_write(req->bev, text, strlen(text));
	bufferevent_write(req->bev, "\n", 1);
	free(text);
	/* Free once the answer is out, or when the client is gone. */
	bufferevent_setcb(req->bev, NULL, on_flushed, on_event, req);
	bufferevent_disable(req->bev, EV_READ);
}

void
control_reply(struct control_req *req, bool ok, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	json_t *obj;

	if (req == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (req->bev == NULL) {      /* the client gave up waiting */
		req_free(req);
		return;
	}
	obj = json_pack("{s:b, s:s}", "ok", ok, ok ? "message" : "error", text);
	send_json(req, obj);
	json_decref(obj);
}

static const char *
proc_state(const struct proc *p)
{
	if (p->draining)
		return "draining";
	if (!p->ready)
		return "spawning";
	return p->next ? "ready (new)" : "serving";
}

json_t *
control_status(struct master *m)
{
	json_t *procs = json_array(), *slots = json_array(), *obj;
	double now = util_now();
	struct proc *p;
	uint64_t requests = m->stats->exited.requests;
	uint64_t accepted = m->stats->exited.conns_accepted;

	TAILQ_FOREACH(p, &m->procs, entry) {
		struct stats_proc *sp = &m->stats->procs[p->stats_idx];
		struct slot *s = &m->slots[p->slot];

		requests += STATS_GET(sp->requests);
		accepted += STATS_GET(sp->conns_accepted);
		json_array_append_new(procs, json_pack("{s:i, s:i, s:i, s:s, "
		    "s:f, s:i, s:I, s:I, s:I, s:b}",
		    "slot", (int)p->slot, "pid", (int)p->pid,
		    "generation", (int)p->generation, "state", proc_state(p),
		    "uptime", now - p->spawned_at, "restarts", (int)s->restarts,
		    "requests", (json_int_t)STATS_GET(sp->requests),
		    "connections", (json_int_t)STATS_GET(sp->conns_open),
		    "accepted", (json_int_t)STATS_GET(sp->conns_accepted),
		    "crash_looping", s->crash_looping));
	}
	for (unsigned i = 0; i < m->nslots_total; i++) {
		struct slot *s = &m->slots[i];

		json_array_append_new(slots, json_pack("{s:i, s:i, s:i, s:b, s:b}",
		    "slot", (int)i, "pid", s->proc ? (int)s->proc->pid : 0,
		    "restarts", (int)s->restarts, "crash_looping",
		    s->crash_looping, "retiring", s->retiring));
	}
	obj = json_pack("{s:i, s:i, s:s, s:s, s:f, s:i, s:i, s:s?, s:i, "
	    "s:s, s:o, s:o, s:{s:I, s:I}}",
	    "v", 1, "pid", (int)getpid(), "version", SHOAL_VERSION,
	    "state", m->state == MASTER_STOPPING ? "stopping" :
	    m->state == MASTER_RUNNING ? "running" : "starting",
	    "uptime", now - m->started_at, "generation", (int)m->generation,
	    "workers", (int)m->nslots,
	    "operation", m->op.kind == OP_NONE ? NULL :
	    m->op.kind == OP_RELOAD ? "reload" : m->op.kind == OP_UPGRADE ?
	    "upgrade" : "scale",
	    "draining", (int)supervise_any_draining(m),
	    "config", m->cfg.source ? m->cfg.source : "",
	    "slots", slots, "processes", procs,
	    "totals", "requests", (json_int_t)requests,
	    "accepted", (json_int_t)accepted);
	return obj;
}

static void
handle(struct control_req *req, const char *line)
{
	struct master *m = req->m;
	json_error_t jerr;
	json_t *obj, *status;
	const char *cmd;

	obj = json_loads(line, 0, &jerr);
	cmd = json_string_value(json_object_get(obj, "cmd"));
	if (obj == NULL || cmd == NULL) {
		control_reply(req, false, "bad request: %s", obj == NULL ?
		    jerr.text : "no \"cmd\"");
		goto out;
	}
	if (strcmp(cmd, "status") == 0) {
		status = control_status(m);
		json_t *reply = json_pack("{s:b, s:o}", "ok", 1, "status", status);

		send_json(req, reply);
		json_decref(reply);
	} else if (strcmp(cmd, "reload") == 0) {
		ops_request(m, OP_RELOAD, 0, 0, NULL, req);
	} else if (strcmp(cmd, "upgrade") == 0) {
		ops_request(m, OP_UPGRADE, 0, 0,
		    json_string_value(json_object_get(obj, "binary")), req);
	} else if (strcmp(cmd, "scale") == 0) {
		json_t *n = json_object_get(obj, "workers");

		if (!json_is_integer(n) || json_integer_value(n) < 1 ||
		    json_integer_value(n) > CONFIG_MAX_WORKERS)
			control_reply(req, false, "scale: \"workers\" must be an "
			    "integer from 1 to %d", CONFIG_MAX_WORKERS);
		else
			ops_request(m, OP_SCALE_UP,
			    (unsigned)json_integer_value(n), 0, NULL, req);
	} else if (strcmp(cmd, "stop") == 0) {
		bool fast = json_is_true(json_object_get(obj, "fast"));

		control_reply(req, true, "stopping %s", fast ? "now" :
		    "gracefully");
		master_stop(m, fast, "control socket");
	} else {
		control_reply(req, false, "unknown command \"%s\"", cmd);
	}
out:
	json_decref(obj);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct control_req *req = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_MAX_LINE)
			control_reply(req, false, "request too long");
		return;
	}
	/* One request per connection: stop reading, answer, close. */
	bufferevent_disable(bev, EV_READ);
	req->waiting = true;
	handle(req, line);
	free(line);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_req *req = arg;

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (req->waiting && !req->answered) {
		/* An operation still holds req: it frees it when it answers. */
		bufferevent_free(req->bev);
		req->bev = NULL;
		return;
	}
	req_free(req);
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	struct control_req *req;
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd == -1)
		return;
	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (req->bev = bufferevent_socket_new(m->base, cfd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(req);
		close(cfd);
		return;
	}
	req->m = m;
	TAILQ_INSERT_TAIL(&m->controls, req, entry);
	bufferevent_setcb(req->bev, on_read, NULL, on_event, req);
	bufferevent_enable(req->bev, EV_READ);
}

/*
 * Bind path, replacing a stale socket file (nobody answers) but refusing
 * one a live master answers on.
 */
static int
bind_control(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control_socket %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe != -1 && connect(probe, (struct sockaddr *)&sun,
	    sizeof(sun)) == 0) {
		close(probe);
		snprintf(err, errlen, "control socket %s is in use by a running "
		    "shoal (stop it, or set control_socket)", path);
		return -1;
	}
	if (probe != -1)
		close(probe);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink(%s): %s", path, strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket(control): %s", strerror(errno));
		return -1;
	}
	old = umask(0177);           /* the file is born 0600: no window */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "bind(%s): %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (listen(fd, 64) == -1) {
		snprintf(err, errlen, "listen(%s): %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int
control_open(struct master *m, char *err, size_t errlen)
{
	if (m->cfg.control_socket == NULL)
		return 0;
	if (m->control_fd == -1) {   /* not inherited from an old master */
		m->control_fd = bind_control(m->cfg.control_socket, err, errlen);
		if (m->control_fd == -1)
			return -1;
	}
	m->control_owned = true;
	m->control_ev = event_new(m->base, m->control_fd, EV_READ | EV_PERSIST,
	    on_accept, m);
	if (m->control_ev == NULL || event_add(m->control_ev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch the control socket");
		return -1;
	}
	log_info("control socket %s", m->cfg.control_socket);
	return 0;
}

void
control_close(struct master *m)
{
	if (m->control_ev != NULL) {
		event_free(m->control_ev);
		m->control_ev = NULL;
	}
	if (m->control_fd != -1) {
		close(m->control_fd);
		m->control_fd = -1;
		/* After an upgrade the path belongs to the new master. */
		if (m->control_owned && !m->upgraded)
			unlink(m->cfg.control_socket);
	}
}
