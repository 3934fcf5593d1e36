//! SMB 3.x encryption (MS-SMB2 2.2.41, 3.1.4.3, 3.2.5.3, 3.3.5.5.3): key derivation from the
//! session key and decryption of TRANSFORM_HEADER (`0xFD 'SMB'`) messages.
//!
//! * [`kdf`]: SP800-108 counter mode with HMAC-SHA256 (r = 32, L = key bits).
//! * [`derive_keys`]: the two cipher keys of a session. SMB 3.0 / 3.0.2: label
//!   `"SMB2AESCCM\0"`, contexts `"ServerIn \0"` (client-to-server) and `"ServerOut\0"`
//!   (server-to-client). SMB 3.1.1: labels `"SMBC2SCipherKey\0"` / `"SMBS2CCipherKey\0"`
//!   with the session's preauth integrity hash as context, 256-bit keys for the AES-256
//!   ciphers.
//! * [`PreauthHash`]: SHA-512 chained over the NEGOTIATE request and response (the
//!   connection's value), then per session over each SESSION_SETUP request and each
//!   SESSION_SETUP response that is not the final success. Feed it whole SMB2 messages (from
//!   the `0xFE 'SMB'` header, without the 4-byte NBSS header).
//! * [`parse_transform`] / [`Decryptor`]: the 52-byte transform header (nonce, original
//!   size, flags or encryption algorithm, session id) and AEAD decryption in place with
//!   AES-128-CCM, AES-128-GCM, AES-256-CCM or AES-256-GCM. The AAD is the header from byte
//!   20 (nonce .. session id), the tag is its Signature field, CCM takes the first 11 nonce
//!   bytes, GCM the first 12.
//!
//! A [`Decryptor`] holds the expanded AES key: build it once per session and direction, then
//! each message costs only the AEAD pass over its bytes (no allocation).

use aes::{Aes128, Aes256};
use aes_gcm::aead::array::typenum::Unsigned;
use aes_gcm::aead::{AeadCore, AeadInOut, Nonce, Tag};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use ccm::Ccm;
use ccm::consts::{U11, U16};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;

/// The transform header's protocol id.
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xfd, b'S', b'M', b'B'];
/// Length of the transform header.
pub const TRANSFORM_HEADER_LEN: usize = 52;
/// Where the AAD starts (after ProtocolId and Signature).
const AAD_START: usize = 20;
/// Largest message decrypted (the SMB layer buffers no more either: 8 MiB + margin).
pub const MAX_TRANSFORM_BYTES: usize = (8 << 20) + (64 << 10);

/// SMB2 dialect revisions that encrypt.
pub const DIALECT_300: u16 = 0x0300;
pub const DIALECT_302: u16 = 0x0302;
pub const DIALECT_311: u16 = 0x0311;

/// Cipher ids of the SMB2_ENCRYPTION_CAPABILITIES negotiate context (MS-SMB2 2.2.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    Aes128Ccm,
    Aes128Gcm,
    Aes256Ccm,
    Aes256Gcm,
}

impl Cipher {
    pub fn from_id(id: u16) -> Option<Cipher> {
        Some(match id {
            1 => Cipher::Aes128Ccm,
            2 => Cipher::Aes128Gcm,
            3 => Cipher::Aes256Ccm,
            4 => Cipher::Aes256Gcm,
            _ => return None,
        })
    }
    pub fn id(self) -> u16 {
        match self {
            Cipher::Aes128Ccm => 1,
            Cipher::Aes128Gcm => 2,
            Cipher::Aes256Ccm => 3,
            Cipher::Aes256Gcm => 4,
        }
    }
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes128Gcm => 16,
            Cipher::Aes256Ccm | Cipher::Aes256Gcm => 32,
        }
    }
}

/// SP800-108 KDF in counter mode, PRF HMAC-SHA256, 32-bit counter and length, a zero byte
/// between label and context (MS-SMB2 3.1.4.2). Fills `out` (L = 8 * out.len()).
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = (out.len() as u32).wrapping_mul(8).to_be_bytes();
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut m =
            <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(&(i as u32 + 1).to_be_bytes());
        m.update(label);
        m.update(&[0]);
        m.update(context);
        m.update(&bits);
        let block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

/// The cipher keys of one session, per direction.
#[derive(Clone)]
pub struct SessionCipherKeys {
    pub cipher: Cipher,
    pub client_to_server: Zeroizing<Vec<u8>>,
    pub server_to_client: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SessionCipherKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCipherKeys")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

/// Derive the encryption keys of a session. `preauth` is the session's final preauth
/// integrity hash (3.1.1 only; ignored for 3.0/3.0.2, where the cipher is AES-128-CCM).
/// None for a dialect that does not encrypt or a 3.1.1 session without the hash.
pub fn derive_keys(
    session_key: &[u8],
    dialect: u16,
    cipher: Cipher,
    preauth: Option<&[u8; 64]>,
) -> Option<SessionCipherKeys> {
    match dialect {
        DIALECT_300 | DIALECT_302 => {
            let mut c2s = Zeroizing::new(vec![0u8; 16]);
            let mut s2c = Zeroizing::new(vec![0u8; 16]);
            kdf(session_key, b"SMB2AESCCM\0", b"ServerIn \0", &mut c2s);
            kdf(session_key, b"SMB2AESCCM\0", b"ServerOut\0", &mut s2c);
            Some(SessionCipherKeys {
                cipher: Cipher::Aes128Ccm,
                client_to_server: c2s,
                server_to_client: s2c,
            })
        }
        DIALECT_311 => {
            let h = preauth?;
            let n = cipher.key_len();
            let mut c2s = Zeroizing::new(vec![0u8; n]);
            let mut s2c = Zeroizing::new(vec![0u8; n]);
            kdf(session_key, b"SMBC2SCipherKey\0", h, &mut c2s);
            kdf(session_key, b"SMBS2CCipherKey\0", h, &mut s2c);
            Some(SessionCipherKeys {
                cipher,
                client_to_server: c2s,
                server_to_client: s2c,
            })
        }
        _ => None,
    }
}

/// The SMB 3.1.1 preauth integrity hash (SHA-512 chain).
#[derive(Clone, PartialEq, Eq)]
pub struct PreauthHash(pub [u8; 64]);

impl Default for PreauthHash {
    fn default() -> Self {
        PreauthHash([0; 64])
    }
}

impl std::fmt::Debug for PreauthHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreauthHash(..)")
    }
}

impl PreauthHash {
    pub fn new() -> Self {
        Self::default()
    }
    /// H = SHA-512(H || message).
    pub fn update(&mut self, message: &[u8]) {
        let mut h = Sha512::new();
        h.update(self.0);
        h.update(message);
        self.0.copy_from_slice(&h.finalize());
    }
}

/// The fields of a TRANSFORM_HEADER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformHeader {
    pub signature: [u8; 16],
    pub nonce: [u8; 16],
    pub original_size: u32,
    /// 3.1.1: Flags (1 = encrypted); 3.0/3.0.2: EncryptionAlgorithm (1 = AES-128-CCM).
    pub flags: u16,
    pub session_id: u64,
}

/// Parse the header of a transform message (`msg` starts at the `0xFD 'SMB'` id). Returns
/// the header and the length of the encrypted data that follows it. None when it is not a
/// transform header, cut short, or the original size does not fit the message.
pub fn parse_transform(msg: &[u8]) -> Option<(TransformHeader, usize)> {
    if msg.len() < TRANSFORM_HEADER_LEN || msg[..4] != TRANSFORM_PROTOCOL_ID {
        return None;
    }
    let h = TransformHeader {
        signature: msg[4..20].try_into().ok()?,
        nonce: msg[20..36].try_into().ok()?,
        original_size: u32::from_le_bytes(msg[36..40].try_into().ok()?),
        flags: u16::from_le_bytes(msg[42..44].try_into().ok()?),
        session_id: u64::from_le_bytes(msg[44..52].try_into().ok()?),
    };
    let n = h.original_size as usize;
    if n > MAX_TRANSFORM_BYTES || n > msg.len() - TRANSFORM_HEADER_LEN {
        return None;
    }
    Some((h, n))
}

/// Why a transform message did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Smb3Error {
    #[error("not a transform message, or cut short")]
    Malformed,
    #[error("authentication tag mismatch (wrong key or damaged message)")]
    Tag,
}

enum Engine {
    Ccm128(Box<Aes128Ccm>),
    Gcm128(Box<Aes128Gcm>),
    Ccm256(Box<Aes256Ccm>),
    Gcm256(Box<Aes256Gcm>),
}

/// One direction's decryption state (the expanded key).
pub struct Decryptor {
    engine: Engine,
    pub cipher: Cipher,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// None when the key length does not suit the cipher.
    pub fn new(cipher: Cipher, key: &[u8]) -> Option<Decryptor> {
        if key.len() != cipher.key_len() {
            return None;
        }
        let engine = match cipher {
            Cipher::Aes128Ccm => Engine::Ccm128(Box::new(Aes128Ccm::new_from_slice(key).ok()?)),
            Cipher::Aes128Gcm => Engine::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Cipher::Aes256Ccm => Engine::Ccm256(Box::new(Aes256Ccm::new_from_slice(key).ok()?)),
            Cipher::Aes256Gcm => Engine::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
        };
        Some(Decryptor { engine, cipher })
    }

    /// Decrypt a whole transform message in place. On success the plaintext SMB2
    /// message(s) are `msg[TRANSFORM_HEADER_LEN..TRANSFORM_HEADER_LEN + len]` and `len` is
    /// returned. On a tag mismatch the buffer content is unspecified (the AEAD leaves the
    /// ciphertext or zeroes).
    pub fn decrypt_in_place(&self, msg: &mut [u8]) -> Result<usize, Smb3Error> {
        let (h, n) = parse_transform(msg).ok_or(Smb3Error::Malformed)?;
        let (head, rest) = msg.split_at_mut(TRANSFORM_HEADER_LEN);
        let aad = &head[AAD_START..];
        let data = &mut rest[..n];
        let ok = match &self.engine {
            Engine::Ccm128(c) => open(&**c, &h, aad, data),
            Engine::Ccm256(c) => open(&**c, &h, aad, data),
            Engine::Gcm128(c) => open(&**c, &h, aad, data),
            Engine::Gcm256(c) => open(&**c, &h, aad, data),
        };
        if ok { Ok(n) } else { Err(Smb3Error::Tag) }
    }

    /// Build a transform message around `plain` (tests and fuzzing make traffic with it).
    pub fn encrypt(&self, nonce: [u8; 16], flags: u16, session_id: u64, plain: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(TRANSFORM_HEADER_LEN + plain.len());
        m.extend_from_slice(&TRANSFORM_PROTOCOL_ID);
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(&nonce);
        m.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&session_id.to_le_bytes());
        m.extend_from_slice(plain);
        let (head, rest) = m.split_at_mut(TRANSFORM_HEADER_LEN);
        let aad = head[AAD_START..].to_vec();
        let tag = match &self.engine {
            Engine::Ccm128(c) => seal(&**c, &nonce, &aad, rest),
            Engine::Ccm256(c) => seal(&**c, &nonce, &aad, rest),
            Engine::Gcm128(c) => seal(&**c, &nonce, &aad, rest),
            Engine::Gcm256(c) => seal(&**c, &nonce, &aad, rest),
        };
        head[4..20].copy_from_slice(&tag);
        m
    }
}

/// The AEAD's nonce: the first 11 (CCM) or 12 (GCM) bytes of the header's 16.
fn nonce_of<A: AeadCore>(nonce: &[u8; 16]) -> Option<Nonce<A>> {
    let n = <A as AeadCore>::NonceSize::USIZE;
    Nonce::<A>::try_from(nonce.get(..n)?).ok()
}

fn open<A: AeadInOut>(a: &A, h: &TransformHeader, aad: &[u8], data: &mut [u8]) -> bool {
    let (Some(nonce), Ok(tag)) = (
        nonce_of::<A>(&h.nonce),
        Tag::<A>::try_from(&h.signature[..]),
    ) else {
        return false;
    };
    a.decrypt_inout_detached(&nonce, aad, data.into(), &tag)
        .is_ok()
}

fn seal<A: AeadInOut>(a: &A, nonce: &[u8; 16], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    let nonce = nonce_of::<A>(nonce).expect("11 or 12 of 16 bytes");
    let tag = a
        .encrypt_inout_detached(&nonce, aad, data.into())
        .expect("message within AEAD limits");
    let mut out = [0u8; 16];
    out.copy_from_slice(&tag);
    out
}

/// What an SMB2 NEGOTIATE response settles for encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateResponse {
    pub dialect: u16,
    /// The cipher of the SMB2_ENCRYPTION_CAPABILITIES context (3.1.1); 3.0/3.0.2 always use
    /// AES-128-CCM and send no context.
    pub cipher: Option<Cipher>,
}

/// Negotiate contexts read at most (a server sends a handful).
const MAX_CONTEXTS: usize = 32;

/// Read the dialect and cipher of an SMB2 NEGOTIATE response (`msg` from the `0xFE 'SMB'`
/// header). None when it is not a NEGOTIATE response or is cut short.
pub fn negotiate_response(msg: &[u8]) -> Option<NegotiateResponse> {
    let u16_at = |o: usize| msg.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        msg.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if msg.get(..4)? != [0xfe, b'S', b'M', b'B'] || u16_at(12)? != 0 || u32_at(16)? & 1 == 0 {
        return None;
    }
    let dialect = u16_at(68)?;
    let cipher = match dialect {
        DIALECT_300 | DIALECT_302 => Some(Cipher::Aes128Ccm),
        DIALECT_311 => {
            let count = (u16_at(70)? as usize).min(MAX_CONTEXTS);
            let mut at = u32_at(124)? as usize;
            let mut found = None;
            for _ in 0..count {
                let (ty, len) = (u16_at(at)?, u16_at(at + 2)? as usize);
                let data = msg.get(at + 8..at + 8 + len)?;
                if ty == 2 && data.len() >= 4 {
                    found = Cipher::from_id(u16::from_le_bytes([data[2], data[3]]));
                }
                at = (at + 8 + len).next_multiple_of(8);
            }
            found
        }
        _ => None,
    };
    Some(NegotiateResponse { dialect, cipher })
}

/// An SMB2 header's session id (bytes 40..48), for the preauth bookkeeping of the caller.
pub fn smb2_session_id(msg: &[u8]) -> Option<u64> {
    (msg.get(..4)? == [0xfe, b'S', b'M', b'B']).then_some(())?;
    Some(u64::from_le_bytes(msg.get(40..48)?.try_into().ok()?))
}

/// Hex of a key for tests that compare with published values.
#[cfg(test)]
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlmssp::tests::unhex;

    /// Microsoft's "Encryption in SMB 3.0: a protocol perspective" (Open Specifications
    /// blog) key pair for session key b4546771...
    #[test]
    fn smb300_keys_microsoft_blog() {
        let k = derive_keys(
            &unhex("b4546771b515f766a86735532dd6c4f0"),
            DIALECT_300,
            Cipher::Aes128Ccm,
            None,
        )
        .unwrap();
        assert_eq!(hex(&k.client_to_server), "261b72350558f2e9dcf613070383edbf");
        assert_eq!(hex(&k.server_to_client), "8fe2b57ec34d2db5b1a9727f526bbdb5");
    }

    /// Wireshark's test suite (suite_decryption.py, smb300-aes-128-ccm): session key
    /// 9a9ea16a... gives S2C 8be6cc53... and C2S bff98587...
    #[test]
    fn smb300_keys_wireshark_suite() {
        let k = derive_keys(
            &unhex("9a9ea16a0cdbeb6064772318073f172f"),
            DIALECT_302,
            Cipher::Aes128Gcm,
            None,
        )
        .unwrap();
        assert_eq!(k.cipher, Cipher::Aes128Ccm);
        assert_eq!(hex(&k.server_to_client), "8be6cc53d4beba29387e69aef035d497");
        assert_eq!(hex(&k.client_to_server), "bff985870e81784d533fdc09497b8eab");
        assert!(derive_keys(&[0; 16], 0x0210, Cipher::Aes128Ccm, None).is_none());
        assert!(derive_keys(&[0; 16], DIALECT_311, Cipher::Aes128Ccm, None).is_none());
    }

    #[test]
    fn kdf_lengths_and_labels() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 16];
        kdf(b"key", b"SMBC2SCipherKey\0", &[7; 64], &mut a);
        kdf(b"key", b"SMBC2SCipherKey\0", &[7; 64], &mut b);
        // L is part of the input: a 128-bit key is not the prefix of the 256-bit one.
        assert_ne!(a[..16], b);
        let h = [9u8; 64];
        let k = derive_keys(
            b"0123456789abcdef",
            DIALECT_311,
            Cipher::Aes256Gcm,
            Some(&h),
        )
        .unwrap();
        assert_eq!(
            (k.client_to_server.len(), k.server_to_client.len()),
            (32, 32)
        );
        assert_ne!(k.client_to_server, k.server_to_client);
        let mut p = PreauthHash::new();
        p.update(b"negotiate request");
        let once = p.0;
        p.update(b"negotiate response");
        assert_ne!(once, p.0);
        assert_ne!(once, [0; 64]);
    }

    #[test]
    fn every_cipher_round_trips_and_rejects_a_wrong_key() {
        let plain = {
            let mut m = vec![0xfe, b'S', b'M', b'B', 64, 0];
            m.resize(64, 0);
            m[12] = 3; // TREE_CONNECT
            m.extend_from_slice(b"\\\\server\\IPC$");
            m
        };
        for c in [
            Cipher::Aes128Ccm,
            Cipher::Aes128Gcm,
            Cipher::Aes256Ccm,
            Cipher::Aes256Gcm,
        ] {
            let key = vec![0x5a; c.key_len()];
            let d = Decryptor::new(c, &key).unwrap();
            let mut m = d.encrypt([3; 16], 1, 0x1234, &plain);
            assert_ne!(&m[52..], &plain[..]);
            let (h, n) = parse_transform(&m).unwrap();
            assert_eq!((h.session_id, h.flags, n), (0x1234, 1, plain.len()));
            let mut bad = m.clone();
            let n = d.decrypt_in_place(&mut m).unwrap();
            assert_eq!(&m[52..52 + n], &plain[..]);
            // Wrong key, tampered AAD, cut message: errors, no panic.
            let other = Decryptor::new(c, &vec![0x5b; c.key_len()]).unwrap();
            assert_eq!(
                other.decrypt_in_place(&mut bad.clone()),
                Err(Smb3Error::Tag)
            );
            bad[50] ^= 1;
            assert_eq!(d.decrypt_in_place(&mut bad.clone()), Err(Smb3Error::Tag));
            let cut = bad.len() - 1;
            assert_eq!(
                d.decrypt_in_place(&mut bad[..cut]),
                Err(Smb3Error::Malformed)
            );
            assert!(Decryptor::new(c, &[0; 24]).is_none());
        }
        assert_eq!(parse_transform(b"\xfeSMB"), None);
        assert_eq!(Cipher::from_id(5), None);
        assert_eq!(Cipher::from_id(4).map(Cipher::id), Some(4));
    }
}
