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

#[cfg(test)]
mod tests {
    /// The record ⇄ report cycle stays broken: recordings are data, `report` reads them.
    #[test]
    fn record_does_not_import_report() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/record");
        let mut offences = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/record") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains("crate::report") || code.contains("parti_top::report") {
                    offences.push(format!(
                        "{}:{}: {}",
                        path.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
        assert!(offences.is_empty(), "{}", offences.join("\n"));
    }
}
