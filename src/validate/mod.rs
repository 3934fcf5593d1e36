//! `rpcsift validate`: check Zeek's `dce_rpc.log` against the captures it was made from.
//!
//! The captures are decoded twice: accurately (every call, named from the wire) and with the
//! Zeek emulation (`--zeek-compat`, what Zeek is expected to write). Zeek's log is then
//! matched to the calls ([`matcher`]) and every difference is sorted into
//!
//! * calls the log lacks, each with the reason when it is known (fault or no response,
//!   bind not captured, operation on Zeek's ignore list, bind or pipe Zeek did not see,
//!   analyzer stopped);
//! * lines in the log with no decoded call behind them (a possible rpcsift bug: shown first);
//! * lines that name a call differently (endpoint, operation, named_pipe, rtt or ts beyond
//!   the tolerance);
//! * calls Zeek named `unknown-...`;
//! * execution indicators in the capture that the log does not show.
//!
//! A difference is *explained* when the emulation reproduces it (Zeek's documented
//! behaviour); the log *agrees* with the capture when every difference is explained.
//!
//! [`zeeklog`] reads the log, [`report`] renders text, JSON and Markdown, and
//! [`differences`] builds `docs/zeek-differences.md` from the shared corpus.

pub mod differences;
pub mod matcher;
pub mod report;
pub mod zeeklog;

use crate::detect::indicators::IndicatorSet;
use crate::engine::{self, Options};
use crate::stats::Counters;
use matcher::{Comparison, MatchOptions};
use serde::Serialize;
use std::path::PathBuf;
use zeeklog::{LogError, ZeekRecord};

/// Everything `validate` can be told.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    pub matching: MatchOptions,
    /// Options for the accurate decode (the emulation run derives its own from these).
    pub engine: Options,
}

/// Why validation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("capture {file}: {message}")]
    Capture { file: String, message: String },
    #[error("no capture files found in the given paths")]
    NoCaptures,
}

/// The full result of one validation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub zeek_logs: Vec<String>,
    pub captures: Vec<String>,
    pub time_tolerance: f64,
    pub indicator_set: String,
    /// True when every difference is explained by Zeek's known behaviour.
    pub agrees: bool,
    #[serde(flatten)]
    pub comparison: Comparison,
    /// Things about the captures worth knowing (gaps, SMB3 encryption, masked times).
    pub notes: Vec<String>,
}

/// Read the logs, decode the captures both ways, and compare.
pub fn validate(
    captures: &[PathBuf],
    logs: &[PathBuf],
    opts: &ValidateOptions,
) -> Result<Report, ValidateError> {
    let mut zeek = Vec::new();
    for l in logs {
        zeek.extend(zeeklog::read_log_file(l)?);
    }
    let files =
        crate::capture::collect_capture_paths(captures).map_err(|e| ValidateError::Capture {
            file: captures
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            message: e.to_string(),
        })?;
    if files.is_empty() {
        return Err(ValidateError::NoCaptures);
    }
    let accurate = engine::run(&files, &opts.engine);
    if accurate.counters.files_failed > 0 {
        let n = accurate.notices.first();
        return Err(ValidateError::Capture {
            file: n.map(|n| n.file.clone()).unwrap_or_default(),
            message: n
                .map(|n| n.message.clone())
                .unwrap_or_else(|| "could not be read".into()),
        });
    }
    let emu_opts = Options {
        zeek_compat: true,
        zeek_ignore: true,
        ..opts.engine.clone()
    };
    let emulated = engine::run(&files, &emu_opts);
    Ok(build_report(
        &zeek,
        &accurate.records,
        &emulated.records,
        &accurate.counters,
        logs.iter().map(|p| p.display().to_string()).collect(),
        files.iter().map(|p| p.display().to_string()).collect(),
        &opts.matching,
    ))
}

/// Compare already-read inputs (the part of [`validate`] that does no I/O).
pub fn build_report(
    zeek: &[ZeekRecord],
    calls: &[crate::output::Record],
    emulated: &[crate::output::Record],
    counters: &Counters,
    zeek_logs: Vec<String>,
    captures: Vec<String>,
    opts: &MatchOptions,
) -> Report {
    let comparison = matcher::compare(zeek, calls, emulated, opts);
    let mut notes = Vec::new();
    let masked = zeek.iter().filter(|z| z.ts.is_none()).count();
    if masked > 0 {
        notes.push(format!(
            "{masked} Zeek record(s) have masked timestamps (btest baseline): matched by connection, names and rtt, in time order"
        ));
    }
    if counters.tcp_gaps > 0 {
        notes.push(format!(
            "the capture has {} TCP gap(s) ({} bytes missing): Zeek's DCE-RPC analyzer stops at a connection's first gap",
            counters.tcp_gaps, counters.tcp_gap_bytes
        ));
    }
    if counters.smb.smb3_decrypted_messages > 0 {
        notes.push(format!(
            "{} SMB3-encrypted message(s) in {} session(s) decrypted with the analyst's keys: Zeek cannot read them",
            counters.smb.smb3_decrypted_messages, counters.smb.smb3_decrypted_sessions
        ));
    }
    if counters.smb.smb3_encrypted_messages > 0 {
        notes.push(format!(
            "{} SMB3-encrypted message(s) ({} bytes): calls inside cannot be read by rpcsift or by Zeek",
            counters.smb.smb3_encrypted_messages, counters.smb.smb3_encrypted_bytes
        ));
    }
    if counters.dcerpc_orphan_responses > 0 {
        notes.push(format!(
            "{} DCE-RPC response(s) without their request in the capture",
            counters.dcerpc_orphan_responses
        ));
    }
    Report {
        zeek_logs,
        captures,
        time_tolerance: opts.time_tolerance,
        indicator_set: set_name(opts.indicators),
        agrees: comparison.agrees,
        comparison,
        notes,
    }
}

fn set_name(s: IndicatorSet) -> String {
    s.names()
}
