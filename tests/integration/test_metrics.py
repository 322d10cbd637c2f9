"""
Routes per listener and what an admin listener serves: the metrics handler
(Prometheus text that `promtool check metrics` accepts, series stable across
a crash, a hang and a reload, restarts by slot and reason, a request-duration
histogram, each worker's memory and CPU) and the status handler (the JSON of
`shoal status --json`, as far as a worker sees it).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import harness
from harness import RawConn, Shoal, Skip, ctl, http_get, note, settled, status, wait_until

PUBLIC = [{"path": "/", "handler": "hello"},
          {"path": "/healthz", "handler": "health"},
          {"path": "/events", "handler": "ticker", "interval": 0.2, "count": 3}]
ADMIN = [{"path": "/metrics", "handler": "metrics"},
         {"path": "/status", "handler": "status"}]


def start(workers=2, extra=None):
    """A server with a public listener and an admin one of its own routes.
    Sets .config, .control, .admin (the admin port)."""
    d = harness.tmpdir()
    port, admin = harness.free_ports(2)
    cfg = os.path.join(d, "shoal.json")
    conf = {"listen": ["127.0.0.1:%d" % port,
                       {"address": "127.0.0.1:%d" % admin, "routes": ADMIN}],
            "workers": workers, "routes": PUBLIC}
    conf.update(extra or {})
    with open(cfg, "w") as f:
        json.dump(conf, f)
    s = Shoal(["-c", cfg, "--control", os.path.join(d, "ctl.sock")], raw=True)
    s.ports = [port]
    s.nworkers = workers
    s.config, s.control, s.admin = cfg, os.path.join(d, "ctl.sock"), admin
    s.start()
    return s


def scrape(port):
    """(text, {series: value}) of GET /metrics."""
    st, h, body = http_get(port, "/metrics")
    assert st == 200, "/metrics -> %d" % st
    assert h.get("content-type", "").startswith("text/plain; version=0.0.4"), h
    text = body.decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            assert name not in values, "series %s twice" % name
            values[name] = float(value)
    return text, values


def promtool(text, what):
    exe = shutil.which("promtool")
    if exe is None:
        return False
    p = subprocess.run([exe, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "promtool check metrics (%s): %s\n%s" % (
        what, p.stdout.decode(errors="replace"), text)
    return True


def stable(values):
    """The series that must survive restarts and reloads: all but the info."""
    return {k for k in values if not k.startswith("shoal_worker_info{")}


def series(values, prefix):
    return {k: v for k, v in values.items() if k.startswith(prefix)}


@harness.timeout(30)
def test_admin_listener_has_its_own_routes():
    """/metrics and /status answer on the admin listener only; its routes
    replace the top-level ones there (GET / is 404 on it), and a route of a
    listen object is checked like any other."""
    s = start()
    for path in ("/metrics", "/status"):
        assert http_get(s.port, path)[0] == 404, "%s on the public listener" % path
        assert http_get(s.admin, path)[0] == 200, "%s on the admin listener" % path
    assert http_get(s.admin, "/")[0] == 404, "GET / on the admin listener"
    assert http_get(s.port, "/")[0] == 200
    bad = os.path.join(harness.tmpdir(), "bad.json")
    with open(bad, "w") as f:
        f.write('{"listen": ["127.0.0.1:1",\n  {"address": "127.0.0.1:2", "routes": [\n'
                '    {"path": "/m", "handler": "metrix"}]}]}\n')
    rc, _, err = harness.run_cli(["--check", "-c", bad])
    assert rc == 2 and re.search(r'bad\.json:3:\d+: listen\[1\]\.routes\[0\]\.handler: '
                                 r'unknown handler "metrix"', err), (rc, err)


@harness.timeout(30)
def test_status_handler_matches_shoal_status():
    """The status handler answers what `shoal status --json` says, for what
    a worker can see: master pid, version, generation, workers, each slot's
    pid and restarts, each process's slot, pid, generation and state."""
    s = start()
    st = settled(s.control, 2, generation=1)
    code, h, body = http_get(s.admin, "/status")
    assert code == 200 and h.get("content-type") == "application/json", (code, h)
    mine = json.loads(body)
    note("status handler: %s" % mine)
    for k in ("pid", "version", "generation", "workers"):
        assert mine[k] == st[k], "%s: handler %r, shoal status %r" % (k, mine[k], st[k])
    assert [(x["slot"], x["pid"], x["restarts"]) for x in mine["slots"]] == \
        [(x["slot"], x["pid"], x["restarts"]) for x in st["slots"]], (mine["slots"], st["slots"])

    def procs(j):
        return sorted((p["slot"], p["pid"], p["generation"], p["state"]) for p in j["processes"])
    assert procs(mine) == procs(st), (procs(mine), procs(st))
    assert mine["totals"]["requests"] >= 1 and "accepted" in mine["totals"], mine["totals"]


@harness.timeout(60)
def test_metrics_pass_promtool_and_stay_stable_across_restarts():
    s = start(extra={"worker_timeout": 1,
                     "modules": [{"name": "spin", "path": harness.spin_module()}],
                     "routes": PUBLIC + [harness.SPIN_ROUTE]})
    settled(s.control, 2, generation=1)
    for _ in range(20):
        assert http_get(s.port, "/")[0] == 200
    assert http_get(s.port, "/events")[0] == 200       # 0.4 s of stream
    text, m0 = scrape(s.admin)
    checked = promtool(text, "at start")
    # the histogram: cumulative buckets, +Inf = count, the stream in its place
    buckets = [(k, v) for k, v in m0.items() if k.startswith("shoal_request_duration_seconds_bucket")]
    les = [float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf")) for k, _ in buckets]
    counts = [v for _, v in buckets]
    assert les == sorted(les) and les[-1] == float("inf"), les
    assert counts == sorted(counts), "buckets not cumulative: %s" % buckets
    assert counts[-1] == m0["shoal_request_duration_seconds_count"] >= 21, m0
    slow = counts[-1] - m0['shoal_request_duration_seconds_bucket{le="0.25"}']
    assert slow >= 1, "the 0.4 s stream is over 0.25 s: %s" % buckets
    assert m0["shoal_request_duration_seconds_sum"] >= 0.35, m0
    # each worker's memory and CPU
    for slot in ("0", "1"):
        assert m0['shoal_worker_up{slot="%s"}' % slot] == 1, m0
        assert m0['shoal_worker_resident_memory_bytes{slot="%s"}' % slot] > 500000, m0
        assert m0['shoal_worker_cpu_seconds_total{slot="%s",mode="user"}' % slot] >= 0, m0
    cpu = sum(series(m0, "shoal_worker_cpu_seconds_total").values())
    assert cpu > 0, "some CPU time was spent: %s" % series(m0, "shoal_worker_cpu")
    info = series(m0, "shoal_worker_info")
    pids = {int(re.search(r'pid="(\d+)"', k).group(1)) for k in info}
    assert pids == set(s.workers().values()) and len(info) == 2, (info, s.workers())
    assert not [k for k in m0 if re.search(r'pid=|generation=', k)
                and not k.startswith("shoal_worker_info{")], "pid or generation outside info"
    assert "shoal_scrape_time_ms" not in text

    # a crash: kill -9 slot 0's worker
    victim = s.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: s.workers().get(0) not in (None, victim), 5, 0.02, "slot 0 respawned")
    settled(s.control, 2, generation=1)
    # a hang: slot 1's worker spins on its loop; worker_timeout 1 s
    hung = s.workers()[1]
    spin = harness.hang_worker(s.port, hung)
    s.wait_log(r"worker 1 \(pid %d\) hung" % hung, timeout=5)
    wait_until(lambda: s.workers().get(1) not in (None, hung), 5, 0.02, "slot 1 respawned")
    spin.close()
    settled(s.control, 2, generation=1)
    text, m1 = scrape(s.admin)
    promtool(text, "after a crash and a hang")
    assert stable(m1) == stable(m0), "series changed: %s" % (stable(m1) ^ stable(m0))
    r = series(m1, "shoal_worker_restarts_total")
    note("restarts: %s" % r)
    assert r['shoal_worker_restarts_total{slot="0",reason="crash"}'] == 1, r
    assert r['shoal_worker_restarts_total{slot="1",reason="hang"}'] == 1, r
    assert sum(r.values()) == 2, r
    st = status(s.control)
    assert [sl["restarts"] for sl in st["slots"]] == [1, 1], st["slots"]
    assert m1["shoal_requests_total"] >= m0["shoal_requests_total"], "a counter went back"

    # a reload: the same series, generation 2 in the info only
    rc, _, err = ctl(s.control, "reload")
    assert rc == 0, err
    settled(s.control, 2, generation=2)
    text, m2 = scrape(s.admin)
    promtool(text, "after a reload")
    assert stable(m2) == stable(m0), "series changed: %s" % (stable(m2) ^ stable(m0))
    assert all('generation="2"' in k for k in series(m2, "shoal_worker_info")), m2
    assert m2["shoal_request_duration_seconds_count"] >= m1["shoal_request_duration_seconds_count"]
    if not checked:
        raise Skip("the series are right; promtool is not installed (Debian prometheus)")
