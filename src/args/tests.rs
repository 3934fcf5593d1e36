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
    assert_eq!(t.handles.map.len(), MAX_HANDLES);
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
        assert_eq!(links.services.map.len(), 1);

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
    assert_eq!(links.services.map.len(), MAX_LINKED_SERVICES);
    assert_eq!(links.services.order.len(), MAX_LINKED_SERVICES);
    assert!(links.get(&(host, host, "svc9".into())).is_none());
    assert!(links.get(&(host, host, "svc10".into())).is_some());
}

fn handle_response(le: bool, h: &[u8; 20], status: u32) -> Vec<u8> {
    let mut s = Stub::new(le);
    s.handle(h).u32(status);
    s.done()
}

#[test]
fn registry_paths_follow_key_handles_both_orders() {
    use rrp::tests::{HKLM, KEY, open_hklm_stub, open_key_stub, save_key_stub, set_value_stub};
    for le in [true, false] {
        let mut t = Tracker::new();
        let d = t.decode(&call(
            rrp::UUID,
            2,
            1,
            le,
            open_hklm_stub(le),
            handle_response(le, &HKLM, 0),
        ));
        let Some(Args::Registry(a)) = &d.args else {
            panic!("{d:?}")
        };
        assert_eq!(a.key_path.as_deref(), Some("HKLM"));
        let d = t.decode(&call(
            rrp::UUID,
            15,
            2,
            le,
            open_key_stub(le, &HKLM, "SAM"),
            handle_response(le, &KEY, 0),
        ));
        let Some(Args::Registry(a)) = &d.args else {
            panic!()
        };
        assert_eq!(a.key_path.as_deref(), Some("HKLM\\SAM"));
        let d = t.decode(&call(
            rrp::UUID,
            20,
            3,
            le,
            save_key_stub(le, &KEY, "..\\Temp\\x.tmp"),
            vec![0; 4],
        ));
        let args = d.args.expect("args");
        let Args::Registry(a) = &args else { panic!() };
        assert_eq!(a.key_path.as_deref(), Some("HKLM\\SAM"));
        assert_eq!(a.result, Some(0));
        assert_eq!(
            what(&args).as_deref(),
            Some("registry key HKLM\\SAM saved to ..\\Temp\\x.tmp")
        );
        assert_eq!(what_ran(&args), None);
        // A value set on a key whose open was not captured: the root is unknown, not guessed.
        let d = t.decode(&call(
            rrp::UUID,
            22,
            4,
            le,
            set_value_stub(le, &[9; 20], "x", 4, &1u32.to_le_bytes()),
            vec![],
        ));
        let Some(Args::Registry(a)) = &d.args else {
            panic!()
        };
        assert_eq!(a.key_path, None);
        // A failed open gives no handle.
        let mut t = Tracker::new();
        t.decode(&call(
            rrp::UUID,
            2,
            1,
            le,
            open_hklm_stub(le),
            handle_response(le, &HKLM, 5),
        ));
        let d = t.decode(&call(
            rrp::UUID,
            15,
            2,
            le,
            open_key_stub(le, &HKLM, "SAM"),
            vec![],
        ));
        let Some(Args::Registry(a)) = &d.args else {
            panic!()
        };
        assert_eq!(a.key_path.as_deref(), Some("?\\SAM"));
    }
}

#[test]
fn event_log_clear_names_the_log_through_its_handle() {
    let le = true;
    const LOG: [u8; 20] = [0, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
    let mut t = Tracker::new();
    let mut s = Stub::new(le);
    s.null().ustring("Security").ustring("").u32(1).u32(1);
    t.decode(&call(
        even::UUID,
        7,
        1,
        le,
        s.done(),
        handle_response(le, &LOG, 0),
    ));
    let mut s = Stub::new(le);
    s.handle(&LOG).null();
    let d = t.decode(&call(even::UUID, 0, 2, le, s.done(), vec![0; 4]));
    let args = d.args.expect("args");
    let Args::EventLog(e) = &args else { panic!() };
    assert_eq!(e.log_name.as_deref(), Some("Security"));
    assert_eq!(e.log_name_from, Some("handle"));
    assert_eq!(what(&args).as_deref(), Some("event log Security cleared"));
}

#[test]
fn sam_groups_and_printers_and_secrets_link() {
    let le = false;
    use samr::tests::{ALIAS, DOM};
    let mut t = Tracker::new();
    let mut s = Stub::new(le);
    s.handle(&DOM).u32(0x2000_0000).u32(544);
    t.decode(&call(
        samr::UUID,
        27,
        1,
        le,
        s.done(),
        handle_response(le, &ALIAS, 0),
    ));
    let mut s = Stub::new(le);
    s.handle(&ALIAS).sid("S-1-5-21-1-2-3-1105");
    let d = t.decode(&call(samr::UUID, 31, 2, le, s.done(), vec![0; 4]));
    let args = d.args.expect("args");
    let Args::Sam(a) = &args else { panic!() };
    assert_eq!((a.rid, a.rid_name), (Some(544), Some("Administrators")));
    assert_eq!(
        what(&args).as_deref(),
        Some("member S-1-5-21-1-2-3-1105 added to alias Administrators (544)")
    );
    // SamrCreateUser2InDomain: the response gives the new account's RID.
    let mut resp = Stub::new(le);
    resp.handle(&[8; 20]).u32(0xf07ff).u32(1107).u32(0);
    let d = t.decode(&call(
        samr::UUID,
        50,
        3,
        le,
        samr::tests::create_user2_stub(le, "EVIL$", 0x80),
        resp.done(),
    ));
    let Some(Args::Sam(a)) = &d.args else {
        panic!()
    };
    assert_eq!((a.rid, a.result), (Some(1107), Some(0)));
    // RpcOpenPrinter then a notification on its handle.
    let mut s = Stub::new(le);
    s.ustr(true, Some("\\\\DC1")).null().u32(0).null().u32(8);
    t.decode(&call(
        rprn::UUID,
        1,
        4,
        le,
        s.done(),
        handle_response(le, &rprn::tests::PRN, 0),
    ));
    let d = t.decode(&call(
        rprn::UUID,
        65,
        5,
        le,
        rprn::tests::notify_stub(Stub::new(le), "\\\\10.0.0.99"),
        vec![0, 0, 0, 5],
    ));
    let args = d.args.expect("args");
    let Args::Coercion(c) = &args else { panic!() };
    assert_eq!(c.printer.as_deref(), Some("\\\\DC1"));
    assert_eq!(
        (c.result, c.result_name),
        (Some(5), Some("ERROR_ACCESS_DENIED"))
    );
    assert_eq!(
        what(&args).as_deref(),
        Some(
            "coercion (MS-RPRN): told to authenticate to 10.0.0.99 (pszLocalMachine \\\\10.0.0.99) -> ERROR_ACCESS_DENIED"
        )
    );
    // LsarOpenSecret then LsarQuerySecret on its handle.
    let mut s = Stub::new(le);
    s.handle(&[1; 20]).ustring("$MACHINE.ACC").u32(0x20000);
    t.decode(&call(
        lsad::UUID,
        28,
        6,
        le,
        s.done(),
        handle_response(le, &[2; 20], 0),
    ));
    let mut s = Stub::new(le);
    s.handle(&[2; 20]).null().null().null().null();
    let d = t.decode(&call(lsad::UUID, 30, 7, le, s.done(), vec![]));
    let Some(Args::Lsa(l)) = &d.args else {
        panic!()
    };
    assert_eq!(l.secret_name.as_deref(), Some("$MACHINE.ACC"));
}

#[test]
fn zerologon_attempts_are_counted_per_connection() {
    let le = true;
    let ok = |status: u32| {
        let mut s = Stub::new(le);
        s.raw(&[0; 8]).u32(0x212f_ffff).u32(1000).u32(status);
        s.done()
    };
    let mut calls = Vec::new();
    for (i, status) in [0xc000_0022u32, 0xc000_0022, 0].iter().enumerate() {
        let id = 2 * i as u32 + 1;
        let mut c = call(
            nrpc::UUID,
            4,
            id,
            le,
            nrpc::tests::req_challenge_stub(Stub::new(le), [0; 8]),
            vec![0; 12],
        );
        c.if_version = Some((1, 0));
        calls.push(c);
        calls.push(call(
            nrpc::UUID,
            26,
            id + 1,
            le,
            nrpc::tests::authenticate3_stub(Stub::new(le), [0; 8]),
            ok(*status),
        ));
    }
    let out = annotate(calls, &who::WhoLog::default());
    for (c, a) in &out {
        let Some(Args::Netlogon(n)) = a.args.as_deref() else {
            panic!("{c:?}")
        };
        // Three authentications with zero credentials (their challenges are not counted
        // again), the last answered STATUS_SUCCESS.
        assert_eq!(n.attempts_in_connection, Some(3));
        assert_eq!(n.succeeded_in_connection, Some(true));
    }
    let Some(Args::Netlogon(last)) = out[5].1.args.as_deref() else {
        panic!()
    };
    assert_eq!((last.result, last.result_name), (Some(0), Some("success")));
    // Without zero credentials, nothing is counted.
    let out = annotate(
        vec![call(
            nrpc::UUID,
            26,
            1,
            le,
            nrpc::tests::authenticate3_stub(Stub::new(le), [7; 8]),
            ok(0),
        )],
        &who::WhoLog::default(),
    );
    let Some(Args::Netlogon(n)) = out[0].1.args.as_deref() else {
        panic!()
    };
    assert_eq!(n.attempts_in_connection, None);
}

#[test]
fn dcom_calls_named_by_the_ipid_an_activation_handed_out() {
    use super::dcom::tests::{create_instance_response, create_instance_stub, std_objref};
    let mmc = "49b2791a-b1ae-4c90-9b8e-e860ba07f889";
    let ipid = "0000a001-2008-0f1c-5d6e-7f8091a2b3c4";
    let doc_ipid = "0000a002-2008-0f1c-5d6e-7f8091a2b3c4";
    let hosts = (
        std::net::IpAddr::from([10, 0, 0, 5]),
        std::net::IpAddr::from([10, 0, 0, 9]),
    );
    for le in [true, false] {
        let mut links = ServiceLinks::default();
        // Port 135: RemoteCreateInstance of MMC20.Application, IDispatch handed out.
        let act = call(
            dcom::ACTIVATOR_UUID,
            4,
            2,
            le,
            create_instance_stub(le, mmc),
            create_instance_response(le, dcom::DISPATCH_UUID, ipid),
        );
        let d = Tracker::new().decode_linked(&act, &mut links, hosts);
        let Some(Args::Activation(a)) = &d.args else {
            panic!("{d:?}")
        };
        assert_eq!(a.objects.len(), 1);
        assert_eq!(a.objects[0].ipid, ipid);
        // The object exporter's port, bound: Invoke returns the Document object.
        let mut t = Tracker::new();
        let mut invoke = call(dcom::DISPATCH_UUID, 6, 3, le, vec![0; 40], {
            let mut r = vec![0u8; 24];
            r.extend_from_slice(&std_objref(dcom::DISPATCH_UUID, doc_ipid));
            r
        });
        invoke.object = Uuid::parse(ipid);
        let d = t.decode_linked(&invoke, &mut links, hosts);
        let Some(Args::DcomCall(o)) = &d.args else {
            panic!("{d:?}")
        };
        assert_eq!(
            (
                o.clsid_name,
                o.interface_from,
                o.obtained_by.operation.as_str()
            ),
            (Some("MMC20.Application"), "bind", "RemoteCreateInstance")
        );
        assert_eq!(d.uuid_from_ipid, None);
        // Another connection, picked up after its bind: GetIDsOfNames on the Document
        // object is named by its IPID, and the class carries over from the activation.
        let mut t = Tracker::new();
        let mut s = Stub::new(le);
        dcom::tests::orpcthis(&mut s);
        s.guid("00000000-0000-0000-0000-000000000000")
            .u32(1)
            .ptr()
            .wstr("ExecuteShellCommand")
            .u32(1)
            .u32(0x409);
        let mut names = call(dcom::DISPATCH_UUID, 5, 7, le, s.done(), vec![0; 16]);
        names.uuid = None;
        names.object = Uuid::parse(doc_ipid);
        let d = t.decode_linked(&names, &mut links, hosts);
        assert_eq!(d.uuid_from_ipid, Uuid::parse(dcom::DISPATCH_UUID));
        let Some(Args::Dispatch(n)) = &d.args else {
            panic!("{d:?}")
        };
        let o = n.object.as_ref().expect("object");
        assert_eq!(n.suspicious, vec!["ExecuteShellCommand"]);
        assert_eq!(
            (
                o.clsid_name,
                o.interface_from,
                o.obtained_by.operation.as_str()
            ),
            (Some("MMC20.Application"), "ipid", "Invoke")
        );
        let w = what(d.args.as_ref().expect("args")).expect("what");
        assert!(w.contains("on MMC20.Application object"), "{w}");
        // Between other hosts, or with an IPID nobody handed out: no bind, as before.
        let other = (hosts.1, hosts.0);
        assert_eq!(
            t.decode_linked(&names, &mut links, other).status,
            ArgsStatus::NoBind
        );
        names.object = Uuid::parse("0000a0ff-2008-0f1c-5d6e-7f8091a2b3c4");
        assert_eq!(
            t.decode_linked(&names, &mut links, hosts).status,
            ArgsStatus::NoBind
        );
    }
    // annotate() (one association at a time) names them too, and gives the call its uuid.
    let mut unbound = call(dcom::DISPATCH_UUID, 6, 9, true, vec![0; 8], vec![]);
    unbound.uuid = None;
    unbound.object = Uuid::parse(ipid);
    let act = call(
        dcom::ACTIVATOR_UUID,
        4,
        2,
        true,
        create_instance_stub(true, mmc),
        create_instance_response(true, dcom::DISPATCH_UUID, ipid),
    );
    let out = annotate(vec![act, unbound], &who::WhoLog::default());
    assert_eq!(out[1].0.uuid, Uuid::parse(dcom::DISPATCH_UUID));
    assert!(matches!(
        out[1].1.args.as_deref(),
        Some(Args::DcomCall(o)) if o.interface_from == "ipid"
    ));
}

#[test]
fn rem_query_interface_and_class_factory_carry_the_class() {
    use super::dcom::tests::{create_instance_response, create_instance_stub, rem_qi, std_objref};
    let sw = "9ba05972-f6a8-11cf-a442-00a0c90a8f39";
    let factory = "0000c001-2008-0f1c-5d6e-7f8091a2b3c4";
    let unk = "0000c002-2008-0f1c-5d6e-7f8091a2b3c4";
    let disp = "0000c003-2008-0f1c-5d6e-7f8091a2b3c4";
    let hosts = (
        std::net::IpAddr::from([10, 0, 0, 5]),
        std::net::IpAddr::from([10, 0, 0, 9]),
    );
    for le in [true, false] {
        let mut links = ServiceLinks::default();
        let mut t = Tracker::new();
        // An activation that hands out a class factory (as RemoteGetClassObject does).
        let act = call(
            dcom::ACTIVATOR_UUID,
            4,
            2,
            le,
            create_instance_stub(le, sw),
            create_instance_response(le, dcom::CLASS_FACTORY_UUID, factory),
        );
        t.decode_linked(&act, &mut links, hosts);
        // CreateInstance on it: IUnknown of a ShellWindows object.
        let mut ci = call(dcom::CLASS_FACTORY_UUID, 3, 3, le, vec![0; 32], {
            let mut r = vec![0u8; 12];
            r.extend_from_slice(&std_objref("00000000-0000-0000-c000-000000000046", unk));
            r
        });
        ci.object = Uuid::parse(factory);
        let d = t.decode_linked(&ci, &mut links, hosts);
        assert!(matches!(&d.args, Some(Args::DcomCall(o)) if o.clsid_name == Some("ShellWindows")));
        // RemQueryInterface (on the exporter's IRemUnknown) asks that object for IDispatch.
        let (q, a) = rem_qi(le, unk, &[(dcom::DISPATCH_UUID, Some(disp))]);
        let mut qi = call(dcom::REM_UNKNOWN2_UUID, 3, 4, le, q, a);
        qi.object = Uuid::parse("0000c0ff-2008-0f1c-5d6e-7f8091a2b3c4");
        assert_eq!(
            t.decode_linked(&qi, &mut links, hosts).status,
            ArgsStatus::NoDecoder
        );
        let o = links
            .object(hosts, &Uuid::parse(disp).expect("uuid"))
            .expect("IDispatch learnt");
        assert_eq!(
            (
                o.iid.as_str(),
                o.clsid_name,
                o.obtained_by.operation.as_str()
            ),
            (
                dcom::DISPATCH_UUID,
                Some("ShellWindows"),
                "RemQueryInterface"
            )
        );
        assert!(keeps_stub(
            &Uuid::parse(dcom::REM_UNKNOWN_UUID).expect("u"),
            3
        ));
        assert!(keeps_response(
            &Uuid::parse(dcom::CLASS_FACTORY_UUID).expect("u"),
            3
        ));
        assert!(!keeps_response(&Uuid::parse(svcctl::UUID).expect("u"), 12));
    }
}

#[test]
fn hex_handles_round_trip() {
    let mut h = [0u8; 20];
    for (i, b) in h.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0xa5;
    }
    let text = hex_handle(&h);
    assert_eq!(text.len(), 40);
    assert_eq!(&text[..6], "a580ef");
    assert_eq!(parse_hex_handle(&text), Some(h));
    assert_eq!(parse_hex_handle(&text.to_uppercase()), Some(h));
    assert_eq!(parse_hex_handle(&text[..38]), None);
    assert_eq!(parse_hex_handle(&format!("{}zz", &text[..38])), None);
}

#[test]
fn bit_names_in_table_order() {
    const BITS: [(u32, &str); 3] = [(0x1, "a"), (0x4, "c"), (0x2, "b")];
    assert_eq!(bit_names(0x7, &BITS), vec!["a", "c", "b"]);
    assert_eq!(bit_names(0x8, &BITS), Vec::<&str>::new());
    assert_eq!(bit_names(0x6, &BITS), vec!["c", "b"]);
}
