/*
 * chanlocal — see chanlocal.h.
 *
 * A publish is one datagram to the master (common/relay.h) and completes
 * when the master's stamped copy comes back: the datagrams of one worker
 * come back in the order they were sent, so the oldest publish waiting
 * is the one a returning datagram of ours (our pid, our token) answers,
 * with the sequence number every worker of the host gives that message.
 * While the socket is full, datagrams wait in a bounded queue of their
 * own; past it publishing fails with ENOBUFS (a 503 for the pubsub
 * handler) rather than growing.
 */
#include "worker/services/chanlocal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/relay.h"
#include "worker/services/channel.h"

/* Datagrams per recvmmsg. */
#define LOCAL_BATCH 16
/* Bytes of datagrams waiting for room in the socket before publishing
 * fails. */
#define LOCAL_QUEUE (4u << 20)

struct omsg {
	TAILQ_ENTRY(omsg) entry;
	size_t len;
	char data[];
};
TAILQ_HEAD(omsg_list, omsg);

struct chanlocal {
	struct channels *ch;
	struct event_base *base;
	int fd;                          /* -1 once the master is gone */
	struct event *ev;
	bool writing;
	uint32_t pid;
	uint32_t token;                  /* our publishes so far */
	struct chan_pub_list waiting;    /* sent, not back yet (tentry) */
	struct omsg_list out;            /* not sent yet: the socket was full */
	size_t out_bytes;
	char *bufs;                      /* LOCAL_BATCH datagrams' room */
};

static void on_relay(evutil_socket_t fd, short what, void *arg);

static void
local_watch(struct chanlocal *l, bool writing)
{
	if (l->writing == writing || l->fd == -1)
		return;
	event_del(l->ev);
	event_assign(l->ev, l->base, l->fd, EV_READ | EV_PERSIST |
	    (writing ? EV_WRITE : 0), on_relay, l);
	event_add(l->ev, NULL);
	l->writing = writing;
}

/* The master is gone: nothing more comes or goes. */
static void
local_gone(struct chanlocal *l)
{
	struct chan_pub *p;
	struct omsg *o;

	if (l->fd == -1)
		return;
	log_warn("channels: the master's relay is gone; messages stay on "
	    "this worker");
	event_del(l->ev);
	close(l->fd);
	l->fd = -1;
	while ((o = TAILQ_FIRST(&l->out)) != NULL) {
		TAILQ_REMOVE(&l->out, o, entry);
		free(o);
	}
	l->out_bytes = 0;
	while ((p = TAILQ_FIRST(&l->waiting)) != NULL) {
		TAILQ_REMOVE(&l->waiting, p, tentry);
		channels_published(l->ch, p, ENOTCONN, 0);
	}
}

/* Send what waits: 0 when all is out, 1 if the socket is full. */
static int
local_flush(struct chanlocal *l)
{
	struct omsg *o;

	while ((o = TAILQ_FIRST(&l->out)) != NULL) {
		if (send(l->fd, o->data, o->len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return 1;
			local_gone(l);
			return 0;
		}
		TAILQ_REMOVE(&l->out, o, entry);
		l->out_bytes -= o->len;
		free(o);
	}
	return 0;
}

/* A datagram back from the master. */
static void
local_receive(struct chanlocal *l, const char *d, size_t len)
{
	struct relay_head h;
	struct chan_pub *p;
	const char *name;

	if (!relay_valid(d, len)) {
		log_warn("channels: an invalid datagram from the relay; dropped");
		return;
	}
	memcpy(&h, d, sizeof(h));
	name = d + sizeof(h);
	if (h.origin == l->pid) {
		/* Ours: it answers the oldest publish waiting (and any older
		 * one the master had to drop for us, whose fate is unknown). */
		while ((p = TAILQ_FIRST(&l->waiting)) != NULL &&
		    (int32_t)(p->token - h.token) <= 0) {
			TAILQ_REMOVE(&l->waiting, p, tentry);
			channels_published(l->ch, p, p->token == h.token ? 0 : EIO,
			    h.seq);
		}
	}
	channels_deliver(l->ch, name, h.name_len, h.seq,
	    (h.flags & RELAY_BINARY) != 0, name + h.name_len,
	    len - sizeof(h) - h.name_len);
}

static void
local_read(struct chanlocal *l)
{
	struct mmsghdr mm[LOCAL_BATCH];
	struct iovec iov[LOCAL_BATCH];
	int n;

	if (l->bufs == NULL &&
	    (l->bufs = malloc(LOCAL_BATCH * RELAY_MSG_MAX)) == NULL)
		return;
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < LOCAL_BATCH; i++) {
		iov[i].iov_base = l->bufs + (size_t)i * RELAY_MSG_MAX;
		iov[i].iov_len = RELAY_MSG_MAX;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	/* One batch per wake-up: the loop's other events get their turn, and
	 * the subscribers are written after each batch (their flush events). */
	n = recvmmsg(l->fd, mm, LOCAL_BATCH, MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			local_gone(l);
		return;
	}
	if (n == 0 || mm[0].msg_len == 0) {
		local_gone(l);
		return;
	}
	for (int i = 0; i < n && l->fd != -1; i++)
		local_receive(l, iov[i].iov_base, mm[i].msg_len);
}

static void
on_relay(evutil_socket_t fd, short what, void *arg)
{
	struct chanlocal *l = arg;

	(void)fd;
	if ((what & EV_WRITE) && local_flush(l) == 0)
		local_watch(l, false);
	if ((what & EV_READ) && l->fd != -1)
		local_read(l);
}

/* chan_transport.publish */
static int
local_publish(void *t, const char *name, size_t name_len, const void *data,
    size_t len, bool binary, struct chan_pub *p)
{
	struct chanlocal *l = t;
	struct relay_head h;
	struct iovec iov[3];
	struct msghdr mh;
	struct omsg *o;
	size_t total = sizeof(h) + name_len + len;

	if (l->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	if (name_len > RELAY_NAME_MAX || len > RELAY_DATA_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.magic = RELAY_MAGIC;
	h.version = RELAY_VERSION;
	h.flags = binary ? RELAY_BINARY : 0;
	h.name_len = (uint16_t)name_len;
	h.origin = l->pid;
	h.token = l->token + 1;
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ (void *)(uintptr_t)name, name_len };
	iov[2] = (struct iovec){ (void *)(uintptr_t)data, len };
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 3;
	if (!TAILQ_EMPTY(&l->out) ||
	    sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
		if (TAILQ_EMPTY(&l->out) && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR) {
			local_gone(l);
			errno = ENOTCONN;
			return -1;
		}
		/* Full: wait in line, within bounds. */
		if (l->out_bytes + total > LOCAL_QUEUE) {
			errno = ENOBUFS;
			return -1;
		}
		if ((o = malloc(sizeof(*o) + total)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		o->len = total;
		memcpy(o->data, &h, sizeof(h));
		memcpy(o->data + sizeof(h), name, name_len);
		if (len > 0)
			memcpy(o->data + sizeof(h) + name_len, data, len);
		TAILQ_INSERT_TAIL(&l->out, o, entry);
		l->out_bytes += total;
		local_watch(l, true);
	}
	p->token = ++l->token;
	TAILQ_INSERT_TAIL(&l->waiting, p, tentry);
	return 0;
}

/* chan_transport.free */
static void
local_free(void *t)
{
	struct chanlocal *l = t;
	struct omsg *o;

	if (l->ev != NULL)
		event_free(l->ev);
	if (l->fd != -1)
		close(l->fd);
	while ((o = TAILQ_FIRST(&l->out)) != NULL) {
		TAILQ_REMOVE(&l->out, o, entry);
		free(o);
	}
	/* What still waits is the service's to fail (ECANCELED). */
	free(l->bufs);
	free(l);
}

int
chanlocal_start(struct channels *ch, struct event_base *base, int fd,
    char *err, size_t errlen)
{
	struct chan_transport t = {
		.publish = local_publish, .free = local_free,
	};
	struct chanlocal *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    on_relay, l)) == NULL || event_add(l->ev, NULL) == -1) {
		snprintf(err, errlen, "channels: cannot watch the relay socket");
		if (l != NULL && l->ev != NULL)
			event_free(l->ev);
		free(l);
		close(fd);
		return -1;
	}
	l->ch = ch;
	l->base = base;
	l->fd = fd;
	l->pid = (uint32_t)getpid();
	TAILQ_INIT(&l->waiting);
	TAILQ_INIT(&l->out);
	t.t = l;
	channels_set_transport(ch, &t);
	return 0;
}
