/*
 * args — see args.h.
 *
 * One pass over argv: options (client-only, server-only, and every
 * configuration key through config_override), at most one command word,
 * and for "scale" its count. Then the combination is checked: an option
 * of one command given to another, or a client option without a command,
 * is a usage error naming both, never silently ignored.
 */
#include "master/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"

/* The commands: name, what follows it, what it does, its own options. */
struct args_command {
	const char *name;
	const char *synopsis;
	const char *summary;
	const char *options;         /* lines "  OPTION\tmeaning\n"; NULL */
};

static const struct args_command args_commands[] = {
	{ "status", "status [--json]", "table (or JSON) of slots, pids, "
	  "generations, states, restarts",
	  "  --json\tthe status object as JSON\n" },
	{ "reload", "reload", "re-read the configuration: a new generation "
	  "starts, the old one drains (SIGHUP)", NULL },
	{ "upgrade", "upgrade [--binary PATH]", "exec a (new) binary on the "
	  "same sockets (SIGUSR2)",
	  "  --binary PATH\tthe binary to run (default: the running one's "
	  "path)\n" },
	{ "scale", "scale N", "run N workers, 1 to 512 (SIGTTIN/SIGTTOU: one "
	  "more, one less)", NULL },
	{ "reopen", "reopen", "reopen the log files after rotation (SIGUSR1)",
	  NULL },
	{ "stop", "stop [--fast]", "graceful stop: in-flight requests finish "
	  "(SIGTERM)",
	  "  --fast\tstop now, without waiting for requests (SIGINT)\n" },
};

static const char args_client_options[] =
"  --control PATH\tthe master's control socket (default /tmp/shoal.sock)\n"
"  -c FILE\tread control_socket from this configuration file\n"
"  --timeout SEC\thow long to wait for the outcome (default 300)\n";

static const char args_exit_status[] =
"Exit status: 0 done, 1 the operation failed (the reason is printed),\n"
"2 usage error, 3 no master answers.\n";

static const struct args_command *
find_command(const char *word)
{
	for (size_t i = 0; i < ARRAY_SIZE(args_commands); i++)
		if (strcmp(word, args_commands[i].name) == 0)
			return &args_commands[i];
	return NULL;
}

bool
args_is_command(const char *word)
{
	return find_command(word) != NULL;
}

static int __attribute__((format(printf, 3, 4)))
args_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A worker count: digits only, 1 to CONFIG_MAX_WORKERS. */
static int
parse_count(const char *s, unsigned *out)
{
	unsigned long n = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++)
		if ((n = n * 10 + (unsigned long)(*p - '0')) > CONFIG_MAX_WORKERS)
			return -1;
	if (p == s || *p != '\0' || n < 1)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Seconds: a finite number above 0, at most a day, nothing after it. */
static int
parse_seconds(const char *s, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) ||
	    !(d > 0 && d <= 86400))
		return -1;
	*out = d;
	return 0;
}

/* The first flag in overrides that is not the control socket's, or NULL. */
static const char *
server_flag(const json_t *overrides)
{
	const char *key;
	json_t *v;

	/* jansson iterates only mutable objects; nothing is changed. */
	json_object_foreach((json_t *)(uintptr_t)overrides, key, v)
		if (strcmp(key, "control_socket") != 0)
			return key;
	return NULL;
}

/* The options that go with commands only, as the user typed them. */
struct seen {
	const char *json, *fast, *binary, *timeout;
};

/* Check what was read fits together and set a->mode. */
static int
settle(struct args *a, const struct seen *seen, bool check, char *err,
    size_t errlen)
{
	const char *key;
	json_t *ctl;

	if (a->command == NULL) {
		const char *opt = seen->json ? "--json" : seen->fast ? "--fast" :
		    seen->binary ? "--binary" : NULL;

		if (opt != NULL)
			return args_fail(err, errlen, "%s is an option of 'shoal %s'", opt,
			    seen->json ? "status" : seen->fast ? "stop" : "upgrade");
		if (seen->timeout != NULL)
			return args_fail(err, errlen, "--timeout is an option of the "
			    "commands (status, reload, ...), not of the server");
		a->mode = check ? ARGS_CHECK : ARGS_RUN;
		return 0;
	}
	if (check)
		return args_fail(err, errlen, "--check does not go with '%s'",
		    a->command);
	if (seen->json && strcmp(a->command, "status") != 0)
		return args_fail(err, errlen, "--json is an option of 'shoal status', "
		    "not of '%s'", a->command);
	if (seen->fast && strcmp(a->command, "stop") != 0)
		return args_fail(err, errlen, "--fast is an option of 'shoal stop', "
		    "not of '%s'", a->command);
	if (seen->binary && strcmp(a->command, "upgrade") != 0)
		return args_fail(err, errlen, "--binary is an option of 'shoal "
		    "upgrade', not of '%s'", a->command);
	if (strcmp(a->command, "scale") == 0 && a->workers == 0)
		return args_fail(err, errlen, "scale needs a worker count: shoal scale "
		    "N (1 to %d)", CONFIG_MAX_WORKERS);
	if ((key = server_flag(a->overrides)) != NULL) {
		char flag[64];
		size_t i;

		for (i = 0; key[i] != '\0' && i + 1 < sizeof(flag); i++)
			flag[i] = key[i] == '_' ? '-' : key[i];
		flag[i] = '\0';
		return args_fail(err, errlen, "--%s is an option of the server, not of "
		    "'%s'", flag, a->command);
	}
	ctl = json_object_get(a->overrides, "control_socket");
	if (json_is_null(ctl))
		return args_fail(err, errlen, "--control null: '%s' needs a control "
		    "socket to talk to the master", a->command);
	if (json_is_string(ctl))
		a->control = json_string_value(ctl);
	a->mode = ARGS_CLIENT;
	return 0;
}

/* One --NAME[=VALUE] at argv[*i] (VALUE from the next word if no '='). */
static int
long_option(int argc, char **argv, int *i, struct args *a, struct seen *seen,
    char *err, size_t errlen)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '='), *value;
	char name[64];

	if (strcmp(arg, "json") == 0 || strcmp(arg, "fast") == 0) {
		if (arg[0] == 'j') {
			seen->json = argv[*i];
			a->json = true;
		} else {
			seen->fast = argv[*i];
			a->fast = true;
		}
		return 0;
	}
	if (eq != NULL) {
		if ((size_t)(eq - arg) >= sizeof(name))
			return args_fail(err, errlen, "unknown option --%.*s", 40, arg);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
		value = eq + 1;
	} else {
		if (strlen(arg) >= sizeof(name))
			return args_fail(err, errlen, "unknown option --%.40s", arg);
		snprintf(name, sizeof(name), "%s", arg);
		if (*i + 1 >= argc)
			return args_fail(err, errlen, "--%s needs a value", name);
		value = argv[++*i];
	}
	if (strcmp(name, "config") == 0) {
		a->config_path = value;
	} else if (strcmp(name, "binary") == 0) {
		seen->binary = value;
		a->binary = value;
	} else if (strcmp(name, "timeout") == 0) {
		seen->timeout = value;
		if (parse_seconds(value, &a->timeout) == -1)
			return args_fail(err, errlen, "--timeout: expected a number of "
			    "seconds above 0, at most 86400, got \"%.64s\"", value);
	} else {
		if (strcmp(name, "control") == 0)
			snprintf(name, sizeof(name), "control-socket");
		if (config_override(a->overrides, name, value, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* One word that is no option: the command, or scale's count. */
static int
word(const char *w, struct args *a, char *err, size_t errlen)
{
	if (a->command == NULL && find_command(w) != NULL) {
		a->command = find_command(w)->name;
		return 0;
	}
	if (a->command != NULL && strcmp(a->command, "scale") == 0 &&
	    a->workers == 0) {
		if (parse_count(w, &a->workers) == -1)
			return args_fail(err, errlen, "scale: expected a worker count "
			    "from 1 to %d, got \"%.64s\"", CONFIG_MAX_WORKERS, w);
		return 0;
	}
	if (a->command == NULL)
		return args_fail(err, errlen, "unknown command '%.64s' (commands: "
		    "status, reload, upgrade, scale, reopen, stop)", w);
	return args_fail(err, errlen, "unexpected argument '%.64s' after '%s'", w,
	    a->command);
}

int
args_parse(int argc, char **argv, struct args *a, char *err, size_t errlen)
{
	struct seen seen = { NULL, NULL, NULL, NULL };
	bool check = false, help = false, version = false;
	enum args_mode list = ARGS_RUN;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	a->timeout = ARGS_TIMEOUT_DEFAULT;
	if ((a->overrides = json_object()) == NULL)
		return args_fail(err, errlen, "out of memory");
	/* --help anywhere wins, even over an error after it is found. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			help = true;
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
			continue;
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
			version = true;
		else if (strcmp(arg, "--keys") == 0)
			list = ARGS_KEYS;
		else if (strcmp(arg, "--handlers") == 0)
			list = ARGS_HANDLERS;
		else if (strcmp(arg, "-t") == 0 || strcmp(arg, "--check") == 0)
			check = true;
		else if (strcmp(arg, "-c") == 0) {
			if (i + 1 >= argc)
				rc = args_fail(err, errlen, "-c needs a file");
			else
				a->config_path = argv[++i];
		} else if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0')
			rc = long_option(argc, argv, &i, a, &seen, err, errlen);
		else if (arg[0] == '-')
			rc = args_fail(err, errlen, "unknown option '%.64s'", arg);
		else
			rc = word(arg, a, err, errlen);
	}
	if (help) {
		/* The command is the first command word, wherever it stood. */
		for (int i = 1; a->command == NULL && i < argc; i++)
			if (find_command(argv[i]) != NULL)
				a->command = find_command(argv[i])->name;
		a->mode = ARGS_HELP;
		return 0;
	}
	if (rc == -1)
		return -1;
	if (version || list != ARGS_RUN) {
		a->mode = version ? ARGS_VERSION : list;
		return 0;
	}
	return settle(a, &seen, check, err, errlen);
}

void
args_free(struct args *a)
{
	json_decref(a->overrides);
	a->overrides = NULL;
}

/* One option and its meaning, the meaning in a column from 30, wrapped
 * at 50 characters. */
static void
row(FILE *out, const char *opt, int optlen, const char *text, int textlen)
{
	int col = fprintf(out, "%.*s", optlen, opt), cut;

	while (textlen > 0) {
		cut = textlen;
		if (cut > 50) {
			for (cut = 50; cut > 0 && text[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = 50;
		}
		if (col >= 29) {
			fputc('\n', out);
			col = 0;
		}
		fprintf(out, "%*s%.*s\n", 29 - col, "", cut, text);
		col = 0;
		text += cut;
		textlen -= cut;
		for (; textlen > 0 && *text == ' '; textlen--)
			text++;
	}
}

/* Lines "  OPTION\tmeaning\n" as rows; a line without a tab as it is. */
static void
table(FILE *out, const char *lines)
{
	const char *p = lines, *nl, *tab;

	for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		tab = memchr(p, '\t', (size_t)(nl - p));
		if (tab == NULL)
			fprintf(out, "%.*s\n", (int)(nl - p), p);
		else
			row(out, p, (int)(tab - p), tab + 1, (int)(nl - tab - 1));
	}
}

/* Every key of the configuration, as a flag (file-only keys named). */
static void
config_flags(FILE *out)
{
	struct config_key_info ki;
	char line[512], flag[64];
	bool any_file_only = false;

	for (size_t i = 0; config_key_info(i, &ki); i++) {
		size_t j;

		if (!ki.flag)
			continue;
		for (j = 0; ki.name[j] != '\0' && j + 1 < sizeof(flag); j++)
			flag[j] = ki.name[j] == '_' ? '-' : ki.name[j];
		flag[j] = '\0';
		snprintf(line, sizeof(line), "  --%s %s\t%s%s%s%s%s\n", flag, ki.arg,
		    ki.help, ki.repeated ? " (repeatable)" : "",
		    ki.def[0] ? " [" : "", ki.def, ki.def[0] ? "]" : "");
		table(out, line);
	}
	fputs("File only (no flag):", out);
	for (size_t i = 0; config_key_info(i, &ki); i++)
		if (!ki.flag) {
			fprintf(out, "%s %s", any_file_only ? "," : "", ki.name);
			any_file_only = true;
		}
	fputs(".\n", out);
}

void
args_help(FILE *out, const char *command)
{
	const struct args_command *c = command ? find_command(command) : NULL;
	char line[256];

	if (c != NULL) {
		fprintf(out, "usage: shoal %s [--control PATH | -c FILE] "
		    "[--timeout SEC]\n\n%c%s.\n\n", c->synopsis,
		    c->summary[0] - 'a' + 'A', c->summary + 1);
		if (c->options != NULL)
			table(out, c->options);
		table(out, args_client_options);
		fprintf(out, "\n%s", args_exit_status);
		return;
	}
	fputs("usage: shoal [-c FILE] [OPTIONS]            run the server in the "
	    "foreground\n"
	    "       shoal --check [-c FILE] [OPTIONS]    validate: exit 0, or 2 "
	    "with why\n"
	    "       shoal COMMAND [OPTIONS]              talk to the running "
	    "master\n"
	    "       shoal [COMMAND] --help | --version | --keys | --handlers\n\n"
	    "Options may come before or after the command.\n\nCommands:\n", out);
	for (size_t i = 0; i < ARRAY_SIZE(args_commands); i++) {
		snprintf(line, sizeof(line), "  %s\t%s\n", args_commands[i].synopsis,
		    args_commands[i].summary);
		table(out, line);
	}
	fputs("\nOptions:\n", out);
	table(out,
	    "  -c, --config FILE\tthe JSON configuration (default: the embedded "
	    "one: 127.0.0.1:8080, a worker per CPU)\n"
	    "  -t, --check\tcheck the configuration as a start would (files, "
	    "users, CPUs; loading its modules as a worker would) and exit\n"
	    "  -h, --help\tthis help; COMMAND --help: that command's\n"
	    "  -V, --version\tthe version\n"
	    "  --keys, --handlers\tevery configuration key, every built-in "
	    "handler, one a line\n");
	fputs("\nOptions of the commands:\n", out);
	for (size_t i = 0; i < ARRAY_SIZE(args_commands); i++)
		if (args_commands[i].options != NULL) {
			const char *o = args_commands[i].options;
			const char *tab = strchr(o, '\t');

			snprintf(line, sizeof(line), "%.*s\t%s: %s", (int)(tab - o), o,
			    args_commands[i].name, tab + 1);
			table(out, line);
		}
	table(out, args_client_options);
	fputs("\nConfiguration: every key of the file is also a flag, which "
	    "overrides the\nfile; \"null\" unsets a name or path (--control "
	    "null: no control socket).\n", out);
	table(out, "  --control PATH\tshort for --control-socket\n");
	config_flags(out);
	fputs("\nSignals to the master: HUP reload, USR2 upgrade, TTIN/TTOU "
	    "one worker\nmore/less, USR1 reopen logs, TERM/QUIT graceful stop, INT "
	    "fast stop.\n\nExit status of the server: 0 stopped, 1 failed to "
	    "start or its workers\ncannot boot, 2 invalid configuration (--check: "
	    "0 valid, 2 not).\nOf a command: 0 done, 1 the operation failed (the "
	    "reason is printed),\n2 usage error, 3 no master answers.\n", out);
}
