"""
What the workers may use: worker_cpu_affinity ("auto", and lists per
worker) as /proc/PID/status shows it, kept by a replaced worker; and
rlimit_nofile (default: the hard limit) as /proc/PID/limits shows it.

Each test_* function is one acceptance point; run with tests/integration/run.py.
"""

import os
import resource
import signal

import harness
from harness import Shoal, Skip, ctl, note, settled, wait_until


def cpus_allowed(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return expand(line.split(":", 1)[1].strip())
    return None


def expand(text):
    out = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def open_files_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None


@harness.timeout(30)
def test_cpu_affinity_auto():
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        raise Skip("one CPU: nothing to spread")
    with Shoal(["--worker-cpu-affinity", "auto"], workers=len(mine) + 1) as s:
        ws = s.wait_workers(len(mine) + 1)
        for slot, pid in ws.items():
            want = {mine[slot % len(mine)]}
            assert cpus_allowed(pid) == want, "worker %d on %s, expected %s" % (
                slot, cpus_allowed(pid), want)
        assert cpus_allowed(s.pid) == set(mine), "the master was pinned"
        note("workers on %s" % {k: sorted(cpus_allowed(v)) for k, v in ws.items()})
        # a replaced worker is pinned as its slot says
        os.kill(ws[1], signal.SIGKILL)
        w = wait_until(lambda: (lambda x: x if x.get(1) not in (None, ws[1]) else None)(
            s.workers()), 5, 0.05, "worker 1 replaced")
        assert cpus_allowed(w[1]) == {mine[1]}


@harness.timeout(30)
def test_cpu_affinity_lists():
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        raise Skip("one CPU")
    a, b = mine[0], mine[1]
    # worker k takes entry k mod 2: reversed order, then a range
    with Shoal(["--worker-cpu-affinity", str(b), "--worker-cpu-affinity", "%d-%d" % (a, b)],
               workers=3) as s:
        ws = s.wait_workers(3)
        assert cpus_allowed(ws[0]) == {b}, cpus_allowed(ws[0])
        assert cpus_allowed(ws[1]) == set(range(a, b + 1)), cpus_allowed(ws[1])
        assert cpus_allowed(ws[2]) == {b}, cpus_allowed(ws[2])
        # a reload without the key unpins the new generation
        rc, out, err = ctl(s.control, "reload")
        assert rc == 0, err
    with Shoal(workers=2) as s:
        for pid in s.wait_workers(2).values():
            assert cpus_allowed(pid) == set(mine), "pinned without worker_cpu_affinity"


@harness.timeout(30)
def test_rlimit_nofile_default_is_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    start_soft = min(1024, hard)
    with Shoal(workers=1, rlimits={resource.RLIMIT_NOFILE: (start_soft, hard)}) as s:
        pid = s.wait_workers(1)[0]
        assert open_files_limit(pid)[0] == hard, "worker limit %s, hard limit %d" % (
            open_files_limit(pid), hard)
        assert open_files_limit(s.pid)[0] == hard
    with Shoal(["--rlimit-nofile", "4096", "--max-connections", "1000"], workers=1) as s:
        pid = s.wait_workers(1)[0]
        assert open_files_limit(pid)[0] == 4096, open_files_limit(pid)
    note("hard limit %d" % hard)


@harness.timeout(30)
def test_rlimit_nofile_too_small_warns_at_start():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard >= 2000000:
        raise Skip("hard limit %d" % hard)
    with Shoal(["--max-connections", "1000000"], workers=1) as s:
        s.wait_log(r"warn: rlimit_nofile: the limit %d \(the hard limit\) is below "
                   r"max_connections 1000000 \+ 64" % hard, timeout=2)
