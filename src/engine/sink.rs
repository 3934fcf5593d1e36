//! Where finished records go: the run's filter, then memory or the spill batch (sorted runs
//! on disk past a count), with the counters the per-connection state writes into.

use super::RecordFilter;
use crate::args;
use crate::output::spill::{Batch, Run, SpillConfig};
use crate::output::{Record, SmolStr};
use crate::smb;
use crate::stats::Counters;

/// The records and counters of one decoder, shared by its connections.
pub(super) struct RecordSink {
    pub records: Vec<Record>,
    /// With `Options::spill`: where to spill, and the records rendered as they are made
    /// (then `records` stays empty).
    spill: Option<(SpillConfig, Batch)>,
    keep: Option<RecordFilter>,
    /// Runs already sorted (on disk, or the last batch in memory).
    pub runs: Vec<Run>,
    pub spill_error: Option<String>,
    pub counters: Counters,
    /// Counters of the PDU framers (kept apart from `counters` for the borrow checker).
    pub framing: Counters,
    pub smb_counters: smb::SmbCounters,
    pub label: SmolStr,
    pub file_index: u64,
    /// Services created on one connection or pipe and acted on from another, between the
    /// same hosts (every connection between two hosts is decoded by the same pipeline).
    pub services: args::ServiceLinks,
    /// Bytes the protocol parsers of this pipeline's connections hold (SMB framing and
    /// deferred pipe data, DCE-RPC framers, data held while a connection is identified).
    pub parser_bytes: usize,
}

impl RecordSink {
    pub fn new(
        label: &str,
        file_index: u64,
        spill: Option<&SpillConfig>,
        keep: Option<RecordFilter>,
    ) -> Self {
        RecordSink {
            records: Vec::new(),
            spill: spill.map(|c| (c.clone(), Batch::new(c.format))),
            runs: Vec::new(),
            keep,
            spill_error: None,
            counters: Counters::default(),
            framing: Counters::default(),
            smb_counters: smb::SmbCounters::default(),
            label: SmolStr::from(label),
            file_index,
            services: args::ServiceLinks::default(),
            parser_bytes: 0,
        }
    }

    /// A finished record: rendered into the batch when spilling is on, else kept (when the
    /// run's filter accepts it).
    pub fn push(&mut self, r: Record) {
        if let Some(keep) = &self.keep
            && !(keep.0)(&r)
        {
            self.counters.records_filtered += 1;
            return;
        }
        match &mut self.spill {
            Some((_, b)) => {
                if let Err(e) = b.push(&r) {
                    self.spill_error.get_or_insert(e.to_string());
                    self.records.push(r);
                }
            }
            None => self.records.push(r),
        }
    }

    /// Past the configured count, write the batch out as one sorted run. A failure is
    /// reported once and the records stay in memory (correct output, unbounded memory).
    pub fn maybe_spill(&mut self) {
        if let Some((cfg, b)) = &self.spill
            && b.len() >= cfg.max_records.max(1)
        {
            self.flush_batch(true);
        }
    }

    /// The batch as a sorted run: on disk (`to_disk`, unless an earlier write failed) or
    /// in memory.
    pub fn flush_batch(&mut self, to_disk: bool) {
        let Some((cfg, b)) = self.spill.as_mut().filter(|(_, b)| !b.is_empty()) else {
            return;
        };
        let disk = (to_disk && self.spill_error.is_none()).then_some(&*cfg);
        match b.flush(disk) {
            Ok(run) => self.runs.push(run),
            Err(e) => {
                self.spill_error = Some(e.to_string());
                // Keep the lines: an in-memory run cannot fail to be written.
                if let Ok(run) = b.flush(None) {
                    self.runs.push(run);
                }
            }
        }
    }
}
