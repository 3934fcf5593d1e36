//! End-to-end on the project's own generated captures (`captures/`): every call the
//! generator put on the wire must come out with the right fields. Runs without
//! `RPCSIFT_SHARED`.

mod common;
use common::*;
use rpcsift::engine::Options;
use rpcsift::output::Format;
use serde_json::Value;

const COLUMNS: [&str; 14] = [
    "ts",
    "orig_h",
    "orig_p",
    "resp_h",
    "resp_p",
    "call_id",
    "uuid",
    "opnum",
    "endpoint",
    "operation",
    "status",
    "rtt",
    "named_pipe",
    "auth_level",
];

/// A DCOM call without its bind, named by rpcsift from the IPID in its object UUID (the
/// generator's ground truth is the wire: no interface).
fn named_by_ipid(v: &Value) -> bool {
    let a = &v["args"];
    a["interface_from"] == "ipid" || a["object"]["interface_from"] == "ipid"
}

/// Our JSON record projected onto the expected.tsv columns.
fn project_row(v: &Value) -> Vec<String> {
    let wire = !named_by_ipid(v);
    let s = |k: &str| match &v[k] {
        _ if !wire && ["uuid", "endpoint", "operation"].contains(&k) => "-".to_string(),
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let t = |k: &str| match v[k].as_f64() {
        Some(x) => format!("{x:.6}"),
        None => "-".to_string(),
    };
    let auth_level = match v["auth_level"].as_str() {
        None => "-".to_string(),
        Some(name) => level_number(name).to_string(),
    };
    vec![
        t("ts"),
        s("id.orig_h"),
        s("id.orig_p"),
        s("id.resp_h"),
        s("id.resp_p"),
        s("call_id"),
        s("uuid"),
        s("opnum"),
        s("endpoint"),
        s("operation"),
        s("status"),
        t("rtt"),
        s("named_pipe"),
        auth_level,
    ]
}

fn level_number(name: &str) -> u8 {
    let names = [
        "RPC_C_AUTHN_LEVEL_DEFAULT",
        "RPC_C_AUTHN_LEVEL_NONE",
        "RPC_C_AUTHN_LEVEL_CONNECT",
        "RPC_C_AUTHN_LEVEL_CALL",
        "RPC_C_AUTHN_LEVEL_PKT",
        "RPC_C_AUTHN_LEVEL_PKT_INTEGRITY",
        "RPC_C_AUTHN_LEVEL_PKT_PRIVACY",
    ];
    match names.iter().position(|n| *n == name) {
        Some(i) => i as u8,
        None => name
            .trim_start_matches("unknown-")
            .parse()
            .expect("auth level"),
    }
}

/// Compare with the ground truth; returns how many calls were named by their IPID.
fn check(name: &str) -> usize {
    let pcap = project(&format!("captures/{name}.pcap"));
    let expected = std::fs::read_to_string(project(&format!("captures/{name}.expected.tsv")))
        .expect("expected.tsv");
    let mut lines = expected.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    assert_eq!(header, COLUMNS, "{name}: expected.tsv columns");
    let want: Vec<Vec<String>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let out = render(&run(&[pcap], &Options::default()), Format::Json);
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .collect();
    let got: Vec<Vec<String>> = records.iter().map(project_row).collect();
    assert_eq!(
        got, want,
        "{name}: calls differ from the generator's ground truth"
    );
    records.iter().filter(|v| named_by_ipid(v)).count()
}

#[test]
fn tcp135_epmapper() {
    check("tcp135_epmapper");
}
#[test]
fn dynamic_port_svcctl() {
    check("dynamic_port_svcctl");
}
#[test]
fn multifrag() {
    check("multifrag");
}
#[test]
fn bigendian_client() {
    check("bigendian_client");
}
#[test]
fn alter_context() {
    check("alter_context");
}
#[test]
fn midstream() {
    check("midstream");
}
#[test]
fn ooo_retrans() {
    check("ooo_retrans");
}
#[test]
fn lost_segment() {
    check("lost_segment");
}
#[test]
fn privacy_auth() {
    check("privacy_auth");
}
#[test]
fn atsvc_schtask() {
    check("atsvc_schtask");
}
#[test]
fn smb3_encrypted() {
    check("smb3_encrypted");
}
#[test]
fn smb2_compound_split() {
    check("smb2_compound_split");
}
#[test]
fn dcom_wmi_bigresp() {
    check("dcom_wmi_bigresp");
}
#[test]
fn smb2_atsvc_bigtask() {
    check("smb2_atsvc_bigtask");
}
#[test]
fn svcctl_reconnect() {
    check("svcctl_reconnect");
}

/// The AD attack scenarios (`captures/attack/`, issue 18): every call as generated.
#[test]
fn attack_scenarios() {
    for name in [
        "dcsync_workstation",
        "dc_replication",
        "dcshadow",
        "sid_history",
        "coercions_windows",
        "printnightmare",
        "print_client",
        "registry_persistence_dump",
        "registry_read",
        "accounts_secrets",
        "event_logs",
        "dcom_mmc20",
        "zerologon_windows",
    ] {
        let by_ipid = check(&format!("attack/{name}"));
        // The mid-stream IDispatch call of dcom_mmc20 is the only one named by its IPID.
        assert_eq!(by_ipid, usize::from(name == "dcom_mmc20"), "{name}");
    }
}
