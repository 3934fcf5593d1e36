//! Event logs: MS-EVEN `eventlog` (82273fdc-e32a-18c3-3f78-827929dc23ea) and MS-EVEN6
//! `IEventService` (f6beaff7-1e19-4fbb-9f8f-b89e2018337c). Log handles are linked to the
//! log name they were opened with, so ElfrClearELFW says which log was cleared.
//!
//! Request parameters, in wire order:
//! * ElfrOpenELW (7) / ElfrOpenELA (14): `[unique] EVENTLOG_HANDLE_W UNCServerName`,
//!   `RPC_UNICODE_STRING ModuleName` (the log), `RegModuleName`, `MajorVersion`,
//!   `MinorVersion` (MS-EVEN 3.1.4.3/.4; the A forms carry 8-bit `RPC_STRING`s).
//! * ElfrOpenBELW (9) / ElfrOpenBELA (16): `UNCServerName`, `BackupFileName`, versions:
//!   an NT path the server opens, `\??\UNC\host\...` makes it authenticate to `host`
//!   (CheeseOunce); decoded as a coercion.
//! * ElfrClearELFW (0) / ElfrClearELFA (12): `IELF_HANDLE LogHandle`, `[unique]
//!   BackupFileName`.
//! * EvtRpcClearLog (6): `PCONTEXT_HANDLE_OPERATION_CONTROL control`, `[string]
//!   channelPath`, `[unique, string] backupPath`, `flags` (MS-EVEN6 3.1.4.16).
//! * EvtRpcPutChannelConfig (21): `[string] channelPath`, `flags`, `EvtRpcVariantList*
//!   props` (`count`, `[size_is(count)] EvtRpcVariant* props`); property 0 is `Enabled`
//!   (a boolean). `EvtRpcVariant` is `type` (a v1_enum), `flags`, then a union on `type`
//!   aligned to 8 (MS-EVEN6 2.2.7, 3.1.4.22).
//!
//! `EVENTLOG_HANDLE_W` is a `[unique] wchar_t*`: Windows sends a pointer to one character,
//! Impacket-based tools a whole string; both are accepted.

use super::coerce::CoercionArgs;
use super::ndr::{ContextHandle, NdrError, Reader, Result};
use serde::Serialize;

pub const UUID: &str = "82273fdc-e32a-18c3-3f78-827929dc23ea";
pub const UUID_EVEN6: &str = "f6beaff7-1e19-4fbb-9f8f-b89e2018337c";
pub const EVEN_OPNUMS: [u16; 6] = [0, 7, 9, 12, 14, 16];
pub const EVEN6_OPNUMS: [u16; 2] = [6, 21];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventLogArgs {
    /// `open`, `clear`, `clear_channel` or `put_channel_config`.
    pub action: &'static str,
    /// The log or channel (`Security`, `Microsoft-Windows-Sysmon/Operational`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    /// `request` (named in the call) or `handle` (from the open call that returned it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_name_from: Option<&'static str>,
    /// A backup written before clearing (null: cleared without a copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_file: Option<String>,
    /// EvtRpcPutChannelConfig: the channel's new `Enabled` property.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
    /// The log handle passed (linking only).
    #[serde(skip)]
    pub handle: Option<ContextHandle>,
}

/// What one request decodes to: an event-log call, or ElfrOpenBEL as a coercion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Log(EventLogArgs),
    Coercion(CoercionArgs),
}

/// Decode one eventlog (`even6 == false`) or IEventService request.
pub fn decode_request(even6: bool, opnum: u16, r: &mut Reader<'_>) -> Option<Result<Request>> {
    let known = if even6 {
        EVEN6_OPNUMS.contains(&opnum)
    } else {
        EVEN_OPNUMS.contains(&opnum)
    };
    known.then(|| {
        if even6 {
            even6_request(opnum, r).map(Request::Log)
        } else {
            even_request(opnum, r)
        }
    })
}

fn even_request(opnum: u16, r: &mut Reader<'_>) -> Result<Request> {
    let wide = matches!(opnum, 0 | 7 | 9);
    let counted = |r: &mut Reader<'_>| {
        if wide {
            r.unicode_string()
        } else {
            r.ansi_counted_string()
        }
    };
    Ok(match opnum {
        0 | 12 => {
            let h = r.context_handle()?;
            let backup = if r.pointer()? != 0 { counted(r)? } else { None };
            Request::Log(EventLogArgs {
                action: "clear",
                backup_file: backup,
                handle: Some(h),
                ..Default::default()
            })
        }
        _ => {
            server_name(r, wide)?;
            let name = counted(r)?;
            if matches!(opnum, 9 | 16) {
                r.u32()?;
                r.u32()?;
                Request::Coercion(CoercionArgs::new("MS-EVEN", "BackupFileName", name))
            } else {
                counted(r)?; // RegModuleName
                r.u32()?;
                r.u32()?;
                Request::Log(EventLogArgs {
                    action: "open",
                    log_name: name,
                    log_name_from: Some("request"),
                    ..Default::default()
                })
            }
        }
    })
}

/// `[unique] EVENTLOG_HANDLE_W/A`: a pointer to one character (Windows) or to a whole
/// string (Impacket). The string form is tried first and kept only when the counted
/// string after it reads too.
fn server_name(r: &mut Reader<'_>, wide: bool) -> Result<()> {
    if r.pointer()? == 0 {
        return Ok(());
    }
    let mut t = r.clone();
    let as_string = t.string(wide).and_then(|_| {
        let mut u = t.clone();
        u.counted_string_header().map(|_| ())
    });
    if as_string.is_ok() {
        *r = t;
        return Ok(());
    }
    if wide {
        r.u16()?;
    } else {
        r.u8()?;
    }
    Ok(())
}

fn even6_request(opnum: u16, r: &mut Reader<'_>) -> Result<EventLogArgs> {
    if opnum == 6 {
        r.context_handle()?;
        let channel = r.wstring()?;
        // backupPath: [unique, string] per MS-EVEN6; Impacket sends it inline.
        let mut t = r.clone();
        let backup = match t.unique_string(true).and_then(|b| t.u32().map(|_| b)) {
            Ok(b) => {
                *r = t;
                b
            }
            Err(_) => {
                let b = r.wstring()?;
                r.u32()?;
                (!b.is_empty()).then_some(b)
            }
        };
        return Ok(EventLogArgs {
            action: "clear_channel",
            log_name: Some(channel),
            log_name_from: Some("request"),
            backup_file: backup,
            ..Default::default()
        });
    }
    let channel = r.wstring()?;
    let _flags = r.u32()?;
    let count = r.u32()?;
    let mut a = EventLogArgs {
        action: "put_channel_config",
        log_name: Some(channel),
        log_name_from: Some("request"),
        properties: Some(count),
        ..Default::default()
    };
    if r.pointer()? != 0 && count > 0 {
        let at = r.pos();
        let n = r.count()?;
        if n != u64::from(count) {
            return Err(NdrError::Bad(at, "EvtRpcVariantList count"));
        }
        r.align(8)?;
        let t = r.u32()?;
        let _flags = r.u32()?;
        let disc = r.u32()?;
        if disc != t {
            return Err(NdrError::Bad(r.pos(), "EvtRpcVariant discriminant"));
        }
        r.align(8)?;
        if t == 1 {
            a.enabled = Some(r.u8()? != 0);
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    const LOG: [u8; 20] = [
        0, 0, 0, 0, 0x4c, 0x4f, 0x47, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    ];

    fn even(op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<Request> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(false, op, &mut r).expect("decoder")
    }

    fn even6(op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<Request> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(true, op, &mut r).expect("decoder")
    }

    #[test]
    fn open_and_clear_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            // Windows: a pointer to one character.
            let mut s = Stub::of(le, ndr64);
            s.ptr()
                .u16(0x5c)
                .ustring("Security")
                .ustring("")
                .u32(1)
                .u32(1);
            let Ok(Request::Log(a)) = even(7, &s.done(), le, ndr64) else {
                panic!()
            };
            assert_eq!(a.log_name.as_deref(), Some("Security"));
            // Impacket: a whole string.
            let mut s = Stub::of(le, ndr64);
            s.ustr(true, Some("\\\\dc1"))
                .ustring("System")
                .ustring("")
                .u32(1)
                .u32(1);
            let Ok(Request::Log(a)) = even(7, &s.done(), le, ndr64) else {
                panic!()
            };
            assert_eq!(a.log_name.as_deref(), Some("System"));
            let mut s = Stub::of(le, ndr64);
            s.handle(&LOG).null();
            let Ok(Request::Log(a)) = even(0, &s.done(), le, ndr64) else {
                panic!()
            };
            assert_eq!(
                (a.action, a.handle, a.backup_file),
                ("clear", Some(LOG), None)
            );
            let mut s = Stub::of(le, ndr64);
            s.null()
                .ustring("\\??\\UNC\\10.0.0.99\\share\\x.evt")
                .u32(1)
                .u32(1);
            let Ok(Request::Coercion(c)) = even(9, &s.done(), le, ndr64) else {
                panic!()
            };
            assert_eq!(c.listener.as_deref(), Some("10.0.0.99"));
            assert_eq!(c.parameter, "BackupFileName");
        }
    }

    #[test]
    fn even6_clear_and_disable() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.handle(&LOG).wstr("Security").null().u32(0);
            let Ok(Request::Log(a)) = even6(6, &s.done(), le, false) else {
                panic!()
            };
            assert_eq!(
                (a.action, a.log_name.as_deref()),
                ("clear_channel", Some("Security"))
            );
            // Impacket's inline backup path.
            let mut s = Stub::new(le);
            s.handle(&LOG).wstr("Application").wstr("").u32(0);
            let Ok(Request::Log(a)) = even6(6, &s.done(), le, false) else {
                panic!()
            };
            assert_eq!(a.log_name.as_deref(), Some("Application"));
            let mut s = Stub::new(le);
            s.wstr("Microsoft-Windows-Sysmon/Operational")
                .u32(0)
                .u32(1)
                .ptr()
                .u32(1);
            s.align(8).u32(1).u32(0).u32(1).align(8).u8(0);
            let Ok(Request::Log(a)) = even6(21, &s.done(), le, false) else {
                panic!()
            };
            assert_eq!(a.enabled, Some(false));
            assert_eq!(
                a.log_name.as_deref(),
                Some("Microsoft-Windows-Sysmon/Operational")
            );
        }
        assert!(decode_request(true, 5, &mut Reader::new(&[], true)).is_none());
        assert!(decode_request(false, 1, &mut Reader::new(&[], true)).is_none());
    }
}
