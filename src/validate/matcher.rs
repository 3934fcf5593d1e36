//! Matching Zeek's log lines to the calls decoded from the packets, and classifying every
//! difference.
//!
//! Three inputs: Zeek's records (Z), the accurate decode's calls (A) and the `--zeek-compat`
//! emulation's lines (E, what Zeek is expected to write from these packets).
//!
//! **Z to A**, one to one, each pass greedy by smallest cost (ties by log line, then call
//! order, so the result is deterministic), always within one connection (5-tuple in either
//! orientation):
//! 1. *response time*: Zeek writes a line when a response arrives, so `ts + rtt` is that
//!    response's time. This finds the call a line belongs to even when Zeek took `ts` and the
//!    operation from a later concurrent request.
//! 2. *request time and names*: `ts` within the tolerance, same endpoint and operation.
//! 3. *request time only*: names differ (e.g. the connection-removal line, which carries
//!    the `ts` of an unanswered request and the operation of the previous call).
//! 4. *names, time masked*: btest baselines without timestamps; same names, a matching
//!    `rtt` first, then the earliest call.
//! 5. *duplicates*: a line identical to one already matched (Zeek re-logs records at
//!    connection removal) points at the same call.
//! 6. *names, nearest time*: same names at another time (a shifted timestamp).
//!
//! **Z to E** is an exact multiset match (all printed fields, uid aside). A Zeek line that the
//! emulation writes too is Zeek's known behaviour: its differences from the packets are
//! *explained*. A Zeek line the emulation does not write, a call the emulation logs but Zeek's
//! log lacks, are *unexplained*: the log and the capture disagree (or rpcsift has a bug).

use crate::detect::indicators::{self, IndicatorSet};
use crate::names::{self, Uuid};
use crate::output::{Record, SmolStr};
use crate::validate::zeeklog::ZeekRecord;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// Matching options.
#[derive(Debug, Clone, Copy)]
pub struct MatchOptions {
    /// Largest time difference (seconds) still counted as equal; Zeek prints microseconds.
    pub time_tolerance: f64,
    /// Which execution indicators to look for.
    pub indicators: IndicatorSet,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            time_tolerance: 1e-6,
            indicators: IndicatorSet::Improved,
        }
    }
}

/// A decoded call, as the report shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallRef {
    pub ts: f64,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub transport: &'static str,
    pub named_pipe: Option<String>,
    pub endpoint: Option<String>,
    pub operation: Option<String>,
    pub uuid: Option<String>,
    pub opnum: u16,
    pub call_id: u32,
    pub status: &'static str,
    pub rtt: Option<f64>,
    pub encrypted: bool,
    pub capture: String,
}

/// A line of Zeek's log, as the report shows it: the log reader's record itself.
pub type ZeekRef = ZeekRecord;

/// A decoded call (or an expected line) that Zeek's log lacks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Missing {
    /// The call; `None` for an expected Zeek line tied to no decoded call.
    pub call: Option<CallRef>,
    /// Machine-readable reason: `fault`, `no_response`, `bind_not_captured`,
    /// `ignored_operation`, `partial_request`, `bind_not_seen_by_zeek`, `analyzer_stopped`,
    /// `smb3_encrypted` (read with the analyst's keys, Zeek has none),
    /// `expected_in_log` (unexplained), `line_missing` (unexplained).
    pub reason: &'static str,
    pub explanation: String,
    pub explained: bool,
    /// The line the Zeek emulation writes for it (unexplained cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_line: Option<String>,
}

/// A line of Zeek's log with no decoded call behind it (or a repeated line).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OnlyInZeek {
    pub zeek: ZeekRef,
    /// For a repeated line: the log line it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of_line: Option<usize>,
    /// `duplicate` or `not_decoded`.
    pub reason: &'static str,
    pub explanation: String,
    pub explained: bool,
}

/// One field on which a Zeek line and its call disagree.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldDiff {
    pub field: &'static str,
    pub zeek: Option<String>,
    pub ours: Option<String>,
}

/// A Zeek line matched to a call, with fields that differ.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mismatch {
    pub zeek: ZeekRef,
    pub call: CallRef,
    /// How the line was tied to the call: `response_time`, `request_time`,
    /// `request_time_only`, `names` (masked ts) or `names_nearest_time`.
    pub matched_by: &'static str,
    pub fields: Vec<FieldDiff>,
    /// `removal_hook`, `concurrent_calls`, `stale_rtt`, `named_pipe_state`,
    /// `zeek_behaviour` (explained), `response_not_decoded` or `unexplained`.
    pub reason: &'static str,
    pub explanation: String,
    pub explained: bool,
    /// What the emulation writes for this call, when it differs from Zeek's line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulated_line: Option<String>,
    /// Zeek's line names an execution indicator that the call behind it is not: the log
    /// shows an execution call at a time when none happened (e.g. the connection-removal
    /// line re-logging StartServiceW at a CloseServiceHandle's time).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub false_indicator: Vec<IndicatorRef>,
}

/// A call Zeek named `unknown-...`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnknownName {
    pub call: CallRef,
    pub zeek_endpoint: Option<String>,
    pub zeek_operation: Option<String>,
    /// The Microsoft-specification name of the operation, when we know it.
    pub spec_operation: Option<&'static str>,
    pub spec: Option<&'static str>,
}

/// One execution indicator of the chosen set that a decoded call matches.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorRef {
    pub set: &'static str,
    pub technique: &'static str,
    pub technique_name: &'static str,
    pub endpoint: &'static str,
    pub operation: &'static str,
}

/// A decoded call that is an execution indicator, and whether Zeek's log shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorHit {
    pub call: CallRef,
    pub indicators: Vec<IndicatorRef>,
    /// `logged`, `logged_under_other_name` or `missing`.
    pub in_zeek_log: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zeek_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub zeek_records: usize,
    pub decoded_calls: usize,
    pub emulated_lines: usize,
    pub matched: usize,
    pub missing: usize,
    pub missing_unexplained: usize,
    pub only_in_zeek: usize,
    pub only_in_zeek_unexplained: usize,
    pub mismatches: usize,
    pub mismatches_unexplained: usize,
    pub unknown_names: usize,
    pub indicators: usize,
    pub indicators_missed: usize,
    /// Zeek lines that show an execution indicator where the packets have none.
    pub false_indicators: usize,
}

/// The outcome of comparing a Zeek log with its captures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub counts: Counts,
    /// True when nothing is unexplained.
    pub agrees: bool,
    pub missing: Vec<Missing>,
    pub only_in_zeek: Vec<OnlyInZeek>,
    pub mismatches: Vec<Mismatch>,
    pub unknown_names: Vec<UnknownName>,
    pub indicators: Vec<IndicatorHit>,
}

type Endpoint = (IpAddr, u16);
type Conn = (Endpoint, Endpoint);

fn conn(a: Endpoint, b: Endpoint) -> Conn {
    if a <= b { (a, b) } else { (b, a) }
}

fn zconn(z: &ZeekRecord) -> Conn {
    conn((z.orig_h, z.orig_p), (z.resp_h, z.resp_p))
}

fn rconn(r: &Record) -> Conn {
    conn((r.orig_h, r.orig_p), (r.resp_h, r.resp_p))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Response,
    Request,
    RequestOnly,
    Masked,
    Duplicate(usize),
    Nearest,
}

impl How {
    fn name(self) -> &'static str {
        match self {
            How::Response => "response_time",
            How::Request => "request_time",
            How::RequestOnly => "request_time_only",
            How::Masked => "names",
            How::Duplicate(_) => "duplicate",
            How::Nearest => "names_nearest_time",
        }
    }
}

fn fmt6(v: f64) -> String {
    format!("{v:.6}")
}

fn call_ref(r: &Record) -> CallRef {
    let x = r.extra.as_ref();
    CallRef {
        ts: r.ts,
        orig_h: r.orig_h,
        orig_p: r.orig_p,
        resp_h: r.resp_h,
        resp_p: r.resp_p,
        transport: x.map(|x| x.transport).unwrap_or("tcp"),
        named_pipe: owned(&r.named_pipe),
        endpoint: owned(&r.endpoint),
        operation: owned(&r.operation),
        uuid: x.and_then(|x| owned(&x.uuid)),
        opnum: x.map(|x| x.opnum).unwrap_or(0),
        call_id: x.map(|x| x.call_id).unwrap_or(0),
        status: x.map(|x| x.status).unwrap_or("ok"),
        rtt: r.rtt,
        encrypted: x.is_some_and(|x| x.encrypted),
        capture: x.map(|x| x.capture.to_string()).unwrap_or_default(),
    }
}

fn owned(v: &Option<SmolStr>) -> Option<String> {
    v.as_deref().map(str::to_string)
}

/// A one-line rendering of an emulated (expected) Zeek line.
pub fn line_text(r: &Record) -> String {
    let o = |v: &Option<SmolStr>| v.as_deref().unwrap_or("-").to_string();
    format!(
        "{} {}:{} > {}:{} rtt={} named_pipe={} {} {}",
        fmt6(r.ts),
        r.orig_h,
        r.orig_p,
        r.resp_h,
        r.resp_p,
        r.rtt.map(fmt6).unwrap_or_else(|| "-".into()),
        o(&r.named_pipe),
        o(&r.endpoint),
        o(&r.operation)
    )
}

fn same_names(z: &ZeekRecord, a: &Record) -> bool {
    z.endpoint.as_deref() == a.endpoint.as_deref()
        && z.operation.as_deref() == a.operation.as_deref()
}

fn ts_response(a: &Record) -> Option<f64> {
    a.extra.as_ref().and_then(|x| x.ts_response)
}

/// Greedy one-to-one assignment over candidate pairs `(cost, cost2, z, a)`.
fn assign(
    mut pairs: Vec<(f64, f64, usize, usize)>,
    how: How,
    z_link: &mut [Option<(usize, How)>],
    taken: &mut [bool],
) {
    pairs.sort_by(|x, y| {
        x.0.total_cmp(&y.0)
            .then(x.1.total_cmp(&y.1))
            .then(x.2.cmp(&y.2))
            .then(x.3.cmp(&y.3))
    });
    for (_, _, zi, ai) in pairs {
        if z_link[zi].is_none() && !taken[ai] {
            z_link[zi] = Some((ai, how));
            taken[ai] = true;
        }
    }
}

type ExactKey = (
    Conn,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Compare Zeek's records with the decoded calls and the emulated lines.
pub fn compare(
    zeek: &[ZeekRecord],
    calls: &[Record],
    emulated: &[Record],
    opts: &MatchOptions,
) -> Comparison {
    let tol = opts.time_tolerance.max(0.0) + 1e-9;
    // Zeek prints rtt rounded to microseconds, so allow that rounding on top.
    let rtt_tol = opts.time_tolerance.max(0.5e-6) + 1e-9;
    // Response-time matching pins the exact response, so it uses Zeek's own precision
    // (ts and rtt each printed to the microsecond), whatever the chosen tolerance.
    let resp_tol = 1.5e-6;

    // Calls per connection, in time order.
    let mut by_conn: HashMap<Conn, Vec<usize>> = HashMap::new();
    for (i, a) in calls.iter().enumerate() {
        by_conn.entry(rconn(a)).or_default().push(i);
    }
    for v in by_conn.values_mut() {
        v.sort_by(|&x, &y| calls[x].ts.total_cmp(&calls[y].ts).then(x.cmp(&y)));
    }
    let empty: Vec<usize> = Vec::new();
    let conn_calls = |z: &ZeekRecord| -> &Vec<usize> { by_conn.get(&zconn(z)).unwrap_or(&empty) };
    // Calls within `w` seconds of `t` (request time) on a connection.
    let near = |v: &Vec<usize>, t: f64, w: f64| -> Vec<usize> {
        let lo = v.partition_point(|&i| calls[i].ts < t - w);
        v.iter()
            .skip(lo)
            .take_while(|&&i| calls[i].ts <= t + w)
            .copied()
            .collect()
    };

    let mut z_link: Vec<Option<(usize, How)>> = vec![None; zeek.len()];
    let mut taken = vec![false; calls.len()];

    // 1. response time. Answered calls per connection, by response time.
    let mut by_resp: HashMap<Conn, Vec<(f64, usize)>> = HashMap::new();
    for (i, a) in calls.iter().enumerate() {
        if let Some(r) = ts_response(a)
            && status_of(a) == "ok"
        {
            by_resp.entry(rconn(a)).or_default().push((r, i));
        }
    }
    for v in by_resp.values_mut() {
        v.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    }
    let mut pairs = Vec::new();
    for (zi, z) in zeek.iter().enumerate() {
        let (Some(ts), Some(rtt)) = (z.ts, z.rtt) else {
            continue;
        };
        let t_resp = ts + rtt;
        let Some(v) = by_resp.get(&zconn(z)) else {
            continue;
        };
        let lo = v.partition_point(|&(r, _)| r < t_resp - resp_tol);
        for &(r, ai) in v
            .iter()
            .skip(lo)
            .take_while(|&&(r, _)| r <= t_resp + resp_tol)
        {
            let a = &calls[ai];
            if ts >= a.ts - tol && ts <= r + tol {
                pairs.push(((r - t_resp).abs(), (ts - a.ts).abs(), zi, ai));
            }
        }
    }
    assign(pairs, How::Response, &mut z_link, &mut taken);

    // 2. request time and names; 3. request time only.
    for names_equal in [true, false] {
        let mut pairs = Vec::new();
        for (zi, z) in zeek.iter().enumerate() {
            let Some(ts) = z.ts else { continue };
            if z_link[zi].is_some() {
                continue;
            }
            for ai in near(conn_calls(z), ts, tol) {
                if !taken[ai] && same_names(z, &calls[ai]) == names_equal {
                    pairs.push(((calls[ai].ts - ts).abs(), 0.0, zi, ai));
                }
            }
        }
        let how = if names_equal {
            How::Request
        } else {
            How::RequestOnly
        };
        assign(pairs, how, &mut z_link, &mut taken);
    }

    // 4. masked timestamps: names, then rtt.
    let mut pairs = Vec::new();
    for (zi, z) in zeek.iter().enumerate() {
        if z.ts.is_some() || z_link[zi].is_some() {
            continue;
        }
        for &ai in conn_calls(z) {
            let a = &calls[ai];
            if !taken[ai] && same_names(z, a) {
                let rtt_ok = match (z.rtt, a.rtt) {
                    (Some(x), Some(y)) => (x - y).abs() <= rtt_tol,
                    (None, None) => true,
                    _ => false,
                };
                pairs.push((if rtt_ok { 0.0 } else { 1.0 }, a.ts, zi, ai));
            }
        }
    }
    assign(pairs, How::Masked, &mut z_link, &mut taken);

    // 5. duplicates of matched lines.
    let full_key = |z: &ZeekRecord| {
        (
            zconn(z),
            z.ts.map(fmt6),
            z.rtt.map(fmt6),
            z.named_pipe.clone(),
            z.endpoint.clone(),
            z.operation.clone(),
        )
    };
    let mut first_of: HashMap<_, usize> = HashMap::new();
    for (zi, z) in zeek.iter().enumerate() {
        if z_link[zi].is_some() {
            first_of.entry(full_key(z)).or_insert(zi);
        }
    }
    for zi in 0..zeek.len() {
        if z_link[zi].is_none()
            && let Some(&orig) = first_of.get(&full_key(&zeek[zi]))
            && let Some((ai, _)) = z_link[orig]
        {
            z_link[zi] = Some((ai, How::Duplicate(orig)));
        }
    }

    // 6. same names, nearest time.
    let mut pairs = Vec::new();
    for (zi, z) in zeek.iter().enumerate() {
        let Some(ts) = z.ts else { continue };
        if z_link[zi].is_some() {
            continue;
        }
        for &ai in conn_calls(z) {
            if !taken[ai] && same_names(z, &calls[ai]) {
                pairs.push(((calls[ai].ts - ts).abs(), 0.0, zi, ai));
            }
        }
    }
    assign(pairs, How::Nearest, &mut z_link, &mut taken);

    // Z to E: exact multiset match (ts as a wildcard where Zeek's was masked).
    let e_key = |conn: Conn,
                 rtt: Option<f64>,
                 pipe: Option<&str>,
                 ep: Option<&str>,
                 op: Option<&str>|
     -> ExactKey {
        let own = |v: Option<&str>| v.map(str::to_string);
        (conn, rtt.map(fmt6), own(pipe), own(ep), own(op))
    };
    let mut e_index: HashMap<ExactKey, Vec<usize>> = HashMap::new();
    for (ei, e) in emulated.iter().enumerate() {
        e_index
            .entry(e_key(
                rconn(e),
                e.rtt,
                e.named_pipe.as_deref(),
                e.endpoint.as_deref(),
                e.operation.as_deref(),
            ))
            .or_default()
            .push(ei);
    }
    let mut e_matched = vec![false; emulated.len()];
    let mut z_pred: Vec<Option<usize>> = vec![None; zeek.len()];
    for (zi, z) in zeek.iter().enumerate() {
        let key = e_key(
            zconn(z),
            z.rtt,
            z.named_pipe.as_deref(),
            z.endpoint.as_deref(),
            z.operation.as_deref(),
        );
        if let Some(list) = e_index.get(&key) {
            let zts = z.ts.map(fmt6);
            let hit = list.iter().copied().find(|&ei| {
                !e_matched[ei] && zts.as_ref().is_none_or(|t| *t == fmt6(emulated[ei].ts))
            });
            if let Some(ei) = hit {
                e_matched[ei] = true;
                z_pred[zi] = Some(ei);
            }
        }
    }

    // E to A: the call whose request time an emulated line carries.
    let mut e_call: Vec<Option<usize>> = vec![None; emulated.len()];
    for (ei, e) in emulated.iter().enumerate() {
        let v = by_conn.get(&rconn(e)).unwrap_or(&empty);
        let cands = near(v, e.ts, tol);
        let best = cands.iter().copied().min_by(|&x, &y| {
            let kx = (
                calls[x].endpoint != e.endpoint || calls[x].operation != e.operation,
                x,
            );
            let ky = (
                calls[y].endpoint != e.endpoint || calls[y].operation != e.operation,
                y,
            );
            kx.cmp(&ky)
        });
        e_call[ei] = best;
    }

    let mut first_e_of_call: Vec<Option<usize>> = vec![None; calls.len()];
    for (ei, c) in e_call.iter().enumerate() {
        if let Some(ai) = c
            && first_e_of_call[*ai].is_none()
        {
            first_e_of_call[*ai] = Some(ei);
        }
    }

    // Per call: Zeek lines tied to it, and expected lines still unaccounted for.
    let mut call_z: Vec<Vec<usize>> = vec![Vec::new(); calls.len()];
    for (zi, l) in z_link.iter().enumerate() {
        if let Some((ai, _)) = l {
            call_z[*ai].push(zi);
        }
    }
    let mut call_e_unmatched: Vec<Vec<usize>> = vec![Vec::new(); calls.len()];
    let mut orphan_e = Vec::new();
    for (ei, m) in e_matched.iter().enumerate() {
        if *m {
            continue;
        }
        match e_call[ei] {
            Some(ai) => call_e_unmatched[ai].push(ei),
            None => orphan_e.push(ei),
        }
    }
    // Lines the emulation writes on each connection (to tell "Zeek saw nothing here").
    let mut e_conns: HashMap<Conn, usize> = HashMap::new();
    for e in emulated {
        *e_conns.entry(rconn(e)).or_default() += 1;
    }

    let mut out = Comparison {
        counts: Counts {
            zeek_records: zeek.len(),
            decoded_calls: calls.len(),
            emulated_lines: emulated.len(),
            ..Default::default()
        },
        agrees: true,
        missing: Vec::new(),
        only_in_zeek: Vec::new(),
        mismatches: Vec::new(),
        unknown_names: Vec::new(),
        indicators: Vec::new(),
    };

    // Missing calls, in call order.
    let mut missing_reason: Vec<Option<String>> = vec![None; calls.len()];
    for (ai, a) in calls.iter().enumerate() {
        let unpredicted = call_z[ai]
            .iter()
            .filter(|&&zi| z_pred[zi].is_none())
            .count();
        let lacking = call_e_unmatched[ai].len().saturating_sub(unpredicted);
        let expected_line = call_e_unmatched[ai]
            .first()
            .map(|&ei| line_text(&emulated[ei]));
        if call_z[ai].is_empty() {
            if lacking > 0 {
                let text = "Zeek would log this call (the --zeek-compat emulation writes a line for it), but the log lacks it".to_string();
                missing_reason[ai] = Some(text.clone());
                out.missing.push(Missing {
                    call: Some(call_ref(a)),
                    reason: "expected_in_log",
                    explanation: text,
                    explained: false,
                    expected_line,
                });
            } else {
                let (reason, text) = classify_missing(a, e_conns.contains_key(&rconn(a)));
                missing_reason[ai] = Some(text.clone());
                out.missing.push(Missing {
                    call: Some(call_ref(a)),
                    reason,
                    explanation: text,
                    explained: true,
                    expected_line: None,
                });
            }
        } else if lacking > 0 {
            out.missing.push(Missing {
                call: Some(call_ref(a)),
                reason: "line_missing",
                explanation: format!(
                    "the emulation writes {} more line(s) for this call than the log has (e.g. a line repeated at connection removal)",
                    lacking
                ),
                explained: false,
                expected_line,
            });
        }
    }
    for ei in orphan_e {
        out.missing.push(Missing {
            call: None,
            reason: "expected_in_log",
            explanation: "Zeek would write this line (the --zeek-compat emulation does), but the log lacks it".into(),
            explained: false,
            expected_line: Some(line_text(&emulated[ei])),
        });
    }

    // Lines only in Zeek's log, and mismatches.
    for (zi, z) in zeek.iter().enumerate() {
        let predicted = z_pred[zi].is_some();
        match z_link[zi] {
            None => out.only_in_zeek.push(OnlyInZeek {
                zeek: z.clone(),
                duplicate_of_line: None,
                reason: "not_decoded",
                explanation: if predicted {
                    "no decoded call behind it, but the --zeek-compat emulation writes the same line (Zeek's state carried over from earlier events)".into()
                } else {
                    "in Zeek's log but not decoded by rpcsift, and not written by the emulation either: possible rpcsift bug, or the log is not from this capture".into()
                },
                explained: predicted,
            }),
            Some((_, How::Duplicate(orig))) => out.only_in_zeek.push(OnlyInZeek {
                zeek: z.clone(),
                duplicate_of_line: Some(zeek[orig].line),
                reason: "duplicate",
                explanation: if predicted {
                    "repeated line: Zeek's connection-removal hook writes a fid's record again when the connection's last DCE-RPC event was not a response".into()
                } else {
                    "repeated line that the --zeek-compat emulation does not write".into()
                },
                explained: predicted,
            }),
            Some((ai, how)) => {
                let a = &calls[ai];
                let fields = diff_fields(z, a, tol, rtt_tol);
                if fields.is_empty() {
                    out.counts.matched += 1;
                } else {
                    // The emulation knows when Zeek writes each line (`order.0`): at a
                    // response, `ts + rtt`; at connection removal, later. A line Zeek wrote
                    // at a response of a call we decoded no response for is on our side.
                    let written_at_response = z_pred[zi].map(|ei| {
                        let e = &emulated[ei];
                        e.rtt
                            .is_some_and(|rtt| (e.order.0 - (e.ts + rtt)).abs() <= resp_tol)
                    });
                    let response_missed =
                        status_of(a) == "no_response" && written_at_response == Some(true);
                    let explained = predicted && !response_missed;
                    let (reason, explanation) = if response_missed {
                        (
                            "response_not_decoded",
                            "Zeek wrote this line when a response arrived (at ts + rtt), but rpcsift's accurate decode paired no response with this call: possible rpcsift bug".to_string(),
                        )
                    } else if predicted {
                        explain_mismatch(a, how, &fields)
                    } else {
                        (
                            "unexplained",
                            "not explained by Zeek's known behaviour: the --zeek-compat emulation does not write this line".to_string(),
                        )
                    };
                    let emulated_line = if predicted {
                        None
                    } else {
                        first_e_of_call[ai].map(|ei| line_text(&emulated[ei]))
                    };
                    let false_indicator = false_indicator(opts.indicators, z, a);
                    let explanation = match false_indicator.first() {
                        Some(i) => format!(
                            "{explanation}. The log therefore shows an execution call ({} {}, {}) at {} where the packets have {}: no such call happened then",
                            i.endpoint,
                            i.operation,
                            i.technique,
                            z.ts.map_or("-".to_string(), fmt6),
                            a.operation.as_deref().unwrap_or("an unnamed call")
                        ),
                        None => explanation,
                    };
                    out.mismatches.push(Mismatch {
                        zeek: z.clone(),
                        call: call_ref(a),
                        matched_by: how.name(),
                        fields,
                        reason,
                        explanation,
                        explained,
                        emulated_line,
                        false_indicator,
                    });
                }
                let unknown = |v: &Option<String>| v.as_deref().is_some_and(|s| s.starts_with("unknown-"));
                if unknown(&z.endpoint) || unknown(&z.operation) {
                    let uuid = a.extra.as_ref().and_then(|x| x.uuid.as_deref()).and_then(Uuid::parse);
                    let opnum = a.extra.as_ref().map(|x| x.opnum).unwrap_or(0);
                    out.unknown_names.push(UnknownName {
                        call: call_ref(a),
                        zeek_endpoint: z.endpoint.clone(),
                        zeek_operation: z.operation.clone(),
                        spec_operation: uuid.and_then(|u| names::operation_spec(&u, opnum)),
                        spec: uuid.and_then(|u| names::interface_spec(&u)),
                    });
                }
            }
        }
    }

    // Execution indicators.
    for (ai, a) in calls.iter().enumerate() {
        let Some(x) = a.extra.as_ref() else { continue };
        let Some(uuid) = x.uuid.as_deref() else {
            continue;
        };
        let hits = indicators::matches(opts.indicators, uuid, x.opnum);
        if hits.is_empty() {
            continue;
        }
        let lines: Vec<&ZeekRecord> = call_z[ai]
            .iter()
            .filter(|&&zi| !matches!(z_link[zi], Some((_, How::Duplicate(_)))))
            .map(|&zi| &zeek[zi])
            .collect();
        let (status, zeek_name, reason) = if lines.iter().any(|z| same_names(z, a)) {
            ("logged", None, None)
        } else if let Some(z) = lines.first() {
            (
                "logged_under_other_name",
                Some(format!(
                    "{} {}",
                    z.endpoint.as_deref().unwrap_or("-"),
                    z.operation.as_deref().unwrap_or("-")
                )),
                None,
            )
        } else {
            ("missing", None, missing_reason[ai].clone())
        };
        out.indicators.push(IndicatorHit {
            call: call_ref(a),
            indicators: hits
                .iter()
                .map(|i| IndicatorRef {
                    set: i.set,
                    technique: i.technique,
                    technique_name: i.technique_name,
                    endpoint: i.endpoint,
                    operation: i.operation,
                })
                .collect(),
            in_zeek_log: status,
            zeek_name,
            reason,
        });
    }

    let c = &mut out.counts;
    c.missing = out.missing.len();
    c.missing_unexplained = out.missing.iter().filter(|m| !m.explained).count();
    c.only_in_zeek = out.only_in_zeek.len();
    c.only_in_zeek_unexplained = out.only_in_zeek.iter().filter(|m| !m.explained).count();
    c.mismatches = out.mismatches.len();
    c.mismatches_unexplained = out.mismatches.iter().filter(|m| !m.explained).count();
    c.unknown_names = out.unknown_names.len();
    c.indicators = out.indicators.len();
    c.indicators_missed = out
        .indicators
        .iter()
        .filter(|h| h.in_zeek_log != "logged")
        .count();
    c.false_indicators = out
        .mismatches
        .iter()
        .filter(|m| !m.false_indicator.is_empty())
        .count();
    out.agrees = c.missing_unexplained == 0
        && c.only_in_zeek_unexplained == 0
        && c.mismatches_unexplained == 0;
    out
}

fn diff_fields(z: &ZeekRecord, a: &Record, tol: f64, rtt_tol: f64) -> Vec<FieldDiff> {
    let mut v = Vec::new();
    if let Some(ts) = z.ts
        && (ts - a.ts).abs() > tol
    {
        v.push(FieldDiff {
            field: "ts",
            zeek: Some(fmt6(ts)),
            ours: Some(fmt6(a.ts)),
        });
    }
    for (field, zv, av) in [
        ("endpoint", &z.endpoint, &a.endpoint),
        ("operation", &z.operation, &a.operation),
        ("named_pipe", &z.named_pipe, &a.named_pipe),
    ] {
        if zv.as_deref() != av.as_deref() {
            v.push(FieldDiff {
                field,
                zeek: zv.clone(),
                ours: owned(av),
            });
        }
    }
    let rtt_differs = match (z.rtt, a.rtt) {
        (Some(x), Some(y)) => (x - y).abs() > rtt_tol,
        (None, None) => false,
        _ => true,
    };
    if rtt_differs {
        v.push(FieldDiff {
            field: "rtt",
            zeek: z.rtt.map(fmt6),
            ours: a.rtt.map(fmt6),
        });
    }
    v
}

/// The indicators of `set` that Zeek's line names (by its endpoint and operation, as a
/// reader of the log would match them) when the call behind the line is not one of them.
fn false_indicator(set: IndicatorSet, z: &ZeekRecord, a: &Record) -> Vec<IndicatorRef> {
    let (Some(ep), Some(op)) = (z.endpoint.as_deref(), z.operation.as_deref()) else {
        return Vec::new();
    };
    let named: Vec<_> = indicators::rows(set)
        .filter(|i| i.endpoint == ep && i.operation == op)
        .collect();
    if named.is_empty() {
        return Vec::new();
    }
    let call_is = a
        .extra
        .as_ref()
        .and_then(|x| x.uuid.as_deref().map(|u| (u, x.opnum)))
        .is_some_and(|(u, opnum)| {
            indicators::matches(set, u, opnum)
                .iter()
                .any(|i| named.iter().any(|n| n.uuid == i.uuid && n.opnum == i.opnum))
        });
    if call_is {
        return Vec::new();
    }
    named
        .into_iter()
        .map(|i| IndicatorRef {
            set: i.set,
            technique: i.technique,
            technique_name: i.technique_name,
            endpoint: i.endpoint,
            operation: i.operation,
        })
        .collect()
}

fn status_of(a: &Record) -> &'static str {
    a.extra.as_ref().map(|x| x.status).unwrap_or("ok")
}

/// Why a field mismatch happens, for a line the emulation reproduces.
fn explain_mismatch(a: &Record, how: How, fields: &[FieldDiff]) -> (&'static str, String) {
    let has = |f: &str| fields.iter().any(|d| d.field == f);
    if status_of(a) == "no_response" && matches!(how, How::Request | How::RequestOnly | How::Masked)
    {
        return (
            "removal_hook",
            "connection-removal line: this request got no response, so at connection end Zeek wrote the fid's record again with this request's ts but the operation and rtt left over from the previous logged call".into(),
        );
    }
    if how == How::Response && (has("ts") || has("operation") || has("endpoint")) {
        return (
            "concurrent_calls",
            "concurrent calls: Zeek's line for this response takes ts from the latest request on the pipe and the operation from the latest request on the same context id, not from the call the response answers".into(),
        );
    }
    if has("named_pipe") {
        return (
            "named_pipe_state",
            "Zeek's named_pipe is the secondary address of the last bind_ack seen on the fid (on SMB1 all pipes of a connection share one state), not this call's pipe".into(),
        );
    }
    if has("rtt") && fields.len() == 1 {
        return (
            "stale_rtt",
            "stale rtt: Zeek measures rtt from the latest request on the fid, and keeps the previous value when that request's time equals the response's".into(),
        );
    }
    (
        "zeek_behaviour",
        "Zeek's own behaviour: the --zeek-compat emulation writes the same line".into(),
    )
}

/// Why Zeek did not log a call that the emulation does not log either.
fn classify_missing(a: &Record, zeek_saw_conn: bool) -> (&'static str, String) {
    let x = a.extra.as_ref();
    // Read through SMB3 encryption with the analyst's keys: Zeek has none, and the
    // emulation (which never uses keys) sees no pipe either.
    if x.is_some_and(|x| x.decrypted == Some(true) && x.transport == "smb3") {
        return (
            "smb3_encrypted",
            "inside an SMB3-encrypted session that rpcsift decrypted with the analyst's keys: Zeek has no keys and sees no pipe there".into(),
        );
    }
    let status = status_of(a);
    if status == "fault" {
        let code = x
            .and_then(|x| x.fault_code.clone())
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        return (
            "fault",
            format!(
                "answered with a fault{code}: Zeek writes a line only for a response PDU, never for a fault"
            ),
        );
    }
    if status == "no_response" {
        return (
            "no_response",
            "no response in the capture: Zeek writes a line only when the response arrives".into(),
        );
    }
    if x.is_none_or(|x| x.uuid.is_none()) {
        return (
            "bind_not_captured",
            "the bind for this call's context is not in the capture: without it Zeek cannot name the interface and logs nothing".into(),
        );
    }
    if let (Some(ep), Some(op)) = (&a.endpoint, &a.operation)
        && names::is_ignored(ep, op)
    {
        return (
            "ignored_operation",
            format!(
                "{ep} {op} is on Zeek's default DCE_RPC::ignored_operations list, so Zeek never logs it"
            ),
        );
    }
    if x.is_some_and(|x| x.partial) {
        return (
            "partial_request",
            "the request's first fragment is not in the capture: Zeek drops a fragment without PFC_FIRST_FRAG when no reassembly is open".into(),
        );
    }
    let enc = if x.is_some_and(|x| x.encrypted) {
        " (The stub is encrypted, but that does not stop Zeek: the opnum is in the clear.)"
    } else {
        ""
    };
    if !zeek_saw_conn {
        let transport = x.map(|x| x.transport).unwrap_or("tcp");
        let text = if transport == "tcp" {
            format!(
                "Zeek's DCE-RPC analyzer logged nothing on this connection: it attaches on port 135 or by signature on the first bytes of a direction, stops at the first TCP content gap, and needs the bind PDU complete with its first-fragment flag.{enc}"
            )
        } else {
            let pipe = x.and_then(|x| x.smb_pipe.clone()).unwrap_or_default();
            let bare = pipe.trim_start_matches('\\').to_string();
            let known = names::is_smb_pipe_filename(&pipe) || names::is_smb_pipe_filename(&bare);
            if !known && !bare.is_empty() {
                format!(
                    "Zeek never saw this pipe's bind: `{bare}` is not in Zeek's SMB::pipe_filenames, so unless the capture holds the IPC$ tree connect Zeek does not treat the tree as a pipe tree and does not hand the bind (sent by WRITE) to DCE-RPC.{enc}"
                )
            } else {
                format!(
                    "Zeek logged nothing on this SMB connection: its DCE-RPC analyzer never got a usable bind for this pipe (the bind is dropped when its PDU lacks the first-fragment flag, or when the SMB message carrying it is not forwarded).{enc}"
                )
            }
        };
        return ("bind_not_seen_by_zeek", text);
    }
    (
        "analyzer_stopped",
        format!(
            "Zeek's DCE-RPC analyzer was no longer following this connection or pipe (after a TCP content gap, a reassembly limit: more than max_cmd_reassembly calls in reassembly at once, a PDU whose body alone exceeds max_frag_data (30,000 bytes; a call's fragments are not added up), a repeated first fragment; or SMB state Zeek lost).{enc}"
        ),
    )
}
