"""
Crash resilience: a slot without a live worker gets no new connections, and
a backoff that protects the machine without starving clients.

A shorter version of scripts/chaos (kills every 0.5 s under load: no
timeout, every slot serving afterwards), and the pieces it rests on: a
crash-looping slot visible in `status` while the other serves, queued
connections cutting a backoff short, a stopped worker steered around and
continued (not killed), and a stand-in for a stopped worker whose queue
holds connections.
"""

import os
import random
import signal
import socket
import threading
import time

import harness
from harness import (RawConn, Shoal, deadline, note, request_bytes, server_pid_for_client_port,
                     wait_until)

HELLO = b"Hello, World!"


def one_request(port, timeout):
    """A new connection, GET /, read to the end: ("ok" | "timeout" | error, seconds)."""
    t0 = time.monotonic()
    dl = t0 + timeout
    s = socket.socket()
    try:
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        buf = b""
        while not buf.endswith(HELLO):
            left = dl - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            s.settimeout(left)
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        ok = buf.startswith(b"HTTP/1.1 200") and buf.endswith(HELLO)
        return ("ok" if ok else "bad %r" % buf[:40]), time.monotonic() - t0
    except socket.timeout:
        return "timeout", time.monotonic() - t0
    except OSError as e:
        return type(e).__name__, time.monotonic() - t0
    finally:
        s.close()


class Load:
    """Threads making one request per new connection until stopped (bounded by
    max_seconds and a count); outcomes counted."""

    def __init__(self, port, threads=2, timeout=0.5, max_seconds=60):
        self.port, self.timeout = port, timeout
        self.stop_at = time.monotonic() + max_seconds
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.outcomes, self.slowest = {}, 0.0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        for _ in range(200000):
            if self.halt.is_set() or time.monotonic() >= self.stop_at:
                return
            what, took = one_request(self.port, self.timeout)
            with self.lock:
                self.outcomes[what] = self.outcomes.get(what, 0) + 1
                if what == "ok":
                    self.slowest = max(self.slowest, took)

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(10)
        return dict(self.outcomes)


def children_of(pid):
    """{pid: starttime} of pid's live worker children."""
    out = {}
    for c in harness.children(pid):
        if harness.alive(c) and (harness.comm(c) or "").startswith("shoal worker"):
            out[c] = harness.proc_starttime(c)
    return out


def kill_child(master, pid, start, sig):
    """Signal pid if it is still master's child started at start."""
    if harness.proc_starttime(pid) == start and pid in harness.children(master):
        os.kill(pid, sig)
        return True
    return False


def every_worker_answers(s, n=40):
    """Each live worker holds some of n new connections, each answered 200."""
    ws = list(s.workers().values())
    conns, held = [], {}
    try:
        for _ in range(n):
            c = RawConn(s.port, timeout=2)
            c.send(request_bytes("/", keepalive=True))
            conns.append(c)
        for c in conns:
            st, _, body = c.recv_response(timeout=2)
            assert st == 200 and body.strip() == HELLO, "GET / -> %d %r" % (st, body[:80])
        rows = harness.tcp_table()
        for c in conns:
            pid = server_pid_for_client_port(c.local_port, ws, s.port, rows=rows)
            held[pid] = held.get(pid, 0) + 1
    finally:
        for c in conns:
            c.close()
    idle = [p for p in ws if p not in held]
    assert not idle, "workers %s answered none of %d new connections (%s)" % (idle, n, held)


def assert_waited_for(conns, waiting):
    """Enough of conns reached the slot in question (about half should)."""
    if waiting < 5:
        for c in conns:
            c.close()
        raise AssertionError("only %d of %d connections waited in a queue" % (waiting, len(conns)))


def answered_within(conns, limit):
    """Read a 200 on each of conns within limit seconds overall; closes them.
    Returns the seconds it took."""
    t0 = time.monotonic()
    dl = deadline(limit)
    try:
        for i, c in enumerate(conns):
            st, _, body = c.recv_response(timeout=max(0.05, dl - time.monotonic()))
            assert st == 200 and body.strip() == HELLO, "connection %d: %d %r" % (
                i, st, body[:60])
    finally:
        for c in conns:
            c.close()
    return time.monotonic() - t0


def slot_row(st, slot):
    return [r for r in st["slots"] if r["slot"] == slot][0]


# ---------------------------------------------------------------------------

@harness.timeout(60)
def test_chaos_kills_no_timeout_every_slot_serves():
    """Kill a random worker every 0.5 s for 6 s while clients open a new
    connection per request (0.5 s timeout): no request times out, every kill
    finds a worker to kill, and afterwards the master and every slot serve."""
    rnd = random.Random(7)
    with Shoal(workers=2, log_level="info") as s:
        s.wait_workers(2)
        load = Load(s.port, threads=2, timeout=0.5)
        kills, empty = 0, 0
        try:
            t_end = time.monotonic() + 6.0
            next_at = time.monotonic() + 0.5
            while time.monotonic() < t_end:
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += 0.5
                ws = children_of(s.pid)
                if not ws:
                    empty += 1
                    continue
                pid = rnd.choice(sorted(ws))
                kills += kill_child(s.pid, pid, ws[pid], signal.SIGKILL)
        finally:
            out = load.stop()
        note("%d kills, %d with no worker alive; outcomes %s; slowest ok %.3fs"
             % (kills, empty, out, load.slowest))
        assert s.running(), "the master died"
        assert out.get("timeout", 0) == 0, "%d requests timed out (0.5s): %s" % (
            out.get("timeout", 0), out)
        assert out.get("ok", 0) > 100, "too few requests to mean anything: %s" % out
        # A request in flight on a killed worker is reset; nothing else fails.
        failed = sum(v for k, v in out.items() if k not in ("ok", "timeout"))
        assert failed <= 2 * kills, "%d failed requests for %d kills: %s" % (failed, kills, out)
        assert empty == 0, "%d of %d kill attempts found no worker alive" % (empty, kills + empty)
        wait_until(lambda: all(r["state"] == "serving" and r["live"]
                               for r in harness.status(s.control)["slots"]),
                   8, 0.1, "every slot serving")
        s.wait_workers(2)
        every_worker_answers(s)


@harness.timeout(60)
def test_crash_looping_slot_visible_while_other_serves():
    """A slot killed again and again is crash-looping in `status --json` and
    the table, waits out a growing delay with no connection steered to it,
    while the other slot serves every new connection at once."""
    with Shoal(["--respawn-delay-min", "0.4", "--respawn-delay-max", "20"], workers=2,
               log_level="info") as s:
        ws = s.wait_workers(2)
        cur, other = ws[0], ws[1]
        for i in range(6):
            s.wait_log(r"worker 0 \(pid %d\) ready" % cur, timeout=10)
            os.kill(cur, signal.SIGKILL)
            if i < 5:
                cur = wait_until(lambda: (lambda p: p if p not in (None, cur) else None)(
                    s.workers().get(0)), 10, 0.01, "a new worker in slot 0")
        # the 6th quick death in a row: 0.4 * 2^4 = 6.4 s (+-20 %) unless
        # someone waits in its queue, which nobody should
        s.wait_log(r"slot 0 is crash-looping", timeout=3)
        row = wait_until(lambda: (lambda r: r if r["state"] == "waiting" else None)(
            slot_row(harness.status(s.control), 0)), 3, 0.05, "slot 0 waiting")
        st = harness.status(s.control)
        r0, r1 = slot_row(st, 0), slot_row(st, 1)
        note("slot 0: %s; slot 1: %s" % (r0, r1))
        assert r0["crash_looping"] and not r0["live"] and r0["pid"] == 0, r0
        assert r0["respawn_in"] > 2.0, "slot 0 respawns in %.2fs already" % r0["respawn_in"]
        assert r1["state"] == "serving" and r1["live"] and not r1["crash_looping"], r1
        assert r1["pid"] == other
        rc, out, _ = harness.ctl(s.control, "status")
        assert rc == 0 and "crash-looping" in out and "respawn in" in out, out
        # every new connection goes to slot 1 meanwhile, answered at once
        for i in range(30):
            what, took = one_request(s.port, 0.5)
            assert what == "ok", "request %d while slot 0 waits: %s after %.2fs" % (i, what, took)
        r0 = slot_row(harness.status(s.control), 0)
        assert r0["state"] == "waiting", "slot 0 no longer waits: %s" % r0
        assert s.count_log(r"respawning in [\d.]+s, not") == 0, \
            "the backoff was cut short though nobody waited"
        # it comes back after its delay, and serves
        new = wait_until(lambda: (lambda p: p if p not in (None, cur) else None)(
            s.workers().get(0)), 12, 0.05, "slot 0 respawned")
        s.wait_log(r"worker 0 \(pid %d\) ready" % new, timeout=5)
        every_worker_answers(s)


@harness.timeout(40)
def test_queued_connections_cut_the_backoff_short():
    """Connections that reached a dead worker's queue before the master knew
    are served by a replacement started at once, not after the backoff."""
    with Shoal(["--respawn-delay-min", "3", "--respawn-delay-max", "3"], workers=2,
               log_level="info") as s:
        cur = s.wait_workers(2)[0]
        # Two deaths of workers that answered nothing: the first is respawned
        # at once, the second after 3 s, unless someone waits in its queue.
        for _ in range(2):
            os.kill(cur, signal.SIGKILL)
            cur = wait_until(lambda: (lambda p: p if p not in (None, cur) else None)(
                s.workers().get(0)), 5, 0.01, "a new worker in slot 0")
            s.wait_log(r"worker 0 \(pid %d\) ready" % cur, timeout=5)
        # the second idle death in a row, unseen by the master
        conns, waiting = s.queue_unseen(lambda: os.kill(cur, signal.SIGKILL))
        assert_waited_for(conns, waiting)
        took = answered_within(conns, 2.5)
        note("all 40 answered %.2fs after the master ran again" % took)
        assert took < 1.5, "the queued connections waited %.2fs (the backoff is 3s)" % took
        s.wait_log(r"slot 0: connections wait in its queue; respawning in 0\.00s", timeout=2)


@harness.timeout(40)
def test_stopped_worker_steered_around_then_continued():
    """A worker stopped by SIGSTOP gets no new connection from the moment the
    master sees it stop; after worker_timeout the master continues it rather
    than killing it, and a request it held is answered, not reset."""
    with Shoal(["--worker-timeout", "1"], workers=2, log_level="info") as s:
        ws = s.wait_workers(2)
        held = None
        for _ in range(40):
            c = RawConn(s.port, timeout=5)
            c.send(request_bytes("/", keepalive=True))
            st, _, _ = c.recv_response(timeout=2)
            assert st == 200
            if server_pid_for_client_port(c.local_port, [ws[0]], s.port) == ws[0]:
                held = c
                break
            c.close()
        assert held is not None, "no connection of 40 reached worker 0"
        mark = len(s.log_text())
        try:
            os.kill(ws[0], signal.SIGSTOP)
            s.wait_log(r"worker 0 \(pid %d\) stopped by SIGSTOP" % ws[0], timeout=2, start=mark)
            t_stop = time.monotonic()
            held.send(request_bytes("/", keepalive=True))
            for i in range(30):
                what, took = one_request(s.port, 0.5)
                assert what == "ok", "request %d with worker 0 stopped: %s after %.2fs" % (
                    i, what, took)
            s.wait_log(r"worker 0 \(pid %d\) stopped by a signal for [\d.]+s; sending SIGCONT"
                       % ws[0], timeout=3, start=mark)
            st, _, body = held.recv_response(timeout=3)
            waited = time.monotonic() - t_stop
            assert st == 200 and body.strip() == HELLO, "held request -> %d" % st
            note("the held request was answered %.2fs after the stop" % waited)
            s.wait_log(r"worker 0 \(pid %d\) beats again" % ws[0], timeout=3, start=mark)
        finally:
            held.close()
            if harness.alive(ws[0]):
                os.kill(ws[0], signal.SIGCONT)
        assert s.workers().get(0) == ws[0], "worker 0 was replaced: %s" % s.workers()
        assert s.count_log(r"worker 0 \(pid %d\) hung" % ws[0]) == 0, "it was treated as hung"
        wait_until(lambda: slot_row(harness.status(s.control), 0)["live"], 3, 0.05,
                   "slot 0 live again")


@harness.timeout(40)
def test_stopped_worker_with_a_queue_gets_a_stand_in():
    """Connections that reached a stopped worker's queue before the master
    knew are served by a stand-in started at once (worker_timeout is 60 s);
    the stopped worker drains and exits once it runs again."""
    with Shoal(["--worker-timeout", "60"], workers=2, log_level="info") as s:
        ws = s.wait_workers(2)
        victim = ws[0]
        try:
            conns, waiting = s.queue_unseen(lambda: os.kill(victim, signal.SIGSTOP))
            assert_waited_for(conns, waiting)
            took = answered_within(conns, 2.5)
        finally:
            if harness.alive(victim):
                os.kill(victim, signal.SIGCONT)
        note("40 answered %.2fs after the master ran again" % took)
        assert took < 1.5, "queued connections waited %.2fs" % took
        s.wait_log(r"worker 0 \(pid %d\) is replaced \(hang: stopped by a signal while "
                   r"connections wait in its queue\)" % victim, timeout=2)
        s.wait_log(r"worker 0 \(pid \d+\) took over from pid %d, which drains" % victim,
                   timeout=2)
        stand_in = s.workers().get(0)
        assert stand_in not in (None, victim), "slot 0: %s" % stand_in
        wait_until(lambda: not harness.alive(victim) or harness.proc_state(victim) == "Z",
                   5, 0.05, "the stopped worker drained and exited")
        s.wait_log(r"worker 0 \(pid %d\) exited with status 0" % victim, timeout=3)
        assert s.workers().get(0) == stand_in
        every_worker_answers(s)
