"""Well-formed NDR responses for the calls the lab's clients make.

Each responder takes the request stub (None when it was sealed) and returns the
response stub, built with Impacket's response structures so that Impacket's client
helpers parse it and carry on. Handles and identifiers are fixed values, so reruns
put the same bytes on the wire.
"""

import socket
import struct

from impacket.dcerpc.v5 import atsvc, epm, scmr, srvs, tsch
from impacket.dcerpc.v5.dcom import wmi
from impacket.dcerpc.v5.dtypes import NULL
from impacket.uuid import string_to_bin

from rpcserver import Interface

SVCCTL_UUID = "367abb81-9844-35f1-ad32-98f038001003"
TSCH_UUID = "86d35949-83c9-4044-b424-db363231fd0c"
ATSVC_UUID = "1ff70682-0a51-30e8-076d-740be8cee98b"
SRVSVC_UUID = "4b324fc8-1670-01d3-1278-5a47bf6ee188"
EPM_UUID = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
IWBEMSERVICES_UUID = "9556dc99-828c-11cf-a37e-00aa003240c7"

# Port the endpoint mapper hands out for the plain-TCP interfaces.
DYNAMIC_PORT = 49670


def _handle(tag):
    return b"\x00\x00\x00\x00" + tag.ljust(16, b"\x00")[:16]


SCM_HANDLE = _handle(b"LAB-SCMANAGER")
SVC_HANDLE = _handle(b"LAB-SERVICE")


def _status(resp, state):
    st = resp["lpServiceStatus"]
    st["dwServiceType"] = scmr.SERVICE_WIN32_OWN_PROCESS
    st["dwCurrentState"] = state
    st["dwControlsAccepted"] = 0
    st["dwWin32ExitCode"] = 0
    st["dwServiceSpecificExitCode"] = 0
    st["dwCheckPoint"] = 0
    st["dwWaitHint"] = 0


def scm_close(_stub):
    r = scmr.RCloseServiceHandleResponse()
    r["hSCObject"] = b"\x00" * 20
    r["ErrorCode"] = 0
    return r.getData()


def scm_control(_stub):
    r = scmr.RControlServiceResponse()
    _status(r, scmr.SERVICE_STOPPED)
    r["ErrorCode"] = 0
    return r.getData()


def scm_error_only(cls):
    def answer(_stub):
        r = cls()
        r["ErrorCode"] = 0
        return r.getData()

    return answer


def scm_query_status(_stub):
    r = scmr.RQueryServiceStatusResponse()
    _status(r, scmr.SERVICE_RUNNING)
    r["ErrorCode"] = 0
    return r.getData()


def scm_change_config(_stub):
    r = scmr.RChangeServiceConfigWResponse()
    r["lpdwTagId"] = NULL
    r["ErrorCode"] = 0
    return r.getData()


def scm_create(_stub):
    r = scmr.RCreateServiceWResponse()
    r["lpdwTagId"] = NULL
    r["lpServiceHandle"] = SVC_HANDLE
    r["ErrorCode"] = 0
    return r.getData()


def scm_open_manager(_stub):
    r = scmr.ROpenSCManagerWResponse()
    r["lpScHandle"] = SCM_HANDLE
    r["ErrorCode"] = 0
    return r.getData()


def scm_open_service(_stub):
    r = scmr.ROpenServiceWResponse()
    r["lpServiceHandle"] = SVC_HANDLE
    r["ErrorCode"] = 0
    return r.getData()


SVCCTL = {
    0: scm_close,
    1: scm_control,
    2: scm_error_only(scmr.RDeleteServiceResponse),
    6: scm_query_status,
    11: scm_change_config,
    12: scm_create,
    15: scm_open_manager,
    16: scm_open_service,
    19: scm_error_only(scmr.RStartServiceWResponse),
}


def tsch_register(_stub):
    r = tsch.SchRpcRegisterTaskResponse()
    r["pActualPath"] = NULL
    r["pErrorInfo"] = NULL
    r["ErrorCode"] = 0
    return r.getData()


def tsch_run(_stub):
    r = tsch.SchRpcRunResponse()
    r["pGuid"] = string_to_bin("6c1bb0a4-3a8e-4bd4-9e3b-5a1ab0c0ffee")
    r["ErrorCode"] = 0
    return r.getData()


TSCH = {
    1: tsch_register,
    12: tsch_run,
    13: scm_error_only(tsch.SchRpcDeleteResponse),
}


def at_job_add(_stub):
    r = atsvc.NetrJobAddResponse()
    r["pJobId"] = 1
    r["ErrorCode"] = 0
    return r.getData()


ATSVC = {0: at_job_add}


def srvs_share_enum(_stub):
    r = srvs.NetrShareEnumResponse()
    r["InfoStruct"]["Level"] = 1
    r["InfoStruct"]["ShareInfo"]["tag"] = 1
    shares = [
        ("ADMIN$", srvs.STYPE_DISKTREE | srvs.STYPE_SPECIAL, "Remote Admin"),
        ("C$", srvs.STYPE_DISKTREE | srvs.STYPE_SPECIAL, "Default share"),
        ("IPC$", srvs.STYPE_IPC | srvs.STYPE_SPECIAL, "Remote IPC"),
        ("NETLOGON", srvs.STYPE_DISKTREE, "Logon server share"),
        ("SYSVOL", srvs.STYPE_DISKTREE, "Logon server share"),
        ("Users", srvs.STYPE_DISKTREE, ""),
    ]
    container = r["InfoStruct"]["ShareInfo"]["Level1"]
    container["EntriesRead"] = len(shares)
    for name, kind, remark in shares:
        item = srvs.SHARE_INFO_1()
        item["shi1_netname"] = name + "\x00"
        item["shi1_type"] = kind
        item["shi1_remark"] = remark + "\x00"
        container["Buffer"].append(item)
    r["TotalEntries"] = len(shares)
    r["ResumeHandle"] = NULL
    r["ErrorCode"] = 0
    return r.getData()


SRVSVC = {15: srvs_share_enum}


def epm_map(stub):
    """Answer ept_map with a tower for the requested interface on DYNAMIC_PORT."""
    iface = scmr.MSRPC_UUID_SCMR
    if stub is not None:
        req = epm.ept_map(stub)
        asked = epm.EPMTower(b"".join(req["map_tower"]["tower_octet_string"]))
        floor = asked["Floors"][0]
        iface = floor["InterfaceUUID"] + struct.pack(
            "<HH", floor["MajorVersion"], floor["MinorVersion"]
        )
    interface = epm.EPMRPCInterface()
    interface["InterfaceUUID"] = iface[:16]
    interface["MajorVersion"], interface["MinorVersion"] = struct.unpack("<HH", iface[16:20])
    data_rep = epm.EPMRPCDataRepresentation()
    data_rep["DataRepUuid"] = string_to_bin("8a885d04-1ceb-11c9-9fe8-08002b104860")
    data_rep["MajorVersion"] = 2
    data_rep["MinorVersion"] = 0
    prot = epm.EPMProtocolIdentifier()
    prot["ProtIdentifier"] = epm.FLOOR_RPCV5_IDENTIFIER
    port = epm.EPMPortAddr()
    port["IpPort"] = DYNAMIC_PORT
    host = epm.EPMHostAddr()
    host["Ip4addr"] = socket.inet_aton("127.0.0.1")
    tower = epm.EPMTower()
    tower["NumberOfFloors"] = 5
    tower["Floors"] = (
        interface.getData() + data_rep.getData() + prot.getData() + port.getData() + host.getData()
    )
    octets = tower.getData()
    r = epm.ept_mapResponse()
    r["entry_handle"]["context_handle_attributes"] = 0
    r["entry_handle"]["context_handle_uuid"] = b"\x00" * 16
    r["num_towers"] = 1
    entry = epm.twr_p_t()
    entry["tower_length"] = len(octets)
    entry["tower_octet_string"] = octets
    r["ITowers"].append(entry)
    r.fields["ITowers"].fields["MaximumCount"] = 4
    r["status"] = 0
    return r.getData()


EPM = {3: epm_map}


def wbem_exec_method(_stub):
    r = wmi.IWbemServices_ExecMethodResponse()
    r["ORPCthat"]["flags"] = 0
    r["ORPCthat"]["extensions"] = NULL
    r["ppOutParams"] = NULL
    r["ppCallResult"] = NULL
    r["ErrorCode"] = 0
    return r.getData()


WBEM = {24: wbem_exec_method}


def svcctl_iface():
    return Interface(SVCCTL_UUID, "2.0", "\\PIPE\\svcctl", SVCCTL)


def tsch_iface():
    return Interface(TSCH_UUID, "1.0", "\\PIPE\\atsvc", TSCH)


def atsvc_iface():
    return Interface(ATSVC_UUID, "1.0", "\\PIPE\\atsvc", ATSVC)


def srvsvc_iface():
    return Interface(SRVSVC_UUID, "3.0", "\\PIPE\\srvsvc", SRVSVC)


def tcp_ifaces(port):
    """The same interfaces on a TCP port: the bind_ack names the port."""
    out = []
    for make in (svcctl_iface, tsch_iface, atsvc_iface, srvsvc_iface):
        i = make()
        i.secondary = str(port)
        out.append(i)
    return out


def epm_iface():
    return Interface(EPM_UUID, "3.0", "135", EPM)


def wbem_iface(port):
    return Interface(IWBEMSERVICES_UUID, "0.0", str(port), WBEM)
