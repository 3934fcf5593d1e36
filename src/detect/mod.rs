//! Detection on decoded calls: built-in remote-execution indicator sets matched on wire
//! identity ([`indicators`]) and Sigma rules for Zeek's `dce_rpc` log source ([`sigma`]).
//!
//! [`Detector::run`] turns call records (accurate mode, with [`crate::output::Extra`]) into
//! [`Hit`]s: one per call and matcher (an indicator set or a Sigma rule), so a call that
//! both `improved` and a Sigma rule flag appears twice, each with its own provenance.
//! [`write_json`] writes one JSON object per hit, [`write_text`] a table grouped by target
//! host and technique.

pub mod assess;
#[cfg(test)]
mod attack_tests;
pub mod indicators;
pub mod rows;
pub mod sigma;
pub mod sigma_rules;

use crate::output::{Record, SmolStr};
use indicators::{IndicatorSet, Level};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::net::IpAddr;

/// An ATT&CK technique attached to a hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Technique {
    pub id: String,
    pub tactic: Option<String>,
    pub name: Option<String>,
}

/// One call flagged by one indicator set or Sigma rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Request time (Zeek's `ts`).
    pub ts: f64,
    pub uid: SmolStr,
    #[serde(rename = "id.orig_h")]
    pub orig_h: IpAddr,
    #[serde(rename = "id.orig_p")]
    pub orig_p: u16,
    #[serde(rename = "id.resp_h")]
    pub resp_h: IpAddr,
    #[serde(rename = "id.resp_p")]
    pub resp_p: u16,
    /// `tcp`, `smb1`, `smb2`, ...
    pub transport: Option<&'static str>,
    pub named_pipe: Option<SmolStr>,
    pub smb_pipe: Option<SmolStr>,
    /// Zeek's names for the call.
    pub endpoint: Option<SmolStr>,
    pub operation: Option<SmolStr>,
    /// The Microsoft-specification name where Zeek's differs or is missing.
    pub operation_spec: Option<&'static str>,
    pub uuid: Option<SmolStr>,
    pub opnum: Option<u16>,
    /// `ok` (response), `fault` or `no_response`.
    pub status: Option<&'static str>,
    /// A response PDU (not a fault) answered the call: what BZAR required to fire.
    pub responded: bool,
    pub techniques: Vec<Technique>,
    /// The indicator set's name, or `sigma:<rule id>`.
    pub matched_by: String,
    /// The indicator set (indicator hits only).
    pub set: Option<&'static str>,
    /// Sigma rule id, title, level and tags (Sigma hits only).
    pub rule_id: Option<String>,
    pub title: Option<String>,
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// Indicator hits: whether the set's published `endpoint::operation` string equals
    /// Zeek's name for this call (false = that analytic as published would miss it).
    /// Null for Sigma hits, which match on the names themselves.
    pub would_match_in_zeek: Option<bool>,
    /// The capture file the call came from.
    pub capture: Option<SmolStr>,
    /// Who made the call (`user`, `domain`, `workstation`, `auth`: see `output::Extra`).
    pub user: Option<SmolStr>,
    pub domain: Option<SmolStr>,
    pub workstation: Option<SmolStr>,
    pub auth: Option<&'static str>,
    /// The call's decoded arguments (`crate::args`), null when not decoded, and why.
    pub args: Option<crate::args::Args>,
    pub args_status: Option<&'static str>,
    /// Whether rpcsift removed packet privacy or SMB3 encryption with a key to read the
    /// call, and the kind of key (see `output::Extra`); absent from JSON in runs without keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted_with: Option<&'static str>,
    /// One line saying what ran, e.g. `service PSEXESVC: %SystemRoot%\PSEXESVC.exe`.
    pub what_ran: Option<String>,
    /// One line saying what the call did, for every decoded call (execution or not), e.g.
    /// `coercion: told to authenticate to \\10.0.0.99 (EfsRpcOpenFileRaw)`.
    pub what: Option<String>,
    /// Indicator hits: the row's false-positive context (what else makes this call).
    pub context: Option<&'static str>,
    /// Why the hit has its level (the argument or DC fact that raised or lowered it).
    pub reason: Option<String>,
    /// Whether the client / server of the call is a known domain controller (null when
    /// no DC is known at all), and where that knowledge came from: `given` (`--dc`,
    /// `--dc-file`) or `inferred` (hosts seen serving drsuapi or netlogon, or answering
    /// Kerberos on port 88).
    pub client_is_dc: Option<bool>,
    pub server_is_dc: Option<bool>,
    pub dc_source: Option<&'static str>,
    /// Identity of the call (for counting calls, not hits).
    #[serde(skip)]
    pub call: (u64, u64, u64),
}

/// The domain controllers a run knows, and how it knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dcs {
    pub addrs: BTreeSet<IpAddr>,
    /// `given` or `inferred`.
    pub source: &'static str,
}

impl Dcs {
    /// Whether `a` is a DC: None when no DC is known at all (nothing can be said).
    pub fn is_dc(&self, a: IpAddr) -> Option<bool> {
        (!self.addrs.is_empty()).then(|| self.addrs.contains(&a))
    }
}

/// DCE-RPC interfaces only domain controllers serve: drsuapi (MS-DRSR) and netlogon
/// (MS-NRPC).
pub const DC_INTERFACES: [&str; 2] = [
    "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
    "12345678-1234-abcd-ef00-01234567cffb",
];

/// The server of `r` when the call shows it serving a DC-only interface (it answered a
/// drsuapi or netlogon call with a response, not a fault).
pub fn dc_evidence(r: &Record) -> Option<IpAddr> {
    let x = r.extra.as_ref()?;
    let u = x.uuid.as_deref()?;
    (x.status == "ok" && DC_INTERFACES.iter().any(|d| d.eq_ignore_ascii_case(u)))
        .then_some(r.resp_h)
}

/// Hosts that serve drsuapi or netlogon in `records`.
pub fn infer_dcs<'a>(records: impl IntoIterator<Item = &'a Record>) -> BTreeSet<IpAddr> {
    records.into_iter().filter_map(dc_evidence).collect()
}

/// How a run filters and what it knows about the network.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Hits below this level are dropped (Sigma hits without a level are kept).
    pub min_level: Level,
    /// Known DCs (`--dc`, `--dc-file`): when given, nothing is inferred.
    pub dcs: Option<BTreeSet<IpAddr>>,
    /// DC evidence the caller collected while reading (see [`dc_evidence`]), for runs that
    /// do not keep every record; None: inferred from the records given to the run.
    pub evidence: Option<BTreeSet<IpAddr>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_level: Level::Medium,
            dcs: None,
            evidence: None,
        }
    }
}

/// What to look for.
#[derive(Debug, Default)]
pub struct Detector {
    /// Built-in indicator set to apply, if any.
    pub set: Option<IndicatorSet>,
    pub rules: Vec<sigma::Rule>,
}

/// A record as the Sigma evaluator sees it.
struct RecordEvent<'a>(&'a Record);

impl sigma::Event for RecordEvent<'_> {
    fn get(&self, field: &str) -> sigma::Value<'_> {
        use sigma::Value as V;
        let r = self.0;
        let x = r.extra.as_ref();
        match field {
            "ts" => V::Float(r.ts),
            "uid" => V::Str(&r.uid),
            "id.orig_h" => V::Addr(r.orig_h),
            "id.orig_p" => V::Int(r.orig_p.into()),
            "id.resp_h" => V::Addr(r.resp_h),
            "id.resp_p" => V::Int(r.resp_p.into()),
            "rtt" => r.rtt.map_or(V::Null, V::Float),
            "named_pipe" => opt(&r.named_pipe),
            "endpoint" => opt(&r.endpoint),
            "operation" => opt(&r.operation),
            "uuid" => x.and_then(|x| x.uuid.as_deref()).map_or(V::Null, V::Str),
            "opnum" => x.map_or(V::Null, |x| V::Int(x.opnum.into())),
            "operation_spec" => x.and_then(|x| x.operation_spec).map_or(V::Null, V::Str),
            "transport" => x.map_or(V::Null, |x| V::Str(x.transport)),
            "smb_pipe" => x
                .and_then(|x| x.smb_pipe.as_deref())
                .map_or(V::Null, V::Str),
            "status" => x.map_or(V::Null, |x| V::Str(x.status)),
            _ => V::Null,
        }
    }
}

fn opt(o: &Option<SmolStr>) -> sigma::Value<'_> {
    o.as_deref().map_or(sigma::Value::Null, sigma::Value::Str)
}

impl Detector {
    /// Every hit on one record at the default level (`medium`) with no DC knowledge:
    /// indicator hits first (in set order), then Sigma hits (in rule order).
    pub fn hits(&self, r: &Record) -> Vec<Hit> {
        let mut out = self.raw_hits(r, &Dcs::default());
        out.retain(|h| keep_level(h, Level::Medium));
        out
    }

    /// Whether any indicator row or Sigma rule names the call, whatever its level (what a
    /// run must keep to judge it later).
    pub fn could_hit(&self, r: &Record) -> bool {
        !self.raw_hits(r, &Dcs::default()).is_empty()
    }

    /// Every hit on one record before level filtering.
    fn raw_hits(&self, r: &Record, dcs: &Dcs) -> Vec<Hit> {
        let mut out = Vec::new();
        let x = r.extra.as_ref();
        if let (Some(set), Some(uuid), Some(opnum)) = (
            self.set,
            x.and_then(|x| x.uuid.as_deref()),
            x.map(|x| x.opnum),
        ) {
            for i in indicators::matches(set, uuid, opnum) {
                let mut h = base_hit(r, dcs);
                h.techniques = vec![Technique {
                    id: i.technique.to_string(),
                    tactic: Some(i.tactic.to_string()),
                    name: Some(i.technique_name.to_string()),
                }];
                h.matched_by = i.set.to_string();
                h.set = Some(i.set);
                h.would_match_in_zeek = Some(i.would_match_in_zeek);
                h.level = Some(
                    if i.set == "improved" {
                        Level::High
                    } else {
                        Level::Medium
                    }
                    .to_string(),
                );
                out.push(h);
            }
            for row in indicators::match_rows(set, uuid, opnum) {
                let mut h = base_hit(r, dcs);
                h.techniques = vec![Technique {
                    id: row.technique.to_string(),
                    tactic: Some(row.tactic.to_string()),
                    name: Some(row.technique_name.to_string()),
                }];
                h.matched_by = row.set.to_string();
                h.set = Some(row.set);
                h.would_match_in_zeek = (row.set == "bzar").then_some(row.would_match_in_zeek);
                h.context = Some(row.context);
                let j = if row.set == "attack" {
                    assess::assess(row, r, &h)
                } else {
                    assess::Judgement {
                        level: row.level,
                        reason: None,
                    }
                };
                h.level = Some(j.level.to_string());
                h.reason = j.reason;
                out.push(h);
            }
        }
        if !self.rules.is_empty() {
            let ev = RecordEvent(r);
            for rule in &self.rules {
                if rule.matches(&ev) {
                    let mut h = base_hit(r, dcs);
                    let tactic = rule.tactic();
                    h.techniques = rule
                        .techniques()
                        .into_iter()
                        .map(|id| Technique {
                            name: indicators::technique_name(&id).map(str::to_string),
                            tactic: tactic.clone(),
                            id,
                        })
                        .collect();
                    h.matched_by = format!("sigma:{}", rule.id);
                    h.rule_id = Some(rule.id.clone());
                    h.title = Some(rule.title.clone());
                    h.level = rule.level.clone();
                    h.tags = rule.tags.clone();
                    out.push(h);
                }
            }
        }
        out
    }

    /// Hits on every record, in record order, at the default level (`medium`); DCs are
    /// inferred from the records.
    pub fn run(&self, records: &[Record]) -> Vec<Hit> {
        self.run_with(records, &Settings::default())
    }

    /// Hits on every record, in record order, judged with what `settings` knows about the
    /// network and filtered at its level.
    pub fn run_with(&self, records: &[Record], settings: &Settings) -> Vec<Hit> {
        let dcs = match (&settings.dcs, &settings.evidence) {
            (Some(given), _) => Dcs {
                addrs: given.clone(),
                source: "given",
            },
            (None, Some(ev)) => Dcs {
                addrs: ev.clone(),
                source: "inferred",
            },
            (None, None) => Dcs {
                addrs: infer_dcs(records),
                source: "inferred",
            },
        };
        let mut hits: Vec<Hit> = records
            .iter()
            .flat_map(|r| self.raw_hits(r, &dcs))
            .collect();
        assess::across_calls(&mut hits);
        hits.retain(|h| keep_level(h, settings.min_level));
        hits
    }
}

/// Why a detector could not be set up (the messages `rpcsift detect` prints).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("Sigma rule path {0} does not exist")]
    MissingPath(String),
    /// Rules were asked for, none loaded, and no indicator set was chosen.
    #[error("no usable Sigma rule in {files} file(s) ({} rejected)", errors.len())]
    NoUsableRule { files: usize, errors: Vec<String> },
}

/// A detector and the Sigma rules it rejected (one message each).
#[derive(Debug)]
pub struct Loaded {
    pub detector: Detector,
    pub rejected: Vec<String>,
}

/// The detector `detect`, `report` and the Python package share: `indicators` (default
/// `attack` unless Sigma rules are given) and the Sigma rules in `sigma_paths`.
pub fn load_detector(
    indicators: Option<IndicatorSet>,
    sigma_paths: &[std::path::PathBuf],
) -> Result<Loaded, LoadError> {
    for p in sigma_paths {
        if !p.exists() {
            return Err(LoadError::MissingPath(p.display().to_string()));
        }
    }
    let loaded = sigma::load_paths(sigma_paths);
    let rejected: Vec<String> = loaded.errors.iter().map(|e| e.to_string()).collect();
    if !sigma_paths.is_empty() && loaded.rules.is_empty() && indicators.is_none() {
        return Err(LoadError::NoUsableRule {
            files: loaded.files,
            errors: rejected,
        });
    }
    let set = match (indicators, sigma_paths.is_empty()) {
        (Some(s), _) => Some(s),
        (None, true) => Some(IndicatorSet::Attack),
        (None, false) => None,
    };
    Ok(Loaded {
        detector: Detector {
            set,
            rules: loaded.rules,
        },
        rejected,
    })
}

/// Whether a hit is at or above `min` (hits whose level is unknown are kept).
fn keep_level(h: &Hit, min: Level) -> bool {
    h.level
        .as_deref()
        .and_then(|l| l.parse::<Level>().ok())
        .is_none_or(|l| l >= min)
}

fn base_hit(r: &Record, dcs: &Dcs) -> Hit {
    let x = r.extra.as_ref();
    let known = !dcs.addrs.is_empty();
    Hit {
        ts: r.ts,
        uid: r.uid.clone(),
        orig_h: r.orig_h,
        orig_p: r.orig_p,
        resp_h: r.resp_h,
        resp_p: r.resp_p,
        transport: x.map(|x| x.transport),
        named_pipe: r.named_pipe.clone(),
        smb_pipe: x.and_then(|x| x.smb_pipe.clone()),
        endpoint: r.endpoint.clone(),
        operation: r.operation.clone(),
        operation_spec: x.and_then(|x| x.operation_spec),
        uuid: x.and_then(|x| x.uuid.clone()),
        opnum: x.map(|x| x.opnum),
        status: x.map(|x| x.status),
        responded: x.is_some_and(|x| x.status == "ok"),
        techniques: Vec::new(),
        matched_by: String::new(),
        set: None,
        rule_id: None,
        title: None,
        level: None,
        tags: Vec::new(),
        would_match_in_zeek: None,
        capture: x.map(|x| x.capture.clone()),
        user: x.and_then(|x| x.user.clone()),
        domain: x.and_then(|x| x.domain.clone()),
        workstation: x.and_then(|x| x.workstation.clone()),
        auth: x.and_then(|x| x.auth),
        args: x.and_then(|x| x.args.clone()),
        args_status: x.map(|x| x.args_status),
        decrypted: x.and_then(|x| x.decrypted),
        decrypted_with: x.and_then(|x| x.decrypted_with),
        what_ran: x.and_then(|x| x.what_ran.clone()),
        what: x.and_then(|x| x.args.as_ref()).and_then(crate::args::what),
        context: None,
        reason: None,
        client_is_dc: dcs.is_dc(r.orig_h),
        server_is_dc: dcs.is_dc(r.resp_h),
        dc_source: known.then_some(dcs.source),
        call: (r.order.1, r.order.2, r.order.3),
    }
}

/// One JSON object per hit, one per line.
pub fn write_json<W: Write + ?Sized>(out: &mut W, hits: &[Hit]) -> io::Result<()> {
    for h in hits {
        let s = serde_json::to_string(h).map_err(io::Error::other)?;
        writeln!(out, "{s}")?;
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
pub fn format_time(ts: f64) -> String {
    if !ts.is_finite() {
        return "-".into();
    }
    let secs = ts.floor();
    let micros = (((ts - secs) * 1e6).round() as i64).clamp(0, 999_999);
    let stamp = crate::output::zeek_stamp(secs as i64);
    // zeek_stamp is `%Y-%m-%d-%H-%M-%S`.
    match (stamp.get(..10), stamp.get(11..)) {
        (Some(d), Some(t)) => format!("{d} {}.{micros:06}", t.replace('-', ":")),
        _ => stamp,
    }
}

/// One row of the text report.
#[derive(Debug, Default)]
struct Group {
    name: String,
    calls: BTreeMap<(u64, u64, u64), &'static str>,
    first: f64,
    last: f64,
    sources: Vec<IpAddr>,
    operations: Vec<String>,
    matched_by: Vec<String>,
    missed_by_zeek_strings: usize,
    /// Distinct "what ran" lines and accounts, in order of first appearance.
    what_ran: Vec<String>,
    users: Vec<String>,
}

/// Lines of "what ran" shown per group before the rest is summarised.
const WHAT_RAN_SHOWN: usize = 5;

/// `DOMAIN\user (auth)`, or the auth kind alone when the account is not visible.
fn account(h: &Hit) -> Option<String> {
    match (&h.user, &h.domain, h.auth) {
        (Some(u), Some(d), a) if !d.is_empty() => Some(format!("{d}\\{u} ({})", a.unwrap_or("?"))),
        (Some(u), _, a) => Some(format!("{u} ({})", a.unwrap_or("?"))),
        (None, _, Some(a)) => Some(format!("{a}, account not visible")),
        (None, _, None) => None,
    }
}

/// The readable report: one row per (target host, technique), with call counts by
/// outcome, first and last time, sources, operations and what matched.
pub fn write_text<W: Write + ?Sized>(out: &mut W, hits: &[Hit]) -> io::Result<()> {
    if hits.is_empty() {
        writeln!(out, "no hits")?;
        return Ok(());
    }
    let mut groups: BTreeMap<(IpAddr, String), Group> = BTreeMap::new();
    for h in hits {
        let techs: Vec<&Technique> = h.techniques.iter().collect();
        let keys: Vec<(String, String)> = if techs.is_empty() {
            vec![("-".into(), "(no ATT&CK tag)".into())]
        } else {
            techs
                .iter()
                .map(|t| (t.id.clone(), t.name.clone().unwrap_or_default()))
                .collect()
        };
        for (id, name) in keys {
            let g = groups.entry((h.resp_h, id)).or_insert_with(|| Group {
                name,
                first: h.ts,
                last: h.ts,
                ..Default::default()
            });
            g.calls.insert(h.call, h.status.unwrap_or("-"));
            g.first = g.first.min(h.ts);
            g.last = g.last.max(h.ts);
            if !g.sources.contains(&h.orig_h) {
                g.sources.push(h.orig_h);
            }
            let op = h
                .operation
                .as_deref()
                .map(str::to_string)
                .or_else(|| h.operation_spec.map(str::to_string))
                .or_else(|| h.opnum.map(|o| format!("opnum {o}")))
                .unwrap_or_else(|| "-".into());
            if !g.operations.contains(&op) {
                g.operations.push(op);
            }
            if !g.matched_by.contains(&h.matched_by) {
                g.matched_by.push(h.matched_by.clone());
            }
            if h.would_match_in_zeek == Some(false) {
                g.missed_by_zeek_strings += 1;
            }
            let ran = match (&h.what_ran, h.args_status) {
                (Some(w), _) => Some(w.clone()),
                (None, Some(st)) if st != "decoded" && st != "no_decoder" => {
                    Some(format!("(arguments {st})"))
                }
                _ => None,
            };
            if let Some(w) = ran
                && !g.what_ran.contains(&w)
            {
                g.what_ran.push(w);
            }
            if let Some(a) = account(h)
                && !g.users.contains(&a)
            {
                g.users.push(a);
            }
        }
    }
    let calls: std::collections::BTreeSet<_> = hits.iter().map(|h| h.call).collect();
    let targets: std::collections::BTreeSet<_> = hits.iter().map(|h| h.resp_h).collect();
    writeln!(
        out,
        "{} hit(s) on {} call(s) to {} target host(s)",
        hits.len(),
        calls.len(),
        targets.len()
    )?;
    let mut last_target = None;
    for ((target, tech), g) in &groups {
        if last_target != Some(*target) {
            writeln!(out)?;
            writeln!(out, "target {target}")?;
            last_target = Some(*target);
        }
        let count = |s: &str| g.calls.values().filter(|v| **v == s).count();
        writeln!(
            out,
            "  {tech} {}: {} call(s) ({} ok, {} fault, {} no response)",
            g.name,
            g.calls.len(),
            count("ok"),
            count("fault"),
            count("no_response")
        )?;
        writeln!(
            out,
            "    first {}  last {}",
            format_time(g.first),
            format_time(g.last)
        )?;
        let srcs: Vec<String> = g.sources.iter().map(|s| s.to_string()).collect();
        writeln!(out, "    from {}", srcs.join(", "))?;
        writeln!(out, "    operations {}", g.operations.join(", "))?;
        for w in g.what_ran.iter().take(WHAT_RAN_SHOWN) {
            writeln!(out, "    what ran {w}")?;
        }
        if g.what_ran.len() > WHAT_RAN_SHOWN {
            writeln!(
                out,
                "    what ran ... and {} more (see --format json)",
                g.what_ran.len() - WHAT_RAN_SHOWN
            )?;
        }
        if !g.users.is_empty() {
            writeln!(out, "    as {}", g.users.join(", "))?;
        }
        write!(out, "    matched by {}", g.matched_by.join(", "))?;
        if g.missed_by_zeek_strings > 0 {
            write!(
                out,
                " ({} hit(s) the published string could never match in Zeek)",
                g.missed_by_zeek_strings
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calls of the project's own `at`/schtask capture (NetrJobAdd, SchRpcRegisterTask,
    /// SchRpcRun, all answered), decoded by the engine.
    fn atsvc_records() -> Vec<Record> {
        let p =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/atsvc_schtask.pcap");
        let run = crate::engine::run(&[p], &crate::engine::Options::default());
        assert_eq!(run.records.len(), 3);
        run.records
    }

    fn with_status(mut r: Record, status: &'static str) -> Record {
        if let Some(x) = r.extra.as_mut() {
            x.status = status;
        }
        r
    }

    const ATSVC: &str = "1ff70682-0a51-30e8-076d-740be8cee98b";

    #[test]
    fn indicator_hits_carry_provenance() {
        let r = with_status(atsvc_records().remove(0), "fault");
        assert_eq!(
            r.extra.as_ref().and_then(|x| x.uuid.as_deref()),
            Some(ATSVC)
        );
        let d = Detector {
            set: Some(IndicatorSet::All),
            rules: vec![],
        };
        let hits = d.hits(&r);
        let by: Vec<_> = hits.iter().map(|h| h.matched_by.as_str()).collect();
        // Issue 18: `all` now also holds BZAR as published and the attack set.
        assert_eq!(by, ["improved", "bzar-2020", "bzar-2019", "bzar", "attack"]);
        assert_eq!(hits[0].would_match_in_zeek, Some(true));
        assert_eq!(hits[1].would_match_in_zeek, Some(false));
        assert_eq!(hits[0].techniques[0].id, "T1053.002");
        assert_eq!(hits[2].techniques[0].id, "T1053");
        assert!(!hits[0].responded);
        assert_eq!(hits[0].status, Some("fault"));
        let json = serde_json::to_value(&hits[0]).unwrap();
        assert_eq!(json["id.resp_h"], "10.10.0.5");
        assert_eq!(json["id.orig_p"], 49731);
        assert_eq!(json["techniques"][0]["tactic"], "execution");
        assert_eq!(json["responded"], false);
        assert!(json.get("call").is_none());
        // Without a set, no indicator hits.
        assert!(Detector::default().hits(&r).is_empty());
    }

    #[test]
    fn sigma_hits_and_text_report() {
        let text = "title: at\nid: at-rule\nlevel: high\ntags: [attack.execution, attack.t1053.002]\nlogsource: {product: zeek, service: dce_rpc}\ndetection:\n  s: {endpoint: atsvc, operation: NetrJobAdd}\n  condition: s\n";
        let rule = sigma::parse_rules(text, "r.yml").remove(0).unwrap();
        let d = Detector {
            set: Some(IndicatorSet::Improved),
            rules: vec![rule],
        };
        let r = atsvc_records().remove(0);
        let hits = d.hits(&r);
        assert_eq!(hits.len(), 2);
        let s = &hits[1];
        assert_eq!(s.matched_by, "sigma:at-rule");
        assert_eq!(s.level.as_deref(), Some("high"));
        assert_eq!(s.techniques[0].id, "T1053.002");
        assert_eq!(
            s.techniques[0].name.as_deref(),
            Some("Scheduled Task/Job: At")
        );
        assert_eq!(s.would_match_in_zeek, None);
        let mut out = Vec::new();
        write_text(&mut out, &hits).unwrap();
        let t = String::from_utf8(out).unwrap();
        assert!(
            t.starts_with("2 hit(s) on 1 call(s) to 1 target host(s)"),
            "{t}"
        );
        assert!(t.contains("target 10.10.0.5"), "{t}");
        assert!(
            t.contains(
                "T1053.002 Scheduled Task/Job: At: 1 call(s) (1 ok, 0 fault, 0 no response)"
            ),
            "{t}"
        );
        assert!(t.contains("first 2024-01-01 01:40:00.103034"), "{t}");
        assert!(t.contains("matched by improved, sigma:at-rule"), "{t}");
        let mut out = Vec::new();
        write_json(&mut out, &hits).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
    }

    #[test]
    fn time_format() {
        assert_eq!(format_time(0.0), "1970-01-01 00:00:00.000000");
        assert_eq!(format_time(1704068400.105688), "2024-01-01 00:20:00.105688");
        assert_eq!(format_time(f64::NAN), "-");
    }
}
