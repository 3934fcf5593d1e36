"""Client-side shims that let Impacket 0.13.1 talk to a Samba 4.17 AD DC.

Impacket and Samba disagree in a few places; each shim below changes only what
the client puts on the wire (or how it reads an answer), never the server:

1. TGS-REQ: Impacket's authenticator in the PA-TGS-REQ has no checksum of the
   KDC-REQ-BODY. RFC 4120 5.5.1 lets the KDC require it and Samba's KDC does
   (KRB_AP_ERR_INAPP_CKSUM). The shim decrypts the authenticator Impacket built
   (key usage 7), adds the body checksum (key usage 6, the checksum type that goes
   with the TGT session key's enctype) and encrypts it again.
2. AS-REP without `starttime`: the field is optional (RFC 4120 5.4.2) and Samba
   leaves it out; Impacket's ccache writer reads it unconditionally. The shim
   makes the ccache writer fall back to `authtime`.
3. Kerberos DCE-RPC bind, third leg: Impacket builds the alter_context from the
   bind's MSRPCBind object, whose getData() appends the context items to the
   bytes it already holds, so the alter_context carries the item twice while
   saying n_context_elem = 1; Samba rejects the trailing bytes
   (nca_s_proto_error). The shim makes getData() build the list afresh.
4. DRSGetNCChanges (secretsdump): the request's prefix table lacks the trailing
   schemaInfo entry (id prefix 0, 21-byte blob starting with 0xFF) that Samba
   requires before it decodes a partial attribute set. The shim appends one.
5. BaseRegQueryInfoKey (secretsdump's boot key): Impacket sends the class-name
   buffer as an empty conformant varying string (actual count 0); Samba's NDR
   wants a terminated string and faults (rpc_x_bad_stub_data). The shim sends
   one NUL character. Samba keeps no registry class names (Windows keeps the LSA
   boot key scrambled in the classes of Lsa\JD, Skew1, GBG and Data), so when the
   answer has none the shim hands secretsdump eight zero hex digits, and
   secretsdump goes on to its hive saves (BaseRegSaveKey) as it does on Windows.
"""

import datetime
import threading

from pyasn1.codec.der import decoder, encoder
from pyasn1.type.univ import noValue

from impacket.krb5 import constants, crypto, kerberosv5
from impacket.krb5.asn1 import AP_REQ, TGS_REQ, Authenticator, EncASRepPart, EncTGSRepPart

_state = threading.local()

# RFC 3961/3962/4757: the keyed checksum that goes with each session-key enctype.
_CKSUM_FOR_ETYPE = {
    int(constants.EncryptionTypes.aes256_cts_hmac_sha1_96.value): 16,  # hmac-sha1-96-aes256
    int(constants.EncryptionTypes.aes128_cts_hmac_sha1_96.value): 15,  # hmac-sha1-96-aes128
    int(constants.EncryptionTypes.rc4_hmac.value): -138,  # hmac-md5 (RFC 4757)
}


def _explicit_tag_content(der):
    """The content of a DER element (its tag and length stripped)."""
    first = der[1]
    if first < 0x80:
        return der[2:]
    return der[2 + (first & 0x7F) :]


def _add_body_checksum(message):
    """message: a DER TGS-REQ as Impacket built it. Returns it with the
    authenticator's cksum set to the checksum of the req-body."""
    key = getattr(_state, "tgt_session_key", None)
    if key is None:
        return message
    req = decoder.decode(message, asn1Spec=TGS_REQ())[0]
    # The checksum covers the KDC-REQ-BODY SEQUENCE, without the [4] context tag
    # that wraps it inside the TGS-REQ.
    body = _explicit_tag_content(encoder.encode(req["req-body"]))
    ap_req = decoder.decode(req["padata"][0]["padata-value"], asn1Spec=AP_REQ())[0]
    enc = ap_req["authenticator"]
    plain = crypto.decrypt(key, 7, enc["cipher"].asOctets())
    auth = decoder.decode(plain, asn1Spec=Authenticator())[0]
    if auth["cksum"].hasValue():
        return message
    cksumtype = _CKSUM_FOR_ETYPE[key.enctype]
    auth["cksum"] = noValue
    auth["cksum"]["cksumtype"] = cksumtype
    auth["cksum"]["checksum"] = crypto.make_checksum(cksumtype, key, 6, body)
    profile = crypto._get_enctype_profile(key.enctype)
    enc["cipher"] = profile.encrypt(key, 7, encoder.encode(auth), None)
    req["padata"][0]["padata-value"] = encoder.encode(ap_req)
    return encoder.encode(req)


def _install_tgs_checksum():
    original_tgs = kerberosv5.getKerberosTGS
    original_send = kerberosv5.sendReceive

    def get_tgs(serverName, domain, kdcHost, tgt, cipher, sessionKey, renew=False):
        previous = getattr(_state, "tgt_session_key", None)
        _state.tgt_session_key = sessionKey
        try:
            return original_tgs(serverName, domain, kdcHost, tgt, cipher, sessionKey, renew)
        finally:
            _state.tgt_session_key = previous

    def send_receive(data, host, kdcHost, port=88):
        if data[:1] == b"\x6c":  # [APPLICATION 12] TGS-REQ
            data = _add_body_checksum(data)
        return original_send(data, host, kdcHost, port)

    kerberosv5.getKerberosTGS = get_tgs
    kerberosv5.sendReceive = send_receive


def _install_starttime_fallback():
    from impacket.krb5 import ccache

    def wrap(method, spec):
        def patched(self, reply, oldSessionKey, sessionKey):
            real_decode = ccache.decoder.decode

            def decode(data, asn1Spec=None, **kw):
                out = real_decode(data, asn1Spec=asn1Spec, **kw)
                if isinstance(asn1Spec, spec) and not out[0]["starttime"].hasValue():
                    out[0]["starttime"] = str(out[0]["authtime"])
                return out

            ccache.decoder.decode = decode
            try:
                return method(self, reply, oldSessionKey, sessionKey)
            finally:
                ccache.decoder.decode = real_decode

        return patched

    ccache.CCache.fromTGT = wrap(ccache.CCache.fromTGT, EncASRepPart)
    ccache.CCache.fromTGS = wrap(ccache.CCache.fromTGS, EncTGSRepPart)


SCHEMA_INFO_PREFIX = bytes([0xFF]) + (1).to_bytes(4, "big") + bytes(16)


def add_schema_info(request):
    """Append the schemaInfo prefix entry to a DRSGetNCChanges V8 request."""
    from impacket.dcerpc.v5 import drsuapi

    if not isinstance(request, drsuapi.DRSGetNCChanges) or request["dwInVersion"] != 8:
        return
    table = request["pmsgIn"]["V8"]["PrefixTableDest"]
    entries = list(table["pPrefixEntry"]) if table["PrefixCount"] else []
    if entries and entries[-1]["ndx"] == 0 and bytes(entries[-1]["prefix"]["elements"])[:1] == b"\xff":
        return
    entry = drsuapi.PrefixTableEntry()
    entry["ndx"] = 0
    entry["prefix"]["length"] = len(SCHEMA_INFO_PREFIX)
    entry["prefix"]["elements"] = list(SCHEMA_INFO_PREFIX)
    entries.append(entry)
    table["PrefixCount"] = len(entries)
    table["pPrefixEntry"] = entries


def _install_bind_items_once():
    from impacket.dcerpc.v5 import rpcrt
    from impacket.structure import Structure

    original = rpcrt.MSRPCBind.getData

    def get_data(self):
        items = self.getCtxItems()
        if not items:
            return original(self)
        self["ctx_num"] = len(items)
        self["ctx_items"] = b"".join(item.getData() for item in items)
        return Structure.getData(self)

    rpcrt.MSRPCBind.getData = get_data


def _install_query_info_key():
    from impacket.dcerpc.v5 import rrp

    def query_info_key(dce, hKey):
        request = rrp.BaseRegQueryInfoKey()
        request["hKey"] = hKey
        request["lpClassIn"] = "\x00"
        request.fields["lpClassIn"].fields["MaximumLength"] = 1024
        request.fields["lpClassIn"].fields["Data"].fields["Data"].fields["MaximumCount"] = 512
        answer = dce.request(request)
        klass = answer["lpClassOut"]
        if not isinstance(klass, str) or not klass.rstrip("\x00"):
            answer["lpClassOut"] = "00000000\x00"
        return answer

    rrp.hBaseRegQueryInfoKey = query_info_key


def install():
    _install_bind_items_once()
    _install_query_info_key()
    _install_tgs_checksum()
    _install_starttime_fallback()
