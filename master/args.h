/*
 * args — the command line, read in one pass whatever the order:
 *
 *   shoal [-c FILE] [--KEY VALUE]...           run the server
 *   shoal --check [-c FILE] [--KEY VALUE]...   validate the configuration
 *   shoal COMMAND [N] [OPTIONS]                talk to a running master
 *
 * Options may stand before or after the command (`shoal -c f.json status`
 * and `shoal status -c f.json` are one thing). Numbers are strict: a
 * worker count is digits from 1 to 512 ("2x" is an error, not 2), a
 * timeout a positive number of seconds. Every configuration key is a flag
 * (config.h knows them: this file never lists them); of those only the
 * control socket (--control, --control-socket) goes with a command.
 *
 * Pure: it prints nothing and exits nowhere (args_help writes to the
 * stream it is given), so the unit tests drive it directly.
 */
#ifndef SHOAL_ARGS_H
#define SHOAL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* What the command line asks for. */
enum args_mode {
	ARGS_RUN,
	ARGS_CHECK,
	ARGS_CLIENT,                 /* a command: status, reload, ... */
	ARGS_HELP,                   /* of the command if one was named */
	ARGS_VERSION,
	ARGS_KEYS,                   /* --keys: every configuration key */
	ARGS_HANDLERS,               /* --handlers: every built-in handler */
};

/* Default of --timeout: how long a command waits for the master's answer. */
#define ARGS_TIMEOUT_DEFAULT 300.0

struct args {
	enum args_mode mode;
	const char *command;         /* "status", ...; NULL: none named */
	const char *config_path;     /* -c FILE; NULL: the embedded default */
	json_t *overrides;           /* the --KEY VALUE flags, for config_load */
	/* Commands only. */
	const char *control;         /* --control PATH; NULL: not given */
	bool json;                   /* status --json */
	bool fast;                   /* stop --fast */
	const char *binary;          /* upgrade --binary PATH */
	double timeout;              /* --timeout SEC */
	unsigned workers;            /* scale N */
};

/*
 * Read argv into a (its strings point into argv). 0, or -1 with the
 * reason in err: a usage error, for exit status 2. Either way a owns
 * a->overrides until args_free. --help wins over any error after it.
 */
int args_parse(int argc, char **argv, struct args *a, char *err,
    size_t errlen);

/* Free what args_parse allocated. */
void args_free(struct args *a);

/* True if word names a command (status, reload, ...). */
bool args_is_command(const char *word);

/*
 * Write the help: of command (NULL: the whole of it, with every option
 * and configuration flag) to out.
 */
void args_help(FILE *out, const char *command);

#endif
