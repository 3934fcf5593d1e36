"""rpcsift.calls / rpcsift.detect against the command line's JSON, on the project's captures;
Parquet from the command line read by DuckDB; errors, warnings and the GIL."""

import gzip
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute
import pytest

import rpcsift
from rpcsift import _native
from conftest import (
    CAPTURE_CALLS, CAPTURE_FILES, CAPTURES, ROOT, assert_releases_gil, assert_same_rows, cli_json, run_cli,
)

ATSVC = ROOT / "captures" / "atsvc_schtask.pcap"

RULE = """title: at job added
id: at-job
level: high
tags: [attack.execution, attack.t1053.002]
logsource: {product: zeek, service: dce_rpc}
detection:
  s: {endpoint: atsvc, operation: NetrJobAdd}
  condition: s
"""


def test_calls_equal_cli_json(captures):
    table = rpcsift.calls(captures)
    assert table.schema.metadata[b"schema_version"] == rpcsift.SCHEMA_VERSION.encode()
    assert table.schema.metadata[b"rpcsift_table"] == b"calls"
    assert table.schema.equals(rpcsift.calls_schema(), check_metadata=False)
    records = cli_json("calls", "--format", "json", *captures)
    assert_same_rows(table, records)
    assert table.num_rows == CAPTURE_CALLS
    assert {r["transport"] for r in records} == {"tcp", "smb1", "smb2", "smb3"}
    assert sum(r["args"] is not None for r in records) >= 10
    counts = rpcsift.summary(table)
    assert counts["capture files"] == CAPTURE_FILES
    assert counts["DCE-RPC calls"] == CAPTURE_CALLS


def test_zeek_compat_equal_cli_json(captures):
    table = rpcsift.calls(captures, zeek_compat=True)
    assert table.column_names == [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
        "rtt", "named_pipe", "endpoint", "operation",
    ]
    assert_same_rows(table, cli_json("calls", "--zeek-compat", "--format", "json", *captures))


def test_detect_equal_cli_json(captures, tmp_path):
    table = rpcsift.detect(captures, indicators="all")
    assert table.schema.equals(rpcsift.hits_schema(), check_metadata=False)
    assert table.schema.metadata[b"rpcsift_table"] == b"hits"
    records = cli_json("detect", "--indicators", "all", "--format", "json", *captures)
    assert_same_rows(table, records)
    assert table.num_rows == len(records) > 100
    # Sigma rules (and the default indicator set when none is given with them).
    rule = tmp_path / "at.yml"
    rule.write_text(RULE)
    table = rpcsift.detect(captures, sigma=rule)
    records = cli_json("detect", "--sigma", rule, "--format", "json", *captures)
    assert_same_rows(table, records)
    assert {r["matched_by"] for r in records} == {"sigma:at-job"}
    assert_same_rows(
        rpcsift.detect(captures),
        cli_json("detect", "--format", "json", *captures),
    )


def test_detect_judged_as_the_cli_judges(captures):
    """--min-level and --dc, and DC evidence given from elsewhere."""
    assert_same_rows(
        rpcsift.detect(captures, min_level="high"),
        cli_json("detect", "--min-level", "high", "--format", "json", *captures),
    )
    evidence = rpcsift.dc_evidence(rpcsift.calls(captures))
    assert evidence
    assert rpcsift.dc_evidence(rpcsift.detect(captures)) == evidence
    dcs = ["10.14.0.5", evidence[0]]
    given = rpcsift.detect(captures, dcs=dcs)
    assert_same_rows(
        given,
        cli_json("detect", "--dc", dcs[0], "--dc", dcs[1], "--format", "json", *captures),
    )
    assert set(given.column("dc_source").to_pylist()) == {"given"}
    # One capture judged with the whole folder's evidence: what the folder's run says
    # about that capture's calls.
    one = ROOT / "captures" / "smb2_atsvc_bigtask.pcap"
    alone = rpcsift.detect(one)
    assert rpcsift.dc_evidence(alone) == []
    assert set(alone.column("dc_source").to_pylist()) == {None}
    judged = rpcsift.detect(one, dc_evidence=evidence)
    whole = rpcsift.detect(captures)
    mine = whole.filter(pa.compute.equal(whole["capture"], str(one)))
    assert judged.num_rows == mine.num_rows > 0
    assert judged.to_pylist() == mine.to_pylist()
    with pytest.raises(ValueError, match="not an IP address"):
        rpcsift.detect(ATSVC, dcs=["dc1"])
    with pytest.raises(ValueError, match="unknown level"):
        rpcsift.detect(ATSVC, min_level="severe")


def test_bytes_and_paths():
    data = ATSVC.read_bytes()
    by_path = rpcsift.calls(ATSVC)
    assert by_path.num_rows == 3
    assert by_path.column("operation").to_pylist() == [
        "NetrJobAdd", "SchRpcRegisterTask", "SchRpcRun",
    ]
    # Bytes named like the file give the same rows (uids included); gzip too.
    for blob in (data, bytearray(data), gzip.compress(data)):
        t = rpcsift.calls(blob, name=str(ATSVC))
        assert t.equals(by_path)
    # Unnamed bytes: the capture column says so.
    assert rpcsift.calls(data).column("capture").to_pylist() == ["<bytes>"] * 3
    # A list of paths, and a directory, as the command line takes them.
    both = rpcsift.calls([ATSVC, str(ROOT / "captures" / "tcp135_epmapper.pcap")])
    assert both.num_rows == 3 + len(cli_json("calls", "--format", "json", ROOT / "captures" / "tcp135_epmapper.pcap"))
    hits = rpcsift.detect(data, name="a.pcap", indicators="improved")
    assert hits.column("matched_by").to_pylist() == ["improved"] * 3
    assert hits.column("capture").to_pylist() == ["a.pcap"] * 3


def _cli_error(*args):
    """The command line's error message (its last line, after `rpcsift: `)."""
    code, out, err = run_cli(*args, check=False)
    assert code == 2 and not out, (code, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("rpcsift: "), err
    return last[len("rpcsift: "):]


def test_errors_have_the_cli_messages(tmp_path):
    missing = tmp_path / "nope.pcap"
    with pytest.raises(rpcsift.RpcsiftError) as e:
        rpcsift.calls(missing)
    assert str(e.value) == _cli_error("calls", missing)
    assert str(e.value).startswith(f"listing captures: {missing}: ")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(rpcsift.RpcsiftError) as e:
        rpcsift.calls(empty)
    assert str(e.value) == _cli_error("calls", empty) == "no capture files found in the given paths"
    with pytest.raises(rpcsift.RpcsiftError) as e:
        rpcsift.detect(ATSVC, sigma=tmp_path / "rules")
    assert str(e.value) == _cli_error("detect", "--sigma", tmp_path / "rules", ATSVC)
    bad = tmp_path / "bad.yml"
    bad.write_text("title: x\nlogsource: {product: zeek, service: dce_rpc}\ndetection: {}\n")
    with pytest.raises(rpcsift.RpcsiftError) as e, pytest.warns(rpcsift.RpcsiftWarning):
        rpcsift.detect(ATSVC, sigma=bad)
    assert str(e.value) == _cli_error("detect", "--sigma", bad, ATSVC)
    assert str(e.value) == "no usable Sigma rule in 1 file(s) (1 rejected)"
    with pytest.raises(ValueError, match="unknown indicator set"):
        rpcsift.detect(ATSVC, indicators="nope")
    with pytest.raises(TypeError):
        rpcsift.calls(42)
    with pytest.raises(rpcsift.RpcsiftError, match="k.keytab"):
        rpcsift.calls(ATSVC, keys=["k.keytab"])
    with pytest.raises(rpcsift.RpcsiftError, match="k.keytab"):
        rpcsift.detect(ATSVC, keys=["k.keytab"])


def test_unreadable_capture_raises_or_warns(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture")
    code, _, err = run_cli("calls", junk, ATSVC, check=False)
    assert code == 1
    note = f"rpcsift: error: {junk} at offset 0: not a PCAP or PCAPNG capture: unknown magic 74686973"
    assert note in err.splitlines()
    with pytest.raises(rpcsift.RpcsiftError) as e:
        rpcsift.calls([junk, ATSVC])
    assert str(e.value).splitlines() == ["1 capture file(s) could not be read", note]
    with pytest.warns(rpcsift.RpcsiftWarning, match="unknown magic 74686973"):
        t = rpcsift.calls([junk, ATSVC], strict=False)
    assert t.num_rows == 3
    assert rpcsift.summary(t)["capture files that could not be read"] == 1


def test_duckdb_reads_cli_parquet(captures, tmp_path):
    out = tmp_path / "calls.parquet"
    run_cli("calls", "--format", "parquet", "-o", out, "-q", *captures)
    kv = dict(
        (k.decode(), v.decode())
        for _, k, v in duckdb.sql(f"select * from parquet_kv_metadata('{out}')").fetchall()
    )
    assert kv["schema_version"] == rpcsift.SCHEMA_VERSION
    assert kv["rpcsift_table"] == "calls"
    via_duckdb = duckdb.sql(f"select * from read_parquet('{out}')").arrow()
    if isinstance(via_duckdb, pa.RecordBatchReader):
        via_duckdb = via_duckdb.read_all()
    records = cli_json("calls", "--format", "json", *captures)
    # DuckDB keeps the unsigned widths; its time zone is spelled Etc/UTC.
    assert via_duckdb.schema.field("id.orig_p").type == pa.uint16()
    assert via_duckdb.schema.field("request_stub_len").type == pa.uint64()
    assert_same_rows(via_duckdb, records)
    by_op = duckdb.sql(
        f"""select operation, count(*) n from read_parquet('{out}')
            where uuid = '367abb81-9844-35f1-ad32-98f038001003'
            group by operation order by n desc, operation limit 1"""
    ).fetchall()
    want = {}
    for r in records:
        if r.get("uuid") == "367abb81-9844-35f1-ad32-98f038001003":
            want[r["operation"]] = want.get(r["operation"], 0) + 1
    top = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    assert by_op == [top]
    # And DuckDB queries the table rpcsift.calls returns, in place.
    calls_table = rpcsift.calls(captures)
    assert duckdb.sql("select count(*) from calls_table").fetchall() == [(len(records),)]


def test_decoding_releases_the_gil(captures):
    """While the native call decodes, another Python thread runs."""
    assert_releases_gil(lambda: _native.calls([str(c) for c in CAPTURES]))


def test_threads_get_the_same_tables(captures):
    want = rpcsift.calls(captures)
    results = [None] * 4

    def work(i):
        results[i] = rpcsift.calls(captures)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r.equals(want) for r in results)


def test_stubs_name_the_api():
    stub = Path(rpcsift.__file__).with_name("__init__.pyi").read_text()
    for name in ("def calls(", "def detect(", "def calls_schema(", "def hits_schema(", "def summary("):
        assert name in stub
    assert Path(rpcsift.__file__).with_name("py.typed").exists()


def test_keys_decrypt_as_the_cli_does():
    """A key file (rpcsift --keys) unseals the lab's packet-privacy calls: the same rows as
    the command line's JSON, every call decrypted with the password; without keys the
    decryption columns are null."""
    cap = ROOT / "captures" / "impacket" / "stress_privacy_tcp.pcap"
    keys = ROOT / "captures" / "impacket" / "lab.keys"
    table = rpcsift.calls(cap, keys=[keys])
    assert_same_rows(table, cli_json("calls", "--format", "json", "--keys", str(keys), str(cap)))
    assert table.column("decrypted").to_pylist() == [True] * table.num_rows == [True] * 7
    assert set(table.column("decrypted_with").to_pylist()) == {"password"}
    assert "decoded" in table.column("args_status").to_pylist()
    plain = rpcsift.calls(cap)
    assert plain.column("decrypted").null_count == plain.num_rows
    assert set(plain.column("args_status").to_pylist()) <= {"encrypted", "no_decoder"}
