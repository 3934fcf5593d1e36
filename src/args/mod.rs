//! What a call did: the arguments of remote-execution and Active Directory attack calls,
//! decoded from the NDR 2.0 / NDR64 request stubs, and the identity the caller
//! authenticated as.
//!
//! * [`ndr`]: the bounded NDR reader every decoder uses.
//! * Execution: [`svcctl`], [`atsvc`], [`tsch`] (with [`xml`]), [`wmi`].
//! * AD attacks: [`drsr`] (DCSync, DCShadow, SID history), [`nrpc`] (Zerologon,
//!   NetSync), [`rrp`] (hive dumps, Run keys), [`samr`] and [`lsad`] (accounts, groups,
//!   secrets), [`bkrp`] (DPAPI backup key), [`dcom`] (lateral-movement classes, IDispatch
//!   names), [`even`] (log clearing and disabling), and the coercions ([`coerce`]:
//!   [`efsr`], [`rprn`], [`dfsnm`], [`fsrvp`], [`even`]'s ElfrOpenBEL), with the printer
//!   driver installs of [`rprn`].
//! * [`Tracker`]: per association (one TCP connection or one named pipe), decodes each call
//!   in order and links service handles: the handle a CreateService/OpenService response
//!   returns names the service a later StartService/ChangeServiceConfig/DeleteService acts
//!   on, so a StartService record says which service (and, when it was created in the same
//!   association, with which binary) was started.
//! * [`who`]: user/domain/workstation from NTLMSSP AUTHENTICATE in DCE-RPC auth tokens.
//!
//! Nothing is guessed: a stub that cannot be read gives `args: null` and an
//! [`ArgsStatus`] that says why (encrypted, truncated, NDR64, malformed, ...).

pub mod atsvc;
pub mod bkrp;
pub mod coerce;
pub mod dcom;
pub mod dfsnm;
pub mod drsr;
pub mod efsr;
pub mod even;
pub mod fsrvp;
pub mod lsad;
pub mod ndr;
pub mod nrpc;
pub mod rprn;
pub mod rrp;
pub mod samr;
pub mod svcctl;
pub mod tsch;
pub mod who;
pub mod wmi;
pub mod xml;

use crate::FastMap;
use crate::dcerpc::{Call, CallStatus};
use crate::names::Uuid;
use ndr::{ContextHandle, NdrError, Reader};
use serde::Serialize;
use std::collections::BTreeMap;

/// Handles remembered per association (oldest forgotten first beyond this).
pub const MAX_HANDLES: usize = 1024;

/// Why `args` is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgsStatus {
    /// `args` holds the decoded arguments.
    Decoded,
    /// Packet privacy: the stub is encrypted.
    Encrypted,
    /// The stub is incomplete (first fragment not captured, stub cut at the keep limit, or
    /// a fragment lost) and what is there does not decode.
    Truncated,
    /// The interface's bind was not captured: the operation is unknown.
    NoBind,
    /// No argument decoder for this interface and operation.
    NoDecoder,
    /// The stub is complete but does not decode as the operation's parameters.
    Malformed,
    /// Decoding stopped at one of our limits (NDR nesting depth, array length): counted
    /// in the run summary.
    Limit,
}

impl ArgsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArgsStatus::Decoded => "decoded",
            ArgsStatus::Encrypted => "encrypted",
            ArgsStatus::Truncated => "truncated",
            ArgsStatus::NoBind => "no_bind",
            ArgsStatus::NoDecoder => "no_decoder",
            ArgsStatus::Malformed => "malformed",
            ArgsStatus::Limit => "limit",
        }
    }
}

/// Decoded arguments of one call; serialized as an object whose `kind` says which.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Args {
    /// svcctl service calls (CreateService*, ChangeServiceConfig*, StartService*,
    /// OpenService*, DeleteService).
    Service(ServiceArgs),
    /// svcctl OpenSCManager*.
    Scm(ScmArgs),
    /// atsvc NetrJobAdd.
    AtJob(AtJobArgs),
    /// ITaskSchedulerService SchRpcRegisterTask/Run/Delete/EnableTask.
    Task(TaskArgs),
    /// IWbemServices ExecMethod/ExecMethodAsync.
    Wmi(WmiArgs),
    /// Other WMI calls: NTLMLogin, PutInstance, DeleteInstance, ExecQuery.
    WmiOp(wmi::WmiOpArgs),
    /// drsuapi replication requests (DCSync, DCShadow, SID history).
    Replication(drsr::DrsArgs),
    /// A call that makes the server authenticate to a host in a path (MS-EFSR, MS-RPRN
    /// notifications, MS-DFSNM, MS-FSRVP, MS-EVEN ElfrOpenBEL).
    Coercion(coerce::CoercionArgs),
    /// Printer driver installs (PrintNightmare).
    PrinterDriver(rprn::DriverArgs),
    /// Other print-system calls (open printer, print processor, port monitor, packages).
    Printer(rprn::PrinterArgs),
    /// netlogon secure-channel calls (Zerologon, NetSync).
    Netlogon(nrpc::NetlogonArgs),
    /// Remote registry.
    Registry(rrp::RegistryArgs),
    /// SAMR account and group changes.
    Sam(samr::SamArgs),
    /// LSA secrets and account rights.
    Lsa(lsad::LsaArgs),
    /// MS-BKRP BackuprKey.
    BackupKey(bkrp::BackupKeyArgs),
    /// DCOM activation.
    Activation(dcom::ActivationArgs),
    /// IDispatch::GetIDsOfNames.
    Dispatch(dcom::DispatchArgs),
    /// Another ORPC call on a DCOM object whose IPID was handed out earlier in the capture
    /// (IDispatch::Invoke, IRemUnknown, ...): which object, and whose class.
    DcomCall(dcom::DcomObject),
    /// Event log open, clear, disable.
    EventLog(even::EventLogArgs),
}

/// A call that took part in the creation of a service, referenced from later calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedCall {
    pub call_id: u32,
    /// Request time of that call (seconds, microsecond precision like `ts`).
    pub ts: f64,
    pub operation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceArgs {
    /// `create`, `change_config`, `start`, `open` or `delete`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_control: Option<u32>,
    /// lpServiceStartName: the account the service runs as (null: LocalSystem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A password was sent (its bytes are never output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_sent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_order_group: Option<String>,
    /// StartService arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_access: Option<u32>,
    /// The SCM handle a CreateService/OpenService request passes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scm_handle: Option<String>,
    /// The service's handle: returned by CreateService/OpenService (from the response),
    /// passed by StartService/ChangeServiceConfig/DeleteService.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_handle: Option<String>,
    /// For calls on a handle: the name the handle was opened or created with, and where
    /// the name came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name_from: Option<&'static str>,
    /// The CreateService call that created this handle's service in this association.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_create: Option<LinkedCall>,
    /// The binary path that CreateService/ChangeServiceConfig set, for calls on the handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_binary_path: Option<String>,
    /// How `linked_create` / `linked_binary_path` were found: `handle` (through the
    /// service handle, within this connection or pipe) or `service_name` (the service was
    /// created on another connection or pipe between the same two hosts, and is linked by
    /// client, server and service name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<&'static str>,
    /// ControlService: the control code (1 = stop) and its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_name: Option<&'static str>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScmArgs {
    pub machine_name: Option<String>,
    pub database_name: Option<String>,
    pub desired_access: u32,
    /// The SCM handle the response returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scm_handle: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AtJobArgs {
    pub server_name: Option<String>,
    pub command: String,
    /// Milliseconds after midnight (server local time).
    pub job_time: u32,
    /// `job_time` as HH:MM.
    pub job_time_hhmm: String,
    /// Bit n set: day n+1 of the month.
    pub days_of_month: u32,
    /// Bit 0 Monday ... bit 6 Sunday.
    pub days_of_week: u8,
    pub flags: u8,
    pub flags_names: Vec<&'static str>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskArgs {
    /// `register`, `run`, `delete` or `enable`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    /// SchRpcRegisterTask logonType.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logon_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logon_type_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sddl: Option<String>,
    /// User ids of the credentials sent with the registration (passwords never output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_users: Option<Vec<String>>,
    /// Length of the task XML, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xml_chars: Option<usize>,
    /// `Exec` actions from the task XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<xml::ExecAction>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_actions: Option<Vec<String>>,
    /// Principal `UserId`, `GroupId`, `LogonType`, `RunLevel` from the task XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_logon_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_level: Option<String>,
    /// Trigger element names from the task XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// SchRpcRun arguments, session and user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
    /// SchRpcEnableTask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WmiArgs {
    pub object_path: String,
    pub method_name: String,
    pub flags: u32,
    /// `decoded`, `absent` (no in-parameters object) or `unparsed` (not MS-WMIO we read).
    pub in_params: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_params_class: Option<String>,
    /// `CommandLine` of the in-parameters (Win32_Process.Create).
    pub command_line: Option<String>,
    /// `CurrentDirectory` of the in-parameters (Win32_Process.Create).
    pub current_directory: Option<String>,
    /// Every string property of the in-parameters that carries a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_params_strings: Option<BTreeMap<String, String>>,
}

/// The names of the bits of `v` a flag table knows, in table order.
pub fn bit_names(v: u32, bits: &[(u32, &'static str)]) -> Vec<&'static str> {
    bits.iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Lower-case hex of a context handle.
pub fn hex_handle(h: &ContextHandle) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * h.len());
    for b in h {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

/// The context handle a [`hex_handle`] string stands for (`None` if it is not one).
pub fn parse_hex_handle(s: &str) -> Option<ContextHandle> {
    let b = s.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let mut h = [0u8; 20];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        h[i] = (hi << 4 | lo) as u8;
    }
    Some(h)
}

/// Interfaces with a decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iface {
    Svcctl,
    Atsvc,
    Tsch,
    Wbem,
    WbemLogin,
    Drsr,
    /// MS-EFSR on either of its two interface UUIDs.
    Efsr,
    Spoolss,
    Par,
    Dfsnm,
    Fsrvp,
    Even,
    Even6,
    Nrpc,
    Rrp,
    Samr,
    Lsad,
    Bkrp,
    Activator,
    Activation,
    Dispatch,
}

const fn uuid(s: &str) -> Uuid {
    match Uuid::parse(s) {
        Some(u) => u,
        None => panic!("bad uuid"),
    }
}

/// Every interface with a decoder, by UUID.
const IFACES: [(Uuid, Iface); 22] = [
    (uuid(svcctl::UUID), Iface::Svcctl),
    (uuid(atsvc::UUID), Iface::Atsvc),
    (uuid(tsch::UUID), Iface::Tsch),
    (uuid(wmi::UUID), Iface::Wbem),
    (uuid(wmi::LOGIN_UUID), Iface::WbemLogin),
    (uuid(drsr::UUID), Iface::Drsr),
    (uuid(efsr::UUID), Iface::Efsr),
    (uuid(efsr::UUID_LSA), Iface::Efsr),
    (uuid(rprn::UUID), Iface::Spoolss),
    (uuid(rprn::UUID_PAR), Iface::Par),
    (uuid(dfsnm::UUID), Iface::Dfsnm),
    (uuid(fsrvp::UUID), Iface::Fsrvp),
    (uuid(even::UUID), Iface::Even),
    (uuid(even::UUID_EVEN6), Iface::Even6),
    (uuid(nrpc::UUID), Iface::Nrpc),
    (uuid(rrp::UUID), Iface::Rrp),
    (uuid(samr::UUID), Iface::Samr),
    (uuid(lsad::UUID), Iface::Lsad),
    (uuid(bkrp::UUID), Iface::Bkrp),
    (uuid(dcom::ACTIVATOR_UUID), Iface::Activator),
    (uuid(dcom::ACTIVATION_UUID), Iface::Activation),
    (uuid(dcom::DISPATCH_UUID), Iface::Dispatch),
];

/// The decoder family of an interface UUID.
pub fn iface(uuid: &Uuid) -> Option<Iface> {
    IFACES.iter().find(|(u, _)| u == uuid).map(|(_, i)| *i)
}

/// True when (interface, opnum) has a request decoder.
pub fn has_decoder(uuid: &Uuid, opnum: u16) -> bool {
    match iface(uuid) {
        Some(Iface::Svcctl) => svcctl::op_kind(opnum).is_some(),
        Some(Iface::Atsvc) => opnum == atsvc::NETR_JOB_ADD,
        Some(Iface::Tsch) => matches!(
            opnum,
            tsch::REGISTER_TASK | tsch::RUN | tsch::DELETE | tsch::ENABLE_TASK
        ),
        Some(Iface::Wbem) => {
            matches!(opnum, wmi::EXEC_METHOD | wmi::EXEC_METHOD_ASYNC)
                || wmi::OP_OPNUMS.contains(&opnum)
        }
        Some(Iface::WbemLogin) => opnum == wmi::NTLM_LOGIN,
        Some(Iface::Drsr) => matches!(
            opnum,
            drsr::REPLICA_SYNC
                | drsr::GET_NC_CHANGES
                | drsr::REPLICA_ADD
                | drsr::REPLICA_DEL
                | drsr::ADD_ENTRY
                | drsr::ADD_SID_HISTORY
        ),
        Some(Iface::Efsr) => efsr::OPNUMS.contains(&opnum),
        Some(Iface::Spoolss) => rprn::SPOOLSS_OPNUMS.contains(&opnum),
        Some(Iface::Par) => rprn::PAR_OPNUMS.contains(&opnum),
        Some(Iface::Dfsnm) => matches!(opnum, dfsnm::ADD_STD_ROOT | dfsnm::REMOVE_STD_ROOT),
        Some(Iface::Fsrvp) => matches!(
            opnum,
            fsrvp::IS_PATH_SUPPORTED | fsrvp::IS_PATH_SHADOW_COPIED
        ),
        Some(Iface::Even) => even::EVEN_OPNUMS.contains(&opnum),
        Some(Iface::Even6) => even::EVEN6_OPNUMS.contains(&opnum),
        Some(Iface::Nrpc) => nrpc::OPNUMS.contains(&opnum),
        Some(Iface::Rrp) => rrp::OPNUMS.contains(&opnum),
        Some(Iface::Samr) => samr::OPNUMS.contains(&opnum) || opnum == samr::CHANGE_PASSWORD_4,
        Some(Iface::Lsad) => lsad::OPNUMS.contains(&opnum),
        Some(Iface::Bkrp) => opnum == 0,
        Some(Iface::Activator) => matches!(opnum, 3 | 4),
        Some(Iface::Activation) => opnum == 0,
        Some(Iface::Dispatch) => opnum == 5,
        None => false,
    }
}

/// True when the whole response of (interface, opnum) is worth keeping: DCOM
/// activations, IClassFactory::CreateInstance, IRemUnknown::RemQueryInterface and
/// IDispatch GetTypeInfo/Invoke hand out the object references (IPIDs) later calls are
/// named by (see [`dcom::objrefs`], [`dcom::rem_query_interface`]).
pub fn keeps_response(uuid: &Uuid, opnum: u16) -> bool {
    match iface(uuid) {
        Some(Iface::Activator) => matches!(opnum, 3 | 4),
        Some(Iface::Activation) => opnum == 0,
        // GetTypeInfo hands out an ITypeInfo, Invoke objects in its result.
        Some(Iface::Dispatch) => matches!(opnum, 4 | 6),
        _ => opnum == 3 && (*uuid == CLASS_FACTORY || is_rem_unknown(uuid)),
    }
}

/// True when the request stub of (interface, opnum) is worth keeping: an argument decoder
/// reads it, or it says which interfaces a RemQueryInterface asks for.
pub fn keeps_stub(uuid: &Uuid, opnum: u16) -> bool {
    has_decoder(uuid, opnum) || opnum == 3 && is_rem_unknown(uuid)
}

const CLASS_FACTORY: Uuid = uuid(dcom::CLASS_FACTORY_UUID);

fn is_rem_unknown(u: &Uuid) -> bool {
    *u == uuid(dcom::REM_UNKNOWN_UUID) || *u == uuid(dcom::REM_UNKNOWN2_UUID)
}

/// A reader for a stub in the call's byte order and transfer syntax.
pub fn reader(stub: &[u8], little_endian: bool, ndr64: bool) -> Reader<'_> {
    if ndr64 {
        Reader::new_ndr64(stub, little_endian)
    } else {
        Reader::new(stub, little_endian)
    }
}

/// Decode a request stub without any association context. `None`: no decoder.
pub fn decode_request(
    uuid: &Uuid,
    opnum: u16,
    stub: &[u8],
    little_endian: bool,
    ndr64: bool,
) -> Option<Result<Args, NdrError>> {
    let mut r = reader(stub, little_endian, ndr64);
    match iface(uuid)? {
        Iface::Svcctl => svcctl::decode_request(opnum, &mut r).map(|res| {
            res.map(|q| match q {
                svcctl::Request::Service(s) => Args::Service(*s),
                svcctl::Request::Scm(m) => Args::Scm(m),
            })
        }),
        Iface::Atsvc => atsvc::decode_request(opnum, &mut r).map(|x| x.map(Args::AtJob)),
        Iface::Tsch => tsch::decode_request(opnum, &mut r).map(|x| x.map(Args::Task)),
        Iface::Wbem => wmi::decode_request(opnum, &mut r)
            .map(|x| x.map(Args::Wmi))
            .or_else(|| wmi::decode_op(false, opnum, &mut r).map(|x| x.map(Args::WmiOp))),
        Iface::WbemLogin => wmi::decode_op(true, opnum, &mut r).map(|x| x.map(Args::WmiOp)),
        Iface::Drsr => drsr::decode_request(opnum, &mut r).map(|x| x.map(Args::Replication)),
        Iface::Efsr => efsr::decode_request(opnum, &mut r).map(|x| x.map(Args::Coercion)),
        Iface::Spoolss | Iface::Par => {
            rprn::decode_request(iface(uuid) == Some(Iface::Par), opnum, &mut r).map(|x| {
                x.map(|q| match q {
                    rprn::Request::Notify(mut c, h) => {
                        c.handle = Some(h);
                        Args::Coercion(c)
                    }
                    rprn::Request::Driver(d) => Args::PrinterDriver(d),
                    rprn::Request::Printer(p) => Args::Printer(p),
                })
            })
        }
        Iface::Dfsnm => dfsnm::decode_request(opnum, &mut r).map(|x| x.map(Args::Coercion)),
        Iface::Fsrvp => fsrvp::decode_request(opnum, &mut r).map(|x| x.map(Args::Coercion)),
        Iface::Even | Iface::Even6 => {
            even::decode_request(iface(uuid) == Some(Iface::Even6), opnum, &mut r).map(|x| {
                x.map(|q| match q {
                    even::Request::Log(l) => Args::EventLog(l),
                    even::Request::Coercion(c) => Args::Coercion(c),
                })
            })
        }
        Iface::Nrpc => nrpc::decode_request(opnum, &mut r).map(|x| x.map(Args::Netlogon)),
        Iface::Rrp => rrp::decode_request(opnum, &mut r).map(|x| x.map(Args::Registry)),
        Iface::Samr => samr::decode_request(opnum, &mut r).map(|x| x.map(Args::Sam)),
        Iface::Lsad => lsad::decode_request(opnum, &mut r).map(|x| x.map(Args::Lsa)),
        Iface::Bkrp => bkrp::decode_request(opnum, &mut r).map(|x| x.map(Args::BackupKey)),
        Iface::Activator | Iface::Activation => {
            dcom::decode_activation(iface(uuid) == Some(Iface::Activator), opnum, &mut r)
                .map(|x| x.map(dcom_args))
        }
        Iface::Dispatch => dcom::decode_dispatch(opnum, &mut r).map(|x| x.map(dcom_args)),
    }
}

fn dcom_args(q: dcom::Request) -> Args {
    match q {
        dcom::Request::Activation(a) => Args::Activation(a),
        dcom::Request::Dispatch(d) => Args::Dispatch(d),
    }
}

/// Result of decoding one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub args: Option<Args>,
    pub status: ArgsStatus,
    /// The call's bind was not captured and its object UUID is an IPID handed out earlier:
    /// the interface that IPID stands for.
    pub uuid_from_ipid: Option<Uuid>,
}

/// A map that remembers at most `CAP` entries, forgetting the oldest first: the
/// handles of an association, the services and DCOM objects of a capture.
#[derive(Debug)]
struct Remembered<K, V, const CAP: usize> {
    map: FastMap<K, V>,
    /// Keys in insertion order.
    order: std::collections::VecDeque<K>,
}

impl<K, V, const CAP: usize> Default for Remembered<K, V, CAP> {
    fn default() -> Self {
        Remembered {
            map: FastMap::default(),
            order: std::collections::VecDeque::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V, const CAP: usize> Remembered<K, V, CAP> {
    /// Insert or replace; a new key beyond `CAP` entries forgets the oldest one.
    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            if self.order.len() > CAP
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
        }
    }
}

/// What a remembered handle stands for.
#[derive(Debug, Clone)]
struct HandleInfo {
    service_name: Option<String>,
    from: &'static str,
    binary_path: Option<String>,
    create: Option<LinkedCall>,
    /// How `binary_path`/`create` were found (see [`ServiceArgs::link`]).
    link: &'static str,
}

/// Services known across the connections and pipes of one capture: created (or
/// reconfigured) on one, acted on from another. Keyed by client address, server address and
/// service name (lower case, as the SCM compares names).
#[derive(Debug, Default)]
pub struct ServiceLinks {
    services: Remembered<LinkKey, LinkedService, MAX_LINKED_SERVICES>,
    /// DCOM objects handed out in responses, by (client, server, IPID): ORPC calls on
    /// them go to another connection (the object exporter's port) and may lack their bind.
    objects: Remembered<ObjectKey, dcom::DcomObject, MAX_LINKED_OBJECTS>,
}

type ObjectKey = (std::net::IpAddr, std::net::IpAddr, Uuid);

/// DCOM objects remembered per capture and decoder (oldest forgotten first beyond this).
pub const MAX_LINKED_OBJECTS: usize = 4096;

type LinkKey = (std::net::IpAddr, std::net::IpAddr, String);

/// What a service was created (or reconfigured) with.
#[derive(Debug, Clone, Default)]
pub struct LinkedService {
    pub binary_path: Option<String>,
    pub create: Option<LinkedCall>,
}

/// Services remembered per capture and decoder (oldest forgotten first beyond this).
pub const MAX_LINKED_SERVICES: usize = 4096;

impl ServiceLinks {
    fn insert(&mut self, key: LinkKey, binary_path: Option<String>, create: Option<LinkedCall>) {
        let fresh = LinkedService {
            binary_path,
            create,
        };
        self.services.insert(key, fresh);
    }

    fn set_binary(&mut self, key: LinkKey, binary_path: Option<String>) {
        match self.services.map.get_mut(&key) {
            Some(l) => l.binary_path = binary_path,
            None => self.insert(key, binary_path, None),
        }
    }

    fn get(&self, key: &LinkKey) -> Option<&LinkedService> {
        self.services.map.get(key)
    }

    fn add_object(&mut self, key: ObjectKey, o: dcom::DcomObject) {
        self.objects.insert(key, o);
    }

    /// The object whose IPID is `ipid`, handed out between these hosts.
    pub fn object(
        &self,
        hosts: (std::net::IpAddr, std::net::IpAddr),
        ipid: &Uuid,
    ) -> Option<&dcom::DcomObject> {
        self.objects.map.get(&(hosts.0, hosts.1, *ipid))
    }
}

/// What a non-service handle stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Linked {
    /// A registry key, by its path (a `?` root: the key's origin was not seen).
    Key(String),
    /// An event log, by name.
    Log(String),
    /// A printer or print server, by the name it was opened with.
    Printer(Option<String>),
    /// A SAM group, alias or user, by RID.
    Sam(&'static str, u32),
    /// An LSA secret, by name.
    Secret(String),
}

/// Per-association decoding state: the handles seen so far.
#[derive(Debug, Default)]
pub struct Tracker {
    handles: Remembered<ContextHandle, HandleInfo, MAX_HANDLES>,
    others: Remembered<ContextHandle, Linked, MAX_HANDLES>,
    /// NetrServerAuthenticate calls with an all-zero credential seen so far.
    zero_auths: u32,
}

/// The response stub when the whole of it was kept and the call was answered.
fn full_response(c: &Call) -> Option<&[u8]> {
    (c.status == CallStatus::Ok
        && !c.resp_stub.is_empty()
        && c.resp_stub.len() as u64 == c.resp_stub_len)
        .then_some(c.resp_stub.as_slice())
}

/// The return code at the end of a whole response stub.
pub fn response_status(c: &Call) -> Option<u32> {
    response_u32(c, full_response(c)?.len().checked_sub(4)?)
}

/// The context handle a response returns first (Open* calls): None when the call failed,
/// the response was not captured, or the handle is all zeros.
fn response_first_handle(c: &Call) -> Option<ContextHandle> {
    if c.status != CallStatus::Ok || response_status(c).is_some_and(|s| s != 0) {
        return None;
    }
    let b = c.resp_stub.get(..20)?;
    let mut h = [0u8; 20];
    h.copy_from_slice(b);
    (h != [0u8; 20]).then_some(h)
}

/// A u32 at `at` of a whole response stub.
fn response_u32(c: &Call, at: usize) -> Option<u32> {
    let b = full_response(c)?.get(at..at.checked_add(4)?)?;
    let a = [b[0], b[1], b[2], b[3]];
    Some(if c.big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Remember what the handle an open call `c` returned stands for (nothing when the
    /// call returned none, or `l` is None).
    fn remember_opened(&mut self, c: &Call, l: Option<Linked>) {
        if let (Some(h), Some(l)) = (response_first_handle(c), l) {
            self.others.insert(h, l);
        }
    }

    fn linked(&self, h: Option<&ContextHandle>) -> Option<&Linked> {
        self.others.map.get(h?)
    }

    /// Link the non-service calls to their handles and fill in their return codes.
    fn link_other(&mut self, c: &Call, args: &mut Args) {
        let result = response_status(c);
        let set = |r: &mut Option<u32>, n: &mut Option<&'static str>| {
            *r = result;
            *n = result.and_then(coerce::status_name);
        };
        match args {
            Args::Registry(a) => {
                set(&mut a.result, &mut a.result_name);
                let parent = match self.linked(a.handle.as_ref()) {
                    Some(Linked::Key(p)) => Some(p.clone()),
                    _ => None,
                };
                match a.action {
                    "open_hive" => {
                        let hive = a.hive.unwrap_or("?").to_string();
                        a.key_path = Some(hive.clone());
                        self.remember_opened(c, Some(Linked::Key(hive)));
                    }
                    "open_key" | "create_key" => {
                        let path = rrp::join(
                            parent.as_deref().unwrap_or("?"),
                            a.sub_key.as_deref().unwrap_or_default(),
                        );
                        a.key_path = Some(path.clone());
                        self.remember_opened(c, Some(Linked::Key(path)));
                    }
                    "delete_key" | "load_key" | "replace_key" => {
                        a.key_path = Some(rrp::join(
                            parent.as_deref().unwrap_or("?"),
                            a.sub_key.as_deref().unwrap_or_default(),
                        ));
                    }
                    _ => a.key_path = parent,
                }
            }
            Args::EventLog(a) => {
                set(&mut a.result, &mut a.result_name);
                match a.action {
                    "open" => self.remember_opened(c, a.log_name.clone().map(Linked::Log)),
                    "clear" => {
                        if let Some(Linked::Log(n)) = self.linked(a.handle.as_ref()) {
                            a.log_name = Some(n.clone());
                            a.log_name_from = Some("handle");
                        }
                    }
                    _ => {}
                }
            }
            Args::Coercion(a) => {
                set(&mut a.result, &mut a.result_name);
                if let Some(Linked::Printer(p)) = self.linked(a.handle.as_ref()) {
                    a.printer = p.clone();
                }
                if a.protocol == "MS-EVEN" {
                    self.remember_opened(c, a.path.clone().map(Linked::Log));
                }
            }
            Args::Printer(a) => {
                set(&mut a.result, &mut a.result_name);
                if a.action == "open"
                    && let Some(h) = response_first_handle(c)
                {
                    a.handle = Some(hex_handle(&h));
                    self.others
                        .insert(h, Linked::Printer(a.printer_name.clone()));
                }
            }
            Args::PrinterDriver(a) => set(&mut a.result, &mut a.result_name),
            Args::Netlogon(a) => {
                set(&mut a.result, &mut a.result_name);
                if a.zero_credential == Some(true) && matches!(c.opnum, 5 | 15 | 26) {
                    self.zero_auths += 1;
                    a.attempt = Some(self.zero_auths);
                }
            }
            Args::Lsa(a) => {
                set(&mut a.result, &mut a.result_name);
                match a.action {
                    "open_secret" => {
                        self.remember_opened(c, a.secret_name.clone().map(Linked::Secret));
                    }
                    "query_secret" => {
                        if let Some(Linked::Secret(n)) = self.linked(a.handle.as_ref()) {
                            a.secret_name = Some(n.clone());
                        }
                    }
                    _ => {}
                }
            }
            Args::Sam(a) => {
                set(&mut a.result, &mut a.result_name);
                match a.action {
                    "open_group" | "open_alias" | "open_user" => {
                        let opened = a.target.zip(a.rid).map(|(t, rid)| Linked::Sam(t, rid));
                        self.remember_opened(c, opened);
                    }
                    "create_user" => {
                        // Response: UserHandle, [GrantedAccess (opnum 50)], RelativeId, status.
                        let at = if c.opnum == 50 { 24 } else { 20 };
                        if result == Some(0)
                            && let Some(rid) = response_u32(c, at)
                        {
                            a.rid = Some(rid);
                            self.remember_opened(c, Some(Linked::Sam("user", rid)));
                        }
                    }
                    _ => {
                        if let Some(Linked::Sam(t, rid)) = self.linked(a.handle.as_ref()) {
                            a.target = Some(t);
                            a.rid = Some(*rid);
                            a.rid_name = samr::rid_name(*rid);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn remember(&mut self, h: ContextHandle, info: HandleInfo) {
        self.handles.insert(h, info);
    }

    /// Decode one call of this association; calls must come in request order.
    pub fn decode(&mut self, c: &Call) -> Decoded {
        let none = std::net::IpAddr::from([0u8; 4]);
        self.decode_linked(c, &mut ServiceLinks::default(), (none, none))
    }

    /// [`Tracker::decode`], with the services created on other connections or pipes of
    /// the same capture: `hosts` are the call's (client, server) addresses.
    pub fn decode_linked(
        &mut self,
        c: &Call,
        links: &mut ServiceLinks,
        hosts: (std::net::IpAddr, std::net::IpAddr),
    ) -> Decoded {
        let object = c
            .object
            .and_then(|ipid| links.object(hosts, &ipid))
            .cloned()
            .and_then(|mut o| {
                let iid = Uuid::parse(&o.iid)?;
                o.interface_from = if c.uuid.is_some() { "bind" } else { "ipid" };
                Some((o, iid))
            });
        let uuid_from_ipid = match (&c.uuid, &object) {
            (None, Some((_, iid))) => Some(*iid),
            _ => None,
        };
        let status = |s| Decoded {
            args: None,
            status: s,
            uuid_from_ipid,
        };
        let Some(uuid) = c.uuid.or(uuid_from_ipid) else {
            return status(ArgsStatus::NoBind);
        };
        let object = object.map(|(o, _)| o);
        if !c.encrypted {
            self.learn_objects(c, &uuid, object.as_ref(), links, hosts);
        }
        if !has_decoder(&uuid, c.opnum) {
            return match object {
                Some(o) if !c.encrypted => Decoded {
                    args: Some(Args::DcomCall(o)),
                    status: ArgsStatus::Decoded,
                    uuid_from_ipid,
                },
                _ => status(ArgsStatus::NoDecoder),
            };
        }
        // Sealed on the wire and not unsealed with a key: nothing to read.
        if c.encrypted && c.decrypted.is_none() {
            return status(ArgsStatus::Encrypted);
        }
        let complete = !c.partial && c.stub.len() as u64 == c.req_stub_len;
        if c.partial {
            return status(ArgsStatus::Truncated);
        }
        let mut args = match decode_request(&uuid, c.opnum, &c.stub, !c.big_endian, c.ndr64) {
            Some(Ok(a)) => a,
            Some(Err(e)) if e.is_limit() => return status(ArgsStatus::Limit),
            Some(Err(NdrError::Short(_))) if !complete => return status(ArgsStatus::Truncated),
            Some(Err(_)) if !complete => return status(ArgsStatus::Truncated),
            Some(Err(_)) | None => return status(ArgsStatus::Malformed),
        };
        if let Args::Service(s) = &mut args {
            self.link_service(c, s, links, hosts);
        }
        if let Args::Dispatch(d) = &mut args {
            d.object = object;
        }
        if let Args::Activation(a) = &mut args
            && c.status == CallStatus::Ok
        {
            a.objects = dcom::objrefs(&c.resp_stub);
        }
        if let Args::Scm(m) = &mut args
            && let Some(h) = self.response_handle(c)
        {
            m.scm_handle = Some(hex_handle(&h));
        }
        self.link_other(c, &mut args);
        Decoded {
            args: Some(args),
            status: ArgsStatus::Decoded,
            uuid_from_ipid,
        }
    }

    /// Remember the interface pointers the response of `c` hands out: from an activation
    /// (the class comes from its request), or from a method of a known object (the
    /// object's class carries over).
    fn learn_objects(
        &self,
        c: &Call,
        uuid: &Uuid,
        parent: Option<&dcom::DcomObject>,
        links: &mut ServiceLinks,
        hosts: (std::net::IpAddr, std::net::IpAddr),
    ) {
        if c.status != CallStatus::Ok || !keeps_response(uuid, c.opnum) && parent.is_none() {
            return;
        }
        let mut parent = parent.cloned();
        let refs = if c.opnum == 3 && is_rem_unknown(uuid) {
            // The interfaces asked of another object (by its IPID): that object's class.
            let Some((ripid, refs)) =
                dcom::rem_query_interface(&c.stub, &c.resp_stub, !c.big_endian)
            else {
                return;
            };
            parent = Uuid::parse(&ripid)
                .and_then(|u| links.object(hosts, &u))
                .cloned();
            refs
        } else {
            dcom::objrefs(&c.resp_stub)
        };
        if refs.is_empty() {
            return;
        }
        let class = match iface(uuid) {
            Some(Iface::Activator | Iface::Activation) => {
                match decode_request(uuid, c.opnum, &c.stub, !c.big_endian, c.ndr64) {
                    Some(Ok(Args::Activation(a))) => {
                        (a.clsid, a.clsid_name, a.lateral_movement_class)
                    }
                    _ => (None, None, false),
                }
            }
            _ => parent
                .map(|p| (p.clsid, p.clsid_name, p.lateral_movement_class))
                .unwrap_or_default(),
        };
        let obtained_by = LinkedCall {
            call_id: c.call_id,
            ts: c.ts.zeek_time(),
            operation: crate::names::operation_or_unknown(uuid, c.opnum).into_owned(),
        };
        for r in refs {
            let (Some(ipid), Some(iid)) = (Uuid::parse(&r.ipid), Uuid::parse(&r.iid)) else {
                continue;
            };
            let o = dcom::DcomObject {
                ipid: r.ipid,
                interface: crate::names::endpoint(&iid).map(str::to_string),
                iid: r.iid,
                clsid: class.0.clone(),
                clsid_name: class.1,
                lateral_movement_class: class.2,
                obtained_by: obtained_by.clone(),
                interface_from: "bind",
            };
            links.add_object((hosts.0, hosts.1, ipid), o);
        }
    }

    fn response_handle(&self, c: &Call) -> Option<ContextHandle> {
        if c.status != CallStatus::Ok {
            return None;
        }
        let mut r = reader(&c.resp_stub, !c.big_endian, c.ndr64);
        svcctl::response_handle(c.opnum, &mut r).ok().flatten()
    }

    fn link_service(
        &mut self,
        c: &Call,
        s: &mut ServiceArgs,
        links: &mut ServiceLinks,
        hosts: (std::net::IpAddr, std::net::IpAddr),
    ) {
        let Some((op, _)) = svcctl::op_kind(c.opnum) else {
            return;
        };
        let operation = c
            .uuid
            .map(|u| crate::names::operation_or_unknown(&u, c.opnum).into_owned())
            .unwrap_or_default();
        match op {
            svcctl::Op::Create | svcctl::Op::Open => {
                if let Some(h) = self.response_handle(c) {
                    s.service_handle = Some(hex_handle(&h));
                    let create = (op == svcctl::Op::Create).then(|| LinkedCall {
                        call_id: c.call_id,
                        ts: c.ts.zeek_time(),
                        operation,
                    });
                    // Opening a service created earlier in this association keeps the link.
                    let earlier = self
                        .handles
                        .map
                        .values()
                        .find(|i| {
                            i.create.is_some()
                                && i.service_name.as_deref().map(str::to_lowercase)
                                    == s.service_name.as_deref().map(str::to_lowercase)
                        })
                        .cloned();
                    let mut info = HandleInfo {
                        service_name: s.service_name.clone(),
                        from: if op == svcctl::Op::Create {
                            "create"
                        } else {
                            "open"
                        },
                        binary_path: s
                            .binary_path
                            .clone()
                            .or_else(|| earlier.as_ref().and_then(|e| e.binary_path.clone())),
                        create: create.or_else(|| earlier.and_then(|e| e.create)),
                        link: "handle",
                    };
                    let name = s.service_name.as_deref().map(str::to_lowercase);
                    if let Some(name) = name {
                        let key = (hosts.0, hosts.1, name);
                        if op == svcctl::Op::Create {
                            links.insert(key, info.binary_path.clone(), info.create.clone());
                        } else if info.create.is_none()
                            && info.binary_path.is_none()
                            && let Some(l) = links.get(&key)
                        {
                            // Opened here, created on another connection or pipe.
                            info.binary_path = l.binary_path.clone();
                            info.create = l.create.clone();
                            info.link = "service_name";
                        }
                    }
                    self.remember(h, info);
                }
            }
            svcctl::Op::Start | svcctl::Op::Change | svcctl::Op::Delete | svcctl::Op::Control => {
                let Some(h) = s.service_handle.as_deref() else {
                    return;
                };
                let Some(info) = parse_hex_handle(h).and_then(|k| self.handles.map.get_mut(&k))
                else {
                    return;
                };
                s.service_name = info.service_name.clone();
                s.service_name_from = Some(info.from);
                s.linked_create = info.create.clone();
                if op == svcctl::Op::Change {
                    if s.binary_path.is_some() {
                        info.binary_path = s.binary_path.clone();
                        if let Some(name) = info.service_name.as_deref() {
                            let key = (hosts.0, hosts.1, name.to_lowercase());
                            links.set_binary(key, info.binary_path.clone());
                        }
                    }
                } else {
                    s.linked_binary_path = info.binary_path.clone();
                }
                if s.linked_create.is_some() || s.linked_binary_path.is_some() {
                    s.link = Some(info.link);
                }
            }
            svcctl::Op::OpenScm => {}
        }
    }
}

/// Everything this module adds to one call record.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Boxed: a connection's calls wait with their annotations until it closes, and most
    /// calls have no arguments decoded.
    pub args: Option<Box<Args>>,
    pub status: ArgsStatus,
    /// The association's DCE-RPC identity in effect for this call (None when the request
    /// carries no auth trailer or no token was readable).
    pub dce_auth: Option<who::AuthSeen>,
    /// The interface of a call without its bind, from the IPID in its object UUID
    /// (see [`Decoded::uuid_from_ipid`]): the call's `uuid` once recorded.
    pub uuid_from_ipid: Option<Uuid>,
}

/// Decodes the calls of one association (a TCP connection or a named pipe) one at a time,
/// in request order, as they finish.
#[derive(Debug, Default)]
pub struct Annotator {
    tracker: Tracker,
}

impl Annotator {
    /// The arguments of `c` and the association's identity for it; `hosts` are the call's
    /// (client, server) addresses, for services linked across connections.
    pub fn annotate(
        &mut self,
        c: &Call,
        log: &who::WhoLog,
        links: &mut ServiceLinks,
        hosts: (std::net::IpAddr, std::net::IpAddr),
    ) -> Annotation {
        let d = self.tracker.decode_linked(c, links, hosts);
        Annotation {
            args: d.args.map(Box::new),
            status: d.status,
            dce_auth: c.auth_type.and_then(|_| log.at(c.ts).cloned()),
            uuid_from_ipid: d.uuid_from_ipid,
        }
    }
}

/// Decode the calls of one association (in request order) and attach the association's
/// identity, all at once (the engine uses an [`Annotator`] as calls finish). A call named
/// by its IPID gets that interface as its `uuid`.
pub fn annotate(calls: Vec<Call>, log: &who::WhoLog) -> Vec<(Call, Annotation)> {
    let mut t = Tracker::new();
    let mut links = ServiceLinks::default();
    let none = std::net::IpAddr::from([0u8; 4]);
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| (calls[i].ts, calls[i].call_id));
    let mut notes: Vec<Option<Annotation>> = vec![None; calls.len()];
    for i in order {
        let c = &calls[i];
        let d = t.decode_linked(c, &mut links, (none, none));
        let dce_auth = c.auth_type.and_then(|_| log.at(c.ts).cloned());
        notes[i] = Some(Annotation {
            args: d.args.map(Box::new),
            status: d.status,
            dce_auth,
            uuid_from_ipid: d.uuid_from_ipid,
        });
    }
    count_zerologon(&calls, &mut notes);
    calls
        .into_iter()
        .zip(notes)
        .map(|(mut c, n)| {
            let n = n.unwrap_or(Annotation {
                args: None,
                status: ArgsStatus::NoDecoder,
                dce_auth: None,
                uuid_from_ipid: None,
            });
            if n.uuid_from_ipid.is_some() {
                c.uuid = n.uuid_from_ipid;
            }
            (c, n)
        })
        .collect()
}

/// Zerologon attempts of one association: how many NetrServerAuthenticate calls carried an
/// all-zero client credential (NetrServerReqChallenge calls with a zero challenge when
/// no authentication was captured), and whether one of those authentications got
/// STATUS_SUCCESS; written into every netlogon call of the association.
fn count_zerologon(calls: &[Call], notes: &mut [Option<Annotation>]) {
    let (mut auths, mut challenges, mut success) = (0u32, 0u32, false);
    for (c, n) in calls.iter().zip(notes.iter()) {
        if let Some(Args::Netlogon(a)) = n.as_ref().and_then(|n| n.args.as_deref())
            && a.zero_credential == Some(true)
        {
            match c.opnum {
                5 | 15 | 26 => {
                    auths += 1;
                    success |= a.result == Some(0);
                }
                4 => challenges += 1,
                _ => {}
            }
        }
    }
    let attempts = if auths > 0 { auths } else { challenges };
    if attempts == 0 {
        return;
    }
    for n in notes.iter_mut().flatten() {
        if let Some(Args::Netlogon(a)) = n.args.as_deref_mut() {
            a.attempts_in_connection = Some(attempts);
            a.succeeded_in_connection = Some(success);
        }
    }
}

/// One line saying what a decoded call ran or set up to run, for text tables:
/// `service PSEXESVC: %SystemRoot%\PSEXESVC.exe`, `task \x: cmd.exe /c whoami`,
/// `wmi Win32_Process.Create: cmd.exe /c ...`, `at job: cmd /c ...`. None for calls that
/// only give context (OpenSCManager, OpenService).
pub fn what_ran(args: &Args) -> Option<String> {
    let name = |s: &ServiceArgs| {
        s.service_name
            .clone()
            .or_else(|| s.service_handle.as_ref().map(|h| format!("handle {h}")))
            .unwrap_or_else(|| "?".into())
    };
    match args {
        Args::Service(s) => match s.action {
            "create" => Some(format!(
                "service {}: {}",
                name(s),
                s.binary_path.as_deref().unwrap_or_default()
            )),
            "change_config" => s
                .binary_path
                .as_ref()
                .map(|b| format!("service {} reconfigured: {b}", name(s))),
            "start" => {
                let mut line = format!("service {} started", name(s));
                if let Some(b) = &s.linked_binary_path {
                    line.push_str(&format!(": {b}"));
                }
                if let Some(argv) = s.argv.as_ref().filter(|a| !a.is_empty()) {
                    line.push_str(&format!(" (args: {})", argv.join(" ")));
                }
                Some(line)
            }
            "delete" => Some(format!("service {} deleted", name(s))),
            _ => None,
        },
        Args::Scm(_) => None,
        Args::AtJob(j) => Some(format!("at job {}: {}", j.job_time_hhmm, j.command)),
        Args::Task(t) => {
            let path = t.path.as_deref().unwrap_or("?");
            match t.action {
                "register" => {
                    let cmds: Vec<String> = t
                        .actions
                        .iter()
                        .flatten()
                        .map(|a| match &a.arguments {
                            Some(x) => format!("{} {x}", a.command),
                            None => a.command.clone(),
                        })
                        .collect();
                    Some(if cmds.is_empty() {
                        format!("task {path}: (no exec action)")
                    } else {
                        format!("task {path}: {}", cmds.join(" ; "))
                    })
                }
                "run" => {
                    let mut line = format!("task {path} run");
                    if let Some(a) = t.args.as_ref().filter(|a| !a.is_empty()) {
                        line.push_str(&format!(" (args: {})", a.join(" ")));
                    }
                    Some(line)
                }
                "enable" => Some(format!(
                    "task {path} {}",
                    if t.enabled == Some(true) {
                        "enabled"
                    } else {
                        "disabled"
                    }
                )),
                "delete" => Some(format!("task {path} deleted")),
                _ => None,
            }
        }
        Args::Wmi(w) => {
            let target = format!("wmi {}.{}", w.object_path, w.method_name);
            Some(match &w.command_line {
                Some(cmd) => format!("{target}: {cmd}"),
                None => target,
            })
        }
        // Not execution: see `what`.
        _ => None,
    }
}

#[cfg(test)]
mod tests;

/// ` on <class> object <ipid> (from <operation>)` for a call on a known DCOM object.
fn object_of(o: &dcom::DcomObject) -> String {
    let class = match (o.clsid_name, &o.clsid) {
        (Some(n), _) => n.to_string(),
        (None, Some(c)) => format!("{{{c}}}"),
        (None, None) => "a".to_string(),
    };
    format!(
        " on {class} object {} (from {})",
        o.ipid, o.obtained_by.operation
    )
}

/// One line saying what a decoded call did, for any call with arguments (execution or
/// not): `what_ran` for the execution calls, else a summary of the argument that matters
/// (the listener host of a coercion, the hive saved, the account created, ...). None for
/// calls that only give context.
pub fn what(args: &Args) -> Option<String> {
    if let Some(w) = what_ran(args) {
        return Some(w);
    }
    let or = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
    let result = |r: Option<u32>, n: Option<&'static str>| match (r, n) {
        (Some(_), Some(n)) => format!(" -> {n}"),
        (Some(r), None) => format!(" -> 0x{r:08x}"),
        _ => String::new(),
    };
    Some(match args {
        Args::Service(s) if s.action == "control" => format!(
            "service {} control {}",
            s.service_name
                .clone()
                .or_else(|| s.service_handle.as_ref().map(|h| format!("handle {h}")))
                .unwrap_or_else(|| "?".into()),
            s.control_name
                .map(str::to_string)
                .or_else(|| s.control.map(|c| c.to_string()))
                .unwrap_or_default()
        ),
        Args::Coercion(c) => {
            let mut line = match &c.listener {
                Some(l) => format!(
                    "coercion ({}): told to authenticate to {l}{}",
                    c.protocol,
                    c.listener_port
                        .map(|p| format!(" port {p}"))
                        .unwrap_or_default()
                ),
                None => format!("{} {}: {}", c.protocol, c.parameter, or(&c.path)),
            };
            if let Some(p) = &c.path
                && c.listener.is_some()
            {
                line.push_str(&format!(" ({} {p})", c.parameter));
            }
            line + &result(c.result, c.result_name)
        }
        Args::Replication(d) => {
            let nc = d.naming_context.as_ref().and_then(drsr::DsName::text);
            match d.action {
                "get_nc_changes" => format!(
                    "replication request for {}{}",
                    nc.unwrap_or_else(|| "?".into()),
                    match d.extended_op {
                        Some(e) if e != 0 => format!(" ({})", d.extended_op_name.unwrap_or("exop")),
                        _ => String::new(),
                    }
                ),
                "add_entry" => format!(
                    "directory objects added: {}",
                    d.objects
                        .iter()
                        .flatten()
                        .filter_map(|o| o.name.text())
                        .collect::<Vec<_>>()
                        .join(" ; ")
                ),
                "add_sid_history" => {
                    let h = d.sid_history.clone().unwrap_or_default();
                    format!(
                        "SID history of {}\\{} added to {}\\{}",
                        or(&h.src_domain),
                        or(&h.src_principal),
                        or(&h.dst_domain),
                        or(&h.dst_principal)
                    )
                }
                other => format!(
                    "{other} {} from {}",
                    nc.unwrap_or_else(|| "?".into()),
                    or(&d.source_dsa_address)
                ),
            }
        }
        Args::PrinterDriver(d) => format!(
            "printer driver {} added: {}{}",
            or(&d.driver_name),
            d.paths().collect::<Vec<_>>().join(" ; "),
            result(d.result, d.result_name)
        ),
        Args::Printer(p) => match p.action {
            "open" => return None,
            _ => format!(
                "{} {}: {}{}",
                p.action.replace('_', " "),
                or(&p.name),
                or(&p.path),
                result(p.result, p.result_name)
            ),
        },
        Args::Netlogon(n) => {
            if n.empty_password == Some(true) {
                format!("netlogon: password of {} set to empty", or(&n.account_name))
            } else if n.zero_credential == Some(true) {
                format!(
                    "netlogon {}: zero credential for {}{}",
                    n.action,
                    n.account_name
                        .clone()
                        .or_else(|| n.computer_name.clone())
                        .unwrap_or_else(|| "?".into()),
                    result(n.result, n.result_name)
                )
            } else if matches!(
                n.action,
                "password_get" | "trust_passwords_get" | "get_trust_info"
            ) {
                format!("netlogon {}: secrets of {}", n.action, or(&n.account_name))
            } else {
                return None;
            }
        }
        Args::Registry(r) => match r.action {
            "open_hive" | "open_key" | "query_info" => return None,
            "set_value" => format!(
                "registry value {}\\{} = {}",
                or(&r.key_path),
                or(&r.value_name),
                match (&r.value_data, r.value_data_hidden) {
                    (Some(d), _) => d.clone(),
                    _ => format!("({} bytes, not shown)", r.value_len.unwrap_or(0)),
                }
            ),
            "save_key" => format!("registry key {} saved to {}", or(&r.key_path), or(&r.file)),
            other => format!(
                "registry {} {}{}",
                other.replace('_', " "),
                or(&r.key_path),
                r.file
                    .as_ref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            ),
        },
        Args::Sam(a) => {
            let who = match (a.rid_name, a.rid) {
                (Some(n), Some(r)) => format!("{n} ({r})"),
                (None, Some(r)) => format!("RID {r}"),
                _ => "?".into(),
            };
            match a.action {
                "create_user" => format!(
                    "account {} created{}",
                    or(&a.name),
                    a.account_type_name
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                ),
                "add_member" | "add_members" => format!(
                    "member {} added to {} {who}",
                    a.member_rid
                        .map(|r| format!("RID {r}"))
                        .or_else(|| a.member_sids.as_ref().map(|s| s.join(", ")))
                        .unwrap_or_else(|| "?".into()),
                    a.target.unwrap_or("group")
                ),
                "delete_user" => format!("account {who} deleted"),
                "set_user_info" => format!(
                    "account {who}: {}{}",
                    a.info_class_name.unwrap_or("information set"),
                    if a.sets_password == Some(true) {
                        " (password or hash set, not shown)".to_string()
                    } else if let Some(n) = &a.new_account_name {
                        format!(" renamed to {n}")
                    } else {
                        a.user_account_control_names
                            .as_ref()
                            .map(|u| format!(" {}", u.join("|")))
                            .unwrap_or_default()
                    }
                ),
                "change_password" => {
                    format!("password of {} changed", a.name.clone().unwrap_or(who))
                }
                _ => return None,
            }
        }
        Args::Lsa(l) => match l.action {
            "add_account_rights" => format!(
                "rights {} given to {}",
                l.rights.clone().unwrap_or_default().join(", "),
                or(&l.account_sid)
            ),
            "open_secret" => return None,
            _ => format!("LSA secret {} read", or(&l.secret_name)),
        },
        Args::BackupKey(b) => format!(
            "DPAPI BackupKey {}",
            b.action_name.unwrap_or(b.action_guid.as_str())
        ),
        Args::Activation(a) => format!(
            "DCOM activation of {}",
            match (a.clsid_name, &a.clsid) {
                (Some(n), Some(c)) => format!("{n} {{{c}}}"),
                (None, Some(c)) => format!("{{{c}}}"),
                _ => format!("? (properties {})", a.properties),
            }
        ),
        Args::Dispatch(d) => format!(
            "IDispatch names: {}{}",
            d.names.join(", "),
            d.object.as_ref().map(object_of).unwrap_or_default()
        ),
        Args::DcomCall(o) => format!("call{}", object_of(o)),
        Args::EventLog(e) => match e.action {
            "open" => return None,
            "put_channel_config" => format!(
                "event channel {} configured{}",
                or(&e.log_name),
                match e.enabled {
                    Some(false) => ": disabled",
                    Some(true) => ": enabled",
                    None => "",
                }
            ),
            _ => format!(
                "event log {} cleared{}",
                or(&e.log_name),
                e.backup_file
                    .as_ref()
                    .map(|b| format!(" (backup {b})"))
                    .unwrap_or_default()
            ),
        },
        Args::WmiOp(w) => match w.action {
            "login" => format!("WMI login to {}", or(&w.namespace)),
            "exec_query" => format!("WMI query {}", or(&w.query)),
            "delete_instance" => format!("WMI instance {} deleted", or(&w.object_path)),
            _ => format!(
                "WMI instance of {} written{}",
                or(&w.class),
                w.strings
                    .as_ref()
                    .and_then(|m| {
                        ["CommandLineTemplate", "ScriptText", "Query"]
                            .iter()
                            .find_map(|k| m.get(*k).map(|v| format!(": {v}")))
                    })
                    .unwrap_or_default()
            ),
        },
        _ => return None,
    })
}
