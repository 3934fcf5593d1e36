//! What a run can be told: [`Options`], the record filter, and the memory cap.

use crate::capture;
use crate::dcerpc;
use crate::flow::FlowLimits;
use crate::output::Record;

/// A test on a finished record, shared by the worker threads.
#[derive(Clone)]
pub struct RecordFilter(pub std::sync::Arc<dyn Fn(&Record) -> bool + Send + Sync>);

impl std::fmt::Debug for RecordFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordFilter")
    }
}

/// Everything a run can be told.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Emulate Zeek's dce_rpc.log, quirks included.
    pub zeek_compat: bool,
    /// Drop operations on Zeek's ignore list (always on in `zeek_compat`).
    pub zeek_ignore: bool,
    pub verify_checksums: bool,
    pub flow: FlowLimits,
    pub dce: dcerpc::Limits,
    /// Decoder workers per input, each owning a share of the connections, fed by one reader
    /// (0: the thread pool's threads per input). The output does not depend on it.
    pub workers: usize,
    /// Treat all inputs as one continuous capture (rotated files), in the order given.
    pub merge: bool,
    /// File bytes read so far, for a progress display (counted by one pass per file).
    pub progress: Option<capture::ByteCounter>,
    /// Keep memory bounded on long runs: records leave memory as sorted runs on disk
    /// (`RunOutput::runs`), to be merged with [`crate::output::spill::merge`].
    pub spill: Option<crate::output::spill::SpillConfig>,
    /// Keep only the records this accepts (e.g. `detect` keeps the calls that hit), so
    /// that memory follows what is kept, not the capture's size. The others are counted in
    /// `Counters::records_filtered`.
    pub keep: Option<RecordFilter>,
}

/// Memory one tracked connection costs at most while its protocol is being recognised or
/// its first PDU buffered (measured: about 0.6 KiB for a bare TCP connection, 1.2 KiB with
/// a DCE-RPC or SMB parser attached and a partial PDU held; see benches/RESULTS.md).
pub const PER_FLOW_BYTES: usize = 1280;

impl Options {
    /// Keep connection state under about `bytes`: half for connections (the flow cap, at
    /// [`PER_FLOW_BYTES`] each), a quarter for out-of-order data; the rest is for parser
    /// buffers. Past the caps the least recently active connections are closed early, and
    /// counted. Decoded records are kept until the end and are not part of the cap.
    pub fn cap_memory(&mut self, bytes: usize) {
        self.flow.max_flows = self.flow.max_flows.min((bytes / 2 / PER_FLOW_BYTES).max(1));
        self.flow.max_reassembly_bytes = self.flow.max_reassembly_bytes.min((bytes / 4).max(1));
    }
}
