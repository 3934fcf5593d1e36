//! One direction of a TCP connection: sequence tracking, out-of-order buffering,
//! retransmission and overlap handling, gap detection.
//!
//! Overlap policy: **first wins**. Bytes already delivered or already buffered are never
//! replaced by later copies; a retransmission only fills holes. Conflicting overlaps are
//! counted (they are an evasion signal) but do not change the stream: against buffered
//! segments always, against delivered bytes within the last [`RECENT_BYTES`].
//!
//! Gaps are declared when the buffered out-of-order data passes a limit, when the stream
//! ends (FIN, RST, end of capture) with data still waiting behind a hole, and when the peer
//! acknowledges bytes never seen ([`HalfStream::ack_received`]). When that last rule
//! applies is the flow table's choice (`FlowLimits::ack_gap_after`): Zeek applies it at
//! once (`--zeek-compat`); the accurate mode waits a few segments first, as mirrored
//! traffic is often reordered. Either way data after a lost segment reaches the consumer
//! soon after the peer acknowledges it, in step with the other direction, instead of at
//! stream end.

use crate::capture::Timestamp;
use crate::stats::Counters;
use std::collections::BTreeMap;

/// What the stream hands to its consumer, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// In-order bytes, with the time of the packet that made them available.
    Data(Timestamp, &'a [u8]),
    /// Bytes that will never arrive (lost in capture). The consumer must resynchronise.
    Gap(Timestamp, u64),
}

/// Limits for one direction.
#[derive(Debug, Clone, Copy)]
pub struct HalfLimits {
    /// Out-of-order bytes buffered before we give up waiting for the hole to fill.
    pub max_ooo_bytes: usize,
    /// Out-of-order segments buffered before we give up waiting.
    pub max_ooo_segments: usize,
}

impl Default for HalfLimits {
    fn default() -> Self {
        HalfLimits {
            max_ooo_bytes: 1 << 20,
            max_ooo_segments: 1024,
        }
    }
}

struct Pending {
    ts: Timestamp,
    data: Vec<u8>,
}

/// Reassembly state of one direction. Offsets are 64-bit, relative to the first sequence
/// number seen, so wrap-around of the 32-bit sequence space is handled.
#[derive(Default)]
pub struct HalfStream {
    /// Sequence number corresponding to relative offset 0.
    base: Option<u32>,
    /// Relative offset of the next byte expected in order.
    next: u64,
    /// Highest relative offset seen so far (for unwrapping).
    high: u64,
    ooo: BTreeMap<u64, Pending>,
    ooo_bytes: usize,
    /// FIN seen: its relative offset.
    pub fin_at: Option<u64>,
    /// Total bytes delivered in order.
    pub delivered: u64,
    /// The last bytes delivered (at least [`RECENT_BYTES`] once that many were, at most
    /// twice that), ending at `next`: what a retransmission of already-delivered data is
    /// compared against.
    recent: Vec<u8>,
}

/// Delivered bytes kept per direction to spot retransmissions that carry different
/// content (an evasion signal): about one full-size segment.
pub const RECENT_BYTES: usize = 2048;

impl HalfStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes currently held for out-of-order delivery (for memory accounting).
    pub fn buffered(&self) -> usize {
        self.ooo_bytes
    }

    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Set the initial sequence number from a SYN (the SYN occupies one sequence number).
    pub fn set_isn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// Map a 32-bit sequence number to a 64-bit relative offset close to what we have seen.
    fn unwrap(&self, seq: u32) -> i64 {
        let base = self.base.unwrap_or(seq);
        let rel32 = seq.wrapping_sub(base);
        // Choose the 64-bit value congruent to rel32 nearest to `high`.
        let high = self.high as i64;
        let cand = (high & !0xffff_ffff) | rel32 as i64;
        let span = 1i64 << 32;
        let mut best = cand;
        for c in [cand - span, cand + span] {
            if (c - high).abs() < (best - high).abs() {
                best = c;
            }
        }
        best
    }

    /// Feed one segment. Calls `out` for every event the segment makes available.
    #[allow(clippy::too_many_arguments)] // one hot call site; a struct would only add a copy
    pub fn push(
        &mut self,
        ts: Timestamp,
        seq: u32,
        payload: &[u8],
        fin: bool,
        limits: &HalfLimits,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if self.base.is_none() {
            if payload.is_empty() && !fin {
                return;
            }
            // Mid-stream start: the first byte we see is offset 0.
            self.base = Some(seq);
        }
        let start = self.unwrap(seq);
        let end = start + payload.len() as i64;
        if fin && self.fin_at.is_none() && end >= 0 {
            self.fin_at = Some(end as u64);
        }
        if payload.is_empty() {
            return;
        }
        if end > 0 && end as u64 > self.high {
            self.high = end as u64;
        }
        let next = self.next as i64;
        if end <= next {
            counters.tcp_retransmissions += 1;
            self.compare_delivered(start, payload, counters);
            return;
        }
        if start <= next {
            // In order (possibly overlapping what we already delivered).
            let skip = (next - start) as usize;
            if skip > 0 {
                counters.tcp_retransmissions += 1;
                self.compare_delivered(start, &payload[..skip], counters);
            }
            let fresh = &payload[skip..];
            self.next += fresh.len() as u64;
            self.delivered += fresh.len() as u64;
            self.remember(fresh);
            out(StreamEvent::Data(ts, fresh));
            self.drain(ts, counters, out);
            return;
        }
        // Out of order: buffer it, first wins on overlaps with what is buffered.
        self.buffer(ts, start as u64, payload, counters);
        if self.ooo_bytes > limits.max_ooo_bytes || self.ooo.len() > limits.max_ooo_segments {
            counters.tcp_ooo_limit += 1;
            self.skip_hole(ts, counters, out);
        }
    }

    /// Keep the tail of what was just delivered (see [`RECENT_BYTES`]).
    fn remember(&mut self, fresh: &[u8]) {
        if fresh.len() >= RECENT_BYTES {
            self.recent.clear();
            self.recent
                .extend_from_slice(&fresh[fresh.len() - RECENT_BYTES..]);
            return;
        }
        // Keep between RECENT_BYTES and twice that: the front is dropped only when the
        // buffer is full, so each delivered byte is moved about once (amortised).
        if self.recent.len() + fresh.len() > 2 * RECENT_BYTES {
            let keep = RECENT_BYTES.saturating_sub(fresh.len());
            let cut = self.recent.len() - keep.min(self.recent.len());
            self.recent.drain(..cut);
        }
        self.recent.extend_from_slice(fresh);
    }

    /// A retransmission of bytes already delivered, starting at relative offset `start`:
    /// compare it with the delivered bytes still remembered; a difference is counted.
    fn compare_delivered(&mut self, start: i64, data: &[u8], counters: &mut Counters) {
        let recent_start = self.next as i64 - self.recent.len() as i64;
        let from = start.max(recent_start);
        let to = (start + data.len() as i64).min(self.next as i64);
        if from >= to {
            return;
        }
        let old = &self.recent[(from - recent_start) as usize..(to - recent_start) as usize];
        let new = &data[(from - start) as usize..(to - start) as usize];
        if old != new {
            counters.tcp_overlaps_conflicting += 1;
        }
    }

    fn buffer(&mut self, ts: Timestamp, start: u64, payload: &[u8], counters: &mut Counters) {
        // Cut the new segment into pieces not covered by existing buffered segments.
        let mut pos = start;
        let end = start + payload.len() as u64;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        // Segments that may overlap: those starting before `end`.
        let overlapping: Vec<(u64, u64)> = self
            .ooo
            .range(..end)
            .rev()
            .take_while(|(s, p)| *s + p.data.len() as u64 > start || **s >= start)
            .map(|(s, p)| (*s, *s + p.data.len() as u64))
            .collect();
        let mut overlapping = overlapping;
        overlapping.sort_unstable();
        let mut dup = false;
        for (s, e) in overlapping {
            if e <= pos {
                continue;
            }
            if s > pos {
                pieces.push((pos, s.min(end)));
            }
            // Compare the overlapping part to spot conflicting retransmissions.
            let os = s.max(start);
            let oe = e.min(end);
            if os < oe {
                dup = true;
                if let Some(p) = self.ooo.get(&s) {
                    let a = &p.data[(os - s) as usize..(oe - s) as usize];
                    let b = &payload[(os - start) as usize..(oe - start) as usize];
                    if a != b {
                        counters.tcp_overlaps_conflicting += 1;
                    }
                }
            }
            pos = pos.max(e);
            if pos >= end {
                break;
            }
        }
        if pos < end {
            pieces.push((pos, end));
        }
        if dup {
            counters.tcp_retransmissions += 1;
        }
        for (s, e) in pieces {
            let data = payload[(s - start) as usize..(e - start) as usize].to_vec();
            self.ooo_bytes += data.len();
            self.ooo.insert(s, Pending { ts, data });
        }
    }

    /// Deliver buffered segments that are now in order.
    fn drain(
        &mut self,
        ts: Timestamp,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        while let Some((&s, _)) = self.ooo.first_key_value() {
            if s > self.next {
                break;
            }
            let Some((s, p)) = self.ooo.pop_first() else {
                break;
            };
            self.ooo_bytes -= p.data.len();
            let e = s + p.data.len() as u64;
            if e <= self.next {
                counters.tcp_retransmissions += 1;
                continue;
            }
            let skip = (self.next - s) as usize;
            let fresh = &p.data[skip..];
            self.next = e;
            self.delivered += fresh.len() as u64;
            self.remember(fresh);
            out(StreamEvent::Data(ts.max(p.ts), fresh));
        }
    }

    /// Does the peer's `ack` acknowledge bytes of this direction not delivered yet (and
    /// plausibly: less than 1 GiB ahead, not just the FIN)?
    pub fn acks_unseen(&self, ack: u32) -> bool {
        if self.base.is_none() {
            return false;
        }
        let rel = self.unwrap(ack);
        let mut upto = rel.max(0) as u64;
        if let Some(f) = self.fin_at {
            upto = upto.min(f);
        }
        upto > self.next && upto - self.next <= 1 << 30
    }

    /// Zeek's `TCP_Reassembler::AckReceived`, for the `--zeek-compat` mode only: the peer
    /// acknowledged `ack`, so every byte of this direction below it that has not arrived
    /// never will. Buffered segments below `ack` are delivered with a gap before each hole,
    /// then a gap runs up to `ack`. A FIN's sequence number is not data, so an ACK past
    /// the FIN is capped there. Returns nothing to do before the stream has started.
    pub fn ack_received(
        &mut self,
        ts: Timestamp,
        ack: u32,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if self.base.is_none() {
            return;
        }
        let rel = self.unwrap(ack);
        if rel <= self.next as i64 {
            return;
        }
        let mut upto = rel as u64;
        if let Some(f) = self.fin_at {
            upto = upto.min(f);
        }
        // Implausible acknowledgements (more than 1 GiB ahead) are ignored, as a bogus
        // ACK field would otherwise erase the rest of the stream.
        if upto <= self.next || upto - self.next > 1 << 30 {
            return;
        }
        while let Some((s, pts)) = self.ooo.first_key_value().map(|(&s, p)| (s, p.ts)) {
            if s >= upto {
                break;
            }
            self.jump_to(s, pts.min(ts), counters, out);
            self.drain(pts, counters, out);
        }
        if upto > self.next {
            self.jump_to(upto, ts, counters, out);
            self.drain(ts, counters, out);
        }
    }

    /// Declare the bytes from `next` up to `to` lost (a gap event) and continue from `to`.
    fn jump_to(
        &mut self,
        to: u64,
        ts: Timestamp,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if to <= self.next {
            return;
        }
        let missing = to - self.next;
        counters.tcp_gaps += 1;
        counters.tcp_gap_bytes += missing;
        out(StreamEvent::Gap(ts, missing));
        self.next = to;
        self.high = self.high.max(to);
        // `recent` holds the bytes just before `next`: after a jump there are none.
        self.recent.clear();
    }

    /// Give up on the hole before the first buffered segment: report a gap and deliver on.
    fn skip_hole(
        &mut self,
        ts: Timestamp,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if let Some((s, pts)) = self.ooo.first_key_value().map(|(&s, p)| (s, p.ts)) {
            self.jump_to(s, pts.min(ts), counters, out);
            self.drain(pts, counters, out);
        }
    }

    /// End of stream (FIN/RST/end of capture/eviction): flush everything still buffered,
    /// declaring a gap for each hole.
    pub fn flush(
        &mut self,
        ts: Timestamp,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        while !self.ooo.is_empty() {
            self.skip_hole(ts, counters, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(n: i64) -> Timestamp {
        Timestamp::new(n, 0)
    }

    fn run(segs: &[(u32, &[u8])]) -> (Vec<u8>, Vec<u64>, Counters) {
        let mut h = HalfStream::new();
        h.set_isn(999);
        let mut c = Counters::default();
        let mut data = Vec::new();
        let mut gaps = Vec::new();
        let lim = HalfLimits::default();
        for (i, (seq, p)) in segs.iter().enumerate() {
            h.push(
                ts(i as i64),
                *seq,
                p,
                false,
                &lim,
                &mut c,
                &mut |e| match e {
                    StreamEvent::Data(_, d) => data.extend_from_slice(d),
                    StreamEvent::Gap(_, n) => gaps.push(n),
                },
            );
        }
        h.flush(ts(100), &mut c, &mut |e| match e {
            StreamEvent::Data(_, d) => data.extend_from_slice(d),
            StreamEvent::Gap(_, n) => gaps.push(n),
        });
        (data, gaps, c)
    }

    #[test]
    fn in_order() {
        let (d, g, _) = run(&[(1000, b"abc"), (1003, b"def")]);
        assert_eq!(d, b"abcdef");
        assert!(g.is_empty());
    }

    #[test]
    fn reordered_and_retransmitted() {
        let (d, g, c) = run(&[
            (1003, b"def"),
            (1000, b"abc"),
            (1000, b"abc"),
            (1002, b"cdefgh"),
        ]);
        assert_eq!(d, b"abcdefgh");
        assert!(g.is_empty());
        assert!(c.tcp_retransmissions >= 2);
        assert_eq!(c.tcp_overlaps_conflicting, 0);
    }

    #[test]
    fn first_wins_on_conflicting_overlap() {
        let (d, _, c) = run(&[(1003, b"def"), (1004, b"XYZw"), (1000, b"abc")]);
        assert_eq!(d, b"abcdefZw");
        assert_eq!(c.tcp_overlaps_conflicting, 1);
    }

    #[test]
    fn gap_flushed_at_end() {
        let (d, g, c) = run(&[(1000, b"abc"), (1006, b"ghi")]);
        assert_eq!(d, b"abcghi");
        assert_eq!(g, vec![3]);
        assert_eq!(c.tcp_gaps, 1);
        assert_eq!(c.tcp_gap_bytes, 3);
    }

    #[test]
    fn sequence_wraparound() {
        let mut h = HalfStream::new();
        h.set_isn(u32::MAX - 2); // first data byte at u32::MAX - 1
        let mut c = Counters::default();
        let mut data = Vec::new();
        let lim = HalfLimits::default();
        let mut sink = |e: StreamEvent<'_>| {
            if let StreamEvent::Data(_, d) = e {
                data.extend_from_slice(d)
            }
        };
        h.push(ts(0), u32::MAX - 1, b"ab", false, &lim, &mut c, &mut sink);
        h.push(ts(1), 2, b"ef", false, &lim, &mut c, &mut sink);
        h.push(ts(2), 0, b"cd", false, &lim, &mut c, &mut sink);
        assert_eq!(data, b"abcdef");
    }

    #[test]
    fn ooo_limit_declares_gap() {
        let mut h = HalfStream::new();
        h.set_isn(0);
        let mut c = Counters::default();
        let lim = HalfLimits {
            max_ooo_bytes: 4,
            max_ooo_segments: 10,
        };
        let mut events = Vec::new();
        let mut sink = |e: StreamEvent<'_>| match e {
            StreamEvent::Data(_, d) => events.push(format!("D{}", String::from_utf8_lossy(d))),
            StreamEvent::Gap(_, n) => events.push(format!("G{n}")),
        };
        h.push(ts(0), 1, b"ab", false, &lim, &mut c, &mut sink);
        h.push(ts(1), 5, b"ef", false, &lim, &mut c, &mut sink);
        h.push(ts(2), 7, b"ghi", false, &lim, &mut c, &mut sink);
        assert_eq!(events, vec!["Dab", "G2", "Def", "Dghi"]);
        assert_eq!(c.tcp_ooo_limit, 1);
    }
    /// Events of one half stream as a readable trace: `D<bytes>@<time>` and `G<len>@<time>`.
    fn trace(events: &mut Vec<String>) -> impl FnMut(StreamEvent<'_>) + '_ {
        move |e| match e {
            StreamEvent::Data(t, d) => {
                events.push(format!("D{}@{}", String::from_utf8_lossy(d), t.secs))
            }
            StreamEvent::Gap(t, n) => events.push(format!("G{n}@{}", t.secs)),
        }
    }

    #[test]
    fn ack_past_a_hole_declares_the_gap_at_once() {
        let mut h = HalfStream::new();
        h.set_isn(999);
        let mut c = Counters::default();
        let lim = HalfLimits::default();
        let mut ev = Vec::new();
        h.push(
            ts(1),
            1000,
            b"abc",
            false,
            &lim,
            &mut c,
            &mut trace(&mut ev),
        );
        // 1003..1006 lost; 1006.. and 1012.. buffered behind holes.
        h.push(
            ts(2),
            1006,
            b"ghi",
            false,
            &lim,
            &mut c,
            &mut trace(&mut ev),
        );
        h.push(
            ts(3),
            1012,
            b"mno",
            false,
            &lim,
            &mut c,
            &mut trace(&mut ev),
        );
        assert_eq!(ev, ["Dabc@1"]);
        // An ACK below what was delivered changes nothing.
        h.ack_received(ts(4), 1002, &mut c, &mut trace(&mut ev));
        assert_eq!(ev.len(), 1);
        // ACK 1010: the hole before "ghi" is a gap, "ghi" is delivered, and 1009..1010
        // (acknowledged, never seen) is a second gap; "mno" stays buffered.
        h.ack_received(ts(5), 1010, &mut c, &mut trace(&mut ev));
        assert_eq!(ev, ["Dabc@1", "G3@2", "Dghi@2", "G1@5"]);
        assert_eq!(h.buffered(), 3);
        // The hole 1010..1012 is filled by nobody; the next in-order byte is 1012.
        h.ack_received(ts(6), 1015, &mut c, &mut trace(&mut ev));
        assert_eq!(ev[4..], ["G2@3", "Dmno@3"]);
        assert_eq!((c.tcp_gaps, c.tcp_gap_bytes), (3, 6));
        // Data arriving late for an acknowledged range is old: dropped as retransmission.
        h.push(
            ts(7),
            1003,
            b"def",
            false,
            &lim,
            &mut c,
            &mut trace(&mut ev),
        );
        assert_eq!(ev.len(), 6);
        h.push(ts(8), 1015, b"pq", false, &lim, &mut c, &mut trace(&mut ev));
        assert_eq!(ev[6..], ["Dpq@8"]);
    }

    #[test]
    fn ack_of_the_fin_is_not_a_gap_and_bogus_acks_are_ignored() {
        let mut h = HalfStream::new();
        h.set_isn(99);
        let mut c = Counters::default();
        let lim = HalfLimits::default();
        let mut ev = Vec::new();
        h.push(ts(1), 100, b"xy", true, &lim, &mut c, &mut trace(&mut ev));
        // The FIN takes sequence number 102; its ACK is 103.
        h.ack_received(ts(2), 103, &mut c, &mut trace(&mut ev));
        assert_eq!(ev, ["Dxy@1"]);
        let mut h = HalfStream::new();
        h.set_isn(99);
        h.push(ts(1), 100, b"xy", false, &lim, &mut c, &mut trace(&mut ev));
        h.ack_received(ts(2), 100 + (1 << 31), &mut c, &mut trace(&mut ev));
        assert_eq!(ev, ["Dxy@1", "Dxy@1"]);
        // Nothing seen yet in this direction (mid-stream): no reference point, no gap.
        let mut h = HalfStream::new();
        h.ack_received(ts(3), 5000, &mut c, &mut trace(&mut ev));
        assert_eq!(ev.len(), 2);
        assert_eq!(c.tcp_gaps, 0);
    }

    #[test]
    fn retransmission_of_delivered_bytes_with_other_content_is_counted() {
        // Same bytes again: a plain retransmission.
        let (d, _, c) = run(&[(1000, b"abcdef"), (1002, b"cd")]);
        assert_eq!(d, b"abcdef");
        assert_eq!((c.tcp_retransmissions, c.tcp_overlaps_conflicting), (1, 0));
        // Different bytes over delivered data, fully and partly: first wins, both counted.
        let (d, _, c) = run(&[(1000, b"abcdef"), (1002, b"XY"), (1004, b"eZgh")]);
        assert_eq!(d, b"abcdefgh");
        assert_eq!(c.tcp_overlaps_conflicting, 2);
        // Beyond the remembered window the comparison is skipped, not guessed.
        let big = vec![b'a'; RECENT_BYTES + 10];
        let (d, _, c) = run(&[(1000, &big), (1000, b"zz")]);
        assert_eq!(d.len(), RECENT_BYTES + 10);
        assert_eq!(c.tcp_overlaps_conflicting, 0);
    }
}
