"""Type stubs of the native module (see ``rpcsift`` for the public API)."""

from typing import Dict, List, Optional, Tuple

SCHEMA_VERSION: str
VERSION: str

class RpcsiftError(Exception): ...
class RpcsiftWarning(UserWarning): ...

def calls(
    paths: Optional[List[str]] = None,
    data: Optional[bytes] = None,
    *,
    name: str = "<bytes>",
    zeek_compat: bool = False,
    zeek_ignore: bool = False,
    verify_checksums: bool = False,
    merge: bool = False,
    keys: Optional[List[str]] = None,
) -> Tuple[bytes, Dict[str, int], List[str], int, List[str]]: ...
def detect(
    paths: Optional[List[str]] = None,
    data: Optional[bytes] = None,
    *,
    name: str = "<bytes>",
    indicators: Optional[str] = None,
    sigma: Optional[List[str]] = None,
    merge: bool = False,
    min_level: Optional[str] = None,
    dcs: Optional[List[str]] = None,
    dc_evidence: Optional[List[str]] = None,
    keys: Optional[List[str]] = None,
) -> Tuple[bytes, Dict[str, int], List[str], int, List[str]]: ...
def packets(
    paths: Optional[List[str]] = None,
    data: Optional[bytes] = None,
    *,
    name: str = "<bytes>",
    partitions: int = 1,
    merge: bool = False,
    rank: int = 0,
) -> Tuple[bytes, Dict[str, int], List[str], int, List[str]]: ...
def decode(
    ipc: bytes,
    *,
    label: str,
    zeek_compat: bool = False,
    zeek_ignore: bool = False,
    verify_checksums: bool = False,
    keys: Optional[List[str]] = None,
) -> Tuple[bytes, Dict[str, int], List[str], int, List[str]]: ...
def detect_packets(
    ipc: bytes,
    *,
    label: str,
    indicators: Optional[str] = None,
    sigma: Optional[List[str]] = None,
    min_level: Optional[str] = None,
    dcs: Optional[List[str]] = None,
    dc_evidence: Optional[List[str]] = None,
    keys: Optional[List[str]] = None,
) -> Tuple[bytes, Dict[str, int], List[str], int, List[str]]: ...
def calls_schema(zeek_compat: bool = False) -> bytes: ...
def packets_schema() -> bytes: ...
def hits_schema() -> bytes: ...
def is_capture_name(name: str) -> bool: ...
