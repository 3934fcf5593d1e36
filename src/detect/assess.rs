//! How much an `attack` row's hit is worth: the row's header-only level, raised or
//! lowered by the decoded arguments (the listener host of a coercion, the hive a registry
//! save wrote, the naming context of a replication request, ...) and by who the client is
//! (a domain controller or not). Every change of level says why in the hit's `reason`.

use super::Hit;
use super::indicators::{Level, Row};
use crate::output::Record;

/// A level and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub level: Level,
    pub reason: Option<String>,
}

impl Judgement {
    fn keep(row: &Row) -> Self {
        Judgement {
            level: row.level,
            reason: None,
        }
    }
}

/// Judge one `attack` row's match on one call. `h` is the hit being built (its DC facts
/// are filled in).
pub fn assess(row: &Row, _r: &Record, _h: &Hit) -> Judgement {
    Judgement::keep(row)
}

/// Judgements that need several calls (attempt counts across connections, discovery
/// bursts), applied to the hits of a whole run.
pub fn across_calls(_hits: &mut [Hit]) {}
