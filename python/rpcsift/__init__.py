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
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import pyarrow as pa

from . import _native
from ._native import SCHEMA_VERSION, RpcsiftError, RpcsiftWarning, is_capture_name

__version__: str = _native.VERSION

__all__ = [
    "calls",
    "detect",
    "calls_schema",
    "hits_schema",
    "summary",
    "is_capture_name",
    "RpcsiftError",
    "RpcsiftWarning",
    "SCHEMA_VERSION",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, Sequence[PathLike], bytes, bytearray, memoryview]

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


def _table(
    ipc: bytes, counts: Dict[str, int], notes: List[str], failed: int, strict: bool
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
    keys: Optional[Sequence[PathLike]] = None,
    name: str = "<bytes>",
    strict: bool = True,
) -> pa.Table:
    """Remote-execution hits in ``source``: one row per call and matcher (``rpcsift detect``).

    ``indicators`` is a built-in set (``improved``, ``bzar-2020``, ``bzar-2019``, ``all``;
    default ``improved`` unless ``sigma`` is given); ``sigma`` is a Sigma rule file or
    directory, or a list of them (rules rejected are reported as warnings). Other
    arguments as in :func:`calls`.
    """
    paths, data = _split(source)
    if sigma is not None and isinstance(sigma, (str, os.PathLike)):
        sigma = [sigma]
    rules = None if sigma is None else [os.fspath(p) for p in sigma]
    answer = _native.detect(
        paths,
        data,
        name=name,
        indicators=indicators,
        sigma=rules,
        merge=merge,
        keys=_key_files(keys),
    )
    return _table(*answer, strict=strict)


def calls_schema(zeek_compat: bool = False) -> pa.Schema:
    """The schema of :func:`calls` tables (and of ``rpcsift calls --format parquet``)."""
    return pa.ipc.open_stream(_native.calls_schema(zeek_compat)).schema


def hits_schema() -> pa.Schema:
    """The schema of :func:`detect` tables (and of ``rpcsift detect --format parquet``)."""
    return pa.ipc.open_stream(_native.hits_schema()).schema


def summary(table: pa.Table) -> Dict[str, Any]:
    """The counters of the run that made ``table`` (files, packets, connections, calls,
    and what could not be decoded and why), labelled as the command line's summary."""
    meta = table.schema.metadata or {}
    raw = meta.get(b"rpcsift_summary")
    return {} if raw is None else json.loads(raw)
