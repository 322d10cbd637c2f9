"""
chromium — a real browser for the integration tests: Debian's chromium,
headless, started and stopped by the test, driven through puppeteer-core.

    br = Browser()                  # Skip if chromium, node or puppeteer-core is missing
    page = br.page(br.context())    # a tab in a context of its own
    page.goto("http://127.0.0.1:%d/index.html" % port)
    page.wait("window.ticks.length >= 3")
    page.eval("window.echo")        # a JSON value
    br.close()                      # also done by run.py's cleanup

Chromium (/usr/lib/chromium/chromium: the program behind Debian's
/usr/bin/chromium launcher script, so that the pid kept is the browser's)
runs in its own session with a fresh profile in the test's temp dir and
--remote-debugging-port=0: it writes the port it picked on 127.0.0.1 to
DevToolsActivePort in the profile. The flags keep it off the network:
without --disable-background-networking, --disable-component-update,
--disable-sync and --disable-quic Chromium keeps trying to reach Google's
services. It is stopped by its process group (every Chromium process stays
in it), SIGTERM then SIGKILL.

The driver (browser/driver.js, Node) connects to it with puppeteer-core from
tests/node/node_modules (scripts/deps --test installs it there; it downloads
no browser) and runs one JSON command a line from its stdin; see its header.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time

import harness
from harness import Skip, deadline, note, remaining, wait_until

CHROMIUM_BIN = "/usr/lib/chromium/chromium"
HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "browser", "driver.js")
PUPPETEER = os.path.join(harness.repo_root(), "tests", "node", "node_modules", "puppeteer-core",
                         "package.json")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-default-apps", "--disable-extensions",
         "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
         "--password-store=basic", "--remote-debugging-port=0"]


def require_browser():
    """Skip (one line) unless chromium, node and puppeteer-core are here."""
    missing = []
    if not os.access(CHROMIUM_BIN, os.X_OK):
        missing.append("chromium (Debian package)")
    if shutil.which("node") is None:
        missing.append("node")
    if not os.path.exists(PUPPETEER):
        missing.append("puppeteer-core in tests/node/node_modules")
    if missing:
        raise Skip("no real browser here: %s missing (scripts/deps --test)" % ", ".join(missing))


class Chromium:
    """The browser process (see the module docstring)."""

    def __init__(self, name="chromium", args=()):
        require_browser()
        self.name = name
        d = harness.tmpdir()
        self.profile = os.path.join(d, name + "-profile")
        os.makedirs(self.profile, exist_ok=True)
        self.log_path = os.path.join(d, name + ".log")
        self.args = list(args)
        self.proc = self.pid = self.starttime = None
        self.endpoint = None

    def __repr__(self):
        return "<Chromium pid=%s %s>" % (self.pid, self.endpoint)

    def start(self, timeout=20.0):
        cmd = [CHROMIUM_BIN] + FLAGS + ["--user-data-dir=" + self.profile] + self.args + \
            ["about:blank"]
        note("start: " + " ".join(cmd))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         close_fds=True, preexec_fn=harness._no_core)
        self.pid = self.proc.pid
        self.starttime = harness.proc_starttime(self.pid)
        harness._state["servers"].append(self)
        port_file = os.path.join(self.profile, "DevToolsActivePort")

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("chromium exited with status %s at start: %s" % (
                    self.proc.returncode, self.log_tail(10)))
            try:
                with open(port_file) as f:
                    lines = f.read().split()
            except OSError:
                return None
            return lines if len(lines) == 2 else None
        port, path = wait_until(ready, timeout, 0.02, "chromium's DevToolsActivePort")
        self.endpoint = "ws://127.0.0.1:%s%s" % (port, path)
        return self

    def processes(self):
        """Live processes of the browser (its process group)."""
        return harness.group_members(self.pid) if self.pid else []

    def stop(self, timeout=3.0):
        if self.proc is None:
            return None
        remark = None
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                remark = "chromium pid %d still running %.0fs after SIGTERM; SIGKILLed its " \
                         "group" % (self.pid, timeout)
        harness._killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
            # the renderers and helpers, orphaned, are reaped by init
            wait_until(lambda: not self.processes(), 5, 0.02, "chromium's processes to go")
        except subprocess.TimeoutExpired:
            remark = "chromium pid %d did not die after SIGKILL" % self.pid
        except AssertionError:
            remark = "chromium processes %s still there after SIGKILL" % self.processes()
        return remark

    def _cleanup(self):
        return self.stop()

    def log_tail(self, n=40):
        return harness.file_tail(self.log_path, n)


class Driver:
    """node browser/driver.js connected to a Chromium; call() sends one
    command and returns its answer (AssertionError with the driver's error)."""

    def __init__(self, chromium):
        self.chromium = chromium
        d = harness.tmpdir()
        self.log_path = os.path.join(d, chromium.name + "-driver.log")
        self.err = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["node", DRIVER, chromium.endpoint], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, cwd=d,
                                     start_new_session=True, close_fds=True)
        self.pid = self.proc.pid
        self.starttime = harness.proc_starttime(self.pid)
        harness._state["servers"].append(self)
        self.answers = queue.Queue()
        self.seq = 0
        threading.Thread(target=self._read, name="driver-reader", daemon=True).start()
        first = self._answer(0, 20.0)
        if not first.get("ok"):
            raise AssertionError("the browser driver could not connect: %s" % first.get("error"))

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.answers.put(json.loads(line))
            except ValueError:
                self.answers.put({"id": None, "ok": False, "error": "not JSON: %r" % line[:200]})
        self.answers.put(None)

    def _answer(self, want, timeout):
        dl = deadline(timeout)
        while True:
            try:
                a = self.answers.get(timeout=max(0.01, remaining(dl)))
            except queue.Empty:
                raise AssertionError("the browser driver did not answer command %d within "
                                     "%.0fs" % (want, timeout))
            if a is None:
                raise AssertionError("the browser driver exited (status %s): %s" % (
                    self.proc.poll(), self.log_tail(10)))
            if a.get("id") == want:
                return a

    def call(self, op, timeout=15.0, **args):
        """Send {"op": op, **args}; wait up to timeout seconds for the answer."""
        self.seq += 1
        cmd = dict(args, id=self.seq, op=op)
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        a = self._answer(self.seq, timeout)
        if not a.get("ok"):
            raise AssertionError("browser: %s %s: %s" % (
                op, json.dumps(args)[:200], a.get("error")))
        return a

    def log_tail(self, n=40):
        return harness.file_tail(self.log_path, n)

    def _cleanup(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()         # the driver exits when stdin ends
                self.proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                pass
        harness._killpg_if_ours(self.pid, self.starttime, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "browser driver pid %d did not die after SIGKILL" % self.pid
        self.err.close()
        return None


class Page:
    """One tab, through the driver."""

    def __init__(self, driver, page_id):
        self.driver, self.id = driver, page_id

    def goto(self, url, timeout=10.0):
        return self.driver.call("goto", timeout=timeout + 5, page=self.id, url=url,
                                ms=int(timeout * 1000))["status"]

    def eval(self, expr):
        return self.driver.call("eval", page=self.id, expr=expr).get("value")

    def wait(self, expr, timeout=10.0):
        """Until expr is truthy in the page; its value."""
        return self.driver.call("wait", timeout=timeout + 5, page=self.id, expr=expr,
                                ms=int(timeout * 1000)).get("value")

    def log(self):
        return self.driver.call("log", page=self.id)

    def close(self):
        self.driver.call("close", page=self.id)


class Browser:
    """A Chromium and its driver."""

    def __init__(self, name="chromium", args=()):
        t0 = time.monotonic()
        self.chromium = Chromium(name, args).start()
        self.driver = Driver(self.chromium)
        self.version = self.driver.call("version")["version"]
        note("browser: %s, pid %d, %s; started and connected in %.2fs" % (
            self.version, self.chromium.pid, self.chromium.endpoint, time.monotonic() - t0))

    def context(self):
        """A new browser context: its own cookies, cache and connections."""
        return self.driver.call("context")["context"]

    def page(self, context=None):
        return Page(self.driver, self.driver.call("page", context=context)["page"])

    def close(self):
        t0 = time.monotonic()
        remarks = [r for r in (self.driver._cleanup(), self.chromium.stop()) if r]
        note("browser stopped in %.2fs" % (time.monotonic() - t0))
        return remarks
