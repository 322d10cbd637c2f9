/*
 * steerprog — the classic BPF program that picks the socket of a reuseport
 * group a new connection lands on.
 *
 * Attached with SO_ATTACH_REUSEPORT_CBPF, the program runs for each new
 * connection (each SYN) and returns the index of a socket in the group;
 * an index out of range makes the kernel fall back to its hash over all
 * sockets. This one draws a random number and maps it onto a table of n
 * socket indices, so each socket in the table gets 1/n of the connections
 * and a socket not in it gets none:
 *
 *     A = random; A %= n;
 *     if A == 0 return idx[0]; if A == 1 return idx[1]; ... return idx[n-1]
 *
 * Classic BPF cannot index a constant table, hence the chain of compares
 * (n - 1 at most per SYN, 2n + 1 instructions). A table that is 0..n-1 in
 * order is the short form "return random % n"; one entry is "return idx".
 *
 * Pure: builds the instructions, attaches nothing.
 */
#ifndef SHOAL_STEERPROG_H
#define SHOAL_STEERPROG_H

#include <stddef.h>
#include <linux/filter.h>

#include "common/config.h"

/* Room for the longest program (a table of CONFIG_MAX_WORKERS entries). */
#define STEERPROG_MAX_INSNS (2 * CONFIG_MAX_WORKERS + 1)

/*
 * Write the program for idx[0..n-1] into code (room for cap instructions)
 * and return its length; 0 if n is 0 or the program would not fit.
 */
size_t steerprog_build(const unsigned *idx, unsigned n, struct sock_filter *code,
    size_t cap);

#endif
