//! Flow table and TCP reassembly. Turns TCP segments into an ordered byte stream per
//! direction (with explicit gaps) for each connection. Knows nothing of the protocols
//! carried: the caller decides per connection what consumes the bytes.

pub mod table;
pub mod tcp;

#[cfg(test)]
mod proptests;

pub use table::{ConnKey, FlowEvent, FlowLimits, FlowTable};
pub use tcp::{HalfStream, StreamEvent};
