/*
 * Unit tests for worker/handlers/filecache.c: an entry is found while its
 * file is what it says, dropped (and its descriptor closed) once the file
 * changed, was unlinked or the entry outlived its TTL, and freeing the
 * cache closes every file it held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/worker/handlers/fds.h"

#include "worker/handlers/filecache.c"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

static char dir[256];

static void
write_at(const char *name, const char *data, const char *mode)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, mode));
	assert_int_equal(fputs(data, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Open name and keep it in fc under key. */
static const struct filecache_entry *
put(struct filecache *fc, const char *key, const char *name)
{
	char p[512];
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_true((fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	return filecache_put(fc, key, fd, &st, "text/plain", "\"e\"",
	    "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Make the last check (and the open) of key's entry look older, by a
 * little more than asked: now - (t - d) is not always >= d in floating
 * point when the coarse clock has not moved. */
static void
age(struct filecache *fc, const char *key, double checked, double opened)
{
	struct slot *s = &fc->slots[fc_hash(key)];

	assert_non_null(s->key);
	if (checked > 0)
		s->checked -= checked + 0.01;
	if (opened > 0)
		s->opened -= opened + 0.01;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/shoal-test-filecache.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char p[512];
	DIR *d = opendir(dir);
	struct dirent *e;

	(void)state;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	return rmdir(dir);
}

static void
test_hit_and_changes(void **state)
{
	struct filecache *fc = filecache_new();
	const struct filecache_entry *e;
	int before = count_fds();
	char p[512], q[512];

	(void)state;
	assert_non_null(fc);
	write_at("a.txt", "hello\n", "w");
	assert_null(filecache_get(fc, "a.txt", false));
	assert_non_null(e = put(fc, "a.txt", "a.txt"));
	assert_int_equal(e->st.st_size, 6);
	assert_ptr_equal(filecache_get(fc, "a.txt", false), e);
	assert_ptr_equal(filecache_get(fc, "a.txt", true), e);
	assert_null(filecache_get(fc, "b.txt", false));
	assert_int_equal(filecache_size(fc), 1);
	assert_int_equal(count_fds(), before + 1);

	/* a write in place (another size): dropped at the next check, or at
	 * once when the caller asks for one */
	usleep(20000);           /* past the coarse clock's tick: a new ctime */
	write_at("a.txt", "more\n", "a");
	assert_ptr_equal(filecache_get(fc, "a.txt", false), e);
	assert_null(filecache_get(fc, "a.txt", true));
	assert_int_equal(filecache_size(fc), 0);
	assert_int_equal(count_fds(), before);

	/* replaced by a rename: the kept inode has no link left */
	assert_non_null(put(fc, "a.txt", "a.txt"));
	write_at("a.new", "new\n", "w");
	snprintf(p, sizeof(p), "%s/a.new", dir);
	snprintf(q, sizeof(q), "%s/a.txt", dir);
	assert_int_equal(rename(p, q), 0);
	age(fc, "a.txt", FILECACHE_CHECK, 0);
	assert_null(filecache_get(fc, "a.txt", false));
	assert_int_equal(count_fds(), before);

	/* unchanged, but past its TTL: opened again */
	assert_non_null(put(fc, "a.txt", "a.txt"));
	age(fc, "a.txt", 0, FILECACHE_TTL);
	assert_null(filecache_get(fc, "a.txt", false));
	assert_int_equal(count_fds(), before);

	/* forget */
	assert_non_null(put(fc, "a.txt", "a.txt"));
	filecache_forget(fc, "other");
	assert_int_equal(filecache_size(fc), 1);
	filecache_forget(fc, "a.txt");
	assert_int_equal(filecache_size(fc), 0);
	assert_int_equal(count_fds(), before);
	filecache_free(fc);
	filecache_free(NULL);
}

static void
test_sweep_and_free(void **state)
{
	struct filecache *fc = filecache_new();
	int before = count_fds();
	char key[32];

	(void)state;
	write_at("s.txt", "s\n", "w");
	/* more keys than slots: one entry per slot at most */
	for (int i = 0; i < 2 * FILECACHE_SLOTS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_non_null(put(fc, key, "s.txt"));
	}
	assert_true(filecache_size(fc) <= FILECACHE_SLOTS);
	assert_int_equal(count_fds(), before + (int)filecache_size(fc));
	/* entries past their TTL are closed by the next lookup a TTL after
	 * the last sweep, whatever it looks up */
	for (size_t i = 0; i < FILECACHE_SLOTS; i++)
		fc->slots[i].opened -= FILECACHE_TTL;
	fc->swept -= FILECACHE_TTL;
	assert_null(filecache_get(fc, "nothing", false));
	assert_int_equal(filecache_size(fc), 0);
	assert_int_equal(count_fds(), before);

	snprintf(key, sizeof(key), "k0");
	assert_non_null(put(fc, key, "s.txt"));
	filecache_free(fc);
	assert_int_equal(count_fds(), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_changes),
		cmocka_unit_test(test_sweep_and_free),
	};

	return cmocka_run_group_tests_name("filecache", tests, setup, teardown);
}
