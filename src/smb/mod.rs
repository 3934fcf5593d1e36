//! The SMB transport for DCE-RPC over named pipes (MS-SMB, MS-CIFS, MS-SMB2).
//!
//! One TCP connection carrying SMB goes in, already reassembled per direction (with gap
//! notices); named-pipe byte streams come out as [`PipeEvent`]s, keyed by [`PipeKey`] so that
//! data from different pipes never mixes. The DCE-RPC layer frames those streams as it frames
//! plain TCP.
//!
//! Layout, in the order the bytes travel:
//! * [`records`]: pure nom parsers that borrow the input (NetBIOS session header, SMB1 header
//!   and the commands below, SMB2 header and commands, SMB3 transform header). No state.
//! * `framing`: cuts one direction into NBSS messages, buffering only what a message still
//!   needs; large non-pipe READ/WRITE bodies are skipped without being buffered.
//! * [`conn`]: [`SmbConn`], the per-connection state (trees, open files, pending requests)
//!   that decides which bytes are pipe bytes.
//! * `zeek_fid`: the emulation of Zeek's SMB analyzer behind the `zeek` fields of the events
//!   (`--zeek-compat`), kept apart from the accurate tracking.
//!
//! * [`crypto`]: with the analyst's keys ([`SmbConn::with_keys`], accurate path only), SMB3
//!   transform messages are decrypted and their SMB2 messages go through the same tracking
//!   (their pipe data comes with `decrypted` set); without a key they are counted, never
//!   decoded.
//!
//! What this layer must not do: decode DCE-RPC (it only peeks at the first bytes of data on a
//! file whose type it cannot tell otherwise), keep per-connection memory without a bound, or
//! guess at SMB3 encrypted content (a message is used only when its AEAD tag verified).
//!
//! Every limit is a named constant below, and every time one is hit it is counted in
//! [`SmbCounters`]. Worst case per connection: two messages of [`MAX_MESSAGE_LEN`] being
//! buffered, [`MAX_DEFERRED_BYTES`], and the tables ([`MAX_OPEN_FILES`], [`MAX_TREES`],
//! 2 x [`MAX_PENDING`] entries, names cut at [`MAX_NAME_LEN`] characters), a few MiB.
//!
//! # Using the events
//!
//! * Accurate path: one DCE-RPC stream per [`PipeKey`], fed with `Data` in order and per
//!   direction; `Open` starts a pipe instance. An `Open` for a key already open means a new
//!   instance on a reused FileId (its close was not seen): reset that key's state. `Close`
//!   comes with the CLOSE request, and also when a pipe is evicted from the open-file table
//!   (`zeek: None` then). Bytes lost to a TCP gap, an unreadable message or an unmatched READ
//!   response produce no event: the DCE-RPC framer must resynchronise by itself.
//! * `--zeek-compat`: route `Data { zeek: Some(fid) }` and `ZeekData { fid }` to Zeek's
//!   DCE_RPC analyzer `fid` (SMB1: always 0), destroy it on `Close { zeek: Some(fid) }` and
//!   `ZeekClose { fid }`, ignore everything with `zeek: None`. Zeek's limit on the number of
//!   analyzers per connection (`SMB::max_dce_rpc_analyzers`, 1000) is the consumer's to apply.
//! * Gaps: call [`SmbConn::gap_len`] when the number of lost bytes is known (a gap inside a
//!   skipped file transfer then costs nothing), [`SmbConn::gap`] otherwise.

pub mod conn;
pub mod crypto;
mod framing;
pub mod records;
mod table;
mod zeek_fid;

#[cfg(test)]
pub(crate) mod testutil;

pub use conn::SmbConn;
use serde::Serialize;
use smol_str::SmolStr;

/// Largest NBSS message (payload, without its 4-byte header) that is ever buffered whole.
/// SMB2 servers negotiate at most 8 MiB reads and writes; the margin covers headers and
/// compounding. Larger messages that cannot be skipped while streaming are counted in
/// `smb_oversize` and discarded (the framing stays in step).
pub const MAX_MESSAGE_LEN: usize = (8 << 20) + (64 << 10);
/// Messages larger than this are looked at from their first bytes: a READ or WRITE body for a
/// file that is not a pipe is then skipped as it streams past instead of being buffered.
pub const LARGE_MESSAGE_LEN: usize = 64 << 10;
/// Bytes of a large message needed to decide whether its body can be skipped (SMB2 header,
/// READ/WRITE fixed part, SMB1 header and Write/Read AndX words, transform header).
pub const PEEK_LEN: usize = 256;
/// Open files tracked per connection (least recently used evicted).
pub const MAX_OPEN_FILES: usize = 4096;
/// Tree connects tracked per connection (least recently used evicted).
pub const MAX_TREES: usize = 1024;
/// Sessions whose user is remembered, and SMB3 encrypted sessions counted, per connection.
pub const MAX_SESSIONS: usize = 256;
/// Requests awaiting their response per connection, SMB1 and SMB2 each (oldest evicted).
pub const MAX_PENDING: usize = 4096;
/// Commands followed in one SMB1 AndX chain.
pub const MAX_ANDX_CHAIN: usize = 16;
/// Commands followed in one SMB2 compound message.
pub const MAX_COMPOUND_CHAIN: usize = 64;
/// Characters kept of a pipe or file name (names are kept for pipes, for files that may
/// be pipes, and for opens awaiting their response).
pub const MAX_NAME_LEN: usize = 128;
/// Bytes held per connection for requests compounded after a CREATE whose FileId is not
/// known until the CREATE response arrives.
pub const MAX_DEFERRED_BYTES: usize = 64 << 10;
/// Zeek's `SMB::max_pending_messages`: its SMB2 read/ioctl/tree maps are cleared when full.
pub const ZEEK_MAX_PENDING_MESSAGES: usize = 1000;

/// Identifies one named pipe instance on a connection.
///
/// * SMB1: `session` is the UID, `tree` the TID, `fid` the 16-bit FID.
/// * SMB2: `session` is the SessionId, `tree` the TreeId, and `fid` folds the 128-bit FileId
///   into 64 bits as `volatile ^ splitmix64(persistent)` ([`PipeKey::smb2_fid`]). The fold is a
///   bijection in `volatile` for a given `persistent`, so two opens of one server collide
///   only by chance (2^-64) or by a peer's design; files are tracked internally by the full
///   FileId, only the event key is folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PipeKey {
    pub smb2: bool,
    pub session: u64,
    pub tree: u32,
    pub fid: u64,
}

impl PipeKey {
    /// The 64-bit `fid` of an SMB2 FileId.
    pub fn smb2_fid(persistent: u64, volatile: u64) -> u64 {
        volatile ^ splitmix64(persistent)
    }
}

/// SplitMix64's finaliser: a bijection on u64 that spreads every input bit.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What [`SmbConn::feed`] reports. `Open`, `Data` and `Close` are the accurate pipe streams;
/// their `zeek` field, and the `Zeek*` variants, describe what Zeek's SMB analyzer would hand
/// to its DCE_RPC analyzers (used by `--zeek-compat`; the accurate path ignores both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeEvent<'a> {
    /// A pipe was opened: CREATE / NT_CREATE_ANDX / OPEN_ANDX response on a pipe, or the
    /// first data on a FileId that no open was seen for.
    Open {
        key: PipeKey,
        /// As given in the create request, e.g. "svcctl" or "\\svcctl"; "" when unknown.
        name: String,
        /// The tree and session the pipe was opened on, as far as they were seen.
        context: PipeContext,
    },
    /// Bytes written to (`dir` = the TCP direction they travelled, as passed to `feed`) or
    /// read from the pipe.
    Data {
        key: PipeKey,
        dir: usize,
        data: &'a [u8],
        /// The fid Zeek would deliver exactly these bytes to, or None when Zeek would not
        /// forward them (see [`PipeEvent::ZeekData`] for bytes only Zeek forwards).
        zeek: Option<u64>,
        /// When the bytes arrived, if before the bytes being fed now: set for requests
        /// compounded after a CREATE, held until its response gave their FileId.
        at: Option<crate::capture::Timestamp>,
        /// The bytes came out of an SMB3 transform message decrypted with a key of this
        /// kind.
        decrypted: Option<crate::auth::keys::KeySource>,
    },
    /// CLOSE request on the pipe (SMB2 CLOSE, SMB1 CLOSE).
    Close {
        key: PipeKey,
        /// SMB2: the fid whose DCE_RPC analyzer Zeek destroys. SMB1: None (Zeek never closes).
        zeek: Option<u64>,
    },
    /// Bytes Zeek would forward to its DCE_RPC analyzer `fid` that the accurate tracking does
    /// not take as these pipe bytes: data on a tree Zeek wrongly marks as a pipe tree, or a
    /// different slice of the same message than the accurate one. Zeek emulation only.
    ZeekData {
        dir: usize,
        data: &'a [u8],
        fid: u64,
    },
    /// An SMB2 CLOSE request on a file the accurate tracking does not take as a pipe: Zeek
    /// still destroys the DCE_RPC analyzer of `fid` if it has one. Zeek emulation only.
    ZeekClose { fid: u64 },
}

/// What the SMB layer knows about the tree and session of a pipe when it opens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipeContext {
    /// The share path from the tree connect request, e.g. `\\10.0.0.1\IPC$`.
    pub tree: Option<SmolStr>,
    /// Who the session authenticated as, when its session setup carried an NTLMSSP
    /// AUTHENTICATE_MESSAGE in clear (SMB1 without extended security: account and domain),
    /// or a Kerberos ticket the analyst's keys opened (`kerberos` set: client and realm).
    pub user: Option<crate::auth::ntlmssp::NtlmUser>,
    /// The session logged on with Kerberos (no account visible without the service key:
    /// see [`crate::auth::ntlmssp::SessionAuth`]).
    pub kerberos: bool,
}

/// The SMB layer's counters are declared with the others in [`crate::stats`].
pub use crate::stats::SmbCounters;

/// Content sniff for the first chunk of a direction: an NBSS session message (type 0) with
/// `\xffSMB`, `\xfeSMB`, `\xfdSMB` (SMB3 transform) or `\xfcSMB` (SMB3 compression) at offset
/// 4, or an NBSS session request (0x81, the port-139 opening) carrying encoded NetBIOS names.
pub fn looks_like_smb(first_chunk: &[u8]) -> bool {
    match first_chunk {
        [0x00, _, _, _, 0xfc..=0xff, b'S', b'M', b'B', ..] => true,
        [0x81, flags, _, _, 0x20, rest @ ..] if flags & 0xfe == 0 => {
            // First-level encoded name: 32 characters 'A'..='P'.
            let visible = rest.len().min(32);
            visible >= 4 && rest[..visible].iter().all(|c| (b'A'..=b'P').contains(c))
        }
        _ => false,
    }
}

/// Zeek's DPD signature for SMB, `^....[\xfe\xff]SMB` at the start of a direction
/// (smb/dpd.sig); Zeek also attaches SMB on ports 139 and 445 whatever the content.
pub fn zeek_smb_signature(first_chunk: &[u8]) -> bool {
    matches!(first_chunk, [_, _, _, _, 0xff | 0xfe, b'S', b'M', b'B', ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff() {
        assert!(looks_like_smb(b"\x00\x00\x00\x54\xffSMBr"));
        assert!(looks_like_smb(b"\x00\x00\x00\x54\xfeSMB"));
        assert!(looks_like_smb(b"\x00\x00\x01\x00\xfdSMB"));
        let mut req = vec![0x81, 0, 0, 68, 0x20];
        req.extend_from_slice(&[b'C'; 32]);
        req.extend_from_slice(&[0, 0x20]);
        assert!(looks_like_smb(&req));
        assert!(!looks_like_smb(b"\x05\x00\x0b\x03\x10\x00\x00\x00"));
        assert!(!looks_like_smb(b"\x00\x00\x00"));
        assert!(!looks_like_smb(b"GET / HTTP/1.1\r\n"));
        assert!(zeek_smb_signature(b"\x00\x00\x00\x54\xffSMB"));
        assert!(!zeek_smb_signature(b"\x00\x00\x00\x54\xfdSMB"));
    }

    #[test]
    fn smb2_fid_fold_is_injective_in_volatile() {
        let a = PipeKey::smb2_fid(5, 1);
        let b = PipeKey::smb2_fid(5, 2);
        let c = PipeKey::smb2_fid(6, 1);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn counters_merge_and_lines() {
        let mut a = SmbCounters {
            pipe_bytes: 3,
            ..Default::default()
        };
        let b = SmbCounters {
            pipe_bytes: 4,
            smb_resyncs: 1,
            ..Default::default()
        };
        a.merge(&b);
        assert_eq!(a.pipe_bytes, 7);
        assert!(
            a.lines()
                .contains(&("SMB resynchronisations after gap or garbage", 1))
        );
    }
}
