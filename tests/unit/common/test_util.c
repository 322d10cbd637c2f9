/*
 * Unit tests for common/util.c: clocks, fd flags, the CPU count against a
 * fake cgroup v2 tree, duration formatting.
 *
 * The fake tree lives in a mkdtemp directory that group teardown removes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/util.c"

#include <ftw.h>
#include <sys/stat.h>

/* Short enough that every path built from it fits in PATH_MAX. */
static char root[256];

static int
group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(root, sizeof(root), "%s/shoal-test-util.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Start each cgroup test from an empty tree. */
static int
clean_tree(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/cg", root);
	if (access(path, F_OK) == 0 &&
	    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		return -1;
	return mkdir(path, 0700);
}

/* Make root/cg/<dir> and, if text is not NULL, its cpu.max. */
static void
cgroup(const char *dir, const char *text)
{
	char path[PATH_MAX], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cg/%s", root, dir);
	for (p = path + strlen(root) + 4; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
	if (text == NULL)
		return;
	strcat(path, "/cpu.max");
	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
count(int ncpus, const char *proc)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/cg", root);
	return util_cpu_count_from(ncpus, path, proc);
}

static void
test_cpu_no_cpu_max(void **state)
{
	(void)state;
	cgroup("a/b", NULL);
	assert_int_equal(count(8, "0::/a/b\n"), 8);
	/* The cgroup does not exist under this mount at all. */
	assert_int_equal(count(8, "0::/elsewhere\n"), 8);
}

static void
test_cpu_max_unlimited(void **state)
{
	(void)state;
	cgroup("a", "max 100000\n");
	cgroup("a/b", "max 100000\n");
	assert_int_equal(count(8, "0::/a/b\n"), 8);
}

static void
test_cpu_max_rounds_up(void **state)
{
	(void)state;
	cgroup("a", "150000 100000\n");
	assert_int_equal(count(8, "0::/a\n"), 2);
	cgroup("a", "200000 100000\n");
	assert_int_equal(count(8, "0::/a\n"), 2);
	cgroup("a", "1000 100000\n");   /* 1% of a CPU is still one */
	assert_int_equal(count(8, "0::/a\n"), 1);
}

static void
test_cpu_parent_lower_quota_wins(void **state)
{
	(void)state;
	cgroup("a", "300000 100000\n");
	cgroup("a/b", "600000 100000\n");
	cgroup("a/b/c", "max 100000\n");
	assert_int_equal(count(16, "0::/a/b/c\n"), 3);
	/* And the other way round: the child is tighter. */
	cgroup("a/b", "100000 100000\n");
	assert_int_equal(count(16, "0::/a/b/c\n"), 1);
}

static void
test_cpu_mount_level_counts(void **state)
{
	(void)state;
	/* In a container without a cgroup namespace the mount is our cgroup. */
	cgroup("", "250000 100000\n");
	assert_int_equal(count(8, "0::/\n"), 3);
	assert_int_equal(count(8, "0::/x/y\n"), 3);
	/* "/.." (outside the namespace root) must not escape the mount. */
	assert_int_equal(count(8, "0::/../..\n"), 3);
}

static void
test_cpu_quota_above_ncpus(void **state)
{
	(void)state;
	cgroup("a", "1600000 100000\n");
	assert_int_equal(count(4, "0::/a\n"), 4);
}

static void
test_cpu_malformed_ignored(void **state)
{
	static const char *const bad[] = {
		"garbage\n", "", "100000\n", "100000 0\n", "-5 100000\n",
		"100000 abc\n", "100000  100000\n", "1x 100000\n",
		"99999999999999999999999 100000\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		cgroup("a", bad[i]);
		if (count(8, "0::/a\n") != 8)
			fail_msg("cpu.max \"%s\" was not ignored", bad[i]);
	}
	/* A malformed level does not hide a good one above it. */
	cgroup("a", "200000 100000\n");
	cgroup("a/b", "nonsense");
	assert_int_equal(count(8, "0::/a/b\n"), 2);
}

static void
test_cpu_proc_self_cgroup_forms(void **state)
{
	(void)state;
	cgroup("a", "200000 100000\n");
	/* Hybrid hosts list v1 hierarchies first; the v2 line is "0::". */
	assert_int_equal(count(8, "12:cpu,cpuacct:/a\n1:name=systemd:/a\n"
	    "0::/a\n"), 2);
	/* No trailing newline. */
	assert_int_equal(count(8, "0::/a"), 2);
	/* Trailing slash. */
	assert_int_equal(count(8, "0::/a/\n"), 2);
	/* Pure v1: no "0::" line, no limit read. */
	assert_int_equal(count(8, "4:cpu:/a\n"), 8);
	assert_int_equal(count(8, ""), 8);
	assert_int_equal(count(8, "0::\n"), 8);
	assert_int_equal(count(8, "0::relative\n"), 8);
	assert_int_equal(util_cpu_count_from(8, NULL, "0::/a\n"), 8);
	assert_int_equal(util_cpu_count_from(8, "/nonexistent", NULL), 8);
}

static void
test_cpu_never_below_one(void **state)
{
	(void)state;
	assert_int_equal(util_cpu_count_from(0, "/nonexistent", "0::/\n"), 1);
	assert_int_equal(util_cpu_count_from(-3, "/nonexistent", "0::/\n"), 1);
	cgroup("a", "0 100000\n");
	assert_int_equal(count(8, "0::/a\n"), 1);
}

static void
test_cpu_count_real(void **state)
{
	cpu_set_t set;
	int n = util_cpu_count();

	(void)state;
	assert_true(n >= 1);
	/* On a machine of at most 1024 CPUs the fixed set works as a check. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		assert_true(n <= CPU_COUNT(&set));
	assert_int_equal(util_affinity_count() >= 1, 1);
}

static void
test_fmt_duration(void **state)
{
	static const struct {
		double s;
		const char *want;
	} cases[] = {
		{ 0, "0.0s" },
		{ 0.04, "0.0s" },
		{ 0.05, "0.1s" },
		{ 12.4, "12.4s" },
		{ 12.44, "12.4s" },
		{ 59.94, "59.9s" },
		{ 59.96, "1m00s" },     /* rounds up into the next unit */
		{ 60, "1m00s" },
		{ 185, "3m05s" },
		{ 3599.4, "59m59s" },
		{ 3599.6, "1h00m" },
		{ 7800, "2h10m" },
		{ 7829, "2h10m" },
		{ 7831, "2h11m" },
		{ 360000, "100h00m" },
		{ -5, "0.0s" },
		{ 1e300, "277777777h47m" },
	};
	char buf[32], tiny[4];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(util_fmt_duration(cases[i].s, buf,
		    sizeof(buf)), cases[i].want);
	assert_string_equal(util_fmt_duration(NAN, buf, sizeof(buf)), "0.0s");
	/* Truncated, still terminated. */
	assert_ptr_equal(util_fmt_duration(12.4, tiny, sizeof(tiny)), tiny);
	assert_string_equal(tiny, "12.");
	assert_ptr_equal(util_fmt_duration(1, tiny, 0), tiny);
}

static void
test_clock(void **state)
{
	uint64_t a, b;
	double x, y;

	(void)state;
	a = util_now_ms();
	x = util_now();
	usleep(20000);
	b = util_now_ms();
	y = util_now();
	assert_true(b >= a + 15);
	assert_true(y - x >= 0.015);
	assert_true(y - x < 5);
	/* Same clock, two units. */
	assert_true(fabs(x - (double)a / 1000) < 0.5);
}

static void
test_fd_flags(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(util_set_nonblock(p[0]), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(util_set_nonblock(p[0]), 0);   /* idempotent */
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);

	assert_int_equal(util_set_cloexec(p[1], 1), 0);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(util_set_cloexec(p[1], 0), 0);
	assert_false(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	close(p[1]);

	errno = 0;
	assert_int_equal(util_set_nonblock(p[0]), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(util_set_cloexec(-1, 1), -1);
	assert_int_equal(errno, EBADF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cpu_no_cpu_max, clean_tree),
		cmocka_unit_test_setup(test_cpu_max_unlimited, clean_tree),
		cmocka_unit_test_setup(test_cpu_max_rounds_up, clean_tree),
		cmocka_unit_test_setup(test_cpu_parent_lower_quota_wins,
		    clean_tree),
		cmocka_unit_test_setup(test_cpu_mount_level_counts, clean_tree),
		cmocka_unit_test_setup(test_cpu_quota_above_ncpus, clean_tree),
		cmocka_unit_test_setup(test_cpu_malformed_ignored, clean_tree),
		cmocka_unit_test_setup(test_cpu_proc_self_cgroup_forms,
		    clean_tree),
		cmocka_unit_test_setup(test_cpu_never_below_one, clean_tree),
		cmocka_unit_test(test_cpu_count_real),
		cmocka_unit_test(test_fmt_duration),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_fd_flags),
	};

	return cmocka_run_group_tests_name("util", tests, group_setup,
	    group_teardown);
}
