//! Run summaries, verdicts, baseline comparisons and their renderings (table, JSON, JUnit).
//!
//! The data types a recording stores (the [`Summary`] and its parts) are `record`'s; this module
//! computes them. Everything here is pure: [`summary::summarize`] turns a recording and the thresholds into a
//! [`Summary`]; [`baseline::compare`] sets a run beside a baseline recording; [`render`] turns
//! both into text.

pub mod baseline;
pub mod drift;
pub mod html;
pub mod load;
pub mod render;
pub mod repeats;
pub mod summary;

#[cfg(test)]
mod fixtures;

pub use crate::record::summary::{Failure, Summary, Verdict};
pub use baseline::{Comparison, MetricVerdict, compare};
pub use summary::summarize;

/// The verdict of a run with its baseline comparison, if any: `Fail` when a threshold failed or
/// a metric regressed. This is what the exit code reports (0 pass, 1 fail).
pub fn overall_verdict(summary: &Summary, comparison: Option<&Comparison>) -> Verdict {
    let compared = comparison.map_or(Verdict::Pass, Comparison::verdict);
    summary.verdict.and(compared)
}
