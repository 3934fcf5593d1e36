//! SMB3 decryption with the analyst's keys (accurate path only): the per-connection state
//! [`super::SmbConn`] consults for every clear SMB2 message (NEGOTIATE and SESSION_SETUP,
//! for the dialect, the cipher, the preauth integrity hash and the authentication tokens)
//! and every transform message (to decrypt it).
//!
//! A session's keys come from its authentication (an NTLM password or hash that verified,
//! a Kerberos ticket the keytab opened: [`Exchange`]) through the MS-SMB2 3.0/3.0.2 KDF or
//! the 3.1.1 KDF over the session's preauth integrity hash (NEGOTIATE request and response,
//! then every SESSION_SETUP request and every response but the final one), or from an
//! `smb3-key` line for its SessionId (with or without the two cipher keys). Candidates are
//! tried in that order; the first that opens a message is kept for the session. A message
//! that opens with no candidate is counted and left as it is (never guessed at).
//!
//! Bounded: at most [`MAX_SESSIONS`] sessions per connection (oldest dropped), at most
//! [`MAX_SETUPS`] sessions being set up at once; one scratch buffer, reused, holds the
//! message being decrypted (no allocation per message).

use super::MAX_SESSIONS;
use super::records::{self as rec, SMB2_NEGOTIATE, SMB2_SESSION_SETUP};
use crate::auth::exchange::{Event, Exchange, TicketAccount};
use crate::auth::keys::{KeyRing, KeySource};
use crate::auth::smb3::{
    self, Cipher, DIALECT_300, DIALECT_302, DIALECT_311, Decryptor, PreauthHash,
    TRANSFORM_HEADER_LEN,
};
use std::collections::VecDeque;
use std::sync::Arc;

/// SESSION_SETUP requests of new sessions (SessionId 0) waiting for their response.
pub const MAX_SETUPS: usize = 16;

const STATUS_SUCCESS: u32 = 0;
const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;

/// One way to decrypt a session: both directions' keys and the kind of key behind them.
struct Candidate {
    c2s: Decryptor,
    s2c: Decryptor,
    source: KeySource,
}

struct Session {
    id: u64,
    exchange: Exchange,
    /// The session's preauth integrity hash (3.1.1), while it is being set up.
    hash: Option<PreauthHash>,
    candidates: Vec<Candidate>,
    /// The candidate that opened the last message.
    working: Option<usize>,
    /// The `smb3-key` line for this id was looked up.
    line_tried: bool,
    /// A message of this session was decrypted (counted once).
    counted: bool,
}

impl Session {
    fn new(id: u64, ring: &Arc<KeyRing>, hash: Option<PreauthHash>) -> Self {
        Session {
            id,
            exchange: Exchange::new(ring.clone()),
            hash,
            candidates: Vec::new(),
            working: None,
            line_tried: false,
            counted: false,
        }
    }
}

/// What [`SmbCrypto::decrypt`] did with a transform message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decrypted {
    /// The plaintext is `scratch[TRANSFORM_HEADER_LEN..][..len]`; `first`: the session's
    /// first decrypted message.
    Plain {
        len: usize,
        source: KeySource,
        first: bool,
    },
    /// No key for this session.
    NoKey,
    /// Keys were there and none opened the message.
    Failed,
}

/// The SMB3 decryption state of one connection.
pub struct SmbCrypto {
    ring: Arc<KeyRing>,
    dialect: Option<u16>,
    cipher: Option<Cipher>,
    /// The connection's preauth integrity hash after NEGOTIATE (3.1.1).
    conn_hash: Option<PreauthHash>,
    /// The TCP direction the client sends in (from the clear requests; 0 until seen).
    client_dir: usize,
    sessions: VecDeque<Session>,
    /// New sessions by the MessageId of their first SESSION_SETUP request.
    setups: VecDeque<(u64, Session)>,
    /// The message being decrypted (reused).
    pub scratch: Vec<u8>,
    /// Authentications seen, for the run's key summary (drained by the engine).
    pub events: Vec<Event>,
    /// The account of the Kerberos ticket in the last SESSION_SETUP request, when the
    /// analyst's keys opened it (taken by the session's identity bookkeeping).
    pub ticket: Option<TicketAccount>,
}

impl std::fmt::Debug for SmbCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbCrypto")
            .field("dialect", &self.dialect)
            .field("cipher", &self.cipher)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl SmbCrypto {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        SmbCrypto {
            ring,
            dialect: None,
            cipher: None,
            conn_hash: None,
            client_dir: 0,
            sessions: VecDeque::new(),
            setups: VecDeque::new(),
            scratch: Vec::new(),
            events: Vec::new(),
            ticket: None,
        }
    }

    fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    fn add_session(&mut self, s: Session) {
        self.sessions.retain(|x| x.id != s.id);
        if self.sessions.len() >= MAX_SESSIONS {
            self.sessions.pop_front();
        }
        self.sessions.push_back(s);
    }

    /// A clear SMB2 message (`msg` from its `0xFE 'SMB'` header; the whole message, as
    /// the preauth hash takes it) that travelled in direction `dir`.
    pub fn observe(&mut self, dir: usize, msg: &[u8]) {
        let Ok(h) = rec::parse_smb2_header(msg) else {
            return;
        };
        // Negotiate and session setup are never compounded: the first command decides.
        let cmd = match h.next_command as usize {
            0 => msg,
            n => msg.get(..n).unwrap_or(msg),
        };
        match (h.command, h.is_response()) {
            (SMB2_NEGOTIATE, false) => {
                self.client_dir = dir;
                let mut hash = PreauthHash::new();
                hash.update(msg);
                self.conn_hash = Some(hash);
            }
            (SMB2_NEGOTIATE, true) => {
                if let Some(n) = smb3::negotiate_response(cmd) {
                    self.dialect = Some(n.dialect);
                    self.cipher = n.cipher;
                    match (&mut self.conn_hash, n.dialect) {
                        (Some(hash), DIALECT_311) => hash.update(msg),
                        _ => self.conn_hash = None,
                    }
                }
            }
            (SMB2_SESSION_SETUP, false) => {
                self.client_dir = dir;
                let Ok(blob) = rec::smb2_session_setup_req(cmd) else {
                    return;
                };
                // SessionFlags bit 0: binding an existing session to this channel (its keys
                // come from the first channel); not followed.
                if cmd.get(66).is_some_and(|f| f & 1 != 0) {
                    return;
                }
                let ring = self.ring.clone();
                let conn_hash = self.conn_hash.clone();
                let mut events = std::mem::take(&mut self.events);
                let s = if h.session_id == 0 {
                    if self.setups.len() >= MAX_SETUPS {
                        self.setups.pop_front();
                    }
                    self.setups
                        .push_back((h.message_id, Session::new(0, &ring, conn_hash)));
                    self.setups.back_mut().map(|(_, s)| s)
                } else {
                    if self.session_mut(h.session_id).is_none() {
                        self.add_session(Session::new(h.session_id, &ring, conn_hash));
                    }
                    self.session_mut(h.session_id)
                };
                if let Some(s) = s {
                    if let Some(hash) = &mut s.hash {
                        hash.update(msg);
                    }
                    self.ticket = s.exchange.client_token(blob, &mut events);
                }
                self.events = events;
            }
            (SMB2_SESSION_SETUP, true) => self.session_setup_response(&h, cmd, msg),
            _ => {}
        }
    }

    fn session_setup_response(&mut self, h: &rec::Smb2Header, cmd: &[u8], msg: &[u8]) {
        if let Some(i) = self.setups.iter().position(|(m, _)| *m == h.message_id)
            && let Some((_, mut s)) = self.setups.remove(i)
        {
            s.id = h.session_id;
            self.add_session(s);
        }
        let (dialect, cipher) = (self.dialect, self.cipher);
        let Some(s) = self.session_mut(h.session_id) else {
            return;
        };
        match h.status {
            STATUS_MORE_PROCESSING_REQUIRED => {
                if let Some(hash) = &mut s.hash {
                    hash.update(msg);
                }
                if let Ok(blob) = rec::smb2_session_setup_resp(cmd) {
                    s.exchange.server_token(blob);
                }
            }
            STATUS_SUCCESS => {
                if let Ok(blob) = rec::smb2_session_setup_resp(cmd) {
                    s.exchange.server_token(blob);
                }
                let Some(est) = &s.exchange.established else {
                    return;
                };
                let (Some(dialect), Some(cipher)) = (dialect, cipher) else {
                    return;
                };
                let full = est.session_key();
                // Session.SessionKey is the first 16 bytes; the AES-256 ciphers of 3.1.1
                // use the whole GSS key (FullSessionKey).
                let key = match cipher {
                    Cipher::Aes256Ccm | Cipher::Aes256Gcm if dialect == DIALECT_311 => full,
                    _ => &full[..full.len().min(16)],
                };
                let hash = s.hash.take();
                if let Some(k) =
                    smb3::derive_keys(key, dialect, cipher, hash.as_ref().map(|h| &h.0))
                    && let Some(c) = candidate(&k.client_to_server, &k.server_to_client, k.cipher)
                {
                    let source = est.source();
                    s.candidates.insert(0, Candidate { source, ..c });
                    s.working = None;
                }
            }
            _ => {
                // A failed logon: the session does not exist.
                let id = h.session_id;
                self.sessions.retain(|x| x.id != id);
            }
        }
    }

    /// The `smb3-key` line of a session, as a candidate.
    fn line_candidate(&self, id: u64, hash: Option<&PreauthHash>) -> Option<Candidate> {
        let line = self.ring.smb3_for(id)?;
        let c = match (&line.c2s, &line.s2c) {
            (Some(c2s), Some(s2c)) => {
                let cipher = self.cipher.or_else(|| match (c2s.len(), self.dialect) {
                    (32, _) => Some(Cipher::Aes256Ccm),
                    (_, Some(DIALECT_300 | DIALECT_302) | None) => Some(Cipher::Aes128Ccm),
                    _ => None,
                })?;
                candidate(c2s.expose(), s2c.expose(), cipher)
                    .or_else(|| candidate(c2s.expose(), s2c.expose(), other_mode(cipher)))?
            }
            _ => {
                let dialect = self.dialect.unwrap_or(DIALECT_300);
                let cipher = self.cipher.unwrap_or(Cipher::Aes128Ccm);
                let k = smb3::derive_keys(
                    line.session_key.expose(),
                    dialect,
                    cipher,
                    hash.map(|h| &h.0),
                )?;
                candidate(&k.client_to_server, &k.server_to_client, k.cipher)?
            }
        };
        Some(Candidate {
            source: KeySource::Smb3Key,
            ..c
        })
    }

    /// Is there any key for the session of this transform header (to buffer a large
    /// message whole rather than skip it)?
    pub fn wants(&self, prefix: &[u8]) -> bool {
        let Some(id) = prefix
            .get(44..52)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
        else {
            return false;
        };
        self.sessions
            .iter()
            .any(|s| s.id == id && !s.candidates.is_empty())
            || self.ring.smb3_for(id).is_some()
    }

    /// Decrypt a transform message that travelled in direction `dir` into `scratch`.
    pub fn decrypt(&mut self, dir: usize, msg: &[u8]) -> Decrypted {
        let Some((th, _)) = smb3::parse_transform(msg) else {
            return Decrypted::NoKey;
        };
        if self.session_mut(th.session_id).is_none() {
            if self.ring.smb3_for(th.session_id).is_none() {
                return Decrypted::NoKey;
            }
            let ring = self.ring.clone();
            self.add_session(Session::new(th.session_id, &ring, None));
        }
        let needs_line = self
            .session_mut(th.session_id)
            .is_some_and(|s| !s.line_tried);
        if needs_line {
            let hash = self.session_mut(th.session_id).and_then(|s| s.hash.clone());
            let c = self.line_candidate(th.session_id, hash.as_ref());
            if let Some(s) = self.session_mut(th.session_id) {
                s.line_tried = true;
                s.candidates.extend(c);
            }
        }
        let client = dir == self.client_dir;
        let SmbCrypto {
            sessions, scratch, ..
        } = self;
        let Some(s) = sessions.iter_mut().find(|s| s.id == th.session_id) else {
            return Decrypted::NoKey;
        };
        if s.candidates.is_empty() {
            return Decrypted::NoKey;
        }
        // The working candidate first, in the direction expected; then the others; then
        // the other direction (the connection's orientation may not have been seen).
        let (n, w) = (s.candidates.len(), s.working);
        for c2s in [client, !client] {
            for i in w.into_iter().chain((0..n).filter(|&i| Some(i) != w)) {
                let c = &s.candidates[i];
                let d = if c2s { &c.c2s } else { &c.s2c };
                scratch.clear();
                scratch.extend_from_slice(msg);
                if let Ok(len) = d.decrypt_in_place(scratch) {
                    s.working = Some(i);
                    let first = !s.counted;
                    s.counted = true;
                    return Decrypted::Plain {
                        len,
                        source: c.source,
                        first,
                    };
                }
            }
        }
        Decrypted::Failed
    }
}

/// CCM for GCM and back (an `smb3-key` line with cipher keys but no NEGOTIATE seen).
fn other_mode(c: Cipher) -> Cipher {
    match c {
        Cipher::Aes128Ccm => Cipher::Aes128Gcm,
        Cipher::Aes128Gcm => Cipher::Aes128Ccm,
        Cipher::Aes256Ccm => Cipher::Aes256Gcm,
        Cipher::Aes256Gcm => Cipher::Aes256Ccm,
    }
}

fn candidate(c2s: &[u8], s2c: &[u8], cipher: Cipher) -> Option<Candidate> {
    Some(Candidate {
        c2s: Decryptor::new(cipher, c2s)?,
        s2c: Decryptor::new(cipher, s2c)?,
        source: KeySource::Smb3Key,
    })
}

/// The plaintext of a successful [`SmbCrypto::decrypt`].
pub fn plain(scratch: &[u8], len: usize) -> &[u8] {
    scratch
        .get(TRANSFORM_HEADER_LEN..TRANSFORM_HEADER_LEN + len)
        .unwrap_or(&[])
}
