#![no_main]
//! Bytes as a whole capture file, through every layer, in both modes.
use libfuzzer_sys::fuzz_target;
use rpcsift::engine::{Options, analyze_reader};

fuzz_target!(|data: &[u8]| {
    let _ = analyze_reader("fuzz", data, 0, &Options::default());
    let z = Options { zeek_compat: true, zeek_ignore: true, ..Default::default() };
    let _ = analyze_reader("fuzz", data, 0, &z);
});
