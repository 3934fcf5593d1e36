//! A whole run: every input decoded (in parallel), the results merged in a deterministic
//! order.

use super::Options;
use super::source::{CaptureFile, CaptureFiles, CaptureReader, PacketSource, label_of};
use super::workers::decode;
use crate::output::Record;
use crate::output::spill::Run;
use crate::stats::{Counters, Notice};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What one capture file produced.
#[derive(Debug, Default)]
pub struct FileOutput {
    pub records: Vec<Record>,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Records already written out as sorted runs (with `Options::spill`).
    pub runs: Vec<Run>,
    /// Hosts seen answering Kerberos on port 88 (`PacketDecoder::kdcs`).
    pub kdcs: BTreeSet<IpAddr>,
}

/// Result of a whole run.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub records: Vec<Record>,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Records already written out as sorted runs (with `Options::spill`); merge them with
    /// `records` through [`crate::output::spill::merge`].
    pub runs: Vec<Run>,
    /// Hosts seen answering Kerberos on port 88: evidence of domain controllers beside the
    /// drsuapi and netlogon servers among the records (`detect::infer_dcs`).
    pub kdcs: BTreeSet<IpAddr>,
}

impl RunOutput {
    /// Records of the run, in memory and spilled.
    pub fn record_count(&self) -> u64 {
        self.records.len() as u64 + self.runs.iter().map(|r| r.records).sum::<u64>()
    }
}

/// Analyse every input and merge the results in a deterministic order: the same records
/// in the same order whatever the thread count. Inputs run in parallel; when there are
/// fewer inputs than threads, each input is read once and decoded by several workers
/// (`Options::workers`, by default the threads per input).
pub fn run(paths: &[PathBuf], opts: &Options) -> RunOutput {
    let threads = rayon::current_num_threads().max(1);
    let units = if opts.merge { 1 } else { paths.len().max(1) };
    let workers = if opts.workers > 0 {
        opts.workers
    } else if units >= threads {
        1
    } else {
        threads.div_ceil(units)
    }
    .min(64);
    // Inputs decoded at the same time share --max-memory.
    let shared;
    let opts = match opts.max_memory {
        Some(m) if units > 1 => {
            shared = Options {
                max_memory: Some(m / units.min(threads)),
                ..opts.clone()
            };
            &shared
        }
        _ => opts,
    };
    let outs: Vec<FileOutput> = (0..units)
        .into_par_iter()
        .map(|f| {
            let progress = opts.progress.clone();
            if opts.merge {
                let label = paths.first().map(|p| p.display().to_string());
                let mut source = CaptureFiles {
                    paths: paths.to_vec(),
                    progress,
                };
                decode(&mut source, &label.unwrap_or_default(), 0, opts, workers)
            } else {
                let path = paths.get(f).cloned().unwrap_or_default();
                let label = label_of(&path);
                let mut source = CaptureFile { path, progress };
                decode(&mut source, &label, f as u64, opts, workers)
            }
        })
        .collect();
    let mut run = RunOutput::default();
    for o in outs {
        run.counters.merge(&o.counters);
        run.notices.extend(o.notices);
        run.records.extend(o.records);
        run.runs.extend(o.runs);
        run.kdcs.extend(o.kdcs);
    }
    sort_records(&mut run.records);
    run
}

/// Analyse one capture file (one worker); errors become notices, never panics.
pub fn analyze_path(path: &Path, file_index: u64, opts: &Options) -> FileOutput {
    let mut source = CaptureFile {
        path: path.to_path_buf(),
        progress: opts.progress.clone(),
    };
    decode(&mut source, &label_of(path), file_index, opts, 1)
}

/// Analyse a capture from any reader (already decompressed, or gzip handled by the caller).
pub fn analyze_reader(
    label: &str,
    input: impl std::io::Read,
    file_index: u64,
    opts: &Options,
) -> FileOutput {
    let mut source = CaptureReader {
        label: label.to_string(),
        input: Some(input),
    };
    decode(&mut source, label, file_index, opts, 1)
}

/// Decode packets from any source (the packet-stream seam) on `workers` workers.
pub fn analyze_source(
    source: &mut dyn PacketSource,
    label: &str,
    file_index: u64,
    opts: &Options,
    workers: usize,
) -> FileOutput {
    decode(source, label, file_index, opts, workers.max(1))
}

pub fn sort_records(records: &mut [Record]) {
    // Records are large: sort indices (stable, so ties keep their order), then move each
    // record once into place by following the permutation's cycles.
    let mut idx: Vec<usize> = (0..records.len()).collect();
    idx.sort_by(|&a, &b| {
        let (a, b) = (&records[a].order, &records[b].order);
        a.0.total_cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    // idx[i] is the record that belongs at position i.
    for start in 0..idx.len() {
        let mut i = start;
        while idx[i] != start {
            let j = idx[i];
            records.swap(i, j);
            idx[i] = i;
            i = j;
        }
        idx[i] = i;
    }
}

#[cfg(test)]
mod sort_tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn rec(key: (u8, u8), tag: usize) -> Record {
        Record {
            ts: 0.0,
            uid: tag.to_string().into(),
            orig_h: IpAddr::from([10, 0, 0, 1]),
            orig_p: 1,
            resp_h: IpAddr::from([10, 0, 0, 2]),
            resp_p: 2,
            rtt: None,
            named_pipe: None,
            endpoint: None,
            operation: None,
            extra: None,
            order: (key.0 as f64, 0, key.1 as u64, 0),
        }
    }

    proptest! {
        /// The permutation sort equals a plain stable sort, ties in input order.
        #[test]
        fn sort_records_is_a_stable_sort(keys in prop::collection::vec((0u8..5, 0u8..3), 0..200)) {
            let mut got: Vec<Record> = keys.iter().enumerate().map(|(i, k)| rec(*k, i)).collect();
            let mut want = got.clone();
            want.sort_by(|a, b| a.order.0.total_cmp(&b.order.0).then(a.order.2.cmp(&b.order.2)));
            sort_records(&mut got);
            let tags = |v: &[Record]| v.iter().map(|r| r.uid.clone()).collect::<Vec<_>>();
            prop_assert_eq!(tags(&got), tags(&want));
        }
    }
}
