//! `rpcsift validate` end to end: Zeek logs against their captures.
//!
//! Without `RPCSIFT_SHARED` the logs are made at run time from the Zeek emulation of the
//! project's own captures, then doctored (a line removed, renamed, added, shifted), and each
//! change must be reported exactly once, as what it is. With `RPCSIFT_SHARED`, the four
//! btest baselines in `conformance/zeek/` must validate clean, and real Zeek logs with
//! ignored and `unknown-N` operations must be explained.

mod common;
use common::*;
use rpcsift::output::Format;
use rpcsift::validate::matcher::Mismatch;
use rpcsift::validate::{self, Report, ValidateOptions};
use std::path::{Path, PathBuf};

/// What the Zeek emulation writes for `caps`, as a Zeek TSV log.
fn emulated_log(caps: &[PathBuf]) -> String {
    render(&run(caps, &zeek_compat()), Format::Zeek)
}

fn validate_with(dir: &Path, log_name: &str, log: &str, caps: &[PathBuf]) -> Report {
    let p = dir.join(log_name);
    std::fs::write(&p, log).expect("write log");
    validate::validate(caps, &[p], &ValidateOptions::default()).expect("validate")
}

/// Indices (in `text.lines()`) of the data lines of a TSV log.
fn data_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
        .map(|(i, _)| i)
        .collect()
}

fn edit_line(text: &str, idx: usize, f: impl Fn(&mut Vec<String>)) -> String {
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        if i == idx {
            let mut cols: Vec<String> = l.split('\t').map(str::to_string).collect();
            f(&mut cols);
            out.push_str(&cols.join("\t"));
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

fn counts(r: &Report) -> (usize, usize, usize, usize, usize, usize, usize) {
    let c = &r.comparison.counts;
    (
        c.matched,
        c.missing,
        c.missing_unexplained,
        c.only_in_zeek,
        c.only_in_zeek_unexplained,
        c.mismatches,
        c.mismatches_unexplained,
    )
}

fn svcctl() -> Vec<PathBuf> {
    vec![project("captures/dynamic_port_svcctl.pcap")]
}

/// The emulated log of [`svcctl`] with data line `n` changed by `f`, validated; and the
/// log's path.
fn validate_edited(tag: &str, n: usize, f: impl Fn(&mut Vec<String>)) -> (Report, PathBuf) {
    let dir = temp_dir(tag);
    let log = emulated_log(&svcctl());
    let doctored = edit_line(&log, data_lines(&log)[n], f);
    let r = validate_with(&dir, "dce_rpc.log", &doctored, &svcctl());
    (r, dir.join("dce_rpc.log"))
}

/// The mismatches no known Zeek behaviour explains.
fn unexplained(r: &Report) -> Vec<&Mismatch> {
    r.comparison
        .mismatches
        .iter()
        .filter(|m| !m.explained)
        .collect()
}

/// (field, Zeek's value, ours) of each differing field.
fn fields(m: &Mismatch) -> Vec<(&str, Option<&str>, Option<&str>)> {
    m.fields
        .iter()
        .map(|f| (f.field, f.zeek.as_deref(), f.ours.as_deref()))
        .collect()
}

/// The emulation's own log agrees; what differs from the packets is explained.
#[test]
fn emulated_log_agrees_and_differences_are_explained() {
    let dir = temp_dir("agrees");
    let log = emulated_log(&svcctl());
    let r = validate_with(&dir, "dce_rpc.log", &log, &svcctl());
    assert!(r.agrees, "{}", validate::report::text(&r));
    // 6 calls; Zeek logs 4 lines: 3 calls as they are, plus the connection-removal line
    // for the unanswered CloseServiceHandle (ts of that request, StartServiceW's name/rtt).
    assert_eq!(counts(&r), (3, 2, 0, 0, 0, 1, 0));
    let reasons: Vec<(&str, u32)> = r
        .comparison
        .missing
        .iter()
        .map(|m| (m.reason, m.call.as_ref().map(|c| c.call_id).unwrap_or(0)))
        .collect();
    assert_eq!(reasons, vec![("fault", 5), ("fault", 6)]);
    let m = &r.comparison.mismatches[0];
    assert_eq!(m.reason, "removal_hook");
    assert_eq!(m.call.call_id, 7);
    assert_eq!(m.call.status, "no_response");
    assert_eq!(
        fields(m),
        vec![
            (
                "operation",
                Some("StartServiceW"),
                Some("CloseServiceHandle")
            ),
            ("rtt", Some("0.031084"), None)
        ]
    );
    // The re-logged line is an execution indicator at the time of a CloseServiceHandle:
    // said as a false indicator, once.
    let fi: Vec<(&str, &str, &str)> = m
        .false_indicator
        .iter()
        .map(|i| (i.endpoint, i.operation, i.technique))
        .collect();
    assert_eq!(fi, vec![("svcctl", "StartServiceW", "T1569.002")]);
    assert_eq!(r.comparison.counts.false_indicators, 1);
    assert!(
        m.explanation.contains(
            "shows an execution call (svcctl StartServiceW, T1569.002) at 1704068400.158975 where the packets have CloseServiceHandle"
        ),
        "{}",
        m.explanation
    );
    // The faulted opnum 61 is named unknown-61 by Zeek's table but never logged.
    assert!(r.comparison.unknown_names.is_empty());
    // CreateServiceW and StartServiceW are both in the log.
    let ind: Vec<(&str, &str)> = r
        .comparison
        .indicators
        .iter()
        .map(|h| (h.call.operation.as_deref().unwrap_or(""), h.in_zeek_log))
        .collect();
    assert_eq!(
        ind,
        vec![("CreateServiceW", "logged"), ("StartServiceW", "logged")]
    );
}

#[test]
fn removed_record_is_reported_as_missing() {
    let dir = temp_dir("removed");
    let log = emulated_log(&svcctl());
    let lines = data_lines(&log);
    // Drop the CreateServiceW line (second data line).
    let doctored: String = log
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != lines[1])
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let r = validate_with(&dir, "dce_rpc.log", &doctored, &svcctl());
    assert!(!r.agrees);
    assert_eq!(counts(&r), (2, 3, 1, 0, 0, 1, 0));
    let bad: Vec<_> = r
        .comparison
        .missing
        .iter()
        .filter(|m| !m.explained)
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].reason, "expected_in_log");
    let call = bad[0].call.as_ref().expect("call");
    assert_eq!(call.operation.as_deref(), Some("CreateServiceW"));
    assert_eq!(call.call_id, 3);
    assert_eq!(
        bad[0].expected_line.as_deref(),
        Some(
            "1704068400.105688 10.2.0.10:49722 > 10.2.0.5:49667 rtt=0.014803 named_pipe=49667 svcctl CreateServiceW"
        )
    );
    // The analyst view: the service creation is missing from the log.
    let missed: Vec<_> = r
        .comparison
        .indicators
        .iter()
        .filter(|h| h.in_zeek_log != "logged")
        .collect();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].call.operation.as_deref(), Some("CreateServiceW"));
    assert_eq!(missed[0].in_zeek_log, "missing");
}

#[test]
fn renamed_record_is_one_field_mismatch() {
    let (r, _) = validate_edited("renamed", 2, |c| c[9] = "ControlService".into());
    assert!(!r.agrees);
    assert_eq!(counts(&r), (2, 2, 0, 0, 0, 2, 1));
    let bad = unexplained(&r);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].reason, "unexplained");
    assert_eq!(bad[0].matched_by, "response_time");
    assert_eq!(bad[0].call.call_id, 4);
    assert_eq!(bad[0].fields.len(), 1);
    assert_eq!(bad[0].fields[0].field, "operation");
    assert_eq!(bad[0].fields[0].zeek.as_deref(), Some("ControlService"));
    assert_eq!(bad[0].fields[0].ours.as_deref(), Some("StartServiceW"));
    assert_eq!(
        bad[0].emulated_line.as_deref(),
        Some(
            "1704068400.121401 10.2.0.10:49722 > 10.2.0.5:49667 rtt=0.031084 named_pipe=49667 svcctl StartServiceW"
        )
    );
    let hit = r
        .comparison
        .indicators
        .iter()
        .find(|h| h.call.call_id == 4)
        .expect("StartServiceW indicator");
    assert_eq!(hit.in_zeek_log, "logged_under_other_name");
    assert_eq!(hit.zeek_name.as_deref(), Some("svcctl ControlService"));
}

#[test]
fn added_record_is_reported_as_not_decoded() {
    let dir = temp_dir("added");
    let log = emulated_log(&svcctl());
    let lines = data_lines(&log);
    // Repeat the first line on a connection that is not in the capture.
    let extra = edit_line(&log, lines[0], |c| c[3] = "50000".into())
        .lines()
        .nth(lines[0])
        .expect("line")
        .to_string();
    let mut doctored = String::new();
    for (i, l) in log.lines().enumerate() {
        doctored.push_str(l);
        doctored.push('\n');
        if i == lines[0] {
            doctored.push_str(&extra);
            doctored.push('\n');
        }
    }
    let r = validate_with(&dir, "dce_rpc.log", &doctored, &svcctl());
    assert!(!r.agrees);
    assert_eq!(counts(&r), (3, 2, 0, 1, 1, 1, 0));
    let o = &r.comparison.only_in_zeek[0];
    assert_eq!(o.reason, "not_decoded");
    assert!(!o.explained);
    assert_eq!(o.zeek.orig_p, 50000);
    assert_eq!(o.zeek.line, lines[0] + 2);
    assert_eq!(o.zeek.operation.as_deref(), Some("OpenSCManagerW"));
}

#[test]
fn shifted_timestamp_is_one_ts_mismatch() {
    let (r, p) = validate_edited("shifted", 1, |c| c[0] = "1704068400.355688".into());
    assert!(!r.agrees);
    assert_eq!(counts(&r), (2, 2, 0, 0, 0, 2, 1));
    let bad = unexplained(&r);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].matched_by, "names_nearest_time");
    assert_eq!(bad[0].call.call_id, 3);
    assert_eq!(
        fields(bad[0]),
        vec![("ts", Some("1704068400.355688"), Some("1704068400.105688"))]
    );
    // A wider tolerance accepts the shift.
    let mut opts = ValidateOptions::default();
    opts.matching.time_tolerance = 0.3;
    let r = validate::validate(&svcctl(), &[p], &opts).expect("validate");
    assert!(r.agrees, "{}", validate::report::text(&r));
    assert_eq!(r.comparison.counts.matched, 3);
}

/// Concurrent calls: Zeek names StartServiceW's response CloseServiceHandle (the opnum of
/// the latest request on the context), so the service start is invisible in its log.
#[test]
fn stale_opnum_pairing_hides_an_indicator() {
    let dir = temp_dir("concurrent");
    let caps = vec![project("captures/multifrag.pcap")];
    let r = validate_with(&dir, "dce_rpc.log", &emulated_log(&caps), &caps);
    assert!(r.agrees, "{}", validate::report::text(&r));
    assert_eq!(counts(&r), (5, 0, 0, 0, 0, 1, 0));
    let m = &r.comparison.mismatches[0];
    assert_eq!(m.reason, "concurrent_calls");
    assert_eq!(m.matched_by, "response_time");
    assert_eq!(m.call.operation.as_deref(), Some("StartServiceW"));
    assert_eq!(m.zeek.operation.as_deref(), Some("CloseServiceHandle"));
    let missed: Vec<(&str, &str)> = r
        .comparison
        .indicators
        .iter()
        .filter(|h| h.in_zeek_log != "logged")
        .map(|h| (h.call.operation.as_deref().unwrap_or(""), h.in_zeek_log))
        .collect();
    assert_eq!(missed, vec![("StartServiceW", "logged_under_other_name")]);
}

/// JSON-lines and gzip logs read the same as TSV.
#[test]
fn json_and_gzip_logs() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let dir = temp_dir("formats");
    let caps = vec![project("captures/atsvc_schtask.pcap")];
    let json = render(&run(&caps, &zeek_compat()), Format::ZeekJson);
    let r = validate_with(&dir, "dce_rpc.json", &json, &caps);
    assert!(r.agrees);
    assert_eq!(counts(&r), (3, 0, 0, 0, 0, 0, 0));
    assert_eq!(r.comparison.counts.indicators, 3);
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(emulated_log(&caps).as_bytes()).expect("gz");
    let gz = dir.join("dce_rpc.log.gz");
    std::fs::write(&gz, enc.finish().expect("gz")).expect("write");
    let r2 = validate::validate(&caps, &[gz], &ValidateOptions::default()).expect("validate");
    assert_eq!(counts(&r2), (3, 0, 0, 0, 0, 0, 0));
}

/// A capture derived at run time from a project capture: the epmapper bind is turned into
/// winreg, so call 2 (opnum 2) becomes OpenLocalMachine, on Zeek's ignore list, and call 3
/// is given opnum 99, which Zeek's table does not name (`unknown-99`).
#[test]
fn ignored_and_unknown_operations_are_explained() {
    let dir = temp_dir("ignored");
    let mut bytes = std::fs::read(project("captures/tcp135_epmapper.pcap")).expect("read");
    // epmapper's UUID as it is on the wire (little-endian drep) -> winreg's.
    let ep = [
        0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0,
        0xfa,
    ];
    let winreg = [
        0x01, 0xd0, 0x8c, 0x33, 0x44, 0x22, 0xf1, 0x31, 0xaa, 0xaa, 0x90, 0x00, 0x38, 0x00, 0x10,
        0x03,
    ];
    let mut replaced = 0;
    let mut i = 0;
    while i + 16 <= bytes.len() {
        if bytes[i..i + 16] == ep {
            bytes[i..i + 16].copy_from_slice(&winreg);
            replaced += 1;
        }
        i += 1;
    }
    assert_eq!(replaced, 1, "one bind context");
    // The request PDU with call_id 3: set its opnum (offset 22) to 99.
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(24) {
        let h = &bytes[i..i + 24];
        if h[0] == 5 && h[1] == 0 && h[2] == 0 && h[4] == 0x10 && h[12..16] == [3, 0, 0, 0] {
            bytes[i + 22] = 99;
            bytes[i + 23] = 0;
            patched += 1;
        }
    }
    assert_eq!(patched, 1, "one request with call_id 3");
    let cap = dir.join("winreg.pcap");
    std::fs::write(&cap, &bytes).expect("write capture");
    let caps = vec![cap];
    let r = validate_with(&dir, "dce_rpc.log", &emulated_log(&caps), &caps);
    assert!(r.agrees, "{}", validate::report::text(&r));
    assert_eq!(counts(&r), (1, 1, 0, 0, 0, 0, 0));
    let m = &r.comparison.missing[0];
    assert_eq!(m.reason, "ignored_operation");
    assert!(m.explained);
    let call = m.call.as_ref().expect("call");
    assert_eq!(
        (call.endpoint.as_deref(), call.operation.as_deref()),
        (Some("winreg"), Some("OpenLocalMachine"))
    );
    assert_eq!(r.comparison.unknown_names.len(), 1);
    let u = &r.comparison.unknown_names[0];
    assert_eq!(u.zeek_operation.as_deref(), Some("unknown-99"));
    assert_eq!(u.call.opnum, 99);
    assert_eq!(
        u.call.uuid.as_deref(),
        Some("338cd001-2244-31f1-aaaa-900038001003")
    );
}

#[test]
fn cli_exit_status_and_formats() {
    let dir = temp_dir("cli");
    let cap = project("captures/dynamic_port_svcctl.pcap");
    let log = emulated_log(std::slice::from_ref(&cap));
    let good = dir.join("good.log");
    std::fs::write(&good, &log).expect("write");
    // `rpcsift validate OPTIONS --zeek-log LOG CAPTURE`
    let validate_cli = |options: &[&str], log: &Path| {
        rpcsift()
            .arg("validate")
            .args(options)
            .arg("--zeek-log")
            .arg(log)
            .arg(&cap)
            .output()
            .expect("run")
    };
    let out = validate_cli(&[], &good);
    // Exit 1: the connection-removal line shows StartServiceW at a time none happened.
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("rpcsift validate: 4 Zeek records, 6 decoded calls: 3 matched; 2 missing from Zeek's log (0 unexplained); 0 only in Zeek's log (0 unexplained); 1 field mismatches (0 unexplained); 0 of 2 execution indicators missed by Zeek's log; 1 false execution indicator(s) in Zeek's log; the log is what Zeek writes for this capture, but it SHOWS EXECUTION CALLS THAT DID NOT HAPPEN\n"),
        "{text}"
    );
    assert!(
        text.contains("FALSE INDICATOR: the log shows svcctl StartServiceW (T1569.002 "),
        "{text}"
    );
    // --strict: explained differences count too.
    let out = validate_cli(&["--strict"], &good);
    assert_eq!(out.status.code(), Some(1));
    // A doctored log: exit 1, JSON names the problem.
    let lines = data_lines(&log);
    let bad = dir.join("bad.log");
    std::fs::write(
        &bad,
        edit_line(&log, lines[2], |c| c[9] = "ControlService".into()),
    )
    .expect("write");
    let out = validate_cli(&["--format", "json"], &bad);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["agrees"], serde_json::Value::Bool(false));
    assert_eq!(v["counts"]["mismatches_unexplained"], 1);
    assert_eq!(v["mismatches"][0]["explained"], false);
    assert_eq!(v["mismatches"][0]["fields"][0]["field"], "operation");
    assert_eq!(v["mismatches"][0]["fields"][0]["zeek"], "ControlService");
    // Input errors: exit 2 with file and line.
    let broken = dir.join("broken.log");
    std::fs::write(
        &broken,
        "#separator \\x09\n1.0\tC\tnot-an-ip\t1\t10.0.0.2\t2\t-\t-\ta\tb\n",
    )
    .expect("write");
    let out = validate_cli(&[], &broken);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.log:2: bad id.orig_h \"not-an-ip\""),
        "{err}"
    );
    let out = rpcsift()
        .args(["validate", "--zeek-log"])
        .arg(&good)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = validate_cli(&[], &dir.join("nonexistent.log"));
    assert_eq!(out.status.code(), Some(2));
}

// ---- shared reference data ----

/// Every btest baseline in conformance/zeek validates clean against its trace, with and
/// without real timestamps.
#[test]
fn conformance_baselines_validate_clean() {
    let Some(base) = shared() else { return };
    let cases: [(&str, &str, usize, usize); 4] = [
        // (trace, baseline stem, matched, Zeek records)
        (
            "cs_window7-join_stream092.pcap",
            "cs_window7-join_stream092",
            3,
            3,
        ),
        ("dce_rpc_netlogon.pcapng", "dce_rpc_netlogon", 1, 1),
        (
            "dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",
            "dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation",
            1,
            1,
        ),
        ("mapi.pcap", "mapi", 11, 12),
    ];
    for (trace, stem, matched, records) in cases {
        let cap = need(&base, &format!("conformance/zeek/{trace}"));
        let mut logs = vec![need(&base, &format!("conformance/zeek/{stem}.dce_rpc.log"))];
        let with_ts = base.join(format!("conformance/zeek/{stem}.dce_rpc.with-ts.log"));
        if stem != "dce_rpc_netlogon" {
            logs.push(need(
                &base,
                &format!("conformance/zeek/{stem}.dce_rpc.with-ts.log"),
            ));
        } else {
            assert!(!with_ts.exists());
        }
        for log in logs {
            let r = validate::validate(
                std::slice::from_ref(&cap),
                std::slice::from_ref(&log),
                &ValidateOptions::default(),
            )
            .expect("validate");
            let c = &r.comparison.counts;
            assert!(r.agrees, "{}", validate::report::text(&r));
            assert_eq!(c.zeek_records, records, "{}", log.display());
            assert_eq!(c.matched, matched, "{}", log.display());
            assert_eq!(
                c.missing_unexplained + c.only_in_zeek_unexplained + c.mismatches_unexplained,
                0
            );
            if stem == "mapi" {
                // The 12th line is the connection-removal duplicate: with real times it
                // is tied to the unanswered EcDoRpc (a removal-hook mismatch), with masked
                // times it is a repeat of the line before.
                assert_eq!(c.mismatches + c.only_in_zeek, 1);
                let masked = log.to_string_lossy().ends_with("mapi.dce_rpc.log");
                if masked {
                    assert_eq!(r.comparison.only_in_zeek[0].reason, "duplicate");
                } else {
                    let m = &r.comparison.mismatches[0];
                    assert_eq!(m.reason, "removal_hook");
                    assert_eq!(m.call.operation.as_deref(), Some("EcDoRpc"));
                    assert_eq!(
                        m.zeek.operation.as_deref(),
                        Some("EcRRegisterPushNotification")
                    );
                }
            } else {
                assert_eq!(c.missing + c.only_in_zeek + c.mismatches, 0);
            }
        }
    }
}

/// Real Zeek logs: an ignored operation (wkssvc NetrWkstaGetInfo in kerberos_tso) and
/// `unknown-N` names (DCOM ShellWindows) are explained, validated together.
#[test]
fn real_zeek_ignored_and_unknown_explained() {
    let Some(base) = shared() else { return };
    let caps = vec![
        need(&base, "conformance/zeek-traces/krb_kerberos_tso.pcapng"),
        need(&base, "captures/real/empire_dcom_shellwindows.cap"),
    ];
    let logs = vec![
        need(
            &base,
            "conformance/zeek-traces/krb_kerberos_tso.zeek-dce_rpc.log",
        ),
        need(
            &base,
            "captures/real/empire_dcom_shellwindows.zeek-dce_rpc.log",
        ),
    ];
    let r = validate::validate(&caps, &logs, &ValidateOptions::default()).expect("validate");
    assert!(r.agrees, "{}", validate::report::text(&r));
    let c = &r.comparison.counts;
    assert_eq!((c.zeek_records, c.decoded_calls, c.matched), (63, 67, 63));
    let reasons: Vec<(&str, Option<&str>)> = r
        .comparison
        .missing
        .iter()
        .map(|m| {
            (
                m.reason,
                m.call.as_ref().and_then(|c| c.operation.as_deref()),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![("ignored_operation", Some("NetrWkstaGetInfo")); 4]
    );
    let unknown: Vec<(Option<&str>, Option<&str>, u16)> = r
        .comparison
        .unknown_names
        .iter()
        .map(|u| {
            (
                u.zeek_endpoint.as_deref(),
                u.zeek_operation.as_deref(),
                u.call.opnum,
            )
        })
        .collect();
    assert_eq!(
        unknown,
        vec![(
            Some("unknown-00000001-0000-0000-c000-000000000046"),
            Some("unknown-3"),
            3
        )]
    );
}

/// Zeek logs nothing for the at job over SMB2: the indicator is reported missed, with why.
#[test]
fn real_zeek_misses_the_at_job() {
    let Some(base) = shared() else { return };
    let cap = need(&base, "captures/real/atsvc_netrjobadd_smb2.pcap");
    let log = need(
        &base,
        "captures/real/atsvc_netrjobadd_smb2.zeek-dce_rpc.log",
    );
    let r = validate::validate(&[cap], &[log], &ValidateOptions::default()).expect("validate");
    assert!(r.agrees);
    assert_eq!(r.comparison.counts.indicators_missed, 1);
    let h = &r.comparison.indicators[0];
    assert_eq!(h.in_zeek_log, "missing");
    assert_eq!(h.call.operation.as_deref(), Some("NetrJobAdd"));
    assert_eq!(h.indicators[0].technique, "T1053.002");
    assert_eq!(r.comparison.missing[0].reason, "bind_not_seen_by_zeek");
    assert!(
        h.reason
            .as_deref()
            .is_some_and(|s| s.contains("`atsvc` is not in Zeek's SMB::pipe_filenames")),
        "{:?}",
        h.reason
    );
    // The CLI says so and exits 1: a missed execution call is a discrepancy an analyst
    // must act on, even though Zeek's behaviour explains it.
    let out = rpcsift()
        .arg("validate")
        .arg("--zeek-log")
        .arg(need(
            &base,
            "captures/real/atsvc_netrjobadd_smb2.zeek-dce_rpc.log",
        ))
        .arg(need(&base, "captures/real/atsvc_netrjobadd_smb2.pcap"))
        .output()
        .expect("run rpcsift");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().next().is_some_and(|l| l.ends_with(
            "1 of 1 execution indicators missed by Zeek's log; 0 false execution indicator(s) in Zeek's log; the log is what Zeek writes for this capture, but it MISSES EXECUTION INDICATORS"
        )),
        "{text}"
    );
}
