//! MS-RRP `winreg` (338cd001-2244-31f1-aaaa-900038001003): remote registry. The key path
//! travels only in the calls that open or create a key, so the others are linked to it
//! through the key handle (see [`super::Tracker`]): a BaseRegSaveKey on the handle of
//! `HKLM\SAM` is a SAM hive dump, a BaseRegSetValue on the handle of `...\Run` is
//! persistence.
//!
//! Request parameters, in wire order (MS-RRP 3.1.5; `RRP_UNICODE_STRING` is a counted
//! UTF-16 string: `Length`, `MaximumLength`, a buffer pointer, then the buffer):
//! * OpenClassesRoot (0), OpenCurrentUser (1), OpenLocalMachine (2), OpenPerformanceData
//!   (3), OpenUsers (4), OpenCurrentConfig (27), OpenPerformanceText (32),
//!   OpenPerformanceNlsText (33): `[unique] PREGISTRY_SERVER_NAME ServerName` (a pointer
//!   to one WCHAR), `REGSAM samDesired`. The response returns the hive's handle.
//! * BaseRegCreateKey (6): `hKey`, `lpSubKey`, `lpClass`, `dwOptions`, `samDesired`, ...;
//!   BaseRegOpenKey (15): `hKey`, `lpSubKey`, `dwOptions`, `samDesired`. The response
//!   returns the new key's handle.
//! * BaseRegDeleteKey (7), BaseRegDeleteKeyEx (35): `hKey`, `lpSubKey`, ...;
//!   BaseRegDeleteValue (8): `hKey`, `lpValueName`.
//! * BaseRegLoadKey (13): `hKey`, `lpSubKey`, `lpFile`; BaseRegReplaceKey (18): `hKey`,
//!   `lpSubKey`, `lpNewFile`, `lpOldFile`; BaseRegRestoreKey (19): `hKey`, `lpFile`,
//!   `Flags`.
//! * BaseRegQueryInfoKey (16): `hKey`, `lpClassIn` (reading a key's class: how the boot
//!   key is read from `Control\Lsa\{JD,Skew1,GBG,Data}`).
//! * BaseRegSaveKey (20): `hKey`, `lpFile`, `[unique] pSecurityAttributes`;
//!   BaseRegSaveKeyEx (31) adds `Flags`.
//! * BaseRegSetKeySecurity (21): `hKey`, ...
//! * BaseRegSetValue (22): `hKey`, `lpValueName`, `dwType`, `[size_is(cbData)] lpData`,
//!   `cbData`. String and number values are shown; binary values and values whose name
//!   says password or secret are not (their length is).

use super::ndr::{ContextHandle, NdrError, Reader, Result};
use serde::Serialize;

pub const UUID: &str = "338cd001-2244-31f1-aaaa-900038001003";

/// Opnums with a decoder.
pub const OPNUMS: [u16; 21] = [
    0, 1, 2, 3, 4, 6, 7, 8, 13, 15, 16, 18, 19, 20, 21, 22, 27, 31, 32, 33, 35,
];

/// Characters of a value's data kept.
const MAX_DATA_CHARS: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryArgs {
    /// `open_hive`, `open_key`, `create_key`, `delete_key`, `delete_value`, `load_key`,
    /// `replace_key`, `restore_key`, `query_info`, `save_key`, `set_key_security` or
    /// `set_value`.
    pub action: &'static str,
    /// OpenLocalMachine & co: the hive opened (`HKLM`, `HKCU`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hive: Option<&'static str>,
    /// The sub-key the request names, relative to its handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_key: Option<String>,
    /// The whole key path, through the handles of this connection (`HKLM\SAM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type_name: Option<&'static str>,
    /// The value set (strings and numbers; not binary data or secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_data: Option<String>,
    /// The value's data was not shown (binary, or the value name says it is a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_data_hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_len: Option<u32>,
    /// BaseRegSaveKey(Ex), LoadKey, RestoreKey, ReplaceKey: the file on the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_access: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
    /// The key handle the request passes (linking only).
    #[serde(skip)]
    pub handle: Option<ContextHandle>,
}

/// The hive an Open* opnum opens.
pub fn hive_of(opnum: u16) -> Option<&'static str> {
    Some(match opnum {
        0 => "HKCR",
        1 => "HKCU",
        2 => "HKLM",
        3 => "HKPD",
        4 => "HKU",
        27 => "HKCC",
        32 => "HKPT",
        33 => "HKPN",
        _ => return None,
    })
}

/// Decode one winreg request (None for operations without a decoder).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<RegistryArgs>> {
    OPNUMS.contains(&opnum).then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<RegistryArgs> {
    let mut a = RegistryArgs::default();
    if let Some(h) = hive_of(opnum) {
        if r.pointer()? != 0 {
            r.u16()?; // one WCHAR of server name
        }
        a.action = "open_hive";
        a.hive = Some(h);
        a.desired_access = Some(r.u32()?);
        return Ok(a);
    }
    a.handle = Some(r.context_handle()?);
    match opnum {
        6 | 15 => {
            a.action = if opnum == 6 { "create_key" } else { "open_key" };
            a.sub_key = r.unicode_string()?;
            if opnum == 6 {
                r.unicode_string()?; // lpClass
            }
            let _options = r.u32()?;
            a.desired_access = Some(r.u32()?);
        }
        7 | 35 => {
            a.action = "delete_key";
            a.sub_key = r.unicode_string()?;
        }
        8 => {
            a.action = "delete_value";
            a.value_name = r.unicode_string()?;
        }
        13 => {
            a.action = "load_key";
            a.sub_key = r.unicode_string()?;
            a.file = r.unicode_string()?;
        }
        18 => {
            a.action = "replace_key";
            a.sub_key = r.unicode_string()?;
            a.file = r.unicode_string()?;
            a.old_file = r.unicode_string()?;
        }
        19 => {
            a.action = "restore_key";
            a.file = r.unicode_string()?;
            a.flags = Some(r.u32()?);
        }
        16 => a.action = "query_info",
        20 | 31 => {
            a.action = "save_key";
            a.file = r.unicode_string()?;
            if opnum == 31 {
                if r.pointer()? != 0 {
                    security_attributes(r)?;
                }
                a.flags = Some(r.u32()?);
            }
        }
        21 => a.action = "set_key_security",
        22 => {
            a.action = "set_value";
            a.value_name = r.unicode_string()?;
            let t = r.u32()?;
            let data = r.conformant_bytes()?;
            let cb = r.u32()?;
            if cb as usize > data.len() {
                return Err(NdrError::Bad(r.pos(), "cbData beyond lpData"));
            }
            a.value_type = Some(t);
            a.value_type_name = type_name(t);
            a.value_len = Some(cb);
            let secret = a.value_name.as_deref().is_some_and(is_secret_name);
            match (secret, value_text(t, &data[..cb as usize])) {
                (false, Some(text)) => a.value_data = Some(text),
                _ => a.value_data_hidden = Some(true),
            }
        }
        _ => return Err(NdrError::Bad(r.pos(), "no decoder")),
    }
    Ok(a)
}

/// RPC_SECURITY_ATTRIBUTES (skipped): nLength, RPC_SECURITY_DESCRIPTOR { pointer,
/// cbInSecurityDescriptor, cbOutSecurityDescriptor }, bInheritHandle, then the
/// descriptor's bytes.
fn security_attributes(r: &mut Reader<'_>) -> Result<()> {
    r.u32()?;
    let p = r.pointer()?;
    r.u32()?;
    r.u32()?;
    r.u8()?;
    if p != 0 {
        // [size_is(cbIn), length_is(cbOut)]: conformant varying bytes.
        let at = r.pos();
        let max = r.count()?;
        let off = r.count()?;
        let len = r.count()?;
        if off.checked_add(len).is_none_or(|e| e > max) {
            return Err(NdrError::Bad(at, "security descriptor length"));
        }
        let n = r.check_count(len, 1)?;
        r.bytes(n)?;
    }
    Ok(())
}

/// Value names whose data is never shown.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "credential",
        "passphrase",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// REG_* value types (MS-RRP 2.2.?; MS-DTYP).
pub fn type_name(t: u32) -> Option<&'static str> {
    Some(match t {
        0 => "REG_NONE",
        1 => "REG_SZ",
        2 => "REG_EXPAND_SZ",
        3 => "REG_BINARY",
        4 => "REG_DWORD",
        5 => "REG_DWORD_BIG_ENDIAN",
        6 => "REG_LINK",
        7 => "REG_MULTI_SZ",
        11 => "REG_QWORD",
        _ => return None,
    })
}

/// String and number values as text (registry data is little-endian UTF-16 and
/// little-endian integers whatever the RPC byte order).
fn value_text(t: u32, b: &[u8]) -> Option<String> {
    match t {
        1 | 2 | 6 => Some(
            super::ndr::utf16_text(b, true)
                .chars()
                .take(MAX_DATA_CHARS)
                .collect(),
        ),
        7 => {
            let mut parts = Vec::new();
            for s in b
                .chunks_exact(2)
                .collect::<Vec<_>>()
                .split(|c| *c == [0, 0])
            {
                if s.is_empty() {
                    continue;
                }
                let flat: Vec<u8> = s.iter().flat_map(|c| c.iter().copied()).collect();
                parts.push(super::ndr::utf16_text(&flat, true));
            }
            Some(parts.join(" ; ").chars().take(MAX_DATA_CHARS).collect())
        }
        4 if b.len() >= 4 => Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string()),
        5 if b.len() >= 4 => Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()),
        11 if b.len() >= 8 => {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[..8]);
            Some(u64::from_le_bytes(x).to_string())
        }
        _ => None,
    }
}

/// `parent\child` with the separators registry paths use.
pub fn join(parent: &str, child: &str) -> String {
    let child = child.trim_matches('\\');
    if child.is_empty() {
        parent.to_string()
    } else if parent.is_empty() {
        child.to_string()
    } else {
        format!("{}\\{child}", parent.trim_end_matches('\\'))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::Stub;
    use super::*;

    pub const HKLM: [u8; 20] = [
        0, 0, 0, 0, 0x48, 0x4b, 0x4c, 0x4d, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ];
    pub const KEY: [u8; 20] = [
        0, 0, 0, 0, 0x4b, 0x45, 0x59, 0x31, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    ];

    pub fn open_hklm_stub(le: bool) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.ptr().u16(0x5c).u32(0x0200_0000);
        s.done()
    }

    pub fn open_key_stub(le: bool, parent: &[u8; 20], sub: &str) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.handle(parent).ustring(sub).u32(0).u32(0x0200_0000);
        s.done()
    }

    pub fn save_key_stub(le: bool, key: &[u8; 20], file: &str) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.handle(key).ustring(file).null();
        s.done()
    }

    pub fn set_value_stub(le: bool, key: &[u8; 20], name: &str, t: u32, data: &[u8]) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.handle(key)
            .ustring(name)
            .u32(t)
            .u32(data.len() as u32)
            .raw(data)
            .u32(data.len() as u32);
        s.done()
    }

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn dec(op: u16, b: &[u8], le: bool) -> Result<RegistryArgs> {
        decode_request(op, &mut Reader::new(b, le)).expect("decoder")
    }

    #[test]
    fn open_hive_and_keys_both_orders() {
        for le in [true, false] {
            let a = dec(2, &open_hklm_stub(le), le).expect("hive");
            assert_eq!((a.action, a.hive), ("open_hive", Some("HKLM")));
            let a = dec(15, &open_key_stub(le, &HKLM, "SAM"), le).expect("open");
            assert_eq!(a.sub_key.as_deref(), Some("SAM"));
            assert_eq!(a.handle, Some(HKLM));
            let mut s = Stub::new(le);
            s.handle(&HKLM)
                .ustring("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run")
                .ustring("")
                .u32(0)
                .u32(0x2001f)
                .null()
                .null();
            let a = dec(6, &s.done(), le).expect("create");
            assert_eq!(a.action, "create_key");
            assert_eq!(
                a.sub_key.as_deref(),
                Some("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run")
            );
        }
    }

    #[test]
    fn save_key_and_ex_both_orders() {
        for le in [true, false] {
            let a = dec(20, &save_key_stub(le, &KEY, "..\\Temp\\AbCdEfGh.tmp"), le).expect("save");
            assert_eq!(a.file.as_deref(), Some("..\\Temp\\AbCdEfGh.tmp"));
            let mut s = Stub::new(le);
            s.handle(&KEY).ustring("C:\\x\\sam.hive").null().u32(2);
            let a = dec(31, &s.done(), le).expect("save ex");
            assert_eq!((a.action, a.flags), ("save_key", Some(2)));
        }
    }

    #[test]
    fn set_value_shows_strings_and_hides_secrets() {
        for le in [true, false] {
            let a = dec(
                22,
                &set_value_stub(le, &KEY, "Updater", 1, &utf16z("C:\\Users\\Public\\u.exe")),
                le,
            )
            .expect("set");
            assert_eq!(a.value_data.as_deref(), Some("C:\\Users\\Public\\u.exe"));
            assert_eq!(a.value_type_name, Some("REG_SZ"));
            let a = dec(
                22,
                &set_value_stub(le, &KEY, "DefaultPassword", 1, &utf16z("hunter2")),
                le,
            )
            .expect("set");
            assert_eq!((a.value_data, a.value_data_hidden), (None, Some(true)));
            let a = dec(
                22,
                &set_value_stub(le, &KEY, "RunAsPPL", 4, &0u32.to_le_bytes()),
                le,
            )
            .expect("set");
            assert_eq!(a.value_data.as_deref(), Some("0"));
            let a = dec(22, &set_value_stub(le, &KEY, "Blob", 3, &[1, 2, 3]), le).expect("set");
            assert_eq!((a.value_len, a.value_data_hidden), (Some(3), Some(true)));
            let multi: Vec<u8> = "a\0b\0\0"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            let a = dec(22, &set_value_stub(le, &KEY, "Notify", 7, &multi), le).expect("set");
            assert_eq!(a.value_data.as_deref(), Some("a ; b"));
        }
        // cbData larger than the array.
        let mut s = Stub::new(true);
        s.handle(&KEY).ustring("x").u32(1).u32(2).raw(b"ab").u32(9);
        assert!(dec(22, &s.done(), true).is_err());
    }

    #[test]
    fn other_key_calls_and_truncation() {
        let le = true;
        let mut s = Stub::new(le);
        s.handle(&KEY)
            .ustring("Sub")
            .ustring("C:\\new.hiv")
            .ustring("C:\\old.hiv");
        let a = dec(18, &s.done(), le).expect("replace");
        assert_eq!(a.old_file.as_deref(), Some("C:\\old.hiv"));
        let mut s = Stub::new(le);
        s.handle(&KEY).ustring("x");
        assert_eq!(
            dec(8, &s.done(), le)
                .expect("delete value")
                .value_name
                .as_deref(),
            Some("x")
        );
        let mut s = Stub::new(le);
        s.handle(&KEY).ustring("");
        assert_eq!(
            dec(16, &s.done(), le).expect("query info").action,
            "query_info"
        );
        let b = save_key_stub(le, &KEY, "f");
        // The string ends 6 bytes before the stub does (padding, the null pointer).
        for n in 0..b.len() - 6 {
            assert!(dec(20, &b[..n], le).is_err(), "cut at {n}");
        }
        assert!(decode_request(9, &mut Reader::new(&[], true)).is_none());
        assert_eq!(join("HKLM", "SAM"), "HKLM\\SAM");
        assert_eq!(join("HKLM\\", "\\SYSTEM\\"), "HKLM\\SYSTEM");
        assert_eq!(join("HKLM", ""), "HKLM");
    }
}
