//! Tests of [`super::render`]: its output read back by a strict parser of the text format
//! ([`super::exposition_parser`]) for figures with awkward values, and the renderer's own
//! promises (order, escaping, units, no NaN).

use std::collections::BTreeMap;
use std::time::Duration;

use super::exposition_parser::{parse, value};

use super::figures::{
    ClusterFigures, EventFigures, Figures, ProcessFigures, WorkerFigures, check_names,
};
use super::render::render;
use crate::parti::state::State;

fn worker(id: Option<&str>, state: Option<State>, partitions: usize) -> WorkerFigures {
    WorkerFigures {
        worker_id: id.map(str::to_owned),
        state,
        partitions,
        assignment_version: Some(3),
        heartbeat_age: Some(Duration::from_millis(250)),
    }
}

fn awkward() -> Figures {
    Figures {
        mode: "headless".into(),
        run_id: Some("ab\"c\\d\ne".into()),
        cluster: ClusterFigures {
            workers: vec![
                worker(Some("w-1"), Some(State::Stable), 7),
                worker(Some("w-0"), Some(State::Degraded), 3),
                worker(Some("w-1"), Some(State::Scaling), 9),
                worker(None, Some(State::ClaimingId), 0),
                worker(Some("quote\"back\\slash\nnl"), None, 1),
            ],
            leader: Some("w-9".into()),
            leader_changes: 4,
            assignment_version: Some(3),
            stable: Some(false),
        },
        findings: BTreeMap::from([("single-owner".into(), 2), ("unknown".into(), 1)]),
        events: EventFigures {
            by_outcome: BTreeMap::from([("stabilized".into(), 5)]),
            last_stabilization: Some(Duration::from_millis(1250)),
        },
        processes: vec![
            ProcessFigures {
                process: "nats-server".into(),
                rss_bytes: 50 << 20,
                live_heap_bytes: None,
                tasks: None,
                workers: None,
                cpu_seconds: Some(f64::NAN),
            },
            ProcessFigures {
                process: "host-0".into(),
                rss_bytes: 20 << 20,
                live_heap_bytes: Some(1 << 20),
                tasks: Some(40),
                workers: Some(4),
                cpu_seconds: Some(1.5),
            },
            ProcessFigures {
                process: "host-0".into(),
                rss_bytes: 1,
                ..ProcessFigures::default()
            },
        ],
    }
}

#[test]
fn every_line_parses_strictly_and_no_series_repeats() {
    let text = render(&awkward());
    let samples = parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert!(samples.len() > 40, "{text}");
    assert!(!text.contains("NaN"), "{text}");
}

#[test]
fn empty_figures_parse_and_declare_every_family() {
    let text = render(&Figures::default());
    let samples = parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert_eq!(families, 19, "{text}");
    // Every state and every check counted, as 0.
    assert_eq!(
        value(&samples, "parti_workers", &[("state", "Stable")]),
        Some(0.0)
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "parti_top_findings_total")
            .count(),
        check_names().len()
    );
    assert_eq!(value(&samples, "parti_assignment_version", &[]), None);
}

#[test]
fn label_values_are_escaped_and_read_back_unchanged() {
    let samples = parse(&render(&awkward())).expect("parses");
    let odd = "quote\"back\\slash\nnl";
    assert_eq!(
        value(&samples, "parti_assigned_partitions", &[("worker_id", odd)]),
        Some(1.0)
    );
    let info = samples
        .iter()
        .find(|s| s.name == "parti_top_info")
        .expect("info");
    assert_eq!(info.labels["run_id"], "ab\"c\\d\ne");
}

#[test]
fn workers_are_counted_by_state_and_a_repeated_id_keeps_its_first_worker() {
    let samples = parse(&render(&awkward())).expect("parses");
    let by_state = |state| value(&samples, "parti_workers", &[("state", state)]);
    assert_eq!(by_state("Stable"), Some(1.0));
    assert_eq!(by_state("Scaling"), Some(1.0));
    assert_eq!(by_state("ClaimingID"), Some(1.0));
    assert_eq!(by_state("unknown"), Some(1.0));
    assert_eq!(
        value(
            &samples,
            "parti_assigned_partitions",
            &[("worker_id", "w-1")]
        ),
        Some(7.0)
    );
    assert_eq!(
        value(
            &samples,
            "parti_worker_state",
            &[("worker_id", "w-1"), ("state", "Stable")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "parti_degraded_mode", &[("worker_id", "w-0")]),
        Some(1.0)
    );
}

#[test]
fn the_leader_is_flagged_even_when_no_worker_reports_it() {
    let samples = parse(&render(&awkward())).expect("parses");
    let leaders: Vec<_> = samples
        .iter()
        .filter(|s| s.name == "parti_is_leader" && s.value == 1.0)
        .map(|s| s.labels["worker_id"].clone())
        .collect();
    assert_eq!(leaders, ["w-9"]);
    assert_eq!(
        value(&samples, "parti_is_leader", &[("worker_id", "w-0")]),
        Some(0.0)
    );
    assert_eq!(
        value(&samples, "parti_leader_changes_total", &[]),
        Some(4.0)
    );
}

#[test]
fn units_are_seconds_and_bytes() {
    let samples = parse(&render(&awkward())).expect("parses");
    assert_eq!(
        value(
            &samples,
            "parti_heartbeat_age_seconds",
            &[("worker_id", "w-0")]
        ),
        Some(0.25)
    );
    assert_eq!(
        value(&samples, "parti_top_last_event_stabilization_seconds", &[]),
        Some(1.25)
    );
    assert_eq!(
        value(
            &samples,
            "parti_top_process_resident_memory_bytes",
            &[("process", "host-0")]
        ),
        Some(f64::from(20u32 << 20))
    );
    assert_eq!(
        value(
            &samples,
            "parti_top_process_cpu_seconds_total",
            &[("process", "host-0")]
        ),
        Some(1.5)
    );
    // The NaN CPU figure of nats-server is left out, its memory is not.
    assert_eq!(
        value(
            &samples,
            "parti_top_process_cpu_seconds_total",
            &[("process", "nats-server")]
        ),
        None
    );
    assert!(
        value(
            &samples,
            "parti_top_process_resident_memory_bytes",
            &[("process", "nats-server")]
        )
        .is_some()
    );
    assert_eq!(
        value(
            &samples,
            "parti_top_findings_total",
            &[("check", "unknown")]
        ),
        Some(1.0)
    );
}

#[test]
fn the_order_does_not_depend_on_the_order_workers_come_in() {
    let figures = awkward();
    let mut reversed = figures.clone();
    reversed.cluster.workers.reverse();
    // The repeated w-1 keeps its first worker, which reversing changes: drop it first.
    let mut a = figures.clone();
    a.cluster.workers.remove(2);
    reversed.cluster.workers.retain(|w| w.partitions != 9);
    assert_eq!(render(&a), render(&reversed));
    let text = render(&a);
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("parti_assigned_partitions{"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
}

#[test]
fn the_parser_rejects_what_prometheus_would() {
    let bad = [
        "x 1\n",                                                         // no HELP/TYPE
        "# HELP x h\n# TYPE x gauge\nx NaN\n",                           // NaN
        "# HELP x h\n# TYPE x counter\nx 1\n",                           // counter without _total
        "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",      // duplicate
        "# HELP x h\n# TYPE x gauge\nx{a=\"\\q\"} 1\n",                  // bad escape
        "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\nx 1\n", // not contiguous
        "# HELP x h\n# TYPE x gauge\nx 1",                               // no final line feed
    ];
    for text in bad {
        assert!(parse(text).is_err(), "accepted {text:?}");
    }
    assert!(parse("# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"b\",} 3\n").is_ok());
}
