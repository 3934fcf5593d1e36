//! svcctl (MS-SCMR, interface 367abb81-9844-35f1-ad32-98f038001003): the request stubs of
//! the calls that create, repoint, start, open and delete services, and the handles their
//! responses return.
//!
//! Parameter lists, in wire order (MS-SCMR 3.1.4; `W` operations carry `wchar_t` strings,
//! `A` operations `char`):
//! * RCreateServiceW/A (12/24), RCreateServiceWOW64A/W (44/45), RCreateWowService (60, wide):
//!   `hSCManager` handle, `lpServiceName` [ref, string], `lpDisplayName` [unique, string],
//!   `dwDesiredAccess`, `dwServiceType`, `dwStartType`, `dwErrorControl`,
//!   `lpBinaryPathName` [ref, string], `lpLoadOrderGroup` [unique, string], `lpdwTagId`
//!   [unique] DWORD, `lpDependencies` [unique, size_is] bytes, `dwDependSize`,
//!   `lpServiceStartName` [unique, string], `lpPassword` [unique, size_is] bytes, `dwPwSize`
//!   (60 then has `dwServiceWowType`). Response: `lpdwTagId` [unique], the service handle,
//!   the return code.
//! * RChangeServiceConfigW/A (11/23): `hService`, `dwServiceType`, `dwStartType`,
//!   `dwErrorControl`, `lpBinaryPathName` [unique], `lpLoadOrderGroup` [unique],
//!   `lpdwTagId` [unique], `lpDependencies`, `dwDependSize`, `lpServiceStartName` [unique],
//!   `lpPassword`, `dwPwSize`, `lpDisplayName` [unique].
//! * RStartServiceW/A (19/31): `hService`, `argc`, `argv` [unique, size_is(argc)] array of
//!   structures holding one [string] pointer each (embedded: ids first, strings after).
//! * ROpenServiceW/A (16/28): `hSCManager`, `lpServiceName` [ref], `dwDesiredAccess`.
//!   Response: the service handle, the return code.
//! * ROpenSCManagerW/A (15/27): `lpMachineName` [unique], `lpDatabaseName` [unique],
//!   `dwDesiredAccess`. Response: the SCM handle, the return code.
//! * RDeleteService (2): `hService`.
//! * RControlService (1): `hService`, `dwControl`; RControlServiceExA/W (50/51):
//!   `hService`, `dwControl`, `dwInfoLevel`, ... (only the first two are read).
//!
//! Passwords are never output: only whether one was sent.

use super::ndr::{ContextHandle, Reader, Result};
use super::{ScmArgs, ServiceArgs, hex_handle};

pub const UUID: &str = "367abb81-9844-35f1-ad32-98f038001003";

pub const CONTROL_SERVICE: u16 = 1;
pub const DELETE_SERVICE: u16 = 2;
pub const CONTROL_SERVICE_EX_A: u16 = 50;
pub const CONTROL_SERVICE_EX_W: u16 = 51;
pub const CHANGE_SERVICE_CONFIG_W: u16 = 11;
pub const CREATE_SERVICE_W: u16 = 12;
pub const OPEN_SC_MANAGER_W: u16 = 15;
pub const OPEN_SERVICE_W: u16 = 16;
pub const START_SERVICE_W: u16 = 19;
pub const CHANGE_SERVICE_CONFIG_A: u16 = 23;
pub const CREATE_SERVICE_A: u16 = 24;
pub const OPEN_SC_MANAGER_A: u16 = 27;
pub const OPEN_SERVICE_A: u16 = 28;
pub const START_SERVICE_A: u16 = 31;
pub const CREATE_SERVICE_WOW64_A: u16 = 44;
pub const CREATE_SERVICE_WOW64_W: u16 = 45;
pub const CREATE_WOW_SERVICE: u16 = 60;

/// SERVICE_NO_CHANGE in ChangeServiceConfig.
pub const NO_CHANGE: u32 = 0xffff_ffff;

/// What a decoded svcctl request is.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Service(Box<ServiceArgs>),
    Scm(ScmArgs),
}

/// Which operations have a request decoder here, and whether they use wide strings.
pub fn op_kind(opnum: u16) -> Option<(Op, bool)> {
    Some(match opnum {
        CREATE_SERVICE_W | CREATE_SERVICE_WOW64_W | CREATE_WOW_SERVICE => (Op::Create, true),
        CREATE_SERVICE_A | CREATE_SERVICE_WOW64_A => (Op::Create, false),
        CHANGE_SERVICE_CONFIG_W => (Op::Change, true),
        CHANGE_SERVICE_CONFIG_A => (Op::Change, false),
        START_SERVICE_W => (Op::Start, true),
        START_SERVICE_A => (Op::Start, false),
        OPEN_SERVICE_W => (Op::Open, true),
        OPEN_SERVICE_A => (Op::Open, false),
        OPEN_SC_MANAGER_W => (Op::OpenScm, true),
        OPEN_SC_MANAGER_A => (Op::OpenScm, false),
        DELETE_SERVICE => (Op::Delete, true),
        CONTROL_SERVICE | CONTROL_SERVICE_EX_W => (Op::Control, true),
        CONTROL_SERVICE_EX_A => (Op::Control, false),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Change,
    Start,
    Open,
    OpenScm,
    Delete,
    Control,
}

/// Decode the request stub of `opnum` (None: no decoder for it).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<Request>> {
    let (op, wide) = op_kind(opnum)?;
    Some(match op {
        Op::Create => {
            create(r, wide, opnum == CREATE_WOW_SERVICE).map(|a| Request::Service(Box::new(a)))
        }
        Op::Change => change(r, wide).map(|a| Request::Service(Box::new(a))),
        Op::Start => start(r, wide).map(|a| Request::Service(Box::new(a))),
        Op::Open => open(r, wide).map(|a| Request::Service(Box::new(a))),
        Op::OpenScm => open_scm(r, wide).map(Request::Scm),
        Op::Delete => delete(r).map(|a| Request::Service(Box::new(a))),
        Op::Control => control(r).map(|a| Request::Service(Box::new(a))),
    })
}

fn control(r: &mut Reader<'_>) -> Result<ServiceArgs> {
    let h = r.context_handle()?;
    let c = r.u32()?;
    Ok(ServiceArgs {
        action: "control",
        control: Some(c),
        control_name: control_name(c),
        service_handle: Some(hex_handle(&h)),
        ..Default::default()
    })
}

/// SERVICE_CONTROL_* codes (MS-SCMR 3.1.4.2).
pub fn control_name(c: u32) -> Option<&'static str> {
    Some(match c {
        1 => "stop",
        2 => "pause",
        3 => "continue",
        4 => "interrogate",
        5 => "shutdown",
        6 => "paramchange",
        7 => "netbindadd",
        8 => "netbindremove",
        9 => "netbindenable",
        10 => "netbinddisable",
        _ => return None,
    })
}

fn create(r: &mut Reader<'_>, wide: bool, wow_type: bool) -> Result<ServiceArgs> {
    let scm = r.context_handle()?;
    let service_name = r.string(wide)?;
    let display_name = r.unique_string(wide)?;
    let desired_access = r.u32()?;
    let service_type = r.u32()?;
    let start_type = r.u32()?;
    let error_control = r.u32()?;
    let binary_path = r.string(wide)?;
    let load_order_group = r.unique_string(wide)?;
    if r.pointer()? != 0 {
        r.u32()?; // lpdwTagId
    }
    let _dependencies = r.unique_conformant_bytes()?;
    let _depend_size = r.u32()?;
    let account = r.unique_string(wide)?;
    let password = r.unique_conformant_bytes()?;
    let _pw_size = r.u32()?;
    if wow_type {
        r.u16()?; // dwServiceWowType
    }
    Ok(ServiceArgs {
        action: "create",
        service_name: Some(service_name),
        display_name,
        binary_path: Some(binary_path),
        service_type: Some(service_type),
        service_type_name: Some(service_type_name(service_type)),
        start_type: Some(start_type),
        start_type_name: start_type_name(start_type).map(str::to_string),
        error_control: Some(error_control),
        account,
        password_sent: Some(password.is_some_and(|p| !p.is_empty())),
        load_order_group,
        desired_access: Some(desired_access),
        scm_handle: Some(hex_handle(&scm)),
        ..Default::default()
    })
}

fn change(r: &mut Reader<'_>, wide: bool) -> Result<ServiceArgs> {
    let h = r.context_handle()?;
    let service_type = r.u32()?;
    let start_type = r.u32()?;
    let error_control = r.u32()?;
    let binary_path = r.unique_string(wide)?;
    let load_order_group = r.unique_string(wide)?;
    if r.pointer()? != 0 {
        r.u32()?;
    }
    let _dependencies = r.unique_conformant_bytes()?;
    let _depend_size = r.u32()?;
    let account = r.unique_string(wide)?;
    let password = r.unique_conformant_bytes()?;
    let _pw_size = r.u32()?;
    let display_name = r.unique_string(wide)?;
    let changed = |v: u32| (v != NO_CHANGE).then_some(v);
    Ok(ServiceArgs {
        action: "change_config",
        display_name,
        binary_path,
        service_type: changed(service_type),
        service_type_name: changed(service_type).map(service_type_name),
        start_type: changed(start_type),
        start_type_name: changed(start_type)
            .and_then(start_type_name)
            .map(str::to_string),
        error_control: changed(error_control),
        account,
        password_sent: Some(password.is_some_and(|p| !p.is_empty())),
        load_order_group,
        service_handle: Some(hex_handle(&h)),
        ..Default::default()
    })
}

fn start(r: &mut Reader<'_>, wide: bool) -> Result<ServiceArgs> {
    let h = r.context_handle()?;
    let argc = r.u32()?;
    let argv = if r.pointer()? != 0 {
        let ids = r.pointer_array()?;
        if ids.len() as u64 != argc as u64 {
            return Err(super::ndr::NdrError::Bad(
                r.pos(),
                "argv size differs from argc",
            ));
        }
        let v = r.deferred(&ids, |r| r.string(wide))?;
        v.into_iter().map(Option::unwrap_or_default).collect()
    } else {
        Vec::new()
    };
    Ok(ServiceArgs {
        action: "start",
        argv: Some(argv),
        service_handle: Some(hex_handle(&h)),
        ..Default::default()
    })
}

fn open(r: &mut Reader<'_>, wide: bool) -> Result<ServiceArgs> {
    let scm = r.context_handle()?;
    let name = r.string(wide)?;
    let desired_access = r.u32()?;
    Ok(ServiceArgs {
        action: "open",
        service_name: Some(name),
        desired_access: Some(desired_access),
        scm_handle: Some(hex_handle(&scm)),
        ..Default::default()
    })
}

fn open_scm(r: &mut Reader<'_>, wide: bool) -> Result<ScmArgs> {
    let machine_name = r.unique_string(wide)?;
    let database_name = r.unique_string(wide)?;
    let desired_access = r.u32()?;
    Ok(ScmArgs {
        machine_name,
        database_name,
        desired_access,
        scm_handle: None,
    })
}

fn delete(r: &mut Reader<'_>) -> Result<ServiceArgs> {
    let h = r.context_handle()?;
    Ok(ServiceArgs {
        action: "delete",
        service_handle: Some(hex_handle(&h)),
        ..Default::default()
    })
}

/// The handle a successful response returns (OpenSCManager, CreateService, OpenService):
/// None when the operation returns none, the return code is not 0, or the handle is all
/// zeros.
pub fn response_handle(opnum: u16, r: &mut Reader<'_>) -> Result<Option<ContextHandle>> {
    let Some((op, _)) = op_kind(opnum) else {
        return Ok(None);
    };
    match op {
        Op::Create => {
            if r.pointer()? != 0 {
                r.u32()?;
            }
        }
        Op::Open | Op::OpenScm => {}
        _ => return Ok(None),
    }
    let h = r.context_handle()?;
    let status = r.u32()?;
    Ok((status == 0 && h != [0u8; 20]).then_some(h))
}

/// SERVICE_* start types (MS-SCMR 2.2.15 / 3.1.4.12).
pub fn start_type_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0 => "boot_start",
        1 => "system_start",
        2 => "auto_start",
        3 => "demand_start",
        4 => "disabled",
        _ => return None,
    })
}

/// SERVICE_* type bits, joined with `|`; unknown bits as hex.
pub fn service_type_name(v: u32) -> String {
    const BITS: [(u32, &str); 7] = [
        (0x0000_0001, "kernel_driver"),
        (0x0000_0002, "file_system_driver"),
        (0x0000_0010, "win32_own_process"),
        (0x0000_0020, "win32_share_process"),
        (0x0000_0040, "user_service"),
        (0x0000_0080, "userservice_instance"),
        (0x0000_0100, "interactive_process"),
    ];
    let mut parts: Vec<String> = super::bit_names(v, &BITS)
        .into_iter()
        .map(str::to_string)
        .collect();
    let rest = BITS.iter().fold(v, |acc, (b, _)| acc & !b);
    if rest != 0 {
        parts.push(format!("0x{rest:x}"));
    }
    parts.join("|")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::NdrError;
    use super::super::ndr::build::Stub;
    use super::*;

    pub const SCM: [u8; 20] = [
        0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
        0xee, 0xff, 0x01,
    ];
    pub const SVC: [u8; 20] = [
        0, 0, 0, 0, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
        0x42, 0x42, 0x07,
    ];

    /// RCreateService* request as a client sends it.
    pub fn create_stub(
        le: bool,
        wide: bool,
        name: &str,
        path: &str,
        account: Option<&str>,
    ) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.handle(&SCM)
            .str(wide, name)
            .ustr(wide, Some(name))
            .u32(0x000f_01ff)
            .u32(0x10)
            .u32(3)
            .u32(0)
            .str(wide, path)
            .ustr(wide, None)
            .null()
            .null()
            .u32(0)
            .ustr(wide, account)
            .null()
            .u32(0);
        s.done()
    }

    fn decode(opnum: u16, stub: &[u8], le: bool) -> Result<Request> {
        let mut r = Reader::new(stub, le);
        decode_request(opnum, &mut r).expect("has a decoder")
    }

    #[test]
    fn create_service_all_variants_both_orders() {
        for le in [true, false] {
            for (op, wide) in [(12, true), (24, false), (44, false), (45, true)] {
                let stub = create_stub(le, wide, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe", None);
                let Ok(Request::Service(a)) = decode(op, &stub, le) else {
                    panic!("op {op} le {le}: not decoded")
                };
                assert_eq!(a.service_name.as_deref(), Some("PSEXESVC"));
                assert_eq!(a.display_name.as_deref(), Some("PSEXESVC"));
                assert_eq!(a.binary_path.as_deref(), Some("%SystemRoot%\\PSEXESVC.exe"));
                assert_eq!(a.service_type, Some(0x10));
                assert_eq!(a.service_type_name.as_deref(), Some("win32_own_process"));
                assert_eq!(a.start_type_name.as_deref(), Some("demand_start"));
                assert_eq!(a.account, None);
                assert_eq!(a.password_sent, Some(false));
                assert_eq!(a.scm_handle.as_deref(), Some(hex_handle(&SCM).as_str()));
            }
        }
    }

    #[test]
    fn create_service_with_account_password_and_tag() {
        let mut s = Stub::new(true);
        s.handle(&SCM)
            .wstr("svc")
            .null()
            .u32(0xf01ff)
            .u32(0x110)
            .u32(2)
            .u32(1)
            .wstr("C:\\x.exe")
            .ustr(true, Some("grp"))
            .ptr()
            .u32(9)
            .ptr()
            .u32(4)
            .raw(b"a\0\0\0")
            .u32(4)
            .ustr(true, Some(".\\admin"))
            .ptr()
            .u32(6)
            .raw(b"secret")
            .u32(6);
        let Ok(Request::Service(a)) = decode(12, &s.done(), true) else {
            panic!()
        };
        assert_eq!(a.display_name, None);
        assert_eq!(a.account.as_deref(), Some(".\\admin"));
        assert_eq!(a.password_sent, Some(true));
        assert_eq!(a.load_order_group.as_deref(), Some("grp"));
        assert_eq!(
            a.service_type_name.as_deref(),
            Some("win32_own_process|interactive_process")
        );
        assert_eq!(a.start_type_name.as_deref(), Some("auto_start"));
    }

    #[test]
    fn create_wow_service_has_trailing_wow_type() {
        let mut stub = create_stub(true, true, "s", "p", None);
        // Without dwServiceWowType the stub is one field short.
        assert!(matches!(decode(60, &stub, true), Err(NdrError::Short(_))));
        stub.extend_from_slice(&[0x4c, 0x01]);
        assert!(decode(60, &stub, true).is_ok());
    }

    #[test]
    fn change_service_config_both_orders() {
        for le in [true, false] {
            for (op, wide) in [(11, true), (23, false)] {
                let mut s = Stub::new(le);
                s.handle(&SVC)
                    .u32(NO_CHANGE)
                    .u32(3)
                    .u32(NO_CHANGE)
                    .ustr(wide, Some("cmd.exe /c evil"))
                    .null()
                    .null()
                    .null()
                    .u32(0)
                    .null()
                    .null()
                    .u32(0)
                    .null();
                let Ok(Request::Service(a)) = decode(op, &s.done(), le) else {
                    panic!()
                };
                assert_eq!(a.binary_path.as_deref(), Some("cmd.exe /c evil"));
                assert_eq!(a.service_type, None);
                assert_eq!(a.start_type, Some(3));
                assert_eq!(a.service_handle.as_deref(), Some(hex_handle(&SVC).as_str()));
            }
        }
    }

    pub fn start_stub(le: bool, wide: bool, args: &[&str]) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.handle(&SVC).u32(args.len() as u32);
        if args.is_empty() {
            s.null();
        } else {
            s.ptr().u32(args.len() as u32);
            for _ in args {
                s.ptr();
            }
            for a in args {
                s.str(wide, a);
            }
        }
        s.done()
    }

    #[test]
    fn start_service_argv_both_orders() {
        for le in [true, false] {
            for (op, wide) in [(19, true), (31, false)] {
                let Ok(Request::Service(a)) = decode(op, &start_stub(le, wide, &["-k", "x y"]), le)
                else {
                    panic!()
                };
                assert_eq!(a.argv, Some(vec!["-k".to_string(), "x y".to_string()]));
                let Ok(Request::Service(a)) = decode(op, &start_stub(le, wide, &[]), le) else {
                    panic!()
                };
                assert_eq!(a.argv, Some(vec![]));
            }
        }
        // argv size must equal argc.
        let mut stub = start_stub(true, true, &["a"]);
        stub[20] = 2;
        assert!(matches!(decode(19, &stub, true), Err(NdrError::Bad(..))));
    }

    #[test]
    fn open_service_and_scm_and_delete() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.handle(&SCM).wstr("PSEXESVC").u32(0xf01ff);
            let Ok(Request::Service(a)) = decode(16, &s.done(), le) else {
                panic!()
            };
            assert_eq!(a.service_name.as_deref(), Some("PSEXESVC"));
            let mut s = Stub::new(le);
            s.ustr(false, Some("\\\\10.0.0.2")).null().u32(0xf003f);
            let Ok(Request::Scm(m)) = decode(27, &s.done(), le) else {
                panic!()
            };
            assert_eq!(m.machine_name.as_deref(), Some("\\\\10.0.0.2"));
            assert_eq!(m.database_name, None);
            assert_eq!(m.desired_access, 0xf003f);
            let mut s = Stub::new(le);
            s.handle(&SVC);
            let Ok(Request::Service(a)) = decode(2, &s.done(), le) else {
                panic!()
            };
            assert_eq!(a.service_handle.as_deref(), Some(hex_handle(&SVC).as_str()));
        }
    }

    #[test]
    fn control_service_both_orders() {
        for le in [true, false] {
            for op in [1, 50, 51] {
                let mut s = Stub::new(le);
                s.handle(&SVC).u32(1).u32(1).null();
                let Ok(Request::Service(a)) = decode(op, &s.done(), le) else {
                    panic!()
                };
                assert_eq!(
                    (a.action, a.control, a.control_name),
                    ("control", Some(1), Some("stop"))
                );
                assert_eq!(a.service_handle.as_deref(), Some(hex_handle(&SVC).as_str()));
            }
        }
    }

    #[test]
    fn responses_give_handles() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.null().handle(&SVC).u32(0);
            let b = s.done();
            assert_eq!(response_handle(12, &mut Reader::new(&b, le)), Ok(Some(SVC)));
            let mut s = Stub::new(le);
            s.ptr().u32(3).handle(&SVC).u32(0);
            let b = s.done();
            assert_eq!(response_handle(45, &mut Reader::new(&b, le)), Ok(Some(SVC)));
            let mut s = Stub::new(le);
            s.handle(&SVC).u32(0);
            let b = s.done();
            assert_eq!(response_handle(16, &mut Reader::new(&b, le)), Ok(Some(SVC)));
            // Failed call: ERROR_SERVICE_EXISTS.
            let mut s = Stub::new(le);
            s.handle(&[0; 20]).u32(1073);
            let b = s.done();
            assert_eq!(response_handle(16, &mut Reader::new(&b, le)), Ok(None));
            assert_eq!(response_handle(19, &mut Reader::new(&b, le)), Ok(None));
        }
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        for le in [true, false] {
            let stub = create_stub(
                le,
                true,
                "PSEXESVC",
                "C:\\Windows\\PSEXESVC.exe",
                Some("LocalSystem"),
            );
            assert!(decode(12, &stub, le).is_ok());
            for n in 0..stub.len() {
                assert!(decode(12, &stub[..n], le).is_err(), "cut at {n}");
            }
            let stub = start_stub(le, true, &["a", "b"]);
            for n in 0..stub.len() {
                assert!(decode(19, &stub[..n], le).is_err(), "cut at {n}");
            }
        }
    }
}
