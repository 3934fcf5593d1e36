#!/usr/bin/env python3
"""Generate src/names/tables.rs from Zeek's DCE-RPC naming tables.

Usage: tools/gen-names.py [REFERENCE_DIR] [--out PATH] [--check]

REFERENCE_DIR holds the zeek-*.tsv files; it defaults to ../shared/reference
relative to the repository root (where the project's shared/ folder sits
beside the clone). Python 3 standard library only, so it runs anywhere the
project is checked out.

Why generate instead of reading the TSVs at run time: the binary must work
without the reference folder, and static sorted arrays give binary-search
lookups with no start-up cost. The generated file is committed; the
integration test tests/names_tables.rs compares it with the TSVs row for row,
so a stale table fails CI rather than silently mis-naming calls.

--check exits 1 (writing nothing) when the output would change.
"""

import argparse
import hashlib
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REFERENCE = os.path.join(REPO_ROOT, "..", "shared", "reference")
DEFAULT_OUT = os.path.join(REPO_ROOT, "src", "names", "tables.rs")

INPUTS = [
    "zeek-endpoints.tsv",
    "zeek-operations.tsv",
    "zeek-ignored-operations.tsv",
    "zeek-pipe-name-to-uuid.tsv",
    "zeek-smb-pipe-filenames.tsv",
    "zeek-auth-types.tsv",
    "zeek-auth-levels.tsv",
    "zeek-ptypes.tsv",
]

UUID_RE = re.compile(
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
)


class InputError(Exception):
    pass


def read_tsv(ref_dir, name, header):
    """Rows of a TSV file after checking its header, so a renamed or
    reordered column fails here instead of producing a wrong table."""
    path = os.path.join(ref_dir, name)
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError(f"{name}: empty file")
    got = lines[0].rstrip("\r").split("\t")
    if got != header:
        raise InputError(f"{name}: header {got!r}, expected {header!r}")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(f"{name}:{lineno}: {len(fields)} fields, expected {len(header)}")
        rows.append((lineno, fields))
    return rows


def uuid_bytes(text, where):
    """Canonical (RFC 4122 text order) bytes of a UUID string."""
    if not UUID_RE.match(text):
        raise InputError(f"{where}: not a UUID: {text!r}")
    return bytes.fromhex(text.replace("-", ""))


def uuid_text(b):
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def rust_str(s):
    """A Rust string literal. The inputs are plain ASCII today; escape
    anything else rather than trusting it."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("\\u{%x}" % ord(ch))
    return '"' + "".join(out) + '"'


def rust_bytes(b):
    return "[" + ", ".join(f"0x{x:02x}" for x in b) + "]"


def small_int(text, where, limit):
    if not re.fullmatch(r"[0-9]+", text):
        raise InputError(f"{where}: not a decimal integer: {text!r}")
    v = int(text)
    if v > limit:
        raise InputError(f"{where}: {v} does not fit (max {limit})")
    return v


def no_dups(keys, what):
    seen = {}
    for key, where in keys:
        if key in seen:
            raise InputError(f"{where}: duplicate {what} {key!r} (first at {seen[key]})")
        seen[key] = where


def load(ref_dir):
    t = {}

    # Endpoint map. Zeek looks the map up with the lowercase text of the
    # UUID, so a key that is not all lowercase can never match; it is kept
    # apart ("dead") with its exact spelling instead of being normalised.
    live, dead = [], []
    for lineno, (u, name) in read_tsv(ref_dir, "zeek-endpoints.tsv", ["uuid", "endpoint"]):
        where = f"zeek-endpoints.tsv:{lineno}"
        b = uuid_bytes(u, where)
        if u == u.lower():
            live.append((b, name, where))
        else:
            dead.append((u, name, where))
    no_dups([(b, w) for b, _, w in live], "endpoint uuid")
    no_dups([(u, w) for u, _, w in dead], "dead endpoint key")
    t["endpoints"] = sorted((b, n) for b, n, _ in live)
    t["dead"] = sorted((u, n) for u, n, _ in dead)
    endpoint_of = dict(t["endpoints"])

    ops = {}
    seen = []
    for lineno, (u, opnum, name) in read_tsv(
        ref_dir, "zeek-operations.tsv", ["uuid", "opnum", "operation"]
    ):
        where = f"zeek-operations.tsv:{lineno}"
        if u != u.lower():
            # Same reasoning as the endpoint map; none exist today, and a
            # silent normalisation would hide the quirk, so stop.
            raise InputError(f"{where}: operations key not lowercase: {u!r}")
        b = uuid_bytes(u, where)
        n = small_int(opnum, where, 0xFFFF)
        seen.append(((b, n), where))
        ops.setdefault(b, []).append((n, name))
    no_dups(seen, "(uuid, opnum)")
    t["operations"] = sorted((b, sorted(v)) for b, v in ops.items())
    t["endpoint_of"] = endpoint_of

    ign = read_tsv(ref_dir, "zeek-ignored-operations.tsv", ["endpoint", "operation"])
    no_dups([((e, o), f"zeek-ignored-operations.tsv:{ln}") for ln, (e, o) in ign], "row")
    t["ignored"] = sorted((e, o) for _, (e, o) in ign)

    pipes = []
    for lineno, (p, u) in read_tsv(ref_dir, "zeek-pipe-name-to-uuid.tsv", ["pipe_name", "uuid"]):
        where = f"zeek-pipe-name-to-uuid.tsv:{lineno}"
        pipes.append((p, uuid_bytes(u, where), where))
    no_dups([(p, w) for p, _, w in pipes], "pipe name")
    t["pipes"] = sorted((p, b) for p, b, _ in pipes)

    files = read_tsv(ref_dir, "zeek-smb-pipe-filenames.tsv", ["pipe_filename"])
    no_dups([(f, f"zeek-smb-pipe-filenames.tsv:{ln}") for ln, (f,) in files], "pipe filename")
    t["pipe_files"] = sorted(f for _, (f,) in files)

    for key, fname, header in [
        ("auth_types", "zeek-auth-types.tsv", ["value", "name"]),
        ("auth_levels", "zeek-auth-levels.tsv", ["value", "name"]),
        ("ptypes", "zeek-ptypes.tsv", ["ptype", "name"]),
    ]:
        rows = []
        for lineno, (v, name) in read_tsv(ref_dir, fname, header):
            where = f"{fname}:{lineno}"
            rows.append((small_int(v, where, 0xFF), name, where))
        no_dups([(v, w) for v, _, w in rows], "value")
        t[key] = sorted((v, n) for v, n, _ in rows)
    return t


def render(t, ref_dir):
    out = []
    w = out.append
    w("// @generated by tools/gen-names.py. Do not edit by hand: change the generator")
    w("// or its inputs and run `python3 tools/gen-names.py`.")
    w("//")
    w("// Inputs: Zeek's DCE-RPC naming tables, exported to TSV in the project's")
    w("// shared/reference folder (SHA-256 of each file as read):")
    for name in INPUTS:
        with open(os.path.join(ref_dir, name), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        w(f"//   {name} {digest}")
    w("//")
    w("// Every array is sorted by its key so that lookups can binary-search it.")
    w("// UUID keys are the 16 bytes in canonical (printed, big-endian field) order.")
    w("")

    def static(doc, decl, rows):
        for line in doc:
            w(f"/// {line}" if line else "///")
        w("#[rustfmt::skip]")
        w(f"pub(super) static {decl} = [")
        out.extend(rows)
        w("];")
        w("")

    rows = []
    for b, name in t["endpoints"]:
        rows.append(f"    // {uuid_text(b)}")
        rows.append(f"    ({rust_bytes(b)}, {rust_str(name)}),")
    static(
        ["Zeek's `DCE_RPC::uuid_endpoint_map`, minus the keys in [`DEAD_ENDPOINT_KEYS`]."],
        f"ENDPOINTS: [([u8; 16], &str); {len(t['endpoints'])}]",
        rows,
    )

    rows = [f"    ({rust_str(u)}, {rust_str(n)})," for u, n in t["dead"]]
    static(
        [
            "Endpoint-map keys as Zeek spells them that are not lowercase. Zeek looks",
            "the map up with the lowercase text of the UUID, so these never match;",
            "they are kept verbatim only so the tables can be checked against Zeek's.",
        ],
        f"DEAD_ENDPOINT_KEYS: [(&str, &str); {len(t['dead'])}]",
        rows,
    )

    rows = []
    for b, ops in t["operations"]:
        label = t["endpoint_of"].get(b)
        suffix = f" ({label})" if label is not None else ""
        rows.append(f"    // {uuid_text(b)}{suffix}")
        rows.append(f"    ({rust_bytes(b)}, &[")
        for n, name in ops:
            rows.append(f"        ({n}, {rust_str(name)}),")
        rows.append("    ]),")
    w("/// The operations of one interface as (opnum, name), sorted by opnum.")
    w("pub(super) type InterfaceOps = [(u16, &'static str)];")
    w("")
    static(
        [
            "Zeek's `DCE_RPC::operations`, grouped by interface UUID. Grouping keeps",
            "each UUID once in the source and makes a lookup two short binary searches.",
        ],
        f"OPERATIONS: [([u8; 16], &InterfaceOps); {len(t['operations'])}]",
        rows,
    )

    rows = [f"    ({rust_str(e)}, {rust_str(o)})," for e, o in t["ignored"]]
    static(
        [
            "Zeek's default `DCE_RPC::ignored_operations` as (endpoint, operation) pairs;",
            'an operation of `"*"` stands for every operation of that endpoint.',
        ],
        f"IGNORED_OPERATIONS: [(&str, &str); {len(t['ignored'])}]",
        rows,
    )

    rows = [f"    ({rust_str(p)}, {rust_bytes(b)}), // {uuid_text(b)}" for p, b in t["pipes"]]
    static(
        ["Zeek's `DCE_RPC::pipe_name_to_common_uuid`, keyed by normalised pipe name."],
        f"PIPE_NAME_UUIDS: [(&str, [u8; 16]); {len(t['pipes'])}]",
        rows,
    )

    rows = [f"    {rust_str(f)}," for f in t["pipe_files"]]
    static(
        ["Zeek's `SMB::pipe_filenames`."],
        f"SMB_PIPE_FILENAMES: [&str; {len(t['pipe_files'])}]",
        rows,
    )

    for key, const, doc in [
        ("auth_types", "AUTH_TYPES", "Zeek's `DCE_RPC::auth_types`."),
        ("auth_levels", "AUTH_LEVELS", "Zeek's `DCE_RPC::auth_levels`."),
        ("ptypes", "PTYPES", "Zeek's `DCE_RPC::PType` names, by packet type number."),
    ]:
        rows = [f"    ({v}, {rust_str(n)})," for v, n in t[key]]
        static([doc], f"{const}: [(u8, &str); {len(t[key])}]", rows)

    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", nargs="?", default=DEFAULT_REFERENCE)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    try:
        tables = load(args.reference)
        text = render(tables, args.reference)
    except (InputError, OSError) as e:
        print(f"gen-names: {e}", file=sys.stderr)
        return 2
    try:
        with open(args.out, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        old = None
    if args.check:
        if old != text:
            print(f"gen-names: {args.out} is out of date", file=sys.stderr)
            return 1
        return 0
    if old != text:
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
