/*
 * privdrop — see privdrop.h.
 */
#include "master/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The most supplementary groups we check (NGROUPS_MAX is 65536). */
#define PRIVDROP_MAX_GROUPS 1024

bool
privdrop_switches(const struct config *cfg)
{
	return cfg->user != NULL && !(getuid() == (uid_t)cfg->uid &&
	    geteuid() == (uid_t)cfg->uid && getgid() == (gid_t)cfg->gid &&
	    getegid() == (gid_t)cfg->gid);
}

int
privdrop_possible(const struct config *cfg, char *err, size_t errlen)
{
	if (!privdrop_switches(cfg) || geteuid() == 0)
		return 0;
	snprintf(err, errlen, "user: the workers can run as \"%s\" only if the "
	    "master starts as root (it runs as uid %d)", cfg->user,
	    (int)geteuid());
	return -1;
}

/* a and b hold the same set of groups (order and repeats aside). */
static bool
same_groups(const gid_t *a, int na, const gid_t *b, int nb)
{
	for (int i = 0; i < na; i++) {
		int j;

		for (j = 0; j < nb && b[j] != a[i]; j++)
			;
		if (j == nb)
			return false;
	}
	for (int j = 0; j < nb; j++) {
		int i;

		for (i = 0; i < na && a[i] != b[j]; i++)
			;
		if (i == na)
			return false;
	}
	return true;
}

int
privdrop_switch(const struct config *cfg, char *err, size_t errlen)
{
	gid_t want[PRIVDROP_MAX_GROUPS], have[PRIVDROP_MAX_GROUPS];
	uid_t uid = (uid_t)cfg->uid, ruid, euid, suid;
	gid_t gid = (gid_t)cfg->gid, rgid, egid, sgid;
	int nwant = PRIVDROP_MAX_GROUPS, nhave;

	if (!privdrop_switches(cfg))
		return 0;
	/* What initgroups is to give: the user's groups and gid. */
	if (getgrouplist(cfg->user, gid, want, &nwant) == -1) {
		snprintf(err, errlen, "user %s: more than %d groups", cfg->user,
		    PRIVDROP_MAX_GROUPS);
		return -1;
	}
	/* Groups first: once the uid is given up, they cannot be changed. */
	if (initgroups(cfg->user, gid) == -1) {
		snprintf(err, errlen, "initgroups(%s, %d): %s", cfg->user, (int)gid,
		    strerror(errno));
		return -1;
	}
	if (setgid(gid) == -1) {
		snprintf(err, errlen, "setgid(%d): %s", (int)gid, strerror(errno));
		return -1;
	}
	if (setuid(uid) == -1) {
		snprintf(err, errlen, "setuid(%d): %s", (int)uid, strerror(errno));
		return -1;
	}
	/* Trust, but verify: every id, saved ones included, and the groups. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 || ruid != uid || euid != uid ||
	    suid != uid || rgid != gid || egid != gid || sgid != gid) {
		snprintf(err, errlen, "after setuid(%d): uid %d/%d/%d gid %d/%d/%d, "
		    "expected %d and %d", (int)uid, (int)ruid, (int)euid, (int)suid,
		    (int)rgid, (int)egid, (int)sgid, (int)uid, (int)gid);
		return -1;
	}
	nhave = getgroups(PRIVDROP_MAX_GROUPS, have);
	if (nhave == -1 || !same_groups(want, nwant, have, nhave)) {
		snprintf(err, errlen, "after initgroups(%s): %d supplementary "
		    "groups, not the user's %d", cfg->user, nhave, nwant);
		return -1;
	}
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "setuid(0) still works after switching to "
		    "%s: refusing to run", cfg->user);
		return -1;
	}
	return 0;
}

int
privdrop_prepare_file(const struct config *cfg, const char *key,
    const char *path, bool own, char *err, size_t errlen)
{
	struct stat sb;
	int fd;

	if (path == NULL)
		return 0;
	/* As the log opens it; O_APPEND|O_CREAT only: nothing is truncated. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0644);
	if (fd == -1) {
		snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s %s: fstat: %s", key, path, strerror(errno));
		goto err;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISCHR(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
		snprintf(err, errlen, "%s %s: not a file", key, path);
		goto err;
	}
	/* fchown on the open file: no window for a link swapped in between. */
	if (own && S_ISREG(sb.st_mode) && privdrop_switches(cfg)) {
		if (sb.st_uid != (uid_t)cfg->uid &&
		    fchown(fd, (uid_t)cfg->uid, (gid_t)-1) == -1) {
			snprintf(err, errlen, "%s %s: fchown to %s: %s", key, path,
			    cfg->user, strerror(errno));
			goto err;
		}
		if ((sb.st_mode & S_IWUSR) == 0 &&
		    fchmod(fd, (sb.st_mode & 07777) | S_IWUSR) == -1) {
			snprintf(err, errlen, "%s %s: fchmod: %s", key, path,
			    strerror(errno));
			goto err;
		}
	}
	close(fd);
	return 0;
err:
	close(fd);
	return -1;
}

int
privdrop_probe(const struct config *cfg, privdrop_probe_fn *fn, void *arg,
    char *err, size_t errlen)
{
	char why[1024];
	int p[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int rc;

		close(p[0]);
		why[0] = '\0';
		rc = privdrop_switch(cfg, why, sizeof(why)) == -1 ? -1 :
		    fn(cfg, arg, why, sizeof(why));
		if (rc == -1 && write(p[1], why, strlen(why)) == -1)
			_exit(2);
		_exit(rc == -1 ? 1 : 0);
	}
	close(p[1]);
	while (got < sizeof(why) - 1 &&
	    ((n = read(p[0], why + got, sizeof(why) - 1 - got)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	why[got] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "%s", got > 0 ? why : "the check as the workers' "
	    "user failed");
	return -1;
}
