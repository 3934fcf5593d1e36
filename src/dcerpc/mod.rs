//! DCE-RPC connection-oriented protocol. Takes one byte stream per direction from any
//! transport (a TCP connection, an SMB named pipe) and turns it into calls.
//!
//! `pdu` parses, `stream` frames, `assoc` keeps per-association state (presentation
//! contexts, fragment reassembly, call matching) for the accurate records.

pub mod assoc;
pub mod pdu;
pub mod security;
pub mod stream;

#[cfg(test)]
mod proptests;

pub use assoc::{Association, Call, CallStatus, Limits};
pub use pdu::{Pdu, parse_pdu};
pub use stream::{Framer, Recovery};
