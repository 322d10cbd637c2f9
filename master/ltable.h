/*
 * ltable — the master's table of listen addresses, bounded.
 *
 * Each entry is a struct listener (listener.h: one socket per slot for a
 * TCP address). The table holds at most LTABLE_MAX of them, and every
 * function that adds one checks the bound. A reload keeps the addresses it
 * removes open for the outgoing generation until that generation has gone
 * (closing a reuseport socket resets its queue), so while a reload runs the
 * table holds the old addresses and the new ones side by side; a reload
 * whose union would not fit is refused before anything is opened
 * (ltable_plan).
 *
 * Entries are kept in the order they were added; removing one moves the
 * later ones down. Nothing here logs: errors come back in err.
 */
#ifndef SHOAL_LTABLE_H
#define SHOAL_LTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "master/listener.h"

#define LTABLE_MAX CONFIG_MAX_LISTEN

struct ltable {
	struct listener *v;          /* LTABLE_MAX entries, on the heap so a
	                                sanitizer sees any overrun */
	size_t n;
};

/* What a reload to a new list of addresses would hold at once. */
struct ltable_plan {
	size_t kept;                 /* in the table and in the new list */
	size_t added;                /* in the new list only: to be opened */
	size_t held;                 /* in the table only: open until the
	                                outgoing generation has gone */
	size_t total;                /* kept + added + held */
};

/* Allocate an empty table. -1 (errno ENOMEM) on failure. */
int ltable_init(struct ltable *t);

/* Close every socket and free the table; unlink_files as listener_close. */
void ltable_free(struct ltable *t, bool unlink_files);

/* The entry for the address text ("127.0.0.1:8080"), or NULL. */
struct listener *ltable_find(struct ltable *t, const char *text);

/*
 * Open addr (listener_open) as a new entry. -1 with err when the table is
 * full or the sockets cannot be opened; the table is unchanged then.
 */
int ltable_open(struct ltable *t, const struct listen_addr *addr,
    unsigned nslots, int backlog, char *err, size_t errlen);

/* Adopt inherited sockets (listener_adopt) as a new entry; bounded too.
 * On failure the fds are closed and the table is unchanged. */
int ltable_adopt(struct ltable *t, const struct listen_addr *addr,
    const int *fds, unsigned n, char *err, size_t errlen);

/*
 * Count what a reload to want[0..n-1] would hold at once. -1 with err when
 * that is more than LTABLE_MAX; err names the limit and how many addresses
 * generation gen (the one being replaced) still holds.
 */
int ltable_plan(const struct ltable *t, const struct listen_addr *want,
    size_t n, unsigned gen, struct ltable_plan *plan, char *err,
    size_t errlen);

/* Entries missing from want serve only generations before gen from now on. */
void ltable_retire_missing(struct ltable *t, const struct listen_addr *want,
    size_t n, unsigned gen);

/* Undo ltable_retire_missing (a rollback): every entry serves all. */
void ltable_unretire(struct ltable *t);

/* Close the count entries added last (a rollback of ltable_open). */
void ltable_drop_newest(struct ltable *t, size_t count);

/* True if workers of generation gen accept on l. */
bool ltable_serves(const struct listener *l, unsigned gen);

/*
 * True if l was removed by a reload and no live worker needs it any more:
 * oldest is the oldest generation among the live workers (UINT_MAX when
 * there is none).
 */
bool ltable_unused(const struct listener *l, unsigned oldest);

/* Close entry i and move the later ones down. */
void ltable_remove(struct ltable *t, size_t i);

/* Sockets for slots up to n on every TCP entry (listener_grow); -1 with
 * err at the first failure (entries grown before it stay grown). */
int ltable_grow(struct ltable *t, unsigned n, int backlog, char *err,
    size_t errlen);

/* Close the sockets of slots n.. on every entry (listener_shrink). */
void ltable_shrink(struct ltable *t, unsigned n);

/* True if connections wait on slot's socket of an entry that serves
 * generation gen (listener_queued). */
bool ltable_queued(const struct ltable *t, unsigned slot, unsigned gen);

/*
 * In a forked worker of generation gen in slot: keep that slot's socket of
 * each entry serving gen, close every other socket of the table. Fills
 * fds[] and addrs[] (room for t->n each) and returns how many it kept.
 */
size_t ltable_for_worker(const struct ltable *t, unsigned slot, unsigned gen,
    int *fds, const struct listen_addr **addrs);

#endif
