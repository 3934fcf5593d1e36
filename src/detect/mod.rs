//! Detection on decoded calls: built-in remote-execution indicator sets matched on wire
//! identity ([`indicators`]) and Sigma rules for Zeek's `dce_rpc` log source ([`sigma`]).

pub mod indicators;
pub mod sigma;
