//! Glue for one run, in data-path order:
//!
//! * [`options`]: what a run can be told ([`Options`], the record filter, the memory cap);
//! * [`run`]: every input decoded in parallel, results merged in a deterministic order;
//! * `inputs`: capture files, standard input, rotated files read as one (`--merge`);
//! * `partition`: which decoder owns which connection;
//! * `pipeline`: the decoder side (flow table, sessions, record sink) of one input;
//! * `session`: per connection, what it carries (DCE-RPC over TCP, or SMB) and its decoder;
//! * `dce`: one DCE-RPC stream, accurate or Zeek's way; `pipes`: SMB named pipes to streams;
//! * `record`: calls and Zeek lines to records, with deterministic uids;
//! * `sink`: the records' way out (filter, memory, sorted runs on disk).
//!
//! The output does not depend on the number of threads: records are sorted with a stable
//! key and uids are computed from the connection, not from the order of work.

mod dce;
mod inputs;
mod options;
mod partition;
mod pipeline;
mod pipes;
mod record;
mod run;
mod session;
mod sink;

pub use inputs::{analyze_path, analyze_reader};
pub use options::{Options, PER_FLOW_BYTES, RecordFilter};
pub use record::make_uid;
pub use run::{FileOutput, RunOutput, run, sort_records};
