/*
 * buf — a growable byte buffer. An empty buf owns no memory, so structs
 * that embed one cost nothing while idle.
 */
#ifndef SHOAL_BUF_H
#define SHOAL_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

/* Make room for n more bytes; -1 (ENOMEM) on failure, buf unchanged. */
int buf_reserve(struct buf *b, size_t n);
/* Append n bytes; -1 on failure. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* Append printf-formatted text; -1 on failure. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Release the memory; the buf is empty and owns nothing. */
void buf_free(struct buf *b);

#endif
