//! Recordings (`recordings/*.ron`, DESIGN.md §5): the format, the recorder that writes it
//! atomically while a run goes on, and loading.

pub mod format;
pub mod io;
pub mod machine;
pub mod recorder;

pub use format::{FORMAT_VERSION, Header, Machine, Recording, RunMode, TimelineEntry};
pub use io::{RecordError, load, save_atomic};
pub use recorder::Recorder;
