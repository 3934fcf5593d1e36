//! Per-connection SMB state: which trees are IPC$, which open files are named pipes, which
//! request a response answers. Consumes the records of [`super::records`] (it never parses
//! bytes itself) and emits [`PipeEvent`]s.
//!
//! A file is a pipe when its tree is a pipe tree (SMB2 ShareType 2, SMB1 service "IPC", or
//! an `IPC$` path when the response does not say), when SMB1 says so in the open response
//! (ResourceType 1 or 2), when it is used for a pipe operation (FSCTL_PIPE_TRANSCEIVE, a
//! named-pipe TRANSACTION), or, on a tree whose connect was not seen, when its name is a
//! well-known pipe name or its first data is a DCE-RPC header. Bytes of other files are
//! counted and skipped without being copied.
//!
//! Responses are matched to requests by MessageId (SMB2; async responses keep the
//! MessageId of their request, so interim STATUS_PENDING responses leave the request
//! pending) or by command, MID, PID, UID and TID (SMB1).

use super::crypto::{self, Decrypted, SmbCrypto};
use super::framing::{FrameSink, Framer, Tag};
use super::records::{
    self as rec, FSCTL_PIPE_TRANSCEIVE, FileId, Protocol, RecordError, SMB_COM_CLOSE,
    SMB_COM_NT_CREATE_ANDX, SMB_COM_OPEN_ANDX, SMB_COM_READ_ANDX, SMB_COM_SESSION_SETUP_ANDX,
    SMB_COM_TRANSACTION, SMB_COM_TRANSACTION_SECONDARY, SMB_COM_TREE_CONNECT_ANDX,
    SMB_COM_TREE_DISCONNECT, SMB_COM_WRITE_ANDX, SMB2_CLOSE, SMB2_CREATE, SMB2_IOCTL,
    SMB2_NEGOTIATE, SMB2_READ, SMB2_SESSION_SETUP, SMB2_TREE_CONNECT, SMB2_TREE_DISCONNECT,
    SMB2_WRITE, STATUS_PENDING, Smb1Block, Smb1Header, Smb1SessionSetup, Smb2Header,
};
use super::table::Lru;
use super::zeek_fid::{ZeekFid, zeek_is_error};
use super::{
    MAX_ANDX_CHAIN, MAX_COMPOUND_CHAIN, MAX_DEFERRED_BYTES, MAX_OPEN_FILES, MAX_PENDING,
    MAX_SESSIONS, MAX_TREES, PipeContext, PipeEvent, PipeKey, SmbCounters,
};
use crate::auth::keys::{KeyRing, KeySource};
use crate::auth::ntlmssp::{self, NtlmUser, SessionAuth};
use crate::capture::Timestamp;
use smol_str::SmolStr;
use std::collections::VecDeque;
use std::sync::Arc;

/// Pipe names recognised on a tree whose connect was not seen (compared without a leading
/// `\` or `\PIPE\`, ignoring case).
pub const KNOWN_PIPE_NAMES: &[&str] = &[
    "atsvc",
    "browser",
    "DAV RPC SERVICE",
    "epmapper",
    "eventlog",
    "initshutdown",
    "InitShutdown",
    "keysvc",
    "lsarpc",
    "lsass",
    "MsFteWds",
    "netdfs",
    "netlogon",
    "ntsvcs",
    "plugplay",
    "protected_storage",
    "samr",
    "scerpc",
    "spoolss",
    "srvsvc",
    "svcctl",
    "tapsrv",
    "trkwks",
    "W32TIME_ALT",
    "winreg",
    "wkssvc",
];

/// CREATE responses remembered for compounded requests that refer to the CREATE's FileId.
const RECENT_CREATES: usize = 16;
/// Compounded writes held until their CREATE response (bytes: [`MAX_DEFERRED_BYTES`]).
const MAX_DEFERRED_ENTRIES: usize = 16;

type Out<'o> = &'o mut dyn FnMut(PipeEvent<'_>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pipe,
    NotPipe,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TreeKey {
    smb2: bool,
    session: u64,
    tree: u32,
}

/// A file as the server names it: SMB2 (SessionId, FileId), SMB1 (UID, FID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileKey {
    smb2: bool,
    session: u64,
    persistent: u64,
    volatile: u64,
}

impl FileKey {
    fn smb2(session: u64, f: FileId) -> Self {
        FileKey {
            smb2: true,
            session,
            persistent: f.persistent,
            volatile: f.volatile,
        }
    }
    fn smb1(uid: u16, fid: u16) -> Self {
        FileKey {
            smb2: false,
            session: uid as u64,
            persistent: fid as u64,
            volatile: 0,
        }
    }
    fn tree_key(&self, tree: u32) -> TreeKey {
        TreeKey {
            smb2: self.smb2,
            session: self.session,
            tree,
        }
    }
    fn pipe_key(&self, tree: u32) -> PipeKey {
        let fid = if self.smb2 {
            PipeKey::smb2_fid(self.persistent, self.volatile)
        } else {
            self.persistent
        };
        PipeKey {
            smb2: self.smb2,
            session: self.session,
            tree,
            fid,
        }
    }
}

#[derive(Debug, Clone)]
struct FileInfo {
    key: PipeKey,
    kind: Kind,
    name: String,
    /// `Open` was emitted.
    opened: bool,
}

/// The file a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRef {
    Known {
        fk: FileKey,
        tree: u32,
    },
    /// Compounded after the CREATE request with this MessageId: the FileId comes with its
    /// response.
    FromCreate(u64),
}

/// Where data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    File(FileKey, u32),
    /// Hold until the CREATE response with this MessageId.
    Defer(u64),
    /// Not file data we can attribute.
    None,
}

#[derive(Debug, Clone)]
enum Pending2 {
    TreeConnect {
        session: u64,
        ipc: bool,
        path: String,
    },
    /// A SESSION_SETUP request whose AUTHENTICATE names this user: the SessionId may come
    /// with the response only.
    SessionSetup {
        user: SessionAuth,
    },
    Create {
        session: u64,
        tree: u32,
        name: String,
    },
    Read {
        file: FileRef,
    },
    Ioctl {
        file: FileRef,
    },
    /// A CLOSE compounded after a CREATE: done at its response.
    Close {
        file: FileRef,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Mid1 {
    cmd: u8,
    mid: u16,
    pid: u32,
    uid: u16,
    tid: u16,
}

#[derive(Debug, Clone)]
struct Trans1 {
    fid: u16,
    fwd_req: bool,
    fwd_resp: bool,
    req_seen: usize,
    resp_seen: usize,
}

#[derive(Debug, Clone)]
enum Pending1 {
    TreeConnect { ipc: bool, path: String },
    SessionSetup { user: SessionAuth },
    Create { name: String },
    Read { fid: u16 },
    Trans(Trans1),
}

#[derive(Debug)]
struct Deferred {
    create_msg: u64,
    dir: usize,
    data: Vec<u8>,
    /// When the bytes arrived (the caller's clock, see [`SmbConn::set_time`]).
    at: Timestamp,
}

/// Compound request context: what a related command inherits.
#[derive(Debug, Clone, Copy)]
struct Prev {
    session: u64,
    tree: u32,
    file: Option<FileRef>,
}

/// The SMB state of one TCP connection.
#[derive(Debug)]
pub struct SmbConn {
    framers: [Framer; 2],
    st: State,
}

#[derive(Debug)]
struct State {
    counted: bool,
    trees: Lru<TreeKey, Kind>,
    files: Lru<FileKey, FileInfo>,
    pending2: Lru<u64, Pending2>,
    pending1: Lru<Mid1, Pending1>,
    recent_creates: VecDeque<(u64, FileKey, u32)>,
    deferred: VecDeque<Deferred>,
    deferred_bytes: usize,
    zeek: ZeekFid,
    /// The caller's clock: when the bytes being fed arrived.
    now: Timestamp,
    /// Set while deferred bytes are handed out: when they arrived.
    deliver_at: Option<Timestamp>,
    /// SMB2 DialectRevision from the NEGOTIATE response.
    dialect: Option<u16>,
    /// A transform header was seen (only SMB 3.x encrypts).
    encrypted_seen: bool,
    /// SessionIds seen in transform headers (at most [`MAX_SESSIONS`]).
    encrypted_sessions: Vec<u64>,
    compressed_seen: bool,
    /// Who each session authenticated as, keyed like trees (smb2, SessionId or UID).
    users: Lru<(bool, u64), SessionAuth>,
    /// Share path of each tree (kept after TREE_DISCONNECT, evicted by age only).
    tree_paths: Lru<TreeKey, SmolStr>,
    /// With the analyst's keys: SMB3 decryption.
    crypto: Option<Box<SmbCrypto>>,
    /// Set while the messages of a decrypted transform message are processed.
    decrypting: Option<KeySource>,
}

impl Default for SmbConn {
    fn default() -> Self {
        Self::new()
    }
}

impl SmbConn {
    /// For accurate mode: the same decoding without emulating Zeek's view of the
    /// connection (no `ZeekData` events, no Zeek fid bookkeeping).
    pub fn accurate() -> Self {
        let mut c = Self::new();
        c.st.zeek = ZeekFid::off();
        c
    }

    pub fn new() -> Self {
        SmbConn {
            framers: [Framer::new(), Framer::new()],
            st: State {
                counted: false,
                trees: Lru::new(MAX_TREES),
                files: Lru::new(MAX_OPEN_FILES),
                pending2: Lru::new(MAX_PENDING),
                pending1: Lru::new(MAX_PENDING),
                recent_creates: VecDeque::new(),
                deferred: VecDeque::new(),
                deferred_bytes: 0,
                zeek: ZeekFid::new(),
                now: Timestamp::default(),
                deliver_at: None,
                dialect: None,
                encrypted_seen: false,
                encrypted_sessions: Vec::new(),
                compressed_seen: false,
                users: Lru::new(MAX_SESSIONS),
                tree_paths: Lru::new(MAX_TREES),
                crypto: None,
                decrypting: None,
            },
        }
    }

    /// Accurate mode with the analyst's keys: SMB3 transform messages of sessions whose
    /// key is known are decrypted and tracked like clear ones (see [`super::crypto`]).
    pub fn with_keys(ring: Arc<KeyRing>) -> Self {
        let mut c = Self::accurate();
        c.st.crypto = Some(Box::new(SmbCrypto::new(ring)));
        c
    }

    /// Move the authentications seen since the last call into the run's key summary.
    pub fn take_key_events(&mut self, keys: &mut crate::stats::KeyUse) {
        if let Some(cr) = self.st.crypto.as_mut() {
            crate::dcerpc::security::record_events(&mut cr.events, keys);
        }
    }

    /// See [`super::looks_like_smb`].
    pub fn looks_like_smb(first_chunk: &[u8]) -> bool {
        super::looks_like_smb(first_chunk)
    }

    /// Feed in-order bytes of one TCP direction (0 = originator → responder, 1 = reverse).
    pub fn feed(&mut self, dir: usize, data: &[u8], counters: &mut SmbCounters, out: Out<'_>) {
        let dir = dir.min(1);
        let tag = self.st.zeek.chunk(data);
        let mut sink = Sink {
            st: &mut self.st,
            dir,
            c: counters,
            out,
        };
        self.framers[dir].feed(data, tag, &mut sink);
    }

    /// Bytes were lost in direction `dir`: drop the partial message and resync at the next
    /// plausible NBSS+SMB header.
    pub fn gap(&mut self, dir: usize, _counters: &mut SmbCounters) {
        self.framers[dir.min(1)].gap();
        self.st.zeek.lost();
    }

    /// Like [`SmbConn::gap`] when the number of lost bytes is known: a gap that falls inside
    /// a message being skipped (a large non-pipe READ or WRITE body) costs nothing.
    /// Returns true when the gap cost nothing (no pipe byte was lost).
    pub fn gap_len(&mut self, dir: usize, len: u64, _counters: &mut SmbCounters) -> bool {
        let absorbed = self.framers[dir.min(1)].gap_len(len);
        self.st.zeek.lost();
        absorbed
    }

    /// Tell the connection when the bytes of the next `feed` arrived. Pipe bytes held back
    /// (requests compounded after a CREATE, released by its response) come out with this
    /// time in [`PipeEvent::Data`]'s `at`.
    pub fn set_time(&mut self, ts: Timestamp) {
        self.st.now = ts;
    }

    /// The SMB2 dialect the NEGOTIATE response chose, when it was seen.
    pub fn dialect(&self) -> Option<u16> {
        self.st.dialect
    }

    /// Does this connection speak SMB 3.x: a 3.x dialect was negotiated, or (negotiate not
    /// seen) encrypted messages were.
    pub fn is_smb3(&self) -> bool {
        match self.st.dialect {
            Some(d) => rec::smb2_dialect_is_smb3(d),
            None => self.st.encrypted_seen,
        }
    }

    /// Bytes held for messages not complete yet (both directions), for memory accounting.
    pub fn buffered(&self) -> usize {
        self.framers[0].buffered() + self.framers[1].buffered() + self.st.deferred_bytes
    }
}

struct Sink<'s, 'o> {
    st: &'s mut State,
    dir: usize,
    c: &'s mut SmbCounters,
    out: Out<'o>,
}

impl FrameSink for Sink<'_, '_> {
    fn message(&mut self, payload: &[u8], tag: Tag) {
        self.st.message(self.dir, payload, tag, self.c, self.out);
    }
    fn large(&mut self, prefix: &[u8], total: usize, tag: Tag) -> bool {
        self.st.large(self.dir, prefix, total, tag, self.c)
    }
    fn control(&mut self, _msg_type: u8) {}
    fn framing_error(&mut self) {
        self.st.zeek.lost();
    }
    fn counters(&mut self) -> &mut SmbCounters {
        self.c
    }
}

/// Does `data` open with a DCE-RPC connection-oriented header?
fn looks_like_dcerpc(data: &[u8]) -> bool {
    match data {
        [5, 0 | 1, ..] if data.len() >= crate::dcerpc::pdu::HEADER_LEN => {
            crate::dcerpc::pdu::plausible_header(data).is_some()
        }
        [5, 0 | 1, rest @ ..] => rest
            .first()
            .is_none_or(|&t| t <= crate::dcerpc::pdu::ORPHANED),
        _ => false,
    }
}

fn known_pipe_name(name: &str) -> bool {
    let n = name.trim_start_matches('\\');
    let n = match n.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("pipe\\") => &n[5..],
        _ => n,
    };
    KNOWN_PIPE_NAMES.iter().any(|k| k.eq_ignore_ascii_case(n))
}

fn path_is_ipc(path: &str) -> bool {
    let p = path.trim_end_matches('\0');
    p.len() >= 4
        && p.get(p.len() - 4..)
            .is_some_and(|s| s.eq_ignore_ascii_case("IPC$"))
}

fn same_slice(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

impl State {
    fn count_conn(&mut self, c: &mut SmbCounters) {
        if !self.counted {
            self.counted = true;
            c.smb_connections += 1;
        }
    }

    fn message(&mut self, dir: usize, p: &[u8], tag: Tag, c: &mut SmbCounters, out: Out<'_>) {
        let visible = self.zeek.visible(tag);
        self.count_conn(c);
        match rec::protocol(p) {
            Protocol::Smb1 => self.smb1(dir, p, visible, c, out),
            Protocol::Smb2 => {
                if let Some(cr) = self.crypto.as_mut() {
                    cr.observe(dir, p);
                }
                self.smb2(dir, p, visible, c, out)
            }
            Protocol::Transform => self.transform_message(dir, p, c, out),
            Protocol::Compressed => self.compressed(c),
            Protocol::Other => c.smb_bad_messages += 1,
        }
    }

    /// A whole transform message: decrypted and processed when a key opens it, else
    /// counted.
    fn transform_message(&mut self, dir: usize, p: &[u8], c: &mut SmbCounters, out: Out<'_>) {
        if let Some(cr) = self.crypto.as_mut() {
            match cr.decrypt(dir, p) {
                Decrypted::Plain { len, source, first } => {
                    c.smb3_decrypted_messages += 1;
                    if first {
                        c.smb3_decrypted_sessions += 1;
                    }
                    self.encrypted_seen = true;
                    let buf = std::mem::take(&mut cr.scratch);
                    let plain = crypto::plain(&buf, len);
                    self.decrypting = Some(source);
                    match rec::protocol(plain) {
                        Protocol::Smb2 => {
                            if let Some(cr) = self.crypto.as_mut() {
                                cr.observe(dir, plain);
                            }
                            self.smb2(dir, plain, false, c, out);
                        }
                        Protocol::Compressed => self.compressed(c),
                        _ => c.smb_bad_messages += 1,
                    }
                    self.decrypting = None;
                    // Kept for the next message unless a large one grew it (a connection
                    // does not hold megabytes between messages).
                    if let Some(cr) = self.crypto.as_mut()
                        && buf.capacity() <= super::LARGE_MESSAGE_LEN
                    {
                        cr.scratch = buf;
                    }
                    return;
                }
                Decrypted::Failed => c.smb3_decrypt_failures += 1,
                Decrypted::NoKey => {}
            }
        }
        self.transform(p, p.len(), c);
    }

    fn transform(&mut self, prefix: &[u8], total: usize, c: &mut SmbCounters) {
        let Ok((_, th)) = rec::transform_header(prefix) else {
            c.smb_bad_messages += 1;
            return;
        };
        c.smb3_encrypted_messages += 1;
        c.smb3_encrypted_bytes += total as u64;
        self.encrypted_seen = true;
        if !self.encrypted_sessions.contains(&th.session_id)
            && self.encrypted_sessions.len() < MAX_SESSIONS
        {
            self.encrypted_sessions.push(th.session_id);
            c.smb3_encrypted_sessions += 1;
        }
    }

    fn compressed(&mut self, c: &mut SmbCounters) {
        c.smb3_compressed_messages += 1;
        if !self.compressed_seen {
            self.compressed_seen = true;
            c.smb3_compressed_connections += 1;
        }
    }

    /// The tree path and user of a pipe on (smb2, session, tree).
    fn context(&self, key: PipeKey) -> PipeContext {
        PipeContext {
            tree: self
                .tree_paths
                .get(&TreeKey {
                    smb2: key.smb2,
                    session: key.session,
                    tree: key.tree,
                })
                .cloned(),
            user: self
                .users
                .get(&(key.smb2, key.session))
                .and_then(|a| a.account().cloned()),
            kerberos: self
                .users
                .get(&(key.smb2, key.session))
                .is_some_and(SessionAuth::is_kerberos),
        }
    }

    fn set_user(&mut self, smb2: bool, session: u64, user: SessionAuth) {
        self.users.insert((smb2, session), user);
    }

    /// A message whose header was unreadable. Zeek throws and resyncs on those.
    fn bad_message(&mut self, visible: bool, c: &mut SmbCounters) {
        c.smb_bad_messages += 1;
        if visible {
            self.zeek.lost();
        }
    }

    // ---- tables

    fn insert_tree(&mut self, k: TreeKey, kind: Kind, c: &mut SmbCounters) {
        if self.trees.insert(k, kind).is_some() {
            c.tree_table_evictions += 1;
        }
    }

    fn insert_file(&mut self, fk: FileKey, info: FileInfo, c: &mut SmbCounters, out: Out<'_>) {
        if let Some((_, old)) = self.files.insert(fk, info) {
            c.file_table_evictions += 1;
            if old.opened {
                out(PipeEvent::Close {
                    key: old.key,
                    zeek: None,
                });
            }
        }
    }

    fn pend2(&mut self, id: u64, p: Pending2, c: &mut SmbCounters) {
        if self.pending2.insert(id, p).is_some() {
            c.smb_pending_limit += 1;
        }
    }

    fn pend1(&mut self, k: Mid1, p: Pending1, c: &mut SmbCounters) {
        if self.pending1.insert(k, p).is_some() {
            c.smb_pending_limit += 1;
        }
    }

    fn recent(&self, create_msg: u64) -> Option<(FileKey, u32)> {
        self.recent_creates
            .iter()
            .rev()
            .find(|(id, _, _)| *id == create_msg)
            .map(|&(_, fk, t)| (fk, t))
    }

    fn request_target(&self, f: FileRef) -> Target {
        match f {
            FileRef::Known { fk, tree } => Target::File(fk, tree),
            FileRef::FromCreate(id) => match self.recent(id) {
                Some((fk, t)) => Target::File(fk, t),
                None if matches!(self.pending2.get(&id), Some(Pending2::Create { .. })) => {
                    Target::Defer(id)
                }
                None => Target::None,
            },
        }
    }

    fn response_target(&self, f: FileRef) -> Target {
        match f {
            FileRef::Known { fk, tree } => Target::File(fk, tree),
            FileRef::FromCreate(id) => self
                .recent(id)
                .map_or(Target::None, |(fk, t)| Target::File(fk, t)),
        }
    }

    /// What kind of file an open creates.
    fn classify(&self, fk: FileKey, tree: u32, name: &str, resource_is_pipe: Option<bool>) -> Kind {
        let tk = self.trees.get(&fk.tree_key(tree)).copied();
        match (resource_is_pipe, tk) {
            (Some(true), _) | (_, Some(Kind::Pipe)) => Kind::Pipe,
            (Some(false), _) | (_, Some(Kind::NotPipe)) => Kind::NotPipe,
            _ if known_pipe_name(name) => Kind::Pipe,
            _ => Kind::Unknown,
        }
    }

    /// An open succeeded.
    fn opened(
        &mut self,
        fk: FileKey,
        tree: u32,
        name: String,
        resource_is_pipe: Option<bool>,
        c: &mut SmbCounters,
        out: Out<'_>,
    ) {
        let kind = self.classify(fk, tree, &name, resource_is_pipe);
        let key = fk.pipe_key(tree);
        let opened = kind == Kind::Pipe;
        if opened {
            c.pipes_opened += 1;
            out(PipeEvent::Open {
                key,
                name: name.clone(),
                context: self.context(key),
            });
        }
        // Names are kept only for what may turn out to be a pipe.
        let name = if kind == Kind::NotPipe {
            String::new()
        } else {
            name
        };
        self.insert_file(
            fk,
            FileInfo {
                key,
                kind,
                name,
                opened,
            },
            c,
            out,
        );
    }

    /// The pipe that `data` for this file belongs to, or None when the file is not a pipe.
    fn pipe_for(
        &mut self,
        fk: FileKey,
        tree: u32,
        data: &[u8],
        pipe_op: bool,
        c: &mut SmbCounters,
        out: Out<'_>,
    ) -> Option<PipeKey> {
        if self.files.get(&fk).is_none() {
            // First data on a FileId whose open was not seen.
            let kind = match self.trees.get(&fk.tree_key(tree)) {
                Some(Kind::Pipe) => Kind::Pipe,
                Some(Kind::NotPipe) => Kind::NotPipe,
                _ => Kind::Unknown,
            };
            let info = FileInfo {
                key: fk.pipe_key(tree),
                kind,
                name: String::new(),
                opened: false,
            };
            self.insert_file(fk, info, c, out);
        }
        let info = self.files.get_mut(&fk)?;
        if info.kind != Kind::Pipe
            && (pipe_op || (info.kind == Kind::Unknown && looks_like_dcerpc(data)))
        {
            info.kind = Kind::Pipe;
        }
        if info.kind != Kind::Pipe {
            return None;
        }
        let key = info.key;
        if !info.opened {
            info.opened = true;
            let name = info.name.clone();
            c.pipes_opened += 1;
            // The context (tree path, session user) is built once, when the pipe opens.
            let context = self.context(key);
            out(PipeEvent::Open { key, name, context });
        }
        Some(key)
    }

    /// Hand out `data` (accurate) and `zeek` (what Zeek forwards, and to which fid).
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        target: Target,
        dir: usize,
        data: &[u8],
        zeek: Option<(u64, &[u8])>,
        pipe_op: bool,
        c: &mut SmbCounters,
        out: Out<'_>,
    ) {
        let key = match target {
            Target::File(fk, tree) if !data.is_empty() => {
                let k = self.pipe_for(fk, tree, data, pipe_op, c, out);
                if k.is_none() {
                    c.non_pipe_bytes_skipped += data.len() as u64;
                }
                k
            }
            Target::Defer(id) if !data.is_empty() => {
                self.defer(id, dir, data, c);
                None
            }
            _ => None,
        };
        match key {
            Some(key) => {
                c.pipe_bytes += data.len() as u64;
                let same = zeek.is_some_and(|(_, zd)| same_slice(zd, data));
                out(PipeEvent::Data {
                    key,
                    dir,
                    data,
                    zeek: if same { zeek.map(|z| z.0) } else { None },
                    at: self.deliver_at,
                    decrypted: self.decrypting,
                });
                if let Some((fid, zd)) = zeek
                    && !same
                    && !zd.is_empty()
                {
                    out(PipeEvent::ZeekData { dir, data: zd, fid });
                }
            }
            None => {
                if let Some((fid, zd)) = zeek
                    && !zd.is_empty()
                {
                    out(PipeEvent::ZeekData { dir, data: zd, fid });
                }
            }
        }
    }

    fn defer(&mut self, create_msg: u64, dir: usize, data: &[u8], c: &mut SmbCounters) {
        if data.len() > MAX_DEFERRED_BYTES {
            c.smb_deferred_limit += 1;
            return;
        }
        while self.deferred.len() >= MAX_DEFERRED_ENTRIES
            || self.deferred_bytes + data.len() > MAX_DEFERRED_BYTES
        {
            let Some(old) = self.deferred.pop_front() else {
                break;
            };
            self.deferred_bytes -= old.data.len();
            c.smb_deferred_limit += 1;
        }
        self.deferred_bytes += data.len();
        self.deferred.push_back(Deferred {
            create_msg,
            dir,
            data: data.to_vec(),
            at: self.now,
        });
    }

    fn take_deferred(&mut self, create_msg: u64) -> Vec<Deferred> {
        if self.deferred.is_empty() {
            return Vec::new();
        }
        let (mine, keep): (Vec<_>, Vec<_>) = self
            .deferred
            .drain(..)
            .partition(|d| d.create_msg == create_msg);
        self.deferred = keep.into();
        for d in &mine {
            self.deferred_bytes -= d.data.len();
        }
        mine
    }

    fn close(&mut self, fk: FileKey, zeek: Option<u64>, out: Out<'_>) {
        match self.files.remove(&fk) {
            Some(info) if info.opened => out(PipeEvent::Close {
                key: info.key,
                zeek,
            }),
            _ => {
                if let Some(fid) = zeek {
                    out(PipeEvent::ZeekClose { fid });
                }
            }
        }
    }

    // ---- SMB2

    fn smb2(&mut self, dir: usize, msg: &[u8], visible: bool, c: &mut SmbCounters, out: Out<'_>) {
        let mut off = 0usize;
        let mut n = 0usize;
        let mut prev: Option<Prev> = None;
        while let Some(rest) = msg.get(off..) {
            let h = match rec::parse_smb2_header(rest) {
                Ok(h) => h,
                Err(_) => {
                    self.bad_message(visible && n == 0, c);
                    return;
                }
            };
            let next = h.next_command as usize;
            let (len, last) = match next {
                0 => (rest.len(), true),
                _ if next >= rec::SMB2_HEADER_LEN && next < rest.len() => (next, false),
                _ => {
                    // NextCommand out of bounds: this command runs to the end, and no further.
                    c.smb_bad_messages += 1;
                    (rest.len(), true)
                }
            };
            c.smb2_messages += 1;
            if h.is_signed() {
                c.smb_signed_messages += 1;
            }
            // Zeek parses only the first command, as a request iff it came from the originator.
            let is_orig = dir == 0;
            let zeek = (visible && n == 0 && is_orig != h.is_response())
                .then(|| self.zeek.smb2_header(&h, is_orig));
            let cmd = &rest[..len];
            let r = if h.is_response() {
                self.smb2_response(dir, &h, cmd, zeek, c, out)
            } else {
                self.smb2_request(dir, &h, cmd, &mut prev, zeek, c, out)
            };
            if r.is_err() && !(h.is_response() && rec::smb2_is_error(&h)) {
                c.smb_bad_messages += 1;
            }
            n += 1;
            if last {
                break;
            }
            if n >= MAX_COMPOUND_CHAIN {
                c.compound_chain_limit += 1;
                break;
            }
            off += len;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn smb2_request(
        &mut self,
        dir: usize,
        h: &Smb2Header,
        cmd: &[u8],
        prev: &mut Option<Prev>,
        zeek: Option<bool>,
        c: &mut SmbCounters,
        out: Out<'_>,
    ) -> Result<(), RecordError> {
        let inherit = if h.is_related() { *prev } else { None };
        let (session, tree) = match inherit {
            Some(p) => (p.session, p.tree),
            None => (h.session_id, h.tree_id().unwrap_or(0)),
        };
        let prev_file = inherit.and_then(|p| p.file);
        let file_of = |fid: FileId| match prev_file {
            Some(f) if fid == FileId::RELATED => f,
            _ => FileRef::Known {
                fk: FileKey::smb2(session, fid),
                tree,
            },
        };
        // Set before parsing so that a related command after a malformed one still inherits.
        *prev = Some(Prev {
            session,
            tree,
            file: prev_file,
        });
        let file = match h.command {
            SMB2_TREE_CONNECT => {
                let path = rec::utf16le_lossy(rec::smb2_tree_connect_req(cmd)?);
                let ipc = path_is_ipc(&path);
                self.pend2(
                    h.message_id,
                    Pending2::TreeConnect { session, ipc, path },
                    c,
                );
                None
            }
            SMB2_SESSION_SETUP => {
                let blob = rec::smb2_session_setup_req(cmd)?;
                let mut auth = ntlmssp::session_auth(blob);
                // The analyst's keys opened the ticket: the account is known.
                if let Some(t) = self.crypto.as_mut().and_then(|cr| cr.ticket.take()) {
                    auth = Some(SessionAuth::KerberosTicket(NtlmUser {
                        user: t.user.into(),
                        domain: t.realm.into(),
                        workstation: SmolStr::default(),
                    }));
                }
                if let Some(user) = auth {
                    if session != 0 {
                        self.set_user(true, session, user.clone());
                    }
                    self.pend2(h.message_id, Pending2::SessionSetup { user }, c);
                }
                None
            }
            SMB2_TREE_DISCONNECT => {
                self.trees.remove(&TreeKey {
                    smb2: true,
                    session,
                    tree,
                });
                if zeek.is_some() {
                    self.zeek.smb2_tree_disconnect_req(h);
                }
                None
            }
            SMB2_CREATE => {
                let raw = rec::smb2_create_req(cmd)?;
                if let Some(is_pipe) = zeek {
                    self.zeek.smb2_create_req(h, is_pipe, raw);
                }
                let name = rec::utf16le_lossy(raw);
                self.pend2(
                    h.message_id,
                    Pending2::Create {
                        session,
                        tree,
                        name,
                    },
                    c,
                );
                Some(FileRef::FromCreate(h.message_id))
            }
            SMB2_CLOSE => {
                let fid = rec::smb2_close_req(cmd)?;
                let f = file_of(fid);
                let z = zeek.map(|_| fid.zeek_fid());
                match self.request_target(f) {
                    Target::File(fk, _) => self.close(fk, z, out),
                    _ => {
                        self.pend2(h.message_id, Pending2::Close { file: f }, c);
                        if let Some(fid) = z {
                            out(PipeEvent::ZeekClose { fid });
                        }
                    }
                }
                Some(f)
            }
            SMB2_READ => {
                let r = rec::smb2_read_req(cmd)?;
                if zeek.is_some() {
                    self.zeek.smb2_read_req(h, &r.file_id);
                }
                let f = file_of(r.file_id);
                self.pend2(h.message_id, Pending2::Read { file: f }, c);
                Some(f)
            }
            SMB2_WRITE => {
                let w = rec::smb2_write_req(cmd)?;
                let data = w.data(cmd)?;
                let f = file_of(w.file_id);
                let z = zeek
                    .and_then(|p| self.zeek.smb2_write_req(p, &w.file_id))
                    .map(|fid| (fid, data));
                let t = self.request_target(f);
                self.deliver(t, dir, data, z, false, c, out);
                Some(f)
            }
            SMB2_IOCTL => {
                let io = rec::smb2_ioctl_req(cmd)?;
                let f = file_of(io.file_id);
                let z = zeek.and_then(|_| self.zeek.smb2_ioctl_req(h, io.ctl_code, &io.file_id));
                if io.ctl_code == FSCTL_PIPE_TRANSCEIVE {
                    self.pend2(h.message_id, Pending2::Ioctl { file: f }, c);
                    let t = self.request_target(f);
                    self.deliver(
                        t,
                        dir,
                        io.buffer,
                        z.map(|fid| (fid, io.buffer)),
                        true,
                        c,
                        out,
                    );
                }
                Some(f)
            }
            _ => None,
        };
        if let Some(f) = file {
            *prev = Some(Prev {
                session,
                tree,
                file: Some(f),
            });
        }
        Ok(())
    }

    fn smb2_response(
        &mut self,
        dir: usize,
        h: &Smb2Header,
        cmd: &[u8],
        zeek: Option<bool>,
        c: &mut SmbCounters,
        out: Out<'_>,
    ) -> Result<(), RecordError> {
        if h.status == STATUS_PENDING {
            // Interim response: the final one keeps the MessageId, the request stays pending.
            return Ok(());
        }
        // Zeek parses the command's body unless its own error rule says otherwise.
        let zeek_body = zeek.filter(|_| !zeek_is_error(h));
        let err = rec::smb2_is_error(h);
        match h.command {
            SMB2_NEGOTIATE => {
                if !err && let Ok(d) = rec::smb2_negotiate_resp(cmd) {
                    self.dialect = Some(d);
                }
            }
            SMB2_SESSION_SETUP => {
                if let Some(Pending2::SessionSetup { user }) = self.pending2.remove(&h.message_id)
                    && !err
                    && h.session_id != 0
                {
                    self.set_user(true, h.session_id, user);
                }
            }
            SMB2_TREE_CONNECT => {
                let p = self.pending2.remove(&h.message_id);
                if err {
                    return Ok(());
                }
                let t = rec::smb2_tree_connect_resp(cmd)?;
                if zeek_body.is_some() {
                    self.zeek.smb2_tree_connect_resp(h, t.share_type);
                }
                let (session, ipc, path) = match p {
                    Some(Pending2::TreeConnect { session, ipc, path }) => (
                        if h.session_id != 0 {
                            h.session_id
                        } else {
                            session
                        },
                        ipc,
                        Some(path),
                    ),
                    _ => (h.session_id, false, None),
                };
                let kind = match t.share_type {
                    rec::SMB2_SHARE_TYPE_PIPE => Kind::Pipe,
                    rec::SMB2_SHARE_TYPE_DISK | rec::SMB2_SHARE_TYPE_PRINT => Kind::NotPipe,
                    _ if ipc => Kind::Pipe,
                    _ => Kind::Unknown,
                };
                if let Some(tree) = h.tree_id() {
                    let tk = TreeKey {
                        smb2: true,
                        session,
                        tree,
                    };
                    self.insert_tree(tk, kind, c);
                    if let Some(path) = path {
                        self.tree_paths.insert(tk, path.into());
                    }
                }
            }
            SMB2_CREATE => {
                let p = self.pending2.remove(&h.message_id);
                let r = match (err, rec::smb2_create_resp(cmd)) {
                    (false, Ok(r)) => r,
                    (_, res) => {
                        self.take_deferred(h.message_id);
                        return res.map(|_| ());
                    }
                };
                let (session, tree, name) = match p {
                    Some(Pending2::Create {
                        session,
                        tree,
                        name,
                    }) => (session, tree, name),
                    _ => (h.session_id, h.tree_id().unwrap_or(0), String::new()),
                };
                let fk = FileKey::smb2(session, r.file_id);
                self.opened(fk, tree, name, None, c, out);
                if self.recent_creates.len() >= RECENT_CREATES {
                    self.recent_creates.pop_front();
                }
                self.recent_creates.push_back((h.message_id, fk, tree));
                for d in self.take_deferred(h.message_id) {
                    self.deliver_at = Some(d.at);
                    self.deliver(Target::File(fk, tree), d.dir, &d.data, None, false, c, out);
                    self.deliver_at = None;
                }
            }
            SMB2_CLOSE => {
                if let Some(Pending2::Close { file }) = self.pending2.remove(&h.message_id)
                    && !err
                    && let Target::File(fk, _) = self.response_target(file)
                {
                    self.close(fk, None, out);
                }
            }
            SMB2_READ => {
                let p = self.pending2.remove(&h.message_id);
                let zfid = zeek_body.and_then(|is_pipe| self.zeek.smb2_read_resp(h, is_pipe));
                if err {
                    return Ok(());
                }
                let r = rec::smb2_read_resp(cmd)?;
                let data = r.data(cmd)?;
                let target = match p {
                    Some(Pending2::Read { file }) => self.response_target(file),
                    _ => {
                        c.unmatched_read_responses += 1;
                        Target::None
                    }
                };
                self.deliver(target, dir, data, zfid.map(|f| (f, data)), false, c, out);
            }
            SMB2_IOCTL => {
                let p = self.pending2.remove(&h.message_id);
                let io = rec::smb2_ioctl_resp(cmd);
                let z = match (&io, zeek_body) {
                    (Ok(io), Some(_)) => self
                        .zeek
                        .smb2_ioctl_resp(h, io.ctl_code)
                        .map(|f| (f, io.buffer)),
                    _ => None,
                };
                if err {
                    if let Some((fid, zd)) = z
                        && !zd.is_empty()
                    {
                        out(PipeEvent::ZeekData { dir, data: zd, fid });
                    }
                    return Ok(());
                }
                let io = io?;
                if io.ctl_code == FSCTL_PIPE_TRANSCEIVE {
                    let target = match p {
                        Some(Pending2::Ioctl { file }) => self.response_target(file),
                        _ => Target::File(
                            FileKey::smb2(h.session_id, io.file_id),
                            h.tree_id().unwrap_or(0),
                        ),
                    };
                    self.deliver(target, dir, io.buffer, z, true, c, out);
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ---- SMB1

    fn smb1(&mut self, dir: usize, msg: &[u8], visible: bool, c: &mut SmbCounters, out: Out<'_>) {
        let h = match rec::parse_smb1_header(msg) {
            Ok(h) => h,
            Err(_) => {
                self.bad_message(visible, c);
                return;
            }
        };
        c.smb1_messages += 1;
        if h.signed() && h.signature != [0; 8] {
            c.smb_signed_messages += 1;
        }
        // Zeek: a request iff it came from the originator.
        let zeek = visible && (dir == 0) != h.is_reply();
        let mut cmd = h.command;
        let mut off = rec::SMB1_HEADER_LEN;
        let mut n = 0usize;
        loop {
            let Ok(block) = rec::smb1_block(msg, off) else {
                if !(h.is_reply() && h.status != 0) {
                    c.smb_bad_messages += 1;
                }
                break;
            };
            if self
                .smb1_command(dir, &h, cmd, msg, &block, zeek, c, out)
                .is_err()
                && !(h.is_reply() && h.status != 0)
            {
                c.smb_bad_messages += 1;
            }
            n += 1;
            if !rec::smb1_is_andx(cmd) {
                break;
            }
            let Some(ax) = rec::smb1_andx(block.words) else {
                break;
            };
            if ax.command == rec::SMB_COM_NO_ANDX_COMMAND {
                break;
            }
            let next = ax.offset as usize;
            if next <= off || next >= msg.len() {
                // Loops and offsets past the end end the chain.
                c.smb_bad_messages += 1;
                break;
            }
            if n >= MAX_ANDX_CHAIN {
                c.andx_chain_limit += 1;
                break;
            }
            cmd = ax.command;
            off = next;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn smb1_command(
        &mut self,
        dir: usize,
        h: &Smb1Header,
        cmd: u8,
        msg: &[u8],
        b: &Smb1Block<'_>,
        zeek: bool,
        c: &mut SmbCounters,
        out: Out<'_>,
    ) -> Result<(), RecordError> {
        let uni = h.unicode();
        let key = |cmd: u8, tid: u16| Mid1 {
            cmd,
            mid: h.mid,
            pid: h.pid,
            uid: h.uid,
            tid,
        };
        let fk = |fid: u16| FileKey::smb1(h.uid, fid);
        let tree = h.tid as u32;
        match (cmd, h.is_reply()) {
            (SMB_COM_TREE_CONNECT_ANDX, false) => {
                let t = rec::smb1_tree_connect_req(msg, b, uni)?;
                let path = t.path.to_string_lossy();
                let ipc = path_is_ipc(&path);
                // The TID is not known until the response: match on the rest.
                self.pend1(key(cmd, 0), Pending1::TreeConnect { ipc, path }, c);
            }
            (SMB_COM_SESSION_SETUP_ANDX, false) => {
                let user = match rec::smb1_session_setup_req(msg, b, uni)? {
                    Smb1SessionSetup::Blob(blob) => ntlmssp::session_auth(blob),
                    Smb1SessionSetup::Plain { account, domain } => {
                        Some(SessionAuth::Ntlm(NtlmUser {
                            user: account.to_string_lossy().into(),
                            domain: domain.to_string_lossy().into(),
                            workstation: SmolStr::default(),
                        }))
                    }
                };
                if let Some(user) = user {
                    if h.uid != 0 {
                        self.set_user(false, h.uid as u64, user.clone());
                    }
                    // The UID may come with the response only (one-step logons).
                    self.pend1(key(cmd, h.tid), Pending1::SessionSetup { user }, c);
                }
            }
            (SMB_COM_SESSION_SETUP_ANDX, true) => {
                // Match on MID/PID/TID: the request may have had UID 0.
                let k = Mid1 {
                    uid: 0,
                    ..key(cmd, h.tid)
                };
                let p = self
                    .pending1
                    .remove(&key(cmd, h.tid))
                    .or_else(|| self.pending1.remove(&k));
                if let Some(Pending1::SessionSetup { user }) = p
                    && h.status == 0
                    && h.uid != 0
                {
                    self.set_user(false, h.uid as u64, user);
                }
            }
            (SMB_COM_TREE_CONNECT_ANDX, true) => {
                let p = self.pending1.remove(&key(cmd, 0));
                if h.status != 0 && b.word_count == 0 {
                    return Ok(());
                }
                let service = rec::smb1_tree_connect_resp(msg, b)?;
                if zeek {
                    self.zeek.smb1_tree_connect_resp(h.tid, service);
                }
                let (ipc, path) = match p {
                    Some(Pending1::TreeConnect { ipc, path }) => (ipc, Some(path)),
                    _ => (false, None),
                };
                let kind = match service {
                    s if s.starts_with(b"IPC") => Kind::Pipe,
                    [] if ipc => Kind::Pipe,
                    [] => Kind::Unknown,
                    _ => Kind::NotPipe,
                };
                let tk = TreeKey {
                    smb2: false,
                    session: h.uid as u64,
                    tree,
                };
                self.insert_tree(tk, kind, c);
                if let Some(path) = path {
                    self.tree_paths.insert(tk, path.into());
                }
            }
            (SMB_COM_NT_CREATE_ANDX | SMB_COM_OPEN_ANDX, false) => {
                let name = if cmd == SMB_COM_NT_CREATE_ANDX {
                    let name = rec::smb1_nt_create_req(msg, b, uni)?;
                    if zeek {
                        self.zeek.smb1_nt_create_req(h.tid, &name);
                    }
                    name
                } else {
                    rec::smb1_open_andx_req(msg, b, uni)?
                };
                self.pend1(
                    key(cmd, h.tid),
                    Pending1::Create {
                        name: name.to_string_lossy(),
                    },
                    c,
                );
            }
            (SMB_COM_NT_CREATE_ANDX | SMB_COM_OPEN_ANDX, true) => {
                let p = self.pending1.remove(&key(cmd, h.tid));
                if h.status != 0 {
                    return Ok(());
                }
                let r = if cmd == SMB_COM_NT_CREATE_ANDX {
                    rec::smb1_nt_create_resp(b)?
                } else {
                    rec::smb1_open_andx_resp(b)?
                };
                let name = match p {
                    Some(Pending1::Create { name }) => name,
                    _ => String::new(),
                };
                let resource = match r.resource_type {
                    _ if r.is_pipe() => Some(true),
                    0 => Some(false),
                    _ => None,
                };
                self.opened(fk(r.fid), tree, name, resource, c, out);
            }
            (SMB_COM_WRITE_ANDX, false) => {
                let w = rec::smb1_write_andx_req(b)?;
                let data = w.data(msg)?;
                let z = if zeek {
                    self.zeek
                        .smb1_rw(h.tid)
                        .map(|f| (f, w.raw_data(msg).unwrap_or(data)))
                } else {
                    None
                };
                self.deliver(Target::File(fk(w.fid), tree), dir, data, z, false, c, out);
            }
            (SMB_COM_READ_ANDX, false) => {
                let fid = rec::smb1_read_andx_req(b)?;
                self.pend1(key(cmd, h.tid), Pending1::Read { fid }, c);
            }
            (SMB_COM_READ_ANDX, true) => {
                let p = self.pending1.remove(&key(cmd, h.tid));
                if b.word_count == 0 {
                    return Ok(());
                }
                let r = rec::smb1_read_andx_resp(b)?;
                let data = r.data(msg)?;
                let z = if zeek {
                    self.zeek.smb1_rw(h.tid).map(|f| (f, data))
                } else {
                    None
                };
                let target = match p {
                    Some(Pending1::Read { fid }) => Target::File(fk(fid), tree),
                    _ => {
                        c.unmatched_read_responses += 1;
                        Target::None
                    }
                };
                self.deliver(target, dir, data, z, false, c, out);
            }
            (SMB_COM_CLOSE, false) => {
                let fid = rec::smb1_close_req(b)?;
                // Zeek never closes an SMB1 pipe analyzer.
                self.close(fk(fid), None, out);
            }
            (SMB_COM_TRANSACTION, false) => {
                let t = rec::smb1_trans_req(msg, b, uni)?;
                let z = if zeek {
                    self.zeek
                        .smb1_trans_req(h.mid, h.tid, &t.name)
                        .map(|f| (f, t.data_to_end))
                } else {
                    None
                };
                let name = t.name.to_string_lossy().to_ascii_uppercase();
                let pipe_path = name.starts_with("\\PIPE\\") && !name.starts_with("\\PIPE\\LANMAN");
                let (fwd_req, fwd_resp) = if t.setup_count >= 2 && (pipe_path || name.is_empty()) {
                    match t.setup_word(0) {
                        Some(rec::TRANS_TRANSACT_NMPIPE) => (true, true),
                        Some(rec::TRANS_WRITE_NMPIPE | rec::TRANS_RAW_WRITE_NMPIPE) => {
                            (true, false)
                        }
                        Some(rec::TRANS_READ_NMPIPE | rec::TRANS_RAW_READ_NMPIPE) => (false, true),
                        _ => {
                            c.smb1_other_pipe_transactions += 1;
                            (false, false)
                        }
                    }
                } else {
                    if pipe_path {
                        c.smb1_other_pipe_transactions += 1;
                    }
                    (false, false)
                };
                let fid = t.setup_word(1).unwrap_or(0);
                if fwd_req || fwd_resp {
                    let tr = Trans1 {
                        fid,
                        fwd_req,
                        fwd_resp,
                        req_seen: t.data.len(),
                        resp_seen: 0,
                    };
                    self.pend1(key(SMB_COM_TRANSACTION, h.tid), Pending1::Trans(tr), c);
                }
                let target = if fwd_req {
                    Target::File(fk(fid), tree)
                } else {
                    Target::None
                };
                self.deliver(target, dir, t.data, z, true, c, out);
            }
            (SMB_COM_TRANSACTION, true) => {
                let k = key(SMB_COM_TRANSACTION, h.tid);
                if b.word_count == 0 {
                    // Interim response (more request data may follow), or an error.
                    if h.status != 0 {
                        self.pending1.remove(&k);
                    }
                    return Ok(());
                }
                let t = rec::smb1_trans_resp(msg, b)?;
                let z = if zeek {
                    self.zeek
                        .smb1_trans_resp(h.mid, t.data.len())
                        .map(|f| (f, t.data_to_end))
                } else {
                    None
                };
                let mut target = Target::None;
                let mut done = false;
                if let Some(Pending1::Trans(tr)) = self.pending1.get_mut(&k) {
                    if tr.fwd_resp {
                        if t.data_displacement as usize == tr.resp_seen {
                            target = Target::File(fk(tr.fid), tree);
                            tr.resp_seen += t.data.len();
                        } else {
                            c.smb_bad_messages += 1;
                        }
                    }
                    done = !tr.fwd_resp || tr.resp_seen >= t.total_data as usize;
                }
                if done {
                    self.pending1.remove(&k);
                }
                self.deliver(target, dir, t.data, z, true, c, out);
            }
            (SMB_COM_TRANSACTION_SECONDARY, false) => {
                // Zeek never forwards secondary data.
                let t = rec::smb1_trans_secondary_req(msg, b)?;
                let mut target = Target::None;
                if let Some(Pending1::Trans(tr)) =
                    self.pending1.get_mut(&key(SMB_COM_TRANSACTION, h.tid))
                    && tr.fwd_req
                {
                    if t.data_displacement as usize == tr.req_seen {
                        target = Target::File(fk(tr.fid), tree);
                        tr.req_seen += t.data.len();
                    } else {
                        c.smb_bad_messages += 1;
                    }
                }
                self.deliver(target, dir, t.data, None, true, c, out);
            }
            (SMB_COM_TREE_DISCONNECT, false) => {
                self.trees.remove(&TreeKey {
                    smb2: false,
                    session: h.uid as u64,
                    tree,
                });
            }
            _ => {}
        }
        Ok(())
    }

    // ---- large messages

    /// Can this file's data be skipped unread? Only when it is surely not a pipe.
    fn skippable(&self, fk: FileKey, tree: u32, data_head: &[u8]) -> bool {
        let kind = match self.files.get(&fk) {
            Some(info) => info.kind,
            None => match self.trees.get(&fk.tree_key(tree)) {
                Some(Kind::NotPipe) => Kind::NotPipe,
                Some(Kind::Pipe) => Kind::Pipe,
                _ => Kind::Unknown,
            },
        };
        match kind {
            Kind::NotPipe => true,
            Kind::Pipe => false,
            // Sniff the data start when the prefix holds it.
            Kind::Unknown => {
                data_head.len() >= crate::dcerpc::pdu::HEADER_LEN && !looks_like_dcerpc(data_head)
            }
        }
    }

    /// A large message of which `prefix` has arrived: deal with it now and skip the rest
    /// (true), or have it buffered whole (false).
    fn large(
        &mut self,
        dir: usize,
        prefix: &[u8],
        total: usize,
        tag: Tag,
        c: &mut SmbCounters,
    ) -> bool {
        let visible = self.zeek.visible(tag);
        match rec::protocol(prefix) {
            // A key may open it: buffered whole (up to MAX_MESSAGE_LEN) and decrypted.
            Protocol::Transform if self.crypto.as_ref().is_some_and(|cr| cr.wants(prefix)) => false,
            Protocol::Transform => {
                self.count_conn(c);
                self.transform(prefix, total, c);
                true
            }
            Protocol::Compressed => {
                self.count_conn(c);
                self.compressed(c);
                true
            }
            Protocol::Smb2 => {
                let skip = self.large_smb2(dir, prefix, total, visible, c);
                if skip {
                    self.count_conn(c);
                }
                skip
            }
            Protocol::Smb1 => {
                let skip = self.large_smb1(dir, prefix, total, visible, c);
                if skip {
                    self.count_conn(c);
                }
                skip
            }
            Protocol::Other => false,
        }
    }

    fn large_smb2(
        &mut self,
        dir: usize,
        prefix: &[u8],
        total: usize,
        visible: bool,
        c: &mut SmbCounters,
    ) -> bool {
        let Ok(h) = rec::parse_smb2_header(prefix) else {
            return false;
        };
        if h.next_command != 0 || h.is_related() {
            return false;
        }
        let is_orig = dir == 0;
        let zeek_on = visible && is_orig != h.is_response();
        match (h.command, h.is_response()) {
            (SMB2_WRITE, false) => {
                let Ok(w) = rec::smb2_write_req(prefix) else {
                    return false;
                };
                let (off, len) = (w.data_offset as usize, w.length as usize);
                if off < rec::SMB2_HEADER_LEN || off.saturating_add(len) > total {
                    return false;
                }
                let fk = FileKey::smb2(h.session_id, w.file_id);
                let tree = h.tree_id().unwrap_or(0);
                let head = prefix.get(off..).unwrap_or(&[]);
                if !self.skippable(fk, tree, head)
                    || (zeek_on && self.zeek.tree_is_pipe(h.tree_id_raw))
                {
                    return false;
                }
                if zeek_on {
                    self.zeek.smb2_header(&h, is_orig);
                }
                c.smb2_messages += 1;
                if h.is_signed() {
                    c.smb_signed_messages += 1;
                }
                c.non_pipe_bytes_skipped += len as u64;
                true
            }
            (SMB2_READ, true) if !rec::smb2_is_error(&h) && h.status != STATUS_PENDING => {
                let Ok(r) = rec::smb2_read_resp(prefix) else {
                    return false;
                };
                let (off, len) = (r.data_offset as usize, r.data_len as usize);
                if off < rec::SMB2_HEADER_LEN || off.saturating_add(len) > total {
                    return false;
                }
                let target = match self.pending2.get(&h.message_id) {
                    Some(Pending2::Read { file }) => self.response_target(*file),
                    _ => Target::None,
                };
                let head = prefix.get(off..).unwrap_or(&[]);
                let skip_acc = match target {
                    Target::File(fk, tree) => self.skippable(fk, tree, head),
                    _ => true,
                };
                let zeek_body = zeek_on && !zeek_is_error(&h);
                if !skip_acc || (zeek_body && self.zeek.smb2_read_resp_would_forward(&h)) {
                    return false;
                }
                if zeek_on {
                    let is_pipe = self.zeek.smb2_header(&h, is_orig);
                    if zeek_body {
                        self.zeek.smb2_read_resp(&h, is_pipe);
                    }
                }
                if self.pending2.remove(&h.message_id).is_none() {
                    c.unmatched_read_responses += 1;
                }
                c.smb2_messages += 1;
                if h.is_signed() {
                    c.smb_signed_messages += 1;
                }
                if let Target::File(..) = target {
                    c.non_pipe_bytes_skipped += len as u64;
                }
                true
            }
            _ => false,
        }
    }

    fn large_smb1(
        &mut self,
        dir: usize,
        prefix: &[u8],
        total: usize,
        visible: bool,
        c: &mut SmbCounters,
    ) -> bool {
        let Ok(h) = rec::parse_smb1_header(prefix) else {
            return false;
        };
        let Ok(b) = rec::smb1_block(prefix, rec::SMB1_HEADER_LEN) else {
            return false;
        };
        if rec::smb1_andx(b.words).is_none_or(|a| a.command != rec::SMB_COM_NO_ANDX_COMMAND) {
            return false;
        }
        let zeek_on = visible && (dir == 0) != h.is_reply();
        let tree = h.tid as u32;
        let (fk, off, len, pending) = match (h.command, h.is_reply()) {
            (SMB_COM_WRITE_ANDX, false) => {
                let Ok(w) = rec::smb1_write_andx_req(&b) else {
                    return false;
                };
                (
                    Some(FileKey::smb1(h.uid, w.fid)),
                    w.data_offset as usize,
                    w.data_len(total),
                    None,
                )
            }
            (SMB_COM_READ_ANDX, true) => {
                let Ok(r) = rec::smb1_read_andx_resp(&b) else {
                    return false;
                };
                let k = Mid1 {
                    cmd: SMB_COM_READ_ANDX,
                    mid: h.mid,
                    pid: h.pid,
                    uid: h.uid,
                    tid: h.tid,
                };
                let fk = match self.pending1.get(&k) {
                    Some(Pending1::Read { fid }) => Some(FileKey::smb1(h.uid, *fid)),
                    _ => None,
                };
                (fk, r.data_offset as usize, r.data_len(total), Some(k))
            }
            _ => return false,
        };
        if off < rec::SMB1_HEADER_LEN || off.saturating_add(len) > total {
            return false;
        }
        let head = prefix.get(off..).unwrap_or(&[]);
        let skip_acc = fk.is_none_or(|fk| self.skippable(fk, tree, head));
        if !skip_acc || (zeek_on && self.zeek.smb1_rw(h.tid).is_some()) {
            return false;
        }
        if let Some(k) = pending
            && self.pending1.remove(&k).is_none()
        {
            c.unmatched_read_responses += 1;
        }
        c.smb1_messages += 1;
        if fk.is_some() {
            c.non_pipe_bytes_skipped += len as u64;
        }
        true
    }
}

#[cfg(test)]
mod tests;
