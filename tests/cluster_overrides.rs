//! The cluster flags of a run (`--workers`, `--partitions`, `--timing`, `--hosts`,
//! `--strategy`) end to end: the real binary runs a shipped profile with them, and the
//! recording holds the profile that actually ran.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use parti_top::action::Action;
use parti_top::parti::config::TimingPreset;
use parti_top::profile::{PartitionsSetup, TimingSetup};
use parti_top::record::format::TimelineEntry;
use parti_top::record::io::load;

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(format!("{name}.ron"))
}

fn headless(profile: &Path, record: &Path, flags: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--headless", "--json", "--profile"])
        .arg(profile)
        .arg("--record")
        .arg(record)
        .args(flags)
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run parti-top")
}

#[test]
fn flags_override_the_profiles_cluster_and_the_recording_keeps_what_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("run.ron");
    let output = headless(
        &shipped("default"),
        &record,
        &["--workers", "2", "--partitions", "20", "--timing", "fast"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    let recording = load(&record).expect("recording");
    let profile = &recording.header.profile;
    assert_eq!(profile.cluster.partitions, PartitionsSetup::Count(20));
    assert_eq!(
        profile.cluster.timing,
        TimingSetup::Preset(TimingPreset::Fast)
    );
    assert!(
        profile.description.contains("--workers 2 --partitions 20"),
        "{}",
        profile.description
    );
    let actions: Vec<&Action> = recording
        .timeline
        .iter()
        .filter_map(|entry| match entry {
            TimelineEntry::Action(record) => Some(&record.action),
            TimelineEntry::Step(_) => None,
        })
        .collect();
    assert_eq!(actions, [&Action::ScaleTo(2)]);
    let summary = recording.summary.as_ref().expect("summary");
    assert_eq!(summary.events.len(), 1);
    assert_eq!(summary.events[0].workers_after, 2);
}

#[test]
fn impossible_flags_exit_2_naming_the_flag_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("never.ron");
    for (flags, expected) in [
        (
            &["--partitions", "0"][..],
            "--partitions 0: must be between 1 and 100000",
        ),
        (
            &["--workers", "500"][..],
            "--workers 500: more workers than",
        ),
        (&["--timing", "warp"][..], "--timing"),
        // failover crashes a follower: a cluster of one has none.
        (
            &["--workers", "1"][..],
            "with --workers 1: step 4: KillWorker(AnyFollower)",
        ),
    ] {
        let output = headless(&shipped("failover"), &record, flags);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
    assert!(
        !record.exists(),
        "nothing is recorded for a run that could not start"
    );
}
