/*
 * fds.h — the handlers' unit tests count this process's open descriptors
 * (/proc/self/fd) to see that a file is kept open, or closed, when it
 * should be. Include after <cmocka.h>.
 */
#ifndef SHOAL_TEST_HANDLERS_FDS_H
#define SHOAL_TEST_HANDLERS_FDS_H

#include <dirent.h>

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;    /* the DIR's own fd */
}

#endif
