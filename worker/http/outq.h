/*
 * outq — output shared by many connections: a message's frame is made
 * once (struct sbuf, counted by references) and queued on every
 * connection that sends it (struct outq), which writes its queue with one
 * gathering write (sendmsg). A channel's message reaches thousands of
 * subscribers without a copy each; a subscriber that lags holds
 * references, not copies.
 *
 * An empty queue owns no memory, so an idle connection pays only the
 * struct.
 */
#ifndef SHOAL_OUTQ_H
#define SHOAL_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes shared by the queues that hold them; read-only once queued. */
struct sbuf {
	unsigned refs;
	size_t len;
	char data[];
};

/* A new sbuf of len bytes (to fill in), one reference; NULL: no memory. */
struct sbuf *sbuf_new(size_t len);
/* A new sbuf holding a copy of data. */
struct sbuf *sbuf_copy(const void *data, size_t len);
/* One more reference. */
static inline struct sbuf *
sbuf_ref(struct sbuf *b)
{
	b->refs++;
	return b;
}
/* One reference fewer; the last frees it. NULL is a no-op. */
void sbuf_unref(struct sbuf *b);

struct outq {
	struct sbuf **ring;          /* cap entries; NULL while empty */
	uint32_t head, n, cap;
	size_t off;                  /* bytes of the first entry written */
	size_t bytes;                /* bytes waiting, all entries */
};

/* Queue b at the end (a new reference is taken). -1 on no memory. */
int outq_push(struct outq *q, struct sbuf *b);
/* Queue b in front of everything (what must go first). -1 on no memory. */
int outq_push_front(struct outq *q, struct sbuf *b);

/*
 * Write what is queued to fd with gathering writes until it is all out or the
 * socket is full. Returns the bytes written (0 if none could be), or -1
 * with errno when the peer is gone (EPIPE, ECONNRESET...).
 */
ssize_t outq_write(struct outq *q, int fd);

/* Drop everything queued; the queue owns no memory afterwards. */
void outq_clear(struct outq *q);

#endif
