/*
 * ipc — typed messages between the master and a worker.
 *
 * One socketpair(AF_UNIX, SOCK_SEQPACKET) per worker: datagram boundaries are
 * kept, so one recv is exactly one message and nothing needs framing. Each
 * message is one JSON object with a version and a type:
 *
 *   {"v":1,"type":"ready"}   {"v":1,"type":"drain"}
 *
 * Both ends are non-blocking and close-on-exec; after fork each process closes
 * the end it does not own.
 */
#ifndef SHOAL_IPC_H
#define SHOAL_IPC_H

#include <stddef.h>
#include <jansson.h>

#define IPC_VERSION 1
#define IPC_MAX_MSG 4096

enum ipc_type {
	IPC_MSG_READY,   /* worker -> master: listeners armed, serving */
	IPC_MSG_DRAIN,   /* master -> worker: stop accepting, finish, exit */
	IPC_MSG_STOP,    /* master -> worker: exit now */
	IPC_MSG_RETIRE,  /* master -> worker: accept what is queued, then drain */
	IPC_MSG__COUNT,
};

struct ipc_msg {
	enum ipc_type type;
	json_t *body;    /* the whole decoded object; owned by the message */
};

/* Create the pair: fds[0] for the master, fds[1] for the worker. -1 on error. */
int ipc_pair(int fds[2]);

/*
 * Encode type (+ the fields of extra, if not NULL, not stolen) into buf.
 * Returns the length, or -1 (EMSGSIZE) if it does not fit.
 */
int ipc_encode(char *buf, size_t len, enum ipc_type type, const json_t *extra);

/*
 * Decode one datagram. Returns 0 and fills msg (free with ipc_msg_free), or
 * -1 with a reason in err: not JSON, wrong version, unknown type.
 */
int ipc_decode(const char *buf, size_t len, struct ipc_msg *msg,
    char *err, size_t errlen);

/* Encode and send one message. -1 with errno set on failure (EAGAIN too). */
int ipc_send(int fd, enum ipc_type type, const json_t *extra);

/*
 * Receive one message: 1 and msg filled, 0 on end of file (peer gone), -1
 * with errno set (EAGAIN when nothing is queued; EBADMSG for an undecodable
 * datagram, which is consumed).
 */
int ipc_recv(int fd, struct ipc_msg *msg);

void ipc_msg_free(struct ipc_msg *msg);
const char *ipc_type_name(enum ipc_type type);

#endif
