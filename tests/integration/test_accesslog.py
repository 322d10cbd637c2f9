"""
The access log ("access_log", "access_log_format"): common, combined and
json lines; every answered request is logged, refused ones included (400,
408, 413, 431, 501: the request "-" when its line was never read); bytes
and duration are taken when the response's last byte is written, so a
stream is logged when it ends, with its bytes; a Unix-socket peer is
0.0.0.0 (json: "unix"); goaccess (Debian) reads the common and combined
output with 0 invalid lines.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time

import harness
from harness import RawConn, Shoal, Skip, note

MAX_BODY = 1024
FILE_SIZE = 5000

CLF = re.compile(r'^(?P<host>\S+) - - \[(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
                 r'"(?P<request>(?:[^"\\]|\\x[0-9a-f]{2})*)" (?P<status>\d{3}) (?P<bytes>\d+|-)'
                 r'(?: "(?P<referer>(?:[^"\\]|\\x[0-9a-f]{2})*)" '
                 r'"(?P<agent>(?:[^"\\]|\\x[0-9a-f]{2})*)")?$')


def start(fmt):
    """One worker with an access log in fmt, on a TCP port and a Unix socket."""
    d = harness.tmpdir()
    root = os.path.join(d, "www-" + fmt)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(b"x" * FILE_SIZE)
    port = harness.free_port()
    usock = os.path.join(d, "%s.sock" % fmt)
    log = os.path.join(d, "access-%s.log" % fmt)
    cfg = os.path.join(d, "%s.json" % fmt)
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:%d" % port, "unix:" + usock], "workers": 1,
                   "access_log": log, "access_log_format": fmt,
                   "max_body_size": MAX_BODY, "max_header_size": 1024,
                   "header_timeout": 0.5,
                   "routes": [{"path": "/", "handler": "hello"},
                              {"path": "/healthz", "handler": "health"},
                              {"path": "/echo", "handler": "echo", "methods": ["GET", "POST"]},
                              {"path": "/events", "handler": "ticker", "interval": 0.15,
                               "count": 3},
                              {"path": "/static/", "match": "prefix", "handler": "static",
                               "root": root}]}, f)
    s = Shoal(["-c", cfg, "--control", os.path.join(d, "%s-ctl.sock" % fmt)], raw=True)
    s.ports = [port]
    s.start()
    return s, usock, log


def raw(port, data, what, timeout=3.0, wait=0.0):
    """Send data on a new connection (pausing wait seconds after it) and
    read the one response: its status."""
    with RawConn(port, timeout=timeout) as c:
        c.send(data)
        if wait:
            time.sleep(wait)
        st, _, _ = c.recv_response(timeout=timeout)
    note("%s -> %d" % (what, st))
    return st


def traffic(s, usock):
    """Requests of every kind; returns the statuses of the refused ones."""
    port = s.port
    get = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"
    assert raw(port, get % (b"/", b'Referer: http://ref.example/a"b\r\n'
                            b'User-Agent: agent "007" \\o/\r\n'), "GET /") == 200
    with RawConn(port) as c:
        c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.recv_response(head_request=True)[0] == 200
    assert raw(port, get % (b"/nope", b""), "GET /nope") == 404
    assert raw(port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               b"Connection: close\r\n\r\nhello", "POST /echo") == 200
    assert raw(port, get % (b"/events", b""), "GET /events") == 200
    assert raw(port, get % (b"/static/f.bin", b""), "GET /static/f.bin") == 200
    # not UTF-8, a quote, a backslash: escaped in every format
    assert raw(port, get % (b'/caf\xe9"\\', b""), "GET /caf\\xe9...") == 404
    # a stream the client leaves after its first event
    with RawConn(port) as c:
        c.send(get % (b"/events?cut", b""))
        dl = time.monotonic() + 3
        while b"data:" not in c.buf and time.monotonic() < dl:
            c._fill(dl)
    time.sleep(0.4)                  # the worker's next write finds it gone
    refused = {
        "garbage": raw(port, b"GARBAGE\r\n\r\n", "a request line without spaces"),
        "method": raw(port, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", "unknown method"),
        "header": raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 2000 +
                      b"\r\n\r\n", "a header over max_header_size"),
        "body": raw(port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                    % (MAX_BODY * 4), "Content-Length over max_body_size"),
        "slow": raw(port, b"GET / HTTP/1.1\r\n", "half a head, then nothing"),
    }
    assert refused["header"] == 431 and refused["body"] == 413 and refused["slow"] == 408, refused
    # over the Unix socket: a peer without an address
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(3)
    u.connect(usock)
    u.sendall(get % (b"/?unix", b""))
    data = b""
    while True:
        chunk = u.recv(4096)
        if not chunk:
            break
        data += chunk
    u.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:80]
    return refused


def lines_of(s, log):
    assert s.stop() == 0, "the server did not stop cleanly"      # flushes the log
    with open(log, "rb") as f:
        text = f.read().decode("utf-8")      # any format's lines are UTF-8
    return [l for l in text.splitlines() if "/healthz" not in l]


def check_clf(lines, fmt, refused):
    recs = []
    for line in lines:
        m = CLF.match(line)
        assert m, "not a %s line: %r" % (fmt, line)
        assert (m.group("agent") is not None) == (fmt == "combined"), line
        recs.append(m.groupdict())

    def one(request):
        found = [r for r in recs if r["request"] == request]
        assert len(found) == 1, "%d lines for %r in\n%s" % (len(found), request, "\n".join(lines))
        return found[0]
    r = one("GET / HTTP/1.1")
    assert (r["host"], r["status"], r["bytes"]) == ("127.0.0.1", "200", "13"), r
    if fmt == "combined":
        assert r["referer"] == r"http://ref.example/a\x22b", r
        assert r["agent"] == r"agent \x22007\x22 \x5co/", r
    assert one("HEAD / HTTP/1.1")["bytes"] == "-", "a HEAD has no body: '-'"
    assert one("GET /nope HTTP/1.1")["status"] == "404"
    assert one("GET /static/f.bin HTTP/1.1")["bytes"] == str(FILE_SIZE)
    ev = one("GET /events HTTP/1.1")
    assert ev["status"] == "200" and int(ev["bytes"]) > 3 * len("data: "), ev
    cut = one("GET /events?cut HTTP/1.1")
    assert cut["bytes"] == "-" or int(cut["bytes"]) < int(ev["bytes"]), \
        "the stream the client left got out fewer bytes: %s vs %s" % (cut, ev)
    assert one(r"GET /caf\xe9\x22\x5c HTTP/1.1")["status"] == "404"
    assert one("GET /?unix HTTP/1.1")["host"] == "0.0.0.0", "a Unix peer's host"
    statuses = sorted(int(r["status"]) for r in recs if r["request"] in ("-",) or
                      r["status"] in ("400", "408", "413", "431", "501"))
    assert sorted(refused.values()) == statuses, \
        "refused requests %s; logged %s" % (refused, statuses)
    dash = [r for r in recs if r["request"] == "-"]
    assert dash, "a request whose line was never read is logged as \"-\""
    # the head was read: its request line is known
    assert one("POST /echo HTTP/1.1")["status"] == "200"
    assert [r for r in recs if r["status"] == "413"][0]["request"] in ("-", "POST /echo HTTP/1.1")
    return recs


def goaccess(log, fmt, n):
    """goaccess's verdict on the log: its JSON report's general section."""
    exe = shutil.which("goaccess")
    if exe is None:
        return None
    out = log + ".goaccess.json"
    p = subprocess.run([exe, log, "--no-global-config", "--log-format=" + fmt.upper(),
                        "-o", out], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "goaccess %s: exit %d: %s" % (log, p.returncode, p.stdout[-500:])
    with open(out) as f:
        general = json.load(f)["general"]
    note("goaccess --log-format=%s: %s" % (fmt.upper(), {k: general[k] for k in (
        "total_requests", "valid_requests", "failed_requests")}))
    assert general["failed_requests"] == 0, "goaccess found invalid lines: %s" % general
    assert general["total_requests"] == n, "goaccess read %d of %d lines" % (
        general["total_requests"], n)
    return general


@harness.timeout(60)
def test_common_and_combined_lines_read_by_goaccess():
    verdicts = []
    for fmt in ("common", "combined"):
        s, usock, log = start(fmt)
        refused = traffic(s, usock)
        lines = lines_of(s, log)
        check_clf(lines, fmt, refused)
        with open(log) as f:
            n = len(f.read().splitlines())
        verdicts.append(goaccess(log, fmt, n))
    if verdicts[0] is None:
        raise Skip("the lines are right; goaccess is not installed (scripts/deps --test)")


@harness.timeout(60)
def test_json_lines_every_field_escaped():
    s, usock, log = start("json")
    refused = traffic(s, usock)
    recs = []
    for line in lines_of(s, log):
        try:
            recs.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("not a JSON line (%s): %r" % (e, line))
    fields = ["time", "client", "method", "target", "protocol", "status", "referer",
              "user_agent", "bytes", "duration"]
    for r in recs:
        assert list(r) == fields, "fields of %s" % r
        assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", r["time"]), r
        assert abs(time.mktime(time.strptime(r["time"][:19], "%Y-%m-%dT%H:%M:%S")) -
                   time.timezone - time.time()) < 120, "time is now, in UTC: %s" % r

    def one(target, method="GET"):
        found = [r for r in recs if r["target"] == target and r["method"] == method]
        assert len(found) == 1, "%d lines for %s %r" % (len(found), method, target)
        return found[0]
    r = one("/")
    assert (r["client"], r["status"], r["bytes"], r["protocol"]) == \
        ("127.0.0.1", 200, 13, "HTTP/1.1"), r
    assert r["referer"] == 'http://ref.example/a"b' and r["user_agent"] == 'agent "007" \\o/', r
    assert one("/", "HEAD")["bytes"] == 0
    assert one("/static/f.bin")["bytes"] == FILE_SIZE
    ev = one("/events")
    # three events 0.15 s apart: it ends 0.3 s after it began, and the log
    # says so (not the time to its first byte)
    assert ev["duration"] >= 0.25 and ev["bytes"] > 0, ev
    assert one("/caf\u00e9\"\\")["status"] == 404, "a byte that is no UTF-8 comes back as \\u00XX"
    assert one("/?unix")["client"] == "unix"
    cut = one("/events?cut")
    assert cut["bytes"] < ev["bytes"], (cut, ev)
    nulls = [r for r in recs if r["method"] is None]
    assert nulls and all(r["target"] is None and r["protocol"] is None for r in nulls), nulls
    logged = sorted(r["status"] for r in recs if r["status"] in (400, 408, 413, 431, 501))
    assert logged == sorted(refused.values()), (logged, refused)
