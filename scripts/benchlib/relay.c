/*
 * relay — the micro-benchmark behind the choice of how channel messages
 * cross the workers of one host (README, "Channels"). It measures the two
 * candidates on their own, outside shoal, with the same processes shoal
 * would have: a master and N workers, forked.
 *
 *   relay  worker -> master -> every worker (the publisher too), over one
 *          socketpair(AF_UNIX, SOCK_SEQPACKET) per worker; the master
 *          stamps a sequence number into each datagram and treats the rest
 *          as opaque bytes; batched with recvmmsg/sendmmsg; a per-worker
 *          queue when a socket is full.
 *   shm    one broadcast ring per worker in a memfd mapped before fork:
 *          the publisher copies the message into its own ring (and
 *          delivers locally at once), every other worker reads every ring
 *          with a cursor of its own; eventfd wake-ups, sent only to a
 *          worker that said it goes to sleep (no syscall per message
 *          under load); sequence numbers from one atomic counter.
 *
 * Worker 0 publishes `count` messages of `size` bytes at `rate` per second
 * (0: as fast as it can, each worker then counting what it lost), each
 * stamped with CLOCK_MONOTONIC; every worker (worker 0 included) records
 * the delay to each delivery. Reported: p50/p99/max delivery latency over
 * all workers, and the CPU time of all processes (master included) per
 * message published and per message delivered.
 *
 *   scripts/bench-relay            (builds this, runs every cell, medians)
 *   cc -O2 -o relay scripts/benchlib/relay.c
 *   ./relay MODE WORKERS SIZE COUNT RATE
 *
 * Bounded: count messages, and every wait has a deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXW      8
#define BATCH     64
#define RING      (8u << 20)            /* bytes per worker's ring */
#define DEADLINE  30.0                  /* seconds any run may take */

struct hdr {                            /* the head of every message */
	uint64_t seq;
	uint64_t ts_ns;
	uint32_t len;                       /* payload bytes after the head */
	uint32_t origin;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	perror(what);
	_exit(2);
}

/* ---- what each worker reports back ------------------------------------- */

struct report {
	uint64_t delivered, lost;
	uint64_t lat_ns[1];                 /* delivered entries (flexible) */
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- candidate (a): relay through the master ---------------------------- */

struct qmsg {                           /* a stamped datagram, shared */
	int refs;
	size_t len;
	char data[];
};

struct wq {                             /* master: what waits for worker i */
	struct qmsg **q;
	size_t head, n, cap;
};

static void
wq_push(struct wq *w, struct qmsg *m)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct qmsg **q = malloc(cap * sizeof(*q));

		for (size_t i = 0; i < w->n; i++)
			q[i] = w->q[(w->head + i) % w->cap];
		free(w->q);
		w->q = q;
		w->head = 0;
		w->cap = cap;
	}
	w->q[(w->head + w->n++) % w->cap] = m;
	m->refs++;
}

static void
unref(struct qmsg *m)
{
	if (--m->refs == 0)
		free(m);
}

/* Send what waits for worker i: sendmmsg in batches. 0 or -1 (EAGAIN). */
static int
wq_flush(struct wq *w, int fd)
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int n, k;

	while (w->n > 0) {
		k = w->n < BATCH ? (int)w->n : BATCH;
		for (int i = 0; i < k; i++) {
			struct qmsg *m = w->q[(w->head + (size_t)i) % w->cap];

			iov[i].iov_base = m->data;
			iov[i].iov_len = m->len;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(fd, mm, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		for (int i = 0; i < n; i++) {
			unref(w->q[w->head]);
			w->head = (w->head + 1) % w->cap;
			w->n--;
		}
	}
	return 0;
}

static void
relay_master(int nw, const int *fds, size_t maxlen, uint64_t expect)
{
	struct epoll_event ev, evs[MAXW];
	struct wq wq[MAXW];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	char *bufs = malloc((size_t)BATCH * maxlen);
	uint64_t seq = 0, start = now_ns();
	int ep = epoll_create1(0);

	memset(wq, 0, sizeof(wq));
	for (int i = 0; i < nw; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	while (seq < expect && now_ns() - start < DEADLINE * 1e9) {
		int ne = epoll_wait(ep, evs, MAXW, 100);

		for (int e = 0; e < ne; e++) {
			int i = (int)evs[e].data.u32, n;

			if (evs[e].events & EPOLLOUT) {
				if (wq_flush(&wq[i], fds[i]) == 0) {
					ev.events = EPOLLIN;
					ev.data.u32 = (uint32_t)i;
					epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &ev);
				}
			}
			if (!(evs[e].events & EPOLLIN))
				continue;
			for (int b = 0; b < BATCH; b++) {
				iov[b].iov_base = bufs + (size_t)b * maxlen;
				iov[b].iov_len = maxlen;
				memset(&mm[b], 0, sizeof(mm[b]));
				mm[b].msg_hdr.msg_iov = &iov[b];
				mm[b].msg_hdr.msg_iovlen = 1;
			}
			n = recvmmsg(fds[i], mm, BATCH, MSG_DONTWAIT, NULL);
			for (int b = 0; b < n; b++) {
				struct qmsg *m = malloc(sizeof(*m) + mm[b].msg_len);

				m->refs = 1;
				m->len = mm[b].msg_len;
				memcpy(m->data, iov[b].iov_base, m->len);
				((struct hdr *)(void *)m->data)->seq = ++seq;
				for (int j = 0; j < nw; j++)
					wq_push(&wq[j], m);
				unref(m);
			}
			/* One sendmmsg per worker for the whole batch. */
			for (int j = 0; j < nw && n > 0; j++) {
				if (wq_flush(&wq[j], fds[j]) == -1) {
					ev.events = EPOLLIN | EPOLLOUT;
					ev.data.u32 = (uint32_t)j;
					epoll_ctl(ep, EPOLL_CTL_MOD, fds[j], &ev);
				}
			}
		}
	}
	/* Let the last ones out. */
	for (int j = 0; j < nw; j++)
		while (wq[j].n > 0 && now_ns() - start < DEADLINE * 1e9)
			if (wq_flush(&wq[j], fds[j]) == -1)
				usleep(100);
}

/* ---- candidate (b): shared-memory rings --------------------------------- */

struct ring {
	_Atomic uint64_t wpos;              /* bytes ever written */
	_Atomic int sleeping[MAXW];         /* consumer j waits on its eventfd */
	char pad[64];
	char data[RING];
};

struct shm {
	_Atomic uint64_t seq;
	struct ring rings[MAXW];
};

/* ---- the workers -------------------------------------------------------- */

struct worker {
	int id, nw;
	const char *mode;
	size_t size;
	uint64_t count, rate;
	int fd;                             /* relay: socket to the master */
	struct shm *shm;                    /* shm */
	int *efd;                           /* shm: everyone's eventfd */
	uint64_t rpos[MAXW];                /* shm: my cursor in each ring */
	uint64_t delivered, lost, expect;
	uint64_t *lat;
};

static void
deliver(struct worker *w, const struct hdr *h)
{
	if (w->delivered < w->expect)
		w->lat[w->delivered] = now_ns() - h->ts_ns;
	w->delivered++;
}

/* shm: write one message into my ring and wake who sleeps. */
static void
shm_publish(struct worker *w, const char *msg, size_t len)
{
	struct ring *r = &w->shm->rings[w->id];
	uint64_t pos = atomic_load_explicit(&r->wpos, memory_order_relaxed);
	size_t rec = (sizeof(uint32_t) + len + 7) & ~(size_t)7;
	size_t off = pos % RING;

	if (off + rec > RING) {             /* no wrap inside a record: skip */
		memset(r->data + off, 0xff, 4);
		pos += RING - off;
		off = 0;
	}
	memcpy(r->data + off, &(uint32_t){ (uint32_t)len }, 4);
	memcpy(r->data + off + 4, msg, len);
	atomic_store_explicit(&r->wpos, pos + rec, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	for (int j = 0; j < w->nw; j++) {
		if (j == w->id)
			continue;
		if (atomic_exchange(&r->sleeping[j], 0))
			if (write(w->efd[j], &(uint64_t){ 1 }, 8) != 8)
				die("eventfd write");
	}
}

/* shm: read everything new in every other ring. */
static int
shm_poll(struct worker *w)
{
	int got = 0;

	for (int i = 0; i < w->nw; i++) {
		struct ring *r = &w->shm->rings[i];
		uint64_t end;

		if (i == w->id)
			continue;
		end = atomic_load_explicit(&r->wpos, memory_order_acquire);
		if (end - w->rpos[i] > RING) {  /* lapped: lost what was overwritten */
			w->lost++;
			w->rpos[i] = end;
			continue;
		}
		while (w->rpos[i] < end) {
			size_t off = w->rpos[i] % RING;
			uint32_t len;

			memcpy(&len, r->data + off, 4);
			if (len == 0xffffffffu) {
				w->rpos[i] += RING - off;
				continue;
			}
			deliver(w, (const struct hdr *)(const void *)(r->data + off + 4));
			w->rpos[i] += (sizeof(uint32_t) + len + 7) & ~(size_t)7;
			got++;
		}
	}
	return got;
}

static void
shm_sleep(struct worker *w, long us)
{
	uint64_t v;
	fd_set rd;
	struct timeval tv = { us / 1000000, us % 1000000 };

	for (int i = 0; i < w->nw; i++)
		if (i != w->id)
			atomic_store(&w->shm->rings[i].sleeping[w->id], 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (shm_poll(w) > 0)
		return;                     /* something came meanwhile */
	FD_ZERO(&rd);
	FD_SET(w->efd[w->id], &rd);
	if (select(w->efd[w->id] + 1, &rd, NULL, NULL, &tv) > 0 &&
	    read(w->efd[w->id], &v, 8) != 8)
		die("eventfd read");
}

static void
relay_recv(struct worker *w)
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	static char *bufs;
	size_t max = sizeof(struct hdr) + w->size;
	int n;

	if (bufs == NULL)
		bufs = malloc((size_t)BATCH * max);
	for (int b = 0; b < BATCH; b++) {
		iov[b].iov_base = bufs + (size_t)b * max;
		iov[b].iov_len = max;
		memset(&mm[b], 0, sizeof(mm[b]));
		mm[b].msg_hdr.msg_iov = &iov[b];
		mm[b].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(w->fd, mm, BATCH, MSG_DONTWAIT, NULL);
	for (int b = 0; b < n; b++)
		deliver(w, iov[b].iov_base);
}

static void
worker_main(struct worker *w, int report_fd)
{
	size_t len = sizeof(struct hdr) + w->size;
	char *msg = calloc(1, len);
	uint64_t sent = 0, start = now_ns(), next = start;
	uint64_t interval = w->rate ? 1000000000u / w->rate : 0;
	bool relay = strcmp(w->mode, "relay") == 0;
	struct hdr *h = (struct hdr *)(void *)msg;
	struct report head;

	w->expect = w->count;
	w->lat = calloc(w->count + 1, sizeof(uint64_t));
	memset(msg + sizeof(*h), 'x', w->size);
	for (;;) {
		uint64_t t = now_ns();

		if (t - start > DEADLINE * 1e9)
			break;
		if (w->id == 0 && sent < w->count && (interval == 0 || t >= next)) {
			h->ts_ns = now_ns();
			h->len = (uint32_t)w->size;
			h->origin = (uint32_t)w->id;
			if (relay) {
				if (send(w->fd, msg, len, MSG_DONTWAIT) == (ssize_t)len) {
					sent++;
					next += interval;
				}
			} else {
				h->seq = atomic_fetch_add(&w->shm->seq, 1) + 1;
				shm_publish(w, msg, len);
				deliver(w, h);          /* local subscribers: at once */
				sent++;
				next += interval;
			}
			if (interval == 0 && sent % BATCH != 0)
				continue;           /* flood: poll now and then */
		}
		if (w->delivered + w->lost >= w->count && (w->id != 0 ||
		    sent >= w->count))
			break;
		if (relay) {
			struct timeval tv = { 0, 1000 };
			fd_set rd;

			if (w->id == 0 && sent < w->count && interval == 0) {
				relay_recv(w);
				continue;
			}
			if (w->id == 0 && sent < w->count) {
				t = now_ns();
				tv.tv_usec = next > t ? (suseconds_t)((next - t) / 1000) : 0;
			}
			FD_ZERO(&rd);
			FD_SET(w->fd, &rd);
			if (select(w->fd + 1, &rd, NULL, NULL, &tv) > 0)
				relay_recv(w);
		} else if (shm_poll(w) == 0) {
			if (w->id == 0 && sent < w->count) {
				t = now_ns();
				if (interval && next > t)
					shm_sleep(w, (long)((next - t) / 1000));
			} else {
				shm_sleep(w, 10000);
			}
		}
	}
	head.delivered = w->delivered;
	head.lost = w->lost + (w->count > w->delivered + w->lost ?
	    w->count - w->delivered - w->lost : 0);
	if (write(report_fd, &head, 2 * sizeof(uint64_t)) < 0 ||
	    write(report_fd, w->lat, (w->delivered < w->count ? w->delivered :
	    w->count) * sizeof(uint64_t)) < 0)
		die("report");
	_exit(0);
}

static double
cpu_of(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	    (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	const char *mode;
	int nw, sv[MAXW][2], rep[MAXW][2], efd[MAXW];
	size_t size;
	uint64_t count, rate, total = 0, lost = 0, *all;
	struct shm *shm = NULL;
	struct rusage self0, self1, kids;
	pid_t pids[MAXW];
	double wall0, wall1;

	if (argc != 6) {
		fprintf(stderr, "usage: relay relay|shm WORKERS SIZE COUNT RATE\n");
		return 2;
	}
	mode = argv[1];
	nw = atoi(argv[2]);
	size = (size_t)atol(argv[3]);
	count = (uint64_t)atoll(argv[4]);
	rate = (uint64_t)atoll(argv[5]);
	if (nw < 2 || nw > MAXW || count == 0 || size < 8)
		return 2;
	if (strcmp(mode, "shm") == 0) {
		int fd = memfd_create("relay", MFD_CLOEXEC);

		if (fd == -1 || ftruncate(fd, sizeof(*shm)) == -1)
			die("memfd");
		shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (shm == MAP_FAILED)
			die("mmap");
		for (int i = 0; i < nw; i++)
			if ((efd[i] = eventfd(0, EFD_NONBLOCK)) == -1)
				die("eventfd");
	}
	all = calloc((size_t)nw * count, sizeof(uint64_t));
	getrusage(RUSAGE_SELF, &self0);
	wall0 = (double)now_ns() / 1e9;
	for (int i = 0; i < nw; i++) {
		int bufsz = 4 << 20;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv[i]) == -1 ||
		    pipe(rep[i]) == -1)
			die("socketpair");
		setsockopt(sv[i][0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
		setsockopt(sv[i][1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	}
	for (int i = 0; i < nw; i++) {
		if ((pids[i] = fork()) == 0) {
			struct worker w = {
				.id = i, .nw = nw, .mode = mode, .size = size,
				.count = count, .rate = rate, .fd = sv[i][1],
				.shm = shm, .efd = efd,
			};

			worker_main(&w, rep[i][1]);
		}
		close(rep[i][1]);
	}
	if (strcmp(mode, "relay") == 0) {
		int mfds[MAXW];

		for (int i = 0; i < nw; i++)
			mfds[i] = sv[i][0];
		relay_master(nw, mfds, sizeof(struct hdr) + size, count);
	}
	for (int i = 0; i < nw; i++) {
		struct report head;
		size_t got = 0, want;

		if (read(rep[i][0], &head, 2 * sizeof(uint64_t)) != 2 *
		    (ssize_t)sizeof(uint64_t))
			die("report read");
		want = (head.delivered < count ? head.delivered : count) *
		    sizeof(uint64_t);
		while (got < want) {
			ssize_t n = read(rep[i][0], (char *)(all + total) + got,
			    want - got);

			if (n <= 0)
				die("report read");
			got += (size_t)n;
		}
		total += want / sizeof(uint64_t);
		lost += head.lost;
		waitpid(pids[i], NULL, 0);
	}
	wall1 = (double)now_ns() / 1e9;
	getrusage(RUSAGE_SELF, &self1);
	getrusage(RUSAGE_CHILDREN, &kids);
	qsort(all, total, sizeof(uint64_t), cmp_u64);
	{
		double cpu = cpu_of(&kids) + cpu_of(&self1) - cpu_of(&self0);

		printf("%-5s workers=%d size=%-6zu msgs=%-6llu rate=%-6llu "
		    "p50=%7.1fus p99=%8.1fus max=%8.1fus cpu/msg=%6.2fus "
		    "cpu/delivery=%6.2fus lost=%llu wall=%.2fs\n", mode, nw, size,
		    (unsigned long long)count, (unsigned long long)rate,
		    total ? all[total / 2] / 1e3 : 0,
		    total ? all[total * 99 / 100] / 1e3 : 0,
		    total ? all[total - 1] / 1e3 : 0, cpu / (double)count * 1e6,
		    total ? cpu / (double)total * 1e6 : 0,
		    (unsigned long long)lost, wall1 - wall0);
	}
	return 0;
}
