/*
 * floor-uring: the floor (floor.c) with io_uring instead of epoll, to see
 * what a server could gain by changing its system-call pattern. Same
 * canned answers, same "parse nothing, count request ends"; but where the
 * epoll floor makes one read and one write per request (and an
 * epoll_wait per batch), this one makes one io_uring_enter per batch and
 * nothing per request:
 *
 *   - one multishot accept per listener;
 *   - one multishot recv per connection, into buffers the kernel picks
 *     from a ring of provided buffers (no read per request);
 *   - the answers of a batch queued as sends, submitted together with
 *     the wait for the next completions (io_uring_submit_and_wait);
 *   - IORING_SETUP_DEFER_TASKRUN where the kernel has it (6.1+): the
 *     kernel's completion work runs when we enter it, not whenever a
 *     packet arrives. No SQPOLL: a polling kernel thread would burn a CPU
 *     outside the process tree that scripts/bench measures.
 *
 *     floor-uring PORT:MODE...        (127.0.0.1 only; MODE hello|json|close)
 *
 * Identical answers may go out in any order, but the bytes of one must
 * not be interleaved with another's: a connection has at most one send in
 * flight, and answers that come meanwhile wait for it. Built by
 * scripts/bench (cc -O2 ... -luring) when liburing is there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <liburing.h>

#define MAX_LISTENERS 16
#define ENTRIES 4096          /* submission queue */
#define NBUFS 4096            /* provided buffers (a power of two) */
#define BUF_SIZE 2048
#define BGID 0
#define BATCH 64              /* answers one send carries at most */

#define HEAD(type, len) \
	"HTTP/1.1 200 OK\r\nServer: floor\r\n" \
	"Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n" \
	"Content-Type: " type "\r\nContent-Length: " len "\r\n"
static const char hello_resp[] =
    HEAD("text/plain", "13") "\r\nHello, World!";
static const char json_resp[] =
    HEAD("application/json", "27") "\r\n{\"message\":\"Hello, World!\"}";
static const char close_resp[] =
    HEAD("text/plain", "13") "Connection: close\r\n\r\nHello, World!";

enum mode { M_HELLO, M_JSON, M_CLOSE };
enum op { OP_ACCEPT, OP_RECV, OP_SEND, OP_CLOSE };

struct listener {
	int fd;
	enum mode mode;
	char *answers;        /* BATCH answers back to back */
	size_t len;           /* of one */
};

struct conn {
	struct listener *l;   /* NULL: slot free */
	uint32_t gen;         /* of the connection on this fd: completions of
	                         an earlier one are told apart */
	unsigned match;       /* bytes of "\r\n\r\n" matched so far */
	unsigned pending;     /* answers owed, not yet sent */
	size_t sent, want;    /* the send in flight: bytes done, bytes */
	bool inflight, closing, recv_armed;
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static struct listener ls[MAX_LISTENERS];
static int nls;
static struct conn *conns;    /* by fd */
static int nconns;

static void
die(const char *what, int err)
{
	fprintf(stderr, "floor-uring: %s: %s\n", what, strerror(err));
	exit(1);
}

static struct io_uring_sqe *
sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (sqe == NULL) {
		/* Full: hand what is queued to the kernel, then go on. */
		io_uring_submit(&ring);
		if ((sqe = io_uring_get_sqe(&ring)) == NULL)
			die("io_uring_get_sqe", EBUSY);
	}
	return sqe;
}

static uint32_t next_gen = 1;

static void
tag(struct io_uring_sqe *sqe, enum op op, int fd)
{
	uint32_t gen = op == OP_ACCEPT ? 0 : conns[fd].gen;

	io_uring_sqe_set_data64(sqe, (uint64_t)gen << 32 |
	    (uint64_t)(uint32_t)fd << 8 | op);
}

static void
arm_accept(int li)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_multishot_accept(sqe, ls[li].fd, NULL, NULL, SOCK_CLOEXEC);
	tag(sqe, OP_ACCEPT, li);
}

static void
arm_recv(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	tag(sqe, OP_RECV, fd);
	conns[fd].recv_armed = true;
}

static void
send_some(int fd)
{
	struct conn *c = &conns[fd];
	struct io_uring_sqe *sqe;
	unsigned n = c->pending < BATCH ? c->pending : BATCH;

	c->pending -= n;
	c->want = n * c->l->len;
	c->sent = 0;
	c->inflight = true;
	sqe = sqe_get();
	io_uring_prep_send(sqe, fd, c->l->answers, c->want, MSG_NOSIGNAL);
	tag(sqe, OP_SEND, fd);
}

static void
conn_close(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();

	/* The slot stays taken until the close completes: a new connection
	 * cannot get this fd before. */
	io_uring_prep_close(sqe, fd);
	tag(sqe, OP_CLOSE, fd);
	conns[fd].closing = true;
}

static void
give_back(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
	    (unsigned short)bid, io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
}

static void
on_recv(int fd, const struct io_uring_cqe *cqe)
{
	static const char end[4] = "\r\n\r\n";
	struct conn *c = &conns[fd];
	unsigned bid, found = 0;
	const char *p;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_armed = false;
	if (cqe->res == -ENOBUFS) {
		if (!c->closing)
			arm_recv(fd);    /* buffers come back as answers go */
		return;
	}
	if (cqe->res <= 0) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			give_back(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (!c->closing)
			conn_close(fd);
		return;
	}
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	p = bufs + (size_t)bid * BUF_SIZE;
	for (int i = 0; i < cqe->res; i++) {
		if (p[i] == end[c->match])
			c->match++;
		else
			c->match = p[i] == '\r';
		if (c->match == 4) {
			c->match = 0;
			found++;
		}
	}
	give_back(bid);
	if (c->closing || c->l == NULL)
		return;
	c->pending += found;
	if (!c->inflight && c->pending > 0)
		send_some(fd);
	if (!c->recv_armed)
		arm_recv(fd);
}

static void
on_send(int fd, int res)
{
	struct conn *c = &conns[fd];
	struct io_uring_sqe *sqe;

	if (res <= 0) {
		c->inflight = false;
		if (!c->closing)
			conn_close(fd);
		return;
	}
	c->sent += (size_t)res;
	if (c->sent < c->want) {
		/* A short send: the rest of the same bytes, before anything. */
		sqe = sqe_get();
		io_uring_prep_send(sqe, fd, c->l->answers + c->sent,
		    c->want - c->sent, MSG_NOSIGNAL);
		tag(sqe, OP_SEND, fd);
		return;
	}
	c->inflight = false;
	if (c->l->mode == M_CLOSE) {
		if (!c->closing)
			conn_close(fd);
		return;
	}
	if (c->pending > 0 && !c->closing)
		send_some(fd);
}

static void
on_cqe(const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	int fd = (int)(uint32_t)(data >> 8 & 0xffffff), li;
	enum op op = (enum op)(data & 0xff);

	if (op != OP_ACCEPT && (uint32_t)(data >> 32) != conns[fd].gen) {
		/* A connection that is gone: only its buffer matters. */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			give_back(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	switch (op) {
	case OP_ACCEPT:
		li = fd;
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_accept(li);
		if (cqe->res < 0)
			return;
		if (cqe->res >= nconns) {
			close(cqe->res);
			return;
		}
		conns[cqe->res] = (struct conn){ .l = &ls[li], .gen = next_gen++ };
		arm_recv(cqe->res);
		return;
	case OP_RECV:
		on_recv(fd, cqe);
		return;
	case OP_SEND:
		on_send(fd, cqe->res);
		return;
	case OP_CLOSE:
		/* A recv's last completion may still come: its generation is
		 * no longer this slot's. */
		conns[fd] = (struct conn){ 0 };
		return;
	}
}

static void
listener_open(const char *arg)
{
	struct listener *l = &ls[nls];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *mode = strchr(arg, ':'), *one_answer;
	char *endp;
	long port;
	int on = 1;

	if (nls == MAX_LISTENERS || mode == NULL)
		goto usage;
	port = strtol(arg, &endp, 10);
	if (endp != mode || port < 1 || port > 65535)
		goto usage;
	mode++;
	if (strcmp(mode, "hello") == 0)
		l->mode = M_HELLO, one_answer = hello_resp;
	else if (strcmp(mode, "json") == 0)
		l->mode = M_JSON, one_answer = json_resp;
	else if (strcmp(mode, "close") == 0)
		l->mode = M_CLOSE, one_answer = close_resp;
	else
		goto usage;
	l->len = strlen(one_answer);
	if ((l->answers = malloc(l->len * BATCH)) == NULL)
		die("malloc", errno);
	for (int i = 0; i < BATCH; i++)
		memcpy(l->answers + (size_t)i * l->len, one_answer, l->len);
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket", errno);
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die(arg, errno);
	if (listen(l->fd, 4096) == -1)
		die("listen", errno);
	nls++;
	return;
usage:
	fprintf(stderr, "floor-uring: bad listener %s (PORT:hello|json|close, "
	    "at most %d)\n", arg, MAX_LISTENERS);
	exit(2);
}

static void
ring_open(void)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	size_t brsize = NBUFS * sizeof(struct io_uring_buf);
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if ((r = io_uring_queue_init_params(ENTRIES, &ring, &p)) < 0) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN;
		if ((r = io_uring_queue_init_params(ENTRIES, &ring, &p)) < 0)
			die("io_uring_queue_init", -r);
	}
	br = mmap(NULL, brsize, PROT_READ | PROT_WRITE,
	    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		die("mmap", errno);
	io_uring_buf_ring_init(br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
		die("io_uring_register_buf_ring", -r);
	if ((bufs = malloc((size_t)NBUFS * BUF_SIZE)) == NULL)
		die("malloc", errno);
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
		    (unsigned short)i, io_uring_buf_ring_mask(NBUFS), (int)i);
	io_uring_buf_ring_advance(br, NBUFS);
}

int
main(int argc, char **argv)
{
	struct io_uring_cqe *cqe;
	struct rlimit rl;
	unsigned head, n;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: floor-uring PORT:MODE...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit", errno);
	nconns = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		die("calloc", errno);
	ring_open();
	for (int i = 1; i < argc; i++)
		listener_open(argv[i]);
	for (int i = 0; i < nls; i++)
		arm_accept(i);
	for (;;) {
		/* One system call: what this batch queued goes out, and we
		 * wait for the next completions. */
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			die("io_uring_submit_and_wait", -r);
		n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			on_cqe(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
}
