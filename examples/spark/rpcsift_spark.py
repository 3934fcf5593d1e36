#!/usr/bin/env python3
"""rpcsift on Spark: a folder of captures in, Parquet datasets of calls and hits out.

    rpcsift_spark.py [--mode exact|per-file] [--merge all|subdirs|none] [--partitions N]
                     INPUT_DIR OUTPUT_DIR

writes OUTPUT_DIR/calls (the `rpcsift.calls` table) and OUTPUT_DIR/hits (`rpcsift.detect`)
as Parquet datasets. Spark reads the captures with its `binaryFile` source; every executor
needs the `rpcsift` wheel (and pyarrow) installed.

Modes:
  exact     (default) connections that span files are decoded whole, like `rpcsift calls
            --merge`: `rpcsift.packets` per file (each file numbered by its rank in its
            capture), a shuffle on (capture, connection partition) so that every packet of
            a connection lands in one task, sorted by ordinal, then `rpcsift.decode` and
            `rpcsift.detect_packets` per connection partition. Which files form one
            capture (`--merge`):
              all      (default) the whole INPUT_DIR is one capture, its files read one
                       after the other in path order: `rpcsift calls --merge INPUT_DIR`;
              subdirs  each file directly in INPUT_DIR is a capture of its own, each
                       subdirectory one capture (`rpcsift calls --merge INPUT_DIR/SUB`):
                       one folder per sensor's rotated files, loose captures beside them;
              none     every file is a capture of its own (`rpcsift calls INPUT_DIR`).
  per-file  each capture file is decoded on its own by one task (`rpcsift.calls` and
            `rpcsift.detect` on the file's bytes), like `rpcsift calls` without --merge,
            with no shuffle: a connection that spans two rotated files is decoded as two
            halves.

The rows are the command line's, uids included (a merged capture is named by its first
file, as `--merge` names it); their order in the datasets is Spark's. Spark has no
unsigned integers: the job widens uint16 to int, uint32 and uint64 to bigint (values are
unchanged). Column names keep rpcsift's (`id.orig_h`: quote them in Spark SQL with
backticks). Spark's file listing skips names that start with `_` or `.`, and
`binaryFile` reads files of up to 2 GiB.
"""

import argparse
import os
import sys


def _spark_table(table):
    """`table` with the unsigned columns widened to Spark's signed types (checked casts)."""
    import pyarrow as pa

    wider = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(), pa.uint64(): pa.int64()}
    fields = [
        pa.field(f.name, wider.get(f.type, f.type), f.nullable, f.metadata)
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _local_name(path):
    """The capture's name as the command line would print it: a local path without the
    `file:` scheme Spark adds, other URIs (hdfs://, s3a://) as they are."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if path.startswith("file:"):
        return path[len("file:"):]
    return path


def _decoder(kind, options, failures, evidence):
    """The function `mapInArrow` runs over batches of binaryFile rows: one capture file
    at a time through `rpcsift.calls` (kind `calls`, or `evidence`: only the DC evidence,
    no rows) or `rpcsift.detect` (`hits`). The DC evidence of every call goes to the
    `evidence` accumulator."""

    def run(batches):
        import warnings

        import rpcsift

        for batch in batches:
            paths = batch.column("path").to_pylist()
            contents = batch.column("content")
            for i, path in enumerate(paths):
                name = _local_name(path)
                if not rpcsift.is_capture_name(name.rsplit("/", 1)[-1]):
                    continue
                data = contents[i].as_py()
                with warnings.catch_warnings(record=True) as notes:
                    warnings.simplefilter("always")
                    if kind == "hits":
                        table = rpcsift.detect(data, name=name, strict=False, **options)
                    else:
                        table = rpcsift.calls(data, name=name, strict=False, **options)
                if kind == "calls":
                    failed = rpcsift.summary(table).get("capture files that could not be read", 0)
                    if failed:
                        failures.add([str(n.message) for n in notes] or [f"note: {name}: unreadable"])
                evidence.add(set(rpcsift.dc_evidence(table)))
                if kind != "evidence":
                    yield from _spark_table(table).to_batches()

    return run


def _components(path):
    """Sort key: path components, as the command line orders a directory walk."""
    return path.split("/")


def _captures(paths, root, merge):
    """The captures `paths` (under `root`, both as Spark writes them) form: a list of
    (label, [path, ...]) with the files of each capture in rank order."""
    groups = {}
    for path in sorted(paths, key=_components):
        if not path.startswith(root + "/"):
            raise ValueError(f"{path} is not under {root}: cannot tell its capture")
        rel = path[len(root) + 1:]
        if merge == "all":
            key = ""
        elif merge == "subdirs" and "/" in rel:
            key = rel.split("/", 1)[0]
        else:
            key = rel
        groups.setdefault(key, []).append(path)
    ordered = sorted(groups.values(), key=lambda files: _components(files[0]))
    return [(_local_name(files[0]), files) for files in ordered]


#: Columns of the shuffled packets (Spark's types): the capture, the connection
#: partition, and what `rpcsift.decode` reads.
def _packet_schema():
    import pyarrow as pa

    return pa.schema([
        ("capture", pa.int32()),
        ("partition", pa.int32()),
        ("ordinal", pa.int64()),
        ("ts_sec", pa.int64()),
        ("ts_nsec", pa.int64()),
        ("link_type", pa.int64()),
        ("frame", pa.binary()),
    ])


def _packets_of_files(plan, partitions, failures, without_ip):
    """The function `mapInArrow` runs over batches of binaryFile rows: every file's
    packets, numbered by the file's rank in its capture, with the capture's number."""

    def run(batches):
        import warnings

        import pyarrow as pa

        import rpcsift

        schema = _packet_schema()
        where = plan.value
        for batch in batches:
            paths = batch.column("path").to_pylist()
            contents = batch.column("content")
            for i, path in enumerate(paths):
                if path not in where:
                    continue
                capture, rank = where[path]
                name = _local_name(path)
                with warnings.catch_warnings(record=True) as notes:
                    warnings.simplefilter("always")
                    table = rpcsift.packets(
                        contents[i].as_py(), partitions, rank=rank, name=name, strict=False
                    )
                counts = rpcsift.summary(table)
                if counts.get("capture files that could not be read", 0):
                    failures.add([str(n.message) for n in notes] or [f"note: {name}: unreadable"])
                without_ip.add(counts.get("frames without an IP packet (left out)", 0))
                table = table.select([f.name for f in schema if f.name != "capture"])
                table = table.add_column(
                    0, "capture", pa.array([capture] * table.num_rows, pa.int32())
                )
                yield from table.cast(schema).to_batches()

    return run


def _runs(batch):
    """(capture, partition, rows) of the runs of equal keys in a sorted batch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    if n == 0:
        return
    cap = batch.column("capture")
    part = batch.column("partition")
    key = pc.add(pc.multiply(pc.cast(cap, pa.int64()), 1 << 32), pc.cast(part, pa.int64()))
    starts = [0]
    if n > 1:
        changed = pc.not_equal(key.slice(1), key.slice(0, n - 1))
        starts += [i + 1 for i in pc.indices_nonzero(changed).to_pylist()]
    for a, b in zip(starts, starts[1:] + [n]):
        yield cap[a].as_py(), part[a].as_py(), batch.slice(a, b - a)


def _decoder_of_packets(kind, labels, options, evidence):
    """The function `mapInArrow` runs over a shuffled partition (sorted by capture,
    partition, ordinal): each connection partition's packets, gathered, decoded at once
    (only one connection partition's packets are held at a time), by `rpcsift.decode`
    (kind `calls`, or `evidence`: no rows) or `rpcsift.detect_packets` (`hits`). The DC
    evidence of every call goes to the `evidence` accumulator."""

    def run(batches):
        import pyarrow as pa

        import rpcsift

        names = labels.value

        def decode(key, pieces):
            table = pa.Table.from_batches(pieces)
            label = names[key[0]]
            if kind == "hits":
                out = rpcsift.detect_packets(table, label=label, **options)
            else:
                out = rpcsift.decode(table, label=label, **options)
            evidence.add(set(rpcsift.dc_evidence(out)))
            return [] if kind == "evidence" else _spark_table(out).to_batches()

        key, pieces = None, []
        for batch in batches:
            for cap, part, rows in _runs(batch):
                if (cap, part) != key and pieces:
                    yield from decode(key, pieces)
                    pieces = []
                key = (cap, part)
                pieces.append(rows)
        if pieces:
            yield from decode(key, pieces)

    return run


def _qualified(spark, path):
    """`path` as Spark names the files under it (`file:/...`, `hdfs://...`)."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs.makeQualified(p).toString().rstrip("/")


def _exact(spark, a, call_opts, hit_opts, failures, mode):
    """Exact mode: packets per file, shuffled to their connection partition, decoded."""
    import rpcsift
    from pyspark import StorageLevel

    sc = spark.sparkContext
    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(a.input_dir)
    )
    paths = [
        r.path for r in files.select("path").collect()
        if rpcsift.is_capture_name(_local_name(r.path).rsplit("/", 1)[-1])
    ]
    captures = _captures(paths, _qualified(spark, a.input_dir), a.merge)
    if not captures:
        raise ValueError(f"no capture files in {a.input_dir}")
    where = {p: (c, rank) for c, (_, ps) in enumerate(captures) for rank, p in enumerate(ps)}
    labels = sc.broadcast([label for label, _ in captures])
    partitions = a.partitions or sc.defaultParallelism
    without_ip = sc.accumulator(0)
    packet_schema = _spark_schema(_packet_schema())
    packets = (
        files.select("path", "content")
        .mapInArrow(
            _packets_of_files(sc.broadcast(where), partitions, failures, without_ip),
            packet_schema,
        )
        # Spark's shuffle: every packet of a connection (of one capture), from whichever
        # file, to one task; in ordinal order within it.
        .repartition(partitions, "capture", "partition")
        .sortWithinPartitions("capture", "partition", "ordinal")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    _write_outputs(
        spark, a, call_opts, hit_opts, mode,
        lambda kind, options, evidence: _decoder_of_packets(kind, labels, options, evidence),
        packets,
    )
    packets.unpersist()
    print(
        f"rpcsift_spark: {len(paths)} capture file(s) in {len(captures)} capture(s), "
        f"{partitions} partition(s)",
        file=sys.stderr,
    )
    if without_ip.value:
        print(f"rpcsift_spark: {without_ip.value} frame(s) without an IP packet left out",
              file=sys.stderr)


def _spark_schema(arrow_schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema)


def _per_file(spark, a, call_opts, hit_opts, failures, mode):
    """Per-file mode: one task decodes one capture file."""
    import rpcsift

    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(a.input_dir)
        .select("path", "content")
    )
    if a.partitions:
        files = files.repartition(a.partitions)
    _write_outputs(
        spark, a, call_opts, hit_opts, mode,
        lambda kind, options, evidence: _decoder(kind, options, failures, evidence),
        files,
    )


def _write_outputs(spark, a, call_opts, hit_opts, mode, decoder, rows):
    """OUTPUT_DIR/calls, then OUTPUT_DIR/hits judged with the DC evidence of every call
    of the job (as one `rpcsift detect` run over the folder judges them): the calls pass
    gathers it, or in Zeek's mode (whose records do not carry it) a pass of its own."""
    import rpcsift
    from pyspark import AccumulatorParam

    class SetParam(AccumulatorParam):
        """Union of sets (a task run twice adds nothing new)."""

        def zero(self, value):
            return set()

        def addInPlace(self, s1, s2):
            return s1 | s2

    evidence = spark.sparkContext.accumulator(set(), SetParam())
    calls_schema = _spark_schema(_spark_table(rpcsift.calls_schema(a.zeek_compat).empty_table()).schema)
    rows.mapInArrow(decoder("calls", call_opts, evidence), calls_schema).write.mode(mode).parquet(
        os.path.join(a.output_dir, "calls"))
    if a.zeek_compat:
        accurate = dict(call_opts, zeek_compat=False)
        rows.mapInArrow(decoder("evidence", accurate, evidence), calls_schema).write.format(
            "noop").mode("overwrite").save()
    judged = dict(hit_opts, dc_evidence=sorted(evidence.value))
    hits_schema = _spark_schema(_spark_table(rpcsift.hits_schema().empty_table()).schema)
    rows.mapInArrow(decoder("hits", judged, evidence), hits_schema).write.mode(mode).parquet(
        os.path.join(a.output_dir, "hits"))


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="rpcsift_spark.py",
        description="Decode a folder of captures with rpcsift on Spark; write Parquet datasets "
        "OUTPUT_DIR/calls and OUTPUT_DIR/hits.",
    )
    p.add_argument("--mode", choices=["exact", "per-file"], default="exact",
                   help="exact: connections spanning files decoded whole, like --merge "
                   "(default); per-file: each file decoded on its own")
    p.add_argument("--merge", choices=["all", "subdirs", "none"], default=None,
                   help="exact mode: which files form one capture: all of INPUT_DIR "
                   "(default), each subdirectory (loose files alone), or none")
    p.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="Spark partitions the work is cut into (default: Spark's choice)")
    p.add_argument("--indicators", default=None, metavar="SET",
                   help="indicator sets for the hits, comma-separated, as rpcsift detect "
                        "--indicators takes them (default: attack)")
    p.add_argument("--sigma", action="append", default=None, metavar="FILE|DIR",
                   help="Sigma rules for the hits (readable on every executor); repeatable")
    p.add_argument("--keys", action="append", default=None, metavar="FILE",
                   help="key file as rpcsift --keys takes it (readable on every executor); "
                        "sealed calls it opens are decoded; repeatable")
    p.add_argument("--zeek-compat", action="store_true",
                   help="calls as Zeek's dce_rpc.log (its ten columns)")
    p.add_argument("--master", default=None,
                   help="Spark master (e.g. local[2]); default: what spark-submit gives")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("input_dir")
    p.add_argument("output_dir")
    a = p.parse_args(argv)
    if a.partitions is not None and a.partitions < 1:
        p.error("--partitions must be at least 1")
    if a.mode == "per-file" and a.merge not in (None, "none"):
        p.error("--merge needs --mode exact (per-file decodes every file on its own)")
    a.merge = a.merge or "all"

    import warnings

    from pyspark import AccumulatorParam
    from pyspark.sql import SparkSession

    import rpcsift

    keys = None if a.keys is None else [os.path.abspath(k) for k in a.keys]
    call_opts = {"zeek_compat": a.zeek_compat, "keys": keys}
    hit_opts = {"indicators": a.indicators, "sigma": a.sigma, "keys": keys}
    # The detector's options and the key files are checked here, once, before Spark
    # starts: a bad indicator set, Sigma path or key file stops the job with the command
    # line's message.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rpcsift.detect(b"", strict=False, **hit_opts)
    except (rpcsift.RpcsiftError, ValueError) as e:
        print(f"rpcsift_spark: {e}", file=sys.stderr)
        return 2

    # Local mode: the Python workers are this interpreter (the one rpcsift is installed in).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("rpcsift")
        # per-file: one capture file per Arrow batch handed to the decoder (memory follows
        # one file). exact: the same batches carry packets after the shuffle; a batch of
        # files holds at most one input split (spark.sql.files.maxPartitionBytes, or one
        # larger file).
        .config("spark.sql.execution.arrow.maxRecordsPerBatch",
                "1" if a.mode == "per-file" else "4096")
        # Standard Parquet timestamps (microseconds, UTC), not INT96.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()

    class ListParam(AccumulatorParam):
        def zero(self, value):
            return []

        def addInPlace(self, a1, a2):
            return a1 + a2

    failures = spark.sparkContext.accumulator([], ListParam())
    mode = "overwrite" if a.overwrite else "errorifexists"
    try:
        if a.mode == "exact":
            _exact(spark, a, call_opts, hit_opts, failures, mode)
        else:
            _per_file(spark, a, call_opts, hit_opts, failures, mode)
    except ValueError as e:
        print(f"rpcsift_spark: {e}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    # A task run twice adds twice: count each message once.
    failed = sorted(set(failures.value))
    if failed:
        print(f"rpcsift_spark: {len(failed)} capture file(s) could not be read",
              file=sys.stderr)
        for n in failed[:20]:
            print(n, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
