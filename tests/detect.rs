//! End-to-end tests of `rpcsift detect`: built-in indicator sets and Sigma rules on the
//! project's own captures (always) and on the shared real captures (with RPCSIFT_SHARED).

mod common;
use common::{rpcsift, temp_dir};

use rpcsift::detect::indicators::IndicatorSet;
use rpcsift::detect::{Detector, Hit, sigma};
use rpcsift::engine::Options;
use std::path::{Path, PathBuf};
use std::process::Command;

fn hits_on(path: &Path, det: &Detector) -> Vec<Hit> {
    let run = common::run(&[path.to_path_buf()], &Options::default());
    assert_eq!(run.counters.files_failed, 0, "{}", path.display());
    det.run(&run.records)
}

fn set(s: IndicatorSet) -> Detector {
    Detector {
        set: Some(s),
        rules: vec![],
    }
}

fn rules(paths: &[PathBuf]) -> Detector {
    let loaded = sigma::load_paths(paths);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    Detector {
        set: None,
        rules: loaded.rules,
    }
}

/// (orig_h, resp_h, technique ids, operation, status, matched_by) per hit.
type Row = (String, String, String, String, String, String);

fn rows(hits: &[Hit]) -> Vec<Row> {
    hits.iter()
        .map(|h| {
            let t: Vec<&str> = h.techniques.iter().map(|t| t.id.as_str()).collect();
            (
                h.orig_h.to_string(),
                h.resp_h.to_string(),
                t.join(","),
                h.operation.as_deref().unwrap_or_default().to_string(),
                h.status.unwrap_or("-").to_string(),
                h.matched_by.clone(),
            )
        })
        .collect()
}

fn row(o: &str, r: &str, t: &str, op: &str, st: &str, by: &str) -> Row {
    (
        o.into(),
        r.into(),
        t.into(),
        op.into(),
        st.into(),
        by.into(),
    )
}

#[test]
fn improved_on_own_captures_exact_hits() {
    let cap = common::project;
    let d = set(IndicatorSet::Improved);
    let imp = "improved";
    let task = |t: &str, op: &str| row("10.10.0.10", "10.10.0.5", t, op, "ok", imp);
    assert_eq!(
        rows(&hits_on(&cap("captures/atsvc_schtask.pcap"), &d)),
        [
            task("T1053.002", "NetrJobAdd"),
            task("T1053.005", "SchRpcRegisterTask"),
            task("T1053.005", "SchRpcRun"),
        ]
    );
    // Service creation and start; the faulted / unanswered CloseServiceHandle and the
    // unknown opnum 61 are not indicators.
    let svc = |o: &str, r: &str, op: &str| row(o, r, "T1569.002", op, "ok", imp);
    // privacy_auth: the stub is encrypted but the opnum is not.
    for (name, client, server) in [
        ("dynamic_port_svcctl", "10.2.0.10", "10.2.0.5"),
        ("multifrag", "10.3.0.10", "10.3.0.5"),
        ("privacy_auth", "10.9.0.10", "10.9.0.5"),
    ] {
        assert_eq!(
            rows(&hits_on(&cap(&format!("captures/{name}.pcap")), &d)),
            [
                svc(client, server, "CreateServiceW"),
                svc(client, server, "StartServiceW"),
            ],
            "{name}"
        );
    }
    assert_eq!(
        rows(&hits_on(&cap("captures/lost_segment.pcap"), &d)),
        vec![svc("10.8.0.10", "10.8.0.5", "CreateServiceW"); 4]
    );
}

#[test]
fn benign_own_captures_have_no_hits() {
    let d = set(IndicatorSet::All);
    for name in [
        "alter_context",
        "bigendian_client",
        "midstream",
        "ooo_retrans",
        "tcp135_epmapper",
    ] {
        let p = common::project(&format!("captures/{name}.pcap"));
        assert_eq!(hits_on(&p, &d), [], "{name}");
    }
}

#[test]
fn bzar_sets_mark_the_at_job_they_could_never_match() {
    let p = common::project("captures/atsvc_schtask.pcap");
    let h20 = hits_on(&p, &set(IndicatorSet::Bzar2020));
    assert_eq!(h20.len(), 3);
    assert_eq!(h20[0].operation.as_deref(), Some("NetrJobAdd"));
    assert_eq!(h20[0].would_match_in_zeek, Some(false));
    assert_eq!(h20[0].techniques[0].id, "T1053.002");
    assert!(h20[1..].iter().all(|h| h.would_match_in_zeek == Some(true)));
    let h19 = hits_on(&p, &set(IndicatorSet::Bzar2019));
    let t: Vec<&str> = h19.iter().map(|h| h.techniques[0].id.as_str()).collect();
    assert_eq!(t, ["T1053", "T1053", "T1053"]);
    // `all`: one hit per set per call (issue 18 added `bzar` and `attack` to `all`: 3 sets
    // of 3 calls became 5).
    let all = hits_on(&p, &set(IndicatorSet::All));
    assert_eq!(all.len(), 15);
    let sets: Vec<&str> = all.iter().take(5).map(|h| h.matched_by.as_str()).collect();
    assert_eq!(
        sets,
        ["improved", "bzar-2020", "bzar-2019", "bzar", "attack"]
    );
}

/// A rule shaped like the published one: `op1` transposed, so the `at` job never matches.
const TRANSPOSED: &str = "title: transposed at\nid: test-transposed\nlevel: medium\ntags: [attack.execution, attack.t1053.002, attack.t1053.005]\nlogsource:\n  product: zeek\n  service: dce_rpc\ndetection:\n  op1:\n    endpoint: 'JobAdd'\n    operation: 'atsvc'\n  op2:\n    endpoint: 'ITaskSchedulerService'\n    operation: 'SchRpcRegisterTask'\n  op3:\n    endpoint: 'ITaskSchedulerService'\n    operation: 'SchRpcRun'\n  condition: 1 of op*\n";

#[test]
fn sigma_transposed_rule_misses_at_job_that_improved_finds() {
    let dir = temp_dir("transposed");
    std::fs::write(dir.join("t.yml"), TRANSPOSED).expect("write rule");
    let p = common::project("captures/atsvc_schtask.pcap");
    let s = hits_on(&p, &rules(std::slice::from_ref(&dir)));
    let ops: Vec<_> = s.iter().filter_map(|h| h.operation.as_deref()).collect();
    assert_eq!(ops, ["SchRpcRegisterTask", "SchRpcRun"]);
    assert!(s.iter().all(|h| h.matched_by == "sigma:test-transposed"));
    assert_eq!(s[0].techniques[0].id, "T1053.002");
    assert_eq!(s[0].title.as_deref(), Some("transposed at"));
    assert_eq!(s[0].level.as_deref(), Some("medium"));
    // The same rule with op1 the right way round catches it.
    let fixed = TRANSPOSED
        .replace("endpoint: 'JobAdd'", "endpoint: 'atsvc'")
        .replace("operation: 'atsvc'", "operation: 'NetrJobAdd'");
    std::fs::write(dir.join("t.yml"), fixed).expect("write rule");
    assert_eq!(hits_on(&p, &rules(std::slice::from_ref(&dir))).len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The published Sigma execution rule, in the shared reference folder.
const PUBLISHED_RULE: &str = "reference/sigma/zeek_dce_rpc_mitre_bzar_execution.yml";

/// The published execution rule (shared reference) loads, runs, and misses the `at` job.
#[test]
fn published_sigma_rule_on_at_job() {
    let Some(shared) = common::shared() else {
        return;
    };
    let rule = common::need(&shared, PUBLISHED_RULE);
    let loaded = sigma::load_paths(std::slice::from_ref(&rule));
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.rules.len(), 1);
    assert_eq!(loaded.rules[0].id, "b640c0b8-87f8-4daa-aef8-95a24261dd1d");
    let det = rules(std::slice::from_ref(&rule));
    // Own capture: fires on the two ITaskSchedulerService calls, not on NetrJobAdd.
    let own = hits_on(&common::project("captures/atsvc_schtask.pcap"), &det);
    let ops: Vec<_> = own.iter().filter_map(|h| h.operation.as_deref()).collect();
    assert_eq!(ops, ["SchRpcRegisterTask", "SchRpcRun"]);
    let t: Vec<_> = own[0].techniques.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(t, ["T1047", "T1053.002", "T1569.002"]);
    // Impacket lab: silent on the `at` jobs over SMB1 and SMB2, fires on atexec's
    // scheduled task over the same pipe.
    for (name, n) in [
        ("at_smb1", 0),
        ("at_smb2", 0),
        ("atexec_smb1", 2),
        ("atexec_smb2", 2),
    ] {
        let p = common::project(&format!("captures/impacket/{name}.pcap"));
        assert_eq!(hits_on(&p, &det).len(), n, "{name}");
    }
    // Real `at` job over SMB2: the rule is silent, improved is not.
    let real = common::need(&shared, "captures/real/atsvc_netrjobadd_smb2.pcap");
    assert_eq!(hits_on(&real, &det), []);
    let imp = hits_on(&real, &set(IndicatorSet::Improved));
    assert_eq!(
        rows(&imp),
        [row(
            "192.168.10.31",
            "192.168.10.30",
            "T1053.002",
            "NetrJobAdd",
            "ok",
            "improved"
        )]
    );
    assert_eq!(imp[0].transport, Some("smb2"));
    assert_eq!(imp[0].smb_pipe.as_deref(), Some("atsvc"));
    assert!(imp[0].responded);
}

/// Hits per real capture: improved, bzar-2020 (of which unmatchable in Zeek), and the
/// published Sigma rule.
#[test]
fn real_captures_improved_vs_bzar_vs_sigma() {
    let Some(shared) = common::shared() else {
        return;
    };
    let rule = common::need(&shared, PUBLISHED_RULE);
    let sig = rules(&[rule]);
    let imp = set(IndicatorSet::Improved);
    let bzar = set(IndicatorSet::Bzar2020);
    for (name, n_imp, n_bzar, n_unmatchable, n_sigma, techs) in [
        ("atsvc_netrjobadd_smb2.pcap", 1, 1, 1, 0, "T1053.002"),
        ("dce_gap_samr_tcp.pcap", 0, 0, 0, 0, ""),
        ("empire_dcom_shellwindows.cap", 0, 0, 0, 0, ""),
        ("empire_find_localadmin_negative.cap", 0, 0, 0, 0, ""),
        (
            "empire_psexec_tcp_svcctl_privacy.cap",
            2,
            2,
            0,
            2,
            "T1569.002",
        ),
        (
            "empire_smbexec_smb2_svcctl_frag.cap",
            2,
            2,
            0,
            2,
            "T1569.002",
        ),
        ("empire_wmi_execmethod_dcom.cap", 1, 1, 0, 1, "T1047"),
        ("msf_psexec_smb1_svcctl.pcap", 2, 2, 0, 2, "T1569.002"),
        // CreateServiceWOW64W (45): in improved and bzar-2020, not in the Sigma rule.
        ("psexec_smb2_svcctl_wow64.pcap", 2, 2, 0, 1, "T1569.002"),
        ("schtask_create_tcp_privacy.pcapng", 1, 1, 0, 1, "T1053.005"),
        ("smb3_encrypted.pcap", 0, 0, 0, 0, ""),
    ] {
        let p = common::need(&shared, &format!("captures/real/{name}"));
        let run = common::run(&[p], &Options::default());
        let hi = imp.run(&run.records);
        let hb = bzar.run(&run.records);
        let hs = sig.run(&run.records);
        assert_eq!(hi.len(), n_imp, "{name} improved");
        assert_eq!(hb.len(), n_bzar, "{name} bzar-2020");
        let unm = hb
            .iter()
            .filter(|h| h.would_match_in_zeek == Some(false))
            .count();
        assert_eq!(unm, n_unmatchable, "{name} bzar-2020 unmatchable");
        assert_eq!(hs.len(), n_sigma, "{name} sigma");
        for h in &hi {
            assert_eq!(h.techniques[0].id, techs, "{name}");
        }
    }
}

/// Over SMB1 and SMB2 pipes and TCP: transport, pipe, spec names for WOW64 calls.
#[test]
fn real_capture_transports_and_spec_names() {
    let Some(shared) = common::shared() else {
        return;
    };
    let d = set(IndicatorSet::Improved);
    let smb1 = hits_on(
        &common::need(&shared, "captures/real/msf_psexec_smb1_svcctl.pcap"),
        &d,
    );
    assert_eq!(
        rows(&smb1),
        [
            row(
                "192.168.10.50",
                "192.168.10.31",
                "T1569.002",
                "CreateServiceW",
                "ok",
                "improved"
            ),
            row(
                "192.168.10.50",
                "192.168.10.31",
                "T1569.002",
                "StartServiceW",
                "ok",
                "improved"
            ),
        ]
    );
    assert!(smb1.iter().all(|h| h.transport == Some("smb1")));
    let wow = hits_on(
        &common::need(&shared, "captures/real/psexec_smb2_svcctl_wow64.pcap"),
        &d,
    );
    assert_eq!(wow.len(), 2);
    assert_eq!(wow[0].opnum, Some(45));
    assert_eq!(wow[0].operation.as_deref(), Some("CreateServiceWOW64W"));
    assert_eq!(wow[0].operation_spec, Some("RCreateServiceWOW64W"));
    assert_eq!(wow[0].transport, Some("smb2"));
    assert_eq!(wow[0].smb_pipe.as_deref(), Some("svcctl"));
    assert_eq!(wow[0].resp_h.to_string(), "192.168.10.10");
    let wmi = hits_on(
        &common::need(&shared, "captures/real/empire_wmi_execmethod_dcom.cap"),
        &d,
    );
    assert_eq!(
        rows(&wmi),
        [row(
            "172.18.39.5",
            "172.18.39.6",
            "T1047",
            "ExecMethod",
            "ok",
            "improved"
        )]
    );
    assert_eq!(wmi[0].transport, Some("tcp"));
}

// ---- command line ----

fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().expect("run rpcsift");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn cli_json_fields_and_exit_codes() {
    let cap = common::project("captures/dynamic_port_svcctl.pcap");
    // Issue 18 made `attack` the default set: the improved fields are asked for by name.
    let (code, stdout, _) = out(rpcsift()
        .args(["detect", "--format", "json", "--indicators", "improved"])
        .arg(&cap));
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    let h = &lines[0];
    assert_eq!(h["id.orig_h"], "10.2.0.10");
    assert_eq!(h["id.resp_h"], "10.2.0.5");
    assert_eq!(h["id.resp_p"], 49667);
    assert_eq!(h["transport"], "tcp");
    assert_eq!(h["endpoint"], "svcctl");
    assert_eq!(h["operation"], "CreateServiceW");
    assert_eq!(h["operation_spec"], "RCreateServiceW");
    assert_eq!(h["uuid"], "367abb81-9844-35f1-ad32-98f038001003");
    assert_eq!(h["opnum"], 12);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["responded"], true);
    assert_eq!(h["matched_by"], "improved");
    assert_eq!(h["set"], "improved");
    assert_eq!(h["would_match_in_zeek"], true);
    assert_eq!(h["techniques"][0]["id"], "T1569.002");
    assert_eq!(h["techniques"][0]["tactic"], "execution");
    assert_eq!(
        h["techniques"][0]["name"],
        "System Services: Service Execution"
    );
    assert!(
        h["capture"]
            .as_str()
            .is_some_and(|c| c.ends_with("dynamic_port_svcctl.pcap"))
    );
    for k in [
        "ts",
        "uid",
        "id.orig_p",
        "named_pipe",
        "smb_pipe",
        "level",
        "tags",
    ] {
        assert!(h.get(k).is_some(), "missing {k}");
    }
    // --fail-on-hit: 3 with hits, 0 without.
    let (code, _, _) = out(rpcsift()
        .args(["detect", "-q", "--format", "json", "--fail-on-hit"])
        .arg(&cap));
    assert_eq!(code, 3);
    let benign = common::project("captures/tcp135_epmapper.pcap");
    let (code, stdout, _) = out(rpcsift()
        .args(["detect", "-q", "--format", "json", "--fail-on-hit"])
        .arg(&benign));
    assert_eq!((code, stdout.as_str()), (0, ""));
    // Help documents the exit codes.
    let (_, help, _) = out(rpcsift().args(["detect", "--help"]));
    assert!(help.contains("3  --fail-on-hit"), "{help}");
}

#[test]
fn cli_text_report() {
    let (code, stdout, _) = out(rpcsift()
        .args([
            "detect",
            "-q",
            "--format",
            "text",
            "--indicators",
            "bzar-2020",
        ])
        .arg(common::project("captures/atsvc_schtask.pcap")));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("3 hit(s) on 3 call(s) to 1 target host(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("target 10.10.0.5"), "{stdout}");
    assert!(
        stdout
            .contains("T1053.002 Scheduled Task/Job: At: 1 call(s) (1 ok, 0 fault, 0 no response)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "matched by bzar-2020 (1 hit(s) the published string could never match in Zeek)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("first 2024-01-01 01:40:00.106564  last 2024-01-01 01:40:00.115042"),
        "{stdout}"
    );
}

#[test]
fn cli_bad_rule_is_reported_and_others_still_run() {
    let dir = temp_dir("cli-rules");
    std::fs::write(dir.join("a_good.yml"), TRANSPOSED).expect("write");
    std::fs::write(
        dir.join("b_bad.yml"),
        "title: bad\nid: bad-rule\nlogsource: {product: zeek, service: dce_rpc}\ndetection:\n  s:\n    operation|base64offset|contains: abc\n  condition: s\n",
    )
    .expect("write");
    let (code, stdout, stderr) = out(rpcsift()
        .args(["detect", "--format", "json", "--sigma"])
        .arg(&dir)
        .arg(common::project("captures/atsvc_schtask.pcap")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("b_bad.yml"), "{stderr}");
    assert!(stderr.contains("base64offset"), "{stderr}");
    // Only the Sigma rule ran (no --indicators): the two scheduled-task calls.
    let by: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["matched_by"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(by, ["sigma:test-transposed", "sigma:test-transposed"]);
    // With --indicators too, both run.
    let (_, stdout, _) = out(rpcsift()
        .args([
            "detect",
            "-q",
            "--format",
            "json",
            "--indicators",
            "improved",
            "--sigma",
        ])
        .arg(&dir)
        .arg(common::project("captures/atsvc_schtask.pcap")));
    assert_eq!(stdout.lines().count(), 5);
    // Only bad rules and no set: usage error.
    let (code, _, stderr) = out(rpcsift()
        .args(["detect", "--sigma"])
        .arg(dir.join("b_bad.yml"))
        .arg(common::project("captures/atsvc_schtask.pcap")));
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = out(rpcsift()
        .args(["detect", "--sigma"])
        .arg(dir.join("missing.yml"))
        .arg(common::project("captures/atsvc_schtask.pcap")));
    assert_eq!(code, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// (operation, technique id).
type OpTech = (&'static str, &'static str);

/// The Impacket lab captures (captures/impacket, made against a real Impacket client):
/// exact hits per capture, and the same calls as the lab's own truth file marks as
/// execution indicators.
#[test]
fn impacket_lab_captures_exact_hits() {
    let svc = [
        ("CreateServiceW", "T1569.002"),
        ("StartServiceW", "T1569.002"),
    ];
    let task = [
        ("SchRpcRegisterTask", "T1053.005"),
        ("SchRpcRun", "T1053.005"),
    ];
    let at = [("NetrJobAdd", "T1053.002")];
    let cases: &[(&str, &str, &[OpTech])] = &[
        ("at_smb1", "smb1", &at),
        ("at_smb2", "smb2", &at),
        ("atexec_smb1", "smb1", &task),
        ("atexec_smb2", "smb2", &task),
        ("benign_mixed", "-", &[]),
        (
            "changeservice_smb2",
            "smb2",
            &[("StartServiceW", "T1569.002")],
        ),
        ("psexec_smb1", "smb1", &svc),
        ("psexec_smb2", "smb2", &svc),
        ("psexec_tcp", "tcp", &svc),
        ("schtask_tcp", "tcp", &task),
        ("smbexec_smb2", "smb2", &svc),
        ("stress_bigstub_smb1", "smb1", &svc),
        ("stress_bigstub_smb2", "smb2", &svc),
        ("stress_integrity_tcp", "tcp", &svc),
        ("stress_privacy_tcp", "tcp", &svc),
        ("psexec_privacy_smb2", "smb2", &svc),
        ("atexec_privacy_smb2", "smb2", &task),
        ("stress_rpcfrag_tcp", "tcp", &svc),
        ("wmi_exec_tcp", "tcp", &[("ExecMethod", "T1047")]),
    ];
    let dir = temp_dir("lab-rule");
    std::fs::write(dir.join("t.yml"), TRANSPOSED).expect("write rule");
    let transposed = rules(std::slice::from_ref(&dir));
    let imp = set(IndicatorSet::Improved);
    for (name, transport, want) in cases {
        let pcap = common::project(&format!("captures/impacket/{name}.pcap"));
        let hits = hits_on(&pcap, &imp);
        let got: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| {
                (
                    h.operation.as_deref().unwrap_or("-"),
                    h.techniques[0].id.as_str(),
                )
            })
            .collect();
        assert_eq!(got, *want, "{name}");
        for h in &hits {
            assert_eq!(h.transport, Some(*transport), "{name}");
            assert_eq!(
                (h.orig_h.to_string(), h.resp_h.to_string()),
                ("127.0.0.1".to_string(), "127.0.0.1".to_string()),
                "{name}"
            );
            assert!(h.responded, "{name}");
        }
        // The lab's truth: rows whose execution_indicator column is "yes".
        let truth = std::fs::read_to_string(common::project(&format!(
            "captures/impacket/{name}.truth.tsv"
        )))
        .expect("truth file");
        let marked: Vec<String> = truth
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.get(7) == Some(&"yes")).then(|| f.get(6).unwrap_or(&"").to_string())
            })
            .collect();
        let ops: Vec<String> = got.iter().map(|(o, _)| o.to_string()).collect();
        assert_eq!(ops, marked, "{name} vs truth");
        // A rule with the published op1 transposition never sees the `at` jobs.
        if name.starts_with("at_") {
            assert_eq!(hits_on(&pcap, &transposed), [], "{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hits_say_what_ran_and_as_whom() {
    let p = common::project("captures/impacket/psexec_smb2.pcap");
    let hits = hits_on(&p, &set(IndicatorSet::Improved));
    let create = hits
        .iter()
        .find(|h| h.operation.as_deref() == Some("CreateServiceW"))
        .expect("CreateServiceW hit");
    assert_eq!(
        create.what_ran.as_deref(),
        Some("service RKzq: %SystemRoot%\\RKzqWbFd.exe")
    );
    assert_eq!(create.args_status, Some("decoded"));
    assert_eq!(
        (
            create.user.as_deref(),
            create.domain.as_deref(),
            create.auth
        ),
        (Some("labadmin"), Some("LAB"), Some("ntlm"))
    );
    let json = serde_json::to_value(create).expect("json");
    assert_eq!(json["args"]["service_name"], "RKzq");
    let mut text = Vec::new();
    rpcsift::detect::write_text(&mut text, &hits).expect("text");
    let text = String::from_utf8(text).expect("utf8");
    assert!(
        text.contains("    what ran service RKzq: %SystemRoot%\\RKzqWbFd.exe\n"),
        "{text}"
    );
    assert!(text.contains("    as LAB\\labadmin (ntlm)\n"), "{text}");
}

/// A host that answers Kerberos on port 88 is a DC even when no drsuapi or netlogon call
/// shows it: the AD lab's `samrdump.py -k` talks SAMR to the DC over SMB3 after asking its
/// KDC for tickets over TCP 88. The run names the KDC; the SAMR hits (read with the lab's
/// keys) say their server is an inferred DC. A capture without Kerberos names none.
#[test]
fn kerberos_servers_are_inferred_dcs() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cap = project.join("captures/ad-lab/out/enum_samrdump_kerberos.pcap");
    let run = rpcsift::engine::run(std::slice::from_ref(&cap), &Options::default());
    let lo: std::net::IpAddr = "127.0.0.1".parse().expect("addr");
    assert_eq!(run.kdcs.iter().copied().collect::<Vec<_>>(), [lo]);
    // No drsuapi or netlogon call in it: Kerberos is the only evidence.
    assert!(rpcsift::detect::infer_dcs(&run.records).is_empty());
    let plain = rpcsift::engine::run(
        &[project.join("captures/atsvc_schtask.pcap")],
        &Options::default(),
    );
    assert!(plain.kdcs.is_empty());

    let o = rpcsift()
        .args([
            "detect",
            "--quiet",
            "--format",
            "json",
            "--min-level",
            "informational",
        ])
        .arg("--keys")
        .arg(project.join("captures/ad-lab/out/enum_samrdump_kerberos.keys"))
        .arg(&cap)
        .output()
        .expect("run rpcsift");
    assert_eq!(o.status.code(), Some(0));
    let hits: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(hits.len(), 6);
    for h in &hits {
        assert_eq!(h["endpoint"], "samr");
        assert_eq!(h["server_is_dc"], true);
        assert_eq!(h["dc_source"], "inferred");
    }
}
