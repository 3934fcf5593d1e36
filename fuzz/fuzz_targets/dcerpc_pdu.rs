#![no_main]
//! One PDU parse, and the Zeek emulation's view of it.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rpcsift::dcerpc::pdu::plausible_header(data);
    if let Ok(p) = rpcsift::dcerpc::parse_pdu(data) {
        let mut a = rpcsift::dcerpc::Association::new(Default::default());
        let mut c = rpcsift::stats::Counters::default();
        a.on_pdu(0, Default::default(), &p, &mut c);
        let _ = a.finish(&mut c);
    }
    let mut an = rpcsift::zeek::Analyzer::new();
    let mut s = rpcsift::zeek::ConnScript::new(true);
    an.on_pdu(&mut s, 0, 0, 0.0, data);
    s.remove(1.0);
});
