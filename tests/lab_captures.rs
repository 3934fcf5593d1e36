//! rpcsift on the attack lab's Impacket captures (`captures/impacket/`, made by
//! `captures/lab/make.sh`): every request the Impacket client sent, as listed in
//! `<name>.truth.tsv`, must come out as one record, in order, with the same
//! transport, SMB pipe or server port, interface UUID, opnum and Zeek names, and
//! nothing else. Needs neither tshark nor `RPCSIFT_SHARED`.

mod common;
use common::*;
use rpcsift::engine::Options;
use rpcsift::output::Format;
use serde_json::Value;

const TRUTH_COLUMNS: [&str; 12] = [
    "call_index",
    "transport",
    "named_pipe_or_port",
    "uuid",
    "endpoint",
    "opnum",
    "operation",
    "execution_indicator",
    "service_name",
    "binary_path",
    "task_command",
    "wmi_command_line",
];

/// The part of a truth row that a call record must reproduce.
#[derive(Debug, PartialEq, Eq)]
struct Call {
    transport: String,
    pipe_or_port: String,
    uuid: String,
    endpoint: String,
    opnum: String,
    operation: String,
}

fn truth(name: &str) -> Vec<Call> {
    let path = project(&format!("captures/impacket/{name}.truth.tsv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header line").split('\t').collect();
    assert_eq!(header, TRUTH_COLUMNS, "{name}: truth columns");
    lines
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), TRUTH_COLUMNS.len(), "{name}: row {}", i + 1);
            assert_eq!(f[0], (i + 1).to_string(), "{name}: call_index");
            Call {
                transport: f[1].to_string(),
                pipe_or_port: f[2].to_string(),
                uuid: f[3].to_string(),
                endpoint: f[4].to_string(),
                opnum: f[5].to_string(),
                operation: f[6].to_string(),
            }
        })
        .collect()
}

fn field(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The SMB pipe as the truth names it: SMB1 creates carry a leading backslash
/// (`\svcctl`), SMB2 creates do not.
fn bare_pipe(name: &str) -> String {
    name.trim_start_matches('\\').to_string()
}

fn decoded(name: &str) -> Vec<Call> {
    let pcap = project(&format!("captures/impacket/{name}.pcap"));
    let out = render(&run(&[pcap], &Options::default()), Format::Json);
    out.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("json line");
            let transport = field(&v, "transport");
            let pipe_or_port = if transport == "tcp" {
                field(&v, "id.resp_p")
            } else {
                bare_pipe(&field(&v, "smb_pipe"))
            };
            Call {
                transport,
                pipe_or_port,
                uuid: field(&v, "uuid"),
                endpoint: field(&v, "endpoint"),
                opnum: field(&v, "opnum"),
                operation: field(&v, "operation"),
            }
        })
        .collect()
}

fn check(name: &str, expected_calls: usize) {
    let want = truth(name);
    assert_eq!(want.len(), expected_calls, "{name}: truth rows");
    let got = decoded(name);
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: record count\n got: {got:#?}\nwant: {want:#?}"
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{name}: call {}", i + 1);
    }
}

#[test]
fn psexec_smb2() {
    check("psexec_smb2", 7);
}
#[test]
fn psexec_smb1() {
    check("psexec_smb1", 7);
}
#[test]
fn smbexec_smb2() {
    check("smbexec_smb2", 6);
}
#[test]
fn atexec_smb2() {
    check("atexec_smb2", 3);
}
#[test]
fn atexec_smb1() {
    check("atexec_smb1", 3);
}
#[test]
fn at_smb2() {
    check("at_smb2", 1);
}
#[test]
fn at_smb1() {
    check("at_smb1", 1);
}
#[test]
fn changeservice_smb2() {
    check("changeservice_smb2", 7);
}
#[test]
fn benign_mixed() {
    check("benign_mixed", 12);
}
#[test]
fn psexec_tcp() {
    check("psexec_tcp", 8);
}
#[test]
fn schtask_tcp() {
    check("schtask_tcp", 4);
}
#[test]
fn wmi_exec_tcp() {
    check("wmi_exec_tcp", 1);
}
#[test]
fn stress_rpcfrag_tcp() {
    check("stress_rpcfrag_tcp", 8);
}
#[test]
fn stress_bigstub_smb2() {
    check("stress_bigstub_smb2", 8);
}
#[test]
fn stress_bigstub_smb1() {
    check("stress_bigstub_smb1", 8);
}
#[test]
fn stress_integrity_tcp() {
    check("stress_integrity_tcp", 7);
}
#[test]
fn stress_privacy_tcp() {
    check("stress_privacy_tcp", 7);
}
#[test]
fn psexec_privacy_smb2() {
    check("psexec_privacy_smb2", 7);
}
#[test]
fn atexec_privacy_smb2() {
    check("atexec_privacy_smb2", 3);
}

/// Every capture in the folder has a test above (a new scenario cannot go
/// unchecked).
#[test]
fn every_lab_capture_is_checked() {
    let dir = project("captures/impacket");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("captures/impacket")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".truth.tsv").map(str::to_string)
        })
        .collect();
    names.sort();
    let covered = [
        "at_smb1",
        "at_smb2",
        "atexec_privacy_smb2",
        "atexec_smb1",
        "atexec_smb2",
        "benign_mixed",
        "changeservice_smb2",
        "psexec_privacy_smb2",
        "psexec_smb1",
        "psexec_smb2",
        "psexec_tcp",
        "schtask_tcp",
        "smbexec_smb2",
        "stress_bigstub_smb1",
        "stress_bigstub_smb2",
        "stress_integrity_tcp",
        "stress_privacy_tcp",
        "stress_rpcfrag_tcp",
        "wmi_exec_tcp",
    ];
    assert_eq!(names, covered);
    for n in &names {
        assert!(
            dir.join(format!("{n}.pcap")).is_file(),
            "{n}.pcap missing beside its truth file"
        );
    }
}
