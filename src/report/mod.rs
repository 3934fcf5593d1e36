//! `rpcsift report`: one self-contained HTML page for an analyst, and the ATT&CK Navigator
//! layer ([`navigator`]).
//!
//! The page is built from the same JSON objects `rpcsift detect --format json` writes (one
//! per [`Hit`]), enriched with what the call record knows about the call (`user`, `domain`,
//! `workstation`, `auth`, `args`, `args_status`, `what_ran`) and a `call` key so that hits
//! on the same call (several indicator sets, a Sigma rule) are drawn once. Alongside go the
//! run's counters turned into plain sentences ("what could not be decoded and why") and one
//! accounting row per capture file.
//!
//! [`ReportData`] is that document; [`render_html`] embeds it as JSON in a
//! `<script type="application/json">` block (every `<`, `>` and `&` escaped as `\u003c`
//! etc., so no string in a capture can close the block) and inlines the renderer
//! (`assets/report.js`, `assets/report.css`): summary, timeline per target host (SVG),
//! source → target host graph (SVG), a sortable and filterable table of hits, and the
//! per-capture table. The page needs no network access.

pub mod navigator;

use crate::detect::Hit;
use crate::engine::{self, Options, RunOutput};
use crate::output::Record;
use crate::stats::{Counters, Notice};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");

/// Counter labels that describe traffic, not something that could not be decoded.
const INFORMATIONAL: &[&str] = &[
    "capture files",
    "packets",
    "bytes (captured)",
    "non-IP frames",
    "IP fragments",
    "IP datagrams reassembled",
    "non-TCP IP packets",
    "TCP segments",
    "TCP connections",
    "TCP retransmitted segments",
    "DCE-RPC connections",
    "DCE-RPC PDUs",
    "DCE-RPC calls",
    "calls without response",
    "calls answered with a fault",
    "SMB connections",
    "SMB1 messages",
    "SMB2 messages (compounded commands counted one by one)",
    "signed SMB messages",
    "named pipes opened",
    "named pipe bytes",
    "file bytes skipped (not a pipe)",
    "large non-pipe SMB messages skipped without buffering",
    // Said once, per session / connection, by the explanations below.
    "SMB3 encrypted messages (counted, not decoded)",
    "SMB3 encrypted messages decrypted with the analyst's keys",
    "bytes in SMB3 encrypted messages",
    "SMB3 compressed messages (counted, not decoded)",
];

/// Why a problem counter matters to someone looking for remote execution.
const WHY: &[(&str, &str)] = &[
    (
        "capture files that could not be read",
        "nothing in these files was analysed (see the capture table)",
    ),
    (
        "SMB3 encrypted sessions",
        "SMB3 encryption hides the named pipes: calls in these sessions are invisible",
    ),
    (
        "SMB connections with SMB3 compressed messages",
        "compressed SMB3 messages are not decoded: calls in them are invisible",
    ),
    (
        "calls with encrypted stubs (packet privacy)",
        "the operation is known and indicators still match, but the arguments are encrypted",
    ),
    (
        "sealed calls decrypted with the analyst's keys",
        "packet privacy removed with a key that verified: arguments decoded as in clear calls",
    ),
    (
        "sealed calls left encrypted (no key worked)",
        "no key verified for their association: the arguments stay encrypted",
    ),
    (
        "sealed PDUs whose signature did not verify after unsealing (stub not used)",
        "a lost or damaged PDU breaks the NTLM sealing stream: the calls after it stay encrypted",
    ),
    (
        "DCE-RPC signatures that did not verify (packet integrity)",
        "signed PDUs whose signature does not match the verified key: damaged or altered in transit",
    ),
    (
        "SMB3 sessions decrypted with the analyst's keys",
        "SMB3 encryption removed with a key that verified: their named pipes and calls are decoded",
    ),
    (
        "SMB3 encrypted messages that did not decrypt with the session's keys",
        "the session's key did not open these messages: calls in them are invisible",
    ),
    (
        "TCP gaps (lost segments)",
        "bytes missing from the capture: calls inside a gap are lost or partial",
    ),
    (
        "bytes missing in TCP gaps",
        "total size of the TCP gaps above",
    ),
    (
        "calls whose bind was not seen",
        "the interface is unknown (bind not captured): no indicator can match these calls",
    ),
    (
        "DCE-RPC resynchronisations after gap or garbage",
        "the DCE-RPC stream was re-found after a gap or unreadable bytes",
    ),
    (
        "DCE-RPC PDUs cut off at the end of their stream",
        "the capture ended inside a PDU",
    ),
    (
        "responses without a request",
        "the request was not captured: these calls are not in the report",
    ),
    (
        "malformed SMB messages",
        "SMB messages that could not be parsed: pipe data in them may be lost",
    ),
    (
        "malformed DCE-RPC PDUs",
        "PDUs that could not be parsed: their calls may be missing",
    ),
    (
        "truncated capture records (file cut short)",
        "the capture file ends in the middle of a packet",
    ),
    (
        "packets cut by snaplen",
        "packets were captured shorter than sent: their payload is incomplete",
    ),
];

/// What one capture file contributed.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureAccount {
    pub file: String,
    /// The file could not be read at all.
    pub failed: bool,
    pub packets: u64,
    pub bytes: u64,
    pub tcp_connections: u64,
    pub dcerpc_connections: u64,
    pub calls: usize,
    pub hits: usize,
    /// Request time of the first and last call.
    pub first: Option<f64>,
    pub last: Option<f64>,
    /// Non-zero problem counters of this file.
    pub problems: Vec<Problem>,
    pub notices: Vec<String>,
}

/// A problem counter, with the reason it matters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub count: u64,
    pub what: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// A run kept per file: the merged output plus the counters of every file.
#[derive(Debug, Default)]
pub struct Collected {
    pub run: RunOutput,
    /// (file, counters, notices) in the order of the paths given.
    pub files: Vec<(String, Counters, Vec<Notice>)>,
}

/// Analyse every file (in parallel) like [`engine::run`], keeping each file's counters.
pub fn collect(paths: &[PathBuf], opts: &Options) -> Collected {
    let outs: Vec<_> = paths
        .par_iter()
        .enumerate()
        .map(|(i, p)| (p, engine::analyze_path(p, i as u64, opts)))
        .collect();
    let mut c = Collected::default();
    for (p, o) in outs {
        c.run.counters.merge(&o.counters);
        c.run.notices.extend(o.notices.iter().cloned());
        c.run.records.extend(o.records);
        c.files
            .push((p.display().to_string(), o.counters, o.notices));
    }
    engine::sort_records(&mut c.run.records);
    c
}

/// Problem counters of a run (or one file), in counter order.
pub fn problems(c: &Counters) -> Vec<Problem> {
    let mut out: Vec<Problem> = c
        .lines()
        .into_iter()
        .filter(|(label, v)| *v > 0 && !INFORMATIONAL.contains(label))
        .map(|(label, v)| Problem {
            count: v,
            what: label.to_string(),
            why: WHY
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, w)| w.to_string())
                .unwrap_or_default(),
        })
        .collect();
    for (lt, n) in &c.unknown_linktypes {
        out.push(Problem {
            count: *n,
            what: format!("frames of unsupported link type {lt}"),
            why: "not decoded".into(),
        });
    }
    if c.dcerpc_decrypted_calls > 0
        && let Some(p) = out
            .iter_mut()
            .find(|p| p.what == "calls with encrypted stubs (packet privacy)")
    {
        p.why = "sealed on the wire; the analyst's keys removed the sealing of some (below)".into();
    }
    out.extend(key_problems(&c.keys));
    out
}

/// The key summary as lines of the "what could not be decoded" list: accounts whose key
/// verified, accounts seen without one, keys that did not verify (never a key itself).
pub fn key_problems(k: &crate::stats::KeyUse) -> Vec<Problem> {
    let mut out = Vec::new();
    for (account, v) in &k.verified {
        out.push(Problem {
            count: v.times,
            what: format!("{} authentications of {account}: key verified", v.auth),
            why: format!(
                "{} from {}: what this account sealed or encrypted is decrypted",
                v.with, v.origin
            ),
        });
    }
    for (account, n) in &k.without_key {
        out.push(Problem {
            count: *n,
            what: format!("authentications of {account}: no key verified"),
            why: "what this authentication sealed or encrypted stays unreadable".into(),
        });
    }
    for (key, n) in &k.keys_failed {
        out.push(Problem {
            count: *n,
            what: format!("key {key} did not verify"),
            why: "a wrong key for the account: never used".into(),
        });
    }
    if k.dropped > 0 {
        out.push(Problem {
            count: k.dropped,
            what: "accounts or keys not listed".into(),
            why: format!("more than {} per list", crate::stats::MAX_KEY_USE_ENTRIES),
        });
    }
    out
}

/// Headline numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub captures: usize,
    pub captures_failed: u64,
    pub packets: u64,
    pub bytes: u64,
    pub calls: usize,
    /// Distinct addresses on either side of a DCE-RPC call.
    pub hosts: usize,
    pub first: Option<f64>,
    pub last: Option<f64>,
    pub hits: usize,
}

/// How the report was made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Meta {
    pub title: String,
    pub version: String,
    /// Unix time the report was written.
    pub generated: f64,
    /// Indicator set in use, or null.
    pub indicators: Option<String>,
    pub sigma_rules: usize,
    pub paths: Vec<String>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportData {
    pub meta: Meta,
    /// Null when the report was built from saved hits without the captures.
    pub summary: Option<Summary>,
    /// What could not be decoded and why.
    pub undecoded: Vec<Problem>,
    /// Why the arguments of hit calls are missing: args_status → hits.
    pub args_missing: BTreeMap<String, usize>,
    pub captures: Vec<CaptureAccount>,
    /// One object per hit, as `detect --format json` writes it, plus the call's context.
    pub hits: Vec<Value>,
    /// The first notices of the run.
    pub notices: Vec<String>,
}

/// Notices shown in the page (the rest are counted).
pub const MAX_NOTICES: usize = 50;

fn notice_text(n: &Notice) -> String {
    match n.offset {
        Some(o) => format!("{} at offset {}: {}", n.file, o, n.message),
        None => format!("{}: {}", n.file, n.message),
    }
}

/// The hit as `detect` writes it, plus what the call record carries, with nulls and empty
/// lists dropped (the page is smaller; the renderer treats absent and null alike).
pub fn hit_value(h: &Hit, rec: Option<&Record>) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or(Value::Null);
    let Value::Object(obj) = &mut v else {
        return v;
    };
    if let Some(x) = rec.and_then(|r| r.extra.as_ref()) {
        let mut put = |k: &str, val: Value| {
            if obj.get(k).is_none_or(Value::is_null) {
                obj.insert(k.to_string(), val);
            }
        };
        let s = |o: &Option<crate::output::SmolStr>| o.as_deref().map_or(Value::Null, Value::from);
        put("user", s(&x.user));
        put("domain", s(&x.domain));
        put("workstation", s(&x.workstation));
        put("auth", x.auth.map_or(Value::Null, Value::from));
        put(
            "args",
            x.args
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok())
                .unwrap_or(Value::Null),
        );
        put("args_status", Value::from(x.args_status));
        put(
            "decrypted_with",
            x.decrypted_with.map_or(Value::Null, Value::from),
        );
        put(
            "what_ran",
            x.what_ran.as_deref().map_or(Value::Null, Value::from),
        );
    }
    obj.insert(
        "call".into(),
        Value::from(format!("{}:{}:{}", h.call.0, h.call.1, h.call.2)),
    );
    prune(obj);
    v
}

fn prune(obj: &mut Map<String, Value>) {
    obj.retain(|_, v| match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        _ => true,
    });
}

fn args_missing(hits: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for h in hits {
        if let Some(s) = h.get("args_status").and_then(Value::as_str)
            && s != "decoded"
        {
            *m.entry(s.to_string()).or_insert(0) += 1;
        }
    }
    m
}

impl ReportData {
    /// The report of a run: `hits` are the detector's hits on `c.run.records`.
    pub fn from_run(c: &Collected, hits: &[Hit], meta: Meta) -> Self {
        let records = &c.run.records;
        let by_call: HashMap<(u64, u64, u64), &Record> = records
            .iter()
            .map(|r| ((r.order.1, r.order.2, r.order.3), r))
            .collect();
        let values: Vec<Value> = hits
            .iter()
            .map(|h| hit_value(h, by_call.get(&h.call).copied()))
            .collect();
        let mut hosts = BTreeSet::new();
        let (mut first, mut last) = (None::<f64>, None::<f64>);
        for r in records {
            hosts.insert(r.orig_h);
            hosts.insert(r.resp_h);
            first = Some(first.map_or(r.ts, |f| f.min(r.ts)));
            last = Some(last.map_or(r.ts, |l| l.max(r.ts)));
        }
        let counters = &c.run.counters;
        let summary = Summary {
            captures: c.files.len(),
            captures_failed: counters.files_failed,
            packets: counters.packets,
            bytes: counters.bytes,
            calls: records.len(),
            hosts: hosts.len(),
            first,
            last,
            hits: hits.len(),
        };
        // Per file: records and hits carry the file index in their order key.
        let mut per_file: HashMap<u64, (usize, usize, Option<f64>, Option<f64>)> = HashMap::new();
        for r in records {
            let e = per_file.entry(r.order.1).or_default();
            e.0 += 1;
            e.2 = Some(e.2.map_or(r.ts, |f| f.min(r.ts)));
            e.3 = Some(e.3.map_or(r.ts, |l| l.max(r.ts)));
        }
        for h in hits {
            per_file.entry(h.call.0).or_default().1 += 1;
        }
        let captures = c
            .files
            .iter()
            .enumerate()
            .map(|(i, (file, fc, notices))| {
                let (calls, nhits, first, last) =
                    per_file.get(&(i as u64)).copied().unwrap_or_default();
                CaptureAccount {
                    file: file.clone(),
                    failed: fc.files_failed > 0,
                    packets: fc.packets,
                    bytes: fc.bytes,
                    tcp_connections: fc.tcp_connections,
                    dcerpc_connections: fc.dcerpc_connections,
                    calls,
                    hits: nhits,
                    first,
                    last,
                    problems: problems(fc),
                    notices: notices.iter().take(10).map(notice_text).collect(),
                }
            })
            .collect();
        let mut notices: Vec<String> = c
            .run
            .notices
            .iter()
            .take(MAX_NOTICES)
            .map(notice_text)
            .collect();
        if c.run.notices.len() > MAX_NOTICES {
            notices.push(format!(
                "{} more notices not shown",
                c.run.notices.len() - MAX_NOTICES
            ));
        }
        ReportData {
            meta,
            summary: Some(summary),
            undecoded: problems(counters),
            args_missing: args_missing(&values),
            captures,
            hits: values,
            notices,
        }
    }

    /// A report from saved `detect --format json` lines alone (no capture accounting).
    pub fn from_hit_values(hits: Vec<Value>, meta: Meta) -> Self {
        ReportData {
            meta,
            summary: None,
            undecoded: Vec::new(),
            args_missing: args_missing(&hits),
            captures: Vec::new(),
            hits,
            notices: Vec::new(),
        }
    }
}

/// JSON safe inside a `<script>` element: `<`, `>`, `&` and the two JavaScript line
/// separators become `\u` escapes (still the same JSON value).
pub fn script_json<T: Serialize>(v: &T) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn render_html(d: &ReportData) -> String {
    let data = script_json(d);
    let title = html_escape(&d.meta.title);
    let mut s = String::with_capacity(data.len() + CSS.len() + JS.len() + 4096);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
    );
    s.push_str(&format!(
        "<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n"
    ));
    s.push_str(&format!(
        "<body>\n<header><h1>{title}</h1><p id=\"meta\"></p></header>\n\
<noscript><p class=\"warn\">This report is drawn by JavaScript embedded in the page; \
the data is in the script block with id rpcsift-data.</p></noscript>\n\
<main>\n\
<section id=\"summary\"><h2>Summary</h2><div id=\"summary-body\"></div></section>\n\
<section id=\"timeline\"><h2>Timeline of execution calls per target host</h2>\
<div id=\"timeline-legend\" class=\"legend\"></div><div id=\"timeline-body\"></div></section>\n\
<section id=\"graph\"><h2>Source → target hosts</h2><div id=\"graph-body\"></div></section>\n\
<section id=\"hits\"><h2>Hits</h2><div class=\"controls\">\
<input id=\"filter\" type=\"search\" placeholder=\"filter: host, operation, technique, tactic, level, user, listener, command…\" size=\"50\">\
<select id=\"tech-filter\"><option value=\"\">all techniques</option></select>\
<span id=\"hit-count\"></span></div>\
<div class=\"table-wrap\"><table id=\"hit-table\"><thead></thead><tbody></tbody></table></div></section>\n\
<section id=\"captures\"><h2>Captures</h2><div id=\"captures-body\"></div></section>\n\
</main>\n\
<script type=\"application/json\" id=\"rpcsift-data\">{data}</script>\n\
<script>\n{JS}</script>\n</body>\n</html>\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_block() {
        let v = serde_json::json!({"a": "</script><script>alert(1)</script>", "b": "x&y\u{2028}"});
        let s = script_json(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        assert!(!s.contains('\u{2028}'));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn html_escape_all_specials() {
        assert_eq!(
            html_escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn every_explained_label_is_a_counter() {
        let labels: Vec<&str> = Counters::default()
            .lines()
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        for (l, _) in WHY {
            assert!(labels.contains(l), "WHY names no counter: {l}");
        }
        for l in INFORMATIONAL {
            assert!(labels.contains(l), "INFORMATIONAL names no counter: {l}");
        }
    }

    #[test]
    fn problems_skip_traffic_counters_and_explain() {
        let mut c = Counters {
            packets: 10,
            tcp_gaps: 2,
            dcerpc_encrypted_stubs: 3,
            ..Default::default()
        };
        c.smb.smb3_encrypted_sessions = 1;
        c.smb.smb3_encrypted_messages = 7;
        c.unknown_linktypes.insert(147, 4);
        let p = problems(&c);
        let what: Vec<(&str, u64)> = p.iter().map(|p| (p.what.as_str(), p.count)).collect();
        assert_eq!(
            what,
            [
                ("TCP gaps (lost segments)", 2),
                ("calls with encrypted stubs (packet privacy)", 3),
                ("SMB3 encrypted sessions", 1),
                ("frames of unsupported link type 147", 4),
            ]
        );
        assert!(p[2].why.contains("invisible"));
        assert!(p[1].why.contains("arguments are encrypted"));
        assert!(problems(&Counters::default()).is_empty());
    }

    #[test]
    fn hit_value_prunes_nulls_and_adds_call_key() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures/dynamic_port_svcctl.pcap");
        let c = collect(&[p], &Options::default());
        let det = crate::detect::Detector {
            set: Some(crate::detect::indicators::IndicatorSet::Improved),
            rules: vec![],
        };
        let hits = det.run(&c.run.records);
        let d = ReportData::from_run(&c, &hits, Meta::default());
        assert_eq!(d.hits.len(), 2);
        let h = &d.hits[0];
        assert_eq!(h["operation"], "CreateServiceW");
        assert_eq!(
            h["call"],
            format!("{}:{}:{}", hits[0].call.0, hits[0].call.1, hits[0].call.2)
        );
        assert!(h.get("rule_id").is_none(), "nulls are dropped");
        assert!(h.get("tags").is_none(), "empty lists are dropped");
        assert!(h.get("args_status").is_some());
        let s = d.summary.as_ref().unwrap();
        assert_eq!((s.captures, s.hits, s.hosts), (1, 2, 2));
        assert_eq!(d.captures.len(), 1);
        assert_eq!(d.captures[0].hits, 2);
        assert_eq!(d.captures[0].calls, s.calls);
        assert!(d.captures[0].packets > 0);
    }
}
