//! The shipped profiles: every `profiles/*.ron` loads and validates, the seed scenarios keep the
//! shape they reproduce, and every `profiles/invalid/*.ron` fails with the `file:line:col`
//! message its first line announces (`// error: <line>:<col>: <start of the message>`).
//!
//! The shipped profiles write timing presets and strategies as plain identifiers
//! (`Preset(Fast)`, `kind: ConsistentHash`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use parti_top::parti::config::TimingPreset;
use parti_top::profile::load::{hold_time, peak_workers, summary, wait_budget};
use parti_top::profile::{ByteSize, PartitionsSetup, Profile, StartMode, Step, TimingSetup, load};

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles")
}

/// The `.ron` files directly in `dir`, sorted.
fn ron_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
        .collect();
    files.sort();
    files
}

fn shipped(name: &str) -> Profile {
    let path = profiles_dir().join(format!("{name}.ron"));
    load(&path).unwrap_or_else(|err| panic!("{err}"))
}

const SHIPPED: [&str; 13] = [
    "smoke",
    "memory-1w-100p",
    "memory-5w-100p",
    "memory-10w-100p",
    "memory-10w-500p",
    "memory-25w-500p",
    "memory-50w-500p",
    "small-cluster",
    "large-cluster",
    "rapid-scaling",
    "failover",
    "soak-5min",
    "nightly",
];

#[test]
fn every_shipped_profile_loads_and_is_named_after_its_file() {
    let files = ron_files(&profiles_dir());
    for path in &files {
        let profile = load(path).unwrap_or_else(|err| panic!("{err}"));
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("utf-8 name");
        assert_eq!(profile.name, stem, "{}", path.display());
        assert!(
            !profile.description.is_empty(),
            "{} has no description",
            path.display()
        );
        assert!(summary(&profile).starts_with(&format!("{stem}: ")));
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|path| path.file_stem()?.to_str().map(str::to_owned))
        .collect();
    for name in SHIPPED {
        assert!(
            names.iter().any(|n| n == name),
            "profiles/{name}.ron is missing"
        );
    }
}

#[test]
fn shipped_profiles_survive_a_round_trip_through_ron() {
    for name in SHIPPED {
        let profile = shipped(name);
        let text = ron::ser::to_string_pretty(&profile, ron::ser::PrettyConfig::default())
            .expect("serialize");
        let back = parti_top::profile::parse(&text, Path::new("round-trip.ron"))
            .unwrap_or_else(|err| panic!("{name}: {err}\n{text}"));
        assert_eq!(back, profile, "{name}");
    }
}

#[test]
fn every_invalid_profile_fails_where_its_first_line_says() {
    let dir = profiles_dir().join("invalid");
    let files = ron_files(&dir);
    assert!(
        files.len() >= 8,
        "expected the invalid examples in {}",
        dir.display()
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let expected = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("// error: "))
            .unwrap_or_else(|| panic!("{} must start with `// error: `", path.display()));
        let err = load(&path).expect_err(&path.display().to_string());
        let wanted = format!("{}:{expected}", path.display());
        assert!(
            err.problems().any(|line| line.starts_with(&wanted)),
            "{}:\n  expected a line starting with {wanted}\n  got {err}",
            path.display()
        );
    }
}

#[test]
fn smoke_fits_in_a_minute_and_catches_memory_ballast() {
    let smoke = shipped("smoke");
    assert!(hold_time(&smoke.steps) + wait_budget(&smoke.steps) < Duration::from_secs(60));
    assert_eq!(
        smoke.cluster.timing,
        TimingSetup::Preset(TimingPreset::Fast)
    );
    assert_eq!(smoke.cluster.partitions, PartitionsSetup::Count(100));
    assert_eq!(smoke.cluster.hosts, 1);
    assert_eq!(
        smoke
            .steps
            .iter()
            .filter_map(Step::action)
            .map(|a| a.label())
            .collect::<Vec<_>>(),
        ["scale→1", "scale→5", "kill leader", "scale→2"]
    );
    let ballast = ByteSize(256 << 20);
    let thresholds = &smoke.thresholds;
    assert!(thresholds.peak_rss_per_host.expect("rss limit") < ballast);
    assert!(thresholds.peak_live_heap_per_host.expect("heap limit") < ballast);
    assert_eq!(thresholds.peak_rss_per_host, Some(ByteSize(128 << 20)));
    assert_eq!(thresholds.peak_live_heap_per_host, Some(ByteSize(64 << 20)));
    assert_eq!(thresholds.peak_tasks_per_host, Some(2000));
    assert_eq!(thresholds.stabilization, Some(Duration::from_secs(20)));
    assert_eq!(thresholds.max_findings, Some(0));
}

#[test]
fn memory_matrix_reproduces_partis_harness() {
    let cells = [
        (1, 100, "4.93 MB"),
        (5, 100, "5.22 MB"),
        (10, 100, "5.44 MB"),
        (10, 500, "5.44 MB"),
        (25, 500, "5.44 MB"),
        (50, 500, "5.44 MB"),
    ];
    for (workers, partitions, go_peak) in cells {
        let profile = shipped(&format!("memory-{workers}w-{partitions}p"));
        let name = &profile.name;
        assert_eq!(
            profile.cluster.partitions,
            PartitionsSetup::Count(partitions),
            "{name}"
        );
        assert_eq!(
            profile.cluster.timing,
            TimingSetup::Preset(TimingPreset::Integration)
        );
        assert_eq!(profile.cluster.start_mode, StartMode::Serial, "{name}");
        assert_eq!(
            profile.sample_interval,
            Duration::from_millis(500),
            "{name}"
        );
        assert_eq!(peak_workers(&profile.steps), workers, "{name}");
        assert_eq!(
            profile.steps.first(),
            Some(&Step::ScaleTo(workers)),
            "{name}"
        );
        assert_eq!(
            profile.steps.last(),
            Some(&Step::Hold(Duration::from_secs(60))),
            "{name}"
        );
        assert!(
            profile.description.contains(go_peak),
            "{name} must cite {go_peak}"
        );
        // Serial start: a few seconds per worker, so the wait must allow several per worker.
        let wait = wait_budget(&profile.steps);
        assert!(
            wait >= Duration::from_secs(10) * workers as u32,
            "{name}: {wait:?}"
        );
    }
}

#[test]
fn scale_and_failure_profiles_follow_their_scenarios() {
    let scale_targets = |name: &str| -> Vec<usize> {
        shipped(name)
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::ScaleTo(n) => Some(*n),
                _ => None,
            })
            .collect()
    };
    assert_eq!(scale_targets("small-cluster"), [1, 3, 5, 10]);
    assert_eq!(scale_targets("large-cluster"), [10, 25, 50]);
    assert_eq!(scale_targets("rapid-scaling")[..3], [1, 5, 10]);
    assert_eq!(
        shipped("small-cluster").cluster.partitions,
        PartitionsSetup::Count(100)
    );
    assert_eq!(
        shipped("large-cluster").cluster.partitions,
        PartitionsSetup::Count(500)
    );

    let failover = shipped("failover");
    let kills: Vec<&Step> = failover
        .steps
        .iter()
        .filter(|step| matches!(step, Step::KillWorker(_) | Step::KillLeader))
        .collect();
    assert_eq!(kills.len(), 2);
    assert_eq!(failover.cluster.partitions, PartitionsSetup::Count(100));
    assert_eq!(peak_workers(&failover.steps), 10);

    let soak = shipped("soak-5min");
    assert_eq!(soak.cluster.partitions, PartitionsSetup::Count(200));
    assert_eq!(peak_workers(&soak.steps), 20);
    assert!(soak.steps.contains(&Step::Hold(Duration::from_secs(300))));

    let nightly = shipped("nightly");
    assert!(hold_time(&nightly.steps) <= Duration::from_secs(20 * 60));
    assert!(hold_time(&nightly.steps) >= Duration::from_secs(5 * 60));
    assert_eq!(peak_workers(&nightly.steps), 50);
}
