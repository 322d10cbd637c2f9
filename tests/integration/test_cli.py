"""
The command line as an operator meets it: options before or after the
command, strict numbers, --help of every command, a help that lists every
key, `--control null`, `shoal reopen`, SIGTTOU at one worker, and process
titles (what ps shows).

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import json
import os
import re
import signal
import time

import harness
from harness import Shoal, ctl, http_get, note, run_cli, status, wait_until

COMMANDS = ("status", "reload", "upgrade", "scale", "reopen", "stop")


def config_file(port, extra=None, name="shoal.json"):
    """A config file in the test's dir with its own control socket."""
    d = harness.tmpdir()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "control_socket": os.path.join(d, "ctl.sock"), "log_level": "debug"}
    cfg.update(extra or {})
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path, cfg


def start_on_file(path, cfg, workers=1):
    s = Shoal(["-c", path], raw=True)
    s.ports = [int(cfg["listen"][0].rsplit(":", 1)[1])]
    s.nworkers = workers
    s.control = cfg.get("control_socket")
    return s.start()


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        raw = f.read()
    return " ".join(p.decode("utf-8", "replace") for p in raw.split(b"\0") if p)


# ---------------------------------------------------------------------------

@harness.timeout(30)
def test_options_before_or_after_the_command():
    path, cfg = config_file(harness.free_port())
    with start_on_file(path, cfg) as s:
        for args in (["-c", path, "status"], ["status", "-c", path],
                     ["--json", "status", "--config", path],
                     ["status", "--control", cfg["control_socket"], "--timeout", "5"]):
            rc, out, err = run_cli(args)
            assert rc == 0, "shoal %s: exit %d, stderr %r" % (" ".join(args), rc, err)
            assert str(s.pid) in out, "shoal %s does not show the master's pid: %r" % (
                " ".join(args), out[:300])
        # the server side takes its options anywhere too
        rc, out, err = run_cli(["-c", path, "--check", "--workers", "2"])
        assert rc == 0, "--check after -c: exit %d %r" % (rc, err)


@harness.timeout(30)
def test_strict_numbers_exit_2():
    path, cfg = config_file(harness.free_port())
    with start_on_file(path, cfg) as s:
        for args, want in ((["scale", "2x"], 'scale: expected a worker count from 1 to 512, got "2x"'),
                           (["scale", "0"], 'got "0"'),
                           (["scale", "2", "3"], "unexpected argument '3'"),
                           (["status", "--timeout", "abc"],
                            '--timeout: expected a number of seconds above 0, at most 86400, '
                            'got "abc"'),
                           (["status", "--timeout", "-1"], "--timeout: expected")):
            rc, out, err = run_cli(args + ["-c", path])
            assert rc == 2, "shoal %s: exit %d, expected 2; stderr %r" % (" ".join(args), rc, err)
            assert want in err, "shoal %s: stderr %r lacks %r" % (" ".join(args), err, want)
            note("%s -> %s" % (" ".join(args), err.strip().splitlines()[0]))
        # nothing was scaled by any of them
        st = status(cfg["control_socket"])
        assert st["workers"] == 1 and st["generation"] == 1, harness.brief(st)


@harness.timeout(30)
def test_every_command_has_help_exit_0():
    for cmd in COMMANDS:
        for args in ([cmd, "--help"], ["--help", cmd], [cmd, "-h"]):
            rc, out, err = run_cli(args)
            assert rc == 0, "shoal %s: exit %d, stderr %r" % (" ".join(args), rc, err)
            assert out.startswith("usage: shoal %s" % cmd), "shoal %s: %r" % (" ".join(args),
                                                                         out[:200])
            assert "--timeout SEC" in out and "--control PATH" in out, out
    rc, out, err = run_cli(["scale", "--help"])
    assert "scale N" in out
    rc, out, err = run_cli(["stop", "--help"])
    assert "--fast" in out
    rc, out, err = run_cli(["status", "--help"])
    assert "--json" in out
    rc, out, err = run_cli(["upgrade", "--help"])
    assert "--binary PATH" in out


def readme_keys():
    """The keys of the README's configuration table."""
    with open(os.path.join(harness.repo_root(), "README.md")) as f:
        text = f.read()
    table = text.split("| key | default | meaning |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", table, re.M)


@harness.timeout(20)
def test_help_lists_every_option():
    rc, out, err = run_cli(["--help"])
    assert rc == 0
    keys = readme_keys()
    assert len(keys) > 30, "README table parsed to %s" % keys
    missing = []
    for k in keys:
        if k in ("routes", "modules", "redis", "channels"):
            if k not in out:
                missing.append(k)
            continue
        flag = "--" + k.replace("_", "-")
        if not re.search(r"^\s+%s " % re.escape(flag), out, re.M):
            missing.append(flag)
    for opt in ("status [--json]", "stop [--fast]", "upgrade [--binary PATH]", "--timeout SEC",
                "--control PATH", "reopen", "--check", "--version"):
        if opt not in out:
            missing.append(opt)
    assert not missing, "--help does not list %s" % missing
    # and the other way: every flag --help lists is a key of the README
    flags = re.findall(r"^  --([a-z-]+) ", out.split("Configuration:", 1)[1], re.M)
    unknown = [f for f in flags if f != "control" and f.replace("-", "_") not in keys]
    assert not unknown, "flags in --help but not in the README's table: %s" % unknown
    note("%d README keys, all in --help; %d flags, all in the README" % (len(keys), len(flags)))


@harness.timeout(30)
def test_control_null_means_no_socket():
    d = harness.tmpdir()
    port = harness.free_port()
    s = Shoal(["--listen", "127.0.0.1:%d" % port, "--workers", "1", "--control", "null",
               "--log-level", "debug"], raw=True, cwd=d)
    s.ports = [port]
    s.nworkers = 1
    with s.start():
        st, _, body = http_get(port, "/healthz")
        assert st == 200
        assert not os.path.exists(os.path.join(d, "null")), "a socket file ./null was created"
        assert "control socket" not in s.log_text(), "the log names a control socket"
    # the file's null does the same
    path, cfg = config_file(harness.free_port(), {"control_socket": None})
    with start_on_file(path, cfg) as s2:
        assert not os.path.exists(os.path.join(d, "null"))
        rc, out, err = run_cli(["status", "-c", path])
        assert rc == 2 and "sets no control_socket" in err, (rc, err)


@harness.timeout(30)
def test_reopen_command_reopens_logs():
    d = harness.tmpdir()
    log, access = os.path.join(d, "shoal.log"), os.path.join(d, "access.log")
    path, cfg = config_file(harness.free_port(), {"log_file": log, "access_log": access})
    with start_on_file(path, cfg) as s:
        s.log_path = log
        port = s.port
        assert http_get(port, "/healthz")[0] == 200
        wait_until(lambda: os.path.exists(access) and os.path.getsize(access) > 0, 3, 0.05,
                   "the access log to be written")
        os.rename(log, log + ".1")
        os.rename(access, access + ".1")
        workers = list(s.wait_workers().values())
        rc, out, err = ctl(cfg["control_socket"], "reopen")
        assert rc == 0 and "log files reopened" in out, (rc, out, err)
        wait_until(lambda: os.path.exists(log), 3, 0.05, "a new log file")
        # The workers reopen theirs on the signal the master sends, after
        # the master's answer: a request before that is rightly logged in
        # access.log.1. Wait until no worker holds a rotated file open
        # (but as its stdout and stderr, which the harness points at the
        # log file too, and which are not reopened).
        def rotated_open():
            held = set()
            for pid in workers:
                for fd in os.listdir("/proc/%d/fd" % pid):
                    if int(fd) <= 2:
                        continue
                    try:
                        held.add(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                    except OSError:
                        pass
            return held & {log + ".1", access + ".1"}
        wait_until(lambda: not rotated_open(), 5, 0.02, "the workers to reopen their logs")
        assert http_get(port, "/json")[0] == 200
        wait_until(lambda: os.path.exists(access) and b"/json" in open(access, "rb").read(),
                   5, 0.05, "the request in the new access log")
        with open(log) as f:
            assert "reopen (control socket): log files reopened" in f.read()
        assert b"/json" not in open(access + ".1", "rb").read()


@harness.timeout(30)
def test_sigttou_at_one_worker_logs_why():
    with Shoal(workers=1) as s:
        s.send_signal(signal.SIGTTOU)
        s.wait_log(r"SIGTTOU ignored: 1 worker is the minimum", timeout=3)
        st = status(s.control)
        assert st["workers"] == 1
        # and TTIN still works after it
        s.send_signal(signal.SIGTTIN)
        harness.settled(s.control, 2, timeout=10)


@harness.timeout(30)
def test_process_titles():
    d = harness.tmpdir()
    with Shoal(workers=2) as s:
        ws = s.wait_workers(2)
        title = cmdline(s.pid)
        assert title.startswith("shoal: master "), "master cmdline %r" % title
        assert "--workers 2" in title, "the master's title lacks its command line: %r" % title
        assert harness.comm(s.pid) == "shoal master"
        for slot, pid in ws.items():
            t = cmdline(pid)
            assert t == "shoal: worker %d (generation 1)" % slot, "worker %d cmdline %r" % (slot, t)
        # a reload shows the new generation
        rc, out, err = ctl(s.control, "reload")
        assert rc == 0, err
        st = harness.settled(s.control, 2, generation=2)
        for p in st["processes"]:
            assert cmdline(p["pid"]) == "shoal: worker %d (generation 2)" % p["slot"]
        # the environment still reaches the workers (it was moved, not lost)
        with open("/proc/%d/environ" % st["processes"][0]["pid"], "rb") as f:
            env = f.read()
        note("master: %s" % title)
