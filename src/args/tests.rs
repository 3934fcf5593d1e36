//! Tracker, status and what_ran tests on hand-built calls.

use super::ndr::build::Stub;
use super::svcctl::tests::{SCM, SVC, create_stub, start_stub};
use super::*;
use crate::capture::Timestamp;

fn call(uuid: &str, opnum: u16, call_id: u32, le: bool, stub: Vec<u8>, resp: Vec<u8>) -> Call {
    Call {
        ts: Timestamp::new(1000 + call_id as i64, 0),
        resp_ts: Some(Timestamp::new(1000 + call_id as i64, 5000)),
        client_dir: 0,
        call_id,
        ctx_id: 0,
        opnum,
        uuid: Uuid::parse(uuid),
        if_version: Some((2, 0)),
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
        resp_stub_len: resp.len() as u64,
        stub,
        resp_stub: resp,
        ndr64: false,
        partial: false,
    }
}

fn create_response(le: bool, h: &[u8; 20]) -> Vec<u8> {
    let mut s = Stub::new(le);
    s.null().handle(h).u32(0);
    s.done()
}

fn service(d: &Decoded) -> &ServiceArgs {
    match &d.args {
        Some(Args::Service(s)) => s,
        other => panic!("not a service call: {other:?}"),
    }
}

#[test]
fn create_then_start_is_linked_both_orders() {
    for le in [true, false] {
        let mut t = Tracker::new();
        let c1 = call(
            svcctl::UUID,
            12,
            3,
            le,
            create_stub(le, true, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe", None),
            create_response(le, &SVC),
        );
        let d1 = t.decode(&c1);
        assert_eq!(d1.status, ArgsStatus::Decoded);
        assert_eq!(
            service(&d1).service_handle.as_deref(),
            Some(hex_handle(&SVC).as_str())
        );
        assert_eq!(
            what_ran(d1.args.as_ref().expect("args")).as_deref(),
            Some("service PSEXESVC: %SystemRoot%\\PSEXESVC.exe")
        );
        let c2 = call(
            svcctl::UUID,
            19,
            4,
            le,
            start_stub(le, true, &[]),
            vec![0; 4],
        );
        let d2 = t.decode(&c2);
        let s = service(&d2);
        assert_eq!(s.service_name.as_deref(), Some("PSEXESVC"));
        assert_eq!(s.service_name_from, Some("create"));
        let link = s.linked_create.as_ref().expect("linked");
        assert_eq!(
            (link.call_id, link.operation.as_str()),
            (3, "CreateServiceW")
        );
        assert_eq!(
            what_ran(d2.args.as_ref().expect("args")).as_deref(),
            Some("service PSEXESVC started: %SystemRoot%\\PSEXESVC.exe")
        );
        // Delete on the same handle.
        let mut s = Stub::new(le);
        s.handle(&SVC);
        let d3 = t.decode(&call(svcctl::UUID, 2, 5, le, s.done(), vec![0; 4]));
        assert_eq!(
            what_ran(d3.args.as_ref().expect("args")).as_deref(),
            Some("service PSEXESVC deleted")
        );
    }
}

#[test]
fn open_existing_then_change_config_then_start() {
    let le = true;
    let mut t = Tracker::new();
    let mut s = Stub::new(le);
    s.handle(&SCM).wstr("Spooler").u32(0xf01ff);
    let mut r = Stub::new(le);
    r.handle(&SVC).u32(0);
    let d = t.decode(&call(svcctl::UUID, 16, 1, le, s.done(), r.done()));
    assert_eq!(what_ran(d.args.as_ref().expect("args")), None);
    let mut s = Stub::new(le);
    s.handle(&SVC)
        .u32(svcctl::NO_CHANGE)
        .u32(svcctl::NO_CHANGE)
        .u32(svcctl::NO_CHANGE)
        .ustr(true, Some("cmd /c calc"))
        .null()
        .null()
        .null()
        .u32(0)
        .null()
        .null()
        .u32(0)
        .null();
    let d = t.decode(&call(svcctl::UUID, 11, 2, le, s.done(), vec![0; 4]));
    assert_eq!(service(&d).service_name.as_deref(), Some("Spooler"));
    assert_eq!(
        what_ran(d.args.as_ref().expect("args")).as_deref(),
        Some("service Spooler reconfigured: cmd /c calc")
    );
    let d = t.decode(&call(
        svcctl::UUID,
        19,
        3,
        le,
        start_stub(le, true, &["x"]),
        vec![0; 4],
    ));
    let s = service(&d);
    assert_eq!(s.service_name_from, Some("open"));
    assert_eq!(s.linked_create, None);
    assert_eq!(
        what_ran(d.args.as_ref().expect("args")).as_deref(),
        Some("service Spooler started: cmd /c calc (args: x)")
    );
}

#[test]
fn failed_create_gives_no_handle() {
    let le = true;
    let mut t = Tracker::new();
    let mut resp = Stub::new(le);
    resp.null().handle(&[0; 20]).u32(1073);
    let c = call(
        svcctl::UUID,
        12,
        1,
        le,
        create_stub(le, true, "x", "y", None),
        resp.done(),
    );
    assert_eq!(service(&t.decode(&c)).service_handle, None);
    let mut c = call(
        svcctl::UUID,
        12,
        1,
        le,
        create_stub(le, true, "x", "y", None),
        vec![],
    );
    c.status = CallStatus::Fault(5);
    assert_eq!(service(&t.decode(&c)).service_handle, None);
    let d = t.decode(&call(
        svcctl::UUID,
        19,
        2,
        le,
        start_stub(le, true, &[]),
        vec![],
    ));
    assert_eq!(service(&d).service_name, None);
    assert_eq!(
        what_ran(d.args.as_ref().expect("args")).as_deref(),
        Some(format!("service handle {} started", hex_handle(&SVC)).as_str())
    );
}

#[test]
fn statuses() {
    let le = true;
    let mut t = Tracker::new();
    let stub = create_stub(le, true, "PSEXESVC", "C:\\p.exe", None);
    let mut c = call(svcctl::UUID, 12, 1, le, stub.clone(), vec![]);
    c.uuid = None;
    assert_eq!(t.decode(&c).status, ArgsStatus::NoBind);
    let c = call(svcctl::UUID, 0, 1, le, stub.clone(), vec![]);
    assert_eq!(t.decode(&c).status, ArgsStatus::NoDecoder);
    let c = call(
        "12345778-1234-abcd-ef00-0123456789ab",
        12,
        1,
        le,
        stub.clone(),
        vec![],
    );
    assert_eq!(t.decode(&c).status, ArgsStatus::NoDecoder);
    let mut c = call(svcctl::UUID, 12, 1, le, vec![], vec![]);
    c.encrypted = true;
    c.req_stub_len = 200;
    assert_eq!(t.decode(&c).status, ArgsStatus::Encrypted);
    // The NDR 2.0 stub read as NDR64 does not decode.
    let mut c = call(svcctl::UUID, 12, 1, le, stub.clone(), vec![]);
    c.ndr64 = true;
    assert_eq!(t.decode(&c).status, ArgsStatus::Malformed);
    let mut c = call(svcctl::UUID, 12, 1, le, stub[..40].to_vec(), vec![]);
    c.req_stub_len = stub.len() as u64;
    assert_eq!(t.decode(&c).status, ArgsStatus::Truncated);
    let mut c = call(svcctl::UUID, 12, 1, le, stub.clone(), vec![]);
    c.partial = true;
    assert_eq!(t.decode(&c).status, ArgsStatus::Truncated);
    let c = call(svcctl::UUID, 12, 1, le, stub[..40].to_vec(), vec![]);
    let d = t.decode(&c);
    assert_eq!((d.status, d.args), (ArgsStatus::Malformed, None));
    let c = call(svcctl::UUID, 12, 1, le, stub, vec![]);
    assert_eq!(t.decode(&c).status, ArgsStatus::Decoded);
    // One argument more than the NDR array limit: our limit, not a malformed stub.
    let many = vec!["a"; ndr::MAX_ARRAY + 1];
    let c = call(svcctl::UUID, 19, 2, le, start_stub(le, true, &many), vec![]);
    assert_eq!(t.decode(&c).status, ArgsStatus::Limit);
    let fits = vec!["a"; ndr::MAX_ARRAY];
    let c = call(svcctl::UUID, 19, 3, le, start_stub(le, true, &fits), vec![]);
    assert_eq!(t.decode(&c).status, ArgsStatus::Decoded);
}

#[test]
fn what_ran_for_jobs_tasks_and_wmi() {
    let b = atsvc::tests::job_add_stub(false, None, "cmd /c whoami");
    let d = Tracker::new().decode(&call(atsvc::UUID, 0, 1, false, b, vec![]));
    assert_eq!(
        what_ran(d.args.as_ref().expect("args")).as_deref(),
        Some("at job 13:37: cmd /c whoami")
    );
    let xml = tsch::tests::task_xml("cmd.exe", "/C whoami");
    let b = tsch::tests::register_stub(true, "\\Microsoft\\x", &xml, &[]);
    let d = Tracker::new().decode(&call(tsch::UUID, 1, 1, true, b, vec![]));
    assert_eq!(
        what_ran(d.args.as_ref().expect("args")).as_deref(),
        Some("task \\Microsoft\\x: cmd.exe /C whoami")
    );
    let eu = wmi::tests::encoding_unit(&[("CommandLine", Some("cmd.exe /c dir"))]);
    let b = wmi::tests::exec_stub(
        true,
        "Win32_Process",
        "Create",
        Some(&wmi::tests::objref(&eu)),
    );
    let d = Tracker::new().decode(&call(wmi::UUID, 24, 1, true, b, vec![]));
    assert_eq!(
        what_ran(d.args.as_ref().expect("args")).as_deref(),
        Some("wmi Win32_Process.Create: cmd.exe /c dir")
    );
}

#[test]
fn json_shape() {
    let b = atsvc::tests::job_add_stub(true, Some("\\\\h"), "c");
    let d = Tracker::new().decode(&call(atsvc::UUID, 0, 1, true, b, vec![]));
    let v = serde_json::to_value(d.args.expect("args")).expect("json");
    assert_eq!(v["kind"], "at_job");
    assert_eq!(v["command"], "c");
    assert_eq!(v["server_name"], "\\\\h");
    assert_eq!(
        serde_json::to_value(ArgsStatus::NoBind).expect("json"),
        "no_bind"
    );
    assert_eq!(ArgsStatus::NoBind.as_str(), "no_bind");
}

#[test]
fn handle_table_is_bounded() {
    let mut t = Tracker::new();
    for i in 0..(MAX_HANDLES as u32 + 10) {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.to_le_bytes());
        t.remember(
            h,
            HandleInfo {
                service_name: None,
                from: "open",
                binary_path: None,
                create: None,
                link: "handle",
            },
        );
    }
    assert_eq!(t.handles.len(), MAX_HANDLES);
}

/// ROpenServiceW request for `name` on the SCM handle, and its response giving `h`.
fn open_service(le: bool, call_id: u32, name: &str, h: &[u8; 20]) -> Call {
    let mut s = Stub::new(le);
    s.handle(&SCM).wstr(name).u32(0x000f_01ff);
    let mut r = Stub::new(le);
    r.handle(h).u32(0);
    call(svcctl::UUID, 16, call_id, le, s.done(), r.done())
}

/// A service created on one association is found from another one between the same two
/// hosts by its name (case-insensitive, as the SCM compares names), and only there.
#[test]
fn service_links_join_associations_by_hosts_and_name_both_orders() {
    use std::net::IpAddr;
    let client = IpAddr::from([10, 15, 0, 10]);
    let server = IpAddr::from([10, 15, 0, 5]);
    let other = IpAddr::from([10, 15, 0, 11]);
    let path = r"C:\Windows\Temp\updhelper.exe -service";
    for le in [true, false] {
        let mut links = ServiceLinks::default();
        // First association: the service is created (and the association ends).
        let mut first = Tracker::new();
        let create = call(
            svcctl::UUID,
            12,
            3,
            le,
            create_stub(le, true, "UpdHelper", path, None),
            create_response(le, &SVC),
        );
        let d = first.decode_linked(&create, &mut links, (client, server));
        assert_eq!(service(&d).link, None, "a create links to nothing");
        assert_eq!(links.map.len(), 1);

        // Second association: opened by name in another case, then started.
        let mut second = Tracker::new();
        let open = open_service(le, 2, "UPDHELPER", &SVC);
        let d = second.decode_linked(&open, &mut links, (client, server));
        assert_eq!(what_ran(d.args.as_ref().expect("args")), None);
        let start = call(
            svcctl::UUID,
            19,
            3,
            le,
            start_stub(le, true, &[]),
            vec![0; 4],
        );
        let d = second.decode_linked(&start, &mut links, (client, server));
        let s = service(&d);
        assert_eq!(s.link, Some("service_name"));
        assert_eq!(s.service_name.as_deref(), Some("UPDHELPER"));
        assert_eq!(s.service_name_from, Some("open"));
        assert_eq!(s.linked_binary_path.as_deref(), Some(path));
        let linked = s.linked_create.as_ref().expect("linked create");
        assert_eq!(
            (linked.call_id, linked.operation.as_str()),
            (3, "CreateServiceW")
        );
        assert_eq!(
            what_ran(d.args.as_ref().expect("args")),
            Some(format!("service UPDHELPER started: {path}"))
        );

        // Another client, or the two hosts the other way round: no link.
        for hosts in [(other, server), (server, client)] {
            let mut t = Tracker::new();
            t.decode_linked(&open_service(le, 2, "UpdHelper", &SVC), &mut links, hosts);
            let d = t.decode_linked(&start, &mut links, hosts);
            let s = service(&d);
            assert_eq!(s.service_name.as_deref(), Some("UpdHelper"));
            assert_eq!((s.link, s.linked_binary_path.as_deref()), (None, None));
            assert_eq!(s.linked_create, None);
        }
    }
}

#[test]
fn service_links_are_bounded_oldest_first() {
    let host = std::net::IpAddr::from([10, 0, 0, 1]);
    let mut links = ServiceLinks::default();
    for i in 0..(MAX_LINKED_SERVICES + 10) {
        links.insert((host, host, format!("svc{i}")), None, None);
    }
    assert_eq!(links.map.len(), MAX_LINKED_SERVICES);
    assert_eq!(links.order.len(), MAX_LINKED_SERVICES);
    assert!(links.get(&(host, host, "svc9".into())).is_none());
    assert!(links.get(&(host, host, "svc10".into())).is_some());
}
