//! NTLMSSP AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3): the user, domain and workstation a
//! client authenticated as, when the exchange travels in clear.
//!
//! The message is found inside an SMB session setup security blob or a DCE-RPC auth
//! verifier. Those are usually wrapped in SPNEGO (GSS-API ASN.1); rather than decode the
//! ASN.1, [`find_authenticate`] scans the blob for the `NTLMSSP\0` signature and parses from
//! each occurrence until one is an AUTHENTICATE_MESSAGE (type 3). The scan is bounded by
//! [`MAX_SCAN`]; every field is checked against the message before it is read.
//!
//! Layout (little-endian, offsets from the signature):
//! `Signature[8] MessageType:u32 LmChallengeResponse:fields NtChallengeResponse:fields
//! DomainName:fields UserName:fields Workstation:fields EncryptedRandomSessionKey:fields
//! NegotiateFlags:u32 ...`, where each `fields` is `Len:u16 MaxLen:u16 BufferOffset:u32`
//! and BufferOffset counts from the signature.

use smol_str::SmolStr;
/// The 8-byte signature that opens every NTLMSSP message.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// MessageType of an AUTHENTICATE_MESSAGE.
pub const AUTHENTICATE: u32 = 3;
/// NegotiateFlags bit: strings are UTF-16LE (else OEM).
pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// Bytes of a blob searched for the signature.
pub const MAX_SCAN: usize = 64 << 10;
/// Characters kept of each name.
pub const MAX_FIELD_CHARS: usize = 256;

/// Offset of the DomainName fields in the message.
const DOMAIN_FIELDS: usize = 28;
const USER_FIELDS: usize = 36;
const WORKSTATION_FIELDS: usize = 44;
const FLAGS: usize = 60;
/// Fixed part up to and including NegotiateFlags.
const MIN_LEN: usize = 64;

/// Who authenticated. Empty strings are kept as sent (an anonymous logon has an empty user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtlmUser {
    pub user: SmolStr,
    pub domain: SmolStr,
    pub workstation: SmolStr,
}

/// How an SMB session (or a DCE-RPC association) authenticated, as far as the clear
/// tokens show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAuth {
    /// NTLMSSP AUTHENTICATE in clear: the account is known.
    Ntlm(NtlmUser),
    /// A Kerberos AP-REQ: the client principal is inside the encrypted authenticator, so
    /// the account cannot be read from the packets.
    Kerberos,
}

impl SessionAuth {
    pub fn ntlm_user(&self) -> Option<&NtlmUser> {
        match self {
            SessionAuth::Ntlm(u) => Some(u),
            SessionAuth::Kerberos => None,
        }
    }
}

/// The first two fields of a KRB_AP_REQ: `[0] pvno INTEGER 5`, `[1] msg-type INTEGER 14`
/// (RFC 4120 5.5.1), the same whether raw or wrapped in GSS-API and SPNEGO.
pub const KRB_AP_REQ_HEAD: &[u8] = &[0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x0e];

/// Does the blob (SPNEGO-wrapped or raw, first [`MAX_SCAN`] bytes) carry a Kerberos AP-REQ?
pub fn has_kerberos_ap_req(blob: &[u8]) -> bool {
    let area = &blob[..blob.len().min(MAX_SCAN)];
    area.windows(KRB_AP_REQ_HEAD.len())
        .any(|w| w == KRB_AP_REQ_HEAD)
}

/// What a session-setup security blob says about who logged on.
pub fn session_auth(blob: &[u8]) -> Option<SessionAuth> {
    if let Some(u) = find_authenticate(blob) {
        return Some(SessionAuth::Ntlm(u));
    }
    has_kerberos_ap_req(blob).then_some(SessionAuth::Kerberos)
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let x = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([x[0], x[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let x = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

/// The payload a `Len/MaxLen/BufferOffset` triple at `at` points to.
fn field(msg: &[u8], at: usize) -> Option<&[u8]> {
    let len = u16_at(msg, at)? as usize;
    if len == 0 {
        return Some(&[]);
    }
    let off = u32_at(msg, at + 4)? as usize;
    msg.get(off..off.checked_add(len)?)
}

/// UTF-16LE (unpaired surrogates replaced) or OEM text, cut at [`MAX_FIELD_CHARS`]. OEM
/// bytes are taken as Latin-1: the code page is not on the wire, and ASCII is exact.
fn text(b: &[u8], unicode: bool) -> String {
    if unicode {
        let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .take(MAX_FIELD_CHARS)
            .collect()
    } else {
        b.iter().take(MAX_FIELD_CHARS).map(|&c| c as char).collect()
    }
}

/// Parse an AUTHENTICATE_MESSAGE that starts at `msg[0]` (the signature). None when it is
/// another message type, cut short, or a field points outside it.
pub fn parse_authenticate(msg: &[u8]) -> Option<NtlmUser> {
    if msg.len() < MIN_LEN || !msg.starts_with(SIGNATURE) {
        return None;
    }
    if u32_at(msg, 8)? != AUTHENTICATE {
        return None;
    }
    let unicode = u32_at(msg, FLAGS)? & NEGOTIATE_UNICODE != 0;
    Some(NtlmUser {
        domain: text(field(msg, DOMAIN_FIELDS)?, unicode).into(),
        user: text(field(msg, USER_FIELDS)?, unicode).into(),
        workstation: text(field(msg, WORKSTATION_FIELDS)?, unicode).into(),
    })
}

/// The first AUTHENTICATE_MESSAGE in the first [`MAX_SCAN`] bytes of `blob` (raw NTLMSSP,
/// or wrapped in SPNEGO or any other envelope that keeps the message contiguous).
pub fn find_authenticate(blob: &[u8]) -> Option<NtlmUser> {
    let area = &blob[..blob.len().min(MAX_SCAN)];
    let mut from = 0;
    while let Some(rest) = area.get(from..) {
        let i = rest.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
        // Offsets in the message count from its signature; the message runs to the blob end
        // (the envelope's length fields are not trusted).
        if let Some(u) = blob.get(from + i..).and_then(parse_authenticate) {
            return Some(u);
        }
        from += i + 1;
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// An AUTHENTICATE_MESSAGE with the given names (payload after the 72-byte fixed part
    /// with Version, in the order Windows puts it: domain, user, workstation, responses).
    pub(crate) fn authenticate(user: &str, domain: &str, ws: &str, unicode: bool) -> Vec<u8> {
        let enc = |s: &str| {
            if unicode {
                utf16(s)
            } else {
                s.as_bytes().to_vec()
            }
        };
        let (d, u, w) = (enc(domain), enc(user), enc(ws));
        let lm = vec![0u8; 24];
        let nt = vec![0x11u8; 24];
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&AUTHENTICATE.to_le_bytes());
        let mut payload = Vec::new();
        let base = 72usize;
        let mut fields = Vec::new();
        for part in [&lm, &nt, &d, &u, &w, &Vec::new()] {
            let off = base + payload.len();
            fields.push((part.len() as u16, off as u32));
            payload.extend_from_slice(part);
        }
        // Order on the wire: Lm, Nt, Domain, User, Workstation, SessionKey.
        for (len, off) in fields {
            m.extend_from_slice(&len.to_le_bytes());
            m.extend_from_slice(&len.to_le_bytes());
            m.extend_from_slice(&off.to_le_bytes());
        }
        let flags: u32 = if unicode { 0xe288_8215 } else { 0xe288_8216 };
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]); // Version
        assert_eq!(m.len(), base);
        m.extend_from_slice(&payload);
        m
    }

    /// A client negTokenResp carrying `token` (just enough ASN.1 to look real).
    pub(crate) fn spnego_resp(token: &[u8]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            let n = body.len();
            if n < 0x80 {
                v.push(n as u8);
            } else {
                v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
            }
            v.extend_from_slice(body);
            v
        }
        let ot = tlv(0x04, token);
        let rt = tlv(0xa2, &ot);
        let seq = tlv(0x30, &rt);
        tlv(0xa1, &seq)
    }

    #[test]
    fn unicode_authenticate() {
        let m = authenticate("alice", "CORP", "WS01", true);
        let u = parse_authenticate(&m).unwrap();
        assert_eq!(
            u,
            NtlmUser {
                user: "alice".into(),
                domain: "CORP".into(),
                workstation: "WS01".into()
            }
        );
    }

    #[test]
    fn oem_authenticate() {
        let m = authenticate("bob", "LAB", "", false);
        let u = parse_authenticate(&m).unwrap();
        assert_eq!((u.user.as_str(), u.domain.as_str()), ("bob", "LAB"));
        assert_eq!(u.workstation, "");
    }

    #[test]
    fn anonymous_has_empty_names() {
        let m = authenticate("", "", "", true);
        assert_eq!(parse_authenticate(&m).unwrap(), NtlmUser::default());
    }

    #[test]
    fn other_types_and_damage_rejected() {
        let mut m = authenticate("alice", "CORP", "WS01", true);
        // A CHALLENGE (type 2) is not an AUTHENTICATE.
        let mut t2 = m.clone();
        t2[8] = 2;
        assert_eq!(parse_authenticate(&t2), None);
        // User field pointing past the end.
        let mut bad = m.clone();
        bad[USER_FIELDS + 4..USER_FIELDS + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(parse_authenticate(&bad), None);
        // Cut inside the fixed part, and cut inside the payload.
        assert_eq!(parse_authenticate(&m[..40]), None);
        let n = m.len();
        assert_eq!(parse_authenticate(&m[..n - 3]), None);
        // Wrong signature.
        m[0] = b'X';
        assert_eq!(parse_authenticate(&m), None);
    }

    #[test]
    fn found_inside_spnego_after_a_decoy() {
        let m = authenticate("svc_admin", "CONTOSO", "ATTACKER", true);
        let mut blob = spnego_resp(&m);
        assert_eq!(find_authenticate(&blob).unwrap().user, "svc_admin");
        // A NEGOTIATE message (type 1) in front does not stop the scan.
        let mut front = SIGNATURE.to_vec();
        front.extend_from_slice(&1u32.to_le_bytes());
        front.extend_from_slice(&[0u8; 24]);
        front.append(&mut blob);
        let u = find_authenticate(&front).unwrap();
        assert_eq!(
            (u.user.as_str(), u.domain.as_str(), u.workstation.as_str()),
            ("svc_admin", "CONTOSO", "ATTACKER")
        );
        assert_eq!(find_authenticate(b"no signature here"), None);
        assert_eq!(find_authenticate(b""), None);
        assert_eq!(find_authenticate(SIGNATURE), None);
    }

    #[test]
    fn long_names_are_cut() {
        let long = "x".repeat(1000);
        let m = authenticate(&long, "D", "W", true);
        assert_eq!(parse_authenticate(&m).unwrap().user.len(), MAX_FIELD_CHARS);
    }

    #[test]
    fn kerberos_session_blob_is_recognised() {
        // SPNEGO negTokenInit whose mechToken holds an AP-REQ (trimmed to its head).
        let mut blob = vec![0x60, 0x20, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
        blob.extend_from_slice(&[0x6e, 0x10, 0x30, 0x0e]);
        blob.extend_from_slice(KRB_AP_REQ_HEAD);
        assert_eq!(session_auth(&blob), Some(SessionAuth::Kerberos));
        assert_eq!(SessionAuth::Kerberos.ntlm_user(), None);
        // An AP-REP (msg-type 15) is not a logon.
        let mut rep = KRB_AP_REQ_HEAD.to_vec();
        rep[9] = 0x0f;
        assert_eq!(session_auth(&rep), None);
        assert_eq!(session_auth(b""), None);
    }
}
