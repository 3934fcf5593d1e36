//! `docs/zeek-differences.md`: `validate` run on every capture of the shared corpus that
//! has a real Zeek log beside it, rendered as one Markdown document. Paths in the document
//! are relative to the shared folder, so it is the same on every machine.
//!
//! Refresh: `cargo run --release --example zeek_differences -- "$RPCSIFT_SHARED" >
//! docs/zeek-differences.md` (a test checks the committed file is current).

use super::{ValidateError, ValidateOptions, report, validate};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One capture and the Zeek log made from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Capture path relative to the shared folder (`captures/real/x.pcap`).
    pub label: String,
    /// Log path relative to the shared folder.
    pub log_label: String,
    pub capture: PathBuf,
    pub log: PathBuf,
}

const CAPTURE_EXTS: [&str; 5] = ["pcap", "pcapng", "cap", "pcap.gz", "pcapng.gz"];

/// The folders of the corpus, in document order, with what their logs are.
pub const FOLDERS: [(&str, &str); 3] = [
    (
        "captures/real",
        "Real attack captures. Each log is what a default Zeek 9.1.0-dev run (`zeek -C -r`) wrote (`<name>.zeek-dce_rpc.log`; empty: Zeek wrote nothing).",
    ),
    (
        "conformance/zeek-traces",
        "Traces from Zeek's own test suite. Each log is what a default Zeek 9.1.0-dev run wrote (`<name>.zeek-dce_rpc.log`; empty: Zeek wrote nothing).",
    ),
    (
        "conformance/zeek",
        "The four btest traces with a `dce_rpc.log` baseline. The baselines come from bare-mode runs (`-b`, see that folder's MANIFEST.tsv: mapi.pcap ran without the SMB scripts). The real-timestamp version (`.dce_rpc.with-ts.log`) is used where it exists; the netlogon baseline has masked timestamps.",
    ),
];

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn find_capture(dir: &Path, name: &str) -> Option<PathBuf> {
    CAPTURE_EXTS
        .iter()
        .map(|e| dir.join(format!("{name}.{e}")))
        .find(|p| p.is_file())
}

/// Every (capture, log) pair of the corpus under `base`, in a fixed order.
pub fn corpus(base: &Path) -> Result<Vec<Case>, ValidateError> {
    let mut out = Vec::new();
    for (folder, _) in FOLDERS {
        let dir = base.join(folder);
        let rd = std::fs::read_dir(&dir).map_err(|e| ValidateError::Capture {
            file: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        for n in &names {
            let (stem, log) = if let Some(s) = n.strip_suffix(".zeek-dce_rpc.log") {
                (s, dir.join(n))
            } else if let Some(s) = n.strip_suffix(".dce_rpc.log") {
                let with_ts = dir.join(format!("{s}.dce_rpc.with-ts.log"));
                (
                    s,
                    if with_ts.is_file() {
                        with_ts
                    } else {
                        dir.join(n)
                    },
                )
            } else {
                continue;
            };
            let capture = find_capture(&dir, stem).ok_or_else(|| ValidateError::Capture {
                file: log.display().to_string(),
                message: "no capture beside this log".into(),
            })?;
            out.push(Case {
                label: rel(base, &capture),
                log_label: rel(base, &log),
                capture,
                log,
            });
        }
    }
    Ok(out)
}

/// The whole document.
pub fn document(base: &Path) -> Result<String, ValidateError> {
    let cases = corpus(base)?;
    let opts = ValidateOptions::default();
    let mut reports = Vec::new();
    for c in &cases {
        let r = validate(
            std::slice::from_ref(&c.capture),
            std::slice::from_ref(&c.log),
            &opts,
        )?;
        reports.push(r);
    }
    let mut s = String::new();
    s.push_str(HEADER);
    let _ = writeln!(
        s,
        "| capture | Zeek lines | calls decoded | logged correctly | missing from log | logged wrongly | extra lines | indicators missed | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (c, r) in cases.iter().zip(&reports) {
        let k = &r.comparison.counts;
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} of {} | {} |",
            c.label,
            k.zeek_records,
            k.decoded_calls,
            k.matched,
            k.missing,
            k.mismatches,
            k.only_in_zeek,
            k.indicators_missed,
            k.indicators,
            if r.agrees {
                "explained"
            } else {
                "**unexplained**"
            }
        );
    }
    let _ = writeln!(s);
    for (folder, about) in FOLDERS {
        let _ = writeln!(s, "## {folder}\n\n{about}\n");
        for (c, r) in cases.iter().zip(&reports) {
            if !c.label.starts_with(&format!("{folder}/")) {
                continue;
            }
            let _ = writeln!(s, "### `{}`\n\nZeek log: `{}`.\n", c.label, c.log_label);
            s.push_str(&report::markdown_section(r));
        }
    }
    Ok(s)
}

const HEADER: &str = "# Where Zeek's dce_rpc.log differs from the packets

<!-- Generated: do not edit. Refresh with
     cargo run --release --example zeek_differences -- \"$RPCSIFT_SHARED\" > docs/zeek-differences.md
     (tests/validate_doc.rs checks that this file is current). -->

For every capture in the shared corpus that has a real Zeek `dce_rpc.log` beside it, this
is what `rpcsift validate --zeek-log <log> <capture>` finds: the calls rpcsift's accurate
decode sees in the packets that Zeek's log lacks or describes wrongly, each with its reason,
and the execution indicators (the `improved` set) that an analyst relying on Zeek's log
would have missed. Paths are relative to the shared reference folder.

How to read it:

* **missing**: a call in the packets with no line in Zeek's log. Reasons: `fault` and
  `no_response` (Zeek writes a line only when a response PDU arrives), bind not in the
  capture, operation on Zeek's ignore list, a bind or pipe Zeek did not see, or Zeek's
  analyzer no longer following the connection.
* **wrong**: a Zeek line tied to a call (by response time, request time or names) whose
  fields differ from the packets: the connection-removal line (ts of an unanswered
  request, operation and rtt of the previous call), concurrent calls (ts and operation
  from the latest request, not the call answered), stale rtt or named_pipe.
* **extra**: a Zeek line with no call of its own, such as a line repeated at connection
  removal.
* A difference is *explained* when rpcsift's Zeek emulation (`--zeek-compat`) writes the
  same line, i.e. it is Zeek's own behaviour; **unexplained** rows are where the log, the
  emulation and the packets disagree.
* Rows with the same connection, call and reason are folded into one, with a count and
  the first request time.

## Overview

";
