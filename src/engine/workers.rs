//! Reading an input once and decoding it on one or more workers.
//!
//! The reader (the calling thread) reads the capture, decodes link, IP and TCP headers once
//! (IP fragments reassembled) and hands each TCP segment, with its packet's ordinal in the
//! input, to the worker that owns its host pair ([`partition_of`]), in batches through
//! bounded queues. A segment's payload is not copied: the batch keeps a reference to the
//! shared chunk of the file it lies in (only payloads of reassembled IP datagrams, which
//! live nowhere else, are copied). Each worker owns the flow table, reassembly and protocol
//! state of its connections. Nothing a worker decides depends on packets of connections it
//! does not own (connections are numbered by their first packet's ordinal, idle expiry is
//! decided per connection from its own packets), so the output is the same whatever the
//! number of workers, and whichever engine routes the packets. With one worker there is no
//! thread and no queue: the reader calls the pipeline directly.

use super::Options;
use super::partition::partition_of;
use super::pipeline::{Decoded, Pipeline};
use super::run::FileOutput;
use super::source::PacketSource;
use crate::capture::{Chunk, PacketDecoder, TcpFlags, TcpSegment, Timestamp};
use crate::stats::Counters;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Segments per batch: large enough that queue hand-offs are rare, small enough that the
/// chunks a batch keeps alive stay few.
pub const BATCH_SEGMENTS: usize = 1024;
/// Batches queued per worker before the reader waits.
pub const QUEUE_DEPTH: usize = 4;

/// Where a segment's payload is.
#[derive(Debug, Clone, Copy)]
enum PayloadAt {
    /// In `Batch::chunks[chunk]`, at `start`.
    Chunk { chunk: u32, start: u32, len: u32 },
    /// Copied into `Batch::arena`, at `start`.
    Arena { start: u32, len: u32 },
}

/// A TCP segment's header fields, with its stamp and where its payload is.
#[derive(Debug, Clone, Copy)]
struct SegHead {
    ts: Timestamp,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    wire_payload_len: u32,
    /// The packet's ordinal in the input.
    ordinal: u64,
    payload: PayloadAt,
}

/// What the reader hands a worker at a time.
#[derive(Default)]
struct Batch {
    items: Vec<SegHead>,
    /// Chunks the payloads lie in (each once, in order of first use).
    chunks: Vec<Chunk>,
    arena: Vec<u8>,
}

impl Batch {
    fn clear(&mut self) {
        self.items.clear();
        self.chunks.clear();
        self.arena.clear();
    }

    fn push(&mut self, seg: &TcpSegment<'_>, ordinal: u64, chunk: Option<&Chunk>) {
        let payload = match chunk.and_then(|c| offset_in(c, seg.payload).map(|at| (c, at))) {
            Some((c, start)) => {
                let idx = match self.chunks.last() {
                    Some(last) if Arc::ptr_eq(last, c) => self.chunks.len() - 1,
                    _ => {
                        self.chunks.push(Arc::clone(c));
                        self.chunks.len() - 1
                    }
                };
                PayloadAt::Chunk {
                    chunk: idx as u32,
                    start: start as u32,
                    len: seg.payload.len() as u32,
                }
            }
            None => {
                let start = self.arena.len() as u32;
                self.arena.extend_from_slice(seg.payload);
                PayloadAt::Arena {
                    start,
                    len: seg.payload.len() as u32,
                }
            }
        };
        self.items.push(SegHead {
            ts: seg.ts,
            src: seg.src,
            dst: seg.dst,
            sport: seg.sport,
            dport: seg.dport,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            wire_payload_len: seg.wire_payload_len,
            ordinal,
            payload,
        });
    }

    /// Hand every segment to the pipeline.
    fn play(&self, pipeline: &mut Pipeline) {
        for h in &self.items {
            let payload: &[u8] = match h.payload {
                PayloadAt::Chunk { chunk, start, len } => self
                    .chunks
                    .get(chunk as usize)
                    .and_then(|c| c.get(start as usize..(start as usize + len as usize)))
                    .unwrap_or_default(),
                PayloadAt::Arena { start, len } => self
                    .arena
                    .get(start as usize..(start as usize + len as usize))
                    .unwrap_or_default(),
            };
            let seg = TcpSegment {
                ts: h.ts,
                src: h.src,
                dst: h.dst,
                sport: h.sport,
                dport: h.dport,
                seq: h.seq,
                ack: h.ack,
                flags: h.flags,
                payload,
                wire_payload_len: h.wire_payload_len,
            };
            pipeline.segment(&seg, h.ordinal);
        }
    }
}

/// Where `part` starts inside `chunk`, when it lies wholly inside it (plain address
/// arithmetic on the two slices: no unsafe code).
fn offset_in(chunk: &Chunk, part: &[u8]) -> Option<usize> {
    let base = chunk.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    let start = at.checked_sub(base)?;
    (start.checked_add(part.len())? <= chunk.len() && start <= u32::MAX as usize).then_some(start)
}

/// Decode one input (one capture, or several read as one) on `workers` workers.
pub(super) fn decode(
    source: &mut dyn PacketSource,
    label: &str,
    file_index: u64,
    opts: &Options,
    workers: usize,
) -> FileOutput {
    let capped;
    let opts = match opts.max_memory {
        Some(m) => {
            let mut o = opts.clone();
            o.cap_memory(m, workers);
            capped = o;
            &capped
        }
        None => opts,
    };
    let mut counters = Counters::default();
    let mut notices = Vec::new();
    let mut decoder = PacketDecoder::new(opts.verify_checksums);
    // The decoder keeps its own counters so that it and the source never need the same
    // `&mut` at once; they are merged at the end.
    let mut dec_c = Counters::default();
    let decoded: Vec<Decoded> = if workers <= 1 {
        let mut pipeline = Pipeline::new(label, file_index, opts, 1);
        source.frames(&mut counters, &mut notices, &mut |frame| {
            let ordinal = frame.index;
            decoder.decode(frame, &mut dec_c, &mut |seg| pipeline.segment(seg, ordinal));
        });
        decoder.finish(&mut dec_c);
        vec![pipeline.finish(label)]
    } else {
        std::thread::scope(|scope| {
            let mut links = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for _ in 0..workers {
                let (tx, rx) = sync_channel::<Batch>(QUEUE_DEPTH);
                let (back_tx, back_rx) = sync_channel::<Batch>(QUEUE_DEPTH + 2);
                handles
                    .push(scope.spawn(move || work(rx, back_tx, label, file_index, opts, workers)));
                links.push(Link {
                    tx: Some(tx),
                    back: back_rx,
                    batch: Batch::default(),
                });
            }
            let n = workers as u32;
            source.frames(&mut counters, &mut notices, &mut |frame| {
                let ordinal = frame.index;
                decoder.decode(frame, &mut dec_c, &mut |seg| {
                    let k = partition_of(seg.src, seg.dst, n) as usize;
                    if let Some(l) = links.get_mut(k) {
                        l.batch.push(seg, ordinal, frame.chunk);
                        if l.batch.items.len() >= BATCH_SEGMENTS {
                            l.send();
                        }
                    }
                });
            });
            decoder.finish(&mut dec_c);
            for l in links.iter_mut() {
                l.send();
                l.tx = None;
            }
            drop(links);
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    counters.merge(&dec_c);
    let mut out = FileOutput {
        counters,
        notices,
        kdcs: decoder.kdcs().clone(),
        ..FileOutput::default()
    };
    for d in decoded {
        out.counters.merge(&d.counters);
        out.notices.extend(d.notices);
        out.records.extend(d.records);
        out.runs.extend(d.runs);
    }
    out
}

/// The reader's end of one worker's queue.
struct Link {
    tx: Option<SyncSender<Batch>>,
    /// Batches the worker is done with, for reuse.
    back: Receiver<Batch>,
    batch: Batch,
}

impl Link {
    fn send(&mut self) {
        if self.batch.items.is_empty() {
            return;
        }
        let fresh = self.back.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, fresh);
        if let Some(tx) = &self.tx {
            // A worker that is gone has panicked; its join says so.
            let _ = tx.send(full);
        }
    }
}

/// One worker: its pipeline, fed batch after batch until the reader is done.
fn work(
    rx: Receiver<Batch>,
    back: SyncSender<Batch>,
    label: &str,
    file_index: u64,
    opts: &Options,
    workers: usize,
) -> Decoded {
    let mut pipeline = Pipeline::new(label, file_index, opts, workers);
    for mut batch in rx {
        batch.play(&mut pipeline);
        batch.clear();
        let _ = back.try_send(batch);
    }
    pipeline.finish(label)
}
