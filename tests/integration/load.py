"""
load — a small HTTP/1.1 load client for shoal's operations tests.

Standard library only, loopback only. Background threads send GET requests
for as long as a test case runs and classify every outcome:

    keep-alive threads  one connection, sequential requests on it; when the
                        server ends a complete response with Connection:
                        close, the thread closes and reconnects (not a
                        failure: counted in server_closes)
    one-shot threads    a new connection per request (Connection: close)

A request fails when it is refused, reset, timed out, answered short (the
connection ended with the response incomplete), answered with a non-2xx
status, or answered with the wrong body. One case is not a failure: the
server closing an idle keep-alive connection (FIN) just as we reused it, so
that the connection ends with zero bytes of the response. HTTP clients retry
an idempotent request then; so do we, once, on a new connection, and count
it as "retried" (the retry's own outcome is counted like any request). A
reset (RST), zero bytes on a new connection, or a partial response is a
failure.

    from load import Load
    with Load(port) as ld:              # starts the threads
        ... operate on the server ...
    ld.assert_no_failures("10 reloads")   # after the with: threads stopped
    ld.summary()   # 'requests 1234: ok 1234, retried 3 (...), failures 0 ...'

Every thread stops at stop(), after max_seconds, or after max_requests,
whichever comes first. Failures keep when (monotonic offset and UTC wall
time in the server log's format), what kind, which thread and connection.

Also runnable by hand:  python3 load.py --port 8080 --seconds 5
"""

import argparse
import select
import socket
import threading
import time

HELLO = b"Hello, World!"

KINDS = ("refused", "reset", "timeout", "short_read", "status", "bad_body", "error")


def utc_now():
    """Wall-clock time as the server log writes it: 2026-01-02T03:04:05.678Z."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class _Eof(Exception):
    """The peer ended the connection; .got = response bytes received so far."""

    def __init__(self, got, where):
        Exception.__init__(self, "connection closed after %d response bytes (%s)" % (got, where))
        self.got = got


class _Bad(Exception):
    """A response that cannot be parsed."""


def _eof_pending(sock):
    """True if the peer's FIN is already waiting on sock (nothing else is)."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except OSError:
        return False


def _recv(sock, dl):
    left = dl - time.monotonic()
    if left <= 0:
        raise socket.timeout("deadline")
    sock.settimeout(left)
    return sock.recv(65536)


def read_response(sock, timeout):
    """One complete response from sock: (status, {lowercased header: value},
    body, extra bytes after it). Raises _Eof (with the byte count),
    ConnectionResetError, socket.timeout, _Bad."""
    dl = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = _recv(sock, dl)
        if not data:
            raise _Eof(len(buf), "in the head")
        buf += data
        if len(buf) > 65536:
            raise _Bad("response head over 64 KiB")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise _Bad("bad status line %r" % lines[0][:80])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if not sep:
            raise _Bad("bad header line %r" % line[:80])
        headers[k.strip().lower()] = v.strip()
    got = len(head) + 4
    if status // 100 == 1 or status in (204, 304):
        return status, headers, b"", rest
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in rest:
                data = _recv(sock, dl)
                if not data:
                    raise _Eof(got + len(rest), "in a chunk size line")
                rest += data
            size_line, rest = rest.split(b"\r\n", 1)
            got += len(size_line) + 2
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Bad("bad chunk size %r" % size_line[:40])
            while len(rest) < size + 2:
                data = _recv(sock, dl)
                if not data:
                    raise _Eof(got + len(rest), "in a chunk")
                rest += data
            body += rest[:size]
            rest = rest[size + 2:]
            got += size + 2
            if size == 0:
                # no trailers from shoal: the last chunk's CRLF ends it
                return status, headers, body, rest
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            data = _recv(sock, dl)
            if not data:
                raise _Eof(got + len(rest), "after %d of %d body bytes" % (len(rest), n))
            rest += data
        return status, headers, rest[:n], rest[n:]
    while True:                                   # read until close
        data = _recv(sock, dl)
        if not data:
            return status, headers, rest, b""
        rest += data


class Load:
    """Background GET load on host:port (see the module docstring).

    keepalive / oneshot: number of threads of each mode. pause: seconds each
    thread sleeps between two requests. timeout: per request (connect to
    complete response). expect_body: the exact body of a good answer (None:
    any 2xx is good).
    """

    def __init__(self, port, host="127.0.0.1", path="/", keepalive=2, oneshot=2,
                 pause=0.001, timeout=5.0, expect_body=HELLO, max_seconds=120.0,
                 max_requests=200000):
        self.port = port
        self.host = host
        self.path = path
        self.nkeep = keepalive
        self.nshot = oneshot
        self.pause = pause
        self.timeout = timeout
        self.expect_body = expect_body
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self.t0 = None
        self.elapsed = 0.0
        self.ok = 0
        self.retried = 0
        self.retried_fin_before_send = 0   # of those: the FIN had arrived before we sent
        self.server_closes = 0      # complete responses with Connection: close
        self.connections = 0        # connections opened
        self.fail_counts = dict((k, 0) for k in KINDS)
        self.failures = []          # dicts: t, utc, kind, detail, thread, fresh, nth, local_port
        self.retries = []           # same shape, for the retried ones (first 50)
        self.errors = []            # a thread that died of a bug in here

    # -- control

    def start(self):
        self.t0 = time.monotonic()
        specs = [("keepalive", i) for i in range(self.nkeep)] + \
                [("oneshot", i) for i in range(self.nshot)]
        for mode, i in specs:
            t = threading.Thread(target=self._run, args=(mode, "%s-%d" % (mode, i)),
                                 name="load-%s-%d" % (mode, i), daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self, timeout=None):
        """Stop the threads and wait for them (each finishes its request in
        flight, so at most about one request timeout)."""
        self._stop.set()
        dl = time.monotonic() + (timeout if timeout is not None else self.timeout + 5.0)
        for t in self._threads:
            t.join(max(0.0, dl - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if self.t0 is not None:
            self.elapsed = time.monotonic() - self.t0
        if alive:
            raise AssertionError("load threads still running after stop: %s" % alive)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def running_for(self):
        return time.monotonic() - self.t0 if self.t0 is not None else 0.0

    # -- results

    def failed(self):
        return sum(self.fail_counts.values())

    def requests(self):
        """Requests with an outcome (a retried one counts once, by its retry)."""
        return self.ok + self.failed()

    def counts(self):
        """A snapshot: {'ok', 'failed', 'retried', 'server_closes', 'connections',
        'failures': {kind: n}, 'n_failure_records'}."""
        with self._lock:
            return {"ok": self.ok, "failed": self.failed(), "retried": self.retried,
                    "retried_fin_before_send": self.retried_fin_before_send,
                    "server_closes": self.server_closes, "connections": self.connections,
                    "failures": dict(self.fail_counts),
                    "n_failure_records": len(self.failures)}

    def since(self, mark):
        """Counts accumulated since an earlier counts() snapshot."""
        now = self.counts()
        out = {k: now[k] - mark[k] for k in ("ok", "failed", "retried", "retried_fin_before_send",
                                              "server_closes", "connections")}
        out["failures"] = {k: now["failures"][k] - mark["failures"][k] for k in KINDS}
        out["records"] = self.failures[mark["n_failure_records"]:now["n_failure_records"]]
        return out

    def wait_ok(self, n, timeout=10.0):
        """Wait until at least n more requests succeeded (proof the load runs)."""
        target = self.ok + n
        dl = time.monotonic() + timeout
        while self.ok < target and time.monotonic() < dl and not self._stop.is_set():
            time.sleep(0.01)
        if self.ok < target:
            raise AssertionError("load: only %d of %d requests succeeded within %.1fs (%s)"
                                 % (self.ok - target + n, n, timeout, self.summary()))

    @staticmethod
    def format_counts(c):
        fails = ", ".join("%s %d" % (k, v) for k, v in c["failures"].items() if v)
        return ("requests %d: ok %d, retried %d (FIN before the request was sent: %d), "
                "failures %d%s; server closes %d, connections %d") % (
            c["ok"] + c["failed"], c["ok"], c["retried"], c["retried_fin_before_send"], c["failed"],
            " (%s)" % fails if fails else "", c["server_closes"], c["connections"])

    def summary(self):
        c = self.counts()
        rate = c["ok"] / self.elapsed if self.elapsed else 0.0
        return self.format_counts(c) + (" in %.1fs (%.0f ok/s)" % (self.elapsed, rate)
                                        if self.elapsed else "")

    @staticmethod
    def format_records(records, limit=12):
        out = []
        for r in records[:limit]:
            out.append("t=+%.3fs %s %s: %s [%s, %s connection, request #%d on it, client port %s]"
                       % (r["t"], r["utc"], r["kind"], r["detail"], r["thread"],
                          "new" if r["fresh"] else "reused", r["nth"], r["local_port"]))
        if len(records) > limit:
            out.append("... and %d more" % (len(records) - limit))
        return out

    def failure_report(self, limit=12):
        return "\n".join(self.format_records(self.failures, limit))

    def assert_no_failures(self, what, min_ok=1):
        """AssertionError naming every kind and the first failures (with their
        times) if any request failed, or if fewer than min_ok succeeded."""
        if self.errors:
            raise AssertionError("load client bug: %s" % self.errors[0])
        if self.failed():
            raise AssertionError("%s: %d requests failed under load: %s\n%s"
                                 % (what, self.failed(), self.summary(), self.failure_report()))
        if self.ok < min_ok:
            raise AssertionError("%s: only %d requests succeeded under load (expected at least "
                                 "%d): %s" % (what, self.ok, min_ok, self.summary()))

    # -- the threads

    def _record(self, kind, detail, thread, fresh, nth, local_port, retried=False):
        rec = {"t": time.monotonic() - self.t0, "utc": utc_now(), "kind": kind,
               "detail": detail, "thread": thread, "fresh": fresh, "nth": nth,
               "local_port": local_port}
        with self._lock:
            if retried:
                self.retried += 1
                if len(self.retries) < 50:
                    self.retries.append(rec)
            else:
                self.fail_counts[kind] += 1
                if len(self.failures) < 1000:
                    self.failures.append(rec)

    def _connect(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect((self.host, self.port))
        except BaseException:
            s.close()
            raise
        with self._lock:
            self.connections += 1
        return s

    def _request_bytes(self, keepalive):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
            self.path, host, "" if keepalive else "Connection: close\r\n")).encode("latin-1")

    def _one(self, sock, keepalive):
        """Send one request on sock and read its answer. Returns (outcome,
        detail, server_closes, zero_bytes_eof)."""
        sock.sendall(self._request_bytes(keepalive))
        status, headers, body, extra = read_response(sock, self.timeout)
        closes = "close" in headers.get("connection", "").lower()
        if status // 100 != 2:
            return "status", "status %d body %r" % (status, body[:80]), closes
        if self.expect_body is not None and body.strip() != self.expect_body:
            return "bad_body", "body %r" % body[:80], closes
        if extra:
            return "bad_body", "%d stray bytes after the response: %r" % (len(extra), extra[:40]), closes
        return "ok", "", closes

    def _attempt(self, sock, keepalive):
        """(outcome kind, detail, server closes, eof_with_zero_bytes)."""
        try:
            kind, detail, closes = self._one(sock, keepalive)
            return kind, detail, closes, False
        except _Eof as e:
            return "short_read", str(e), True, e.got == 0
        except socket.timeout as e:
            return "timeout", "no complete response within %.1fs (%s)" % (self.timeout, e), True, False
        except (ConnectionResetError, BrokenPipeError) as e:
            return "reset", "%s: %s" % (type(e).__name__, e), True, False
        except _Bad as e:
            return "error", str(e), True, False
        except OSError as e:
            return "error", "%s: %s" % (type(e).__name__, e), True, False

    def _run(self, mode, name):
        try:
            self._loop(mode, name)
        except Exception as e:  # a bug in this file, not a server failure
            with self._lock:
                self.errors.append("%s: %s: %s" % (name, type(e).__name__, e))

    def _loop(self, mode, name):
        keepalive = mode == "keepalive"
        dl = self.t0 + self.max_seconds
        sock, nth, local_port = None, 0, None
        try:
            for _ in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() >= dl:
                    break
                fresh = sock is None
                if fresh:
                    try:
                        sock = self._connect()
                    except ConnectionRefusedError as e:
                        self._record("refused", str(e), name, True, 0, None)
                        sock = None
                        time.sleep(self.pause)
                        continue
                    except socket.timeout as e:
                        self._record("timeout", "connect: %s" % e, name, True, 0, None)
                        sock = None
                        continue
                    except OSError as e:
                        self._record("error", "connect: %s: %s" % (type(e).__name__, e),
                                     name, True, 0, None)
                        sock = None
                        time.sleep(self.pause)
                        continue
                    nth = 0
                    local_port = sock.getsockname()[1]
                nth += 1
                fin_first = not fresh and _eof_pending(sock)
                kind, detail, closes, zero_eof = self._attempt(sock, keepalive)
                if kind == "short_read" and zero_eof and not fresh:
                    # The server closed this idle keep-alive connection before
                    # reading our request: retry once on a new connection.
                    with self._lock:
                        if fin_first:
                            self.retried_fin_before_send += 1
                    self._record("short_read", detail + (
                        "; the FIN was there before the request was sent" if fin_first else
                        "; no FIN yet when the request was sent"),
                        name, False, nth, local_port, retried=True)
                    sock.close()
                    sock = None
                    try:
                        sock = self._connect()
                    except ConnectionRefusedError as e:
                        self._record("refused", "retry: %s" % e, name, True, 0, None)
                        continue
                    except socket.timeout as e:
                        self._record("timeout", "retry connect: %s" % e, name, True, 0, None)
                        continue
                    except OSError as e:
                        self._record("error", "retry connect: %s: %s" % (type(e).__name__, e),
                                     name, True, 0, None)
                        continue
                    fresh, nth, local_port = True, 1, sock.getsockname()[1]
                    kind, detail, closes, zero_eof = self._attempt(sock, keepalive)
                if kind == "ok":
                    with self._lock:
                        self.ok += 1
                        if closes and keepalive:
                            self.server_closes += 1
                else:
                    self._record(kind, detail, name, fresh, nth, local_port)
                if closes or not keepalive:
                    sock.close()
                    sock = None
                if self.pause:
                    time.sleep(self.pause)
        finally:
            if sock is not None:
                sock.close()


def main():
    ap = argparse.ArgumentParser(description="GET load on a loopback port; prints the counts")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1", choices=("127.0.0.1", "::1"))
    ap.add_argument("--path", default="/")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--keepalive", type=int, default=2)
    ap.add_argument("--oneshot", type=int, default=2)
    ap.add_argument("--any-body", action="store_true", help="do not check the body")
    args = ap.parse_args()
    ld = Load(args.port, host=args.host, path=args.path, keepalive=args.keepalive,
              oneshot=args.oneshot, expect_body=None if args.any_body else HELLO,
              max_seconds=args.seconds + 1)
    ld.start()
    time.sleep(min(args.seconds, 3600))
    ld.stop()
    print(ld.summary())
    if ld.failures:
        print(ld.failure_report())
    return 1 if ld.failed() else 0


if __name__ == "__main__":
    raise SystemExit(main())
