/*
 * filecache — small files the static handler keeps open between requests,
 * so that a hit costs an fstat and a pread instead of an open (a walk of
 * the path), an fstat, a sendfile and a close.
 *
 * A cached file is always served as it is now: every hit checks the open
 * file with fstat, and an entry whose inode changed in any way (content,
 * size, mode, links: its ctime moved) or was unlinked (replaced by a
 * rename, deleted) is dropped and the name opened again. What a hit does
 * not see is a change to the path above the file (a directory renamed or
 * replaced, a symlink put in its way): an entry is used for at most
 * FILECACHE_TTL seconds after its open, then the name is opened again.
 *
 * One cache per static route and worker; direct-mapped (a name's slot is
 * its hash), FILECACHE_SLOTS entries, so at most that many descriptors.
 * Entries past their TTL are closed at the next lookup that comes a TTL
 * after the last sweep.
 */
#ifndef SHOAL_FILECACHE_H
#define SHOAL_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define FILECACHE_SLOTS 128
#define FILECACHE_TTL   1.0          /* seconds */
#define FILECACHE_MAX   (16 * 1024)  /* bytes: larger files are sent with
                                        sendfile, never cached */

struct filecache;

struct filecache_entry {
	int fd;
	struct stat st;
	const char *ctype;           /* static, from the served name */
	char etag[48];               /* quoted, strong */
	char lastmod[40];            /* an HTTP-date */
};

struct filecache *filecache_new(void);
void filecache_free(struct filecache *fc);

/* The entry of key (NUL-terminated), still valid (fstat'ed now), or NULL:
 * not cached, or dropped as stale. */
const struct filecache_entry *filecache_get(struct filecache *fc,
    const char *key);

/*
 * Keep fd, a regular file no larger than FILECACHE_MAX opened for key,
 * with its st, content type and validators: the cache owns fd from here
 * on. NULL: out of memory, and fd is still the caller's.
 */
const struct filecache_entry *filecache_put(struct filecache *fc,
    const char *key, int fd, const struct stat *st, const char *ctype,
    const char *etag, const char *lastmod);

#endif
