"""The servers scripts/bench runs: shoal and its peers (NGINX, h2o, Node's cluster) and
the floor (benchlib/floor.c). Each is started in its own session (its pgid is its pid)
under `taskset` when pinned, with its config rendered from scripts/bench-peers/ into a
private scratch folder, and stopped with SIGTERM, then SIGKILL to its group after a bound.

A peer says, for each cell, where it serves it (port, path), or why it does not."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from . import cells as C
from .proc import free_port, pin, process_tree, tool_version

PEERS_DIR = Path(__file__).resolve().parent.parent / "bench-peers"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
READY_TIMEOUT = 15.0   # s for a server to answer its ready check
STOP_TIMEOUT = 10.0    # s between SIGTERM and SIGKILL
EXPECTED = {"hello": b"Hello, World!", "json": b'{"message":"Hello, World!"}'}


class StartError(Exception):
    pass


class Context:
    """What every server of one bench run shares: the scratch root, the static files,
    the private copy of shoal, the floor binary."""

    def __init__(self, tmp, shoal_binary, floor_binary):
        self.tmp, self.shoal, self.floor = tmp, shoal_binary, floor_binary
        # World-readable: NGINX's workers and h2o run as nobody when started by root.
        os.chmod(tmp, 0o755)
        self.www = Path(tmp) / "www"
        self.www.mkdir(mode=0o755)
        self.files = {}
        for target, (name, size) in C.FILES.items():
            (self.www / name).write_bytes(C.file_bytes(size))
            self.files[target] = (name, (self.www / name).read_bytes())
        self.body = C.body_bytes()


def render(template, values, drop_marker=None):
    """Fill @KEY@ placeholders; drop the lines that end with `# drop_marker`."""
    text = (PEERS_DIR / template).read_text()
    if drop_marker:
        text = "\n".join(l for l in text.split("\n")
                         if not l.rstrip().endswith(f"# {drop_marker}"))
    for key, val in values.items():
        text = text.replace(f"@{key}@", str(val))
    return text


class Server:
    """One running server. Subclasses set name, tool and what they serve."""

    name = tool = None
    ready_target = "hello"

    @classmethod
    def missing(cls):
        """Why this peer cannot run here, or None."""
        return None if shutil.which(cls.tool) else f"`{cls.tool}` not found"

    @classmethod
    def why_not(cls, cell):
        """Why this server does not serve cell (a static property), or None."""
        return None

    @classmethod
    def version(cls):
        return tool_version([cls.tool, "--version"])

    def __init__(self, ctx, workers, cpus):
        self.ctx, self.workers, self.cpus = ctx, workers, cpus
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=ctx.tmp))
        os.chmod(self.dir, 0o755)
        self.log_path = self.dir / "server.log"
        argv, env = self.command()
        self.argv = pin(cpus) + argv
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(self.argv, env={**os.environ, **env},
                                         stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT,
                                         start_new_session=True, cwd=self.dir)
        self.pid = self.proc.pid
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def command(self):
        """(argv, extra environment) that start this server on self.port."""
        raise NotImplementedError

    def endpoint(self, cell):
        """(port, path) where this server serves cell."""
        return self.port, {"hello": "/", "json": "/json", "echo": "/echo",
                           "file4k": "/static/" + self.ctx.files["file4k"][0],
                           "file1m": "/static/" + self.ctx.files["file1m"][0]}[cell.target]

    def values(self):
        return {"WORKERS": self.workers, "PORT": self.port, "DIR": self.dir,
                "WWW": self.ctx.www}

    def _wait_ready(self):
        port, path = self.endpoint(C.Cell("ready", "", self.ready_target))
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError(f"{self.name} exited with status {self.proc.returncode} "
                                 f"while starting: {self.log_tail()}")
            try:
                if request(port, "GET", path, timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise StartError(f"{self.name}: no 200 on GET {path} within {READY_TIMEOUT:.0f} s: "
                         f"{self.log_tail()}")

    def check(self, cell):
        """None if this server answers cell as every server must, else why not."""
        port, path = self.endpoint(cell)
        try:
            if cell.pipeline > 1:
                return check_pipeline(port, path, cell.pipeline)
            if cell.target == "echo":
                # The body as it came, nothing around it (shoal's echo_body).
                status, headers, body = request(port, "POST", path, body=self.ctx.body)
                if status != 200 or body != self.ctx.body:
                    return f"POST {path}: {status}, body echoed as sent: {body == self.ctx.body}"
                return None
            hdrs = {"Connection": "close"} if cell.close else {}
            status, headers, body = request(port, "GET", path, headers=hdrs)
        except OSError as e:
            return f"{path}: {e}"
        if status != 200:
            return f"GET {path}: {status}"
        if cell.close and headers.get("connection", "").lower() != "close":
            return f"GET {path} with Connection: close: no Connection: close in the answer"
        want = self.ctx.files[cell.target][1] if cell.target in self.ctx.files \
            else EXPECTED[cell.target]
        if body != want:
            return f"GET {path}: unexpected body {body[:60]!r}"
        return None

    def alive(self):
        return self.proc.poll() is None

    def pids(self):
        return set(process_tree(self.pid)) if self.alive() else set()

    def log_lines(self):
        lines = []
        for p in [self.log_path] + sorted(self.dir.glob("*.err")):
            try:
                lines += p.read_text(errors="replace").splitlines()
            except OSError:
                pass
        return [l for l in lines if l.strip() and not self.benign(l)]

    def benign(self, line):
        """Log lines that say nothing is wrong (start-up and shutdown notices)."""
        return False

    def log_tail(self, n=5):
        return " | ".join(self.log_lines()[-n:]) or "(no output)"

    def _group_alive(self):
        try:
            os.killpg(self.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def stop(self):
        """SIGTERM to the pid we started; SIGKILL to its process group after a bound."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"  ! {self.name} did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM:"
                      " SIGKILL", flush=True)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class Shoal(Server):
    name = "shoal"

    @classmethod
    def missing(cls):
        return None  # checked by scripts/bench (--binary)

    @classmethod
    def version(cls, binary=None):
        return tool_version([binary, "--version"]) if binary else "shoal"

    def command(self):
        conf = self.dir / "shoal.json"
        conf.write_text(render("shoal.json.in", self.values()))
        return [self.ctx.shoal, "-c", str(conf)], {}


class Nginx(Server):
    name = tool = "nginx"

    @classmethod
    def version(cls):
        return tool_version(["nginx", "-v"])

    @classmethod
    def why_not(cls, cell):
        if cell.target == "echo" and not os.path.exists(ECHO_MODULE):
            return "no echo module (libnginx-mod-http-echo)"
        return None

    def command(self):
        conf = self.dir / "nginx.conf"
        have_echo = os.path.exists(ECHO_MODULE)
        conf.write_text(render("nginx.conf.in", {**self.values(), "ECHO_MODULE": ECHO_MODULE},
                               drop_marker=None if have_echo else "echo module"))
        return ["nginx", "-p", f"{self.dir}/", "-e", str(self.dir / "nginx.err"),
                "-c", str(conf)], {}


class H2o(Server):
    name = tool = "h2o"
    ready_target = "file4k"

    @classmethod
    def why_not(cls, cell):
        return None if cell.target in C.FILES else "static files only"

    def command(self):
        conf = self.dir / "h2o.conf"
        conf.write_text(render("h2o.conf.in", self.values()))
        return ["h2o", "-c", str(conf)], {}

    def benign(self, line):
        return ("is ready to serve requests" in line or "raised RLIMIT_NOFILE" in line
                or "gracefully shutting down" in line)


class Node(Server):
    name, tool = "node", "node"

    @classmethod
    def version(cls):
        return "node " + tool_version(["node", "--version"])

    @classmethod
    def why_not(cls, cell):
        return "no sendfile in Node's http module" if cell.target in C.FILES else None

    def command(self):
        return (["node", str(PEERS_DIR / "node-cluster.js")],
                {"PORT": str(self.port), "WORKERS": str(self.workers)})


class Floor(Server):
    """The yardstick: one process, one thread whatever the worker count, one port per
    kind of canned answer."""
    name = "floor"
    MODES = ("hello", "json", "close", "file4k", "file1m", "echo")

    @classmethod
    def missing(cls):
        return None  # built by scripts/bench

    @classmethod
    def version(cls):
        return "floor (scripts/benchlib/floor.c)"

    def command(self):
        self.ports = {m: (self.port if m == "hello" else free_port()) for m in self.MODES}
        args = []
        for mode, port in self.ports.items():
            if mode in C.FILES:
                args.append(f"{port}:file={self.ctx.www / self.ctx.files[mode][0]}")
            elif mode == "echo":
                args.append(f"{port}:echo={len(self.ctx.body)}")
            else:
                args.append(f"{port}:{mode}")
        return [self.ctx.floor] + args, {}

    def endpoint(self, cell):
        mode = "close" if cell.close else cell.target
        _, path = super().endpoint(cell)
        return self.ports[mode], path


class FloorUring(Floor):
    """The floor with io_uring (benchlib/floor-uring.c): multishot accept and receive,
    provided buffers, the sends of a batch submitted with the wait. Not in the default
    set of servers (--servers ...,uring)."""
    name = "uring"
    MODES = ("hello", "json", "close")

    @classmethod
    def missing(cls):
        return None if os.path.exists("/usr/include/liburing.h") else \
            "liburing.h not found (Debian liburing-dev)"

    @classmethod
    def version(cls):
        return "floor-uring (scripts/benchlib/floor-uring.c)"

    @classmethod
    def why_not(cls, cell):
        return None if cell.target in ("hello", "json") else "hello, JSON and close only"

    def command(self):
        argv, env = super().command()
        return [self.ctx.floor_uring] + argv[1:], env


PEERS = {cls.name: cls for cls in (Shoal, Nginx, H2o, Node, Floor, FloorUring)}
ALL = tuple(PEERS)
# What runs unless --servers says otherwise.
DEFAULT = ("shoal", "nginx", "h2o", "node", "floor")


def request(port, method, path, body=None, headers=None, timeout=5.0):
    """(status, lower-cased headers, body) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def check_pipeline(port, path, depth, timeout=3.0):
    """None if depth requests sent at once on one connection get depth answers."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    buf = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req * depth)
        deadline = time.monotonic() + timeout
        while buf.count(b"Hello, World!") < depth and time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            buf += data
    got = buf.count(b"HTTP/1.1 200 ")
    return None if got == depth else f"{depth} pipelined requests: {got} answers"



class Redis(Server):
    """A redis-server the servers under test share (scripts/bench-kv, scripts/bench-pubsub):
    a free loopback port, no persistence, its files in its scratch folder."""
    name, tool = "redis", "redis-server"

    def command(self):
        return (["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save",
                 "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"], {})

    def _wait_ready(self):
        dl = time.monotonic() + 10
        while time.monotonic() < dl and self.alive():
            try:
                if self.command_raw(b"PING\r\n").startswith(b"+PONG"):
                    return
            except OSError:
                time.sleep(0.05)
        raise StartError("redis-server did not answer on port %d" % self.port)

    def command_raw(self, data, replies=1):
        """Send raw RESP, return what answers replies commands."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(data)
            got = b""
            while got.count(b"\r\n") < replies:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    def fill(self, keys, size):
        """KEYS keys k0..kN-1 of SIZE bytes; returns the value of key i."""
        val = lambda i: (b"%d:" % i + b"v" * size)[:size]
        got = self.command_raw(b"FLUSHALL\r\n" + b"".join(
            b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%s\r\n"
            % (len(b"k%d" % i), i, size, val(i)) for i in range(keys)), keys + 1)
        if got != b"+OK\r\n" * (keys + 1):
            raise RuntimeError("filling Redis: unexpected replies %r" % got[:200])
        return val
