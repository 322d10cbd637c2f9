"""What scripts/bench prints at the end: per cell, each round's figures; then the summary
tables (markdown) and the goals. Ratios are medians of per-round ratios: in round r,
shoal's figure over the peer's figure of the same round, measured minutes apart at most."""

import statistics

from .load import run_problems
from .peers import ALL
from .runner import OVERLOADED, PACE_LATE_US, fmt_rps, fmt_us
from .proc import log

RATIO_PEERS = ("nginx", "h2o", "node", "floor", "uring")
SLOWER = 0.9        # a per-CPU goal met at under this req/s ratio is not claimed


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v * 1000:.0f} µs" if v < 1 else f"{v:.2f} ms"


def fmt_ratio(v):
    return "n/a" if v is None else f"{v:.2f}×"


def round_ratio(a_runs, b_runs, key):
    """Median over rounds of a's value / b's value in the same round."""
    b_by_round = {r["round"]: r.get(key) for r in b_runs}
    ratios = [r[key] / b_by_round[r["round"]] for r in a_runs
              if r.get(key) and b_by_round.get(r["round"])]
    return median(ratios)


class Report:
    def __init__(self, bench):
        self.b = bench
        self.a = bench.args
        self.cols = [s for s in ALL if s in self.a.servers]

    # -- figures
    def runs(self, mode, cell, server):
        return self.b.runs.get((mode, cell, server), [])

    def med(self, mode, cell, server, key):
        return median([r.get(key) for r in self.runs(mode, cell, server)])

    def ratio(self, mode, cell, peer, key="per_cpu"):
        return round_ratio(self.runs(mode, cell, "shoal"), self.runs(mode, cell, peer), key)

    def mostly(self, pct, server, flag):
        """True if most of server's latency runs at pct carry flag."""
        rs = self.b.latency.get((pct, server), [])
        return sum(1 for r in rs if r.get(flag)) * 2 > len(rs)

    def lat(self, pct, server, key):
        return median([r.get(key) for r in self.b.latency.get((pct, server), [])])

    # -- per cell, every round
    def print_rounds(self):
        if self.b.runs:
            log("\n== per cell: medians over rounds [each round's value]; ratios are "
                "medians of per-round ratios")
        for mode in self.a.modes:
            for cell in self.a.cells:
                if not any(self.runs(mode, cell.name, s) for s in self.cols):
                    continue
                log(f"{mode}, {cell.name}: {cell.title.replace('`', '')}")
                for s in self.cols:
                    rs = self.runs(mode, cell.name, s)
                    if not rs:
                        why = self.b.unsupported.get((s, cell.name))
                        log(f"  {s:5}  n/a" + (f" ({why})" if why else ""))
                        continue
                    bad = sum(1 for r in rs if run_problems(r))
                    log(f"  {s:5}  {fmt_rps(self.med(mode, cell.name, s, 'per_cpu')):>7} req/CPU-s"
                        f" [{' '.join(fmt_rps(r.get('per_cpu')) for r in rs)}]"
                        f"  {fmt_rps(self.med(mode, cell.name, s, 'rps')):>7} req/s"
                        f" [{' '.join(fmt_rps(r.get('rps')) for r in rs)}]"
                        f"  CPU {100 * (self.med(mode, cell.name, s, 'busy') or 0):.0f} %"
                        f"  wrk p99 {fmt_ms(self.med(mode, cell.name, s, 'p99_ms'))}"
                        + (f"  !! {bad} run(s) with errors" if bad else ""))
                if "shoal" in self.cols:
                    ratios = [f"shoal/{p} {fmt_ratio(self.ratio(mode, cell.name, p))}"
                              for p in RATIO_PEERS if self.runs(mode, cell.name, p)]
                    if ratios:
                        log("  per CPU: " + ", ".join(ratios))

    # -- tables
    def throughput_tables(self):
        out = []
        cols = [s for s in self.cols if any(k[2] == s for k in self.b.runs)]
        peers = [p for p in RATIO_PEERS if p in cols and "shoal" in cols]
        for mode in self.a.modes:
            rows = [c for c in self.a.cells
                    if any(self.runs(mode, c.name, s) for s in cols)]
            if not rows:
                continue
            if out:
                out.append("")
            out.append(f"Requests per CPU-second of the server's process tree ({mode}"
                       f"{', 1 worker' if mode == 'pinned' else ', 2 workers'}; "
                       "k = thousand; higher is better):")
            out.append("")
            out.append("| cell | " + " | ".join(cols)
                       + "".join(f" | shoal/{p}" for p in peers) + " |")
            out.append("|" + "---|" * (1 + len(cols) + len(peers)))
            for c in rows:
                out.append(f"| {c.title} | "
                           + " | ".join(fmt_rps(self.med(mode, c.name, s, "per_cpu"))
                                        for s in cols)
                           + "".join(f" | {fmt_ratio(self.ratio(mode, c.name, p))}"
                                     for p in peers) + " |")
            out.append("")
            out.append(f"Requests per second (wrk) and the server's CPU use ({mode}):")
            out.append("")
            out.append("| cell | " + " | ".join(cols) + " | errors |")
            out.append("|" + "---|" * (2 + len(cols)))
            for c in rows:
                cells, errs = [], []
                for s in cols:
                    rs = self.runs(mode, c.name, s)
                    rps = self.med(mode, c.name, s, "rps")
                    busy = self.med(mode, c.name, s, "busy")
                    cells.append("n/a" if rps is None else
                                 f"{fmt_rps(rps)} @ {100 * busy:.0f} %")
                    bad = sum(1 for r in rs if run_problems(r))
                    if bad:
                        errs.append(f"{s}: {bad}/{len(rs)} runs")
                out.append(f"| {c.title} | " + " | ".join(cells)
                           + f" | {', '.join(errs) or 'none'} |")
        return out

    def latency_table(self):
        if not self.b.latency:
            return []
        names = [s for s in self.cols if any(k[1] == s for k in self.b.latency)]
        caps = self.b.capacity
        cap = median([c["rps"] for c in caps])
        out = [f"Latency at a fixed offered rate (pace, `GET /`, 64 connections, 1 worker;"
               f" the rate is a share of the most {caps[0]['server']} answered under pace at the"
               f" start of each round: median {fmt_rps(cap)} req/s"
               f" [{' '.join(fmt_rps(c['rps']) for c in caps)}]; lower is better):", "",
               "| offered | server | p50 | p99 | p99.9 | max | achieved | pace late, p99 |"
               " flagged runs |",
               "|---|---|---|---|---|---|---|---|---|"]
        for pct in self.a.latency_rates:
            for s in names:
                rs = self.b.latency.get((pct, s), [])
                if not rs:
                    continue
                bad = sum(1 for r in rs if r.get("error") or r.get("pace_late")
                          or r.get("overloaded"))
                out.append(f"| {pct} % ({fmt_rps(self.lat(pct, s, 'offered'))}/s) | {s} | "
                           + " | ".join(fmt_us(self.lat(pct, s, k)) for k in
                                        ("p50_us", "p99_us", "p999_us", "max_us"))
                           + f" | {fmt_rps(self.lat(pct, s, 'achieved_rps'))}/s"
                           + f" | {fmt_us(self.lat(pct, s, 'lag_p99_us'))}"
                           + f" | {f'{bad}/{len(rs)} runs' if bad else 'none'} |")
        return out

    def memory_table(self):
        if not self.b.memory:
            return []
        out = ["Memory per idle keep-alive connection (1 worker; lower is better):", "",
               "| server | PSS before | PSS after | connections held | KiB / connection |",
               "|---|---|---|---|---|"]
        for s in self.cols:
            mm = self.b.memory.get(s)
            if mm is None:
                continue
            per = mm["kib_per_conn"]
            out.append(f"| {s} | {mm['before_kib']} KiB | {mm['after_kib']} KiB |"
                       f" {mm['held']} / {self.a.mem_conns} | "
                       f"{'n/a' if per is None else f'{per:.2f}'} |")
        return out

    # -- goals
    def goals(self):
        """[(text, measured, verdict)] for the goals that this run measured."""
        g = []

        def per_cpu(cell, peer, bar, label):
            v = self.ratio("pinned", cell, peer)
            if v is None:
                return
            rps = self.ratio("pinned", cell, peer, "rps")
            # Judged as printed: two decimals are more than the noise allows.
            verdict = "ok" if round(v, 2) >= bar else "MISSED"
            if verdict == "ok" and rps is not None and rps < SLOWER:
                # Cheap per request but serving fewer of them: not a win to claim.
                verdict = "ok per CPU, but slower"
            g.append((label, f"{v:.2f}× (req/s {fmt_ratio(rps)})", verdict))

        per_cpu("plain-64", "floor", 0.95, "`GET /`, 64 conns ≥ 0.95× floor")
        per_cpu("plain-64", "nginx", 1.15, "`GET /`, 64 conns ≥ 1.15× NGINX")
        per_cpu("plain-1000", "floor", 0.95, "`GET /`, 1000 conns ≥ 0.95× floor")
        per_cpu("plain-1000", "nginx", 1.15, "`GET /`, 1000 conns ≥ 1.15× NGINX")
        per_cpu("json-64", "floor", 0.9, "`GET /json`, 64 conns ≥ 0.9× floor")
        per_cpu("json-1000", "floor", 0.9, "`GET /json`, 1000 conns ≥ 0.9× floor")
        per_cpu("close", "nginx", 1.2, "new connection per request ≥ 1.2× NGINX")
        for cell in ("static-4k", "static-1m"):
            for peer, label in (("nginx", "NGINX"), ("h2o", "h2o")):
                per_cpu(cell, peer, 1.0, f"{cell} ≥ 1.0× {label}")
        s, n = self.lat(90, "shoal", "p99_us"), self.lat(90, "nginx", "p99_us")
        if s is not None and n is not None:
            verdict = "ok" if s <= n else "MISSED"
            why = [f"{x} {what}" for x in ("shoal", "nginx")
                   for flag, what in (("overloaded", "overloaded"), ("pace_late", "pace late"))
                   if self.mostly(90, x, flag)]
            if why:
                verdict = f"unclear: {', '.join(why)}"
            g.append(("p99 at 90 % load ≤ NGINX's",
                      f"{fmt_us(s)} vs {fmt_us(n)} (medians over rounds)", verdict))
        per = self.b.memory.get("shoal", {}).get("kib_per_conn")
        if per is not None:
            g.append(("≤ 0.5 KiB per idle keep-alive connection", f"{per:.2f} KiB",
                      "ok" if per <= 0.5 else "MISSED"))
        return g

    def goals_block(self):
        g = self.goals()
        if not g:
            return []
        out = ["Goals (per CPU: medians of per-round ratios, pinned; the req/s ratio is"
               " for information):", "",
               "| goal | measured | |", "|---|---|---|"]
        out += [f"| {t} | {m} | {v} |" for t, m, v in g]
        met = sum(1 for _, _, v in g if v == "ok")
        out += ["", f"{met} of {len(g)} goals met."]
        if any(v.startswith("ok per CPU") for _, _, v in g):
            out.append(f"\"ok per CPU, but slower\": the bar is met per CPU-second, but shoal"
                       f" served under {SLOWER:.0%} of the peer's req/s (not counted as met).")
        if any(v.startswith("unclear") for _, _, v in g):
            out.append("\"unclear\": in most rounds the server was overloaded (it answered"
                       f" under {OVERLOADED:.0%} of the offered rate: its latency is that of a"
                       " growing queue, the machine gave less than at the capacity run) or"
                       f" pace itself sent late (p99 over {PACE_LATE_US} µs: its CPU was taken"
                       " by other work); the figures are the machine's more than the server's.")
        return out

    def summary(self, header):
        parts = [self.throughput_tables(), self.latency_table(), self.memory_table(),
                 self.goals_block()]
        out = []
        for p in parts:
            if p:
                if out:
                    out.append("")
                out += p
        log("\n== summary (markdown)\n")
        log("\n".join(header))
        log("")
        log("\n".join(out))
        why = {}
        for (n, c), w in sorted(self.b.unsupported.items()):
            why.setdefault((n, w), []).append(c)
        for (n, w), cs in why.items():
            log(f"n/a: {n} ({w}): {', '.join(cs)}")
        for note in self.b.notes:
            log(f"note: {note}")
        for name, lines in self.b.logs.items():
            uniq = list(dict.fromkeys(lines))
            log(f"\n{name} logged {len(lines)} line(s) at warn level or above"
                f" ({len(uniq)} distinct); first ones:")
            for line in uniq[:8]:
                log(f"  {line[:200]}")
        return header + [""] + out

