//! Sigma: the rules rpcsift ships (`rules/`, one per technique of the `attack` set, Zeek
//! fields only) are what `cargo run --example gen_rules` writes; every published Zeek
//! `dce_rpc` rule (RPCSIFT_SHARED/reference/sigma) loads or is rejected with the construct
//! named; and the shipped rules give the same hits on Zeek's own `dce_rpc.log` files as on
//! rpcsift's Zeek-compatible output of the same captures, and on rpcsift's accurate output
//! at least those (plus the calls Zeek drops from its log).

mod common;

use rpcsift::detect::sigma::{self, Event, Rule};
use rpcsift::detect::sigma_rules;
use rpcsift::engine::Options;
use rpcsift::output::Record;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    common::project("rules")
}

fn shipped() -> Vec<Rule> {
    let loaded = sigma::load_paths(&[rules_dir()]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.rules
}

#[test]
fn rules_dir_is_what_the_generator_writes() {
    let want = sigma_rules::generate();
    let mut on_disk: Vec<String> = std::fs::read_dir(rules_dir())
        .expect("rules/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = want.iter().map(|r| r.file.clone()).collect();
    names.sort();
    assert_eq!(on_disk, names, "run `cargo run --example gen_rules`");
    for r in &want {
        let text = std::fs::read_to_string(rules_dir().join(&r.file)).expect("rule file");
        assert_eq!(
            text, r.text,
            "{} differs: run `cargo run --example gen_rules`",
            r.file
        );
    }
    assert_eq!(shipped().len(), 47);
}

/// The shipped rules use only Zeek's `dce_rpc.log` fields, so Zeek users can run them.
#[test]
fn shipped_rules_use_only_zeek_fields() {
    for e in std::fs::read_dir(rules_dir()).expect("rules/") {
        let p = e.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("read");
        let mut in_detection = false;
        for line in text.lines() {
            if line == "detection:" {
                in_detection = true;
                continue;
            }
            if !line.starts_with(' ') {
                in_detection = false;
            }
            // Selection fields are the keys indented by eight spaces.
            if in_detection
                && let Some(key) = line
                    .strip_prefix("        ")
                    .and_then(|l| l.split(':').next())
                && !key.starts_with(' ')
                && !key.starts_with('-')
            {
                let field = key.split('|').next().unwrap_or_default();
                assert!(
                    rpcsift::output::ZEEK_FIELDS.contains(&field),
                    "{}: field {field} is not one of Zeek's",
                    p.display()
                );
            }
        }
    }
}

/// Every published rule for zeek/dce_rpc loads, except the one written in the aggregation
/// syntax Sigma 2 dropped, which is rejected with the construct named.
#[test]
fn published_rules_load_or_name_the_construct() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("reference/sigma");
    let loaded = sigma::load_paths(std::slice::from_ref(&dir));
    let ids: Vec<&str> = loaded.rules.iter().map(|r| r.id.as_str()).collect();
    for id in [
        "b640c0b8-87f8-4daa-aef8-95a24261dd1d",
        "53389db6-ba46-48e3-a94c-e0f2cefe1583",
        "4096842a-8f9f-4d36-92b4-d0b2a62f9b2a",
        "7b33baef-2a75-4ca3-9da4-34f9a15382d8",
    ] {
        assert!(ids.contains(&id), "{id} not loaded: {:?}", loaded.errors);
    }
    assert_eq!(loaded.rules.len(), 4);
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    let e = loaded.errors[0].to_string();
    assert!(
        e.contains("zeek_dce_rpc_domain_user_enumeration.yml"),
        "{e}"
    );
    assert!(e.contains("aggregation"), "{e}");
}

/// (rule technique, endpoint, operation) → hits.
type Tally = BTreeMap<(String, String, String), usize>;

fn tally<E: Event>(rules: &[Rule], events: &[E], name: impl Fn(&E) -> (String, String)) -> Tally {
    let mut t = Tally::new();
    for e in events {
        for r in rules.iter().filter(|r| r.matches(e)) {
            let (ep, op) = name(e);
            *t.entry((r.techniques().join(","), ep, op)).or_default() += 1;
        }
    }
    t
}

struct Rec<'a>(&'a Record);

impl Event for Rec<'_> {
    fn get(&self, field: &str) -> sigma::Value<'_> {
        let r = self.0;
        match field {
            "endpoint" => r
                .endpoint
                .as_deref()
                .map_or(sigma::Value::Null, sigma::Value::Str),
            "operation" => r
                .operation
                .as_deref()
                .map_or(sigma::Value::Null, sigma::Value::Str),
            "named_pipe" => r
                .named_pipe
                .as_deref()
                .map_or(sigma::Value::Null, sigma::Value::Str),
            "id.orig_h" => sigma::Value::Addr(r.orig_h),
            "id.resp_h" => sigma::Value::Addr(r.resp_h),
            _ => sigma::Value::Null,
        }
    }
}

fn record_tally(rules: &[Rule], records: &[Record]) -> Tally {
    let ev: Vec<Rec<'_>> = records.iter().map(Rec).collect();
    tally(rules, &ev, |e| {
        (
            e.0.endpoint.as_deref().unwrap_or_default().to_string(),
            e.0.operation.as_deref().unwrap_or_default().to_string(),
        )
    })
}

fn capture_for(log: &Path) -> Option<PathBuf> {
    let stem = log
        .file_name()?
        .to_str()?
        .strip_suffix(".zeek-dce_rpc.log")?;
    ["pcap", "pcapng", "cap"]
        .iter()
        .map(|x| log.with_file_name(format!("{stem}.{x}")))
        .find(|p| p.is_file())
}

#[test]
fn shipped_rules_on_zeek_logs_and_on_rpcsift_output() {
    let Some(shared) = common::shared() else {
        return;
    };
    let rules = shipped();
    let mut logs = Vec::new();
    for sub in ["captures/real", "conformance/zeek-traces"] {
        for e in std::fs::read_dir(shared.join(sub)).expect("shared dir") {
            let p = e.expect("entry").path();
            if p.to_string_lossy().ends_with(".zeek-dce_rpc.log") {
                logs.push(p);
            }
        }
    }
    logs.sort();
    assert!(logs.len() >= 20, "{logs:?}");
    let mut per_log: BTreeMap<String, Tally> = BTreeMap::new();
    for log in &logs {
        let lines = rpcsift::validate::zeeklog::read_log_file(log).expect("Zeek log");
        let zeek = tally(&rules, &lines, |z| {
            (
                z.endpoint.clone().unwrap_or_default(),
                z.operation.clone().unwrap_or_default(),
            )
        });
        let Some(cap) = capture_for(log) else {
            continue;
        };
        // What rpcsift says Zeek logs for the capture: the same hits.
        let compat = common::run(std::slice::from_ref(&cap), &common::zeek_compat());
        assert_eq!(
            record_tally(&rules, &compat.records),
            zeek,
            "{}",
            log.display()
        );
        // rpcsift's own records: every Zeek hit is there (one per call, where Zeek may
        // log a call more than once), and nothing Zeek would have named otherwise.
        let own = common::run(std::slice::from_ref(&cap), &Options::default());
        let mine = record_tally(&rules, &own.records);
        for (k, n) in &zeek {
            assert!(
                mine.get(k).is_some_and(|m| *m >= 1 && *m <= *n),
                "{}: {k:?} zeek {n}, rpcsift {:?}",
                log.display(),
                mine.get(k)
            );
        }
        per_log.insert(
            log.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            zeek,
        );
    }
    // What the rules find in the real captures' Zeek logs.
    let hits = |log: &str| -> Vec<(String, String, usize)> {
        per_log
            .get(log)
            .map(|t| {
                t.iter()
                    .map(|((tech, _, op), n)| (tech.clone(), op.clone(), *n))
                    .collect()
            })
            .unwrap_or_default()
    };
    let row = |t: &str, op: &str, n: usize| (t.to_string(), op.to_string(), n);
    assert_eq!(
        hits("psexec_smb2_svcctl_wow64.zeek-dce_rpc.log"),
        vec![
            row("T1489", "ControlService", 1),
            row("T1543.003", "CreateServiceWOW64W", 1),
            row("T1562.001", "ControlService", 1),
            row("T1562.001", "DeleteService", 1),
            row("T1569.002", "CreateServiceWOW64W", 1),
            row("T1569.002", "StartServiceW", 1),
        ]
    );
    assert!(
        hits("empire_dcom_shellwindows.zeek-dce_rpc.log").contains(&row(
            "T1021.003",
            "RemoteGetClassObject",
            1
        ))
    );
}
