//! Reading a profile: RON with strict fields, errors that carry `file:line:col`, value
//! validation (rules in `validate.rs`, positions found by `locate.rs`), and the one-line
//! [`summary`] that `parti-top validate` prints.

#[path = "locate.rs"]
mod locate;
#[path = "validate.rs"]
mod validate;

use crate::text::plural;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{NatsSetup, PartitionsSetup, Profile, StartMode, Step, TimingSetup};

pub use validate::{HOSTS_MAX, PARTITIONS_MAX};

/// A profile that could not be used. `message` has one line per problem; each line starts with
/// `file:line:col: ` where the text has a position for it, else with `file: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProfileError {
    pub path: PathBuf,
    pub message: String,
}

impl ProfileError {
    /// The problems, one per line of the message.
    pub fn problems(&self) -> impl Iterator<Item = &str> {
        self.message.lines()
    }
}

/// Read, parse and validate a profile file.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|err| ProfileError {
        path: path.to_owned(),
        message: format!("{}: cannot read profile: {err}", path.display()),
    })?;
    parse(&text, path)
}

/// Parse and validate profile text; `path` names the source in errors. Only valid profiles
/// come back.
pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
    // Some editors start a UTF-8 file with a byte-order mark; it is not part of the profile.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let profile = options
        .from_str::<Profile>(text)
        .map_err(|err| ProfileError {
            path: path.to_owned(),
            message: format!(
                "{}:{}:{}: {}",
                path.display(),
                err.span.start.line,
                err.span.start.col,
                err.code
            ),
        })?;
    let root = locate::Node::parse(text);
    let mut problems = validate::check(&profile);
    if let Some(root) = &root {
        problems.extend(validate::check_fields(&profile, root));
    }
    report(problems, root.as_ref(), path)?;
    Ok(profile)
}

/// Validate a profile value that has no text of its own (one changed by command-line
/// overrides): every broken rule, one line each, `file: field: message` without positions.
pub fn check(profile: &Profile, path: &Path) -> Result<(), ProfileError> {
    report(validate::check(profile), None, path)
}

/// `Ok` without problems; otherwise every problem on a line of its own, with its position in
/// the text when there is one.
fn report(
    problems: Vec<validate::Problem>,
    root: Option<&locate::Node>,
    path: &Path,
) -> Result<(), ProfileError> {
    if problems.is_empty() {
        return Ok(());
    }
    let mut located: Vec<(Option<locate::Position>, String)> = problems
        .into_iter()
        .map(|problem| {
            let position = root.map(|root| root.locate(&problem.anchor));
            (
                position,
                format!("{}: {}", shown_field(&problem.field), problem.message),
            )
        })
        .collect();
    // Text order, like a compiler; problems without a position keep the schema order.
    located.sort_by_key(|(position, _)| position.map_or((usize::MAX, 0), |p| (p.line, p.col)));
    let lines: Vec<String> = located
        .into_iter()
        .map(|(position, text)| match position {
            Some(position) => format!("{}:{position}: {text}", path.display()),
            None => format!("{}: {text}", path.display()),
        })
        .collect();
    Err(ProfileError {
        path: path.to_owned(),
        message: lines.join("\n"),
    })
}

/// One line describing a profile, e.g. `smoke: 100 partitions, fast timing, consistent-hash,
/// 1 host, 9 steps (up to 5 workers), 3 s of holds + up to 50 s of waits`.
pub fn summary(profile: &Profile) -> String {
    let cluster = &profile.cluster;
    let mut parts = Vec::new();
    parts.push(match &cluster.partitions {
        PartitionsSetup::Count(n) => plural(*n as u64, "partition"),
        PartitionsSetup::List(list) => {
            format!("{} (listed)", plural(list.len() as u64, "partition"))
        }
    });
    parts.push(match &cluster.timing {
        TimingSetup::Preset(preset) => format!("{} timing", preset.name()),
        TimingSetup::Explicit(_) => "explicit timing".to_owned(),
    });
    parts.push(cluster.strategy.kind.name().to_owned());
    if cluster.start_mode == StartMode::Serial {
        parts.push("serial start".to_owned());
    }
    parts.push(plural(u64::from(cluster.hosts), "host"));
    if let NatsSetup::External { url } = &profile.nats {
        parts.push(format!("external NATS {url}"));
    }
    parts.push(format!(
        "{} (up to {})",
        plural(profile.steps.len() as u64, "step"),
        plural(peak_workers(&profile.steps) as u64, "worker")
    ));
    parts.push(format!(
        "{} of holds + up to {} of waits",
        approximate(hold_time(&profile.steps)),
        approximate(wait_budget(&profile.steps))
    ));
    if profile.repeats > 1 {
        parts.push(format!("{} repeats", profile.repeats));
    }
    format!("{}: {}", profile.name, parts.join(", "))
}

/// The time the steps spend on purpose: the `Hold` durations. (A `PauseHost` step resumes its
/// host in the background; the next step starts at once.)
pub fn hold_time(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|step| match step {
            Step::Hold(duration) => *duration,
            _ => Duration::ZERO,
        })
        .sum()
}

/// The longest the steps may wait for stability: the sum of the `WaitStable` timeouts.
pub fn wait_budget(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|step| match step {
            Step::WaitStable { timeout } => *timeout,
            _ => Duration::ZERO,
        })
        .sum()
}

/// The most workers the steps ask for at once.
pub fn peak_workers(steps: &[Step]) -> usize {
    let mut current = 0usize;
    let mut peak = 0usize;
    for step in steps {
        current = match step {
            Step::ScaleTo(n) => *n,
            Step::AddWorkers(n) => current.saturating_add(*n),
            Step::RemoveWorkers(n) => current.saturating_sub(*n),
            Step::KillWorker(_) | Step::StopWorker(_) | Step::KillLeader => {
                current.saturating_sub(1)
            }
            _ => current,
        };
        peak = peak.max(current);
    }
    peak
}

/// A field path as people read it: a step is `step 3` (counted from 1, as progress lines and
/// reports count it), not the list index `steps[2]`.
pub fn shown_field(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("steps[")
        && let Some((index, after)) = rest.split_once(']')
        && let Ok(index) = index.parse::<usize>()
    {
        let after = after.strip_prefix('.').unwrap_or(after);
        return if after.is_empty() {
            format!("step {}", index + 1)
        } else {
            format!("step {} {after}", index + 1)
        };
    }
    field.to_owned()
}

/// `25 s`, `3 min 20 s`, `1 h 5 min`: whole seconds, the two largest units.
fn approximate(duration: Duration) -> String {
    let secs = (duration + Duration::from_millis(500)).as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (hours, minutes, seconds) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text, Path::new("profiles/p.ron"))
            .expect_err("must fail")
            .message
    }

    const MINIMAL: &str = r#"(
    name: "p",
    cluster: (partitions: Count(10)),
    steps: [ScaleTo(1), WaitStable(timeout: "5s")],
)"#;

    #[test]
    fn minimal_profile_takes_the_defaults() {
        let profile = parse(MINIMAL, Path::new("p.ron")).expect("valid");
        assert_eq!(profile.sample_interval, Duration::from_millis(500));
        assert_eq!(profile.quiet_period, Duration::from_secs(2));
        assert_eq!(profile.repeats, 1);
        assert_eq!(profile.cluster.hosts, 1);
        assert_eq!(profile.cluster.worker_id_prefix, "worker");
        assert_eq!(
            (profile.cluster.worker_id_min, profile.cluster.worker_id_max),
            (0, 99)
        );
        assert_eq!(profile.nats, NatsSetup::Managed);
        assert_eq!(profile.thresholds, super::super::Thresholds::default());
        assert_eq!(profile.baseline, None);
    }

    #[test]
    fn syntax_error_carries_line_and_column() {
        let text = "(\n    name: \"p\",\n    cluster: (partitions: Count(10))\n    steps: [],\n)";
        assert_eq!(error(text), "profiles/p.ron:4:5: Expected comma");
    }

    #[test]
    fn unknown_field_carries_line_and_column() {
        let text = MINIMAL.replace("steps:", "bogus: 1,\n    steps:");
        let message = error(&text);
        assert!(
            message.starts_with(
                "profiles/p.ron:4:5: Unexpected field named `bogus` in `Profile`, expected one of"
            ),
            "{message}"
        );
        let nested = MINIMAL.replace("Count(10))", "Count(10), hostz: 2)");
        assert!(
            error(&nested).starts_with(
                "profiles/p.ron:3:38: Unexpected field named `hostz` in `ClusterSetup`"
            ),
            "{}",
            error(&nested)
        );
    }

    #[test]
    fn type_errors_carry_the_position_of_the_value() {
        let text = MINIMAL.replace("\"5s\"", "\"5 parsecs\"");
        assert_eq!(
            error(&text),
            "profiles/p.ron:4:46: invalid duration \"5 parsecs\": unknown unit (examples: 500ms, \
             1.5s, 2m, 1h30m)"
        );
        let variant = MINIMAL.replace("ScaleTo(1)", "ScaleTwo(1)");
        assert!(
            error(&variant).starts_with("profiles/p.ron:4:13: Unexpected variant named `ScaleTwo`"),
            "{}",
            error(&variant)
        );
    }

    #[test]
    fn sizes_and_options_need_no_some() {
        let text = MINIMAL.replace(
            "steps:",
            "thresholds: (peak_rss_per_host: \"256MiB\", stabilization: \"20s\", \
             max_findings: 0),\n    steps:",
        );
        let profile = parse(&text, Path::new("p.ron")).expect("valid");
        assert_eq!(
            profile.thresholds.peak_rss_per_host,
            Some(super::super::ByteSize(256 << 20))
        );
        assert_eq!(
            profile.thresholds.stabilization,
            Some(Duration::from_secs(20))
        );
        assert_eq!(profile.thresholds.max_findings, Some(0));
        let bad_size = MINIMAL.replace(
            "steps:",
            "thresholds: (peak_rss_per_host: \"12 parsecs\"),\n    steps:",
        );
        assert!(
            error(&bad_size).starts_with("profiles/p.ron:4:38: invalid size"),
            "{}",
            error(&bad_size)
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let path = Path::new("/nonexistent/parti-top/p.ron");
        let err = load(path).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "/nonexistent/parti-top/p.ron: cannot read profile: No such file or directory (os \
             error 2)"
        );
        assert_eq!(err.path, path);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_profile() {
        let text = "\u{feff}(name: \"bom\", cluster: (partitions: Count(10)), steps: [ScaleTo(1)])";
        let profile = parse(text, Path::new("bom.ron")).expect("a BOM is skipped");
        assert_eq!(profile.name, "bom");
    }

    #[test]
    fn value_problems_are_listed_in_text_order_with_positions() {
        let text = r#"(
    name: "",
    cluster: (partitions: Count(10), hosts: 0),
    steps: [Hold("0s")],
)"#;
        let err = parse(text, Path::new("p.ron")).expect_err("invalid");
        let problems: Vec<&str> = err.problems().collect();
        assert_eq!(
            problems,
            vec![
                "p.ron:2:11: name: must not be empty",
                "p.ron:3:45: cluster.hosts: 0 is outside the allowed range 1–64",
                "p.ron:4:13: step 1: Hold(\"0s\"): duration must be greater than 0",
            ]
        );
    }

    #[test]
    fn summary_names_the_setup_and_the_scripted_time() {
        let text = r#"(
    name: "smoke",
    cluster: (partitions: Count(100)),
    steps: [
        ScaleTo(1), WaitStable(timeout: "10s"), ScaleTo(5), WaitStable(timeout: "10s"),
        KillLeader, Hold("5s"),
    ],
)"#;
        let profile = parse(text, Path::new("p.ron")).expect("valid");
        assert_eq!(
            summary(&profile),
            "smoke: 100 partitions, fast timing, consistent-hash, 1 host, 6 steps (up to 5 \
             workers), 5 s of holds + up to 20 s of waits"
        );
        let other = r#"(
    name: "other",
    nats: External(url: "nats://127.0.0.1:4222"),
    cluster: (
        partitions: List([(keys: ["a"]), (keys: ["b"])]),
        timing: Explicit((
            worker_id_ttl: "5s", heartbeat_interval: "500ms", heartbeat_ttl: "1.5s",
            cold_start_window: "1s", planned_scale_window: "500ms",
            emergency_grace_period: "750ms", restart_detection_ratio: 0.5,
            election_timeout: "5s", startup_timeout: "30s", min_rebalance_interval: "100ms",
            assignment_ttl: "0s",
        )),
        start_mode: Serial,
        hosts: 2,
    ),
    steps: [ScaleTo(1), PauseHost(host: 1, duration: "2m"), Hold("5s")],
    repeats: 3,
)"#;
        let profile = parse(other, Path::new("p.ron")).expect("valid");
        assert_eq!(
            summary(&profile),
            "other: 2 partitions (listed), explicit timing, consistent-hash, serial start, 2 \
             hosts, external NATS nats://127.0.0.1:4222, 3 steps (up to 1 worker), 5 s of holds \
             + up to 0 s of waits, 3 repeats"
        );
        assert_eq!(approximate(Duration::from_secs(200)), "3 min 20 s");
        assert_eq!(approximate(Duration::from_secs(1200)), "20 min");
        assert_eq!(approximate(Duration::from_secs(3900)), "1 h 5 min");
        assert_eq!(approximate(Duration::from_millis(1400)), "1 s");
    }

    #[test]
    fn peak_workers_follows_the_steps() {
        let steps = [
            Step::ScaleTo(3),
            Step::AddWorkers(4),
            Step::KillLeader,
            Step::ScaleTo(2),
        ];
        assert_eq!(peak_workers(&steps), 7);
        assert_eq!(peak_workers(&[Step::Hold(Duration::from_secs(1))]), 0);
    }
}
