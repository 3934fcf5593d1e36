//! rpcsift on the attack lab's Impacket captures (`captures/impacket/`, made by
//! `captures/lab/make.sh`): every request the Impacket client sent, as listed in
//! `<name>.truth.tsv`, must come out as one record, in order, with the same
//! transport, SMB pipe or server port, interface UUID, opnum and Zeek names, and
//! nothing else. Needs neither tshark nor `RPCSIFT_SHARED`.

mod common;
use common::lab::{Request, TruthRow, lab_captures, lab_truth};
use common::*;
use rpcsift::engine::Options;
use rpcsift::output::Format;
use serde_json::Value;

/// The part of a truth row that a call record must reproduce.
#[derive(Debug, PartialEq, Eq)]
struct Call {
    request: Request,
    endpoint: String,
    operation: String,
}

fn truth(name: &str) -> Vec<Call> {
    let call = |t: TruthRow| Call {
        request: t.request,
        endpoint: t.endpoint,
        operation: t.operation,
    };
    lab_truth(name).into_iter().map(call).collect()
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
                request: Request {
                    transport,
                    pipe_or_port,
                    uuid: field(&v, "uuid"),
                    opnum: field(&v, "opnum"),
                },
                endpoint: field(&v, "endpoint"),
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

/// One test per lab capture, with the number of calls its truth file lists; `CHECKED`
/// names them all.
macro_rules! lab_tests {
    ($($name:ident: $calls:expr,)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), $calls);
            }
        )*
        const CHECKED: &[&str] = &[$(stringify!($name)),*];
    };
}

lab_tests! {
    psexec_smb2: 7,
    psexec_smb1: 7,
    smbexec_smb2: 6,
    atexec_smb2: 3,
    atexec_smb1: 3,
    at_smb2: 1,
    at_smb1: 1,
    changeservice_smb2: 7,
    benign_mixed: 12,
    psexec_tcp: 8,
    schtask_tcp: 4,
    wmi_exec_tcp: 1,
    stress_rpcfrag_tcp: 8,
    stress_bigstub_smb2: 8,
    stress_bigstub_smb1: 8,
    stress_integrity_tcp: 7,
    stress_privacy_tcp: 7,
    psexec_privacy_smb2: 7,
    atexec_privacy_smb2: 3,
}

/// Every capture in the folder has a test above (a new scenario cannot go
/// unchecked), and every test its truth file and capture.
#[test]
fn every_lab_capture_is_checked() {
    let mut checked: Vec<String> = CHECKED.iter().map(|n| n.to_string()).collect();
    checked.sort();
    let names = lab_captures();
    assert_eq!(names, checked);
    for n in &names {
        let pcap = project(&format!("captures/impacket/{n}.pcap"));
        assert!(pcap.is_file(), "{n}.pcap missing beside its truth file");
    }
}
