"""The load scripts/bench puts on servers: wrk (closed loop, throughput), pace
(benchlib/pace.c, constant rate, latency) and a client that holds idle connections
(memory). Every run is bounded in time."""

import errno
import json
import os
import re
import selectors
import socket
import subprocess
import time
from pathlib import Path

from .proc import pin

UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def wrk_script(cell, tmp, body):
    """Path of the wrk Lua script for cell (written once into tmp), or None."""
    if cell.post_body:
        path = Path(tmp) / "post.lua"
        if not path.exists():
            path.write_text(
                'wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                f'wrk.body = "{body.decode()}"\n')
        return path
    if cell.pipeline > 1:
        path = Path(tmp) / f"pipeline{cell.pipeline}.lua"
        if not path.exists():
            # wrk counts every response, and sends the next batch when the last is in.
            path.write_text(
                "init = function(args)\n"
                "  local r = {}\n"
                f"  for i = 1, {cell.pipeline} do r[i] = wrk.format(nil, wrk.path) end\n"
                "  req = table.concat(r)\n"
                "end\n"
                "request = function() return req end\n")
        return path
    return None


def run_wrk(port, path, cell, threads, duration, cpus, tmp, body):
    """One wrk run; a dict of what it reported (rps None if it failed)."""
    argv = pin(cpus) + ["wrk", f"-t{threads}", f"-c{cell.conns}", f"-d{duration}s",
                        "--latency"]
    if cell.close:
        argv += ["-H", "Connection: close"]
    script = wrk_script(cell, tmp, body)
    if script:
        argv += ["-s", str(script)]
    argv.append(f"http://127.0.0.1:{port}{path}")
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk timed out", "rps": None, "p99_ms": None, "requests": None}
    text = out.stdout + out.stderr
    res = {"rps": None, "p99_ms": None, "requests": None, "seconds": None, "non2xx": 0,
           "socket_errors": {}, "error": None}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    if m:
        res["p99_ms"] = float(m.group(1)) * UNIT_MS[m.group(2)]
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    if m:
        res["requests"] = int(m.group(1))
        res["seconds"] = float(m.group(2)) * UNIT_MS[m.group(3)] / 1e3
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        res["socket_errors"] = {k: int(v) for k, v in
                                zip(("connect", "read", "write", "timeout"), m.groups()) if int(v)}
    if out.returncode != 0 or res["rps"] is None:
        res["error"] = f"wrk exit {out.returncode}: {text.strip()[-200:]}"
    return res


def run_pace(binary, port, path, rate, duration, warmup, conns, cpus, drain=2.0):
    """One constant-rate run of pace; its JSON report (with "error" if it failed)."""
    argv = pin(cpus) + [binary, "-p", str(port), "-P", path, "-r", str(int(rate)),
                        "-d", str(duration), "-w", str(warmup), "-c", str(conns),
                        "-t", str(drain)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=warmup + duration + drain + 30)
    except subprocess.TimeoutExpired:
        return {"error": "pace timed out"}
    try:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"pace exit {out.returncode}: {(out.stdout + out.stderr).strip()[-200:]}"}
    res["error"] = None if out.returncode == 0 else (
        f"errors {res['errors']}, non-200 {res['non200']}, timeouts {res['timeouts']}")
    return res


def run_problems(res):
    """Human-readable list of what went wrong in one run (empty if clean)."""
    probs = []
    if res.get("error"):
        probs.append(res["error"])
    if res.get("non2xx"):
        probs.append(f"non-2xx {res['non2xx']}")
    for k, v in res.get("socket_errors", {}).items():
        probs.append(f"socket {k} {v}")
    if res.get("restarted"):
        probs.append(f"processes replaced: {res['restarted']}")
    return probs


# --------------------------------------------------------------------------- idle client

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def response_complete(buf):
    """True once buf holds a whole 200 response with a Content-Length body."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = buf[:end].decode("latin-1").split("\r\n")
    if not head[0].split(" ")[1:2] == ["200"]:
        raise ValueError(f"status line {head[0]!r}")
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return len(buf) >= end + 4 + length


class IdleClient:
    """Opens many keep-alive connections, one GET / on each, then holds them idle."""

    def __init__(self, port):
        self.addr = ("127.0.0.1", port)
        self.held = []
        self.failed = 0
        self.fail_reasons = {}

    def _fail(self, sock, why):
        self.failed += 1
        self.fail_reasons[why] = self.fail_reasons.get(why, 0) + 1
        sock.close()

    def open(self, n, window=256, timeout=60.0):
        sel = selectors.DefaultSelector()
        started = 0
        deadline = time.monotonic() + timeout
        try:
            while (started < n or sel.get_map()) and time.monotonic() < deadline:
                while started < n and len(sel.get_map()) < window:
                    started += 1
                    s = socket.socket()
                    s.setblocking(False)
                    err = s.connect_ex(self.addr)
                    if err not in (0, errno.EINPROGRESS):
                        self._fail(s, errno.errorcode.get(err, str(err)))
                        continue
                    sel.register(s, selectors.EVENT_WRITE, bytearray())
                for key, _ in sel.select(timeout=0.5):
                    s, buf = key.fileobj, key.data
                    try:
                        if key.events == selectors.EVENT_WRITE:
                            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                            if err:
                                raise OSError(err, os.strerror(err))
                            s.sendall(REQUEST)  # 40 bytes: always fits
                            sel.modify(s, selectors.EVENT_READ, buf)
                            continue
                        data = s.recv(4096)
                        if not data:
                            raise OSError(0, "closed before the response")
                        buf += data
                        if response_complete(buf):
                            sel.unregister(s)
                            self.held.append(s)
                    except (OSError, ValueError) as e:
                        sel.unregister(s)
                        self._fail(s, getattr(e, "strerror", None) or str(e))
        finally:
            for key in list(sel.get_map().values()):
                sel.unregister(key.fileobj)
                self._fail(key.fileobj, "timed out")
            self.failed += n - started
            sel.close()
        return len(self.held)

    def still_open(self):
        """How many held connections the server has not closed (no EOF pending)."""
        n = 0
        for s in self.held:
            try:
                if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    continue
            except BlockingIOError:
                pass
            except OSError:
                continue
            n += 1
        return n

    def close(self):
        for s in self.held:
            s.close()
        self.held = []
