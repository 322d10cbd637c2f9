/*
 * log — see log.h. State is process-wide by nature (there is one stderr), so
 * it lives in this file; it is set once at start-up and after fork.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
	int fd;
	enum log_level level;
	char tag[32];
	char path[4096];
	char first_error[256];       /* since log_error_mark; "" if none */
} lg = { 2, LOGL_INFO, "master", "", "" };

static const char *const level_names[] = {
	[LOGL_ERROR] = "error", [LOGL_WARN] = "warn", [LOGL_NOTICE] = "notice",
	[LOGL_INFO] = "info", [LOGL_DEBUG] = "debug",
};

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return level <= LOGL_DEBUG ? level_names[level] : "?";
}

void
log_set_role(const char *role, int slot)
{
	if (slot >= 0)
		snprintf(lg.tag, sizeof(lg.tag), "%s.%d", role, slot);
	else
		snprintf(lg.tag, sizeof(lg.tag), "%s", role);
}

void
log_set_level(enum log_level level)
{
	lg.level = level;
}

int
log_open(const char *path)
{
	int fd;

	if (path == NULL || *path == '\0') {
		if (lg.fd != 2)
			close(lg.fd);
		lg.fd = 2;
		lg.path[0] = '\0';
		return 0;
	}
	if (strlen(path) >= sizeof(lg.path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (lg.fd != 2)
		close(lg.fd);
	lg.fd = fd;
	snprintf(lg.path, sizeof(lg.path), "%s", path);
	return 0;
}

int
log_reopen(void)
{
	char path[sizeof(lg.path)];

	if (lg.path[0] == '\0')
		return 0;
	memcpy(path, lg.path, sizeof(path));
	return log_open(path);
}

int
log_fd(void)
{
	return lg.fd;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r, saved = errno;

	if (level > lg.level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03dZ shoal[%d] %s %s: ",
	    (int)(tv.tv_usec / 1000), (int)getpid(), lg.tag, level_names[level]);
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (level == LOGL_ERROR && lg.first_error[0] == '\0' && n < sizeof(line))
		snprintf(lg.first_error, sizeof(lg.first_error), "%s", line + n);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: O_APPEND makes it atomic against other processes. */
	if (write(lg.fd, line, n) < 0) {
		/* nothing sensible to do: the log is the error channel */
	}
	errno = saved;
}

void
log_error_mark(void)
{
	lg.first_error[0] = '\0';
}

const char *
log_first_error(void)
{
	return lg.first_error;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
