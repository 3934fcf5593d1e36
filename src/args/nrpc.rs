//! MS-NRPC `netlogon` (12345678-1234-abcd-ef00-01234567cffb): secure-channel setup and the
//! calls Zerologon (CVE-2020-1472) and NetSync abuse. The session-key negotiation runs
//! over unprotected RPC (MS-NRPC 3.1.4.1), so these stubs are readable.
//!
//! Request parameters, in wire order (MS-NRPC 3.5.4.4 and 3.5.4.5):
//! * NetrServerReqChallenge (4): `[in, unique, string] LOGONSRV_HANDLE PrimaryName`,
//!   `[in, string] wchar_t* ComputerName`, `NETLOGON_CREDENTIAL ClientChallenge` (8 bytes).
//! * NetrServerAuthenticate (5) / 2 (15) / 3 (26): `PrimaryName`, `[in, string]
//!   AccountName`, `NETLOGON_SECURE_CHANNEL_TYPE SecureChannelType` (an enum: 2 bytes,
//!   4 in NDR64), `ComputerName`, `ClientCredential` (8 bytes), then (15, 26)
//!   `NegotiateFlags`.
//! * NetrServerPasswordSet (6) / 2 (30), NetrServerPasswordGet (31),
//!   NetrServerTrustPasswordsGet (42), NetrServerGetTrustInfo (46): `PrimaryName`,
//!   `AccountName`, `SecureChannelType`, `ComputerName`, `NETLOGON_AUTHENTICATOR
//!   Authenticator` (8-byte credential, DWORD timestamp), then for 30 `NL_TRUST_PASSWORD
//!   ClearNewPassword` (512-byte buffer, DWORD length: 516 bytes) and for 6 a 16-byte
//!   encrypted hash.
//! * NetrLogonSamLogonWithFlags (45): `[unique, string] LogonServer`, `[unique, string]
//!   ComputerName`, `[in, unique] NETLOGON_AUTHENTICATOR* Authenticator`, ...
//!
//! Zerologon sends an all-zero client challenge and credential (and authenticator), and
//! NetrServerPasswordSet2 with 516 zero bytes: an empty machine password. Nothing here
//! keeps a credential or password: only whether it was all zero.

use super::ndr::{Reader, Result};
use serde::Serialize;

pub const UUID: &str = "12345678-1234-abcd-ef00-01234567cffb";

/// Opnums with a decoder.
pub const OPNUMS: [u16; 10] = [4, 5, 6, 15, 26, 30, 31, 42, 45, 46];

/// The client challenge mimikatz's `lsadump::netsync` sends (a spinner, `-\|/-\|/`).
const NETSYNC_CHALLENGE: [u8; 8] = *b"-\\|/-\\|/";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetlogonArgs {
    /// `req_challenge`, `authenticate`, `authenticate2`, `authenticate3`,
    /// `password_set`, `password_set2`, `password_get`, `trust_passwords_get`,
    /// `get_trust_info` or `sam_logon_with_flags`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_channel_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_channel_type_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiate_flags: Option<u32>,
    /// The client challenge, credential or authenticator sent is all zero (Zerologon).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_credential: Option<bool>,
    /// NetrServerPasswordSet2's new password buffer is all zero: the account's password
    /// is being set to empty (Zerologon's last step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_password: Option<bool>,
    /// The client challenge is mimikatz's NetSync constant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netsync_challenge: Option<bool>,
    /// The call's NTSTATUS (0: STATUS_SUCCESS), when the response was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
    /// This call is the n-th NetrServerAuthenticate with an all-zero credential on its
    /// connection (or pipe), counted as the calls are decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Zero-credential authentication attempts on the whole connection (or pipe), and
    /// whether one of them was answered with STATUS_SUCCESS: filled in once the
    /// connection has been read (`rpcsift detect` does; when no authentication was
    /// captured, the zero client challenges are counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_in_connection: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded_in_connection: Option<bool>,
}

impl NetlogonArgs {
    /// A Zerologon step: zero credentials or an empty password.
    pub fn is_zerologon(&self) -> bool {
        self.zero_credential == Some(true) || self.empty_password == Some(true)
    }
}

/// Decode one netlogon request (None for operations without a decoder).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<NetlogonArgs>> {
    OPNUMS.contains(&opnum).then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<NetlogonArgs> {
    let mut a = NetlogonArgs {
        action: match opnum {
            4 => "req_challenge",
            5 => "authenticate",
            15 => "authenticate2",
            26 => "authenticate3",
            6 => "password_set",
            30 => "password_set2",
            31 => "password_get",
            42 => "trust_passwords_get",
            46 => "get_trust_info",
            _ => "sam_logon_with_flags",
        },
        ..Default::default()
    };
    if opnum == 45 {
        a.primary_name = r.unique_string(true)?;
        a.computer_name = r.unique_string(true)?;
        if r.pointer()? != 0 {
            let cred = r.bytes(8)?;
            let ts = r.u32()?;
            a.zero_credential = Some(cred == [0; 8] && ts == 0);
        }
        return Ok(a);
    }
    a.primary_name = r.unique_string(true)?;
    if opnum == 4 {
        a.computer_name = Some(r.wstring()?);
        let challenge = r.bytes(8)?;
        a.zero_credential = Some(challenge == [0; 8]);
        a.netsync_challenge = Some(challenge == NETSYNC_CHALLENGE);
        return Ok(a);
    }
    a.account_name = Some(r.wstring()?);
    let t = r.enum16()?;
    a.secure_channel_type = Some(t);
    a.secure_channel_type_name = channel_name(t);
    a.computer_name = Some(r.wstring()?);
    let cred = r.bytes(8)?;
    match opnum {
        5 | 15 | 26 => {
            a.zero_credential = Some(cred == [0; 8]);
            if opnum != 5 {
                a.negotiate_flags = Some(r.u32()?);
            }
        }
        _ => {
            let ts = r.u32()?;
            a.zero_credential = Some(cred == [0; 8] && ts == 0);
            if opnum == 30 {
                let pw = r.bytes(516)?;
                a.empty_password = Some(pw.iter().all(|b| *b == 0));
            } else if opnum == 6 {
                r.bytes(16)?;
            }
        }
    }
    Ok(a)
}

/// NETLOGON_SECURE_CHANNEL_TYPE (MS-NRPC 2.2.1.3.13).
pub fn channel_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0 => "NullSecureChannel",
        1 => "MsvApSecureChannel",
        2 => "WorkstationSecureChannel",
        3 => "TrustedDnsDomainSecureChannel",
        4 => "TrustedDomainSecureChannel",
        5 => "UasServerSecureChannel",
        6 => "ServerSecureChannel",
        7 => "CdcServerSecureChannel",
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    pub fn req_challenge_stub(mut s: Stub, challenge: [u8; 8]) -> Vec<u8> {
        s.ustr(true, Some("\\\\DC1")).wstr("DC1").raw(&challenge);
        s.done()
    }

    pub fn authenticate3_stub(mut s: Stub, cred: [u8; 8]) -> Vec<u8> {
        s.ustr(true, Some("\\\\DC1"))
            .wstr("DC1$")
            .enum16(6)
            .wstr("DC1")
            .raw(&cred)
            .u32(0x212f_ffff);
        s.done()
    }

    pub fn password_set2_stub(mut s: Stub, pw: &[u8; 516]) -> Vec<u8> {
        s.ustr(true, Some("\\\\DC1"))
            .wstr("DC1$")
            .enum16(6)
            .wstr("DC1")
            .raw(&[0; 8])
            .u32(0)
            .raw(pw);
        s.done()
    }

    fn dec(op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<NetlogonArgs> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(op, &mut r).expect("decoder")
    }

    #[test]
    fn zerologon_steps_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let a = dec(
                4,
                &req_challenge_stub(Stub::of(le, ndr64), [0; 8]),
                le,
                ndr64,
            )
            .expect("challenge");
            assert_eq!(a.computer_name.as_deref(), Some("DC1"));
            assert_eq!(a.zero_credential, Some(true));
            assert_eq!(a.netsync_challenge, Some(false));
            let a = dec(
                26,
                &authenticate3_stub(Stub::of(le, ndr64), [0; 8]),
                le,
                ndr64,
            )
            .expect("auth3");
            assert_eq!(a.account_name.as_deref(), Some("DC1$"));
            assert_eq!(a.secure_channel_type_name, Some("ServerSecureChannel"));
            assert_eq!(a.negotiate_flags, Some(0x212f_ffff));
            assert!(a.is_zerologon());
            let a = dec(
                30,
                &password_set2_stub(Stub::of(le, ndr64), &[0; 516]),
                le,
                ndr64,
            )
            .expect("pwset2");
            assert_eq!(a.empty_password, Some(true));
            assert_eq!(a.zero_credential, Some(true));
            let mut pw = [0u8; 516];
            pw[10] = 7;
            let a =
                dec(30, &password_set2_stub(Stub::of(le, ndr64), &pw), le, ndr64).expect("pwset2");
            assert_eq!(a.empty_password, Some(false));
            let json = serde_json::to_string(&a).expect("json");
            assert!(!json.contains("\"pw"), "no password field: {json}");
        }
    }

    #[test]
    fn ordinary_setup_and_netsync() {
        let a = dec(
            4,
            &req_challenge_stub(Stub::new(true), *b"\x11\x22\x33\x44\x55\x66\x77\x88"),
            true,
            false,
        )
        .expect("c");
        assert_eq!(a.zero_credential, Some(false));
        let a = dec(
            4,
            &req_challenge_stub(Stub::new(true), NETSYNC_CHALLENGE),
            true,
            false,
        )
        .expect("c");
        assert_eq!(a.netsync_challenge, Some(true));
        let a = dec(
            26,
            &authenticate3_stub(Stub::new(true), [1; 8]),
            true,
            false,
        )
        .expect("a");
        assert!(!a.is_zerologon());
        // NetrServerTrustPasswordsGet: account and channel, authenticator.
        let mut s = Stub::new(true);
        s.ustr(true, Some("\\\\DC1"))
            .wstr("krbtgt")
            .enum16(6)
            .wstr("EVIL")
            .raw(&[9; 8])
            .u32(5);
        let a = dec(42, &s.done(), true, false).expect("trust");
        assert_eq!(a.action, "trust_passwords_get");
        assert_eq!(a.account_name.as_deref(), Some("krbtgt"));
        assert_eq!(a.zero_credential, Some(false));
        // NetrLogonSamLogonWithFlags with a zero authenticator.
        let mut s = Stub::new(false);
        s.ustr(true, Some("\\\\DC1"))
            .ustr(true, Some("X"))
            .ptr()
            .raw(&[0; 8])
            .u32(0);
        let a = dec(45, &s.done(), false, false).expect("samlogon");
        assert_eq!(a.zero_credential, Some(true));
        let b = authenticate3_stub(Stub::new(true), [0; 8]);
        for n in 0..b.len() {
            assert!(dec(26, &b[..n], true, false).is_err(), "cut at {n}");
        }
        assert!(decode_request(2, &mut Reader::new(&[], true)).is_none());
    }
}
