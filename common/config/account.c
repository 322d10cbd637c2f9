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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/diag.h"

/* Past this, a user database entry is not one. */
#define CFG_PW_BUF_MAX (1024 * 1024)

/* The uid and primary gid of user name: 0, 1 if there is no such user,
 * -1 with errno on a lookup failure. */
static int
cfg_lookup_user(const char *name, int *uid, int *gid)
{
	struct passwd pw, *found = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
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
		r = getpwnam_r(name, &pw, buf, len, &found);
		if (r != ERANGE || len >= CFG_PW_BUF_MAX)
			break;
		len *= 2;
	}
	if (r == 0 && found != NULL) {
		*uid = (int)pw.pw_uid;
		*gid = (int)pw.pw_gid;
	}
	free(buf);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return found == NULL || pw.pw_uid > INT_MAX || pw.pw_gid > INT_MAX;
}

/* The gid of group name: as cfg_lookup_user. */
static int
cfg_lookup_group(const char *name, int *gid)
{
	struct group gr, *found = NULL;
	long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
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
		r = getgrnam_r(name, &gr, buf, len, &found);
		if (r != ERANGE || len >= CFG_PW_BUF_MAX)
			break;
		len *= 2;
	}
	if (r == 0 && found != NULL)
		*gid = (int)gr.gr_gid;
	free(buf);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return found == NULL || gr.gr_gid > INT_MAX;
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
	r = cfg_lookup_user(cfg->user, &cfg->uid, &cfg->gid);
	if (r != 0) {
		cfg_quote(cfg->user, shown, sizeof(shown));
		cfg->uid = cfg->gid = -1;
		return r == 1 ? cfg_fail(c, kuser, fuser, -1, "no user %s in the "
		    "user database", shown) : cfg_fail(c, kuser, fuser, -1,
		    "getpwnam(%s): %s", shown, strerror(errno));
	}
	if (cfg->group == NULL)
		return 0;
	r = cfg_lookup_group(cfg->group, &cfg->gid);
	if (r != 0) {
		cfg_quote(cfg->group, shown, sizeof(shown));
		cfg->uid = cfg->gid = -1;
		return r == 1 ? cfg_fail(c, kgroup, fgroup, -1, "no group %s in "
		    "the group database", shown) : cfg_fail(c, kgroup, fgroup,
		    -1, "getgrnam(%s): %s", shown, strerror(errno));
	}
	return 0;
}
