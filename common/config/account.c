/*
 * config/account — see account.h.
 *
 * Names only, as NGINX's `user` takes them: a worker also needs the user's
 * name for its supplementary groups (initgroups), which a bare uid does
 * not give. The lookups use the _r functions with a buffer of the size
 * sysconf suggests, grown on ERANGE, so nothing here keeps static state.
 */
#include "common/config/account.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/diag.h"

/* Past this, a user database entry is not one. */
#define CFG_PW_BUF_MAX (1024 * 1024)

/*
 * Look name up as a user (group false: its uid and primary gid into *id
 * and *gid) or as a group (its gid into *id). 0 found, 1 no such name (or
 * an id past INT_MAX), -1 with errno on a lookup failure.
 */
static int
cfg_lookup(const char *name, bool group, int *id, int *gid)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	long hint = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
	size_t len = hint > 0 ? (size_t)hint : 4096;
	char *buf = NULL, *bigger;
	int r;

	for (;;) {
		if ((bigger = realloc(buf, len)) == NULL) {
			free(buf);
			errno = ENOMEM;
			return -1;
		}
		buf = bigger;
		r = group ? getgrnam_r(name, &gr, buf, len, &grp) :
		    getpwnam_r(name, &pw, buf, len, &pwp);
		if (r != ERANGE || len >= CFG_PW_BUF_MAX)
			break;
		len *= 2;
	}
	free(buf);                   /* the ids are copied out of it below */
	if (r != 0) {
		errno = r;
		return -1;
	}
	if (group) {
		if (grp == NULL || gr.gr_gid > INT_MAX)
			return 1;
		*id = (int)gr.gr_gid;
		return 0;
	}
	if (pwp == NULL || pw.pw_uid > INT_MAX || pw.pw_gid > INT_MAX)
		return 1;
	*id = (int)pw.pw_uid;
	*gid = (int)pw.pw_gid;
	return 0;
}

int
cfg_resolve_account(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *kuser, enum cfg_from fuser,
    const struct cfg_key *kgroup, enum cfg_from fgroup)
{
	char shown[80];
	int r;

	cfg->uid = cfg->gid = -1;
	if (cfg->user == NULL) {
		if (cfg->group != NULL)
			return cfg_fail(c, kgroup, fgroup, -1, "needs \"user\" "
			    "too: the workers change group only along with "
			    "their user");
		return 0;
	}
	r = cfg_lookup(cfg->user, false, &cfg->uid, &cfg->gid);
	if (r != 0) {
		cfg_quote(cfg->user, shown, sizeof(shown));
		cfg->uid = cfg->gid = -1;
		return r == 1 ? cfg_fail(c, kuser, fuser, -1, "no user %s in the "
		    "user database", shown) : cfg_fail(c, kuser, fuser, -1,
		    "getpwnam(%s): %s", shown, strerror(errno));
	}
	if (cfg->group == NULL)
		return 0;
	r = cfg_lookup(cfg->group, true, &cfg->gid, NULL);
	if (r != 0) {
		cfg_quote(cfg->group, shown, sizeof(shown));
		cfg->uid = cfg->gid = -1;
		return r == 1 ? cfg_fail(c, kgroup, fgroup, -1, "no group %s in "
		    "the group database", shown) : cfg_fail(c, kgroup, fgroup,
		    -1, "getgrnam(%s): %s", shown, strerror(errno));
	}
	return 0;
}
