//! The subcommands: each turns parsed arguments into a run of the library and an exit code.

pub mod dashboard;
pub mod diff;
pub mod headless;
pub mod host;
pub mod report;
pub mod validate;
