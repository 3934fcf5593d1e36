//! What was executed: the arguments of remote-execution calls, decoded from the NDR 2.0
//! request stubs (svcctl, atsvc, ITaskSchedulerService, IWbemServices), and the identity
//! the caller authenticated as.
//!
//! * [`ndr`]: the bounded NDR reader every decoder uses.
//! * [`svcctl`], [`atsvc`], [`tsch`] (with [`xml`]), [`wmi`]: one decoder per interface.
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
pub mod ndr;
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

/// Lower-case hex of a context handle.
pub fn hex_handle(h: &ContextHandle) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Interfaces with a decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iface {
    Svcctl,
    Atsvc,
    Tsch,
    Wbem,
}

const SVCCTL: Uuid = match Uuid::parse(svcctl::UUID) {
    Some(u) => u,
    None => panic!("bad uuid"),
};
const ATSVC: Uuid = match Uuid::parse(atsvc::UUID) {
    Some(u) => u,
    None => panic!("bad uuid"),
};
const TSCH: Uuid = match Uuid::parse(tsch::UUID) {
    Some(u) => u,
    None => panic!("bad uuid"),
};
const WBEM: Uuid = match Uuid::parse(wmi::UUID) {
    Some(u) => u,
    None => panic!("bad uuid"),
};

/// The decoder family of an interface UUID.
pub fn iface(uuid: &Uuid) -> Option<Iface> {
    Some(match *uuid {
        u if u == SVCCTL => Iface::Svcctl,
        u if u == ATSVC => Iface::Atsvc,
        u if u == TSCH => Iface::Tsch,
        u if u == WBEM => Iface::Wbem,
        _ => return None,
    })
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
        Some(Iface::Wbem) => matches!(opnum, wmi::EXEC_METHOD | wmi::EXEC_METHOD_ASYNC),
        None => false,
    }
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
        Iface::Wbem => wmi::decode_request(opnum, &mut r).map(|x| x.map(Args::Wmi)),
    }
}

/// Result of decoding one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub args: Option<Args>,
    pub status: ArgsStatus,
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
    map: FastMap<LinkKey, LinkedService>,
    order: std::collections::VecDeque<LinkKey>,
}

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
        if self.map.insert(key.clone(), fresh).is_none() {
            self.order.push_back(key);
            if self.order.len() > MAX_LINKED_SERVICES
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
        }
    }

    fn set_binary(&mut self, key: LinkKey, binary_path: Option<String>) {
        match self.map.get_mut(&key) {
            Some(l) => l.binary_path = binary_path,
            None => self.insert(key, binary_path, None),
        }
    }

    fn get(&self, key: &LinkKey) -> Option<&LinkedService> {
        self.map.get(key)
    }
}

/// Per-association decoding state: the service handles seen so far.
#[derive(Debug, Default)]
pub struct Tracker {
    handles: FastMap<ContextHandle, HandleInfo>,
    order: std::collections::VecDeque<ContextHandle>,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    fn remember(&mut self, h: ContextHandle, info: HandleInfo) {
        if self.handles.insert(h, info).is_none() {
            self.order.push_back(h);
            if self.order.len() > MAX_HANDLES
                && let Some(old) = self.order.pop_front()
            {
                self.handles.remove(&old);
            }
        }
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
        let status = |s| Decoded {
            args: None,
            status: s,
        };
        let Some(uuid) = c.uuid else {
            return status(ArgsStatus::NoBind);
        };
        if !has_decoder(&uuid, c.opnum) {
            return status(ArgsStatus::NoDecoder);
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
        if let Args::Scm(m) = &mut args
            && let Some(h) = self.response_handle(c)
        {
            m.scm_handle = Some(hex_handle(&h));
        }
        Decoded {
            args: Some(args),
            status: ArgsStatus::Decoded,
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
            svcctl::Op::Start | svcctl::Op::Change | svcctl::Op::Delete => {
                let Some(h) = s.service_handle.as_deref() else {
                    return;
                };
                let key = self.handles.keys().find(|k| hex_handle(k) == h).copied();
                let Some(info) = key.and_then(|k| self.handles.get_mut(&k)) else {
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
        }
    }
}

/// Decode the calls of one association (in request order) and attach the association's
/// identity, all at once (the engine uses an [`Annotator`] as calls finish).
pub fn annotate(calls: Vec<Call>, log: &who::WhoLog) -> Vec<(Call, Annotation)> {
    let mut t = Tracker::new();
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| (calls[i].ts, calls[i].call_id));
    let mut notes: Vec<Option<Annotation>> = vec![None; calls.len()];
    for i in order {
        let c = &calls[i];
        let d = t.decode(c);
        let dce_auth = c.auth_type.and_then(|_| log.at(c.ts).cloned());
        notes[i] = Some(Annotation {
            args: d.args.map(Box::new),
            status: d.status,
            dce_auth,
        });
    }
    calls
        .into_iter()
        .zip(notes)
        .map(|(c, n)| {
            let n = n.unwrap_or(Annotation {
                args: None,
                status: ArgsStatus::NoDecoder,
                dce_auth: None,
            });
            (c, n)
        })
        .collect()
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
    }
}

#[cfg(test)]
mod tests;
