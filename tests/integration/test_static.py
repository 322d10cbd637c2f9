"""
The static file handler: files beneath a route's root over real sockets.

Each test builds a tree in its temp dir (ROOT = tmp/root, with a file and a
directory next to it, outside the root, that no request may reach), writes
a config with a "static" route on /static/ and starts shoal with -c.
Responses are read whole (Connection: close, until EOF), so a body that is
longer or shorter than its Content-Length is caught.
"""

import hashlib
import json
import os
import re
import time

import harness
from harness import RawConn, Shoal, free_port, note, request_bytes, run_cli, wait_until

SECRET = b"OUTSIDE THE ROOT: must never be served\n"
HELLO = b"Hello, static world!\n"
INDEX = b"<!doctype html><title>sub</title><h1>sub</h1>\n"
BIG = 8 << 20
IMF_RE = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"


def make_tree(big=False):
    """The served tree in the test's temp dir; returns (root, {name: bytes})."""
    tmp = harness.tmpdir()
    root = os.path.join(tmp, "root")
    files = {
        "hello.txt": HELLO,
        "data.bin": bytes(range(256)) * 16,          # 4096 bytes, every byte value
        "style.css": b"body{color:#123}\n",
        "app.js": b"console.log(1)\n",
        "pic.PNG": b"\x89PNG\r\n\x1a\n" + os.urandom(100),
        "noext": b"no extension\n",
        "a b.txt": b"a space\n",
        "sub/index.html": INDEX,
        "sub/deeper/x.json": b'{"x": 1}\n',
        "a/inner.txt": b"inner\n",
        "empty/.keep": b"",
    }
    if big:
        files["big.bin"] = os.urandom(BIG)
    for name, data in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    os.remove(os.path.join(root, "empty/.keep"))
    # next to the root: the names the traversal attempts aim at
    with open(os.path.join(tmp, "x"), "wb") as f:
        f.write(SECRET)
    os.makedirs(os.path.join(tmp, "outdir"))
    with open(os.path.join(tmp, "outdir", "index.html"), "wb") as f:
        f.write(SECRET)
    os.symlink("hello.txt", os.path.join(root, "link-in"))
    os.symlink("sub", os.path.join(root, "linkdir"))
    os.symlink("../x", os.path.join(root, "link-out"))
    os.symlink(os.path.join(tmp, "x"), os.path.join(root, "link-abs"))
    os.symlink("../outdir", os.path.join(root, "linkdir-out"))
    os.symlink("..", os.path.join(root, "up"))
    return root, files


def start(root, extra_routes=(), route_opts=None):
    """shoal -c CONFIG with the static route on /static/ (plus extra_routes)."""
    port = free_port()
    route = {"path": "/static/", "match": "prefix", "handler": "static", "root": root}
    route.update(route_opts or {})
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "routes": [route] + list(extra_routes)}
    path = os.path.join(harness.tmpdir(), "shoal.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    note("config: %s" % json.dumps(cfg))
    s = Shoal(args=["-c", path], workers=1).start()
    # -c: the harness does not know the port, so wait_ready checked only
    # the log; make sure the port answers too
    wait_until(lambda: _answers(port), 5.0, what="port %d to answer" % port)
    return s, port


def _answers(port):
    try:
        fetch(port, "/static/hello.txt", timeout=1.0)
        return True
    except (OSError, ConnectionError):
        return False


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.[01] (\d{3})(?: .*)?$", lines[0])
    assert m, "bad status line %r" % lines[0]
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        k = k.strip().lower()
        headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
    return int(m.group(1)), headers


def fetch(port, path, method="GET", headers=None, timeout=5.0):
    """One request on its own connection (Connection: close), read to EOF:
    (status, headers lowercased, body). The body must be exactly
    Content-Length bytes (none for HEAD, 304, 1xx/204)."""
    with RawConn(port, timeout=timeout) as c:
        c.send(request_bytes(path, headers=headers, method=method))
        data = c.recv_all(timeout=timeout)
    assert b"\r\n\r\n" in data, "%s %s: no complete head in %r" % (method, path, data[:200])
    head, body = data.split(b"\r\n\r\n", 1)
    status, hdrs = parse_head(head)
    if method == "HEAD" or status == 304:
        assert body == b"", "%s %s -> %d with %d body bytes" % (method, path, status, len(body))
    else:
        assert "content-length" in hdrs, "%s %s -> %d without Content-Length" % (method, path, status)
        assert len(body) == int(hdrs["content-length"]), (
            "%s %s: Content-Length %s, got %d bytes" % (method, path, hdrs["content-length"], len(body)))
    return status, hdrs, body


def expect(port, path, status, body=None, ctype=None, method="GET", headers=None):
    st, h, b = fetch(port, path, method=method, headers=headers)
    assert st == status, "%s %s %s -> %d %r, expected %d" % (
        method, path, headers or "", st, b[:100], status)
    if body is not None:
        assert b == body, "%s %s: body %r, expected %r" % (method, path, b[:100], body[:100])
    if ctype is not None:
        assert h.get("content-type") == ctype, "%s %s: Content-Type %r, expected %r" % (
            method, path, h.get("content-type"), ctype)
    return h, b


# ---------------------------------------------------------------------------

def test_static_get_head_types():
    root, files = make_tree()
    s, port = start(root)

    h, _ = expect(port, "/static/hello.txt", 200, HELLO, "text/plain; charset=utf-8")
    assert h.get("accept-ranges") == "bytes", h
    assert re.match(r'^(W/)?"[^"]+"$', h.get("etag", "")), "ETag %r" % h.get("etag")
    assert re.match(IMF_RE, h.get("last-modified", "")), "Last-Modified %r" % h.get("last-modified")
    expect(port, "/static/data.bin", 200, files["data.bin"], "application/octet-stream")
    expect(port, "/static/style.css", 200, files["style.css"], "text/css; charset=utf-8")
    expect(port, "/static/app.js", 200, files["app.js"], "text/javascript; charset=utf-8")
    expect(port, "/static/pic.PNG", 200, files["pic.PNG"], "image/png")
    expect(port, "/static/noext", 200, files["noext"], "application/octet-stream")
    expect(port, "/static/sub/deeper/x.json", 200, files["sub/deeper/x.json"], "application/json")
    expect(port, "/static/a%20b.txt", 200, files["a b.txt"])
    expect(port, "/static/hello.txt?v=3", 200, HELLO)

    # HEAD: the same head, no body
    st, hh, b = fetch(port, "/static/data.bin", method="HEAD")
    assert st == 200 and b == b"", (st, b[:50])
    assert hh.get("content-length") == "4096", hh
    assert hh.get("content-type") == "application/octet-stream", hh
    assert hh.get("etag") and hh.get("last-modified"), hh

    # directories
    expect(port, "/static/sub/", 200, INDEX, "text/html; charset=utf-8")
    h, _ = expect(port, "/static/sub", 301)
    assert h.get("location") == "/static/sub/", h
    h, _ = expect(port, "/static/sub/deeper?a=1", 301)
    assert h.get("location") == "/static/sub/deeper/?a=1", h
    expect(port, "/static/sub/deeper/", 404)       # no index.html there
    expect(port, "/static/empty/", 404)

    # missing, a file used as a directory, other methods
    expect(port, "/static/missing.txt", 404)
    expect(port, "/static/sub/missing/", 404)
    expect(port, "/static/hello.txt/", 404)
    expect(port, "/static/hello.txt/x", 404)
    for m in ("POST", "PUT", "DELETE"):
        st, h, _ = fetch(port, "/static/hello.txt", method=m,
                         headers={"Content-Length": "0"})
        assert st == 405, "%s -> %d" % (m, st)
        assert "GET" in h.get("allow", "") and "HEAD" in h.get("allow", ""), h


def test_static_conditional():
    root, _ = make_tree()
    s, port = start(root)
    h, _ = expect(port, "/static/hello.txt", 200, HELLO)
    etag, lm = h["etag"], h["last-modified"]

    for inm in (etag, '"nope", ' + etag, "*", "W/" + etag if not etag.startswith("W/") else etag):
        st, h2, _ = fetch(port, "/static/hello.txt", headers={"If-None-Match": inm})
        assert st == 304, "If-None-Match %r -> %d" % (inm, st)
        assert h2.get("etag") == etag, h2
    st, _, _ = fetch(port, "/static/hello.txt", method="HEAD", headers={"If-None-Match": etag})
    assert st == 304, "HEAD If-None-Match -> %d" % st
    expect(port, "/static/hello.txt", 200, HELLO, headers={"If-None-Match": '"other"'})

    st, _, _ = fetch(port, "/static/hello.txt", headers={"If-Modified-Since": lm})
    assert st == 304, "If-Modified-Since %r -> %d" % (lm, st)
    expect(port, "/static/hello.txt", 200, HELLO,
           headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
    # If-None-Match takes precedence over If-Modified-Since
    expect(port, "/static/hello.txt", 200, HELLO,
           headers={"If-None-Match": '"other"', "If-Modified-Since": lm})

    # a changed file gets a new validator
    path = os.path.join(root, "hello.txt")
    with open(path, "ab") as f:
        f.write(b"more\n")
    st, h3, b = fetch(port, "/static/hello.txt", headers={"If-None-Match": etag})
    assert st == 200 and b == HELLO + b"more\n", (st, b)
    assert h3["etag"] != etag, (h3["etag"], etag)


def test_static_ranges():
    root, files = make_tree()
    s, port = start(root)
    data = files["data.bin"]
    n = len(data)

    for spec, lo, hi in (("bytes=0-0", 0, 0), ("bytes=10-19", 10, 19), ("bytes=4000-", 4000, n - 1),
                         ("bytes=-16", n - 16, n - 1), ("bytes=100-999999", 100, n - 1),
                         ("bytes=-99999", 0, n - 1)):
        h, b = expect(port, "/static/data.bin", 206, data[lo:hi + 1], headers={"Range": spec})
        assert h.get("content-range") == "bytes %d-%d/%d" % (lo, hi, n), (spec, h)

    for spec in ("bytes=4096-", "bytes=5000-6000", "bytes=-0"):
        h, _ = expect(port, "/static/data.bin", 416, headers={"Range": spec})
        assert h.get("content-range") == "bytes */%d" % n, (spec, h)

    # several ranges, another unit, bad syntax: the whole file
    for spec in ("bytes=0-1,5-6", "lines=1-2", "bytes=5-1", "bytes=x-"):
        h, _ = expect(port, "/static/data.bin", 200, data, headers={"Range": spec})
        assert "content-range" not in h, (spec, h)

    h, _ = expect(port, "/static/data.bin", 200, data)
    etag, lm = h["etag"], h["last-modified"]
    expect(port, "/static/data.bin", 206, data[0:4], headers={"Range": "bytes=0-3", "If-Range": etag})
    expect(port, "/static/data.bin", 206, data[0:4], headers={"Range": "bytes=0-3", "If-Range": lm})
    expect(port, "/static/data.bin", 200, data, headers={"Range": "bytes=0-3", "If-Range": '"stale"'})
    expect(port, "/static/data.bin", 200, data,
           headers={"Range": "bytes=0-3", "If-Range": "Thu, 01 Jan 1970 00:00:00 GMT"})


def test_static_traversal():
    root, _ = make_tree()
    s, port = start(root)
    (worker,) = s.wait_workers(1).values()
    expect(port, "/static/hello.txt", 200, HELLO)
    fds = len(harness.fd_targets(worker))
    attempts = [
        "/static/../x", "/static/%2e%2e/x", "/static/%2E%2E/x", "/static/%2E./x",
        "/static/.%2e/x", "/static/%2E%2E%2Fx", "/static/..%2fx", "/static/..%2Fx",
        "/static/a/../../x", "/static/a/%2e%2e/%2e%2e/x", "/static/sub/../../x",
        "/static/x%00", "/static/hello.txt%00.html", "/static/..%00/x",
        "/static/..\\x", "/static/%5c..%5cx", "/static/a\\..\\..\\x",
        "/static/link-out", "/static/link-abs", "/static/linkdir-out/",
        "/static/linkdir-out/index.html", "/static/up/x", "/static/up/",
        "//etc/passwd", "/static//etc/passwd", "/static/%2fetc/passwd",
        "/static/%2F%2E%2E%2Fx", "/static/....//x", "/static/../static/../x",
    ]
    for path in attempts:
        st, h, b = fetch(port, path)
        assert st in (403, 404), "%s -> %d %r (expected 403/404)" % (path, st, b[:80])
        assert SECRET not in b and b"root:" not in b, "%s leaked %r" % (path, b[:80])
    # follow_symlinks is false by default: no symlink is followed, in or out
    expect(port, "/static/link-in", 404)
    expect(port, "/static/linkdir/", 404)
    # the server is still fine, and none of the refusals left an fd open
    expect(port, "/static/hello.txt", 200, HELLO)
    # (<=: the baseline may still have counted the first request's connection,
    # closing lazily on the server side)
    wait_until(lambda: len(harness.fd_targets(worker)) <= fds, 3.0,
               what="worker fds back to %d (now %s)" % (fds, harness.fd_targets(worker)))


def test_static_follow_symlinks():
    root, _ = make_tree()
    s, port = start(root, route_opts={"follow_symlinks": True, "index": "index.html"})
    # the type comes from the name asked for, not the link's target
    expect(port, "/static/link-in", 200, HELLO, "application/octet-stream")
    expect(port, "/static/linkdir/", 200, INDEX)
    # true means every symlink is followed, the ones leading out too
    expect(port, "/static/link-out", 200, SECRET)
    # but the path itself still cannot climb out
    for path in ("/static/../x", "/static/%2e%2e/x", "/static/a/../../x"):
        st, _, b = fetch(port, path)
        assert st in (403, 404) and SECRET not in b, "%s -> %d" % (path, st)


@harness.timeout(60)
def test_static_big_file():
    root, files = make_tree(big=True)
    s, port = start(root)
    want = hashlib.sha256(files["big.bin"]).hexdigest()
    for _ in range(2):
        h, b = expect(port, "/static/big.bin", 200)
        assert int(h["content-length"]) == BIG, h
        assert hashlib.sha256(b).hexdigest() == want, "8 MiB body differs"
    lo, hi = 3 << 20, (5 << 20) + 12345
    h, b = expect(port, "/static/big.bin", 206, headers={"Range": "bytes=%d-%d" % (lo, hi)})
    assert b == files["big.bin"][lo:hi + 1], "range of the big file differs"

    # keep-alive: two big responses and a small one on one connection
    with RawConn(port, timeout=20) as c:
        c.send(request_bytes("/static/big.bin", keepalive=True) +
               request_bytes("/static/data.bin", keepalive=True, headers={"Range": "bytes=1-2"}) +
               request_bytes("/static/hello.txt", keepalive=True))
        st, h, b = c.recv_response(timeout=20)
        assert st == 200 and hashlib.sha256(b).hexdigest() == want, (st, len(b))
        st, h, b = c.recv_response(timeout=5)
        assert st == 206 and b == files["data.bin"][1:3], (st, b)
        st, h, b = c.recv_response(timeout=5)
        assert st == 200 and b == HELLO, (st, b)


def test_static_cache_serves_the_file_as_it_is_now():
    """Small files are kept open between requests (filecache.c): a write in
    place shows in the next response, a change of size with the right
    length; the validators, and an unlinked file (replaced, deleted), within
    FILECACHE_CHECK (0.1 s), when a hit checks the open file again, and at
    once for a conditional request."""
    root, files = make_tree()
    s, port = start(root)
    path = os.path.join(root, "hello.txt")

    def now(want, what):
        h, b = expect(port, "/static/hello.txt", 200)
        assert b == want, "%s: served %r, the file holds %r" % (what, b, want)
        assert int(h["content-length"]) == len(want), (what, h)
        time.sleep(0.15)
        h, b = expect(port, "/static/hello.txt", 200)
        assert b == want, "%s: served %r, the file holds %r" % (what, b, want)
        return h["etag"]

    tags = [now(HELLO, "first"), now(HELLO, "cached")]
    assert tags[0] == tags[1], "the ETag of an unchanged file moved: %s" % tags
    # rewritten in place, same size; a conditional request sees it at once
    same = HELLO.upper()
    with open(path, "r+b") as f:
        f.write(same)
    st, h, b = fetch(port, "/static/hello.txt", headers={"If-None-Match": tags[0]})
    assert st == 200 and b == same and h["etag"] != tags[0], (st, b, h)
    tags.append(now(same, "rewritten in place"))
    # grown, then shrunk, in place
    with open(path, "ab") as f:
        f.write(b"more\n")
    tags.append(now(same + b"more\n", "appended to"))
    with open(path, "r+b") as f:
        f.truncate(3)
    tags.append(now(same[:3], "truncated"))
    # replaced by a rename: the kept inode is unlinked
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(b"replaced\n")
    os.rename(tmp, path)
    time.sleep(0.15)
    tags.append(now(b"replaced\n", "replaced by rename"))
    # a HEAD and a range of the cached file
    h, b = expect(port, "/static/hello.txt", 206, headers={"Range": "bytes=2-4"})
    assert b == b"replaced\n"[2:5], b
    st, h, b = fetch(port, "/static/hello.txt", method="HEAD")
    assert st == 200 and int(h["content-length"]) == len(b"replaced\n"), (st, h)
    # deleted: gone at once
    os.remove(path)
    time.sleep(0.15)
    st, _, _ = fetch(port, "/static/hello.txt")
    assert st == 404, "a deleted file answered %d" % st
    # a directory's index, cached under "sub/", and a new index.html
    h, b = expect(port, "/static/sub/", 200)
    assert b == INDEX
    with open(os.path.join(root, "sub", "index.html"), "wb") as f:
        f.write(b"new index\n")
    h, b = expect(port, "/static/sub/", 200)
    assert b == b"new index\n", b
    # an ETag of the new file matches only it
    assert len(set(tags)) == len(tags) - 1, "ETags did not follow the changes: %s" % tags
    s.stop()


def test_static_config_errors():
    tmp = harness.tmpdir()
    root, _ = make_tree()

    def check(route, want):
        """want: a regex the output must match (None: --check passes). The
        config module may replace a leading '"key": ' with its location
        ('routes[0].key: ')."""
        path = os.path.join(tmp, "bad.json")
        r = {"path": "/static/", "match": "prefix", "handler": "static"}
        r.update(route)
        with open(path, "w") as f:
            json.dump({"listen": ["127.0.0.1:%d" % free_port()], "workers": 1, "routes": [r]}, f)
        rc, out, err = run_cli(["--check", "-c", path])
        text = out + err
        if want is None:
            assert rc == 0, "--check of %r -> %d: %s" % (route, rc, text.strip())
        else:
            assert rc != 0, "--check of %r passed" % route
            assert re.search(want, text), "--check of %r: %r not in %r" % (route, want, text.strip())

    check({"root": root}, None)
    check({"root": root, "index": "home.htm", "follow_symlinks": True}, None)
    missing = os.path.join(tmp, "nope")
    key = r'(^|[\s.])"?%s"?: '
    check({"root": missing}, key % "root" + re.escape("%s: No such file or directory" % missing))
    check({"root": os.path.join(root, "hello.txt")},
          key % "root" + re.escape("%s: Not a directory" % os.path.join(root, "hello.txt")))
    check({}, r'"root": required')
    check({"root": root, "colour": "blue"}, 'unknown key "colour" for handler static')
    check({"root": root, "index": "a/b.html"}, key % "index" + "expected a file name")
    check({"root": root, "follow_symlinks": "yes"}, key % "follow_symlinks" + "expected true or false")
