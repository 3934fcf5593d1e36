//! Capture file reader: PCAP / PCAPNG blocks in, frames (time, link type, bytes, offset) out.
//!
//! Owns the container formats only: byte orders, timestamp resolutions, pcapng sections and
//! interfaces. Block parsing is pcap-parser's streaming reader; this module adds what a
//! forensic reader needs on top of it: bounded buffers, offsets in every problem report, and
//! keeping every frame read before a file turns bad (truncated copy, trailing garbage).

use super::Timestamp;
use super::shared::{Chunk, SharedReader};
use crate::stats::{Counters, Notice};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, OptionCode, PcapBlockOwned, PcapError, PcapNGOption};
use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// Read buffer size at start; enough for any ordinary record and few refills.
pub const INITIAL_BUFFER: usize = 1 << 20;
/// Largest record or block accepted. A block claiming more is garbage, not a reason to
/// allocate: no link layer produces frames anywhere near this size.
pub const MAX_RECORD: usize = 64 << 20;
/// The buffer must hold a whole record plus the few bytes the parser peeks past it.
const MAX_BUFFER: usize = MAX_RECORD + 4096;
/// Classic pcap records larger than this (and than the header's snaplen) are taken as
/// garbage, as libpcap does (its `MAXIMUM_SNAPLEN`).
pub const LEGACY_MAX_CAPLEN: u32 = 262_144;
/// Interfaces per pcapng section; each IDB costs memory, so a hostile file must not add
/// them without bound.
pub const MAX_INTERFACES: usize = 65_536;

/// libpcap's `LT_LINKTYPE`: the upper bits of the classic header's link type field carry
/// FCS information, not the link type.
const LINKTYPE_MASK: u32 = 0x03FF_FFFF;
const SHB_MAGIC: u32 = 0x0A0D_0D0A;
const BOM_LE: [u8; 4] = [0x4D, 0x3C, 0x2B, 0x1A];
const BOM_BE: [u8; 4] = [0x1A, 0x2B, 0x3C, 0x4D];
/// Obsolete pcapng Packet Block (pcap-parser hands it over as an unknown block).
const PB_TYPE: u32 = 0x0000_0002;
const IDB_TYPE: u32 = 0x0000_0001;

/// One captured frame, borrowing its bytes from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub linktype: u32,
    /// Captured bytes (possibly cut by snaplen: see `orig_len`).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
    /// 1-based frame number, counting delivered frames.
    pub index: u64,
    /// The shared chunk of the file that `data` lies in (a reader thread hands it on to
    /// decoder threads instead of copying); `None` for frames from elsewhere.
    pub chunk: Option<&'a Chunk>,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("not a PCAP or PCAPNG capture: {detail}")]
    NotACapture { offset: u64, detail: String },
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The OS error is part of the message, not a separate cause, so that error chains
    /// (`anyhow`'s `{:#}`) do not print it twice.
    #[error("{}: {error}", path.display())]
    Path {
        path: std::path::PathBuf,
        error: io::Error,
    },
    #[error("capture truncated: record at offset {offset} is incomplete")]
    Truncated { offset: u64 },
    #[error("unreadable data at offset {offset}: {detail}")]
    Garbage { offset: u64, detail: String },
}

impl CaptureError {
    /// Where in the (decompressed) file the problem is, when it is at a known place.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::NotACapture { offset, .. }
            | CaptureError::Truncated { offset }
            | CaptureError::Garbage { offset, .. } => Some(*offset),
            CaptureError::Io(_) | CaptureError::Path { .. } => None,
        }
    }

    /// The message without the file name (for reports that name the file already).
    pub fn cause(&self) -> String {
        match self {
            CaptureError::Path { error, .. } => error.to_string(),
            e => e.to_string(),
        }
    }
}

/// Streams every frame of a PCAP or PCAPNG file read from `input` (already decompressed) to
/// `sink`.
///
/// Returns `Ok(())` when the file was read to its end or to the point where it stops being
/// readable: a truncated last record or garbage after a valid prefix is counted
/// (`truncated_records`, `garbage_after_prefix`), reported in `notices` with its offset, and
/// the frames before it have been delivered. A decompression stream that ends early or is
/// corrupt counts the same way. Only a file that is not a capture at all (bad magic at
/// offset 0) or an I/O error returns `Err`.
pub fn read_frames(
    file_label: &str,
    mut input: impl Read,
    counters: &mut Counters,
    notices: &mut Vec<Notice>,
    mut sink: impl FnMut(&Frame<'_>),
) -> Result<(), CaptureError> {
    let mut magic = [0u8; 4];
    let got = read_full(&mut input, &mut magic)?;
    let format = match (got, magic) {
        (0, _) => {
            return Err(CaptureError::NotACapture {
                offset: 0,
                detail: "empty file".into(),
            });
        }
        (4, m) if u32::from_le_bytes(m) == SHB_MAGIC => Format::Ng(NgState::default()),
        (4, m) => match u32::from_le_bytes(m) {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
                Format::Legacy(None)
            }
            _ => {
                return Err(CaptureError::NotACapture {
                    offset: 0,
                    detail: format!(
                        "unknown magic {:02x}{:02x}{:02x}{:02x}",
                        m[0], m[1], m[2], m[3]
                    ),
                });
            }
        },
        (n, _) => {
            return Err(CaptureError::NotACapture {
                offset: 0,
                detail: format!("file is only {n} bytes long"),
            });
        }
    };

    let read_error = Rc::new(RefCell::new(None));
    let source = FullRead {
        inner: (&magic[..]).chain(input),
        error: Rc::clone(&read_error),
    };
    let mut st = State {
        label: file_label,
        counters,
        notices,
        format,
        index: 0,
        last_ts: Timestamp::default(),
        reported: 0,
        chunk: None,
    };
    let opened = match st.format {
        Format::Legacy(_) => SharedReader::legacy(INITIAL_BUFFER, source),
        Format::Ng(_) => SharedReader::ng(INITIAL_BUFFER, source),
    };
    let mut reader = match opened {
        Ok(r) => r,
        // A short header because the input failed is the failure's fault, not the file's.
        Err(_) if read_error.borrow().is_some() => return st.read_failed(0, true, &read_error),
        Err(PcapError::Incomplete(_)) | Err(PcapError::UnexpectedEof) => {
            st.truncated(0);
            return Ok(());
        }
        Err(PcapError::ReadError) => return st.read_failed(0, true, &read_error),
        Err(e) => {
            return Err(CaptureError::NotACapture {
                offset: 0,
                detail: format!("invalid file header ({})", describe(&e)),
            });
        }
    };

    let mut capacity = INITIAL_BUFFER;
    st.chunk = Some(reader.chunk().clone());
    loop {
        let offset = reader.consumed() as u64;
        if let Err(detail) = st.check_head(reader.data()) {
            st.garbage(offset, detail);
            return Ok(());
        }
        let step = match reader.next() {
            Ok((len, block)) => match st.block(offset, block, &mut sink) {
                Ok(()) => Step::Consume(len),
                Err(detail) => Step::Garbage(detail),
            },
            Err(PcapError::Eof) => return Ok(()),
            Err(PcapError::Incomplete(_)) => Step::Refill,
            Err(PcapError::BufferTooSmall) => Step::Grow,
            Err(PcapError::UnexpectedEof) => Step::Truncated,
            Err(PcapError::ReadError) => Step::ReadError,
            Err(e) => Step::Unparsable(describe(&e)),
        };
        // A pcapng block whose framing (length at both ends) is sound but whose content is
        // not (e.g. a captured length past the block end) is skipped on its own; pcap-parser
        // reports some of these as "incomplete", so check before asking for more data.
        if !matches!(step, Step::Consume(_) | Step::Garbage(_))
            && let Some((len, block_type)) = st.framed_block(reader.data())
        {
            st.malformed_record(offset, len);
            st.keep_interface_numbering(block_type);
            reader.consume(len);
            continue;
        }
        match step {
            Step::Consume(len) => reader.consume(len),
            Step::Garbage(detail) | Step::Unparsable(detail) => {
                st.garbage(offset, detail);
                return Ok(());
            }
            Step::Truncated => {
                // pcap-parser reports a clean end as "unexpected" when the last record
                // ended exactly at the buffer's end after the reader ran dry.
                if !reader.data().is_empty() {
                    st.truncated(offset);
                }
                return Ok(());
            }
            Step::ReadError => {
                let partial = !reader.data().is_empty();
                return st.read_failed(offset, partial, &read_error);
            }
            Step::Refill | Step::Grow => {
                // Let go of the chunk so that, if no frame of it is held elsewhere, the
                // reader can reuse it in place.
                st.chunk = None;
                if matches!(step, Step::Grow) && !grow(&mut reader, &mut capacity) {
                    st.garbage(offset, too_large());
                    return Ok(());
                }
                let before = reader.data().len();
                if reader.refill().is_err() {
                    let partial = !reader.data().is_empty();
                    return st.read_failed(offset, partial, &read_error);
                }
                // Every turn of the loop must either read data, grow the buffer or end:
                // a parser that keeps asking for more without the buffer being able to
                // take it would otherwise spin.
                if !reader.reader_exhausted()
                    && reader.data().len() == before
                    && !grow(&mut reader, &mut capacity)
                {
                    st.garbage(offset, too_large());
                    return Ok(());
                }
                st.chunk = Some(reader.chunk().clone());
            }
        }
    }
}

enum Step {
    Consume(usize),
    Refill,
    Grow,
    Truncated,
    ReadError,
    Garbage(String),
    Unparsable(String),
}

fn too_large() -> String {
    format!("record larger than the {} MiB limit", MAX_RECORD >> 20)
}

fn grow(reader: &mut impl PcapReaderIterator, capacity: &mut usize) -> bool {
    if *capacity >= MAX_BUFFER {
        return false;
    }
    *capacity = capacity.saturating_mul(2).min(MAX_BUFFER);
    reader.grow(*capacity);
    true
}

/// A parser error without its input slice (which may be megabytes long).
fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("parse error: {kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("parse error: {kind:?}"),
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        other => format!("{other:?}"),
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Fills every read completely (or to EOF) and keeps the I/O error that pcap-parser would
/// otherwise flatten into `ReadError`. pcap-parser parses the file header from a single
/// `read` and takes a short read of 0 as EOF, so short reads (gzip, pipes) must not reach it.
struct FullRead<R> {
    inner: R,
    error: Rc<RefCell<Option<io::Error>>>,
}

impl<R: Read> Read for FullRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.borrow().is_some() {
            return Err(io::Error::other("earlier read failed"));
        }
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    *self.error.borrow_mut() = Some(e);
                    // Hand over what was read; the error surfaces on the next call.
                    if n > 0 {
                        break;
                    }
                    return Err(io::Error::other("read failed"));
                }
            }
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy)]
struct LegacyInfo {
    linktype: u32,
    nanos: bool,
    big_endian: bool,
    /// Record header size (24 for the "modified" Alexey Kuznetsov format).
    record_header: usize,
    max_caplen: u32,
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// Timestamp units per second (if_tsresol).
    units: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

#[derive(Debug, Default)]
struct NgState {
    big_endian: bool,
    /// By interface number; `None` for an interface whose description was unreadable.
    interfaces: Vec<Option<Interface>>,
}

enum Format {
    /// Classic pcap; `None` until the file header has been returned by the parser.
    Legacy(Option<LegacyInfo>),
    Ng(NgState),
}

// One notice per kind and file: a broken file must not flood the report.
const REPORTED_UNKNOWN_IF: u8 = 1;
const REPORTED_MALFORMED: u8 = 2;
const REPORTED_TSRESOL: u8 = 4;
const REPORTED_TOO_MANY_IF: u8 = 8;

struct State<'s> {
    label: &'s str,
    counters: &'s mut Counters,
    notices: &'s mut Vec<Notice>,
    format: Format,
    index: u64,
    /// Time of the previous frame; Simple Packet Blocks have none of their own.
    last_ts: Timestamp,
    reported: u8,
    /// The chunk the current frames lie in.
    chunk: Option<Chunk>,
}

impl State<'_> {
    fn notice(&mut self, offset: u64, message: String) {
        self.notices
            .push(Notice::note(self.label.to_string(), Some(offset), message));
    }

    fn notice_once(&mut self, kind: u8, offset: u64, message: String) {
        if self.reported & kind == 0 {
            self.reported |= kind;
            self.notice(offset, message);
        }
    }

    fn truncated(&mut self, offset: u64) {
        self.counters.truncated_records += 1;
        self.notice(offset, CaptureError::Truncated { offset }.to_string());
    }

    fn garbage(&mut self, offset: u64, detail: String) {
        self.counters.garbage_after_prefix += 1;
        self.notice(offset, CaptureError::Garbage { offset, detail }.to_string());
    }

    fn malformed_record(&mut self, offset: u64, len: usize) {
        self.counters.malformed_records += 1;
        self.notice_once(
            REPORTED_MALFORMED,
            offset,
            format!("skipped malformed {len}-byte block at offset {offset} (and any later ones are only counted)"),
        );
    }

    /// A failed read: a decompressor that ran out of input or met corrupt data ends the
    /// file like truncation or garbage does; anything else is a real I/O error.
    /// `partial`: part of a record had been read when the input failed.
    fn read_failed(
        &mut self,
        offset: u64,
        partial: bool,
        slot: &Rc<RefCell<Option<io::Error>>>,
    ) -> Result<(), CaptureError> {
        let err = slot
            .borrow_mut()
            .take()
            .unwrap_or_else(|| io::Error::other("read error"));
        match err.kind() {
            io::ErrorKind::UnexpectedEof if partial => {
                self.counters.truncated_records += 1;
                let message = format!("{} ({err})", CaptureError::Truncated { offset });
                self.notice(offset, message);
                Ok(())
            }
            // At a record boundary: the records are whole, what follows them is not
            // (e.g. bytes appended after the last gzip member).
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::InvalidData
            | io::ErrorKind::InvalidInput => {
                self.garbage(offset, format!("compressed data unreadable: {err}"));
                Ok(())
            }
            _ => Err(CaptureError::Io(err)),
        }
    }

    /// Rejects a record whose declared size is impossible before the parser asks for
    /// (and the buffer grows to) that many bytes.
    fn check_head(&self, data: &[u8]) -> Result<(), String> {
        match &self.format {
            Format::Legacy(None) => Ok(()),
            Format::Legacy(Some(info)) => {
                if data.len() < info.record_header {
                    return Ok(());
                }
                let caplen = read_u32(data, 8, info.big_endian).unwrap_or(0);
                if caplen > info.max_caplen {
                    return Err(format!(
                        "record claims {caplen} captured bytes (limit {})",
                        info.max_caplen
                    ));
                }
                Ok(())
            }
            Format::Ng(ng) => ng_block_len(data, ng.big_endian).map(|_| ()),
        }
    }

    /// For pcapng: the length of the block at the head of `data` when it is wholly in
    /// the buffer with matching lengths at both ends, so that it can be skipped.
    fn framed_block(&self, data: &[u8]) -> Option<(usize, u32)> {
        let Format::Ng(ng) = &self.format else {
            return None;
        };
        let len = ng_block_len(data, ng.big_endian).ok()??;
        let big_endian = block_big_endian(data, ng.big_endian)?;
        // A section header that cannot be read leaves the byte order unknown: no skipping.
        if read_u32(data, 0, false)? == SHB_MAGIC || data.len() < len {
            return None;
        }
        let block_type = read_u32(data, 0, big_endian)?;
        (read_u32(data, len - 4, big_endian)? as usize == len).then_some((len, block_type))
    }

    /// A skipped interface description still takes its number: later packets must not
    /// land on the wrong interface.
    fn keep_interface_numbering(&mut self, block_type: u32) {
        if let Format::Ng(ng) = &mut self.format
            && block_type == IDB_TYPE
            && ng.interfaces.len() < MAX_INTERFACES
        {
            ng.interfaces.push(None);
        }
    }

    fn block(
        &mut self,
        offset: u64,
        block: PcapBlockOwned<'_>,
        sink: &mut impl FnMut(&Frame<'_>),
    ) -> Result<(), String> {
        match block {
            PcapBlockOwned::LegacyHeader(hdr) => {
                let max_caplen = hdr
                    .snaplen
                    .max(LEGACY_MAX_CAPLEN)
                    .min((MAX_RECORD - 24) as u32);
                self.format = Format::Legacy(Some(LegacyInfo {
                    linktype: (hdr.network.0 as u32) & LINKTYPE_MASK,
                    nanos: hdr.is_nanosecond_precision(),
                    big_endian: hdr.is_bigendian(),
                    record_header: if hdr.is_modified_format() { 24 } else { 16 },
                    max_caplen,
                }));
                Ok(())
            }
            PcapBlockOwned::Legacy(rec) => {
                let Format::Legacy(Some(info)) = self.format else {
                    return Err("packet record before the file header".into());
                };
                let frac_nanos = if info.nanos {
                    u64::from(rec.ts_usec)
                } else {
                    u64::from(rec.ts_usec) * 1000
                };
                let ts = timestamp(i128::from(rec.ts_sec), frac_nanos);
                let data = rec.data;
                self.emit(ts, info.linktype, data, rec.origlen, offset, sink);
                Ok(())
            }
            PcapBlockOwned::NG(b) => self.ng_block(offset, b, sink),
        }
    }

    fn ng_block(
        &mut self,
        offset: u64,
        block: Block<'_>,
        sink: &mut impl FnMut(&Frame<'_>),
    ) -> Result<(), String> {
        let Format::Ng(ng) = &mut self.format else {
            return Err("pcapng block in a classic pcap file".into());
        };
        match block {
            Block::SectionHeader(shb) => {
                // Interfaces are numbered per section.
                ng.big_endian = shb.big_endian();
                ng.interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                if ng.interfaces.len() >= MAX_INTERFACES {
                    self.notice_once(
                        REPORTED_TOO_MANY_IF,
                        offset,
                        format!("more than {MAX_INTERFACES} interfaces in one section; later ones ignored"),
                    );
                    return Ok(());
                }
                let (units, offset_secs, bad_resol) = interface_time(&idb.options, ng.big_endian);
                ng.interfaces.push(Some(Interface {
                    linktype: u32::from(idb.linktype.0 as u16),
                    snaplen: idb.snaplen,
                    units,
                    offset_secs,
                }));
                if let Some(code) = bad_resol {
                    self.notice_once(
                        REPORTED_TSRESOL,
                        offset,
                        format!(
                            "interface with unusable if_tsresol {code:#04x}; microseconds assumed"
                        ),
                    );
                }
            }
            Block::EnhancedPacket(epb) => {
                use pcap_parser::traits::PcapNGPacketBlock;
                let Some(iface) = ng.interfaces.get(epb.if_id as usize).copied().flatten() else {
                    self.unknown_interface(offset, epb.if_id);
                    return Ok(());
                };
                let ts = ng_timestamp(epb.ts_high, epb.ts_low, &iface);
                self.emit(
                    ts,
                    iface.linktype,
                    epb.packet_data(),
                    epb.origlen,
                    offset,
                    sink,
                );
            }
            Block::SimplePacket(spb) => {
                use pcap_parser::traits::PcapNGPacketBlock;
                let Some(iface) = ng.interfaces.first().copied().flatten() else {
                    self.unknown_interface(offset, 0);
                    return Ok(());
                };
                let mut data = spb.packet_data();
                if iface.snaplen != 0 && data.len() > iface.snaplen as usize {
                    data = &data[..iface.snaplen as usize];
                }
                let ts = self.last_ts;
                self.emit(ts, iface.linktype, data, spb.origlen, offset, sink);
            }
            Block::Unknown(ub) => {
                if ub.block_len1 != ub.block_len2 {
                    return Err(format!(
                        "block lengths disagree ({} at start, {} at end)",
                        ub.block_len1, ub.block_len2
                    ));
                }
                let block_type = if ng.big_endian {
                    ub.block_type.swap_bytes()
                } else {
                    ub.block_type
                };
                if block_type == PB_TYPE {
                    let big_endian = ng.big_endian;
                    self.packet_block(offset, ub.data, big_endian, sink);
                }
            }
            // Name resolution, statistics, secrets, custom blocks: nothing for us.
            _ => {}
        }
        Ok(())
    }

    /// The obsolete Packet Block: interface (u16), drops (u16), timestamp, caplen, len, data.
    fn packet_block(
        &mut self,
        offset: u64,
        body: &[u8],
        big_endian: bool,
        sink: &mut impl FnMut(&Frame<'_>),
    ) {
        let fields = (|| {
            let if_id = read_u16(body, 0, big_endian)?;
            let high = read_u32(body, 4, big_endian)?;
            let low = read_u32(body, 8, big_endian)?;
            let caplen = read_u32(body, 12, big_endian)? as usize;
            let origlen = read_u32(body, 16, big_endian)?;
            let data = body.get(20..20usize.checked_add(caplen)?)?;
            Some((if_id, high, low, origlen, data))
        })();
        let Some((if_id, high, low, origlen, data)) = fields else {
            self.malformed_record(offset, body.len() + 12);
            return;
        };
        let iface = match &self.format {
            Format::Ng(ng) => ng.interfaces.get(usize::from(if_id)).copied().flatten(),
            Format::Legacy(_) => None,
        };
        let Some(iface) = iface else {
            self.unknown_interface(offset, u32::from(if_id));
            return;
        };
        let ts = ng_timestamp(high, low, &iface);
        self.emit(ts, iface.linktype, data, origlen, offset, sink);
    }

    fn unknown_interface(&mut self, offset: u64, if_id: u32) {
        self.counters.unknown_interface += 1;
        self.notice_once(
            REPORTED_UNKNOWN_IF,
            offset,
            format!("packet on undeclared interface {if_id} skipped (later ones are only counted)"),
        );
    }

    fn emit(
        &mut self,
        ts: Timestamp,
        linktype: u32,
        data: &[u8],
        orig_len: u32,
        offset: u64,
        sink: &mut impl FnMut(&Frame<'_>),
    ) {
        self.index += 1;
        self.last_ts = ts;
        self.counters.packets += 1;
        self.counters.bytes += data.len() as u64;
        if (data.len() as u64) < u64::from(orig_len) {
            self.counters.snaplen_cut += 1;
        }
        sink(&Frame {
            ts,
            linktype,
            data,
            orig_len,
            offset,
            index: self.index,
            chunk: self.chunk.as_ref(),
        });
    }
}

fn read_u16(data: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let b: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

fn read_u32(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// Byte order of the pcapng block at the head of `data`: a section header carries its own.
fn block_big_endian(data: &[u8], section_big_endian: bool) -> Option<bool> {
    if read_u32(data, 0, false)? != SHB_MAGIC {
        return Some(section_big_endian);
    }
    match data.get(8..12)? {
        b if b == BOM_LE => Some(false),
        b if b == BOM_BE => Some(true),
        _ => None,
    }
}

/// Declared length of the pcapng block at the head of `data`; `Ok(None)` when too few bytes
/// are buffered to tell, `Err` when the length can never be valid.
fn ng_block_len(data: &[u8], section_big_endian: bool) -> Result<Option<usize>, String> {
    if data.len() < 12 {
        return Ok(None);
    }
    let Some(big_endian) = block_big_endian(data, section_big_endian) else {
        return Err("section header with an invalid byte-order magic".into());
    };
    let len = read_u32(data, 4, big_endian).unwrap_or(0) as usize;
    if len < 12 || !len.is_multiple_of(4) {
        return Err(format!("invalid block length {len}"));
    }
    if len > MAX_RECORD {
        return Err(format!(
            "block length {len} over the {} MiB limit",
            MAX_RECORD >> 20
        ));
    }
    Ok(Some(len))
}

/// (units per second, offset in seconds, the if_tsresol byte if it was unusable).
fn interface_time(options: &[PcapNGOption<'_>], big_endian: bool) -> (u64, i64, Option<u8>) {
    let mut units = 1_000_000;
    let mut offset_secs = 0;
    let mut bad = None;
    for opt in options {
        let value = opt
            .value
            .get(..usize::from(opt.len))
            .unwrap_or(&opt.value[..]);
        if opt.code == OptionCode::IfTsresol
            && let Some(&code) = value.first()
        {
            match ts_units(code) {
                Some(u) => units = u,
                None => bad = Some(code),
            }
        } else if opt.code == OptionCode::IfTsoffset
            && let Some(b) = value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            offset_secs = if big_endian {
                i64::from_be_bytes(b)
            } else {
                i64::from_le_bytes(b)
            };
        }
    }
    (units, offset_secs, bad)
}

/// if_tsresol: high bit clear → 10^-n seconds, set → 2^-n seconds.
fn ts_units(code: u8) -> Option<u64> {
    let n = u32::from(code & 0x7f);
    if code & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

fn ng_timestamp(high: u32, low: u32, iface: &Interface) -> Timestamp {
    let raw = (u64::from(high) << 32) | u64::from(low);
    let units = iface.units.max(1);
    let secs = i128::from(raw / units) + i128::from(iface.offset_secs);
    let frac = u128::from(raw % units) * 1_000_000_000 / u128::from(units);
    timestamp(secs, frac as u64)
}

/// Seconds plus nanoseconds (which may exceed one second, as in a pcap record whose
/// microsecond field is out of range), normalised and clamped to the `Timestamp` range.
fn timestamp(secs: i128, nanos: u64) -> Timestamp {
    let secs = secs + i128::from(nanos / 1_000_000_000);
    let secs = secs.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    Timestamp::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // ---- builders (shared with the other capture tests) ----

    /// Classic pcap file header.
    pub(crate) fn pcap_header(
        magic: u32,
        big_endian: bool,
        snaplen: u32,
        linktype: u32,
    ) -> Vec<u8> {
        let mut v = Vec::new();
        let ng = Ng { be: big_endian };
        let (u32b, u16b) = (|x| ng.u32(x), |x| ng.u16(x));
        v.extend(u32b(magic));
        v.extend(u16b(2));
        v.extend(u16b(4));
        v.extend(u32b(0));
        v.extend(u32b(0));
        v.extend(u32b(snaplen));
        v.extend(u32b(linktype));
        v
    }

    pub(crate) fn pcap_record(
        big_endian: bool,
        secs: u32,
        frac: u32,
        data: &[u8],
        orig_len: u32,
    ) -> Vec<u8> {
        let u32b: fn(u32) -> [u8; 4] = if big_endian {
            u32::to_be_bytes
        } else {
            u32::to_le_bytes
        };
        let mut v = Vec::new();
        v.extend(u32b(secs));
        v.extend(u32b(frac));
        v.extend(u32b(data.len() as u32));
        v.extend(u32b(orig_len));
        v.extend(data);
        v
    }

    /// Little-endian classic pcap, microseconds, Ethernet.
    pub(crate) fn simple_pcap(frames: &[&[u8]]) -> Vec<u8> {
        let mut v = pcap_header(0xa1b2_c3d4, false, 65535, 1);
        for (i, f) in frames.iter().enumerate() {
            v.extend(pcap_record(false, 1_000 + i as u32, 500, f, f.len() as u32));
        }
        v
    }

    struct Ng {
        be: bool,
    }
    impl Ng {
        fn u16(&self, x: u16) -> [u8; 2] {
            if self.be {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        }
        fn u32(&self, x: u32) -> [u8; 4] {
            if self.be {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        }
        fn block(&self, btype: u32, body: &[u8]) -> Vec<u8> {
            let mut body = body.to_vec();
            while !body.len().is_multiple_of(4) {
                body.push(0);
            }
            let len = (body.len() + 12) as u32;
            let mut v = Vec::new();
            v.extend(self.u32(btype));
            v.extend(self.u32(len));
            v.extend(body);
            v.extend(self.u32(len));
            v
        }
        fn shb(&self) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend(self.u32(0x1A2B_3C4D));
            b.extend(self.u16(1));
            b.extend(self.u16(0));
            b.extend(if self.be {
                (-1i64).to_be_bytes()
            } else {
                (-1i64).to_le_bytes()
            });
            self.block(SHB_MAGIC, &b)
        }
        fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
            let mut v = Vec::new();
            v.extend(self.u16(code));
            v.extend(self.u16(value.len() as u16));
            v.extend(value);
            while !v.len().is_multiple_of(4) {
                v.push(0);
            }
            v
        }
        fn idb(&self, linktype: u16, snaplen: u32, options: &[Vec<u8>]) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend(self.u16(linktype));
            b.extend(self.u16(0));
            b.extend(self.u32(snaplen));
            if !options.is_empty() {
                for o in options {
                    b.extend(o);
                }
                b.extend(self.option(0, &[]));
            }
            self.block(1, &b)
        }
        fn epb(&self, if_id: u32, ts: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend(self.u32(if_id));
            b.extend(self.u32((ts >> 32) as u32));
            b.extend(self.u32(ts as u32));
            b.extend(self.u32(data.len() as u32));
            b.extend(self.u32(orig_len));
            b.extend(data);
            self.block(6, &b)
        }
        fn spb(&self, data: &[u8], orig_len: u32) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend(self.u32(orig_len));
            b.extend(data);
            self.block(3, &b)
        }
        fn pb(&self, if_id: u16, ts: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend(self.u16(if_id));
            b.extend(self.u16(0));
            b.extend(self.u32((ts >> 32) as u32));
            b.extend(self.u32(ts as u32));
            b.extend(self.u32(data.len() as u32));
            b.extend(self.u32(orig_len));
            b.extend(data);
            self.block(2, &b)
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Got {
        ts: Timestamp,
        linktype: u32,
        data: Vec<u8>,
        orig_len: u32,
        offset: u64,
        index: u64,
    }

    fn read_all(bytes: &[u8]) -> (Result<(), CaptureError>, Vec<Got>, Counters, Vec<Notice>) {
        read_from(bytes, usize::MAX)
    }

    fn read_from(
        bytes: &[u8],
        chunk: usize,
    ) -> (Result<(), CaptureError>, Vec<Got>, Counters, Vec<Notice>) {
        let mut c = Counters::default();
        let mut n = Vec::new();
        let mut got = Vec::new();
        let input = Chunked { data: bytes, chunk };
        let r = read_frames("test.pcap", input, &mut c, &mut n, |f| {
            got.push(Got {
                ts: f.ts,
                linktype: f.linktype,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
                offset: f.offset,
                index: f.index,
            })
        });
        (r, got, c, n)
    }

    /// A reader returning at most `chunk` bytes per call, like a pipe or decompressor.
    struct Chunked<'a> {
        data: &'a [u8],
        chunk: usize,
    }
    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn payload(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect()
    }

    // ---- classic pcap ----

    #[test]
    fn classic_little_endian_microseconds() {
        let a = payload(60, 1);
        let b = payload(1514, 2);
        let mut f = pcap_header(0xa1b2_c3d4, false, 65535, 1);
        f.extend(pcap_record(false, 1_600_000_000, 123_456, &a, 60));
        f.extend(pcap_record(false, 1_600_000_001, 999_999, &b, 1514));
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].ts, Timestamp::new(1_600_000_000, 123_456_000));
        assert_eq!(got[0].linktype, 1);
        assert_eq!(got[0].data, a);
        assert_eq!(got[0].offset, 24);
        assert_eq!(got[0].index, 1);
        assert_eq!(got[1].ts, Timestamp::new(1_600_000_001, 999_999_000));
        assert_eq!(got[1].offset, 24 + 16 + 60);
        assert_eq!(got[1].index, 2);
        assert_eq!(got[1].data, b);
        assert_eq!(c.packets, 2);
        assert_eq!(c.bytes, 60 + 1514);
        assert_eq!(c.snaplen_cut, 0);
    }

    #[test]
    fn classic_big_endian_and_nanoseconds() {
        for (magic, be, nanos) in [
            (0xa1b2_c3d4u32, true, false),
            (0xa1b2_3c4d, false, true),
            (0xa1b2_3c4d, true, true),
        ] {
            let a = payload(42, 3);
            let mut f = pcap_header(magic, be, 65535, 101);
            f.extend(pcap_record(
                be,
                1_234_567_890,
                987_654_321 % if nanos { 1_000_000_000 } else { 1_000_000 },
                &a,
                42,
            ));
            f.extend(pcap_record(be, 7, 1, &a[..10], 42));
            let (r, got, c, _) = read_all(&f);
            r.unwrap();
            assert_eq!(got.len(), 2, "magic {magic:x} be {be}");
            let want0 = if nanos {
                Timestamp::new(1_234_567_890, 987_654_321)
            } else {
                Timestamp::new(1_234_567_890, 654_321_000)
            };
            assert_eq!(got[0].ts, want0);
            assert_eq!(got[1].ts, Timestamp::new(7, if nanos { 1 } else { 1000 }));
            assert_eq!(got[0].linktype, 101);
            assert_eq!(got[0].data, a);
            assert_eq!(got[1].data, &a[..10]);
            assert_eq!(got[1].orig_len, 42);
            assert_eq!(got[1].offset, 24 + 16 + 42);
            assert_eq!(c.snaplen_cut, 1);
        }
    }

    #[test]
    fn classic_out_of_range_fraction_carries_into_seconds() {
        let mut f = pcap_header(0xa1b2_c3d4, false, 65535, 1);
        f.extend(pcap_record(false, 10, 2_500_000, &[0u8; 4], 4));
        let (r, got, _, _) = read_all(&f);
        r.unwrap();
        assert_eq!(got[0].ts, Timestamp::new(12, 500_000_000));
    }

    #[test]
    fn linktype_fcs_bits_are_masked() {
        let mut f = pcap_header(0xa1b2_c3d4, false, 65535, 0x1000_0001);
        f.extend(pcap_record(false, 1, 0, &[1, 2, 3], 3));
        let (r, got, _, _) = read_all(&f);
        r.unwrap();
        assert_eq!(got[0].linktype, 1);
    }

    #[test]
    fn truncated_last_record_keeps_earlier_frames() {
        let a = payload(100, 4);
        let mut f = simple_pcap(&[&a, &a, &a]);
        let third = 24 + 2 * (16 + 100);
        f.truncate(third + 16 + 50);
        for chunk in [1, 7, 4096] {
            let (r, got, c, n) = read_from(&f, chunk);
            r.unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(c.packets, 2);
            assert_eq!(c.truncated_records, 1);
            assert_eq!(n.len(), 1);
            assert_eq!(n[0].offset, Some(third as u64));
            assert_eq!(n[0].file, "test.pcap");
            assert!(
                n[0].message.contains(&format!("offset {third}")),
                "{}",
                n[0].message
            );
        }
        // cut inside the record header
        f.truncate(third + 5);
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(c.truncated_records, 1);
        assert_eq!(n[0].offset, Some(third as u64));
    }

    #[test]
    fn header_only_and_truncated_header() {
        let f = pcap_header(0xa1b2_c3d4, false, 65535, 1);
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert!(got.is_empty() && n.is_empty());
        assert_eq!(c.truncated_records, 0);

        let (r, got, c, n) = read_all(&f[..10]);
        r.unwrap();
        assert!(got.is_empty());
        assert_eq!(c.truncated_records, 1);
        assert_eq!(n[0].offset, Some(0));
    }

    #[test]
    fn not_a_capture() {
        for bytes in [
            &b""[..],
            b"ab",
            b"GET / HTTP/1.1\r\n\r\n",
            &[0x1f, 0x8b, 8, 0, 0, 0],
        ] {
            let (r, got, c, _) = read_all(bytes);
            assert!(
                matches!(r, Err(CaptureError::NotACapture { offset: 0, .. })),
                "{bytes:?}: {r:?}"
            );
            assert!(got.is_empty());
            assert_eq!(c.packets, 0);
        }
    }

    #[test]
    fn garbage_after_valid_prefix_classic() {
        let a = payload(80, 5);
        let mut f = simple_pcap(&[&a, &a]);
        let bad = f.len();
        f.extend(payload(300, 9).iter().map(|b| b | 0x80)); // caplen field ≫ limit
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(c.garbage_after_prefix, 1);
        assert_eq!(c.truncated_records, 0);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].offset, Some(bad as u64));
    }

    #[test]
    fn big_snaplen_record_grows_buffer() {
        let big = payload(3 << 20, 6);
        let mut f = pcap_header(0xa1b2_c3d4, false, 8 << 20, 1);
        f.extend(pcap_record(false, 5, 6, &big, big.len() as u32));
        f.extend(pcap_record(false, 5, 7, &big[..10], 10));
        for chunk in [1, 100_000] {
            let (r, got, c, n) = read_from(&f, chunk);
            r.unwrap();
            assert!(n.is_empty(), "{n:?}");
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].data.len(), big.len());
            assert!(got[0].data == big);
            assert_eq!(got[1].offset, (24 + 16 + big.len()) as u64);
            assert_eq!(c.bytes, (big.len() + 10) as u64);
        }
    }

    #[test]
    fn io_errors() {
        struct Failing {
            data: Vec<u8>,
            kind: io::ErrorKind,
        }
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.data.is_empty() {
                    return Err(io::Error::new(self.kind, "boom"));
                }
                let n = buf.len().min(self.data.len());
                buf[..n].copy_from_slice(&self.data[..n]);
                self.data.drain(..n);
                Ok(n)
            }
        }
        let a = payload(70, 1);
        let mut f = simple_pcap(&[&a, &a]);
        f.truncate(f.len() - 20);
        let mut c = Counters::default();
        let mut n = Vec::new();
        let mut count = 0;
        let r = read_frames(
            "x",
            Failing {
                data: f.clone(),
                kind: io::ErrorKind::PermissionDenied,
            },
            &mut c,
            &mut n,
            |_| count += 1,
        );
        assert!(
            matches!(r, Err(CaptureError::Io(ref e)) if e.kind() == io::ErrorKind::PermissionDenied),
            "{r:?}"
        );
        assert_eq!(count, 1);

        // a decompressor running out of input is a truncation
        let mut c = Counters::default();
        let mut n = Vec::new();
        let r = read_frames(
            "x",
            Failing {
                data: f,
                kind: io::ErrorKind::UnexpectedEof,
            },
            &mut c,
            &mut n,
            |_| {},
        );
        r.unwrap();
        assert_eq!(c.packets, 1);
        assert_eq!(c.truncated_records, 1);
        assert_eq!(n[0].offset, Some(24 + 16 + 70));
    }

    // ---- pcapng ----

    fn sample_ng(be: bool) -> (Vec<u8>, Vec<u64>) {
        let ng = Ng { be };
        let mut f = ng.shb();
        // if 0: Ethernet, default microseconds
        f.extend(ng.idb(1, 65535, &[]));
        // if 1: raw IP, nanoseconds, +100 s offset
        let off = if be {
            100i64.to_be_bytes()
        } else {
            100i64.to_le_bytes()
        };
        f.extend(ng.idb(101, 0, &[ng.option(9, &[9]), ng.option(14, &off)]));
        // if 2: SLL, 2^-20 s
        f.extend(ng.idb(113, 262144, &[ng.option(9, &[0x80 | 20])]));
        let mut offsets = Vec::new();
        offsets.push(f.len() as u64);
        f.extend(ng.epb(0, 1_600_000_000_123_456, &payload(61, 1), 61));
        offsets.push(f.len() as u64);
        f.extend(ng.epb(1, 1_600_000_000_123_456_789, &payload(40, 2), 1500));
        offsets.push(f.len() as u64);
        f.extend(ng.epb(2, (1_000u64 << 20) | (1 << 19), &payload(33, 3), 33));
        (f, offsets)
    }

    #[test]
    fn pcapng_interfaces_resolutions_offsets() {
        for be in [false, true] {
            let (f, offsets) = sample_ng(be);
            let (r, got, c, n) = read_all(&f);
            r.unwrap();
            assert!(n.is_empty(), "{n:?}");
            assert_eq!(got.len(), 3);
            assert_eq!(got[0].linktype, 1);
            assert_eq!(got[0].ts, Timestamp::new(1_600_000_000, 123_456_000));
            assert_eq!(got[0].data, payload(61, 1));
            assert_eq!(got[1].linktype, 101);
            assert_eq!(got[1].ts, Timestamp::new(1_600_000_100, 123_456_789));
            assert_eq!(got[1].orig_len, 1500);
            assert_eq!(got[1].data, payload(40, 2));
            assert_eq!(got[2].linktype, 113);
            assert_eq!(got[2].ts, Timestamp::new(1000, 500_000_000));
            assert_eq!(got[2].data, payload(33, 3));
            for (g, o) in got.iter().zip(&offsets) {
                assert_eq!(g.offset, *o);
            }
            assert_eq!(
                got.iter().map(|g| g.index).collect::<Vec<_>>(),
                vec![1, 2, 3]
            );
            assert_eq!(c.packets, 3);
            assert_eq!(c.bytes, 61 + 40 + 33);
            assert_eq!(c.snaplen_cut, 1);
        }
    }

    #[test]
    fn pcapng_simple_and_obsolete_packet_blocks() {
        let ng = Ng { be: false };
        let mut f = ng.shb();
        f.extend(ng.idb(1, 50, &[]));
        f.extend(ng.epb(0, 5_000_000, &payload(20, 1), 20));
        f.extend(ng.spb(&payload(64, 2), 64)); // cut to the interface snaplen
        f.extend(ng.pb(0, 7_250_000, &payload(30, 3), 90));
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].data, payload(50, 2));
        assert_eq!(got[1].orig_len, 64);
        assert_eq!(got[1].ts, Timestamp::new(5, 0)); // SPB: time of the previous frame
        assert_eq!(got[2].data, payload(30, 3));
        assert_eq!(got[2].ts, Timestamp::new(7, 250_000_000));
        assert_eq!(got[2].orig_len, 90);
        assert_eq!(c.snaplen_cut, 2);
    }

    #[test]
    fn pcapng_sections_reset_interfaces() {
        let le = Ng { be: false };
        let be = Ng { be: true };
        let mut f = le.shb();
        f.extend(le.idb(1, 0, &[]));
        f.extend(le.idb(101, 0, &[]));
        f.extend(le.epb(1, 1_000_000, &payload(20, 1), 20));
        let second = f.len() as u64;
        f.extend(be.shb());
        f.extend(be.idb(113, 0, &[be.option(9, &[3])]));
        f.extend(be.epb(0, 2_500, &payload(21, 2), 21));
        let stale = f.len() as u64;
        f.extend(be.epb(1, 2_600, &payload(22, 3), 22)); // interface 1 was the old section's
        f.extend(be.epb(0, 2_700, &payload(23, 4), 23));
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].linktype, 101);
        assert_eq!(got[0].ts, Timestamp::new(1, 0));
        assert_eq!(got[1].linktype, 113);
        assert_eq!(got[1].ts, Timestamp::new(2, 500_000_000));
        assert!(got[1].offset > second);
        assert_eq!(got[2].data, payload(23, 4));
        assert_eq!(got[2].index, 3);
        assert_eq!(c.unknown_interface, 1);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].offset, Some(stale));
    }

    #[test]
    fn pcapng_malformed_block_is_skipped() {
        let ng = Ng { be: false };
        let mut f = ng.shb();
        f.extend(ng.idb(1, 0, &[]));
        f.extend(ng.epb(0, 1, &payload(20, 1), 20));
        let bad_at = f.len() as u64;
        let mut bad = ng.epb(0, 2, &payload(20, 2), 20);
        bad[20..24].copy_from_slice(&500u32.to_le_bytes()); // caplen past the block end
        f.extend(bad);
        f.extend(ng.epb(0, 3, &payload(20, 3), 20));
        for chunk in [1, 3] {
            let (r, got, c, n) = read_from(&f, chunk);
            r.unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(got[1].data, payload(20, 3));
            assert_eq!(c.malformed_records, 1);
            assert_eq!(c.garbage_after_prefix, 0);
            assert_eq!(n[0].offset, Some(bad_at));
        }
        // the same block last in the file
        let mut f2 = ng.shb();
        f2.extend(ng.idb(1, 0, &[]));
        let mut bad = ng.epb(0, 2, &payload(20, 2), 20);
        bad[20..24].copy_from_slice(&500u32.to_le_bytes());
        f2.extend(bad);
        let (r, got, c, _) = read_all(&f2);
        r.unwrap();
        assert!(got.is_empty());
        assert_eq!(c.malformed_records, 1);
        assert_eq!(c.truncated_records, 0);
    }

    #[test]
    fn pcapng_malformed_interface_keeps_numbering() {
        let ng = Ng { be: false };
        let mut f = ng.shb();
        f.extend(ng.idb(1, 0, &[]));
        // an IDB too short to hold its fields: framed, but unreadable
        f.extend(ng.block(1, &[101, 0, 0, 0]));
        f.extend(ng.idb(113, 0, &[]));
        f.extend(ng.epb(2, 1, &payload(20, 1), 20));
        f.extend(ng.epb(1, 1, &payload(20, 2), 20));
        let (r, got, c, _) = read_all(&f);
        r.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].linktype, 113);
        assert_eq!(c.malformed_records, 1);
        assert_eq!(c.unknown_interface, 1);
    }

    #[test]
    fn pcapng_truncated_and_garbage() {
        let (f, offsets) = sample_ng(false);
        let cut = &f[..f.len() - 10];
        let (r, got, c, n) = read_all(cut);
        r.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(c.truncated_records, 1);
        assert_eq!(n[0].offset, Some(offsets[2]));

        let mut g = f.clone();
        let at = g.len() as u64;
        g.extend(b"\x00\x01\x02\x03\xff\xff\xff\x7fhello, this is not a block");
        let (r, got, c, n) = read_all(&g);
        r.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(c.garbage_after_prefix, 1);
        assert_eq!(n[0].offset, Some(at));

        // consistent start length, wrong end length on an unknown block type
        let mut h = f.clone();
        let at = h.len() as u64;
        let ng = Ng { be: false };
        let mut blk = ng.block(0x4242, &[1, 2, 3, 4]);
        let l = blk.len();
        blk[l - 4..].copy_from_slice(&99u32.to_le_bytes());
        h.extend(blk);
        h.extend(ng.epb(0, 1, &[1, 2, 3], 3));
        let (r, got, c, n) = read_all(&h);
        r.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(c.garbage_after_prefix, 1);
        assert_eq!(n[0].offset, Some(at));
    }

    #[test]
    fn pcapng_huge_block_claim_is_garbage_without_allocating() {
        let (mut f, _) = sample_ng(false);
        let at = f.len() as u64;
        let ng = Ng { be: false };
        f.extend(ng.u32(6));
        f.extend(ng.u32(0x7fff_fff0));
        f.extend([0u8; 64]);
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(c.garbage_after_prefix, 1);
        assert_eq!(n[0].offset, Some(at));
    }

    #[test]
    fn pcapng_large_block_within_limit() {
        let ng = Ng { be: false };
        let mut f = ng.shb();
        f.extend(ng.idb(1, 0, &[]));
        let big = payload(2_500_000, 8);
        f.extend(ng.epb(0, 1, &big, big.len() as u32));
        f.extend(ng.epb(0, 2, &[9; 10], 10));
        let (r, got, c, n) = read_all(&f);
        r.unwrap();
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(got.len(), 2);
        assert!(got[0].data == big);
        assert_eq!(c.packets, 2);
    }

    #[test]
    fn pcapng_bad_tsresol_falls_back_to_microseconds() {
        let ng = Ng { be: false };
        let mut f = ng.shb();
        f.extend(ng.idb(1, 0, &[ng.option(9, &[40])]));
        f.extend(ng.epb(0, 3_000_001, &[0; 14], 14));
        let (r, got, _, n) = read_all(&f);
        r.unwrap();
        assert_eq!(got[0].ts, Timestamp::new(3, 1000));
        assert_eq!(n.len(), 1);
    }

    #[test]
    fn ts_units_cover_both_bases() {
        assert_eq!(ts_units(6), Some(1_000_000));
        assert_eq!(ts_units(9), Some(1_000_000_000));
        assert_eq!(ts_units(19), Some(10_000_000_000_000_000_000));
        assert_eq!(ts_units(20), None);
        assert_eq!(ts_units(0x80 | 10), Some(1024));
        assert_eq!(ts_units(0x80 | 63), Some(1 << 63));
        assert_eq!(ts_units(0x80 | 64), None);
        assert_eq!(ts_units(0xff), None);
    }
}
