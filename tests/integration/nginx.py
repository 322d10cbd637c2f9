"""
nginx — a real NGINX in front of shoal, for the integration tests.

NGINX (/usr/sbin/nginx, Debian nginx-light; the stream module for PROXY
protocol comes from libnginx-mod-stream) runs in the foreground (`daemon
off;`, `master_process on;`) from a private prefix in the test's temp dir:
its own config, pid file, error log, access log (status, upstream status,
times, upstream address, connection numbers) and temp paths. It listens on
the ports a test gives it, is started in its own session and is stopped by
its pid (SIGQUIT, then SIGTERM, then SIGKILL of its own process group only).

Also here: the example configuration (scripts/nginx/shoal.conf) adapted to a
test's ports and upstream servers, NGINX's logs read back (502/504 in any
upstream attempt, upstream errors in the error log) and Phases, which
accounts load clients, NGINX's logs and shoal's logs per phase of a test.
Used by test_nginx.py (one shoal) and test_multihost.py (several hosts).
"""

import os
import re
import signal
import subprocess
import time

import harness
from harness import Skip, deadline, note, read_pidfile, remaining, wait_until
from load import Load, utc_now

NGINX_BIN = "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


ACCESS_FORMAT = ("$msec|$time_iso8601|$remote_addr:$remote_port|$request|$status|"
                 "$upstream_status|$request_time|$upstream_addr|$upstream_connect_time|"
                 "$upstream_response_time|$connection|$connection_requests")
ACCESS_FIELDS = ("msec", "time", "client", "request", "status", "upstream_status",
                 "request_time", "upstream_addr", "upstream_connect_time",
                 "upstream_response_time", "connection", "connection_requests")

# error log lines that say NGINX lost a request (or a connection) to shoal
BAD_ERROR = re.compile(r"upstream prematurely closed|connect\(\) (?:to \S+ )?failed|"
                       r"reset by peer|[Bb]roken pipe|no live upstreams|upstream timed out")


def upstream_block(name, server):
    return """
    upstream %s {
        server %s;
        keepalive 16;
        keepalive_timeout 60s;        # < shoal's keepalive_timeout (75 s)
        keepalive_requests 10000;
    }
""" % (name, server)


def proxy_server(port, upstream):
    """A server block modelled on scripts/nginx/shoal.conf."""
    return """
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://%s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout;
            proxy_connect_timeout 5s;
            proxy_read_timeout 10s;
        }
    }
""" % (port, upstream)


class Nginx:
    """A foreground NGINX (daemon off, master_process on) with a private prefix
    under the test's temp dir. http: text inside http {}; stream: text inside
    stream {} (the module is loaded) or None. ports: the ports it listens on
    (checked at start)."""

    def __init__(self, http="", stream=None, ports=(), name="nginx", user=None,
                 worker_processes=2):
        self.prefix = os.path.join(harness.tmpdir(), name)
        for sub in ("", "logs", "tmp"):
            os.makedirs(os.path.join(self.prefix, sub), exist_ok=True)
        self.name = name
        self.ports = list(ports)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.pid_file = os.path.join(self.prefix, "nginx.pid")
        self.log_path = os.path.join(self.prefix, "logs", "error.log")     # run.py prints its tail
        self.out_path = os.path.join(self.prefix, "logs", "access.log")
        self.std_path = os.path.join(self.prefix, "logs", "stderr.log")
        if user is None and os.geteuid() == 0:
            user = "root root"
        tmp = os.path.join(self.prefix, "tmp")
        text = ["daemon off;", "master_process on;", "worker_processes %d;" % worker_processes,
                "pid %s;" % self.pid_file, "error_log %s notice;" % self.log_path]
        if user and os.geteuid() == 0:
            text.append("user %s;" % user)
        if stream is not None:
            text.append("load_module %s;" % STREAM_MODULE)
        text.append("events { worker_connections 1024; }")
        text.append("""http {
    log_format shoal '%s';
    access_log %s shoal;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
%s
}""" % (ACCESS_FORMAT, self.out_path, tmp, tmp, tmp, tmp, tmp, http))
        if stream is not None:
            text.append("stream {\n%s\n}" % stream)
        with open(self.conf, "w") as f:
            f.write("\n".join(text) + "\n")
        self.proc = None
        self.pid = None
        self.starttime = None

    def __repr__(self):
        return "<Nginx pid=%s ports=%s>" % (self.pid, self.ports)

    def _cmd(self, *extra):
        return [NGINX_BIN, "-p", self.prefix + "/", "-c", self.conf, "-e", self.log_path] + \
            list(extra)

    def start(self, timeout=5.0):
        if not os.access(NGINX_BIN, os.X_OK):
            raise Skip("no NGINX at %s (Debian nginx-light)" % NGINX_BIN)
        t = subprocess.run(self._cmd("-t", "-q"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        assert t.returncode == 0, "nginx -t refused %s: %s" % (
            self.conf, t.stdout.decode("utf-8", "replace").strip() or self.error_log()[-2000:])
        note("start: " + " ".join(self._cmd()))
        with open(self.std_path, "ab") as out:
            self.proc = subprocess.Popen(self._cmd(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         close_fds=True)
        self.pid = self.proc.pid
        self.starttime = harness.proc_starttime(self.pid)
        # run.py's cleanup and failure report. First in line: NGINX stops
        # before shoal, so shoal's graceful stop does not wait for NGINX's
        # idle upstream connections.
        harness._state["servers"].insert(0, self)
        dl = deadline(timeout)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited with status %s at start: %s %s" % (
                    self.proc.returncode, self.error_log()[-2000:], self._std()[-1000:]))
            if read_pidfile(self.pid_file) != self.pid:
                return False
            for p in self.ports:
                if not harness.port_in_use(p):
                    return False
            return True
        wait_until(up, remaining(dl), 0.02, "nginx (pid %d) to listen on %s" % (
            self.pid, self.ports))
        return self

    def _std(self):
        try:
            with open(self.std_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=5.0):
        """Graceful stop (SIGQUIT to the master's pid), then SIGTERM, then
        SIGKILL of its own process group. Returns a remark or None."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None and harness.group_members(self.pid):
                harness._killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
            return None
        remark = None
        for sig, wait in ((signal.SIGQUIT, timeout), (signal.SIGTERM, 2.0)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                remark = "nginx pid %d still running %.0fs after %s" % (
                    self.pid, wait, signal.Signals(sig).name)
        if self.proc.poll() is None or harness.group_members(self.pid):
            harness._killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                remark = "nginx pid %d did not die after SIGKILL" % self.pid
        return remark

    def _cleanup(self):
        return self.stop(timeout=2.0)

    # -- logs

    def error_log(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.error_log().splitlines()[-n:])

    def out_tail(self, n=40):
        try:
            with open(self.out_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        return "\n".join(text.splitlines()[-n:]) or None

    def offsets(self):
        """(error log size, access log size): a mark for error_lines/access_records."""
        def size(p):
            try:
                return os.path.getsize(p)
            except OSError:
                return 0
        return size(self.log_path), size(self.out_path)

    def bad_error_lines(self, start=0, end=None):
        """Error log lines (from byte offset start) where NGINX lost a request
        or connection to the upstream."""
        text = self.error_log(start)
        if end is not None:
            text = text[:max(0, end - start)]
        return [l for l in text.splitlines() if BAD_ERROR.search(l) and "upstream" in l]

    def access_records(self, start=0, end=None):
        """Access log records (dicts of ACCESS_FIELDS plus 'line') from byte offset start."""
        try:
            with open(self.out_path, "rb") as f:
                f.seek(start)
                data = f.read() if end is None else f.read(max(0, end - start))
        except OSError:
            return []
        out = []
        for line in data.decode("utf-8", "replace").splitlines():
            parts = line.split("|")
            if len(parts) != len(ACCESS_FIELDS):
                continue
            rec = dict(zip(ACCESS_FIELDS, parts))
            rec["line"] = line
            out.append(rec)
        return out


def upstream_codes(rec):
    """The upstream statuses of a record ('502, 200' -> ['502', '200'])."""
    return [c for c in re.split(r"[\s,:]+", rec["upstream_status"]) if c and c != "-"]


def gateway_errors(records):
    """Records with a 502/504 in the final status or in any upstream attempt."""
    return [r for r in records if r["status"] in ("502", "504")
            or any(c in ("502", "504") for c in upstream_codes(r))]


def utc_of_msec(msec):
    t = float(msec)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def fmt_access(recs, limit=15):
    out = ["  %s %s" % (utc_of_msec(r["msec"]), r["line"]) for r in recs[:limit]]
    if len(recs) > limit:
        out.append("  ... and %d more" % (len(recs) - limit))
    return out


def fmt_lines(lines, limit=15):
    out = ["  " + l for l in lines[:limit]]
    if len(lines) > limit:
        out.append("  ... and %d more" % (len(lines) - limit))
    return out


def wait_through(port, path="/healthz", timeout=5.0):
    """GET path through NGINX until 200 (NGINX and its upstream both up)."""
    last = [None]

    def ok():
        try:
            code, _, body = harness.http_get(port, path, timeout=2.0)
            last[0] = "%d %r" % (code, body[:80])
            return code == 200
        except OSError as e:
            last[0] = str(e)
            return False
    try:
        wait_until(ok, timeout, 0.05, "GET %s through NGINX" % path)
    except AssertionError:
        raise AssertionError("GET %s through NGINX on port %d never answered 200 (last: %s)" % (
            path, port, last[0]))


def example_server(port, upstream_port=None, servers=None):
    """scripts/nginx/shoal.conf itself, listening on 127.0.0.1:port, with
    its upstream's one server line replaced by shoal on
    127.0.0.1:upstream_port, or by servers (the text of the server lines,
    for several hosts): what the example does is what runs."""
    path = os.path.join(harness.repo_root(), "scripts", "nginx", "shoal.conf")
    with open(path) as f:
        text = f.read()
    if servers is None:
        servers = "server 127.0.0.1:%d;" % upstream_port
    for old, new in (("listen 80;", "listen 127.0.0.1:%d;" % port),
                     ("server 127.0.0.1:8080;", servers)):
        assert text.count(old) == 1, "%s: expected one %r to adapt" % (path, old)
        text = text.replace(old, new)
    return text


# ---------------------------------------------------------------------------
# per-phase accounting

def shoal_log_lines(s, start, end=None, levels=("error", "warn", "notice", "info")):
    """Lines of s's log between two character offsets whose level is one of levels."""
    text = s.log_text()[start:end]
    rx = re.compile(r"\b(%s):" % "|".join(levels))
    return [l for l in text.splitlines() if rx.search(l)]



class Phases:
    """Per-phase accounting of load clients, NGINX's logs and shoal's logs.

    servers: one Shoal or a list of them (a test may change the list between
    phases, e.g. a host's shoal started again); labels: a name per load for
    the report (default: the upstreams of test_nginx.py's two loads);
    by_upstream: each phase's line says how many requests each upstream
    address answered (a row's "upstreams" always has the counts)."""

    def __init__(self, servers, ng, loads, labels=("load via TCP upstream",
                                                   "load via Unix upstream"), by_upstream=False):
        self.servers = servers if isinstance(servers, (list, tuple)) else [servers]
        self.ng, self.loads, self.labels = ng, loads, labels
        self.by_upstream = by_upstream      # each phase's line counts requests by upstream
        self.rows = []

    def mark(self):
        return {"t": time.monotonic(), "utc": utc_now(), "load": [ld.counts() for ld in self.loads],
                "ng": self.ng.offsets(), "log": {s.name: len(s.log_text()) for s in self.servers}}

    def close(self, name, m, extra=""):
        e0, a0 = m["ng"]
        e1, a1 = self.ng.offsets()
        loads = [ld.since(mk) for ld, mk in zip(self.loads, m["load"])]
        recs = self.ng.access_records(a0, a1)
        lines = []
        for s in self.servers:
            tag = "[%s] " % s.name if len(self.servers) > 1 else ""
            lines += [tag + l for l in shoal_log_lines(s, m["log"].get(s.name, 0))]
        upstreams = {}
        for r in recs:
            last = r["upstream_addr"].split(",")[-1].split(":")[0].strip()
            upstreams[last] = upstreams.get(last, 0) + 1
        row = {
            "name": name, "utc0": m["utc"], "utc1": utc_now(),
            "secs": time.monotonic() - m["t"], "loads": loads,
            "ok": sum(d["ok"] for d in loads), "failed": sum(d["failed"] for d in loads),
            "requests": len(recs),
            "non2xx": [r for r in recs if not r["status"].startswith("2")],
            "gateway": gateway_errors(recs),
            "retried": [r for r in recs if len(upstream_codes(r)) > 1],
            "errors": self.ng.bad_error_lines(e0, e1),
            "upstreams": upstreams,       # requests by the address that answered last
            "times": sorted(float(r["request_time"]) for r in recs),   # NGINX's, seconds
            "shoal": lines,
            "extra": extra,
        }
        if self.by_upstream:
            row["extra"] = "; ".join(x for x in (extra, "answered by %s" % ", ".join(
                "%s %d" % kv for kv in sorted(upstreams.items()))) if x)
        self.rows.append(row)
        note(self.line(row))
        return row

    @staticmethod
    def line(r):
        return ("%-22s %s..%s (%.2fs): client ok %d failed %d; NGINX %d requests, non-2xx %d, "
                "502/504 (final or an upstream attempt) %d, retried upstream attempts %d, "
                "upstream error-log lines %d%s" % (
                    r["name"], r["utc0"], r["utc1"][11:], r["secs"], r["ok"], r["failed"],
                    r["requests"], len(r["non2xx"]), len(r["gateway"]), len(r["retried"]),
                    len(r["errors"]), ("; " + r["extra"]) if r["extra"] else ""))

    def report(self, rows=None):
        rows = self.rows if rows is None else rows
        out = ["per phase:"] + ["  " + self.line(r) for r in rows]
        for r in rows:
            if not (r["failed"] or r["non2xx"] or r["gateway"] or r["errors"] or r["retried"]):
                continue
            out.append("-- phase %s (%s .. %s):" % (r["name"], r["utc0"], r["utc1"]))
            for ld, d in zip(self.labels, r["loads"]):
                if d["failed"]:
                    out.append(" %s: %d failed:" % (ld, d["failed"]))
                    out += ["  " + x for x in Load.format_records(d["records"])]
            if r["errors"]:
                out.append(" NGINX error log (%d lines):" % len(r["errors"]))
                out += fmt_lines(r["errors"])
            if r["gateway"] or r["non2xx"] or r["retried"]:
                seen, recs = set(), []
                for x in r["gateway"] + r["non2xx"] + r["retried"]:
                    if id(x) not in seen:
                        seen.add(id(x))
                        recs.append(x)
                out.append(" NGINX access log (UTC of $msec, then msec|time|client|request|"
                           "status|upstream_status|request_time|upstream_addr|connect|"
                           "response|conn|conn_requests):")
                out += fmt_access(recs)
            if r["shoal"]:
                out.append(" shoal log (info and above) in the phase:")
                out += fmt_lines(r["shoal"], 25)
        return "\n".join(out)

