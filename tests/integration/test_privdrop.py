"""
Privilege drop: a master started as root runs its workers as "user" (and
"group"). Every worker's /proc/PID/status shows the target ids, no
capability is left, requests are served on TCP and on a Unix listener, the
access log and the log file are written by the workers, and a SIGUSR1
reopen after rotation works as that user. Errors: an unknown user, a
directory or static root the user cannot reach.

Each test_* function is one acceptance point; run with tests/integration/run.py.
Needs root (skipped otherwise) and the user "nobody" of every Debian system.
"""

import grp
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import time

import harness
from harness import Shoal, Skip, ctl, http_get, note, run_cli, settled, status, wait_until


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root (the master must be able to switch users)")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")


def proc_status(pid):
    """{field: value} of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def open_dir():
    """The test's temp dir, reachable by others (mkdtemp makes it 0700)."""
    d = harness.tmpdir()
    os.chmod(d, 0o755)
    return d


def unix_get(path, target="/healthz"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(path)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def check_worker_ids(pid, pw):
    st = proc_status(pid)
    want_groups = sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid)))
    uids, gids = st["Uid"].split(), st["Gid"].split()
    assert uids == [str(pw.pw_uid)] * 4, "worker %d Uid: %s, expected %d x4" % (pid, uids, pw.pw_uid)
    assert gids == [str(pw.pw_gid)] * 4, "worker %d Gid: %s, expected %d x4" % (pid, gids, pw.pw_gid)
    groups = sorted(int(g) for g in st["Groups"].split())
    assert groups == want_groups, "worker %d Groups: %s, expected %s" % (pid, groups, want_groups)
    # setuid(0) cannot work: not one capability is left
    for cap in ("CapPrm", "CapEff"):
        assert int(st[cap], 16) == 0, "worker %d %s %s" % (pid, cap, st[cap])
    return st


@harness.timeout(60)
def test_workers_run_as_user_and_serve():
    pw = need_root()
    d = open_dir()
    www = os.path.join(d, "www")
    os.mkdir(www)
    os.chmod(www, 0o755)
    with open(os.path.join(www, "a.txt"), "w") as f:
        f.write("static file\n")
    os.chmod(os.path.join(www, "a.txt"), 0o644)
    port = harness.free_port()
    sock = os.path.join(d, "http.sock")
    log, access = os.path.join(d, "shoal.log"), os.path.join(d, "access.log")
    cfg = {"listen": ["127.0.0.1:%d" % port, {"address": "unix:" + sock, "mode": "0666"}],
           "workers": 2, "user": "nobody", "log_file": log, "access_log": access,
           "control_socket": os.path.join(d, "ctl.sock"), "log_level": "debug",
           "routes": [{"path": "/healthz", "handler": "health"},
                      {"path": "/", "handler": "hello"},
                      {"path": "/static/", "match": "prefix", "handler": "static", "root": www}]}
    path = os.path.join(d, "shoal.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    rc, out, err = run_cli(["--check", "-c", path])
    assert rc == 0, "--check: %d %r" % (rc, err)
    s = Shoal(["-c", path], raw=True)
    s.ports, s.nworkers, s.control, s.log_path = [port], 2, cfg["control_socket"], log
    with s.start():
        ws = s.wait_workers(2)
        master = proc_status(s.pid)
        assert master["Uid"].split()[0] == "0", "the master is not root: %s" % master["Uid"]
        for slot, pid in ws.items():
            check_worker_ids(pid, pw)
        # served on TCP (a handler and a static file) and on the Unix socket
        st, _, body = http_get(port, "/")
        assert st == 200 and body == b"Hello, World!", (st, body)
        st, _, body = http_get(port, "/static/a.txt")
        assert st == 200 and body == b"static file\n", (st, body)
        data = unix_get(sock)
        assert data.startswith(b"HTTP/1.1 200"), data[:100]
        # the logs are the workers' (they reopen them by name)
        for p in (log, access):
            assert os.stat(p).st_uid == pw.pw_uid, "%s owned by uid %d" % (p, os.stat(p).st_uid)
        wait_until(lambda: b"/static/a.txt" in open(access, "rb").read(), 3, 0.05,
                   "the access log line")
        # rotation: move both files away, SIGUSR1; new files, the user's, written
        os.rename(access, access + ".1")
        os.rename(log, log + ".1")
        s.send_signal(signal.SIGUSR1)
        wait_until(lambda: os.path.exists(access) and os.path.exists(log), 3, 0.05,
                   "new log files after SIGUSR1")
        assert os.stat(access).st_uid == pw.pw_uid and os.stat(log).st_uid == pw.pw_uid

        def new_lines():
            http_get(port, "/?after-rotation")
            return b"after-rotation" in open(access, "rb").read()
        wait_until(new_lines, 5, 0.2, "requests in the new access log")
        assert b"reopen" not in open(access + ".1", "rb").read()
        assert "error" not in open(log).read(), open(log).read()
        # a replaced worker switches too; so does a reload's generation
        os.kill(ws[0], signal.SIGKILL)
        ws2 = wait_until(lambda: (lambda w: w if w.get(0) not in (None, ws[0]) else None)(
            s.workers()), 5, 0.05, "worker 0 replaced")
        check_worker_ids(ws2[0], pw)
        rc, out, err = ctl(s.control, "reload")
        assert rc == 0, err
        st = settled(s.control, 2, generation=2)
        for p in st["processes"]:
            check_worker_ids(p["pid"], pw)
        assert unix_get(sock).startswith(b"HTTP/1.1 200")
        note("workers: Uid %s" % proc_status(st["processes"][0]["pid"])["Uid"])


@harness.timeout(30)
def test_group_and_supplementary_groups():
    pw = need_root()
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        raise Skip("no group nogroup")
    with Shoal(["--user", "nobody", "--group", "nogroup"], workers=1) as s:
        pid = s.wait_workers(1)[0]
        st = proc_status(pid)
        assert st["Gid"].split() == [str(gid)] * 4, st["Gid"]
        assert sorted(int(g) for g in st["Groups"].split()) == \
            sorted(set(os.getgrouplist("nobody", gid))), st["Groups"]
        assert st["Uid"].split() == [str(pw.pw_uid)] * 4


@harness.timeout(30)
def test_unknown_user_fails_check_and_start():
    for args, want in ((["--user", "no-such-user-x"], '--user: no user "no-such-user-x"'),
                       (["--user", "nobody", "--group", "no-such-group-x"],
                        '--group: no group "no-such-group-x"'),
                       (["--group", "nogroup"], '--group: needs "user" too')):
        for mode in (["--check"], []):
            rc, out, err = run_cli(mode + args + ["--control", "null"])
            assert rc == 2, "%s: exit %d; %r" % (mode + args, rc, err)
            assert want in err, "%s: %r" % (mode + args, err)
    d = harness.tmpdir()
    with open(os.path.join(d, "u.json"), "w") as f:
        f.write('{\n  "user": "nbody"\n}\n')
    rc, out, err = run_cli(["--check", "-c", os.path.join(d, "u.json")])
    assert rc == 2 and 'u.json:2:3: "user": no user "nbody"' in err, err


@harness.timeout(30)
def test_user_cannot_reach_paths_fails_check():
    need_root()
    d = open_dir()
    private = os.path.join(d, "private")
    os.mkdir(private)
    os.chmod(private, 0o700)
    # a log the user cannot reach
    rc, out, err = run_cli(["--check", "--user", "nobody", "--control", "null",
                            "--access-log", os.path.join(private, "a.log")])
    assert rc == 2 and "not searchable by user nobody" in err, (rc, err)
    # a static root the user cannot read
    www = os.path.join(private, "www")
    os.mkdir(www)
    cfg = os.path.join(d, "s.json")
    with open(cfg, "w") as f:
        json.dump({"user": "nobody", "control_socket": None,
                   "routes": [{"path": "/s/", "match": "prefix", "handler": "static",
                               "root": www}]}, f)
    rc, out, err = run_cli(["--check", "-c", cfg])
    assert rc == 2 and "cannot be read by user nobody" in err and "routes[0].root" in err, \
        (rc, err)
    # the same start fails before binding anything, with the same message
    port = harness.free_port()
    rc2, out2, err2 = run_cli(["-c", cfg, "--listen", "127.0.0.1:%d" % port])
    assert rc2 == 1 and err.strip() in err2, (rc2, err2)
    assert not harness.port_in_use(port)
    # as root (no user) it is fine
    with open(cfg, "w") as f:
        json.dump({"control_socket": None, "routes": [
            {"path": "/s/", "match": "prefix", "handler": "static", "root": www}]}, f)
    rc, out, err = run_cli(["--check", "-c", cfg])
    assert rc == 0, err


@harness.timeout(30)
def test_switching_users_needs_root():
    pw = need_root()
    # a master started as nobody cannot make its workers root
    p = subprocess.run([harness.binary(), "--check", "--user", "root", "--control", "null"],
                       capture_output=True, timeout=10, cwd="/",
                       preexec_fn=lambda: (os.setgid(pw.pw_gid), os.setgroups([]),
                                           os.setuid(pw.pw_uid)))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert b'the workers can run as "root" only if the master starts as root' in p.stderr, p.stderr
