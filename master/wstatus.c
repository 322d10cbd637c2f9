/*
 * wstatus — see wstatus.h.
 */
#include "master/wstatus.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/util.h"

const char *
wstatus_signame(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL)
		snprintf(buf, len, "signal %d", sig);
	else
		snprintf(buf, len, "SIG%s", abbrev);
	return buf;
}

void
wstatus_describe(int status, char *buf, size_t len)
{
	char sig[32];

	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s%s",
		    wstatus_signame(WTERMSIG(status), sig, sizeof(sig)),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "ended with wait status 0x%x", status);
}

enum wstatus_kind
wstatus_classify(const struct wstatus_exit *e)
{
	if (!e->ready && !e->stopping)
		return WSTATUS_BOOT_FAILURE;
	if ((e->stopping || e->draining) && WIFEXITED(e->status) &&
	    WEXITSTATUS(e->status) == 0)
		return WSTATUS_CLEAN;
	return WSTATUS_CRASH;
}

void
wstatus_line(const struct wstatus_exit *e, bool boot, char *buf, size_t len)
{
	char why[96], up[32];

	wstatus_describe(e->status, why, sizeof(why));
	util_fmt_duration(e->uptime, up, sizeof(up));
	snprintf(buf, len, "worker %u (pid %d) %s%s after %s", e->slot,
	    (int)e->pid, boot ? "failed at boot: " : "", why, up);
}
