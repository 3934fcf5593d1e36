//! ATT&CK Navigator layer (layer file format 4.5, enterprise domain) from hits.
//!
//! One technique object per (technique id, tactic) seen in the hits: `score` is the number
//! of hits, `comment` names the source → target host pairs, `metadata` lists targets,
//! sources, operations and what matched. A white-to-red `gradient` runs from 0 to the
//! highest score, and `legendItems` say what the two ends mean.

use crate::detect::Hit;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Layer format this module writes.
pub const LAYER_VERSION: &str = "4.5";
/// Navigator release the layer is written for (4.5 layers need at least 4.9.0).
pub const NAVIGATOR_VERSION: &str = "5.1.0";
/// ATT&CK release whose technique ids the indicator tables use.
pub const ATTACK_VERSION: &str = "16";

const LOW: &str = "#fff5f0";
const HIGH: &str = "#cb181d";

#[derive(Default)]
struct Agg {
    hits: u64,
    pairs: BTreeMap<(String, String), u64>,
    targets: BTreeSet<String>,
    sources: BTreeSet<String>,
    operations: BTreeSet<String>,
    matched_by: BTreeSet<String>,
    /// Highest level among the hits (by Sigma's order).
    level: Option<crate::detect::indicators::Level>,
    /// What the calls did (listener hosts, naming contexts, ...), first few distinct.
    what: Vec<String>,
}

/// Distinct `what` lines kept per technique in a layer.
const WHAT_KEPT: usize = 5;

/// A Navigator tactic short name ("execution", "privilege-escalation") from what an
/// indicator row or a Sigma tag says ("Execution", "privilege_escalation").
pub fn tactic_shortname(t: &str) -> String {
    t.trim()
        .to_ascii_lowercase()
        .replace(['_', ' '], "-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// `T1234` or `T1234.567`.
pub fn is_technique_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix('T') else {
        return false;
    };
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(main, 4) && sub.is_none_or(|s| digits(s, 3))
}

/// The layer for `hits`. `name` and `description` are shown in the Navigator.
pub fn layer(hits: &[Hit], name: &str, description: &str) -> Value {
    let mut aggs: BTreeMap<(String, Option<String>), Agg> = BTreeMap::new();
    for h in hits {
        for t in &h.techniques {
            if !is_technique_id(&t.id) {
                continue;
            }
            let tactic = t
                .tactic
                .as_deref()
                .map(tactic_shortname)
                .filter(|s| !s.is_empty());
            let a = aggs.entry((t.id.clone(), tactic)).or_default();
            a.hits += 1;
            let (src, dst) = (h.orig_h.to_string(), h.resp_h.to_string());
            *a.pairs.entry((src.clone(), dst.clone())).or_default() += 1;
            a.targets.insert(dst);
            a.sources.insert(src);
            let op = match (&h.endpoint, &h.operation) {
                (Some(e), Some(o)) => format!("{e}::{o}"),
                (None, Some(o)) => o.to_string(),
                _ => h
                    .operation_spec
                    .map(str::to_string)
                    .or_else(|| h.opnum.map(|n| format!("opnum {n}")))
                    .unwrap_or_else(|| "-".into()),
            };
            a.operations.insert(op);
            a.matched_by.insert(h.matched_by.clone());
            if let Some(l) = h.level.as_deref().and_then(|l| l.parse().ok()) {
                a.level = a.level.max(Some(l));
            }
            if let Some(w) = h.what.as_ref().or(h.what_ran.as_ref())
                && a.what.len() < WHAT_KEPT
                && !a.what.contains(w)
            {
                a.what.push(w.clone());
            }
        }
    }
    let max = aggs.values().map(|a| a.hits).max().unwrap_or(0);
    let techniques: Vec<Value> = aggs
        .iter()
        .map(|((id, tactic), a)| {
            let pairs: Vec<String> = a
                .pairs
                .iter()
                .map(|((s, d), n)| format!("{s} -> {d} ({n})"))
                .collect();
            let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
            let mut t = json!({
                "techniqueID": id,
                "score": a.hits,
                "comment": format!(
                    "{} hit(s) on {} target host(s): {}",
                    a.hits,
                    a.targets.len(),
                    pairs.join("; ")
                ),
                "enabled": true,
                "metadata": [
                    {"name": "targets", "value": join(&a.targets)},
                    {"name": "sources", "value": join(&a.sources)},
                    {"name": "operations", "value": join(&a.operations)},
                    {"name": "matched by", "value": join(&a.matched_by)},
                    {"name": "highest level", "value": a.level.map_or("-".to_string(), |l| l.to_string())},
                    {"name": "what", "value": if a.what.is_empty() { "-".to_string() } else { a.what.join("; ") }},
                ],
                "showSubtechniques": false,
            });
            if let (Some(tac), Some(obj)) = (tactic, t.as_object_mut()) {
                obj.insert("tactic".into(), Value::from(tac.as_str()));
            }
            t
        })
        .collect();
    json!({
        "name": name,
        "versions": {
            "attack": ATTACK_VERSION,
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_VERSION,
        },
        "domain": "enterprise-attack",
        "description": description,
        "filters": {"platforms": ["Windows"]},
        "sorting": 3,
        "layout": {
            "layout": "side",
            "showID": true,
            "showName": true,
            "showAggregateScores": false,
            "countUnscored": false,
            "aggregateFunction": "sum",
            "expandedSubtechniques": "annotated",
        },
        "hideDisabled": false,
        "techniques": techniques,
        "gradient": {
            "colors": [LOW, HIGH],
            "minValue": 0,
            "maxValue": max.max(1),
        },
        "legendItems": [
            {"label": "1 hit", "color": "#fcbba1"},
            {"label": format!("{} hit(s) (most)", max.max(1)), "color": HIGH},
        ],
        "showTacticRowBackground": false,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": true,
        "selectSubtechniquesWithParent": false,
        "selectVisibleTechniques": false,
        "metadata": [
            {"name": "generated by", "value": format!("rpcsift {}", env!("CARGO_PKG_VERSION"))},
            {"name": "hits", "value": hits.len().to_string()},
        ],
    })
}

/// The layer as pretty JSON, newline-terminated.
pub fn layer_string(hits: &[Hit], name: &str, description: &str) -> String {
    let mut s = serde_json::to_string_pretty(&layer(hits, name, description))
        .unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids() {
        for ok in ["T1047", "T1569.002", "T1053"] {
            assert!(is_technique_id(ok), "{ok}");
        }
        for bad in [
            "",
            "T104",
            "T1569.2",
            "t1047",
            "T1569.002.1",
            "TA0002",
            "T10x7",
        ] {
            assert!(!is_technique_id(bad), "{bad}");
        }
    }

    #[test]
    fn tactic_names() {
        assert_eq!(tactic_shortname("execution"), "execution");
        assert_eq!(
            tactic_shortname("Privilege Escalation"),
            "privilege-escalation"
        );
        assert_eq!(tactic_shortname("lateral_movement"), "lateral-movement");
    }

    #[test]
    fn empty_layer_still_has_a_valid_gradient() {
        let l = layer(&[], "x", "");
        assert_eq!(l["techniques"], json!([]));
        assert_eq!(l["gradient"]["maxValue"], 1);
        assert_eq!(l["domain"], "enterprise-attack");
    }
}
