//! The parti protocol: a Rust implementation wire-compatible with the Go library `arloliu/parti`.
//!
//! This module is a library of its own. It knows nothing of the workbench, the terminal UI,
//! recordings or profiles: nothing under `src/parti/` may import `crate::` items outside
//! `crate::parti`, nor `ratatui` or `crossterm` (a test checks this).

pub mod assignment;
pub mod calculator;
pub mod config;
pub mod consumer;
pub mod duration;
pub mod election;
pub mod error;
pub mod events;
pub mod heartbeat;
pub mod kv;
pub mod mem_kv;
pub mod nats_kv;
pub mod partition;
pub mod publisher;
pub mod source;
pub mod stable_id;
pub mod state;
pub mod strategy;
pub mod timefmt;
pub mod worker;

pub use config::{Config, Timing, TimingPreset};
pub use error::Error;
pub use events::{WorkerEvent, WorkerStatus};
pub use state::State;
pub use worker::{Worker, WorkerSpec};
#[cfg(test)]
mod cluster_tests;
