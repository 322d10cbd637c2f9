"""
Packaging and what an operator or a module author is handed: `make install`
(PREFIX, DESTDIR) and `make uninstall`; a module built outside the tree
against the installed headers and shoal.pc, loaded by the installed binary;
the man page and the README covering every key, built-in handler, command
and signal the binary knows; `shoal --check` loading the modules as a
worker's boot would, and failing with the worker's own message.
"""

import os
import re
import shutil
import subprocess

import harness
from harness import Shoal, Skip, http_get, note, run_cli

PREFIX = "/usr/local"
INSTALLED = [
    "usr/local/bin/shoal",
    "usr/local/share/man/man1/shoal.1",
    "usr/local/lib/systemd/system/shoal.service",
    "usr/local/lib/pkgconfig/shoal.pc",
    "usr/local/include/shoal/common/buf.h",
    "usr/local/include/shoal/common/method.h",
    "usr/local/include/shoal/worker/api/channel.h",
    "usr/local/include/shoal/worker/api/http.h",
    "usr/local/include/shoal/worker/api/module.h",
    "usr/local/include/shoal/worker/api/pool.h",
    "usr/local/include/shoal/worker/api/redis.h",
    "usr/local/include/shoal/worker/api/ws.h",
    "usr/local/share/doc/shoal/shoal.json",
    "usr/local/share/doc/shoal/shoal.conf",
    "usr/local/share/doc/shoal/shoal.socket",
    "usr/local/share/doc/shoal/module-example.c",
    "etc/shoal/shoal.json",
]
COMMANDS = ["status", "reload", "upgrade", "scale", "reopen", "stop"]
SIGNALS = ["HUP", "USR1", "USR2", "TTIN", "TTOU", "TERM", "QUIT", "INT"]


def make(*args):
    """make -C REPO ARGS for the binary under test (never rebuilt: -o)."""
    repo = harness.repo_root()
    build = os.path.dirname(os.path.abspath(harness.binary()))
    cmd = ["make", "-C", repo, "--no-print-directory", "BUILD=" + build,
           "-o", os.path.join(build, "shoal")] + list(args)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    note("%s -> %d" % (" ".join(cmd), p.returncode))
    assert p.returncode == 0, "%s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                                     p.stdout.decode(errors="replace")[-3000:])


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def with_binary(path, fn):
    """Run fn() with the harness starting path instead of the binary under test."""
    saved = harness._state["binary"]
    harness._state["binary"] = path
    try:
        return fn()
    finally:
        harness._state["binary"] = saved


def sections(man):
    """{".SH NAME": text} of a man page's source."""
    out, name = {}, None
    for line in man.splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip().strip('"')
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


@harness.timeout(120)
def test_make_install_then_a_module_built_out_of_tree_loads():
    if shutil.which("pkg-config") is None or shutil.which("cc") is None:
        raise Skip("pkg-config and cc are needed (scripts/deps)")
    d = harness.tmpdir()
    dest = os.path.join(d, "dest")
    make("install", "DESTDIR=" + dest, "PREFIX=" + PREFIX)
    got = files_under(dest)
    assert got == sorted(INSTALLED), "installed: %s\nexpected: %s" % (got, sorted(INSTALLED))
    shoal = os.path.join(dest, "usr/local/bin/shoal")
    with open(shoal, "rb") as a, open(harness.binary(), "rb") as b:
        assert a.read() == b.read(), "the installed binary is not the one built"
    assert os.stat(shoal).st_mode & 0o777 == 0o755
    with open(os.path.join(dest, "usr/local/lib/systemd/system/shoal.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/local/bin/shoal -c /etc/shoal/shoal.json" in unit, unit
    with open(os.path.join(dest, "usr/local/share/man/man1/shoal.1")) as f:
        man = f.read()
    assert "@" not in re.sub(r"\\\(at|\S+@\S+\.\w+", "", man), "a placeholder is left in shoal.1"
    assert "/usr/local/include/shoal/worker/api/" in man

    # the installed example passes the installed binary's check
    rc, out, err = with_binary(shoal, lambda: run_cli(
        ["--check", "-c", os.path.join(dest, "etc/shoal/shoal.json")]))
    assert rc == 0, "--check of the installed example: %d %s" % (rc, err)

    # a module author's build: the installed headers, no source tree
    app = os.path.join(d, "app")
    os.makedirs(app)
    shutil.copy(os.path.join(harness.repo_root(), "tests/modules/greeting.c"), app)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, "usr/local/lib/pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=dest)
    p = subprocess.run(["pkg-config", "--cflags", "shoal"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    cflags = p.stdout.decode().split()
    assert p.returncode == 0 and "-I%s/usr/local/include/shoal" % dest in cflags, p.stdout
    assert not any(harness.repo_root() in f for f in cflags), cflags
    p = subprocess.run(["cc"] + cflags + ["-Wall", "-Werror", "-fPIC", "-shared",
                                          '-DGREETING_TAG="installed"', "-o", "app.so",
                                          "greeting.c"],
                       cwd=app, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert p.returncode == 0, "cc $(pkg-config --cflags shoal) ...: %s" % p.stdout.decode()
    so = os.path.join(app, "app.so")

    # loaded by the installed binary, in a running server
    port = harness.free_port()
    cfg = os.path.join(d, "app.json")
    with open(cfg, "w") as f:
        f.write('{"listen": ["127.0.0.1:%d"], "workers": 1,\n'
                ' "modules": [{"name": "app", "path": "%s", "config": {"greeting": "hi"}}],\n'
                ' "routes": [{"path": "/healthz", "handler": "health"},\n'
                '            {"path": "/app", "handler": "app.greet"}]}\n' % (port, so))
    s = Shoal(["-c", cfg, "--control", os.path.join(d, "ctl.sock")], raw=True)
    s.ports = [port]
    with_binary(shoal, s.start)
    code, _, body = http_get(port, "/app")
    assert code == 200 and body == b"hi (installed)\n", (code, body)
    assert s.stop() == 0

    make("uninstall", "DESTDIR=" + dest, "PREFIX=" + PREFIX)
    left = files_under(dest)
    assert left == [], "left after make uninstall: %s" % left


@harness.timeout(30)
def test_man_page_and_readme_cover_every_key_handler_command_signal():
    repo = harness.repo_root()
    rc, out, err = run_cli(["--keys"])
    assert rc == 0, err
    keys = out.split()
    rc, out, err = run_cli(["--handlers"])
    assert rc == 0, err
    handlers = out.split()
    assert "access_log_format" in keys and "routes" in keys, keys
    assert "status" in handlers and "metrics" in handlers, handlers
    with open(os.path.join(repo, "scripts/man/shoal.1")) as f:
        man = f.read()
    with open(os.path.join(repo, "README.md")) as f:
        readme = f.read()
    sec = sections(man)
    tags = set(re.findall(r"^\.BR? (\S+)", man, re.M))
    missing = [k for k in keys if k not in tags or k not in sec["CONFIGURATION"]]
    assert not missing, "keys missing from shoal(1)'s CONFIGURATION: %s" % missing
    missing = [k for k in keys if "| `%s` |" % k not in readme]
    assert not missing, "keys missing from the README's configuration table: %s" % missing
    missing = [h for h in handlers if ".B %s\n" % h not in sec["ROUTES"]]
    assert not missing, "built-in handlers missing from shoal(1)'s ROUTES: %s" % missing
    missing = [h for h in handlers if "| `%s` |" % h not in readme]
    assert not missing, "built-in handlers missing from the README's table: %s" % missing
    missing = [c for c in COMMANDS if not re.search(r"^\.BI? ?R?\S* ?%s\b" % c,
                                                    sec["COMMANDS"], re.M)]
    assert not missing, "commands missing from shoal(1): %s" % missing
    missing = [c for c in COMMANDS if "shoal %s" % c not in readme]
    assert not missing, "commands missing from the README: %s" % missing
    for name, text in (("shoal(1)'s SIGNALS", sec["SIGNALS"]), ("the README", readme)):
        missing = [g for g in SIGNALS if not re.search(r"\b%s\b" % g, text)]
        assert not missing, "signals missing from %s: %s" % (name, missing)
    # the README stands on its own
    assert "DESIGN.md" not in readme, "the README refers to DESIGN.md, which is not in the repo"
    assert "../" not in readme, "the README refers to a file outside the repository"
    if shutil.which("groff"):
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                            os.path.join(repo, "scripts/man/shoal.1")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        assert p.returncode == 0 and not p.stdout, "groff warns: %s" % p.stdout.decode()


def module_so():
    so = os.path.join(os.path.dirname(os.path.abspath(harness.binary())), "modules",
                      "greeting.so")
    if not os.path.exists(so):
        raise Skip("no %s (make builds it with the integration target)" % so)
    return so


def boot_message(d, name, text):
    """--check's message for the configuration text, and the message a
    worker booting it logs: they must be the same."""
    cfg = os.path.join(d, name)
    with open(cfg, "w") as f:
        f.write(text)
    rc, out, err = run_cli(["--check", "-c", cfg], timeout=10)
    assert rc == 2 and err.startswith("shoal: "), "--check %s: exit %d, %r" % (name, rc, err)
    msg = err[len("shoal: "):].strip()
    s = Shoal(["-c", cfg, "--control", os.path.join(d, name + ".sock")], raw=True)
    s.start(wait=False)
    try:
        s.wait_log(r"worker\.0 error: " + re.escape(msg), timeout=5)
    finally:
        s.stop()
    return msg


@harness.timeout(60)
def test_check_loads_modules_and_fails_as_a_worker_boot_would():
    so = module_so()
    d = harness.tmpdir()
    port = harness.free_port()
    head = '{"listen": ["127.0.0.1:%d"], "workers": 1,\n' % port
    mod = ' "modules": [{"name": "app", "path": "%s"}],\n'
    msg = boot_message(d, "gret.json", head + mod % so +
                       ' "routes": [{"path": "/", "handler": "hello"},\n'
                       '            {"path": "/x", "handler": "app.gret"}]}\n')
    assert re.match(r'^\S+gret\.json:4:13: routes\[1\]\.handler: module "app" has no '
                    r'handler "gret"$', msg), msg
    msg = boot_message(d, "listen.json", '{"listen": ["127.0.0.1:%d",\n'
                       '  {"address": "127.0.0.1:%d", "routes": [\n'
                       '    {"path": "/a", "handler": "app.nope"}]}], "workers": 1,\n'
                       % (port, harness.free_port()) + mod % so +
                       ' "routes": [{"path": "/", "handler": "hello"}]}\n')
    assert msg.endswith('listen[1].routes[0].handler: module "app" has no handler "nope"'), msg
    notso = os.path.join(d, "app.so")
    with open(notso, "w") as f:
        f.write("not a shared object\n")
    msg = boot_message(d, "notso.json", head + mod % notso +
                       ' "routes": [{"path": "/", "handler": "app.greet"}]}\n')
    assert re.match(r"^\S+notso\.json:2:14: modules\[0\]\.path: %s: not a shared object "
                    r"\(.+\)$" % re.escape(notso), msg), msg

    # a good one passes; the master of a running server never maps it
    good = os.path.join(d, "good.json")
    with open(good, "w") as f:
        f.write(head + mod % so + ' "routes": [{"path": "/healthz", "handler": "health"},\n'
                '            {"path": "/app", "handler": "app.greet"}]}\n')
    rc, out, err = run_cli(["--check", "-c", good])
    assert rc == 0, err
    s = Shoal(["-c", good, "--control", os.path.join(d, "good.sock")], raw=True)
    s.ports = [port]
    s.start()
    assert http_get(port, "/app")[0] == 200

    def maps(pid):
        with open("/proc/%d/maps" % pid) as f:
            return f.read()
    assert so not in maps(s.pid), "the master loaded application code"
    assert all(so in maps(w) for w in s.workers().values()), "a worker did not load it"
