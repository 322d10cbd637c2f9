#!/usr/bin/env python3
"""
Run shoal's black-box integration tests.

    python3 tests/integration/run.py --binary build/shoal [-k SUBSTR[,SUBSTR...]] [-v]

Discovers tests/integration/test_*.py and runs each test_* function, in file
order, in this process, each under a time limit (SIGALRM; a test may set its
own with @harness.timeout(SEC)). One line per test:

    PASS test_x (1.2s)
    FAIL test_x: reason        (then the traceback and the tail of the server log)
    SKIP test_x: reason

The last line is always "N passed, N failed, N skipped"; the exit status is 1
if any test failed. Servers a test leaves behind are killed (their own process
group only). Core dumps are disabled for everything started from here.
"""

import argparse
import glob
import importlib.util
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

DEFAULT_TIMEOUT = 30.0
LOG_TAIL = 40


def discover(pattern_filter):
    tests = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        funcs = [f for name, f in vars(mod).items()
                 if name.startswith("test_") and callable(f)
                 and getattr(f, "__module__", None) == modname]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            full = "%s::%s" % (modname, f.__name__)
            if pattern_filter and not any(p in full for p in pattern_filter.split(",")):
                continue
            tests.append((modname, f))
    return tests


def _on_alarm(signum, frame):
    raise harness.TestTimeout("test timed out")


def one_line(e):
    text = str(e).strip().splitlines()
    text = text[0] if text else ""
    name = type(e).__name__
    if isinstance(e, AssertionError):
        return text or "assertion failed"
    return "%s: %s" % (name, text) if text else name


def run_test(func, args):
    name = func.__name__
    limit = float(getattr(func, "timeout", args.timeout))
    tmp = tempfile.mkdtemp(prefix="shoal-it-%s-" % name)
    harness.begin_test(name, tmp)
    outcome, reason, tb = "PASS", "", ""
    t0 = time.monotonic()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        try:
            func()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except harness.Skip as e:
        outcome, reason = "SKIP", str(e) or "skipped"
    except harness.TestTimeout:
        outcome, reason = "FAIL", "timed out after %.1fs" % limit
        tb = traceback.format_exc()
    except KeyboardInterrupt:
        harness.end_test()
        raise
    except BaseException as e:  # noqa: B902 — any error is a failure of this test
        outcome, reason = "FAIL", one_line(e)
        tb = traceback.format_exc()
    elapsed = time.monotonic() - t0
    servers = harness.servers()
    remarks = harness.end_test()

    if outcome == "PASS":
        print("PASS %s (%.1fs)" % (name, elapsed), flush=True)
    elif outcome == "SKIP":
        print("SKIP %s: %s" % (name, reason), flush=True)
    else:
        print("FAIL %s: %s" % (name, reason), flush=True)
        out = ["    " + l for l in tb.rstrip().splitlines()]
        notes = harness.notes()
        if notes and not args.verbose:
            out.append("    -- test notes:")
            out += ["      " + n for n in notes[-20:]]
        for srv in servers:
            tail = srv.log_tail(LOG_TAIL) if hasattr(srv, "log_tail") else None
            if tail is None:
                continue
            out.append("    -- last %d lines of %s:" % (LOG_TAIL, srv.log_path))
            out += ["      " + l for l in tail.splitlines()] or ["      (empty)"]
            extra = srv.out_tail(LOG_TAIL) if hasattr(srv, "out_tail") else None
            if extra:
                out.append("    -- last %d lines of %s:" % (LOG_TAIL, srv.out_path))
                out += ["      " + l for l in extra.splitlines()]
        out.append("    -- temp dir kept: %s" % tmp)
        print("\n".join(out), flush=True)
    for r in remarks:
        print("    ! " + r, flush=True)
    if outcome != "FAIL" and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return outcome


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(harness.repo_root(), "build", "shoal"),
                    help="the shoal binary to test (default: build/shoal)")
    ap.add_argument("-k", dest="filter", default=None,
                    help="run only tests whose 'module::name' contains this substring "
                         "(or one of several, comma-separated)")
    ap.add_argument("-v", dest="verbose", action="store_true", help="print progress notes")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="default per-test time limit in seconds (%(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep every test's temp dir")
    args = ap.parse_args()

    # No core files from anything started below (a SIGABRTed worker).
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass

    binary = os.path.abspath(args.binary)
    harness.configure(binary=binary, verbose=args.verbose)
    tests = discover(args.filter)

    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    t0 = time.monotonic()
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print("no executable binary at %s (run `make` first)" % binary, flush=True)
        for _, f in tests:
            print("FAIL %s: binary %s not found" % (f.__name__, binary), flush=True)
            counts["FAIL"] += 1
    else:
        try:
            for _, f in tests:
                counts[run_test(f, args)] += 1
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            counts["FAIL"] += 1
    if args.verbose:
        print("(%.1fs)" % (time.monotonic() - t0), flush=True)
    print("%d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"], counts["SKIP"]),
          flush=True)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
