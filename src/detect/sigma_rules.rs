//! The Sigma rules rpcsift ships in `rules/`: one per technique of the `attack` set, for
//! the `zeek` / `dce_rpc` log source, using only Zeek's fields (`endpoint`, `operation`) so
//! Zeek users can run them too. They are generated from the indicator table
//! ([`super::rows::ROWS`]) and Zeek's name tables ([`crate::names`]), so they match Zeek's
//! spelling of every call (its typos included) and cannot drift from the built-in set:
//! `cargo run --example gen_rules` rewrites `rules/`, and tests/sigma_rules.rs fails when
//! the files differ from what [`generate`] gives.
//!
//! What a Zeek-field rule cannot do is said in each rule: calls Zeek drops from its log
//! (its ignore list: BaseRegOpenKey, RpcOpenPrinterEx, ...) are left out, and the arguments
//! that separate an attack from normal use (a coercion's listener, the hive saved, zero
//! Netlogon credentials, whether the client is a DC) are not in `dce_rpc.log`.

use super::indicators::{Level, Row};
use super::rows::ROWS;
use crate::names::{self, Uuid};

/// The date written in the generated rules.
pub const RULE_DATE: &str = "2026-12-04";

/// One generated rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    /// File name under `rules/`.
    pub file: String,
    pub technique: &'static str,
    pub text: String,
}

/// A Sigma rule id for `technique`: a name-based UUID (FNV-1a 128 of the technique,
/// version 8 / RFC 9562 variant bits), stable across runs.
pub fn rule_id(technique: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in format!("rpcsift-sigma:{technique}").bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let mut b = h.to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid(b).to_string()
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Every rule, in the table's technique order.
pub fn generate() -> Vec<RuleFile> {
    let mut techniques: Vec<&'static str> = Vec::new();
    for r in ROWS.iter().filter(|r| r.set == "attack") {
        if !techniques.contains(&r.technique) {
            techniques.push(r.technique);
        }
    }
    techniques
        .into_iter()
        .filter_map(|t| {
            let rows: Vec<&Row> = ROWS
                .iter()
                .filter(|r| r.set == "attack" && r.technique == t)
                .collect();
            rule(t, &rows)
        })
        .collect()
}

fn rule(technique: &'static str, rows: &[&Row]) -> Option<RuleFile> {
    // (endpoint, operations) in row order; calls Zeek does not log are set aside.
    let mut selections: Vec<(&'static str, Vec<String>)> = Vec::new();
    let mut unlogged: Vec<String> = Vec::new();
    for r in rows {
        let uuid = Uuid::parse(r.uuid?)?;
        let endpoint = names::endpoint(&uuid)?;
        let super::indicators::Opnums::List(ops) = r.opnums else {
            continue;
        };
        for &op in ops {
            let name = names::operation_or_unknown(&uuid, op).into_owned();
            if names::is_ignored(endpoint, &name) {
                let s = format!("{endpoint}::{name}");
                if !unlogged.contains(&s) {
                    unlogged.push(s);
                }
                continue;
            }
            match selections.iter_mut().find(|(e, _)| *e == endpoint) {
                Some((_, v)) if !v.contains(&name) => v.push(name),
                Some(_) => {}
                None => selections.push((endpoint, vec![name])),
            }
        }
    }
    if selections.is_empty() {
        return None;
    }
    // The technique's ATT&CK name, without a row's note in parentheses.
    let name = rows[0]
        .technique_name
        .split(" (")
        .next()
        .unwrap_or(rows[0].technique_name);
    let level = rows.iter().map(|r| r.level).max().unwrap_or(Level::Low);
    let mut tactics: Vec<&str> = Vec::new();
    for r in rows {
        if !tactics.contains(&r.tactic) {
            tactics.push(r.tactic);
        }
    }
    let interfaces: Vec<&str> = selections.iter().map(|(e, _)| *e).collect();
    let mut desc = format!(
        "The DCE-RPC calls of {technique} ({name}) as Zeek names them in dce_rpc.log, \
         on {}. A match is on the call alone: rpcsift detect also reads the arguments \
         that separate an attack from normal use and whether the client is a domain \
         controller.",
        interfaces.join(", ")
    );
    if !unlogged.is_empty() {
        desc.push_str(&format!(
            " Not in dce_rpc.log (Zeek's ignore list), so not here: {}.",
            unlogged.join(", ")
        ));
    }
    desc.push_str(
        " Generated from rpcsift's indicator table (src/detect/rows.rs) by \
         `cargo run --example gen_rules`; edit the table, not this file.",
    );
    let id_path = technique.trim_start_matches('T').replace('.', "/");
    let mut t = String::new();
    t.push_str(&format!(
        "title: {}\n",
        quote(&format!("{name} over DCE-RPC"))
    ));
    t.push_str(&format!("id: {}\n", rule_id(technique)));
    t.push_str("status: experimental\n");
    t.push_str(&format!("description: {}\n", quote(&desc)));
    t.push_str("references:\n");
    t.push_str(&format!(
        "    - https://attack.mitre.org/techniques/T{id_path}/\n"
    ));
    t.push_str("author: rpcsift\n");
    t.push_str(&format!("date: {RULE_DATE}\n"));
    t.push_str("tags:\n");
    for tac in &tactics {
        t.push_str(&format!("    - attack.{tac}\n"));
    }
    t.push_str(&format!(
        "    - attack.{}\n",
        technique.to_ascii_lowercase()
    ));
    t.push_str("logsource:\n    product: zeek\n    service: dce_rpc\n");
    t.push_str("detection:\n");
    for (endpoint, ops) in &selections {
        t.push_str(&format!("    sel_{}:\n", slug(endpoint)));
        t.push_str(&format!("        endpoint: {}\n", quote(endpoint)));
        t.push_str("        operation:\n");
        for op in ops {
            t.push_str(&format!("            - {}\n", quote(op)));
        }
    }
    t.push_str("    condition: 1 of sel_*\n");
    t.push_str("falsepositives:\n");
    let mut seen = Vec::new();
    for r in rows {
        if !seen.contains(&r.context) {
            seen.push(r.context);
            t.push_str(&format!("    - {}\n", quote(r.context)));
        }
    }
    t.push_str(&format!("level: {level}\n"));
    Some(RuleFile {
        file: format!(
            "{}_{}.yml",
            technique.to_ascii_lowercase().replace('.', "_"),
            slug(name)
        ),
        technique,
        text: t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_technique_that_loads() {
        let rules = generate();
        let techniques: std::collections::BTreeSet<_> = ROWS
            .iter()
            .filter(|r| r.set == "attack")
            .map(|r| r.technique)
            .collect();
        assert_eq!(rules.len(), techniques.len());
        let mut ids = std::collections::BTreeSet::new();
        for r in &rules {
            let loaded = super::super::sigma::parse_rules(&r.text, &r.file);
            assert_eq!(loaded.len(), 1, "{}", r.file);
            let rule = loaded[0]
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}", r.file));
            assert_eq!(rule.techniques(), vec![r.technique.to_string()]);
            assert!(ids.insert(rule.id.clone()), "duplicate id {}", rule.id);
        }
        assert_eq!(rule_id("T1003.006"), rule_id("T1003.006"));
        assert_ne!(rule_id("T1003.006"), rule_id("T1003.002"));
        assert_eq!(&rule_id("T1003.006")[14..15], "8");
    }

    #[test]
    fn rules_use_zeek_names_and_leave_out_what_zeek_drops() {
        let rules = generate();
        let reg = rules
            .iter()
            .find(|r| r.technique == "T1547.001")
            .expect("run keys rule");
        assert!(reg.text.contains("- 'BaseRegSetValue'"), "{}", reg.text);
        assert!(!reg.text.contains("- 'BaseRegOpenKey'"));
        assert!(reg.text.contains("winreg::BaseRegOpenKey"));
        let efs = rules
            .iter()
            .find(|r| r.technique == "T1187")
            .expect("coercion");
        // Zeek's own spelling, typo included.
        assert!(efs.text.contains("- 'EfsDecryptFileSrv'"), "{}", efs.text);
        assert!(efs.text.contains("spoolss::RpcSplOpenPrinter"));
        let ts = rules
            .iter()
            .find(|r| r.technique == "T1563.002")
            .expect("rdp");
        assert!(ts.text.contains("- 'RpcWaitAsyncNotification'"));
    }
}
