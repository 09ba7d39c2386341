//! The dependency rule of docs/ARCHITECTURE.md, checked on the sources: every module of the
//! crate sits in one layer of [`LAYERS`] and imports (`crate::…`) only from layers below its
//! own or from its own layer; the import graph between modules has no cycle; and the protocol
//! library under `src/parti/` imports nothing else from the crate, nor any UI crate. `nats`
//! sits below `error`: it returns its own error type, which `error` converts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first (docs/ARCHITECTURE.md, "The dependency rule").
const LAYERS: &[&[&str]] = &[
    &["parti"],
    &[
        "text", "logging", "procfs", "signals", "action", "nats", "netfault", "load",
    ],
    &["error", "observation", "control", "profile", "limits"],
    &["measure", "observer", "record", "metrics"],
    &["report", "host", "workbench"],
    &["scenario", "preflight"],
    &["session"],
    &["headless", "tui", "attach"],
    &["cli", "commands", "testkit"],
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules of the crate (files and directories under `src/`), without the crate
/// roots.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .expect("read src")
        .filter_map(|entry| {
            let path = entry.expect("entry").path();
            let name = path.file_stem()?.to_str()?.to_owned();
            (path.is_dir() || path.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|name| name != "lib" && name != "main")
        .collect()
}

/// The code of a line, without its comment.
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// Which modules each module imports, with one place each import is made.
fn imports() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph = BTreeMap::new();
    for module in modules() {
        let mut files = Vec::new();
        let file = src().join(format!("{module}.rs"));
        if file.exists() {
            files.push(file);
        }
        let dir = src().join(&module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let mut used: BTreeMap<String, String> = BTreeMap::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("read");
            for (number, line) in text.lines().enumerate() {
                let code = code(line);
                for (at, _) in code.match_indices("crate::") {
                    // Inside a string literal: not an import.
                    if code[..at].matches('"').count() % 2 == 1 {
                        continue;
                    }
                    let rest = &code[at + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() || name == module {
                        continue;
                    }
                    used.entry(name).or_insert_with(|| {
                        format!("{}:{}: {}", file.display(), number + 1, line.trim())
                    });
                }
            }
        }
        graph.insert(module, used);
    }
    graph
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn every_module_has_a_layer_and_imports_only_from_below() {
    let graph = imports();
    assert!(graph.len() > 20, "found the modules: {:?}", graph.keys());
    let mut offences = Vec::new();
    for (module, used) in &graph {
        let Some(own) = layer_of(module) else {
            offences.push(format!("{module}: not in any layer of LAYERS (add it)"));
            continue;
        };
        for (imported, place) in used {
            match layer_of(imported) {
                Some(layer) if layer <= own => {}
                Some(layer) => offences.push(format!(
                    "{module} (layer {own}) imports {imported} (layer {layer}) at {place}"
                )),
                None if graph.contains_key(imported) => {}
                None => {}
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn the_module_import_graph_has_no_cycle() {
    let graph = imports();
    // Depth-first search; a back edge is a cycle.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if done.contains(module) {
            return;
        }
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_owned());
            cycles.push(cycle.join(" → "));
            return;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flat_map(BTreeMap::keys) {
            if graph.contains_key(next) {
                visit(next, graph, path, done, cycles);
            }
        }
        path.pop();
        done.insert(module.to_owned());
    }
    let (mut done, mut cycles) = (BTreeSet::new(), Vec::new());
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    let places: Vec<String> = cycles
        .iter()
        .map(|cycle| {
            let hops: Vec<&str> = cycle.split(" → ").collect();
            let at: Vec<String> = hops
                .windows(2)
                .map(|pair| graph[pair[0]][pair[1]].clone())
                .collect();
            format!("{cycle}\n    {}", at.join("\n    "))
        })
        .collect();
    assert!(places.is_empty(), "import cycles:\n{}", places.join("\n"));
}

#[test]
fn parti_does_not_import_the_workbench() {
    let root = src();
    let mut files = vec![root.join("parti.rs")];
    rust_files(&root.join("parti"), &mut files);
    assert!(files.len() > 10, "found the protocol sources");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (number, line) in text.lines().enumerate() {
            let code = code(line);
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
