//! One direction of a TCP connection: sequence tracking, out-of-order buffering,
//! retransmission and overlap handling, gap detection.
//!
//! Overlap policy: **first wins**. Bytes already delivered or already buffered are never
//! replaced by later copies; a retransmission only fills holes. Conflicting overlaps are
//! counted (they are an evasion signal) but do not change the stream.
//!
//! Gaps are declared only when the buffered out-of-order data passes a limit or when the
//! stream ends (FIN, RST, end of capture) with data still waiting behind a hole. An ACK for
//! data not yet seen is *not* a gap: mirrored traffic is often reordered.

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
}

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
            return;
        }
        if start <= next {
            // In order (possibly overlapping what we already delivered).
            let skip = (next - start) as usize;
            if skip > 0 {
                counters.tcp_retransmissions += 1;
            }
            let fresh = &payload[skip..];
            self.next += fresh.len() as u64;
            self.delivered += fresh.len() as u64;
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
            out(StreamEvent::Data(ts.max(p.ts), fresh));
        }
    }

    /// Give up on the hole before the first buffered segment: report a gap and deliver on.
    fn skip_hole(
        &mut self,
        ts: Timestamp,
        counters: &mut Counters,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if let Some((&s, p)) = self.ooo.first_key_value() {
            let missing = s.saturating_sub(self.next);
            if missing > 0 {
                counters.tcp_gaps += 1;
                counters.tcp_gap_bytes += missing;
                out(StreamEvent::Gap(p.ts.min(ts), missing));
                self.next = s;
            }
            let first_ts = p.ts;
            self.drain(first_ts, counters, out);
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
}
