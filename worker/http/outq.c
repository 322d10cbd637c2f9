/*
 * outq — see outq.h.
 */
#include "worker/http/outq.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Segments per write: a lagging subscriber's backlog goes out in a few
 * calls, and the iovec stays on the stack. */
#define OUTQ_IOV 64

struct sbuf *
sbuf_new(size_t len)
{
	struct sbuf *b = malloc(sizeof(*b) + len);

	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->len = len;
	return b;
}

struct sbuf *
sbuf_copy(const void *data, size_t len)
{
	struct sbuf *b = sbuf_new(len);

	if (b != NULL && len > 0)
		memcpy(b->data, data, len);
	return b;
}

void
sbuf_unref(struct sbuf *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

/* Room for one more entry. */
static int
outq_grow(struct outq *q)
{
	uint32_t cap = q->cap ? q->cap * 2 : 4;
	struct sbuf **ring;

	if (q->n < q->cap)
		return 0;
	if ((ring = malloc(cap * sizeof(*ring))) == NULL)
		return -1;
	for (uint32_t i = 0; i < q->n; i++)
		ring[i] = q->ring[(q->head + i) % q->cap];
	free(q->ring);
	q->ring = ring;
	q->head = 0;
	q->cap = cap;
	return 0;
}

int
outq_push(struct outq *q, struct sbuf *b)
{
	if (outq_grow(q) == -1)
		return -1;
	q->ring[(q->head + q->n++) % q->cap] = sbuf_ref(b);
	q->bytes += b->len;
	return 0;
}

int
outq_push_front(struct outq *q, struct sbuf *b)
{
	if (q->off > 0)
		return -1;               /* the first entry is half written */
	if (outq_grow(q) == -1)
		return -1;
	q->head = (q->head + q->cap - 1) % q->cap;
	q->ring[q->head] = sbuf_ref(b);
	q->n++;
	q->bytes += b->len;
	return 0;
}

/* The first entry is written: let go of it. */
static void
outq_pop(struct outq *q)
{
	sbuf_unref(q->ring[q->head]);
	q->head = (q->head + 1) % q->cap;
	q->n--;
	q->off = 0;
	if (q->n == 0)
		outq_clear(q);
}

ssize_t
outq_write(struct outq *q, int fd)
{
	struct iovec iov[OUTQ_IOV];
	struct msghdr mh;
	size_t total = 0, left;
	ssize_t n;
	int k;

	while (q->n > 0) {
		k = 0;
		for (uint32_t i = 0; i < q->n && k < OUTQ_IOV; i++, k++) {
			struct sbuf *b = q->ring[(q->head + i) % q->cap];
			size_t skip = i == 0 ? q->off : 0;

			iov[k].iov_base = b->data + skip;
			iov[k].iov_len = b->len - skip;
		}
		/* sendmsg: writev's gather, without a SIGPIPE for a peer gone. */
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)k;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		total += (size_t)n;
		q->bytes -= (size_t)n;
		for (left = (size_t)n; left > 0 && q->n > 0;) {
			struct sbuf *b = q->ring[q->head];

			if (left < b->len - q->off) {
				q->off += left;
				break;
			}
			left -= b->len - q->off;
			outq_pop(q);
		}
	}
	return total > SSIZE_MAX ? SSIZE_MAX : (ssize_t)total;
}

void
outq_clear(struct outq *q)
{
	for (uint32_t i = 0; i < q->n; i++)
		sbuf_unref(q->ring[(q->head + i) % q->cap]);
	free(q->ring);
	q->ring = NULL;
	q->head = q->n = q->cap = 0;
	q->off = q->bytes = 0;
}
