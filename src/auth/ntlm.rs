//! NTLM key verification, session keys and message security (MS-NLMP 3.3, 3.4).
//!
//! * [`verify`]: given the server challenge, the client's AUTHENTICATE_MESSAGE and one of
//!   the analyst's credentials, check that the credential produced the responses (NTLMv2:
//!   recompute NTProofStr; NTLMv1 with or without extended session security: recompute the
//!   DESL response; LM: recompute the LMv1 response when a password is known) and derive
//!   the session keys ([`SessionKeys`]): session base key, KXKEY, the key exchange
//!   (EncryptedRandomSessionKey decrypted with RC4), the exported session key (what SMB
//!   uses) and the sign/seal keys per direction.
//! * [`Sealer`]: the per-direction security state of one association. The RC4 handle runs
//!   across the whole association (MS-NLMP 3.4.3: connection-oriented), so every sealed or
//!   signed message of that direction must pass through it, in order. `unseal` decrypts in
//!   place and verifies the signature; `verify` checks an integrity-only signature. A bad
//!   signature is returned (and counted), never a panic; the RC4 state advances by the
//!   same amount either way, so the next message still decrypts.
//!
//! What a DCE-RPC signature covers (MS-RPCE 3.3.1.5.2.2 / 2.2.2.11): with header signing
//! (PFC_SUPPORT_HEADER_SIGN agreed in bind/bind_ack, which NTLM always allows), the PDU
//! header, the stub (+ auth padding) and the 8-byte sec_trailer; the sealed part is only
//! the stub and its padding. `unseal(before, data, after, sig)` takes them as three
//! slices so the caller needs no copy: `before` = the 16-byte header (+ request/response
//! fixed fields when the caller treats those as header), `data` = sealed stub + padding,
//! `after` = sec_trailer. Without header signing pass empty `before`/`after`.
//!
//! NTLMv1 needs DES (the `des` crate) for DESL and the LM one-way function; nothing else
//! here is hand-written beyond the glue MS-NLMP describes.

use super::keys::{KeyRing, KeySource, NtlmKey, Origin, Secret};
use super::ntlmssp::{Authenticate, Challenge, flags};
use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit, StreamCipher};
use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::Rc4;
use zeroize::Zeroizing;

type HmacMd5 = Hmac<Md5>;

/// Which response verified the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    NtlmV2,
    NtlmV1,
    /// NTLMv1 with extended session security (NTLM2 session response).
    NtlmV1Ess,
    /// The LMv1 response (needs the password).
    Lm,
}

/// A direction of an association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

/// Keys of one verified NTLM authentication.
#[derive(Debug, Clone)]
pub struct SessionKeys {
    /// NegotiateFlags of the AUTHENTICATE_MESSAGE (what the client settled on).
    pub flags: u32,
    pub response: Response,
    session_base_key: Secret,
    exported: Secret,
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <HmacMd5 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn md4(b: &[u8]) -> [u8; 16] {
    Md4::digest(b).into()
}

/// RC4 over `data` in place with a fresh key.
fn rc4_once(key: &[u8], data: &mut [u8]) {
    if let Ok(mut c) = Rc4::new_from_slice(key) {
        c.apply_keystream(data);
    }
}

/// A 7-byte DES key spread over 8 bytes (the low bit of each is the unused parity bit).
fn des_key(k7: &[u8]) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[0] = k7[0];
    for i in 1..7 {
        k[i] = (k7[i - 1] << (8 - i)) | (k7[i] >> i);
    }
    k[7] = k7[6] << 1;
    k
}

fn des_block(k7: &[u8], data: &[u8; 8]) -> [u8; 8] {
    let c = Des::new_from_slice(&des_key(k7)).expect("8-byte DES key");
    let mut b = (*data).into();
    c.encrypt_block(&mut b);
    b.into()
}

/// DESL (MS-NLMP 6): three DES encryptions of `data` under the 16-byte key, zero-padded.
pub fn desl(key: &[u8; 16], data: &[u8; 8]) -> [u8; 24] {
    let mut k = [0u8; 21];
    k[..16].copy_from_slice(key);
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&des_block(&k[0..7], data));
    out[8..16].copy_from_slice(&des_block(&k[7..14], data));
    out[16..].copy_from_slice(&des_block(&k[14..21], data));
    out
}

/// LMOWFv1: the DES "KGS!@#$%" hash of the upper-cased OEM password (first 14 bytes).
pub fn lmowf_v1(password: &[u8]) -> [u8; 16] {
    let mut p = [0u8; 14];
    let upper = Zeroizing::new(String::from_utf8_lossy(password).to_uppercase());
    for (d, s) in p.iter_mut().zip(upper.bytes()) {
        *d = s;
    }
    let magic = b"KGS!@#$%";
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&des_block(&p[..7], magic));
    out[8..].copy_from_slice(&des_block(&p[7..], magic));
    p.fill(0);
    out
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A name from the message as text (UTF-16LE or OEM, taken as Latin-1).
fn name_text(b: &[u8], unicode: bool) -> String {
    if unicode {
        let u = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(u)
            .map(|r| r.unwrap_or('\u{fffd}'))
            .collect()
    } else {
        b.iter().map(|&c| c as char).collect()
    }
}

/// NTOWFv2 = HMAC_MD5(NTOWFv1, UNICODE(Uppercase(user) + domain)).
pub fn ntowf_v2(nt_hash: &[u8], user: &str, domain: &str) -> [u8; 16] {
    let mut id = user.to_uppercase();
    id.push_str(domain);
    hmac_md5(nt_hash, &[&utf16le(&id)])
}

/// Check one credential against an authentication exchange. `None` when the credential
/// did not produce the responses (or the exchange is anonymous / too short to check).
pub fn verify(chal: &Challenge<'_>, auth: &Authenticate<'_>, key: &NtlmKey) -> Option<SessionKeys> {
    let nt_hash: [u8; 16] = key.nt_hash.expose().try_into().ok()?;
    let sc = chal.server_challenge;
    let flags = auth.flags;
    let (response, base, kx) = if auth.is_ntlmv2() {
        let unicode = auth.unicode();
        let user = name_text(auth.user, unicode);
        let domain = name_text(auth.domain, unicode);
        let (proof, temp) = auth.nt_response.split_at(16);
        // Clients hash the domain they sent; some hash an empty one (Samba tries both too).
        let rk = [domain.as_str(), ""].into_iter().find_map(|d| {
            let rk = ntowf_v2(&nt_hash, &user, d);
            (hmac_md5(&rk, &[&sc, temp]) == proof).then_some(rk)
        })?;
        let base = hmac_md5(&rk, &[proof]);
        (Response::NtlmV2, base, base)
    } else {
        let lm = auth.lm_response;
        let base = md4(&nt_hash);
        let nt_ok = |challenge: &[u8; 8]| auth.nt_response == desl(&nt_hash, challenge);
        let ess = flags & flags::EXTENDED_SESSION_SECURITY != 0;
        let lm8: [u8; 8] = lm
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 8]);
        let response = if auth.nt_response.len() == 24 && ess && lm.len() >= 8 {
            let c: [u8; 8] = md5(&[&sc, &lm8])[..8].try_into().ok()?;
            nt_ok(&c).then_some(Response::NtlmV1Ess)?
        } else if auth.nt_response.len() == 24 && nt_ok(&sc) {
            Response::NtlmV1
        } else if auth.nt_response.is_empty() || auth.nt_response == lm {
            // LM alone: only when the client sent no separate NT response. When it did and
            // that failed, an LM match means a password right but for its case (LM upper-
            // cases it), and the NT-based keys would be wrong.
            let pw = key.password.as_ref()?;
            (lm.len() == 24 && lm == desl(&lmowf_v1(pw.expose()), &sc)).then_some(Response::Lm)?
        } else {
            return None;
        };
        let kx = if ess {
            hmac_md5(&base, &[&sc, &lm8])
        } else if flags & flags::LM_KEY != 0 {
            let lmowf = lmowf_v1(key.password.as_ref()?.expose());
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&des_block(&lmowf[..7], &lm8));
            let second = [lmowf[7], 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd];
            k[8..].copy_from_slice(&des_block(&second, &lm8));
            k
        } else if flags & flags::NON_NT_SESSION_KEY != 0 {
            let lmowf = lmowf_v1(key.password.as_ref()?.expose());
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&lmowf[..8]);
            k
        } else {
            base
        };
        (response, base, kx)
    };
    let mut exported = kx;
    if flags & flags::KEY_EXCH != 0 && auth.encrypted_session_key.len() == 16 {
        exported.copy_from_slice(auth.encrypted_session_key);
        rc4_once(&kx, &mut exported);
    }
    Some(SessionKeys {
        flags,
        response,
        session_base_key: Secret::new(base.to_vec()),
        exported: Secret::new(exported.to_vec()),
    })
}

const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

impl SessionKeys {
    /// Keys from an exported session key known by other means (tests, other protocols).
    pub fn from_exported(flags: u32, response: Response, exported: [u8; 16]) -> Self {
        SessionKeys {
            flags,
            response,
            session_base_key: Secret::default(),
            exported: Secret::new(exported.to_vec()),
        }
    }

    /// The exported session key: SMB's Session.SessionKey.
    pub fn exported_session_key(&self) -> &[u8] {
        self.exported.expose()
    }

    pub fn session_base_key(&self) -> &[u8] {
        self.session_base_key.expose()
    }

    fn ess(&self) -> bool {
        self.flags & flags::EXTENDED_SESSION_SECURITY != 0
    }

    /// SIGNKEY (MS-NLMP 3.4.5.2): only with extended session security.
    pub fn sign_key(&self, dir: Direction) -> Option<[u8; 16]> {
        let magic = match dir {
            Direction::ClientToServer => CLIENT_SIGN,
            Direction::ServerToClient => SERVER_SIGN,
        };
        self.ess().then(|| md5(&[self.exported.expose(), magic]))
    }

    /// SEALKEY (MS-NLMP 3.4.5.3).
    pub fn seal_key(&self, dir: Direction) -> Zeroizing<Vec<u8>> {
        let k = self.exported.expose();
        let f = self.flags;
        if self.ess() {
            let n = if f & flags::NEG_128 != 0 {
                16
            } else if f & flags::NEG_56 != 0 {
                7
            } else {
                5
            };
            let magic = match dir {
                Direction::ClientToServer => CLIENT_SEAL,
                Direction::ServerToClient => SERVER_SEAL,
            };
            Zeroizing::new(md5(&[&k[..n], magic]).to_vec())
        } else if f & flags::LM_KEY != 0 {
            let mut v = Vec::with_capacity(8);
            if f & flags::NEG_56 != 0 {
                v.extend_from_slice(&k[..7]);
                v.push(0xa0);
            } else {
                v.extend_from_slice(&k[..5]);
                v.extend_from_slice(&[0xe5, 0x38, 0xb0]);
            }
            Zeroizing::new(v)
        } else {
            Zeroizing::new(k.to_vec())
        }
    }

    /// The security state of one direction, starting at sequence number 0.
    pub fn sealer(&self, dir: Direction) -> Sealer {
        let seal = self.seal_key(dir);
        Sealer {
            rc4: Rc4::new_from_slice(&seal).expect("seal keys are 8 or 16 bytes"),
            seal_key: seal,
            sign_key: self
                .sign_key(dir)
                .map(|k| Box::new(<HmacMd5 as KeyInit>::new_from_slice(&k).expect("16-byte key"))),
            key_exch: self.flags & flags::KEY_EXCH != 0,
            next_seq: 0,
            ok: 0,
            bad: 0,
        }
    }
}

/// Length of an NTLMSSP_MESSAGE_SIGNATURE.
pub const SIGNATURE_LEN: usize = 16;

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("signature is not 16 bytes with version 1")]
    Malformed,
    #[error("checksum mismatch")]
    Checksum,
    #[error("sequence number mismatch")]
    Sequence,
}

/// Per-direction NTLM message security: the RC4 handle kept across the association.
pub struct Sealer {
    rc4: Rc4,
    /// SEALKEY, to restart the keystream ([`Sealer::reset_keystream`]).
    seal_key: Zeroizing<Vec<u8>>,
    /// HMAC-MD5 keyed with SIGNKEY (extended session security), cloned per message so
    /// the key schedule is computed once per association.
    sign_key: Option<Box<HmacMd5>>,
    key_exch: bool,
    /// The sequence number the next message should carry.
    next_seq: u32,
    /// Messages whose signature verified / did not.
    pub ok: u64,
    pub bad: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("next_seq", &self.next_seq)
            .field("ok", &self.ok)
            .field("bad", &self.bad)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// Decrypt `data` in place, then verify `signature` over `before || data || after`.
    pub fn unseal(
        &mut self,
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
        signature: &[u8],
    ) -> Result<(), SignError> {
        self.rc4.apply_keystream(data);
        self.check(&[&[before, data, after]], signature).map(|_| ())
    }

    /// DCE-RPC packet privacy when it is not known whether the peers sign the PDU header
    /// (MS-RPCE 2.2.2.11: PFC_SUPPORT_HEADER_SIGN, which some clients sign with without
    /// setting): decrypt `data` in place and verify `signature` over `before || data ||
    /// after` or over `data` alone, both against the same RC4 keystream (the state
    /// advances once, as the sender's did). `Ok(true)`: the header-signed form verified.
    pub fn unseal_dce(
        &mut self,
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
        signature: &[u8],
    ) -> Result<bool, SignError> {
        self.rc4.apply_keystream(data);
        self.check(&[&[before, data, after], &[data]], signature)
            .map(|i| i == 0)
    }

    /// [`Sealer::unseal_dce`] for packet integrity: the data stays in clear.
    pub fn verify_dce(
        &mut self,
        before: &[u8],
        data: &[u8],
        after: &[u8],
        signature: &[u8],
    ) -> Result<bool, SignError> {
        self.check(&[&[before, data, after], &[data]], signature)
            .map(|i| i == 0)
    }

    /// Verify an integrity-only signature over the concatenation of `parts`.
    pub fn verify(&mut self, parts: &[&[u8]], signature: &[u8]) -> Result<(), SignError> {
        self.check(&[parts], signature).map(|_| ())
    }

    /// Sign a message the way the sender did (tests build traffic with it).
    pub fn seal(&mut self, before: &[u8], data: &mut [u8], after: &[u8]) -> [u8; 16] {
        let plain = data.to_vec();
        self.rc4.apply_keystream(data);
        self.sign(&[before, &plain, after])
    }

    /// Sign a message in clear (packet integrity) the way the sender did (tests).
    pub fn sign(&mut self, parts: &[&[u8]]) -> [u8; 16] {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut s = [0u8; 16];
        s[0] = 1;
        if let Some(sk) = &self.sign_key {
            s[4..12].copy_from_slice(&hmac_checksum(sk, seq, parts));
            if self.key_exch {
                self.rc4.apply_keystream(&mut s[4..12]);
            }
            s[12..].copy_from_slice(&seq.to_le_bytes());
        } else {
            let mut tail = [0u8; 12];
            tail[4..8].copy_from_slice(&crc(parts).to_le_bytes());
            self.rc4.apply_keystream(&mut tail);
            s[8..12].copy_from_slice(&tail[4..8]);
            let x = u32::from_le_bytes([tail[8], tail[9], tail[10], tail[11]]) ^ seq;
            s[12..].copy_from_slice(&x.to_le_bytes());
        }
        s
    }

    fn check(&mut self, variants: &[&[&[u8]]], sig: &[u8]) -> Result<usize, SignError> {
        let r = self.check_inner(variants, sig);
        match r {
            Ok(_) => self.ok += 1,
            Err(_) => self.bad += 1,
        }
        r
    }

    /// Which of `variants` (each a list of parts, concatenated) `sig` signs. The RC4 state
    /// advances exactly as one signature's would, whatever the outcome.
    fn check_inner(&mut self, variants: &[&[&[u8]]], sig: &[u8]) -> Result<usize, SignError> {
        let Ok(sig) = <&[u8; 16]>::try_from(sig) else {
            // Keep the RC4 stream in step with the sender anyway.
            self.advance();
            return Err(SignError::Malformed);
        };
        if sig[..4] != [1, 0, 0, 0] {
            self.advance();
            return Err(SignError::Malformed);
        }
        if let Some(sk) = &self.sign_key {
            // The sequence number travels in clear: sign with the one the sender used.
            let wire = u32::from_le_bytes([sig[12], sig[13], sig[14], sig[15]]);
            let expected = self.next_seq;
            self.next_seq = wire.wrapping_add(1);
            let mut ks = [0u8; 8];
            if self.key_exch {
                self.rc4.apply_keystream(&mut ks);
            }
            let hit = variants.iter().position(|parts| {
                let mut mine = hmac_checksum(sk, wire, parts);
                mine.iter_mut().zip(ks).for_each(|(a, k)| *a ^= k);
                mine == sig[4..12]
            });
            match hit {
                None => Err(SignError::Checksum),
                Some(_) if wire != expected => Err(SignError::Sequence),
                Some(i) => Ok(i),
            }
        } else {
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            let mut ks = [0u8; 12];
            self.rc4.apply_keystream(&mut ks);
            let wire_crc = u32::from_le_bytes([sig[8], sig[9], sig[10], sig[11]]);
            let wire_seq = u32::from_le_bytes([sig[12], sig[13], sig[14], sig[15]]);
            let ks_crc = u32::from_le_bytes([ks[4], ks[5], ks[6], ks[7]]);
            let ks_seq = u32::from_le_bytes([ks[8], ks[9], ks[10], ks[11]]);
            let hit = variants
                .iter()
                .position(|parts| crc(parts) ^ ks_crc == wire_crc);
            match hit {
                None => Err(SignError::Checksum),
                Some(_) if wire_seq ^ ks_seq != seq => Err(SignError::Sequence),
                Some(i) => Ok(i),
            }
        }
    }

    /// Restart the RC4 keystream from the sealing key, keeping the sequence number: what
    /// SPNEGO does to an NTLM context once the mechListMIC was exchanged (MS-SPNG 3.3.5.1;
    /// the first sealed message then carries sequence number 1 under a fresh keystream).
    pub fn reset_keystream(&mut self) {
        if let Ok(rc4) = Rc4::new_from_slice(&self.seal_key) {
            self.rc4 = rc4;
        }
    }

    /// Move the RC4 state past one signature without checking it.
    fn advance(&mut self) {
        self.next_seq = self.next_seq.wrapping_add(1);
        if self.sign_key.is_some() {
            if self.key_exch {
                self.rc4.apply_keystream(&mut [0u8; 8]);
            }
        } else {
            self.rc4.apply_keystream(&mut [0u8; 12]);
        }
    }
}

/// The first 8 bytes of HMAC_MD5(SigningKey, SeqNum || message) (MS-NLMP 3.4.4.2).
fn hmac_checksum(keyed: &HmacMd5, seq: u32, parts: &[&[u8]]) -> [u8; 8] {
    let mut m = keyed.clone();
    m.update(&seq.to_le_bytes());
    for p in parts {
        m.update(p);
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&m.finalize().into_bytes()[..8]);
    out
}

/// CRC32 of the concatenated parts (MS-NLMP 3.4.4.1).
fn crc(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// MIC check (MS-NLMP 3.1.5.1.2): HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE ||
/// AUTHENTICATE with the MIC zeroed). The three messages must be the exact bytes sent.
/// None when the AUTHENTICATE message has no MIC.
pub fn verify_mic(
    keys: &SessionKeys,
    negotiate: &[u8],
    challenge: &[u8],
    auth: &Authenticate<'_>,
) -> Option<bool> {
    let at = auth.mic_offset?;
    let mic = auth.mic()?;
    let msg = auth.message;
    let mine = hmac_md5(
        keys.exported_session_key(),
        &[
            negotiate,
            challenge,
            &msg[..at],
            &[0u8; 16],
            &msg[at + 16..],
        ],
    );
    Some(mine == mic)
}

/// The outcome of trying every matching credential of a key ring on one AUTHENTICATE
/// message.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The account as sent (for the per-account summary).
    pub account: super::ntlmssp::NtlmUser,
    /// The first credential that verified, with the keys it gives.
    pub verified: Option<(SessionKeys, KeySource, Origin)>,
    /// Credentials that matched the account (or `*`) and did not verify: never used.
    pub failed: Vec<Origin>,
}

/// Try the ring's NTLM credentials that match the account, in ring order.
pub fn try_keys(chal: &Challenge<'_>, auth: &Authenticate<'_>, ring: &KeyRing) -> Outcome {
    let account = auth.names();
    let mut failed = Vec::new();
    let mut verified = None;
    for k in ring.ntlm_for(&account.user, &account.domain) {
        match verify(chal, auth, k) {
            Some(keys) => {
                verified = Some((keys, k.source, k.origin.clone()));
                break;
            }
            None => failed.push(k.origin.clone()),
        }
    }
    Outcome {
        account,
        verified,
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::{UserMatch, nt_hash_of};
    use crate::auth::ntlmssp::tests::{SPEC_V1_AUTHENTICATE, SPEC_V2_CHALLENGE, unhex};
    use crate::auth::ntlmssp::{self, Message};

    fn key(password: &str) -> NtlmKey {
        NtlmKey {
            user: UserMatch::Any,
            source: KeySource::Password,
            origin: Origin::Flag {
                flag: "--password",
                index: 1,
            },
            nt_hash: Secret::new(nt_hash_of(password.as_bytes()).to_vec()),
            password: Some(Secret::new(password.as_bytes().to_vec())),
        }
    }

    fn hash_key(nt: [u8; 16]) -> NtlmKey {
        NtlmKey {
            password: None,
            source: KeySource::NtHash,
            nt_hash: Secret::new(nt.to_vec()),
            ..key("")
        }
    }

    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const PLAINTEXT: &str = "50006c00610069006e007400650078007400"; // "Plaintext" UTF-16LE

    fn challenge(flags: u32) -> Challenge<'static> {
        Challenge {
            flags,
            server_challenge: SERVER_CHALLENGE,
            target_name: &[],
            target_info: &[],
            version: None,
        }
    }

    /// An AUTHENTICATE message with the given responses (names User / Domain / COMPUTER).
    fn authenticate(flags: u32, lm: &[u8], nt: &[u8], enc_key: &[u8]) -> Vec<u8> {
        let parts: [Vec<u8>; 6] = [
            lm.to_vec(),
            nt.to_vec(),
            utf16le("Domain"),
            utf16le("User"),
            utf16le("COMPUTER"),
            enc_key.to_vec(),
        ];
        let mut m = ntlmssp::SIGNATURE.to_vec();
        m.extend_from_slice(&ntlmssp::AUTHENTICATE.to_le_bytes());
        let mut off = 72u32;
        for p in &parts {
            m.extend_from_slice(&(p.len() as u16).to_le_bytes());
            m.extend_from_slice(&(p.len() as u16).to_le_bytes());
            m.extend_from_slice(&off.to_le_bytes());
            off += p.len() as u32;
        }
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&[5, 1, 0x28, 0x0a, 0, 0, 0, 0x0f]);
        for p in &parts {
            m.extend_from_slice(p);
        }
        m
    }

    fn auth_of(m: &[u8]) -> Authenticate<'_> {
        match ntlmssp::parse(m) {
            Some(Message::Authenticate(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_way_functions_4_2_2_1() {
        assert_eq!(
            lmowf_v1(b"Password").to_vec(),
            unhex("e52cac67419a9a224a3b108f3fa6cb6d")
        );
        assert_eq!(
            nt_hash_of(b"Password").to_vec(),
            unhex("a4f49c406510bdcab6824ee7c30fd852")
        );
        assert_eq!(
            md4(&nt_hash_of(b"Password")).to_vec(),
            unhex("d87262b0cde4b1cb7499becccdf10784")
        );
        assert_eq!(
            ntowf_v2(&nt_hash_of(b"Password"), "User", "Domain").to_vec(),
            unhex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
        // The user name is upper-cased, the domain is not.
        let nt = nt_hash_of(b"Password");
        assert_eq!(
            ntowf_v2(&nt, "user", "Domain"),
            ntowf_v2(&nt, "User", "Domain")
        );
        assert_ne!(
            ntowf_v2(&nt, "User", "domain"),
            ntowf_v2(&nt, "User", "Domain")
        );
    }

    /// MS-NLMP 4.2.2: NTLMv1 without extended session security, with key exchange.
    #[test]
    fn ntlm_v1_4_2_2() {
        let m = unhex(SPEC_V1_AUTHENTICATE);
        let a = auth_of(&m);
        assert_eq!(
            desl(&nt_hash_of(b"Password"), &SERVER_CHALLENGE).to_vec(),
            unhex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94")
        );
        assert_eq!(
            desl(&lmowf_v1(b"Password"), &SERVER_CHALLENGE).to_vec(),
            unhex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13")
        );
        let k = verify(&challenge(a.flags), &a, &key("Password")).expect("verifies");
        assert_eq!(k.response, Response::NtlmV1);
        assert_eq!(
            k.session_base_key(),
            unhex("d87262b0cde4b1cb7499becccdf10784")
        );
        // KXKEY = session base key; the random session key 5555... comes out of the RC4.
        assert_eq!(k.exported_session_key(), [0x55; 16]);
        // The NT hash alone verifies too; a wrong password does not.
        assert!(verify(&challenge(a.flags), &a, &hash_key(nt_hash_of(b"Password"))).is_some());
        assert!(verify(&challenge(a.flags), &a, &key("Passw0rd")).is_none());
        // Right but for case: the LM response matches (LM upper-cases), the NT one does not,
        // and the keys would be wrong: not verified.
        assert!(verify(&challenge(a.flags), &a, &key("password")).is_none());
        // 4.2.2.4: the sealed "Plaintext" and its signature (client direction, seq 0).
        assert_eq!(
            k.seal_key(Direction::ClientToServer).to_vec(),
            vec![0x55; 16]
        );
        assert_eq!(k.sign_key(Direction::ClientToServer), None);
        let mut data = unhex("56fe04d861f9319af0d7238a2e3b4d457fb8");
        let mut s = k.sealer(Direction::ClientToServer);
        s.unseal(
            &[],
            &mut data,
            &[],
            &unhex("010000000000000009dcd1df2e459d36"),
        )
        .unwrap();
        assert_eq!(data, unhex(PLAINTEXT));
        assert_eq!((s.ok, s.bad), (1, 0));
    }

    /// MS-NLMP 4.2.2.1.3 / 4.2.2.2.3: the other key-exchange keys of the NTLMv1 example.
    #[test]
    fn ntlm_v1_key_exchange_variants() {
        let nt = unhex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
        let lm = unhex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
        // NON_NT_SESSION_KEY: KXKEY = LMOWF[..8] || 0; EncryptedRandomSessionKey 7452ca55...
        let f = 0xe280_8235 | flags::NON_NT_SESSION_KEY;
        let m = authenticate(f, &lm, &nt, &unhex("7452ca55c225a1ca04b48fae32cf56fc"));
        let k = verify(&challenge(f), &auth_of(&m), &key("Password")).unwrap();
        assert_eq!(k.exported_session_key(), [0x55; 16]);
        // LM_KEY: KXKEY b09e379f7fbecb1eaf0afdcb0383c8a0 (4.2.2.1.3); 5555... under it is the
        // EncryptedRandomSessionKey 4cd7bb57... (4.2.2.2.3), which verify opens again.
        let f = 0xe280_8235 | flags::LM_KEY;
        let mut enc = [0x55u8; 16];
        rc4_once(&unhex("b09e379f7fbecb1eaf0afdcb0383c8a0"), &mut enc);
        assert_eq!(enc.to_vec(), unhex("4cd7bb57d697ef9b549f02b8f9b37864"));
        let m = authenticate(f, &lm, &nt, &enc);
        let k = verify(&challenge(f), &auth_of(&m), &key("Password")).unwrap();
        assert_eq!(k.exported_session_key(), [0x55; 16]);
        // LM_KEY needs the password: an NT hash alone cannot derive it.
        assert!(
            verify(
                &challenge(f),
                &auth_of(&m),
                &hash_key(nt_hash_of(b"Password"))
            )
            .is_none()
        );
        // LM response alone (no NT response) verifies with the password.
        let m = authenticate(
            0xe280_8235,
            &lm,
            &[],
            &unhex("518822b1b3f350c8958682ecbb3e3cb7"),
        );
        let k = verify(&challenge(0xe280_8235), &auth_of(&m), &key("Password")).unwrap();
        assert_eq!(k.response, Response::Lm);
    }

    /// MS-NLMP 4.2.3: NTLMv1 with extended session security, no key exchange, 56-bit.
    #[test]
    fn ntlm_v1_ess_4_2_3() {
        let f: u32 = 0x8208_8235 & !flags::KEY_EXCH; // 56 | VERSION | ESS | TARGET_TYPE_SERVER | ALWAYS_SIGN | NTLM | SEAL | SIGN | OEM | UNICODE
        let lm = unhex("aaaaaaaaaaaaaaaa00000000000000000000000000000000");
        let nt = unhex("7537f803ae367128ca458204bde7caf81e97ed2683267232");
        let m = authenticate(f, &lm, &nt, &[]);
        let k = verify(&challenge(f), &auth_of(&m), &key("Password")).unwrap();
        assert_eq!(k.response, Response::NtlmV1Ess);
        assert_eq!(
            k.exported_session_key(),
            unhex("eb93429a8bd952f8b89c55b87f475edc")
        );
        assert_eq!(
            k.seal_key(Direction::ClientToServer).to_vec(),
            unhex("04dd7f014d8504d265a25cc86a3a7c06")
        );
        assert_eq!(
            k.sign_key(Direction::ClientToServer).unwrap().to_vec(),
            unhex("60e799be5c72fc92922ae8ebe961fb8d")
        );
        let mut data = unhex("a02372f6530273f3aa1eb90190ce5200c99d");
        let mut s = k.sealer(Direction::ClientToServer);
        s.unseal(
            &[],
            &mut data,
            &[],
            &unhex("01000000ff2aeb52f681793a00000000"),
        )
        .unwrap();
        assert_eq!(data, unhex(PLAINTEXT));
        // A wrong client challenge does not verify.
        let mut lm2 = lm.clone();
        lm2[0] ^= 1;
        let m = authenticate(f, &lm2, &nt, &[]);
        assert!(verify(&challenge(f), &auth_of(&m), &key("Password")).is_none());
    }

    /// The NTLMv2 response of MS-NLMP 4.2.4 (time 0, client challenge aa.., the CHALLENGE's
    /// target info).
    fn spec_v2_response() -> Vec<u8> {
        let c = unhex(SPEC_V2_CHALLENGE);
        let Some(Message::Challenge(ch)) = ntlmssp::parse(&c) else {
            panic!()
        };
        let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        temp.extend_from_slice(&[0; 8]);
        temp.extend_from_slice(&[0xaa; 8]);
        temp.extend_from_slice(&[0; 4]);
        temp.extend_from_slice(ch.target_info);
        temp.extend_from_slice(&[0; 4]);
        let rk = ntowf_v2(&nt_hash_of(b"Password"), "User", "Domain");
        let proof = hmac_md5(&rk, &[&SERVER_CHALLENGE, &temp]);
        let mut nt = proof.to_vec();
        nt.extend_from_slice(&temp);
        nt
    }

    /// MS-NLMP 4.2.4: NTLMv2 with key exchange, 128-bit.
    #[test]
    fn ntlm_v2_4_2_4() {
        let nt = spec_v2_response();
        assert_eq!(nt[..16].to_vec(), unhex("68cd0ab851e51c96aabc927bebef6a1c"));
        let f = 0xe28a_8233;
        let lm = unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
        let m = authenticate(f, &lm, &nt, &unhex("c5dad2544fc9799094ce1ce90bc9d03e"));
        let c = unhex(SPEC_V2_CHALLENGE);
        let Some(Message::Challenge(ch)) = ntlmssp::parse(&c) else {
            panic!()
        };
        let k = verify(&ch, &auth_of(&m), &key("Password")).expect("verifies");
        assert_eq!(k.response, Response::NtlmV2);
        assert_eq!(
            k.session_base_key(),
            unhex("8de40ccadbc14a82f15cb0ad0de95ca3")
        );
        assert_eq!(k.exported_session_key(), [0x55; 16]);
        assert_eq!(
            k.seal_key(Direction::ClientToServer).to_vec(),
            unhex("59f600973cc4960a25480a7c196e4c58")
        );
        assert_eq!(
            k.sign_key(Direction::ClientToServer).unwrap().to_vec(),
            unhex("4788dc861b4782f35d43fd98fe1a2d39")
        );
        let mut data = unhex("54e50165bf1936dc996020c1811b0f06fb5f");
        let mut s = k.sealer(Direction::ClientToServer);
        s.unseal(
            &[],
            &mut data,
            &[],
            &unhex("010000007fb38ec5c55d497600000000"),
        )
        .unwrap();
        assert_eq!(data, unhex(PLAINTEXT));
        // Wrong password, wrong user: no keys.
        assert!(verify(&ch, &auth_of(&m), &key("Password1")).is_none());
        let mut bad = m.clone();
        let user_at = bad.windows(8).position(|w| w == utf16le("User")).unwrap();
        bad[user_at] = b'X';
        assert!(verify(&ch, &auth_of(&bad), &key("Password")).is_none());
    }

    #[test]
    fn association_round_trip_both_directions_and_tampering() {
        let keys = SessionKeys::from_exported(0xe28a_8233, Response::NtlmV2, [0x42; 16]);
        let mut tx_c = keys.sealer(Direction::ClientToServer);
        let mut rx_c = keys.sealer(Direction::ClientToServer);
        let mut tx_s = keys.sealer(Direction::ServerToClient);
        let mut rx_s = keys.sealer(Direction::ServerToClient);
        let header = [5u8, 0, 0, 3, 0x10, 0, 0, 0];
        let trailer = [10u8, 6, 0, 0, 0, 0, 0, 0];
        for i in 0..5u8 {
            let plain: Vec<u8> = (0..40 + i).collect();
            let mut wire = plain.clone();
            let sig = tx_c.seal(&header, &mut wire, &trailer);
            assert_ne!(wire, plain);
            rx_c.unseal(&header, &mut wire, &trailer, &sig).unwrap();
            assert_eq!(wire, plain);
            let mut wire = plain.clone();
            let mut sig = tx_s.seal(&header, &mut wire, &trailer);
            if i == 2 {
                sig[5] ^= 1; // a tampered signature is reported, and the stream stays in step
                assert_eq!(
                    rx_s.unseal(&header, &mut wire, &trailer, &sig),
                    Err(SignError::Checksum)
                );
            } else {
                rx_s.unseal(&header, &mut wire, &trailer, &sig).unwrap();
            }
            assert_eq!(wire, plain);
        }
        assert_eq!((rx_s.ok, rx_s.bad), (4, 1));
        // Integrity only: signature without sealing.
        let msg = b"integrity only";
        let mut c = keys.sealer(Direction::ClientToServer);
        let mut v = keys.sealer(Direction::ClientToServer);
        let mut dummy = Vec::new();
        let sig = c.seal(msg, &mut dummy, &[]);
        v.verify(&[msg], &sig).unwrap();
        assert_eq!(v.verify(&[msg], &sig[..8]), Err(SignError::Malformed));
        // Without extended session security (CRC32 signatures).
        let keys = SessionKeys::from_exported(0xe280_8235, Response::NtlmV1, [0x42; 16]);
        let mut tx = keys.sealer(Direction::ServerToClient);
        let mut rx = keys.sealer(Direction::ServerToClient);
        for _ in 0..3 {
            let mut wire = b"legacy sealing".to_vec();
            let sig = tx.seal(&header, &mut wire, &trailer);
            rx.unseal(&header, &mut wire, &trailer, &sig).unwrap();
            assert_eq!(wire, b"legacy sealing");
        }
    }

    #[test]
    fn try_keys_reports_failures_per_account() {
        let nt = spec_v2_response();
        let lm = unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
        let m = authenticate(
            0xe28a_8233,
            &lm,
            &nt,
            &unhex("c5dad2544fc9799094ce1ce90bc9d03e"),
        );
        let c = unhex(SPEC_V2_CHALLENGE);
        let Some(Message::Challenge(ch)) = ntlmssp::parse(&c) else {
            panic!()
        };
        let mut ring = KeyRing::new();
        ring.load_bytes(
            b"password Domain\\User wrong\npassword OTHER\\User Password\npassword * Password\n",
            std::path::Path::new("k"),
            std::path::Path::new("."),
        )
        .unwrap();
        let o = try_keys(&ch, &auth_of(&m), &ring);
        assert_eq!(
            (o.account.user.as_str(), o.account.domain.as_str()),
            ("User", "Domain")
        );
        let (keys, source, origin) = o.verified.unwrap();
        assert_eq!(
            (source, origin.to_string()),
            (KeySource::Password, "k:3".to_string())
        );
        assert_eq!(keys.exported_session_key(), [0x55; 16]);
        // Line 2 is for another domain: not tried; line 1 tried and failed.
        assert_eq!(
            o.failed.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            ["k:1"]
        );
    }

    #[test]
    fn mic_over_the_three_messages() {
        let keys = SessionKeys::from_exported(0xe28a_8233, Response::NtlmV2, [0x55; 16]);
        let neg = b"NTLMSSP\0\x01\0\0\0negotiate".to_vec();
        let chal = unhex(SPEC_V2_CHALLENGE);
        let mut nt = vec![0x22u8; 16];
        nt.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
        nt.extend_from_slice(&[0u8; 20]);
        nt.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        let mut m = authenticate(0xe28a_8233, &[0; 24], &nt, &[]);
        // Shift the payload by 16 to make room for a MIC at 72.
        m.splice(72..72, [0u8; 16]);
        for f in 0..6 {
            let at = 12 + 8 * f + 4;
            let off = u32::from_le_bytes(m[at..at + 4].try_into().unwrap()) + 16;
            m[at..at + 4].copy_from_slice(&off.to_le_bytes());
        }
        let mic = hmac_md5(&[0x55; 16], &[&neg, &chal, &m]);
        m[72..88].copy_from_slice(&mic);
        let a = auth_of(&m);
        assert_eq!(verify_mic(&keys, &neg, &chal, &a), Some(true));
        let other = SessionKeys::from_exported(0xe28a_8233, Response::NtlmV2, [0x56; 16]);
        assert_eq!(verify_mic(&other, &neg, &chal, &a), Some(false));
    }
}
