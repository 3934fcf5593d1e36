#![no_main]
//! A sequence of segments (seq, flags, payload) into one direction's reassembler.
use libfuzzer_sys::fuzz_target;
use rpcsift::capture::Timestamp;
use rpcsift::flow::tcp::{HalfLimits, HalfStream, StreamEvent};
use rpcsift::stats::Counters;

fuzz_target!(|data: &[u8]| {
    let mut h = HalfStream::new();
    let mut c = Counters::default();
    let lim = HalfLimits { max_ooo_bytes: 4096, max_ooo_segments: 16 };
    let mut delivered = 0u64;
    let mut rest = data;
    let mut n = 0i64;
    while rest.len() >= 6 {
        let seq = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let fin = rest[4] & 1 != 0;
        let len = (rest[5] as usize).min(rest.len() - 6);
        let payload = &rest[6..6 + len];
        rest = &rest[6 + len..];
        n += 1;
        h.push(Timestamp::new(n, 0), seq, payload, fin, &lim, &mut c, &mut |e| {
            if let StreamEvent::Data(_, d) = e {
                delivered += d.len() as u64;
            }
        });
        assert!(h.buffered() <= 4096 + 255);
    }
    h.flush(Timestamp::new(n + 1, 0), &mut c, &mut |_| {});
    assert_eq!(h.buffered(), 0);
});
