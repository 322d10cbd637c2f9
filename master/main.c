/*
 * main — the entry: read the command line (args.c), then run the server
 * (master.c), check the configuration, or run a command against a running
 * master (cli.c).
 *
 * Exit status: 0 ok, 1 runtime failure (bind, fork, workers that cannot
 * boot...), 2 usage or configuration error.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "master/args.h"
#include "master/cli.h"
#include "master/master.h"
#include "master/preflight.h"
#include "master/proctitle.h"
#include "worker/app/check.h"
#include "worker/app/registry.h"

#define EXIT_USAGE 2

int
main(int argc, char **argv)
{
	struct args a;
	struct config cfg;
	const char *item;
	char err[1024];
	int rc = EXIT_USAGE;

	/* First: from here on argv is a copy, the original area becomes the
	 * title ps shows. */
	argv = proctitle_init(argc, argv);
	/* Routes name handlers: the registry checks them at load time, so a
	 * bad route fails --check and start-up, not a worker's boot. */
	config_set_route_check(registry_check_route);
	if (args_parse(argc, argv, &a, err, sizeof(err)) == -1) {
		fprintf(stderr, "shoal: %s\nTry 'shoal %s%s--help'.\n", err,
		    a.command ? a.command : "", a.command ? " " : "");
		goto out;
	}
	switch (a.mode) {
	case ARGS_HELP:
		args_help(stdout, a.command);
		rc = 0;
		break;
	case ARGS_VERSION:
		printf("shoal %s\n", SHOAL_VERSION);
		rc = 0;
		break;
	case ARGS_KEYS:
	case ARGS_HANDLERS:
		/* For scripts and tests: what the documentation must cover. */
		for (size_t k = 0; (item = a.mode == ARGS_KEYS ?
		    config_key_name(k) : registry_builtin_name(k)) != NULL; k++)
			puts(item);
		rc = 0;
		break;
	case ARGS_CLIENT:
		rc = cli_main(&a);
		break;
	case ARGS_CHECK:
	case ARGS_RUN:
		if (config_load(&cfg, a.config_path, a.overrides, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "shoal: %s\n", err);
			break;
		}
		if (a.mode == ARGS_CHECK) {
			/* Only a check loads application code, in a child switched
			 * to the workers' user that ends there; the master never
			 * does (its workers fail at boot instead). */
			preflight_set_worker_check(app_check_config);
			rc = master_check(&cfg);
			config_free(&cfg);
			break;
		}
		/* The overrides stay with the master: a reload applies them
		 * again. */
		rc = master_main(&cfg, a.config_path, a.overrides, argv);
		a.overrides = NULL;
		break;
	}
out:
	args_free(&a);
	return rc;
}
