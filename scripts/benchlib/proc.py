"""What scripts/bench reads from the system: process trees, their CPU time and memory,
ports, pinning, limits, tool versions; and the build of its two C helpers."""

import os
import resource
import socket
import subprocess
from pathlib import Path

NOFILE_WANTED = 65536
CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent


def log(msg=""):
    print(msg, flush=True)


def raise_nofile(wanted=NOFILE_WANTED):
    """Raise RLIMIT_NOFILE for this process; children (servers, wrk) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            wanted = hard
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_nice = 0


def set_nice(n):
    """Run every server and load generator started from now on at nice n."""
    global _nice
    _nice = n


def pin(cpus):
    """The argv prefix that starts a server or load generator: on cpus (if any), at the
    nice level of set_nice (exec'd in place: the pid stays the program's)."""
    return (["taskset", "-c", cpus] if cpus else []) + (["nice", "-n", str(_nice)] if _nice else [])


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (field 3 is [0])."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_tree(root):
    """root and all its descendants (by scanning /proc/*/stat)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat_fields(d)[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root):
    """CPU time (user + system, seconds) used so far by root's process tree, including
    every process of it that has exited and been reaped.

    For each live process of the tree: utime + stime (all its threads, live and
    exited) + cutime + cstime (its children that it has waited for, and theirs). A
    worker that exits during a run and is reaped by the master moves from the first
    sum into the master's cutime/cstime, so the difference of two readings counts it
    once. Resolution: one clock tick (1/CLK_TCK s)."""
    ticks = 0
    for pid in process_tree(root):
        try:
            f = _stat_fields(pid)
        except (OSError, IndexError):
            continue  # exited between the scan and the read
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return ticks / CLK_TCK


def pss_kib(root):
    """Proportional set size (KiB) of root's process tree, file-backed pages left out:
    the sum of Pss_Anon + Pss_Shmem in /proc/PID/smaps_rollup (Pss where those are
    missing). A library's pages are shared with whatever else runs on the machine, and
    their PSS moves as other processes come and go; anonymous and shared-memory pages
    are shared only within the tree (copy-on-write after fork), so their PSS counts each
    page once."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                fields = {}
                for line in f:
                    key, _, val = line.partition(":")
                    if key in ("Pss", "Pss_Anon", "Pss_Shmem"):
                        fields[key] = int(val.split()[0])
        except OSError:
            continue
        if "Pss_Anon" in fields:
            total += fields["Pss_Anon"] + fields.get("Pss_Shmem", 0)
        else:
            total += fields.get("Pss", 0)
    return total


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        text = (out.stdout + out.stderr).strip().splitlines()
        return text[0] if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def build_helper(name, outdir, libs=()):
    """Compile scripts/benchlib/NAME.c into outdir (linked with libs); the path of the
    binary."""
    src, out = HERE / f"{name}.c", Path(outdir) / name
    cc = os.environ.get("CC", "cc")
    argv = [cc, "-O2", "-Wall", "-Wextra", "-o", str(out), str(src)] + list(libs)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{res.stderr.strip()}")
    return str(out)
