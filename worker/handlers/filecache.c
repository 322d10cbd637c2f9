/*
 * filecache — see filecache.h.
 */
#include "worker/handlers/filecache.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct slot {
	char *key;                   /* NULL: empty */
	double opened;               /* monotonic seconds */
	double checked;              /* ... of the last fstat */
	struct filecache_entry e;
};

struct filecache {
	double swept;
	struct slot slots[FILECACHE_SLOTS];
};

/* The coarse clock is enough for a TTL of seconds, and costs less. */
static double
fc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a */
static size_t
fc_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % FILECACHE_SLOTS;
}

static void
fc_drop(struct slot *s)
{
	if (s->key == NULL)
		return;
	close(s->e.fd);
	free(s->key);
	s->key = NULL;
}

struct filecache *
filecache_new(void)
{
	struct filecache *fc = calloc(1, sizeof(*fc));

	if (fc != NULL)
		fc->swept = fc_now();
	return fc;
}

size_t
filecache_size(const struct filecache *fc)
{
	size_t n = 0;

	for (size_t i = 0; i < FILECACHE_SLOTS; i++)
		n += fc->slots[i].key != NULL;
	return n;
}

void
filecache_forget(struct filecache *fc, const char *key)
{
	struct slot *s = &fc->slots[fc_hash(key)];

	if (s->key != NULL && strcmp(s->key, key) == 0)
		fc_drop(s);
}

void
filecache_free(struct filecache *fc)
{
	if (fc == NULL)
		return;
	for (size_t i = 0; i < FILECACHE_SLOTS; i++)
		fc_drop(&fc->slots[i]);
	free(fc);
}

/* Close what has outlived its TTL, once per TTL: an idle cache does not
 * hold files open (and deleted files' space) for long. */
static void
fc_sweep(struct filecache *fc, double now)
{
	if (now - fc->swept < FILECACHE_TTL)
		return;
	fc->swept = now;
	for (size_t i = 0; i < FILECACHE_SLOTS; i++)
		if (fc->slots[i].key != NULL &&
		    now - fc->slots[i].opened >= FILECACHE_TTL)
			fc_drop(&fc->slots[i]);
}

static bool
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

const struct filecache_entry *
filecache_get(struct filecache *fc, const char *key, bool check)
{
	struct slot *s = &fc->slots[fc_hash(key)];
	double now = fc_now();
	struct stat st;

	fc_sweep(fc, now);
	if (s->key == NULL || strcmp(s->key, key) != 0)
		return NULL;
	if (now - s->opened >= FILECACHE_TTL)
		goto stale;
	if (!check && now - s->checked < FILECACHE_CHECK)
		return &s->e;
	/* Every change to an inode moves its ctime (writes, chmod, link
	 * count); an unlinked file has no links left. */
	s->checked = now;
	if (fstat(s->e.fd, &st) == -1 || st.st_nlink == 0 ||
	    !same_time(&st.st_ctim, &s->e.st.st_ctim) ||
	    !same_time(&st.st_mtim, &s->e.st.st_mtim) ||
	    st.st_size != s->e.st.st_size)
		goto stale;
	return &s->e;
stale:
	fc_drop(s);
	return NULL;
}

const struct filecache_entry *
filecache_put(struct filecache *fc, const char *key, int fd,
    const struct stat *st, const char *ctype, const char *etag,
    const char *lastmod)
{
	struct slot *s = &fc->slots[fc_hash(key)];
	char *k = strdup(key);

	if (k == NULL)
		return NULL;
	fc_drop(s);
	s->key = k;
	s->opened = s->checked = fc_now();
	s->e.fd = fd;
	s->e.st = *st;
	s->e.ctype = ctype;
	snprintf(s->e.etag, sizeof(s->e.etag), "%s", etag);
	snprintf(s->e.lastmod, sizeof(s->e.lastmod), "%s", lastmod);
	return &s->e;
}
