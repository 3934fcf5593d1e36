"""Run one Impacket client of the AD lab and record every DCE-RPC request it sends.

Usage: labrun.py ROWS.jsonl SEED -- (SCRIPT.py ARGS... | clients:FUNCTION ARGS...)

Installs the client-side shims (shim.py), seeds Python's random number generator
(NTLM client challenges, NDR referent ids, secretsdump's file names), hooks
`DCERPC.call` (the one path every Impacket request takes, whatever built it) and
then runs either one of Impacket's example scripts, unchanged, as `__main__`, or a
function of clients.py. Each request appends one JSON line to ROWS.jsonl before it
goes on the wire: transport, SMB dialect and session authentication, pipe or
port, interface UUID of the presentation context, opnum, DCE-RPC authentication
type and level, encryption, and the scenario's key argument.

Environment: LAB_SMB_DIALECT=2.1 makes every SMBConnection that does not choose
a dialect negotiate SMB 2.1 only (Impacket encrypts every SMB 3 session when
Samba offers a cipher, so 2.1 is how a clear SMB capture is made).
"""

import json
import os
import random
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shim  # noqa: E402

shim.install()

from impacket import smbconnection  # noqa: E402
from impacket.dcerpc.v5 import rpcrt, transport  # noqa: E402
from impacket.dcerpc.v5.dtypes import NULL  # noqa: E402
from impacket.smb3structs import SMB2_DIALECT_21  # noqa: E402
from impacket.uuid import bin_to_uuidtup  # noqa: E402

DIALECTS = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}
CIPHERS = {1: "aes-128-ccm", 2: "aes-128-gcm", 3: "aes-256-ccm", 4: "aes-256-gcm"}
SMB2_SESSION_FLAG_ENCRYPT_DATA = 0x0004

# Zeek's auth type and level names (RPC_C_AUTHN_*), by value.
AUTH_TYPES = {9: "RPC_C_AUTHN_GSS_NEGOTIATE", 10: "RPC_C_AUTHN_WINNT", 16: "RPC_C_AUTHN_GSS_KERBEROS",
              68: "RPC_C_AUTHN_NETLOGON"}
AUTH_LEVELS = {2: "RPC_C_AUTHN_LEVEL_CONNECT", 4: "RPC_C_AUTHN_LEVEL_PKT",
               5: "RPC_C_AUTHN_LEVEL_PKT_INTEGRITY", 6: "RPC_C_AUTHN_LEVEL_PKT_PRIVACY"}


def _text(value):
    if value is None or value is NULL:
        return "-"
    if isinstance(value, bytes):
        value = value.decode("utf-16le")
    value = str(value).rstrip("\x00")
    if "\t" in value or "\n" in value:
        raise ValueError("truth values must not hold tabs or newlines: %r" % value)
    return value or "-"


def _octets(value):
    """Hex of a fixed byte array field (NETLOGON_CREDENTIAL...)."""
    if hasattr(value, "fields"):
        value = value["data"]
    if isinstance(value, str):
        value = value.encode("latin-1")
    return bytes(value).hex()


def _dsname(dsname):
    """A DRSUAPI DSNAME as the truth writes it: its SID, else its DN, else its GUID."""
    import struct

    from impacket.uuid import bin_to_string

    if dsname["SidLen"]:
        # MS-DTYP 2.4.2.2 SID: revision, count, 48-bit authority (big endian),
        # then count 32-bit sub-authorities (little endian).
        raw = dsname["Sid"]
        raw = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)
        count = raw[1]
        subs = struct.unpack("<%dI" % count, raw[8 : 8 + 4 * count])
        return "S-%d-%d" % (raw[0], int.from_bytes(raw[2:8], "big")) + "".join("-%d" % s for s in subs)
    name = _text(dsname["StringName"])
    if name != "-":
        return name
    return "{%s}" % bin_to_string(dsname["Guid"]).lower()


def key_argument(body):
    """(parameter name, value) of the argument that matters for the scenario's
    attack, read from the request Impacket is about to send, or ('-', '-')."""
    if not hasattr(body, "fields"):
        return "-", "-"
    name = type(body).__name__
    f = body.fields
    try:
        if name == "DRSGetNCChanges":
            return "pNC", _dsname(body["pmsgIn"]["V%d" % body["dwInVersion"]]["pNC"])
        if name == "DRSCrackNames":
            names = body["pmsgIn"]["V1"]["rpNames"]
            return "rpNames", ",".join(_text(n if isinstance(n, str) else n["Data"]) for n in names)
        if name == "RpcRemoteFindFirstPrinterChangeNotificationEx":
            return "pszLocalMachine", _text(body["pszLocalMachine"])
        if name == "EfsRpcOpenFileRaw":
            return "FileName", _text(body["FileName"])
        if name == "NetrDfsAddStdRoot":
            return "ServerName", _text(body["ServerName"])
        if name == "NetrServerAuthenticate3":
            return "ClientCredential", _octets(body["ClientCredential"])
        if name == "NetrServerReqChallenge":
            return "ClientChallenge", _octets(body["ClientChallenge"])
        if name == "BaseRegSaveKey":
            return "lpFile", _text(body["lpFile"])
        if name == "BaseRegOpenKey":
            return "lpSubKey", _text(body["lpSubKey"])
        if name in ("RCreateServiceW",):
            return "lpBinaryPathName", _text(body["lpBinaryPathName"])
        if name in ("ROpenServiceW",):
            return "lpServiceName", _text(body["lpServiceName"])
        if name == "LsarLookupSids":
            sids = body["SidEnumBuffer"]["SidInfo"]
            return "SidEnumBuffer", "%d SIDs" % len(sids)
    except (KeyError, TypeError, AttributeError) as e:
        raise RuntimeError("key argument of %s: %r" % (name, e))
    if "lpServiceName" in f:
        return "lpServiceName", _text(body["lpServiceName"])
    return "-", "-"


class Recorder:
    def __init__(self, path):
        self.path = path
        self.count = 0

    def row(self, dce, opnum, body):
        t = dce._transport
        if isinstance(t, transport.SMBTransport):
            conn = t.get_smb_connection()
            smb3 = conn.getSMBServer()
            dialect = conn.getDialect()
            if dialect not in DIALECTS:
                raise RuntimeError("lab clients speak SMB2/3 only, got dialect %r" % dialect)
            pipe = t._SMBTransport__filename
            pipe = pipe.lstrip("\\")
            if pipe.lower().startswith("pipe\\"):
                pipe = pipe[5:]
            where = pipe.lower()
            # rpcsift's naming: an SMB2 connection that negotiated 3.x is "smb3".
            transport_name = "smb3" if dialect >= 0x0300 else "smb2"
            smb_dialect = DIALECTS[dialect]
            smb_auth = "kerberos" if smb3.getKerberos() else "ntlm"
            session = smb3._Session
            encrypted = bool(session["SessionFlags"] & SMB2_SESSION_FLAG_ENCRYPT_DATA)
            if not encrypted:
                tree = session["TreeConnectTable"].get(t._SMBTransport__tid)
                encrypted = bool(tree and tree.get("EncryptData"))
            smb_enc = ("smb3-" + CIPHERS[smb3._Connection["CipherId"] or 1]) if encrypted else None
        else:
            transport_name = "tcp"
            where = str(t.get_dport())
            smb_dialect = "-"
            smb_auth = "-"
            smb_enc = None
        level = dce._DCERPC_v5__auth_level
        if level == rpcrt.RPC_C_AUTHN_LEVEL_NONE:
            auth_type, auth_level = "-", "-"
        else:
            auth_type = AUTH_TYPES[dce._DCERPC_v5__auth_type]
            auth_level = AUTH_LEVELS[level]
        enc = [e for e in (smb_enc, "dce-privacy" if level == rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY else None) if e]
        uuid = dce.lab_contexts[dce._ctx]
        key_arg, key_value = key_argument(body)
        self.count += 1
        return {
            "transport": transport_name,
            "smb_dialect": smb_dialect,
            "named_pipe_or_port": where,
            "uuid": uuid,
            "opnum": opnum,
            "smb_auth": smb_auth,
            "auth_type": auth_type,
            "auth_level": auth_level,
            "encryption": "+".join(enc) or "none",
            "key_arg": key_arg,
            "key_value": key_value,
        }

    def install(self):
        recorder = self
        original_call = rpcrt.DCERPC.call
        original_bind = rpcrt.DCERPC_v5.bind

        def call(dce, function, body, uuid=None):
            shim.add_schema_info(body)
            row = recorder.row(dce, function, body)
            with open(recorder.path, "a") as f:
                f.write(json.dumps(row) + "\n")
            return original_call(dce, function, body, uuid)

        def bind(dce, iface_uuid, alter=0, bogus_binds=0, **kw):
            # Presentation contexts of this binding: the interface each context id names.
            if not hasattr(dce, "lab_contexts"):
                dce.lab_contexts = {}
            ctx = dce._ctx
            first = ctx
            for _ in range(bogus_binds):
                ctx += 1
            dce.lab_contexts[ctx] = bin_to_uuidtup(iface_uuid)[0].lower()
            dce.lab_first_ctx = first
            return original_bind(dce, iface_uuid, alter=alter, bogus_binds=bogus_binds, **kw)

        rpcrt.DCERPC.call = call
        rpcrt.DCERPC_v5.bind = bind


def _prefer_smb21():
    original = smbconnection.SMBConnection.__init__

    def init(self, remoteName="", remoteHost="", myName=None, sess_port=445, timeout=60,
             preferredDialect=None, existingConnection=None, manualNegotiate=False):
        if preferredDialect is None and existingConnection is None:
            preferredDialect = SMB2_DIALECT_21
        original(self, remoteName, remoteHost, myName, sess_port, timeout, preferredDialect,
                 existingConnection, manualNegotiate)

    smbconnection.SMBConnection.__init__ = init


def main():
    rows, seed, sep = sys.argv[1], sys.argv[2], sys.argv[3]
    if sep != "--":
        raise SystemExit(__doc__)
    target, args = sys.argv[4], sys.argv[5:]
    random.seed(seed)
    if os.environ.get("LAB_SMB_DIALECT") == "2.1":
        _prefer_smb21()
    Recorder(rows).install()
    if target.startswith("clients:"):
        import clients

        getattr(clients, target.split(":", 1)[1])(*args)
    else:
        sys.argv = [target] + args
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
