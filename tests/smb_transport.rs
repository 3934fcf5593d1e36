//! SMB transport fields end to end: `transport` (smb1/smb2/smb3), `smb_pipe`, `tree`, the
//! session's NTLMSSP user, and the count of SMB3 encrypted sessions, on the project's own
//! SMB captures and (under `RPCSIFT_SHARED`) on shared ones.

mod common;
use common::*;
use rpcsift::engine::{Options, RunOutput};
use rpcsift::output::Extra;

fn extras(run: &RunOutput) -> Vec<&Extra> {
    run.records
        .iter()
        .map(|r| {
            r.extra
                .as_deref()
                .expect("accurate records have extra fields")
        })
        .collect()
}

fn user(e: &Extra) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        e.smb_user.as_deref(),
        e.smb_domain.as_deref(),
        e.smb_workstation.as_deref(),
    )
}

#[test]
fn smb3_encrypted_session_counted_and_signed_session_decoded() {
    let run = run(
        &[project("captures/smb3_encrypted.pcap")],
        &Options::default(),
    );
    // Connection A: 12 transform messages of one session; B: signed, in clear.
    assert_eq!(run.counters.smb.smb3_encrypted_sessions, 1);
    assert_eq!(run.counters.smb.smb3_encrypted_messages, 12);
    assert_eq!(run.counters.smb.smb3_compressed_connections, 0);
    assert_eq!(run.counters.smb.smb_connections, 2);
    assert_eq!(run.counters.smb.smb_bad_messages, 0);
    assert!(run.counters.smb.smb_signed_messages > 0);
    let ex = extras(&run);
    assert_eq!(ex.len(), 1);
    let e = ex[0];
    assert_eq!(e.transport, "smb3");
    assert_eq!(e.opnum, 15);
    assert_eq!(
        e.uuid.as_deref(),
        Some("4b324fc8-1670-01d3-1278-5a47bf6ee188")
    );
    assert_eq!(e.smb_pipe.as_deref(), Some("srvsvc"));
    assert_eq!(e.tree.as_deref(), Some(r"\\10.11.0.5\IPC$"));
    assert_eq!(user(e), (Some("svc_backup"), Some("CORP"), Some("WS01")));
    assert_eq!(run.records[0].orig_p, 50212);
}

#[test]
fn smb2_compound_create_ioctl_and_split_stub() {
    let run = run(
        &[project("captures/smb2_compound_split.pcap")],
        &Options::default(),
    );
    assert_eq!(run.counters.smb.smb3_encrypted_sessions, 0);
    assert_eq!(run.counters.smb.smb_bad_messages, 0);
    assert_eq!(run.counters.smb.pipes_opened, 2);
    let ex = extras(&run);
    let got: Vec<(&str, Option<&str>, u16, &str)> = ex
        .iter()
        .map(|e| (e.transport, e.smb_pipe.as_deref(), e.opnum, e.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("smb2", Some("svcctl"), 15, "ok"),
            ("smb2", Some("svcctl"), 12, "ok"),
            ("smb2", Some("svcctl"), 19, "ok"),
            ("smb2", Some("atsvc"), 0, "ok"),
        ]
    );
    for e in &ex {
        assert_eq!(e.tree.as_deref(), Some(r"\\10.12.0.5\IPC$"));
        assert_eq!(user(e), (Some("svc_backup"), Some("CORP"), Some("WS01")));
    }
    // NetrJobAdd: one 1,376-byte PDU (24-byte header) written in three SMB2 WRITEs.
    let job = ex[3];
    assert_eq!((job.request_fragments, job.request_stub_len), (1, 1352));
    assert!(!job.partial);
}

#[test]
fn shared_captures_transport_tree_and_user() {
    let Some(shared) = shared() else {
        return;
    };
    let one = |rel: &str| run(&[need(&shared, rel)], &Options::default());

    let r = one("captures/real/smb3_encrypted.pcap");
    assert_eq!(r.counters.smb.smb3_encrypted_sessions, 1);
    assert!(r.records.is_empty());

    // SMB1, extended security: NTLMSSP AUTHENTICATE inside SPNEGO.
    let r = one("captures/real/msf_psexec_smb1_svcctl.pcap");
    let smb: Vec<&Extra> = extras(&r)
        .into_iter()
        .filter(|e| e.transport != "tcp")
        .collect();
    assert_eq!(smb.len(), 5);
    for e in &smb {
        assert_eq!(e.transport, "smb1");
        assert_eq!(
            user(e),
            (
                Some("JeffV"),
                Some("contoso.local"),
                Some("ybaARon55QykXrgu")
            )
        );
    }

    // SMB 2.1 dialect: smb2; the user from the session setup.
    let r = one("conformance/zeek-traces/smb_smb2.pcap");
    let ex = extras(&r);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].transport, "smb2");
    assert_eq!(
        user(ex[0]),
        (Some("Administrator"), Some("CONTOSO"), Some("SERVER01"))
    );
    assert!(
        ex[0]
            .tree
            .as_deref()
            .is_some_and(|t| t.to_ascii_uppercase().ends_with("\\IPC$"))
    );

    // A 3.x dialect negotiated: every pipe call is smb3.
    let r = one("conformance/zeek-traces/dce-rpc_20-fids.pcap");
    let ex = extras(&r);
    assert_eq!(ex.len(), 102);
    assert!(ex.iter().all(|e| e.transport == "smb3"));
}
