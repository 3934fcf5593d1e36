//! Inputs of a run: capture files, standard input, and rotated files read as one capture
//! (`--merge`); each is read, decoded to TCP segments and handed to a [`Pipeline`].

use super::Options;
use super::partition::Shard;
use super::pipeline::Pipeline;
use super::run::FileOutput;
use crate::capture::{self, PacketDecoder};
use crate::stats::{Counters, Notice};
use std::path::{Path, PathBuf};

/// Analyse one capture file; errors become notices, never panics.
pub fn analyze_path(path: &Path, file_index: u64, opts: &Options) -> FileOutput {
    analyze_path_shard(path, file_index, opts, Shard::ALL)
}

/// One file, cannot-open included: a file-level failure is counted once (shard 0).
fn open_failed(label: String, e: capture::CaptureError, shard: Shard) -> FileOutput {
    let mut out = FileOutput::default();
    if shard.index == 0 {
        out.counters.files += 1;
        out.counters.files_failed += 1;
        out.notices
            .push(Notice::error(label, e.offset(), e.cause()));
    }
    out
}

/// One share of one capture file's connections.
pub(super) fn analyze_path_shard(
    path: &Path,
    file_index: u64,
    opts: &Options,
    shard: Shard,
) -> FileOutput {
    let label = path.display().to_string();
    let counter = opts.progress.clone().filter(|_| shard.index == 0);
    if capture::is_stdin(path) {
        let mut input = Some(capture::open_stdin(counter));
        return analyze_inputs("stdin", file_index, opts, shard, &mut |sink, c, n| {
            if let Some(r) = input.take() {
                read_one("stdin", r, c, n, sink)
            }
        });
    }
    match capture::open_capture_counted(path, counter) {
        Ok(r) => {
            let mut input = Some(r);
            analyze_inputs(&label, file_index, opts, shard, &mut |sink, c, n| {
                if let Some(r) = input.take() {
                    read_one(&label, r, c, n, sink)
                }
            })
        }
        Err(e) => open_failed(label, e, shard),
    }
}

/// Several files as one continuous capture (rotated captures): one flow table across
/// them, in the order given, so a connection spanning two files is decoded whole. Files
/// whose time ranges overlap are read one after the other, not interleaved; a notice says
/// so. Records name the first file as their capture.
pub(super) fn analyze_paths_merged(paths: &[PathBuf], opts: &Options, shard: Shard) -> FileOutput {
    let Some(first) = paths.first() else {
        return FileOutput::default();
    };
    let label = first.display().to_string();
    analyze_inputs(&label, 0, opts, shard, &mut |sink, c, n| {
        let mut last_ts: Option<capture::Timestamp> = None;
        for p in paths {
            let name = p.display().to_string();
            let counter = opts.progress.clone().filter(|_| shard.index == 0);
            let opened = if capture::is_stdin(p) {
                Ok(capture::open_stdin(counter))
            } else {
                capture::open_capture_counted(p, counter)
            };
            match opened {
                Ok(r) => {
                    let mut first_ts = None;
                    let mut max_ts = last_ts;
                    read_one(&name, r, c, n, &mut |f: &capture::Frame<'_>| {
                        first_ts.get_or_insert(f.ts);
                        max_ts = Some(max_ts.map_or(f.ts, |m| m.max(f.ts)));
                        sink(f)
                    });
                    if let (Some(f), Some(l)) = (first_ts, last_ts)
                        && f < l
                    {
                        n.push(Notice::note(
                            name.clone(),
                            None,
                            "starts before the end of the previous file: --merge reads files \
                             one after the other, it does not interleave them",
                        ));
                    }
                    last_ts = max_ts;
                }
                Err(e) => {
                    c.files += 1;
                    c.files_failed += 1;
                    n.push(Notice::error(name, e.offset(), e.cause()));
                }
            }
        }
    })
}

/// Read one capture into the frame sink; a read error is counted and noted.
fn read_one(
    label: &str,
    input: impl std::io::Read,
    counters: &mut Counters,
    notices: &mut Vec<Notice>,
    sink: &mut dyn FnMut(&capture::Frame<'_>),
) {
    counters.files += 1;
    if let Err(e) = capture::read_frames(label, input, counters, notices, sink) {
        counters.files_failed += 1;
        notices.push(Notice::error(label, e.offset(), e.cause()));
    }
}

/// Analyse a capture from any reader (already decompressed or gzip handled by the caller).
pub fn analyze_reader(
    label: &str,
    input: impl std::io::Read,
    file_index: u64,
    opts: &Options,
) -> FileOutput {
    let mut input = Some(input);
    analyze_inputs(label, file_index, opts, Shard::ALL, &mut |sink, c, n| {
        if let Some(r) = input.take() {
            read_one(label, r, c, n, sink)
        }
    })
}

/// Frames in (from `feed`, which reads one or more captures into the sink it is given),
/// records out, for the connections of one shard.
type Feed<'a> =
    dyn FnMut(&mut dyn FnMut(&capture::Frame<'_>), &mut Counters, &mut Vec<Notice>) + 'a;

fn analyze_inputs(
    label: &str,
    file_index: u64,
    opts: &Options,
    shard: Shard,
    feed: &mut Feed<'_>,
) -> FileOutput {
    let mut counters = Counters::default();
    let mut notices = Vec::new();
    let mut decoder = PacketDecoder::new(opts.verify_checksums);
    let mut pipeline = Pipeline::new(label, file_index, opts, shard.count as usize);
    // The decoder and the reader keep their own counters so that no two layers need the
    // same `&mut` at once; they are merged at the end.
    let mut dec_c = Counters::default();
    feed(
        &mut |frame| {
            decoder.decode(frame, &mut dec_c, &mut |seg| {
                if shard.owns(seg) {
                    pipeline.segment(seg)
                } else {
                    pipeline.skip(seg.ts)
                }
            });
        },
        &mut counters,
        &mut notices,
    );
    decoder.finish(&mut dec_c);
    let decoded = pipeline.finish(label);
    if shard.index == 0 {
        // What every pass sees alike (files, packets, link and IP layers) counts once.
        counters.merge(&dec_c);
    } else {
        counters = Counters::default();
        notices.clear();
    }
    counters.merge(&decoded.counters);
    notices.extend(decoded.notices);
    FileOutput {
        records: decoded.records,
        counters,
        notices,
        runs: decoded.runs,
    }
}
