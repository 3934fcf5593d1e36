//! One call from captures to an Arrow table, for programs that embed rpcsift (the Python
//! package in `python/`): the same engine run, detector and Arrow schema
//! ([`crate::output::arrow`]) as `rpcsift calls` / `rpcsift detect --format parquet`, with
//! the CLI's error messages.
//!
//! Later (issue 20, phase 2): `packets` (frames with their connection partition) and
//! `decode` (records from such frames, through the engine's packet-stream seam) join
//! [`calls`] and [`detect`] here.

use crate::capture::{self, CaptureError};
use crate::detect::{Detector, LoadError};
use crate::engine::{self, Options, RecordFilter};
use crate::output::{Record, arrow as tables};
use crate::stats::{Counters, Notice};
use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use std::path::PathBuf;
use std::sync::Arc;

/// What to read.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Capture files and directories (searched as the CLI does).
    Paths(&'a [PathBuf]),
    /// One capture held in memory (gzip or not); `name` stands for its file name in the
    /// records' `capture` field (and so in their `uid`s).
    Bytes { data: &'a [u8], name: &'a str },
}

/// Errors, worded as `rpcsift` words them (their `source()` chain included).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("listing captures")]
    Listing(#[source] CaptureError),
    #[error("no capture files found in the given paths")]
    NoCaptures,
    #[error(transparent)]
    Detector(#[from] LoadError),
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// A key file that cannot be read or parsed (`FILE:LINE: what`, never a key).
    #[error(transparent)]
    Keys(#[from] crate::auth::keys::KeyError),
}

/// The key ring of key files (`--keys FILE` each), for [`Options::keys`]; None when they
/// hold no key.
pub fn key_ring(files: &[PathBuf]) -> Result<Option<Arc<crate::auth::keys::KeyRing>>, ApiError> {
    let mut ring = crate::auth::keys::KeyRing::new();
    for f in files {
        ring.load_file(f)?;
    }
    Ok((!ring.is_empty()).then(|| Arc::new(ring)))
}

/// A table and what the run has to say about it.
#[derive(Debug)]
pub struct Table {
    pub batch: RecordBatch,
    /// The run's counters (what was read, what could not be decoded and why).
    pub counters: Counters,
    /// Notices about the input, in the CLI's `note:` wording ([`note_line`]).
    pub notices: Vec<String>,
}

/// `file at offset N: message` or `file: message`, as `rpcsift` prints after `note: `.
pub fn note_line(n: &Notice) -> String {
    let prefix = if n.error {
        "rpcsift: error: "
    } else {
        "note: "
    };
    match n.offset {
        Some(o) => format!("{prefix}{} at offset {o}: {}", n.file, n.message),
        None => format!("{prefix}{}: {}", n.file, n.message),
    }
}

/// The run's records, sorted, from either kind of source.
fn decode(source: Source<'_>, opts: &Options) -> Result<engine::RunOutput, ApiError> {
    match source {
        Source::Paths(paths) => {
            let files = capture::collect_capture_paths(paths).map_err(ApiError::Listing)?;
            if files.is_empty() {
                return Err(ApiError::NoCaptures);
            }
            Ok(engine::run(&files, opts))
        }
        Source::Bytes { data, name } => {
            let out = engine::analyze_reader(name, capture::open_bytes(data), 0, opts);
            let mut run = engine::RunOutput {
                records: out.records,
                counters: out.counters,
                notices: out.notices,
                runs: out.runs,
            };
            engine::sort_records(&mut run.records);
            Ok(run)
        }
    }
}

fn table(batch: RecordBatch, run: &engine::RunOutput) -> Table {
    Table {
        batch,
        counters: run.counters.clone(),
        notices: run.notices.iter().map(note_line).collect(),
    }
}

/// Every call, as `rpcsift calls --format json` would write it, as one `calls` batch.
/// `opts.zeek_compat` selects Zeek's columns; `opts.spill` must be unset (the table is
/// built in memory).
pub fn calls(source: Source<'_>, opts: &Options) -> Result<Table, ApiError> {
    let mut opts = opts.clone();
    opts.spill = None;
    let run = decode(source, &opts)?;
    let batch = tables::calls_batch(&run.records, opts.zeek_compat)?;
    Ok(table(batch, &run))
}

/// The hits of `detector` on every call, as `rpcsift detect --format json` would write
/// them, as one `hits` batch. Only the calls that hit are kept in memory, as in the CLI.
pub fn detect(
    source: Source<'_>,
    detector: Arc<Detector>,
    opts: &Options,
) -> Result<Table, ApiError> {
    let filter = Arc::clone(&detector);
    let opts = Options {
        spill: None,
        zeek_compat: false,
        keep: Some(RecordFilter(Arc::new(move |r: &Record| {
            !filter.hits(r).is_empty()
        }))),
        ..opts.clone()
    };
    let run = decode(source, &opts)?;
    let hits = detector.run(&run.records);
    let batch = tables::hits_batch(&hits)?;
    Ok(table(batch, &run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::indicators::IndicatorSet;

    fn capture(rel: &str) -> PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }

    /// Bytes and a path give the same table when the bytes are named like the path.
    #[test]
    fn bytes_equal_path() {
        let p = capture("captures/atsvc_schtask.pcap");
        let data = std::fs::read(&p).expect("capture");
        let name = p.display().to_string();
        let opts = Options::default();
        let a = calls(Source::Paths(std::slice::from_ref(&p)), &opts).expect("path");
        let b = calls(
            Source::Bytes {
                data: &data,
                name: &name,
            },
            &opts,
        )
        .expect("bytes");
        assert_eq!(a.batch.num_rows(), 3);
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.counters.files, 1);
        // Gzip in memory too.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let c = calls(
            Source::Bytes {
                data: &gz,
                name: &name,
            },
            &opts,
        )
        .expect("gz");
        assert_eq!(a.batch, c.batch);
        // Zeek's columns only.
        let z = Options {
            zeek_compat: true,
            zeek_ignore: true,
            ..Options::default()
        };
        let z = calls(Source::Paths(std::slice::from_ref(&p)), &z).expect("zeek");
        assert_eq!(z.batch.num_columns(), 10);
    }

    #[test]
    fn detect_hits() {
        let p = [capture("captures/atsvc_schtask.pcap")];
        let det = Arc::new(Detector {
            set: Some(IndicatorSet::All),
            rules: vec![],
        });
        let t = detect(Source::Paths(&p), det, &Options::default()).expect("detect");
        // NetrJobAdd, SchRpcRegisterTask and SchRpcRun, each in the three sets.
        let text = |name: &str| -> Vec<String> {
            let c = t.batch.column_by_name(name).expect(name);
            let c = arrow_array::cast::AsArray::as_string::<i32>(c.as_ref());
            c.iter().map(|v| v.unwrap_or("-").to_string()).collect()
        };
        assert_eq!(
            text("matched_by"),
            ["improved", "bzar-2020", "bzar-2019"].repeat(3)
        );
        let ops: Vec<&str> = ["NetrJobAdd", "SchRpcRegisterTask", "SchRpcRun"]
            .iter()
            .flat_map(|o| [*o; 3])
            .collect();
        assert_eq!(text("operation"), ops);
        assert_eq!(t.counters.files, 1);
    }

    #[test]
    fn errors_read_as_the_cli_writes_them() {
        let chain = |e: &dyn std::error::Error| {
            let mut s = e.to_string();
            let mut cur = e.source();
            while let Some(c) = cur {
                s.push_str(": ");
                s.push_str(&c.to_string());
                cur = c.source();
            }
            s
        };
        let missing = [PathBuf::from("/nonexistent/rpcsift")];
        let e = calls(Source::Paths(&missing), &Options::default()).expect_err("missing");
        assert!(
            chain(&e).starts_with("listing captures: /nonexistent/rpcsift: "),
            "{}",
            chain(&e)
        );
        let empty = std::env::temp_dir().join(format!("rpcsift-api-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("dir");
        let e = calls(
            Source::Paths(std::slice::from_ref(&empty)),
            &Options::default(),
        )
        .expect_err("empty");
        let _ = std::fs::remove_dir(&empty);
        assert_eq!(e.to_string(), "no capture files found in the given paths");
        // Not a capture: a table without rows, the failure counted and noted.
        let t = calls(
            Source::Bytes {
                data: b"{\"ts\":1}",
                name: "x.json",
            },
            &Options::default(),
        )
        .expect("run");
        assert_eq!(t.batch.num_rows(), 0);
        assert_eq!(t.counters.files_failed, 1);
        assert_eq!(
            t.notices,
            [
                "rpcsift: error: x.json at offset 0: not a PCAP or PCAPNG capture: unknown magic 7b227473"
            ]
        );
    }
}
