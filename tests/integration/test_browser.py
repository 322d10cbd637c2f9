"""
A real browser against shoal: Debian's chromium, headless, driven through
puppeteer-core (chromium.py, browser/driver.js).

The page (browser/www/, served by the static handler) fetches /echo, then
opens an EventSource on /events (the ticker handler). Each page runs in a
browser context of its own, so with its own connections; the worker that
answered a page is the one holding the page's /echo connection, found in
/proc from the client port the echo reports (the kernel steers each new
connection to a random worker, so the test opens contexts until two
workers answer, at most MAX_CONTEXTS).

Skipped with one line where chromium, node or puppeteer-core is missing
(scripts/deps --test installs them).
"""

import json
import os
import time

import harness
from chromium import Browser, require_browser
from harness import Shoal, note, server_pid_for_client_port, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
WWW = os.path.join(HERE, "browser", "www")
MAX_CONTEXTS = 16      # two workers, random steering: all on one worker is 2^-15
MAX_LOST = 2           # pages whose /echo connection was closed before it was looked up


def page_server(workers=2, ticks=5, interval=0.1):
    d = harness.tmpdir()
    cfg = os.path.join(d, "shoal.json")
    port = harness.free_port()
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:%d" % port], "workers": workers, "routes": [
            {"path": "/", "match": "prefix", "handler": "static", "root": WWW},
            {"path": "/healthz", "handler": "health"},
            {"path": "/echo", "handler": "echo"},
            {"path": "/events", "handler": "ticker", "interval": interval, "count": ticks},
        ]}, f)
    s = Shoal(["-c", cfg])
    s.ports, s.nworkers = [port], workers
    return s.start()


def connection_report(client_port, server_port):
    """Where the server side of a client's connection is: its rows of
    /proc/net/tcp (state, inode) and the pid holding each inode, if any."""
    rows = [r for r in harness.tcp_table()
            if server_port in (r.local_port, r.remote_port) and client_port in
            (r.local_port, r.remote_port)]
    pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    out = []
    for r in rows:
        holders = [p for p in pids if r.inode and r.inode in harness.socket_inodes(p)]
        out.append("%s:%d->%s:%d state 0x%02x inode %d held by %s" % (
            r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state, r.inode,
            ", ".join("%d (%s)" % (p, harness.comm(p)) for p in holders) or "no process"))
    return "; ".join(out) or "no row in /proc/net/tcp"


def off_loopback(pids):
    """TCP sockets of pids (not listening) whose peer is not on loopback."""
    inodes = set()
    for p in pids:
        inodes |= harness.socket_inodes(p)
    return [r for r in harness.tcp_table() if r.inode in inodes and r.state != harness.TCP_LISTEN
            and not (r.remote_ip.startswith("127.") or r.remote_ip in ("::1", "::ffff:127.0.0.1")
                     or r.remote_ip in ("0.0.0.0", "::"))]


@harness.timeout(60)
def test_browser_pages_get_events_from_different_workers():
    """Pages in separate browser contexts load the static page (200), get
    their /echo (client 127.0.0.1, HeadlessChrome's user agent) and at least
    three ticker events in order, with no script error; two of them are
    answered by two different workers. Chromium opened no connection off
    loopback, and nothing of it is left after it is stopped."""
    require_browser()
    s = page_server()
    workers = s.wait_workers()
    br = Browser()
    url = "http://127.0.0.1:%d/index.html" % s.port
    seen = {}             # worker pid -> [(page, client port)]
    lost = []             # pages whose connection no worker held when looked for
    opened = 0
    t0 = time.monotonic()
    for _ in range(MAX_CONTEXTS):
        page = br.page(br.context())
        opened += 1
        status = page.goto(url)
        assert status == 200, "GET %s in the browser: %s" % (url, status)
        echo = page.wait("window.page.echo")
        ip, port = echo["client"].rsplit(":", 1)
        assert ip == "127.0.0.1", echo
        agent = [v for k, v in echo["headers"] if k.lower() == "user-agent"]
        assert agent and "HeadlessChrome" in agent[0], echo["headers"]
        try:
            pid = wait_until(lambda: server_pid_for_client_port(
                int(port), list(workers.values()), server_port=s.port), 2, 0.01, "")
        except AssertionError:
            # the connection is gone (or held elsewhere): say where it is
            where = connection_report(int(port), s.port)
            lost.append(where)
            note("page %d: no worker holds its connection from port %s: %s" % (
                opened, port, where))
            assert len(lost) <= MAX_LOST, "%d pages' connections held by no worker: %s" % (
                len(lost), lost)
            continue
        seen.setdefault(pid, []).append((page, int(port)))
        if len(seen) == 2:
            break
    note("pages opened until two workers answered: %d in %.2fs (client ports by worker: %s)" % (
        opened, time.monotonic() - t0, {pid: [p for _, p in v] for pid, v in seen.items()}))
    assert len(seen) == 2, "%d pages in %d contexts were all answered by worker %s" % (
        opened, opened, list(seen))
    for pid, entries in seen.items():
        page, port = entries[0]
        ticks = page.wait("window.page.ticks.length >= 3 && window.page.ticks", timeout=10)
        assert ticks[:3] == [1, 2, 3], "page answered by worker %d: events %s" % (pid, ticks)
        log = page.log()
        state = page.eval("window.page")
        assert not log["errors"] and not state["errors"], (log, state["errors"])
        note("worker %d: page from port %d got events %s (EventSource opened %d time(s))"
             % (pid, port, ticks, state["opens"]))
        assert page.eval("document.querySelectorAll('#ticks li').length") >= 3
    browser_pids = br.chromium.processes()
    off = off_loopback(browser_pids)
    assert not off, "chromium has TCP connections off loopback: %s" % off
    remarks = br.close()
    assert not remarks, remarks
    assert not br.chromium.processes(), "chromium processes left: %s" % br.chromium.processes()
    assert s.stop() == 0
