"""
The chat application (scripts/chat/) in a real browser: Debian's chromium,
headless, driven through puppeteer-core (chromium.py, browser/driver.js).

shoal runs scripts/chat/chat.json itself (the listen address, control
socket, page root and, for the second test, Redis adapted): the static
handler serves the page, the pubsub route /rooms/ the rooms. Each page runs
in a browser context of its own, fills in the join form and presses Join,
like a person: the page opens a WebSocket to /rooms/ROOM. Which worker
serves that WebSocket is found through /proc: the server side of every
connection to shoal's port before and after the join, the one new one
looked up in the workers' fd tables (harness.server_pid_for_client_port).
A page whose WebSocket landed on the worker of the other page leaves and
joins again (the kernel steers each new connection to a random worker).

Skipped with one line where chromium, node or puppeteer-core is missing
(scripts/deps --test installs them).
"""

import json
import os
import time

import harness
from chromium import Browser, require_browser
from harness import Shoal, note, server_pid_for_client_port, wait_until

CHAT = os.path.join(harness.repo_root(), "scripts", "chat")
MAX_JOINS = 24          # two workers, random steering: 2^-23 to miss
XSS = "<img src=x onerror=\"window.pwned=1\"> & <b>bold</b>"


def chat_server(workers=2, redis=None, name="chat"):
    """shoal on scripts/chat/chat.json, adapted: a free port, the control
    socket in the test's directory, the page's root as an absolute path,
    and Redis if given."""
    with open(os.path.join(CHAT, "chat.json")) as f:
        cfg = json.load(f)
    port = harness.free_port()
    d = harness.tmpdir()
    cfg["listen"] = ["127.0.0.1:%d" % port]
    cfg["workers"] = workers
    cfg["control_socket"] = os.path.join(d, "%s-%d.sock" % (name, port))
    static = [r for r in cfg["routes"] if r["handler"] == "static"]
    assert len(static) == 1 and static[0]["root"] == "scripts/chat", cfg["routes"]
    static[0]["root"] = CHAT
    if redis is not None:
        cfg["redis"] = {"address": redis.address}
    path = os.path.join(d, "%s-%d.json" % (name, port))
    with open(path, "w") as f:
        json.dump(cfg, f)
    s = Shoal(["-c", path], raw=True, workers=workers, name=name)
    s.ports = [port]
    s.control = cfg["control_socket"]
    return s.start()


def server_side_ports(port):
    """Client ports of the established connections to port (their server side)."""
    return {r.remote_port for r in harness.tcp_table()
            if r.local_port == port and r.state == harness.TCP_ESTABLISHED}


def open_page(br, s):
    page = br.page(br.context())
    url = "http://127.0.0.1:%d/" % s.port
    status = page.goto(url)
    assert status == 200, "GET %s in the browser: %s" % (url, status)
    assert page.eval("document.title") == "shoal chat"
    return page


def join(page, s, nick, room, avoid=None):
    """Join room as nick through the page's form; returns (worker pid,
    client port) of the page's WebSocket, on a worker other than avoid."""
    workers = list(s.workers().values())
    for attempt in range(1, MAX_JOINS + 1):
        before = server_side_ports(s.port)
        page.eval("""(() => {
            document.getElementById('nick').value = %s;
            document.getElementById('room').value = %s;
            document.getElementById('enter').click();
            return true; })()""" % (json.dumps(nick), json.dumps(room)))
        # in the room: the join form gone, the room shown
        page.wait("window.chat.state === 'open' && "
                  "getComputedStyle(document.getElementById('join')).display === 'none' && "
                  "getComputedStyle(document.getElementById('room-view')).display !== 'none'",
                  timeout=5)
        # the server side of the new connection is in the table once
        # accepted; the page's load connections may only have gone
        new = wait_until(lambda: server_side_ports(s.port) - before or None, 2, 0.01,
                         "the page's WebSocket in /proc/net/tcp")
        if len(new) == 1:
            port = new.pop()
            pid = wait_until(lambda: server_pid_for_client_port(port, workers, s.port), 2,
                             0.01, "the worker holding client port %d" % port)
            if pid != avoid:
                note("%s joined %s on worker %d (client port %d) at attempt %d" % (
                    nick, room, pid, port, attempt))
                return pid, port
        page.eval("window.chat.leave(), true")
        page.wait("window.chat.state === 'idle'")
    raise AssertionError("%d joins of %s all reached worker %s" % (MAX_JOINS, nick, avoid))


def say(page, text):
    """Type text and press Send, as a person would."""
    page.eval("""(() => {
        document.getElementById('text').value = %s;
        document.getElementById('send').click();
        return true; })()""" % json.dumps(text))


def wait_text(page, text, timeout=10):
    page.wait("window.chat.messages.some((m) => m.text === %s)" % json.dumps(text),
              timeout=timeout)


def shown(page):
    """The messages as the page shows them: (nick, text) of each list item."""
    return [tuple(x) for x in page.eval(
        "[...document.querySelectorAll('#log li')].map((li) => "
        "[li.querySelector('.nick').textContent, li.querySelector('.text').textContent])")]


def check_clean(page, what):
    """No script error, no failed request, nothing injected."""
    log = page.log()
    state = page.eval("({errors: window.chat.errors, ignored: window.chat.ignored, "
                      "pwned: window.pwned === undefined ? null : window.pwned, "
                      "imgs: document.querySelectorAll('#log img, #log b').length})")
    assert not log["errors"] and not log["failed"] and not state["errors"], (what, log, state)
    assert state["pwned"] is None and state["imgs"] == 0, (what, state)
    assert state["ignored"] == 0, (what, state)


@harness.timeout(60)
def test_chat_pages_on_two_workers_see_each_other():
    """Two pages in separate browser contexts join room lobby over
    WebSockets that two different workers serve; each sends a message and
    each sees both, once, in the list (the HTML of one shown as text, not
    markup); a third page joining later gets both from the room's history;
    a message of another room reaches none of them; after a reload (which
    closes the WebSockets) the pages are back in the room, a new message
    reaches all, and none shows a message twice."""
    require_browser()
    s = chat_server(workers=2)
    s.wait_workers()
    br = Browser()
    t0 = time.monotonic()
    a, b = open_page(br, s), open_page(br, s)
    wa, _ = join(a, s, "ann", "lobby")
    wb, _ = join(b, s, "bob", "lobby", avoid=wa)
    assert wa != wb and {wa, wb} == set(s.workers().values()), (wa, wb, s.workers())
    say(a, "hello from ann")
    say(b, XSS)
    for page, other in ((a, XSS), (b, "hello from ann")):
        wait_text(page, other)
    for page, name in ((a, "ann"), (b, "bob")):
        rows = shown(page)
        assert sorted(rows) == sorted([("ann", "hello from ann"), ("bob", XSS)]), (name, rows)
        check_clean(page, name)
    # another room: a page there, and a message that reaches no one in lobby
    c = open_page(br, s)
    join(c, s, "cat", "attic")
    say(c, "only in the attic")
    wait_text(c, "only in the attic")
    # a late joiner of lobby: the history first
    d = open_page(br, s)
    join(d, s, "dan", "lobby")
    wait_text(d, "hello from ann")
    wait_text(d, XSS)
    time.sleep(0.3)
    for page, name in ((a, "ann"), (b, "bob"), (d, "dan")):
        assert "only in the attic" not in [t for _, t in shown(page)], name
        check_clean(page, name)
    assert len(shown(d)) == 2, shown(d)
    # a reload drains the WebSockets (1001): the pages connect again, to the
    # new workers, take the history again and show nothing twice
    rc, out, err = harness.ctl(s.control, "reload")
    assert rc == 0, (rc, out, err)
    for page in (a, b):
        page.wait("window.chat.opens >= 2 && window.chat.state === 'open'", timeout=10)
    say(b, "after the reload")
    for page, name in ((a, "ann"), (b, "bob"), (d, "dan")):
        wait_text(page, "after the reload")
        assert sorted(shown(page)) == sorted([("ann", "hello from ann"), ("bob", XSS),
                                              ("bob", "after the reload")]), (name, shown(page))
        check_clean(page, name)
    note("two workers %d and %d: messages crossed, history on join, rooms apart, pages back "
         "after a reload with nothing twice, in %.2fs" % (wa, wb, time.monotonic() - t0))
    remarks = br.close()
    assert not remarks, remarks
    assert not br.chromium.processes(), "chromium processes left: %s" % br.chromium.processes()
    assert s.stop() == 0


@harness.timeout(60)
def test_chat_pages_on_two_instances_sharing_redis():
    """Two shoal instances (1 worker each) on one Redis: a page on each,
    both in room lobby; each sends a message and sees both; the room's
    history, kept in Redis, reaches a page that joins later on either."""
    require_browser()
    redis = harness.Redis().start()
    s1 = chat_server(workers=1, redis=redis, name="chat1")
    s2 = chat_server(workers=1, redis=redis, name="chat2")
    br = Browser()
    a, b = open_page(br, s1), open_page(br, s2)
    wa, _ = join(a, s1, "ann", "lobby")
    wb, _ = join(b, s2, "bob", "lobby")
    assert wa in s1.workers().values() and wb in s2.workers().values(), (wa, wb)
    say(a, "ann through instance 1")
    say(b, "bob through instance 2")
    for page in (a, b):
        wait_text(page, "ann through instance 1")
        wait_text(page, "bob through instance 2")
    for page, name in ((a, "ann"), (b, "bob")):
        assert sorted(shown(page)) == [("ann", "ann through instance 1"),
                                       ("bob", "bob through instance 2")], (name, shown(page))
        check_clean(page, name)
    keys = redis.command("KEYS", "*")
    assert any(k.startswith(b"shoal:") and b"chat:lobby" in k for k in keys), keys
    c = open_page(br, s2)
    join(c, s2, "cat", "lobby")
    wait_text(c, "ann through instance 1")
    wait_text(c, "bob through instance 2")
    check_clean(c, "cat")
    remarks = br.close()
    assert not remarks, remarks
    assert s1.stop() == 0 and s2.stop() == 0
