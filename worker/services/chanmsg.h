/*
 * chanmsg — the messages of the channel service (channel.c): one copy of
 * each message per worker, counted by references (the live fan-out, a
 * channel's history, a subscriber waiting for its replay), and the frames
 * subscribers are sent, each made once per message and shared by every
 * subscriber of its kind (worker/http/outq.h).
 *
 * A channel's history is a ring of messages bounded in count and bytes.
 */
#ifndef SHOAL_CHANMSG_H
#define SHOAL_CHANMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/http/outq.h"

/* The frames a message is sent in. */
enum chanmsg_frame {
	CHANMSG_SSE_CHUNKED,         /* an event, as an HTTP/1.1 chunk */
	CHANMSG_SSE_RAW,             /* an event, raw (HTTP/1.0) */
	CHANMSG_WS,                  /* a WebSocket text or binary frame */
	CHANMSG_FRAMES,
};

struct chanmsg {
	unsigned refs;
	uint64_t id;
	bool binary;
	struct sbuf *frames[CHANMSG_FRAMES];    /* made on first need */
	size_t len;
	char data[];
};

/* A message of len bytes (copied), one reference; NULL: no memory. */
struct chanmsg *chanmsg_new(uint64_t id, bool binary, const void *data,
    size_t len);
static inline struct chanmsg *
chanmsg_ref(struct chanmsg *m)
{
	m->refs++;
	return m;
}
/* One reference fewer; the last frees it (its frames live on in the
 * queues that hold them). NULL is a no-op. */
void chanmsg_unref(struct chanmsg *m);

/* The frame of kind for m, made now if it was not; NULL: no memory. The
 * message keeps it until chanmsg_forget_frames. */
struct sbuf *chanmsg_frame(struct chanmsg *m, enum chanmsg_frame kind);
/* Let go of the frames (after a fan-out: a message in the history keeps
 * its bytes, not three framings of them). */
void chanmsg_forget_frames(struct chanmsg *m);

/*
 * The event of a message (without the chunk framing): "id: ID", a "data:"
 * line for each line of data (lines end at CR, LF or CRLF), a blank line.
 * Writes into out if it is not NULL; returns the length either way.
 */
size_t chanmsg_sse_event(uint64_t id, const char *data, size_t len,
    char *out);

/* A channel's history: the newest messages, at most max in count and
 * max_bytes in bytes of data. */
struct chanhist {
	struct chanmsg **ring;       /* NULL while empty */
	uint32_t head, n, cap;
	size_t bytes;
};

/* Keep m (a reference is taken), then drop the oldest while past either
 * bound (m itself, if it alone passes max_bytes). The caller reads the
 * change of h->bytes. -1 on no memory (m is not kept). */
int chanhist_push(struct chanhist *h, struct chanmsg *m, size_t max,
    size_t max_bytes);
/* Drop the oldest message; its bytes. 0 if empty. */
size_t chanhist_drop_oldest(struct chanhist *h);
/* Message i, oldest first. */
struct chanmsg *chanhist_at(const struct chanhist *h, uint32_t i);
/* Drop everything. */
void chanhist_clear(struct chanhist *h);

#endif
