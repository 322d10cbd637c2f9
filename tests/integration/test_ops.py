"""
Zero-downtime operations: reload, upgrade, scale under load, and what
`shoal status --json` says about them.

Each test_* function is one acceptance point; run with tests/integration/run.py.
Every server runs on a JSON config file (-c) with its own control socket in
the test's temp dir; a background load (load.py) runs through each
operation and must see zero failed requests. The counts are in the notes
(run.py -v prints them).
"""

import json
import os
import re
import signal
import subprocess
import threading
import time

import harness
from harness import brief, ctl, kill_masters, read_pidfile, settled, status
from harness import (RawConn, Shoal, Skip, alive, deadline, http_get, note, remaining,
                     run_cli, server_pid_for_client_port, wait_until)
from load import Load

HELLO = b"Hello, World!"
JSON_HELLO = b'{"message":"Hello, World!"}'

ROUTES = [
    {"path": "/", "handler": "hello"},
    {"path": "/healthz", "handler": "health"},
    {"path": "/echo", "handler": "echo"},
    {"path": "/v", "handler": "json"},
]


# ---------------------------------------------------------------------------
# helpers

def write_config(path, port, workers=2, routes=ROUTES, extra=None):
    """The config file, "workers" always on line 3 (column 3) so an error in
    it has a known place. workers is written as JSON (a string stays one)."""
    lines = ['{',
             '  "listen": ["127.0.0.1:%d"],' % port,
             '  "workers": %s,' % json.dumps(workers),
             '  "routes": %s%s' % (json.dumps(routes), "," if extra else "")]
    items = list((extra or {}).items())
    for i, (k, v) in enumerate(items):
        lines.append('  %s: %s%s' % (json.dumps(k), json.dumps(v), "," if i < len(items) - 1 else ""))
    lines.append('}')
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, path)      # a reload never reads half a file


def start_server(workers=2, args=(), routes=ROUTES, extra=None):
    """A started Shoal on -c FILE with its own control socket; .config,
    .control and .port set."""
    d = harness.tmpdir()
    port = harness.free_port()
    cfg = os.path.join(d, "shoal.json")
    ctl_path = os.path.join(d, "ctl.sock")
    write_config(cfg, port, workers, routes, extra)
    s = Shoal(["-c", cfg, "--control", ctl_path] + list(args))
    s.ports = [port]
    s.nworkers = workers
    s.config = cfg
    s.control = ctl_path
    s.start()
    return s



def check_children_are_workers(master_pid, st, timeout=1.0):
    """The master's children are exactly the processes status lists: no
    stray process, and (after a moment for the reaping) no zombie."""
    listed = set(p["pid"] for p in st["processes"])
    kids = set()
    dl = deadline(timeout)
    while True:
        kids = set(harness.children(master_pid))      # zombies included
        if kids == listed or time.monotonic() >= dl:
            break
        time.sleep(0.02)
    assert kids == listed, ("master %d: children %s, status lists %s (strays: %s)"
                            % (master_pid, sorted(kids), sorted(listed),
                               ["%d (%s, state %s)" % (p, harness.comm(p), harness.proc_state(p))
                                for p in sorted(kids - listed)]))


def gone(pid):
    return not alive(pid)


def wait_gone(pids, timeout, what="processes"):
    pids = list(pids)
    try:
        wait_until(lambda: all(gone(p) for p in pids), timeout, 0.02, what)
    except AssertionError:
        left = [p for p in pids if not gone(p)]
        raise AssertionError("%s still alive %.0fs later: %s" % (
            what, timeout, ["%d (%s)" % (p, harness.comm(p)) for p in left]))


def assert_hello(status_code, body, what="GET /"):
    assert status_code == 200 and body.strip() == HELLO, \
        "%s -> %d %r" % (what, status_code, body[:200])


def phase(ld, mark, what):
    """Note the load counts of one phase; fail with every failure of it."""
    d = ld.since(mark)
    note("%s: %s" % (what, Load.format_counts(dict(d, failures=d["failures"]))))
    assert d["failed"] == 0, ("%s: %d requests failed under load:\n%s" % (
        what, d["failed"], "\n".join(Load.format_records(d["records"]))))
    assert d["ok"] > 0, "%s: no request succeeded during this phase (load not running?)" % what
    return d


def start_load(s, **kw):
    """A started Load on s, with a first 200 requests served."""
    ld = Load(s.port, **kw).start()
    ld.wait_ok(200, timeout=10)
    return ld


# ---------------------------------------------------------------------------
# 1. ten reloads in a row under load; generations in status

@harness.timeout(60)
def test_ten_reloads_under_load_zero_failures():
    s = start_server(workers=2, args=["--graceful-timeout", "10"])
    st = settled(s.control, 2, generation=1)
    assert st["pid"] == s.pid, "status pid %s, master %d" % (st["pid"], s.pid)
    seen = set(p["pid"] for p in st["processes"])
    took, during = [], []
    ld = start_load(s)
    try:
        for i in range(10):
            ld.wait_ok(50, timeout=10)    # each generation serves some of the load
            mark = ld.counts()
            t0 = time.monotonic()
            rc, out, err = ctl(s.control, "reload")
            took.append(time.monotonic() - t0)
            during.append(ld.since(mark)["ok"])
            assert rc == 0, "reload %d: exit %d, stderr %r" % (i + 1, rc, err)
            assert "generation %d serving with 2 workers" % (i + 2) in out, \
                "reload %d said %r, expected generation %d" % (i + 1, out.strip(), i + 2)
            st = status(s.control)
            assert st["generation"] == i + 2, "after reload %d: %s" % (i + 1, brief(st))
            seen |= set(p["pid"] for p in st["processes"])
        ld.wait_ok(200, timeout=10)       # and the last generation serves the load
    finally:
        ld.stop()
    note("10 reloads took " + " ".join("%.2f" % t for t in took) + " s; requests answered "
         "while each `shoal reload` ran: " + " ".join(str(n) for n in during))
    note("load: " + ld.summary())
    ld.assert_no_failures("10 reloads in a row", min_ok=400)

    st = settled(s.control, 2, generation=11)
    note("after 10 reloads: " + brief(st))
    assert st["generation"] == 11, "generation %s after 10 reloads, expected 11" % st["generation"]
    assert st["pid"] == s.pid
    check_children_are_workers(s.pid, st)
    current = set(p["pid"] for p in st["processes"])
    wait_gone(seen - current, 5, "workers of generations 1..10")
    assert len(seen - current) >= 20, "only %d distinct old workers seen over 10 reloads" % len(
        seen - current)
    st2, _, body = http_get(s.port, "/")
    assert_hello(st2, body)


# ---------------------------------------------------------------------------
# 2. upgrade to the same binary and to a rebuilt one, under load

def rebuilt_binary():
    """(path, how): `make BUILD=<tmp>/build` of the source tree; if that does
    not build within 120 s, a copy of the binary under test at a new path."""
    d = os.path.join(harness.tmpdir(), "rebuilt")
    os.makedirs(d, exist_ok=True)
    out_path = os.path.join(d, "build", "shoal")
    log = os.path.join(d, "make.log")
    cmd = ["make", "-s", "-j%d" % max(1, len(os.sched_getaffinity(0))),
           "BUILD=" + os.path.join(d, "build"), out_path]
    t0 = time.monotonic()
    why = None
    with open(log, "wb") as f:
        p = subprocess.Popen(cmd, cwd=harness.repo_root(), stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True)
        st = harness.proc_starttime(p.pid)
        try:
            rc = p.wait(timeout=120)
            if rc != 0:
                why = "make exited with status %d" % rc
        except subprocess.TimeoutExpired:
            harness._killpg_if_ours(p.pid, st, signal.SIGKILL)
            p.wait(timeout=5)
            why = "make took over 120s"
    if why is None and os.access(out_path, os.X_OK):
        return out_path, "rebuilt with `make BUILD=%s/build` in %.1fs" % (d, time.monotonic() - t0)
    with open(log, "rb") as f:
        tail = f.read().decode("utf-8", "replace").strip().splitlines()[-3:]
    copy = os.path.join(d, "shoal-copy")
    with open(harness.binary(), "rb") as src, open(copy, "wb") as dst:
        dst.write(src.read())
    os.chmod(copy, 0o755)
    return copy, ("a copy of %s at a new path: the source tree did not build (%s: %s)"
                  % (harness.binary(), why or "no binary", " | ".join(tail)))


def upgrade_and_check(s, old, pidfile, masters, binary=None):
    """`shoal upgrade [--binary B]` must succeed: returns the new master's pid
    (added to masters, for the cleanup, as soon as it is known) once the pid
    file, the control socket and /proc agree, and the old master and its
    workers are gone."""
    old_st = status(s.control)
    assert old_st["pid"] == old, "status pid %s before the upgrade, expected %d" % (
        old_st["pid"], old)
    old_workers = [p["pid"] for p in old_st["processes"]]
    args = ["upgrade"] + (["--binary", binary] if binary else [])
    t0 = time.monotonic()
    rc, out, err = ctl(s.control, *args)
    took = time.monotonic() - t0
    assert rc == 0, "%s: exit %d, stdout %r, stderr %r" % (" ".join(args), rc, out, err)
    m = re.search(r"new master pid (\d+)", out)
    assert m, "%s printed %r (no new master pid)" % (" ".join(args), out)
    new = int(m.group(1))
    masters.append(new)
    assert new != old, "upgrade reports the old pid %d" % old
    assert read_pidfile(pidfile) == new, "pid file says %r, new master is %d" % (
        read_pidfile(pidfile), new)
    assert alive(new) and harness.comm(new) == "shoal master", "new master %d: comm %r" % (
        new, harness.comm(new))
    assert harness.proc_pgid(new) == s.pid, "new master %d left our process group (pgrp %s)" % (
        new, harness.proc_pgid(new))
    exe = os.path.realpath("/proc/%d/exe" % new)
    want = os.path.realpath(binary or harness.binary())
    assert exe == want, "new master runs %s, expected %s" % (exe, want)
    st = status(s.control)
    assert st["pid"] == new, "the control socket is answered by pid %s after the upgrade, " \
                             "expected the new master %d" % (st["pid"], new)
    # the old master drains and exits
    if old == s.pid:
        rc_old = s.wait_exit(timeout=15)
        assert rc_old == 0, "old master exit status %s" % rc_old
    else:
        wait_gone([old], 15, "old master %d" % old)
    wait_gone(old_workers, 5, "old master's workers")
    st = settled(s.control, 2)
    assert st["pid"] == new
    check_children_are_workers(new, st)
    note("upgrade%s: %d -> %d in %.2fs; %s" % (" to " + binary if binary else "", old, new,
                                              took, brief(st)))
    return new


@harness.timeout(180)
def test_upgrade_same_and_rebuilt_binary_under_load():
    rebuilt, how = rebuilt_binary()
    note("second upgrade binary: " + how)
    pidfile = os.path.join(harness.tmpdir(), "shoal.pid")
    s = start_server(workers=2, args=["--pid-file", pidfile, "--graceful-timeout", "10"])
    masters = [s.pid]
    try:
        assert read_pidfile(pidfile) == s.pid
        ld = start_load(s)
        try:
            mark = ld.counts()
            m1 = upgrade_and_check(s, s.pid, pidfile, masters)
            ld.wait_ok(200, timeout=10)
            phase(ld, mark, "upgrade to the same binary")
            mark = ld.counts()
            m2 = upgrade_and_check(s, m1, pidfile, masters, binary=rebuilt)
            ld.wait_ok(200, timeout=10)
            phase(ld, mark, "upgrade to the rebuilt binary (%s)" % how.split(":")[0])
        finally:
            ld.stop()
        note("load: " + ld.summary())
        ld.assert_no_failures("2 upgrades", min_ok=400)

        rc, out, err = ctl(s.control, "stop")
        assert rc == 0, "stop: exit %d, stderr %r" % (rc, err)
        wait_gone([m2], 10, "the upgraded master %d after `shoal stop`" % m2)
        wait_until(lambda: not harness.group_members(s.pid), 5, 0.05,
                   "every process of the group to exit")
        assert not os.path.exists(pidfile), "pid file still exists after stop"
    finally:
        kill_masters(s, masters)


# ---------------------------------------------------------------------------
# 3. upgrade to a binary that fails: rollback

def write_script(name, text):
    path = os.path.join(harness.tmpdir(), name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text + "\n")
    os.chmod(path, 0o755)
    return path


@harness.timeout(60)
def test_upgrade_to_failing_binaries_rolls_back():
    pidfile = os.path.join(harness.tmpdir(), "shoal.pid")
    s = start_server(workers=2, args=["--pid-file", pidfile, "--ready-timeout", "2"])
    exits = write_script("exits.sh", "exit 1")
    sleeps = write_script("sleeps.sh", "exec sleep 60")
    before = settled(s.control, 2)
    workers = sorted(p["pid"] for p in before["processes"])
    strays = []
    try:
        ld = start_load(s)
        try:
            # a new master that exits at once
            mark = ld.counts()
            rc, out, err = ctl(s.control, "upgrade", "--binary", exits)
            assert rc == 1, "upgrade to %s: exit %d, expected 1; stdout %r stderr %r" % (
                exits, rc, out, err)
            assert "upgrade failed" in err and "exited with status 1" in err, \
                "upgrade to a binary that exits 1: stderr %r" % err
            st = settled(s.control, 2)
            assert st["pid"] == s.pid and read_pidfile(pidfile) == s.pid and s.running(), \
                "after the failed upgrade: status pid %s, pid file %s, master %d running %s" % (
                    st["pid"], read_pidfile(pidfile), s.pid, s.running())
            assert sorted(p["pid"] for p in st["processes"]) == workers, \
                "workers changed across a failed upgrade: %s -> %s" % (workers, brief(st))
            ld.wait_ok(100, timeout=10)
            phase(ld, mark, "upgrade to a binary that exits 1")

            # a new master that never becomes ready
            mark = ld.counts()
            result = {}

            def run():
                t0 = time.monotonic()
                result["r"] = ctl(s.control, "upgrade", "--binary", sleeps)
                result["took"] = time.monotonic() - t0
            t = threading.Thread(target=run, daemon=True)
            t.start()
            dl = deadline(3)
            while time.monotonic() < dl and not strays:
                strays = [c for c in harness.children(s.pid)
                          if alive(c) and harness.comm(c) == "sleep"]
                time.sleep(0.01)
            t.join(20)
            assert not t.is_alive(), "shoal upgrade did not return within 20s"
            rc, out, err = result["r"]
            note("never-ready upgrade child: %s; CLI returned after %.2fs"
                 % (strays, result["took"]))
            assert strays, "no `sleep` child of the master seen during the upgrade"
            assert rc == 1, "upgrade to %s: exit %d, expected 1; stdout %r stderr %r" % (
                sleeps, rc, out, err)
            assert "upgrade failed" in err and "not ready" in err, \
                "upgrade to a binary that never gets ready: stderr %r" % err
            assert 1.5 <= result["took"] <= 8, \
                "the never-ready upgrade failed after %.2fs (ready timeout 2s)" % result["took"]
            wait_gone(strays, 3, "the never-ready new master")
            st = settled(s.control, 2)
            assert st["pid"] == s.pid and read_pidfile(pidfile) == s.pid and s.running()
            assert sorted(p["pid"] for p in st["processes"]) == workers, \
                "workers changed across a failed upgrade: %s -> %s" % (workers, brief(st))
            check_children_are_workers(s.pid, st)
            ld.wait_ok(100, timeout=10)
            phase(ld, mark, "upgrade to a binary that never gets ready")
        finally:
            ld.stop()
        note("load: " + ld.summary())
        ld.assert_no_failures("2 failed upgrades", min_ok=200)
        s.wait_log(r"upgrade failed: the new master exited with status 1", timeout=1)
        s.wait_log(r"upgrade failed: the new master was not ready in time", timeout=1)
        st_code, _, body = http_get(s.port, "/")
        assert_hello(st_code, body)
    finally:
        for p in strays:                 # the sleep is in our group: ours to kill
            if alive(p) and harness.proc_pgid(p) == s.pid:
                os.kill(p, signal.SIGKILL)


# ---------------------------------------------------------------------------
# 4. reload with a bad config; reload whose new workers fail at boot

def get_v(port):
    st, h, body = http_get(port, "/v")
    return st, h.get("content-type", ""), body


@harness.timeout(60)
def test_reload_invalid_config_keeps_old_config():
    s = start_server(workers=2)
    st0 = settled(s.control, 2, generation=1)
    pids0 = sorted(p["pid"] for p in st0["processes"])
    code, ctype, body = get_v(s.port)
    assert code == 200 and body == JSON_HELLO, "GET /v (json handler) -> %d %r" % (code, body)
    changed_routes = [dict(r, handler="hello") if r["path"] == "/v" else r for r in ROUTES]
    cases = [
        # a bad value on line 3; the route table would change too
        ("a bad value", {"workers": "many"}, re.compile(
            r"%s:3:\d+: \"workers\".*many" % re.escape(s.config))),
        # valid JSON, a route naming no handler
        ("an unknown handler", {"routes": [dict(r, handler="nosuch") if r["path"] == "/v" else r
                                        for r in ROUTES]},
         re.compile(r"%s:\d+:\d+: .*nosuch" % re.escape(s.config))),
    ]
    ld = start_load(s)
    try:
        for what, change, want in cases:
            mark = ld.counts()
            kw = {"workers": 2, "routes": changed_routes}
            kw.update(change)
            write_config(s.config, s.port, **kw)
            rc, out, err = ctl(s.control, "reload")
            assert rc == 1, "reload with %s: exit %d, expected 1; stdout %r stderr %r" % (
                what, rc, out, err)
            assert want.search(err), "reload with %s: stderr %r does not match %r" % (
                what, err.strip(), want.pattern)
            st = settled(s.control, 2, generation=1)
            assert sorted(p["pid"] for p in st["processes"]) == pids0, \
                "workers changed after a rejected reload: %s -> %s" % (pids0, brief(st))
            code, ctype, body = get_v(s.port)
            assert code == 200 and body == JSON_HELLO and "json" in ctype, \
                "after a rejected reload (%s) GET /v -> %d %s %r; the old route table " \
                "(json) should still be in force" % (what, code, ctype, body)
            ld.wait_ok(100, timeout=10)
            phase(ld, mark, "reload with %s" % what)
        # the same change in a valid file does take effect
        mark = ld.counts()
        write_config(s.config, s.port, workers=2, routes=changed_routes)
        rc, out, err = ctl(s.control, "reload")
        assert rc == 0, "reload of the corrected file: exit %d, stderr %r" % (rc, err)
        settled(s.control, 2, generation=2)
        code, ctype, body = get_v(s.port)
        assert code == 200 and body == HELLO, \
            "after a good reload GET /v -> %d %r, expected the hello handler" % (code, body)
        ld.wait_ok(100, timeout=10)
        phase(ld, mark, "reload of the corrected file")
    finally:
        ld.stop()
    note("load: " + ld.summary())
    ld.assert_no_failures("2 rejected reloads and a good one", min_ok=300)
    s.wait_log(r"still serving generation 1 unchanged", timeout=1)


@harness.timeout(60)
def test_reload_whose_workers_fail_at_boot_rolls_back():
    d = harness.tmpdir()
    notso = os.path.join(d, "app.so")
    with open(notso, "w") as f:
        f.write("this is not a shared object\n")
    modules = [{"name": "app", "path": notso}]
    probe = os.path.join(d, "probe.json")
    write_config(probe, harness.free_port(), extra={"modules": modules})
    rc, out, err = run_cli(["--check", "-c", probe])
    if rc == 2 and 'unknown key "modules"' in err:
        raise Skip("this binary has no application modules yet (--check: %s)" % err.strip())
    # --check loads the module (in its own process) and says why it cannot;
    # the master does not (the reload below is accepted, its workers fail)
    assert rc == 2 and "modules[0].path: %s: not a shared object" % notso in err, \
        "--check of a config with a module that is no shared object: exit %d, " \
        "stderr %r" % (rc, err)

    s = start_server(workers=2)
    st0 = settled(s.control, 2, generation=1)
    pids0 = sorted(p["pid"] for p in st0["processes"])
    ld = start_load(s)
    try:
        write_config(s.config, s.port, workers=2, extra={"modules": modules})
        t0 = time.monotonic()
        rc, out, err = ctl(s.control, "reload")
        took = time.monotonic() - t0
        assert rc == 1, "reload whose workers cannot load %s: exit %d; stdout %r stderr %r" % (
            notso, rc, out, err)
        assert "rolled back" in err, "stderr %r does not say the reload was rolled back" % err
        st = settled(s.control, 2, generation=1)
        assert sorted(p["pid"] for p in st["processes"]) == pids0, \
            "workers changed after a rolled-back reload: %s -> %s" % (pids0, brief(st))
        check_children_are_workers(s.pid, st)
        ld.wait_ok(200, timeout=10)
    finally:
        ld.stop()
    note("rolled back after %.2fs; load: %s" % (took, ld.summary()))
    ld.assert_no_failures("a reload whose new workers fail at boot", min_ok=200)
    s.wait_log(r"reload failed: .*rolled back, generation 1 still serving", timeout=1)


# ---------------------------------------------------------------------------
# 5. scale up and down under load

@harness.timeout(60)
def test_scale_4_1_2_under_load():
    s = start_server(workers=2, args=["--graceful-timeout", "10"])
    settled(s.control, 2, generation=1)
    ld = start_load(s)
    try:
        for n in (4, 1, 2):
            mark = ld.counts()
            t0 = time.monotonic()
            rc, out, err = ctl(s.control, "scale", str(n))
            took = time.monotonic() - t0
            assert rc == 0, "scale %d: exit %d, stderr %r" % (n, rc, err)
            assert "scaled to %d workers" % n in out, "scale %d printed %r" % (n, out)
            st = status(s.control)
            assert st["workers"] == n, "status right after `scale %d`: %s" % (n, brief(st))
            st = settled(s.control, n, generation=1)
            assert [sl["slot"] for sl in st["slots"]] == list(range(n)), \
                "slots after scale %d: %s" % (n, st["slots"])
            assert not any(sl["retiring"] for sl in st["slots"]), "retiring slots left: %s" % (
                st["slots"],)
            check_children_are_workers(s.pid, st)
            ld.wait_ok(100, timeout=10)
            note("scale %d took %.2fs: %s" % (n, took, brief(st)))
            phase(ld, mark, "scale to %d" % n)
    finally:
        ld.stop()
    note("load: " + ld.summary())
    ld.assert_no_failures("scale 4, 1, 2", min_ok=300)


@harness.timeout(60)
def test_reload_changing_worker_count_under_load():
    """A reload that changes "workers" (3 -> 1 -> 2): the slots that go away
    are steered off and retired (their queues served) like a scale-down, the
    new ones get sockets; 0 failures, and the sockets of retired slots are
    closed afterwards (each worker holds exactly one listening socket)."""
    s = start_server(workers=3, args=["--graceful-timeout", "10"])
    settled(s.control, 3, generation=1)
    ld = start_load(s)
    try:
        for gen, n in ((2, 1), (3, 2)):
            mark = ld.counts()
            write_config(s.config, s.port, n)
            rc, out, err = ctl(s.control, "reload")
            assert rc == 0, "reload to %d workers: exit %d, stderr %r" % (n, rc, err)
            st = settled(s.control, n, generation=gen)
            assert [sl["slot"] for sl in st["slots"]] == list(range(n)), st["slots"]
            check_children_are_workers(s.pid, st)
            ld.wait_ok(100, timeout=10)
            phase(ld, mark, "reload to %d workers" % n)
    finally:
        ld.stop()
    listening = [r for r in harness.tcp_table()
                 if r.state == harness.TCP_LISTEN and r.local_port == s.port]
    assert len(listening) == 2, "listening sockets on the port: %d, expected 2" % len(listening)
    note("load: " + ld.summary())
    ld.assert_no_failures("reloads 3 -> 1 -> 2 workers", min_ok=200)


# ---------------------------------------------------------------------------
# 6. a slow upload in flight across a reload

@harness.timeout(60)
def test_slow_upload_across_reload_completes():
    s = start_server(workers=2, args=["--graceful-timeout", "10"])
    st0 = settled(s.control, 2, generation=1)
    gen1 = {p["pid"] for p in st0["processes"]}
    pieces = [("piece %02d of the slow upload;" % i).ljust(64, ".").encode() for i in range(20)]
    payload = b"".join(pieces)
    ld = start_load(s)
    c = None
    try:
        c = RawConn(s.port, timeout=10)
        c.send(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
               b"Content-Length: %d\r\n\r\n" % len(payload))
        holder = wait_until(lambda: server_pid_for_client_port(c.local_port, list(gen1), s.port),
                            3, 0.01, "a worker to accept the upload")
        t0 = time.monotonic()
        reloaded = None
        for i, piece in enumerate(pieces):
            c.send(piece)
            if i == 9:
                rc, out, err = ctl(s.control, "reload")
                assert rc == 0, "reload during the upload: exit %d, stderr %r" % (rc, err)
                st = status(s.control)
                reloaded = st
                mine = [p for p in st["processes"] if p["pid"] == holder]
                assert mine and mine[0]["state"] == "draining" and mine[0]["generation"] == 1, \
                    "the worker %d holding the upload is not draining after the reload: %s" % (
                        holder, brief(st))
            time.sleep(0.1)
        code, h, body = c.recv_response(timeout=10)
        took = time.monotonic() - t0
    finally:
        if c is not None:
            c.close()
        ld.stop()
    note("upload held by pid %d (generation 1) over %.2fs; after the reload: %s"
         % (holder, took, brief(reloaded)))
    assert code == 200, "slow upload across a reload -> %d %r" % (code, body[:300])
    try:
        echo = json.loads(body)
    except ValueError:
        raise AssertionError("echo answered no JSON: %r" % body[:300])
    assert echo.get("body_length") == len(payload), "body_length %s, sent %d" % (
        echo.get("body_length"), len(payload))
    assert echo.get("body", "").encode() == payload, "echoed body differs from the upload"
    note("response Connection: %s, body_length %d" % (h.get("connection"), echo["body_length"]))
    note("load: " + ld.summary())
    ld.assert_no_failures("a reload with a slow upload in flight", min_ok=200)
    st = settled(s.control, 2, generation=2)
    wait_gone([holder], 5, "the drained worker %d" % holder)
    check_children_are_workers(s.pid, st)


# ---------------------------------------------------------------------------
# 7. status --json: draining, crash-looping (generations: test 1)

@harness.timeout(60)
def test_status_shows_draining_generation_and_queues_next_reload():
    s = start_server(workers=2, args=["--graceful-timeout", "10"])
    st0 = settled(s.control, 2, generation=1)
    gen1 = {p["pid"] for p in st0["processes"]}
    c = RawConn(s.port, timeout=10)
    second = {}
    t = None
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")     # head without its final CRLF
        holder = wait_until(lambda: server_pid_for_client_port(c.local_port, list(gen1), s.port),
                            3, 0.01, "a worker to accept the slow request")
        rc, out, err = ctl(s.control, "reload")
        assert rc == 0, "reload: exit %d, stderr %r" % (rc, err)
        st = status(s.control)
        note("during the drain: " + brief(st))
        assert st["generation"] == 2 and st["draining"] == 1, \
            "status during the old generation's drain: %s" % brief(st)
        by_pid = {p["pid"]: p for p in st["processes"]}
        assert holder in by_pid and by_pid[holder]["state"] == "draining" \
            and by_pid[holder]["generation"] == 1, \
            "worker %d (holding a request) not listed as a draining generation-1 process: %s" % (
                holder, brief(st))
        new = [p for p in st["processes"] if p["generation"] == 2]
        assert len(new) == 2 and all(p["state"] == "serving" for p in new), \
            "generation 2 is not serving on 2 workers: %s" % brief(st)

        # a second reload waits for the drain to end
        def run():
            second["r"] = ctl(s.control, "reload")
            second["at"] = time.monotonic()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        time.sleep(0.7)
        assert "r" not in second, "a second reload finished while generation 1 still drained: " \
                                  "%r" % (second["r"],)
        st = status(s.control)
        assert st["generation"] == 2 and any(p["pid"] == holder for p in st["processes"]), \
            "while the second reload waits: %s" % brief(st)

        released = time.monotonic()
        c.send(b"\r\n")
        code, h, body = c.recv_response(timeout=5)
        assert_hello(code, body, "the request in flight across the reload")
        assert h.get("connection", "").lower() == "close", \
            "a draining worker's answer has Connection: %r, expected close" % h.get("connection")
        t.join(15)
        assert "r" in second, "the queued reload did not return within 15s of the drain's end"
        rc, out, err = second["r"]
        assert rc == 0 and "generation 3" in out, "queued reload: exit %d %r %r" % (rc, out, err)
        assert second["at"] >= released, "the queued reload returned before the drain ended"
    finally:
        c.close()
    st = settled(s.control, 2, generation=3)
    wait_gone(gen1, 5, "generation 1")
    check_children_are_workers(s.pid, st)
    assert st["draining"] == 0


@harness.timeout(60)
def test_status_shows_crash_looping_slot():
    s = start_server(workers=2, args=["--respawn-delay-max", "1", "--worker-timeout", "60"])
    st = settled(s.control, 2, generation=1)
    slot1 = [sl["pid"] for sl in st["slots"] if sl["slot"] == 1][0]
    cur = [sl["pid"] for sl in st["slots"] if sl["slot"] == 0][0]
    looping, kills = None, 0
    dl = deadline(40)
    for kills in range(1, 21):
        s.wait_log(r"worker 0 \(pid %d\) ready" % cur, timeout=max(0.1, remaining(dl)))
        os.kill(cur, signal.SIGKILL)
        wait_gone([cur], 3, "killed worker %d" % cur)

        def next_pid():
            st = status(s.control)
            sl0 = [sl for sl in st["slots"] if sl["slot"] == 0][0]
            return st if sl0["pid"] not in (0, cur) and alive(sl0["pid"]) else None
        st = wait_until(next_pid, max(0.1, remaining(dl)), 0.02, "a new worker in slot 0")
        sl0 = [sl for sl in st["slots"] if sl["slot"] == 0][0]
        cur = sl0["pid"]
        if sl0["crash_looping"]:
            looping = st
            break
    note("crash_looping after %d kills: %s; slots %s" % (kills, brief(looping or st), st["slots"]))
    assert looping is not None, "slot 0 not reported crash_looping after %d quick kills: %s" % (
        kills, st["slots"])
    sl = {x["slot"]: x for x in looping["slots"]}
    assert sl[0]["restarts"] >= kills, "slot 0 restarts %d after %d kills" % (
        sl[0]["restarts"], kills)
    assert not sl[1]["crash_looping"] and sl[1]["pid"] == slot1, \
        "slot 1 affected by slot 0's crash loop: %s" % sl[1]
    procs0 = [p for p in looping["processes"] if p["slot"] == 0]
    assert procs0 and all(p["crash_looping"] for p in procs0), \
        "slot 0's process not marked crash_looping: %s" % procs0
    s.wait_log(r"slot 0 is crash-looping", timeout=1)
    code, _, body = http_get(s.port, "/")
    assert_hello(code, body, "GET / with slot 0 crash-looping")


# ---------------------------------------------------------------------------
# Prometheus metrics across reloads

def scrape(port):
    st, h, body = http_get(port, "/metrics")
    assert st == 200, "/metrics -> %d" % st
    assert h.get("content-type", "").startswith("text/plain"), h
    values = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


@harness.timeout(60)
def test_metrics_counters_never_go_backwards_across_reloads():
    """The metrics handler: Prometheus text with per-worker lines and totals
    that include exited workers, so shoal_requests_total only grows across
    reloads (the old generation's counts are folded in when it exits)."""
    routes = ROUTES + [{"path": "/metrics", "handler": "metrics"}]
    s = start_server(workers=2, routes=routes, args=["--graceful-timeout", "10"])
    settled(s.control, 2, generation=1)
    for _ in range(50):
        assert http_get(s.port, "/")[0] == 200
    m1 = scrape(s.port)
    assert m1["shoal_workers"] == 2, m1
    assert m1["shoal_requests_total"] >= 50, m1
    assert m1['shoal_responses_total{class="2xx"}'] >= 50, m1
    up = [k for k in m1 if k.startswith("shoal_worker_up{")]
    assert sorted(up) == ['shoal_worker_up{slot="0"}', 'shoal_worker_up{slot="1"}'] and \
        all(m1[k] == 1 for k in up), up
    info = [k for k in m1 if k.startswith("shoal_worker_info{")]
    assert len(info) == 2 and all('generation="1"' in k for k in info), info
    last = m1["shoal_requests_total"]
    for gen in (2, 3):
        rc, _, err = ctl(s.control, "reload")
        assert rc == 0, err
        settled(s.control, 2, generation=gen)
        for _ in range(10):
            assert http_get(s.port, "/")[0] == 200
        m = scrape(s.port)
        note("generation %d: requests_total %d (was %d)" % (gen, m["shoal_requests_total"], last))
        assert m["shoal_requests_total"] >= last + 10, (last, m)
        last = m["shoal_requests_total"]
        assert m["shoal_connections_accepted_total"] >= 60, m


# ---------------------------------------------------------------------------
# 8. the listener table's limit: a reload that would hold more addresses at
#    once than the master can is refused; the old generation keeps serving

LISTEN_LIMIT = 64       # CONFIG_MAX_LISTEN


def write_listen_config(path, ports, workers=2):
    # header_timeout: the test holds a request head open across two reloads
    # to keep generation 1 draining; under load that can outlast the
    # default 10 s, and a 408 would end the drain before the test does.
    cfg = {"listen": ["127.0.0.1:%d" % p for p in ports], "workers": workers,
           "routes": ROUTES, "header_timeout": 80}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2)
    os.rename(tmp, path)


def refused(port):
    """True if nothing listens on 127.0.0.1:port (the connect is refused)."""
    try:
        RawConn(port, timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def assert_all_serve(ports, what):
    bad = []
    for p in ports:
        try:
            code, _, body = http_get(p, "/", timeout=3)
            if code != 200 or body.strip() != HELLO:
                bad.append("%d: %d %r" % (p, code, body[:80]))
        except (OSError, ConnectionError) as e:
            bad.append("%d: %s" % (p, e))
    assert not bad, "%s: %d of %d addresses do not serve: %s" % (what, len(bad), len(ports), bad[:5])


@harness.timeout(90)
def test_reload_to_40_other_addresses_bounded_by_the_listener_limit():
    """A reload keeps every address the outgoing generation serves open until
    that generation has drained, so 40 addresses -> 40 others would hold 80
    at once, more than the 64 the master can: the reload is refused with a
    message naming the limit and the 40 still held, and nothing changes (this
    reload used to write past the end of the listener table). 40 -> 24 others
    makes exactly 64 and commits; the next reload, to all 40 others, waits
    while a request held open keeps generation 1 (and its 40 addresses)
    draining, then succeeds once it has gone: all 40 new addresses serve and
    the old ones are closed."""
    d = harness.tmpdir()
    ports = harness.free_ports(80)
    old, new = ports[:40], ports[40:]
    cfg = os.path.join(d, "shoal.json")
    ctl_path = os.path.join(d, "ctl.sock")
    write_listen_config(cfg, old)
    s = Shoal(["-c", cfg, "--control", ctl_path, "--graceful-timeout", "30"])
    s.ports = list(old)
    s.nworkers = 2
    s.control = ctl_path
    s.start()
    st0 = settled(ctl_path, 2, generation=1)
    gen1 = sorted(p["pid"] for p in st0["processes"])
    assert_all_serve(old, "generation 1")

    # 1. all 40 replaced at once: 40 held + 40 new = 80 > 64 -> refused
    write_listen_config(cfg, new)
    rc, out, err = ctl(ctl_path, "reload")
    assert rc == 1, "reload 40 -> 40 other addresses: exit %d, expected 1 (refused); " \
                    "stdout %r stderr %r" % (rc, out, err)
    want = re.compile(r"80 listen addresses.*limit of %d.*40 new.*40 .*held by generation 1"
                      % LISTEN_LIMIT)
    assert want.search(err), "refusal %r does not match %r" % (err.strip(), want.pattern)
    s.wait_log(r"reload: .*limit of %d.*still serving generation 1 unchanged" % LISTEN_LIMIT,
               timeout=2)
    st = settled(ctl_path, 2, generation=1)
    assert sorted(p["pid"] for p in st["processes"]) == gen1, \
        "workers changed after a refused reload: %s -> %s" % (gen1, brief(st))
    assert_all_serve(old, "after the refused reload")
    opened = [p for p in new if not refused(p)]
    assert not opened, "a refused reload left new addresses listening: %s" % opened

    # 2. 40 -> 24 others: 40 held + 24 new = exactly 64 -> commits; a request
    #    held open on an old address keeps generation 1 draining
    c = RawConn(old[0], timeout=10)
    second = {}
    t = None
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")     # head without its final CRLF
        holder = wait_until(lambda: server_pid_for_client_port(c.local_port, gen1, old[0]),
                            3, 0.01, "a worker to accept the slow request")
        write_listen_config(cfg, new[:24])
        rc, out, err = ctl(ctl_path, "reload")
        assert rc == 0 and "generation 2" in out, \
            "reload 40 -> 24 other addresses (64 at once): exit %d %r %r" % (rc, out, err)
        st = status(ctl_path)
        assert st["generation"] == 2 and st["draining"] == 1 and \
            any(p["pid"] == holder and p["state"] == "draining" for p in st["processes"]), \
            "generation 1 is not draining behind the held request: %s" % brief(st)
        assert_all_serve(new[:24], "generation 2")

        # 3. all 40 others: queued while generation 1 still holds its addresses
        write_listen_config(cfg, new)

        def run():
            second["r"] = ctl(ctl_path, "reload")
            second["at"] = time.monotonic()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        time.sleep(0.7)
        assert "r" not in second, "the reload to 40 addresses ran while generation 1 " \
                                  "still held its 40: %r" % (second["r"],)
        still = [p for p in new[24:] if not refused(p)]
        assert not still, "addresses of the waiting reload already listen: %s" % still

        released = time.monotonic()
        c.send(b"\r\n")
        code, h, body = c.recv_response(timeout=5)
        assert_hello(code, body, "the request held across the reload")
        t.join(20)
        assert "r" in second, "the queued reload did not return within 20s of the drain's end"
        rc, out, err = second["r"]
        assert rc == 0 and "generation 3" in out, \
            "reload to 40 other addresses once generation 1 had gone: exit %d %r %r" % (
                rc, out, err)
        assert second["at"] >= released, "the queued reload returned before the drain ended"
    finally:
        c.close()
        if t is not None:
            t.join(20)
    settled(ctl_path, 2, generation=3)
    assert_all_serve(new, "generation 3 on all 40 new addresses")
    wait_until(lambda: all(refused(p) for p in old), 5, 0.05,
               "the old addresses to be closed")
    s.wait_log(r"no longer listening on 127\.0\.0\.1:%d" % old[0], timeout=1)
