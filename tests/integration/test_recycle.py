"""
Recycling (Gunicorn's max_requests + max_requests_jitter, PM2's
max_memory_restart): under a load client that counts every failed
request, workers are replaced in their slots several times, by request
count and by resident memory, with 0 failures; the reason is in the log,
in `shoal status` (restarts by reason, last restart) and in the stats
region's per-slot counters.

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import time

import harness
from harness import Shoal, note, settled, status, wait_until
from load import Load


def start(extra, workers=2):
    d = harness.tmpdir()
    port = harness.free_port()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": workers,
           "control_socket": os.path.join(d, "ctl.sock"), "log_level": "debug",
           "graceful_timeout": 10,
           "routes": [{"path": "/", "handler": "hello"}, {"path": "/healthz", "handler": "health"}]}
    cfg.update(extra)
    path = os.path.join(d, "shoal.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    s = Shoal(["-c", path], raw=True)
    s.ports, s.nworkers, s.control = [port], workers, cfg["control_socket"]
    return s.start()


def restarts(st, reason):
    return sum(sl["restarts_by_reason"][reason] for sl in st["slots"])


def recycled_under_load(s, reason, want, timeout):
    """Run a load until `want` restarts for reason; return (status, load)."""
    ld = Load(s.port, keepalive=3, oneshot=2, max_seconds=timeout + 10).start()
    try:
        ld.wait_ok(100, timeout=10)
        st = wait_until(lambda: (lambda x: x if restarts(x, reason) >= want else None)(
            status(s.control)), timeout, 0.2, "%d restarts for %s" % (want, reason))
        time.sleep(0.5)
    finally:
        ld.stop()
    note("load: " + ld.summary())
    ld.assert_no_failures("recycling by %s" % reason, min_ok=500)
    return st, ld


@harness.timeout(90)
def test_max_requests_recycles_without_failures():
    s = start({"max_requests": 300, "max_requests_jitter": 50})
    with s:
        first = set(s.wait_workers(2).values())
        st, ld = recycled_under_load(s, "max_requests", 6, 40)
        assert restarts(st, "crash") == 0 and restarts(st, "boot_failure") == 0, st["slots"]
        for sl in st["slots"]:
            assert sl["last_restart"] in (None, "max_requests"), sl
        # every slot gets its turn: none starves the others
        for sl in st["slots"]:
            assert sl["restarts_by_reason"]["max_requests"] >= 2, st["slots"]
        n = s.count_log(r"is replaced \(max_requests: \d+ requests, limit (\d+)\)")
        assert n >= 6, "%d replacement lines in the log" % n
        limits = set(int(x) for x in __import__("re").findall(
            r"is replaced \(max_requests: \d+ requests, limit (\d+)\)", s.log_text()))
        assert all(300 <= x <= 350 for x in limits), limits
        assert len(limits) > 1, "no jitter: every limit was %s" % limits
        assert not first & set(s.workers().values()), "a first worker is still there"
        # the table shows it too
        rc, out, err = harness.ctl(s.control, "status")
        assert "max_requests" in out, out
        settled(s.control, 2)
        note("restarts by reason: %s" % [sl["restarts_by_reason"] for sl in st["slots"]])


@harness.timeout(90)
def test_max_memory_recycles_without_failures():
    # Below any worker's resident set: each is replaced once it has served
    # for a second (RECYCLE_MIN_UPTIME), one slot at a time.
    s = start({"max_memory": "1M"})
    with s:
        s.wait_workers(2)
        rss = [p["rss"] for p in status(s.control)["processes"]]
        assert all(r > 1 << 20 for r in rss), rss
        st, ld = recycled_under_load(s, "max_memory", 4, 40)
        assert restarts(st, "crash") == 0, st["slots"]
        assert any(sl["last_restart"] == "max_memory" for sl in st["slots"]), st["slots"]
        assert s.count_log(r"is replaced \(max_memory: resident memory [\d.]+[KMG] above 1\.0M\)") >= 4
        note("rss %s; restarts %s" % (rss, [sl["restarts_by_reason"] for sl in st["slots"]]))


@harness.timeout(60)
def test_restart_reasons_counted():
    """A crash and a hang count under their reasons, per slot."""
    s = start({"worker_timeout": 1,
               "modules": [{"name": "spin", "path": harness.spin_module()}],
               "routes": [{"path": "/", "handler": "hello"},
                          {"path": "/healthz", "handler": "health"}, harness.SPIN_ROUTE]},
              workers=2)
    with s:
        ws = s.wait_workers(2)
        os.kill(ws[0], 9)
        wait_until(lambda: restarts(status(s.control), "crash") == 1, 5, 0.05, "a crash counted")
        ws = s.wait_workers(2)
        spin = harness.hang_worker(s.port, ws[1])   # its loop spins: no heartbeat
        st = wait_until(lambda: (lambda x: x if restarts(x, "hang") == 1 else None)(
            status(s.control)), 10, 0.1, "a hang counted")
        by = {sl["slot"]: sl for sl in st["slots"]}
        assert by[0]["restarts_by_reason"]["crash"] == 1 and by[0]["last_restart"] == "crash"
        assert by[1]["restarts_by_reason"]["hang"] == 1 and by[1]["last_restart"] == "hang"
        assert "killed by SIGKILL" in by[0]["last_exit"], by[0]
        spin.close()
        settled(s.control, 2)
