"""
The Redis client (worker/services/redis.c) and the kv handler, against a
real redis-server (harness.Redis: a free loopback port or a Unix socket,
no persistence, stopped by its pid): the kv protocol; Redis down at start,
killed and restarted under load, stopped so that replies never come; the
status and metrics it shows; the API as a module uses it
(tests/modules/rcount.c: commands, cancel).

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time

import harness
from harness import RawConn, Redis, Shoal, Skip, note, wait_until

KV = {"path": "/kv/", "match": "prefix", "handler": "kv"}
APP = {"path": "/app/", "match": "prefix", "handler": "kv", "key_prefix": "app:"}
BASE_ROUTES = [KV, APP,
               {"path": "/healthz", "handler": "health"},
               {"path": "/metrics", "handler": "metrics"}]


def module_path(name):
    m = os.path.join(os.path.dirname(os.path.abspath(harness.binary())), "modules", name)
    if not os.path.exists(m):
        raise Skip("no %s (make builds it with the integration target)" % m)
    return m


def start(redis_address, workers=1, redis_extra=None, extra=None, routes=None, modules=None):
    d = harness.tmpdir()
    port = harness.free_port()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": workers,
           "redis": dict({"address": redis_address}, **(redis_extra or {})),
           "routes": routes or BASE_ROUTES}
    if modules:
        cfg["modules"] = modules
    cfg.update(extra or {})
    path = os.path.join(d, "kv-%d.json" % port)
    with open(path, "w") as f:
        json.dump(cfg, f)
    s = Shoal(["-c", path, "--control", os.path.join(d, "c-%d.sock" % port),
               "--log-level", "debug"], raw=True, workers=workers)
    s.ports = [port]
    s.start()
    return s


def request(port, method, path, body=None, timeout=3.0, conn=None):
    """(status, headers, body, seconds) of one request; on conn if given
    (keep-alive), else on a new connection."""
    head = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    if body is not None:
        head += "Content-Length: %d\r\n" % len(body)
    if conn is None:
        head += "Connection: close\r\n"
    data = (head + "\r\n").encode() + (body or b"")
    t0 = time.monotonic()
    own = conn is None
    c = conn or RawConn(port, timeout=timeout)
    try:
        c.send(data)
        st, hdrs, b = c.recv_response(timeout=timeout, head_request=(method == "HEAD"))
    finally:
        if own:
            c.close()
    return st, hdrs, b, time.monotonic() - t0


def redis_status(s):
    st = harness.status(s.control)
    return [p.get("redis") for p in st["processes"]], st


def failed_total(s):
    procs, _ = redis_status(s)
    return sum(p["failed"] for p in procs)


@harness.timeout(30)
def test_kv_protocol():
    r = Redis().start()
    with start(r.address) as s:
        port = s.port
        st, h, b, _ = request(port, "GET", "/kv/greeting")
        assert st == 404, (st, b)
        st, h, b, _ = request(port, "PUT", "/kv/greeting", b"hello")
        assert st == 201, (st, b)
        st, h, b, _ = request(port, "PUT", "/kv/greeting", b"hello again")
        assert st == 204 and b == b"", (st, b)
        st, h, b, _ = request(port, "GET", "/kv/greeting")
        assert st == 200 and b == b"hello again", (st, b)
        assert h["content-type"] == "application/octet-stream", h
        st, h, b, _ = request(port, "HEAD", "/kv/greeting")
        assert st == 200 and h["content-length"] == "11" and b == b"", (st, h, b)
        assert r.command("GET", "greeting") == b"hello again"
        st, h, b, _ = request(port, "DELETE", "/kv/greeting")
        assert st == 204, (st, b)
        st, h, b, _ = request(port, "DELETE", "/kv/greeting")
        assert st == 404, (st, b)
        assert r.command("EXISTS", "greeting") == 0
        # Methods, empty and bad keys.
        st, h, b, _ = request(port, "POST", "/kv/greeting", b"x")
        assert st == 405 and h["allow"] == "GET, HEAD, PUT, DELETE", (st, h)
        st, h, b, _ = request(port, "GET", "/kv/")
        assert st == 404, (st, b)
        st, h, b, _ = request(port, "PUT", "/kv/a%00b", b"x")
        assert st == 400, (st, b)
        st, h, b, _ = request(port, "GET", "/kv/a%zz")
        assert st == 400, (st, b)
        # Binary values, any byte in a key but NUL, and key_prefix.
        blob = bytes(range(256)) * 4
        st, h, b, _ = request(port, "PUT", "/app/a%20b%2Fc%ff", blob)
        assert st == 201, (st, b)
        assert r.command("GET", b"app:a b/c\xff") == blob
        st, h, b, _ = request(port, "GET", "/app/a%20b%2fc%FF")
        assert st == 200 and b == blob, (st, len(b))
        st, h, b, _ = request(port, "GET", "/kv/app:a%20b%2Fc%ff")
        assert st == 200 and b == blob, st
        # A value that is not a string: Redis's error, as a 502.
        r.command("RPUSH", "alist", "x")
        st, h, b, _ = request(port, "GET", "/kv/alist")
        assert st == 502 and b"WRONGTYPE" in b, (st, b)
        # Large values, up to max_body_size; beyond it, 413.
        big = os.urandom(1048576)
        st, h, b, _ = request(port, "PUT", "/kv/big", big, timeout=10)
        assert st == 201, (st, b)
        st, h, b, _ = request(port, "GET", "/kv/big", timeout=10)
        assert st == 200 and b == big, (st, len(b))
        st, h, b, _ = request(port, "PUT", "/kv/bigger", big + b"x", timeout=10)
        assert st == 413, st
        assert r.command("EXISTS", "bigger") == 0
        # Pipelined on one connection, answered in order.
        with RawConn(port) as c:
            reqs = b"".join(b"PUT /kv/p%d HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nv%d"
                            % (i, i) for i in range(5))
            reqs += b"".join(b"GET /kv/p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
            c.send(reqs)
            got = [c.recv_response() for _ in range(10)]
        assert [g[0] for g in got] == [201] * 5 + [200] * 5, [g[0] for g in got]
        assert [g[2] for g in got[5:]] == [b"v%d" % i for i in range(5)]


@harness.timeout(20)
def test_kv_needs_redis_at_check():
    d = harness.tmpdir()
    path = os.path.join(d, "no-redis.json")
    with open(path, "w") as f:
        f.write('{"listen": ["127.0.0.1:1"],\n "routes": [\n  {"path": "/kv/", "match": '
                '"prefix", "handler": "kv"}\n ]\n}\n')
    rc, out, err = harness.run_cli(["--check", "-c", path])
    assert rc == 2, (rc, out, err)
    assert ('no-redis.json:3:39: routes[0].handler: handler kv needs Redis: add a '
            'top-level "redis" key') in err, err
    with open(path, "w") as f:
        f.write('{"redis": {"address": "localhost:6379"}}\n')
    rc, out, err = harness.run_cli(["--check", "-c", path])
    assert rc == 2 and '"redis": "address": "localhost" is not an IP address' in err, (rc, err)


@harness.timeout(40)
def test_redis_down_at_start_then_up():
    r = Redis()                           # its port, nothing on it yet
    with start(r.address, workers=2) as s:
        pids = s.wait_workers(2)
        for i in range(6):
            st, h, b, secs = request(s.port, "GET", "/kv/k%d" % i)
            assert st == 503 and h.get("retry-after") == "1", (st, h, b)
            assert secs < 1.0, "a 503 took %.2fs" % secs
        procs, full = redis_status(s)
        assert all(p["state"] == "down" for p in procs), procs
        assert full["redis"]["address"] == r.address, full
        rc, out, err = harness.ctl(s.control, "status")
        assert re.search(r"redis 127\.0\.0\.1:\d+: 0 of 2 workers connected; slot \d "
                         r"\(pid \d+\) down for", out), out
        m = metrics(s.port)
        assert len(re.findall(r'^shoal_redis_up\{slot="\d"\} 0$', m, re.M)) == 2, m
        r.start()
        t0 = time.monotonic()

        def serves():
            st = request(s.port, "PUT", "/kv/back", b"yes")[0]
            return st in (201, 204)
        wait_until(serves, 5, 0.05, "kv to serve once Redis is up")
        note("kv served %.2fs after Redis came up" % (time.monotonic() - t0))
        wait_until(lambda: all(p["state"] == "up" for p in redis_status(s)[0]), 5, 0.05,
                   "every worker connected")
        assert s.workers() == pids, "workers restarted: %s -> %s" % (pids, s.workers())
        m = metrics(s.port)
        assert len(re.findall(r'^shoal_redis_up\{slot="\d"\} 1$', m, re.M)) == 2, m
        if promtool_ok(m) is None:
            note("promtool not installed: the exposition is not checked by it")
        assert re.search(r"^shoal_redis_connects_total [2-9]", m, re.M), m
        rc, out, err = harness.ctl(s.control, "status")
        assert re.search(r"redis 127\.0\.0\.1:\d+: 2 of 2 workers connected\n", out), out


def promtool_ok(text):
    """True if `promtool check metrics` accepts text (AssertionError if
    not); None without promtool."""
    exe = shutil.which("promtool")
    if exe is None:
        return None
    p = subprocess.run([exe, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "promtool check metrics: %s" % p.stdout.decode(errors="replace")
    return True


def metrics(port):
    st, h, b = harness.http_get(port, "/metrics")
    assert st == 200, st
    return b.decode()


class KvLoad:
    """A bounded kv load: threads, each on a keep-alive connection, PUT then
    GET their own key in a loop, every request with a 2 s limit. Records
    every outcome: status counts, the slowest answer, and errors (no answer,
    a reset, a timeout) with when they happened."""

    OK = {200, 201, 204, 404, 503, 504}

    def __init__(self, port, threads=4, max_seconds=20, max_requests=200000):
        self.port = port
        self.nthreads = threads
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.lock = threading.Lock()
        self.statuses = {}
        self.errors = []
        self.slowest = 0.0
        self.timeline = []             # (t, status) of each answer
        self.stopping = threading.Event()
        self.threads = []
        self.t0 = None

    def _run(self, i):
        dl = time.monotonic() + self.max_seconds
        conn = None
        n = 0
        while not self.stopping.is_set() and time.monotonic() < dl and n < self.max_requests:
            n += 1
            method, body = ("PUT", b"value-%d" % n) if n % 2 else ("GET", None)
            try:
                if conn is None:
                    conn = RawConn(self.port, timeout=2.0)
                st, h, b, secs = request(self.port, method, "/kv/load%d" % i, body,
                                         timeout=2.0, conn=conn)
            except (OSError, ConnectionError, socket.timeout) as e:
                with self.lock:
                    self.errors.append((time.monotonic() - self.t0, "%s: %s" % (method, e)))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            with self.lock:
                self.statuses[st] = self.statuses.get(st, 0) + 1
                self.slowest = max(self.slowest, secs)
                self.timeline.append((time.monotonic() - self.t0, st))
            if h.get("connection") == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def __enter__(self):
        self.t0 = time.monotonic()
        for i in range(self.nthreads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(self.max_seconds + 5)

    def count(self, *statuses):
        with self.lock:
            return sum(self.statuses.get(x, 0) for x in statuses)

    def answered_since(self, t, statuses):
        with self.lock:
            return sum(1 for (at, st) in self.timeline if at >= t and st in statuses)

    def summary(self):
        return "statuses %s, errors %d %s, slowest %.3fs" % (
            dict(sorted(self.statuses.items())), len(self.errors), self.errors[:3], self.slowest)


@harness.timeout(60)
def test_redis_killed_and_restarted_under_load():
    r = Redis().start()
    with start(r.address, workers=2) as s:
        pids = s.wait_workers(2)
        with KvLoad(s.port, threads=4, max_seconds=25) as ld:
            wait_until(lambda: ld.count(200) >= 300, 5, 0.02, "load to get going")
            r.kill()
            killed = time.monotonic() - ld.t0
            note("redis killed at %.2fs" % killed)
            wait_until(lambda: ld.answered_since(killed, {503}) >= 20, 5, 0.02, "503s")
            time.sleep(1.0)
            r.start()
            back = time.monotonic() - ld.t0
            wait_until(lambda: ld.answered_since(back, {200}) >= 50, 8, 0.02,
                       "kv to serve again after the restart")
            note("serving again %.2fs after the restart" % (
                min(at for at, st in ld.timeline if at >= back and st == 200) - back))
        note(ld.summary())
        assert not ld.errors, "requests without an answer: " + ld.summary()
        assert set(ld.statuses) <= KvLoad.OK, ld.summary()
        assert ld.slowest < 1.0, "an answer took %.2fs: %s" % (ld.slowest, ld.summary())
        assert ld.count(503) > 0 and ld.count(200) > 0, ld.summary()
        # No worker crashed or was replaced; the master is fine.
        assert s.running()
        assert s.workers() == pids, "workers changed: %s -> %s" % (pids, s.workers())
        # Every failure the clients saw is counted by the workers.
        wait_until(lambda: all(p["state"] == "up" for p in redis_status(s)[0]), 5, 0.05,
                   "every worker connected")
        assert failed_total(s) == ld.count(503, 504), (failed_total(s), ld.summary())
        m = metrics(s.port)
        got = int(re.search(r"^shoal_redis_commands_failed_total (\d+)", m, re.M).group(1))
        assert got == ld.count(503, 504), (got, ld.summary())


@harness.timeout(60)
def test_reply_never_comes():
    """Redis stopped (SIGSTOP): the kernel keeps the connection, nothing is
    answered. command_timeout fails the oldest command with a 504, drops
    the connection and fails fast (503) until Redis answers again."""
    r = Redis().start()
    with start(r.address, redis_extra={"command_timeout": 0.5},
               extra={"handler_timeout": 10}) as s:
        pids = s.wait_workers(1)
        assert request(s.port, "PUT", "/kv/k", b"v")[0] == 201
        r.pause()
        results = []

        def one():
            results.append(request(s.port, "GET", "/kv/k", timeout=5))
        ts = [threading.Thread(target=one) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        sts = sorted(x[0] for x in results)
        note("in flight when Redis stopped: %s in %s s" % (
            sts, ["%.2f" % x[3] for x in results]))
        assert sts[0] == 503 or sts[0] == 504
        assert 504 in sts, sts
        assert set(sts) <= {503, 504}, sts
        assert all(0.4 < x[3] < 1.0 for x in results), [x[3] for x in results]
        # Down now: at once, every time, while Redis sleeps.
        for _ in range(5):
            st, h, b, secs = request(s.port, "GET", "/kv/k")
            assert st == 503 and secs < 0.3, (st, secs)
            time.sleep(0.2)
        procs, _ = redis_status(s)
        assert procs[0]["state"] == "down" and procs[0]["timeouts"] >= 1, procs
        r.resume()
        t0 = time.monotonic()
        wait_until(lambda: request(s.port, "GET", "/kv/k")[0] == 200, 6, 0.05,
                   "kv to serve again after SIGCONT")
        note("serving again %.2fs after SIGCONT" % (time.monotonic() - t0))
        assert s.workers() == pids


@harness.timeout(40)
def test_handler_timeout_before_command_timeout():
    """handler_timeout shorter than command_timeout: the engine answers 504
    and the late reply is discarded; the connection and the worker go on."""
    r = Redis().start()
    with start(r.address, redis_extra={"command_timeout": 3},
               extra={"handler_timeout": 0.3}) as s:
        pids = s.wait_workers(1)
        assert request(s.port, "PUT", "/kv/k", b"v")[0] == 201
        with RawConn(s.port, timeout=5) as c:
            r.pause()
            st, h, b, secs = request(s.port, "GET", "/kv/k", conn=c, timeout=5)
            assert st == 504 and 0.25 < secs < 1.0, (st, secs)
            r.resume()
            # The same connection serves the next request; the reply that
            # came late went nowhere.
            st, h, b, secs = request(s.port, "GET", "/kv/k", conn=c, timeout=5)
            assert st == 200 and b == b"v", (st, b)
        assert s.workers() == pids
        assert harness.alive(pids[0])


@harness.timeout(30)
def test_kv_over_unix_socket():
    r = Redis(unix=True).start()
    with start(r.address) as s:
        assert request(s.port, "PUT", "/kv/u", b"over unix")[0] == 201
        st, h, b, _ = request(s.port, "GET", "/kv/u")
        assert st == 200 and b == b"over unix", (st, b)
        assert r.command("GET", "u") == b"over unix"
        procs, full = redis_status(s)
        assert procs[0]["state"] == "up" and full["redis"]["address"] == r.address


@harness.timeout(40)
def test_module_commands_and_cancel():
    r = Redis().start()
    routes = [{"path": "/healthz", "handler": "health"},
              {"path": "/count", "handler": "r.count"},
              {"path": "/wait", "handler": "r.wait"},
              {"path": "/rstats", "handler": "r.stats"}]
    with start(r.address, routes=routes,
               modules=[{"name": "r", "path": module_path("rcount.so")}]) as s:
        for want in (1, 2, 3):
            st, h, b, _ = request(s.port, "GET", "/count?k=hits")
            assert st == 200 and b == b"%d\n" % want, (st, b)
        assert r.command("GET", "rcount:hits") == b"3"
        st, h, b, secs = request(s.port, "GET", "/wait?ms=200")
        assert st == 200 and b == b"waited\n" and secs >= 0.18, (st, b, secs)
        # Clients that leave before the reply: their commands are
        # cancelled and their callbacks never run.
        for _ in range(3):
            c = RawConn(s.port)
            c.send(b"GET /wait?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.05)
            c.close()
        wait_until(lambda: stats(s)["cancelled"] == 3, 3, 0.05, "3 cancels")
        time.sleep(1.2)                      # every reply has come by now
        got = stats(s)
        assert got == {"cancelled": 3, "replies": 4, "refused": 0}, got
        # Down: refused in the handler's stack, no callback.
        r.kill()
        wait_until(lambda: request(s.port, "GET", "/count?k=x")[0] == 503, 3, 0.05,
                   "503 once Redis is gone")
        got = stats(s)
        assert got["refused"] >= 1 and got["replies"] <= 5, got
        assert harness.alive(s.workers()[0])


def stats(s):
    st, h, b = harness.http_get(s.port, "/rstats")
    assert st == 200, st
    return json.loads(b)
