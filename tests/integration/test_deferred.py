"""
Deferred responses (http_defer): a handler returns without answering and
answers later from its worker's loop. The handlers are those of the test
module tests/modules/later.c (build/modules/later.so), which answer from a
timer; one worker, so its counters (/later/stats) are the whole server's.

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import signal
import time

import harness
from harness import RawConn, Shoal, Skip, http_get, note, wait_until

ROUTES = [
    {"path": "/healthz", "handler": "health"},
    {"path": "/later", "handler": "t.later"},
    {"path": "/later/stats", "handler": "t.stats"},
    {"path": "/primes", "handler": "primes"},
]


def later_module():
    m = os.path.join(os.path.dirname(os.path.abspath(harness.binary())), "modules", "later.so")
    if not os.path.exists(m):
        raise Skip("no %s (make builds it with the integration target)" % m)
    return m


def start(extra=None, workers=1):
    d = harness.tmpdir()
    port = harness.free_port()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": workers,
           "modules": [{"name": "t", "path": later_module()}], "routes": ROUTES}
    cfg.update(extra or {})
    path = os.path.join(d, "deferred.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    s = Shoal(["-c", path, "--control", os.path.join(d, "c.sock"), "--log-level", "debug"],
              raw=True)
    s.ports = [port]
    s.config = path
    s.start()
    return s


def stats(port):
    st, _, body = http_get(port, "/later/stats")
    assert st == 200, st
    return json.loads(body)


def get(path):
    return ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()


@harness.timeout(30)
def test_deferred_answer_keeps_pipelined_order():
    """A deferred answer comes after its timer, with its own headers and a
    Content-Length; requests pipelined behind it (in the same write) wait
    their turn and come after it, in order; meanwhile another connection is
    served at once (the loop never waited)."""
    with start() as s:
        c = RawConn(s.port, timeout=5)
        t0 = time.monotonic()
        c.send(get("/later?ms=300") + get("/healthz") + get("/later?do=now"))
        time.sleep(0.05)
        t1 = time.monotonic()
        st, _, body = http_get(s.port, "/healthz")
        other = time.monotonic() - t1
        assert st == 200 and body == b"ok", (st, body)
        st, h, body = c.recv_response()
        first = time.monotonic() - t0
        assert st == 200 and body == b"later 300\n", (st, body)
        assert h.get("x-later") == "yes" and h.get("content-length") == "10", h
        st, _, body = c.recv_response()
        assert (st, body) == (200, b"ok"), (st, body)
        st, _, body = c.recv_response()
        assert (st, body) == (200, b"now\n"), (st, body)
        # The keep-alive connection still serves.
        c.send(get("/later?ms=10"))
        assert c.recv_response()[2] == b"later 10\n"
        c.close()
        note("deferred answer after %.3fs; another client served in %.3fs meanwhile"
             % (first, other))
        assert first >= 0.29, first
        assert other < 0.2, "the loop waited %.3fs" % other
        assert stats(s.port) == {"cancels": 0, "pending": 0, "late": 0}


@harness.timeout(30)
def test_deferred_bodies_head_and_http10():
    """A deferred response that turns into a stream is chunked; a HEAD of a
    deferred answer gets the head only; an HTTP/1.0 client gets the body
    and a close; a handler that releases without answering gives a 500."""
    with start() as s:
        with RawConn(s.port, timeout=5) as c:
            c.send(get("/later?ms=20&do=stream"))
            st, h, body = c.recv_response()
            assert st == 200 and "chunked" in h.get("transfer-encoding", ""), h
            assert body == b"abc", body
            c.send(b"HEAD /later?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n")
            st, h, body = c.recv_response(head_request=True)
            assert st == 200 and h["content-length"] == "9" and body == b"", (st, h)
            c.send(get("/later?ms=20&do=release"))
            st, _, body = c.recv_response()
            assert st == 500, st
        with RawConn(s.port, timeout=5) as c:
            c.send(b"GET /later?ms=20 HTTP/1.0\r\n\r\n")
            st, h, body = c.recv_response()
            assert st == 200 and body == b"later 20\n", (st, body)
            assert c.recv_all() == b"", "HTTP/1.0 without keep-alive: closed"
        assert stats(s.port)["pending"] == 0


@harness.timeout(30)
def test_handler_timeout_answers_504_and_cancels():
    """A handler that never answers: handler_timeout (0.4 s here) answers
    504, the handler's cancel callback runs (it lets go), the connection
    stays usable; one that answers after the timeout is discarded (counted
    "late") and nothing is sent twice."""
    with start({"handler_timeout": 0.4}) as s:
        c = RawConn(s.port, timeout=5)
        t0 = time.monotonic()
        c.send(get("/later?do=never"))
        st, h, body = c.recv_response()
        took = time.monotonic() - t0
        assert st == 504, st
        assert 0.35 <= took < 2.0, took
        c.send(get("/later?ms=700") + get("/healthz"))
        assert c.recv_response()[0] == 504
        assert c.recv_response()[2] == b"ok"
        wait_until(lambda: stats(s.port)["late"] == 1, 3, what="the late answer")
        assert not c.readable(0.2), "a late answer reached the client: %r" % c.sock.recv(100)
        c.close()
        assert stats(s.port) == {"cancels": 2, "pending": 0, "late": 1}
        assert s.count_log(r"ERROR|AddressSanitizer") == 0, s.log_tail()


@harness.timeout(30)
def test_client_gone_cancels_the_handler():
    """The client leaves while its answer is deferred: the handler is told
    (cancel callback) and lets go; one whose timer answers later is
    discarded. No handle is left held, the worker goes on serving."""
    with start() as s:
        for path in ("/later?do=never", "/later?ms=400"):
            c = RawConn(s.port, timeout=5)
            c.send(get(path))
            time.sleep(0.1)
            assert stats(s.port)["pending"] == 1
            c.close()
        wait_until(lambda: stats(s.port)["cancels"] == 2, 3, what="two cancels")
        wait_until(lambda: stats(s.port)["pending"] == 0, 3, what="both handles let go")
        assert stats(s.port)["late"] == 1
        st, _, body = http_get(s.port, "/later?ms=1")
        assert (st, body) == (200, b"later 1\n")


@harness.timeout(30)
def test_websocket_accepted_from_a_deferred_answer():
    """A handler that accepts a WebSocket handshake only later (after a
    timer: a backend's word, say): the 101 comes then, and the connection
    echoes frames; one whose client left before the answer is dropped
    cleanly."""
    import base64
    import struct
    with start() as s:
        key = base64.b64encode(os.urandom(16)).decode()
        c = RawConn(s.port, timeout=5)
        c.send("GET /later?ms=200&do=ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key)
        t0 = time.monotonic()
        st, h, _ = c.recv_response()
        assert st == 101 and h.get("x-later") == "yes", (st, h)
        assert time.monotonic() - t0 >= 0.15
        mask = b"\x01\x02\x03\x04"
        c.send(b"\x81\x82" + mask + bytes(x ^ mask[i] for i, x in enumerate(b"hi")))
        while len(c.buf) < 4:
            c._fill(time.monotonic() + 3)
        assert c.buf[:4] == b"\x81\x02hi", c.buf
        c.close()
        gone = RawConn(s.port, timeout=5)
        gone.send("GET /later?ms=200&do=ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % key)
        time.sleep(0.05)
        gone.close()
        wait_until(lambda: stats(s.port)["pending"] == 0, 3, what="the handle let go")
        assert stats(s.port)["late"] == 1
        st, _, body = http_get(s.port, "/healthz")
        assert st == 200


@harness.timeout(30)
def test_drain_waits_for_deferred_answers():
    """SIGTERM while an answer is deferred: the worker stops accepting but
    waits for the answer (sent with Connection: close), then exits 0."""
    with start() as s:
        c = RawConn(s.port, timeout=5)
        c.send(get("/later?ms=800"))
        time.sleep(0.1)
        s.send_signal(signal.SIGTERM)
        st, h, body = c.recv_response()
        assert st == 200 and body == b"later 800\n", (st, body)
        assert h.get("connection") == "close", h
        assert s.wait_exit(10) == 0
        assert s.count_log(r"drain timed out") == 0


@harness.timeout(30)
def test_fast_stop_cancels_deferred_answers():
    """SIGINT (fast stop) while answers are deferred, one of them about to
    turn into a stream: the connections close, the handlers are cancelled
    and let go, the worker and the master exit 0 (no crash, no sanitizer
    report). (A drain that reaches graceful_timeout takes the same path in
    the worker, conn_close_all, but the master kills a worker at that same
    deadline, so which of the two acts first is a race.)"""
    with start() as s:
        conns = []
        for path in ("/later?do=never", "/later?ms=300", "/later?ms=10&do=stream"):
            c = RawConn(s.port, timeout=5)
            c.send(get(path))
            conns.append(c)
        time.sleep(0.1)
        s.send_signal(signal.SIGINT)
        assert s.wait_exit(10) == 0
        assert s.count_log(r"AddressSanitizer|runtime error|killed by") == 0, s.log_tail()
        for c in conns:
            c.close()
