//! `--zeek-compat` against what a real Zeek run logged for every shared capture
//! (`*.zeek-dce_rpc.log`, see conformance/ZEEK-ORACLE.md): rows compared as a multiset
//! with the uid masked. Needs `RPCSIFT_SHARED`.

mod common;
use common::*;
use rpcsift::output::Format;
use std::path::{Path, PathBuf};

/// Captures whose emulation is known to differ from real Zeek, with the reason.
const KNOWN_DIFFERENT: &[(&str, &str)] = &[];

fn captures(base: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for dir in ["captures/real", "conformance/zeek-traces"] {
        let d = base.join(dir);
        assert!(d.is_dir(), "missing {}", d.display());
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".zeek-dce_rpc.log"))
            .collect();
        logs.sort();
        for log in logs {
            let name = log
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .trim_end_matches(".zeek-dce_rpc.log")
                .to_string();
            let cap = ["pcap", "pcapng", "cap", "pcap.gz"]
                .iter()
                .map(|ext| d.join(format!("{name}.{ext}")))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("no capture beside {}", log.display()));
            out.push((name, cap, log));
        }
    }
    out
}

#[test]
fn every_shared_capture_equals_real_zeek() {
    let Some(base) = shared() else { return };
    let all = captures(&base);
    assert_eq!(all.len(), 32, "expected 11 real + 21 Zeek traces");
    let mut failures = Vec::new();
    let mut equal = 0;
    for (name, cap, log) in &all {
        let mut ours = rows_masked_uid(&render(
            &run(std::slice::from_ref(cap), &zeek_compat()),
            Format::Zeek,
        ));
        let mut theirs = rows_masked_uid(&std::fs::read_to_string(log).expect("read log"));
        ours.sort();
        theirs.sort();
        let known = KNOWN_DIFFERENT.iter().any(|(n, _)| n == name);
        match (ours == theirs, known) {
            (true, false) => equal += 1,
            (true, true) => {
                failures.push(format!("{name}: now equal, remove it from KNOWN_DIFFERENT"))
            }
            (false, true) => {}
            (false, false) => failures.push(format!(
                "{name}: ours {} rows, Zeek {} rows",
                ours.len(),
                theirs.len()
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(equal, all.len() - KNOWN_DIFFERENT.len());
}
