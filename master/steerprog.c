/*
 * steerprog — see steerprog.h.
 */
#include "master/steerprog.h"

#include <stdbool.h>
#include <stdint.h>

static struct sock_filter
insn(uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	struct sock_filter f = { code, jt, jf, k };

	return f;
}

size_t
steerprog_build(const unsigned *idx, unsigned n, struct sock_filter *code,
    size_t cap)
{
	bool identity = true;
	size_t len = 0, need;

	for (unsigned i = 0; i < n && identity; i++)
		identity = idx[i] == i;
	need = n == 1 ? 1 : identity ? 3 : 2 * (size_t)n + 1;
	if (n == 0 || cap < need)
		return 0;
	if (n == 1) {
		code[len++] = insn(BPF_RET | BPF_K, 0, 0, idx[0]);
		return len;
	}
	code[len++] = insn(BPF_LD | BPF_W | BPF_ABS, 0, 0,
	    (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM));
	code[len++] = insn(BPF_ALU | BPF_MOD | BPF_K, 0, 0, n);
	if (identity) {
		code[len++] = insn(BPF_RET | BPF_A, 0, 0, 0);
		return len;
	}
	/* if A == i: fall through to "return idx[i]", else skip over it */
	for (unsigned i = 0; i + 1 < n; i++) {
		code[len++] = insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, i);
		code[len++] = insn(BPF_RET | BPF_K, 0, 0, idx[i]);
	}
	code[len++] = insn(BPF_RET | BPF_K, 0, 0, idx[n - 1]);
	return len;
}
