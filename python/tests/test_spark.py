"""examples/spark/rpcsift_spark.py in Spark local mode (local[2]) on the project's captures:
its Parquet datasets hold exactly the calls and hits of the command line (per file)."""

import json
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import CAPTURES, ROOT, cli_json, json_rows, table_rows

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
    assert len(got) == len(want) == 138
    assert canonical(got) == canonical(json_rows(want, calls.schema))
    want = cli_json("detect", "--indicators", "all", "--format", "json", captures)
    got = table_rows(hits)
    assert len(got) == len(want) > 100
    assert canonical(got) == canonical(json_rows(want, hits.schema))


def test_exact_mode_says_it_is_not_built_yet(tmp_path):
    code, err, _ = run_job(CAPTURES[0], tmp_path / "out")
    assert code == 2
    assert "--mode exact needs rpcsift.packets and rpcsift.decode" in err
    assert not (tmp_path / "out").exists()


def test_bad_detector_options_stop_the_job_before_spark(tmp_path):
    code, err, seconds = run_job("--mode", "per-file", "--sigma", tmp_path / "none", CAPTURES[0], tmp_path / "out")
    assert code == 2
    assert f"rpcsift_spark: Sigma rule path {tmp_path / 'none'} does not exist" in err
    assert not (tmp_path / "out").exists()
