"""
Several hosts: shoal on three "hosts" (network namespaces on a private
bridge, built by netns.py), a Redis server on a fourth, NGINX in the root
namespace balancing over the three (scripts/nginx/shoal.conf with one server
line per host), and a load client through NGINX.

- the hosts themselves: one namespace each, only the bridge's subnet, no
  default route, shoal's own pid kept, every host reaching the others and
  Redis, Redis's publish/subscribe across hosts, nothing left after the
  teardown, leftovers of a crashed run removed;
- a rolling reload and a rolling binary upgrade of every host in turn under
  load: 0 failed requests, 0 502/504 in NGINX's access log, 0 upstream
  errors in its error log;
- a host whose workers are all SIGKILLed, then a host whose whole shoal is
  SIGKILLed, then started again: NGINX fails over to the other hosts;
- with a binary that has the Redis client and the kv handler: a value
  written through one host is read through every host.

Where network namespaces cannot be made (not root, a container), each test
is skipped with one line saying so. Measured counts go to the notes
(run.py -v prints them).
"""

import json
import os
import re
import signal
import time

import harness
import netns
from harness import Skip, ctl, kill_masters, note, run_cli, settled, wait_until
from load import Load
from nginx import Nginx, Phases, example_server, wait_through

PORT = 8080                 # every host has its own network: the same port on each
WORKERS = 2
HOSTS = ("h1", "h2", "h3")

ROUTES = [
    {"path": "/", "handler": "hello"},
    {"path": "/healthz", "handler": "health"},
    {"path": "/echo", "handler": "echo"},
    {"path": "/events", "handler": "ticker", "interval": 0.2, "count": 5},
]


# ---------------------------------------------------------------------------
# the cluster

def binary_has(flag, name):
    """True if `shoal --keys` / `--handlers` lists name."""
    rc, out, _ = run_cli([flag])
    return rc == 0 and re.search(r"^\s*%s\b" % re.escape(name), out, re.M) is not None


def host_config(net, host, redis=None, routes=ROUTES):
    """The host's configuration file: its address, NGINX's address trusted
    for X-Forwarded-For, and the shared Redis if this binary has a client."""
    cfg = {"listen": ["%s:%d" % (host.addr, PORT)], "workers": WORKERS, "routes": routes,
           "trusted_proxies": ["%s/32" % net.gateway]}
    if redis is not None:
        cfg["redis"] = {"address": redis.address}
    path = os.path.join(harness.tmpdir(), "%s.json" % host.name)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


def start_host(net, host, config):
    """shoal -c config inside host, its control socket in the temp dir."""
    s = host.shoal(["-c", config, "--control",
                    os.path.join(harness.tmpdir(), "%s.sock" % host.name),
                    "--graceful-timeout", "10"])
    s.ports, s.nworkers = [PORT], WORKERS
    s.start(wait=False)
    host.check_shoal(s)
    return s


class Cluster:
    """Network, Redis, a shoal per host, NGINX over them (not yet a load)."""

    def __init__(self, fail_timeout=2, proxy_extra=None):
        # the hosts' configurations name the shared Redis where the binary
        # has a Redis client
        redis_client = binary_has("--keys", "redis")
        self.net = netns.Network(list(HOSTS) + ["redis"])
        self.hosts = [self.net.host(n) for n in HOSTS]
        self.redis = netns.redis_server(self.net.host("redis"))
        self.configs = [host_config(self.net, h, self.redis if redis_client else None)
                        for h in self.hosts]
        self.shoals = [start_host(self.net, h, c) for h, c in zip(self.hosts, self.configs)]
        for s in self.shoals:                 # started together, waited for together
            s.wait_ready(timeout=15)
        self.masters = [[s.pid] for s in self.shoals]
        self.port = harness.free_port()
        self.servers = "\n    ".join(
            "server %s:%d max_fails=1 fail_timeout=%ds;" % (h.addr, PORT, fail_timeout)
            for h in self.hosts)
        http = example_server(self.port, servers=self.servers)
        if proxy_extra:     # more proxy_* directives at the server level
            anchor = "proxy_next_upstream error timeout;"
            assert http.count(anchor) == 1, "the example has no single %r" % anchor
            http = http.replace(anchor, anchor + "\n    " + proxy_extra)
        self.nginx = Nginx(http=http, ports=[self.port], name="nginx").start()
        wait_through(self.port)

    def close(self):
        for s, masters in zip(self.shoals, self.masters):
            kill_masters(s, masters)
        self.nginx.stop()
        for r in self.net.close():
            note("teardown: " + r)


def start_phases(c, name="steady", n=200):
    """A load through c's NGINX, its Phases, and a first phase of n
    requests: (load, phases)."""
    ld = Load(c.port, keepalive=3, oneshot=1, pause=0.002, max_seconds=90)
    ld.start()
    try:
        ld.wait_ok(200, timeout=10)
        ph = Phases(c.shoals, c.nginx, [ld], labels=("load through NGINX",), by_upstream=True)
        m = ph.mark()
        ld.wait_ok(n)
        ph.close(name, m)
    except BaseException:
        ld.stop()
        raise
    return ld, ph


def clean(row):
    return not (row["failed"] or row["non2xx"] or row["gateway"] or row["errors"])


def totals(rows):
    return {k: sum((len(r[k]) if isinstance(r[k], list) else r[k]) for r in rows)
            for k in ("requests", "ok", "failed", "non2xx", "gateway", "errors", "retried")}


def fmt_totals(t):
    return ("%d requests in NGINX's access log; client ok %d, failed %d; non-2xx %d, "
            "502/504 %d, upstream error-log lines %d, requests NGINX retried on another "
            "host %d" % (t["requests"], t["ok"], t["failed"], t["non2xx"], t["gateway"],
                         t["errors"], t["retried"]))


# ---------------------------------------------------------------------------
# 1. the hosts themselves

@harness.timeout(40)
def test_hosts_are_namespaces_on_a_private_bridge():
    """Three shoal hosts and a Redis host: each process in its own
    namespace with its own pid, hosts reaching each other over the bridge
    (shoal sees the other host's address), Redis reached and its
    publish/subscribe crossing hosts, no route off the bridge, and nothing
    left after the teardown."""
    net = netns.Network(list(HOSTS) + ["redis"])
    try:
        hosts = [net.host(n) for n in HOSTS]
        for h in net.hosts:
            rc, out, err = h.run(["ip", "-4", "route", "show"])
            assert rc == 0 and "default" not in out and str(net.subnet) in out, \
                "routes in %s: %r %r" % (h.ns, out, err)
        redis = netns.redis_server(net.host("redis"))
        assert net.host("redis").holds(redis.pid)
        shoals = [start_host(net, h, host_config(net, h)) for h in hosts]
        for s in shoals:
            s.wait_ready(timeout=15)
        for h, s in zip(hosts, shoals):
            exe = os.path.realpath("/proc/%d/exe" % s.pid)
            assert exe == os.path.realpath(harness.binary()) and h.holds(s.pid), \
                "pid %d: %s, in %s: %s" % (s.pid, exe, h.ns, h.holds(s.pid))
            workers = s.wait_workers()
            assert all(h.holds(p) for p in workers.values()), (h.ns, workers)
            # from the root namespace: shoal sees the bridge's address
            code, _, body = harness.http_get(PORT, "/echo", host=h.addr)
            echo = json.loads(body)
            assert code == 200 and echo["client"].startswith(net.gateway + ":"), echo
        # host to host: h1 asks h2 and h3; they see h1's address
        for other in hosts[1:]:
            rc, out, err = hosts[0].run(["curl", "-sS", "--max-time", "5",
                                         "http://%s:%d/echo" % (other.addr, PORT)])
            assert rc == 0, "curl from %s to %s: %s" % (hosts[0].name, other.name, err)
            assert json.loads(out)["client"].startswith(hosts[0].addr + ":"), out
        # not reachable from a host: the machine's own address off the bridge
        rc, out, err = hosts[0].run(["curl", "-sS", "--max-time", "2", "http://192.0.2.1/"])
        assert rc != 0 and ("unreachable" in err.lower() or "couldn't connect" in err.lower()
                            or "timed out" in err.lower()), (rc, err)
        # Redis from every host, and publish/subscribe across hosts
        for h in hosts:
            rc, out, err = h.run(["redis-cli", "-h", redis.host, "PING"])
            assert rc == 0 and out.strip() == "PONG", (h.ns, rc, out, err)
        subs = [h.spawn(["redis-cli", "-h", redis.host, "SUBSCRIBE", "room"],
                        name="sub-" + h.name) for h in (hosts[0], hosts[2])]
        wait_until(lambda: redis.command("PUBSUB", "NUMSUB", "room") == [b"room", 2], 5, 0.02,
                   "two subscribers")
        wait_until(lambda: all("room" in s.log_tail() for s in subs), 5, 0.02,
                   "the subscriptions confirmed")
        rc, out, err = hosts[1].run(["redis-cli", "-h", redis.host, "PUBLISH", "room",
                                     "hello from h2"])
        assert rc == 0 and out.strip() == "2", "PUBLISH from h2: %r %r" % (out, err)
        wait_until(lambda: all("hello from h2" in s.log_tail() for s in subs), 5, 0.02,
                   "the message at the subscribers in h1 and h3")
        names = [h.ns for h in net.hosts]
        ifs = [net.bridge] + [h.veth for h in net.hosts]
        for s in shoals:
            assert s.stop() == 0
    finally:
        remarks = net.close()
    assert not remarks, "teardown: %s" % remarks
    assert not set(names) & set(netns.netns_names()), netns.netns_names()
    assert not set(ifs) & set(netns.link_names()), netns.link_names()
    for s in shoals:
        assert not s.running() and not harness.group_members(s.pid)


@harness.timeout(20)
def test_leftovers_of_a_dead_run_removed_others_kept():
    """cleanup_leftovers removes this project's namespaces and interfaces
    whose run is gone, and leaves those of a run still going (and any name
    without the prefix) alone."""
    if netns.ip_binary() is None:
        raise Skip("no `ip` command (Debian iproute2)")
    with open("/proc/sys/kernel/pid_max") as f:
        dead = int(f.read()) - 1
    while harness.alive(dead):
        dead -= 1
    live = os.getppid()
    made = {"ns": ["shoal-%d-0-x" % dead, "shoal-%d-0-x" % live, "other-%d-0-x" % dead],
            "br": ["shb%d.0" % dead, "shb%d.0" % live]}
    rc, _, err = netns._ip("netns", "add", made["ns"][0], check=False)
    if rc != 0:
        raise Skip("network namespaces not permitted here (ip netns add: %s)" % err)
    try:
        for n in made["ns"][1:]:
            netns._ip("netns", "add", n)
        for b in made["br"]:
            netns._ip("link", "add", b, "type", "bridge")
        netns._ip("link", "add", "shv%d.0.0" % dead, "type", "veth", "peer", "name", "eth0",
                  "netns", made["ns"][0])
        remarks = netns.cleanup_leftovers()
        note("; ".join(remarks))
        ns, links = netns.netns_names(), netns.link_names()
        assert made["ns"][0] not in ns and "shb%d.0" % dead not in links \
            and "shv%d.0.0" % dead not in links, (ns, links)
        assert made["ns"][1] in ns and made["ns"][2] in ns and "shb%d.0" % live in links, \
            "removed a name it must keep: %s %s" % (ns, links)
    finally:
        for n in made["ns"]:
            netns._ip("netns", "del", n, check=False)
        for b in made["br"] + ["shv%d.0.0" % dead]:
            netns._ip("link", "del", b, check=False)


# ---------------------------------------------------------------------------
# 2. rolling reload and rolling upgrade under load

@harness.timeout(90)
def test_rolling_reload_and_upgrade_of_every_host_under_load():
    """A reload of h1, h2, h3 in turn, then a binary upgrade of each in turn,
    each waiting for its outcome, under a load through NGINX: 0 client
    failures, 0 non-2xx, 0 502/504 in any upstream attempt, 0 upstream
    errors in NGINX's error log; every host answers before and after."""
    c = Cluster()
    try:
        ld, ph = start_phases(c, "steady (before)", 300)
        try:
            for h, s in zip(c.hosts, c.shoals):
                m = ph.mark()
                rc, out, err = ctl(s.control, "reload")
                assert rc == 0, "reload of %s: exit %d, %r %r" % (h.name, rc, out, err)
                st = settled(s.control, WORKERS)
                ld.wait_ok(300)
                ph.close("reload %s" % h.name, m, "generation %s" % st["generation"])
            for h, s, masters in zip(c.hosts, c.shoals, c.masters):
                m = ph.mark()
                old = masters[-1]
                rc, out, err = ctl(s.control, "upgrade")
                assert rc == 0, "upgrade of %s: exit %d, %r %r" % (h.name, rc, out, err)
                mm = re.search(r"new master pid (\d+)", out)
                assert mm, "upgrade of %s printed %r" % (h.name, out)
                new = int(mm.group(1))
                masters.append(new)
                wait_until(lambda: not harness.alive(old), 15, 0.02,
                           "the old master %d of %s to exit" % (old, h.name))
                st = settled(s.control, WORKERS)
                assert st["pid"] == new and h.holds(new), \
                    "%s: status from %s, new master %d in %s: %s" % (
                        h.name, st["pid"], new, h.ns, h.holds(new))
                ld.wait_ok(300)
                ph.close("upgrade %s" % h.name, m, "master %d -> %d" % (old, new))
            m = ph.mark()
            ld.wait_ok(300)
            ph.close("steady (after)", m)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, ph.report()))
        finally:
            ld.stop()
        t = totals(ph.rows)
        summary = "rolling reload and upgrade of 3 hosts through NGINX: %s; load: %s" % (
            fmt_totals(t), ld.summary())
        note(summary)
        assert not ld.errors, "load client bug: %s" % ld.errors[0]
        assert all(clean(r) for r in ph.rows) and not t["retried"], \
            "%s\n%s" % (summary, ph.report())
        for row in ph.rows:       # the host being reloaded or upgraded answers too
            assert all(row["upstreams"].get(h.addr, 0) > 0 for h in c.hosts), \
                "%s: requests by host %s (every host should answer)" % (row["name"],
                                                                         row["upstreams"])
        assert ld.ok >= 1000, summary
    finally:
        c.close()


# ---------------------------------------------------------------------------
# 3. a host fails

def answered_again(c, host, start, timeout=10):
    """Wait until NGINX's access log (from byte start) has a request that
    host answered with a 200."""
    want = "%s:%d" % (host.addr, PORT)
    wait_until(lambda: any(r["upstream_addr"].split(",")[-1].strip() == want
                           and r["status"] == "200" for r in c.nginx.access_records(start)),
               timeout, 0.05, "NGINX to send requests to %s again" % host.name)


@harness.timeout(60)
def test_host_failures_fail_over_through_nginx():
    """Under load through NGINX: every worker of h1 SIGKILLed at once (its
    master replaces them), then h2's whole shoal (master and workers)
    SIGKILLed, h2 left down, then started again.

    Expected, and asserted: the client sees no failure. A request in flight
    on a killed process, or sent to h2 while it is down (connection
    refused), fails at NGINX, which retries it on another host
    (proxy_next_upstream error timeout; GET is idempotent, and nothing of
    the response had reached the client). NGINX's own logs show those
    attempts (502 in an upstream attempt, "connect() failed" or "upstream
    prematurely closed"); they are counted, not forbidden. While h2 is down
    no request is answered by it and the other hosts answer all; once it serves
    again (max_fails=1 fail_timeout=1s) NGINX sends it requests again."""
    c = Cluster(fail_timeout=1)
    h2 = c.hosts[1]
    s1, s2 = c.shoals[0], c.shoals[1]
    try:
        ld, ph = start_phases(c)
        try:

            m = ph.mark()
            victims = list(s1.workers().values())
            for p in victims:
                os.kill(p, signal.SIGKILL)
            # settled once the master has replaced both (until it has
            # reaped them, status still lists the killed pids)
            wait_until(lambda: not set(victims) & {
                p["pid"] for p in settled(s1.control, WORKERS, timeout=5)["processes"]},
                5, 0.02, "h1's master to replace workers %s" % victims)
            ld.wait_ok(200)
            k1 = ph.close("h1: workers SIGKILLed", m, "pids %s" % victims)

            # NGINX counted the failed attempts against h1 (max_fails=1):
            # it takes h1 out for fail_timeout, then tries it again
            m = ph.mark()
            answered_again(c, c.hosts[0], m["ng"][1])
            ld.wait_ok(100)
            ph.close("h1 back", m)

            m = ph.mark()
            assert harness._killpg_if_ours(s2.pid, s2.starttime, signal.SIGKILL)
            s2.proc.wait(timeout=5)
            wait_until(lambda: not harness.group_members(s2.pid), 5, 0.01,
                       "h2's shoal to be gone")
            ld.wait_ok(200)
            k2 = ph.close("h2: shoal SIGKILLed", m)

            m = ph.mark()
            ld.wait_ok(300)
            down = ph.close("h2 down", m)

            m = ph.mark()
            s2b = start_host(c.net, h2, c.configs[1])
            s2b.wait_ready(timeout=15)
            c.shoals[1] = s2b
            c.masters[1] = [s2b.pid]
            ph.servers = c.shoals
            answered_again(c, h2, c.nginx.offsets()[1])
            ld.wait_ok(200)
            back = ph.close("h2 started again", m, "master %d" % s2b.pid)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, ph.report()))
        finally:
            ld.stop()
        t = totals(ph.rows)
        summary = ("host failures through NGINX: %s; h1 workers killed: %d retried, %d "
                   "error-log lines; h2 killed: %d retried, %d error-log lines; while h2 was "
                   "down: %d requests by host %s; after its restart: %s; load: %s" % (
                       fmt_totals(t), len(k1["retried"]), len(k1["errors"]),
                       len(k2["retried"]), len(k2["errors"]), down["requests"],
                       down["upstreams"], back["upstreams"], ld.summary()))
        note(summary)
        assert not ld.errors, "load client bug: %s" % ld.errors[0]
        assert t["failed"] == 0 and t["non2xx"] == 0, "%s\n%s" % (summary, ph.report())
        # h1 may get few: an NGINX worker that saw h1 fail keeps it out of
        # its rotation for fail_timeout, counted in whole seconds
        assert down["upstreams"].get(h2.addr, 0) == 0 and \
            sum(down["upstreams"].values()) == down["requests"] > 0, summary
    finally:
        c.close()


@harness.timeout(60)
def test_host_unplugged_fails_over_after_the_timeouts():
    """Under load through NGINX (with proxy_connect_timeout 1s and
    proxy_read_timeout 2s), h3's cable is pulled: its bridge port goes
    down, so nothing is refused or reset, nothing answers at all. Then it is
    plugged back.

    Expected, and asserted: the client sees no failure, but the requests
    NGINX had sent to h3 (in flight, or sent on an idle keep-alive
    connection to h3 before NGINX knew) wait for proxy_read_timeout, and new
    connections to h3 for proxy_connect_timeout, before NGINX retries them
    on another host ("upstream timed out" in its error log); the slowest
    request takes about that long, and no request is answered by h3 while
    it is away. Once plugged back, h3 answers again."""
    c = Cluster(fail_timeout=1,
                proxy_extra="proxy_connect_timeout 1s;\n    proxy_read_timeout 2s;")
    h3 = c.hosts[2]
    try:
        ld, ph = start_phases(c)
        try:

            m = ph.mark()
            h3.unplug()
            time.sleep(2.5)             # past proxy_read_timeout
            ld.wait_ok(100)
            cut = ph.close("h3 unplugged", m)

            m = ph.mark()
            ld.wait_ok(300)
            away = ph.close("h3 away", m)

            m = ph.mark()
            h3.plug()
            answered_again(c, h3, m["ng"][1])
            ld.wait_ok(100)
            ph.close("h3 plugged back", m)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, ph.report()))
        finally:
            h3.plug()
            ld.stop()
        slow = cut["times"]
        t = totals(ph.rows)
        summary = ("h3 unplugged under load through NGINX: %s; in the 2.5 s after the cut: "
                   "%d requests, %d retried on another host, %d upstream error-log lines, the "
                   "slowest %.3fs, %d over 0.5 s; while away: %s; load: %s" % (
                       fmt_totals(t), cut["requests"], len(cut["retried"]), len(cut["errors"]),
                       slow[-1] if slow else 0.0, sum(1 for x in slow if x > 0.5),
                       away["upstreams"], ld.summary()))
        note(summary)
        assert not ld.errors, "load client bug: %s" % ld.errors[0]
        assert t["failed"] == 0 and t["non2xx"] == 0, "%s\n%s" % (summary, ph.report())
        assert away["upstreams"].get(h3.addr, 0) == 0, summary
        assert slow and slow[-1] < 4.0, summary
    finally:
        c.close()


# ---------------------------------------------------------------------------
# 4. the hosts share Redis

@harness.timeout(40)
def test_hosts_share_redis():
    """With the workers' Redis client and the kv handler: every worker of
    every host connected to the Redis host, a value PUT through h1 is read
    through h1, h2 and h3 (and is in Redis), and once deleted through h3 it
    is gone through every host: the hosts share one Redis."""
    if not (binary_has("--keys", "redis") and binary_has("--handlers", "kv")):
        raise Skip("this binary has no Redis client or kv handler yet")
    routes = ROUTES + [{"path": "/kv/", "match": "prefix", "handler": "kv",
                        "key_prefix": "mh:"}]
    net = netns.Network(list(HOSTS) + ["redis"])
    try:
        hosts = [net.host(n) for n in HOSTS]
        redis = netns.redis_server(net.host("redis"))
        shoals = [start_host(net, h, host_config(net, h, redis, routes)) for h in hosts]
        for s in shoals:
            s.wait_ready(timeout=15)
        for h, s in zip(hosts, shoals):     # every worker of every host connected
            wait_until(lambda: all((p.get("redis") or {}).get("state") == "up"
                                   for p in harness.status(s.control)["processes"]),
                       5, 0.05, "the workers of %s connected to Redis" % h.name)

        def req(h, method, path, body=b""):
            with harness.RawConn(PORT, host=h.addr, timeout=5) as conn:
                conn.send(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           "Content-Length: %d\r\n\r\n" % (method, path, len(body))).encode()
                          + body)
                return conn.recv_response(timeout=5)
        value = b"written through h1 at %f" % time.time()
        code, _, body = req(hosts[0], "PUT", "/kv/greeting", value)
        assert code in (201, 204), "PUT through h1: %d %r" % (code, body)
        for h in hosts:
            code, _, body = req(h, "GET", "/kv/greeting")
            assert code == 200 and body == value, "GET through %s: %d %r" % (h.name, code, body)
        assert redis.command("EXISTS", "mh:greeting") == 1
        code, _, _ = req(hosts[2], "DELETE", "/kv/greeting")
        assert code == 204, code
        for h in hosts:
            code, _, _ = req(h, "GET", "/kv/greeting")
            assert code == 404, "GET through %s after the DELETE: %d" % (h.name, code)
        for s in shoals:
            assert s.stop() == 0
    finally:
        remarks = net.close()
    assert not remarks, remarks
