"""
State an operator set survives: the worker count set by `shoal scale` (or
TTIN/TTOU) across a reload, unless the file's "workers" changed, and
across a binary upgrade; the generation number and every counter
(requests, restarts by reason) go on across an upgrade, and a failed
upgrade loses none either.

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import re
import signal
import time

import harness
from harness import Shoal, ctl, http_get, kill_masters, note, settled, status, wait_until


def write(path, port, workers, extra=None):
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": workers, "log_level": "debug",
           "routes": [{"path": "/", "handler": "hello"}, {"path": "/healthz", "handler": "health"}]}
    cfg.update(extra or {})
    with open(path + ".tmp", "w") as f:
        json.dump(cfg, f)
    os.rename(path + ".tmp", path)


def start(workers, extra=None):
    d = harness.tmpdir()
    port = harness.free_port()
    path = os.path.join(d, "shoal.json")
    write(path, port, workers, extra)
    ctl_path = os.path.join(d, "ctl.sock")
    s = Shoal(["-c", path, "--control", ctl_path, "--pid-file", os.path.join(d, "shoal.pid")],
              raw=True)
    s.ports, s.nworkers, s.control, s.config = [port], workers, ctl_path, path
    return s.start()


def ok(control, *args):
    rc, out, err = ctl(control, *args)
    assert rc == 0, "shoal %s: exit %d %r %r" % (" ".join(args), rc, out, err)
    return out


@harness.timeout(60)
def test_scale_survives_reload_unless_the_file_changes():
    s = start(2)
    with s:
        ok(s.control, "scale", "1")
        settled(s.control, 1)
        ok(s.control, "reload")
        st = settled(s.control, 1, generation=2)
        s.wait_log(r"reload: keeping the 1 worker set by scale", timeout=1)
        # TTIN counts as a scale too
        s.send_signal(signal.SIGTTIN)
        settled(s.control, 2, generation=2)
        ok(s.control, "reload")
        settled(s.control, 2, generation=3)
        s.send_signal(signal.SIGTTIN)
        settled(s.control, 3, generation=3)
        ok(s.control, "reload")
        settled(s.control, 3, generation=4)
        # the file says something new: it wins, and the scale is forgotten
        write(s.config, s.port, 1)
        ok(s.control, "reload")
        settled(s.control, 1, generation=5)
        write(s.config, s.port, 2)
        ok(s.control, "reload")
        st = settled(s.control, 2, generation=6)
        note(harness.brief(st))


@harness.timeout(90)
def test_upgrade_keeps_count_generation_and_counters():
    s = start(2)
    masters = []
    try:
        ok(s.control, "scale", "3")
        ok(s.control, "reload")
        st = settled(s.control, 3, generation=2)
        for _ in range(200):
            assert http_get(s.port, "/")[0] == 200
        # a crash and a recycle-free restart count for slot 1
        os.kill([p["pid"] for p in st["processes"] if p["slot"] == 1][0], signal.SIGKILL)
        wait_until(lambda: status(s.control)["slots"][1]["restarts_by_reason"]["crash"] == 1,
                   5, 0.05, "the crash counted")
        st = settled(s.control, 3, generation=2)
        before = st["totals"]["requests"]
        assert before >= 200, st["totals"]
        out = ok(s.control, "upgrade")
        new = int(re.search(r"new master pid (\d+)", out).group(1))
        masters.append(new)
        st = settled(s.control, 3)
        assert st["pid"] == new
        assert st["generation"] == 3, "generation %d after an upgrade from 2" % st["generation"]
        assert all(p["generation"] == 3 for p in st["processes"]), harness.brief(st)
        # counters go on: the old workers' requests are in the totals once
        # they have gone, the restarts of slot 1 are still there
        wait_until(lambda: status(s.control)["totals"]["requests"] >= before, 5, 0.1,
                   "the totals to include the old workers' requests")
        st = status(s.control)
        assert st["slots"][1]["restarts_by_reason"]["crash"] == 1, st["slots"][1]
        assert st["slots"][1]["last_restart"] == "crash"
        for _ in range(50):
            assert http_get(s.port, "/")[0] == 200
        after = wait_until(lambda: (lambda t: t if t >= before + 50 else None)(
            status(s.control)["totals"]["requests"]), 5, 0.1, "the counter to go on")
        assert "counters go on in the old master's stats region" in s.log_text()
        # and the new master goes on from there: a reload is generation 4
        ok(s.control, "reload")
        settled(s.control, 3, generation=4)
        note("requests %d before, %d after; generation 2 -> 3 -> 4" % (before, after))
    finally:
        kill_masters(s, masters)


@harness.timeout(90)
def test_upgrade_forgets_scale_when_the_file_changed():
    s = start(2)
    masters = []
    try:
        ok(s.control, "scale", "3")
        settled(s.control, 3)
        write(s.config, s.port, 1)
        out = ok(s.control, "upgrade")
        masters.append(int(re.search(r"new master pid (\d+)", out).group(1)))
        st = settled(s.control, 1)
        assert st["generation"] == 2
    finally:
        kill_masters(s, masters)


def worker_up_lines(port):
    st, _, body = http_get(port, "/metrics")
    assert st == 200, st
    return re.findall(r"^shoal_worker_up\{[^}]*\} 1$", body.decode(), re.M)


def requests_total(port):
    st, _, body = http_get(port, "/metrics")
    return int(re.search(r"^shoal_requests_total (\d+)$", body.decode(), re.M).group(1))


@harness.timeout(60)
def test_failed_upgrade_frees_the_shared_stats_entries():
    """A new master whose workers boot too slowly is killed by the old one
    (ready_timeout): its workers had taken entries in the stats region the
    two masters share. The old master frees them as they go, so /metrics
    (which reads the whole region) soon lists only the serving workers,
    and no counter goes backwards."""
    module = harness.greeting_module()
    routes = [{"path": "/", "handler": "hello"}, {"path": "/healthz", "handler": "health"},
              {"path": "/metrics", "handler": "metrics"}]
    s = start(2, {"ready_timeout": 1, "routes": routes})
    with s:
        for _ in range(50):
            assert http_get(s.port, "/")[0] == 200
        before = requests_total(s.port)
        assert len(worker_up_lines(s.port)) == 2
        write(s.config, s.port, 2, {"routes": routes, "modules": [
            {"name": "app", "path": module, "config": {"init_delay": 2.5}}]})
        rc, out, err = ctl(s.control, "upgrade")
        assert rc == 1 and "not ready in time" in err, (rc, out, err)
        # while they boot, the failed master's workers are in the region
        wait_until(lambda: len(worker_up_lines(s.port)) == 2, 10, 0.2,
                   "the failed master's workers to leave the stats region")
        assert requests_total(s.port) >= before
        st = settled(s.control, 2, generation=1)
        assert st["pid"] == s.pid
