//! Real message load through the partitions and its per-message ledger.
//!
//! Pure cores: the load specification ([`spec`]), the message format ([`message`]), the rate plan
//! and pacing ([`plan`]), seeded randomness ([`rng`]), the latency [`histogram`], the reported
//! records ([`record`]) and the [`ledger`]. IO shells: the lossless [`report`]er and the ledger
//! service, the work [`stream`], the [`producer`] and the worker-side [`process`]or. See
//! docs/load.md.

pub mod histogram;
pub mod ledger;
pub mod message;
pub mod plan;
pub mod process;
pub mod producer;
pub mod record;
pub mod report;
pub mod rng;
pub mod spec;
pub mod stream;
pub mod zombie;
