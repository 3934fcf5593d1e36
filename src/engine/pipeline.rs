//! The decoder side of a run: TCP segments in (flow table, reassembly, per-connection
//! sessions), records out. One pipeline per input and decoder.

use super::Options;
use super::session::{Session, dce_server_port};
use super::sink::RecordSink;
use crate::capture::TcpSegment;
use crate::flow::FlowTable;
use crate::flow::table::{ConnMeta, zeek_likely_server_port};
use crate::output::Record;
use crate::output::spill::Run;
use crate::stats::{Counters, Notice};
use std::cell::RefCell;
use std::rc::Rc;

type MakeSession = Box<dyn FnMut(&ConnMeta) -> Session>;

/// What one decoder produced.
pub(super) struct Decoded {
    pub records: Vec<Record>,
    pub runs: Vec<Run>,
    pub counters: Counters,
    pub notices: Vec<Notice>,
}

/// Flow table and sessions of the connections one decoder owns.
pub(super) struct Pipeline {
    table: FlowTable<Session, MakeSession>,
    sink: Rc<RefCell<RecordSink>>,
    /// The flow table's counters (the sessions count into the sink's).
    counters: Counters,
    /// This pipeline's share of the parser-buffer budget.
    max_parser_bytes: usize,
}

impl Pipeline {
    /// `decoders`: how many pipelines share the input's connections (the global flow and
    /// reassembly limits are shared out between them).
    pub fn new(label: &str, file_index: u64, opts: &Options, decoders: usize) -> Self {
        let sink = Rc::new(RefCell::new(RecordSink::new(
            label,
            file_index,
            opts.spill.as_ref(),
            opts.keep.clone(),
        )));
        let likely: fn(u16) -> bool = if opts.zeek_compat {
            zeek_likely_server_port
        } else {
            dce_server_port
        };
        let mut limits = opts.flow;
        if opts.zeek_compat {
            limits.ack_gap_after = Some(0);
        }
        let n = decoders.max(1);
        limits.max_flows = (limits.max_flows / n).max(1);
        limits.max_reassembly_bytes = (limits.max_reassembly_bytes / n).max(1);
        let make: MakeSession = {
            let sink = sink.clone();
            let opts = opts.clone();
            Box::new(move |_meta: &ConnMeta| Session::new(sink.clone(), &opts))
        };
        Pipeline {
            table: FlowTable::new(limits, likely, make),
            sink,
            counters: Counters::default(),
            max_parser_bytes: (opts.max_parser_bytes / n).max(1),
        }
    }

    /// A segment of a connection this pipeline owns; `ordinal` is its packet's ordinal in
    /// the input.
    pub fn segment(&mut self, seg: &TcpSegment<'_>, ordinal: u64) {
        self.table.process_at(seg, ordinal, &mut self.counters);
        // Parser buffers over their share of --max-memory: close the least recently
        // active connections until they fit (each such close is counted).
        while self.sink.borrow().parser_bytes > self.max_parser_bytes {
            let closed = self.table.close_least_active(&mut self.counters);
            if closed == 0 {
                break;
            }
            self.counters.parser_memory_limit += closed;
        }
    }

    /// End of input: close every connection and hand over the records.
    pub fn finish(mut self, label: &str) -> Decoded {
        self.table.finish_all(&mut self.counters);
        drop(self.table);
        let mut counters = self.counters;
        let mut sink = self.sink.borrow_mut();
        sink.flush_batch(false);
        counters.merge(&sink.counters);
        counters.merge(&sink.framing);
        counters.smb.merge(&sink.smb_counters);
        let mut notices = Vec::new();
        if let Some(e) = sink.spill_error.take() {
            notices.push(Notice::note(
                label,
                None,
                format!("could not spill records to disk, kept them in memory: {e}"),
            ));
        }
        Decoded {
            records: std::mem::take(&mut sink.records),
            runs: std::mem::take(&mut sink.runs),
            counters,
            notices,
        }
    }
}
