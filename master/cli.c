/*
 * cli — the client side of the control socket:
 *
 *   shoal status [--json]      shoal reload      shoal upgrade [--binary PATH]
 *   shoal scale N              shoal stop [--fast]
 *
 * each with [--control PATH] (or -c FILE to take control_socket from a
 * configuration file) and [--timeout SEC]. Sends one JSON request, waits
 * for the one-line answer and prints it. Exit status: 0 done, 1 the
 * operation failed (the reason is printed), 2 usage, 3 no master answers.
 */
#include "master/cli.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "common/config.h"
#include "common/util.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NO_MASTER 3

static const char cli_usage[] =
"usage: shoal status [--json]\n"
"       shoal reload\n"
"       shoal upgrade [--binary PATH]\n"
"       shoal scale N\n"
"       shoal stop [--fast]\n"
"options: --control PATH (default /tmp/shoal.sock), -c FILE (read\n"
"         control_socket from it), --timeout SEC (wait for the answer, 300)\n";

static int
usage(const char *msg, const char *arg)
{
	fprintf(stderr, "shoal: %s%s\n%s", msg, arg ? arg : "", cli_usage);
	return EXIT_USAGE;
}

/* Send request, read one line; NULL with a message printed on failure. */
static json_t *
call(const char *path, json_t *request, double timeout)
{
	struct sockaddr_un sun;
	struct buf { char *p; size_t len, cap; } in = { NULL, 0, 0 };
	struct pollfd pfd;
	json_error_t jerr;
	json_t *reply = NULL;
	double deadline = util_now() + timeout;
	char *text = NULL;
	int fd = -1, r;
	ssize_t n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "shoal: %s: path too long\n", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "shoal: cannot reach the master at %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	if ((text = json_dumps(request, JSON_COMPACT)) == NULL)
		goto out;
	if (write(fd, text, strlen(text)) == -1 || write(fd, "\n", 1) == -1) {
		fprintf(stderr, "shoal: write(%s): %s\n", path, strerror(errno));
		goto out;
	}
	for (;;) {
		double left = deadline - util_now();

		if (left <= 0) {
			fprintf(stderr, "shoal: no answer from the master within "
			    "%.0fs\n", timeout);
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (r == -1 && errno != EINTR)
			goto out;
		if (r <= 0)
			continue;            /* the deadline check above decides */
		if (in.cap - in.len < 4096) {
			char *p = realloc(in.p, in.cap + 65536);

			if (p == NULL)
				goto out;
			in.p = p;
			in.cap += 65536;
		}
		n = read(fd, in.p + in.len, in.cap - in.len - 1);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		in.len += (size_t)n;
		if (memchr(in.p, '\n', in.len) != NULL)
			break;
	}
	if (in.len == 0) {
		fprintf(stderr, "shoal: the master closed the connection without "
		    "an answer\n");
		goto out;
	}
	reply = json_loadb(in.p, in.len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (reply == NULL)
		fprintf(stderr, "shoal: unreadable answer: %s\n", jerr.text);
out:
	free(text);
	free(in.p);
	if (fd != -1)
		close(fd);
	return reply;
}

/* A process's Redis state in the status, or "" without one. */
static const char *
redis_state_of(json_t *proc)
{
	const char *st = json_string_value(json_object_get(json_object_get(proc,
	    "redis"), "state"));

	return st != NULL ? st : "";
}

/* With "redis": how many workers are connected, and which are not. */
static void
print_redis(json_t *st)
{
	json_t *procs = json_object_get(st, "processes"), *p;
	json_t *addr = json_object_get(json_object_get(st, "redis"), "address");
	size_t i, up = 0;
	char dur[32];

	if (!json_is_string(addr))
		return;
	json_array_foreach(procs, i, p)
		up += strcmp(redis_state_of(p), "up") == 0;
	printf("redis %s: %zu of %zu workers connected", json_string_value(addr),
	    up, json_array_size(procs));
	json_array_foreach(procs, i, p) {
		if (strcmp(redis_state_of(p), "up") == 0)
			continue;
		util_fmt_duration(json_number_value(json_object_get(
		    json_object_get(p, "redis"), "for")), dur, sizeof(dur));
		if (*redis_state_of(p) == '\0')     /* no client yet */
			printf("; slot %d (pid %d) starting",
			    (int)json_integer_value(json_object_get(p, "slot")),
			    (int)json_integer_value(json_object_get(p, "pid")));
		else
			printf("; slot %d (pid %d) %s for %s",
			    (int)json_integer_value(json_object_get(p, "slot")),
			    (int)json_integer_value(json_object_get(p, "pid")),
			    redis_state_of(p), dur);
	}
	printf("\n");
}

static void
print_table(json_t *st)
{
	json_t *procs = json_object_get(st, "processes"), *p;
	char up[32];
	size_t i;

	printf("master pid %d  shoal %s  %s  generation %d  %d workers%s%s\n",
	    (int)json_integer_value(json_object_get(st, "pid")),
	    json_string_value(json_object_get(st, "version")),
	    json_string_value(json_object_get(st, "state")),
	    (int)json_integer_value(json_object_get(st, "generation")),
	    (int)json_integer_value(json_object_get(st, "workers")),
	    json_is_string(json_object_get(st, "operation")) ? "  operation " : "",
	    json_is_string(json_object_get(st, "operation")) ?
	    json_string_value(json_object_get(st, "operation")) : "");
	printf("%-5s %-8s %-4s %-12s %-9s %-9s %-10s %-6s\n", "SLOT", "PID",
	    "GEN", "STATE", "UPTIME", "RESTARTS", "REQUESTS", "CONNS");
	json_array_foreach(procs, i, p) {
		util_fmt_duration(json_number_value(json_object_get(p, "uptime")),
		    up, sizeof(up));
		printf("%-5d %-8d %-4d %-12s %-9s %-9d %-10lld %-6lld%s\n",
		    (int)json_integer_value(json_object_get(p, "slot")),
		    (int)json_integer_value(json_object_get(p, "pid")),
		    (int)json_integer_value(json_object_get(p, "generation")),
		    json_string_value(json_object_get(p, "state")), up,
		    (int)json_integer_value(json_object_get(p, "restarts")),
		    (long long)json_integer_value(json_object_get(p, "requests")),
		    (long long)json_integer_value(json_object_get(p, "connections")),
		    json_is_true(json_object_get(p, "crash_looping")) ?
		    "  crash-looping" : "");
	}
	printf("total requests %lld\n", (long long)json_integer_value(
	    json_object_get(json_object_get(st, "totals"), "requests")));
	print_redis(st);
}

bool
cli_is_command(const char *arg)
{
	static const char *const cmds[] = { "status", "reload", "upgrade",
	    "scale", "stop", NULL };

	for (size_t i = 0; cmds[i] != NULL; i++)
		if (strcmp(arg, cmds[i]) == 0)
			return true;
	return false;
}

int
cli_main(int argc, char **argv)
{
	const char *cmd = argv[1], *control = NULL, *config_path = NULL;
	const char *binary = NULL;
	json_t *req = NULL, *reply = NULL;
	bool json_out = false, fast = false;
	double timeout = 300;
	long workers = 0;
	char err[1024];
	int rc = EXIT_USAGE;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;

		if (strcmp(a, "--json") == 0 && strcmp(cmd, "status") == 0)
			json_out = true;
		else if (strcmp(a, "--fast") == 0 && strcmp(cmd, "stop") == 0)
			fast = true;
		else if (strcmp(a, "--control") == 0 && more)
			control = argv[++i];
		else if (strcmp(a, "-c") == 0 && more)
			config_path = argv[++i];
		else if (strcmp(a, "--binary") == 0 && more &&
		    strcmp(cmd, "upgrade") == 0)
			binary = argv[++i];
		else if (strcmp(a, "--timeout") == 0 && more)
			timeout = atof(argv[++i]);
		else if (strcmp(cmd, "scale") == 0 && workers == 0 &&
		    (workers = strtol(a, NULL, 10)) > 0)
			continue;
		else
			return usage("unexpected argument: ", a);
	}
	if (strcmp(cmd, "scale") == 0 && (workers < 1 ||
	    workers > CONFIG_MAX_WORKERS))
		return usage("scale needs a worker count from 1 to 512", NULL);
	if (control == NULL && config_path != NULL) {
		struct config cfg;

		if (config_load(&cfg, config_path, NULL, err, sizeof(err)) == -1) {
			fprintf(stderr, "shoal: %s\n", err);
			return EXIT_USAGE;
		}
		static char path[4096];

		snprintf(path, sizeof(path), "%s", cfg.control_socket ?
		    cfg.control_socket : "");
		control = path;
		config_free(&cfg);
		if (*control == '\0') {
			fprintf(stderr, "shoal: %s sets no control_socket\n",
			    config_path);
			return EXIT_USAGE;
		}
	}
	if (control == NULL)
		control = "/tmp/shoal.sock";

	req = json_pack("{s:i, s:s}", "v", 1, "cmd", cmd);
	if (binary != NULL)
		json_object_set_new(req, "binary", json_string(binary));
	if (workers > 0)
		json_object_set_new(req, "workers", json_integer(workers));
	if (fast)
		json_object_set_new(req, "fast", json_true());
	if ((reply = call(control, req, timeout)) == NULL) {
		rc = EXIT_NO_MASTER;
		goto out;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "shoal %s: %s\n", cmd,
		    json_string_value(json_object_get(reply, "error")));
		rc = EXIT_FAILED;
		goto out;
	}
	if (strcmp(cmd, "status") == 0) {
		json_t *st = json_object_get(reply, "status");

		if (json_out) {
			char *text = json_dumps(st, JSON_INDENT(2));

			printf("%s\n", text ? text : "{}");
			free(text);
		} else {
			print_table(st);
		}
	} else {
		printf("shoal %s: %s\n", cmd,
		    json_string_value(json_object_get(reply, "message")));
	}
	rc = 0;
out:
	json_decref(req);
	json_decref(reply);
	return rc;
}
