//! End to end, issue 18: every AD attack technique on captures, with the argument that
//! proves it. Three sources:
//! * `captures/attack/` (examples/attack_scenarios, written by make_captures): what a
//!   Samba lab cannot produce, built from the specifications' structures: a Windows
//!   server's answers (ERROR_BAD_NETPATH, an accepted Zerologon authentication, an
//!   accepted printer driver), DCOM, replication between two DCs, DCShadow, calls in
//!   clear that real tools seal; and the benign captures (DCs replicating, a print
//!   client, a registry read) that must stay below medium.
//! * `captures/ad-lab/out/` (the Samba AD lab, issue 16): the real tools against a real
//!   DC. On loopback, client and DC share 127.0.0.1; SMB3-encrypted and sealed calls are
//!   header-only without keys.
//! * RPCSIFT_SHARED's real captures where one applies (DCOM ShellWindows).

mod common;

use rpcsift::detect::indicators::{IndicatorSet, Level};
use rpcsift::detect::{Detector, Hit, Settings};
use rpcsift::engine::Options;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn hits_with(path: &Path, dcs: Option<&[&str]>, min: Level, opts: &Options) -> Vec<Hit> {
    let run = common::run(&[path.to_path_buf()], opts);
    assert_eq!(run.counters.files_failed, 0, "{}", path.display());
    let det = Detector {
        set: Some(IndicatorSet::Attack),
        rules: vec![],
    };
    let settings = Settings {
        min_level: min,
        dcs: dcs.map(|v| v.iter().map(|a| a.parse().expect("addr")).collect()),
        evidence: None,
    };
    det.run_with(&run.records, &settings)
}

fn hits(path: &Path, dcs: Option<&[&str]>, min: Level) -> Vec<Hit> {
    hits_with(path, dcs, min, &Options::default())
}

fn generated(name: &str) -> PathBuf {
    common::project(&format!("captures/attack/{name}.pcap"))
}

fn lab(name: &str) -> PathBuf {
    common::project(&format!("captures/ad-lab/out/{name}.pcap"))
}

/// (technique, level, operation) of each hit, sorted.
fn summary(h: &[Hit]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = h
        .iter()
        .map(|h| {
            (
                h.techniques[0].id.clone(),
                h.level.clone().unwrap_or_default(),
                h.operation.as_deref().unwrap_or("-").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn s(t: &str, l: &str, op: &str) -> (String, String, String) {
    (t.into(), l.into(), op.into())
}

fn args(h: &Hit) -> Value {
    serde_json::to_value(h.args.as_ref().expect("decoded arguments")).expect("json")
}

const MEDIUM: Level = Level::Medium;
const DCS: &[&str] = &["10.20.0.5", "10.20.0.6"];

// ---- generated captures ----

#[test]
fn dcsync_from_a_workstation_names_the_object() {
    let h = hits(&generated("dcsync_workstation"), None, MEDIUM);
    assert_eq!(summary(&h), [s("T1003.006", "critical", "DRSGetNCChanges")]);
    let a = args(&h[0]);
    assert_eq!(
        a["naming_context"]["guid"],
        "6f3b0c7e-2d1a-4c55-9e3f-0a1b2c3d4e5f"
    );
    assert_eq!(a["extended_op_name"], "EXOP_REPL_OBJ");
    assert_eq!(a["dest_dsa"], "1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5");
    assert_eq!(
        (h[0].client_is_dc, h[0].server_is_dc),
        (Some(false), Some(true))
    );
    assert_eq!(h[0].dc_source, Some("inferred"));
    assert!(
        h[0].what
            .as_deref()
            .unwrap_or_default()
            .contains("{6f3b0c7e-2d1a-4c55-9e3f-0a1b2c3d4e5f}"),
        "{:?}",
        h[0].what
    );
    assert!(h[0].context.is_some_and(|c| c.contains("Entra")));
}

#[test]
fn benign_dc_replication_stays_below_medium() {
    let p = generated("dc_replication");
    assert_eq!(hits(&p, None, MEDIUM), []);
    let all = hits(&p, None, Level::Informational);
    assert_eq!(
        summary(&all),
        vec![s("T1003.006", "informational", "DRSGetNCChanges"); 2]
    );
    assert!(
        all.iter()
            .all(|h| h.client_is_dc == Some(true) && h.dc_source == Some("inferred"))
    );
    // Named DCs give the same answer.
    assert_eq!(hits(&p, Some(DCS), MEDIUM), []);
}

#[test]
fn dcshadow_needs_the_dc_list() {
    let p = generated("dcshadow");
    // With the DCs named: the rogue host's registration and the DC pulling from it.
    let h = hits(&p, Some(DCS), MEDIUM);
    assert_eq!(
        summary(&h),
        [
            s("T1003.006", "critical", "DRSGetNCChanges"),
            s("T1207", "critical", "DRSAddEntry"),
            s("T1207", "critical", "DRSReplicaAdd"),
        ]
    );
    let add = h
        .iter()
        .find(|h| h.operation.as_deref() == Some("DRSReplicaAdd"))
        .expect("add");
    assert_eq!(args(add)["source_dsa_address"], "rogue.lab.local");
    let entry = h
        .iter()
        .find(|h| h.operation.as_deref() == Some("DRSAddEntry"))
        .expect("entry");
    assert_eq!(args(entry)["object_count"], 2);
    assert!(
        args(entry)["objects"][1]["name"]["dn"]
            .as_str()
            .is_some_and(|d| d.starts_with("CN=NTDS Settings,CN=ROGUE,"))
    );
    // Inferred from the traffic, the rogue host serves drsuapi and looks like a DC: a
    // limitation said in the README (name the DCs with --dc).
    assert_eq!(hits(&p, None, MEDIUM), []);
}

#[test]
fn sid_history_injection_never_shows_the_password() {
    let h = hits(&generated("sid_history"), None, MEDIUM);
    assert_eq!(summary(&h), [s("T1134.005", "high", "DRSAddSidHistory")]);
    let json = serde_json::to_string(&h[0]).expect("json");
    assert!(!json.contains("Sup3rS3cret"), "{json}");
    assert_eq!(args(&h[0])["sid_history"]["password_sent"], true);
    assert_eq!(args(&h[0])["sid_history"]["dst_principal"], "lowpriv");
}

#[test]
fn every_coercion_names_the_listener() {
    let p = generated("coercions_windows");
    let h = hits(&p, None, MEDIUM);
    assert_eq!(
        summary(&h),
        [
            s("T1187", "high", "EfsRpcOpenFileRaw"),
            s("T1187", "high", "ElfrOpenBELW"),
            s("T1187", "high", "IsPathSupported"),
            s("T1187", "high", "NetrDfsAddStdRoot"),
            s(
                "T1187",
                "high",
                "RpcRemoteFindFirstPrinterChangeNotificationEx"
            ),
        ]
    );
    for x in &h {
        assert_eq!(args(x)["listener"], "10.20.0.99", "{:?}", x.operation);
        assert!(
            x.what
                .as_deref()
                .unwrap_or_default()
                .contains("told to authenticate to 10.20.0.99")
        );
    }
    let efs = &h
        .iter()
        .find(|x| x.operation.as_deref() == Some("EfsRpcOpenFileRaw"))
        .expect("efs");
    assert_eq!(args(efs)["listener_port"], 80);
    assert_eq!(args(efs)["result_name"], "ERROR_BAD_NETPATH");
    assert!(efs.reason.as_deref().unwrap_or_default().contains("WebDAV"));
    let prn = &h
        .iter()
        .find(|x| x.operation.as_deref() == Some("RpcRemoteFindFirstPrinterChangeNotificationEx"))
        .expect("printer bug");
    assert_eq!(args(prn)["printer"], "\\\\10.20.0.5");
    // The coerced server is a DC: critical once the DCs are known.
    assert!(
        hits(&p, Some(DCS), MEDIUM)
            .iter()
            .all(|x| x.level.as_deref() == Some("critical"))
    );
}

#[test]
fn printnightmare_and_a_benign_print_client() {
    let h = hits(&generated("printnightmare"), None, MEDIUM);
    assert_eq!(
        summary(&h),
        [s("T1210", "critical", "RpcAddPrinterDriverEx")]
    );
    let a = args(&h[0]);
    assert_eq!(a["config_file"], "\\\\10.20.0.99\\share\\evil.dll");
    assert_eq!(a["file_copy_flags"], 0x8014);
    assert_eq!(a["result"], 0);
    assert!(
        h[0].reason
            .as_deref()
            .unwrap_or_default()
            .contains("(succeeded)")
    );
    assert_eq!(hits(&generated("print_client"), None, MEDIUM), []);
    let low = hits(&generated("print_client"), None, Level::Informational);
    assert!(low.iter().any(|x| {
        x.reason
            .as_deref()
            .is_some_and(|r| r.contains("its own address"))
    }));
}

#[test]
fn registry_persistence_and_hive_dump_and_a_benign_read() {
    let h = hits(&generated("registry_persistence_dump"), None, MEDIUM);
    assert_eq!(
        summary(&h),
        [
            s("T1003.002", "high", "BaseRegQueryInfoKey"),
            s("T1003.002", "medium", "BaseRegSaveKey"),
            s("T1003.004", "critical", "BaseRegSaveKey"),
            s("T1003.004", "high", "BaseRegQueryInfoKey"),
            s("T1112", "medium", "BaseRegSetValue"),
            s("T1112", "medium", "BaseRegSetValue"),
            s("T1547.001", "high", "BaseRegSetValue"),
            s("T1547.004", "high", "BaseRegSetValue"),
        ]
    );
    let save = h
        .iter()
        .find(|x| {
            x.techniques[0].id == "T1003.004" && x.operation.as_deref() == Some("BaseRegSaveKey")
        })
        .expect("save");
    assert_eq!(args(save)["key_path"], "HKLM\\SECURITY");
    assert_eq!(args(save)["file"], "..\\Temp\\KqZtPwXe.tmp");
    let run = h
        .iter()
        .find(|x| x.techniques[0].id == "T1547.001")
        .expect("run key");
    assert_eq!(
        run.what.as_deref(),
        Some(
            "registry value HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDriveUpdater = C:\\Users\\Public\\odu.exe"
        )
    );
    let p = generated("registry_read");
    assert_eq!(hits(&p, None, MEDIUM), []);
    // BaseRegOpenKey is on Zeek's ignore list: rpcsift still sees it (and links the key
    // handle through it) in its default mode, and drops it only with --zeek-ignore.
    let all = hits(&p, None, Level::Informational);
    assert!(
        all.iter()
            .any(|x| x.operation.as_deref() == Some("BaseRegOpenKey"))
    );
    let ignoring = Options {
        zeek_ignore: true,
        ..Options::default()
    };
    let zeekish = hits_with(&p, None, Level::Informational, &ignoring);
    assert!(
        !zeekish
            .iter()
            .any(|x| x.operation.as_deref() == Some("BaseRegOpenKey"))
    );
}

#[test]
fn accounts_groups_secrets_and_rights() {
    let h = hits(&generated("accounts_secrets"), None, MEDIUM);
    assert_eq!(
        summary(&h),
        [
            s("T1003.004", "critical", "LsarRetrievePrivateData"),
            s("T1098", "high", "LsarAddAccountRights"),
            s("T1098", "high", "SamrSetInformationUser2"),
            s("T1098.007", "high", "SamrAddMemberToAlias"),
            s("T1136.002", "high", "SamrCreateUser2InDomain"),
        ]
    );
    let created = h
        .iter()
        .find(|x| x.techniques[0].id == "T1136.002")
        .expect("created");
    assert_eq!(args(created)["name"], "EVILPC$");
    assert_eq!(args(created)["rid"], 1112);
    let member = h
        .iter()
        .find(|x| x.techniques[0].id == "T1098.007")
        .expect("member");
    assert_eq!(args(member)["rid_name"], "Administrators");
    let hash = h
        .iter()
        .find(|x| x.operation.as_deref() == Some("SamrSetInformationUser2"))
        .expect("hash");
    assert_eq!(args(hash)["rid"], 500);
    assert_eq!(args(hash)["sets_password"], true);
}

#[test]
fn event_log_clearing_and_disabling() {
    let h = hits(&generated("event_logs"), None, MEDIUM);
    assert_eq!(
        summary(&h),
        [
            s("T1070.001", "critical", "ElfrClearELFW"),
            s("T1070.001", "high", "EvtRpcClearLog"),
            s("T1562.002", "critical", "EvtRpcPutChannelConfig"),
        ]
    );
    let clear = h
        .iter()
        .find(|x| x.operation.as_deref() == Some("ElfrClearELFW"))
        .expect("clear");
    assert_eq!(args(clear)["log_name"], "Security");
    assert_eq!(args(clear)["log_name_from"], "handle");
}

#[test]
fn dcom_mmc20_objects_named_by_their_ipid_even_mid_stream() {
    // Generated (no lab produces DCOM): the activation response hands out the IDispatch
    // IPID, each Invoke the IPID of the next object (Document, ActiveView), and a
    // connection picked up after its bind calls the last one.
    let p = generated("dcom_mmc20");
    let h = hits(&p, None, MEDIUM);
    assert_eq!(
        summary(&h),
        [
            s("T1021.003", "high", "GetIDsOfNames"),
            s("T1021.003", "high", "GetIDsOfNames"),
            s("T1021.003", "high", "RemoteCreateInstance"),
            s("T1021.003", "medium", "Invoke"),
            s("T1021.003", "medium", "Invoke"),
            s("T1021.003", "medium", "Invoke"),
        ]
    );
    // Looking up Document and ActiveView on an MMC20.Application object: low.
    assert_eq!(hits(&p, None, Level::Low).len(), 8);
    let act = h
        .iter()
        .find(|x| x.operation.as_deref() == Some("RemoteCreateInstance"))
        .expect("act");
    assert_eq!(args(act)["clsid_name"], "MMC20.Application");
    assert_eq!(args(act)["iids"][0], "00020400-0000-0000-c000-000000000046");
    assert_eq!(
        args(act)["objects"][0]["ipid"],
        "0000a001-2008-0f1c-5d6e-7f8091a2b3c4"
    );
    // The mid-stream call: no bind on its connection, named IDispatch::GetIDsOfNames from
    // its IPID, the class carried over from the activation through two Invoke results.
    let mid: Vec<_> = h
        .iter()
        .filter(|x| args(x)["object"]["interface_from"] == "ipid")
        .collect();
    assert_eq!(mid.len(), 1);
    let o = &args(mid[0])["object"];
    assert_eq!(mid[0].level.as_deref(), Some("high"));
    assert_eq!(
        mid[0].uuid.as_deref(),
        Some("00020400-0000-0000-c000-000000000046")
    );
    assert_eq!(o["clsid_name"], "MMC20.Application");
    assert_eq!(o["obtained_by"]["operation"], "Invoke");
    assert_eq!(args(mid[0])["suspicious"][0], "ExecuteShellCommand");
    let run = common::run(&[p], &Options::default());
    assert!(
        run.records
            .iter()
            .all(|r| r.extra.as_ref().is_some_and(|x| x.args_status == "decoded")),
        "every call decoded, the mid-stream one too"
    );
}

#[test]
fn zerologon_attempts_and_success_against_windows() {
    let h = hits(&generated("zerologon_windows"), None, MEDIUM);
    assert_eq!(h.len(), 9);
    assert!(
        h.iter()
            .all(|x| x.techniques[0].id == "T1210" && x.level.as_deref() == Some("critical"))
    );
    let auth: Vec<&Hit> = h
        .iter()
        .filter(|x| x.operation.as_deref() == Some("NetrServerAuthenticate3"))
        .collect();
    assert_eq!(auth.len(), 4);
    for a in &auth {
        assert_eq!(args(a)["attempts_in_connection"], 4);
        assert_eq!(args(a)["succeeded_in_connection"], true);
        assert!(
            a.reason
                .as_deref()
                .unwrap_or_default()
                .contains("4 zero-credential attempt(s) from 10.20.0.50 to 10.20.0.5 in this run, one authenticated"),
            "{:?}",
            a.reason
        );
    }
    let pw = h
        .iter()
        .find(|x| x.operation.as_deref() == Some("NetrServerPasswordSet2"))
        .expect("pwset2");
    assert_eq!(args(pw)["empty_password"], true);
    assert_eq!(
        pw.what.as_deref(),
        Some("netlogon: password of DC1$ set to empty")
    );
}

// ---- the Samba AD lab ----

#[test]
fn ad_lab_coercions() {
    let h = hits(&lab("coerce_petitpotam"), None, MEDIUM);
    assert_eq!(
        summary(&h),
        vec![s("T1187", "high", "EfsRpcOpenFileRaw"); 3]
    );
    let pipes: Vec<&str> = h.iter().filter_map(|x| x.smb_pipe.as_deref()).collect();
    assert_eq!(pipes, ["lsarpc", "samr", "netlogon"]);
    for x in &h {
        assert_eq!(args(x)["path"], "\\\\127.0.0.2\\lab\\petit.txt");
        assert_eq!(args(x)["listener"], "127.0.0.2");
    }
    let h = hits(&lab("coerce_petitpotam_privacy"), None, MEDIUM);
    assert_eq!(summary(&h), [s("T1187", "medium", "EfsRpcOpenFileRaw")]);
    assert_eq!(h[0].args_status, Some("encrypted"));
    let h = hits(&lab("coerce_printerbug"), None, MEDIUM);
    assert_eq!(
        summary(&h),
        [s(
            "T1187",
            "high",
            "RpcRemoteFindFirstPrinterChangeNotificationEx"
        )]
    );
    assert_eq!(args(&h[0])["listener"], "127.0.0.2");
    assert_eq!(args(&h[0])["printer"], "\\\\dc1");
    assert_eq!(args(&h[0])["result_name"], "RPC_S_SERVER_UNAVAILABLE");
    // DFSCoerce went over an encrypted SMB 3.1.1 session: invisible without keys.
    assert_eq!(
        hits(&lab("coerce_dfscoerce"), None, Level::Informational),
        []
    );
}

#[test]
fn ad_lab_dcsync_and_hive_dumps() {
    for (name, n) in [
        ("dcsync_ntlm", 4),
        ("dcsync_kerberos", 4),
        ("dcsync_krbtgt_ntlm", 1),
        ("dcsync_krbtgt_kerberos", 1),
        ("hive_secretsdump", 4),
        ("drs_clone_ntlm", 14),
        ("drs_clone_kerberos", 14),
    ] {
        let h = hits(&lab(name), None, MEDIUM);
        assert_eq!(
            summary(&h),
            vec![s("T1003.006", "high", "DRSGetNCChanges"); n],
            "{name}"
        );
        for x in &h {
            // Sealed with packet privacy: the naming context needs the keys.
            assert_eq!(x.args_status, Some("encrypted"), "{name}");
        }
        if n > 0 && !name.starts_with("drs_clone_kerberos") {
            assert!(
                h[0].reason
                    .as_deref()
                    .unwrap_or_default()
                    .contains("same host"),
                "{name}"
            );
        }
    }
    let h = hits(&lab("hive_regsave"), None, MEDIUM);
    assert_eq!(summary(&h), [s("T1003.002", "critical", "BaseRegSaveKey")]);
    assert_eq!(
        h[0].what.as_deref(),
        Some("registry key HKLM\\SAM saved to \\\\127.0.0.2\\share\\SAM.save")
    );
}

#[test]
fn ad_lab_zerologon_execution_and_discovery() {
    let h = hits(&lab("zerologon_tcp"), None, MEDIUM);
    assert_eq!(h.len(), 8);
    assert!(
        h.iter()
            .all(|x| x.techniques[0].id == "T1210" && x.level.as_deref() == Some("critical"))
    );
    for x in h
        .iter()
        .filter(|x| x.operation.as_deref() == Some("NetrServerAuthenticate3"))
    {
        assert_eq!(args(x)["attempts_in_connection"], 1);
        assert_eq!(args(x)["succeeded_in_connection"], false);
        assert_eq!(args(x)["result_name"], "STATUS_ACCESS_DENIED");
        assert!(
            x.reason
                .as_deref()
                .unwrap_or_default()
                .contains("4 zero-credential attempt(s)")
        );
        assert!(
            x.reason
                .as_deref()
                .unwrap_or_default()
                .contains("none authenticated")
        );
    }
    let h = hits(&lab("svcctl_create_smb21"), None, MEDIUM);
    assert_eq!(summary(&h), [s("T1569.002", "high", "CreateServiceW")]);
    assert_eq!(args(&h[0])["service_name"], "LabSvc21");
    let p = lab("discovery_srvsvc_wkssvc");
    assert_eq!(hits(&p, None, MEDIUM), []);
    assert_eq!(
        summary(&hits(&p, None, Level::Low)),
        [
            s("T1018", "low", "NetrServerGetInfo"),
            s("T1033", "low", "NetrWkstaUserEnum"),
            s("T1049", "low", "NetrSessionEnum"),
            s("T1135", "low", "NetrShareEnum"),
        ]
    );
    for name in [
        "enum_lookupsid",
        "enum_rpcclient",
        "enum_samrdump_kerberos",
        "rpcclient_smb3_gcm",
        "smb_encrypt_required",
        "svcctl_create_smb3",
    ] {
        assert_eq!(hits(&lab(name), None, MEDIUM), [], "{name}");
    }
}

// ---- real captures ----

#[test]
fn real_dcom_shellwindows() {
    let Some(shared) = common::shared() else {
        return;
    };
    let p = common::need(&shared, "captures/real/empire_dcom_shellwindows.cap");
    let h = hits(&p, None, MEDIUM);
    // Empire's ShellWindows: the class factory, then four IDispatch::Invoke calls by DISPID
    // (names looked up through GetTypeInfo, not GetIDsOfNames) on the ShellWindows object
    // and the objects its methods returned.
    assert_eq!(
        summary(&h),
        [
            s("T1021.003", "high", "RemoteGetClassObject"),
            s("T1021.003", "medium", "Invoke"),
            s("T1021.003", "medium", "Invoke"),
            s("T1021.003", "medium", "Invoke"),
            s("T1021.003", "medium", "Invoke"),
        ]
    );
    assert_eq!(args(&h[0])["clsid_name"], "ShellWindows");
    assert_eq!(
        args(&h[0])["iids"][0],
        "00000001-0000-0000-c000-000000000046"
    );
    // Windows' activation response hands out the IClassFactory IPID; CreateInstance on it
    // the object's; RemQueryInterface its IDispatch; each Invoke the next object's.
    assert_eq!(args(&h[0])["objects"][0]["iid"], args(&h[0])["iids"][0]);
    let chain: Vec<String> = h[1..]
        .iter()
        .map(|x| {
            assert_eq!(args(x)["clsid_name"], "ShellWindows");
            assert_eq!(args(x)["interface_from"], "bind");
            args(x)["obtained_by"]["operation"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(chain, ["RemQueryInterface", "Invoke", "Invoke", "Invoke"]);
    // Every call on a ShellWindows object is linked, ITypeInfo ones too.
    let run = common::run(&[p], &Options::default());
    let linked = run
        .records
        .iter()
        .filter_map(|r| r.extra.as_ref()?.args.as_ref())
        .filter(|a| {
            matches!(a, rpcsift::args::Args::DcomCall(o) if o.clsid_name == Some("ShellWindows"))
        })
        .count();
    assert_eq!(linked, 17);
}

// ---- command line ----

fn rpcsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rpcsift"))
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn cli_levels_dcs_and_tactics() {
    let cap = generated("dcshadow");
    let out = rpcsift()
        .args(["detect", "-q", "--format", "json"])
        .arg(&cap)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out.stdout), Vec::<Value>::new());
    let out = rpcsift()
        .args([
            "detect",
            "-q",
            "--format",
            "json",
            "--dc",
            "10.20.0.5",
            "--dc",
            "10.20.0.6",
        ])
        .arg(&cap)
        .output()
        .expect("run");
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 3);
    for h in &v {
        assert_eq!(h["level"], "critical");
        assert_eq!(h["dc_source"], "given");
        for k in ["context", "reason", "client_is_dc", "server_is_dc", "what"] {
            assert!(h.get(k).is_some_and(|x| !x.is_null()), "{k}: {h}");
        }
    }
    // The same DCs from a file.
    let dir = std::env::temp_dir().join(format!("rpcsift-attack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("dcs.txt");
    std::fs::write(&f, "# domain controllers\n10.20.0.5  dc1\n\n10.20.0.6\n").expect("write");
    let out = rpcsift()
        .args(["detect", "-q", "--format", "json", "--dc-file"])
        .arg(&f)
        .arg(&cap)
        .output()
        .expect("run");
    assert_eq!(json_lines(&out.stdout).len(), 3);
    std::fs::write(&f, "not-an-address\n").expect("write");
    let out = rpcsift()
        .args(["detect", "-q", "--dc-file"])
        .arg(&f)
        .arg(&cap)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IP address"));
    let _ = std::fs::remove_dir_all(&dir);
    // Levels and tactic subsets.
    let acc = generated("accounts_secrets");
    let n = |extra: &[&str]| {
        let out = rpcsift()
            .args(["detect", "-q", "--format", "json"])
            .args(extra)
            .arg(&acc)
            .output()
            .expect("run");
        json_lines(&out.stdout).len()
    };
    assert_eq!(n(&[]), 5);
    assert_eq!(n(&["--min-level", "critical"]), 1);
    assert_eq!(n(&["--min-level", "informational"]), 6);
    assert_eq!(n(&["--indicators", "credential-access"]), 1);
    assert_eq!(n(&["--indicators", "persistence,credential-access"]), 5);
    assert_eq!(n(&["--indicators", "execution"]), 0);
    let out = rpcsift()
        .args(["detect", "--indicators", "nope"])
        .arg(&acc)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn navigator_layer_covers_every_tactic_found() {
    let mut all = Vec::new();
    for name in [
        "coercions_windows",
        "dcsync_workstation",
        "event_logs",
        "accounts_secrets",
        "dcom_mmc20",
        "zerologon_windows",
    ] {
        all.extend(hits(&generated(name), None, MEDIUM));
    }
    let layer = rpcsift::report::navigator::layer(&all, "t", "d");
    let mut tactics: Vec<String> = layer["techniques"]
        .as_array()
        .expect("techniques")
        .iter()
        .filter_map(|t| t["tactic"].as_str().map(str::to_string))
        .collect();
    tactics.sort();
    tactics.dedup();
    assert_eq!(
        tactics,
        [
            "credential-access",
            "defense-evasion",
            "lateral-movement",
            "persistence"
        ]
    );
    let t1187 = layer["techniques"]
        .as_array()
        .and_then(|v| v.iter().find(|t| t["techniqueID"] == "T1187"))
        .expect("T1187");
    let meta = t1187["metadata"].as_array().expect("metadata");
    let get = |k: &str| {
        meta.iter()
            .find(|m| m["name"] == k)
            .map(|m| m["value"].clone())
    };
    assert_eq!(get("highest level"), Some(Value::from("high")));
    assert!(
        get("what")
            .and_then(|v| v.as_str().map(|s| s.contains("10.20.0.99")))
            .unwrap_or(false)
    );
}
