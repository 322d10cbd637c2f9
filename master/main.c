/*
 * main — the command line: parse flags, load and check the configuration,
 * then hand over to the master.
 *
 *   shoal [-c FILE] [--KEY VALUE]...     run
 *   shoal --check [-c FILE] [--KEY VALUE]...
 *
 * Every configuration key is also a long flag (worker_timeout ->
 * --worker-timeout); the config module knows them all, so this file only
 * splits argv and never duplicates that list.
 *
 * Exit status: 0 ok, 1 runtime failure (bind, fork...), 2 usage or
 * configuration error.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "master/cli.h"
#include "master/master.h"
#include "worker/app/check.h"
#include "worker/app/registry.h"

#define EXIT_USAGE 2

static const char usage_text[] =
"usage: shoal [-c FILE] [OPTIONS]          run the server\n"
"       shoal --check [-c FILE] [OPTIONS]  validate the configuration, exit 0 or 2\n"
"       shoal status|reload|upgrade|scale N|stop [--control PATH]\n"
"       shoal --help | --version | --keys | --handlers\n"
"\n"
"  -c, --config FILE         JSON configuration file (default: the embedded one:\n"
"                            listen 127.0.0.1:8080, one worker per CPU)\n"
"  -t, --check               validate the configuration (loading its modules,\n"
"                            as a worker would) and exit\n"
"  --keys, --handlers        list every configuration key, every built-in\n"
"                            handler, one a line\n"
"\n"
"Every configuration key is also a flag, and a flag overrides the file:\n"
"  --listen ADDR             host:port, [v6]:port, *:port, unix:/path\n"
"                            (repeatable; replaces the file's list)\n"
"  --trusted-proxies CIDR    peers whose X-Forwarded-For is believed; \"unix\"\n"
"                            for Unix-socket peers (repeatable)\n"
"  --workers N|auto          worker processes (auto: CPUs this process may use)\n"
"  --worker-timeout SEC      heartbeat silence before a worker is killed (30)\n"
"  --graceful-timeout SEC    how long a stop waits for in-flight requests (30)\n"
"  --respawn-delay-min SEC   backoff after repeated quick crashes (0.1)\n"
"  --respawn-delay-max SEC   backoff cap (30)\n"
"  --backlog N               listen backlog per socket (1024)\n"
"  --pid-file PATH           write the master's pid there\n"
"  --log-file PATH           log there instead of stderr (SIGUSR1 reopens)\n"
"  --log-level LEVEL         error, warn, notice, info (default), debug\n"
"  --max-body-size N, --header-timeout SEC, ... (see README: Configuration)\n"
"\n"
"  --control PATH           control socket (default /tmp/shoal.sock)\n"
"  --ready-timeout SEC       new workers must be ready within it (30)\n"
"\n"
"Signals to the master: HUP reload, USR2 upgrade, TTIN/TTOU one worker more/\n"
"less, TERM/QUIT graceful stop, INT fast stop, USR1 reopen logs.\n";

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shoal: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'shoal --help'.\n");
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL;
	json_t *overrides = NULL;
	struct config cfg;
	char err[1024];
	bool check = false;
	int rc = EXIT_USAGE;

	if (argc > 1 && cli_is_command(argv[1]))
		return cli_main(argc, argv);
	if ((overrides = json_object()) == NULL)
		return 1;
	/* Routes name handlers: the registry checks them at load time, so a
	 * bad route fails --check and start-up, not a worker's boot. */
	config_set_route_check(registry_check_route);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;
		char name[64];

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage_text, stdout);
			rc = 0;
			goto out;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			printf("shoal %s\n", SHOAL_VERSION);
			rc = 0;
			goto out;
		}
		/* For scripts and tests: what the documentation must cover. */
		if (strcmp(arg, "--keys") == 0 || strcmp(arg, "--handlers") == 0) {
			const char *item;

			for (size_t k = 0; (item = arg[2] == 'k' ?
			    config_key_name(k) : registry_builtin_name(k)) != NULL;
			    k++)
				puts(item);
			rc = 0;
			goto out;
		}
		if (strcmp(arg, "-t") == 0 || strcmp(arg, "--check") == 0) {
			check = true;
			continue;
		}
		if (strcmp(arg, "-c") == 0) {
			if (++i == argc) {
				rc = usage_error("%s needs a file", arg);
				goto out;
			}
			config_path = argv[i];
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			rc = usage_error("unexpected argument '%s'", arg);
			goto out;
		}
		arg += 2;
		if ((eq = strchr(arg, '=')) != NULL) {
			value = eq + 1;
			snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
		} else {
			snprintf(name, sizeof(name), "%s", arg);
			if (i + 1 == argc) {
				rc = usage_error("--%s needs a value", name);
				goto out;
			}
			value = argv[++i];
		}
		if (strcmp(name, "config") == 0) {
			config_path = value;
			continue;
		}
		if (strcmp(name, "control") == 0)
			snprintf(name, sizeof(name), "control-socket");
		if (config_override(overrides, name, value, err, sizeof(err)) == -1) {
			rc = usage_error("%s", err);
			goto out;
		}
	}

	if (config_load(&cfg, config_path, overrides, err, sizeof(err)) == -1) {
		fprintf(stderr, "shoal: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
	}
	/* Only a check loads application code, in this process that ends
	 * here; the master never does. */
	if (check && app_check_config(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "shoal: %s\n", err);
		config_free(&cfg);
		rc = EXIT_USAGE;
		goto out;
	}
	if (check) {
		printf("shoal: configuration %s is valid\n", cfg.source);
		config_free(&cfg);
		rc = 0;
		goto out;
	}
	/* overrides stay with the master: a reload applies them again */
	return master_main(&cfg, config_path, overrides, argv);
out:
	json_decref(overrides);
	return rc;
}
