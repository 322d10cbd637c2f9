/*
 * control — the master's control socket: a Unix stream socket (mode 0600)
 * speaking one JSON object per line each way.
 *
 *   -> {"v":1,"cmd":"status"}
 *   <- {"ok":true,"status":{...}}
 *   -> {"v":1,"cmd":"reload"}          (also "upgrade" [+"binary"],
 *   <- {"ok":false,"error":"..."}       "scale" + "workers", "reopen",
 *                                       "stop" [+"fast"])
 *
 * Reload, upgrade and scale answer when the operation has committed or
 * rolled back, so a client that waits for the answer knows the outcome.
 * `shoal status|reload|upgrade|scale|stop` is the client (cli.c).
 */
#include "master/control.h"

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

#include "common/log.h"
#include "master/ops.h"
#include "master/status.h"

#define CONTROL_MAX_LINE 65536

struct control_req {
	TAILQ_ENTRY(control_req) entry;
	struct master *m;
	struct bufferevent *bev;     /* NULL once the client has gone */
	bool waiting;                /* an operation will answer (answer()) */
	bool answered;               /* the answer is being written */
};

static void
req_free(struct control_req *req)
{
	TAILQ_REMOVE(&req->m->ctl.conns, req, entry);
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	free(req);
}

static void on_event(struct bufferevent *bev, short what, void *arg);

void
control_close_in_worker(struct master *m)
{
	struct control_req *req;

	if (m->ctl.fd != -1)
		close(m->ctl.fd);
	TAILQ_FOREACH(req, &m->ctl.conns, entry)
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

/* Answer req: ok with a message, or an error. Frees req (once sent). */
static void
answer(void *arg, bool ok, const char *text)
{
	struct control_req *req = arg;
	json_t *obj;

	if (req->bev == NULL) {      /* the client gave up waiting */
		req_free(req);
		return;
	}
	obj = json_pack("{s:b, s:s}", "ok", ok, ok ? "message" : "error", text);
	send_json(req, obj);
	json_decref(obj);
}

static void __attribute__((format(printf, 3, 4)))
control_reply(struct control_req *req, bool ok, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	answer(req, ok, text);
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
		status = status_json(m);
		json_t *reply = json_pack("{s:b, s:o}", "ok", 1, "status", status);

		send_json(req, reply);
		json_decref(reply);
	} else if (strcmp(cmd, "reload") == 0) {
		ops_request(m, OP_RELOAD, 0, 0, NULL, answer, req);
	} else if (strcmp(cmd, "upgrade") == 0) {
		ops_request(m, OP_UPGRADE, 0, 0,
		    json_string_value(json_object_get(obj, "binary")), answer, req);
	} else if (strcmp(cmd, "scale") == 0) {
		json_t *n = json_object_get(obj, "workers");

		if (!json_is_integer(n) || json_integer_value(n) < 1 ||
		    json_integer_value(n) > CONFIG_MAX_WORKERS)
			control_reply(req, false, "scale: \"workers\" must be an "
			    "integer from 1 to %d", CONFIG_MAX_WORKERS);
		else
			ops_request(m, OP_SCALE_UP,
			    (unsigned)json_integer_value(n), 0, NULL, answer, req);
	} else if (strcmp(cmd, "reopen") == 0) {
		char err[512];

		if (m->ctl.hooks.reopen(m, err, sizeof(err)) == -1)
			control_reply(req, false, "%s", err);
		else
			control_reply(req, true, "log files reopened");
	} else if (strcmp(cmd, "stop") == 0) {
		bool fast = json_is_true(json_object_get(obj, "fast"));

		control_reply(req, true, "stopping %s", fast ? "now" :
		    "gracefully");
		m->ctl.hooks.stop(m, fast, "control socket");
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
	TAILQ_INSERT_TAIL(&m->ctl.conns, req, entry);
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

void
control_init(struct master *m)
{
	m->ctl.fd = -1;
	TAILQ_INIT(&m->ctl.conns);
}

int
control_open(struct master *m, int inherited_fd,
    const struct control_hooks *hooks, char *err, size_t errlen)
{
	struct control *ctl = &m->ctl;

	ctl->hooks = *hooks;
	ctl->fd = inherited_fd;
	if (m->cfg.control_socket == NULL)
		return 0;
	if (ctl->fd == -1) {         /* not inherited from an old master */
		ctl->fd = bind_control(m->cfg.control_socket, err, errlen);
		if (ctl->fd == -1)
			return -1;
	}
	ctl->owned = true;
	ctl->ev = event_new(m->base, ctl->fd, EV_READ | EV_PERSIST, on_accept, m);
	if (ctl->ev == NULL || event_add(ctl->ev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch the control socket");
		return -1;
	}
	log_info("control socket %s", m->cfg.control_socket);
	return 0;
}

void
control_close(struct master *m, bool unlink_path)
{
	struct control *ctl = &m->ctl;

	if (ctl->ev != NULL) {
		event_free(ctl->ev);
		ctl->ev = NULL;
	}
	if (ctl->fd != -1) {
		close(ctl->fd);
		ctl->fd = -1;
		if (ctl->owned && unlink_path)
			unlink(m->cfg.control_socket);
	}
}

void
control_free(struct master *m, bool unlink_path)
{
	struct control_req *req;

	control_close(m, unlink_path);
	/* Operations have answered (ops_free comes first); what is left are
	 * answers still being written and clients that never asked. */
	while ((req = TAILQ_FIRST(&m->ctl.conns)) != NULL)
		req_free(req);
}
