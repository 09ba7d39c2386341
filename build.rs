//! Embeds the git revision parti-top is built from as `PARTI_TOP_GIT_REV` (read by
//! `record::format::git_revision`, stored in every recording's header). A revision given in
//! the environment wins (for builds from a source archive); without git or a `.git`
//! directory the variable stays unset. This script never fails the build.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env_dir())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn env_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PARTI_TOP_GIT_REV");
    if let Ok(given) = std::env::var("PARTI_TOP_GIT_REV") {
        println!("cargo:rustc-env=PARTI_TOP_GIT_REV={}", given.trim());
        return;
    }
    if !Path::new(&env_dir()).join(".git").exists() {
        return;
    }
    // Rebuild when HEAD moves: HEAD itself, the branch it points to, and packed refs.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = Path::new(&env_dir()).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    if let Some(revision) = git(&["rev-parse", "--short=12", "HEAD"]) {
        println!("cargo:rustc-env=PARTI_TOP_GIT_REV={revision}");
    }
}
