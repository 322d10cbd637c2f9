/*
 * ipc — see ipc.h.
 */
#include "common/ipc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char *const type_names[IPC_MSG__COUNT] = {
	[IPC_MSG_READY] = "ready",
	[IPC_MSG_DRAIN] = "drain",
	[IPC_MSG_STOP] = "stop",
	[IPC_MSG_RETIRE] = "retire",
};

const char *
ipc_type_name(enum ipc_type type)
{
	return (unsigned)type < IPC_MSG__COUNT ? type_names[type] : "?";
}

int
ipc_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, fds);
}

int
ipc_encode(char *buf, size_t len, enum ipc_type type, const json_t *extra)
{
	json_t *obj = NULL;
	size_t n;

	if ((unsigned)type >= IPC_MSG__COUNT) {
		errno = EINVAL;
		return -1;
	}
	obj = json_object();
	if (obj == NULL)
		goto nomem;
	if (extra != NULL && json_object_update(obj, (json_t *)(uintptr_t)extra) == -1)
		goto nomem;
	if (json_object_set_new(obj, "v", json_integer(IPC_VERSION)) == -1 ||
	    json_object_set_new(obj, "type", json_string(type_names[type])) == -1)
		goto nomem;
	n = json_dumpb(obj, buf, len, JSON_COMPACT);
	json_decref(obj);
	if (n == 0 || n > len) {
		errno = EMSGSIZE;
		return -1;
	}
	return (int)n;
nomem:
	json_decref(obj);
	errno = ENOMEM;
	return -1;
}

int
ipc_decode(const char *buf, size_t len, struct ipc_msg *msg, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *obj, *v, *t;
	const char *name;

	memset(msg, 0, sizeof(*msg));
	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		snprintf(err, errlen, "not JSON: %s", jerr.text);
		return -1;
	}
	v = json_object_get(obj, "v");
	t = json_object_get(obj, "type");
	if (!json_is_integer(v) || json_integer_value(v) != IPC_VERSION) {
		snprintf(err, errlen, "unsupported message version (want %d)",
		    IPC_VERSION);
		goto err;
	}
	name = json_string_value(t);
	if (name == NULL) {
		snprintf(err, errlen, "message without a \"type\"");
		goto err;
	}
	for (int i = 0; i < IPC_MSG__COUNT; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			msg->type = (enum ipc_type)i;
			msg->body = obj;
			return 0;
		}
	}
	snprintf(err, errlen, "unknown message type \"%s\"", name);
err:
	json_decref(obj);
	return -1;
}

int
ipc_send(int fd, enum ipc_type type, const json_t *extra)
{
	char buf[IPC_MAX_MSG];
	int n;

	if ((n = ipc_encode(buf, sizeof(buf), type, extra)) == -1)
		return -1;
	/* MSG_NOSIGNAL: a dead peer is an EPIPE to handle, not a SIGPIPE. */
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) == -1)
		return -1;
	return 0;
}

int
ipc_recv(int fd, struct ipc_msg *msg)
{
	char buf[IPC_MAX_MSG], err[128];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t)n > sizeof(buf) || ipc_decode(buf, (size_t)n, msg, err,
	    sizeof(err)) == -1) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

void
ipc_msg_free(struct ipc_msg *msg)
{
	json_decref(msg->body);
	msg->body = NULL;
}
