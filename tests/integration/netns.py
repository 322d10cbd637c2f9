"""
netns — several "hosts" on one machine, as Linux network namespaces.

    net = netns.Network(["h1", "h2", "h3", "redis"])   # Skip if not permitted
    try:
        h1 = net.host("h1")     # .ns, .addr ("10.77.X.11"), .wrap
        s = h1.shoal(["-c", cfg])             # a harness.Shoal run inside h1
        r = redis_server(net.host("redis"))   # harness.Redis inside "redis"
        h1.run(["redis-cli", "-h", r.host, "PING"])   # a short command inside h1
    finally:
        for remark in net.close():           # processes first, then the network
            note(remark)

What it builds: one bridge in the root namespace with the first address of a
private /24 (10.77.X.1, the "gateway"), and per host a network namespace and
a veth pair: one end a port of the bridge, the other moved into the
namespace as eth0 with 10.77.X.(11+i)/24; lo up in every namespace. The
namespaces get no default route and the root namespace's forwarding is left
as it is (off), so a host reaches the other hosts and the root namespace
(NGINX, the test) and nothing else: no packet leaves the machine.

X is picked so that 10.77.X.0/24 overlaps no address and no route of the
root namespace (a file lock keeps two runs from picking the same X at once).

Names carry this project's prefixes and the test runner's pid: namespaces
shoal-PID-SEQ-NAME, the bridge shbPID.SEQ, the root ends of the veth pairs
shvPID.SEQ.I (interface names hold 15 characters). cleanup_leftovers(),
called before each Network is built, removes only names with these prefixes
whose PID is no longer running (an earlier run that crashed): a run in
progress elsewhere is never touched. A process still inside such a leftover
namespace is not ours to kill: it is reported and left alone.

A process started in a host with `ip netns exec NS PROGRAM ...` keeps its pid:
ip enters the namespace and execs the program, so the pid Popen returns is
the program's. spawn() and shoal() check it (/proc/PID/exe is the program
and /proc/PID/ns/net is the host's namespace).

Where namespaces cannot be made (not root, no CAP_SYS_ADMIN, a container
that forbids them), Network() raises harness.Skip with `ip`'s own message.
"""

import fcntl
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import tempfile

import harness
from harness import Skip, note, wait_until

NS_PREFIX = "shoal-"
BRIDGE_PREFIX = "shb"
VETH_PREFIX = "shv"
SUBNET = "10.77.%d.0/24"
IFNAMSIZ = 15                   # usable characters of an interface name

_NS_RE = re.compile(r"^%s(\d+)-\d+-" % re.escape(NS_PREFIX))
_LINK_RE = re.compile(r"^(?:%s|%s)(\d+)\." % (BRIDGE_PREFIX, VETH_PREFIX))
_seq = [0]


class NetnsError(AssertionError):
    """An `ip` command failed where it should not have."""


def ip_binary():
    return shutil.which("ip") or ("/usr/sbin/ip" if os.access("/usr/sbin/ip", os.X_OK) else None)


def _ip(*args, check=True, timeout=10):
    """Run `ip ARGS`; returns (status, stdout, stderr). NetnsError if check
    and it failed."""
    p = subprocess.run([ip_binary()] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace").strip()
    if check and p.returncode != 0:
        raise NetnsError("ip %s: exit %d: %s" % (" ".join(args), p.returncode, err))
    return p.returncode, out, err


def netns_names():
    """Names of the named network namespaces (`ip netns list`)."""
    rc, out, _ = _ip("netns", "list", check=False)
    return [l.split()[0] for l in out.splitlines() if l.strip()] if rc == 0 else []


def link_names():
    """Names of the root namespace's network interfaces."""
    rc, out, _ = _ip("-o", "link", "show", check=False)
    names = []
    for l in out.splitlines():
        m = re.match(r"^\d+:\s+([^:@\s]+)", l)
        if m:
            names.append(m.group(1))
    return names


def netns_pids(ns):
    rc, out, _ = _ip("netns", "pids", ns, check=False)
    return [int(x) for x in out.split()] if rc == 0 else []


def cleanup_leftovers():
    """Remove namespaces and interfaces of this project left by runs whose
    process is gone. Returns remarks (what was removed, what was left)."""
    remarks = []
    if ip_binary() is None:
        return remarks
    for ns in netns_names():
        m = _NS_RE.match(ns)
        if not m or harness.alive(int(m.group(1))):
            continue
        pids = netns_pids(ns)
        if pids:
            remarks.append("leftover namespace %s still holds processes %s (not ours to kill: "
                           "left alone, the name is removed)" % (ns, pids))
        _ip("netns", "del", ns, check=False)
        remarks.append("removed leftover namespace %s" % ns)
    # veths before bridges: deleting one end of a pair deletes both
    for name in sorted(link_names(), key=lambda n: not n.startswith(VETH_PREFIX)):
        m = _LINK_RE.match(name)
        if m and not harness.alive(int(m.group(1))):
            _ip("link", "del", name, check=False)
            remarks.append("removed leftover interface %s" % name)
    return remarks


def _used_networks():
    """Networks of the root namespace's IPv4 addresses and routes (every table)."""
    nets = []
    _, out, _ = _ip("-4", "-o", "addr", "show", check=False)
    for m in re.finditer(r"\binet (\S+)", out):
        nets.append(ipaddress.ip_network(m.group(1), strict=False))
    _, out, _ = _ip("-4", "route", "show", "table", "all", check=False)
    for l in out.splitlines():
        t = l.split()
        if not t:
            continue
        if t[0] in ("local", "broadcast", "unicast", "multicast", "anycast", "blackhole",
                    "unreachable", "prohibit", "throw", "nat") and len(t) > 1:
            t = t[1:]
        if t[0] == "default":
            continue
        try:
            nets.append(ipaddress.ip_network(t[0], strict=False))
        except ValueError:
            continue
    return nets


def _pick_subnet():
    """A 10.77.X.0/24 no address or route of the root namespace overlaps;
    Skip if there is none."""
    used = _used_networks()
    start = 1 + os.getpid() % 254
    for k in range(254):
        x = 1 + (start - 1 + k) % 254
        net = ipaddress.ip_network(SUBNET % x)
        if not any(net.overlaps(u) for u in used):
            return net
    raise Skip("no free 10.77.X.0/24 for the test's hosts: every one overlaps an address "
               "or a route of this machine")


class NsProcess:
    """A process run inside a host (its own session), stopped by its pid and
    process group; run.py's cleanup stops it too."""

    def __init__(self, host, cmd, name, cwd=None):
        self.host, self.cmd, self.name = host, list(cmd), name
        d = harness.tmpdir()
        self.log_path = os.path.join(d, "%s.log" % name)
        note("start in %s: %s" % (host.ns, " ".join(cmd)))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(host.wrap + self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, cwd=cwd or d,
                                         start_new_session=True, close_fds=True,
                                         preexec_fn=harness._no_core)
        self.pid = self.proc.pid
        self.starttime = harness.proc_starttime(self.pid)
        harness._state["servers"].append(self)
        host.net.adopt(self)
        host.check_runs(self.pid, self.cmd[0], self.proc)

    def __repr__(self):
        return "<NsProcess %s pid=%s in %s>" % (self.name, self.pid, self.host.ns)

    def running(self):
        return self.proc.poll() is None

    def log_tail(self, n=40):
        return harness.file_tail(self.log_path, n)

    def stop(self, sig=signal.SIGTERM, timeout=2.0):
        """sig to the process, then SIGKILL to its group after timeout."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        harness._killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "%s (pid %d) did not die after SIGKILL" % (self.name, self.pid)
        return None

    def _cleanup(self):
        return self.stop(timeout=1.0)


class Host:
    """One network namespace with one address on the test's bridge."""

    def __init__(self, net, name, index, addr):
        self.net, self.name, self.index, self.addr = net, name, index, addr
        self.ns = "%s%s-%s" % (NS_PREFIX, net.tag.replace(".", "-"), name)
        self.veth = "%s%s.%d" % (VETH_PREFIX, net.tag, index)
        assert len(self.veth) <= IFNAMSIZ, self.veth
        self.wrap = [ip_binary(), "netns", "exec", self.ns]

    def __repr__(self):
        return "<Host %s %s>" % (self.ns, self.addr)

    def ns_inode(self):
        return os.stat("/run/netns/" + self.ns).st_ino

    def holds(self, pid):
        """True if pid's network namespace is this host's."""
        try:
            return os.stat("/proc/%d/ns/net" % pid).st_ino == self.ns_inode()
        except OSError:
            return False

    def check_runs(self, pid, program, proc, timeout=5.0):
        """Wait until pid is program itself (ip has exec'ed it), then check
        that it runs in this namespace: the pid we keep is the program's."""
        want = os.path.realpath(shutil.which(program) or program)

        def execed():
            if proc.poll() is not None:
                raise AssertionError("%s exited with status %s at start in %s" % (
                    program, proc.returncode, self.ns))
            try:
                return os.path.realpath("/proc/%d/exe" % pid) == want
            except OSError:
                return False
        wait_until(execed, timeout, 0.005, "pid %d to be %s (ip netns exec has exec'ed)"
                   % (pid, want))
        assert self.holds(pid), "pid %d (%s) is not in namespace %s" % (pid, program, self.ns)

    def unplug(self):
        """The host's cable out: its bridge port down. Nothing reaches it
        and nothing answers (no reset, no refusal), as with a host that
        lost power or its network; its processes keep running."""
        _ip("link", "set", self.veth, "down")

    def plug(self):
        _ip("link", "set", self.veth, "up")

    def run(self, cmd, timeout=10):
        """A short command inside the host: (status, stdout, stderr)."""
        p = subprocess.run(self.wrap + list(cmd), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           start_new_session=True)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def spawn(self, cmd, name=None, cwd=None):
        """A long-running process inside the host (NsProcess)."""
        return NsProcess(self, cmd, name or "%s-%s" % (self.name, os.path.basename(cmd[0])),
                         cwd=cwd)

    def shoal(self, args, **kw):
        """A harness.Shoal (not started) that runs inside this host; the
        network stops it before it is taken down. After start(), check_shoal."""
        s = harness.Shoal(args, wrap=self.wrap, host=self.addr, name=kw.pop("name", self.name),
                          **kw)
        self.net.adopt(s)
        return s

    def check_shoal(self, s):
        self.check_runs(s.pid, harness.binary(), s.proc)


class Network:
    """The bridge and the hosts (see the module docstring). Built at once;
    close() takes everything down and returns remarks."""

    def __init__(self, names):
        if ip_binary() is None:
            raise Skip("no `ip` command (Debian iproute2): cannot build hosts as namespaces")
        for r in cleanup_leftovers():
            note(r)
        _seq[0] += 1
        self.tag = "%d.%d" % (os.getpid(), _seq[0])
        self.bridge = BRIDGE_PREFIX + self.tag
        assert len(self.bridge) <= IFNAMSIZ, self.bridge
        self.hosts = []
        self._adopted = []
        self._made = {"bridge": False, "ns": [], "veth": []}
        self.closed = False
        harness._state["servers"].append(self)
        try:
            self._build(names)
        except BaseException:
            for r in self.close():
                note(r)
            raise

    def _build(self, names):
        first = "%s%s-%s" % (NS_PREFIX, self.tag.replace(".", "-"), names[0])
        rc, _, err = _ip("netns", "add", first, check=False)
        if rc != 0:
            raise Skip("network namespaces not permitted here (ip netns add: %s)" % err)
        self._made["ns"].append(first)
        # read-only is enough for flock, and works on a lock file another
        # user made
        lock = os.open(os.path.join(tempfile.gettempdir(), "shoal-netns.lock"),
                       os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.subnet = _pick_subnet()
            hosts = list(self.subnet.hosts())
            self.gateway = str(hosts[0])
            rc, _, err = _ip("link", "add", self.bridge, "type", "bridge", check=False)
            if rc != 0:
                raise Skip("cannot make a bridge here (ip link add type bridge: %s)" % err)
            self._made["bridge"] = True
            _ip("addr", "add", "%s/%d" % (self.gateway, self.subnet.prefixlen), "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        finally:
            os.close(lock)          # and with it the lock
        for i, name in enumerate(names):
            h = Host(self, name, i, str(hosts[10 + i]))
            if h.ns not in self._made["ns"]:
                _ip("netns", "add", h.ns)
                self._made["ns"].append(h.ns)
            # the peer is made inside the namespace, named eth0 there
            _ip("link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
            self._made["veth"].append(h.veth)
            _ip("-n", h.ns, "addr", "add", "%s/%d" % (h.addr, self.subnet.prefixlen),
                "dev", "eth0")
            _ip("-n", h.ns, "link", "set", "eth0", "up")
            _ip("-n", h.ns, "link", "set", "lo", "up")
            _ip("link", "set", h.veth, "master", self.bridge)
            _ip("link", "set", h.veth, "up")
            self.hosts.append(h)
        note("network %s: bridge %s %s/%d, hosts %s" % (
            self.subnet, self.bridge, self.gateway, self.subnet.prefixlen,
            ", ".join("%s=%s" % (h.name, h.addr) for h in self.hosts)))

    def host(self, name):
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def adopt(self, obj):
        """obj._cleanup() runs before the network is taken down."""
        self._adopted.append(obj)

    def log_tail(self, n=40):
        return None

    def close(self):
        """Stop every process started in the hosts, then remove the veths,
        the namespaces and the bridge. Never raises; returns remarks."""
        if self.closed:
            return []
        self.closed = True
        remarks = []
        for obj in reversed(self._adopted):
            try:
                r = obj._cleanup()
                if r:
                    remarks.append(r)
            except Exception as e:
                remarks.append("cleanup of %r failed: %s" % (obj, e))
        for ns in self._made["ns"]:
            # a process only this test can have started (the namespace is
            # this run's) that no cleanup above knew of
            left = netns_pids(ns)
            if left:
                remarks.append("namespace %s still held pids %s: SIGKILLed" % (ns, left))
                for p in left:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for v in self._made["veth"]:
            _ip("link", "del", v, check=False)
        for ns in self._made["ns"]:
            rc, _, err = _ip("netns", "del", ns, check=False)
            if rc != 0:
                remarks.append("ip netns del %s: %s" % (ns, err))
        if self._made["bridge"]:
            rc, _, err = _ip("link", "del", self.bridge, check=False)
            if rc != 0:
                remarks.append("ip link del %s: %s" % (self.bridge, err))
        left_ns = [n for n in netns_names() if n in self._made["ns"]]
        left_if = [n for n in link_names() if n == self.bridge or n in self._made["veth"]]
        if left_ns or left_if:
            remarks.append("still there after the teardown: namespaces %s, interfaces %s"
                           % (left_ns, left_if))
        return remarks

    def _cleanup(self):
        return "; ".join(self.close()) or None


# ---------------------------------------------------------------------------
# Redis in a host

def redis_server(host, port=6379):
    """harness.Redis inside host, on host.addr:port, started; the network
    stops it before it is taken down."""
    r = harness.Redis(port=port, host=host.addr, wrap=host.wrap)
    host.net.adopt(r)
    r.start()
    host.check_runs(r.pid, r.exe, r.proc)
    return r
