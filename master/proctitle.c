/*
 * proctitle — see proctitle.h. State is the process's own argv area, so
 * it lives in this file; it is set once, before anything else runs, and a
 * forked worker inherits it.
 */
#include "master/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static struct {
	char *start;                 /* argv[0]'s first byte */
	size_t len;                  /* through the last contiguous string */
	char **argv;                 /* the copies handed out */
} pt;

/* A heap copy of the NULL-terminated vector v of n strings; NULL if out
 * of memory (nothing left allocated). */
static char **
copy_vector(char **v, size_t n)
{
	char **c = calloc(n + 1, sizeof(*c));

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL) {
			while (i > 0)
				free(c[--i]);
			free(c);
			return NULL;
		}
	return c;
}

char **
proctitle_init(int argc, char **argv)
{
	char *end, **args, **env;
	size_t nenv = 0;

	if (argc < 1 || argv[0] == NULL)
		return argv;
	/* The area: strings laid end to end from argv[0], argv's then the
	 * environment's, as the kernel put them; stop at the first gap. */
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	while (environ != NULL && environ[nenv] != NULL)
		nenv++;
	for (size_t i = 0; i < nenv && environ[i] == end; i++)
		end = environ[i] + strlen(environ[i]) + 1;
	if ((args = copy_vector(argv, (size_t)argc)) == NULL)
		return argv;
	if ((env = copy_vector(environ, nenv)) == NULL) {
		for (int i = 0; i < argc; i++)
			free(args[i]);
		free(args);
		return argv;
	}
	environ = env;
	pt.start = argv[0];
	pt.len = (size_t)(end - argv[0]);
	pt.argv = args;
	return args;
}

void
proctitle_set(const char *fmt, ...)
{
	char title[1024];
	size_t n;
	va_list ap;

	if (pt.start == NULL || pt.len < 2)
		return;
	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	n = strlen(title);
	if (n > pt.len - 1)
		n = pt.len - 1;
	memcpy(pt.start, title, n);
	/* NULs to the end: the last byte stays NUL, so the kernel shows the
	 * area as it is and never reads on into what follows it. */
	memset(pt.start + n, '\0', pt.len - n);
}
