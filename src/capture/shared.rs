//! A pcap / pcapng block reader whose buffer can be shared: the frames it hands out borrow
//! a reference-counted chunk of the file, which the engine's reader thread passes on to
//! the decoder threads instead of copying packets. Parsing is pcap-parser's (its block
//! parsers); this is only the buffer management its streaming readers do, on an `Arc`.
//!
//! When nobody else holds the chunk, a refill moves the unread tail to the front in place
//! (as pcap-parser's own buffer does); when frames of it are still held elsewhere, the tail
//! goes to a fresh (or recycled) chunk and the old one lives on until its last holder drops
//! it.

use nom::{Needed, Offset};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{
    LegacyPcapBlock, PcapBlockOwned, PcapError, PcapHeader, parse_block_be, parse_block_le,
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    parse_sectionheaderblock,
};
use std::io::Read;
use std::sync::Arc;

/// A chunk of a capture file, shared by the frames (and the segments) read from it.
pub type Chunk = Arc<Vec<u8>>;

/// Chunks kept for reuse once their last outside holder is gone.
const SPARE_CHUNKS: usize = 32;

type LegacyParse = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

enum Kind {
    Legacy {
        header: PcapHeader,
        parse: LegacyParse,
    },
    Ng {
        big_endian: bool,
    },
}

/// pcap-parser's `LegacyPcapReader` / `PcapNGReader`, with the buffer in a [`Chunk`].
pub struct SharedReader<R> {
    kind: Kind,
    reader: R,
    buf: Chunk,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    consumed: usize,
    reader_exhausted: bool,
    spare: Vec<Chunk>,
}

fn owned(e: nom::Err<PcapError<&[u8]>>) -> PcapError<&'static [u8]> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.to_owned_vec(),
        nom::Err::Incomplete(Needed::Size(n)) => PcapError::Incomplete(n.into()),
        nom::Err::Incomplete(Needed::Unknown) => PcapError::Incomplete(0),
    }
}

impl<R: Read> SharedReader<R> {
    fn start(capacity: usize, mut reader: R) -> Result<(Self, usize), PcapError<&'static [u8]>> {
        let mut v = vec![0u8; capacity];
        let n = reader.read(&mut v).or(Err(PcapError::ReadError))?;
        Ok((
            SharedReader {
                kind: Kind::Ng { big_endian: false },
                reader,
                buf: Arc::new(v),
                pos: 0,
                end: n,
                consumed: 0,
                reader_exhausted: false,
                spare: Vec::new(),
            },
            n,
        ))
    }

    /// A classic pcap file (its header is the first block `next` returns).
    pub fn legacy(capacity: usize, reader: R) -> Result<Self, PcapError<&'static [u8]>> {
        let (mut r, _) = Self::start(capacity, reader)?;
        let header = parse_pcap_header(&r.buf[..r.end]).map_err(owned)?.1;
        let parse: LegacyParse = if header.is_modified_format() {
            parse_pcap_frame_modified
        } else if header.is_bigendian() {
            parse_pcap_frame_be
        } else {
            parse_pcap_frame
        };
        r.kind = Kind::Legacy { header, parse };
        Ok(r)
    }

    /// A pcapng file (it must start with a section header block).
    pub fn ng(capacity: usize, reader: R) -> Result<Self, PcapError<&'static [u8]>> {
        let (r, _) = Self::start(capacity, reader)?;
        parse_sectionheaderblock(&r.buf[..r.end]).map_err(owned)?;
        Ok(r)
    }

    /// The chunk the unread bytes (and the frames `next` returns) live in.
    pub fn chunk(&self) -> &Chunk {
        &self.buf
    }

    /// Move the unread bytes to the front of a buffer of `capacity` bytes: this one when
    /// nobody else holds it and it is large enough, else a spare or fresh chunk.
    fn rebase(&mut self, capacity: usize) {
        let (pos, end) = (self.pos, self.end);
        if self.buf.len() >= capacity
            && let Some(v) = Arc::get_mut(&mut self.buf)
        {
            v.copy_within(pos..end, 0);
        } else {
            let mut fresh = self
                .spare
                .iter()
                .position(|c| Arc::strong_count(c) == 1 && c.len() >= capacity)
                .map(|i| self.spare.swap_remove(i))
                .unwrap_or_else(|| Arc::new(vec![0u8; capacity]));
            if let Some(v) = Arc::get_mut(&mut fresh) {
                v[..end - pos].copy_from_slice(&self.buf[pos..end]);
            }
            let old = std::mem::replace(&mut self.buf, fresh);
            if self.spare.len() < SPARE_CHUNKS && old.len() == capacity {
                self.spare.push(old);
            }
        }
        self.end = end - pos;
        self.pos = 0;
    }
}

impl<R: Read> PcapReaderIterator for SharedReader<R> {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        if let Kind::Legacy { header, .. } = &self.kind
            && self.consumed == 0
        {
            return Ok((header.size(), PcapBlockOwned::from(header.clone())));
        }
        if self.pos == self.end && self.reader_exhausted {
            return Err(PcapError::Eof);
        }
        let data = &self.buf[self.pos..self.end];
        let parsed = match &mut self.kind {
            Kind::Legacy { parse, .. } => {
                parse(data).map(|(rem, b)| (rem, PcapBlockOwned::from(b)))
            }
            Kind::Ng { big_endian } => {
                let parse = if *big_endian {
                    parse_block_be
                } else {
                    parse_block_le
                };
                parse(data).map(|(rem, b)| {
                    if let pcap_parser::Block::SectionHeader(shb) = &b {
                        *big_endian = shb.big_endian();
                    }
                    (rem, PcapBlockOwned::from(b))
                })
            }
        };
        match parsed {
            Ok((rem, b)) => Ok((data.offset(rem), b)),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e),
            Err(nom::Err::Incomplete(_)) if self.reader_exhausted => Err(PcapError::UnexpectedEof),
            Err(nom::Err::Incomplete(Needed::Size(n))) => {
                if data.len() + usize::from(n) >= self.buf.len() {
                    Err(PcapError::BufferTooSmall)
                } else {
                    Err(PcapError::Incomplete(n.into()))
                }
            }
            Err(nom::Err::Incomplete(Needed::Unknown)) => Err(PcapError::Incomplete(0)),
        }
    }

    fn consume(&mut self, offset: usize) {
        self.consume_noshift(offset);
    }

    fn consume_noshift(&mut self, offset: usize) {
        let n = offset.min(self.end - self.pos);
        self.consumed += n;
        self.pos += n;
    }

    fn consumed(&self) -> usize {
        self.consumed
    }

    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        let capacity = self.buf.len();
        self.rebase(capacity);
        let end = self.end;
        let Some(v) = Arc::get_mut(&mut self.buf) else {
            // rebase leaves a chunk only we hold.
            return Ok(());
        };
        if end == v.len() {
            return Ok(());
        }
        let n = self
            .reader
            .read(&mut v[end..])
            .or(Err(PcapError::ReadError))?;
        self.reader_exhausted = n == 0;
        self.end += n;
        Ok(())
    }

    fn position(&self) -> usize {
        self.pos
    }

    fn grow(&mut self, new_size: usize) -> bool {
        if new_size <= self.buf.len() {
            return false;
        }
        self.rebase(new_size);
        true
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn reader_exhausted(&self) -> bool {
        self.reader_exhausted
    }
}
