//! The commands that read recordings and start nothing, run as the built binary on recordings
//! written here: `parti-top diff A.ron B.ron` (exit 0 same, 1 regressed, 2 different setups
//! unless --force or unreadable input; JSON; machines side by side; HTML) and `parti-top report
//! R.ron --html OUT.html`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use parti_top::action::{Action, ActionSource, WorkerTarget};
use parti_top::observation::{
    ActionRecord, FirstAssignment, Measurement, Observation, ProcessKind, ProcessSample, Sample,
};
use parti_top::record::format::{Header, Machine, Recording, RunMode};
use parti_top::record::io::save_atomic;
use parti_top::report::summarize;

const MIB: u64 = 1024 * 1024;

/// The figures that differ between the recordings of these tests.
#[derive(Clone)]
struct Run {
    partitions: usize,
    rss_mib: u64,
    kill_ms: u64,
    cores: u32,
    run_id: &'static str,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            partitions: 100,
            rss_mib: 40,
            kill_ms: 5000,
            cores: 2,
            run_id: "run-a",
        }
    }
}

fn measurement(event: usize, action: Action, t_start_ms: u64, stab_ms: u64) -> Measurement {
    Measurement {
        event,
        action,
        t_start_ms,
        stabilization_ms: Some(stab_ms),
        first_assignments: vec![FirstAssignment {
            worker_id: "worker-0".into(),
            after_ms: 300,
        }],
        quiescence_ms: Some(stab_ms + 500),
        versions_published: 2,
        versions_to_stable: None,
        moved_partitions: 20,
        moved_percent: 20.0,
        balance: Some(1.25),
        workers_before: 0,
        workers_after: 5,
        superseded_by: None,
        leader_changed: Some(event == 1),
    }
}

/// A complete two-event recording (scale to 5, kill the leader) with one host and nats-server.
fn recording(run: &Run) -> Recording {
    let text = format!(
        "(name: \"diffed\", cluster: (partitions: Count({})), steps: [ScaleTo(5), \
         WaitStable(timeout: \"10s\"), KillLeader, WaitStable(timeout: \"20s\")])",
        run.partitions
    );
    let profile = parti_top::profile::parse(&text, Path::new("diffed.ron")).expect("profile");
    let header = Header {
        format_version: parti_top::record::FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        git_revision: Some("0123456789ab".into()),
        machine: Machine {
            cores: run.cores,
            memory_bytes: 8192 * MIB,
            kernel: "6.8.0-test".into(),
            cpu_model: "Test CPU".into(),
            hostname: "box".into(),
        },
        nats_server_version: Some("2.15.1".into()),
        mode: RunMode::Headless,
        seed: 0,
        profile,
        started_at: "2025-06-01T12:00:00.000Z".into(),
        run_id: run.run_id.into(),
    };
    let mut recording = Recording::new(header);
    let actions = [
        (0, Action::ScaleTo(5), 0, 1200),
        (
            1,
            Action::KillWorker(WorkerTarget::Leader),
            5000,
            run.kill_ms,
        ),
    ];
    for (index, (event, action, t_ms, stab_ms)) in actions.into_iter().enumerate() {
        recording.push(Observation::Action(ActionRecord {
            t_ms,
            action: action.clone(),
            source: ActionSource::Profile { step: index * 2 },
            error: None,
        }));
        recording.push(Observation::Measurement(measurement(
            event, action, t_ms, stab_ms,
        )));
    }
    for (t_ms, rss_mib) in [(500, 30), (3000, run.rss_mib), (9000, 35)] {
        recording.push(Observation::Sample(Sample {
            t_ms,
            load: None,
            processes: vec![
                ProcessSample {
                    process: ProcessKind::Host(0),
                    pid: 100,
                    rss_bytes: rss_mib * MIB,
                    live_heap_bytes: Some(8 * MIB),
                    tasks: Some(120),
                    workers: Some(5),
                    cpu_percent: Some(10.0),
                },
                ProcessSample {
                    process: ProcessKind::NatsServer,
                    pid: 50,
                    rss_bytes: 20 * MIB,
                    live_heap_bytes: None,
                    tasks: None,
                    workers: None,
                    cpu_percent: Some(3.0),
                },
            ],
        }));
    }
    let thresholds = recording.header.profile.thresholds.clone();
    recording.summary = Some(summarize(&recording, &thresholds, 0));
    recording
}

fn write(dir: &Path, name: &str, run: &Run) -> PathBuf {
    let path = dir.join(name);
    save_atomic(&recording(run), &path).expect("save");
    path
}

fn parti_top(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parti-top"))
        .args(args)
        .output()
        .expect("run parti-top")
}

fn diff(args: &[&Path]) -> (i32, String, String) {
    let mut all: Vec<&Path> = vec![Path::new("diff")];
    all.extend_from_slice(args);
    let output = parti_top(&all);
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The last four cells (A, B, change, verdict) of the table row of `metric`.
fn row<'a>(table: &'a str, metric: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.trim_start().starts_with(metric))
        .unwrap_or_else(|| panic!("no row {metric:?} in\n{table}"));
    let cells: Vec<&str> = line[line.find(metric).unwrap_or(0) + metric.len()..]
        .split_whitespace()
        .collect();
    cells
}

#[test]
fn the_same_run_is_within_noise_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.ron", &Run::default());
    let b = write(
        dir.path(),
        "b.ron",
        &Run {
            run_id: "run-b",
            ..Run::default()
        },
    );
    let (code, stdout, stderr) = diff(&[&a, &b]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("A: "), "{stdout}");
    assert!(
        stdout.contains("run run-b of diffed, started 2025-06-01T12:00:00.000Z"),
        "{stdout}"
    );
    assert_eq!(
        row(&stdout, "peak RSS of host 0"),
        ["40MiB", "40MiB", "+0.0%", "within-noise"]
    );
    assert!(
        stdout
            .contains("verdict: B is within noise of A or better (7 metrics compared, 0 improved)"),
        "{stdout}"
    );
    assert!(!stdout.contains("machines differ"), "{stdout}");
}

#[test]
fn a_regressed_stabilization_and_rss_peak_exit_1_naming_the_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.ron", &Run::default());
    let worse = Run {
        rss_mib: 60,
        kill_ms: 9000,
        run_id: "run-b",
        ..Run::default()
    };
    let b = write(dir.path(), "b.ron", &worse);
    let (code, stdout, stderr) = diff(&[&a, &b]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(
        row(&stdout, "peak RSS of host 0"),
        ["40MiB", "60MiB", "+50.0%", "regressed"]
    );
    assert_eq!(
        row(&stdout, "stabilization of event 2 (kill leader)"),
        ["5s", "9s", "+80.0%", "regressed"]
    );
    assert!(
        stderr.contains(
            "B regressed against A: peak RSS of host 0, stabilization of event 2 (kill leader), \
             quiescence of event 2 (kill leader)"
        ),
        "{stderr}"
    );
    // Improvements are not regressions: the other way round passes.
    let (code, stdout, _) = diff(&[&b, &a]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("improved"), "{stdout}");
}

#[test]
fn different_setups_are_refused_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.ron", &Run::default());
    let other = Run {
        partitions: 200,
        run_id: "run-b",
        ..Run::default()
    };
    let b = write(dir.path(), "b.ron", &other);
    let (code, stdout, stderr) = diff(&[&a, &b]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("the setups differ (partitions: 200 here, 100 in the baseline)")
            && stderr.contains("--force"),
        "{stderr}"
    );
    let (code, stdout, stderr) = diff(&[&a, &b, Path::new("--force")]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("compared because of --force"), "{stdout}");
    let worse = Run {
        rss_mib: 80,
        ..other
    };
    let b = write(dir.path(), "b2.ron", &worse);
    let (code, stdout, stderr) = diff(&[&a, &b, Path::new("--force")]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
}

#[test]
fn a_truncated_or_missing_file_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.ron", &Run::default());
    let text = std::fs::read_to_string(&a).expect("read");
    let cut = dir.path().join("cut.ron");
    std::fs::write(&cut, &text[..text.len() / 2]).expect("write");
    let (code, stdout, stderr) = diff(&[&a, &cut]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{}:", cut.display()))
            && stderr.contains("the recording is truncated (incomplete)"),
        "{stderr}"
    );
    let missing = dir.path().join("missing.ron");
    let (code, _, stderr) = diff(&[&missing, &a]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot read recording"), "{stderr}");
}

#[test]
fn json_goes_to_stdout_and_the_machines_are_shown_side_by_side_when_they_differ() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.ron", &Run::default());
    let elsewhere = Run {
        cores: 16,
        kill_ms: 9000,
        run_id: "run-b",
        ..Run::default()
    };
    let b = write(dir.path(), "b.ron", &elsewhere);
    let (code, stdout, stderr) = diff(&[&a, &b, Path::new("--json")]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(value["schema"], "parti-top/diff/1");
    assert_eq!(value["verdict"], "fail");
    assert_eq!(value["machines_differ"], true);
    assert_eq!(value["a"]["machine"]["cores"], 2);
    assert_eq!(value["b"]["machine"]["cores"], 16);
    assert_eq!(value["b"]["run_id"], "run-b");
    let metric = value["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == "stabilization of event 2 (kill leader)")
        .expect("compared");
    assert_eq!(metric["a"], 5000);
    assert_eq!(metric["b"], 9000);
    assert_eq!(metric["verdict"], "regressed");
    // The table goes to stderr, with the machines side by side.
    assert!(stderr.contains("the machines differ"), "{stderr}");
    assert_eq!(row(&stderr, "cores"), ["2", "16", "≠"], "{stderr}");
    assert_eq!(
        row(&stderr, "kernel"),
        ["6.8.0-test", "6.8.0-test"],
        "{stderr}"
    );
}

#[test]
fn html_pages_are_written_for_a_diff_and_a_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.ron", &Run::default());
    let b = write(
        dir.path(),
        "b.ron",
        &Run {
            run_id: "run-b",
            ..Run::default()
        },
    );
    let page = dir.path().join("diff.html");
    std::fs::write(&page, "an older report").expect("write");
    let (code, _, stderr) = diff(&[&a, &b, Path::new("--html"), &page]);
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.starts_with("<!DOCTYPE html>"), "replaced: {html}");
    assert!(html.contains("A: host 0") && html.contains("B: host 0"));

    let report = dir.path().join("report.html");
    let output = parti_top(&[Path::new("report"), &a, Path::new("--html"), &report]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let html = std::fs::read_to_string(&report).expect("page");
    assert!(
        html.contains("parti-top report: diffed (run run-a)"),
        "{html}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("verdict: PASS"));

    // An autosave without a summary still renders, saying so.
    let mut partial = recording(&Run::default());
    partial.summary = None;
    let autosave = dir.path().join("autosave.ron");
    save_atomic(&partial, &autosave).expect("save");
    let output = parti_top(&[Path::new("report"), &autosave, Path::new("--html"), &report]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no summary"));
    assert!(
        std::fs::read_to_string(&report)
            .expect("page")
            .contains("INCOMPLETE")
    );

    // Bad input: exit 2, and nothing written.
    let garbage = dir.path().join("garbage.ron");
    std::fs::write(&garbage, "(header: oops").expect("write");
    let nothing = dir.path().join("nothing.html");
    let output = parti_top(&[Path::new("report"), &garbage, Path::new("--html"), &nothing]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(!nothing.exists());
}
