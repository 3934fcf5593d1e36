//! Detection on decoded calls: built-in remote-execution indicator sets matched on wire
//! identity ([`indicators`]).

pub mod indicators;
