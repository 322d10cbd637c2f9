"""
harness — shared helpers for shoal's black-box integration tests.

Standard library only. Everything here talks to 127.0.0.1 / ::1 on ports
picked by binding port 0, keeps the pid of every process it starts, and
kills only the process group it created itself (each server is started with
start_new_session=True, so its pgid is its own pid; see _killpg_if_ours).
Every loop is bounded by a deadline.

The runner (run.py) calls configure() once, then begin_test()/end_test()
around each test; end_test() stops whatever servers the test left running.
"""

import json
import math
import os
import re
import resource
import select
import signal
import socket
import subprocess
import time
from collections import namedtuple

# ---------------------------------------------------------------------------
# run-wide state


class Skip(Exception):
    """Raised by a test that cannot run here (the reason is printed)."""


class TestTimeout(BaseException):
    """Raised by the runner's timer in a test that ran too long.

    A BaseException so that a test's own `except Exception` cannot swallow it.
    """


_state = {
    "binary": None,
    "verbose": False,
    "tmpdir": None,
    "test": None,
    "servers": [],     # every Shoal / CLI Popen started in the current test
    "notes": [],
}

# Servers started by tests log at this level unless a test says otherwise, so
# that every line the tests look for (spawned/ready/...) is written whatever
# level the implementation picked for it.
DEFAULT_LOG_LEVEL = "debug"


def configure(binary, verbose=False):
    _state["binary"] = binary
    _state["verbose"] = verbose


def binary():
    b = _state["binary"]
    if not b:
        raise RuntimeError("harness.configure(binary=...) was not called")
    return b


def repo_root():
    """The source tree (two levels above this file)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def begin_test(name, tmpdir):
    _state["test"] = name
    _state["tmpdir"] = tmpdir
    _state["servers"] = []
    _state["notes"] = []


def end_test():
    """Stop everything the test started. Returns a list of cleanup remarks."""
    remarks = []
    for srv in list(_state["servers"]):
        try:
            r = srv._cleanup()
            if r:
                remarks.append(r)
        except Exception as e:  # cleanup must go on with the others
            remarks.append("cleanup of %r failed: %s" % (srv, e))
    return remarks


def servers():
    return list(_state["servers"])


def tmpdir():
    d = _state["tmpdir"]
    if d is None:
        raise RuntimeError("no test is running (harness.begin_test not called)")
    return d


def note(msg):
    """A progress note: printed at once with -v, kept for failure reports."""
    _state["notes"].append(msg)
    if _state["verbose"]:
        print("    . " + msg, flush=True)


def notes():
    return list(_state["notes"])


def _no_core():
    # preexec_fn: a SIGABRTed worker must not drop a core file into the tree.
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _preexec_with_limits(rlimits):
    """preexec_fn: _no_core, then each {resource.RLIMIT_X: (soft, hard)}."""
    def fn():
        _no_core()
        for res, lim in rlimits.items():
            resource.setrlimit(res, lim)
    return fn


# ---------------------------------------------------------------------------
# time

def deadline(seconds):
    return time.monotonic() + seconds


def remaining(dl):
    return max(0.0, dl - time.monotonic())


def wait_until(pred, timeout, interval=0.01, what="condition"):
    """Poll pred() until it returns a truthy value; return it. AssertionError on timeout."""
    dl = deadline(timeout)
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= dl:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# ports

def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind port 0, read it back, close)."""
    return free_ports(1, host)[0]


def free_ports(n, host="127.0.0.1"):
    """n distinct free ports (the sockets stay open until all are picked)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(fam, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_in_use(port, host="127.0.0.1"):
    """True if something listens on host:port or the port cannot be bound."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(0.5)
    try:
        c.connect((host, port))
        return True
    except OSError:
        pass
    finally:
        c.close()
    s = socket.socket(fam, socket.SOCK_STREAM)
    # SO_REUSEADDR: a TIME_WAIT left by an earlier run does not count (the
    # server sets it too); a listening socket still makes bind fail.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# ---------------------------------------------------------------------------
# /proc helpers

def proc_state(pid):
    """The one-letter state of pid ('R', 'S', 'T', 'Z', ...) or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # comm may contain spaces and parentheses: the state follows the last ')'
    return data[data.rindex(")") + 2:].split()[0]


def proc_stat_fields(pid):
    """Fields of /proc/PID/stat after the comm: index 0 is the state (field 3)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def proc_starttime(pid):
    f = proc_stat_fields(pid)
    return int(f[19]) if f else None    # field 22: starttime


def proc_pgid(pid):
    f = proc_stat_fields(pid)
    return int(f[2]) if f else None     # field 5: pgrp


def proc_cpu_seconds(pid):
    """utime + stime of pid in seconds (fields 14 and 15), None if gone."""
    f = proc_stat_fields(pid)
    if not f:
        return None
    return (int(f[11]) + int(f[12])) / float(os.sysconf("SC_CLK_TCK"))


def alive(pid):
    """True if pid exists and is not a zombie."""
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def file_tail(path, n=40):
    """The last n lines of a log file ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return ""


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def children(pid):
    """Pids of pid's children (any state), from /proc/PID/task/*/children."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    found_file = False
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found_file = True
                out.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    if not found_file:
        # kernel without CONFIG_PROC_CHILDREN: scan every process's ppid
        for d in os.listdir("/proc"):
            if d.isdigit():
                fl = proc_stat_fields(int(d))
                if fl and int(fl[1]) == pid:
                    out.append(int(d))
    return sorted(set(out))


_WORKER_COMM = re.compile(r"^shoal worker (\d+)$")


def worker_procs(master_pid):
    """[(slot, pid)] for every live (non-zombie) child whose comm is 'shoal worker N'."""
    out = []
    for c in children(master_pid):
        if not alive(c):
            continue
        m = _WORKER_COMM.match(comm(c) or "")
        if m:
            out.append((int(m.group(1)), c))
    return out


def workers(master_pid):
    """{slot: pid} of master_pid's live workers (comm 'shoal worker N')."""
    return {slot: pid for slot, pid in sorted(worker_procs(master_pid),
                                              key=lambda sp: proc_starttime(sp[1]) or 0)}


def fd_targets(pid):
    """{fd: readlink target} of /proc/PID/fd (fds closed while reading are skipped)."""
    out = {}
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            out[int(name)] = os.readlink(os.path.join(d, name))
        except OSError:
            continue
    return out


_SOCK_RE = re.compile(r"^socket:\[(\d+)\]$")


def socket_inodes(pid):
    """Set of socket inodes in pid's fd table."""
    out = set()
    try:
        targets = fd_targets(pid)
    except OSError:
        return out
    for t in targets.values():
        m = _SOCK_RE.match(t)
        if m:
            out.add(int(m.group(1)))
    return out


TcpRow = namedtuple("TcpRow", "family local_ip local_port remote_ip remote_port state inode")

TCP_ESTABLISHED = 0x01
TCP_LISTEN = 0x0A


def _hex_ip4(h):
    b = bytes.fromhex(h)[::-1]          # one host-order (little-endian) u32
    return socket.inet_ntop(socket.AF_INET, b)


def _hex_ip6(h):
    b = b"".join(bytes.fromhex(h[i:i + 8])[::-1] for i in range(0, 32, 8))
    return socket.inet_ntop(socket.AF_INET6, b)


def tcp_table():
    """Rows of /proc/net/tcp and /proc/net/tcp6 (this network namespace)."""
    rows = []
    for path, fam, conv in (("/proc/net/tcp", 4, _hex_ip4), ("/proc/net/tcp6", 6, _hex_ip6)):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            p = line.split()
            if len(p) < 10:
                continue
            lip, lport = p[1].split(":")
            rip, rport = p[2].split(":")
            rows.append(TcpRow(fam, conv(lip), int(lport, 16), conv(rip), int(rport, 16),
                               int(p[3], 16), int(p[9])))
    return rows


def unix_inodes():
    """Set of inodes of AF_UNIX sockets from /proc/net/unix."""
    out = set()
    try:
        with open("/proc/net/unix") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        p = line.split()
        if len(p) >= 7:
            out.add(int(p[6]))
    return out


def server_pid_for_client_port(client_port, pids=None, server_port=None, rows=None):
    """Which process holds the accepted socket of the client connection whose
    local (client-side) port is client_port; None if none does (yet).

    The tcp row whose remote port is the client's port is the server side of
    the connection; its inode is looked up in each candidate's fd table
    (pids: the candidates, e.g. the workers; None: every process in /proc).
    """
    if pids is None:
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) != os.getpid()]
    if rows is None:
        rows = tcp_table()
    inodes = {r.inode for r in rows
              if r.remote_port == client_port and r.inode != 0
              and r.state != TCP_LISTEN
              and (server_port is None or r.local_port == server_port)}
    if not inodes:
        return None
    for pid in pids:
        if socket_inodes(pid) & inodes:
            return pid
    return None


def expected_auto_workers():
    """CPUs this process may use: the affinity mask, lowered to the cgroup v2
    cpu.max quota (ceil(quota/period)) on the path from our cgroup to the root."""
    n = len(os.sched_getaffinity(0))
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return max(1, n)
    rel = None
    for line in lines:
        if line.startswith("0::"):
            rel = line[3:]
    if rel is None:
        return max(1, n)
    d = os.path.normpath("/sys/fs/cgroup/" + rel.lstrip("/"))
    for _ in range(64):
        try:
            with open(os.path.join(d, "cpu.max")) as f:
                q = f.read().split()
            if q and q[0] != "max":
                n = min(n, int(math.ceil(int(q[0]) / int(q[1]))))
        except (OSError, ValueError, IndexError, ZeroDivisionError):
            pass
        if d in ("/sys/fs/cgroup", "/"):
            break
        d = os.path.dirname(d)
    return max(1, n)


# ---------------------------------------------------------------------------
# HTTP over raw sockets

def request_bytes(path="/", headers=None, keepalive=False, method="GET", host="127.0.0.1"):
    hdrs = [("Host", host)]
    if not keepalive:
        hdrs.append(("Connection", "close"))
    for k, v in (headers or {}).items():
        hdrs.append((k, v))
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    head += "".join("%s: %s\r\n" % kv for kv in hdrs)
    return (head + "\r\n").encode("latin-1")


class IncompleteResponse(ConnectionError):
    pass


class RawConn:
    """One client TCP connection: send bytes, read complete HTTP responses.

    rcvbuf: SO_RCVBUF set before connect (a small one makes a client that
    does not read stall the server's writes sooner). last_head: the raw
    bytes of the last response head recv_response read (without the blank
    line), for checks a header dict cannot make.
    """

    def __init__(self, port, host="127.0.0.1", timeout=3.0, rcvbuf=None, src=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.last_head = b""
        try:
            if rcvbuf is not None:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if src is not None:     # a chosen source address, e.g. 127.0.0.2
                self.sock.bind((src, 0))
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise
        self.local_port = self.sock.getsockname()[1]
        self.server_port = port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def readable(self, timeout=0.0):
        """True if bytes (or EOF / an error) are waiting, within timeout."""
        if self.buf or self.eof:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def _fill(self, dl):
        """Read once more into buf before the deadline; False on EOF."""
        if self.eof:
            return False
        left = remaining(dl)
        if left <= 0:
            raise socket.timeout("timed out waiting for the response (%d bytes so far)" % len(self.buf))
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def recv_response(self, timeout=3.0, head_request=False):
        """Read one complete response: (status, {lowercased header: value}, body bytes).

        Handles Content-Length, chunked, and read-until-close; head_request:
        the answer to a HEAD (no body whatever its headers say). Raises
        IncompleteResponse if the peer closes before a complete response,
        ConnectionResetError on a reset, socket.timeout on the deadline.
        """
        dl = deadline(timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(dl):
                raise IncompleteResponse("connection closed before a complete response head (got %r)"
                                         % self.buf[:200])
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        self.last_head = head
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/(\d)\.(\d) (\d{3})(?: .*)?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        status = int(m.group(3))
        headers = {}
        for line in lines[1:]:
            if ":" not in line:
                raise AssertionError("bad header line %r" % line)
            k, v = line.split(":", 1)
            k = k.strip().lower()
            v = v.strip()
            headers[k] = headers[k] + ", " + v if k in headers else v
        self.buf = rest
        if head_request or status // 100 == 1 or status in (204, 304):
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill(dl):
                        raise IncompleteResponse("closed inside a chunk size line")
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until an empty line
                    while b"\r\n" not in self.buf:
                        if not self._fill(dl):
                            raise IncompleteResponse("closed inside the trailers")
                    while not self.buf.startswith(b"\r\n"):
                        if b"\r\n" in self.buf:
                            self.buf = self.buf.split(b"\r\n", 1)[1]
                        elif not self._fill(dl):
                            raise IncompleteResponse("closed inside the trailers")
                    self.buf = self.buf[2:]
                    return status, headers, body
                while len(self.buf) < size + 2:
                    if not self._fill(dl):
                        raise IncompleteResponse("closed inside a chunk")
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                if not self._fill(dl):
                    raise IncompleteResponse("closed after %d of %d body bytes" % (len(self.buf), n))
            body, self.buf = self.buf[:n], self.buf[n:]
            return status, headers, body
        while self._fill(dl):
            pass
        body, self.buf = self.buf, b""
        return status, headers, body

    def recv_all(self, timeout=3.0):
        """Everything until EOF (including what is buffered)."""
        dl = deadline(timeout)
        while self._fill(dl):
            pass
        data, self.buf = self.buf, b""
        return data


def http_get(port, path="/", headers=None, keepalive=False, timeout=3.0, host="127.0.0.1"):
    """GET path on a new connection: (status, headers (lowercased), body)."""
    with RawConn(port, host=host, timeout=timeout) as c:
        c.send(request_bytes(path, headers=headers, keepalive=keepalive, host=host))
        return c.recv_response(timeout=timeout)


# ---------------------------------------------------------------------------
# the server

def _killpg_if_ours(pgid, leader_starttime, sig):
    """Signal the process group pgid only if it is still the one we created.

    A pid number stays allocated while any process uses it as its pgid, so the
    group is ours unless its number was freed and reused. If a process with
    pid == pgid exists it must be our leader (same start time); if none
    exists, only our orphans can still carry that pgid.
    """
    st = proc_starttime(pgid)
    if st is not None and st != leader_starttime:
        return False
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_members(pgid):
    """Live processes whose process group is pgid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = proc_stat_fields(int(d))
            if f and int(f[2]) == pgid and f[0] not in ("Z", "X"):
                out.append(int(d))
    return out


CLEANUP_GRACE = 1.0

_READY_RE = re.compile(r"\bmaster\b[^\n]*?: all (\d+) workers ready")


class Shoal:
    """One shoal master started with given CLI args, its log in the test's temp dir.

    Shoal(workers=2) picks a free port and runs
        shoal --listen 127.0.0.1:PORT --workers 2 --log-level debug
    Shoal(args=[...], raw=True) passes args exactly (no added flags).
    ports: how many listen ports to pick (with raw=False and no --listen in args).
    rlimits: {resource.RLIMIT_X: (soft, hard)} set in the child before exec
    (the workers inherit them).
    wrap: a command that execs the rest of its arguments, put in front of the
    binary (e.g. ["ip", "netns", "exec", NAME] runs shoal in a network
    namespace, see netns.py); the pid kept is still shoal's, because it
    execs. host: the address the readiness check connects to.
    """

    def __init__(self, args=(), workers=None, ports=1, raw=False, log_level=None,
                 host="127.0.0.1", name="shoal", cwd=None, env=None, rlimits=None,
                 wrap=None):
        self.args = list(args)
        self.wrap = list(wrap or [])
        self.rlimits = dict(rlimits or {})
        self.host = host
        self.ports = []
        if not raw:
            if "--listen" not in self.args and "-c" not in self.args:
                self.ports = free_ports(ports, host)
                for p in self.ports:
                    h = "[%s]" % host if ":" in host else host
                    self.args += ["--listen", "%s:%d" % (h, p)]
            if workers is not None:
                self.args += ["--workers", str(workers)]
            if "--log-level" not in self.args:
                self.args += ["--log-level", log_level or DEFAULT_LOG_LEVEL]
        self.nworkers = workers
        d = tmpdir()
        # Each server its own control socket: the default path is shared by
        # every shoal on the machine, and a second one would refuse to start.
        self.control = None
        for flag in ("--control", "--control-socket"):
            if flag in self.args:
                self.control = self.args[self.args.index(flag) + 1]
        if not raw and self.control is None:
            self.control = os.path.join(d, "control-%d.sock" % len(_state["servers"]))
            self.args += ["--control", self.control]
        n = sum(1 for s in _state["servers"] if isinstance(s, Shoal))
        self.name = name if n == 0 else "%s%d" % (name, n + 1)
        # stdout+stderr of the master; also its log unless --log-file is given
        self.out_path = os.path.join(d, self.name + ".log")
        self.log_path = self.out_path
        if "--log-file" in self.args:
            lf = self.args[self.args.index("--log-file") + 1]
            self.log_path = lf if os.path.isabs(lf) else os.path.join(cwd or d, lf)
        self.cwd = cwd or d
        self.env = env
        self.proc = None
        self.pid = None
        self.starttime = None
        self.seen_workers = set()

    def __repr__(self):
        return "<Shoal pid=%s ports=%s>" % (self.pid, self.ports)

    @property
    def port(self):
        return self.ports[0] if self.ports else None

    # -- life cycle

    def start(self, wait=True, timeout=10.0, need_log=True):
        cmd = self.wrap + [binary()] + self.args
        note("start: " + " ".join(cmd))
        with open(self.out_path, "ab") as logf:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                cwd=self.cwd, env=self.env, start_new_session=True, close_fds=True,
                preexec_fn=_preexec_with_limits(self.rlimits) if self.rlimits else _no_core)
        self.pid = self.proc.pid
        self.starttime = proc_starttime(self.pid)
        _state["servers"].append(self)
        if wait:
            self.wait_ready(timeout=timeout, need_log=need_log)
        return self

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self._cleanup()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=10.0, need_log=True, nworkers=None):
        """Until the master logged 'all N workers ready' (N checked if known) and
        GET /healthz answers 200 on the first port."""
        nworkers = nworkers if nworkers is not None else self.nworkers
        dl = deadline(timeout)
        logged = not need_log
        last_err = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("shoal exited with status %s before it was ready" % rc)
            if not logged:
                m = _READY_RE.search(self.log_text())
                if m:
                    if nworkers is not None and int(m.group(1)) != nworkers:
                        raise AssertionError("master says 'all %s workers ready', expected %d"
                                             % (m.group(1), nworkers))
                    logged = True
            if logged and self.port:
                try:
                    st, _, body = http_get(self.port, "/healthz", timeout=1.0, host=self.host)
                    if st == 200:
                        note("ready after %.2fs" % (timeout - remaining(dl)))
                        return
                    last_err = "GET /healthz -> %d %r" % (st, body[:80])
                except (OSError, ConnectionError) as e:
                    last_err = "GET /healthz: %s" % e
            elif logged:
                return
            if time.monotonic() >= dl:
                raise AssertionError("shoal not ready after %.1fs (%s)" % (
                    timeout, last_err if logged else "no 'all N workers ready' line in the log"))
            time.sleep(0.02)

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=5.0):
        """Wait for the master to exit; returns its exit status (negative: signal).
        AssertionError if it is still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("master (pid %d) still running %.1fs later" % (self.pid, timeout))

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send sig (SIGTERM) to the master; SIGKILL the group after timeout;
        wait; return the master's exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def _cleanup(self):
        """Stop the master (SIGTERM, CLEANUP_GRACE seconds), then SIGKILL
        whatever is left in its process group. Never raises; returns a
        remark when something needed force, or None."""
        if self.proc is None:
            return None
        remarks = []
        if self.proc.poll() is None:
            # a graceful stop first lets the master reap its own workers
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=CLEANUP_GRACE)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                remarks.append("master pid %d still running %.0fs after SIGTERM at cleanup; "
                               "SIGKILLed its group" % (self.pid, CLEANUP_GRACE))
        else:
            left = group_members(self.pid)
            if left:
                remarks.append("master exited but its group still held %s; SIGKILLed"
                               % ["%d (%s)" % (p, comm(p)) for p in left])
        _killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
        # a worker that left the group is not ours to kill by group: report it
        strays = [p for p in self.seen_workers if alive(p) and proc_pgid(p) != self.pid]
        if strays:
            remarks.append("worker pids %s left the process group and are still alive "
                           "(not killed)" % strays)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            remarks.append("master did not die after SIGKILL")
        return "; ".join(remarks) or None

    # -- processes

    def children(self):
        """Live (non-zombie) children of the master."""
        return [c for c in children(self.pid) if alive(c)]

    def workers(self):
        """{slot: pid} of live workers (comm 'shoal worker N'). If a slot has
        two live processes, the newer one is returned."""
        out = {}
        for slot, pid in worker_procs(self.pid):
            self.seen_workers.add(pid)
            if slot in out:
                if (proc_starttime(pid) or 0) < (proc_starttime(out[slot]) or 0):
                    continue
            out[slot] = pid
        return out

    def wait_workers(self, n=None, timeout=5.0):
        """Wait until n workers (default: the --workers count) are alive in
        slots 0..n-1; return {slot: pid}."""
        n = n if n is not None else self.nworkers
        def ok():
            w = self.workers()
            return w if set(w) == set(range(n)) else None
        return wait_until(ok, timeout, 0.01, "%d workers in slots 0..%d" % (n, n - 1))

    def queue_unseen(self, act, n=40, settle=0.3, then=None):
        """With the master stopped (SIGSTOP), run act() (stop or kill a
        worker), then open n connections, each with a GET / sent: the master
        cannot steer them away from a slot whose worker it has not seen go
        (the window between a worker's end and the master noticing,
        stretched). After settle seconds, then() runs if given, and the
        master is continued. Returns (connections, how many of them were
        still unanswered after settle, i.e. waited in a queue)."""
        conns = []
        os.kill(self.pid, signal.SIGSTOP)
        try:
            act()
            for _ in range(n):
                c = RawConn(self.port, timeout=5)
                conns.append(c)
                c.send(request_bytes("/"))
            time.sleep(settle)
            waiting = sum(1 for c in conns if not c.readable(0))
            if then is not None:
                then()
        except BaseException:
            for c in conns:
                c.close()
            raise
        finally:
            os.kill(self.pid, signal.SIGCONT)
        note("%d of %d connections waiting in a queue with the master stopped" % (waiting, n))
        return conns, waiting

    # -- log

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def out_tail(self, n=40):
        """Tail of stdout/stderr when the log goes to --log-file (else None)."""
        if self.out_path == self.log_path:
            return None
        try:
            with open(self.out_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        return "\n".join(text.splitlines()[-n:]) or None

    def wait_log(self, regex, timeout=3.0, start=0):
        """Wait until regex matches the log (from character offset start);
        returns the match. AssertionError (with the regex) on timeout."""
        rx = re.compile(regex)
        dl = deadline(timeout)
        while True:
            m = rx.search(self.log_text(), start)
            if m:
                return m
            if time.monotonic() >= dl:
                raise AssertionError("log has no line matching %r after %.1fs" % (regex, timeout))
            time.sleep(0.01)

    def count_log(self, regex):
        return len(re.findall(regex, self.log_text()))


class Cli:
    """A short-lived run of the binary (--check, --help, a bad config): its
    own session too, killed with its group if it outlives the timeout."""

    def __init__(self, args, timeout=5.0, cwd=None):
        self.args = list(args)
        self.timeout = timeout
        self.cwd = cwd or tmpdir()
        self.proc = None
        self.pid = None
        self.starttime = None

    def __repr__(self):
        return "<Cli pid=%s %s>" % (self.pid, self.args)

    def run(self):
        """Returns (exit status, stdout text, stderr text)."""
        note("run: " + " ".join([binary()] + self.args))
        self.proc = subprocess.Popen(
            [binary()] + self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=self.cwd, start_new_session=True, close_fds=True,
            preexec_fn=_no_core)
        self.pid = self.proc.pid
        self.starttime = proc_starttime(self.pid)
        _state["servers"].append(self)
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
            out, err = self.proc.communicate(timeout=5)
            raise AssertionError("%s did not exit within %.1fs (killed); stderr: %s"
                                 % (" ".join(self.args), self.timeout,
                                    err.decode("utf-8", "replace")[-2000:]))
        return self.proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def log_tail(self, n=40):
        return None

    def _cleanup(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            _killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            return "cli pid %d still running at the end of the test; killed" % self.pid
        # its group may hold children it forked (a config that was accepted)
        _killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
        return None


class Redis:
    """A real redis-server (Debian's package) for one test: a free loopback
    port (or a Unix socket in the test's directory), no persistence, its
    files in the test's directory, its own session. Stopped by its pid
    (never by name); kill() and start() again keep the port, so a shoal
    pointed at it sees the same server come back. Skip if redis-server is
    not installed.

        r = Redis().start()          # r.address: "127.0.0.1:PORT"
        r.kill()                     # SIGKILL, waited for
        r.start()                    # same port
        r.pause(); r.resume()        # SIGSTOP / SIGCONT: replies stop coming
        r.command("GET", b"k")       # a plain RESP client, for checks

    host: the address it binds and is reached at; wrap: a command put in
    front of redis-server that execs it (as Shoal's wrap: netns.py runs it
    in a host of its own this way, on port 6379 there).
    """

    def __init__(self, unix=False, port=None, host="127.0.0.1", wrap=None):
        import shutil
        self.exe = shutil.which("redis-server")
        if self.exe is None:
            raise Skip("redis-server is not installed (scripts/deps --test)")
        d = tmpdir()
        n = sum(1 for s in _state["servers"] if isinstance(s, Redis))
        self.dir = os.path.join(d, "redis%d" % n)
        os.makedirs(self.dir, exist_ok=True)
        self.unix = unix
        self.host = host
        self.wrap = list(wrap or [])
        self.port = None if unix else (port or free_port(host))
        self.path = os.path.join(self.dir, "redis.sock") if unix else None
        self.address = ("unix:" + self.path) if unix else "%s:%d" % (host, self.port)
        self.log_path = os.path.join(self.dir, "redis.log")
        self.proc = None
        self.pid = None
        self.starttime = None
        self.paused = False
        _state["servers"].append(self)

    def __repr__(self):
        return "<Redis pid=%s %s>" % (self.pid, self.address)

    def start(self, timeout=5.0):
        """Start (again, on the same address) and wait until it answers PING."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        args = [self.exe, "--bind", self.host, "--port", str(self.port or 0),
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--daemonize", "no", "--logfile", self.log_path]
        if self.unix:
            args += ["--unixsocket", self.path, "--unixsocketperm", "700"]
        if self.host != "127.0.0.1":
            args += ["--protected-mode", "no"]      # clients from other addresses
        args = self.wrap + args
        note("start: " + " ".join(args))
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True, close_fds=True,
                                     preexec_fn=_no_core)
        self.pid = self.proc.pid
        self.starttime = proc_starttime(self.pid)
        self.paused = False
        dl = deadline(timeout)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited with %s; its log: %s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                if self.command("PING", timeout=0.5) == "PONG":
                    return self
            except (OSError, ConnectionError, ValueError):
                pass
            if time.monotonic() >= dl:
                raise AssertionError("redis-server not answering after %.1fs" % timeout)
            time.sleep(0.02)

    def _signal(self, sig):
        if self.proc is not None and self.proc.poll() is None \
                and proc_starttime(self.pid) == self.starttime:
            os.kill(self.pid, sig)
            return True
        return False

    def kill(self, sig=signal.SIGKILL):
        """Send sig (SIGKILL) to the server and wait for it to exit."""
        if self.paused and sig != signal.SIGKILL:
            self.resume()
        self._signal(sig)
        if self.proc is not None:
            self.proc.wait(timeout=5)
        self.paused = False

    def pause(self):
        """SIGSTOP: connections stay open and the kernel still accepts new
        ones, but nothing is answered."""
        assert self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        assert self._signal(signal.SIGCONT)
        self.paused = False

    def connect(self, timeout=2.0):
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = self.path
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (self.host, self.port)
        s.settimeout(timeout)
        try:
            s.connect(target)
        except BaseException:
            s.close()
            raise
        return s

    def command(self, *words, timeout=2.0):
        """Send one command, return its reply: str (status), bytes (bulk),
        int, list, None (nil); ValueError for an error reply."""
        enc = [w if isinstance(w, bytes) else str(w).encode() for w in words]
        req = b"*%d\r\n" % len(enc) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in enc)
        with self.connect(timeout) as s:
            s.sendall(req)
            f = s.makefile("rb")
            return _resp_read(f)

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def _cleanup(self):
        if self.proc is None or self.proc.poll() is not None:
            return None
        if self.paused:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "redis-server pid %d did not die after SIGKILL" % self.pid
        return None


def _resp_read(f):
    """One RESP reply from the file f (see Redis.command)."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise ValueError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ConnectionError("unexpected reply %r" % line[:80])


def run_cli(args, timeout=5.0, cwd=None):
    """(exit status, stdout, stderr) of binary + args."""
    return Cli(args, timeout=timeout, cwd=cwd).run()


def greeting_module(copy_to=None):
    """The example module built beside the binary (build/modules/greeting.so);
    with copy_to, a copy of it there (a test may then remove or replace it).
    Raises Skip if it was not built."""
    module = os.path.join(os.path.dirname(os.path.abspath(binary())), "modules", "greeting.so")
    if not os.path.exists(module):
        raise Skip("no %s (make builds it with the integration target)" % module)
    if copy_to is None:
        return module
    with open(module, "rb") as src, open(copy_to, "wb") as dst:
        dst.write(src.read())
    return copy_to


def spin_module():
    """The module whose handler busy-loops its worker's event loop
    (tests/modules/spin.c, built beside the binary): load it as "spin" and
    route SPIN_ROUTE to hang a worker for real (hang_worker). A stopped
    process is no hang: the master continues it. Raises Skip if not built."""
    module = os.path.join(os.path.dirname(os.path.abspath(binary())), "modules", "spin.so")
    if not os.path.exists(module):
        raise Skip("no %s (make builds it with the integration target)" % module)
    return module


SPIN_ROUTE = {"path": "/spin", "handler": "spin.spin"}


def hang_worker(port, pid, seconds=30, probe="/", tries=100):
    """Hang worker pid for real: on a keep-alive connection that pid
    accepted (found by asking for probe on new connections), GET
    /spin?s=seconds, whose handler never lets its loop go (the server loads
    spin_module() and routes SPIN_ROUTE). Returns that connection, to close
    once done. AssertionError if none of tries connections reached pid."""
    for _ in range(tries):
        c = RawConn(port, timeout=3)
        try:
            c.send(request_bytes(probe, keepalive=True))
            c.recv_response(timeout=3)
            if server_pid_for_client_port(c.local_port, [pid], port) == pid:
                c.send(request_bytes("/spin?s=%g" % seconds, keepalive=True))
                return c
        except (OSError, ConnectionError):
            pass
        c.close()
    raise AssertionError("none of %d connections reached worker %d" % (tries, pid))


def timeout(seconds):
    """Decorator: the runner's time limit for this test (default in run.py)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def ctl(control, *args, timeout=20.0):
    """Run `shoal ARGS --control PATH`: (exit status, stdout, stderr)."""
    rc, out, err = run_cli(list(args) + ["--control", control], timeout=timeout)
    note("shoal %s -> %d %s%s" % (" ".join(args), rc, out.strip(),
                                  (" | stderr: " + err.strip()) if err.strip() else ""))
    return rc, out, err


def status(control):
    """`shoal status --json` as a dict; AssertionError if it fails."""
    rc, out, err = run_cli(["status", "--json", "--control", control], timeout=10)
    assert rc == 0, "shoal status --json: exit %d, stderr %r" % (rc, err[-500:])
    try:
        return json.loads(out)
    except ValueError as e:
        raise AssertionError("shoal status --json printed no JSON (%s): %r" % (e, out[:500]))


def read_pidfile(path):
    """The pid in a pid file, or None."""
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def kill_masters(s, pids):
    """Cleanup of upgraded masters (no longer our children): SIGTERM each one
    still alive and still in s's process group, then SIGKILL the group."""
    left = [p for p in pids if alive(p) and proc_pgid(p) == s.pid]
    for p in left:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if left:
        note("cleanup: SIGTERM to masters %s" % left)
        try:
            wait_until(lambda: not any(alive(p) for p in left), 3, 0.05, "masters to exit")
        except AssertionError:
            pass
    if group_members(s.pid):
        _killpg_if_ours(s.pid, s.starttime, signal.SIGKILL)


def brief(st):
    """A one-line digest of a status object for messages and notes."""
    procs = ", ".join("%d:%d/g%d/%s/c%s" % (p["slot"], p["pid"], p["generation"], p["state"],
                                            p.get("connections", "?"))
                      for p in st.get("processes", []))
    return ("pid %s gen %s workers %s op %s draining %s [%s]"
            % (st.get("pid"), st.get("generation"), st.get("workers"), st.get("operation"),
               st.get("draining"), procs))


def settled(control, n, generation=None, timeout=10.0):
    """Wait until status shows no operation, nothing draining and exactly n
    processes, all serving (of generation, if given), in slots 0..n-1.
    Returns the status. AssertionError with the last status on timeout."""
    last = [None]

    def ok():
        st = status(control)
        last[0] = st
        procs = st["processes"]
        return st if (st["operation"] is None and st["draining"] == 0 and st["workers"] == n
                      and len(procs) == n
                      and sorted(p["slot"] for p in procs) == list(range(n))
                      and all(p["state"] == "serving" for p in procs)
                      and (generation is None
                           or all(p["generation"] == generation for p in procs))) else None
    try:
        return wait_until(ok, timeout, 0.05, "status to settle")
    except AssertionError:
        raise AssertionError("status did not settle on %d serving workers%s within %.0fs; last: %s"
                             % (n, "" if generation is None else " of generation %d" % generation,
                                timeout, brief(last[0]) if last[0] else None))
