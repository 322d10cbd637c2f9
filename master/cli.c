/*
 * cli — the client side of the control socket:
 *
 *   shoal status [--json]      shoal reload      shoal upgrade [--binary PATH]
 *   shoal scale N              shoal reopen      shoal stop [--fast]
 *
 * each with [--control PATH] (or -c FILE to take control_socket from a
 * configuration file) and [--timeout SEC], read by args.c. Sends one JSON
 * request, waits for the one-line answer and prints it. Exit status: 0
 * done, 1 the operation failed (the reason is printed), 2 usage, 3 no
 * master answers.
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
#include "master/args.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NO_MASTER 3
#define CONTROL_DEFAULT "/tmp/shoal.sock"

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

/* A process's Redis connection's state in the status ("up"), or "" without
 * one: the command connection's, or with sub the subscriber's. */
static const char *
redis_state_of(json_t *proc, bool sub)
{
	json_t *r = json_object_get(proc, "redis");
	const char *st = json_string_value(json_object_get(sub ?
	    json_object_get(r, "pubsub") : r, "state"));

	return st != NULL ? st : "";
}

/* With "redis": how many workers are connected (sub: their channels'
 * subscriber connections, once they have one), and which are not. */
static void
print_redis_line(json_t *st, bool sub)
{
	json_t *procs = json_object_get(st, "processes"), *p, *r;
	json_t *addr = json_object_get(json_object_get(st, "redis"), "address");
	size_t i, up = 0, n = 0;
	char dur[32];

	if (!json_is_string(addr))
		return;
	json_array_foreach(procs, i, p) {
		n += !sub || *redis_state_of(p, true) != '\0';
		up += strcmp(redis_state_of(p, sub), "up") == 0;
	}
	if (n == 0)
		return;
	printf("redis %s%s: %zu of %zu workers %s", json_string_value(addr),
	    sub ? " (channels)" : "", up, n, sub ? "subscribed" : "connected");
	json_array_foreach(procs, i, p) {
		if (strcmp(redis_state_of(p, sub), "up") == 0 ||
		    (sub && *redis_state_of(p, true) == '\0'))
			continue;
		r = json_object_get(p, "redis");
		util_fmt_duration(json_number_value(json_object_get(sub ?
		    json_object_get(r, "pubsub") : r, "for")), dur, sizeof(dur));
		if (*redis_state_of(p, sub) == '\0')     /* no client yet */
			printf("; slot %d (pid %d) starting",
			    (int)json_integer_value(json_object_get(p, "slot")),
			    (int)json_integer_value(json_object_get(p, "pid")));
		else
			printf("; slot %d (pid %d) %s for %s",
			    (int)json_integer_value(json_object_get(p, "slot")),
			    (int)json_integer_value(json_object_get(p, "pid")),
			    redis_state_of(p, sub), dur);
	}
	printf("\n");
}

/* The channels' counters over the workers alive, once they have any. */
static void
print_channels(json_t *st)
{
	static const char *const keys[] = { "subscribers", "published",
	    "delivered", "publish_failed", "dropped", "slow_closed",
	    "relay_dropped" };
	json_t *procs = json_object_get(st, "processes"), *p;
	long long sum[sizeof(keys) / sizeof(keys[0])] = { 0 }, any = 0;
	size_t i, k;

	json_array_foreach(procs, i, p)
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			sum[k] += json_integer_value(json_object_get(
			    json_object_get(p, "channels"), keys[k]));
			any |= sum[k];
		}
	if (!any)
		return;
	printf("channels: %lld subscribers, %lld published, %lld delivered, "
	    "%lld publish failed, %lld dropped, %lld slow closed, %lld relay "
	    "dropped\n", sum[0], sum[1], sum[2], sum[3], sum[4], sum[5],
	    sum[6]);
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
	printf("%-5s %-8s %-4s %-12s %-9s %-9s %-10s %-6s %s\n", "SLOT", "PID",
	    "GEN", "STATE", "UPTIME", "RESTARTS", "REQUESTS", "CONNS",
	    "LAST RESTART");
	json_array_foreach(procs, i, p) {
		const char *last = json_string_value(json_object_get(p,
		    "last_restart"));

		util_fmt_duration(json_number_value(json_object_get(p, "uptime")),
		    up, sizeof(up));
		printf("%-5d %-8d %-4d %-12s %-9s %-9d %-10lld %-6lld %s%s\n",
		    (int)json_integer_value(json_object_get(p, "slot")),
		    (int)json_integer_value(json_object_get(p, "pid")),
		    (int)json_integer_value(json_object_get(p, "generation")),
		    json_string_value(json_object_get(p, "state")), up,
		    (int)json_integer_value(json_object_get(p, "restarts")),
		    (long long)json_integer_value(json_object_get(p, "requests")),
		    (long long)json_integer_value(json_object_get(p, "connections")),
		    last ? last : "-",
		    json_is_true(json_object_get(p, "crash_looping")) ?
		    "  crash-looping" : "");
	}
	/* Slots without a worker: waiting out a respawn delay. */
	json_array_foreach(json_object_get(st, "slots"), i, p) {
		if (json_integer_value(json_object_get(p, "pid")) != 0)
			continue;
		printf("%-5d %-8s %-4s %-12s %-9s %-9d respawn in %.1fs%s\n",
		    (int)json_integer_value(json_object_get(p, "slot")), "-", "-",
		    json_string_value(json_object_get(p, "state")), "-",
		    (int)json_integer_value(json_object_get(p, "restarts")),
		    json_number_value(json_object_get(p, "respawn_in")),
		    json_is_true(json_object_get(p, "crash_looping")) ?
		    "  crash-looping" : "");
	}
	printf("total requests %lld\n", (long long)json_integer_value(
	    json_object_get(json_object_get(st, "totals"), "requests")));
	print_channels(st);
	print_redis_line(st, false);
	print_redis_line(st, true);
}

/* The control socket: --control, else the -c file's control_socket, else
 * the default. NULL (said why) if the file cannot say. */
static const char *
control_path(const struct args *a, char *buf, size_t len)
{
	struct config cfg;
	char err[1024];

	if (a->control != NULL)
		return a->control;
	if (a->config_path == NULL)
		return CONTROL_DEFAULT;
	if (config_load(&cfg, a->config_path, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "shoal: %s\n", err);
		return NULL;
	}
	snprintf(buf, len, "%s", cfg.control_socket ? cfg.control_socket : "");
	config_free(&cfg);
	if (*buf == '\0') {
		fprintf(stderr, "shoal: %s sets no control_socket (null): give "
		    "--control PATH\n", a->config_path);
		return NULL;
	}
	return buf;
}

int
cli_main(const struct args *a)
{
	const char *cmd = a->command, *control;
	json_t *req = NULL, *reply = NULL;
	char path[4096];
	int rc = EXIT_USAGE;

	if ((control = control_path(a, path, sizeof(path))) == NULL)
		return EXIT_USAGE;
	req = json_pack("{s:i, s:s}", "v", 1, "cmd", cmd);
	if (a->binary != NULL)
		json_object_set_new(req, "binary", json_string(a->binary));
	if (a->workers > 0)
		json_object_set_new(req, "workers", json_integer(a->workers));
	if (a->fast)
		json_object_set_new(req, "fast", json_true());
	if ((reply = call(control, req, a->timeout)) == NULL) {
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

		if (a->json) {
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
