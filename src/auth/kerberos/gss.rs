//! GSS-API per-message tokens of a Kerberos context: RFC 4121 (AES etypes: wrap token
//! `05 04`, MIC token `04 04`) and RFC 4757 (RC4-HMAC: wrap `02 01`, MIC `01 01`), in the
//! DCE-RPC layout.
//!
//! DCE style (MS-KILE 3.4.5.4.1, MS-RPCE 3.3.1.5.2): the token header sits in the PDU's auth
//! trailer (`auth_value`), and the encrypted data is the stub itself, in place.
//! * AES: `auth_value` = 16-byte header + the first `RRC + EC` bytes of the rotated token
//!   body. Windows rotates by RRC + EC, not RRC alone (Wireshark does the same). Un-rotated,
//!   the body is `E(confounder | stub | EC filler | header copy) | HMAC-SHA1-96`. With
//!   header signing the HMAC also covers the PDU header and the sec_trailer, as sign-only
//!   data between confounder and stub and after the stub (krb5's IOV order).
//! * RC4: `auth_value` = the 32-byte token (header, encrypted sequence number, checksum,
//!   encrypted confounder); the stub follows the confounder in the same RC4 stream.
//!
//! Per direction: the sender is in the token (RFC 4121 SentByAcceptor flag; RC4: the
//! direction bytes of the decrypted sequence number), so one [`GssContext`] serves both
//! directions. The context key is the acceptor subkey when the AP-REP carried one (and,
//! for AES, the token's AcceptorSubkey flag says so), else the authenticator's subkey, else
//! the ticket's session key.
//!
//! Allocation: the AES path assembles the rotated token in a scratch buffer kept in the
//! context (grown once, reused); derived keys are cached per (key, usage).

use super::crypto::{self, CryptoError, ETYPE_RC4_HMAC, Key, UsageKeys, hmac_md5};
use rc4::Rc4;
use rc4::cipher::{KeyInit, StreamCipher};

pub const TOK_WRAP_CFX: [u8; 2] = [0x05, 0x04];
pub const TOK_MIC_CFX: [u8; 2] = [0x04, 0x04];
pub const TOK_WRAP_RC4: [u8; 2] = [0x02, 0x01];
pub const TOK_MIC_RC4: [u8; 2] = [0x01, 0x01];

/// RFC 4121 token flags.
pub const FLAG_SENT_BY_ACCEPTOR: u8 = 0x01;
pub const FLAG_SEALED: u8 = 0x02;
pub const FLAG_ACCEPTOR_SUBKEY: u8 = 0x04;

/// RFC 4121 key usages.
pub const USAGE_ACCEPTOR_SEAL: u32 = 22;
pub const USAGE_ACCEPTOR_SIGN: u32 = 23;
pub const USAGE_INITIATOR_SEAL: u32 = 24;
pub const USAGE_INITIATOR_SIGN: u32 = 25;

const CFX_HEADER: usize = 16;
const AES_MAC: usize = 12;
const AES_CONF: usize = 16;
const RC4_TOKEN: usize = 32;
const RC4_MIC: usize = 24;
/// Largest token body handled (stub + trailer): DCE fragments are far smaller.
pub const MAX_TOKEN: usize = 1 << 20;

/// Who sent a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Initiator,
    Acceptor,
}

impl Sender {
    /// The RFC 4121 key usage of the tokens this side sends, sealed or signed.
    fn usage(self, sealed: bool) -> u32 {
        match (self, sealed) {
            (Sender::Acceptor, true) => USAGE_ACCEPTOR_SEAL,
            (Sender::Initiator, true) => USAGE_INITIATOR_SEAL,
            (Sender::Acceptor, false) => USAGE_ACCEPTOR_SIGN,
            (Sender::Initiator, false) => USAGE_INITIATOR_SIGN,
        }
    }
}

/// An RFC 4121 token header: TOK_ID, Flags, Filler, EC, RRC, SND_SEQ (16 bytes).
#[derive(Debug, Clone, Copy)]
struct CfxHeader([u8; CFX_HEADER]);

impl CfxHeader {
    /// The header `tok` starts with.
    fn read(tok: &[u8]) -> Result<Self, GssError> {
        tok.get(..CFX_HEADER)
            .and_then(|h| h.try_into().ok())
            .map(CfxHeader)
            .ok_or(GssError::Malformed)
    }

    fn flags(&self) -> u8 {
        self.0[2]
    }

    fn sealed(&self) -> bool {
        self.flags() & FLAG_SEALED != 0
    }

    /// The AcceptorSubkey flag.
    fn acceptor_subkey(&self) -> bool {
        self.flags() & FLAG_ACCEPTOR_SUBKEY != 0
    }

    fn sender(&self) -> Sender {
        if self.flags() & FLAG_SENT_BY_ACCEPTOR != 0 {
            Sender::Acceptor
        } else {
            Sender::Initiator
        }
    }

    /// Extra count: filler bytes of a sealed token, checksum length of an unsealed one.
    fn ec(&self) -> usize {
        u16::from_be_bytes([self.0[4], self.0[5]]).into()
    }

    /// Right rotation count of the token body.
    fn rrc(&self) -> usize {
        u16::from_be_bytes([self.0[6], self.0[7]]).into()
    }
}

/// Whether a token's checksum verifies over the data with the sign-only PDU header and
/// sec_trailer around it (`before`, `after`: header signing) or, when there are some,
/// over the data alone (a peer that does not sign the header). `check(before, after)`
/// computes the checksum with those sign-only parts (an empty part adds nothing to the
/// hash) and compares it with the token's.
fn verifies(before: &[u8], after: &[u8], check: impl Fn(&[u8], &[u8]) -> bool) -> bool {
    check(before, after) || (!(before.is_empty() && after.is_empty()) && check(&[], &[]))
}

/// RFC 4757 Kcrypt: the RC4 key of a token's confounder and data, from the session key
/// `kss` and the sequence number's first 4 bytes.
fn rc4_kcrypt(kss: &[u8], seq: &[u8]) -> [u8; 16] {
    let klocal: Vec<u8> = kss.iter().map(|b| b ^ 0xf0).collect();
    hmac_md5(&hmac_md5(&klocal, &[&[0, 0, 0, 0]]), &[seq])
}

/// RFC 4757 Kseq: the RC4 key of a token's sequence number, from its checksum.
fn rc4_kseq(kss: &[u8], cksum: &[u8]) -> [u8; 16] {
    hmac_md5(&hmac_md5(kss, &[&[0, 0, 0, 0]]), &[cksum])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GssError {
    #[error("not a Kerberos wrap/MIC token, or cut short")]
    Malformed,
    #[error("checksum mismatch (wrong key, damaged or reordered message)")]
    Checksum,
    #[error("key: {0}")]
    Crypto(#[from] CryptoError),
}

/// A Kerberos GSS context as seen from the wire.
pub struct GssContext {
    session_key: Key,
    initiator_subkey: Option<Key>,
    acceptor_subkey: Option<Key>,
    cache: Vec<(bool, u32, UsageKeys)>,
    /// RFC 4757 keys that do not change per message, derived once.
    rc4: Option<Rc4Keys>,
    scratch: Vec<u8>,
    /// Tokens whose checksum verified / did not.
    pub ok: u64,
    pub bad: u64,
}

impl std::fmt::Debug for GssContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GssContext")
            .field("etype", &self.session_key.etype)
            .field("ok", &self.ok)
            .field("bad", &self.bad)
            .finish_non_exhaustive()
    }
}

/// The per-context RFC 4757 keys: HMAC(K, 0) (sequence-number key base), HMAC(K XOR F0, 0)
/// (encryption key base) and HMAC(K, "signaturekey\0"). Wiped on drop.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct Rc4Keys {
    seq_base: [u8; 16],
    crypt_base: [u8; 16],
    sign: [u8; 16],
}

impl Rc4Keys {
    fn new(kss: &[u8]) -> Self {
        let klocal: zeroize::Zeroizing<Vec<u8>> =
            zeroize::Zeroizing::new(kss.iter().map(|b| b ^ 0xf0).collect());
        Rc4Keys {
            seq_base: hmac_md5(kss, &[&[0, 0, 0, 0]]),
            crypt_base: hmac_md5(&klocal, &[&[0, 0, 0, 0]]),
            sign: hmac_md5(kss, &[b"signaturekey\0"]),
        }
    }

    /// The sender's sequence number (decrypted) and who sent the token.
    fn seq(&self, tok: &[u8]) -> Result<([u8; 8], Sender), GssError> {
        let mut seq: [u8; 8] = tok
            .get(8..16)
            .and_then(|s| s.try_into().ok())
            .ok_or(GssError::Malformed)?;
        let kseq = hmac_md5(
            &self.seq_base,
            &[tok.get(16..24).ok_or(GssError::Malformed)?],
        );
        Rc4::new_from_slice(&kseq)
            .expect("16")
            .apply_keystream(&mut seq);
        let sender = match seq[4..8] {
            [0, 0, 0, 0] => Sender::Initiator,
            [0xff, 0xff, 0xff, 0xff] => Sender::Acceptor,
            _ => return Err(GssError::Checksum),
        };
        Ok((seq, sender))
    }

    /// SGN_CKSUM: the first 8 bytes of the RFC 4757 checksum (as [`crypto::rc4_checksum`]
    /// computes it, with the signature key derived once).
    fn cksum(&self, usage: u32, parts: &[&[u8]]) -> [u8; 8] {
        crypto::rc4_checksum_keyed(&self.sign, usage, parts)[..8]
            .try_into()
            .expect("8")
    }
}

impl GssContext {
    pub fn new(
        session_key: Key,
        initiator_subkey: Option<Key>,
        acceptor_subkey: Option<Key>,
    ) -> Self {
        GssContext {
            session_key,
            initiator_subkey,
            acceptor_subkey,
            cache: Vec::new(),
            rc4: None,
            scratch: Vec::new(),
            ok: 0,
            bad: 0,
        }
    }

    /// The key a token uses (`acceptor_flag`: RFC 4121's AcceptorSubkey flag; RC4 has none
    /// and takes the acceptor subkey whenever there is one).
    fn key(&self, acceptor_flag: bool) -> &Key {
        let acc = if acceptor_flag || self.session_key.etype == ETYPE_RC4_HMAC {
            self.acceptor_subkey.as_ref()
        } else {
            None
        };
        acc.or(self.initiator_subkey.as_ref())
            .unwrap_or(&self.session_key)
    }

    fn usage_keys(&mut self, acceptor_flag: bool, usage: u32) -> Result<&UsageKeys, GssError> {
        let i = match self
            .cache
            .iter()
            .position(|(a, u, _)| *a == acceptor_flag && *u == usage)
        {
            Some(i) => i,
            None => {
                let uk = UsageKeys::new(self.key(acceptor_flag), usage)?;
                self.cache.push((acceptor_flag, usage, uk));
                self.cache.len() - 1
            }
        };
        Ok(&self.cache[i].2)
    }

    fn count<T>(&mut self, r: Result<T, GssError>) -> Result<T, GssError> {
        match &r {
            Ok(_) => self.ok += 1,
            Err(GssError::Checksum) => self.bad += 1,
            Err(_) => {}
        }
        r
    }

    /// DCE-RPC packet privacy: unseal the stub `data` in place with the token in
    /// `auth_value`; `before`/`after` are the sign-only PDU header and sec_trailer (empty
    /// without header signing). On `Err(Checksum)` the data is decrypted but unverified.
    pub fn unwrap_dce(
        &mut self,
        auth_value: &[u8],
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
    ) -> Result<Sender, GssError> {
        let auth_value = strip_framing(auth_value);
        let r = match auth_value.get(..2) {
            Some(id) if id == TOK_WRAP_CFX => self.unwrap_cfx_dce(auth_value, before, data, after),
            Some(id) if id == TOK_WRAP_RC4 => self.unwrap_rc4_dce(auth_value, before, data, after),
            _ => Err(GssError::Malformed),
        };
        self.count(r)
    }

    /// DCE-RPC packet integrity: verify the token in `auth_value` over the stub (the data
    /// stays in clear), with `before`/`after` as in [`GssContext::unwrap_dce`].
    pub fn verify_dce(
        &mut self,
        auth_value: &[u8],
        before: &[u8],
        data: &[u8],
        after: &[u8],
    ) -> Result<Sender, GssError> {
        let auth_value = strip_framing(auth_value);
        let r = match auth_value.get(..2) {
            Some(id) if id == TOK_MIC_CFX || id == TOK_WRAP_CFX => {
                self.verify_cfx(auth_value, before, data, after)
            }
            Some(id) if id == TOK_MIC_RC4 || id == TOK_WRAP_RC4 => {
                self.verify_rc4(auth_value, before, data, after)
            }
            _ => Err(GssError::Malformed),
        };
        self.count(r)
    }

    fn unwrap_cfx_dce(
        &mut self,
        av: &[u8],
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
    ) -> Result<Sender, GssError> {
        let hdr = CfxHeader::read(av)?;
        if hdr.0[3] != 0xff || !hdr.sealed() {
            return Err(GssError::Malformed);
        }
        let (ec, rrc) = (hdr.ec(), hdr.rrc());
        let rest = &av[CFX_HEADER..];
        let n = data.len();
        // Un-rotated body: conf | stub | filler(ec) | header copy | hmac.
        let total = rest.len() + n;
        if total != AES_CONF + n + ec + CFX_HEADER + AES_MAC || total > MAX_TOKEN {
            return Err(GssError::Malformed);
        }
        let sender = hdr.sender();
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(rest);
        buf.extend_from_slice(data);
        buf.rotate_left((rrc + ec) % total);
        let result = (|| {
            let UsageKeys::Aes { ke, ki, .. } =
                self.usage_keys(hdr.acceptor_subkey(), sender.usage(true))?
            else {
                return Err(GssError::Malformed);
            };
            let (c, h) = buf.split_at_mut(total - AES_MAC);
            crypto::cts_decrypt(ke, c)?;
            let (conf, tail) = c.split_at(AES_CONF);
            let (stub, fh) = tail.split_at(n);
            let ok = verifies(before, after, |b, a| {
                hmac_sha1_96(ki, &[conf, b, stub, a, fh]) == h[..]
            });
            data.copy_from_slice(stub);
            ok.then_some(sender).ok_or(GssError::Checksum)
        })();
        self.scratch = buf;
        result
    }

    fn verify_cfx(
        &mut self,
        av: &[u8],
        before: &[u8],
        data: &[u8],
        after: &[u8],
    ) -> Result<Sender, GssError> {
        let hdr = CfxHeader::read(av)?;
        let sender = hdr.sender();
        let cksum = av
            .get(CFX_HEADER..CFX_HEADER + AES_MAC)
            .ok_or(GssError::Malformed)?;
        // A wrap token without confidentiality checksums the header with EC and RRC zeroed.
        let mut h = hdr.0;
        if h[..2] == TOK_WRAP_CFX {
            if hdr.sealed() {
                return Err(GssError::Malformed);
            }
            h[4..8].fill(0);
        }
        let uk = self.usage_keys(hdr.acceptor_subkey(), sender.usage(false))?;
        let ok = verifies(before, after, |b, a| {
            uk.checksum(&[b, data, a, &h]) == cksum
        });
        ok.then_some(sender).ok_or(GssError::Checksum)
    }

    /// RC4: decrypt SND_SEQ; its last 4 bytes tell the sender.
    /// The context's RFC 4757 keys (derived at the first RC4 token, then reused).
    fn rc4_keys(&mut self) -> Rc4Keys {
        if self.rc4.is_none() {
            self.rc4 = Some(Rc4Keys::new(self.key(true).expose()));
        }
        self.rc4.clone().expect("set above")
    }

    /// SGN_CKSUM: the first 8 bytes of the RFC 4757 checksum.
    fn rc4_cksum(kss: &[u8], usage: u32, parts: &[&[u8]]) -> [u8; 8] {
        crypto::rc4_checksum(kss, usage, parts)[..8]
            .try_into()
            .expect("8")
    }

    fn unwrap_rc4_dce(
        &mut self,
        tok: &[u8],
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
    ) -> Result<Sender, GssError> {
        if tok.len() < RC4_TOKEN || tok[2..4] != [0x11, 0x00] || tok[4..6] != [0x10, 0x00] {
            return Err(GssError::Malformed);
        }
        let keys = self.rc4_keys();
        let (seq, sender) = keys.seq(tok)?;
        let kcrypt = hmac_md5(&keys.crypt_base, &[&seq[..4]]);
        let mut rc4 = Rc4::new_from_slice(&kcrypt).expect("16");
        let mut conf: [u8; 8] = tok[24..32].try_into().expect("8");
        rc4.apply_keystream(&mut conf);
        rc4.apply_keystream(data);
        let want = &tok[16..24];
        let ok = verifies(before, after, |b, a| {
            keys.cksum(13, &[&tok[..8], &conf, b, data, a]) == want
        });
        ok.then_some(sender).ok_or(GssError::Checksum)
    }

    fn verify_rc4(
        &mut self,
        tok: &[u8],
        before: &[u8],
        data: &[u8],
        after: &[u8],
    ) -> Result<Sender, GssError> {
        let keys = self.rc4_keys();
        let (usage, signed): (u32, Vec<&[u8]>) = if tok.get(..2) == Some(&TOK_MIC_RC4[..]) {
            if tok.len() < RC4_MIC {
                return Err(GssError::Malformed);
            }
            (15, vec![&tok[..8]])
        } else {
            // A wrap token without sealing: the confounder travels in clear.
            if tok.len() < RC4_TOKEN || tok[4..6] != [0xff, 0xff] {
                return Err(GssError::Malformed);
            }
            (13, vec![&tok[..8], &tok[24..32]])
        };
        let (_, sender) = keys.seq(tok)?;
        let want = &tok[16..24];
        let ok = verifies(before, after, |b, a| {
            let mut parts = signed.clone();
            parts.extend_from_slice(&[b, data, a]);
            keys.cksum(usage, &parts) == want
        });
        ok.then_some(sender).ok_or(GssError::Checksum)
    }

    /// A whole wrap token in one buffer (GSS-API use outside DCE-RPC): RFC 4121 (header,
    /// then the body rotated right by RRC; sealed or integrity-only) or RFC 4757 (GSS-framed
    /// RC4 token followed by the encrypted data and its 1-byte pad). Unwraps in place and
    /// returns the sender and where the plaintext lies in `token`.
    pub fn unwrap_token(
        &mut self,
        token: &mut [u8],
    ) -> Result<(Sender, std::ops::Range<usize>), GssError> {
        let r = self.unwrap_token_inner(token);
        self.count(r)
    }

    fn unwrap_token_inner(
        &mut self,
        token: &mut [u8],
    ) -> Result<(Sender, std::ops::Range<usize>), GssError> {
        if token.len() > MAX_TOKEN {
            return Err(GssError::Malformed);
        }
        let start = token.len() - strip_framing(token).len();
        let (_, tok) = token.split_at_mut(start);
        if tok.get(..2) == Some(&TOK_WRAP_RC4[..]) {
            if tok.len() < RC4_TOKEN + 1 {
                return Err(GssError::Malformed);
            }
            let (hdr, data) = tok.split_at_mut(RC4_TOKEN);
            let sender = self.unwrap_rc4_dce(hdr, &[], data, &[])?;
            // RFC 1964 pads to the 1-byte RC4 "block": one pad byte of value 1.
            let pad = usize::from(*data.last().unwrap_or(&0));
            if pad == 0 || pad > data.len() {
                return Err(GssError::Malformed);
            }
            return Ok((
                sender,
                start + RC4_TOKEN..start + RC4_TOKEN + data.len() - pad,
            ));
        }
        if tok.get(..2) != Some(&TOK_WRAP_CFX[..]) || tok.len() < CFX_HEADER + AES_MAC {
            return Err(GssError::Malformed);
        }
        let (h, body) = tok.split_at_mut(CFX_HEADER);
        let hdr = CfxHeader::read(h)?;
        if hdr.0[3] != 0xff {
            return Err(GssError::Malformed);
        }
        let (ec, rrc) = (hdr.ec(), hdr.rrc());
        let n = body.len();
        body.rotate_left(rrc % n);
        let sender = hdr.sender();
        let acc = hdr.acceptor_subkey();
        let base = start + CFX_HEADER;
        if hdr.sealed() {
            if n < AES_CONF + ec + CFX_HEADER + AES_MAC {
                return Err(GssError::Malformed);
            }
            let range = self
                .usage_keys(acc, sender.usage(true))?
                .decrypt_in_place(body)?;
            // Plaintext = data | filler(ec) | header copy.
            let end = range
                .end
                .checked_sub(ec + CFX_HEADER)
                .ok_or(GssError::Malformed)?;
            Ok((sender, base + range.start..base + end))
        } else {
            let data_len = n.checked_sub(ec).ok_or(GssError::Malformed)?;
            let mut zeroed = hdr.0;
            zeroed[4..8].fill(0);
            let (data, cksum) = body.split_at(data_len);
            let uk = self.usage_keys(acc, sender.usage(false))?;
            if uk.checksum(&[data, &zeroed]) != cksum {
                return Err(GssError::Checksum);
            }
            Ok((sender, base..base + data_len))
        }
    }

    /// Seal `data` in place the way the sender would and return the auth_value (tests and
    /// fuzz seeds build DCE traffic with it). AES: EC 16, RRC 28, as Windows does.
    pub fn wrap_dce(
        &mut self,
        sender: Sender,
        seq: u64,
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
    ) -> Vec<u8> {
        if self.session_key.etype == ETYPE_RC4_HMAC {
            return self.wrap_rc4_dce(sender, seq as u32, before, data, after);
        }
        let acceptor_flag = self.acceptor_subkey.is_some();
        let mut flags = FLAG_SEALED;
        if acceptor_flag {
            flags |= FLAG_ACCEPTOR_SUBKEY;
        }
        if sender == Sender::Acceptor {
            flags |= FLAG_SENT_BY_ACCEPTOR;
        }
        let (ec, rrc) = (16usize, 28usize);
        let mut hdr = [0u8; 16];
        hdr[..2].copy_from_slice(&TOK_WRAP_CFX);
        hdr[2] = flags;
        hdr[3] = 0xff;
        hdr[4..6].copy_from_slice(&(ec as u16).to_be_bytes());
        hdr[8..].copy_from_slice(&seq.to_be_bytes());
        let Ok(UsageKeys::Aes { ke, ki, .. }) = self.usage_keys(acceptor_flag, sender.usage(true))
        else {
            return Vec::new();
        };
        let conf = [0x3cu8; AES_CONF];
        let mut copy = hdr;
        copy[6..8].fill(0);
        let fh: Vec<u8> = std::iter::repeat_n(0xffu8, ec).chain(copy).collect();
        let mac = hmac_sha1_96(ki, &[&conf, before, data, after, &fh]);
        let mut body = conf.to_vec();
        body.extend_from_slice(data);
        body.extend_from_slice(&fh);
        crypto::cts_encrypt(ke, &mut body);
        body.extend_from_slice(&mac);
        let total = body.len();
        body.rotate_right((rrc + ec) % total);
        hdr[6..8].copy_from_slice(&(rrc as u16).to_be_bytes());
        let split = total - data.len();
        data.copy_from_slice(&body[split..]);
        let mut av = hdr.to_vec();
        av.extend_from_slice(&body[..split]);
        av
    }

    fn wrap_rc4_dce(
        &mut self,
        sender: Sender,
        seq: u32,
        before: &[u8],
        data: &mut [u8],
        after: &[u8],
    ) -> Vec<u8> {
        let kss = self.key(true).expose().to_vec();
        let mut tok = vec![0x02, 0x01, 0x11, 0x00, 0x10, 0x00, 0xff, 0xff];
        let mut seqb = seq.to_be_bytes().to_vec();
        seqb.extend_from_slice(if sender == Sender::Acceptor {
            &[0xff; 4]
        } else {
            &[0; 4]
        });
        let conf = [0x3cu8; 8];
        let cksum = Self::rc4_cksum(&kss, 13, &[&tok[..8], &conf, before, data, after]);
        let mut rc4 = Rc4::new_from_slice(&rc4_kcrypt(&kss, &seqb[..4])).expect("16");
        let mut conf_enc = conf;
        rc4.apply_keystream(&mut conf_enc);
        rc4.apply_keystream(data);
        Rc4::new_from_slice(&rc4_kseq(&kss, &cksum))
            .expect("16")
            .apply_keystream(&mut seqb);
        tok.extend_from_slice(&seqb);
        tok.extend_from_slice(&cksum);
        tok.extend_from_slice(&conf_enc);
        tok
    }
}

/// RFC 1964-style tokens (RC4-HMAC) may come inside the GSS-API framing
/// (`60 len 06 09 <krb5 oid>` before TOK_ID); RFC 4121 tokens never do. Return the token
/// from its TOK_ID.
fn strip_framing(av: &[u8]) -> &[u8] {
    if av.first() == Some(&0x60)
        && let Some((Some(_), _)) = super::spnego::krb5_token(av)
        && let Some(t) = super::spnego::tlv(av)
        && let Some(oid) = super::spnego::tlv(t.value)
    {
        return oid.rest;
    }
    av
}

fn hmac_sha1_96(key: &[u8], parts: &[&[u8]]) -> [u8; AES_MAC] {
    crypto::hmac_sha1(key, parts)[..AES_MAC]
        .try_into()
        .expect("12")
}

#[cfg(test)]
mod tests {
    use super::super::crypto::{ETYPE_AES128, ETYPE_AES256};
    use super::*;

    fn ctx(etype: i32, acceptor: bool) -> GssContext {
        let n = crypto::key_len(etype).unwrap();
        GssContext::new(
            Key::new(etype, &vec![1; n]).unwrap(),
            Some(Key::new(etype, &vec![2; n]).unwrap()),
            acceptor.then(|| Key::new(etype, &vec![3; n]).unwrap()),
        )
    }

    #[test]
    fn dce_privacy_round_trip_every_etype_both_directions() {
        let before = [
            5u8, 0, 0, 3, 0x10, 0, 0, 0, 0x60, 0, 0x4c, 0, 1, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0x0e, 0,
        ];
        let after = [16u8, 6, 4, 0, 0, 0, 0, 0];
        for etype in [ETYPE_AES256, ETYPE_AES128, ETYPE_RC4_HMAC] {
            for acceptor_subkey in [true, false] {
                let mut tx = ctx(etype, acceptor_subkey);
                let mut rx = ctx(etype, acceptor_subkey);
                for (i, sender) in [Sender::Initiator, Sender::Acceptor, Sender::Initiator]
                    .into_iter()
                    .enumerate()
                {
                    let plain: Vec<u8> = (0..48u8).map(|b| b.wrapping_mul(i as u8 + 3)).collect();
                    let mut wire = plain.clone();
                    let av = tx.wrap_dce(sender, i as u64, &before, &mut wire, &after);
                    assert_ne!(wire, plain);
                    if etype != ETYPE_RC4_HMAC {
                        assert_eq!(av.len(), 76, "Windows' AES auth_len");
                    } else {
                        assert_eq!(av.len(), 32);
                    }
                    assert_eq!(rx.unwrap_dce(&av, &before, &mut wire, &after), Ok(sender));
                    assert_eq!(wire, plain);
                }
                // Tampered stub: decrypted but flagged; counted.
                let mut wire = vec![9u8; 32];
                let av = tx.wrap_dce(Sender::Acceptor, 9, &before, &mut wire, &after);
                wire[3] ^= 0x80;
                assert_eq!(
                    rx.unwrap_dce(&av, &before, &mut wire, &after),
                    Err(GssError::Checksum)
                );
                assert_eq!((rx.ok, rx.bad), (3, 1));
                // A token made without header signing still verifies (the fallback).
                let mut wire = vec![7u8; 16];
                let av = tx.wrap_dce(Sender::Initiator, 10, &[], &mut wire, &[]);
                assert_eq!(
                    rx.unwrap_dce(&av, &before, &mut wire, &after),
                    Ok(Sender::Initiator)
                );
                assert_eq!(wire, vec![7u8; 16]);
                // RC4 tokens may come GSS-framed.
                if etype == ETYPE_RC4_HMAC {
                    let mut wire = vec![6u8; 24];
                    let av = tx.wrap_dce(Sender::Acceptor, 11, &before, &mut wire, &after);
                    let mut body =
                        super::super::spnego::tests::der(0x06, super::super::spnego::OID_KRB5);
                    body.extend_from_slice(&av);
                    let framed = super::super::spnego::tests::der(0x60, &body);
                    assert_eq!(
                        rx.unwrap_dce(&framed, &before, &mut wire, &after),
                        Ok(Sender::Acceptor)
                    );
                    assert_eq!(wire, vec![6u8; 24]);
                }
                // Truncated tokens are errors.
                for cut in [0, 1, 15, av.len() - 1] {
                    let mut w = wire.clone();
                    assert!(rx.unwrap_dce(&av[..cut], &before, &mut w, &after).is_err());
                }
            }
        }
    }

    #[test]
    fn wrong_key_does_not_verify() {
        for etype in [ETYPE_AES256, ETYPE_RC4_HMAC] {
            let mut tx = ctx(etype, true);
            let n = crypto::key_len(etype).unwrap();
            let mut rx = GssContext::new(Key::new(etype, &vec![9; n]).unwrap(), None, None);
            let mut wire = vec![1u8; 40];
            let av = tx.wrap_dce(Sender::Acceptor, 1, &[], &mut wire, &[]);
            assert!(rx.unwrap_dce(&av, &[], &mut wire, &[]).is_err());
        }
    }

    #[test]
    fn mic_tokens() {
        // CFX MIC: header 04 04, flags, ff*5, seq; checksum over data || header.
        let mut c = ctx(ETYPE_AES128, true);
        let data = b"integrity protected stub";
        let mut hdr = [0u8; 16];
        hdr[..2].copy_from_slice(&TOK_MIC_CFX);
        hdr[2] = FLAG_SENT_BY_ACCEPTOR | FLAG_ACCEPTOR_SUBKEY;
        hdr[3..8].fill(0xff);
        hdr[15] = 4;
        let uk = UsageKeys::new(
            &Key::new(ETYPE_AES128, &[3; 16]).unwrap(),
            USAGE_ACCEPTOR_SIGN,
        )
        .unwrap();
        let mut tok = hdr.to_vec();
        tok.extend_from_slice(&uk.checksum(&[data, &hdr]));
        assert_eq!(c.verify_dce(&tok, &[], data, &[]), Ok(Sender::Acceptor));
        assert_eq!(
            c.verify_dce(&tok, &[], b"other", &[]),
            Err(GssError::Checksum)
        );
        // RC4 MIC (01 01, usage 15).
        let mut r = ctx(ETYPE_RC4_HMAC, false);
        let kss = [2u8; 16];
        let mut tok = vec![0x01, 0x01, 0x11, 0x00, 0xff, 0xff, 0xff, 0xff];
        let cksum = GssContext::rc4_cksum(&kss, 15, &[&tok[..8], data]);
        let mut seq = [0, 0, 0, 7, 0, 0, 0, 0];
        let kseq = hmac_md5(&hmac_md5(&kss, &[&[0, 0, 0, 0]]), &[&cksum]);
        Rc4::new_from_slice(&kseq)
            .unwrap()
            .apply_keystream(&mut seq);
        tok.extend_from_slice(&seq);
        tok.extend_from_slice(&cksum);
        assert_eq!(r.verify_dce(&tok, &[], data, &[]), Ok(Sender::Initiator));
        assert_eq!(r.verify_dce(&tok, &[], b"x", &[]), Err(GssError::Checksum));
        assert_eq!(
            r.verify_dce(&tok[..10], &[], data, &[]),
            Err(GssError::Malformed)
        );
    }
    #[test]
    fn contiguous_tokens_rfc4121_and_rfc4757() {
        // RFC 4121 sealed token, rotated by RRC only (not RRC + EC as in DCE).
        let key = Key::new(ETYPE_AES256, &[8; 32]).unwrap();
        let mut c = GssContext::new(key.clone(), None, None);
        let plain = b"a sealed LDAP SASL buffer";
        let ec = 5usize;
        let mut hdr = [0u8; 16];
        hdr[..2].copy_from_slice(&TOK_WRAP_CFX);
        hdr[2] = FLAG_SEALED;
        hdr[3] = 0xff;
        hdr[4..6].copy_from_slice(&(ec as u16).to_be_bytes());
        hdr[15] = 1;
        let mut inner = plain.to_vec();
        inner.extend_from_slice(&[0xff; 5]);
        inner.extend_from_slice(&hdr);
        let mut body = UsageKeys::new(&key, USAGE_INITIATOR_SEAL)
            .unwrap()
            .encrypt(&[1; 16], &inner);
        body.rotate_right(28);
        hdr[6..8].copy_from_slice(&28u16.to_be_bytes());
        let mut tok = hdr.to_vec();
        tok.extend_from_slice(&body);
        let (who, r) = c.unwrap_token(&mut tok).unwrap();
        assert_eq!((who, &tok[r]), (Sender::Initiator, &plain[..]));
        // Integrity-only wrap token: data || checksum(EC = 12), rotated by RRC.
        let mut hdr = [0u8; 16];
        hdr[..2].copy_from_slice(&TOK_WRAP_CFX);
        hdr[2] = FLAG_SENT_BY_ACCEPTOR;
        hdr[3] = 0xff;
        let ck = UsageKeys::new(&key, USAGE_ACCEPTOR_SIGN)
            .unwrap()
            .checksum(&[plain, &hdr]);
        hdr[4..6].copy_from_slice(&12u16.to_be_bytes());
        hdr[6..8].copy_from_slice(&12u16.to_be_bytes());
        let mut body = plain.to_vec();
        body.extend_from_slice(&ck);
        body.rotate_right(12);
        let mut tok = hdr.to_vec();
        tok.extend_from_slice(&body);
        let mut bad = tok.clone();
        let (who, r) = c.unwrap_token(&mut tok).unwrap();
        assert_eq!((who, &tok[r]), (Sender::Acceptor, &plain[..]));
        bad[20] ^= 1;
        assert_eq!(c.unwrap_token(&mut bad), Err(GssError::Checksum));
        // RFC 4757: GSS-framed RC4 token, data padded with one 0x01.
        let rc4 = Key::new(ETYPE_RC4_HMAC, &[9; 16]).unwrap();
        let mut tx = GssContext::new(rc4.clone(), None, None);
        let mut rx = GssContext::new(rc4, None, None);
        let mut data = plain.to_vec();
        data.push(1);
        let av = tx.wrap_dce(Sender::Initiator, 3, &[], &mut data, &[]);
        let mut body = super::super::spnego::tests::der(0x06, super::super::spnego::OID_KRB5);
        body.extend_from_slice(&av);
        body.extend_from_slice(&data);
        let mut tok = super::super::spnego::tests::der(0x60, &body);
        let (who, r) = rx.unwrap_token(&mut tok).unwrap();
        assert_eq!((who, &tok[r]), (Sender::Initiator, &plain[..]));
        for cut in [0, 5, 20, 40] {
            assert!(rx.unwrap_token(&mut tok.clone()[..cut].to_vec()).is_err());
        }
    }
}
