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
#[derive(Debug, Clone)]
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
    /// Bytes the protocol parsers may hold across all connections (SMB framing and deferred
    /// pipe data, DCE-RPC framers, data held while identifying a connection); past it the
    /// least recently active connections are closed early, and counted.
    pub max_parser_bytes: usize,
    /// `--max-memory`: applied with [`Options::cap_memory`] once the number of workers is
    /// known.
    pub max_memory: Option<usize>,
    /// Keep only the records this accepts (e.g. `detect` keeps the calls that hit), so
    /// that memory follows what is kept, not the capture's size. The others are counted in
    /// `Counters::records_filtered`.
    pub keep: Option<RecordFilter>,
    /// The analyst's keys (`--keys`, `--password`, `--nt-hash`, `--keytab`): sealed
    /// DCE-RPC stubs and SMB3-encrypted messages are decrypted where a key verifies, and
    /// records gain `decrypted` / `decrypted_with`. None (or an empty ring): nothing
    /// changes. Never used with `zeek_compat` (Zeek has no keys).
    pub keys: Option<std::sync::Arc<crate::auth::keys::KeyRing>>,
}

impl Options {
    /// The keys a run decrypts with: none in Zeek emulation, none when the ring is empty.
    pub fn active_keys(&self) -> Option<&std::sync::Arc<crate::auth::keys::KeyRing>> {
        self.keys
            .as_ref()
            .filter(|k| !self.zeek_compat && !k.is_empty())
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            zeek_compat: false,
            zeek_ignore: false,
            verify_checksums: false,
            flow: FlowLimits::default(),
            dce: dcerpc::Limits::default(),
            workers: 0,
            merge: false,
            progress: None,
            spill: None,
            max_parser_bytes: DEFAULT_PARSER_BYTES,
            max_memory: None,
            keep: None,
            keys: None,
        }
    }
}

/// Default for [`Options::max_parser_bytes`].
pub const DEFAULT_PARSER_BYTES: usize = 1 << 30;

/// Memory a worker's queue holds in flight at most: its queued batches (segment headers)
/// and the chunks of the file they keep alive.
pub const IN_FLIGHT_PER_WORKER: usize = (super::workers::QUEUE_DEPTH + 2)
    * (super::workers::BATCH_SEGMENTS * 128 + 2 * crate::capture::reader::INITIAL_BUFFER);

/// Memory one tracked connection costs at most while its protocol is being recognised or
/// its first PDU buffered (measured: about 0.6 KiB for a bare TCP connection, 1.2 KiB with
/// a DCE-RPC or SMB parser attached and a partial PDU held; see benches/RESULTS.md).
pub const PER_FLOW_BYTES: usize = 1280;

impl Options {
    /// Keep connection state under about `bytes`, `workers` decoder workers reading one
    /// input: first what the workers' queues hold in flight ([`IN_FLIGHT_PER_WORKER`]), then
    /// of the rest half for connections (the flow cap, at [`PER_FLOW_BYTES`] each), a quarter
    /// for out-of-order data and a quarter for parser buffers. Past the caps the least
    /// recently active connections are closed early, and counted. Records are written out as
    /// they are made (spilled past `--records-in-memory`) and are not part of the cap.
    pub fn cap_memory(&mut self, bytes: usize, workers: usize) {
        let in_flight = if workers > 1 {
            workers * IN_FLIGHT_PER_WORKER
        } else {
            0
        };
        let bytes = bytes.saturating_sub(in_flight).max(1);
        self.flow.max_flows = self.flow.max_flows.min((bytes / 2 / PER_FLOW_BYTES).max(1));
        self.flow.max_reassembly_bytes = self.flow.max_reassembly_bytes.min((bytes / 4).max(1));
        self.max_parser_bytes = self.max_parser_bytes.min((bytes / 4).max(1));
    }
}
