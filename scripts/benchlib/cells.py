"""The cells of scripts/bench: one kind of work, at one connection count, asked of
every server in the same round. A cell names *what* is asked (its target: a tiny
response, a JSON one, a file, an echo); each peer says how it serves that target
(peers.py), or that it does not."""

from dataclasses import dataclass

BODY_SIZE = 16 * 1024          # POST body of the echo cell
PIPELINE_DEPTH = 16
FILES = {"file4k": ("4k.bin", 4096), "file1m": ("1m.bin", 1024 * 1024)}


@dataclass(frozen=True)
class Cell:
    name: str
    title: str        # for tables
    target: str       # hello | json | file4k | file1m | echo
    conns: int = 64
    close: bool = False          # Connection: close, a new connection per request
    pipeline: int = 1            # requests sent back to back on a connection
    post_body: int = 0           # bytes of POST body (echo)


CELLS = [
    Cell("plain-64", "`GET /`, 64 conns", "hello"),
    Cell("json-64", "`GET /json`, 64 conns", "json"),
    Cell("plain-1000", "`GET /`, 1000 conns", "hello", conns=1000),
    Cell("json-1000", "`GET /json`, 1000 conns", "json", conns=1000),
    Cell("close", "`GET /`, new conn per request", "hello", close=True),
    Cell("pipeline", f"`GET /`, pipelined {PIPELINE_DEPTH} deep", "hello",
         pipeline=PIPELINE_DEPTH),
    Cell("static-4k", "static 4 KiB", "file4k"),
    Cell("static-1m", "static 1 MiB", "file1m"),
    Cell("post-16k", "`POST` 16 KiB, echoed", "echo", post_body=BODY_SIZE),
]
BY_NAME = {c.name: c for c in CELLS}
# --quick: each kind of work once, at 64 connections.
QUICK = ["plain-64", "close", "pipeline", "static-4k", "post-16k"]


def body_bytes(n=BODY_SIZE):
    """The POST body: printable, nothing a JSON encoder escapes, not all one byte."""
    pattern = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return (pattern * (n // len(pattern) + 1))[:n]


def file_bytes(size):
    """Content of a static file: deterministic, not compressible to nothing."""
    out, x = bytearray(), 0x2545F491
    while len(out) < size:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out += x.to_bytes(4, "little")
    return bytes(out[:size])
