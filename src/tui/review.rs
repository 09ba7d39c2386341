//! `parti-top review R.ron`: the dashboard, read-only, over a recording, with a time cursor.
//!
//! The same shape as the live dashboard: [`Reviewed`] is the recording prepared once (every
//! observation in time order, the log lines rebuilt from it, the times `[`/`]` jump to);
//! [`state_at`] is pure and builds the live [`Model`](super::model::Model) as it was at the
//! cursor by feeding the recording's observations up to the cursor through the live
//! [`update`](super::update::update) and folding its cluster events into a
//! [`ClusterState`](crate::measure::ClusterState); [`update`] (pure) moves the cursor
//! and the zoom; [`view`] draws the live panes with a review header, the rebuilt log and a
//! cursor line on the charts; [`run`] is the only part that touches the terminal.

mod cluster;
pub mod fixtures;
pub mod keys;
mod log;
mod prepared;
pub mod run;
mod state;
mod update;
pub mod view;
mod zoom;

pub use log::{Level, LogLine};
pub use prepared::{Reviewed, Target};
pub use state::{cluster_at, state_at};
pub use update::{Effect, Msg, ReviewModel, update};
pub use zoom::Zoom;

#[cfg(test)]
mod tests;
