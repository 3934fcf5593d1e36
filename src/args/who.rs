//! Who made a call: the identity in the DCE-RPC authentication exchange of the
//! association (bind, alter_context and auth3 carry the tokens), else the SMB session's.
//!
//! * NTLM: the AUTHENTICATE_MESSAGE travels in clear and names the user, domain and
//!   workstation (parsed by [`crate::auth::ntlmssp`]).
//! * Kerberos: the AP-REQ names the server (the ticket's service principal) in clear, but
//!   the client principal is inside the ticket's encrypted part and the encrypted
//!   authenticator. Without the service key it cannot be read, so a Kerberos call has
//!   `auth: "kerberos"` and `user: null`. Recognised by the start of a KRB_AP_REQ body
//!   (`pvno` 5, `msg-type` 14, RFC 4120 5.5.1), bare (as Windows puts it in SPNEGO's
//!   mechToken) or inside a GSS-API InitialContextToken.
//! * Kerberos with the service key (`--keys`, `--keytab`, issue 17): the ticket decrypts
//!   and names the client; the call gets `user`/`domain` from it, with `auth_source`
//!   `dcerpc-kerberos-ticket` (the association's bind) or `smb-kerberos-ticket` (the SMB
//!   session's setup).

use crate::auth::ntlmssp::{self, NtlmUser};
use crate::capture::Timestamp;
use crate::dcerpc::pdu::{self, Pdu};
use smol_str::SmolStr;

/// Entries kept per association (re-authentications are rare).
pub const MAX_LOG: usize = 16;

/// What an authentication token revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSeen {
    Ntlm(NtlmUser),
    Kerberos,
    /// A Kerberos AP-REQ whose ticket the analyst's keys opened: the client principal
    /// (`user`) and realm (`domain`); `workstation` is empty.
    KerberosTicket(NtlmUser),
}

/// DCE-RPC auth_type values (MS-RPCE 2.2.1.1.7).
const RPC_C_AUTHN_GSS_NEGOTIATE: u8 = 9;
const RPC_C_AUTHN_WINNT: u8 = 10;
const RPC_C_AUTHN_GSS_KERBEROS: u8 = 16;

/// Look at one auth token (the bytes after the sec_trailer).
pub fn from_token(auth_type: u8, token: &[u8]) -> Option<AuthSeen> {
    match auth_type {
        RPC_C_AUTHN_WINNT | RPC_C_AUTHN_GSS_NEGOTIATE | RPC_C_AUTHN_GSS_KERBEROS => {}
        _ => return None,
    }
    if let Some(u) = ntlmssp::find_authenticate(token) {
        return Some(AuthSeen::Ntlm(u));
    }
    let krb = ntlmssp::has_kerberos_ap_req(token);
    (krb || (auth_type == RPC_C_AUTHN_GSS_KERBEROS && !token.is_empty()))
        .then_some(AuthSeen::Kerberos)
}

/// The auth token of a bind, alter_context or auth3 PDU (`raw` is the whole PDU).
pub fn from_pdu(raw: &[u8], p: &Pdu<'_>) -> Option<AuthSeen> {
    if !matches!(p.header.ptype, pdu::BIND | pdu::ALTER_CONTEXT | pdu::AUTH3) {
        return None;
    }
    let a = p.auth?;
    let end = p.header.frag_len as usize;
    let start = end.checked_sub(p.header.auth_len as usize)?;
    from_token(a.auth_type, raw.get(start..end)?)
}

/// The identities seen on one association, in time order.
#[derive(Debug, Default, Clone)]
pub struct WhoLog {
    entries: Vec<(Timestamp, AuthSeen)>,
}

impl WhoLog {
    pub fn push(&mut self, ts: Timestamp, seen: AuthSeen) {
        // An NTLM user is more than a Kerberos marker; repeated tokens add nothing.
        if self.entries.last().is_some_and(|(_, s)| *s == seen) {
            return;
        }
        if self.entries.len() >= MAX_LOG {
            self.entries.remove(0);
        }
        self.entries.push((ts, seen));
    }

    /// The latest identity established at or before `ts`.
    pub fn at(&self, ts: Timestamp) -> Option<&AuthSeen> {
        self.entries
            .iter()
            .rev()
            .find(|(t, _)| *t <= ts)
            .map(|(_, s)| s)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The identity fields of one call record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    pub user: Option<SmolStr>,
    pub domain: Option<SmolStr>,
    pub workstation: Option<SmolStr>,
    /// `ntlm` or `kerberos`; None when no authentication was seen.
    pub auth: Option<&'static str>,
    /// `dcerpc` (the association's own authentication) or `smb` (the SMB session's);
    /// `dcerpc-kerberos-ticket` / `smb-kerberos-ticket` when the account comes from a
    /// Kerberos ticket decrypted with the analyst's keys.
    pub source: Option<&'static str>,
}

/// Combine the association's DCE-RPC identity (when the call is authenticated) with the
/// SMB session's identity (for calls over a named pipe): its NTLM account, or with
/// `smb_kerberos` the account of its decrypted Kerberos ticket (`smb`) or none.
pub fn resolve(dce: Option<&AuthSeen>, smb: Option<&NtlmUser>, smb_kerberos: bool) -> Who {
    let ntlm = |u: &NtlmUser, source| Who {
        user: Some(u.user.clone()),
        domain: Some(u.domain.clone()).filter(|d| !d.is_empty()),
        workstation: Some(u.workstation.clone()).filter(|w| !w.is_empty()),
        auth: Some("ntlm"),
        source: Some(source),
    };
    let ticket = |u: &NtlmUser, source| Who {
        auth: Some("kerberos"),
        workstation: None,
        ..ntlm(u, source)
    };
    match (dce, smb) {
        (Some(AuthSeen::Ntlm(u)), _) => ntlm(u, "dcerpc"),
        (Some(AuthSeen::KerberosTicket(u)), _) => ticket(u, "dcerpc-kerberos-ticket"),
        (Some(AuthSeen::Kerberos), _) => Who {
            auth: Some("kerberos"),
            source: Some("dcerpc"),
            ..Default::default()
        },
        (None, Some(u)) if smb_kerberos => ticket(u, "smb-kerberos-ticket"),
        (None, Some(u)) => ntlm(u, "smb"),
        (None, None) if smb_kerberos => Who {
            auth: Some("kerberos"),
            source: Some("smb"),
            ..Default::default()
        },
        (None, None) => Who::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// A minimal NTLMSSP AUTHENTICATE_MESSAGE (unicode).
    pub fn authenticate(user: &str, domain: &str, ws: &str) -> Vec<u8> {
        let (d, u, w) = (utf16(domain), utf16(user), utf16(ws));
        let mut m = Vec::new();
        m.extend_from_slice(b"NTLMSSP\0");
        m.extend_from_slice(&3u32.to_le_bytes());
        let mut off = 64u32;
        let mut fields = |m: &mut Vec<u8>, len: usize| {
            m.extend_from_slice(&(len as u16).to_le_bytes());
            m.extend_from_slice(&(len as u16).to_le_bytes());
            m.extend_from_slice(&off.to_le_bytes());
            off += len as u32;
        };
        fields(&mut m, 0); // LM
        fields(&mut m, 0); // NT
        fields(&mut m, d.len());
        fields(&mut m, u.len());
        fields(&mut m, w.len());
        fields(&mut m, 0); // session key
        m.extend_from_slice(&1u32.to_le_bytes()); // unicode
        m.extend(d);
        m.extend(u);
        m.extend(w);
        m
    }

    #[test]
    fn ntlm_token_in_spnego_wrapper() {
        let mut tok = vec![0xa1, 0x81, 0x80, 0x30, 0x7e];
        tok.extend(authenticate("administrator", "CORP", "KALI"));
        let Some(AuthSeen::Ntlm(u)) = from_token(9, &tok) else {
            panic!("not found")
        };
        assert_eq!(
            (u.user.as_str(), u.domain.as_str()),
            ("administrator", "CORP")
        );
        assert_eq!(
            from_token(68, &tok),
            None,
            "netlogon secure channel is not NTLM"
        );
    }

    #[test]
    fn kerberos_ap_req_is_recognised_without_a_user() {
        // SPNEGO mechToken holding a bare AP-REQ, as Windows sends it.
        let mut tok = vec![
            0xa2, 0x82, 0x06, 0xe3, 0x04, 0x82, 0x06, 0xdf, 0x6e, 0x82, 0x06,
        ];
        tok.extend_from_slice(&[0xdb, 0x30, 0x82, 0x06, 0xd7]);
        tok.extend_from_slice(ntlmssp::KRB_AP_REQ_HEAD);
        tok.extend_from_slice(&[0xa2, 0x07, 0x03, 0x05]);
        assert_eq!(from_token(9, &tok), Some(AuthSeen::Kerberos));
        // An AP-REP (msg-type 15) is not an AP-REQ.
        let mut rep = ntlmssp::KRB_AP_REQ_HEAD.to_vec();
        rep[9] = 0x0f;
        assert_eq!(from_token(9, &rep), None);
        // A negTokenInit that only lists the Kerberos mechanism is not an AP-REQ.
        let list = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ];
        assert_eq!(from_token(9, &list), None);
        let w = resolve(Some(&AuthSeen::Kerberos), None, false);
        assert_eq!((w.auth, w.user), (Some("kerberos"), None));
    }

    #[test]
    fn log_picks_latest_before_call_and_resolve_prefers_dcerpc() {
        let mut log = WhoLog::default();
        let a = NtlmUser {
            user: "a".into(),
            domain: "D".into(),
            workstation: SmolStr::default(),
        };
        let b = NtlmUser {
            user: "b".into(),
            ..a.clone()
        };
        log.push(Timestamp::new(10, 0), AuthSeen::Ntlm(a.clone()));
        log.push(Timestamp::new(20, 0), AuthSeen::Ntlm(b.clone()));
        assert_eq!(log.at(Timestamp::new(5, 0)), None);
        assert_eq!(
            log.at(Timestamp::new(15, 0)),
            Some(&AuthSeen::Ntlm(a.clone()))
        );
        assert_eq!(
            log.at(Timestamp::new(25, 0)),
            Some(&AuthSeen::Ntlm(b.clone()))
        );
        let w = resolve(log.at(Timestamp::new(25, 0)), Some(&a), false);
        assert_eq!(w.user.as_deref(), Some("b"));
        assert_eq!(w.source, Some("dcerpc"));
        assert_eq!(w.workstation, None);
        let w = resolve(None, Some(&a), false);
        assert_eq!((w.user.as_deref(), w.source), (Some("a"), Some("smb")));
        assert_eq!(resolve(None, None, false), Who::default());
        // A Kerberos SMB session: the kind is known, the account is not.
        let k = resolve(None, None, true);
        assert_eq!(
            (k.auth, k.source, k.user),
            (Some("kerberos"), Some("smb"), None)
        );
        // ... unless its ticket was decrypted with the analyst's keys.
        let t = NtlmUser {
            user: "Administrator".into(),
            domain: "LAB.TEST".into(),
            workstation: SmolStr::default(),
        };
        let k = resolve(None, Some(&t), true);
        assert_eq!(
            (k.auth, k.source, k.user.as_deref(), k.domain.as_deref()),
            (
                Some("kerberos"),
                Some("smb-kerberos-ticket"),
                Some("Administrator"),
                Some("LAB.TEST")
            )
        );
        // The association's own decrypted ticket comes first.
        let d = resolve(Some(&AuthSeen::KerberosTicket(t.clone())), Some(&a), false);
        assert_eq!(
            (d.auth, d.source, d.user.as_deref(), d.workstation),
            (
                Some("kerberos"),
                Some("dcerpc-kerberos-ticket"),
                Some("Administrator"),
                None
            )
        );
    }
}
