/*
 * filecache — small files the static handler keeps open between requests,
 * so that a hit costs an fstat and a pread instead of an open (a walk of
 * the path), an fstat, a sendfile and a close.
 *
 * What is served is the file as it is now, or as it was a moment ago:
 *   - its bytes are read (pread) for every response, so a write in place
 *     shows at once; so does a change of size (the caller reads one byte
 *     more than it expects and calls filecache_forget when the count is
 *     off);
 *   - at most every FILECACHE_CHECK seconds, and for every conditional
 *     request, a hit checks the open file with fstat: an entry whose inode changed in any way (its ctime
 *     moved: content, mode, links) or was unlinked (deleted, or replaced
 *     by a rename) is dropped and the name opened again;
 *   - a change to the path above the file (a directory renamed or
 *     replaced, a symlink put in its way) shows when the entry expires,
 *     FILECACHE_TTL seconds after its open.
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
#define FILECACHE_CHECK 0.1          /* seconds */
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

/* The entry of key (NUL-terminated), still valid, or NULL: not cached,
 * or dropped as stale. check: fstat the file now, whenever it was last
 * (a conditional request is answered from the validators alone). */
const struct filecache_entry *filecache_get(struct filecache *fc,
    const char *key, bool check);

/*
 * Keep fd, a regular file no larger than FILECACHE_MAX opened for key,
 * with its st, content type and validators: the cache owns fd from here
 * on. NULL: out of memory, and fd is still the caller's.
 */
const struct filecache_entry *filecache_put(struct filecache *fc,
    const char *key, int fd, const struct stat *st, const char *ctype,
    const char *etag, const char *lastmod);

/* How many entries (each an open file) the cache holds. */
size_t filecache_size(const struct filecache *fc);

/* Drop key's entry: its file is not what the entry says (its size). */
void filecache_forget(struct filecache *fc, const char *key);

#endif
