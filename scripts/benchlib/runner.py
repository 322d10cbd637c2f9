"""The three phases of scripts/bench: throughput cells (wrk, interleaved rounds, CPU of
each server's process tree), latency at fixed offered rates (pace) and memory per idle
connection. Results are kept raw here; report.py reads them."""

import os
import shutil
import time

from . import cells as C
from .load import IdleClient, run_pace, run_problems, run_wrk
from .peers import PEERS, StartError
from .proc import log, pss_kib, tree_cpu_seconds

MODES = {
    "pinned": {"workers": 1, "server_cpus": "0", "load_cpus": "1", "wrk_threads": 1},
    "unpinned": {"workers": 2, "server_cpus": None, "load_cpus": None, "wrk_threads": 2},
}
LATENCY_SERVERS = ("shoal", "nginx", "floor")
MEMORY_SERVERS = ("shoal", "nginx", "node", "floor")
OVERLOAD_RATE = 1000000  # req/s pace offers to find a server's capacity
PACE_LATE_US = 500     # pace's own lateness (p99) above which a latency run is flagged
OVERLOADED = 0.97      # flagged when answering under this share of the offered rate


def rotated(seq, n):
    """seq turned left by n: round r starts with a different server, so no server is
    always measured first (or right after the same neighbour)."""
    seq = list(seq)
    n %= len(seq) or 1
    return seq[n:] + seq[:n]


def fmt_rps(v):
    return "n/a" if v is None else f"{v / 1000:.1f}k"


def fmt_us(v):
    if v is None or v < 0:
        return "n/a"
    return f"{v:.0f} µs" if v < 1000 else f"{v / 1000:.2f} ms"


class Bench:
    def __init__(self, args, ctx):
        self.args, self.ctx = args, ctx
        self.servers = args.servers
        self.running = []             # every server not yet stopped, for cleanup
        self.runs = {}                # (mode, cell name, server) -> [result dicts]
        self.latency = {}             # (percent, server) -> [pace result dicts]
        self.capacity = []            # per latency round: the req/s the rates derive from
        self.memory = {}              # server -> dict
        self.unsupported = {}         # (server, cell name) -> reason
        self.logs = {}                # server -> log lines (warn and above)
        self.notes = []
        self.failed_to_start = set()

    # -- servers
    def start(self, name, workers, cpus, where):
        try:
            srv = PEERS[name](self.ctx, workers, cpus)
        except StartError as e:
            log(f"  ! {e}")
            self.failed_to_start.add(name)
            self.notes.append(f"{where}: {e}")
            return None
        self.running.append(srv)
        return srv

    def stop(self, srv):
        lines = srv.log_lines()
        if lines:
            self.logs.setdefault(srv.name, []).extend(lines)
        srv.stop()
        if srv in self.running:
            self.running.remove(srv)

    def cleanup(self):
        for srv in list(self.running):
            self.stop(srv)

    def serves(self, name, cell):
        return PEERS[name].why_not(cell) is None and (name, cell.name) not in self.unsupported

    def warm(self, srv, mode):
        if self.args.warmup > 0:
            cell = C.Cell("warm-up", "", srv.ready_target)
            port, path = srv.endpoint(cell)
            run_wrk(port, path, cell, MODES[mode]["wrk_threads"], self.args.warmup,
                    MODES[mode]["load_cpus"], self.ctx.tmp, self.ctx.body)

    # -- throughput
    def throughput(self):
        a = self.args
        for name in self.servers:
            for cell in a.cells:
                why = PEERS[name].why_not(cell)
                if why:
                    self.unsupported[(name, cell.name)] = why
        for rnd in range(1, a.rounds + 1):
            for mode in a.modes:
                m = MODES[mode]
                log(f"\n== round {rnd}/{a.rounds}, {mode}: {m['workers']} worker(s)"
                    + (f", servers on CPU {m['server_cpus']}, load on CPU {m['load_cpus']}"
                       if m["server_cpus"] else ", nothing pinned"))
                names = [n for n in self.servers if any(self.serves(n, c) for c in a.cells)]
                srvs = {}
                try:
                    for name in names:
                        srv = self.start(name, m["workers"], m["server_cpus"],
                                         f"round {rnd} {mode}")
                        if srv is None:
                            continue
                        srvs[name] = srv
                        for cell in a.cells:
                            if not self.serves(name, cell):
                                continue
                            why = srv.check(cell)
                            if why:
                                log(f"  ! {name}: {why}: {cell.name} reported as n/a")
                                self.unsupported[(name, cell.name)] = why
                        self.warm(srv, mode)
                    for cell in a.cells:
                        for name in rotated(names, rnd - 1):
                            if self.serves(name, cell):
                                self.one_run(srvs, name, mode, cell, rnd)
                finally:
                    for srv in srvs.values():
                        self.stop(srv)

    def revive(self, srvs, name, mode, where):
        """The server if alive, else a fresh one (logged), else None."""
        srv = srvs.get(name)
        if srv is None or srv.alive():
            return srv
        msg = f"{name} died (status {srv.proc.returncode}): {srv.log_tail()}"
        log(f"  ! {msg}; restarting it")
        self.notes.append(f"{where}: {msg}")
        self.stop(srv)
        m = MODES[mode]
        srv = self.start(name, m["workers"], m["server_cpus"], where)
        if srv is None:
            del srvs[name]
        else:
            srvs[name] = srv
        return srv

    def one_run(self, srvs, name, mode, cell, rnd):
        a, m = self.args, MODES[mode]
        srv = self.revive(srvs, name, mode, f"round {rnd} {mode} {cell.name}")
        if srv is None:
            return
        port, path = srv.endpoint(cell)
        before = srv.pids()
        cpu0, t0 = tree_cpu_seconds(srv.pid), time.monotonic()
        res = run_wrk(port, path, cell, m["wrk_threads"], a.duration, m["load_cpus"],
                      self.ctx.tmp, self.ctx.body)
        cpu1, t1 = tree_cpu_seconds(srv.pid), time.monotonic()
        after = srv.pids()
        if not srv.alive():
            res["restarted"] = "the server exited"
        elif before != after:
            res["restarted"] = f"{len(before - after)} gone, {len(after - before)} new"
        res.update(round=rnd, cpu_s=cpu1 - cpu0, wall_s=t1 - t0)
        res["per_cpu"] = (res["requests"] / res["cpu_s"]
                          if res.get("requests") and res["cpu_s"] > 0 else None)
        res["busy"] = res["cpu_s"] / res["wall_s"] if res["wall_s"] > 0 else None
        self.runs.setdefault((mode, cell.name, name), []).append(res)
        probs = run_problems(res)
        log(f"  {cell.name:10} {name:5}  {fmt_rps(res['per_cpu']):>7} req/CPU-s"
            f"  {fmt_rps(res['rps']):>7} req/s  CPU {100 * (res['busy'] or 0):3.0f} %"
            + (f"  !! {'; '.join(probs)}" if probs else ""))

    # -- latency
    def capacity_now(self, srvs, rnd):
        """(server, req/s): what NGINX (else shoal) answers on `GET /` right now, 1 worker
        pinned, when pace offers far more than it can take (pace is then a closed loop
        on 64 connections): the capacity this round's rates are shares of. Measured
        afresh each round, because what the machine gives moves within minutes, and
        with pace itself, because wrk's figure need not be what the server sustains
        under pace's load."""
        for name in ("nginx", "shoal"):
            srv = srvs.get(name)
            if srv is None:
                continue
            port, path = srv.endpoint(C.BY_NAME["plain-64"])
            res = run_pace(self.ctx.pace, port, path, OVERLOAD_RATE, self.args.capacity_duration,
                           0.5, 64, MODES["pinned"]["load_cpus"], drain=0.2)
            if res.get("achieved_rps") and not res.get("errors") and not res.get("non200"):
                self.capacity.append({"round": rnd, "server": name, "rps": res["achieved_rps"]})
                return name, res["achieved_rps"]
            log(f"  ! capacity run on {name}: {res.get('error')}")
        return None

    def latency_test(self):
        a = self.args
        names = [n for n in LATENCY_SERVERS if n in self.servers]
        if not ({"nginx", "shoal"} & set(names)):
            self.notes.append("latency: skipped (neither NGINX nor shoal runs)")
            return
        m = MODES["pinned"]
        for rnd in range(1, a.rounds + 1):
            srvs = {}
            try:
                for name in names:
                    srv = self.start(name, 1, m["server_cpus"], f"latency round {rnd}")
                    if srv is not None:
                        srvs[name] = srv
                        self.warm(srv, "pinned")
                cap = self.capacity_now(srvs, rnd)
                if cap is None:
                    self.notes.append(f"latency round {rnd}: no capacity measured")
                    continue
                log(f"\n== latency round {rnd}/{a.rounds}: 1 worker on CPU {m['server_cpus']},"
                    f" pace on CPU {m['load_cpus']}, 64 connections, `GET /`; {cap[0]} answers"
                    f" {fmt_rps(cap[1])} req/s at most now, so offered "
                    + ", ".join(f"{pct} % = {fmt_rps(cap[1] * pct / 100)}"
                                for pct in a.latency_rates))
                for pct in a.latency_rates:
                    rate = cap[1] * pct / 100
                    for name in rotated(names, rnd - 1):
                        srv = self.revive(srvs, name, "pinned", f"latency round {rnd}")
                        if srv is None:
                            continue
                        port, path = srv.endpoint(C.BY_NAME["plain-64"])
                        cpu0 = tree_cpu_seconds(srv.pid)
                        res = run_pace(self.ctx.pace, port, path, rate, a.latency_duration,
                                       a.latency_warmup, 64, m["load_cpus"])
                        res.update(cpu_s=tree_cpu_seconds(srv.pid) - cpu0, round=rnd,
                                   offered=rate)
                        if res.get("lag_p99_us", 0) > PACE_LATE_US:
                            res["pace_late"] = True
                        if res.get("achieved_rps", 0) < OVERLOADED * rate:
                            res["overloaded"] = True
                        self.latency.setdefault((pct, name), []).append(res)
                        if res.get("p50_us") is None:
                            log(f"  {pct:3} % {name:5}  !! {res['error']}")
                            continue
                        log(f"  {pct:3} % {name:5}  p50 {fmt_us(res['p50_us']):>9}"
                            f"  p99 {fmt_us(res['p99_us']):>9}  p99.9 {fmt_us(res['p999_us']):>9}"
                            f"  max {fmt_us(res['max_us']):>9}  {fmt_rps(res['achieved_rps'])} req/s"
                            f"  pace late p99 {fmt_us(res['lag_p99_us'])}"
                            + (f"  !! {res['error']}" if res["error"] else "")
                            + ("  !! pace could not keep to its schedule" if
                               res.get("pace_late") else "")
                            + ("  !! overloaded" if res.get("overloaded") else ""))
            finally:
                for srv in srvs.values():
                    self.stop(srv)

    # -- memory
    def memory_test(self):
        n = self.args.mem_conns
        log(f"\n== memory: 1 worker on CPU 0, {n} idle keep-alive connections (client on CPU 1)")
        mask = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {1} if 1 in mask else mask)
        except OSError:
            pass
        try:
            for name in (s for s in MEMORY_SERVERS if s in self.servers):
                srv = self.start(name, 1, MODES["pinned"]["server_cpus"], "memory")
                if srv is None:
                    continue
                client = IdleClient(srv.port)
                try:
                    time.sleep(0.5)
                    before = pss_kib(srv.pid)
                    t0 = time.monotonic()
                    client.open(n)
                    took = time.monotonic() - t0
                    time.sleep(0.2)  # short: Node closes idle connections after 5 s
                    after = pss_kib(srv.pid)
                    held = client.still_open()
                    per = (after - before) / held if held else None
                    self.memory[name] = {"before_kib": before, "after_kib": after,
                                         "opened": len(client.held), "held": held,
                                         "failed": client.failed, "open_s": took,
                                         "kib_per_conn": per,
                                         "fail_reasons": client.fail_reasons}
                    flag = ""
                    if client.failed or held < n:
                        flag = (f"  !! {n - held} of {n} not held"
                                f" (failed: {client.fail_reasons or 0},"
                                f" closed by server: {len(client.held) - held})")
                    log(f"  {name:5}  PSS {before} KiB -> {after} KiB, {held} held"
                        f" (opened in {took:.1f} s): "
                        f"{'n/a' if per is None else f'{per:.2f}'} KiB/connection{flag}")
                finally:
                    client.close()
                    self.stop(srv)
        finally:
            os.sched_setaffinity(0, mask)


def have_tools(args):
    """Drop the servers whose programs are missing; None, or why nothing can run."""
    for name in list(args.servers):
        why = PEERS[name].missing()
        if why:
            log(f"bench: {why}: {name} skipped (scripts/deps --bench installs it)")
            args.servers.remove(name)
    if not args.servers:
        return "no server left to measure"
    if (args.cells or args.latency_rates) and not shutil.which("wrk"):
        return "`wrk` not found (scripts/deps --bench installs it)"
    return None
