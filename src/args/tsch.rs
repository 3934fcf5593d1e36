//! ITaskSchedulerService (MS-TSCH 3.2.5.4, interface 86d35949-83c9-4044-b424-db363231fd0c).
//!
//! * SchRpcRegisterTask (1): `path` [unique, string], `xml` [string] (ref), `flags`,
//!   `sddl` [unique, string], `logonType`, `cCreds`, `pCreds` [unique, size_is(cCreds)]
//!   array of `TASK_USER_CRED { [string] userId; [string] password; DWORD flags; }` (the
//!   strings are embedded pointers: ids in the array, strings after it).
//! * SchRpcRun (12): `path` [string], `cArgs`, `pArgs` [unique, size_is(cArgs), string]
//!   array of string pointers, `flags`, `sessionId`, `user` [unique, string].
//! * SchRpcDelete (13): `path` [string], `flags`.
//! * SchRpcEnableTask (19): `path` [string], `enabled`.
//!
//! The task XML is scanned by [`super::xml::scan_task`]. Passwords are never output.

use super::TaskArgs;
use super::ndr::{NdrError, Reader, Result};
use super::xml::scan_task;

pub const UUID: &str = "86d35949-83c9-4044-b424-db363231fd0c";
pub const REGISTER_TASK: u16 = 1;
pub const RUN: u16 = 12;
pub const DELETE: u16 = 13;
pub const ENABLE_TASK: u16 = 19;

/// Decode the request of a supported operation (None for others).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<TaskArgs>> {
    Some(match opnum {
        REGISTER_TASK => register(r),
        RUN => run(r),
        DELETE => delete(r),
        ENABLE_TASK => enable(r),
        _ => return None,
    })
}

/// TASK_LOGON_TYPE (MS-TSCH 2.3.9).
pub fn logon_type_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0 => "none",
        1 => "password",
        2 => "s4u",
        3 => "interactive_token",
        4 => "group",
        5 => "service_account",
        6 => "interactive_token_or_password",
        _ => return None,
    })
}

fn register(r: &mut Reader<'_>) -> Result<TaskArgs> {
    let path = r.unique_string(true)?;
    let xml = r.wstring()?;
    let flags = r.u32()?;
    let sddl = r.unique_string(true)?;
    let logon_type = r.u32()?;
    let c_creds = r.u32()?;
    let mut cred_users = Vec::new();
    if r.pointer()? != 0 {
        let at = r.pos();
        let n = r.count()?;
        if n != u64::from(c_creds) {
            return Err(NdrError::Bad(at, "pCreds size differs from cCreds"));
        }
        let n = r.check_count(n, if r.is_ndr64() { 24 } else { 12 })?;
        if n > super::ndr::MAX_ARRAY {
            return Err(NdrError::TooLong(at, "credentials"));
        }
        let mut ids = Vec::with_capacity(n * 2);
        for _ in 0..n {
            ids.push(r.pointer()?);
            ids.push(r.pointer()?);
            r.u32()?;
        }
        let v = r.deferred(&ids, |r| r.wstring())?;
        // Even entries are user ids, odd ones passwords (read past, never kept).
        cred_users = v.into_iter().step_by(2).flatten().collect();
    }
    let t = scan_task(&xml);
    Ok(TaskArgs {
        action: "register",
        path,
        flags: Some(flags),
        logon_type: Some(logon_type),
        logon_type_name: logon_type_name(logon_type),
        sddl,
        credential_users: Some(cred_users),
        xml_chars: Some(xml.chars().count()),
        actions: Some(t.actions),
        other_actions: Some(t.other_actions).filter(|v| !v.is_empty()),
        user_id: t.user_id,
        group_id: t.group_id,
        principal_logon_type: t.logon_type,
        run_level: t.run_level,
        triggers: Some(t.triggers),
        hidden: t.hidden,
        ..Default::default()
    })
}

fn run(r: &mut Reader<'_>) -> Result<TaskArgs> {
    let path = r.wstring()?;
    let c_args = r.u32()?;
    let args = if r.pointer()? != 0 {
        let ids = r.pointer_array()?;
        if ids.len() as u64 != c_args as u64 {
            return Err(NdrError::Bad(r.pos(), "pArgs size differs from cArgs"));
        }
        r.deferred(&ids, |r| r.wstring())?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    } else {
        Vec::new()
    };
    let flags = r.u32()?;
    let session_id = r.u32()?;
    let user = r.unique_string(true)?;
    Ok(TaskArgs {
        action: "run",
        path: Some(path),
        args: Some(args),
        flags: Some(flags),
        session_id: Some(session_id),
        run_as: user,
        ..Default::default()
    })
}

fn delete(r: &mut Reader<'_>) -> Result<TaskArgs> {
    let path = r.wstring()?;
    let flags = r.u32()?;
    Ok(TaskArgs {
        action: "delete",
        path: Some(path),
        flags: Some(flags),
        ..Default::default()
    })
}

fn enable(r: &mut Reader<'_>) -> Result<TaskArgs> {
    let path = r.wstring()?;
    let enabled = r.u32()?;
    Ok(TaskArgs {
        action: "enable",
        path: Some(path),
        enabled: Some(enabled != 0),
        ..Default::default()
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::Stub;
    use super::*;

    pub fn task_xml(command: &str, arguments: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<Task version=\"1.2\" \
             xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\"><Triggers>\
             <CalendarTrigger><StartBoundary>2015-07-15T20:35:13</StartBoundary>\
             </CalendarTrigger></Triggers><Principals><Principal id=\"LocalSystem\">\
             <UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal>\
             </Principals><Actions Context=\"LocalSystem\"><Exec><Command>{command}</Command>\
             <Arguments>{arguments}</Arguments></Exec></Actions></Task>"
        )
    }

    pub fn register_stub(le: bool, path: &str, xml: &str, creds: &[(&str, &str)]) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.ptr()
            .wstr(path)
            .wstr(xml)
            .u32(6)
            .null()
            .u32(3)
            .u32(creds.len() as u32);
        if creds.is_empty() {
            s.null();
        } else {
            s.ptr().u32(creds.len() as u32);
            for _ in creds {
                s.ptr().ptr().u32(0);
            }
            for (u, p) in creds {
                s.wstr(u).wstr(p);
            }
        }
        s.done()
    }

    fn decode(op: u16, b: &[u8], le: bool) -> Result<TaskArgs> {
        decode_request(op, &mut Reader::new(b, le)).expect("decoder")
    }

    #[test]
    fn register_task_both_orders() {
        for le in [true, false] {
            let xml = task_xml(
                "cmd.exe",
                "/C whoami &gt; %windir%\\Temp\\a.tmp 2&gt;&amp;1",
            );
            let b = register_stub(le, "\\qGmKlIOp", &xml, &[("CORP\\admin", "hunter2")]);
            let t = decode(1, &b, le).expect("decoded");
            assert_eq!(t.path.as_deref(), Some("\\qGmKlIOp"));
            assert_eq!(t.flags, Some(6));
            assert_eq!(t.logon_type_name, Some("interactive_token"));
            let a = t.actions.clone().expect("actions");
            assert_eq!(a[0].command, "cmd.exe");
            assert_eq!(
                a[0].arguments.as_deref(),
                Some("/C whoami > %windir%\\Temp\\a.tmp 2>&1")
            );
            assert_eq!(t.user_id.as_deref(), Some("S-1-5-18"));
            assert_eq!(t.triggers, Some(vec!["CalendarTrigger".to_string()]));
            assert_eq!(t.credential_users, Some(vec!["CORP\\admin".to_string()]));
            assert!(!format!("{t:?}").contains("hunter2"));
            let b = register_stub(le, "\\x", &xml, &[]);
            assert_eq!(
                decode(1, &b, le).expect("decoded").credential_users,
                Some(vec![])
            );
        }
    }

    #[test]
    fn run_delete_enable_both_orders() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.wstr("\\Microsoft\\x")
                .u32(2)
                .ptr()
                .u32(2)
                .ptr()
                .ptr()
                .wstr("a1")
                .wstr("a2")
                .u32(0)
                .u32(1)
                .ustr(true, Some("bob"));
            let t = decode(12, &s.done(), le).expect("run");
            assert_eq!(t.path.as_deref(), Some("\\Microsoft\\x"));
            assert_eq!(t.args, Some(vec!["a1".to_string(), "a2".to_string()]));
            assert_eq!(t.session_id, Some(1));
            assert_eq!(t.run_as.as_deref(), Some("bob"));
            let mut s = Stub::new(le);
            s.wstr("\\t").u32(0);
            assert_eq!(
                decode(13, &s.done(), le).expect("del").path.as_deref(),
                Some("\\t")
            );
            let mut s = Stub::new(le);
            s.wstr("\\t").u32(1);
            assert_eq!(decode(19, &s.done(), le).expect("en").enabled, Some(true));
        }
    }

    #[test]
    fn truncations_and_lies() {
        let xml = task_xml("c", "d");
        let b = register_stub(true, "\\p", &xml, &[("u", "p")]);
        for n in 0..b.len() {
            assert!(decode(1, &b[..n], true).is_err(), "cut at {n}");
        }
        // cCreds says 2, the array says 1.
        let mut s = Stub::new(true);
        s.ptr()
            .wstr("\\p")
            .wstr("<Task/>")
            .u32(0)
            .null()
            .u32(3)
            .u32(2)
            .ptr()
            .u32(1);
        assert!(matches!(decode(1, &s.done(), true), Err(NdrError::Bad(..))));
    }
}
