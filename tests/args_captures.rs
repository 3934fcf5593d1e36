//! End-to-end: the arguments and identities `--format json` gives for execution calls in
//! the project's own captures (`captures/*.pcap`, written by examples/make_captures.rs)
//! and the attack-lab captures (`captures/impacket/*.pcap`, with the exact values the
//! Impacket client sent in `<name>.truth.tsv`), plus the shared real captures when
//! `RPCSIFT_SHARED` is set.

mod common;
use common::lab::{lab_captures, lab_truth, task_command};
use common::*;
use rpcsift::engine::Options;
use rpcsift::output::Format;
use serde_json::Value;

fn records(rel: &str) -> Vec<Value> {
    records_at(&project(rel))
}

fn records_at(path: &std::path::Path) -> Vec<Value> {
    assert!(path.is_file(), "missing capture {}", path.display());
    let out = run(&[path.to_path_buf()], &Options::default());
    render(&out, Format::Json)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn by_op<'a>(recs: &'a [Value], op: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["operation"] == op).collect()
}

fn one<'a>(recs: &'a [Value], op: &str) -> &'a Value {
    let v = by_op(recs, op);
    assert_eq!(v.len(), 1, "{op}: {} records", v.len());
    v[0]
}

const STATUSES: [&str; 6] = [
    "decoded",
    "encrypted",
    "truncated",
    "no_bind",
    "no_decoder",
    "malformed",
];

/// Invariants of every record: args_status known; args present exactly when decoded.
fn check_shape(recs: &[Value]) {
    for r in recs {
        let st = r["args_status"].as_str().expect("args_status");
        assert!(STATUSES.contains(&st), "unknown status {st}");
        assert!(r.get("args").is_some(), "args key always present");
        assert_eq!(st == "decoded", !r["args"].is_null(), "{r}");
        for k in ["user", "domain", "workstation", "auth"] {
            assert!(r.get(k).is_some(), "{k} key always present");
        }
    }
}

const SMBEXEC_PATH: &str = r"%COMSPEC% /Q /c echo whoami ^> \\127.0.0.1\C$\__output 2^>^&1 > %TEMP%\execute.bat & %COMSPEC% /Q /c %TEMP%\execute.bat & del %TEMP%\execute.bat";

#[test]
fn own_dynamic_port_svcctl_create_then_start() {
    let recs = records("captures/dynamic_port_svcctl.pcap");
    check_shape(&recs);
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["args_status"], "decoded");
    let a = &c["args"];
    assert_eq!(a["kind"], "service");
    assert_eq!(a["service_name"], "BTOBTO");
    assert_eq!(a["display_name"], "BTOBTO");
    assert_eq!(a["binary_path"], SMBEXEC_PATH);
    assert_eq!(a["service_type_name"], "win32_own_process");
    assert_eq!(a["start_type_name"], "demand_start");
    assert_eq!(
        c["what_ran"],
        format!("service BTOBTO: {SMBEXEC_PATH}").as_str()
    );
    let s = one(&recs, "StartServiceW");
    assert_eq!(s["args"]["service_name"], "BTOBTO");
    assert_eq!(s["args"]["service_name_from"], "create");
    assert_eq!(s["args"]["service_handle"], a["service_handle"]);
    assert_eq!(s["args"]["linked_create"]["call_id"], c["call_id"]);
    assert_eq!(s["args"]["linked_binary_path"], SMBEXEC_PATH);
    // Created and started on one connection: linked through the service handle.
    assert_eq!(s["args"]["link"], "handle");
    let o = one(&recs, "OpenSCManagerW");
    assert_eq!(o["args"]["kind"], "scm");
    assert_eq!(o["args"]["scm_handle"], a["scm_handle"]);
}

/// Issue 21, item 6: the service is created over an SMB2 pipe on one connection, which
/// closes; a second connection between the same hosts (TCP, port 49667) opens it by name
/// and starts it. The start is linked to the creation by (client, server, service name).
#[test]
fn own_svcctl_reconnect_links_by_service_name() {
    let recs = records("captures/svcctl_reconnect.pcap");
    check_shape(&recs);
    let path = r"C:\Windows\Temp\updhelper.exe -service";
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["id.resp_p"], 445);
    assert_eq!(c["args"]["service_name"], "UpdHelper");
    assert_eq!(c["args"]["binary_path"], path);
    let o = one(&recs, "OpenServiceW");
    assert_eq!(o["id.resp_p"], 49667);
    assert_ne!(o["uid"], c["uid"], "two connections");
    assert_eq!(o["args"]["action"], "open");
    assert_eq!(o["args"]["service_name"], "UpdHelper");
    let s = one(&recs, "StartServiceW");
    assert_eq!(s["uid"], o["uid"]);
    let a = &s["args"];
    assert_eq!(a["service_name"], "UpdHelper");
    assert_eq!(a["service_name_from"], "open");
    assert_eq!(a["service_handle"], o["args"]["service_handle"]);
    assert_eq!(a["linked_binary_path"], path);
    assert_eq!(a["link"], "service_name");
    assert_eq!(a["linked_create"]["call_id"], c["call_id"]);
    assert_eq!(a["linked_create"]["ts"], c["ts"]);
    assert_eq!(a["linked_create"]["operation"], "CreateServiceW");
    assert_eq!(
        s["what_ran"],
        format!("service UpdHelper started: {path}").as_str()
    );
}

/// The calls of the two captures whose calls carry more than 30,000 bytes in many
/// fragments decode whole: the 9-fragment task registration, and ExecMethod after a
/// 93,056-byte response.
#[test]
fn own_big_calls_decode_whole() {
    let recs = records("captures/smb2_atsvc_bigtask.pcap");
    check_shape(&recs);
    let t = one(&recs, "SchRpcRegisterTask");
    assert_eq!(t["request_fragments"], 9);
    assert_eq!(t["request_stub_len"], 34_740);
    assert_eq!(t["args"]["path"], r"\lFqwOZwT");
    assert_eq!(t["args"]["actions"][0]["command"], "powershell.exe");
    let args = t["args"]["actions"][0]["arguments"]
        .as_str()
        .expect("arguments");
    assert!(args.starts_with("-NoP -NonI -W Hidden -Enc "), "{args}");
    assert_eq!(
        one(&recs, "SchRpcRetrieveTask")["response_stub_len"],
        34_692
    );
    assert_eq!(one(&recs, "SchRpcEnableTask")["args"]["enabled"], true);
    assert_eq!(one(&recs, "SchRpcRun")["what_ran"], r"task \lFqwOZwT run");
    assert_eq!(one(&recs, "SchRpcDelete")["args"]["action"], "delete");

    let recs = records("captures/dcom_wmi_bigresp.pcap");
    check_shape(&recs);
    assert_eq!(one(&recs, "GetObject")["response_stub_len"], 93_056);
    let e = one(&recs, "ExecMethod");
    assert_eq!(e["args"]["object_path"], "Win32_Process");
    assert_eq!(e["args"]["method_name"], "Create");
    assert_eq!(
        e["args"]["command_line"],
        r"cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1704075000.13 2>&1"
    );
    assert_eq!(e["args"]["current_directory"], r"C:\");
}

#[test]
fn own_atsvc_and_task_scheduler() {
    let recs = records("captures/atsvc_schtask.pcap");
    check_shape(&recs);
    let j = one(&recs, "NetrJobAdd");
    assert_eq!(j["args"]["kind"], "at_job");
    assert_eq!(
        j["args"]["command"],
        r"cmd.exe /c whoami > C:\Windows\Temp\at_out.txt 2>&1"
    );
    assert_eq!(j["args"]["server_name"], r"\\10.10.0.5");
    let t = one(&recs, "SchRpcRegisterTask");
    let a = &t["args"];
    assert_eq!(a["kind"], "task");
    assert_eq!(a["path"], r"\hXqfWbuz");
    assert_eq!(a["actions"][0]["command"], "cmd.exe");
    assert_eq!(
        a["actions"][0]["arguments"],
        r"/C whoami > %windir%\Temp\hXqfWbuz.tmp 2>&1"
    );
    let r = one(&recs, "SchRpcRun");
    assert_eq!(r["args"]["path"], r"\hXqfWbuz");
    assert_eq!(r["what_ran"], r"task \hXqfWbuz run");
}

#[test]
fn own_multifrag_create_service_reassembled() {
    let recs = records("captures/multifrag.pcap");
    check_shape(&recs);
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["request_fragments"], 3);
    assert_eq!(c["args"]["service_name"], "WinUpdSvc");
    assert_eq!(c["args"]["display_name"], "Windows Update Helper");
    let prefix = r"%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -noni -enc ";
    let path = c["args"]["binary_path"].as_str().expect("path");
    assert!(path.starts_with(prefix), "{path}");
    // The generator appends 1560 base64-like characters.
    assert_eq!(path.len(), prefix.len() + 1_560);
}

#[test]
fn own_privacy_is_encrypted_but_user_known() {
    let recs = records("captures/privacy_auth.pcap");
    check_shape(&recs);
    assert!(!recs.is_empty());
    for r in &recs {
        assert_eq!(r["args_status"], "encrypted");
        assert!(r["args"].is_null());
        assert_eq!(r["user"], "svc_backup");
        assert_eq!(r["domain"], "CORP");
        assert_eq!(r["workstation"], "WS01");
        assert_eq!(r["auth"], "ntlm");
        assert_eq!(r["auth_source"], "dcerpc");
    }
}

#[test]
fn own_smb_session_user_and_calls() {
    let recs = records("captures/smb2_compound_split.pcap");
    check_shape(&recs);
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["args"]["service_name"], "WgKpQzRt");
    assert_eq!(c["args"]["binary_path"], SMBEXEC_PATH);
    for r in &recs {
        assert_eq!(r["user"], "svc_backup");
        assert_eq!(r["auth_source"], "smb");
    }
    // Calls without authentication anywhere have no identity.
    for r in records("captures/dynamic_port_svcctl.pcap") {
        assert!(r["user"].is_null() && r["auth"].is_null());
    }
}

#[test]
fn own_captures_midstream_and_lost_segment() {
    // Calls whose bind was not captured cannot be decoded: no_bind, never a guess.
    let recs = records("captures/midstream.pcap");
    check_shape(&recs);
    assert!(
        recs.iter()
            .filter(|r| r["uuid"].is_null())
            .all(|r| r["args_status"] == "no_bind")
    );
    assert!(recs.iter().any(|r| r["args_status"] == "no_bind"));
    // A lost segment costs its call; the other services still decode.
    let recs = records("captures/lost_segment.pcap");
    check_shape(&recs);
    let names: Vec<&str> = by_op(&recs, "CreateServiceW")
        .iter()
        .filter_map(|r| r["args"]["service_name"].as_str())
        .collect();
    assert!(
        names.contains(&"svc_a") && names.contains(&"svc_e"),
        "{names:?}"
    );
}

#[test]
fn args_only_in_rpcsift_json() {
    let p = project("captures/dynamic_port_svcctl.pcap");
    let out = run(&[p], &Options::default());
    for f in [Format::Zeek, Format::ZeekJson] {
        let text = render(&out, f);
        assert!(!text.contains("args_status") && !text.contains("BTOBTO"));
    }
}

#[test]
fn lab_captures_exact_values() {
    let (mut checked, mut encrypted) = (0, 0);
    for name in lab_captures() {
        let rows = lab_truth(&name);
        let recs = records(&format!("captures/impacket/{name}.pcap"));
        check_shape(&recs);
        assert_eq!(recs.len(), rows.len(), "{name}: one record per truth row");
        for (i, (t, r)) in rows.iter().zip(&recs).enumerate() {
            let at = format!("{name} call {}", i + 1);
            assert_eq!(r["uuid"], t.request.uuid.as_str(), "{at}");
            assert_eq!(r["operation"], t.operation.as_str(), "{at}");
            let a = &r["args"];
            if r["encrypted"] == true {
                // Calls with a decoder say why they were not decoded.
                if r["args_status"] != "no_decoder" {
                    assert_eq!(r["args_status"], "encrypted", "{at}");
                    assert!(a.is_null(), "{at}");
                    encrypted += 1;
                }
                continue;
            }
            if let Some(v) = &t.service_name {
                assert_eq!(a["service_name"], v.as_str(), "{at}");
                checked += 1;
            }
            if let Some(v) = &t.binary_path {
                assert_eq!(a["binary_path"], v.as_str(), "{at}");
                checked += 1;
            }
            if let Some(v) = &t.task_command {
                let got = match a["kind"].as_str() {
                    Some("at_job") => a["command"].as_str().map(str::to_string),
                    _ => task_command(a),
                };
                assert_eq!(got.as_deref(), Some(v.as_str()), "{at}");
                checked += 1;
            }
            if let Some(v) = &t.wmi_command_line {
                assert_eq!(a["command_line"], v.as_str(), "{at}");
                assert_eq!(a["object_path"], "Win32_Process", "{at}");
                assert_eq!(a["method_name"], "Create", "{at}");
                checked += 1;
            }
            // Every call with a decoder decodes in these captures (the lab sends clean NDR).
            if r["args_status"] != "no_decoder" {
                assert_eq!(r["args_status"], "decoded", "{at}: {r}");
            }
        }
    }
    // The packet-privacy captures' sealed calls with a decoder cannot be read: OpenSCManager,
    // CreateService, StartService, ControlService (decoded since issue 18) and DeleteService
    // in stress_privacy_tcp and in psexec_privacy_smb2, SchRpcRegisterTask, SchRpcRun and
    // SchRpcDelete in atexec_privacy_smb2 (with their 5 truth values); the other 27 values
    // are all checked.
    assert_eq!(checked, 27);
    assert_eq!(encrypted, 13);
}

#[test]
fn lab_handle_chain_and_who() {
    // ChangeServiceConfig repoints an existing service, StartService runs it, a second
    // ChangeServiceConfig restores it: all named through the OpenServiceW handle.
    let recs = records("captures/impacket/changeservice_smb2.pcap");
    let changes = by_op(&recs, "ChangeServiceConfigW");
    assert_eq!(changes.len(), 2);
    for c in &changes {
        assert_eq!(c["args"]["service_name"], "UevAgentService");
        assert_eq!(c["args"]["service_name_from"], "open");
    }
    let s = one(&recs, "StartServiceW");
    assert_eq!(s["args"]["service_name"], "UevAgentService");
    assert_eq!(
        s["what_ran"],
        r"service UevAgentService started: C:\Windows\System32\cmd.exe /c powershell -nop -w hidden -c whoami"
    );
    // psexec over SMB: the SMB session's NTLM identity on every call.
    for name in ["psexec_smb1", "psexec_smb2", "atexec_smb2"] {
        for r in records(&format!("captures/impacket/{name}.pcap")) {
            assert_eq!(r["auth"], "ntlm", "{name}");
            assert_eq!(r["user"], "labadmin", "{name}");
            assert_eq!(r["domain"], "LAB", "{name}");
        }
    }
    // Packet integrity over TCP: the DCE-RPC bind's own NTLM identity.
    let recs = records("captures/impacket/stress_integrity_tcp.pcap");
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["auth_source"], "dcerpc");
    assert_eq!(c["user"], "labadmin");
    assert_eq!(c["args"]["service_name"], "AuthSvc");
}

/// Shared real captures: what was executed, per capture (RPCSIFT_SHARED only).
#[test]
fn real_captures_what_ran() {
    let Some(base) = shared() else { return };
    let get = |rel: &str| records_at(&need(&base, &format!("captures/real/{rel}")));

    let recs = get("atsvc_netrjobadd_smb2.pcap");
    check_shape(&recs);
    let j = one(&recs, "NetrJobAdd");
    assert_eq!(j["args"]["command"], r"c:\mimikatz.exe");
    assert_eq!(j["args"]["server_name"], r"\\admin-pc");
    assert_eq!(j["args"]["job_time_hhmm"], "13:05");

    let recs = get("psexec_smb2_svcctl_wow64.pcap");
    check_shape(&recs);
    let c = one(&recs, "CreateServiceWOW64W");
    assert_eq!(c["args"]["service_name"], "PSEXESVC");
    assert_eq!(c["args"]["binary_path"], r"%SystemRoot%\PSEXESVC.exe");
    let s = one(&recs, "StartServiceW");
    assert_eq!(s["args"]["service_name"], "PSEXESVC");
    // The SMB session logged on with Kerberos: the kind is said, the account is not
    // visible (it is inside the encrypted authenticator).
    assert_eq!(
        (
            c["auth"].as_str(),
            c["auth_source"].as_str(),
            c["user"].as_str()
        ),
        (Some("kerberos"), Some("smb"), None)
    );

    let recs = get("msf_psexec_smb1_svcctl.pcap");
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["args"]["service_name"], "PLYteGjx");
    let path = c["args"]["binary_path"].as_str().expect("path");
    assert!(path.starts_with("%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden"));
    assert_eq!(
        (c["user"].as_str(), c["domain"].as_str()),
        (Some("JeffV"), Some("contoso.local"))
    );
    assert_eq!(
        one(&recs, "StartServiceW")["args"]["service_name"],
        "PLYteGjx"
    );

    let recs = get("empire_smbexec_smb2_svcctl_frag.cap");
    let c = one(&recs, "CreateServiceW");
    assert_eq!(c["request_fragments"], 3);
    assert_eq!(c["args"]["service_name"], "PGUJLOAKFQFVOMHGFQPX");
    assert!(c["args"]["binary_path"]
        .as_str()
        .is_some_and(|p| p.starts_with(r#"%COMSPEC% /C "%COMSPEC% /C start /b C:\Windows\System32\WindowsPowershell\v1.0\powershell -noP -sta -w 1 -enc"#)));
    assert_eq!(c["user"], "pgustavo");

    // Packet privacy with Kerberos: nothing readable but the mechanism.
    for (rel, op) in [
        ("empire_psexec_tcp_svcctl_privacy.cap", "CreateServiceA"),
        ("empire_wmi_execmethod_dcom.cap", "ExecMethod"),
        ("schtask_create_tcp_privacy.pcapng", "SchRpcRegisterTask"),
    ] {
        let recs = get(rel);
        check_shape(&recs);
        let c = one(&recs, op);
        assert_eq!(c["args_status"], "encrypted", "{rel}");
        assert_eq!(c["auth"], "kerberos", "{rel}");
        assert!(c["user"].is_null(), "{rel}");
    }
}
