"""
systemd: the watchdog (WATCHDOG=1 at half of WATCHDOG_USEC while the
workers are healthy, none when they are not) and socket activation
(LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES) for TCP and Unix listeners, with a
small activator like systemd's: it binds, sets the environment and execs
shoal in the same process.

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

import harness
from harness import RawConn, Shoal, Skip, http_get, note, request_bytes, status, wait_until


class Notify:
    """A NOTIFY_SOCKET: collects every datagram with the time it came."""

    def __init__(self):
        self.path = os.path.join(harness.tmpdir(), "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        dl = harness.deadline(120)
        while not self.stop and time.monotonic() < dl:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.msgs.append((time.monotonic(), data.decode("utf-8", "replace")))

    def pings(self, since=0.0, until=None):
        return [t for t, m in list(self.msgs)
                if "WATCHDOG=1" in m.split("\n") and t >= since and (until is None or t < until)]

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


@harness.timeout(60)
def test_watchdog_pings_while_healthy_and_stops_when_workers_hang():
    d = harness.tmpdir()
    module = harness.greeting_module()
    copy = harness.greeting_module(os.path.join(d, "greeting.so"))
    n = Notify()
    try:
        env = dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC="400000")
        env.pop("WATCHDOG_PID", None)
        cfg = os.path.join(d, "w.json")
        port = harness.free_port()
        with open(cfg, "w") as f:
            json.dump({"listen": ["127.0.0.1:%d" % port], "workers": 2, "worker_timeout": 1,
                       "respawn_delay_max": 0.5, "control_socket": os.path.join(d, "c.sock"),
                       "modules": [{"name": "app", "path": copy},
                                   {"name": "spin", "path": harness.spin_module()}],
                       "routes": [{"path": "/healthz", "handler": "health"},
                                  harness.SPIN_ROUTE]}, f)
        s = Shoal(["-c", cfg, "--log-level", "debug"], raw=True, env=env)
        s.ports, s.nworkers = [port], 2
        with s.start():
            t0 = time.monotonic()
            time.sleep(2.0)
            healthy = n.pings(t0, t0 + 2.0)
            # every 0.2 s: about 10 in 2 s
            assert 7 <= len(healthy) <= 12, "%d pings in 2s at WATCHDOG_USEC=0.4s" % len(healthy)
            s.wait_log(r"watchdog: telling systemd all is well every 0\.2s", timeout=1)
            # workers hang (their loops spin) and their replacements cannot
            # boot (the module is gone): after worker_timeout the pings stop
            # for good
            ws = s.wait_workers(2)
            spins = [harness.hang_worker(port, pid, probe="/healthz") for pid in ws.values()]
            os.unlink(copy)
            t1 = time.monotonic()
            s.wait_log(r"watchdog: not telling systemd all is well", timeout=5)
            time.sleep(3.5)
            late = n.pings(t1 + 2.6, t1 + 3.5)
            assert late == [], "%d pings while the workers are hung and cannot be replaced" % len(late)
            for c in spins:
                c.close()
            # the module is back: workers boot, pings resume
            shutil.copy(module, copy)
            s.wait_log(r"watchdog: workers healthy again", timeout=10)
            t2 = time.monotonic()
            wait_until(lambda: len(n.pings(t2)) >= 3, 5, 0.05, "pings to resume")
            note("healthy: %d pings in 2s; none from %.1fs to %.1fs after SIGSTOP" % (
                len(healthy), 2.6, 3.5))
    finally:
        n.close()


@harness.timeout(30)
def test_watchdog_stops_with_the_master_loop():
    n = Notify()
    try:
        env = dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC="400000")
        with Shoal(workers=1, env=env) as s:
            wait_until(lambda: len(n.pings()) >= 3, 3, 0.05, "pings")
            os.kill(s.pid, signal.SIGSTOP)
            time.sleep(0.3)
            t = time.monotonic()
            time.sleep(1.0)
            stopped = n.pings(t)
            os.kill(s.pid, signal.SIGCONT)
            assert stopped == [], "pings while the master was stopped: %s" % stopped
            t = time.monotonic()
            wait_until(lambda: len(n.pings(t)) >= 2, 3, 0.05, "pings after SIGCONT")
        # not asked for: no pings, no timer
        time.sleep(0.3)
        env = dict(os.environ, NOTIFY_SOCKET=n.path)
        env.pop("WATCHDOG_USEC", None)
        with Shoal(workers=1, env=env) as s:
            t = time.monotonic()
            time.sleep(0.8)
            assert n.pings(t) == [], "pings without WATCHDOG_USEC"
            assert "watchdog: " not in s.log_text(), s.log_tail()
        # WATCHDOG_PID naming another process: not for us
        env = dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC="400000", WATCHDOG_PID="1")
        with Shoal(workers=1, env=env) as s:
            t = time.monotonic()
            time.sleep(0.8)
            assert n.pings(t) == [], "pings with WATCHDOG_PID=1"
    finally:
        n.close()


# ---------------------------------------------------------------------------
# socket activation

ACTIVATOR = r"""
import os, socket, sys
# argv: shoal binary, then its arguments; fds 3.. are the sockets, in
# LISTEN_FDNAMES order. Like systemd: set LISTEN_PID to our pid (exec keeps
# it) and exec.
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])
"""


class Activated(Shoal):
    """A Shoal started through the activator with sockets on fds 3, 4, ..."""

    def __init__(self, socks, names, args, **kw):
        Shoal.__init__(self, args, raw=True, **kw)
        self.socks = socks
        self.names = names

    def start(self, wait=True, timeout=10.0, need_log=True):
        import subprocess
        act = os.path.join(harness.tmpdir(), "activator.py")
        with open(act, "w") as f:
            f.write(ACTIVATOR)
        fds = [s.fileno() for s in self.socks]

        def pre():
            harness._no_core()
            # put the sockets on 3, 4, ... as systemd does
            tmp = [os.dup(fd) for fd in fds]
            for i, fd in enumerate(tmp):
                os.dup2(fd, 3 + i)
                os.set_inheritable(3 + i, True)
        env = dict(os.environ, LISTEN_FDS=str(len(fds)), LISTEN_FDNAMES=":".join(self.names))
        cmd = [sys.executable, act, harness.binary()] + self.args
        harness.note("activate: " + " ".join(cmd))
        with open(self.out_path, "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=self.cwd, env=env,
                                         start_new_session=True, close_fds=False,
                                         preexec_fn=pre)
        self.pid = self.proc.pid
        self.starttime = harness.proc_starttime(self.pid)
        harness._state["servers"].append(self)
        if wait:
            self.wait_ready(timeout=timeout, need_log=need_log)
        return self


def inode(sock):
    return os.fstat(sock.fileno()).st_ino


def master_listen_inodes(pid):
    return harness.socket_inodes(pid)


@harness.timeout(40)
def test_socket_activation_tcp_reuseport_and_unix():
    d = harness.tmpdir()
    port = harness.free_port()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(128)
    upath = os.path.join(d, "http.sock")
    uni = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    uni.bind(upath)
    uni.listen(128)
    tcp_ino, uni_ino = inode(tcp), inode(uni)
    # a request waiting in the queue before shoal runs
    early = RawConn(port, timeout=10)
    early.send(request_bytes("/healthz"))
    ctl = os.path.join(d, "c.sock")
    s = Activated([tcp, uni], ["http", "local"],
                  ["--listen", "127.0.0.1:%d" % port, "--listen", "unix:" + upath,
                   "--workers", "2", "--control", ctl, "--log-level", "debug"])
    s.ports, s.nworkers, s.control = [port], 2, ctl
    with s.start():
        tcp.close()
        uni.close()
        st, _, body = early.recv_response(timeout=10)
        assert st == 200, "the request queued before the start: %d" % st
        early.close()
        text = s.log_text()
        assert "socket activation: took 127.0.0.1:%d from systemd (fd 3, http)" % port in text, \
            s.log_tail()
        assert "socket activation: took unix:%s from systemd (fd 4, local), shared" % upath in text
        assert "without SO_REUSEPORT" not in text
        # slot 0 accepts on the inherited socket, slot 1 on one the master made
        ws = s.wait_workers(2)
        assert tcp_ino in harness.socket_inodes(ws[0]), "worker 0 lacks the inherited socket"
        assert tcp_ino not in harness.socket_inodes(ws[1]), "worker 1 holds slot 0's socket"
        assert tcp_ino in harness.socket_inodes(s.pid)
        rows = [r for r in harness.tcp_table() if r.local_port == port and r.state == harness.TCP_LISTEN]
        assert len(rows) == 2, "%d listening sockets on the port, expected 2" % len(rows)
        for w in ws.values():
            assert uni_ino in harness.socket_inodes(w)
        # both serve; so does the Unix socket
        for _ in range(20):
            assert http_get(port, "/healthz")[0] == 200
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(3)
        c.connect(upath)
        c.sendall(request_bytes("/healthz"))
        assert c.recv(100).startswith(b"HTTP/1.1 200")
        c.close()
        # a reload keeps the sockets
        rc, out, err = harness.ctl(ctl, "reload")
        assert rc == 0, err
        harness.settled(ctl, 2, generation=2)
        assert tcp_ino in harness.socket_inodes(s.pid)
    # the socket file is systemd's: not removed at stop
    assert os.path.exists(upath), "shoal removed the socket file systemd made"


@harness.timeout(30)
def test_socket_activation_without_reuseport_shares_the_socket():
    port = harness.free_port()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(128)
    ino = inode(tcp)
    ctl = os.path.join(harness.tmpdir(), "c.sock")
    s = Activated([tcp], ["web"], ["--listen", "127.0.0.1:%d" % port, "--workers", "2",
                                   "--control", ctl, "--log-level", "debug"])
    s.ports, s.nworkers, s.control = [port], 2, ctl
    with s.start():
        tcp.close()
        s.wait_log(r"came without SO_REUSEPORT: every worker accepts on this one socket", 2)
        ws = s.wait_workers(2)
        for w in ws.values():
            assert ino in harness.socket_inodes(w), "worker %d lacks the shared socket" % w
        rows = [r for r in harness.tcp_table() if r.local_port == port and r.state == harness.TCP_LISTEN]
        assert len(rows) == 1, rows
        for _ in range(20):
            assert http_get(port, "/healthz")[0] == 200
        # scale: the new slot shares it too
        rc, out, err = harness.ctl(ctl, "scale", "3")
        assert rc == 0, err
        st = harness.settled(ctl, 3)
        for p in st["processes"]:
            assert ino in harness.socket_inodes(p["pid"])


@harness.timeout(30)
def test_socket_activation_ignores_unlisted_sockets():
    port, other = harness.free_ports(2)
    a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    a.bind(("127.0.0.1", other))
    a.listen(8)
    ctl = os.path.join(harness.tmpdir(), "c.sock")
    s = Activated([a], ["stray"], ["--listen", "127.0.0.1:%d" % port, "--workers", "1",
                                   "--control", ctl, "--log-level", "debug"])
    s.ports, s.nworkers = [port], 1
    with s.start():
        a.close()
        assert "fd 3 (stray) matches no listen address; closed" in s.log_text()
        assert not harness.port_in_use(other), "the unlisted socket is still open"
        assert http_get(port, "/healthz")[0] == 200
