//! The dependency rule of docs/ARCHITECTURE.md, checked on the sources: the protocol library
//! under `src/parti/` imports nothing from the workbench and nothing of the terminal UI.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn parti_does_not_import_the_workbench() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root.join("parti.rs")];
    rust_files(&root.join("parti"), &mut files);
    assert!(files.len() > 10, "found the protocol sources");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let outside_parti = code
                .match_indices("crate::")
                .any(|(i, _)| !code[i..].starts_with("crate::parti"));
            if outside_parti
                || code.contains("ratatui")
                || code.contains("crossterm")
                || code.contains("tui_logger")
            {
                offences.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "src/parti must stay free of workbench code:\n{}",
        offences.join("\n")
    );
}
