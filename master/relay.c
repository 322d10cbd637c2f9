/*
 * relay — the channel relay: each message a worker publishes comes in on
 * its relay socket (common/relay.h), gets the next host-wide sequence
 * number, and goes out to every worker, the publisher included, old and
 * new generations alike (a draining worker still has subscribers to tell
 * to reconnect; a new one must already keep the history they will ask
 * for). Everything but the sequence number is opaque bytes here.
 *
 * Batched both ways: recvmmsg takes what a worker has queued, and each
 * worker's share goes out with one sendmmsg, so under load a message
 * costs the master a fraction of a system call per worker. A worker that
 * does not read keeps its messages in a queue of its own (the message is
 * shared, counted by references), up to RELAY_QUEUE bytes; past that its
 * messages are dropped, counted in its stats entry (chan_relay_dropped)
 * and logged, and the others never wait for it.
 *
 * The sequence number lives in the stats region, which both masters of a
 * binary upgrade map: ids go on increasing across the upgrade. During the
 * upgrade's overlap the two masters are bridged (a relay socket the old
 * one hands the new one): each stamps what its own workers publish and
 * passes it on to the other, which gives it to its workers as it is. So
 * a subscriber of either generation receives what is published on
 * either, and the new generation's histories hold everything the old
 * one's subscribers will ask for when they reconnect. Two messages
 * published at the same instant on the two generations may reach the
 * generations in different orders (each master sends its own first).
 */
#include "master/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/relay.h"
#include "common/util.h"

/* Datagrams per recvmmsg / sendmmsg. */
#define RELAY_BATCH 16
/* Bytes waiting for one worker before its messages are dropped. */
#define RELAY_QUEUE (16u << 20)
/* Seconds between two log lines about one worker's drops. */
#define RELAY_WARN_EVERY 10.0

struct rmsg {
	unsigned refs;
	size_t len;
	char data[];
};

struct relay_link {
	TAILQ_ENTRY(relay_link) entry;
	struct master *m;
	struct proc *p;              /* NULL: the other master (the bridge) */
	int fd;
	struct event *ev;
	bool writing;                /* ev watches EV_WRITE too */
	bool dead;                   /* the worker closed its end */
	struct rmsg **q;             /* ring of messages waiting to be sent */
	size_t head, n, cap;
	size_t bytes;
	uint64_t dropped;            /* since the last log line */
	double warned_at;
};

static void
rmsg_unref(struct rmsg *r)
{
	if (--r->refs == 0)
		free(r);
}

static void
link_clear(struct relay_link *l)
{
	while (l->n > 0) {
		rmsg_unref(l->q[l->head]);
		l->head = (l->head + 1) % l->cap;
		l->n--;
	}
	free(l->q);
	l->q = NULL;
	l->head = l->cap = l->bytes = 0;
}

static void on_link(evutil_socket_t fd, short what, void *arg);

static void
link_watch(struct relay_link *l, bool writing)
{
	if (l->writing == writing || l->dead)
		return;
	event_del(l->ev);
	event_assign(l->ev, l->m->base, l->fd, EV_READ | EV_PERSIST |
	    (writing ? EV_WRITE : 0), on_link, l);
	event_add(l->ev, NULL);
	l->writing = writing;
}

/* The worker is gone (or closed its end: channels go through Redis). */
static void
link_dead(struct relay_link *l)
{
	l->dead = true;
	event_del(l->ev);
	link_clear(l);
}

/* Queue r for l, or drop it if l's queue is full. */
static void
link_push(struct relay_link *l, struct rmsg *r)
{
	struct rmsg **q;
	double now;

	if (l->dead)
		return;
	if (l->bytes + r->len > RELAY_QUEUE) {
		if (l->p != NULL)
			STATS_ADD(l->m->stats->procs[l->p->stats_idx].
			    chan_relay_dropped, 1);
		l->dropped++;
		now = util_now();
		if (now - l->warned_at >= RELAY_WARN_EVERY) {
			if (l->p != NULL)
				log_warn("worker %u (pid %d) does not read its channel "
				    "messages: %llu dropped", l->p->slot,
				    (int)l->p->pid, (unsigned long long)l->dropped);
			else
				log_warn("the other master does not read channel "
				    "messages: %llu dropped",
				    (unsigned long long)l->dropped);
			l->warned_at = now;
			l->dropped = 0;
		}
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;

		if ((q = malloc(cap * sizeof(*q))) == NULL)
			return;          /* as good as dropped */
		for (size_t i = 0; i < l->n; i++)
			q[i] = l->q[(l->head + i) % l->cap];
		free(l->q);
		l->q = q;
		l->head = 0;
		l->cap = cap;
	}
	l->q[(l->head + l->n++) % l->cap] = r;
	l->bytes += r->len;
	r->refs++;
}

/* Send what waits for l: 0 when all is out (or l is gone), 1 if the socket
 * is full. */
static int
link_flush(struct relay_link *l)
{
	struct mmsghdr mm[RELAY_BATCH];
	struct iovec iov[RELAY_BATCH];
	int k, n;

	while (l->n > 0 && !l->dead) {
		k = l->n < RELAY_BATCH ? (int)l->n : RELAY_BATCH;
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < k; i++) {
			struct rmsg *r = l->q[(l->head + (size_t)i) % l->cap];

			iov[i].iov_base = r->data;
			iov[i].iov_len = r->len;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(l->fd, mm, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS))
			return 1;
		if (n <= 0) {
			link_dead(l);    /* EPIPE: it exits; SIGCHLD follows */
			return 0;
		}
		for (int i = 0; i < n; i++) {
			l->bytes -= l->q[l->head]->len;
			rmsg_unref(l->q[l->head]);
			l->head = (l->head + 1) % l->cap;
			l->n--;
		}
	}
	if (l->n == 0 && l->q != NULL)
		link_clear(l);           /* an idle link holds no memory */
	return 0;
}

/* Stamp each datagram received and hand it to every worker. */
static void
link_read(struct relay_link *from)
{
	struct master *m = from->m;
	struct mmsghdr mm[RELAY_BATCH];
	struct iovec iov[RELAY_BATCH];
	struct relay_link *l;
	struct relay_head h;
	struct rmsg *r;
	int n;

	if (m->relay.bufs == NULL &&
	    (m->relay.bufs = malloc(RELAY_BATCH * RELAY_MSG_MAX)) == NULL)
		return;
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < RELAY_BATCH; i++) {
		iov[i].iov_base = m->relay.bufs + (size_t)i * RELAY_MSG_MAX;
		iov[i].iov_len = RELAY_MSG_MAX;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(from->fd, mm, RELAY_BATCH, MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			link_dead(from);
		return;
	}
	if (n == 0 || mm[0].msg_len == 0) {
		link_dead(from);         /* the worker closed its end */
		return;
	}
	for (int i = 0; i < n; i++) {
		if (mm[i].msg_len == 0 || (mm[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    !relay_valid(iov[i].iov_base, mm[i].msg_len)) {
			log_warn("%s sent an invalid channel message; dropped",
			    from->p != NULL ? "a worker" : "the other master");
			continue;
		}
		if ((r = malloc(sizeof(*r) + mm[i].msg_len)) == NULL)
			continue;
		r->refs = 1;
		r->len = mm[i].msg_len;
		memcpy(r->data, iov[i].iov_base, r->len);
		/* From the other master: stamped already, for our workers. */
		if (from->p != NULL) {
			memcpy(&h, r->data, sizeof(h));
			h.seq = __atomic_add_fetch(&m->stats->chan_seq, 1,
			    __ATOMIC_SEQ_CST);
			memcpy(r->data, &h, sizeof(h));
		}
		TAILQ_FOREACH(l, &m->relay.links, entry)
			if (from->p != NULL || l->p != NULL)
				link_push(l, r);
		rmsg_unref(r);
	}
	TAILQ_FOREACH(l, &m->relay.links, entry)
		if (l->n > 0)
			link_watch(l, link_flush(l) == 1);
}

static void
link_free(struct relay_link *l)
{
	TAILQ_REMOVE(&l->m->relay.links, l, entry);
	event_free(l->ev);
	close(l->fd);
	link_clear(l);
	free(l);
}

/* Free the bridge once the other master is gone (a worker's link goes
 * when the worker is reaped). */
static void
relay_sweep(struct master *m)
{
	struct relay_link *l, *next;

	for (l = TAILQ_FIRST(&m->relay.links); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (l->p == NULL && l->dead) {
			log_info("upgrade: the channel bridge to the other master "
			    "is closed");
			link_free(l);
		}
	}
}

static void
on_link(evutil_socket_t fd, short what, void *arg)
{
	struct relay_link *l = arg;
	struct master *m = l->m;

	(void)fd;
	if ((what & EV_WRITE) && link_flush(l) == 0)
		link_watch(l, false);
	if ((what & EV_READ) && !l->dead)
		link_read(l);
	relay_sweep(m);              /* l may be gone now */
}

static struct relay_link *
link_new(struct master *m, struct proc *p, int fd)
{
	struct relay_link *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->ev = event_new(m->base, fd, EV_READ | EV_PERSIST,
	    on_link, l)) == NULL || event_add(l->ev, NULL) == -1) {
		if (l != NULL && l->ev != NULL)
			event_free(l->ev);
		free(l);
		close(fd);
		return NULL;
	}
	l->m = m;
	l->p = p;
	l->fd = fd;
	TAILQ_INSERT_TAIL(&m->relay.links, l, entry);
	return l;
}

int
relay_attach(struct master *m, struct proc *p, int fd)
{
	return (p->relay = link_new(m, p, fd)) != NULL ? 0 : -1;
}

int
relay_attach_peer(struct master *m, int fd)
{
	return link_new(m, NULL, fd) != NULL ? 0 : -1;
}

void
relay_detach(struct master *m, struct proc *p)
{
	struct relay_link *l = p->relay;

	(void)m;
	if (l == NULL)
		return;
	p->relay = NULL;
	link_free(l);
}

void
relay_forget(struct master *m)
{
	struct relay_link *l;

	/* In a new worker: the master's ends are not its to hold (its loop
	 * is gone already; the memory goes with the process). */
	TAILQ_FOREACH(l, &m->relay.links, entry)
		close(l->fd);
}

void
relay_init(struct master *m)
{
	TAILQ_INIT(&m->relay.links);
	m->relay.bufs = NULL;
}

void
relay_free(struct master *m)
{
	struct relay_link *l;

	/* Workers' links went with their procs; what is left is a bridge. */
	while ((l = TAILQ_FIRST(&m->relay.links)) != NULL) {
		if (l->p != NULL)
			l->p->relay = NULL;
		link_free(l);
	}
	free(m->relay.bufs);
	m->relay.bufs = NULL;
}
