"""
`shoal --check` is `nginx -t`: whatever would make a start fail makes the
check fail (exit 2) with the same message, and the start then fails with
it before anything is bound (exit 1). Files are opened as the start opens
them, never truncated. And a start whose workers all fail at boot exits 1
with their reason instead of retrying for ever.

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import time

import harness
from harness import Shoal, Skip, note, run_cli


def both(args, want):
    """--check and a start with args: both fail with want; the start binds nothing."""
    port = harness.free_port()
    full = args + ["--listen", "127.0.0.1:%d" % port]
    rc, out, err = run_cli(["--check"] + full)
    assert rc == 2, "--check %s: exit %d, expected 2; stderr %r" % (" ".join(args), rc, err)
    assert want in err, "--check %s: stderr %r lacks %r" % (" ".join(args), err, want)
    rc2, out2, err2 = run_cli(full, timeout=10)
    assert rc2 == 1, "start %s: exit %d, expected 1; stderr %r" % (" ".join(args), rc2, err2)
    line = err.strip().splitlines()[-1]
    assert line in err2, "the start says %r, --check said %r" % (err2[-300:], line)
    assert "listening on" not in err2, "the start bound before failing: %r" % err2[-500:]
    assert not harness.port_in_use(port), "port %d still in use" % port
    note("%s -> %s" % (" ".join(args), line))


@harness.timeout(30)
def test_pid_file_in_missing_directory():
    d = harness.tmpdir()
    both(["--pid-file", os.path.join(d, "no", "such", "shoal.pid"), "--control", "null"],
         "pid_file %s: directory %s: No such file or directory" % (
             os.path.join(d, "no", "such", "shoal.pid"), os.path.join(d, "no", "such")))


@harness.timeout(30)
def test_logs_that_cannot_be_opened():
    d = harness.tmpdir()
    both(["--access-log", os.path.join(d, "missing", "access.log"), "--control", "null"],
         "access_log %s: No such file or directory" % os.path.join(d, "missing", "access.log"))
    both(["--access-log", d, "--control", "null"], "access_log %s: Is a directory" % d)
    both(["--log-file", os.path.join(d, "missing", "shoal.log"), "--control", "null"],
         "log_file %s: No such file or directory" % os.path.join(d, "missing", "shoal.log"))


@harness.timeout(30)
def test_socket_directories_must_exist():
    d = harness.tmpdir()
    both(["--control", os.path.join(d, "nodir", "ctl.sock")],
         "control_socket %s: directory" % os.path.join(d, "nodir", "ctl.sock"))
    # a Unix listener in a missing directory
    sock = os.path.join(d, "nodir", "http.sock")
    rc, out, err = run_cli(["--check", "--listen", "unix:" + sock, "--control", "null"])
    assert rc == 2 and "listen %s: directory" % sock in err, (rc, err)


@harness.timeout(30)
def test_check_never_truncates_and_creates_like_a_start():
    d = harness.tmpdir()
    access, log = os.path.join(d, "access.log"), os.path.join(d, "shoal.log")
    with open(access, "w") as f:
        f.write("an old line\n" * 100)
    before = os.path.getsize(access)
    rc, out, err = run_cli(["--check", "--access-log", access, "--log-file", log,
                            "--control", "null"])
    assert rc == 0, err
    assert os.path.getsize(access) == before, "--check changed the access log"
    assert os.path.exists(log) and os.path.getsize(log) == 0, "--check did not create the log"
    assert "is valid" in out


@harness.timeout(30)
def test_cpus_and_limits_checked():
    n = len(os.sched_getaffinity(0))
    bad = max(os.sched_getaffinity(0)) + 1
    rc, out, err = run_cli(["--check", "--worker-cpu-affinity", str(bad), "--control", "null"])
    assert rc == 2 and "worker_cpu_affinity[0]: CPU %d is not among the CPUs" % bad in err, err
    rc, out, err = run_cli(["--check", "--rlimit-nofile", "1000", "--control", "null"])
    assert rc == 2 and "--rlimit-nofile: 1000 is too small for max_connections 10000" in err, err
    # "auto" below what a worker may need is a warning, not an error
    rc, out, err = run_cli(["--check", "--max-connections", "1000000", "--control", "null"])
    assert rc == 0 and "warning: rlimit_nofile: the limit" in err, (rc, err)
    note("%d CPUs; %s" % (n, err.strip()))


@harness.timeout(30)
def test_workers_that_cannot_boot_make_the_start_fail():
    """Every worker fails at boot (a module that is no shared object): the
    master gives up after 3 tries per slot and exits 1, saying why."""
    d = harness.tmpdir()
    notso = os.path.join(d, "app.so")
    with open(notso, "w") as f:
        f.write("not a shared object\n")
    cfg = os.path.join(d, "bad.json")
    port = harness.free_port()
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:%d" % port], "workers": 2, "control_socket": None,
                   "respawn_delay_max": 1, "modules": [{"name": "app", "path": notso}],
                   "routes": [{"path": "/", "handler": "hello"}]}, f)
    s = Shoal(["-c", cfg], raw=True)
    s.start(wait=False)
    t0 = time.monotonic()
    rc = s.wait_exit(15)
    took = time.monotonic() - t0
    assert rc == 1, "exit status %s, expected 1" % rc
    text = s.log_text()
    assert "cannot start: every worker failed at boot 3 times in a row" in text, s.log_tail()
    assert "modules[0].path: %s" % notso in text.split("cannot start:", 1)[1], \
        "the reason does not name the module: %s" % s.log_tail(5)
    assert not harness.port_in_use(port)
    note("gave up after %.2fs" % took)


@harness.timeout(40)
def test_workers_failing_after_a_good_start_are_retried():
    """Once a worker has been ready, boot failures are a crash loop, retried
    (the master never exits for them): a module removed after start."""
    d = harness.tmpdir()
    copy = harness.greeting_module(os.path.join(d, "greeting.so"))
    cfg = os.path.join(d, "m.json")
    port = harness.free_port()
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:%d" % port], "workers": 1,
                   "control_socket": os.path.join(d, "c.sock"), "respawn_delay_max": 0.2,
                   "modules": [{"name": "app", "path": copy}],
                   "routes": [{"path": "/healthz", "handler": "health"}]}, f)
    s = Shoal(["-c", cfg, "--log-level", "debug"], raw=True)
    s.ports, s.nworkers = [port], 1
    with s.start():
        os.unlink(copy)
        os.kill(s.wait_workers(1)[0], 9)
        s.wait_log(r"slot 0 is crash-looping", timeout=10)
        assert s.running(), "the master exited after its workers had served"
        assert "cannot start: every worker" not in s.log_text()


@harness.timeout(30)
def test_reload_makes_the_same_checks():
    """A reload to a file a start would refuse is refused the same way, and
    the old generation keeps serving."""
    d = harness.tmpdir()
    port = harness.free_port()
    path = os.path.join(d, "r.json")
    ctl_path = os.path.join(d, "c.sock")
    good = {"listen": ["127.0.0.1:%d" % port], "workers": 1, "control_socket": ctl_path}
    with open(path, "w") as f:
        json.dump(good, f)
    s = Shoal(["-c", path, "--log-level", "debug"], raw=True)
    s.ports, s.nworkers, s.control = [port], 1, ctl_path
    with s.start():
        bad = dict(good, access_log=os.path.join(d, "missing", "a.log"))
        with open(path, "w") as f:
            json.dump(bad, f)
        rc, out, err = harness.ctl(ctl_path, "reload")
        assert rc == 1, (rc, out, err)
        assert "access_log %s: No such file or directory" % bad["access_log"] in err, err
        st = harness.settled(ctl_path, 1, generation=1)
        assert harness.http_get(port, "/healthz")[0] == 200
