//! parti-top: a terminal workbench for load-testing parti clusters.
//!
//! The crate is one library with a thin binary (`src/main.rs`). The dependency rule runs one way:
//! `parti` (the protocol, no UI) ← `nats` (server supervision) ← `host` ← the workbench front ends.
//! See `docs/ARCHITECTURE.md`.

pub mod action;
pub mod attach;
pub mod cli;
pub mod commands;
pub mod control;
pub mod error;
pub mod headless;
pub mod host;
pub mod limits;
pub mod load;
pub mod logging;
pub mod measure;
pub mod metrics;
pub mod nats;
pub mod netfault;
pub mod observation;
pub mod observer;
pub mod parti;
pub mod preflight;
pub mod procfs;
pub mod profile;
pub mod record;
pub mod report;
pub mod scenario;
pub mod session;
pub mod signals;
pub mod testkit;
pub mod text;
pub mod tui;
pub mod workbench;
