//! The packet-stream seam: where packets come from. The decoder side of a run takes a
//! stream of captured frames (time, link type, bytes) from any [`PacketSource`]: capture
//! files and standard input here, packets replayed from memory (tests), Arrow batches (the
//! Python package, distributed engines).

use crate::capture::{self, ByteCounter, Frame, PacketDecoder, Timestamp};
use crate::flow::table::{ConnMeta, FlowApp};
use crate::flow::{FlowLimits, FlowTable};
use crate::stats::{Counters, Notice};
use std::path::PathBuf;

/// A stream of captured frames, delivered in capture order.
pub trait PacketSource {
    /// Deliver every frame to `sink`; count what was read (files, packets, bytes) and note
    /// what could not be.
    fn frames(
        &mut self,
        counters: &mut Counters,
        notices: &mut Vec<Notice>,
        sink: &mut dyn FnMut(&Frame<'_>),
    );
}

/// Read one capture into the frame sink; a read error is counted and noted.
fn read_one(
    label: &str,
    input: impl std::io::Read,
    counters: &mut Counters,
    notices: &mut Vec<Notice>,
    sink: &mut dyn FnMut(&Frame<'_>),
) {
    counters.files += 1;
    if let Err(e) = capture::read_frames(label, input, counters, notices, sink) {
        counters.files_failed += 1;
        notices.push(Notice::error(label, e.offset(), e.cause()));
    }
}

/// One capture file, or standard input for `-` (plain or gzip).
pub struct CaptureFile {
    pub path: PathBuf,
    pub progress: Option<ByteCounter>,
}

impl PacketSource for CaptureFile {
    fn frames(
        &mut self,
        counters: &mut Counters,
        notices: &mut Vec<Notice>,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) {
        let label = label_of(&self.path);
        let opened = if capture::is_stdin(&self.path) {
            Ok(capture::open_stdin(self.progress.clone()))
        } else {
            capture::open_capture_counted(&self.path, self.progress.clone())
        };
        match opened {
            Ok(r) => read_one(&label, r, counters, notices, sink),
            Err(e) => {
                counters.files += 1;
                counters.files_failed += 1;
                notices.push(Notice::error(label, e.offset(), e.cause()));
            }
        }
    }
}

/// What records call a capture: its path, or `stdin`.
pub fn label_of(path: &std::path::Path) -> String {
    if capture::is_stdin(path) {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// Several files as one continuous capture (rotated captures), in the order given, so a
/// connection spanning two files is decoded whole. Files whose time ranges overlap are
/// read one after the other, not interleaved; a notice says so. A frame's ordinal
/// (`Frame::index`) is its frame number in its file with the file's rank in the high bits
/// ([`merged_ordinal`]), so that anyone can number the packets of one file alone.
pub struct CaptureFiles {
    pub paths: Vec<PathBuf>,
    pub progress: Option<ByteCounter>,
}

impl PacketSource for CaptureFiles {
    fn frames(
        &mut self,
        counters: &mut Counters,
        notices: &mut Vec<Notice>,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) {
        let mut last_ts: Option<Timestamp> = None;
        for (rank, p) in self.paths.iter().enumerate() {
            let name = p.display().to_string();
            let opened = if capture::is_stdin(p) {
                Ok(capture::open_stdin(self.progress.clone()))
            } else {
                capture::open_capture_counted(p, self.progress.clone())
            };
            match opened {
                Ok(r) => {
                    let mut first_ts = None;
                    let mut max_ts = last_ts;
                    read_one(&name, r, counters, notices, &mut |f: &Frame<'_>| {
                        first_ts.get_or_insert(f.ts);
                        max_ts = Some(max_ts.map_or(f.ts, |m| m.max(f.ts)));
                        sink(&Frame {
                            index: merged_ordinal(rank, f.index),
                            ..*f
                        })
                    });
                    if let (Some(f), Some(l)) = (first_ts, last_ts)
                        && f < l
                    {
                        notices.push(Notice::note(
                            name.clone(),
                            None,
                            "starts before the end of the previous file: --merge reads files \
                             one after the other, it does not interleave them",
                        ));
                    }
                    last_ts = max_ts;
                }
                Err(e) => {
                    counters.files += 1;
                    counters.files_failed += 1;
                    notices.push(Notice::error(name, e.offset(), e.cause()));
                }
            }
        }
    }
}

/// Bits of a merged ordinal that hold the frame number (files of up to 2^40 frames).
pub const FRAME_BITS: u32 = 40;

/// The ordinal of frame `index` (1-based) of the file at `rank` in a merged capture.
pub fn merged_ordinal(rank: usize, index: u64) -> u64 {
    (rank as u64) << FRAME_BITS | (index & ((1 << FRAME_BITS) - 1))
}

/// A capture from any reader (already decompressed, or gzip handled by the caller).
pub struct CaptureReader<R> {
    pub label: String,
    pub input: Option<R>,
}

impl<R: std::io::Read> PacketSource for CaptureReader<R> {
    fn frames(
        &mut self,
        counters: &mut Counters,
        notices: &mut Vec<Notice>,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) {
        if let Some(r) = self.input.take() {
            read_one(&self.label, r, counters, notices, sink);
        }
    }
}

/// One captured packet held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Its ordinal in its input: the 1-based frame number (see [`merged_ordinal`] for
    /// rotated files). Connections are numbered by their first packet's ordinal.
    pub ordinal: u64,
    pub ts: Timestamp,
    /// LINKTYPE_* of the frame.
    pub linktype: u32,
    pub data: Vec<u8>,
}

/// Packets replayed from memory, in the order given (a test source; other engines build
/// theirs the same way). To decode as a capture file would, give them in ordinal order.
pub struct MemoryPackets {
    pub packets: Vec<Packet>,
}

impl PacketSource for MemoryPackets {
    fn frames(
        &mut self,
        counters: &mut Counters,
        _notices: &mut Vec<Notice>,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) {
        for p in &self.packets {
            counters.packets += 1;
            counters.bytes += p.data.len() as u64;
            sink(&Frame {
                ts: p.ts,
                linktype: p.linktype,
                data: &p.data,
                orig_len: u32::try_from(p.data.len()).unwrap_or(u32::MAX),
                offset: 0,
                index: p.ordinal,
                chunk: None,
            });
        }
    }
}

/// Any per-connection consumer over a packet source, on one thread: frames decoded to TCP
/// segments, reassembled per connection, each connection's events handed to the app that
/// `make` creates for it (what the engine does with its protocol sessions, for tools,
/// tests and benchmarks that want the streams themselves). Returns what the source, the
/// decoder and the flow table counted, and the source's notices.
pub fn reassemble<A: FlowApp>(
    source: &mut dyn PacketSource,
    limits: FlowLimits,
    likely_server_port: fn(u16) -> bool,
    make: impl FnMut(&ConnMeta) -> A,
) -> (Counters, Vec<Notice>) {
    let mut table = FlowTable::new(limits, likely_server_port, make);
    let mut decoder = PacketDecoder::new(false);
    let (mut counters, mut dec_c, mut tab_c) = (
        Counters::default(),
        Counters::default(),
        Counters::default(),
    );
    let mut notices = Vec::new();
    source.frames(&mut counters, &mut notices, &mut |f| {
        let ordinal = f.index;
        decoder.decode(f, &mut dec_c, &mut |seg| {
            table.process_at(seg, ordinal, &mut tab_c)
        });
    });
    decoder.finish(&mut dec_c);
    table.finish_all(&mut tab_c);
    counters.merge(&dec_c);
    counters.merge(&tab_c);
    (counters, notices)
}
