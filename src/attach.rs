//! `parti-top attach`: a read-only view of an existing parti cluster of any implementation,
//! built from its four KV buckets alone. `read` is the only IO against NATS (reads, listings and
//! watches; never a write, never a bucket created); `judge` turns what was read into an
//! [`AttachState`] (workers, heartbeat ages, leader, versions, findings) and is pure; `events`
//! (pure) measures events seen from outside; `text` renders the state for a terminal; `live`
//! keeps the state current from watches and feeds the dashboard (`tui`), a line printer, and a
//! recording (`record`).

pub mod events;
pub mod judge;
pub mod live;
pub mod metrics;
pub mod read;
pub mod record;
pub mod text;
pub mod tui;

pub use judge::{AttachState, KvState, Liveness, Ttls, WorkerKv, judge};

/// The time now, Unix milliseconds.
pub fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
