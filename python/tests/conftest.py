"""Shared helpers: the project's captures and the `rpcsift` command line to compare with.

The command line is taken from RPCSIFT_BIN, else from the repository's target/release or
target/debug build; a missing binary fails the tests that need it (build it with
`cargo build`).
"""

import json
import math
import os
import subprocess
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[2]
# captures/ holds the generated captures and, below it, captures/impacket/,
# captures/attack/ and the AD lab's captures/ad-lab/out/.
CAPTURES = [ROOT / "captures"]
# What `rpcsift calls captures/` reads and finds (update when captures are added).
CAPTURE_FILES = 69
CAPTURE_CALLS = 350


def cli_path() -> Path:
    env = os.environ.get("RPCSIFT_BIN")
    if env:
        return Path(env)
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "rpcsift"
        if p.is_file():
            return p
    raise FileNotFoundError(
        "no rpcsift binary: set RPCSIFT_BIN or run `cargo build` at the repository root"
    )


def run_cli(*args, check=True):
    """Run the command line; (exit code, stdout bytes, stderr text)."""
    p = subprocess.run([str(cli_path()), *map(str, args)], capture_output=True)
    if check and p.returncode != 0:
        raise AssertionError(f"rpcsift {args}: exit {p.returncode}: {p.stderr.decode()}")
    return p.returncode, p.stdout, p.stderr.decode()


def cli_json(*args):
    """JSON lines the command line writes for `args` (quiet), as dicts."""
    _, out, _ = run_cli(*args, "-q")
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.fixture(scope="session")
def captures():
    for c in CAPTURES:
        assert c.is_dir(), f"missing {c}"
    return [str(c) for c in CAPTURES]


def _micros(seconds: float) -> int:
    # The writer rounds to the nearest microsecond, halves away from zero.
    return int(math.floor(seconds * 1e6 + 0.5))


def table_rows(table):
    """An rpcsift Arrow table as dicts in the JSON writer's terms: times as whole
    microseconds, `args` parsed from its JSON text, nulls as None."""
    cols = {}
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            cols[field.name] = col.cast(pa.int64()).to_pylist()
        elif field.name == "args":
            cols[field.name] = [None if v is None else json.loads(v) for v in col.to_pylist()]
        else:
            cols[field.name] = col.to_pylist()
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def json_rows(records, schema):
    """JSON records in the same terms, with a key for every column of `schema` (absent
    keys as None); a JSON key that has no column fails."""
    names = set(schema.names)
    out = []
    for r in records:
        extra = set(r) - names
        assert not extra, f"JSON keys without a column: {extra}"
        row = {}
        for field in schema:
            v = r.get(field.name)
            if v is not None and pa.types.is_timestamp(field.type):
                v = _micros(v)
            row[field.name] = v
        out.append(row)
    return out


def assert_same_rows(table, records):
    """`table` holds exactly `records` (CLI JSON), in order, field by field."""
    got = table_rows(table)
    want = json_rows(records, table.schema)
    assert len(got) == len(want), (len(got), len(want))
    assert want, "the captures give records"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"row {i}: " + ", ".join(
            f"{k}: {g[k]!r} != {w[k]!r}" for k in g if g[k] != w[k]
        )


def capture_files():
    """The project's capture files, in the command line's order."""
    import rpcsift

    out = []
    for c in CAPTURES:
        out += sorted(
            (p for p in c.rglob("*") if p.is_file() and rpcsift.is_capture_name(p.name)),
            key=lambda p: p.parts,
        )
    return out


def pcap_records(path):
    """(global header, [record bytes]) of a classic pcap file (either byte order)."""
    import struct

    data = Path(path).read_bytes()
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
             b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    records, at = [], 24
    while at < len(data):
        incl = struct.unpack_from(order + "I", data, at + 8)[0]
        records.append(data[at:at + 16 + incl])
        at += 16 + incl
    return data[:24], records


def split_pcap(src, k, first, second):
    """Write frames 1..k of the classic pcap `src` to `first`, the others to `second`."""
    head, records = pcap_records(src)
    assert 0 < k < len(records)
    Path(first).write_bytes(head + b"".join(records[:k]))
    Path(second).write_bytes(head + b"".join(records[k:]))
    return len(records)


def assert_releases_gil(call):
    """Run ``call`` (a native decode) while another Python thread spins: holding the GIL
    for the whole call would leave that thread at most a tick or two; released, it spins
    for the whole decode."""
    ticks = 0
    stop = False

    def spin():
        nonlocal ticks
        while not stop:
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
        during = ticks - before
    finally:
        stop = True
        t.join()
    assert elapsed > 0.01, elapsed
    assert during > 1000, (during, elapsed)
