//! rpcsift: find Windows remote execution in packet captures by decoding DCE-RPC directly.
//!
//! Data path (one folder per layer):
//! `capture` (files, link types, IP) → `flow` (flow table, TCP reassembly) →
//! `dcerpc` (PDUs, contexts, call matching) → `names` (Zeek's UUID/opnum tables) →
//! `output` (Zeek TSV, Zeek JSON, rpcsift JSON). `zeek` holds the Zeek emulation
//! (`--zeek-compat`), kept apart from the accurate path. `engine` glues them per file.
#![forbid(unsafe_code)]

pub mod args;
pub mod capture;
pub mod dcerpc;
pub mod detect;
pub mod engine;
pub mod flow;
pub mod names;
pub mod output;
pub mod report;
pub mod smb;
pub mod stats;
pub mod validate;
pub mod zeek;
