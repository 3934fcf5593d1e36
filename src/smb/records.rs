//! SMB wire records: pure parsers that borrow from the input. No state lives here.
//!
//! * NetBIOS session service header (RFC 1002 4.3; MS-SMB2 2.1 for direct TCP on 445).
//! * SMB1 header (MS-CIFS 2.2.3.1), parameter/data blocks, and the commands rpcsift needs:
//!   TREE_CONNECT_ANDX, NT_CREATE_ANDX, OPEN_ANDX, WRITE_ANDX, READ_ANDX, CLOSE, TRANSACTION
//!   and TRANSACTION_SECONDARY.
//! * SMB2 header (MS-SMB2 2.2.1), TREE_CONNECT, CREATE, CLOSE, READ, WRITE, IOCTL and the
//!   error response; the SMB3 transform header (2.2.41).
//!
//! Offsets inside SMB messages are relative to the start of the SMB header (`\xffSMB` or
//! `\xfeSMB`) they belong to, so command parsers take that header-anchored slice (`msg` for
//! SMB1, `cmd` for one SMB2 command) and return sub-slices of it. Lengths and offsets are
//! checked before slicing; a parser either returns a record or a [`RecordError`].

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{tag, take};
use nom::number::complete::{le_u8, le_u16, le_u32, le_u64};

pub const NBSS_HEADER_LEN: usize = 4;
pub const NBSS_SESSION_MESSAGE: u8 = 0x00;
pub const NBSS_SESSION_REQUEST: u8 = 0x81;
pub const NBSS_POSITIVE_RESPONSE: u8 = 0x82;
pub const NBSS_NEGATIVE_RESPONSE: u8 = 0x83;
pub const NBSS_RETARGET_RESPONSE: u8 = 0x84;
pub const NBSS_KEEPALIVE: u8 = 0x85;

pub const SMB1_MAGIC: [u8; 4] = *b"\xffSMB";
pub const SMB2_MAGIC: [u8; 4] = *b"\xfeSMB";
pub const TRANSFORM_MAGIC: [u8; 4] = *b"\xfdSMB";
pub const COMPRESSION_MAGIC: [u8; 4] = *b"\xfcSMB";

/// Why a record could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record cut short")]
    Truncated,
    #[error("malformed {0}")]
    Bad(&'static str),
    #[error("{0} points outside the message")]
    OutOfBounds(&'static str),
}

type R<T> = Result<T, RecordError>;

fn nom_err<E>(_: nom::Err<E>) -> RecordError {
    RecordError::Truncated
}

/// `len` bytes at `off` of `msg`, or an error naming the field.
pub fn slice_at<'a>(msg: &'a [u8], off: usize, len: usize, what: &'static str) -> R<&'a [u8]> {
    let end = off.checked_add(len).ok_or(RecordError::OutOfBounds(what))?;
    msg.get(off..end).ok_or(RecordError::OutOfBounds(what))
}

// ---------------------------------------------------------------------------------------
// NetBIOS session service

/// The 4-byte NBSS header. Session messages (type 0) use the 24-bit length of direct-hosted
/// SMB (a superset of NBSS's 17 bits); other types use NBSS's flag byte and 17-bit length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NbssHeader {
    pub msg_type: u8,
    pub length: u32,
}

/// Parse an NBSS header; fails on types NBSS does not define or reserved flag bits.
pub fn nbss_header(i: &[u8]) -> IResult<&[u8], NbssHeader> {
    let (rest, (msg_type, b1, b2, b3)) = (le_u8, le_u8, le_u8, le_u8).parse(i)?;
    let length = match msg_type {
        NBSS_SESSION_MESSAGE => u32::from_be_bytes([0, b1, b2, b3]),
        NBSS_SESSION_REQUEST..=NBSS_KEEPALIVE if b1 & 0xfe == 0 => {
            u32::from_be_bytes([0, b1, b2, b3])
        }
        _ => {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Verify,
            )));
        }
    };
    Ok((rest, NbssHeader { msg_type, length }))
}

/// What an NBSS session message carries, from its first four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Smb1,
    Smb2,
    /// SMB3 transform header: an encrypted SMB2 message.
    Transform,
    /// SMB3 compression transform header.
    Compressed,
    Other,
}

pub fn protocol(payload: &[u8]) -> Protocol {
    match payload.get(..4) {
        Some(m) if m == SMB1_MAGIC => Protocol::Smb1,
        Some(m) if m == SMB2_MAGIC => Protocol::Smb2,
        Some(m) if m == TRANSFORM_MAGIC => Protocol::Transform,
        Some(m) if m == COMPRESSION_MAGIC => Protocol::Compressed,
        _ => Protocol::Other,
    }
}

// ---------------------------------------------------------------------------------------
// Strings

/// An SMB string as found on the wire, without its terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmbString<'a> {
    Ascii(&'a [u8]),
    /// UTF-16LE code units (even length).
    Utf16(&'a [u8]),
}

impl SmbString<'_> {
    /// Lossy text, cut at [`super::MAX_NAME_LEN`] characters.
    pub fn to_string_lossy(&self) -> String {
        match self {
            SmbString::Ascii(b) => String::from_utf8_lossy(b)
                .chars()
                .take(super::MAX_NAME_LEN)
                .collect(),
            SmbString::Utf16(b) => utf16le_lossy(b),
        }
    }
    /// The bytes Zeek's `extract_string` makes of it: ASCII as is, UTF-16 as the low byte of
    /// each code unit (smb-strings.pac).
    pub fn zeek_bytes(&self) -> Vec<u8> {
        match self {
            SmbString::Ascii(b) => b.to_vec(),
            SmbString::Utf16(b) => b.chunks_exact(2).map(|c| c[0]).collect(),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            SmbString::Ascii(b) | SmbString::Utf16(b) => b.is_empty(),
        }
    }
}

/// UTF-16LE to text (unpaired surrogates replaced), cut at [`super::MAX_NAME_LEN`] characters
/// and at the first NUL.
pub fn utf16le_lossy(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .take(super::MAX_NAME_LEN)
        .collect()
}

/// The SMB1 string at `off` of `msg` (ending at `end`): NUL-terminated ASCII, or UTF-16LE
/// aligned to an even offset from the SMB header. Returns the string and the offset after
/// its terminator (or `end` when there is none).
pub fn smb1_string(msg: &[u8], off: usize, end: usize, unicode: bool) -> (SmbString<'_>, usize) {
    let end = end.min(msg.len());
    if unicode {
        let start = (off + (off & 1)).min(end);
        let area = &msg[start..end];
        let mut n = 0;
        while n + 1 < area.len() && (area[n] != 0 || area[n + 1] != 0) {
            n += 2;
        }
        let n = n.min(area.len() & !1);
        let after = (start + n + 2).min(end);
        (SmbString::Utf16(&area[..n]), after)
    } else {
        let start = off.min(end);
        let area = &msg[start..end];
        let n = area.iter().position(|&c| c == 0).unwrap_or(area.len());
        let after = (start + n + 1).min(end);
        (SmbString::Ascii(&area[..n]), after)
    }
}

// ---------------------------------------------------------------------------------------
// SMB1

pub const SMB1_HEADER_LEN: usize = 32;

pub const SMB_COM_CLOSE: u8 = 0x04;
pub const SMB_COM_TRANSACTION: u8 = 0x25;
pub const SMB_COM_TRANSACTION_SECONDARY: u8 = 0x26;
pub const SMB_COM_LOCKING_ANDX: u8 = 0x24;
pub const SMB_COM_OPEN_ANDX: u8 = 0x2d;
pub const SMB_COM_READ_ANDX: u8 = 0x2e;
pub const SMB_COM_WRITE_ANDX: u8 = 0x2f;
pub const SMB_COM_TREE_DISCONNECT: u8 = 0x71;
pub const SMB_COM_NEGOTIATE: u8 = 0x72;
pub const SMB_COM_SESSION_SETUP_ANDX: u8 = 0x73;
pub const SMB_COM_LOGOFF_ANDX: u8 = 0x74;
pub const SMB_COM_TREE_CONNECT_ANDX: u8 = 0x75;
pub const SMB_COM_NT_CREATE_ANDX: u8 = 0xa2;
pub const SMB_COM_NO_ANDX_COMMAND: u8 = 0xff;

pub const SMB_FLAGS_REPLY: u8 = 0x80;
pub const SMB_FLAGS2_SECURITY_SIGNATURE: u16 = 0x0004;
pub const SMB_FLAGS2_UNICODE: u16 = 0x8000;

/// TRANSACTION subcommands on named pipes (MS-CIFS 2.2.5).
pub const TRANS_SET_NMPIPE_STATE: u16 = 0x0001;
pub const TRANS_RAW_READ_NMPIPE: u16 = 0x0011;
pub const TRANS_QUERY_NMPIPE_STATE: u16 = 0x0021;
pub const TRANS_QUERY_NMPIPE_INFO: u16 = 0x0022;
pub const TRANS_PEEK_NMPIPE: u16 = 0x0023;
pub const TRANS_TRANSACT_NMPIPE: u16 = 0x0026;
pub const TRANS_RAW_WRITE_NMPIPE: u16 = 0x0031;
pub const TRANS_READ_NMPIPE: u16 = 0x0036;
pub const TRANS_WRITE_NMPIPE: u16 = 0x0037;
pub const TRANS_WAIT_NMPIPE: u16 = 0x0053;
pub const TRANS_CALL_NMPIPE: u16 = 0x0054;

/// NT_CREATE_ANDX / OPEN_ANDX ResourceType values for pipes (MS-CIFS 2.2.4.64.2).
pub const FILE_TYPE_BYTE_MODE_PIPE: u16 = 0x0001;
pub const FILE_TYPE_MESSAGE_MODE_PIPE: u16 = 0x0002;

/// Is this command one whose parameter block starts with an AndX header?
pub fn smb1_is_andx(command: u8) -> bool {
    matches!(
        command,
        SMB_COM_LOCKING_ANDX
            | SMB_COM_OPEN_ANDX
            | SMB_COM_READ_ANDX
            | SMB_COM_WRITE_ANDX
            | SMB_COM_SESSION_SETUP_ANDX
            | SMB_COM_LOGOFF_ANDX
            | SMB_COM_TREE_CONNECT_ANDX
            | SMB_COM_NT_CREATE_ANDX
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Header {
    pub command: u8,
    /// NT status (or DOS error class/code when flags2 bit 14 is clear).
    pub status: u32,
    pub flags: u8,
    pub flags2: u16,
    /// PIDHigh << 16 | PIDLow.
    pub pid: u32,
    pub signature: [u8; 8],
    pub tid: u16,
    pub uid: u16,
    pub mid: u16,
}

impl Smb1Header {
    pub fn is_reply(&self) -> bool {
        self.flags & SMB_FLAGS_REPLY != 0
    }
    pub fn unicode(&self) -> bool {
        self.flags2 & SMB_FLAGS2_UNICODE != 0
    }
    pub fn signed(&self) -> bool {
        self.flags2 & SMB_FLAGS2_SECURITY_SIGNATURE != 0
    }
}

/// The 32-byte SMB1 header, magic included.
pub fn smb1_header(i: &[u8]) -> IResult<&[u8], Smb1Header> {
    let (i, _) = tag(&SMB1_MAGIC[..])(i)?;
    let (i, (command, status, flags, flags2, pid_high, sig)) =
        (le_u8, le_u32, le_u8, le_u16, le_u16, take(8usize)).parse(i)?;
    let (i, (_reserved, tid, pid_low, uid, mid)) =
        (le_u16, le_u16, le_u16, le_u16, le_u16).parse(i)?;
    let mut signature = [0u8; 8];
    signature.copy_from_slice(sig);
    let pid = (pid_high as u32) << 16 | pid_low as u32;
    Ok((
        i,
        Smb1Header {
            command,
            status,
            flags,
            flags2,
            pid,
            signature,
            tid,
            uid,
            mid,
        },
    ))
}

/// One command's parameter words and data bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Block<'a> {
    pub word_count: u8,
    pub words: &'a [u8],
    pub bytes: &'a [u8],
    /// Offset of `bytes` from the SMB header.
    pub bytes_offset: usize,
}

/// The block at `off` of `msg`. Lenient on ByteCount (cut to the message: Windows
/// understates WordCount in extended NT_CREATE_ANDX responses), strict on the words.
pub fn smb1_block(msg: &[u8], off: usize) -> R<Smb1Block<'_>> {
    let word_count = *msg.get(off).ok_or(RecordError::Truncated)?;
    let words = slice_at(msg, off + 1, 2 * word_count as usize, "parameter words")
        .map_err(|_| RecordError::Truncated)?;
    let bc_off = off + 1 + words.len();
    let bytes_offset = bc_off + 2;
    let (bytes, bytes_offset) = match msg.get(bc_off..bytes_offset) {
        Some(bc) => {
            let bc = u16::from_le_bytes([bc[0], bc[1]]) as usize;
            let end = bytes_offset.saturating_add(bc).min(msg.len());
            (&msg[bytes_offset..end], bytes_offset)
        }
        // A block with words but no ByteCount (cut message): no bytes.
        None => (&msg[msg.len()..], msg.len()),
    };
    Ok(Smb1Block {
        word_count,
        words,
        bytes,
        bytes_offset,
    })
}

/// The AndX header that opens the parameter words of AndX commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AndX {
    pub command: u8,
    /// Offset of the next command's block from the SMB header.
    pub offset: u16,
}

pub fn smb1_andx(words: &[u8]) -> Option<AndX> {
    let w = words.get(..4)?;
    Some(AndX {
        command: w[0],
        offset: u16::from_le_bytes([w[2], w[3]]),
    })
}

fn words_at<'a>(words: &'a [u8], min_words: usize, what: &'static str) -> R<&'a [u8]> {
    if words.len() < 2 * min_words {
        Err(RecordError::Bad(what))
    } else {
        Ok(words)
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    // Callers check lengths first; a short slice reads as 0 rather than panicking.
    match b.get(off..off + 2) {
        Some(x) => u16::from_le_bytes([x[0], x[1]]),
        None => 0,
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(x) => u32::from_le_bytes([x[0], x[1], x[2], x[3]]),
        None => 0,
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    match b.get(off..off + 8) {
        Some(x) => u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]),
        None => 0,
    }
}

/// TREE_CONNECT_ANDX request (MS-CIFS 2.2.4.55.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1TreeConnectReq<'a> {
    pub path: SmbString<'a>,
    pub service: &'a [u8],
}

pub fn smb1_tree_connect_req<'a>(
    msg: &'a [u8],
    b: &Smb1Block<'a>,
    unicode: bool,
) -> R<Smb1TreeConnectReq<'a>> {
    let w = words_at(b.words, 4, "TREE_CONNECT_ANDX request")?;
    let pw_len = u16_at(w, 6) as usize;
    let end = b.bytes_offset + b.bytes.len();
    let path_off = b
        .bytes_offset
        .checked_add(pw_len)
        .filter(|&o| o <= end)
        .ok_or(RecordError::OutOfBounds("password"))?;
    let (path, after) = smb1_string(msg, path_off, end, unicode);
    let (service, _) = smb1_string(msg, after, end, false);
    let service = match service {
        SmbString::Ascii(s) => s,
        SmbString::Utf16(s) => s,
    };
    Ok(Smb1TreeConnectReq { path, service })
}

/// TREE_CONNECT_ANDX response: the Service string ("IPC", "A:", "LPT1:", "?????").
pub fn smb1_tree_connect_resp<'a>(msg: &'a [u8], b: &Smb1Block<'a>) -> R<&'a [u8]> {
    words_at(b.words, 2, "TREE_CONNECT_ANDX response")?;
    match smb1_string(msg, b.bytes_offset, b.bytes_offset + b.bytes.len(), false).0 {
        SmbString::Ascii(s) => Ok(s),
        SmbString::Utf16(s) => Ok(s),
    }
}

/// SESSION_SETUP_ANDX request (MS-CIFS 2.2.4.53.1, MS-SMB 2.2.4.6.1): what it says about
/// the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smb1SessionSetup<'a> {
    /// Extended security (WordCount 12): the security blob (SPNEGO or raw NTLMSSP).
    Blob(&'a [u8]),
    /// NT LM 0.12 without extended security (WordCount 13) or LANMAN (WordCount 10): the
    /// account and domain as plain strings.
    Plain {
        account: SmbString<'a>,
        domain: SmbString<'a>,
    },
}

pub fn smb1_session_setup_req<'a>(
    msg: &'a [u8],
    b: &Smb1Block<'a>,
    unicode: bool,
) -> R<Smb1SessionSetup<'a>> {
    let end = b.bytes_offset + b.bytes.len();
    let (pw_len, unicode) = match b.word_count {
        12 => {
            let w = words_at(b.words, 12, "SESSION_SETUP_ANDX request")?;
            let len = u16_at(w, 14) as usize;
            return Ok(Smb1SessionSetup::Blob(slice_at(
                msg,
                b.bytes_offset,
                len.min(b.bytes.len()),
                "security blob",
            )?));
        }
        13 => {
            let w = words_at(b.words, 13, "SESSION_SETUP_ANDX request")?;
            (u16_at(w, 14) as usize + u16_at(w, 16) as usize, unicode)
        }
        // LANMAN 1.0/2.1 form: OEM strings.
        10 => {
            let w = words_at(b.words, 10, "SESSION_SETUP_ANDX request")?;
            (u16_at(w, 14) as usize, false)
        }
        _ => return Err(RecordError::Bad("SESSION_SETUP_ANDX word count")),
    };
    let name_off = b
        .bytes_offset
        .checked_add(pw_len)
        .filter(|&o| o <= end)
        .ok_or(RecordError::OutOfBounds("passwords"))?;
    let (account, after) = smb1_string(msg, name_off, end, unicode);
    let (domain, _) = smb1_string(msg, after, end, unicode);
    Ok(Smb1SessionSetup::Plain { account, domain })
}

/// NT_CREATE_ANDX request (2.2.4.64.1): the file name.
pub fn smb1_nt_create_req<'a>(msg: &'a [u8], b: &Smb1Block<'a>, unicode: bool) -> R<SmbString<'a>> {
    words_at(b.words, 24, "NT_CREATE_ANDX request")?;
    Ok(smb1_string(msg, b.bytes_offset, b.bytes_offset + b.bytes.len(), unicode).0)
}

/// What an open response says about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1OpenResp {
    pub fid: u16,
    /// 0 disk, 1 byte-mode pipe, 2 message-mode pipe, 3 printer, 0xffff unknown.
    pub resource_type: u16,
}

impl Smb1OpenResp {
    pub fn is_pipe(&self) -> bool {
        matches!(
            self.resource_type,
            FILE_TYPE_BYTE_MODE_PIPE | FILE_TYPE_MESSAGE_MODE_PIPE
        )
    }
}

/// NT_CREATE_ANDX response (2.2.4.64.2; the extended form shares the first 34 words).
pub fn smb1_nt_create_resp(b: &Smb1Block<'_>) -> R<Smb1OpenResp> {
    let w = words_at(b.words, 34, "NT_CREATE_ANDX response")?;
    Ok(Smb1OpenResp {
        fid: u16_at(w, 5),
        resource_type: u16_at(w, 63),
    })
}

/// OPEN_ANDX request (2.2.4.41.1): the file name.
pub fn smb1_open_andx_req<'a>(msg: &'a [u8], b: &Smb1Block<'a>, unicode: bool) -> R<SmbString<'a>> {
    words_at(b.words, 15, "OPEN_ANDX request")?;
    Ok(smb1_string(msg, b.bytes_offset, b.bytes_offset + b.bytes.len(), unicode).0)
}

/// OPEN_ANDX response (2.2.4.41.2).
pub fn smb1_open_andx_resp(b: &Smb1Block<'_>) -> R<Smb1OpenResp> {
    let w = words_at(b.words, 15, "OPEN_ANDX response")?;
    Ok(Smb1OpenResp {
        fid: u16_at(w, 4),
        resource_type: u16_at(w, 18),
    })
}

/// WRITE_ANDX request (2.2.4.43.1) without its data: see [`Smb1WriteReq::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1WriteReq {
    pub fid: u16,
    pub write_mode: u16,
    /// From the SMB header.
    pub data_offset: u16,
    pub data_len_low: u16,
    pub data_len_high: u16,
}

/// Named-pipe raw mode with message start: the data opens with a 2-byte message length
/// that is not pipe data (MS-CIFS 2.2.4.43.1 WriteMode).
pub const WRITE_MODE_PIPE_RAW_START: u16 = 0x000c;

impl Smb1WriteReq {
    /// Data length: with DataLengthHigh when the message holds that much (CAP_LARGE_WRITEX),
    /// else the low 16 bits (older servers leave the high word as garbage).
    pub fn data_len(&self, msg_len: usize) -> usize {
        let full = (self.data_len_high as usize) << 16 | self.data_len_low as usize;
        if (self.data_offset as usize).saturating_add(full) <= msg_len {
            full
        } else {
            self.data_len_low as usize
        }
    }
    /// The data as written on the wire (what Zeek forwards).
    pub fn raw_data<'a>(&self, msg: &'a [u8]) -> R<&'a [u8]> {
        if (self.data_offset as usize) < SMB1_HEADER_LEN {
            return Err(RecordError::OutOfBounds("WRITE_ANDX data"));
        }
        slice_at(
            msg,
            self.data_offset as usize,
            self.data_len(msg.len()),
            "WRITE_ANDX data",
        )
    }
    /// The bytes that go into the pipe: the raw data without the 2-byte length prefix of
    /// raw-mode message-start writes.
    pub fn data<'a>(&self, msg: &'a [u8]) -> R<&'a [u8]> {
        let d = self.raw_data(msg)?;
        if self.write_mode & WRITE_MODE_PIPE_RAW_START == WRITE_MODE_PIPE_RAW_START && d.len() >= 2
        {
            Ok(&d[2..])
        } else {
            Ok(d)
        }
    }
}

pub fn smb1_write_andx_req(b: &Smb1Block<'_>) -> R<Smb1WriteReq> {
    let w = words_at(b.words, 12, "WRITE_ANDX request")?;
    Ok(Smb1WriteReq {
        fid: u16_at(w, 4),
        write_mode: u16_at(w, 14),
        data_len_high: u16_at(w, 18),
        data_len_low: u16_at(w, 20),
        data_offset: u16_at(w, 22),
    })
}

/// READ_ANDX request (2.2.4.42.1): the FID.
pub fn smb1_read_andx_req(b: &Smb1Block<'_>) -> R<u16> {
    let w = words_at(b.words, 10, "READ_ANDX request")?;
    Ok(u16_at(w, 4))
}

/// READ_ANDX response (2.2.4.42.2) without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1ReadResp {
    pub data_offset: u16,
    pub data_len_low: u16,
    pub data_len_high: u16,
}

impl Smb1ReadResp {
    pub fn data_len(&self, msg_len: usize) -> usize {
        let full = (self.data_len_high as usize) << 16 | self.data_len_low as usize;
        if (self.data_offset as usize).saturating_add(full) <= msg_len {
            full
        } else {
            self.data_len_low as usize
        }
    }
    pub fn data<'a>(&self, msg: &'a [u8]) -> R<&'a [u8]> {
        let len = self.data_len(msg.len());
        if len > 0 && (self.data_offset as usize) < SMB1_HEADER_LEN {
            return Err(RecordError::OutOfBounds("READ_ANDX data"));
        }
        if len == 0 {
            return Ok(&[]);
        }
        slice_at(msg, self.data_offset as usize, len, "READ_ANDX data")
    }
}

pub fn smb1_read_andx_resp(b: &Smb1Block<'_>) -> R<Smb1ReadResp> {
    let w = words_at(b.words, 12, "READ_ANDX response")?;
    Ok(Smb1ReadResp {
        data_len_low: u16_at(w, 10),
        data_offset: u16_at(w, 12),
        data_len_high: u16_at(w, 14),
    })
}

/// CLOSE request (2.2.4.5.1): the FID.
pub fn smb1_close_req(b: &Smb1Block<'_>) -> R<u16> {
    let w = words_at(b.words, 3, "CLOSE request")?;
    Ok(u16_at(w, 0))
}

/// TRANSACTION request (2.2.4.33.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1TransReq<'a> {
    pub total_data: u16,
    pub setup_count: u8,
    /// Setup words, raw (2 bytes each).
    pub setup: &'a [u8],
    pub name: SmbString<'a>,
    pub data: &'a [u8],
    /// From the data offset to the end of the message (Zeek's `&restofdata`).
    pub data_to_end: &'a [u8],
}

impl Smb1TransReq<'_> {
    pub fn setup_word(&self, n: usize) -> Option<u16> {
        let x = self.setup.get(2 * n..2 * n + 2)?;
        Some(u16::from_le_bytes([x[0], x[1]]))
    }
}

fn trans_data<'a>(
    msg: &'a [u8],
    off: u16,
    count: u16,
    what: &'static str,
) -> R<(&'a [u8], &'a [u8])> {
    if count == 0 {
        let to_end = msg.get(off as usize..).unwrap_or(&[]);
        return Ok((&[], to_end));
    }
    if (off as usize) < SMB1_HEADER_LEN {
        return Err(RecordError::OutOfBounds(what));
    }
    let data = slice_at(msg, off as usize, count as usize, what)?;
    Ok((data, &msg[off as usize..]))
}

pub fn smb1_trans_req<'a>(msg: &'a [u8], b: &Smb1Block<'a>, unicode: bool) -> R<Smb1TransReq<'a>> {
    let w = words_at(b.words, 14, "TRANSACTION request")?;
    let setup_count = w[26];
    let setup = w
        .get(28..28 + 2 * setup_count as usize)
        .ok_or(RecordError::Bad("TRANSACTION setup"))?;
    let (data, data_to_end) = trans_data(msg, u16_at(w, 24), u16_at(w, 22), "TRANSACTION data")?;
    let name = smb1_string(msg, b.bytes_offset, b.bytes_offset + b.bytes.len(), unicode).0;
    Ok(Smb1TransReq {
        total_data: u16_at(w, 2),
        setup_count,
        setup,
        name,
        data,
        data_to_end,
    })
}

/// TRANSACTION response (2.2.4.33.2), one part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1TransResp<'a> {
    pub total_data: u16,
    pub data_displacement: u16,
    pub data: &'a [u8],
    pub data_to_end: &'a [u8],
}

pub fn smb1_trans_resp<'a>(msg: &'a [u8], b: &Smb1Block<'a>) -> R<Smb1TransResp<'a>> {
    let w = words_at(b.words, 10, "TRANSACTION response")?;
    let (data, data_to_end) = trans_data(msg, u16_at(w, 14), u16_at(w, 12), "TRANSACTION data")?;
    Ok(Smb1TransResp {
        total_data: u16_at(w, 2),
        data_displacement: u16_at(w, 16),
        data,
        data_to_end,
    })
}

/// TRANSACTION_SECONDARY request (2.2.4.34.1): more request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1TransSecondary<'a> {
    pub total_data: u16,
    pub data_displacement: u16,
    pub data: &'a [u8],
}

pub fn smb1_trans_secondary_req<'a>(msg: &'a [u8], b: &Smb1Block<'a>) -> R<Smb1TransSecondary<'a>> {
    let w = words_at(b.words, 8, "TRANSACTION_SECONDARY request")?;
    let (data, _) = trans_data(
        msg,
        u16_at(w, 12),
        u16_at(w, 10),
        "TRANSACTION_SECONDARY data",
    )?;
    Ok(Smb1TransSecondary {
        total_data: u16_at(w, 2),
        data_displacement: u16_at(w, 14),
        data,
    })
}

// ---------------------------------------------------------------------------------------
// SMB2

pub const SMB2_HEADER_LEN: usize = 64;

pub const SMB2_NEGOTIATE: u16 = 0;
pub const SMB2_SESSION_SETUP: u16 = 1;
pub const SMB2_LOGOFF: u16 = 2;
pub const SMB2_TREE_CONNECT: u16 = 3;
pub const SMB2_TREE_DISCONNECT: u16 = 4;
pub const SMB2_CREATE: u16 = 5;
pub const SMB2_CLOSE: u16 = 6;
pub const SMB2_READ: u16 = 8;
pub const SMB2_WRITE: u16 = 9;
pub const SMB2_IOCTL: u16 = 11;
pub const SMB2_CANCEL: u16 = 12;
pub const SMB2_CHANGE_NOTIFY: u16 = 15;
pub const SMB2_QUERY_INFO: u16 = 16;

pub const SMB2_FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
pub const SMB2_FLAGS_ASYNC_COMMAND: u32 = 0x0000_0002;
pub const SMB2_FLAGS_RELATED_OPERATIONS: u32 = 0x0000_0004;
pub const SMB2_FLAGS_SIGNED: u32 = 0x0000_0008;

pub const SMB2_SHARE_TYPE_DISK: u8 = 0x01;
pub const SMB2_SHARE_TYPE_PIPE: u8 = 0x02;
pub const SMB2_SHARE_TYPE_PRINT: u8 = 0x03;

pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;

pub const STATUS_SUCCESS: u32 = 0;
pub const STATUS_PENDING: u32 = 0x0000_0103;
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;
pub const STATUS_INVALID_PARAMETER: u32 = 0xc000_000d;
pub const STATUS_NOTIFY_ENUM_DIR: u32 = 0x0000_010c;

/// 128-bit SMB2 FileId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileId {
    /// All ones: "the FileId of the previous command" in a related compound request.
    pub const RELATED: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };
    /// Zeek's fid: `persistent + volatile`, wrapping.
    pub fn zeek_fid(&self) -> u64 {
        self.persistent.wrapping_add(self.volatile)
    }
}

fn file_id_at(b: &[u8], off: usize) -> FileId {
    FileId {
        persistent: u64_at(b, off),
        volatile: u64_at(b, off + 8),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2Header {
    pub credit_charge: u16,
    /// Status in responses; ChannelSequence/Reserved in requests.
    pub status: u32,
    pub command: u16,
    pub credits: u16,
    pub flags: u32,
    pub next_command: u32,
    pub message_id: u64,
    /// Bytes 32..40 as AsyncId (async messages).
    pub async_id: u64,
    /// Bytes 36..40 as TreeId, read whatever the async flag says (Zeek does).
    pub tree_id_raw: u32,
    pub session_id: u64,
    pub signature: [u8; 16],
}

impl Smb2Header {
    pub fn is_response(&self) -> bool {
        self.flags & SMB2_FLAGS_SERVER_TO_REDIR != 0
    }
    pub fn is_async(&self) -> bool {
        self.flags & SMB2_FLAGS_ASYNC_COMMAND != 0
    }
    pub fn is_related(&self) -> bool {
        self.flags & SMB2_FLAGS_RELATED_OPERATIONS != 0
    }
    pub fn is_signed(&self) -> bool {
        self.flags & SMB2_FLAGS_SIGNED != 0
    }
    /// The TreeId of a synchronous message; async messages carry none.
    pub fn tree_id(&self) -> Option<u32> {
        (!self.is_async()).then_some(self.tree_id_raw)
    }
}

/// The 64-byte SMB2 header, magic and StructureSize checked.
pub fn smb2_header(i: &[u8]) -> IResult<&[u8], Smb2Header> {
    let (i, _) = tag(&SMB2_MAGIC[..])(i)?;
    let (i, _) = tag(&[64u8, 0][..])(i)?;
    let (i, (credit_charge, status, command, credits, flags, next_command, message_id)) =
        (le_u16, le_u32, le_u16, le_u16, le_u32, le_u32, le_u64).parse(i)?;
    let (i, (async_id, session_id, sig)) = (le_u64, le_u64, take(16usize)).parse(i)?;
    let mut signature = [0u8; 16];
    signature.copy_from_slice(sig);
    let tree_id_raw = (async_id >> 32) as u32;
    Ok((
        i,
        Smb2Header {
            credit_charge,
            status,
            command,
            credits,
            flags,
            next_command,
            message_id,
            async_id,
            tree_id_raw,
            session_id,
            signature,
        },
    ))
}

fn body<'a>(cmd: &'a [u8], min: usize, what: &'static str) -> R<&'a [u8]> {
    let b = cmd.get(SMB2_HEADER_LEN..).ok_or(RecordError::Truncated)?;
    if b.len() < min {
        Err(RecordError::Bad(what))
    } else {
        Ok(b)
    }
}

/// A buffer given by (offset from the header, length) in `cmd`; an empty one may point
/// anywhere.
fn smb2_buffer<'a>(cmd: &'a [u8], off: usize, len: usize, what: &'static str) -> R<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if off < SMB2_HEADER_LEN {
        return Err(RecordError::OutOfBounds(what));
    }
    slice_at(cmd, off, len, what)
}

/// Is this response an error response (no body of its command)? As MS-SMB2 3.3.4.4 allows:
/// STATUS_BUFFER_OVERFLOW on READ/IOCTL/QUERY_INFO and STATUS_MORE_PROCESSING_REQUIRED on
/// SESSION_SETUP still carry the command's body. STATUS_PENDING is an interim response.
pub fn smb2_is_error(h: &Smb2Header) -> bool {
    match h.status {
        STATUS_SUCCESS => false,
        STATUS_BUFFER_OVERFLOW => !matches!(h.command, SMB2_READ | SMB2_IOCTL | SMB2_QUERY_INFO),
        STATUS_MORE_PROCESSING_REQUIRED => h.command != SMB2_SESSION_SETUP,
        _ => true,
    }
}

/// NEGOTIATE response (2.2.4): the DialectRevision the server chose (0x0202, 0x0210,
/// 0x0300, 0x0302, 0x0311; 0x02ff is the wildcard answer to an SMB1 multi-protocol
/// negotiate).
pub fn smb2_negotiate_resp(cmd: &[u8]) -> R<u16> {
    let b = body(cmd, 8, "NEGOTIATE response")?;
    Ok(u16_at(b, 4))
}

/// Is `dialect` an SMB 3.x dialect?
pub fn smb2_dialect_is_smb3(dialect: u16) -> bool {
    (0x0300..0x0400).contains(&dialect)
}

/// SESSION_SETUP request (2.2.5): the security buffer (GSS-API / SPNEGO token).
pub fn smb2_session_setup_req(cmd: &[u8]) -> R<&[u8]> {
    let b = body(cmd, 24, "SESSION_SETUP request")?;
    smb2_buffer(
        cmd,
        u16_at(b, 12) as usize,
        u16_at(b, 14) as usize,
        "SESSION_SETUP security buffer",
    )
}

/// SESSION_SETUP response (2.2.6): the security buffer (the acceptor's token).
pub fn smb2_session_setup_resp(cmd: &[u8]) -> R<&[u8]> {
    let b = body(cmd, 8, "SESSION_SETUP response")?;
    smb2_buffer(
        cmd,
        u16_at(b, 4) as usize,
        u16_at(b, 6) as usize,
        "SESSION_SETUP response security buffer",
    )
}

/// TREE_CONNECT request (2.2.9): the share path, UTF-16LE.
pub fn smb2_tree_connect_req(cmd: &[u8]) -> R<&[u8]> {
    let b = body(cmd, 8, "TREE_CONNECT request")?;
    smb2_buffer(
        cmd,
        u16_at(b, 4) as usize,
        u16_at(b, 6) as usize,
        "TREE_CONNECT path",
    )
}

/// TREE_CONNECT response (2.2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2TreeConnectResp {
    pub share_type: u8,
    pub share_flags: u32,
}

pub fn smb2_tree_connect_resp(cmd: &[u8]) -> R<Smb2TreeConnectResp> {
    let b = body(cmd, 8, "TREE_CONNECT response")?;
    Ok(Smb2TreeConnectResp {
        share_type: b[2],
        share_flags: u32_at(b, 4),
    })
}

/// CREATE request (2.2.13): the file name, UTF-16LE.
pub fn smb2_create_req(cmd: &[u8]) -> R<&[u8]> {
    let b = body(cmd, 56, "CREATE request")?;
    smb2_buffer(
        cmd,
        u16_at(b, 44) as usize,
        u16_at(b, 46) as usize,
        "CREATE name",
    )
}

/// CREATE response (2.2.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2CreateResp {
    pub create_action: u32,
    pub file_attributes: u32,
    pub file_id: FileId,
}

pub fn smb2_create_resp(cmd: &[u8]) -> R<Smb2CreateResp> {
    let b = body(cmd, 88, "CREATE response")?;
    Ok(Smb2CreateResp {
        create_action: u32_at(b, 4),
        file_attributes: u32_at(b, 56),
        file_id: file_id_at(b, 64),
    })
}

/// CLOSE request (2.2.15): the FileId.
pub fn smb2_close_req(cmd: &[u8]) -> R<FileId> {
    let b = body(cmd, 24, "CLOSE request")?;
    Ok(file_id_at(b, 8))
}

/// READ request (2.2.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2ReadReq {
    pub length: u32,
    pub offset: u64,
    pub file_id: FileId,
}

pub fn smb2_read_req(cmd: &[u8]) -> R<Smb2ReadReq> {
    let b = body(cmd, 48, "READ request")?;
    Ok(Smb2ReadReq {
        length: u32_at(b, 4),
        offset: u64_at(b, 8),
        file_id: file_id_at(b, 16),
    })
}

/// READ response (2.2.20) without its data: see [`Smb2ReadResp::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2ReadResp {
    /// From the SMB2 header (one byte on the wire).
    pub data_offset: u8,
    pub data_len: u32,
    pub data_remaining: u32,
}

impl Smb2ReadResp {
    pub fn data<'a>(&self, cmd: &'a [u8]) -> R<&'a [u8]> {
        smb2_buffer(
            cmd,
            self.data_offset as usize,
            self.data_len as usize,
            "READ data",
        )
    }
}

pub fn smb2_read_resp(cmd: &[u8]) -> R<Smb2ReadResp> {
    let b = body(cmd, 16, "READ response")?;
    Ok(Smb2ReadResp {
        data_offset: b[2],
        data_len: u32_at(b, 4),
        data_remaining: u32_at(b, 8),
    })
}

/// WRITE request (2.2.21) without its data: see [`Smb2WriteReq::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2WriteReq {
    pub data_offset: u16,
    pub length: u32,
    pub offset: u64,
    pub file_id: FileId,
}

impl Smb2WriteReq {
    pub fn data<'a>(&self, cmd: &'a [u8]) -> R<&'a [u8]> {
        smb2_buffer(
            cmd,
            self.data_offset as usize,
            self.length as usize,
            "WRITE data",
        )
    }
}

pub fn smb2_write_req(cmd: &[u8]) -> R<Smb2WriteReq> {
    let b = body(cmd, 48, "WRITE request")?;
    Ok(Smb2WriteReq {
        data_offset: u16_at(b, 2),
        length: u32_at(b, 4),
        offset: u64_at(b, 8),
        file_id: file_id_at(b, 16),
    })
}

/// IOCTL request (2.2.31) or response (2.2.32): the buffer that travels in that direction
/// (request: input; response: output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2Ioctl<'a> {
    pub ctl_code: u32,
    pub file_id: FileId,
    pub buffer: &'a [u8],
}

pub fn smb2_ioctl_req(cmd: &[u8]) -> R<Smb2Ioctl<'_>> {
    let b = body(cmd, 56, "IOCTL request")?;
    let buffer = smb2_buffer(
        cmd,
        u32_at(b, 24) as usize,
        u32_at(b, 28) as usize,
        "IOCTL input",
    )?;
    Ok(Smb2Ioctl {
        ctl_code: u32_at(b, 4),
        file_id: file_id_at(b, 8),
        buffer,
    })
}

pub fn smb2_ioctl_resp(cmd: &[u8]) -> R<Smb2Ioctl<'_>> {
    let b = body(cmd, 48, "IOCTL response")?;
    let buffer = smb2_buffer(
        cmd,
        u32_at(b, 32) as usize,
        u32_at(b, 36) as usize,
        "IOCTL output",
    )?;
    Ok(Smb2Ioctl {
        ctl_code: u32_at(b, 4),
        file_id: file_id_at(b, 8),
        buffer,
    })
}

/// SMB3 transform header (2.2.41), 52 bytes, magic included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformHeader {
    pub nonce: [u8; 16],
    pub original_message_size: u32,
    pub flags: u16,
    pub session_id: u64,
}

pub const TRANSFORM_HEADER_LEN: usize = 52;

pub fn transform_header(i: &[u8]) -> IResult<&[u8], TransformHeader> {
    let (i, _) = tag(&TRANSFORM_MAGIC[..])(i)?;
    let (i, (_signature, nonce, original_message_size, _reserved, flags, session_id)) =
        (take(16usize), take(16usize), le_u32, le_u16, le_u16, le_u64).parse(i)?;
    let mut n = [0u8; 16];
    n.copy_from_slice(nonce);
    Ok((
        i,
        TransformHeader {
            nonce: n,
            original_message_size,
            flags,
            session_id,
        },
    ))
}

/// Parse a whole header with nom and turn failure into [`RecordError::Truncated`].
pub fn parse_smb1_header(msg: &[u8]) -> R<Smb1Header> {
    smb1_header(msg).map(|(_, h)| h).map_err(nom_err)
}

pub fn parse_smb2_header(cmd: &[u8]) -> R<Smb2Header> {
    smb2_header(cmd).map(|(_, h)| h).map_err(nom_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::*;

    #[test]
    fn nbss() {
        let (_, h) = nbss_header(b"\x00\x01\x02\x03").unwrap();
        assert_eq!(
            h,
            NbssHeader {
                msg_type: 0,
                length: 0x010203
            }
        );
        let (_, h) = nbss_header(b"\x85\x00\x00\x00").unwrap();
        assert_eq!(
            h,
            NbssHeader {
                msg_type: NBSS_KEEPALIVE,
                length: 0
            }
        );
        let (_, h) = nbss_header(b"\x81\x01\x00\x44").unwrap();
        assert_eq!(h.length, 0x10044);
        assert!(
            nbss_header(b"\x81\x02\x00\x44").is_err(),
            "reserved flag bits"
        );
        assert!(nbss_header(b"\x42\x00\x00\x00").is_err(), "unknown type");
        assert!(nbss_header(b"\x00\x00").is_err());
        assert_eq!(protocol(b"\xfeSMB...."), Protocol::Smb2);
        assert_eq!(protocol(b"\xfdSMB"), Protocol::Transform);
        assert_eq!(protocol(b"\xfe"), Protocol::Other);
    }

    #[test]
    fn smb1_header_fields() {
        let m = Smb1::new(SMB_COM_WRITE_ANDX)
            .tid(7)
            .uid(9)
            .mid(11)
            .pid(0x0001_0002)
            .reply()
            .unicode()
            .build(&[], &[]);
        let h = parse_smb1_header(&m).unwrap();
        assert_eq!(
            (h.command, h.tid, h.uid, h.mid, h.pid),
            (SMB_COM_WRITE_ANDX, 7, 9, 11, 0x0001_0002)
        );
        assert!(h.is_reply() && h.unicode() && !h.signed());
        assert!(parse_smb1_header(&m[..31]).is_err());
        let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
        assert_eq!((b.word_count, b.words.len(), b.bytes.len()), (0, 0, 0));
    }

    #[test]
    fn smb1_block_lenient_byte_count() {
        let mut m = Smb1::new(SMB_COM_CLOSE).build(&[1, 0, 0, 0, 0, 0], b"abc");
        // ByteCount says 3 but the message is cut after one byte: bytes are cut, not an error.
        m.truncate(m.len() - 2);
        let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
        assert_eq!(b.bytes, b"a");
        assert_eq!(smb1_close_req(&b).unwrap(), 1);
        // Words cut: error.
        assert_eq!(
            smb1_block(&m[..36], SMB1_HEADER_LEN),
            Err(RecordError::Truncated)
        );
    }

    #[test]
    fn smb1_strings() {
        let mut msg = vec![0u8; 33];
        msg.extend_from_slice(&[0]); // pad to even offset 34
        msg.extend_from_slice(&utf16z("\\svcctl"));
        msg.extend_from_slice(b"IPC\0");
        let (s, after) = smb1_string(&msg, 33, msg.len(), true);
        assert_eq!(s.to_string_lossy(), "\\svcctl");
        assert_eq!(s.zeek_bytes(), b"\\svcctl");
        let (svc, _) = smb1_string(&msg, after, msg.len(), false);
        assert_eq!(svc, SmbString::Ascii(b"IPC"));
        // No terminator: runs to the end.
        let (s, end) = smb1_string(b"abc", 0, 3, false);
        assert_eq!((s, end), (SmbString::Ascii(b"abc"), 3));
        // Odd byte left over in UTF-16.
        let (s, _) = smb1_string(b"a\0b", 0, 3, true);
        assert_eq!(s, SmbString::Utf16(b"a\0"));
    }

    #[test]
    fn smb1_tree_connect() {
        let req = smb1_tree_connect_req_msg(1, "\\\\SRV\\IPC$", true);
        let h = parse_smb1_header(&req).unwrap();
        let b = smb1_block(&req, SMB1_HEADER_LEN).unwrap();
        let t = smb1_tree_connect_req(&req, &b, h.unicode()).unwrap();
        assert_eq!(t.path.to_string_lossy(), "\\\\SRV\\IPC$");
        assert_eq!(t.service, b"?????");
        let resp = smb1_tree_connect_resp_msg(1, 2050, b"IPC");
        let b = smb1_block(&resp, SMB1_HEADER_LEN).unwrap();
        assert_eq!(smb1_tree_connect_resp(&resp, &b).unwrap(), b"IPC");
    }

    #[test]
    fn smb1_nt_create() {
        for unicode in [false, true] {
            let req = smb1_nt_create_req_msg(5, 2050, "\\svcctl", unicode);
            let h = parse_smb1_header(&req).unwrap();
            let b = smb1_block(&req, SMB1_HEADER_LEN).unwrap();
            let name = smb1_nt_create_req(&req, &b, h.unicode()).unwrap();
            assert_eq!(name.to_string_lossy(), "\\svcctl", "unicode {unicode}");
        }
        let resp = smb1_nt_create_resp_msg(5, 2050, 0x4001, FILE_TYPE_MESSAGE_MODE_PIPE);
        let b = smb1_block(&resp, SMB1_HEADER_LEN).unwrap();
        let r = smb1_nt_create_resp(&b).unwrap();
        assert_eq!(
            r,
            Smb1OpenResp {
                fid: 0x4001,
                resource_type: 2
            }
        );
        assert!(r.is_pipe());
        let short = Smb1::new(SMB_COM_NT_CREATE_ANDX)
            .reply()
            .build(&[0xff, 0, 0, 0], &[]);
        let b = smb1_block(&short, SMB1_HEADER_LEN).unwrap();
        assert!(smb1_nt_create_resp(&b).is_err());
    }

    #[test]
    fn smb1_write_and_read_andx() {
        let w = smb1_write_andx_msg(3, 2050, 0x4001, 0x0008, b"\x05\x00\x0bhello");
        let b = smb1_block(&w, SMB1_HEADER_LEN).unwrap();
        let r = smb1_write_andx_req(&b).unwrap();
        assert_eq!(r.fid, 0x4001);
        assert_eq!(r.data(&w).unwrap(), b"\x05\x00\x0bhello");
        // Raw-mode message start: 2-byte length prefix not part of the pipe data.
        let w = smb1_write_andx_msg(3, 2050, 0x4001, 0x000c, b"\x08\x00\x05\x00\x0bhello");
        let b = smb1_block(&w, SMB1_HEADER_LEN).unwrap();
        let r = smb1_write_andx_req(&b).unwrap();
        assert_eq!(r.data(&w).unwrap(), b"\x05\x00\x0bhello");
        assert_eq!(r.raw_data(&w).unwrap(), b"\x08\x00\x05\x00\x0bhello");
        // Data offset past the end.
        let mut bad = smb1_write_andx_msg(3, 2050, 0x4001, 0, b"abc");
        let len = bad.len();
        bad.truncate(len - 1);
        let b = smb1_block(&bad, SMB1_HEADER_LEN).unwrap();
        assert!(smb1_write_andx_req(&b).unwrap().data(&bad).is_err());

        let rq = smb1_read_andx_req_msg(4, 2050, 0x4001);
        let b = smb1_block(&rq, SMB1_HEADER_LEN).unwrap();
        assert_eq!(smb1_read_andx_req(&b).unwrap(), 0x4001);
        let rs = smb1_read_andx_resp_msg(4, 2050, b"\x05\x00\x0cdata");
        let b = smb1_block(&rs, SMB1_HEADER_LEN).unwrap();
        assert_eq!(
            smb1_read_andx_resp(&b).unwrap().data(&rs).unwrap(),
            b"\x05\x00\x0cdata"
        );
    }

    #[test]
    fn smb1_transaction() {
        for unicode in [false, true] {
            let m = smb1_trans_req_msg(
                6,
                2050,
                "\\PIPE\\",
                &[TRANS_TRANSACT_NMPIPE, 0x4001],
                b"\x05\x00\x00req",
                unicode,
            );
            let h = parse_smb1_header(&m).unwrap();
            let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
            let t = smb1_trans_req(&m, &b, h.unicode()).unwrap();
            assert_eq!(t.setup_word(0), Some(TRANS_TRANSACT_NMPIPE));
            assert_eq!(t.setup_word(1), Some(0x4001));
            assert_eq!(t.setup_word(2), None);
            assert_eq!(t.name.to_string_lossy(), "\\PIPE\\");
            assert_eq!(t.data, b"\x05\x00\x00req");
            assert_eq!(t.data_to_end, b"\x05\x00\x00req");
        }
        let m = smb1_trans_resp_msg(6, 2050, b"\x05\x00\x02resp", 0);
        let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
        let t = smb1_trans_resp(&m, &b).unwrap();
        assert_eq!(
            (t.data, t.total_data, t.data_displacement),
            (&b"\x05\x00\x02resp"[..], 7, 0)
        );
        let m = smb1_trans_secondary_msg(6, 2050, b"more", 8, 20);
        let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
        let t = smb1_trans_secondary_req(&m, &b).unwrap();
        assert_eq!(
            (t.data, t.data_displacement, t.total_data),
            (&b"more"[..], 8, 20)
        );
    }

    #[test]
    fn smb2_header_fields() {
        let m = Smb2::new(SMB2_READ)
            .msg_id(77)
            .session(0x1122)
            .tree(5)
            .build(&[0; 49]);
        let h = parse_smb2_header(&m).unwrap();
        assert_eq!(
            (h.command, h.message_id, h.session_id, h.tree_id()),
            (SMB2_READ, 77, 0x1122, Some(5))
        );
        assert!(!h.is_response() && !h.is_async());
        let a = Smb2::new(SMB2_READ)
            .response()
            .async_id(0x0000_0009_0000_0001)
            .status(STATUS_PENDING)
            .build(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let h = parse_smb2_header(&a).unwrap();
        assert!(h.is_async() && h.is_response());
        assert_eq!(
            (h.async_id, h.tree_id(), h.tree_id_raw),
            (0x0000_0009_0000_0001, None, 9)
        );
        let mut bad = m.clone();
        bad[4] = 65;
        assert!(parse_smb2_header(&bad).is_err(), "StructureSize must be 64");
        assert!(parse_smb2_header(&m[..63]).is_err());
    }

    #[test]
    fn smb2_create_req_resp() {
        let c = smb2_create_req_msg(1, 5, "svcctl");
        assert_eq!(utf16le_lossy(smb2_create_req(&c).unwrap()), "svcctl");
        let fid = FileId {
            persistent: 0x11,
            volatile: 0x22,
        };
        let r = smb2_create_resp_msg(1, 5, fid);
        assert_eq!(smb2_create_resp(&r).unwrap().file_id, fid);
        assert!(smb2_create_resp(&r[..100]).is_err());
        let mut bad = c.clone();
        // Name length pointing past the end.
        bad[64 + 46] = 0xff;
        assert!(smb2_create_req(&bad).is_err());
    }

    #[test]
    fn smb2_read_write_ioctl_close() {
        let fid = FileId {
            persistent: 1,
            volatile: 2,
        };
        let rq = smb2_read_req_msg(3, 5, fid, 1024);
        let r = smb2_read_req(&rq).unwrap();
        assert_eq!((r.file_id, r.length), (fid, 1024));
        let rs = smb2_read_resp_msg(3, b"\x05\x00\x0c", STATUS_SUCCESS);
        let r = smb2_read_resp(&rs).unwrap();
        assert_eq!(r.data(&rs).unwrap(), b"\x05\x00\x0c");
        let w = smb2_write_req_msg(4, 5, fid, b"\x05\x00\x0bbind");
        let r = smb2_write_req(&w).unwrap();
        assert_eq!(
            (r.file_id, r.data(&w).unwrap()),
            (fid, &b"\x05\x00\x0bbind"[..])
        );
        let i = smb2_ioctl_req_msg(5, 5, fid, FSCTL_PIPE_TRANSCEIVE, b"\x05\x00\x00call");
        let r = smb2_ioctl_req(&i).unwrap();
        assert_eq!(
            (r.ctl_code, r.file_id, r.buffer),
            (FSCTL_PIPE_TRANSCEIVE, fid, &b"\x05\x00\x00call"[..])
        );
        let o = smb2_ioctl_resp_msg(
            5,
            fid,
            FSCTL_PIPE_TRANSCEIVE,
            b"\x05\x00\x02resp",
            STATUS_SUCCESS,
        );
        let r = smb2_ioctl_resp(&o).unwrap();
        assert_eq!(r.buffer, b"\x05\x00\x02resp");
        let c = smb2_close_req_msg(6, 5, fid);
        assert_eq!(smb2_close_req(&c).unwrap(), fid);
        // Buffer offset inside the header is rejected.
        let mut bad = w.clone();
        bad[64 + 2] = 10;
        assert!(smb2_write_req(&bad).unwrap().data(&bad).is_err());
    }

    #[test]
    fn smb2_errors() {
        let e = smb2_error_resp_msg(SMB2_READ, 3, 0xc000_00b0);
        let h = parse_smb2_header(&e).unwrap();
        assert!(smb2_is_error(&h));
        let e = smb2_read_resp_msg(3, b"x", STATUS_BUFFER_OVERFLOW);
        assert!(!smb2_is_error(&parse_smb2_header(&e).unwrap()));
        let e = Smb2::new(SMB2_WRITE)
            .response()
            .status(STATUS_BUFFER_OVERFLOW)
            .build(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(smb2_is_error(&parse_smb2_header(&e).unwrap()));
        let p = Smb2::new(SMB2_SESSION_SETUP)
            .response()
            .status(STATUS_MORE_PROCESSING_REQUIRED)
            .build(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!smb2_is_error(&parse_smb2_header(&p).unwrap()));
    }

    #[test]
    fn smb2_tree_connect() {
        let t = smb2_tree_connect_req_msg(1, "\\\\dc1\\IPC$");
        assert_eq!(
            utf16le_lossy(smb2_tree_connect_req(&t).unwrap()),
            "\\\\dc1\\IPC$"
        );
        let r = smb2_tree_connect_resp_msg(1, 5, SMB2_SHARE_TYPE_PIPE);
        assert_eq!(
            smb2_tree_connect_resp(&r).unwrap().share_type,
            SMB2_SHARE_TYPE_PIPE
        );
    }

    #[test]
    fn transform() {
        let t = transform_msg(0x55, 100);
        let (_, h) = transform_header(&t).unwrap();
        assert_eq!((h.session_id, h.original_message_size), (0x55, 100));
        assert!(transform_header(&t[..51]).is_err());
    }

    #[test]
    fn utf16_lossy_stops_at_nul_and_bounds() {
        assert_eq!(utf16le_lossy(&utf16z("ab")), "ab");
        assert_eq!(utf16le_lossy(&[0x00, 0xd8, b'a', 0]), "\u{fffd}a");
        let long: Vec<u8> = std::iter::repeat_n([b'x', 0], 10_000).flatten().collect();
        assert_eq!(
            utf16le_lossy(&long).chars().count(),
            crate::smb::MAX_NAME_LEN
        );
    }

    #[test]
    fn negotiate_and_session_setup() {
        let m = smb2_negotiate_resp_msg(0, 0x0302);
        assert_eq!(smb2_negotiate_resp(&m), Ok(0x0302));
        assert!(smb2_dialect_is_smb3(0x0302) && smb2_dialect_is_smb3(0x0311));
        assert!(!smb2_dialect_is_smb3(0x0210) && !smb2_dialect_is_smb3(0x02ff));
        assert!(smb2_negotiate_resp(&m[..70]).is_err());

        let m = smb2_session_setup_req_msg(2, 7, b"blob-bytes");
        assert_eq!(smb2_session_setup_req(&m), Ok(&b"blob-bytes"[..]));
        let mut bad = m.clone();
        bad[64 + 14] = 200; // length past the end
        assert!(smb2_session_setup_req(&bad).is_err());

        let m = smb1_session_setup_blob_msg(1, 9, b"NTLMSSP\0xyz");
        let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
        assert_eq!(
            smb1_session_setup_req(&m, &b, false),
            Ok(Smb1SessionSetup::Blob(&b"NTLMSSP\0xyz"[..]))
        );
        for unicode in [false, true] {
            let m = smb1_session_setup_plain_msg(1, "carol", "DOM", unicode);
            let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
            match smb1_session_setup_req(&m, &b, unicode) {
                Ok(Smb1SessionSetup::Plain { account, domain }) => {
                    assert_eq!(account.to_string_lossy(), "carol");
                    assert_eq!(domain.to_string_lossy(), "DOM");
                }
                other => panic!("{other:?}"),
            }
        }
        let m = Smb1::new(SMB_COM_SESSION_SETUP_ANDX).build(&[0; 6], b"");
        let b = smb1_block(&m, SMB1_HEADER_LEN).unwrap();
        assert!(smb1_session_setup_req(&m, &b, false).is_err());
    }
}
