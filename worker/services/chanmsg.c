/*
 * chanmsg — see chanmsg.h.
 */
#include "worker/services/chanmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http/ws.h"

struct chanmsg *
chanmsg_new(uint64_t id, bool binary, const void *data, size_t len)
{
	struct chanmsg *m = malloc(sizeof(*m) + len);

	if (m == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->refs = 1;
	m->id = id;
	m->binary = binary;
	m->len = len;
	if (len > 0)
		memcpy(m->data, data, len);
	return m;
}

void
chanmsg_forget_frames(struct chanmsg *m)
{
	for (int i = 0; i < CHANMSG_FRAMES; i++) {
		sbuf_unref(m->frames[i]);
		m->frames[i] = NULL;
	}
}

void
chanmsg_unref(struct chanmsg *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	chanmsg_forget_frames(m);
	free(m);
}

size_t
chanmsg_sse_event(uint64_t id, const char *data, size_t len, char *out)
{
	char head[32];
	size_t n, at, start;
	int hl = snprintf(head, sizeof(head), "id: %llu\n",
	    (unsigned long long)id);

	n = (size_t)hl;
	if (out != NULL)
		memcpy(out, head, n);
	/* One "data:" line per line; CR, LF and CRLF all end a line (the
	 * client would split on any of them). */
	for (at = 0;;) {
		start = at;
		while (at < len && data[at] != '\r' && data[at] != '\n')
			at++;
		if (out != NULL) {
			memcpy(out + n, "data: ", 6);
			memcpy(out + n + 6, data + start, at - start);
			out[n + 6 + at - start] = '\n';
		}
		n += 6 + at - start + 1;
		if (at == len)
			break;
		if (data[at] == '\r' && at + 1 < len && data[at + 1] == '\n')
			at++;
		if (++at == len)
			break;       /* a last line ending: no empty line after it */
	}
	if (out != NULL)
		out[n] = '\n';
	return n + 1;
}

/* The event of m, as a chunk (chunked) or raw. */
static struct sbuf *
frame_sse(const struct chanmsg *m, bool chunked)
{
	size_t ev = chanmsg_sse_event(m->id, m->data, m->len, NULL);
	char head[24];
	int hl = chunked ? snprintf(head, sizeof(head), "%zx\r\n", ev) : 0;
	struct sbuf *b = sbuf_new((size_t)hl + ev + (chunked ? 2 : 0));

	if (b == NULL)
		return NULL;
	memcpy(b->data, head, (size_t)hl);
	chanmsg_sse_event(m->id, m->data, m->len, b->data + hl);
	if (chunked)
		memcpy(b->data + hl + ev, "\r\n", 2);
	return b;
}

static struct sbuf *
frame_ws(const struct chanmsg *m)
{
	uint8_t head[WS_FRAME_HEAD_MAX];
	size_t hl = ws_frame_head(head, m->binary ? WS_BINARY : WS_TEXT, m->len);
	struct sbuf *b = sbuf_new(hl + m->len);

	if (b == NULL)
		return NULL;
	memcpy(b->data, head, hl);
	if (m->len > 0)
		memcpy(b->data + hl, m->data, m->len);
	return b;
}

struct sbuf *
chanmsg_frame(struct chanmsg *m, enum chanmsg_frame kind)
{
	if (m->frames[kind] != NULL)
		return m->frames[kind];
	switch (kind) {
	case CHANMSG_SSE_CHUNKED:
		m->frames[kind] = frame_sse(m, true);
		break;
	case CHANMSG_SSE_RAW:
		m->frames[kind] = frame_sse(m, false);
		break;
	case CHANMSG_WS:
		m->frames[kind] = frame_ws(m);
		break;
	case CHANMSG_FRAMES:
		break;
	}
	return m->frames[kind];
}

/* ---- history --------------------------------------------------------------- */

struct chanmsg *
chanhist_at(const struct chanhist *h, uint32_t i)
{
	return h->ring[(h->head + i) % h->cap];
}

size_t
chanhist_drop_oldest(struct chanhist *h)
{
	struct chanmsg *m;
	size_t len;

	if (h->n == 0)
		return 0;
	m = h->ring[h->head];
	len = m->len;
	h->head = (h->head + 1) % h->cap;
	h->n--;
	h->bytes -= len;
	chanmsg_unref(m);
	if (h->n == 0)
		chanhist_clear(h);       /* an empty history owns no memory */
	return len;
}

int
chanhist_push(struct chanhist *h, struct chanmsg *m, size_t max,
    size_t max_bytes)
{
	struct chanmsg **ring;
	uint32_t cap;

	if (max == 0)
		return 0;
	if (h->n == h->cap) {
		cap = h->cap ? h->cap * 2 : 4;
		if (cap > max)
			cap = (uint32_t)max;
		if (cap <= h->n) {
			/* Full at max: the oldest makes room. */
			chanhist_drop_oldest(h);
			if (h->cap == 0)
				return chanhist_push(h, m, max, max_bytes);
		} else {
			if ((ring = malloc(cap * sizeof(*ring))) == NULL)
				return -1;
			for (uint32_t i = 0; i < h->n; i++)
				ring[i] = h->ring[(h->head + i) % h->cap];
			free(h->ring);
			h->ring = ring;
			h->head = 0;
			h->cap = cap;
		}
	}
	h->ring[(h->head + h->n++) % h->cap] = chanmsg_ref(m);
	h->bytes += m->len;
	while (h->n > 0 && (h->n > max || h->bytes > max_bytes))
		chanhist_drop_oldest(h);
	return 0;
}

void
chanhist_clear(struct chanhist *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		chanmsg_unref(h->ring[(h->head + i) % h->cap]);
	free(h->ring);
	memset(h, 0, sizeof(*h));
}
