//! NTLMSSP messages (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE and AUTHENTICATE, as they travel
//! in SMB session setup security blobs and DCE-RPC auth verifiers.
//!
//! Two levels:
//! * [`find_authenticate`] / [`parse_authenticate`] give the user, domain and workstation a
//!   client authenticated as (names as text, bounded by [`MAX_FIELD_CHARS`]).
//! * [`parse`] / [`find`] give every field key verification and session-key derivation need
//!   ([`Challenge`]: flags, server challenge, target info; [`Authenticate`]: flags, LM and NT
//!   challenge responses, names as raw bytes, encrypted random session key, version, MIC
//!   position), each a slice borrowing the message.
//!
//! The blobs are usually wrapped in SPNEGO (GSS-API ASN.1); rather than decode the ASN.1,
//! the finders scan the blob for the `NTLMSSP\0` signature and parse from each occurrence.
//! The scan is bounded by [`MAX_SCAN`]; every field is checked against the message before it
//! is read (a field is at most 64 KiB: its length is a u16).
//!
//! Layout (little-endian, offsets from the signature):
//! `Signature[8] MessageType:u32 LmChallengeResponse:fields NtChallengeResponse:fields
//! DomainName:fields UserName:fields Workstation:fields EncryptedRandomSessionKey:fields
//! NegotiateFlags:u32 Version[8] MIC[16] ...`, where each `fields` is `Len:u16 MaxLen:u16
//! BufferOffset:u32` and BufferOffset counts from the signature.

use smol_str::SmolStr;
/// The 8-byte signature that opens every NTLMSSP message.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// MessageType of a NEGOTIATE_MESSAGE.
pub const NEGOTIATE: u32 = 1;
/// MessageType of a CHALLENGE_MESSAGE.
pub const CHALLENGE: u32 = 2;
/// MessageType of an AUTHENTICATE_MESSAGE.
pub const AUTHENTICATE: u32 = 3;
/// NegotiateFlags bit: strings are UTF-16LE (else OEM).
pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// NegotiateFlags bits (MS-NLMP 2.2.2.5) that session security depends on.
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const SIGN: u32 = 0x0000_0010;
    pub const SEAL: u32 = 0x0000_0020;
    pub const DATAGRAM: u32 = 0x0000_0040;
    pub const LM_KEY: u32 = 0x0000_0080;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ANONYMOUS: u32 = 0x0000_0800;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const EXTENDED_SESSION_SECURITY: u32 = 0x0008_0000;
    pub const IDENTIFY: u32 = 0x0010_0000;
    pub const NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const NEG_128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const NEG_56: u32 = 0x8000_0000;
}
/// MsvAvFlags bit (MS-NLMP 2.2.2.1): the AUTHENTICATE message carries a MIC.
pub const AV_FLAG_MIC: u32 = 0x0000_0002;
/// Bytes of a blob searched for the signature.
pub const MAX_SCAN: usize = 64 << 10;
/// Characters kept of each name.
pub const MAX_FIELD_CHARS: usize = 256;

/// Offset of the LmChallengeResponse fields in an AUTHENTICATE message.
const LM_FIELDS: usize = 12;
const NT_FIELDS: usize = 20;
/// Offset of the DomainName fields in the message.
const DOMAIN_FIELDS: usize = 28;
const USER_FIELDS: usize = 36;
const WORKSTATION_FIELDS: usize = 44;
const SESSION_KEY_FIELDS: usize = 52;
const FLAGS: usize = 60;
/// Fixed part up to and including NegotiateFlags.
const MIN_LEN: usize = 64;
/// Where the Version and the MIC sit in an AUTHENTICATE message that has them.
const AUTH_VERSION: usize = 64;
const AUTH_MIC: usize = 72;
/// CHALLENGE_MESSAGE offsets.
const CHAL_TARGET_NAME: usize = 12;
const CHAL_FLAGS: usize = 20;
const CHAL_SERVER_CHALLENGE: usize = 24;
const CHAL_TARGET_INFO: usize = 40;
const CHAL_VERSION: usize = 48;
const CHAL_MIN_LEN: usize = 48;

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
    /// A Kerberos AP-REQ whose ticket the analyst's keys opened: the client principal
    /// (`user`) and realm (`domain`).
    KerberosTicket(NtlmUser),
}

impl SessionAuth {
    pub fn ntlm_user(&self) -> Option<&NtlmUser> {
        match self {
            SessionAuth::Ntlm(u) => Some(u),
            _ => None,
        }
    }

    /// The account, when known: NTLM's, or a decrypted Kerberos ticket's.
    pub fn account(&self) -> Option<&NtlmUser> {
        match self {
            SessionAuth::Ntlm(u) | SessionAuth::KerberosTicket(u) => Some(u),
            SessionAuth::Kerberos => None,
        }
    }

    pub fn is_kerberos(&self) -> bool {
        matches!(self, SessionAuth::Kerberos | SessionAuth::KerberosTicket(_))
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

/// A CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2), fields borrowing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// TargetName as sent (UTF-16LE or OEM per `flags`).
    pub target_name: &'a [u8],
    /// TargetInfo: the AV_PAIR list the NTLMv2 response embeds.
    pub target_info: &'a [u8],
    pub version: Option<[u8; 8]>,
}

/// An AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3), fields borrowing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticate<'a> {
    pub flags: u32,
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    /// Names as sent (UTF-16LE when `flags` has UNICODE, else OEM): NTOWFv2 hashes them.
    pub domain: &'a [u8],
    pub user: &'a [u8],
    pub workstation: &'a [u8],
    /// EncryptedRandomSessionKey (empty unless KEY_EXCH was negotiated).
    pub encrypted_session_key: &'a [u8],
    pub version: Option<[u8; 8]>,
    /// Offset of the 16-byte MIC from the signature, when the message has room for one
    /// (payload starts at or after 88) and the NTLMv2 response's MsvAvFlags announce it.
    pub mic_offset: Option<usize>,
    /// The message from its signature to the end of its last payload field: the bytes a
    /// MIC covers.
    pub message: &'a [u8],
}

impl Authenticate<'_> {
    pub fn unicode(&self) -> bool {
        self.flags & NEGOTIATE_UNICODE != 0
    }

    /// The names as text (bounded by [`MAX_FIELD_CHARS`]).
    pub fn names(&self) -> NtlmUser {
        let u = self.unicode();
        NtlmUser {
            user: text(self.user, u).into(),
            domain: text(self.domain, u).into(),
            workstation: text(self.workstation, u).into(),
        }
    }

    /// An NTLMv2 response is longer than the 24 bytes of NTLMv1 / LM.
    pub fn is_ntlmv2(&self) -> bool {
        self.nt_response.len() > 24
    }

    /// The MIC bytes, when [`Authenticate::mic_offset`] is known.
    pub fn mic(&self) -> Option<&[u8]> {
        let at = self.mic_offset?;
        self.message.get(at..at + 16)
    }
}

/// Any NTLMSSP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Negotiate { flags: u32 },
    Challenge(Challenge<'a>),
    Authenticate(Authenticate<'a>),
}

/// Fields `Len/MaxLen/BufferOffset` at `at`: the payload and where it ends.
fn field_end(msg: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = u16_at(msg, at)? as usize;
    if len == 0 {
        return Some((&[], 0));
    }
    let off = u32_at(msg, at + 4)? as usize;
    let end = off.checked_add(len)?;
    Some((msg.get(off..end)?, end))
}

/// Lowest BufferOffset of the non-empty fields at `ats` (where the payload starts).
fn payload_start(msg: &[u8], ats: &[usize]) -> usize {
    ats.iter()
        .filter(|&&at| u16_at(msg, at).is_some_and(|l| l > 0))
        .filter_map(|&at| u32_at(msg, at + 4))
        .map(|o| o as usize)
        .min()
        .unwrap_or(usize::MAX)
}

fn version_at(msg: &[u8], at: usize, flags: u32, payload: usize) -> Option<[u8; 8]> {
    if flags & flags::VERSION == 0 || payload < at + 8 {
        return None;
    }
    msg.get(at..at + 8)?.try_into().ok()
}

/// Walk an AV_PAIR list (MS-NLMP 2.2.2.1) for the value of `id`.
pub fn av_pair(list: &[u8], id: u16) -> Option<&[u8]> {
    let mut at = 0usize;
    // Each pair is at least 4 bytes, so the walk ends within list.len() / 4 steps.
    while let (Some(t), Some(l)) = (u16_at(list, at), u16_at(list, at + 2)) {
        let v = list.get(at + 4..at + 4 + l as usize)?;
        if t == 0 {
            return None;
        }
        if t == id {
            return Some(v);
        }
        at += 4 + l as usize;
    }
    None
}

/// MsvAvFlags AV_PAIR id.
pub const MSV_AV_FLAGS: u16 = 6;

/// Parse the NTLMSSP message that starts at `msg[0]` (the signature). The message may run
/// on past its last field (the rest is ignored). None when the signature, type or a field
/// does not fit.
pub fn parse(msg: &[u8]) -> Option<Message<'_>> {
    if !msg.starts_with(SIGNATURE) {
        return None;
    }
    match u32_at(msg, 8)? {
        NEGOTIATE => Some(Message::Negotiate {
            flags: u32_at(msg, 12)?,
        }),
        CHALLENGE => parse_challenge(msg).map(Message::Challenge),
        AUTHENTICATE => parse_authenticate_fields(msg).map(Message::Authenticate),
        _ => None,
    }
}

fn parse_challenge(msg: &[u8]) -> Option<Challenge<'_>> {
    if msg.len() < CHAL_MIN_LEN {
        return None;
    }
    let flags = u32_at(msg, CHAL_FLAGS)?;
    let server_challenge: [u8; 8] = msg
        .get(CHAL_SERVER_CHALLENGE..CHAL_SERVER_CHALLENGE + 8)?
        .try_into()
        .ok()?;
    let (target_name, _) = field_end(msg, CHAL_TARGET_NAME)?;
    let (target_info, _) = field_end(msg, CHAL_TARGET_INFO)?;
    let payload = payload_start(msg, &[CHAL_TARGET_NAME, CHAL_TARGET_INFO]);
    Some(Challenge {
        flags,
        server_challenge,
        target_name,
        target_info,
        version: version_at(msg, CHAL_VERSION, flags, payload),
    })
}

const AUTH_FIELDS: [usize; 6] = [
    LM_FIELDS,
    NT_FIELDS,
    DOMAIN_FIELDS,
    USER_FIELDS,
    WORKSTATION_FIELDS,
    SESSION_KEY_FIELDS,
];

/// Parse an AUTHENTICATE_MESSAGE with every field [`Authenticate`] holds.
pub fn parse_authenticate_fields(msg: &[u8]) -> Option<Authenticate<'_>> {
    if msg.len() < MIN_LEN || !msg.starts_with(SIGNATURE) || u32_at(msg, 8)? != AUTHENTICATE {
        return None;
    }
    let flags = u32_at(msg, FLAGS)?;
    let mut end = MIN_LEN;
    let mut get = |at| {
        let (v, e) = field_end(msg, at)?;
        end = end.max(e);
        Some(v)
    };
    let lm_response = get(LM_FIELDS)?;
    let nt_response = get(NT_FIELDS)?;
    let domain = get(DOMAIN_FIELDS)?;
    let user = get(USER_FIELDS)?;
    let workstation = get(WORKSTATION_FIELDS)?;
    let encrypted_session_key = get(SESSION_KEY_FIELDS)?;
    let payload = payload_start(msg, &AUTH_FIELDS);
    // The MIC sits right after the Version; it is there when the client says so in the
    // NTLMv2 response's AV pairs (after NTProofStr 16 + the 28-byte fixed part of the
    // NTLMv2_CLIENT_CHALLENGE) and the payload leaves room for it.
    let mic_announced = nt_response
        .get(44..)
        .and_then(|avs| av_pair(avs, MSV_AV_FLAGS))
        .and_then(|v| u32_at(v, 0))
        .is_some_and(|f| f & AV_FLAG_MIC != 0);
    let mic_offset = (mic_announced && payload >= AUTH_MIC + 16).then_some(AUTH_MIC);
    if mic_offset.is_some() {
        end = end.max(AUTH_MIC + 16);
    }
    Some(Authenticate {
        flags,
        lm_response,
        nt_response,
        domain,
        user,
        workstation,
        encrypted_session_key,
        version: version_at(msg, AUTH_VERSION, flags, payload),
        mic_offset,
        message: msg.get(..end)?,
    })
}

/// The first NTLMSSP message in the first [`MAX_SCAN`] bytes of `blob` that parses, with
/// its offset in `blob`.
pub fn find(blob: &[u8]) -> Option<(usize, Message<'_>)> {
    let area = &blob[..blob.len().min(MAX_SCAN)];
    let mut from = 0;
    while let Some(rest) = area.get(from..) {
        let i = rest.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
        if let Some(m) = blob.get(from + i..).and_then(parse) {
            return Some((from + i, m));
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
    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// MS-NLMP 4.2.4.3: the NTLMv2 example's CHALLENGE_MESSAGE.
    pub(crate) const SPEC_V2_CHALLENGE: &str = "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000";
    /// MS-NLMP 4.2.2.3: the NTLMv1 example's AUTHENTICATE_MESSAGE.
    pub(crate) const SPEC_V1_AUTHENTICATE: &str = "4e544c4d5353500003000000180018006c00000018001800840000000c000c00480000000800080054000000100010005c000000100010009c000000358280e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520098def7b87f88aa5dafe2df779688a172def11c7d5ccdef1367c43011f30298a2ad35ece64f16331c44bdbed927841f94518822b1b3f350c8958682ecbb3e3cb7";

    #[test]
    fn spec_challenge_fields() {
        let m = unhex(SPEC_V2_CHALLENGE);
        let Some(Message::Challenge(c)) = parse(&m) else {
            panic!("not a challenge")
        };
        assert_eq!(c.flags, 0xe28a_8233);
        assert_eq!(
            c.server_challenge,
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
        assert_eq!(c.target_name, utf16("Server").as_slice());
        assert_eq!(c.target_info.len(), 36);
        assert_eq!(av_pair(c.target_info, 2), Some(utf16("Domain").as_slice()));
        assert_eq!(av_pair(c.target_info, 1), Some(utf16("Server").as_slice()));
        assert_eq!(av_pair(c.target_info, 7), None);
        assert_eq!(c.version, Some([6, 0, 0x70, 0x17, 0, 0, 0, 0x0f]));
        // Cut short: the target info no longer fits.
        assert_eq!(parse(&m[..m.len() - 1]), None);
        assert_eq!(parse(&m[..40]), None);
    }

    #[test]
    fn spec_authenticate_fields() {
        let m = unhex(SPEC_V1_AUTHENTICATE);
        let Some((0, Message::Authenticate(a))) = find(&m) else {
            panic!("not an authenticate")
        };
        assert_eq!(a.flags, 0xe280_8235);
        assert_eq!(
            a.lm_response,
            &unhex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13")[..]
        );
        assert_eq!(
            a.nt_response,
            &unhex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94")[..]
        );
        assert_eq!(
            a.encrypted_session_key,
            &unhex("518822b1b3f350c8958682ecbb3e3cb7")[..]
        );
        assert_eq!(a.user, utf16("User").as_slice());
        assert!(!a.is_ntlmv2());
        assert_eq!(a.version, Some([5, 1, 0x28, 0x0a, 0, 0, 0, 0x0f]));
        assert_eq!(a.mic_offset, None);
        assert_eq!(a.message.len(), m.len());
        assert_eq!(a.names().domain, "Domain");
        assert_eq!(a.names().workstation, "COMPUTER");
        // The text-only parser agrees.
        assert_eq!(parse_authenticate(&m), Some(a.names()));
    }

    #[test]
    fn mic_position_follows_av_flags() {
        // An NTLMv2 response whose AV pairs carry MsvAvFlags = MIC present.
        let mut nt = vec![0x22u8; 16];
        nt.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
        nt.extend_from_slice(&[0u8; 8 + 8 + 4]);
        nt.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&AUTHENTICATE.to_le_bytes());
        let base = 88u32;
        for (i, len) in [0usize, nt.len(), 0, 0, 0, 0].into_iter().enumerate() {
            let off = if i == 1 { base } else { base + nt.len() as u32 };
            m.extend_from_slice(&(len as u16).to_le_bytes());
            m.extend_from_slice(&(len as u16).to_le_bytes());
            m.extend_from_slice(&off.to_le_bytes());
        }
        m.extend_from_slice(&(flags::VERSION | flags::UNICODE).to_le_bytes());
        m.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 15]);
        m.extend_from_slice(&[0xabu8; 16]); // MIC
        m.extend_from_slice(&nt);
        let a = parse_authenticate_fields(&m).unwrap();
        assert!(a.is_ntlmv2());
        assert_eq!(a.mic_offset, Some(72));
        assert_eq!(a.mic(), Some(&[0xabu8; 16][..]));
        // Without the AV flag there is no MIC.
        let n = m.len();
        m[n - 8] = 0;
        assert_eq!(parse_authenticate_fields(&m).unwrap().mic_offset, None);
    }
}
