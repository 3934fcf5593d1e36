"""rpcsift.packets / rpcsift.decode / rpcsift.detect_packets: a capture's packets with
their connection partition, decoded back (whole, by partition, in any order, from a
capture split into two files) into exactly the command line's records, uids included."""

import json
import random
import struct

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import rpcsift
from rpcsift import _native
from conftest import (
    CAPTURE_FILES, ROOT, assert_releases_gil, assert_same_rows, capture_files, cli_json, pcap_records,
    split_pcap,
)

ATSVC = ROOT / "captures" / "atsvc_schtask.pcap"
# SchRpcRegisterTask's request: nine fragments in SMB2 WRITEs over frames 18 to 55.
BIGTASK = ROOT / "captures" / "smb2_atsvc_bigtask.pcap"
# Frames 1..34 in the first file: it ends inside the WRITE of frames 33 to 35.
SPLIT_AT = 34


def fnv1a_host_pair(a: bytes, b: bytes) -> int:
    """The engine's partition hash, written again from its documentation: FNV-1a 64 over
    the two addresses, the smaller first, then MurmurHash3's fmix64."""
    m = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in min(a, b) + max(a, b):
        h = ((h ^ byte) * 0x100000001B3) & m
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & m
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & m
    return h ^ (h >> 33)


def test_packets_table():
    t = rpcsift.packets(ATSVC, partitions=7)
    assert t.schema.equals(rpcsift.packets_schema(), check_metadata=False)
    assert t.column_names[:4] == ["partition", "ts", "link_type", "frame"]
    assert t.schema.metadata[b"rpcsift_table"] == b"packets"
    assert t.schema.metadata[b"schema_version"] == rpcsift.SCHEMA_VERSION.encode()
    counts = rpcsift.summary(t)
    assert counts["frames without an IP packet (left out)"] == 0
    assert counts["capture files"] == 1
    _, records = pcap_records(ATSVC)
    assert t.num_rows == counts["packets"] == len(records)
    assert t.column("ordinal").to_pylist() == list(range(1, t.num_rows + 1))
    assert set(t.column("file").to_pylist()) == {str(ATSVC)}
    # Frame bytes and times are the file's records (microsecond pcap: ts_nsec = us * 1000).
    for row, rec in zip(t.to_pylist(), records):
        sec, usec, incl, orig = struct.unpack_from("<IIII", rec)
        assert row["frame"] == rec[16:]
        assert (row["ts_sec"], row["ts_nsec"], row["orig_len"]) == (sec, usec * 1000, orig)
        assert int(row["ts"].timestamp()) == sec and row["ts"].microsecond == usec
        assert row["link_type"] == 1
    # On every capture, Ethernet + IPv4 frames: the partition is the documented hash of
    # the two addresses (either direction).
    many = rpcsift.packets(capture_files(), partitions=7)
    checked = 0
    for f, link, part in zip(*(many.column(c).to_pylist() for c in ("frame", "link_type", "partition"))):
        if link == 1 and f[12:14] == b"\x08\x00":
            assert part == fnv1a_host_pair(f[26:30], f[30:34]) % 7
            checked += 1
    assert checked > 0.9 * many.num_rows
    # The captures' host pairs spread over the partitions: 6 of the 7 hold some.
    assert len(set(many.column("partition").to_pylist())) == 6


def test_decode_equals_calls_on_every_capture():
    files = capture_files()
    assert len(files) == CAPTURE_FILES
    for path in files:
        want = rpcsift.calls(path)
        pk = rpcsift.packets(path, partitions=3)
        # Whole, in reverse order, then partition by partition in a shuffled order.
        assert rpcsift.decode(pk).equals(want), path
        rev = pk.take(pa.array(range(pk.num_rows - 1, -1, -1)))
        assert rpcsift.decode(rev).equals(want), path
        order = list(range(pk.num_rows))
        random.Random(20).shuffle(order)
        shuffled = pk.take(pa.array(order, pa.int64()))
        parts = [
            rpcsift.decode(shuffled.filter(pc.equal(shuffled["partition"], k)), label=str(path))
            for k in range(3)
        ]
        got = pa.concat_tables(parts).sort_by([("ts", "ascending"), ("uid", "ascending")])
        assert got.to_pylist() == want.sort_by([("ts", "ascending"), ("uid", "ascending")]).to_pylist(), path
        # Zeek's columns too.
        assert rpcsift.decode(pk, zeek_compat=True).equals(rpcsift.calls(path, zeek_compat=True)), path


@pytest.mark.filterwarnings("ignore::rpcsift.RpcsiftWarning")  # --merge: files overlap in time
def test_detect_packets_equal_detect(captures):
    pk = rpcsift.packets(captures, merge=True, partitions=4)
    label = str(capture_files()[0])
    want = rpcsift.detect(captures, indicators="all", merge=True)
    assert want.num_rows > 100
    assert rpcsift.detect_packets(pk, indicators="all", label=label).equals(want)
    # The command line's --merge, record for record.
    assert_same_rows(
        rpcsift.decode(pk, label=label),
        cli_json("calls", "--merge", "--format", "json", *captures),
    )
    # Partition by partition, judged with the DC evidence of all partitions (as the Spark
    # job does): the same hits. Judged with its own evidence only, a partition may not
    # know the DCs the whole run knows.
    parts = [pk.filter(pc.equal(pk["partition"], k)) for k in range(4)]
    evidence = set()
    for part in parts:
        evidence |= set(rpcsift.dc_evidence(rpcsift.decode(part, label=label)))
    assert sorted(evidence) == rpcsift.dc_evidence(want) != []
    got = pa.concat_tables([
        rpcsift.detect_packets(part, indicators="all", label=label, dc_evidence=sorted(evidence))
        for part in parts
    ])
    key = lambda r: json.dumps(r, sort_keys=True, default=str)
    assert sorted(got.to_pylist(), key=key) == sorted(want.to_pylist(), key=key)


@pytest.fixture(scope="module")
def split_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    first, second = d / "bigtask-0.pcap", d / "bigtask-1.pcap"
    split_pcap(BIGTASK, SPLIT_AT, first, second)
    return first, second


def test_split_capture_decodes_like_merge(split_pair):
    first, second = split_pair
    merged = cli_json("calls", "--merge", "--format", "json", first, second)
    # Each file read by itself (one Spark task per file), numbered by its rank.
    a = rpcsift.packets(first, partitions=2, rank=0)
    b = rpcsift.packets(second, partitions=2, rank=1)
    assert b.column("ordinal")[0].as_py() == (1 << 40) + 1
    both = pa.concat_tables([b, a])
    with pytest.raises(ValueError, match="label="):
        rpcsift.decode(both)
    assert_same_rows(rpcsift.decode(both, label=str(first)), merged)
    # The same packets as a list of paths read as one capture.
    assert rpcsift.packets([first, second], partitions=2, merge=True).equals(pa.concat_tables([a, b]))
    # The split is inside SchRpcRegisterTask: merged, it is whole (the unsplit capture's
    # call, but for the capture's name and uids); the files decoded apart lose it.
    whole = cli_json("calls", "--format", "json", BIGTASK)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("uid", "capture")} for r in rs]
    assert strip(merged) == strip(whole)
    task = [r for r in strip(whole) if r["operation"] == "SchRpcRegisterTask"]
    assert len(task) == 1 and task[0]["request_stub_len"] == 34740 and task[0]["status"] == "ok"
    apart = strip(cli_json("calls", "--format", "json", first, second))
    assert task[0] not in apart
    assert len(apart) < len(merged) or apart != strip(merged)


def _pcap(head, records):
    return head + b"".join(records)


def test_nanoseconds_and_frames_without_ip(tmp_path):
    head, records = pcap_records(ATSVC)
    # The same capture with nanosecond times (+123 ns each), and an ARP frame after frame 2.
    ns_head = struct.pack("<I", 0xA1B23C4D) + head[4:]
    ns_records = []
    for rec in records:
        sec, usec, incl, orig = struct.unpack_from("<IIII", rec)
        ns_records.append(struct.pack("<IIII", sec, usec * 1000 + 123, incl, orig) + rec[16:])
    sec, nsec = struct.unpack_from("<II", ns_records[1])
    arp = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(28)
    ns_records.insert(2, struct.pack("<IIII", sec, nsec, len(arp), len(arp)) + arp)
    path = tmp_path / "ns.pcap"
    path.write_bytes(_pcap(ns_head, ns_records))
    pk = rpcsift.packets(path)
    assert rpcsift.summary(pk)["frames without an IP packet (left out)"] == 1
    assert rpcsift.summary(pk)["packets"] == len(records) + 1
    assert pk.num_rows == len(records)
    assert pk.column("ordinal").to_pylist()[:4] == [1, 2, 4, 5]
    assert all(n % 1000 == 123 for n in pk.column("ts_nsec").to_pylist())
    # The uids hash the first packet's exact time: nanoseconds survive the round trip.
    want = rpcsift.calls(path)
    assert rpcsift.decode(pk).equals(want)
    assert_same_rows(want, cli_json("calls", "--format", "json", path))
    assert want.column("uid").to_pylist() != rpcsift.calls(ATSVC).column("uid").to_pylist()
    # Bytes named like the file: the same packets.
    assert rpcsift.packets(path.read_bytes(), name=str(path)).equals(pk)


def test_decode_takes_batches_and_other_tables():
    want = rpcsift.calls(ATSVC)
    pk = rpcsift.packets(ATSVC, partitions=2)
    batches = pk.to_batches(max_chunksize=5)
    assert len(batches) > 2
    assert rpcsift.decode(batches).equals(want)
    assert rpcsift.decode(pa.RecordBatchReader.from_batches(pk.schema, batches)).equals(want)
    assert rpcsift.decode(batches[0]).num_rows == 0
    assert rpcsift.decode([]).num_rows == 0
    # Spark's types (signed, widened), no `file`, no exact time: the `ts` column serves
    # (this capture has microsecond times), and without `ordinal` the time order.
    spark_like = pk.select(["partition", "ts", "link_type", "frame", "ordinal"]).cast(
        pa.schema([("partition", pa.int32()), ("ts", pa.timestamp("us", tz="UTC")),
                   ("link_type", pa.int64()), ("frame", pa.binary()), ("ordinal", pa.int64())])
    )
    assert rpcsift.decode(spark_like, label=str(ATSVC)).equals(want)
    assert rpcsift.decode(spark_like.drop_columns(["ordinal"]), label=str(ATSVC)).equals(want)
    assert rpcsift.decode(spark_like).column("capture").to_pylist() == ["<packets>"] * 3


def test_decode_errors(tmp_path):
    pk = rpcsift.packets(ATSVC)
    with pytest.raises(rpcsift.RpcsiftError, match=r"^packets: ordinal 1 appears twice"):
        rpcsift.decode(pa.concat_tables([pk, pk.slice(0, 1)]))
    with pytest.raises(rpcsift.RpcsiftError, match=r"^packets: no `frame` column$"):
        rpcsift.decode(pk.drop_columns(["frame"]))
    with pytest.raises(rpcsift.RpcsiftError, match=r"^packets: column `link_type` must hold integers, not Utf8$"):
        rpcsift.decode(pk.set_column(2, "link_type", pa.array(["1"] * pk.num_rows)))
    with pytest.raises(rpcsift.RpcsiftError, match="k.keytab"):
        rpcsift.decode(pk, keys=["k.keytab"])
    with pytest.raises(rpcsift.RpcsiftError, match="k.keytab"):
        rpcsift.detect_packets(pk, keys=["k.keytab"])
    with pytest.raises(rpcsift.RpcsiftError, match=r"^packets: partitions must be between 1 and 2147483647, not 0$"):
        rpcsift.packets(ATSVC, partitions=0)
    with pytest.raises(rpcsift.RpcsiftError) as e:
        rpcsift.packets(tmp_path / "none.pcap")
    assert str(e.value).startswith(f"listing captures: {tmp_path / 'none.pcap'}: ")
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture")
    note = f"rpcsift: error: {junk} at offset 0: not a PCAP or PCAPNG capture: unknown magic 74686973"
    with pytest.raises(rpcsift.RpcsiftError) as e:
        rpcsift.packets([junk, ATSVC])
    assert str(e.value).splitlines() == ["1 capture file(s) could not be read", note]
    with pytest.warns(rpcsift.RpcsiftWarning, match="unknown magic 74686973"):
        t = rpcsift.packets([junk, ATSVC], strict=False)
    assert t.num_rows == pk.num_rows


def test_decode_releases_the_gil(captures):
    """While the native decode runs, another Python thread runs."""
    pk = rpcsift.packets(captures, merge=True)
    ipc, _ = rpcsift._packets_ipc(pk, "all")
    assert_releases_gil(lambda: _native.decode(ipc, label="all"))


def test_stubs_name_the_packet_api():
    from pathlib import Path

    stub = Path(rpcsift.__file__).with_name("__init__.pyi").read_text()
    for name in ("def packets(", "def decode(", "def detect_packets(", "def packets_schema("):
        assert name in stub


def test_decode_with_keys_equals_calls_with_keys():
    """Key files go through the packet-stream seam too: decoding a sealed capture's packets,
    shuffled and split by partition, with the lab's key file gives the rows calls() gives
    with it (every call decrypted), and without it the stubs stay sealed."""
    cap = ROOT / "captures" / "impacket" / "stress_privacy_tcp.pcap"
    keys = ROOT / "captures" / "impacket" / "lab.keys"
    want = rpcsift.calls(cap, keys=[keys])
    assert want.column("decrypted").to_pylist() == [True] * 7
    pk = rpcsift.packets(cap, partitions=2)
    shuffled = pk.take(list(reversed(range(pk.num_rows))))
    assert rpcsift.decode(shuffled, keys=[keys]).equals(want)
    sealed = rpcsift.decode(shuffled)
    assert sealed.column("decrypted").null_count == sealed.num_rows == 7
    assert "decoded" not in sealed.column("args_status").to_pylist()
