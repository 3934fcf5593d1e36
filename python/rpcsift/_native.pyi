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
) -> Tuple[bytes, Dict[str, int], List[str], int]: ...
def detect(
    paths: Optional[List[str]] = None,
    data: Optional[bytes] = None,
    *,
    name: str = "<bytes>",
    indicators: Optional[str] = None,
    sigma: Optional[List[str]] = None,
    merge: bool = False,
    keys: Optional[List[str]] = None,
) -> Tuple[bytes, Dict[str, int], List[str], int]: ...
def calls_schema(zeek_compat: bool = False) -> bytes: ...
def hits_schema() -> bytes: ...
def is_capture_name(name: str) -> bool: ...
