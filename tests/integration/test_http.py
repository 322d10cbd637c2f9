"""
The HTTP engine: black-box tests over raw sockets (every byte the test sends
and reads is its own), plus a few real clients (curl, ab or h2load).

Each test_* function is one acceptance point; run with tests/integration/run.py.
Servers run on a JSON config (routes below) on a free loopback port.
"""

import email.utils
import json
import os
import re
import resource
import signal
import shutil
import socket
import subprocess
import time

import harness
from harness import (RawConn, Shoal, Skip, deadline, http_get, note, request_bytes,
                     server_pid_for_client_port, wait_until)

HELLO = b"Hello, World!"
JSON_HELLO = b'{"message":"Hello, World!"}'

ROUTES = [
    {"path": "/", "handler": "hello"},
    {"path": "/json", "handler": "json"},
    {"path": "/healthz", "handler": "health"},
    {"path": "/echo", "handler": "echo", "methods": ["GET", "POST", "PUT"]},
    {"path": "/ticker", "handler": "ticker", "interval": 0.05, "count": 3},
    {"path": "/pre/", "match": "prefix", "handler": "hello"},
]

# a slower ticker: its spacing can be measured without scheduler noise
SLOW_TICK = 0.25
ROUTES_TICKER = ROUTES + [{"path": "/ticker-slow", "handler": "ticker",
                           "interval": SLOW_TICK, "count": 3}]

# routing order: a longer prefix listed after a shorter one, an exact path under a prefix
ROUTES_ROUTING = ROUTES + [{"path": "/pre/deep/", "match": "prefix", "handler": "json"},
                           {"path": "/pre/exact", "handler": "health"}]

# small limits for the error tests (each at least the config's minimum)
LIMITS = {"max_request_line": 1024, "max_header_size": 2048, "max_headers": 20,
          "max_body_size": 4096}


def control_socket():
    """A control socket of the test's own: the default path is shared by every
    shoal on the machine."""
    return os.path.join(harness.tmpdir(), "ctl%d.sock" % len(harness.servers()))


def server(routes=ROUTES, args=(), workers=1, rlimits=None, **keys):
    """A Shoal (not started: use `with`) on a config file with routes and keys."""
    port = harness.free_port()
    cfg = {"listen": ["127.0.0.1:%d" % port], "routes": routes, "control_socket": control_socket()}
    cfg.update(keys)
    n = sum(1 for f in os.listdir(harness.tmpdir()) if f.endswith(".json"))
    path = os.path.join(harness.tmpdir(), "shoal%s.json" % (n + 1 if n else ""))
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    s = Shoal(["-c", path] + list(args), workers=workers, rlimits=rlimits)
    s.ports = [port]
    return s


def req(method, path, headers=(), body=b"", version="1.1", host=True):
    """Request bytes exactly as given: headers is a list of (name, value);
    no header is added except Host (HTTP/1.1, unless host=False)."""
    hdrs = list(headers)
    if host and version == "1.1" and not any(k.lower() == "host" for k, _ in hdrs):
        hdrs.insert(0, ("Host", "127.0.0.1"))
    head = "%s %s HTTP/%s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % kv for kv in hdrs)
    return (head + "\r\n").encode("latin-1") + body


def chunked(*pieces):
    """Chunked transfer coding of pieces, terminating chunk included."""
    out = b""
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                     r"Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def common_problems(what, status, headers, body, head_request=False, streamed=False):
    """What is wrong with the headers every response must carry."""
    out = []
    if headers.get("server") != "shoal":
        out.append("%s: Server header %r, expected 'shoal'" % (what, headers.get("server")))
    date = headers.get("date")
    if date is None or not DATE_RE.match(date):
        out.append("%s: Date header %r is not an IMF-fixdate" % (what, date))
    else:
        skew = abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time())
        if skew > 5:
            out.append("%s: Date %r is %.0fs away from now" % (what, date, skew))
    if status >= 200 and status not in (204, 304) and not streamed:
        cl = headers.get("content-length")
        if cl is None:
            out.append("%s: no Content-Length (status %d)" % (what, status))
        elif not head_request and cl != str(len(body)):
            out.append("%s: Content-Length %s but a %d-byte body" % (what, cl, len(body)))
    return out


def check_common(what, status, headers, body, head_request=False, streamed=False):
    p = common_problems(what, status, headers, body, head_request, streamed)
    assert not p, "; ".join(p)


def closed_how(c, timeout=3.0):
    """Read until the peer closes: ('eof'|'reset'|'open', bytes read past the
    last response)."""
    dl = deadline(timeout)
    try:
        while c._fill(dl):
            pass
        how = "eof"
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "open"
    extra, c.buf = c.buf, b""
    return how, extra


def expect_eof(c, what, timeout=3.0):
    """The server closes the connection cleanly (FIN) with nothing more sent."""
    how, extra = closed_how(c, timeout)
    assert how == "eof", {
        "reset": "%s: connection reset (RST) instead of a clean close; bytes after the "
                 "response: %r" % (what, extra[:200]),
        "open": "%s: connection still open %.1fs after the response (expected a close); "
                "bytes after the response: %r" % (what, timeout, extra[:200]),
    }[how]
    assert not extra, "%s: bytes after the response: %r" % (what, extra[:200])


def still_open(c, wait=0.2):
    """Nothing arrives (no data, no EOF) for wait seconds."""
    return not c.readable(wait)


def get_ok(c, path, body, what=None, **kw):
    """Send GET path on c (keep-alive) and check a 200 with body."""
    c.send(req("GET", path, **kw))
    st, h, b = c.recv_response(timeout=3)
    what = what or "GET %s" % path
    assert st == 200 and b == body, "%s -> %d %r (expected 200 %r)" % (what, st, b[:200], body)
    check_common(what, st, h, b)
    return h


def echo_json(body, what):
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError("%s: echo body is not JSON: %r" % (what, body[:300]))


# ---------------------------------------------------------------------------
# routing, handlers, common headers

@harness.timeout(20)
def test_routes_404_405_allow_and_common_headers():
    with server(routes=ROUTES_ROUTING) as s, RawConn(s.port) as c:
        get_ok(c, "/", HELLO)
        h = get_ok(c, "/json", JSON_HELLO)
        assert h.get("content-type", "").startswith("application/json"), \
            "/json Content-Type %r" % h.get("content-type")
        h = get_ok(c, "/healthz", b"ok")
        # prefix route: /pre/ and below; /pre itself is not under it
        get_ok(c, "/pre/", HELLO)
        get_ok(c, "/pre/a/b?x=1", HELLO)
        # the longest prefix wins whatever the config order; an exact route beats prefixes
        get_ok(c, "/pre/deep/x", JSON_HELLO, "GET /pre/deep/x (prefixes /pre/ and /pre/deep/)")
        get_ok(c, "/pre/deep", HELLO, "GET /pre/deep (only under /pre/)")
        get_ok(c, "/pre/exact", b"ok", "GET /pre/exact (exact route under prefix /pre/)")
        get_ok(c, "/pre/exact/x", HELLO, "GET /pre/exact/x (prefix /pre/ only)")
        for path in ("/pre", "/nope", "/jsonx", "/echo/more"):
            c.send(req("GET", path))
            st, h, b = c.recv_response(timeout=3)
            assert st == 404, "GET %s -> %d %r, expected 404" % (path, st, b[:100])
            check_common("GET %s" % path, st, h, b)
        # method not allowed on /echo (GET, POST, PUT; GET implies HEAD)
        for method in ("DELETE", "PATCH", "OPTIONS"):
            c.send(req(method, "/echo"))
            st, h, b = c.recv_response(timeout=3)
            assert st == 405, "%s /echo -> %d %r, expected 405" % (method, st, b[:100])
            check_common("%s /echo" % method, st, h, b)
            allow = {m.strip() for m in h.get("allow", "").split(",") if m.strip()}
            assert allow == {"GET", "HEAD", "POST", "PUT"}, \
                "%s /echo: Allow %r, expected GET, HEAD, POST, PUT" % (method, h.get("allow"))
        # the connection survived every answer above (keep-alive)
        get_ok(c, "/", HELLO, "GET / after 404s and 405s on the same connection")
        # HEAD on the GET-only route set of /echo is allowed
        c.send(req("HEAD", "/echo"))
        st, h, b = c.recv_response(timeout=3, head_request=True)
        assert st == 200, "HEAD /echo -> %d (GET implies HEAD)" % st


@harness.timeout(20)
def test_echo_shows_request_and_client_address():
    with server() as s, RawConn(s.port) as c:
        c.send(req("PUT", "/echo?a=1&b=%20", [("X-Test", "v1"), ("Content-Length", "5")], b"hello"))
        st, h, body = c.recv_response(timeout=3)
        assert st == 200, "PUT /echo -> %d %r" % (st, body[:200])
        check_common("PUT /echo", st, h, body)
        e = echo_json(body, "PUT /echo")
        note("echo: %s" % e)
        want_client = "127.0.0.1:%d" % c.local_port
        assert e.get("client") == want_client, "echo client %r, expected %r" % (e.get("client"), want_client)
        assert e.get("method") == "PUT", "echo method %r" % e.get("method")
        assert e.get("path") == "/echo", "echo path %r" % e.get("path")
        assert e.get("query") == "a=1&b=%20", "echo query %r" % e.get("query")
        assert e.get("version") == "HTTP/1.1", "echo version %r" % e.get("version")
        assert e.get("body") == "hello" and e.get("body_length") == 5, \
            "echo body %r length %r" % (e.get("body"), e.get("body_length"))
        hdrs = [tuple(x) for x in e.get("headers", [])]
        assert hdrs == [("Host", "127.0.0.1"), ("X-Test", "v1"), ("Content-Length", "5")], \
            "echo headers %r (expected the request's, in order)" % hdrs
        # HTTP/1.0 is reported as such
        c2 = RawConn(s.port)
        with c2:
            c2.send(req("GET", "/echo", version="1.0"))
            st, h, body = c2.recv_response(timeout=3)
            e = echo_json(body, "GET /echo HTTP/1.0")
            assert e.get("version") == "HTTP/1.0", "HTTP/1.0 echo version %r" % e.get("version")
            assert e.get("client") == "127.0.0.1:%d" % c2.local_port, "echo client %r" % e.get("client")


@harness.timeout(20)
def test_default_config_welcome_json_health_echo():
    with Shoal(["--control-socket", control_socket()], workers=1) as s, RawConn(s.port) as c:
        get_ok(c, "/", HELLO, "GET / (no Accept)")
        c.send(req("GET", "/", [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]))
        st, h, body = c.recv_response(timeout=3)
        assert st == 200 and b"<html" in body.lower(), \
            "GET / with Accept: text/html -> %d %r (expected the HTML welcome page)" % (st, body[:200])
        assert h.get("content-type", "").startswith("text/html"), "welcome Content-Type %r" % h.get("content-type")
        check_common("GET / (html)", st, h, body)
        get_ok(c, "/", HELLO, "GET / with Accept: */*", headers=[("Accept", "*/*")])
        get_ok(c, "/json", JSON_HELLO)
        get_ok(c, "/healthz", b"ok")
        c.send(req("POST", "/echo", [("Content-Length", "2")], b"hi"))
        st, h, body = c.recv_response(timeout=3)
        assert st == 200 and echo_json(body, "POST /echo").get("body") == "hi", \
            "POST /echo on the default config -> %d %r" % (st, body[:200])


# ---------------------------------------------------------------------------
# connections: keep-alive, close, pipelining, HEAD

@harness.timeout(20)
def test_http11_keepalive_by_default_and_connection_close():
    with server() as s:
        with RawConn(s.port) as c:
            for i in range(3):
                h = get_ok(c, "/", HELLO, "GET / #%d on one HTTP/1.1 connection" % (i + 1))
                assert "close" not in h.get("connection", "").lower(), \
                    "HTTP/1.1 request without Connection answered with Connection: %s" % h["connection"]
            assert still_open(c), "the server closed an HTTP/1.1 keep-alive connection"
            c.send(req("GET", "/json", [("Connection", "close")]))
            st, h, body = c.recv_response(timeout=3)
            assert st == 200 and body == JSON_HELLO, "GET /json (close) -> %d %r" % (st, body[:100])
            assert h.get("connection", "").lower() == "close", \
                "Connection: close request answered with Connection: %r" % h.get("connection")
            expect_eof(c, "after a Connection: close request")


@harness.timeout(20)
def test_keepalive_requests_closes_after_the_last():
    """keepalive_requests 3: the third request on a connection is answered
    with Connection: close and the connection ends with a FIN, also when a
    fourth was pipelined behind it (dropped, never answered); 0: no limit."""
    with server(keepalive_requests=3) as s:
        with RawConn(s.port) as c:
            for i in range(2):
                h = get_ok(c, "/", HELLO, "GET / #%d" % (i + 1))
                assert "close" not in h.get("connection", "").lower(), h
            h = get_ok(c, "/", HELLO, "GET / #3, the last")
            assert h.get("connection", "").lower() == "close", \
                "the 3rd request (keepalive_requests 3) answered with Connection: %r" % \
                h.get("connection")
            expect_eof(c, "after the 3rd request")
        with RawConn(s.port) as c:
            c.send(req("GET", "/") * 4)
            for i in range(3):
                st, h, b = c.recv_response(timeout=3)
                assert st == 200 and b == HELLO, (i, st, b)
            assert h.get("connection", "").lower() == "close", h
            expect_eof(c, "after the 3rd of 4 pipelined requests")
    with server(keepalive_requests=0) as s:
        with RawConn(s.port) as c:
            for i in range(1200):
                c.send(req("GET", "/"))
                st, h, b = c.recv_response(timeout=3)
                assert st == 200 and "close" not in h.get("connection", "").lower(), (i, h)


@harness.timeout(20)
def test_http10_keepalive_two_requests_one_connection():
    with server() as s:
        with RawConn(s.port) as c:
            for path, body in (("/", HELLO), ("/json", JSON_HELLO)):
                c.send(req("GET", path, [("Connection", "keep-alive")], version="1.0"))
                st, h, b = c.recv_response(timeout=3)
                what = "HTTP/1.0 GET %s with Connection: keep-alive" % path
                assert st == 200 and b == body, "%s -> %d %r" % (what, st, b[:100])
                check_common(what, st, h, b)
                assert h.get("connection", "").lower() == "keep-alive", \
                    "%s: response Connection %r, expected keep-alive" % (what, h.get("connection"))
                assert still_open(c), "%s: the server closed the connection" % what
            # a 1.0 request without keep-alive ends it
            c.send(req("GET", "/healthz", version="1.0"))
            st, h, b = c.recv_response(timeout=3)
            assert st == 200 and b == b"ok", "HTTP/1.0 GET /healthz -> %d %r" % (st, b)
            assert "keep-alive" not in h.get("connection", "").lower(), \
                "plain HTTP/1.0 request answered with Connection: %s" % h.get("connection")
            expect_eof(c, "after a plain HTTP/1.0 request")


@harness.timeout(20)
def test_pipelining_three_requests_in_one_write():
    with server() as s:
        with RawConn(s.port) as c:
            c.send(req("GET", "/") + req("GET", "/json") + req("GET", "/healthz"))
            got = []
            for i in range(3):
                st, h, b = c.recv_response(timeout=3)
                check_common("pipelined response %d" % (i + 1), st, h, b)
                got.append((st, b))
            assert got == [(200, HELLO), (200, JSON_HELLO), (200, b"ok")], \
                "3 pipelined GETs (/, /json, /healthz) -> %r" % got
            assert still_open(c), "connection closed after 3 pipelined keep-alive requests"

        # with bodies (Content-Length, chunked), the last asking to close
        with RawConn(s.port) as c:
            c.send(req("POST", "/echo?n=1", [("Content-Length", "3")], b"one") +
                   req("PUT", "/echo?n=2", [("Transfer-Encoding", "chunked")], chunked(b"tw", b"o")) +
                   req("GET", "/echo?n=3", [("Connection", "close")]))
            got = []
            for i in range(3):
                st, h, b = c.recv_response(timeout=3)
                check_common("pipelined echo %d" % (i + 1), st, h, b)
                e = echo_json(b, "pipelined echo %d" % (i + 1)) if st == 200 else {}
                got.append((st, e.get("method"), e.get("query"), e.get("body")))
            assert got == [(200, "POST", "n=1", "one"), (200, "PUT", "n=2", "two"),
                           (200, "GET", "n=3", "")], "3 pipelined echo requests -> %r" % got
            expect_eof(c, "after the pipelined Connection: close request")


@harness.timeout(20)
def test_head_same_headers_as_get_no_body():
    with server() as s, RawConn(s.port) as c:
        for path, body in (("/", HELLO), ("/json", JSON_HELLO), ("/pre/x", HELLO)):
            c.send(req("GET", path))
            gst, gh, gb = c.recv_response(timeout=3)
            # HEAD then GET pipelined: a HEAD body would show up before the GET's status line
            c.send(req("HEAD", path) + req("GET", "/healthz"))
            hst, hh, _ = c.recv_response(timeout=3, head_request=True)
            dl = deadline(2)
            while len(c.buf) < 9 and c._fill(dl):
                pass
            assert c.buf.startswith(b"HTTP/1.1 "), \
                "HEAD %s: bytes after the head are not the next response: %r" % (path, c.buf[:80])
            st, _, b = c.recv_response(timeout=3)
            assert st == 200 and b == b"ok", "GET /healthz after HEAD %s -> %d %r" % (path, st, b)
            assert gst == hst == 200 and gb == body, "GET/HEAD %s -> %d/%d" % (path, gst, hst)
            check_common("HEAD %s" % path, hst, hh, b"", head_request=True)
            assert hh.get("content-length") == str(len(body)), \
                "HEAD %s: Content-Length %r, expected %d (the GET body's)" % (path, hh.get("content-length"), len(body))
            gh.pop("date", None)
            hh.pop("date", None)
            assert gh == hh, "HEAD %s headers differ from GET's: GET %r HEAD %r" % (path, gh, hh)


# ---------------------------------------------------------------------------
# request bodies

@harness.timeout(20)
def test_chunked_upload_echoed_decoded():
    with server() as s, RawConn(s.port) as c:
        # sizes in either case of hex, a chunk extension, a trailer field
        body = (b"5\r\nhello\r\n" b"A;ext=1\r\n, chunked \r\n" b"b\r\nworld: 1..9\r\n"
                b"0\r\nX-Trailer: t\r\n\r\n")
        c.send(req("POST", "/echo", [("Transfer-Encoding", "chunked")], body))
        st, h, b = c.recv_response(timeout=3)
        assert st == 200, "chunked POST /echo -> %d %r" % (st, b[:200])
        check_common("chunked POST /echo", st, h, b)
        e = echo_json(b, "chunked POST /echo")
        assert e.get("body") == "hello, chunked world: 1..9" and e.get("body_length") == 26, \
            "echo of a chunked body: body %r length %r" % (e.get("body"), e.get("body_length"))

        # the same body split at awkward places over several writes
        data = req("POST", "/echo", [("Transfer-Encoding", "chunked")], chunked(b"x" * 300, b"y" * 17, b"z"))
        pieces = [data[:40], data[40:len(data) - 330], data[len(data) - 330:len(data) - 320],
                  data[len(data) - 320:len(data) - 4], data[len(data) - 4:]]
        assert b"".join(pieces) == data
        for p in pieces:
            c.send(p)
            time.sleep(0.02)
        st, h, b = c.recv_response(timeout=3)
        e = echo_json(b, "chunked POST /echo in pieces") if st == 200 else {}
        assert st == 200 and e.get("body") == "x" * 300 + "y" * 17 + "z", \
            "chunked POST /echo sent in 5 pieces -> %d body %r" % (st, (e.get("body") or b)[:80])


@harness.timeout(20)
def test_expect_100_continue_then_body():
    with server(**LIMITS) as s:
        with RawConn(s.port) as c:
            c.send(req("POST", "/echo", [("Expect", "100-continue"), ("Content-Length", "11")]))
            dl = deadline(3)
            while b"\r\n\r\n" not in c.buf:
                if not c._fill(dl):
                    raise AssertionError("closed before answering Expect: 100-continue (got %r)" % c.buf)
            assert c.buf == b"HTTP/1.1 100 Continue\r\n\r\n", \
                "headers with Expect: 100-continue answered with %r before the body was sent, " \
                "expected exactly 'HTTP/1.1 100 Continue\\r\\n\\r\\n'" % c.buf[:300]
            c.buf = b""
            assert still_open(c, 0.2), "more bytes after the 100 before the body was sent: %r" % c.sock.recv(300)
            c.send(b"hello world")
            st, h, b = c.recv_response(timeout=3)
            assert st == 200, "after the 100 and the body: %d %r" % (st, b[:200])
            check_common("POST /echo with 100-continue", st, h, b)
            e = echo_json(b, "POST /echo with 100-continue")
            assert e.get("body") == "hello world", "echoed body %r" % e.get("body")
            # again, chunked, on the same connection
            c.send(req("PUT", "/echo", [("Expect", "100-continue"), ("Transfer-Encoding", "chunked")]))
            st, h, b = c.recv_response(timeout=3)
            assert st == 100, "second Expect (chunked) on the connection -> %d, expected 100" % st
            c.send(chunked(b"abc"))
            st, h, b = c.recv_response(timeout=3)
            assert st == 200 and echo_json(b, "chunked 100-continue").get("body") == "abc", \
                "chunked body after the 100 -> %d %r" % (st, b[:200])

        # refused: the declared length exceeds max_body_size -> 413, no 100, close
        with RawConn(s.port) as c:
            c.send(req("POST", "/echo", [("Expect", "100-continue"), ("Content-Length", "5000")]))
            st, h, b = c.recv_response(timeout=3)
            assert st == 413, "Expect: 100-continue with Content-Length 5000 > max_body_size 4096 -> " \
                "%d (head %r), expected 413 without a 100 first" % (st, c.last_head[:200])
            check_common("refused 100-continue", st, h, b)
            expect_eof(c, "after the 413 answering Expect: 100-continue")


# ---------------------------------------------------------------------------
# errors: status, then a clean close

def error_cases():
    L = LIMITS
    long_target = "/" + "a" * L["max_request_line"]               # one byte over
    many = [("X-H%d" % i, "v") for i in range(L["max_headers"])]  # + Host: one over
    return [
        ("request line with a trailing word", b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n", (400,)),
        ("space inside the target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("control byte in the target", b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("version HTTP/1.x", b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", (400,)),
        ("protocol name HTTX/1.1", b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("request line without spaces", b"GARBAGE\r\n\r\n", (400,)),
        ("request line without a version", b"GET /\r\nHost: x\r\n\r\n", (400,)),
        ("target over max_request_line", req("GET", long_target), (414,)),
        ("header section over max_header_size",
         req("GET", "/", [("X-Big", "b" * L["max_header_size"])]), (431,)),
        ("more than max_headers fields", req("GET", "/", many), (431,)),
        ("Content-Length over max_body_size (body sent anyway)",
         req("POST", "/echo", [("Content-Length", "100000")], b"x" * 100000), (413,)),
        ("chunked body over max_body_size",
         req("POST", "/echo", [("Transfer-Encoding", "chunked")], chunked(*[b"y" * 1024] * 5)), (413,)),
        ("unknown method FOO", b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", (501,)),
        ("version HTTP/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", (505,)),
        ("version HTTP/3.1", b"GET / HTTP/3.1\r\nHost: x\r\n\r\n", (505,)),
        ("Content-Length and Transfer-Encoding",
         req("POST", "/echo", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")], b"0\r\n\r\n"),
         (400,)),
        ("Transfer-Encoding and Content-Length",
         req("POST", "/echo", [("Transfer-Encoding", "chunked"), ("Content-Length", "5")], b"0\r\n\r\n"),
         (400,)),
        ("two differing Content-Length",
         req("POST", "/echo", [("Content-Length", "5"), ("Content-Length", "6")], b"hello!"), (400,)),
        ("bad chunk size zz",
         req("POST", "/echo", [("Transfer-Encoding", "chunked")], b"zz\r\nhello\r\n0\r\n\r\n"), (400,)),
        ("Expect other than 100-continue",
         req("POST", "/echo", [("Expect", "something-else"), ("Content-Length", "2")], b"hi"), (417,)),
    ]


def run_error_case(port, name, data, statuses):
    """Problems (strings) with the answer to data: status, headers, clean close."""
    problems = []
    with RawConn(port, timeout=3) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            note("%s: send: %s" % (name, e))
        try:
            st, h, b = c.recv_response(timeout=3)
        except (OSError, ConnectionError) as e:
            return ["%s: no response (%s: %s); sent %r" % (name, type(e).__name__, e, data[:80])]
        line = c.last_head.split(b"\r\n", 1)[0]
        note("%s -> %r" % (name, line))
        if st not in statuses:
            problems.append("%s: sent %r -> %r, expected %s" % (
                name, data[:60], line, " or ".join(map(str, statuses))))
        if st not in statuses and st < 400:
            return problems        # served as a valid request: the rest follows
        problems += common_problems(name, st, h, b)
        if h.get("connection", "").lower() != "close":
            problems.append("%s: error response without Connection: close (%r)" % (name, h.get("connection")))
        how, extra = closed_how(c, 3)
        if how != "eof" or extra:
            problems.append("%s: after the %d: %s, %d more bytes %r" % (
                name, st, {"eof": "closed", "reset": "connection RESET", "open": "still open after 3s"}[how],
                len(extra), extra[:80]))
    return problems


@harness.timeout(40)
def test_error_statuses_then_close():
    with server(**LIMITS) as s:
        problems = []
        for name, data, statuses in error_cases():
            problems += run_error_case(s.port, name, data, statuses)
        # at the limits (not over): served
        L = LIMITS
        at_limit = [
            ("target of exactly max_request_line", req("GET", "/pre/" + "a" * (L["max_request_line"] - 5),
                                                       [("Connection", "close")]), 200),
            ("exactly max_headers fields", req("GET", "/", [("Connection", "close")] +
                                               [("X-H%d" % i, "v") for i in range(L["max_headers"] - 2)]), 200),
            ("body of exactly max_body_size", req("POST", "/echo", [("Content-Length", str(L["max_body_size"])),
                                                                    ("Connection", "close")],
                                                  b"z" * L["max_body_size"]), 200),
        ]
        for name, data, want in at_limit:
            with RawConn(s.port) as c:
                c.send(data)
                try:
                    st, h, b = c.recv_response(timeout=3)
                except (OSError, ConnectionError) as e:
                    problems.append("%s: no response (%s)" % (name, e))
                    continue
                if st != want:
                    problems.append("%s: -> %r, expected %d" % (name, c.last_head.split(b"\r\n")[0], want))
        assert not problems, "%d problems:\n  " % len(problems) + "\n  ".join(problems)


@harness.timeout(20)
def test_smuggling_cl_te_pair_is_400_and_nothing_smuggled():
    with server() as s:
        for order in (("Content-Length", "Transfer-Encoding"), ("Transfer-Encoding", "Content-Length")):
            # read as chunked: one empty body, then a smuggled GET /json;
            # read by length: a body swallowing part of it
            smuggled = req("GET", "/json")
            body = b"0\r\n\r\n" + smuggled
            hdrs = [(k, str(len(body)) if k == "Content-Length" else "chunked") for k in order]
            with RawConn(s.port) as c:
                c.send(req("POST", "/echo", hdrs, body))
                st, h, b = c.recv_response(timeout=3)
                assert st == 400, "%s + %s -> %r, expected 400" % (order[0], order[1], c.last_head[:200])
                how, extra = closed_how(c, 3)
                assert b"HTTP/1.1" not in extra, \
                    "%s + %s: a second response after the 400 (smuggled request served): %r" % (
                        order[0], order[1], extra[:300])
                assert how == "eof", "%s + %s: after the 400 the connection was %s" % (
                    order[0], order[1], {"reset": "reset", "open": "left open"}[how])


# A TLS 1.2 ClientHello, as a client that mistook the port for HTTPS sends it.
TLS_HELLO = (b"\x16\x03\x01\x00\x5d\x01\x00\x00\x59\x03\x03" + bytes(range(32)) +
             b"\x00\x00\x04\xc0\x2b\xc0\x2f\x01\x00\x00\x2c\x00\x00\x00\x0e\x00\x0c\x00\x00"
             b"\x09localhost\x00\x0b\x00\x02\x01\x00\x00\x0a\x00\x04\x00\x02\x00\x17"
             b"\x00\x0d\x00\x04\x00\x02\x04\x03\x00\x10\x00\x05\x00\x03\x02h2")

# The issue's table, byte for byte: what NGINX refuses, and what shoal used to
# answer (in the comment). Each gets one response and a close.
ISSUE_TABLE = [
    ("two Host fields (was 200)", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("a Host with a space (was 200)", b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400),
    ("obs-fold (was 200, Host 'a  continued')",
     b"GET / HTTP/1.1\r\nHost: a\r\n  continued\r\n\r\n", 400),
    ("chunked in HTTP/1.0 (was 200, de-chunked)",
     b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    ("a bare CR before a field (was 200, then 501 for 'Some-Header: x')",
     b"GET / HTTP/1.1\r\nHost: a\r\n\rSome-Header: x\r\n\r\n", 400),
    ("a TLS ClientHello (was 501)", TLS_HELLO, 400),
    ("Transfer-Encoding: gzip, chunked (was accepted)",
     b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", 501),
]


def strictness_cases():
    """The same classes as the table, at more places (name, bytes, status)."""
    get = b"GET / HTTP/1.1\r\n"
    post = b"POST /echo HTTP/1.1\r\nHost: a\r\n"
    te = post + b"Transfer-Encoding: chunked\r\n\r\n"
    cases = [
        # bare LF
        ("bare LF ending the request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
        ("bare LF ending a field", get + b"Host: a\nX: y\r\n\r\n", 400),
        ("bare LF as the empty line", get + b"Host: a\r\n\n", 400),
        ("bare LFs only", b"GET / HTTP/1.1\nHost: a\n\n", 400),
        ("bare LF in a field name", get + b"Host: a\r\nX\n: y\r\n\r\n", 400),
        ("bare LF before the request", b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bare LF ending a chunk size", te + b"5\nhello\r\n0\r\n\r\n", 400),
        ("bare LF in the trailers", te + b"0\r\nT: 1\n\r\n", 400),
        # bare CR
        ("bare CR in the target", b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bare CR ending the request line", b"GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
        ("bare CR in a value", get + b"Host: a\r\nX: 1\r2\r\n\r\n", 400),
        ("bare CR as the empty line", get + b"Host: a\r\n\r\r\n", 400),
        ("bare CR in a field name", get + b"Host: a\r\nX\r: y\r\n\r\n", 400),
        ("bare CR ending a chunk size", te + b"5\rhello\r\n0\r\n\r\n", 400),
        ("bare CR after chunk data", te + b"5\r\nhello\r0\r\n\r\n", 400),
        # obs-fold, and whitespace before the first field
        ("obs-fold (tab) of a value", get + b"Host: a\r\nX: 1\r\n\t2\r\n\r\n", 400),
        ("obs-fold of Host", get + b"Host:\r\n a\r\n\r\n", 400),
        ("obs-fold of Content-Length", post + b"Content-Length:\r\n 5\r\n\r\nhello", 400),
        ("obs-fold of Transfer-Encoding",
         post + b"Transfer-Encoding: gzip\r\n ,chunked\r\n\r\n0\r\n\r\n", 400),
        ("whitespace before the first field", get + b" Host: a\r\n\r\n", 400),
        # Host
        ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n", 400),
        ("an empty Host", get + b"Host:\r\n\r\n", 400),
        ("Host with userinfo", get + b"Host: u@a\r\n\r\n", 400),
        ("Host with a path", get + b"Host: a/b\r\n\r\n", 400),
        ("Host with a list", get + b"Host: a, b\r\n\r\n", 400),
        ("Host port 99999", get + b"Host: a:99999\r\n\r\n", 400),
        ("Host with an empty port", get + b"Host: a:\r\n\r\n", 400),
        ("Host with a broken IPv6 literal", get + b"Host: [::1\r\n\r\n", 400),
        ("two Hosts in HTTP/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400),
        # Transfer-Encoding
        ("Transfer-Encoding: gzip", post + b"Transfer-Encoding: gzip\r\n\r\nhello", 400),
        ("Transfer-Encoding: identity", post + b"Transfer-Encoding: identity\r\n\r\nhello", 400),
        ("Transfer-Encoding: chunked, gzip",
         post + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
        ("chunked twice, on two lines",
         post + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("gzip then chunked, on two lines",
         post + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        ("Transfer-Encoding: chunked;q=1", post + b"Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400),
        ("an empty Transfer-Encoding", post + b"Transfer-Encoding:\r\n\r\n0\r\n\r\n", 400),
        ("a chunk size with a space after it", te + b"5 \r\nhello\r\n0\r\n\r\n", 400),
        ("chunk data longer than its size", te + b"3\r\nhello\r\n0\r\n\r\n", 400),
        ("a chunk size of 17 digits", te + b"00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
        # Content-Length
        ("Content-Length: +5", post + b"Content-Length: +5\r\n\r\nhello", 400),
        ("Content-Length: 5,5", post + b"Content-Length: 5,5\r\n\r\nhello", 400),
        ("Content-Length: 0x5", post + b"Content-Length: 0x5\r\n\r\nhello", 400),
        ("Content-Length: -1", post + b"Content-Length: -1\r\n\r\nhello", 400),
        ("Content-Length: 5 5", post + b"Content-Length: 5 5\r\n\r\nhello", 400),
        ("Content-Length of 20 digits", post + b"Content-Length: 99999999999999999999\r\n\r\nhello", 400),
        ("Content-Length of 19 digits (over max_body_size)",
         post + b"Content-Length: 9999999999999999999\r\n\r\nhello", 413),
        ("two equal Content-Lengths", post + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
        # methods, targets, versions, field names and values
        ("a lowercase method", b"get / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("a control byte in the method", b"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("a NUL first", b"\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("a fragment in the target", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("DEL in the target", b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("a tab in the target", b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("* for GET", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("an ftp: absolute-form", b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("CONNECT with origin-form", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("the HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        ("a space in a field name", get + b"Host: a\r\nX Y: z\r\n\r\n", 400),
        ("a field without a name", get + b"Host: a\r\n: z\r\n\r\n", 400),
        ("a control byte in a value", get + b"Host: a\r\nX: \x01\r\n\r\n", 400),
        ("a NUL in a value", get + b"Host: a\r\nX: a\x00b\r\n\r\n", 400),
        ("a DEL in a value", get + b"Host: a\r\nX: \x7f\r\n\r\n", 400),
        ("Connection: a list that is not of tokens", get + b"Host: a\r\nConnection: keep alive\r\n\r\n", 400),
    ]
    return cases


@harness.timeout(60)
def test_issue_table_and_classes_one_response_then_close():
    """Each of the issue's requests, and the same classes at more places:
    exactly one response with the status RFC 9112 asks for, Connection: close,
    then the connection closed with nothing after the response."""
    with server(**LIMITS) as s:
        problems = []
        for name, data, status in ISSUE_TABLE + strictness_cases():
            problems += run_error_case(s.port, name, data, (status,))
        assert not problems, "%d problems:\n  " % len(problems) + "\n  ".join(problems)


@harness.timeout(30)
def test_strict_parser_still_takes_what_is_valid():
    """Legal, if unusual, requests keep working: whitespace around a value,
    a coding's case, an IPv6 Host, chunk extensions and trailers (dropped),
    empty lines before a request, non-ASCII in a value, empty list elements."""
    cases = [
        ("Content-Length with whitespace around it",
         req("POST", "/echo", [("Content-Length", " \t5 ")], b"hello"), "hello", None),
        ("Transfer-Encoding: Chunked", req("POST", "/echo", [("Transfer-Encoding", "Chunked")],
                                           chunked(b"hel", b"lo")), "hello", None),
        ("an IPv6 Host with a port", req("GET", "/echo", [("Host", "[::1]:8080")]), "", None),
        ("chunk extensions and trailers",
         req("POST", "/echo", [("Transfer-Encoding", "chunked")],
             b"3;a=b\r\nhel\r\n2 ; q=\"x\\\"y\"\r\nlo\r\n0;end\r\nX-Trailer: t\r\n\r\n"), "hello", None),
        ("empty lines before the request", b"\r\n\r\n" + req("GET", "/echo"), "", None),
        ("non-ASCII in a value", req("GET", "/echo", [("X-Name", "caf\xe9")]), "", None),
        ("Connection: with an empty element", req("GET", "/echo", [("Connection", ", close")]), "",
         "close"),
    ]
    with server() as s:
        for name, data, body, conn in cases:
            with RawConn(s.port) as c:
                c.send(data)
                st, h, b = c.recv_response(timeout=3)
                assert st == 200, "%s -> %r, expected 200" % (name, c.last_head[:200])
                e = echo_json(b, name)
                assert e.get("body") == body, "%s: echo body %r, expected %r" % (name, e.get("body"), body)
                names = [k.lower() for k, _ in e.get("headers", [])]
                assert "x-trailer" not in names, "%s: a trailer shown as a header: %r" % (name, names)
                if conn == "close":
                    assert h.get("connection", "").lower() == "close", \
                        "%s: Connection %r, expected close" % (name, h.get("connection"))
                    expect_eof(c, name)
                else:
                    assert still_open(c), "%s: the connection closed after a valid request" % name


@harness.timeout(20)
def test_absolute_form_target_routed_by_its_path():
    """GET http://x/healthz is GET /healthz (it was a 404): the path of an
    absolute-form target routes it; an empty path is "/"; the query stays."""
    with server() as s, RawConn(s.port) as c:
        for target, want in (("http://x/healthz", b"ok"), ("HTTP://x:8080/json", JSON_HELLO),
                             ("https://[::1]", HELLO), ("http://x?q=1", HELLO)):
            c.send(req("GET", target))
            st, h, b = c.recv_response(timeout=3)
            assert st == 200 and b == want, "GET %s -> %d %r, expected 200 %r" % (target, st, b[:80], want)
        c.send(req("GET", "http://x/echo?a=1"))
        st, h, b = c.recv_response(timeout=3)
        e = echo_json(b, "GET http://x/echo?a=1")
        assert (e.get("path"), e.get("query")) == ("/echo", "a=1"), \
            "absolute-form echo: path %r query %r" % (e.get("path"), e.get("query"))
        c.send(req("GET", "http://x/nope"))
        st, h, b = c.recv_response(timeout=3)
        assert st == 404, "GET http://x/nope -> %d, expected 404" % st
        assert still_open(c), "the connection closed after absolute-form requests"
    with server() as s:
        problems = run_error_case(s.port, "userinfo in an absolute-form target",
                                  b"GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n", (400,))
        assert not problems, "; ".join(problems)


@harness.timeout(20)
def test_smuggling_bare_cr_or_lf_splits_nothing():
    """A bare CR or LF cannot make a second request out of one: the bytes
    that another parser could take for a line break are refused with the
    first request, and nothing after them is answered."""
    smuggled = b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n"
    with server() as s:
        for sep in (b"\r", b"\n"):
            for where, data in (
                    ("inside a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: y" + sep + smuggled),
                    ("ending the head", b"GET / HTTP/1.1\r\nHost: a\r\n" + sep + smuggled),
                    ("ending a chunk", b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                     b"\r\n\r\n1\r\nx\r\n0\r\n" + sep + smuggled)):
                what = "bare %r %s" % (sep, where)
                with RawConn(s.port) as c:
                    c.send(data)
                    st, h, b = c.recv_response(timeout=3)
                    assert st == 400, "%s -> %r, expected 400" % (what, c.last_head[:200])
                    how, extra = closed_how(c, 3)
                    assert b"HTTP/1.1" not in extra, "%s: a second response: %r" % (what, extra[:300])
                    assert how == "eof", "%s: after the 400 the connection was %s" % (what, how)


# ---------------------------------------------------------------------------
# timeouts

@harness.timeout(25)
def test_slow_loris_header_timeout_408_and_close():
    ht = 2.0
    with server(args=["--header-timeout", "%g" % ht]) as s, RawConn(s.port, timeout=10) as c:
        head = req("GET", "/", [("X-Slow", "a" * 40)])
        t0 = time.monotonic()
        sent = 0
        dl = deadline(ht + 4)
        while sent < len(head) and time.monotonic() < dl:
            try:
                c.send(head[sent:sent + 1])          # one byte a second
            except (BrokenPipeError, ConnectionResetError) as e:
                note("send after %d bytes: %s" % (sent, e))
                break
            sent += 1
            if c.readable(1.0):
                break
        t_ready = time.monotonic() - t0
        note("%d header bytes sent; answer after %.2fs" % (sent, t_ready))
        assert c.readable(0), "no answer %.1fs after the first of %d slow header bytes " \
            "(header_timeout %gs)" % (t_ready, sent, ht)
        st, h, b = c.recv_response(timeout=2)
        took = time.monotonic() - t0
        assert st == 408, "slow head -> %r, expected 408" % c.last_head[:200]
        check_common("408", st, h, b)
        assert took < ht + 1.5, "408 after %.2fs, header_timeout is %gs (limit %.1fs)" % (took, ht, ht + 1.5)
        assert took > ht - 0.3, "408 after %.2fs, before the %gs header_timeout" % (took, ht)
        expect_eof(c, "after the 408")


@harness.timeout(25)
def test_body_timeout_between_reads():
    bt = 1.0
    with server(args=["--body-timeout", "%g" % bt]) as s:
        # a body that drips in faster than body_timeout is taken
        with RawConn(s.port, timeout=10) as c:
            c.send(req("POST", "/echo", [("Content-Length", "5")]))
            for ch in b"drips":
                time.sleep(0.4)
                c.send(bytes([ch]))
            st, h, b = c.recv_response(timeout=3)
            assert st == 200 and echo_json(b, "dripped body").get("body") == "drips", \
                "a body sent one byte every 0.4s (body_timeout 1s) -> %d %r" % (st, b[:200])
        # a body that stops -> 408 after body_timeout, then close
        with RawConn(s.port, timeout=10) as c:
            c.send(req("POST", "/echo", [("Content-Length", "10")], b"abc"))
            t0 = time.monotonic()
            st, h, b = c.recv_response(timeout=bt + 3)
            took = time.monotonic() - t0
            assert st == 408, "stalled body -> %r, expected 408" % c.last_head[:200]
            assert bt - 0.2 < took < bt + 1.5, "408 after %.2fs, body_timeout %gs" % (took, bt)
            expect_eof(c, "after the body 408")


@harness.timeout(20)
def test_keepalive_timeout_closes_idle_with_fin():
    kt = 1.0
    with server(args=["--keepalive-timeout", "%g" % kt]) as s, RawConn(s.port, timeout=10) as c:
        get_ok(c, "/", HELLO)
        t0 = time.monotonic()
        how, extra = closed_how(c, kt + 3)
        took = time.monotonic() - t0
        note("idle keep-alive connection: %s after %.2fs" % (how, took))
        assert how == "eof", "idle keep-alive connection %s (expected a FIN within %.1fs)" % (
            "reset instead of closed with a FIN" if how == "reset" else "still open", kt + 3)
        assert not extra, "bytes before the idle close: %r" % extra[:200]
        assert kt - 0.2 < took < kt + 1.5, "idle connection closed after %.2fs, keepalive_timeout %gs" % (took, kt)


@harness.timeout(30)
def test_write_timeout_drops_client_that_never_reads():
    wt = 1.0
    size = 8 << 20
    with server(args=["--write-timeout", "%g" % wt, "--max-body-size", str(16 << 20)]) as s:
        (worker,) = s.wait_workers(1).values()
        c = RawConn(s.port, timeout=10, rcvbuf=4096)
        try:
            c.send(req("POST", "/echo", [("Content-Length", str(size))]))
            # The write timeout runs from the response's stall, which comes
            # after the whole body is read: no sooner than t0. The kernel
            # may take the 8 MiB before the worker even accepts (tcp_rmem
            # lets it), so under load the worker may be late to hold the
            # connection and to answer: wait for both.
            t0 = time.monotonic()
            c.send(b"w" * size)
            wait_until(lambda: server_pid_for_client_port(c.local_port, [worker], s.port) == worker,
                       10, 0.02, "worker %d to hold the connection" % worker)

            def answering():
                return any(r.remote_port == c.local_port and r.local_port == s.port
                           and r.tx_queue > 0 for r in harness.tcp_table())
            wait_until(answering, 10, 0.01, "the response to start (the body read)")
            t1 = time.monotonic()
            # the server writes what the buffers take, stalls, and drops the client
            wait_until(lambda: server_pid_for_client_port(c.local_port, [worker], s.port) is None,
                       wt + 4, 0.02, "the worker to drop the non-reading client (write_timeout %gs)" % wt)
            t2 = time.monotonic()
            note("connection dropped %.2fs after the body was sent, %.2fs after the response "
                 "started" % (t2 - t0, t2 - t1))
            assert t2 - t1 < wt + 2.5, "dropped %.2fs after the response started, write_timeout " \
                "%gs" % (t2 - t1, wt)
            assert t2 - t0 > wt - 0.3, "dropped after %.2fs, before the %gs write_timeout" % (t2 - t0, wt)
            # reading now: part of the response, then the end (not all of it)
            got, how = 0, "eof"
            dl = deadline(8)
            head = b""
            c.sock.settimeout(1)
            while time.monotonic() < dl:
                try:
                    d = c.sock.recv(1 << 20)
                except ConnectionResetError:
                    how = "reset"
                    break
                except socket.timeout:
                    how = "open"
                    continue
                if not d:
                    how = "eof"
                    break
                if len(head) < 200:
                    head += d[:200]
                got += len(d)
            note("client then read %d bytes and saw %s" % (got, how))
            assert head.startswith(b"HTTP/1.1 200 "), "response head %r" % head[:100]
            m = re.search(rb"Content-Length: (\d+)", head)
            assert m and int(m.group(1)) > size, "Content-Length in %r" % head[:200]
            assert how in ("eof", "reset"), "connection still open %ds after the drop" % 8
            assert got < int(m.group(1)), "the whole %d-byte response arrived: the client was not " \
                "dropped" % got
        finally:
            c.close()
        # the worker still serves
        st, _, b = harness.http_get(s.port, "/")
        assert st == 200 and b == HELLO


# ---------------------------------------------------------------------------
# out of fds

@harness.timeout(40)
def test_fd_exhaustion_pauses_accept_without_spinning_then_resumes():
    nofile = 64
    with server(workers=1, rlimits={resource.RLIMIT_NOFILE: (nofile, nofile)}) as s:
        (worker,) = s.wait_workers(1).values()
        base_fds = len(harness.fd_targets(worker))
        note("worker %d holds %d fds before the test (RLIMIT_NOFILE %d)" % (worker, base_fds, nofile))
        served, stuck = [], None
        try:
            for i in range(nofile + 20):
                c = RawConn(s.port, timeout=3)
                c.send(req("GET", "/"))
                if not c.readable(0.5):
                    stuck = c
                    break
                st, _, b = c.recv_response(timeout=1)
                assert st == 200 and b == HELLO, "connection %d -> %d %r" % (i, st, b[:80])
                served.append(c)
            assert stuck is not None, "%d connections all served under RLIMIT_NOFILE %d" % (
                len(served), nofile)
            note("%d connections served, number %d is not" % (len(served), len(served) + 1))
            assert len(served) >= nofile // 2, "only %d connections served before accepting stopped " \
                "(worker started with %d fds)" % (len(served), base_fds)
            mark = len(s.log_text())
            cpu0 = harness.proc_cpu_seconds(worker)
            time.sleep(2.0)
            cpu = harness.proc_cpu_seconds(worker) - cpu0
            pauses = len(re.findall(r"pausing accepts", s.log_text()[mark:]))
            note("worker CPU during the 2s hold: %.3fs; %d 'pausing accepts' log lines" % (cpu, pauses))
            assert harness.alive(worker), "the worker died while out of fds"
            assert cpu < 0.5, "the worker used %.2fs of CPU in 2s while out of fds (busy loop)" % cpu
            assert not stuck.readable(0), "the waiting connection was answered while every fd is in use"
            # free some fds: the waiting connection and a new one are served
            for c in served[:10]:
                c.close()
            del served[:10]
            t0 = time.monotonic()
            st, _, b = stuck.recv_response(timeout=3)
            note("the waiting connection was served %.2fs after 10 were closed" % (time.monotonic() - t0))
            assert st == 200 and b == HELLO, "waiting connection -> %d %r" % (st, b[:80])
            st, _, b = harness.http_get(s.port, "/", timeout=3)
            assert st == 200 and b == HELLO, "a new connection after fds were freed -> %d %r" % (st, b[:80])
            assert s.workers() == {0: worker}, "the worker was replaced: %s" % s.workers()
        finally:
            for c in served:
                c.close()
            if stuck is not None:
                stuck.close()


@harness.timeout(20)
def test_max_connections_per_worker():
    limit = 4
    with server(args=["--max-connections", str(limit)], workers=1) as s:
        time.sleep(0.1)   # the readiness probe's connection is gone
        conns = []
        try:
            for i in range(limit):
                c = RawConn(s.port)
                conns.append(c)
                get_ok(c, "/", HELLO, "keep-alive connection %d of max_connections %d" % (i + 1, limit))
            extra = RawConn(s.port)
            conns.append(extra)
            extra.send(req("GET", "/"))
            assert not extra.readable(0.5), \
                "connection %d answered with max_connections %d open" % (limit + 1, limit)
            conns[0].close()
            st, _, b = extra.recv_response(timeout=2)
            assert st == 200 and b == HELLO, "the waiting connection -> %d %r" % (st, b[:80])
        finally:
            for c in conns:
                c.close()


# ---------------------------------------------------------------------------
# streamed responses

def read_chunks_timed(c, timeout):
    """Read a chunked body: ([(monotonic time complete, data)], trailer bytes)."""
    dl = deadline(timeout)
    chunks = []
    while True:
        while b"\r\n" not in c.buf:
            if not c._fill(dl):
                raise AssertionError("closed inside a chunk size line after %d chunks (%r)" % (len(chunks), c.buf))
        line, rest = c.buf.split(b"\r\n", 1)
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            raise AssertionError("bad chunk size line %r after %d chunks" % (line, len(chunks)))
        if size == 0:
            c.buf = rest
            while not (c.buf.startswith(b"\r\n") or b"\r\n\r\n" in c.buf):
                if not c._fill(dl):
                    raise AssertionError("closed inside the trailer section (%r)" % c.buf)
            if c.buf.startswith(b"\r\n"):
                trailer, c.buf = b"", c.buf[2:]
            else:
                trailer, c.buf = c.buf.split(b"\r\n\r\n", 1)
            return chunks, trailer
        while len(rest) < size + 2:
            if not c._fill(dl):
                raise AssertionError("closed inside a chunk of %d bytes" % size)
            rest = c.buf.split(b"\r\n", 1)[1]
        data, tail = rest[:size], rest[size:]
        assert tail.startswith(b"\r\n"), "chunk of %d bytes not followed by CRLF: %r" % (size, tail[:20])
        chunks.append((time.monotonic(), data))
        c.buf = tail[2:]


def events(n):
    return [b'data: {"tick":%d}\n\n' % i for i in range(1, n + 1)]


@harness.timeout(20)
def test_ticker_streams_chunked_events_spaced_in_time():
    with server(routes=ROUTES_TICKER) as s:
        with RawConn(s.port, timeout=5) as c:
            # a pipelined request behind the stream waits for its end
            t0 = time.monotonic()
            c.send(req("GET", "/ticker-slow") + req("GET", "/json"))
            dl = deadline(3)
            while b"\r\n\r\n" not in c.buf:
                assert c._fill(dl), "closed before the ticker's response head"
            head, c.buf = c.buf.split(b"\r\n\r\n", 1)
            t_head = time.monotonic() - t0
            lines = head.decode("latin-1").split("\r\n")
            h = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
            assert lines[0] == "HTTP/1.1 200 OK", "ticker status line %r" % lines[0]
            assert h.get("transfer-encoding", "").lower() == "chunked", "ticker head %r" % head
            assert h.get("content-type", "").startswith("text/event-stream"), "ticker head %r" % head
            assert "content-length" not in h, "streamed response with Content-Length: %r" % head
            check_common("GET /ticker-slow", 200, h, b"", streamed=True)
            chunks, trailer = read_chunks_timed(c, 5)
            times = [t - t0 for t, _ in chunks]
            note("ticker-slow: head at %.3fs, chunks at %s" % (t_head, ["%.3f" % t for t in times]))
            assert [d for _, d in chunks] == events(3), "ticker chunks %r" % [d for _, d in chunks]
            assert trailer == b"", "bytes after the terminating chunk: %r" % trailer
            gaps = [times[0]] + [b - a for a, b in zip(times, times[1:])]
            assert all(g > SLOW_TICK * 0.6 for g in gaps), \
                "events not spaced by the %gs interval: arrival times %s" % (SLOW_TICK, times)
            assert times[-1] < SLOW_TICK * 3 + 1.0, "the stream took %.2fs" % times[-1]
            st, h2, b = c.recv_response(timeout=3)
            assert st == 200 and b == JSON_HELLO, "pipelined GET /json after the stream -> %d %r" % (st, b[:100])

            # the fast one of the contract: 3 events 0.05s apart, then the end
            t0 = time.monotonic()
            c.send(req("GET", "/ticker"))
            st, h, b = c.recv_response(timeout=3)
            took = time.monotonic() - t0
            assert st == 200 and b == b"".join(events(3)), "GET /ticker -> %d %r" % (st, b[:200])
            assert "chunked" in h.get("transfer-encoding", ""), "GET /ticker head %r" % c.last_head
            assert took >= 0.12, "3 events at 0.05s intervals arrived within %.3fs" % took
            assert still_open(c), "connection closed after a chunked stream"

        # HTTP/1.0: the raw body, Connection: close, then the close
        with RawConn(s.port, timeout=5) as c:
            c.send(req("GET", "/ticker", version="1.0"))
            st, h, b = c.recv_response(timeout=3)
            assert st == 200 and "transfer-encoding" not in h, "HTTP/1.0 ticker head %r" % c.last_head
            assert h.get("connection", "").lower() == "close", "HTTP/1.0 ticker head %r" % c.last_head
            assert b == b"".join(events(3)), "HTTP/1.0 ticker body %r" % b[:200]


# ---------------------------------------------------------------------------
# real clients

def need(tool):
    path = shutil.which(tool)
    if not path:
        raise Skip("%s is not installed (scripts/deps --test)" % tool)
    return path


def run_tool(args, timeout=30):
    note("run: " + " ".join(args))
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


@harness.timeout(20)
def test_curl_reuses_one_connection_for_several_urls():
    curl = need("curl")
    with server() as s:
        base = "http://127.0.0.1:%d" % s.port
        rc, out, err = run_tool([curl, "-sS", "-v", "--write-out", "\\n[%{http_code} %{num_connects}]\\n",
                                 base + "/", base + "/json", base + "/healthz", base + "/pre/x"])
        assert rc == 0, "curl exit %d: %s" % (rc, err[-500:])
        marks = re.findall(r"\[(\d{3}) (\d+)\]", out)
        note("curl (status, new connections) per URL: %s" % marks)
        assert [m[0] for m in marks] == ["200"] * 4, "curl statuses %s; stdout %r" % (marks, out[:500])
        assert [int(m[1]) for m in marks] == [1, 0, 0, 0], \
            "curl connections per URL %s (expected one for the first, reuse after)" % [m[1] for m in marks]
        assert err.count("Re-using existing connection") == 3, \
            "curl -v does not say 'Re-using existing connection' 3 times: %r" % err[-1500:]
        for body in (HELLO, JSON_HELLO, b"ok"):
            assert body.decode() in out, "%r missing from curl's output %r" % (body, out[:500])


@harness.timeout(20)
def test_curl_chunked_upload_echoed():
    curl = need("curl")
    with server() as s:
        path = os.path.join(harness.tmpdir(), "upload.txt")
        data = "".join("line %06d of the upload, some text to fill it\n" % i for i in range(4000))
        with open(path, "w") as f:
            f.write(data)
        t0 = time.monotonic()
        rc, out, err = run_tool([curl, "-sS", "--data-binary", "@" + path, "-H", "Transfer-Encoding: chunked",
                                 "-H", "Content-Type: text/plain", "http://127.0.0.1:%d/echo" % s.port])
        took = time.monotonic() - t0
        assert rc == 0, "curl exit %d: %s" % (rc, err[-500:])
        e = echo_json(out.encode(), "curl chunked upload")
        hdrs = {k.lower(): v for k, v in e.get("headers", [])}
        note("curl upload of %d bytes: %.2fs; request headers %s" % (len(data), took, hdrs))
        assert hdrs.get("transfer-encoding", "").lower() == "chunked", \
            "curl did not send chunked (request headers %s)" % hdrs
        assert e.get("body_length") == len(data) and e.get("body") == data, \
            "echoed %r bytes, sent %d" % (e.get("body_length"), len(data))
        if hdrs.get("expect", "").lower() == "100-continue":
            # curl waits 1s for a 100 that does not come
            assert took < 0.9, "curl's Expect: 100-continue upload took %.2fs (no 100?)" % took

        # curl asked to wait for a 100 (Content-Length this time)
        t0 = time.monotonic()
        rc, out, err = run_tool([curl, "-sS", "-v", "--data-binary", "@" + path, "-H", "Expect: 100-continue",
                                 "http://127.0.0.1:%d/echo" % s.port])
        took = time.monotonic() - t0
        assert rc == 0, "curl exit %d: %s" % (rc, err[-500:])
        e = echo_json(out.encode(), "curl upload with Expect: 100-continue")
        assert e.get("body") == data, "echoed %r bytes, sent %d" % (e.get("body_length"), len(data))
        assert "< HTTP/1.1 100 Continue" in err, "curl -v shows no 100 Continue: %r" % err[-1500:]
        assert took < 0.9, "curl's upload with Expect: 100-continue took %.2fs (curl waits 1s for " \
            "a 100 that does not come)" % took


@harness.timeout(20)
def test_curl_head():
    curl = need("curl")
    with server() as s:
        rc, out, err = run_tool([curl, "-sS", "-I", "http://127.0.0.1:%d/json" % s.port])
        assert rc == 0, "curl -I exit %d: %s" % (rc, err[-500:])
        lines = out.replace("\r\n", "\n").strip().split("\n")
        assert lines[0] == "HTTP/1.1 200 OK", "curl -I status line %r" % lines[0]
        h = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        check_common("curl -I /json", 200, h, b"", head_request=True)
        assert h.get("content-length") == str(len(JSON_HELLO)), "curl -I headers %s" % h


@harness.timeout(40)
def test_load_keepalive_2000_requests_no_failures():
    with server(workers=2) as s:
        url = "http://127.0.0.1:%d/" % s.port
        if shutil.which("ab"):
            rc, out, err = run_tool(["ab", "-k", "-n", "2000", "-c", "20", url], timeout=30)
            assert rc == 0, "ab exit %d: %s %s" % (rc, out[-800:], err[-500:])

            def field(name):
                m = re.search(r"^%s:\s+(\d+)" % re.escape(name), out, re.M)
                assert m, "no %r in ab's output:\n%s" % (name, out)
                return int(m.group(1))
            note("ab: complete %d failed %d keep-alive %d" % (
                field("Complete requests"), field("Failed requests"), field("Keep-Alive requests")))
            assert field("Complete requests") == 2000, out
            assert field("Failed requests") == 0, out
            assert "Non-2xx responses" not in out, out
            assert field("Keep-Alive requests") == 2000, "ab used keep-alive for %d of 2000 requests" % \
                field("Keep-Alive requests")
            assert field("Document Length") == len(HELLO), out
        elif shutil.which("h2load"):
            rc, out, err = run_tool(["h2load", "--h1", "-n", "2000", "-c", "20", url], timeout=30)
            assert rc == 0, "h2load exit %d: %s %s" % (rc, out[-800:], err[-500:])
            m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                          r"(\d+) failed, (\d+) errored", out)
            assert m, "no requests line in h2load's output:\n%s" % out
            total, _, done, ok, failed, errored = map(int, m.groups())
            assert (done, ok, failed, errored) == (2000, 2000, 0, 0), m.group(0)
            assert re.search(r"status codes: 2000 2xx", out), out
        else:
            raise Skip("neither ab (apache2-utils) nor h2load (nghttp2-client) is installed")


# ---------------------------------------------------------------------------
# access log

@harness.timeout(30)
def test_access_log_lines_and_reopen():
    """--access-log: one Common Log Format line per request with the real
    client address (a trusted proxy's X-Forwarded-For; a direct peer without
    its port), the request line, status and body bytes; a hostile target
    cannot forge a line; SIGUSR1 to the master makes the workers reopen the
    file (rotation). The formats in detail: test_accesslog.py."""
    d = harness.tmpdir()
    path = os.path.join(d, "access.log")
    with Shoal(["--access-log", path, "--trusted-proxies", "127.0.0.1/32"], workers=1) as s:
        st, _, body = http_get(s.port, "/json", headers={"X-Forwarded-For": "203.0.113.9"})
        assert st == 200, st
        st, _, _ = http_get(s.port, '/nope"%0a?x=1')
        assert st == 404, st
        os.rename(path, path + ".1")
        os.kill(s.pid, signal.SIGUSR1)
        s.wait_log(r"SIGUSR1: log files reopened", timeout=3)
        time.sleep(0.3)     # the worker handles its own SIGUSR1
        st, _, _ = http_get(s.port, "/")
        assert st == 200, st
        assert s.stop() == 0
    # (the harness's readiness probe, GET /healthz, is logged too)
    old = [l for l in open(path + ".1").read().splitlines() if "/healthz" not in l]
    new = [l for l in open(path).read().splitlines() if "/healthz" not in l]
    note("rotated: %r; new: %r" % (old, new))
    assert len(old) == 2 and len(new) == 1, (old, new)
    line = re.compile(r'^(\S+) - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] '
                      r'"(\S+) (\S+) HTTP/1\.1" (\d{3}) (\d+|-)$')
    m = line.match(old[0])
    assert m, old[0]
    assert m.group(1) == "203.0.113.9", "client %r: the trusted peer's XFF" % m.group(1)
    assert (m.group(2), m.group(3), m.group(4), m.group(5)) == ("GET", "/json", "200", "27"), old[0]
    m = line.match(old[1])
    assert m and m.group(4) == "404", old[1]
    assert '"' not in m.group(3), "the quote in the target is escaped: %r" % old[1]
    m = line.match(new[0])
    assert m and m.group(1) == "127.0.0.1" and m.group(4) == "200", new[0]


# ---------------------------------------------------------------------------
# CPU-heavy work on the worker's thread pool

@harness.timeout(30)
def test_cpu_heavy_handler_runs_on_thread_pool_loop_stays_responsive():
    """One worker: while /primes?n=100000000 computes on a pool thread, the
    same worker's loop answers /healthz at once; the result is right
    (5,761,455 primes below 10^8). With --threads 0 the work runs on the
    loop, which is then blocked: the comparison shows what the pool buys."""
    routes = [{"path": "/healthz", "handler": "health"},
              {"path": "/primes", "handler": "primes"}]
    timings = {}
    for threads in (2, 0):
        d = harness.tmpdir()
        cfg = os.path.join(d, "primes%d.json" % threads)
        port = harness.free_port()
        with open(cfg, "w") as f:
            json.dump({"listen": ["127.0.0.1:%d" % port], "workers": 1,
                       "threads": threads, "routes": routes}, f)
        s = Shoal(["-c", cfg, "--control", os.path.join(d, "c%d.sock" % threads)], raw=True)
        s.ports = [port]
        with s:                         # starts it
            c = RawConn(port, timeout=20)
            t0 = time.monotonic()
            c.send(b"GET /primes?n=100000000 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.05)            # the job is under way
            t1 = time.monotonic()
            st, _, body = http_get(port, "/healthz", timeout=20)
            health = time.monotonic() - t1
            assert st == 200, st
            st, hdrs, body = c.recv_response(timeout=20)
            total = time.monotonic() - t0
            c.close()
            # A deferred response: an ordinary one, with its length.
            assert st == 200 and "content-length" in hdrs, (st, hdrs)
            result = json.loads(body)
            assert result["n"] == 100000000 and result["primes"] == 5761455, result
            timings[threads] = (health, total, result["seconds"])
    note("threads 2: /healthz in %.3fs while primes took %.3fs; threads 0: /healthz in %.3fs"
         % (timings[2][0], timings[2][2], timings[0][0]))
    assert timings[2][0] < 0.1, "healthz waited %.3fs behind the pool job" % timings[2][0]
    assert timings[2][0] < timings[0][0] / 2, \
        "with no pool, healthz waited %.3fs; with it %.3fs" % (timings[0][0], timings[2][0])


# ---------------------------------------------------------------------------
# deadlines that input must not push back

def closed_within(conn, send, every, limit, eof_counts=True):
    """Send send every `every` seconds until the server closes (EOF, or with
    eof_counts=False only a reset: a lingering close sends its FIN first and
    goes on reading); return the seconds that took, or None if it was still
    open at limit."""
    t0 = time.monotonic()
    conn.sock.settimeout(every)
    while time.monotonic() - t0 < limit:
        try:
            conn.sock.sendall(send)
            data = conn.sock.recv(4096)
            if not data and eof_counts:
                return time.monotonic() - t0
            if not data:
                time.sleep(every)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


@harness.timeout(30)
def test_trickled_input_does_not_extend_deadlines():
    """Bare CRLFs on a fresh connection do not restart header_timeout, nor on
    an idle one keepalive_timeout; bytes trickled at a lingering close do not
    hold it past its 2 s."""
    with Shoal(["--header-timeout", "1", "--keepalive-timeout", "2"], workers=1) as s:
        c = RawConn(s.port, timeout=5)
        took = closed_within(c, b"\r\n", 0.3, 6)
        c.close()
        note("fresh connection fed CRLFs closed after %s s" % took)
        assert took is not None and took < 2.0, "fresh + CRLFs: %s" % took

        c = RawConn(s.port, timeout=5)
        c.send(request_bytes("/", keepalive=True))
        st, _, _ = c.recv_response(timeout=2)
        assert st == 200
        took = closed_within(c, b"\r\n", 0.3, 8)
        c.close()
        note("idle connection fed CRLFs closed after %s s" % took)
        assert took is not None and took < 3.0, "idle + CRLFs: %s" % took

        c = RawConn(s.port, timeout=5)
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, _, _ = c.recv_response(timeout=2)
        assert st == 200
        took = closed_within(c, b"x", 0.5, 10, eof_counts=False)
        c.close()
        note("lingering close fed bytes ended after %s s" % took)
        assert took is not None and took < 3.5, "linger + trickle: %s" % took
