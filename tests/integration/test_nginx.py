"""
shoal behind a real NGINX: Unix-domain and TCP upstreams, the client address
from X-Forwarded-For / X-Real-IP (trusted_proxies) and from PROXY protocol
v1/v2 headers, upstream keep-alive, and reload / upgrade / scale / a killed
worker under load through NGINX.

Each test_* function is one acceptance point; run with tests/integration/run.py.

NGINX runs as nginx.py starts it (foreground, a private prefix in the test's
temp dir, stopped by its pid), listening on free loopback ports only.

A test whose feature the binary under test does not have yet (its
configuration key is refused by `shoal --check`) is skipped with the reason.
Measured counts go to the notes (run.py -v prints them).
"""

import grp
import json
import os
import pwd
import re
import signal
import socket
import stat
import struct
import time

import harness
from harness import brief, ctl, kill_masters, read_pidfile, settled, status
from harness import RawConn, Shoal, Skip, alive, note, run_cli, wait_until
from load import Load, utc_now
from nginx import (STREAM_MODULE, Nginx, Phases, example_server, fmt_access, proxy_server,
                   upstream_block, upstream_codes, wait_through)

HELLO = b"Hello, World!"

ROUTES = [
    {"path": "/", "handler": "hello"},
    {"path": "/healthz", "handler": "health"},
    {"path": "/echo", "handler": "echo"},
]

# a clearly "from a header" address, and a forged one
DOC_ADDR = "203.0.113.7"
FORGED = "6.6.6.6"
# the client's own source address when it goes through NGINX: any 127/8
# address is local, so binding to it before connect works on loopback
CLIENT_SRC = "127.0.0.2"


# ---------------------------------------------------------------------------
# shoal: config file, feature probe, control

def write_config(path, listen, workers=2, routes=ROUTES, extra=None):
    cfg = {"listen": listen, "workers": workers, "routes": routes}
    cfg.update(extra or {})
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.rename(tmp, path)      # a reload never reads half a file


# what `shoal --check` says about a key or a listen form it does not know yet
_UNSUPPORTED = re.compile(r"unknown key|expected an address string|got an object|"
                          r"not supported|unsupported")


def require(feature, listen, extra=None, unsupported=_UNSUPPORTED):
    """Skip the test if `shoal --check` refuses a config using feature as
    something it does not know; fail if it refuses it for another reason."""
    d = harness.tmpdir()
    probe = os.path.join(d, "probe-%s.json" % re.sub(r"\W+", "_", feature))
    write_config(probe, listen, extra=extra)
    rc, out, err = run_cli(["--check", "-c", probe])
    if rc == 2 and unsupported.search(err):
        raise Skip("%s: not in this binary yet (shoal --check: %s)" % (feature, err.strip()))
    assert rc == 0, "shoal --check of a config with %s: exit %d, stderr %r (config %s)" % (
        feature, rc, err.strip(), json.dumps({"listen": listen, **(extra or {})}))


def require_unix_listener(path):
    require("unix listener", ["127.0.0.1:%d" % harness.free_port(), "unix:" + path],
            unsupported=re.compile(_UNSUPPORTED.pattern + r"|unix"))


def sock_path(name):
    """A Unix socket path in the test's temp dir (sun_path holds 107 bytes)."""
    p = os.path.join(harness.tmpdir(), name)
    assert len(p.encode()) < 100, "socket path too long for sun_path: %s" % p
    return p


def start_server(listen, workers=2, extra=None, args=()):
    """A started Shoal on -c FILE. listen[0] must be a plain TCP address on
    127.0.0.1: the harness checks readiness with GET /healthz there. Sets
    .config, .control, .port (listen[0]'s), .nworkers."""
    d = harness.tmpdir()
    n = len([f for f in os.listdir(d) if f.startswith("shoal") and f.endswith(".json")])
    cfg = os.path.join(d, "shoal%d.json" % n)
    ctl_path = os.path.join(d, "ctl%d.sock" % n)
    write_config(cfg, listen, workers, extra=extra)
    first = listen[0]
    assert isinstance(first, str) and first.startswith("127.0.0.1:"), first
    s = Shoal(["-c", cfg, "--control", ctl_path] + list(args))
    s.ports = [int(first.rsplit(":", 1)[1])]
    s.nworkers = workers
    s.config = cfg
    s.control = ctl_path
    s.start()
    return s


def totals(control):
    """(totals.accepted, totals.requests) of `shoal status --json`; Skip if
    this binary does not report accepted connections yet."""
    st = status(control)
    t = st.get("totals") or {}
    if "accepted" not in t:
        raise Skip("shoal status --json has no totals.accepted yet (totals: %s)" % t)
    return int(t["accepted"]), int(t.get("requests", -1))



# ---------------------------------------------------------------------------
# /proc: who holds which connection

def unix_rows():
    """[(inode, flags, state, path)] of /proc/net/unix."""
    out = []
    try:
        with open("/proc/net/unix") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        p = line.split()
        if len(p) < 7:
            continue
        out.append((int(p[6]), int(p[3], 16), int(p[5], 16), p[7] if len(p) > 7 else ""))
    return out


UNIX_LISTENING = 0x00010000      # __SO_ACCEPTCON in /proc/net/unix flags
UNIX_CONNECTED = 3               # SS_CONNECTED


def unix_listener_inodes(path):
    return {ino for ino, flags, st, p in unix_rows() if p == path and flags & UNIX_LISTENING}


def _diag_tcp_inodes(port):
    """Inodes of the TCP sockets (IPv4 and IPv6) whose local port is port,
    in any state but LISTEN and TIME_WAIT, from the kernel's sock_diag
    netlink interface (what `ss` uses: no walk over TIME_WAIT rows). None if
    netlink is not available here."""
    NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
    NLM_F_REQUEST, NLM_F_DUMP, NLMSG_ERROR, NLMSG_DONE = 0x1, 0x300, 2, 3
    states = 0xFFF & ~(1 << 6) & ~(1 << 10)          # not TIME_WAIT, not LISTEN
    out = set()
    try:
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except (OSError, AttributeError):
        return None
    try:
        nl.settimeout(2)
        for seq, fam in enumerate((socket.AF_INET, socket.AF_INET6), 1):
            body = struct.pack("=BBBBI", fam, socket.IPPROTO_TCP, 0, 0, states) + b"\0" * 48
            nl.send(struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY,
                                NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
            done = False
            for _ in range(100000):
                data = nl.recv(65536)
                off = 0
                while off + 16 <= len(data):
                    ln, typ = struct.unpack_from("=IH", data, off)
                    if ln < 16:
                        return None
                    if typ == NLMSG_DONE:
                        done = True
                        break
                    if typ == NLMSG_ERROR:
                        return None
                    msg = off + 16
                    sport = struct.unpack_from("!H", data, msg + 4)[0]
                    inode = struct.unpack_from("=I", data, msg + 68)[0]
                    if sport == port and inode:
                        out.add(inode)
                    off += (ln + 3) & ~3
                if done:
                    break
            if not done:
                return None
    except OSError:
        return None
    finally:
        nl.close()
    return out


def open_conns(pid, tcp_port=None, unix_path=None):
    """(tcp, unix): how many accepted connections of shoal's TCP port and of
    its Unix socket pid holds open right now."""
    inodes = harness.socket_inodes(pid)
    tcp = 0
    if tcp_port is not None:
        diag = _diag_tcp_inodes(tcp_port)
        if diag is not None:
            tcp = len(diag & inodes)
        else:
            tcp = sum(1 for r in harness.tcp_table()
                      if r.local_port == tcp_port and r.state != harness.TCP_LISTEN
                      and r.inode in inodes)
    ux = 0
    if unix_path is not None:
        ux = sum(1 for ino, flags, st, p in unix_rows()
                 if p == unix_path and not flags & UNIX_LISTENING and ino in inodes)
    return tcp, ux


# ---------------------------------------------------------------------------
# clients

class BoundConn(RawConn):
    """A RawConn from a chosen source address (any 127/8 address is ours on
    loopback)."""

    def __init__(self, port, src, host="127.0.0.1", timeout=3.0):
        super().__init__(port, host=host, timeout=timeout, src=src)


class UnixConn(RawConn):
    """A RawConn over a Unix-domain stream socket."""

    def __init__(self, path, timeout=3.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.last_head = b""
        try:
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.local_port = None
        self.server_port = None


def req(path="/", headers=(), keepalive=False, host="127.0.0.1"):
    h = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (path, host)
    if not keepalive:
        h += "Connection: close\r\n"
    h += "".join("%s: %s\r\n" % kv for kv in headers)
    return (h + "\r\n").encode("latin-1")


def parse_echo(code, body, what):
    assert code == 200, "%s -> %d %r" % (what, code, body[:300])
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError("%s: echo answered no JSON: %r" % (what, body[:300]))


def echo_via(conn, headers=(), what="GET /echo"):
    """GET /echo on conn (closed afterwards): the echo JSON."""
    with conn:
        conn.send(req("/echo", headers))
        code, h, body = conn.recv_response(timeout=5)
    return parse_echo(code, body, what)


def header_of(echo, name):
    vals = [v for k, v in echo.get("headers", []) if (k or "").lower() == name.lower()]
    return ", ".join(vals) if vals else None


def get_via(conn, path="/"):
    with conn:
        conn.send(req(path))
        return conn.recv_response(timeout=5)


# ---------------------------------------------------------------------------
# 1. requests through NGINX over a Unix-socket and a TCP upstream

@harness.timeout(30)
def test_nginx_unix_and_tcp_upstreams_answer_200():
    usock = sock_path("http.sock")
    require_unix_listener(usock)
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport, "unix:" + usock], workers=2)
    st = os.stat(usock)
    assert stat.S_ISSOCK(st.st_mode), "%s is not a socket (mode %o)" % (usock, st.st_mode)
    # straight to the Unix socket first
    code, _, body = get_via(UnixConn(usock))
    assert code == 200 and body == HELLO, "GET / on %s -> %d %r" % (usock, code, body[:200])
    # one listening socket for every worker, held by the master
    inodes = unix_listener_inodes(usock)
    assert len(inodes) == 1, "listening sockets bound to %s: %s" % (usock, inodes)
    holders = [p for p in [s.pid] + list(s.workers().values())
               if harness.socket_inodes(p) & inodes]
    assert s.pid in holders and len(holders) == 1 + len(s.workers()), \
        "the one Unix listener (inode %s) should be held by the master %d and all workers " \
        "%s; held by %s" % (inodes, s.pid, s.workers(), holders)

    na, nb = harness.free_ports(2)
    http = upstream_block("shoal_tcp", "127.0.0.1:%d" % tport) + \
        upstream_block("shoal_unix", "unix:" + usock) + \
        proxy_server(na, "shoal_tcp") + proxy_server(nb, "shoal_unix")
    ng = Nginx(http=http, ports=[na, nb]).start()
    for port, what in ((na, "TCP upstream"), (nb, "Unix upstream")):
        wait_through(port)
        for path, want in (("/", HELLO), ("/healthz", b"ok")):
            code, h, body = harness.http_get(port, path)
            assert code == 200 and body == want, \
                "GET %s through NGINX (%s) -> %d %r" % (path, what, code, body[:200])
            assert h.get("server", "").startswith("nginx"), h
        code, _, body = harness.http_get(port, "/echo")
        echo = parse_echo(code, body, "GET /echo (%s)" % what)
        assert header_of(echo, "X-Forwarded-Proto") == "http", echo
    recs = ng.access_records()
    addrs = {r["upstream_addr"] for r in recs}
    assert "127.0.0.1:%d" % tport in addrs and "unix:" + usock in addrs, \
        "NGINX's access log names upstreams %s; expected 127.0.0.1:%d and unix:%s" % (
            addrs, tport, usock)
    bad = [r for r in recs if r["status"] != "200"]
    assert not bad, "non-200 through NGINX:\n" + "\n".join(fmt_access(bad))
    note("%d requests through NGINX, upstreams %s" % (len(recs), sorted(addrs)))


@harness.timeout(30)
def test_unix_listener_mode_owner_group_through_nginx():
    """The object form: the socket file gets the mode, owner and group, and an
    NGINX whose workers run as another user reaches it through the group."""
    usock = sock_path("sock/http.sock")
    os.makedirs(os.path.dirname(usock), exist_ok=True)
    if os.geteuid() == 0:
        try:
            owner, group = "root", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            ng_user = "nobody %s" % group
        except KeyError:
            owner, group, ng_user = "root", "root", "root root"
        # the nginx workers must be able to reach the socket's directory
        for d in (harness.tmpdir(), os.path.dirname(usock)):
            os.chmod(d, 0o711)
    else:
        owner = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        ng_user = None
    obj = {"address": "unix:" + usock, "mode": "0660", "owner": owner, "group": group}
    require("unix listener object (mode, owner, group)",
            ["127.0.0.1:%d" % harness.free_port(), obj])
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport, obj], workers=2)
    st = os.stat(usock)
    want_uid, want_gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 \
        and st.st_uid == want_uid and st.st_gid == want_gid, \
        "%s: mode %o uid %d gid %d; expected a socket, mode 0660, %s(%d):%s(%d)" % (
            usock, st.st_mode, st.st_uid, st.st_gid, owner, want_uid, group, want_gid)
    nb = harness.free_port()
    ng = Nginx(http=upstream_block("shoal_unix", "unix:" + usock) + proxy_server(nb, "shoal_unix"),
               ports=[nb], user=ng_user).start()
    wait_through(nb)
    code, _, body = harness.http_get(nb, "/")
    assert code == 200 and body == HELLO, "GET / through NGINX (workers as %s) -> %d %r" % (
        ng_user, code, body[:200])
    # a reload keeps the socket (same inode, same file, same mode)
    before = unix_listener_inodes(usock)
    rc, out, err = ctl(s.control, "reload")
    assert rc == 0, "reload: exit %d, stderr %r" % (rc, err)
    settled(s.control, 2)
    after = unix_listener_inodes(usock)
    st2 = os.stat(usock)
    assert after == before and st2.st_ino == st.st_ino and stat.S_IMODE(st2.st_mode) == 0o660, \
        "after a reload: listener inodes %s -> %s, file inode %d -> %d, mode %o" % (
            before, after, st.st_ino, st2.st_ino, st2.st_mode)
    code, _, body = harness.http_get(nb, "/")
    assert code == 200 and body == HELLO, "GET / through NGINX after a reload -> %d %r" % (
        code, body[:200])
    assert not ng.bad_error_lines(), "\n".join(ng.bad_error_lines())


@harness.timeout(30)
def test_unix_listener_stale_socket_replaced_live_one_refused():
    stale = sock_path("stale.sock")
    require_unix_listener(stale)
    # a socket file nobody listens on any more (a dead process's)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(stale)
    dead.close()
    assert os.path.exists(stale)
    tport = harness.free_port()
    start_server(["127.0.0.1:%d" % tport, "unix:" + stale], workers=1)
    code, _, body = get_via(UnixConn(stale))
    assert code == 200 and body == HELLO, "GET / on the replaced stale socket -> %d %r" % (
        code, body[:200])

    # a live one: someone accepts on it
    live = sock_path("live.sock")
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        holder.bind(live)
        holder.listen(8)
        ino = os.stat(live).st_ino
        d = harness.tmpdir()
        cfg = os.path.join(d, "live.json")
        write_config(cfg, ["127.0.0.1:%d" % harness.free_port(), "unix:" + live], workers=1)
        t0 = time.monotonic()
        rc, out, err = run_cli(["-c", cfg, "--control", os.path.join(d, "ctl-live.sock")],
                               timeout=5)
        took = time.monotonic() - t0
        note("start on a live socket: exit %d after %.2fs: %s" % (rc, took, (err + out).strip()))
        assert rc == 1, "shoal on a Unix socket someone accepts on: exit %d, expected 1; " \
                        "output %r" % (rc, (err + out)[-500:])
        assert live in err + out, "the error does not name the socket %s: %r" % (
            live, (err + out)[-500:])
        assert os.path.exists(live) and os.stat(live).st_ino == ino, \
            "the live socket file %s was removed or replaced by the refused start" % live
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.settimeout(2)
            c.connect(live)
            holder.settimeout(2)
            a, _ = holder.accept()
            a.close()
        finally:
            c.close()
    finally:
        holder.close()


# ---------------------------------------------------------------------------
# 1b. the client address through NGINX (trusted_proxies)

@harness.timeout(30)
def test_client_address_from_forwarded_headers_through_nginx():
    usock = sock_path("http.sock")
    require_unix_listener(usock)
    require("trusted_proxies", ["127.0.0.1:%d" % harness.free_port()],
            extra={"trusted_proxies": ["127.0.0.1/32", "unix"]})
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport, "unix:" + usock], workers=2,
                     extra={"trusted_proxies": ["127.0.0.1/32", "unix"]})
    na, nb = harness.free_ports(2)
    http = upstream_block("shoal_tcp", "127.0.0.1:%d" % tport) + \
        upstream_block("shoal_unix", "unix:" + usock) + \
        proxy_server(na, "shoal_tcp") + proxy_server(nb, "shoal_unix")
    Nginx(http=http, ports=[na, nb]).start()
    for port, what in ((na, "TCP upstream, peer 127.0.0.1 trusted"),
                       (nb, "Unix upstream, \"unix\" trusted")):
        wait_through(port)
        echo = echo_via(BoundConn(port, CLIENT_SRC), what="GET /echo via NGINX (%s)" % what)
        note("%s: client %r, X-Forwarded-For %r, X-Real-IP %r" % (
            what, echo.get("client"), header_of(echo, "X-Forwarded-For"),
            header_of(echo, "X-Real-IP")))
        assert header_of(echo, "X-Forwarded-For") == CLIENT_SRC, \
            "NGINX did not forward X-Forwarded-For %s: %s" % (CLIENT_SRC, echo.get("headers"))
        assert echo.get("client") == CLIENT_SRC, \
            "through NGINX (%s) from %s: echo client %r, expected %r" % (
                what, CLIENT_SRC, echo.get("client"), CLIENT_SRC)
        # a forged hop the client sent itself: NGINX appends the real one,
        # and the rightmost untrusted hop is the client
        echo = echo_via(BoundConn(port, CLIENT_SRC), headers=[("X-Forwarded-For", FORGED)],
                        what="GET /echo via NGINX with a forged X-Forwarded-For (%s)" % what)
        xff = header_of(echo, "X-Forwarded-For")
        assert xff == "%s, %s" % (FORGED, CLIENT_SRC), "X-Forwarded-For at shoal: %r" % xff
        assert echo.get("client") == CLIENT_SRC, \
            "X-Forwarded-For %r from a trusted proxy (%s): echo client %r, expected the " \
            "rightmost untrusted hop %r" % (xff, what, echo.get("client"), CLIENT_SRC)

    # straight from a trusted peer: the rightmost untrusted hop of a chain
    # (trusted hops skipped), and X-Real-IP alone
    cases = [
        ([("X-Forwarded-For", "%s, %s" % (FORGED, DOC_ADDR))], DOC_ADDR),
        ([("X-Forwarded-For", "%s, 127.0.0.1" % DOC_ADDR)], DOC_ADDR),
        ([("X-Real-IP", DOC_ADDR)], DOC_ADDR),
    ]
    for headers, want in cases:
        echo = echo_via(RawConn(tport), headers=headers,
                        what="GET /echo from trusted 127.0.0.1 with %s" % headers)
        assert echo.get("client") == want, \
            "from trusted 127.0.0.1 with %s: echo client %r, expected %r" % (
                headers, echo.get("client"), want)
        echo = echo_via(UnixConn(usock), headers=headers,
                        what="GET /echo over the trusted Unix socket with %s" % headers)
        assert echo.get("client") == want, \
            "over the trusted Unix socket with %s: echo client %r, expected %r" % (
                headers, echo.get("client"), want)


@harness.timeout(30)
def test_example_config_forwards_client_address_on_every_location():
    """scripts/nginx/shoal.conf sets the forwarded headers once, at the server
    level, so that every location passes them: requests from 127.0.0.2 to
    /, /echo, /events (unbuffered stream) and /healthz all reach shoal with
    X-Forwarded-For 127.0.0.2, and shoal's access log (trusted_proxies
    127.0.0.1/32) names 127.0.0.2 for each, never NGINX's 127.0.0.1."""
    d = harness.tmpdir()
    alog = os.path.join(d, "shoal-access.log")
    routes = ROUTES + [{"path": "/events", "handler": "ticker", "interval": 0.1,
                        "count": 3}]
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport], workers=1,
                     extra={"routes": routes, "trusted_proxies": ["127.0.0.1/32"],
                            "access_log": alog, "access_log_format": "json"})
    nport = harness.free_port()
    Nginx(http=example_server(nport, tport), ports=[nport]).start()
    wait_through(nport)
    echo = echo_via(BoundConn(nport, CLIENT_SRC), what="GET /echo via the example")
    assert echo.get("client") == CLIENT_SRC, "GET /echo: client %r" % echo.get("client")
    for path, want in (("/", HELLO), ("/healthz", b"ok"), ("/events", b"data: ")):
        code, h, body = get_via(BoundConn(nport, CLIENT_SRC), path)
        assert code == 200 and body.startswith(want), "GET %s via NGINX -> %d %r" % (
            path, code, body[:200])
    assert s.stop() == 0                    # flushes the access log
    recs = [json.loads(l) for l in open(alog).read().splitlines()]
    seen = {}
    for r in recs:
        if r["target"] in ("/", "/echo", "/events", "/healthz"):
            seen.setdefault(r["target"], set()).add(r["client"])
    note("shoal's access log, client by path: %s" % seen)
    for path in ("/", "/echo", "/events", "/healthz"):
        assert CLIENT_SRC in seen.get(path, ()), \
            "no request for %s from %s in shoal's access log: the location does not " \
            "forward the client's address (clients seen: %s)" % (path, CLIENT_SRC, seen)
    ev = [r for r in recs if r["target"] == "/events" and r["client"] == CLIENT_SRC]
    assert ev and ev[0]["duration"] >= 0.2, "the stream's duration: %s" % ev


@harness.timeout(30)
def test_forwarded_headers_from_untrusted_peer_ignored():
    usock = sock_path("http.sock")
    require_unix_listener(usock)
    require("trusted_proxies", ["127.0.0.1:%d" % harness.free_port()],
            extra={"trusted_proxies": ["127.0.0.3/32"]})
    tport = harness.free_port()
    start_server(["127.0.0.1:%d" % tport, "unix:" + usock], workers=2,
                 extra={"trusted_proxies": ["127.0.0.3/32"]})
    forged = [("X-Forwarded-For", FORGED), ("X-Real-IP", FORGED)]
    for headers in (forged[:1], forged[1:], forged):
        c = RawConn(tport)
        port = c.local_port
        echo = echo_via(c, headers=headers, what="GET /echo from untrusted 127.0.0.1")
        assert echo.get("client") == "127.0.0.1:%d" % port, \
            "forged %s from untrusted 127.0.0.1:%d: echo client %r, expected the peer " \
            "'127.0.0.1:%d'" % (headers, port, echo.get("client"), port)
    # the Unix socket is not trusted here either ("unix" not listed)
    echo = echo_via(UnixConn(usock), headers=forged, what="GET /echo over the untrusted Unix socket")
    assert FORGED not in (echo.get("client") or ""), \
        "forged headers over an untrusted Unix socket: echo client %r" % echo.get("client")
    # the same config does believe the trusted peer (so it is in force)
    echo = echo_via(BoundConn(tport, "127.0.0.3"), headers=forged[:1],
                    what="GET /echo from trusted 127.0.0.3")
    assert echo.get("client") == FORGED, \
        "X-Forwarded-For %s from trusted 127.0.0.3: echo client %r" % (FORGED, echo.get("client"))

    # and through an NGINX that is not trusted: the client is NGINX's peer address
    na = harness.free_port()
    Nginx(http=upstream_block("shoal_tcp", "127.0.0.1:%d" % tport) + proxy_server(na, "shoal_tcp"),
          ports=[na]).start()
    wait_through(na)
    echo = echo_via(BoundConn(na, CLIENT_SRC), headers=forged[:1],
                    what="GET /echo through an untrusted NGINX")
    client = echo.get("client") or ""
    assert re.match(r"^127\.0\.0\.1:\d+$", client), \
        "through an untrusted NGINX: echo client %r, expected NGINX's own '127.0.0.1:PORT'" % client


# ---------------------------------------------------------------------------
# 2. PROXY protocol v1 and v2

PP2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def pp2(cmd=1, fam=0x11, payload=b"", version=2, sig=PP2_SIG):
    return sig + bytes([(version << 4) | cmd, fam]) + struct.pack("!H", len(payload)) + payload


def pp2_inet(src, dst, sport, dport, tlv=b""):
    return pp2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) +
               struct.pack("!HH", sport, dport) + tlv)


def pp2_inet6(src, dst, sport, dport):
    return pp2(1, 0x21, socket.inet_pton(socket.AF_INET6, src) +
               socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!HH", sport, dport))


def tlv(t, value):
    return bytes([t]) + struct.pack("!H", len(value)) + value


def client_is(client, ip, port):
    """echo's client is the header's source address: bare, or with the
    header's source port ("1.2.3.4:5", "[::1]:5")."""
    if client == ip:
        return True
    want = ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)
    return client == want


def pp_server(extra_listen=(), extra=None):
    tport, pport = harness.free_ports(2)
    listen = ["127.0.0.1:%d" % tport, {"address": "127.0.0.1:%d" % pport,
                                        "proxy_protocol": True}] + list(extra_listen)
    require("proxy_protocol", listen)
    s = start_server(listen, workers=2, extra=extra)
    return s, pport


def send_pp(port, chunks, what, pause=0.05, n=1):
    """Send chunks (the PROXY header, maybe in pieces) on a new connection,
    then n GET /echo on it: the echo JSONs and the connection's local port."""
    c = RawConn(port, timeout=5)
    try:
        out = []
        try:
            for i, ch in enumerate(chunks):
                if i:
                    time.sleep(pause)
                c.send(ch)
            for i in range(n):
                last = i == n - 1
                c.send(req("/echo", keepalive=not last))
                code, h, body = c.recv_response(timeout=5)
                out.append(parse_echo(code, body, "%s: GET /echo #%d" % (what, i + 1)))
        except (OSError, harness.IncompleteResponse) as e:
            raise AssertionError("%s: header %r then GET /echo #%d: %s: %s" % (
                what, b"".join(chunks)[:120], len(out) + 1, type(e).__name__, e))
        return out, c.local_port
    finally:
        c.close()


def expect_closed_silently(port, data, what, shut_wr=False, timeout=3.0):
    """Send data (and maybe shut down our side): the server must close the
    connection without a byte of response. Returns 'EOF' or 'reset'."""
    c = RawConn(port, timeout=timeout)
    got, how = b"", None
    try:
        try:
            c.send(data)
            if shut_wr:
                c.sock.shutdown(socket.SHUT_WR)
            got = c.recv_all(timeout=timeout)
            how = "EOF"
        except ConnectionResetError:
            got, how = c.buf, "reset"
        except (socket.timeout, TimeoutError):
            raise AssertionError("%s: the connection was not closed within %.1fs (got %r)" % (
                what, timeout, c.buf[:200]))
    finally:
        c.close()
    assert got == b"", "%s: expected the connection closed without a response, got %r" % (
        what, got[:200])
    return how


@harness.timeout(30)
def test_proxy_protocol_v1_v2_client_address():
    s, pport = pp_server()
    cases = [
        ("v1 TCP4", [b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n"], "192.0.2.1", 56324),
        ("v1 TCP6", [b"PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n"], "2001:db8::1", 1234),
        ("v1 TCP4 split over 3 writes", [b"PROXY TCP4 198.51", b".100.10 192.0.2.2 40",
                                         b"00 80\r\n"], "198.51.100.10", 4000),
        ("v2 PROXY TCP4", [pp2_inet("192.0.2.9", "192.0.2.2", 1111, 443)], "192.0.2.9", 1111),
        ("v2 PROXY TCP6", [pp2_inet6("2001:db8::9", "2001:db8::2", 2222, 443)],
         "2001:db8::9", 2222),
        ("v2 PROXY TCP4 with TLVs (authority, noop)",
         [pp2_inet("192.0.2.10", "192.0.2.2", 3333, 443,
                   tlv(0x02, b"example.com") + tlv(0x04, b"\x00" * 5))], "192.0.2.10", 3333),
    ]
    h = pp2_inet("192.0.2.11", "192.0.2.2", 4444, 443)
    cases.append(("v2 PROXY TCP4 split (signature, then the rest)", [h[:7], h[7:15], h[15:]],
                  "192.0.2.11", 4444))
    for what, chunks, ip, port in cases:
        echos, _ = send_pp(pport, chunks, what)
        client = echos[0].get("client")
        note("%s: echo client %r" % (what, client))
        assert client_is(client, ip, port), \
            "%s: echo client %r, expected the header's source %s (port %d)" % (
                what, client, ip, port)
    # the header is read once: later requests on the connection keep its address
    echos, _ = send_pp(pport, [b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n"],
                       "v1 TCP4 then 3 keep-alive requests", n=3)
    clients = [e.get("client") for e in echos]
    assert all(client_is(c, "192.0.2.1", 56324) for c in clients), \
        "3 keep-alive requests after one v1 header: clients %s" % clients
    # v2 LOCAL (a health check from the proxy itself) and v1 UNKNOWN: the peer
    for what, chunks in (("v2 LOCAL", [pp2(0, 0x00)]),
                         ("v2 LOCAL with an address block", [pp2(0, 0x11, b"\x01" * 12)]),
                         ("v1 UNKNOWN", [b"PROXY UNKNOWN\r\n"]),
                         ("v2 PROXY UNSPEC", [pp2(1, 0x00)])):
        echos, local = send_pp(pport, chunks, what)
        client = echos[0].get("client")
        note("%s: echo client %r" % (what, client))
        assert client == "127.0.0.1:%d" % local, \
            "%s: echo client %r, expected the peer '127.0.0.1:%d'" % (what, client, local)
    # the plain listener is not affected
    code, _, body = harness.http_get(s.port, "/")
    assert code == 200 and body == HELLO


@harness.timeout(30)
def test_proxy_protocol_malformed_closes_without_response():
    s, pport = pp_server()
    get = req("/echo")
    good2 = pp2_inet("192.0.2.9", "192.0.2.2", 1111, 443)
    cases = [
        ("no PROXY header, a plain GET", get, False),
        ("v2 with a bad signature", pp2_inet("192.0.2.9", "192.0.2.2", 1, 2)[:11] + b"X" +
         good2[12:] + get, False),
        ("v2 with version 1 in the version nibble", pp2(1, 0x11, good2[16:], version=1) + get,
         False),
        ("v2 with command 0xF", bytes(good2[:12]) + b"\x2f" + good2[13:] + get, False),
        ("v2 truncated (signature and 4 bytes of address), then our FIN", good2[:20], True),
        ("v2 signature only, then our FIN", PP2_SIG, True),
        ("v2 with a length beyond what is sent, then our FIN",
         PP2_SIG + b"\x21\x11" + struct.pack("!H", 200) + b"\x00" * 12, True),
        ("v1 garbage", b"PROXY TCP4 garbage\r\n" + get, False),
        ("v1 with a missing port", b"PROXY TCP4 192.0.2.1 192.0.2.2 56324\r\n" + get, False),
        ("v1 with a bad address", b"PROXY TCP4 192.0.2.999 192.0.2.2 1 2\r\n" + get, False),
        ("v1 without CRLF over 107 bytes", b"PROXY TCP4 " + b"1" * 200 + b"\r\n" + get, False),
        ("v1 truncated, then our FIN", b"PROXY TCP4 192.0.2.1 19", True),
    ]
    hows = []
    for what, data, shut in cases:
        how = expect_closed_silently(pport, data, what, shut_wr=shut)
        hows.append("%s: %s" % (what, how))
    note("closed without a response: " + "; ".join(hows))
    # and the listener still serves a good one
    echos, _ = send_pp(pport, [good2], "v2 PROXY TCP4 after the malformed ones")
    assert client_is(echos[0].get("client"), "192.0.2.9", 1111), echos[0].get("client")
    assert s.running(), "shoal exited"


@harness.timeout(30)
def test_proxy_protocol_from_nginx_stream():
    if not os.path.exists(STREAM_MODULE):
        raise Skip("NGINX's stream module is not installed (%s, Debian libnginx-mod-stream)"
                   % STREAM_MODULE)
    usock = sock_path("pp.sock")
    require_unix_listener(usock)
    s, pport = pp_server(extra_listen=[{"address": "unix:" + usock, "proxy_protocol": True}])
    sa, sb = harness.free_ports(2)
    stream = """
    server { listen 127.0.0.1:%d; proxy_pass 127.0.0.1:%d; proxy_protocol on; }
    server { listen 127.0.0.1:%d; proxy_pass unix:%s; proxy_protocol on; }
""" % (sa, pport, sb, usock)
    ng = Nginx(stream=stream, ports=[sa, sb]).start()
    for port, what in ((sa, "stream to TCP"), (sb, "stream to the Unix socket")):
        c = BoundConn(port, CLIENT_SRC, timeout=5)
        try:
            clients = []
            for i in range(3):
                c.send(req("/echo", keepalive=i < 2))
                code, h, body = c.recv_response(timeout=5)
                clients.append(parse_echo(code, body, "GET /echo via NGINX %s" % what)
                               .get("client"))
        finally:
            c.close()
        note("NGINX %s, from %s:%d: clients %s" % (what, CLIENT_SRC, c.local_port, clients))
        assert all(client_is(cl, CLIENT_SRC, c.local_port) for cl in clients), \
            "NGINX %s with proxy_protocol on, client %s:%d: echo clients %s" % (
                what, CLIENT_SRC, c.local_port, clients)
    errs = [l for l in ng.error_log().splitlines() if "[error]" in l or "[crit]" in l]
    assert not errs, "NGINX errors:\n" + "\n".join(errs[:20])


# ---------------------------------------------------------------------------
# 3. upstream keep-alive

@harness.timeout(60)
def test_upstream_keepalive_reuses_shoal_connections():
    usock = sock_path("http.sock")
    require_unix_listener(usock)
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport, "unix:" + usock], workers=2)
    totals(s.control)          # Skip early if there is no totals.accepted
    na, nb = harness.free_ports(2)
    http = upstream_block("shoal_tcp", "127.0.0.1:%d" % tport) + \
        upstream_block("shoal_unix", "unix:" + usock) + \
        proxy_server(na, "shoal_tcp") + proxy_server(nb, "shoal_unix")
    ng = Nginx(http=http, ports=[na, nb]).start()
    wait_through(na)
    wait_through(nb)
    results = []
    for port, what in ((na, "TCP upstream"), (nb, "Unix upstream")):
        acc0, req0 = totals(s.control)
        _, alog0 = ng.offsets()
        ld = Load(port, keepalive=2, oneshot=2, pause=0, max_seconds=30).start()
        try:
            ld.wait_ok(1200, timeout=20)
        finally:
            ld.stop()
        n = ld.requests()
        # the last responses can reach the client a moment before NGINX logs
        # them and shoal counts them
        try:
            wait_until(lambda: totals(s.control)[1] - req0 >= n and
                       len([r for r in ng.access_records(alog0)
                            if r["request"].startswith("GET / ")]) >= n,
                       2, 0.02, "NGINX's access log and shoal's request count to catch up")
        except AssertionError:
            pass                    # the assertions below say which one is short
        acc1, req1 = totals(s.control)
        _, alog1 = ng.offsets()
        recs = [r for r in ng.access_records(alog0, alog1) if r["request"].startswith("GET / ")]
        accepted = acc1 - acc0
        conns = {(r["upstream_addr"]) for r in recs}
        results.append("%s: %d requests (%s), shoal accepted %d connections (%.2f%% of "
                       "requests), requests counted by shoal +%d, %d access log lines, "
                       "upstreams %s" % (what, n, ld.summary(), accepted,
                                         100.0 * accepted / max(1, n), req1 - req0,
                                         len(recs), sorted(conns)))
        note(results[-1])
        ld.assert_no_failures("%d requests through NGINX (%s)" % (n, what), min_ok=1000)
        bad = [r for r in recs if r["status"] != "200" or upstream_codes(r) != ["200"]]
        assert not bad, "%s: access log lines that are not a single 200 from shoal:\n%s" % (
            what, "\n".join(fmt_access(bad)))
        assert len(recs) >= n, "%s: %d access log lines for %d requests" % (what, len(recs), n)
        assert req1 - req0 >= n, "%s: shoal counted %d requests for %d sent" % (
            what, req1 - req0, n)
        assert accepted < 0.1 * n, \
            "%s: shoal accepted %d connections for %d requests through NGINX with " \
            "keepalive 16 (>= 10%%): the upstream connections are not reused" % (
                what, accepted, n)
    bad = ng.bad_error_lines()
    assert not bad, "NGINX error log:\n" + "\n".join(bad[:20])


# ---------------------------------------------------------------------------
# 4. reload, upgrade, scale and a killed worker under load through NGINX


def nginx_pair(tport, usock):
    na, nb = harness.free_ports(2)
    http = upstream_block("shoal_tcp", "127.0.0.1:%d" % tport) + \
        upstream_block("shoal_unix", "unix:" + usock) + \
        proxy_server(na, "shoal_tcp") + proxy_server(nb, "shoal_unix")
    ng = Nginx(http=http, ports=[na, nb]).start()
    wait_through(na)
    wait_through(nb)
    return ng, na, nb


def start_loads(na, nb):
    loads = [Load(na, keepalive=2, oneshot=1, pause=0.002, max_seconds=90),
             Load(nb, keepalive=2, oneshot=1, pause=0.002, max_seconds=90)]
    for ld in loads:
        ld.start()
    for ld in loads:
        ld.wait_ok(200, timeout=10)
    return loads


def wait_loads(loads, n=100):
    for ld in loads:
        ld.wait_ok(n, timeout=10)


@harness.timeout(90)
def test_reload_upgrade_scale_under_load_through_nginx():
    usock = sock_path("http.sock")
    require_unix_listener(usock)
    pidfile = os.path.join(harness.tmpdir(), "shoal.pid")
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport, "unix:" + usock], workers=2,
                     args=["--pid-file", pidfile, "--graceful-timeout", "10"])
    masters = [s.pid]
    try:
        settled(s.control, 2)
        ng, na, nb = nginx_pair(tport, usock)
        listener0 = unix_listener_inodes(usock)
        ino0 = os.stat(usock).st_ino
        loads = start_loads(na, nb)
        ph = Phases(s, ng, loads)
        try:
            m = ph.mark()
            wait_loads(loads, 200)
            ph.close("steady (before)", m)
            for i in range(5):
                m = ph.mark()
                rc, out, err = ctl(s.control, "reload")
                assert rc == 0, "reload %d: exit %d, stderr %r" % (i + 1, rc, err)
                st = settled(s.control, 2)
                wait_loads(loads)
                ph.close("reload %d" % (i + 1), m, "generation %s" % st["generation"])

            m = ph.mark()
            old = s.pid
            rc, out, err = ctl(s.control, "upgrade")
            assert rc == 0, "upgrade: exit %d, stdout %r, stderr %r" % (rc, out, err)
            mm = re.search(r"new master pid (\d+)", out)
            assert mm, "upgrade printed %r (no new master pid)" % out
            new = int(mm.group(1))
            masters.append(new)
            rc_old = s.wait_exit(timeout=15)
            assert rc_old == 0, "old master %d exit status %s" % (old, rc_old)
            assert read_pidfile(pidfile) == new, "pid file %r, new master %d" % (
                read_pidfile(pidfile), new)
            st = settled(s.control, 2)
            assert st["pid"] == new, "status answered by %s, new master %d" % (st["pid"], new)
            wait_loads(loads)
            ph.close("upgrade", m, "master %d -> %d" % (old, new))
            assert os.path.exists(usock) and os.stat(usock).st_ino == ino0, \
                "the Unix socket file %s was removed or replaced by the upgrade" % usock
            assert unix_listener_inodes(usock) == listener0, \
                "the Unix listener changed across the upgrade: %s -> %s" % (
                    listener0, unix_listener_inodes(usock))

            for n in (4, 1):
                m = ph.mark()
                rc, out, err = ctl(s.control, "scale", str(n))
                assert rc == 0, "scale %d: exit %d, stderr %r" % (n, rc, err)
                st = settled(s.control, n)
                wait_loads(loads)
                ph.close("scale %d" % n, m, brief(st))
            m = ph.mark()
            wait_loads(loads, 200)
            ph.close("steady (after)", m)
        except AssertionError as e:
            # an operation failed: say what the phases so far saw, too
            raise AssertionError("%s\n%s" % (e, ph.report()))
        finally:
            for ld in loads:
                ld.stop()
        assert unix_listener_inodes(usock) == listener0, \
            "the Unix listener changed: %s -> %s" % (listener0, unix_listener_inodes(usock))
        total_req = sum(r["requests"] for r in ph.rows)
        total_fail = sum(r["failed"] for r in ph.rows)
        total_gw = sum(len(r["gateway"]) for r in ph.rows)
        total_err = sum(len(r["errors"]) for r in ph.rows)
        total_non2xx = sum(len(r["non2xx"]) for r in ph.rows)
        summary = ("through NGINX: %d requests in the phases; client failures %d, non-2xx %d, "
                   "502/504 %d, upstream error-log lines %d; loads: %s | %s" % (
                       total_req, total_fail, total_non2xx, total_gw, total_err,
                       loads[0].summary(), loads[1].summary()))
        note(summary)
        for ld in loads:
            assert not ld.errors, "load client bug: %s" % ld.errors[0]
        assert total_fail == 0 and total_non2xx == 0 and total_gw == 0 and total_err == 0, \
            "5 reloads, an upgrade, scale 4 and scale 1 under load through NGINX: %s\n%s" % (
                summary, ph.report())
        assert loads[0].ok >= 1000 and loads[1].ok >= 1000, summary

        rc, out, err = ctl(s.control, "stop")
        assert rc == 0, "stop: exit %d, stderr %r" % (rc, err)
        wait_until(lambda: not alive(new), 10, 0.05, "the upgraded master %d to stop" % new)
    finally:
        kill_masters(s, masters)


@harness.timeout(60)
def test_sigkill_worker_under_load_through_nginx():
    usock = sock_path("http.sock")
    require_unix_listener(usock)
    tport = harness.free_port()
    s = start_server(["127.0.0.1:%d" % tport, "unix:" + usock], workers=2,
                     args=["--graceful-timeout", "10"])
    settled(s.control, 2)
    ng, na, nb = nginx_pair(tport, usock)
    loads = start_loads(na, nb)
    ph = Phases(s, ng, loads)
    try:
        m = ph.mark()
        wait_loads(loads, 300)
        ph.close("steady (before)", m)
        # the worker holding the most connections from NGINX
        workers = s.workers()
        held = {pid: open_conns(pid, tport, usock) for pid in workers.values()}
        victim = max(held, key=lambda p: sum(held[p]))
        m = ph.mark()
        tcp_n, unix_n = open_conns(victim, tport, usock)     # right before the kill
        os.kill(victim, signal.SIGKILL)
        killed_at = utc_now()
        wait_until(lambda: not alive(victim), 3, 0.005, "worker %d to die" % victim)
        st = settled(s.control, 2, timeout=5)
        assert victim not in [p["pid"] for p in st["processes"]], brief(st)
        wait_loads(loads, 100)
        kill = ph.close("SIGKILL worker", m, "worker %d had %d TCP + %d Unix connections "
                        "from NGINX at %s" % (victim, tcp_n, unix_n, killed_at))
        m = ph.mark()
        wait_loads(loads, 300)
        after = ph.close("after the respawn", m)
    finally:
        for ld in loads:
            ld.stop()
    bound = tcp_n + unix_n
    final_5xx = kill["non2xx"]
    msg = ("SIGKILL of worker %d under load through NGINX: %d client failures, %d non-2xx in "
           "NGINX's access log (%d with a 502/504 upstream attempt, %d requests retried by "
           "NGINX), %d upstream error-log lines; the worker had %d connections open "
           "(%d TCP, %d Unix; all workers: %s)" % (
               victim, kill["failed"], len(final_5xx), len(kill["gateway"]),
               len(kill["retried"]), len(kill["errors"]), bound, tcp_n, unix_n, held))
    note(msg)
    for ld in loads:
        assert not ld.errors, "load client bug: %s" % ld.errors[0]
    assert kill["failed"] <= bound and len(final_5xx) <= bound, \
        "%s: more failures than connections in flight on the killed worker\n%s" % (
            msg, ph.report())
    assert after["failed"] == 0 and not after["non2xx"] and not after["gateway"] \
        and not after["errors"], "after the killed worker was replaced:\n%s" % ph.report()
    s.wait_log(r"worker \d+ \(pid %d\) killed by SIGKILL" % victim, timeout=1)
