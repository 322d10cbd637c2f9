/*
 * Unit tests for master/steerprog.c: the classic BPF program that maps a
 * random number onto a table of socket indices. The programs are run by a
 * small interpreter of the instructions the builder may emit (anything
 * else fails the test), for every residue of the random number, so each
 * table entry is checked to get exactly its share; the kernel's own
 * verdict on them is in test_listener.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "master/steerprog.c"

/* Run code with SKF_AD_RANDOM = rnd; the returned index. */
static uint32_t
run(const struct sock_filter *code, size_t len, uint32_t rnd)
{
	uint32_t a = 0;

	for (size_t pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &code[pc];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_int_equal(f->k, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM));
			a = rnd;
			break;
		case BPF_ALU | BPF_MOD | BPF_K:
			assert_true(f->k != 0);
			a %= f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			assert_true(pc + 1 < len);
			break;
		case BPF_RET | BPF_K:
			return f->k;
		case BPF_RET | BPF_A:
			return a;
		default:
			fail_msg("unexpected instruction %#x at %zu", f->code, pc);
		}
	}
	fail_msg("the program runs off its end");
	return 0;
}

/* Every residue r of the random number picks idx[r]: each entry 1/n. */
static void
check(const unsigned *idx, unsigned n)
{
	struct sock_filter code[STEERPROG_MAX_INSNS];
	size_t len = steerprog_build(idx, n, code, STEERPROG_MAX_INSNS);

	assert_true(len > 0);
	assert_true(len <= BPF_MAXINSNS);
	assert_true(len <= 2 * (size_t)n + 1);
	for (unsigned r = 0; r < n; r++) {
		assert_int_equal(run(code, len, r), idx[r]);
		/* the same residue from a large random number */
		assert_int_equal(run(code, len, 4000000000u - (4000000000u % n) + r),
		    idx[r]);
	}
}

static void
test_identity_is_short(void **state)
{
	unsigned idx[] = { 0, 1, 2, 3 };
	struct sock_filter code[8];

	(void)state;
	assert_int_equal(steerprog_build(idx, 4, code, 8), 3);
	assert_int_equal(code[2].code, BPF_RET | BPF_A);
	check(idx, 4);
}

static void
test_one_slot_is_a_constant(void **state)
{
	unsigned idx[] = { 5 };
	struct sock_filter code[4];

	(void)state;
	assert_int_equal(steerprog_build(idx, 1, code, 4), 1);
	assert_int_equal(code[0].code, BPF_RET | BPF_K);
	assert_int_equal(code[0].k, 5);
	check(idx, 1);
}

static void
test_live_slots_only(void **state)
{
	unsigned a[] = { 1, 3 }, b[] = { 0, 2, 3 }, c[] = { 1, 2 };

	(void)state;
	check(a, 2);
	check(b, 3);
	check(c, 2);
}

static void
test_largest_table(void **state)
{
	unsigned idx[CONFIG_MAX_WORKERS];
	unsigned n = 0;

	(void)state;
	/* every other slot of the most there can be, and all but the first */
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i += 2)
		idx[n++] = i;
	check(idx, n);
	for (unsigned i = 0; i + 1 < CONFIG_MAX_WORKERS; i++)
		idx[i] = i + 1;
	check(idx, CONFIG_MAX_WORKERS - 1);
}

static void
test_refuses_what_does_not_fit(void **state)
{
	unsigned idx[] = { 1, 2, 3 };
	struct sock_filter code[STEERPROG_MAX_INSNS];

	(void)state;
	assert_int_equal(steerprog_build(idx, 0, code, STEERPROG_MAX_INSNS), 0);
	/* 3 entries not in order need 7 instructions */
	assert_int_equal(steerprog_build(idx, 3, code, 6), 0);
	assert_int_equal(steerprog_build(idx, 3, code, 7), 7);
	assert_int_equal(steerprog_build(idx, 1, code, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_is_short),
		cmocka_unit_test(test_one_slot_is_a_constant),
		cmocka_unit_test(test_live_slots_only),
		cmocka_unit_test(test_largest_table),
		cmocka_unit_test(test_refuses_what_does_not_fit),
	};

	return cmocka_run_group_tests_name("steerprog", tests, NULL, NULL);
}
