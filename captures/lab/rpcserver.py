"""DCE-RPC servers for the attack lab, built on Impacket's DCERPCServer.

Impacket's own DCERPCServer serves one client at a time, one interface per
association, no authentication and no request reassembly. The lab needs more, so
`LabListener` accepts connections and hands each to a `LabConnection` (also a
DCERPCServer, built with `client_socket=`), which:

* accepts a bind for any interface registered on the listener (several per port),
  keeping a presentation-context -> interface map;
* reassembles fragmented requests and fragments its responses when the client's
  max_recv_frag (or the listener's `max_frag`) asks for it;
* speaks NTLMSSP in the bind / bind_ack / auth3 exchange and signs or seals its
  responses (packet integrity / packet privacy), so Impacket clients using those
  levels go on calling;
* answers each opnum with a well-formed NDR response built from Impacket's
  response structures (see `responders.py`).
"""

import hmac
import logging
import socket
import struct
import threading

from Cryptodome.Cipher import ARC4
from impacket import ntlm
from impacket.dcerpc.v5 import rpcrt
from impacket.dcerpc.v5.rpcrt import (
    DCERPCServer,
    MSRPCHeader,
    MSRPCBind,
    MSRPCBindAck,
    CtxItem,
    CtxItemResult,
    SEC_TRAILER,
)
from impacket.uuid import bin_to_uuidtup

LOG = logging.getLogger("lab.rpc")

NDR32 = ("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0")
NDR32_BIN = rpcrt.uuidtup_to_bin(NDR32)

# Credentials the lab's clients use; the servers derive NTLM session keys from them.
LAB_USER = "labadmin"
LAB_PASSWORD = "Lab-Passw0rd!"
LAB_DOMAIN = "LAB"
SERVER_CHALLENGE = b"\x11\x22\x33\x44\x55\x66\x77\x88"


class Interface:
    """One interface offered by a listener: UUID, version, bind_ack secondary
    address and an opnum -> responder map. A responder takes the request stub and
    returns the response stub (bytes) or an int fault status."""

    def __init__(self, uuid, version, secondary, responders):
        self.uuid = uuid.lower()
        self.syntax = rpcrt.uuidtup_to_bin((uuid, version))
        self.secondary = secondary
        self.responders = responders


class NtlmServerContext:
    """Server side of NTLMSSP for connection-oriented DCE-RPC (NTLMv2, ESS)."""

    def __init__(self):
        self.flags = 0
        self.session_key = None
        self.seq = 0
        self.sign_key = None
        self.seal_key = None
        self.seal_handle = None

    def challenge(self, negotiate_bytes):
        nego = ntlm.NTLMAuthNegotiate()
        nego.fromString(negotiate_bytes)
        flags = nego["flags"] & (
            ntlm.NTLMSSP_NEGOTIATE_UNICODE
            | ntlm.NTLMSSP_REQUEST_TARGET
            | ntlm.NTLMSSP_NEGOTIATE_SIGN
            | ntlm.NTLMSSP_NEGOTIATE_SEAL
            | ntlm.NTLMSSP_NEGOTIATE_NTLM
            | ntlm.NTLMSSP_NEGOTIATE_ALWAYS_SIGN
            | ntlm.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
            | ntlm.NTLMSSP_NEGOTIATE_TARGET_INFO
            | ntlm.NTLMSSP_NEGOTIATE_VERSION
            | ntlm.NTLMSSP_NEGOTIATE_128
            | ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH
            | ntlm.NTLMSSP_NEGOTIATE_56
        )
        flags |= ntlm.NTLMSSP_TARGET_TYPE_DOMAIN | ntlm.NTLMSSP_NEGOTIATE_TARGET_INFO
        av = ntlm.AV_PAIRS()
        av[ntlm.NTLMSSP_AV_HOSTNAME] = "LABSRV".encode("utf-16le")
        av[ntlm.NTLMSSP_AV_DOMAINNAME] = LAB_DOMAIN.encode("utf-16le")
        av[ntlm.NTLMSSP_AV_DNS_HOSTNAME] = "labsrv.lab.test".encode("utf-16le")
        av[ntlm.NTLMSSP_AV_DNS_DOMAINNAME] = "lab.test".encode("utf-16le")
        # Fixed timestamp (2024-01-01): keeps the exchange reproducible.
        av[ntlm.NTLMSSP_AV_TIME] = struct.pack("<q", 133485408000000000)
        domain = LAB_DOMAIN.encode("utf-16le")
        msg = ntlm.NTLMAuthChallenge()
        msg["flags"] = flags
        msg["domain_len"] = len(domain)
        msg["domain_max_len"] = len(domain)
        msg["domain_offset"] = 40 + 16
        msg["challenge"] = SERVER_CHALLENGE
        msg["domain_name"] = domain
        msg["TargetInfoFields_len"] = len(av)
        msg["TargetInfoFields_max_len"] = len(av)
        msg["TargetInfoFields"] = av
        msg["TargetInfoFields_offset"] = 40 + 16 + len(domain)
        msg["Version"] = b"\x0a\x00\x63\x45\x00\x00\x00\x0f"
        msg["VersionLen"] = 8
        self.flags = flags
        return msg.getData()

    def authenticate(self, auth_bytes):
        msg = ntlm.NTLMAuthChallengeResponse()
        msg.fromString(auth_bytes)
        self.flags = msg["flags"]
        user = msg["user_name"].decode("utf-16le")
        domain = msg["domain_name"].decode("utf-16le")
        nt_response = msg["ntlm"]
        key_nt = ntlm.NTOWFv2(user, LAB_PASSWORD, domain)
        nt_proof = nt_response[:16]
        base_key = hmac.new(key_nt, nt_proof, "md5").digest()
        exchange_key = base_key  # NTLMv2: KXKEY is the session base key
        if self.flags & ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH and msg["session_key"]:
            self.session_key = ARC4.new(exchange_key).decrypt(msg["session_key"])
        else:
            self.session_key = exchange_key
        self.sign_key = ntlm.SIGNKEY(self.flags, self.session_key, b"Server")
        self.seal_key = ntlm.SEALKEY(self.flags, self.session_key, b"Server")
        self.seal_handle = ARC4.new(self.seal_key).encrypt
        LOG.info("NTLM session set up for %s\\%s", domain, user)


class LabConnection(DCERPCServer):
    """One accepted connection (TCP client, or the SMB server's pipe relay)."""

    def __init__(self, sock, listener):
        DCERPCServer.__init__(self, client_socket=sock)
        self.listener = listener
        self.contexts = {}  # ctx_id -> Interface
        self.auth = None  # NtlmServerContext once a bind asked for one
        self.auth_level = rpcrt.RPC_C_AUTHN_LEVEL_NONE
        self.auth_ctx_id = 0
        self.max_xmit = 4280
        self.pending = {}  # call_id -> (opnum, ctx_id, stub so far)

    # -- framing -------------------------------------------------------------
    def read_pdu(self):
        head = b""
        while len(head) < 16:
            chunk = self._clientSock.recv(16 - len(head))
            if not chunk:
                return None
            head += chunk
        frag_len = struct.unpack("<H", head[8:10])[0]
        data = head
        while len(data) < frag_len:
            chunk = self._clientSock.recv(frag_len - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def serve(self):
        try:
            while True:
                pdu = self.read_pdu()
                if pdu is None:
                    break
                self.handle(pdu)
        except OSError as exc:
            LOG.debug("connection ended: %r", exc)
        except Exception:  # a lab bug: log it loudly, drop the connection
            LOG.exception("connection failed")
        finally:
            self._clientSock.close()

    def handle(self, pdu):
        header = MSRPCHeader(pdu)
        ptype = header["type"]
        if ptype in (rpcrt.MSRPC_BIND, rpcrt.MSRPC_ALTERCTX):
            self.on_bind(header)
        elif ptype == rpcrt.MSRPC_AUTH3:
            if self.auth is not None:
                self.auth.authenticate(header["auth_data"])
        elif ptype == rpcrt.MSRPC_REQUEST:
            self.on_request(pdu)
        else:
            LOG.info("ignoring PDU type %d", ptype)

    # -- bind ----------------------------------------------------------------
    def on_bind(self, header):
        bind = MSRPCBind(header["pduData"])
        ack = MSRPCBindAck()
        ack["type"] = (
            rpcrt.MSRPC_BINDACK
            if header["type"] == rpcrt.MSRPC_BIND
            else rpcrt.MSRPC_ALTERCTX_R
        )
        ack["flags"] = rpcrt.PFC_FIRST_FRAG | rpcrt.PFC_LAST_FRAG
        ack["call_id"] = header["call_id"]
        max_frag = self.listener.max_frag or 4280
        ack["max_tfrag"] = min(bind["max_rfrag"], max_frag)
        ack["max_rfrag"] = min(bind["max_tfrag"], max_frag)
        self.max_xmit = ack["max_tfrag"]
        ack["assoc_group"] = 0x53F0
        items = bind["ctx_items"]
        results = b""
        secondary = ""
        for _ in range(bind["ctx_num"]):
            item = CtxItem(items)
            items = items[len(item) :]
            res = CtxItemResult()
            res["Result"] = rpcrt.MSRPC_CONT_RESULT_PROV_REJECT
            res["Reason"] = 1  # abstract syntax not supported
            res["TransferSyntax"] = b"\x00" * 20
            iface = self.listener.interfaces.get(bytes(item["AbstractSyntax"]))
            if item["TransferSyntax"] != NDR32_BIN:
                res["Reason"] = 2  # transfer syntaxes not supported
            elif iface is not None:
                res["Result"] = rpcrt.MSRPC_CONT_RESULT_ACCEPT
                res["Reason"] = 0
                res["TransferSyntax"] = NDR32_BIN
                self.contexts[item["ContextID"]] = iface
                secondary = iface.secondary
            else:
                LOG.error(
                    "bind to unknown interface %s", bin_to_uuidtup(item["AbstractSyntax"])
                )
            results += res.getData()
        # Impacket's structure always writes the address NUL-terminated, so an
        # alter_context_resp carries it too (length and bytes agree).
        ack["SecondaryAddrLen"] = len(secondary) + 1
        ack["SecondaryAddr"] = secondary
        # The ack's fixed part is 26 bytes; pad the secondary address to 4.
        ack["Pad"] = b"A" * ((4 - ((ack["SecondaryAddrLen"] + 26) % 4)) % 4)
        ack["ctx_num"] = bind["ctx_num"]
        ack["ctx_items"] = results
        if header["auth_len"]:
            trailer = SEC_TRAILER(header["sec_trailer"])
            if trailer["auth_type"] != rpcrt.RPC_C_AUTHN_WINNT:
                raise ValueError("only NTLMSSP authentication is served")
            self.auth = NtlmServerContext()
            self.auth_level = trailer["auth_level"]
            self.auth_ctx_id = trailer["auth_ctx_id"]
            out = SEC_TRAILER()
            out["auth_type"] = rpcrt.RPC_C_AUTHN_WINNT
            out["auth_level"] = self.auth_level
            out["auth_ctx_id"] = self.auth_ctx_id
            ack["sec_trailer"] = out
            ack["auth_data"] = self.auth.challenge(header["auth_data"])
        ack["auth_len"] = len(ack["auth_data"])
        ack["frag_len"] = 0
        ack["frag_len"] = len(ack.getData())
        self._clientSock.sendall(ack.getData())

    # -- requests ------------------------------------------------------------
    def on_request(self, pdu):
        flags = pdu[3]
        call_id = struct.unpack("<L", pdu[12:16])[0]
        auth_len = struct.unpack("<H", pdu[10:12])[0]
        frag_len = struct.unpack("<H", pdu[8:10])[0]
        ctx_id, opnum = struct.unpack("<HH", pdu[20:24])
        body_start = 24 + (16 if flags & rpcrt.PFC_OBJECT_UUID else 0)
        body_end = frag_len
        if auth_len:
            body_end = frag_len - auth_len - 8
            pad = pdu[body_end + 2]
            body_end -= pad
        stub = pdu[body_start:body_end]
        if flags & rpcrt.PFC_FIRST_FRAG:
            self.pending[call_id] = (opnum, ctx_id, b"")
        prev = self.pending.get(call_id, (opnum, ctx_id, b""))
        self.pending[call_id] = (opnum, ctx_id, prev[2] + stub)
        if not flags & rpcrt.PFC_LAST_FRAG:
            return
        opnum, ctx_id, stub = self.pending.pop(call_id)
        iface = self.contexts.get(ctx_id)
        if iface is None:
            self.send_fault(call_id, ctx_id, 0x1C010003)  # nca_unk_if
            return
        responder = iface.responders.get(opnum)
        if responder is None:
            LOG.error("no responder for %s opnum %d", iface.uuid, opnum)
            self.send_fault(call_id, ctx_id, 0x1C010002)  # nca_op_rng_error
            return
        encrypted = self.auth_level == rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY
        answer = responder(None if encrypted else stub)
        if isinstance(answer, int):
            self.send_fault(call_id, ctx_id, answer)
        else:
            self.send_response(call_id, ctx_id, answer)

    def send_fault(self, call_id, ctx_id, status):
        pdu = struct.pack("<BBBBLHHL", 5, 0, rpcrt.MSRPC_FAULT, 3, 0x10, 32, 0, call_id)
        pdu += struct.pack("<LHBBLL", 0, ctx_id, 0, 0, status, 0)
        self._clientSock.sendall(pdu)

    def send_response(self, call_id, ctx_id, stub):
        auth = self.auth is not None and self.auth_level >= rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY
        # Room for header (24) and, with auth, trailer (8) + signature (16) + pad (<=3).
        room = self.max_xmit - 24 - (8 + 16 + 3 if auth else 0)
        room -= room % 8
        pieces = [stub[i : i + room] for i in range(0, len(stub), room)] or [b""]
        for i, piece in enumerate(pieces):
            flags = 0
            if i == 0:
                flags |= rpcrt.PFC_FIRST_FRAG
            if i == len(pieces) - 1:
                flags |= rpcrt.PFC_LAST_FRAG
            pkt = rpcrt.MSRPCRespHeader()
            pkt["type"] = rpcrt.MSRPC_RESPONSE
            pkt["flags"] = flags
            pkt["call_id"] = call_id
            pkt["ctx_id"] = ctx_id
            pkt["alloc_hint"] = len(stub) - i * room
            pkt["pduData"] = piece
            if auth:
                self.protect(pkt)
            self._clientSock.sendall(pkt.get_packet())

    def protect(self, pkt):
        trailer = SEC_TRAILER()
        trailer["auth_type"] = rpcrt.RPC_C_AUTHN_WINNT
        trailer["auth_level"] = self.auth_level
        trailer["auth_ctx_id"] = self.auth_ctx_id
        pad = (4 - (len(pkt.get_packet()) % 4)) % 4
        if pad:
            pkt["pduData"] += b"\xbb" * pad
        trailer["auth_pad_len"] = pad
        pkt["sec_trailer"] = trailer.getData()
        pkt["auth_data"] = b" " * 16
        a = self.auth
        plain = pkt["pduData"]
        if self.auth_level == rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY:
            sealed, sig = ntlm.SEAL(
                a.flags, a.sign_key, a.seal_key, pkt.get_packet()[:-16], plain, a.seq, a.seal_handle
            )
            pkt["pduData"] = sealed
        else:
            sig = ntlm.SIGN(a.flags, a.sign_key, pkt.get_packet()[:-16], a.seq, a.seal_handle)
        a.seq += 1
        pkt["auth_data"] = sig.getData()


class LabListener(DCERPCServer):
    """A TCP listener on 127.0.0.1 serving the given interfaces, one thread per
    connection."""

    def __init__(self, port, interfaces, max_frag=None):
        DCERPCServer.__init__(self)
        self.daemon = True
        self._sock.close()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.interfaces = {i.syntax: i for i in interfaces}
        self.max_frag = max_frag

    def run(self):
        self._sock.listen(16)
        while True:
            sock, _ = self._sock.accept()
            conn = LabConnection(sock, self)
            threading.Thread(target=conn.serve, daemon=True).start()
