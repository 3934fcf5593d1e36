#![no_main]
//! Argument decoders over arbitrary stubs: the first byte picks the interface and operation,
//! the second the byte order and transfer syntax, the rest is the stub. Checks that no
//! decoder panics or overreads, that a decoded call always renders as a `what_ran`
//! line, that the MS-WMIO and task-XML parsers survive any bytes, and that the
//! handle tracker survives any sequence of calls.
use libfuzzer_sys::fuzz_target;
use rpcsift::args::{self, Tracker, wmi, xml};
use rpcsift::capture::Timestamp;
use rpcsift::dcerpc::{Call, CallStatus};
use rpcsift::names::Uuid;

const OPS: [(&str, u16); 19] = [
    (args::svcctl::UUID, 2),
    (args::svcctl::UUID, 11),
    (args::svcctl::UUID, 12),
    (args::svcctl::UUID, 15),
    (args::svcctl::UUID, 16),
    (args::svcctl::UUID, 19),
    (args::svcctl::UUID, 23),
    (args::svcctl::UUID, 24),
    (args::svcctl::UUID, 27),
    (args::svcctl::UUID, 31),
    (args::svcctl::UUID, 45),
    (args::svcctl::UUID, 60),
    (args::atsvc::UUID, 0),
    (args::tsch::UUID, 1),
    (args::tsch::UUID, 12),
    (args::tsch::UUID, 13),
    (args::tsch::UUID, 19),
    (args::wmi::UUID, 24),
    (args::wmi::UUID, 25),
];

fuzz_target!(|data: &[u8]| {
    let [sel, mode, stub @ ..] = data else { return };
    let (uuid, opnum) = OPS[*sel as usize % OPS.len()];
    let Some(uuid) = Uuid::parse(uuid) else {
        return;
    };
    let le = mode & 1 == 0;
    let ndr64 = mode & 2 != 0;
    if let Some(Ok(a)) = args::decode_request(&uuid, opnum, stub, le, ndr64) {
        let _ = args::what_ran(&a);
    }
    let _ = wmi::parse_encoding_unit(stub);
    let _ = wmi::parse_objref(stub);
    let _ = xml::scan_task(&String::from_utf8_lossy(stub));
    // The same bytes as a request then a response of every operation, through one tracker.
    let mut t = Tracker::new();
    for (i, (u, op)) in OPS.iter().enumerate() {
        let call = Call {
            ts: Timestamp::new(i as i64, 0),
            resp_ts: None,
            client_dir: 0,
            call_id: i as u32,
            ctx_id: 0,
            opnum: *op,
            uuid: Uuid::parse(u),
            if_version: None,
            object: None,
            status: CallStatus::Ok,
            sec_addr: None,
            auth_type: None,
            auth_level: None,
            encrypted: false,
            decrypted: None,
            big_endian: !le,
            req_frags: 1,
            req_stub_len: stub.len() as u64,
            resp_stub_len: stub.len() as u64,
            stub: stub.to_vec(),
            resp_stub: stub.iter().take(64).copied().collect(),
            ndr64,
            partial: false,
        };
        let d = t.decode(&call);
        assert_eq!(d.args.is_some(), d.status == args::ArgsStatus::Decoded);
    }
});
