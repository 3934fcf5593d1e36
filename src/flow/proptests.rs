//! Property: TCP reassembly gives back the sent byte stream whatever the capture did to
//! the segments: reordering, duplication, and retransmissions that overlap with the same
//! content (re-segmented differently).

use super::tcp::{HalfLimits, HalfStream, StreamEvent};
use crate::capture::Timestamp;
use crate::stats::Counters;
use proptest::prelude::*;

/// Segments (offset, length) covering `len` bytes, cut at the given points.
fn cover(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut pts: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    pts.push(0);
    pts.push(len);
    pts.sort_unstable();
    pts.dedup();
    pts.windows(2).map(|w| (w[0], w[1] - w[0])).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn reassembly_is_independent_of_order_and_retransmission(
        data in prop::collection::vec(any::<u8>(), 1..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        // Extra retransmissions: arbitrary ranges of the same stream.
        extra in prop::collection::vec((any::<usize>(), 1usize..300), 0..10),
        order in prop::collection::vec(any::<u32>(), 60),
        isn in any::<u32>(),
    ) {
        let mut segs = cover(data.len(), &cuts);
        for (start, len) in extra {
            let s = start % data.len();
            segs.push((s, len.min(data.len() - s)));
        }
        // Shuffle by sorting on random keys (duplicates stay, each in its own place).
        let mut keyed: Vec<(u32, (usize, usize))> = segs
            .iter()
            .enumerate()
            .map(|(i, s)| (order[i % order.len()].rotate_left(i as u32), *s))
            .collect();
        keyed.sort_by_key(|(k, s)| (*k, *s));
        let mut h = HalfStream::new();
        h.set_isn(isn);
        let mut c = Counters::default();
        let mut out = Vec::new();
        let mut gaps = 0u64;
        let limits = HalfLimits::default();
        for (i, (_, (off, len))) in keyed.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(*off as u32);
            h.push(
                Timestamp::new(i as i64, 0),
                seq,
                &data[*off..off + len],
                false,
                &limits,
                &mut c,
                &mut |e| match e {
                    StreamEvent::Data(_, d) => out.extend_from_slice(d),
                    StreamEvent::Gap(_, n) => gaps += n,
                },
            );
        }
        h.flush(Timestamp::new(1000, 0), &mut c, &mut |e| match e {
            StreamEvent::Data(_, d) => out.extend_from_slice(d),
            StreamEvent::Gap(_, n) => gaps += n,
        });
        prop_assert_eq!(gaps, 0);
        prop_assert_eq!(out, data);
        prop_assert_eq!(c.tcp_overlaps_conflicting, 0);
        prop_assert_eq!(h.buffered(), 0);
    }
}
