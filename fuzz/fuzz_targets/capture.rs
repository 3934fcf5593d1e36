//! Capture layer on arbitrary bytes: the file reader (classic pcap and pcapng, any
//! corruption) and the packet decoder on every frame it yields. Must never panic, loop or
//! allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpcsift::capture::{PacketDecoder, read_frames};
use rpcsift::stats::Counters;

fuzz_target!(|data: &[u8]| {
    let mut counters = Counters::default();
    let mut notices = Vec::new();
    // Checksum verification on: it reaches code (pseudo headers, odd lengths) that the
    // default path skips.
    let mut decoder = PacketDecoder::new(true);
    let mut decode_counters = Counters::default();
    let mut segments = 0u64;
    let _ = read_frames("fuzz", data, &mut counters, &mut notices, |frame| {
        assert!(frame.data.len() <= rpcsift::capture::reader::MAX_RECORD);
        decoder.decode(frame, &mut decode_counters, &mut |seg| {
            assert!(seg.payload.len() as u64 <= u64::from(seg.wire_payload_len));
            segments += 1;
        });
    });
    decoder.finish(&mut decode_counters);
    assert_eq!(segments, decode_counters.tcp_segments);
    // A problem that ends reading is reported once, with its offset.
    assert!(notices.len() <= 8, "{notices:?}");
    assert!(notices.iter().all(|n| n.offset.is_some()));
});
