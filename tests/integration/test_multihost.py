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
  written through one host is read through every host;
- channels (the pubsub handler, across hosts through the shared Redis):
  subscribers by server-sent events and by WebSocket on every host and
  through NGINX all get what is published through any host and through
  NGINX; and in the rolling reload and upgrade above, such subscribers,
  whose streams and WebSockets the draining workers close, reconnect (the
  ones through NGINX to whichever host NGINX picks) with Last-Event-ID or
  ?after= and miss no message of a steady publisher, nor get one twice.

Where network namespaces cannot be made (not root, a container), each test
is skipped with one line saying so. Measured counts go to the notes
(run.py -v prints them).
"""

import json
import os
import re
import signal
import socket
import threading
import time

import harness
import netns
from chanlib import OP_CLOSE, OP_TEXT, Sse, WsSub, publish
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
PUBSUB = {"path": "/ps/", "match": "prefix", "handler": "pubsub"}


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

    def __init__(self, fail_timeout=2, proxy_extra=None, routes=ROUTES):
        # the hosts' configurations name the shared Redis where the binary
        # has a Redis client
        redis_client = binary_has("--keys", "redis")
        self.net = netns.Network(list(HOSTS) + ["redis"])
        self.hosts = [self.net.host(n) for n in HOSTS]
        self.redis = netns.redis_server(self.net.host("redis"))
        self.configs = [host_config(self.net, h, self.redis if redis_client else None, routes)
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


def upgraded(rec):
    """A WebSocket handshake that NGINX passed on (101): not a failure."""
    return rec["status"] == "101" and " /ps/" in rec["request"]


def clean(row):
    return not (row["failed"] or [r for r in row["non2xx"] if not upgraded(r)]
                or row["gateway"] or row["errors"])


def totals(rows):
    t = {k: sum((len(r[k]) if isinstance(r[k], list) else r[k]) for r in rows)
         for k in ("requests", "ok", "failed", "gateway", "errors", "retried")}
    t["non2xx"] = sum(1 for r in rows for x in r["non2xx"] if not upgraded(x))
    return t


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
    errors in NGINX's error log; every host answers before and after.

    With channels (the pubsub handler and Redis in the binary): meanwhile
    a publisher POSTs 50 messages a second through NGINX (so through every
    host in turn), and an SSE and a WebSocket subscriber on each host and
    one of each through NGINX, whose connections the draining workers
    close, connect again and resume (Last-Event-ID, ?after=): every
    publish answered 200, and every subscriber gets every message from its
    first one on, in order, none twice; the ones on the hosts reconnected
    at least twice (reload, upgrade), the ones through NGINX at least once."""
    try:
        routes = channel_routes()
    except Skip as e:
        routes = None
        note("no channel subscribers in this run: %s" % e)
    c = Cluster(routes=routes or ROUTES)
    subs, pub = [], None
    try:
        if routes:
            id_of, sent = {}, []
            subs = subscribers(c, "steady", id_of)
            first_message_everywhere(c, subs, "steady", id_of, sent)
            pub = Publisher("127.0.0.1", c.port, "steady", 50, id_of)
            pub.start()
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
        if pub is not None:
            check_resumed(subs, pub, sent, id_of)
    finally:
        if pub is not None:
            pub.stop()
        for sub in subs:
            sub.stop()
        c.close()


def check_resumed(subs, pub, sent, id_of):
    """The publisher stopped, its messages all at every subscriber (see
    test_rolling_reload_and_upgrade_of_every_host_under_load)."""
    pub.stop()
    sent += pub.sent
    assert not pub.failures, "publishes through NGINX that failed: %s" % pub.failures[:10]
    assert len(pub.sent) >= 50 and sent == sorted(sent), (len(pub.sent), sent[:5])
    try:
        wait_until(lambda: all(sub.ids()[-1:] == sent[-1:] for sub in subs), 10, 0.05,
                   "the last message at every subscriber")
    finally:
        time.sleep(0.2)
        for sub in subs:
            sub.stop()
    check_subscribers(subs, sent, id_of)
    for sub in subs:
        least = 2 if sub.addr == "127.0.0.1" else 3
        assert sub.connects >= least, "%s connected %d times (at least %d expected): %s" % (
            sub.label, sub.connects, least, sub.log)
    note("channels: %d messages published through NGINX during the roll, 0 failed; %d "
         "subscribers got every one, none twice; connections by subscriber: %s" % (
             len(pub.sent), len(subs), ", ".join("%s %d" % (sub.label, sub.connects)
                                                 for sub in subs)))


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


# ---------------------------------------------------------------------------
# 5. channels across hosts

def channel_routes():
    """ROUTES and the pubsub route, or Skip where the binary has no
    channels or no Redis client (which carries them across hosts)."""
    if not (binary_has("--handlers", "pubsub") and binary_has("--keys", "redis")):
        raise Skip("this binary has no pubsub handler or no Redis client")
    return ROUTES + [PUBSUB]


class Subscriber(threading.Thread):
    """A subscriber of a channel at addr:port that reads in a thread of its
    own and, whenever its stream ends or its WebSocket closes (a draining
    worker closes them), connects again and resumes, as a browser's
    EventSource does: kind "sse" with Last-Event-ID (and after the retry
    the stream told), kind "ws" with ?after=ID. A WebSocket message carries
    no id: the id of the last one is the publisher's answer for its body
    (id_of)."""

    def __init__(self, kind, label, addr, port, channel, id_of):
        super().__init__(name="sub-" + label, daemon=True)
        self.kind, self.label, self.addr, self.port = kind, label, addr, port
        self.channel, self.id_of = channel, id_of
        self.got = []             # ids (sse) or bodies (ws), as received
        self.data = []            # the bodies, as received
        self.connects = 0
        self.log = []
        self.halt = threading.Event()
        self.last = None          # the id to resume after

    def ids(self):
        """The ids received, in order (a WebSocket's by its bodies)."""
        return list(self.got) if self.kind == "sse" else [self.id_of.get(b) for b in self.got]

    def _connect(self):
        if self.kind == "sse":
            return Sse(self.port, "/ps/%s" % self.channel, last_id=self.last, timeout=3,
                       host=self.addr)
        return WsSub(self.port, self.channel, after=self.last, timeout=3, host=self.addr)

    def _read_sse(self, sub):
        """What came within 0.2 s: (ended, retry seconds or None)."""
        retry = None
        for e in sub.events(50, timeout=0.2):
            if "retry" in e:
                retry = e["retry"] / 1000.0
            if e.get("id") is not None:
                self.got.append(e["id"])
                self.data.append(e["data"])
                self.last = e["id"]
        return sub.ended, retry

    def _read_ws(self, sub):
        dl = time.monotonic() + 0.2
        while time.monotonic() < dl:
            try:
                fin, op, payload = sub.ws.recv(max(0.01, dl - time.monotonic()))
            except socket.timeout:
                return False, None
            except (EOFError, OSError):
                return True, None
            if op == OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self.log.append("close %s" % code)
                return True, None
            if op == OP_TEXT:
                self.got.append(payload)
                self.data.append(payload)
        return False, None

    def _resume_id(self):
        """The id of the last WebSocket message received (its publisher's
        answer may come a moment after the message itself)."""
        if not self.got:
            return None
        body = self.got[-1]
        dl = time.monotonic() + 5
        while body not in self.id_of and time.monotonic() < dl:
            time.sleep(0.01)
        return self.id_of.get(body)

    def run(self):
        retry = 0.05
        while not self.halt.is_set():
            if self.kind == "ws":
                self.last = self._resume_id()
            try:
                sub = self._connect()
            except (OSError, ConnectionError, AssertionError) as e:
                self.log.append("connect: %s" % e)
                time.sleep(0.05)
                continue
            self.connects += 1
            self.log.append("connected after %s" % self.last)
            ended = False
            while not self.halt.is_set() and not ended:
                try:
                    ended, r = (self._read_sse if self.kind == "sse" else self._read_ws)(sub)
                except (OSError, ConnectionError, ValueError) as e:
                    self.log.append("read: %s" % e)
                    ended, r = True, None
                if r is not None:
                    retry = r
            sub.close()
            if ended and not self.halt.is_set():
                time.sleep(min(retry, 1.0))

    def stop(self):
        self.halt.set()
        self.join(5)


class Publisher(threading.Thread):
    """POSTs "m N" to the channel at addr:port, one after the other at a
    steady rate, until stopped (or max_seconds): sent holds each answered
    message's id in order, id_of maps its body to its id."""

    def __init__(self, addr, port, channel, rate, id_of, max_seconds=120):
        super().__init__(name="publisher", daemon=True)
        self.addr, self.port, self.channel, self.rate = addr, port, channel, rate
        self.id_of, self.max_seconds = id_of, max_seconds
        self.sent, self.failures = [], []
        self.halt = threading.Event()

    def run(self):
        t0, i = time.monotonic(), 0
        while not self.halt.is_set() and time.monotonic() - t0 < self.max_seconds:
            body = b"m %d" % i
            try:
                st, ident, _ = publish(self.port, self.channel, body, host=self.addr)
            except (OSError, ConnectionError) as e:
                st, ident = str(e), None
            if st == 200:
                self.id_of[body] = ident
                self.sent.append(ident)
            else:
                self.failures.append("%s: %s" % (body.decode(), st))
            i += 1
            time.sleep(max(0.0, t0 + i / self.rate - time.monotonic()))

    def stop(self):
        self.halt.set()
        self.join(10)


def subscribers(c, channel, id_of):
    """An SSE and a WebSocket subscriber on each host, and one of each
    through NGINX, started and connected."""
    where = [(h.name, h.addr, PORT) for h in c.hosts] + [("nginx", "127.0.0.1", c.port)]
    subs = [Subscriber(kind, "%s %s" % (kind, name), addr, port, channel, id_of)
            for name, addr, port in where for kind in ("sse", "ws")]
    for sub in subs:
        sub.start()
    wait_until(lambda: all(sub.connects for sub in subs), 10, 0.02,
               "every subscriber connected")
    return subs


def first_message_everywhere(c, subs, channel, id_of, sent):
    """Publish through h1 until every subscriber has had a message: from
    then on each is subscribed on its host's Redis connection, and must
    miss nothing. Returns the id of that first message."""
    for i in range(20):
        body = b"first %d" % i
        st, ident, _ = publish(PORT, channel, body, host=c.hosts[0].addr)
        assert st == 200, "publish through %s: %s" % (c.hosts[0].name, st)
        id_of[body] = ident
        sent.append(ident)
        try:
            wait_until(lambda: all(sub.got for sub in subs), 0.5, 0.02, "")
            return ident
        except AssertionError:
            continue
    raise AssertionError("subscribers with no message after 20 publishes: %s" % [
        sub.label for sub in subs if not sub.got])


def check_subscribers(subs, sent, id_of):
    """Every subscriber got every id published from its first message on,
    in order, each once, with its body."""
    body_of = {v: k for k, v in id_of.items()}
    for sub in subs:
        got = sub.ids()
        assert got and got[0] in sent, "%s: first %s, not one published" % (sub.label, got[:1])
        want = sent[sent.index(got[0]):]
        missing = sorted(set(want) - set(got))
        twice = sorted({i for i in got if got.count(i) > 1})
        assert got == want, "%s: %d received, %d published from its first; missing %s, " \
            "twice %s, unknown %s; its log: %s" % (
                sub.label, len(got), len(want), missing[:10], twice[:10],
                [i for i in got if i not in want][:10], sub.log[-10:])
        assert [body_of[i] for i in got] == list(sub.data), "%s: bodies differ" % sub.label


@harness.timeout(60)
def test_channel_messages_reach_subscribers_on_every_host():
    """Subscribers by server-sent events and by WebSocket on each of the
    three hosts and through NGINX: a message published through one host,
    then through each host, then several through NGINX (which hands them to
    the hosts in turn) reaches every subscriber, once, in id order; the ids
    come from the channel's counter in the shared Redis, the same on every
    host."""
    c = Cluster(routes=channel_routes())
    subs = []
    try:
        id_of, sent = {}, []
        subs = subscribers(c, "news", id_of)
        first_message_everywhere(c, subs, "news", id_of, sent)
        m = c.nginx.offsets()
        for h in c.hosts:
            body = b"through %s" % h.name.encode()
            st, ident, _ = publish(PORT, "news", body, host=h.addr)
            assert st == 200, (h.name, st)
            id_of[body] = ident
            sent.append(ident)
        for i in range(6):
            body = b"through nginx %d" % i
            st, ident, _ = publish(c.port, "news", body)
            assert st == 200, ("nginx", st)
            id_of[body] = ident
            sent.append(ident)

        def posts_by_host():
            # NGINX logs a request once it has answered it: the last may lag
            by_host = {}
            for r in c.nginx.access_records(m[1]):
                if r["request"].startswith("POST /ps/news"):
                    addr = r["upstream_addr"].split(":")[0]
                    by_host[addr] = by_host.get(addr, 0) + 1
            return by_host if sum(by_host.values()) == 6 else None
        by_host = wait_until(posts_by_host, 5, 0.02, "the 6 POSTs in NGINX's access log")
        assert len(by_host) >= 2, "POSTs through NGINX by host: %s" % by_host
        assert sent == sorted(sent), sent
        wait_until(lambda: all(sub.ids()[-1:] == sent[-1:] for sub in subs), 10, 0.02,
                   "the last message at every subscriber")
        time.sleep(0.2)               # nothing more (a message twice) comes
        for sub in subs:
            sub.stop()
        check_subscribers(subs, sent, id_of)
        note("%d subscribers (SSE and WebSocket on h1, h2, h3 and through NGINX) each got "
             "all %d messages; the publishes through NGINX went to %s" % (
                 len(subs), len(sent), by_host))
    finally:
        for sub in subs:
            sub.stop()
        c.close()
