"""
Clients of shoal's channels for the integration tests (and the tests that
build on them): a raw server-sent events client that reads events as they
come, publishing with a POST, a WebSocket subscriber, and a shoal started
with a pubsub route.

    with chanlib.start(workers=2) as s:
        sub = chanlib.Sse(s.port, "/ps/news")
        chanlib.publish(s.port, "news", b"hello")      # -> (200, id)
        ev = sub.events(1)                              # [{"id": ..., "data": ...}]
"""

import json
import os
import socket
import time

import harness
from harness import RawConn, Shoal, deadline, remaining
from test_websocket import OP_BINARY, OP_CLOSE, OP_TEXT, Ws, frame  # noqa: F401

PUBSUB = {"path": "/ps/", "match": "prefix", "handler": "pubsub"}
ROUTES = [PUBSUB,
          {"path": "/metrics", "handler": "metrics"},
          {"path": "/status", "handler": "status"},
          {"path": "/healthz", "handler": "health"}]


def start(workers=2, channels=None, redis=None, extra=None, routes=None, name="ch",
          log_level="debug", wait=True):
    """A shoal on a free port with the pubsub route at /ps/; s.config, s.control."""
    d = harness.tmpdir()
    port = harness.free_port()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": workers,
           "routes": routes or ROUTES, "log_level": log_level}
    if channels is not None:
        cfg["channels"] = channels
    if redis is not None:
        cfg["redis"] = {"address": redis}
    cfg.update(extra or {})
    path = os.path.join(d, "%s-%d.json" % (name, port))
    with open(path, "w") as f:
        json.dump(cfg, f)
    control = os.path.join(d, "%s-%d.sock" % (name, port))
    s = Shoal(["-c", path, "--control", control], raw=True, workers=workers)
    s.ports = [port]
    s.config = path
    s.control = control
    s.start(wait=wait)
    return s


def publish(port, channel, body, timeout=5.0, conn=None, host="127.0.0.1"):
    """POST body to the channel: (status, id or None, seconds)."""
    if isinstance(body, str):
        body = body.encode()
    req = ("POST /ps/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n"
           % (channel, len(body), "" if conn else "Connection: close\r\n")).encode() + body
    t0 = time.monotonic()
    c = conn or RawConn(port, host=host, timeout=timeout)
    try:
        c.send(req)
        st, h, b = c.recv_response(timeout=timeout)
    finally:
        if conn is None:
            c.close()
    ident = None
    if st == 200:
        ident = json.loads(b)["id"]
    return st, ident, time.monotonic() - t0


class Sse:
    """A server-sent events subscriber on a raw connection: the request,
    its head, then each event as it comes (chunked or, for HTTP/1.0, raw).

    events(n, timeout) returns up to n more events, each a dict with "id"
    (int), "data" (bytes: its data lines joined by LF) and "retry" (int)
    when given; ended is True once the stream ended (its last chunk, or
    the connection closed).
    """

    def __init__(self, port, path, last_id=None, timeout=5.0, http10=False, rcvbuf=None,
                 headers=None, accept="text/event-stream", host="127.0.0.1"):
        self.c = RawConn(port, host=host, timeout=timeout, rcvbuf=rcvbuf)
        hdrs = {"Host": "x"}
        if accept is not None:
            hdrs["Accept"] = accept
        if last_id is not None:
            hdrs["Last-Event-ID"] = str(last_id)
        hdrs.update(headers or {})
        self.c.send("GET %s HTTP/1.%d\r\n" % (path, 0 if http10 else 1) +
                    "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n")
        dl = deadline(timeout)
        while b"\r\n\r\n" not in self.c.buf:
            if not self.c._fill(dl):
                raise ConnectionError("closed before the head: %r" % self.c.buf[:200])
        head, self.c.buf = self.c.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip()
                        for k, v in (ln.split(":", 1) for ln in lines[1:])}
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "")
        self.text = b""              # the event stream, de-chunked
        self.ended = False
        self.local_port = self.c.local_port

    def _body(self, dl):
        """Move what arrived from the socket into self.text, reading more
        only if nothing could be moved; False at the end."""
        before = len(self.text)
        if self.chunked:
            while True:
                if b"\r\n" not in self.c.buf:
                    break
                size_line, rest = self.c.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.ended = True
                    return False
                if len(rest) < size + 2:
                    break
                self.text += rest[:size]
                self.c.buf = rest[size + 2:]
        else:
            self.text += self.c.buf
            self.c.buf = b""
        if len(self.text) > before:
            return True
        try:
            more = self.c._fill(dl)
        except (ConnectionResetError, BrokenPipeError):
            more = False
        if not more:
            if not self.chunked:
                self.text += self.c.buf
                self.c.buf = b""
            self.ended = True
        return more

    def _take(self):
        """One whole event from self.text, or None."""
        for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
            if sep in self.text:
                block, self.text = self.text.split(sep, 1)
                break
        else:
            return None
        ev = {"data": []}
        for line in block.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            if line.startswith(b":"):
                continue
            k, _, v = line.partition(b":")
            if v.startswith(b" "):
                v = v[1:]
            if k == b"id":
                ev["id"] = int(v)
            elif k == b"data":
                ev["data"].append(v)
            elif k == b"retry":
                ev["retry"] = int(v)
        ev["data"] = b"\n".join(ev["data"])
        return ev

    def events(self, n=1, timeout=5.0, comments=False):
        """Up to n more events within timeout (fewer if the stream ends);
        comments (":" lines alone, the keepalive) are skipped."""
        out = []
        dl = deadline(timeout)
        while len(out) < n:
            ev = self._take()
            if ev is not None:
                if ev.get("id") is None and not ev["data"] and "retry" not in ev \
                        and not comments:
                    continue
                out.append(ev)
                continue
            if self.ended or remaining(dl) <= 0:
                break
            try:
                if not self._body(dl):
                    continue
            except socket.timeout:
                break
        return out

    def close(self):
        self.c.close()


class WsSub:
    """A WebSocket subscriber of a channel (raw frames, test_websocket.Ws)."""

    def __init__(self, port, channel, after=None, timeout=5.0, host="127.0.0.1"):
        path = "/ps/%s" % channel + ("?after=%d" % after if after else "")
        self.ws = Ws(port, path=path, timeout=timeout, host=host)
        assert self.ws.accepted(), (self.ws.status, self.ws.headers)
        self.local_port = self.ws.c.local_port

    def messages(self, n=1, timeout=5.0):
        """Up to n data messages: (opcode, payload); stops at a close frame
        (self.close_code set)."""
        out = []
        dl = deadline(timeout)
        self.close_code = None
        while len(out) < n:
            try:
                fin, op, payload = self.ws.recv(remaining(dl))
            except (socket.timeout, EOFError):
                break
            if op == OP_CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                break
            if op in (OP_TEXT, OP_BINARY):
                out.append((op, payload))
        return out

    def publish(self, data, binary=False):
        self.ws.send(frame(OP_BINARY if binary else OP_TEXT, data))

    def close(self):
        self.ws.close()


def worker_of(s, local_port):
    """The pid of the worker that serves the client connection whose local
    port is local_port (waits for it to appear in the tables)."""
    pids = list(s.workers().values())
    dl = deadline(3)
    while True:
        pid = harness.server_pid_for_client_port(local_port, pids, s.port)
        if pid is not None or remaining(dl) <= 0:
            return pid
        time.sleep(0.02)


def sse_on_worker(s, channel, pid, last_id=None, tries=64):
    """An Sse subscriber whose connection the worker pid serves (new
    connections go to a random worker: try until one lands there)."""
    for _ in range(tries):
        sub = Sse(s.port, "/ps/%s" % channel, last_id=last_id)
        if worker_of(s, sub.local_port) == pid:
            return sub
        sub.close()
    raise AssertionError("no connection reached worker %d in %d tries" % (pid, tries))


def publish_on_worker(s, channel, body, pid, tries=64):
    """Publish through a keep-alive connection that worker pid serves."""
    for _ in range(tries):
        c = RawConn(s.port, timeout=5)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        c.recv_response()
        if worker_of(s, c.local_port) == pid:
            try:
                return publish(s.port, channel, body, conn=c)
            finally:
                c.close()
        c.close()
    raise AssertionError("no connection reached worker %d in %d tries" % (pid, tries))


def metric(text, name):
    """The sum of a metric's samples in Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total
