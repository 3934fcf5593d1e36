//! Rendering a validation [`Report`]: a one-line summary, a text report, JSON, and the
//! Markdown section used by `docs/zeek-differences.md`.

use super::Report;
use super::matcher::{CallRef, IndicatorHit, Mismatch, Missing, OnlyInZeek, ZeekRef};
use std::collections::BTreeMap;
use std::fmt::Write;

fn t6(v: f64) -> String {
    format!("{v:.6}")
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn conn_text(h1: impl std::fmt::Display, p1: u16, h2: impl std::fmt::Display, p2: u16) -> String {
    format!("{h1}:{p1} > {h2}:{p2}")
}

/// `svcctl CreateServiceW (opnum 12)`, or the opnum alone when the interface is unknown.
pub fn call_name(c: &CallRef) -> String {
    match (&c.endpoint, &c.operation) {
        (Some(e), Some(o)) => format!("{e} {o} (opnum {})", c.opnum),
        _ => format!("unknown interface, opnum {}", c.opnum),
    }
}

fn call_text(c: &CallRef) -> String {
    let status = match c.status {
        "ok" => String::new(),
        s => format!(" [{s}]"),
    };
    format!(
        "{} {} {} {}{}",
        t6(c.ts),
        conn_text(c.orig_h, c.orig_p, c.resp_h, c.resp_p),
        c.transport,
        call_name(c),
        status
    )
}

fn zeek_text(z: &ZeekRef) -> String {
    format!(
        "{}:{}: {} {} rtt={} named_pipe={} {} {}",
        z.file,
        z.line,
        z.ts.map(t6).unwrap_or_else(|| "(masked ts)".into()),
        conn_text(z.orig_h, z.orig_p, z.resp_h, z.resp_p),
        z.rtt.map(t6).unwrap_or_else(|| "-".into()),
        opt(&z.named_pipe),
        opt(&z.endpoint),
        opt(&z.operation)
    )
}

fn fields_text(m: &Mismatch) -> String {
    m.fields
        .iter()
        .map(|f| {
            format!(
                "{}: Zeek {}, packets {}",
                f.field,
                f.zeek.as_deref().unwrap_or("-"),
                f.ours.as_deref().unwrap_or("-")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Field differences for folded Markdown rows: names with their values, times and
/// durations by field name only (they differ on every row).
fn fold_fields(m: &Mismatch) -> String {
    m.fields
        .iter()
        .map(|f| match f.field {
            "ts" | "rtt" => match (&f.zeek, &f.ours) {
                (Some(_), None) => format!("{} (Zeek has one, the packets none)", f.field),
                (None, Some(_)) => format!("{} (unset in Zeek's line)", f.field),
                _ => f.field.to_string(),
            },
            _ => format!(
                "{} (Zeek `{}`, packets `{}`)",
                f.field,
                f.zeek.as_deref().unwrap_or("-"),
                f.ours.as_deref().unwrap_or("-")
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one-line verdict.
pub fn summary_line(r: &Report) -> String {
    let c = &r.comparison.counts;
    format!(
        "{} Zeek records, {} decoded calls: {} matched; {} missing from Zeek's log ({} unexplained); {} only in Zeek's log ({} unexplained); {} field mismatches ({} unexplained); {} of {} execution indicators missed by Zeek's log; {} false execution indicator(s) in Zeek's log; {}",
        c.zeek_records,
        c.decoded_calls,
        c.matched,
        c.missing,
        c.missing_unexplained,
        c.only_in_zeek,
        c.only_in_zeek_unexplained,
        c.mismatches,
        c.mismatches_unexplained,
        c.indicators_missed,
        c.indicators,
        c.false_indicators,
        if !r.agrees {
            "DISCREPANCIES"
        } else if c.indicators_missed > 0 {
            "the log is what Zeek writes for this capture, but it MISSES EXECUTION INDICATORS"
        } else if c.false_indicators > 0 {
            "the log is what Zeek writes for this capture, but it SHOWS EXECUTION CALLS THAT DID NOT HAPPEN"
        } else if c.missing + c.only_in_zeek + c.mismatches > 0 {
            "the log is what Zeek writes for this capture (every difference explained)"
        } else {
            "the log agrees with the capture"
        }
    )
}

fn indicator_names(h: &IndicatorHit) -> String {
    let mut v: Vec<String> = h
        .indicators
        .iter()
        .map(|i| format!("{} {} ({})", i.technique, i.technique_name, i.set))
        .collect();
    v.dedup();
    v.join(", ")
}

/// The text report.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let cmp = &r.comparison;
    let _ = writeln!(s, "rpcsift validate: {}", summary_line(r));
    let _ = writeln!(
        s,
        "  Zeek log(s): {}\n  capture(s): {}\n  time tolerance: {} s; indicator set: {}",
        r.zeek_logs.join(", "),
        r.captures.join(", "),
        r.time_tolerance,
        r.indicator_set
    );

    let not_decoded: Vec<&OnlyInZeek> = cmp.only_in_zeek.iter().filter(|o| !o.explained).collect();
    if !not_decoded.is_empty() {
        let _ = writeln!(
            s,
            "\n!! IN ZEEK'S LOG BUT NOT DECODED BY RPCSIFT ({}): possible rpcsift bug",
            not_decoded.len()
        );
        for o in not_decoded {
            let _ = writeln!(s, "  {}\n      {}", zeek_text(&o.zeek), o.explanation);
        }
    }
    let bad_missing: Vec<&Missing> = cmp.missing.iter().filter(|m| !m.explained).collect();
    if !bad_missing.is_empty() {
        let _ = writeln!(
            s,
            "\n!! LINES ZEEK SHOULD HAVE WRITTEN BUT THE LOG LACKS ({})",
            bad_missing.len()
        );
        for m in bad_missing {
            let what = m
                .call
                .as_ref()
                .map(call_text)
                .unwrap_or_else(|| "(no decoded call)".into());
            let _ = writeln!(s, "  {what}\n      {}", m.explanation);
            if let Some(l) = &m.expected_line {
                let _ = writeln!(s, "      expected: {l}");
            }
        }
    }
    let bad_mm: Vec<&Mismatch> = cmp.mismatches.iter().filter(|m| !m.explained).collect();
    if !bad_mm.is_empty() {
        let _ = writeln!(s, "\n!! UNEXPLAINED FIELD MISMATCHES ({})", bad_mm.len());
        for m in bad_mm {
            mismatch_text(&mut s, m);
        }
    }

    let ok_missing: Vec<&Missing> = cmp.missing.iter().filter(|m| m.explained).collect();
    if !ok_missing.is_empty() {
        let _ = writeln!(
            s,
            "\nCalls Zeek's log lacks, explained ({}):",
            ok_missing.len()
        );
        for m in ok_missing {
            if let Some(c) = &m.call {
                let _ = writeln!(
                    s,
                    "  {}\n      {}: {}",
                    call_text(c),
                    m.reason,
                    m.explanation
                );
            }
        }
    }
    let ok_mm: Vec<&Mismatch> = cmp.mismatches.iter().filter(|m| m.explained).collect();
    if !ok_mm.is_empty() {
        let _ = writeln!(
            s,
            "\nLines that describe a call wrongly, explained ({}):",
            ok_mm.len()
        );
        for m in ok_mm {
            mismatch_text(&mut s, m);
        }
    }
    let ok_only: Vec<&OnlyInZeek> = cmp.only_in_zeek.iter().filter(|o| o.explained).collect();
    if !ok_only.is_empty() {
        let _ = writeln!(
            s,
            "\nExtra lines Zeek writes, explained ({}):",
            ok_only.len()
        );
        for o in ok_only {
            let _ = writeln!(s, "  {}\n      {}", zeek_text(&o.zeek), o.explanation);
        }
    }
    if !cmp.unknown_names.is_empty() {
        let _ = writeln!(
            s,
            "\nNames Zeek could not give ({}):",
            cmp.unknown_names.len()
        );
        for u in &cmp.unknown_names {
            let spec = match (u.spec_operation, u.spec) {
                (Some(o), Some(sp)) => format!("; {sp} calls it {o}"),
                (Some(o), None) => format!("; specification name {o}"),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "  {} Zeek: {} {} (uuid {}, opnum {}{spec})",
                call_text(&u.call),
                opt(&u.zeek_endpoint),
                opt(&u.zeek_operation),
                u.call.uuid.as_deref().unwrap_or("-"),
                u.call.opnum
            );
        }
    }
    if !cmp.indicators.is_empty() {
        let _ = writeln!(
            s,
            "\nExecution indicators ({} set): {} in the capture, {} missed by Zeek's log",
            r.indicator_set, cmp.counts.indicators, cmp.counts.indicators_missed
        );
        for h in &cmp.indicators {
            let state = match h.in_zeek_log {
                "logged" => "logged".to_string(),
                "logged_under_other_name" => format!(
                    "MISSED: logged as {}",
                    h.zeek_name.as_deref().unwrap_or("-")
                ),
                _ => format!(
                    "MISSED: not in the log ({})",
                    h.reason.as_deref().unwrap_or("reason unknown")
                ),
            };
            let _ = writeln!(
                s,
                "  {} -- {}\n      {state}",
                call_text(&h.call),
                indicator_names(h)
            );
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(s, "\nNotes:");
        for n in &r.notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    s
}

fn mismatch_text(s: &mut String, m: &Mismatch) {
    let _ = writeln!(
        s,
        "  {}\n      call: {}\n      {}\n      {}: {}",
        zeek_text(&m.zeek),
        call_text(&m.call),
        fields_text(m),
        m.reason,
        m.explanation
    );
    if let Some(l) = &m.emulated_line {
        let _ = writeln!(s, "      emulation writes: {l}");
    }
    if let Some(i) = m.false_indicator.first() {
        let _ = writeln!(
            s,
            "      FALSE INDICATOR: the log shows {} {} ({} {}) here, a call that did not happen at this time",
            i.endpoint, i.operation, i.technique, i.technique_name
        );
    }
}

/// JSON (one object, pretty-printed).
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The Markdown body for one capture (used by `docs/zeek-differences.md`). Repeated
/// identical findings on one connection are folded into one row with a count.
pub fn markdown_section(r: &Report) -> String {
    let mut s = String::new();
    let cmp = &r.comparison;
    let c = &cmp.counts;
    let _ = writeln!(
        s,
        "Zeek logged {} line(s); the accurate decode finds {} call(s): {} logged correctly, {} missing from the log, {} logged wrongly, {} extra line(s). {}\n",
        c.zeek_records,
        c.decoded_calls,
        c.matched,
        c.missing,
        c.mismatches,
        c.only_in_zeek,
        if !r.agrees {
            "**Some differences are not explained** (see the rows marked unexplained)."
        } else if c.missing + c.mismatches + c.only_in_zeek == 0 {
            "Zeek's log agrees with the packets."
        } else {
            "Every difference is explained by Zeek's known behaviour."
        }
    );
    // Fold rows: (kind, what, reason) -> (first ts, count).
    let mut rows: BTreeMap<(String, String, String, String), (f64, usize)> = BTreeMap::new();
    let mut add = |kind: &str, conn: String, what: String, why: String, ts: f64| {
        let e = rows
            .entry((kind.to_string(), conn, what, why))
            .or_insert((ts, 0));
        e.0 = e.0.min(ts);
        e.1 += 1;
    };
    for m in &cmp.missing {
        let why = if m.explained {
            m.explanation.clone()
        } else {
            format!("**unexplained**: {}", m.explanation)
        };
        match &m.call {
            Some(call) => add(
                "missing",
                conn_text(call.orig_h, call.orig_p, call.resp_h, call.resp_p),
                format!("{} {}", call.transport, call_name(call)),
                why,
                call.ts,
            ),
            None => add(
                "missing",
                String::new(),
                m.expected_line.clone().unwrap_or_default(),
                why,
                0.0,
            ),
        }
    }
    for m in &cmp.mismatches {
        let why = if m.explained {
            m.explanation.clone()
        } else {
            format!("**unexplained**: {}", m.explanation)
        };
        add(
            "wrong",
            conn_text(m.call.orig_h, m.call.orig_p, m.call.resp_h, m.call.resp_p),
            format!(
                "{} {}; Zeek's line differs in {}",
                m.call.transport,
                call_name(&m.call),
                fold_fields(m)
            ),
            why,
            m.call.ts,
        );
    }
    for o in &cmp.only_in_zeek {
        let z = &o.zeek;
        let why = if o.explained {
            o.explanation.clone()
        } else {
            format!("**unexplained**: {}", o.explanation)
        };
        add(
            "extra",
            conn_text(z.orig_h, z.orig_p, z.resp_h, z.resp_p),
            format!("{} {}", opt(&z.endpoint), opt(&z.operation)),
            why,
            z.ts.unwrap_or(0.0),
        );
    }
    if rows.is_empty() {
        let _ = writeln!(s, "No differences.\n");
    } else {
        let mut sorted: Vec<_> = rows.into_iter().collect();
        sorted.sort_by(|a, b| a.1.0.total_cmp(&b.1.0).then(a.0.cmp(&b.0)));
        let _ = writeln!(
            s,
            "| first ts | kind | connection | call | count | reason |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for ((kind, conn, what, why), (ts, n)) in sorted {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                if ts > 0.0 { t6(ts) } else { "-".into() },
                kind,
                conn,
                md_escape(&what),
                n,
                md_escape(&why)
            );
        }
        let _ = writeln!(s);
    }
    if !cmp.unknown_names.is_empty() {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for u in &cmp.unknown_names {
            let spec = match (u.spec_operation, u.spec) {
                (Some(o), Some(sp)) => format!(" ({sp}: {o})"),
                (Some(o), None) => format!(" ({o})"),
                _ => String::new(),
            };
            *names
                .entry(format!(
                    "`{} {}` for uuid {} opnum {}{spec}",
                    opt(&u.zeek_endpoint),
                    opt(&u.zeek_operation),
                    u.call.uuid.as_deref().unwrap_or("-"),
                    u.call.opnum
                ))
                .or_default() += 1;
        }
        let _ = writeln!(s, "Names Zeek could not give:\n");
        for (n, k) in names {
            let _ = writeln!(s, "* {n} ({k}x)");
        }
        let _ = writeln!(s);
    }
    let missed: Vec<&IndicatorHit> = cmp
        .indicators
        .iter()
        .filter(|h| h.in_zeek_log != "logged")
        .collect();
    if cmp.indicators.is_empty() {
        let _ = writeln!(
            s,
            "Execution indicators ({}): none in the capture.\n",
            r.indicator_set
        );
    } else if missed.is_empty() {
        let _ = writeln!(
            s,
            "Execution indicators ({}): all {} in the capture are in Zeek's log.\n",
            r.indicator_set, c.indicators
        );
    } else {
        let _ = writeln!(
            s,
            "Execution indicators ({}): **{} of {} missed by an analyst relying on Zeek's log**:\n",
            r.indicator_set, c.indicators_missed, c.indicators
        );
        for h in missed {
            let how = match h.in_zeek_log {
                "logged_under_other_name" => {
                    format!("logged as `{}`", h.zeek_name.as_deref().unwrap_or("-"))
                }
                _ => format!(
                    "not in the log: {}",
                    h.reason.as_deref().unwrap_or("reason unknown")
                ),
            };
            let _ = writeln!(
                s,
                "* {} {} {} -- {}; {how}",
                t6(h.call.ts),
                conn_text(h.call.orig_h, h.call.orig_p, h.call.resp_h, h.call.resp_p),
                call_name(&h.call),
                indicator_names(h)
            );
        }
        let _ = writeln!(s);
    }
    for n in &r.notes {
        let _ = writeln!(s, "Note: {n}\n");
    }
    s
}
