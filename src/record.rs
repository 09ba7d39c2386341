//! Recordings (`recordings/*.ron`, DESIGN.md §5): the format (with the summary's data types), the
//! recorder that writes it atomically while a run goes on, and loading. Nothing here depends on
//! `report`, which computes summaries and comparisons from recordings.

pub mod format;
pub mod io;
pub mod machine;
pub mod recorder;
pub mod summary;

pub use format::{FORMAT_VERSION, Header, Machine, Recording, RunMode, TimelineEntry};
pub use io::{RecordError, load, save_atomic};
pub use recorder::Recorder;
pub use summary::{EventSummary, Failure, ProcessSummary, RepeatSummary, Spread, Summary, Verdict};
