//! MS-LSAD `lsarpc` (12345778-1234-abcd-ef00-0123456789ab): LSA secret retrieval and
//! account rights. Secret handles are linked to the name they were opened with.
//!
//! Request parameters, in wire order (MS-LSAD 3.1.4):
//! * LsarOpenSecret (28): `PolicyHandle`, `RPC_UNICODE_STRING SecretName`,
//!   `DesiredAccess`; the response returns the secret handle.
//! * LsarQuerySecret (30): `SecretHandle`, ...: the secret is named through the handle.
//! * LsarRetrievePrivateData (43): `PolicyHandle`, `RPC_UNICODE_STRING KeyName`, ...
//! * LsarAddAccountRights (37): `PolicyHandle`, `RPC_SID AccountSid`,
//!   `LSAPR_USER_RIGHT_SET { EntriesRead, [size_is] RPC_UNICODE_STRING* UserRights }`.
//!
//! Secret values never appear: the requests carry names, the responses (encrypted) are
//! not read.

use super::ndr::{ContextHandle, NdrError, Reader, Result};
use serde::Serialize;

pub const UUID: &str = "12345778-1234-abcd-ef00-0123456789ab";
pub const OPNUMS: [u16; 4] = [28, 30, 37, 43];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LsaArgs {
    /// `open_secret`, `query_secret`, `retrieve_private_data` or `add_account_rights`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rights: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
    /// The secret handle passed (linking only).
    #[serde(skip)]
    pub handle: Option<ContextHandle>,
}

/// Decode one lsarpc request (None for operations without a decoder).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<LsaArgs>> {
    OPNUMS.contains(&opnum).then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<LsaArgs> {
    let h = r.context_handle()?;
    let mut a = LsaArgs::default();
    match opnum {
        28 | 43 => {
            a.action = if opnum == 28 {
                "open_secret"
            } else {
                "retrieve_private_data"
            };
            a.secret_name = r.unicode_string()?;
        }
        30 => {
            a.action = "query_secret";
            a.handle = Some(h);
        }
        37 => {
            a.action = "add_account_rights";
            a.account_sid = Some(r.sid()?);
            let n = r.u32()?;
            let mut rights = Vec::new();
            if r.pointer()? != 0 {
                let m = r.sized_array(u64::from(n), 8, "LSAPR_USER_RIGHT_SET")?;
                let mut ids = Vec::with_capacity(m);
                for _ in 0..m {
                    ids.push(r.counted_string_header()?.2);
                }
                rights = r
                    .deferred(&ids, |r| r.wstring())?
                    .into_iter()
                    .flatten()
                    .collect();
            }
            a.rights = Some(rights);
        }
        _ => return Err(NdrError::Bad(r.pos(), "no decoder")),
    }
    Ok(a)
}

/// Secret names that mean domain or machine compromise: the DPAPI domain backup keys,
/// the machine account password, cached-logon key, autologon password.
pub fn is_sensitive_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.starts_with("G$BCKUPKEY")
        || n == "$MACHINE.ACC"
        || n == "NL$KM"
        || n == "DEFAULTPASSWORD"
        || n.starts_with("_SC_")
        || n.starts_with("G$$")
}

#[cfg(test)]
mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    const POL: [u8; 20] = [
        0, 0, 0, 0, 0x50, 0x4f, 0x4c, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    ];

    #[test]
    fn secrets_and_rights_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let mut s = Stub::of(le, ndr64);
            s.handle(&POL).ustring("G$BCKUPKEY_PREFERRED").null();
            let b = s.done();
            let mut r = super::super::reader(&b, le, ndr64);
            let a = decode_request(43, &mut r)
                .expect("decoder")
                .expect("decoded");
            assert_eq!(a.secret_name.as_deref(), Some("G$BCKUPKEY_PREFERRED"));
            assert!(is_sensitive_secret(
                a.secret_name.as_deref().unwrap_or_default()
            ));
            let mut s = Stub::of(le, ndr64);
            s.handle(&POL)
                .sid("S-1-5-21-1-2-3-1105")
                .u32(2)
                .ptr()
                .size(2);
            s.u16(32).u16(32).ptr().u16(48).u16(48).ptr();
            s.size(16).size(0).size(16);
            for u in "SeDebugPrivilege".encode_utf16() {
                s.u16(u);
            }
            s.size(24).size(0).size(24);
            for u in "SeBackupPrivilegeXXXXXXX".encode_utf16() {
                s.u16(u);
            }
            let b = s.done();
            let mut r = super::super::reader(&b, le, ndr64);
            let a = decode_request(37, &mut r)
                .expect("decoder")
                .expect("decoded");
            assert_eq!(a.account_sid.as_deref(), Some("S-1-5-21-1-2-3-1105"));
            assert_eq!(
                a.rights,
                Some(vec![
                    "SeDebugPrivilege".to_string(),
                    "SeBackupPrivilegeXXXXXXX".to_string()
                ])
            );
        }
        let mut s = Stub::new(true);
        s.handle(&POL);
        let b = s.done();
        let a = decode_request(30, &mut Reader::new(&b, true))
            .expect("d")
            .expect("ok");
        assert_eq!((a.action, a.handle), ("query_secret", Some(POL)));
        assert!(!is_sensitive_secret("SomeAppSecret"));
        assert!(decode_request(29, &mut Reader::new(&[], true)).is_none());
    }
}
