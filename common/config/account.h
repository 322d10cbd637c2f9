/*
 * config/account — the "user" and "group" keys: who the workers run as.
 * The names are looked up when the configuration is loaded, so a typo
 * fails `shoal --check` and a reload instead of every worker's boot.
 */
#ifndef SHOAL_CONFIG_ACCOUNT_H
#define SHOAL_CONFIG_ACCOUNT_H

#include "common/config.h"
#include "common/config/key.h"

/* Hidden: see key.h. */
#pragma GCC visibility push(hidden)

/*
 * After the rows are applied: fill cfg->uid and cfg->gid from cfg->user
 * and cfg->group (the user's primary group when group is unset; both -1
 * when user is unset). kuser/kgroup are their rows and fuser/fgroup where
 * their values came from, to locate an error: an unknown name, or a
 * group without a user. Returns 0, or -1 with the error in c->err.
 */
int cfg_resolve_account(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *kuser, enum cfg_from fuser,
    const struct cfg_key *kgroup, enum cfg_from fgroup);

#pragma GCC visibility pop

#endif
