//! The observer: rebuilds a parti cluster's state from its KV buckets, independently of what
//! the workers report about themselves, and checks parti's invariants on it.

pub mod snapshot;
pub mod watch;
