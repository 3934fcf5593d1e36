//! Glue for one run, in data-path order:
//!
//! * [`options`]: what a run can be told ([`Options`], the record filter, the memory cap);
//! * [`run`]: every input decoded in parallel, results merged in a deterministic order;
//! * [`source`]: the packet-stream seam: capture files, standard input, rotated files read
//!   as one (`--merge`), packets from memory;
//! * `workers`: one reader per input (capture records, link, IP and TCP headers parsed
//!   once), segments routed in batches to the worker that owns their connection;
//! * [`partition`]: which worker owns which connection (by host pair);
//! * `pipeline`: the worker side (flow table, sessions, record sink);
//! * `session`: per connection, what it carries (DCE-RPC over TCP, or SMB) and its decoder;
//! * `dce`: one DCE-RPC stream, accurate or Zeek's way; `pipes`: SMB named pipes to streams;
//! * `record`: calls and Zeek lines to records, with deterministic uids;
//! * `sink`: the records' way out (filter, memory, sorted runs on disk).
//!
//! The output does not depend on the number of threads: records are sorted with a stable
//! key and uids are computed from the connection, not from the order of work.

mod dce;
mod options;
pub mod partition;
mod pipeline;
mod pipes;
mod record;
mod run;
mod session;
mod sink;
pub mod source;
mod workers;

pub use options::{Options, PER_FLOW_BYTES, RecordFilter};
pub use partition::{frame_partition, host_pair_hash, partition_of};
pub use record::make_uid;
pub use run::{
    FileOutput, RunOutput, analyze_path, analyze_reader, analyze_source, run, sort_records,
};
pub use source::{MemoryPackets, Packet, PacketSource};
pub use workers::{BATCH_SEGMENTS, QUEUE_DEPTH};
