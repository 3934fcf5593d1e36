"""rpcsift: the DCE-RPC calls and remote-execution hits in packet captures, as Arrow tables.

The decoding is rpcsift's own Rust library (the one the ``rpcsift`` command runs); the
tables have the schema of ``rpcsift calls --format parquet`` and ``rpcsift detect --format
parquet`` (see the README, "Python and Spark")::

    import rpcsift
    calls = rpcsift.calls("captures/")             # pyarrow.Table, one row per call
    hits = rpcsift.detect(["a.pcap", "b.pcapng"])   # one row per call and indicator
    calls.to_pandas()

``source`` is a path (file or directory, searched as the command line does), a list of
paths, or the ``bytes`` of one capture (pcap or pcapng, gzip or not).

For engines that spread captures over machines (Spark): ``packets`` gives a capture's
frames with their connection partition, ``decode`` and ``detect_packets`` turn the packets
of some connections (all of their packets, from any number of files) back into the same
tables::

    pk = rpcsift.packets("cap.pcap", partitions=8)   # partition, ts, link_type, frame, ...
    part = pk.filter(pc.equal(pk["partition"], 3))   # all packets of some connections
    rpcsift.decode(part)                             # their calls, uids included
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc

from . import _native
from ._native import SCHEMA_VERSION, RpcsiftError, RpcsiftWarning, is_capture_name

__version__: str = _native.VERSION

__all__ = [
    "calls",
    "detect",
    "packets",
    "decode",
    "detect_packets",
    "calls_schema",
    "hits_schema",
    "packets_schema",
    "summary",
    "dc_evidence",
    "is_capture_name",
    "RpcsiftError",
    "RpcsiftWarning",
    "SCHEMA_VERSION",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, Sequence[PathLike], bytes, bytearray, memoryview]
Packets = Union[pa.Table, pa.RecordBatch, pa.RecordBatchReader, Iterable[pa.RecordBatch]]

#: Notices shown in an error message before the rest is counted (as the command line does).
_MAX_NOTICES = 20


def _split(source: Source) -> Tuple[Optional[List[str]], Optional[bytes]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None, bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return [os.fspath(source)], None
    try:
        return [os.fspath(p) for p in source], None
    except TypeError:
        raise TypeError(
            "source must be a path, a list of paths, or the bytes of a capture"
        ) from None


def _key_files(keys: Optional[Sequence[PathLike]]) -> Optional[List[str]]:
    if keys is None:
        return None
    if isinstance(keys, (str, os.PathLike)):
        keys = [keys]
    return [os.fspath(k) for k in keys]


def _judge(
    min_level: Optional[str],
    dcs: Optional[Sequence[str]],
    dc_evidence: Optional[Sequence[str]],
) -> Dict[str, Any]:
    return {
        "min_level": min_level,
        "dcs": None if dcs is None else [str(a) for a in dcs],
        "dc_evidence": None if dc_evidence is None else [str(a) for a in dc_evidence],
    }


def _rules(sigma: Optional[Union[PathLike, Sequence[PathLike]]]) -> Optional[List[str]]:
    if sigma is None:
        return None
    if isinstance(sigma, (str, os.PathLike)):
        sigma = [sigma]
    return [os.fspath(p) for p in sigma]


def _table(
    ipc: bytes,
    counts: Dict[str, int],
    notes: List[str],
    failed: int,
    evidence: List[str],
    strict: bool,
    with_evidence: bool = True,
) -> pa.Table:
    table = pa.ipc.open_stream(ipc).read_all()
    if failed and strict:
        lines = [f"{failed} capture file(s) could not be read"]
        lines += notes[:_MAX_NOTICES]
        if len(notes) > _MAX_NOTICES:
            lines.append(f"note: {len(notes) - _MAX_NOTICES} more notices not shown")
        raise RpcsiftError("\n".join(lines))
    for n in notes:
        warnings.warn(n, RpcsiftWarning, stacklevel=3)
    meta = dict(table.schema.metadata or {})
    meta[b"rpcsift_summary"] = json.dumps(counts).encode()
    if with_evidence:
        meta[b"rpcsift_dc_evidence"] = json.dumps(evidence).encode()
    return table.replace_schema_metadata(meta)


def calls(
    source: Source,
    *,
    zeek_compat: bool = False,
    zeek_ignore: bool = False,
    verify_checksums: bool = False,
    merge: bool = False,
    keys: Optional[Sequence[PathLike]] = None,
    name: str = "<bytes>",
    strict: bool = True,
) -> pa.Table:
    """Every DCE-RPC call in ``source``, one row per call (``rpcsift calls``).

    ``zeek_compat`` gives Zeek's ``dce_rpc.log`` (its ten columns, its quirks);
    ``zeek_ignore`` drops the operations on Zeek's ignore list; ``merge`` reads the files as
    one continuous capture (rotated files); ``name`` names a capture given as bytes (the
    ``capture`` column, and the connection ``uid``s). A capture file that cannot be read
    raises :class:`RpcsiftError` unless ``strict`` is false (then it is a warning, as are
    other notices). The run's counters are in ``summary(table)``. ``keys`` are key files
    (``rpcsift --keys``: passwords, NT hashes, keytabs, SMB3 session keys): sealed calls and
    SMB3-encrypted sessions are decrypted where a key verifies (columns ``decrypted``,
    ``decrypted_with``); a malformed key file raises :class:`RpcsiftError`.
    """
    paths, data = _split(source)
    answer = _native.calls(
        paths,
        data,
        name=name,
        zeek_compat=zeek_compat,
        zeek_ignore=zeek_ignore,
        verify_checksums=verify_checksums,
        merge=merge,
        keys=_key_files(keys),
    )
    return _table(*answer, strict=strict)


def detect(
    source: Source,
    *,
    indicators: Optional[str] = None,
    sigma: Optional[Union[PathLike, Sequence[PathLike]]] = None,
    merge: bool = False,
    min_level: Optional[str] = None,
    dcs: Optional[Sequence[str]] = None,
    dc_evidence: Optional[Sequence[str]] = None,
    keys: Optional[Sequence[PathLike]] = None,
    name: str = "<bytes>",
    strict: bool = True,
) -> pa.Table:
    """Remote-execution hits in ``source``: one row per call and matcher (``rpcsift detect``).

    ``indicators`` is a built-in set or several, comma-separated, as ``--indicators``
    takes them (default ``attack`` unless ``sigma`` is given); ``sigma`` is a Sigma rule file or
    directory, or a list of them (rules rejected are reported as warnings).
    ``min_level`` is ``--min-level`` (default ``medium``); ``dcs`` names the domain
    controllers (``--dc``; then none is inferred); ``dc_evidence`` gives DCs inferred
    elsewhere (the other parts of a distributed run, see :func:`dc_evidence`) instead of
    inferring them from ``source`` alone. Other arguments as in :func:`calls`.
    """
    paths, data = _split(source)
    answer = _native.detect(
        paths,
        data,
        name=name,
        indicators=indicators,
        sigma=_rules(sigma),
        merge=merge,
        **_judge(min_level, dcs, dc_evidence),
        keys=_key_files(keys),
    )
    return _table(*answer, strict=strict)


def packets(
    source: Source,
    partitions: int = 1,
    *,
    merge: bool = False,
    rank: int = 0,
    name: str = "<bytes>",
    strict: bool = True,
) -> pa.Table:
    """Every frame of ``source`` that carries an IP packet, with its connection partition.

    Columns: ``partition`` (int32: the direction-independent hash of the frame's two IP
    addresses that rpcsift's engine routes connections by, modulo ``partitions``; IP
    fragments go with their datagram), ``ts`` (timestamp[us, UTC], cut to the
    microsecond), ``link_type`` (uint32, LINKTYPE_*), ``frame`` (the captured bytes),
    ``ordinal`` (uint64: the frame's number in its file, the file's rank in the top 24
    bits), ``ts_sec`` and ``ts_nsec`` (the exact capture time, nanoseconds kept),
    ``orig_len`` (length on the wire) and ``file`` (the capture, named as ``calls`` names
    it). Frames without an IP packet (ARP, ...) are left out and counted in
    ``summary(table)``.

    ``merge`` numbers the files of ``source`` as the rotated parts of one capture (as
    ``calls(..., merge=True)`` reads them: ranks ``rank``, ``rank + 1``, ... in path order);
    ``rank`` numbers one part read alone (a Spark task reads one file), so that parts read
    anywhere number their packets as if read together. Other arguments as in
    :func:`calls`.
    """
    paths, data = _split(source)
    answer = _native.packets(
        paths, data, name=name, partitions=partitions, merge=merge, rank=rank
    )
    return _table(*answer, strict=strict, with_evidence=False)


#: Columns `decode` reads (the others are not sent to the decoder).
_DECODE_COLUMNS = ("frame", "link_type", "ordinal", "ts_sec", "ts_nsec", "ts")


def _packets_ipc(packets: Packets, label: Optional[str]) -> Tuple[bytes, str]:
    """The columns the decoder reads, as Arrow IPC stream bytes, and the capture's name."""
    if isinstance(packets, pa.Table):
        table = packets
    elif isinstance(packets, pa.RecordBatch):
        table = pa.Table.from_batches([packets])
    elif isinstance(packets, pa.RecordBatchReader):
        table = packets.read_all()
    elif hasattr(packets, "__arrow_c_stream__"):
        table = pa.table(packets)
    else:
        batches = list(packets)
        if not batches:
            table = packets_schema().empty_table()
        else:
            table = pa.Table.from_batches(batches)
    if label is None:
        label = "<packets>"
        if "file" in table.column_names:
            files = pc.unique(table.column("file")).to_pylist()
            if len(files) == 1:
                label = files[0]
            elif len(files) > 1:
                raise ValueError(
                    "packets of several files: name the capture with label= (the command "
                    "line names a --merge run by its first file)"
                )
    table = table.select([c for c in _DECODE_COLUMNS if c in table.column_names])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes(), label


def decode(
    packets: Packets,
    *,
    zeek_compat: bool = False,
    zeek_ignore: bool = False,
    verify_checksums: bool = False,
    keys: Optional[Sequence[PathLike]] = None,
    label: Optional[str] = None,
) -> pa.Table:
    """The calls of ``packets`` (a table from :func:`packets`, or batches of it): all
    packets of some connections, from any number of files, in any order.

    They are sorted by ``ordinal`` and replayed through rpcsift's engine, so the rows are
    the ones :func:`calls` gives for the same connections of the whole capture, uids
    included (with ``merge=True`` for rotated files). Why the ordinal and not the time:
    the engine numbers, reassembles and expires connections in capture order, which times
    do not always give (clocks step back, pcapng interfaces interleave, packets share a
    microsecond). A table without ``ordinal`` is sorted by time and numbered from 1 (its
    uids are then not the command line's); one ordinal twice (packets of two captures
    mixed) raises :class:`RpcsiftError`.

    ``label`` names the capture (the ``capture`` column, and the uids): by default the
    table's ``file`` when it names one file; a merged capture is named by its first file
    (as ``rpcsift calls --merge`` names it). Other arguments as in :func:`calls`.
    """
    ipc, label = _packets_ipc(packets, label)
    answer = _native.decode(
        ipc,
        label=label,
        zeek_compat=zeek_compat,
        zeek_ignore=zeek_ignore,
        verify_checksums=verify_checksums,
        keys=_key_files(keys),
    )
    return _table(*answer, strict=True)


def detect_packets(
    packets: Packets,
    *,
    indicators: Optional[str] = None,
    sigma: Optional[Union[PathLike, Sequence[PathLike]]] = None,
    min_level: Optional[str] = None,
    dcs: Optional[Sequence[str]] = None,
    dc_evidence: Optional[Sequence[str]] = None,
    keys: Optional[Sequence[PathLike]] = None,
    label: Optional[str] = None,
) -> pa.Table:
    """The hits of :func:`detect` on the calls of ``packets`` (decoded as :func:`decode`
    decodes them). When the packets are a part of a capture (one connection partition),
    give ``dc_evidence``: the union of :func:`dc_evidence` over every part, so that hits
    are judged as one run over the whole capture judges them."""
    ipc, label = _packets_ipc(packets, label)
    answer = _native.detect_packets(
        ipc,
        label=label,
        indicators=indicators,
        sigma=_rules(sigma),
        keys=_key_files(keys),
        **_judge(min_level, dcs, dc_evidence),
    )
    return _table(*answer, strict=True)


def calls_schema(zeek_compat: bool = False) -> pa.Schema:
    """The schema of :func:`calls` tables (and of ``rpcsift calls --format parquet``)."""
    return pa.ipc.open_stream(_native.calls_schema(zeek_compat)).schema


def hits_schema() -> pa.Schema:
    """The schema of :func:`detect` tables (and of ``rpcsift detect --format parquet``)."""
    return pa.ipc.open_stream(_native.hits_schema()).schema


def packets_schema() -> pa.Schema:
    """The schema of :func:`packets` tables."""
    return pa.ipc.open_stream(_native.packets_schema()).schema


def dc_evidence(table: pa.Table) -> List[str]:
    """The domain controllers the run that made ``table`` (a :func:`calls`,
    :func:`detect`, :func:`decode` or :func:`detect_packets` table) saw evidence of:
    servers of drsuapi and netlogon calls, and hosts answering Kerberos on port 88. Zeek's mode (``zeek_compat``) sees none."""
    meta = table.schema.metadata or {}
    raw = meta.get(b"rpcsift_dc_evidence")
    return [] if raw is None else json.loads(raw)


def summary(table: pa.Table) -> Dict[str, Any]:
    """The counters of the run that made ``table`` (files, packets, connections, calls,
    and what could not be decoded and why), labelled as the command line's summary."""
    meta = table.schema.metadata or {}
    raw = meta.get(b"rpcsift_summary")
    return {} if raw is None else json.loads(raw)
