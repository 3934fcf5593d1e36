"""Type stubs of the rpcsift package."""

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import pyarrow as pa

__version__: str
SCHEMA_VERSION: str

PathLike = Union[str, os.PathLike[str]]
Source = Union[PathLike, Sequence[PathLike], bytes, bytearray, memoryview]
Packets = Union[pa.Table, pa.RecordBatch, pa.RecordBatchReader, Iterable[pa.RecordBatch]]

class RpcsiftError(Exception): ...
class RpcsiftWarning(UserWarning): ...

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
) -> pa.Table: ...
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
) -> pa.Table: ...
def packets(
    source: Source,
    partitions: int = 1,
    *,
    merge: bool = False,
    rank: int = 0,
    name: str = "<bytes>",
    strict: bool = True,
) -> pa.Table: ...
def decode(
    packets: Packets,
    *,
    zeek_compat: bool = False,
    zeek_ignore: bool = False,
    verify_checksums: bool = False,
    keys: Optional[Sequence[PathLike]] = None,
    label: Optional[str] = None,
) -> pa.Table: ...
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
) -> pa.Table: ...
def calls_schema(zeek_compat: bool = False) -> pa.Schema: ...
def hits_schema() -> pa.Schema: ...
def packets_schema() -> pa.Schema: ...
def summary(table: pa.Table) -> Dict[str, Any]: ...
def dc_evidence(table: pa.Table) -> List[str]: ...
def is_capture_name(name: str) -> bool: ...
