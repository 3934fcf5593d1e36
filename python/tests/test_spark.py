"""examples/spark/rpcsift_spark.py in Spark local mode (local[2]) on the project's captures
and a capture split into two files inside a call: its Parquet datasets hold exactly the
calls and hits of the command line, uids included (exact mode: --merge; per-file mode:
each file alone)."""

import json
import shutil
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

import rpcsift

from conftest import CAPTURE_CALLS, CAPTURES, ROOT, capture_files, cli_json, json_rows, split_pcap, table_rows

JOB = ROOT / "examples" / "spark" / "rpcsift_spark.py"


def run_job(*args):
    started = time.perf_counter()
    p = subprocess.run([sys.executable, str(JOB), *map(str, args)], capture_output=True, text=True)
    return p.returncode, p.stderr, time.perf_counter() - started


def canonical(rows):
    """Rows in a total order that does not depend on how Spark split the work."""
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_per_file_job_equals_cli(tmp_path):
    captures = CAPTURES[0].resolve()
    out = tmp_path / "out"
    code, err, seconds = run_job(
        "--mode", "per-file", "--partitions", "3", "--indicators", "all",
        "--master", "local[2]", captures, out,
    )
    assert code == 0, err
    print(f"spark per-file job on {captures}: {seconds:.1f} s")
    calls = pq.read_table(out / "calls")
    hits = pq.read_table(out / "hits")
    # Spark's types: unsigned widened, times as UTC microseconds, names kept.
    assert str(calls.schema.field("id.orig_p").type) == "int32"
    assert str(calls.schema.field("request_stub_len").type) == "int64"
    assert str(calls.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    want = cli_json("calls", "--format", "json", captures)
    got = table_rows(calls)
    assert len(got) == len(want) == CAPTURE_CALLS
    assert canonical(got) == canonical(json_rows(want, calls.schema))
    want = cli_json("detect", "--indicators", "all", "--format", "json", captures)
    got = table_rows(hits)
    assert len(got) == len(want) > 100
    assert canonical(got) == canonical(json_rows(want, hits.schema))


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory):
    """A folder as a case might hold it: the project's captures side by side, and one
    capture rotated into two files in a subfolder (split inside SchRpcRegisterTask's
    request, see test_packets.py)."""
    root = tmp_path_factory.mktemp("case") / "in"
    root.mkdir()
    loose = []
    for p in capture_files():
        shutil.copyfile(p, root / p.name)
        loose.append(root / p.name)
    (root / "sensor").mkdir()
    parts = [root / "sensor" / "bigtask-0.pcap", root / "sensor" / "bigtask-1.pcap"]
    split_pcap(ROOT / "captures" / "smb2_atsvc_bigtask.pcap", 34, *parts)
    return root, sorted(loose), parts


def assert_same_datasets(out, calls_want, hits_want):
    """OUTPUT_DIR/calls and OUTPUT_DIR/hits hold exactly these records (command line JSON
    records, or rows of rpcsift tables as `table_rows` gives them)."""
    calls = pq.read_table(out / "calls")
    hits = pq.read_table(out / "hits")
    for table, want in ((calls, calls_want), (hits, hits_want)):
        got = table_rows(table)
        rows = [
            r[1] if isinstance(r, tuple) else json_rows([r], table.schema)[0] for r in want
        ]
        assert len(got) == len(rows)
        assert canonical(got) == canonical(rows)
    return calls


def api_rows(table):
    """Rows of an rpcsift table, marked as already in `table_rows` terms."""
    return [("row", r) for r in table_rows(table)]


def test_exact_job_equals_cli_merge(case_folder, tmp_path):
    """Default mode and grouping: the folder is one capture, as `rpcsift calls --merge`."""
    root, loose, parts = case_folder
    out = tmp_path / "out"
    code, err, seconds = run_job("--indicators", "all", "--master", "local[2]", root, out)
    assert code == 0, err
    print(f"spark exact job (--merge all) on {len(loose) + 2} files: {seconds:.1f} s")
    assert f"rpcsift_spark: {len(loose) + 2} capture file(s) in 1 capture(s), 2 partition(s)" in err
    calls = assert_same_datasets(
        out,
        cli_json("calls", "--merge", "--format", "json", root),
        cli_json("detect", "--merge", "--indicators", "all", "--format", "json", root),
    )
    # Named as --merge names a run: by its first file.
    assert set(calls.column("capture").to_pylist()) == {str(loose[0])}
    assert calls.num_rows > CAPTURE_CALLS


def test_exact_job_subdirs_equals_cli_per_capture(case_folder, tmp_path):
    """--merge subdirs: loose files alone, the subfolder's files as one capture."""
    root, loose, parts = case_folder
    out = tmp_path / "out"
    code, err, seconds = run_job(
        "--merge", "subdirs", "--partitions", "3", "--indicators", "all",
        "--master", "local[2]", root, out,
    )
    assert code == 0, err
    print(f"spark exact job (--merge subdirs) on {len(loose) + 2} files: {seconds:.1f} s")
    assert f"{len(loose) + 2} capture file(s) in {len(loose) + 1} capture(s), 3 partition(s)" in err
    merged = cli_json("calls", "--merge", "--format", "json", root / "sensor")
    # Hits are judged with the DCs of the whole job (the evidence of every call), as one
    # run over the folder would: the loose files' own evidence (the sensor's capture has
    # none), which a run over the sensor's files alone does not have.
    loose_calls = rpcsift.calls(loose)
    sensor_calls = rpcsift.calls(parts, merge=True)
    assert rpcsift.dc_evidence(sensor_calls) == []
    evidence = rpcsift.dc_evidence(loose_calls)
    assert evidence
    sensor_hits = rpcsift.detect(parts, merge=True, indicators="all", dc_evidence=evidence)
    assert sensor_hits.num_rows > 0
    calls = assert_same_datasets(
        out,
        cli_json("calls", "--format", "json", *loose) + merged,
        cli_json("detect", "--indicators", "all", "--format", "json", *loose)
        + api_rows(sensor_hits),
    )
    assert calls.num_rows == CAPTURE_CALLS + len(merged)
    # The call the split cuts in two is whole, as in the unsplit capture.
    task = [r for r in merged if r["operation"] == "SchRpcRegisterTask"]
    assert [(t["request_stub_len"], t["status"], t["capture"]) for t in task] == [
        (34740, "ok", str(parts[0]))
    ]


def test_capture_grouping():
    """Which files form one capture, in which rank order (the command line's walk order:
    path components sorted), named by their first file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rpcsift_spark", JOB)
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    root = "file:/x/in"
    paths = [f"{root}/{p}" for p in ("s.pcap", "b.pcap", "s/2.pcap", "s/t/0.pcap", "s/1.pcap", "a.pcap")]
    local = lambda ps: [p[len("file:"):] for p in ps]
    groups = job._captures(paths, root, "all")
    assert [(label, local(ps)) for label, ps in groups] == [
        ("/x/in/a.pcap", local([f"{root}/{p}" for p in ("a.pcap", "b.pcap", "s/1.pcap", "s/2.pcap", "s/t/0.pcap", "s.pcap")])),
    ]
    groups = job._captures(paths, root, "subdirs")
    assert [(label, len(ps)) for label, ps in groups] == [
        ("/x/in/a.pcap", 1), ("/x/in/b.pcap", 1), ("/x/in/s/1.pcap", 3), ("/x/in/s.pcap", 1),
    ]
    groups = job._captures(paths, root, "none")
    assert [label for label, _ in groups] == [
        "/x/in/a.pcap", "/x/in/b.pcap", "/x/in/s/1.pcap", "/x/in/s/2.pcap", "/x/in/s/t/0.pcap", "/x/in/s.pcap",
    ]
    with pytest.raises(ValueError, match="is not under"):
        job._captures(["hdfs://n/in/a.pcap"], root, "all")


def test_per_file_mode_takes_no_merge(tmp_path):
    code, err, _ = run_job("--mode", "per-file", "--merge", "all", CAPTURES[0], tmp_path / "out")
    assert code == 2
    assert "--merge needs --mode exact" in err
    assert not (tmp_path / "out").exists()


def test_bad_detector_options_stop_the_job_before_spark(tmp_path):
    code, err, seconds = run_job("--mode", "per-file", "--sigma", tmp_path / "none", CAPTURES[0], tmp_path / "out")
    assert code == 2
    assert f"rpcsift_spark: Sigma rule path {tmp_path / 'none'} does not exist" in err
    assert not (tmp_path / "out").exists()


def test_exact_job_with_keys_equals_cli(tmp_path):
    """--keys: the Impacket lab's packet-privacy captures, decrypted on the executors with
    the lab's key file, give the command line's calls and hits with the same key file
    (every call decrypted, the execution arguments decoded); a key file that cannot be read
    stops the job before Spark starts."""
    root = tmp_path / "in"
    root.mkdir()
    for name in ("atexec_privacy_smb2.pcap", "psexec_privacy_smb2.pcap", "stress_privacy_tcp.pcap"):
        shutil.copyfile(ROOT / "captures" / "impacket" / name, root / name)
    keys = ROOT / "captures" / "impacket" / "lab.keys"
    out = tmp_path / "out"
    code, err, seconds = run_job("--keys", keys, "--master", "local[2]", root, out)
    assert code == 0, err
    print(f"spark exact job with keys on 3 files: {seconds:.1f} s")
    calls = assert_same_datasets(
        out,
        cli_json("calls", "--merge", "--keys", keys, "--format", "json", root),
        cli_json("detect", "--merge", "--keys", keys, "--format", "json", root),
    )
    sealed = [r for r in table_rows(calls) if r["encrypted"]]
    assert sealed and all(r["decrypted"] for r in sealed)
    hits = pq.read_table(out / "hits")
    assert hits.num_rows > 0
    assert set(hits.column("decrypted_with").to_pylist()) == {"password"}
    assert "decoded" in hits.column("args_status").to_pylist()
    bad = tmp_path / "bad.keys"
    bad.write_text("nt-hash LAB\\x 12\n")
    code, err, _ = run_job("--keys", bad, root, tmp_path / "out2")
    assert code == 2
    assert f"{bad}:1" in err and "12" not in err.split(f"{bad}:1", 1)[1]
    assert not (tmp_path / "out2").exists()
