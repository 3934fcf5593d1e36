//! A whole run: every input decoded (in parallel), the results merged in a deterministic
//! order.

use super::Options;
use super::inputs::{analyze_path_shard, analyze_paths_merged};
use super::partition::Shard;
use crate::capture;
use crate::output::Record;
use crate::output::spill::Run;
use crate::stats::{Counters, Notice};
use rayon::prelude::*;
use std::path::PathBuf;

/// What one capture file produced.
#[derive(Debug, Default)]
pub struct FileOutput {
    pub records: Vec<Record>,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Records already written out as sorted runs (with `Options::spill`).
    pub runs: Vec<Run>,
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
}

impl RunOutput {
    /// Records of the run, in memory and spilled.
    pub fn record_count(&self) -> u64 {
        self.records.len() as u64 + self.runs.iter().map(|r| r.records).sum::<u64>()
    }
}

/// Analyse every file (in parallel, and each file in parallel shards when there are fewer
/// files than threads) and merge the results in a deterministic order: the same records in
/// the same order whatever the thread count.
pub fn run(paths: &[PathBuf], opts: &Options) -> RunOutput {
    let threads = rayon::current_num_threads().max(1);
    let units = if opts.merge { 1 } else { paths.len().max(1) };
    let shards = if opts.shards > 0 {
        opts.shards
    } else if units >= threads {
        1
    } else {
        threads.div_ceil(units)
    }
    .min(64) as u32;
    // Standard input inside a merged capture: one pass (stdin can be read once).
    let shards = if opts.merge && paths.iter().any(|p| capture::is_stdin(p)) {
        1
    } else {
        shards
    };
    // Standard input can be read once only: one pass decodes all of it.
    let stdin = |f: usize| !opts.merge && paths.get(f).is_some_and(|p| capture::is_stdin(p));
    let work: Vec<(usize, u32)> = (0..units)
        .flat_map(|f| (0..if stdin(f) { 1 } else { shards }).map(move |k| (f, k)))
        .collect();
    let outs: Vec<FileOutput> = work
        .par_iter()
        .map(|&(f, k)| {
            let shard = if stdin(f) {
                Shard::ALL
            } else {
                Shard {
                    index: k,
                    count: shards,
                }
            };
            if opts.merge {
                analyze_paths_merged(paths, opts, shard)
            } else {
                analyze_path_shard(&paths[f], f as u64, opts, shard)
            }
        })
        .collect();
    let mut run = RunOutput::default();
    for o in outs {
        run.counters.merge(&o.counters);
        run.notices.extend(o.notices);
        run.records.extend(o.records);
        run.runs.extend(o.runs);
    }
    sort_records(&mut run.records);
    run
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
