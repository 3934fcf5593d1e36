#![no_main]
//! Argument decoders over arbitrary stubs (execution and AD-attack interfaces): the first
//! byte picks the interface and operation,
//! the second the byte order and transfer syntax, the rest is the stub. Checks that no
//! decoder panics or overreads, that a decoded call always renders as a `what_ran`
//! line, that the MS-WMIO and task-XML parsers survive any bytes, and that the
//! handle tracker survives any sequence of calls.
use libfuzzer_sys::fuzz_target;
use rpcsift::args::{self, Tracker, wmi, xml};
use rpcsift::capture::Timestamp;
use rpcsift::dcerpc::{Call, CallStatus};
use rpcsift::names::Uuid;

const OPS: [(&str, u16); 118] = [
    (args::svcctl::UUID, 1),
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
    (args::svcctl::UUID, 50),
    (args::svcctl::UUID, 51),
    (args::svcctl::UUID, 60),
    (args::atsvc::UUID, 0),
    (args::tsch::UUID, 1),
    (args::tsch::UUID, 12),
    (args::tsch::UUID, 13),
    (args::tsch::UUID, 19),
    (args::wmi::UUID, 14),
    (args::wmi::UUID, 15),
    (args::wmi::UUID, 16),
    (args::wmi::UUID, 17),
    (args::wmi::UUID, 20),
    (args::wmi::UUID, 21),
    (args::wmi::UUID, 24),
    (args::wmi::UUID, 25),
    (args::wmi::LOGIN_UUID, 6),
    (args::drsr::UUID, 2),
    (args::drsr::UUID, 3),
    (args::drsr::UUID, 5),
    (args::drsr::UUID, 6),
    (args::drsr::UUID, 17),
    (args::drsr::UUID, 20),
    (args::efsr::UUID, 0),
    (args::efsr::UUID, 4),
    (args::efsr::UUID, 5),
    (args::efsr::UUID, 13),
    (args::efsr::UUID, 15),
    (args::efsr::UUID, 16),
    (args::efsr::UUID_LSA, 0),
    (args::rprn::UUID, 1),
    (args::rprn::UUID, 9),
    (args::rprn::UUID, 14),
    (args::rprn::UUID, 46),
    (args::rprn::UUID, 62),
    (args::rprn::UUID, 65),
    (args::rprn::UUID, 69),
    (args::rprn::UUID, 89),
    (args::rprn::UUID_PAR, 39),
    (args::rprn::UUID_PAR, 44),
    (args::rprn::UUID_PAR, 51),
    (args::rprn::UUID_PAR, 62),
    (args::rprn::UUID_PAR, 63),
    (args::dfsnm::UUID, 12),
    (args::dfsnm::UUID, 13),
    (args::fsrvp::UUID, 8),
    (args::fsrvp::UUID, 9),
    (args::even::UUID, 0),
    (args::even::UUID, 7),
    (args::even::UUID, 9),
    (args::even::UUID, 12),
    (args::even::UUID, 14),
    (args::even::UUID, 16),
    (args::even::UUID_EVEN6, 6),
    (args::even::UUID_EVEN6, 21),
    (args::nrpc::UUID, 4),
    (args::nrpc::UUID, 5),
    (args::nrpc::UUID, 6),
    (args::nrpc::UUID, 15),
    (args::nrpc::UUID, 26),
    (args::nrpc::UUID, 30),
    (args::nrpc::UUID, 31),
    (args::nrpc::UUID, 42),
    (args::nrpc::UUID, 45),
    (args::nrpc::UUID, 46),
    (args::rrp::UUID, 2),
    (args::rrp::UUID, 6),
    (args::rrp::UUID, 7),
    (args::rrp::UUID, 8),
    (args::rrp::UUID, 13),
    (args::rrp::UUID, 15),
    (args::rrp::UUID, 16),
    (args::rrp::UUID, 18),
    (args::rrp::UUID, 19),
    (args::rrp::UUID, 20),
    (args::rrp::UUID, 22),
    (args::rrp::UUID, 31),
    (args::rrp::UUID, 35),
    (args::samr::UUID, 12),
    (args::samr::UUID, 19),
    (args::samr::UUID, 22),
    (args::samr::UUID, 27),
    (args::samr::UUID, 31),
    (args::samr::UUID, 34),
    (args::samr::UUID, 35),
    (args::samr::UUID, 37),
    (args::samr::UUID, 38),
    (args::samr::UUID, 50),
    (args::samr::UUID, 52),
    (args::samr::UUID, 54),
    (args::samr::UUID, 55),
    (args::samr::UUID, 58),
    (args::samr::UUID, 63),
    (args::samr::UUID, 73),
    (args::lsad::UUID, 28),
    (args::lsad::UUID, 30),
    (args::lsad::UUID, 37),
    (args::lsad::UUID, 43),
    (args::bkrp::UUID, 0),
    (args::dcom::ACTIVATOR_UUID, 3),
    (args::dcom::ACTIVATOR_UUID, 4),
    (args::dcom::ACTIVATION_UUID, 0),
    (args::dcom::DISPATCH_UUID, 5),
    (args::dcom::DISPATCH_UUID, 6),
    (args::dcom::CLASS_FACTORY_UUID, 3),
    (args::dcom::REM_UNKNOWN2_UUID, 3),
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
        let _ = args::what(&a);
    }
    let _ = args::dcom::instantiation_info(stub);
    let _ = args::dcom::objrefs(stub);
    let half = stub.len() / 2;
    let _ = args::dcom::rem_query_interface(&stub[..half], &stub[half..], le);
    let _ = args::coerce::unc(&String::from_utf8_lossy(stub));
    let _ = wmi::parse_encoding_unit(stub);
    let _ = wmi::parse_objref(stub);
    let _ = xml::scan_task(&String::from_utf8_lossy(stub));
    // The same bytes as a request then a response of every operation, through one tracker,
    // every other call on the object whose IPID is the stub's first 16 bytes (objects the
    // responses hand out are linked across calls).
    let mut t = Tracker::new();
    let mut links = args::ServiceLinks::default();
    let none = std::net::IpAddr::from([0u8; 4]);
    let ipid = stub
        .get(..16)
        .map(|b| Uuid::from_wire(b.try_into().expect("16 bytes"), true));
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
            object: ipid.filter(|_| i % 2 == 1),
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
            resp_stub: stub.to_vec(),
            ndr64,
            partial: false,
        };
        let d = t.decode_linked(&call, &mut links, (none, none));
        assert_eq!(d.args.is_some(), d.status == args::ArgsStatus::Decoded);
    }
});
