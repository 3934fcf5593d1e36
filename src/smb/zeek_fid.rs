//! What Zeek's SMB analyzer hands to its DCE_RPC analyzers, and under which fid: the
//! emulation behind the `zeek` fields of [`super::PipeEvent`] (`--zeek-compat`). Kept apart
//! from the accurate pipe tracking in `conn`, which never reads this state.
//!
//! Read from zeek/zeek's `src/analyzer/protocol/smb` (SMB.cc, smb.pac, smb-pipe.pac,
//! smb-common.pac, smb-strings.pac, smb1-com-*.pac, smb2-*.pac); see
//! `shared/reference/zeek-dce-rpc-semantics.md` section 3.1. The rules:
//!
//! * Sync: the analyzer starts, and restarts after a content gap or a parse error, only on a
//!   delivered chunk with `\xffSMB` or `\xfeSMB` at offset 4; a restart discards both
//!   directions' partial messages.
//! * Requests and responses are told apart by the TCP direction (`is_orig`), not by the
//!   header flags. SMB2 compounds: only the first command of a message is parsed.
//! * Pipe trees, one map keyed by the 16-bit truncation of the tree id, shared by SMB1 and
//!   SMB2: SMB1 TREE_CONNECT_ANDX response with a service starting "IPC"; SMB2 TREE_CONNECT
//!   response with share type 2; SMB1 NT_CREATE_ANDX or SMB2 CREATE whose name is exactly in
//!   `SMB::pipe_filenames`; SMB2 TREE_DISCONNECT request unmarks.
//! * fid: 0 for every SMB1 carrier; SMB2 `persistent + volatile`, read/ioctl responses
//!   taking the fid saved from the request with the same message id (0 when missing).
//! * `SMB::max_pending_messages` (1000): the SMB2 request-tree, read and ioctl maps are
//!   cleared when full. The SMB1 transaction map is unbounded in Zeek; it is bounded the
//!   same way here.
//!
//! Approximations, all for traffic that real peers do not send: a message whose header
//! flags contradict its TCP direction is left out; after a resync in one direction Zeek
//! also restarts the other direction at its next chunk boundary, which is only followed
//! when that boundary is a message boundary; the bytes forwarded are the accurately parsed
//! data fields (Zeek's binpac offsets agree on every well-formed message).

use super::ZEEK_MAX_PENDING_MESSAGES;
use super::framing::Tag;
use super::records::{
    FSCTL_PIPE_TRANSCEIVE, FileId, SMB2_CHANGE_NOTIFY, SMB2_IOCTL, SMB2_QUERY_INFO, SMB2_READ,
    SMB2_SESSION_SETUP, SMB2_SHARE_TYPE_PIPE, STATUS_BUFFER_OVERFLOW, STATUS_INVALID_PARAMETER,
    STATUS_MORE_PROCESSING_REQUIRED, STATUS_NOTIFY_ENUM_DIR, STATUS_PENDING, Smb2Header, SmbString,
};
use super::table::ClearMap;
use crate::FastSet;

/// `SMB::pipe_filenames` (base/protocols/smb/consts.zeek; shared/reference
/// zeek-smb-pipe-filenames.tsv): exact, case-sensitive matches.
pub const ZEEK_PIPE_FILENAMES: [&[u8]; 8] = [
    b"spoolss",
    b"winreg",
    b"samr",
    b"srvsvc",
    b"netdfs",
    b"lsarpc",
    b"wkssvc",
    b"MsFteWds",
];

#[derive(Debug)]
pub struct ZeekFid {
    /// Accurate mode: Zeek's view is not wanted, no message is visible to it.
    off: bool,
    need_sync: bool,
    /// Bumped at every loss of sync, so that messages begun before it stay invisible.
    epoch: u64,
    /// `tree_is_pipe_map` entries that are true (keys are u16 in Zeek, so at most 65536).
    pipe_trees: FastSet<u16>,
    /// `smb2_request_tree_id`: message id → tree id of the request.
    request_tree: ClearMap<u64, u32>,
    /// `smb2_read_fids`.
    read_fids: ClearMap<u64, u64>,
    /// `smb2_ioctl_fids`.
    ioctl_fids: ClearMap<u64, u64>,
    /// `is_file_a_pipe`: SMB1 MID → whether the transaction was a pipe transaction.
    trans_pipe: ClearMap<u16, bool>,
}

impl Default for ZeekFid {
    fn default() -> Self {
        ZeekFid {
            off: false,
            need_sync: true,
            epoch: 0,
            pipe_trees: FastSet::default(),
            request_tree: ClearMap::new(ZEEK_MAX_PENDING_MESSAGES),
            read_fids: ClearMap::new(ZEEK_MAX_PENDING_MESSAGES),
            ioctl_fids: ClearMap::new(ZEEK_MAX_PENDING_MESSAGES),
            trans_pipe: ClearMap::new(ZEEK_MAX_PENDING_MESSAGES),
        }
    }
}

/// SMB.cc `HasSMBHeader`.
fn has_smb_header(chunk: &[u8]) -> bool {
    chunk.len() >= 8 && matches!(&chunk[4..8], b"\xffSMB" | b"\xfeSMB")
}

/// smb-strings.pac `uint8s_to_stringval` for the names that can match the pipe-name table:
/// UCS-2 whose high bytes are all zero becomes its low bytes (one trailing NUL cut); any
/// other string becomes byte-swapped UTF-16, which matches no table entry (None).
pub fn zeek_ucs2_name(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.iter().skip(1).step_by(2).any(|&b| b != 0) {
        return None;
    }
    let mut v: Vec<u8> = raw.iter().step_by(2).copied().collect();
    v.truncate(raw.len() / 2);
    if v.last() == Some(&0) {
        v.pop();
    }
    Some(v)
}

fn zeek_smb1_name(s: &SmbString<'_>) -> Option<Vec<u8>> {
    match s {
        SmbString::Ascii(b) => Some(b.to_vec()),
        SmbString::Utf16(b) => zeek_ucs2_name(b),
    }
}

fn is_pipe_filename(name: &[u8]) -> bool {
    ZEEK_PIPE_FILENAMES.contains(&name)
}

/// smb2-protocol.pac `is_error_response` (responses only).
pub fn zeek_is_error(h: &Smb2Header) -> bool {
    match h.status {
        0 => false,
        STATUS_BUFFER_OVERFLOW => !matches!(h.command, SMB2_IOCTL | SMB2_QUERY_INFO | SMB2_READ),
        STATUS_INVALID_PARAMETER => h.command != SMB2_IOCTL,
        STATUS_MORE_PROCESSING_REQUIRED => h.command != SMB2_SESSION_SETUP,
        STATUS_NOTIFY_ENUM_DIR => h.command != SMB2_CHANGE_NOTIFY,
        _ => true,
    }
}

/// Transaction type from the name (smb-common.pac `determine_transaction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransType {
    Pipe,
    Rap,
    Unknown,
}

fn transaction_type(name: &SmbString<'_>) -> TransType {
    // Zeek compares the low bytes only, case-sensitively.
    let low: Vec<u8> = match name {
        SmbString::Ascii(b) => b.to_vec(),
        SmbString::Utf16(b) => b.iter().step_by(2).copied().collect(),
    };
    if low.starts_with(b"\\PIPE\\") {
        if low[6..].starts_with(b"LANMAN") {
            TransType::Rap
        } else {
            TransType::Pipe
        }
    } else {
        TransType::Unknown
    }
}

impl ZeekFid {
    pub fn new() -> Self {
        Self::default()
    }

    /// No emulation at all (accurate mode): every message is invisible to "Zeek", so none
    /// of its per-message bookkeeping runs.
    pub fn off() -> Self {
        ZeekFid {
            off: true,
            ..Self::default()
        }
    }

    /// A chunk is delivered: returns the tag for the messages that start in it.
    pub fn chunk(&mut self, data: &[u8]) -> Tag {
        if self.need_sync {
            if !has_smb_header(data) {
                return None;
            }
            self.need_sync = false;
        }
        Some(self.epoch)
    }

    /// Does Zeek parse a message that began under `tag`?
    pub fn visible(&self, tag: Tag) -> bool {
        !self.off && !self.need_sync && tag == Some(self.epoch)
    }

    /// A content gap or a parse error (SMB.cc `NeedResync`).
    pub fn lost(&mut self) {
        if !self.need_sync {
            self.need_sync = true;
            self.epoch += 1;
        }
    }

    pub fn tree_is_pipe(&self, tree: u32) -> bool {
        self.pipe_trees.contains(&(tree as u16))
    }

    fn set_pipe(&mut self, tree: u32, is_pipe: bool) {
        if is_pipe {
            self.pipe_trees.insert(tree as u16);
        } else {
            self.pipe_trees.remove(&(tree as u16));
        }
    }

    // ---- SMB1 (every fid is 0)

    pub fn smb1_tree_connect_resp(&mut self, tid: u16, service: &[u8]) {
        if service.starts_with(b"IPC") {
            self.set_pipe(tid as u32, true);
        }
    }

    pub fn smb1_nt_create_req(&mut self, tid: u16, name: &SmbString<'_>) {
        if !self.tree_is_pipe(tid as u32)
            && zeek_smb1_name(name).is_some_and(|n| is_pipe_filename(&n))
        {
            self.set_pipe(tid as u32, true);
        }
    }

    /// WRITE_ANDX request / READ_ANDX response on the header's tree.
    pub fn smb1_rw(&self, tid: u16) -> Option<u64> {
        self.tree_is_pipe(tid as u32).then_some(0)
    }

    pub fn smb1_trans_req(&mut self, mid: u16, tid: u16, name: &SmbString<'_>) -> Option<u64> {
        let t = transaction_type(name);
        let is_pipe =
            t == TransType::Pipe || (t == TransType::Unknown && self.tree_is_pipe(tid as u32));
        self.trans_pipe.insert(mid, is_pipe);
        (t == TransType::Pipe).then_some(0)
    }

    pub fn smb1_trans_resp(&mut self, mid: u16, data_count: usize) -> Option<u64> {
        let is_pipe = self.trans_pipe.remove(&mid).unwrap_or(false);
        (is_pipe && data_count > 0).then_some(0)
    }

    // ---- SMB2

    /// Header bookkeeping for every SMB2 message Zeek parses; returns `header.is_pipe`
    /// (requests: their own tree; responses: the tree of the request with the same id).
    pub fn smb2_header(&mut self, h: &Smb2Header, is_orig: bool) -> bool {
        if is_orig {
            let p = self.tree_is_pipe(h.tree_id_raw);
            self.request_tree.insert(h.message_id, h.tree_id_raw);
            p
        } else {
            let tree = self.request_tree.get(&h.message_id).copied().unwrap_or(0);
            let p = self.tree_is_pipe(tree);
            if h.status != STATUS_PENDING {
                self.request_tree.remove(&h.message_id);
            }
            p
        }
    }

    pub fn smb2_tree_connect_resp(&mut self, h: &Smb2Header, share_type: u8) {
        if share_type == SMB2_SHARE_TYPE_PIPE {
            self.set_pipe(h.tree_id_raw, true);
        }
    }

    pub fn smb2_tree_disconnect_req(&mut self, h: &Smb2Header) {
        self.set_pipe(h.tree_id_raw, false);
    }

    pub fn smb2_create_req(&mut self, h: &Smb2Header, is_pipe: bool, raw_name: &[u8]) {
        if !is_pipe && zeek_ucs2_name(raw_name).is_some_and(|n| is_pipe_filename(&n)) {
            self.set_pipe(h.tree_id_raw, true);
        }
    }

    pub fn smb2_write_req(&self, is_pipe: bool, fid: &FileId) -> Option<u64> {
        is_pipe.then(|| fid.zeek_fid())
    }

    pub fn smb2_read_req(&mut self, h: &Smb2Header, fid: &FileId) {
        self.read_fids.insert(h.message_id, fid.zeek_fid());
    }

    /// READ response that is not an error: the fid is forgotten whether or not it is used.
    pub fn smb2_read_resp(&mut self, h: &Smb2Header, is_pipe: bool) -> Option<u64> {
        let fid = self.read_fids.remove(&h.message_id).unwrap_or(0);
        is_pipe.then_some(fid)
    }

    pub fn smb2_ioctl_req(&mut self, h: &Smb2Header, ctl_code: u32, fid: &FileId) -> Option<u64> {
        self.ioctl_fids.insert(h.message_id, fid.zeek_fid());
        (ctl_code == FSCTL_PIPE_TRANSCEIVE).then(|| fid.zeek_fid())
    }

    pub fn smb2_ioctl_resp(&mut self, h: &Smb2Header, ctl_code: u32) -> Option<u64> {
        let fid = self.ioctl_fids.remove(&h.message_id).unwrap_or(0);
        (ctl_code == FSCTL_PIPE_TRANSCEIVE).then_some(fid)
    }

    /// Would Zeek forward this READ response's data (for the streaming skip decision,
    /// without consuming anything)?
    pub fn smb2_read_resp_would_forward(&self, h: &Smb2Header) -> bool {
        let tree = self.request_tree.get(&h.message_id).copied().unwrap_or(0);
        self.tree_is_pipe(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::records::{SMB2_WRITE, parse_smb2_header};
    use crate::smb::testutil::*;

    #[test]
    fn sync_and_epochs() {
        let mut z = ZeekFid::new();
        assert_eq!(z.chunk(b"\x00\x00\x00\x10garbage!"), None);
        assert!(!z.visible(None));
        let t = z.chunk(b"\x00\x00\x00\x40\xfeSMB");
        assert_eq!(t, Some(0));
        assert!(z.visible(t));
        z.lost();
        assert!(
            !z.visible(t),
            "a message begun before the loss stays invisible"
        );
        assert_eq!(
            z.chunk(b"\x00\x00\x00\x40\xfdSMB"),
            None,
            "the transform magic does not sync"
        );
        let t2 = z.chunk(b"\x00\x00\x00\x40\xffSMB");
        assert_eq!(t2, Some(1));
        assert!(z.visible(t2) && !z.visible(t));
    }

    #[test]
    fn names() {
        assert_eq!(zeek_ucs2_name(&utf16("samr")), Some(b"samr".to_vec()));
        assert_eq!(zeek_ucs2_name(&utf16z("samr")), Some(b"samr".to_vec()));
        assert_eq!(
            zeek_ucs2_name(&utf16("s\u{e9}mr")),
            Some(b"s\xe9mr".to_vec())
        );
        assert_eq!(zeek_ucs2_name(&utf16("\u{0173}amr")), None);
        assert_eq!(
            transaction_type(&SmbString::Ascii(b"\\PIPE\\")),
            TransType::Pipe
        );
        assert_eq!(
            transaction_type(&SmbString::Ascii(b"\\PIPE\\LANMAN")),
            TransType::Rap
        );
        assert_eq!(
            transaction_type(&SmbString::Ascii(b"\\pipe\\")),
            TransType::Unknown,
            "case-sensitive"
        );
        assert_eq!(
            transaction_type(&SmbString::Utf16(&utf16("\\PIPE\\"))),
            TransType::Pipe
        );
        assert_eq!(
            transaction_type(&SmbString::Utf16(&utf16("\\MAILSLOT\\BROWSE"))),
            TransType::Unknown
        );
    }

    #[test]
    fn smb1_rules() {
        let mut z = ZeekFid::new();
        assert_eq!(z.smb1_rw(7), None);
        z.smb1_nt_create_req(7, &SmbString::Ascii(b"\\samr"));
        assert_eq!(z.smb1_rw(7), None, "leading backslash: no exact match");
        z.smb1_nt_create_req(7, &SmbString::Utf16(&utf16("samr")));
        assert_eq!(z.smb1_rw(7), Some(0));
        z.smb1_tree_connect_resp(8, b"IPC");
        assert_eq!(z.smb1_rw(8), Some(0));
        assert_eq!(
            z.smb1_trans_req(1, 9, &SmbString::Ascii(b"\\PIPE\\")),
            Some(0)
        );
        assert_eq!(z.smb1_trans_resp(1, 10), Some(0));
        assert_eq!(
            z.smb1_trans_resp(1, 10),
            None,
            "forgotten after the first response"
        );
        // Unknown name on a pipe tree: the request is not forwarded, the response is.
        assert_eq!(z.smb1_trans_req(2, 8, &SmbString::Ascii(b"")), None);
        assert_eq!(z.smb1_trans_resp(2, 10), Some(0));
        assert_eq!(
            z.smb1_trans_req(3, 8, &SmbString::Ascii(b"\\PIPE\\LANMAN")),
            None
        );
        assert_eq!(z.smb1_trans_resp(3, 10), None);
    }

    #[test]
    fn smb2_rules() {
        let mut z = ZeekFid::new();
        let fid = FileId {
            persistent: u64::MAX,
            volatile: 3,
        };
        let w = parse_smb2_header(&smb2_write_req_msg(1, 0x1_0005, fid, b"x")).unwrap();
        let p = z.smb2_header(&w, true);
        assert!(!p);
        assert_eq!(z.smb2_write_req(p, &fid), None);
        // Tree connect response marks the tree, truncated to 16 bits.
        let tc = parse_smb2_header(&smb2_tree_connect_resp_msg(2, 5, 2)).unwrap();
        z.smb2_header(&tc, false);
        z.smb2_tree_connect_resp(&tc, 2);
        let p = z.smb2_header(&w, true);
        assert!(p, "tree 0x10005 truncates to 5");
        assert_eq!(
            z.smb2_write_req(p, &fid),
            Some(2),
            "persistent + volatile wraps"
        );
        // Read: fid from the request with the same message id, judged by the request tree.
        let rq = parse_smb2_header(&smb2_read_req_msg(3, 5, fid, 10)).unwrap();
        z.smb2_header(&rq, true);
        z.smb2_read_req(&rq, &fid);
        let pend = parse_smb2_header(&smb2_error_resp_msg(SMB2_READ, 3, STATUS_PENDING)).unwrap();
        assert!(zeek_is_error(&pend));
        z.smb2_header(&pend, false);
        let rs = parse_smb2_header(&smb2_read_resp_msg(3, b"x", 0)).unwrap();
        assert!(z.smb2_read_resp_would_forward(&rs));
        let p = z.smb2_header(&rs, false);
        assert_eq!(z.smb2_read_resp(&rs, p), Some(2));
        // Unknown message id: fid 0 (tree unknown too, so not forwarded).
        let rs9 = parse_smb2_header(&smb2_read_resp_msg(9, b"x", 0)).unwrap();
        let p = z.smb2_header(&rs9, false);
        assert_eq!(z.smb2_read_resp(&rs9, p), None);
        // Ioctl: request forwarded whatever the tree, response with the saved fid.
        let io = parse_smb2_header(&smb2_ioctl_req_msg(4, 77, fid, FSCTL_PIPE_TRANSCEIVE, b"x"))
            .unwrap();
        assert_eq!(z.smb2_ioctl_req(&io, FSCTL_PIPE_TRANSCEIVE, &fid), Some(2));
        assert_eq!(z.smb2_ioctl_resp(&io, FSCTL_PIPE_TRANSCEIVE), Some(2));
        assert_eq!(z.smb2_ioctl_resp(&io, FSCTL_PIPE_TRANSCEIVE), Some(0));
        // Tree disconnect unmarks.
        z.smb2_tree_disconnect_req(&w);
        assert!(!z.tree_is_pipe(5));
        // Create heuristic.
        let c = parse_smb2_header(&smb2_create_req_msg(5, 9, "lsarpc")).unwrap();
        z.smb2_create_req(&c, false, &utf16("lsarpc"));
        assert!(z.tree_is_pipe(9));
        let e =
            parse_smb2_header(&smb2_error_resp_msg(SMB2_WRITE, 1, STATUS_BUFFER_OVERFLOW)).unwrap();
        assert!(zeek_is_error(&e));
    }

    #[test]
    fn pending_maps_clear_when_full() {
        let mut z = ZeekFid::new();
        let fid = FileId {
            persistent: 1,
            volatile: 1,
        };
        for id in 0..ZEEK_MAX_PENDING_MESSAGES as u64 {
            let h = parse_smb2_header(&smb2_read_req_msg(id, 1, fid, 1)).unwrap();
            z.smb2_read_req(&h, &fid);
        }
        let h = parse_smb2_header(&smb2_read_req_msg(5000, 1, fid, 1)).unwrap();
        z.smb2_read_req(&h, &fid);
        let r0 = parse_smb2_header(&smb2_read_resp_msg(0, b"x", 0)).unwrap();
        assert_eq!(
            z.smb2_read_resp(&r0, true),
            Some(0),
            "cleared: falls back to fid 0"
        );
        let r = parse_smb2_header(&smb2_read_resp_msg(5000, b"x", 0)).unwrap();
        assert_eq!(z.smb2_read_resp(&r, true), Some(2));
    }
}
