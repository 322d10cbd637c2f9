/*
 * ltable — see ltable.h.
 */
#include "master/ltable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
ltable_init(struct ltable *t)
{
	t->n = 0;
	t->v = calloc(LTABLE_MAX, sizeof(*t->v));
	return t->v == NULL ? -1 : 0;
}

void
ltable_free(struct ltable *t, bool unlink_files)
{
	if (t->v != NULL)
		for (size_t i = 0; i < t->n; i++)
			listener_close(&t->v[i], unlink_files);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

struct listener *
ltable_find(struct ltable *t, const char *text)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].addr.text, text) == 0)
			return &t->v[i];
	return NULL;
}

static bool
full(const struct ltable *t, const struct listen_addr *addr, char *err,
    size_t errlen)
{
	if (t->n < LTABLE_MAX)
		return false;
	snprintf(err, errlen, "%s: the master already holds %zu listen "
	    "addresses, the limit", addr->text, t->n);
	return true;
}

int
ltable_open(struct ltable *t, const struct listen_addr *addr, unsigned nslots,
    int backlog, char *err, size_t errlen)
{
	if (full(t, addr, err, errlen) ||
	    listener_open(&t->v[t->n], addr, nslots, backlog, err, errlen) == -1)
		return -1;
	t->n++;
	return 0;
}

int
ltable_adopt(struct ltable *t, const struct listen_addr *addr, const int *fds,
    unsigned n, char *err, size_t errlen)
{
	if (full(t, addr, err, errlen)) {
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		return -1;
	}
	if (listener_adopt(&t->v[t->n], addr, fds, n, err, errlen) == -1)
		return -1;
	t->n++;
	return 0;
}

static bool
listed(const struct listen_addr *want, size_t n, const char *text)
{
	for (size_t j = 0; j < n; j++)
		if (strcmp(want[j].text, text) == 0)
			return true;
	return false;
}

int
ltable_plan(const struct ltable *t, const struct listen_addr *want, size_t n,
    unsigned gen, struct ltable_plan *plan, char *err, size_t errlen)
{
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < t->n; i++) {
		/* An entry already removed stays held whatever the list says. */
		if (t->v[i].until_gen == 0 && listed(want, n, t->v[i].addr.text))
			plan->kept++;
		else
			plan->held++;
	}
	for (size_t j = 0; j < n; j++) {
		bool seen = false;

		for (size_t i = 0; i < t->n && !seen; i++)
			seen = strcmp(t->v[i].addr.text, want[j].text) == 0;
		/* A duplicate in want opens once (config rejects them anyway). */
		for (size_t k = 0; k < j && !seen; k++)
			seen = strcmp(want[k].text, want[j].text) == 0;
		if (!seen)
			plan->added++;
	}
	plan->total = plan->kept + plan->added + plan->held;
	if (plan->total <= LTABLE_MAX)
		return 0;
	snprintf(err, errlen, "%zu listen addresses would be open at once, more "
	    "than the limit of %d (%zu new, %zu kept, and %zu removed but still "
	    "held by generation %u until it has drained); reload in two steps: "
	    "remove addresses first, add the new ones once generation %u has "
	    "gone", plan->total, LTABLE_MAX, plan->added, plan->kept, plan->held,
	    gen, gen);
	return -1;
}

void
ltable_retire_missing(struct ltable *t, const struct listen_addr *want,
    size_t n, unsigned gen)
{
	for (size_t i = 0; i < t->n; i++)
		t->v[i].until_gen = listed(want, n, t->v[i].addr.text) ? 0 : gen;
}

void
ltable_unretire(struct ltable *t)
{
	for (size_t i = 0; i < t->n; i++)
		t->v[i].until_gen = 0;
}

void
ltable_drop_newest(struct ltable *t, size_t count)
{
	while (count-- > 0 && t->n > 0)
		listener_close(&t->v[--t->n], true);
}

bool
ltable_serves(const struct listener *l, unsigned gen)
{
	return l->until_gen == 0 || gen < l->until_gen;
}

bool
ltable_unused(const struct listener *l, unsigned oldest)
{
	return l->until_gen != 0 && oldest >= l->until_gen;
}

void
ltable_remove(struct ltable *t, size_t i)
{
	if (i >= t->n)
		return;
	listener_close(&t->v[i], true);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
}

int
ltable_grow(struct ltable *t, unsigned n, int backlog, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < t->n; i++)
		if (listener_grow(&t->v[i], n, backlog, err, errlen) == -1)
			return -1;
	return 0;
}

void
ltable_shrink(struct ltable *t, unsigned n)
{
	for (size_t i = 0; i < t->n; i++)
		listener_shrink(&t->v[i], n);
}

bool
ltable_queued(const struct ltable *t, unsigned slot, unsigned gen)
{
	for (size_t i = 0; i < t->n; i++)
		if (ltable_serves(&t->v[i], gen) &&
		    listener_queued(&t->v[i], slot))
			return true;
	return false;
}

size_t
ltable_for_worker(const struct ltable *t, unsigned slot, unsigned gen,
    int *fds, const struct listen_addr **addrs)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct listener *l = &t->v[i];
		int mine = -1;

		if (ltable_serves(l, gen)) {
			addrs[kept] = &l->addr;
			fds[kept++] = mine = listener_fd(l, slot);
		}
		for (unsigned k = 0; k < l->nfds; k++)
			if (l->fds[k] != mine)
				close(l->fds[k]);
	}
	return kept;
}
