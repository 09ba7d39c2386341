//! `parti-top review` from the command line, without a terminal: a missing, truncated or
//! newer-format recording is one line naming the file and exit 2, decided before the terminal
//! is looked at; a good recording (an autosave too) gets as far as the terminal check.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn review(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parti-top"))
        .arg("review")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("parti-top runs")
}

fn golden_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/golden/small-v2.ron");
    std::fs::read_to_string(path).expect("the golden recording")
}

/// Exit 2 and one stderr line containing each of `wanted`.
fn refused(output: &Output, wanted: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for w in wanted {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
    assert!(output.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn a_missing_file_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.ron");
    refused(&review(&path), &["absent.ron", "cannot read recording"]);
}

#[test]
fn a_truncated_file_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.ron");
    let text = golden_text();
    std::fs::write(&path, &text[..text.len() / 2]).expect("write");
    refused(&review(&path), &["cut.ron", "truncated"]);
}

#[test]
fn a_newer_format_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("future.ron");
    let newer = parti_top::record::FORMAT_VERSION + 1;
    let text = golden_text().replacen(
        &format!("format_version: {}", parti_top::record::FORMAT_VERSION),
        &format!("format_version: {newer}"),
        1,
    );
    std::fs::write(&path, text).expect("write");
    refused(
        &review(&path),
        &["future.ron", &format!("format version {newer} is newer")],
    );
}

#[test]
fn a_good_recording_or_autosave_needs_a_terminal_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("autosave.ron");
    let text = golden_text();
    let cut = text.find("  summary: Some(").expect("a summary");
    std::fs::write(&path, format!("{}  summary: None,\n)\n", &text[..cut])).expect("write");
    refused(&review(&path), &["no terminal", "review"]);
}
