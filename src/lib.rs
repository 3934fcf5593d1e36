//! rpcsift: find Windows remote execution in packet captures by decoding DCE-RPC directly.
//!
//! Data path (one folder per layer):
//! `capture` (files, link types, IP) → `flow` (flow table, TCP reassembly) →
//! `dcerpc` (PDUs, contexts, call matching) → `names` (Zeek's UUID/opnum tables) →
//! `output` (Zeek TSV, Zeek JSON, rpcsift JSON). `zeek` holds the Zeek emulation
//! (`--zeek-compat`), kept apart from the accurate path. `engine` glues them per file.
#![forbid(unsafe_code)]

pub mod api;
pub mod args;
pub mod auth;
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

/// Hash maps for per-packet and per-PDU state. Keys come from the capture, i.e. from a
/// possibly hostile sender, but the capture is fixed before the process picks its random
/// seed: foldhash's per-map seeded hash leaves no seed-independent collisions to build
/// in advance (the non-interactive case its HashDoS notes cover), at a fraction of
/// SipHash's cost per packet (benches/RESULTS.md).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// The set counterpart of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
