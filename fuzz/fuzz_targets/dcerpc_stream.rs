#![no_main]
//! Framing and call tracking over a stream cut at fuzzer-chosen points, both directions.
use libfuzzer_sys::fuzz_target;
use rpcsift::dcerpc::{Association, Framer, Recovery, parse_pdu};
use rpcsift::stats::Counters;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let mut framers = [Framer::new(Recovery::Scan), Framer::new(Recovery::Scan)];
    let mut assoc = Association::new(Default::default());
    let mut fc = Counters::default();
    let mut c = Counters::default();
    for (i, chunk) in rest.chunks(cut as usize + 1).enumerate() {
        let dir = i & 1;
        if chunk.first() == Some(&0xff) {
            framers[dir].gap();
        }
        framers[dir].feed(chunk, &mut fc, &mut |raw| {
            if let Ok(p) = parse_pdu(raw) {
                assoc.on_pdu(dir, Default::default(), &p, &mut c);
            }
        });
    }
    let _ = assoc.finish(&mut c);
});
