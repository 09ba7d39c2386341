//! One test per validation rule: each builds a profile that breaks exactly that rule and checks
//! the complete message, position included.

use std::path::Path;

use crate::profile::load::parse;

/// A profile text; `top` lines go after `name`, `cluster` lines inside `cluster: (…)` (one per
/// line, starting at column 9), `steps` one per line starting at column 9. With no `top` lines
/// and two `cluster` lines, `cluster` line j is text line 4+j and step i is text line 8+i.
fn profile(top: &[&str], cluster: &[&str], steps: &[&str]) -> String {
    let mut text = String::from("(\n    name: \"base\",\n");
    for line in top {
        text.push_str(&format!("    {line}\n"));
    }
    text.push_str("    cluster: (\n");
    for line in cluster {
        text.push_str(&format!("        {line}\n"));
    }
    text.push_str("    ),\n    steps: [\n");
    for step in steps {
        text.push_str(&format!("        {step},\n"));
    }
    text.push_str("    ],\n)\n");
    text
}

const CLUSTER: [&str; 2] = ["partitions: Count(10),", "hosts: 2,"];
const STEPS: [&str; 3] = ["ScaleTo(3)", "WaitStable(timeout: \"10s\")", "Hold(\"1s\")"];

fn problems(text: &str) -> Vec<String> {
    match parse(text, Path::new("t.ron")) {
        Ok(_) => Vec::new(),
        Err(err) => err.problems().map(str::to_owned).collect(),
    }
}

#[track_caller]
fn assert_problems(text: &str, expected: &[&str]) {
    assert_eq!(problems(text), expected, "\n--- profile ---\n{text}");
}

fn top(lines: &[&str]) -> String {
    profile(lines, &CLUSTER, &STEPS)
}

fn cluster(extra: &[&str]) -> String {
    let lines: Vec<&str> = CLUSTER
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect();
    profile(&[], &lines, &STEPS)
}

fn steps(steps: &[&str]) -> String {
    profile(&[], &CLUSTER, steps)
}

#[test]
fn the_base_profile_is_valid() {
    assert_problems(&profile(&[], &CLUSTER, &STEPS), &[]);
}

#[test]
fn name_must_not_be_empty() {
    let text = top(&[]).replace("\"base\"", "\"  \"");
    assert_problems(&text, &["t.ron:2:11: name: must not be empty"]);
}

#[test]
fn sample_interval_is_between_50ms_and_60s() {
    assert_problems(
        &top(&["sample_interval: \"10ms\","]),
        &["t.ron:3:22: sample_interval: 10ms is outside the allowed range 50ms–1m"],
    );
    assert_problems(
        &top(&["sample_interval: \"61s\","]),
        &["t.ron:3:22: sample_interval: 61s is outside the allowed range 50ms–1m"],
    );
    assert_problems(&top(&["sample_interval: \"50ms\","]), &[]);
    assert_problems(&top(&["sample_interval: \"1m\","]), &[]);
}

#[test]
fn quiet_period_must_be_positive() {
    assert_problems(
        &top(&["quiet_period: \"0s\","]),
        &["t.ron:3:19: quiet_period: must be greater than 0"],
    );
}

#[test]
fn repeats_must_be_at_least_one() {
    assert_problems(
        &top(&["repeats: 0,"]),
        &["t.ron:3:14: repeats: must be at least 1"],
    );
}

#[test]
fn external_nats_needs_a_nats_url() {
    assert_problems(
        &top(&["nats: External(url: \"localhost:4222\"),"]),
        &[
            "t.ron:3:25: nats.url: \"localhost:4222\" must start with nats://, tls://, ws:// or \
             wss://",
        ],
    );
    assert_problems(
        &top(&["nats: External(url: \"nats://\"),"]),
        &["t.ron:3:25: nats.url: \"nats://\" names no host"],
    );
    for url in [
        "nats://127.0.0.1:4222",
        "tls://nats.example:4222",
        "ws://h:80",
        "wss://h",
    ] {
        assert_problems(&top(&[&format!("nats: External(url: {url:?}),")]), &[]);
    }
}

#[test]
fn partitions_count_is_between_1_and_100000() {
    let text = profile(&[], &["partitions: Count(100001),", "hosts: 2,"], &STEPS);
    assert_problems(
        &text,
        &["t.ron:4:21: cluster.partitions: Count(100001): at most 100000 partitions are allowed"],
    );
    let text = profile(&[], &["partitions: Count(100000),", "hosts: 2,"], &STEPS);
    assert_problems(&text, &[]);
}

#[test]
fn partitions_count_must_be_positive() {
    let text = profile(&[], &["partitions: Count(0),", "hosts: 2,"], &STEPS);
    assert_problems(
        &text,
        &["t.ron:4:21: cluster.partitions: Count(0): at least 1 partition is needed"],
    );
}

#[test]
fn partition_lists_need_keys_without_duplicates() {
    let text = profile(
        &[],
        &[
            "partitions: List([",
            "    (keys: [\"a\", \"b\"], weight: 100),",
            "    (keys: []),",
            "    (keys: [\"a b\"], weight: -1),",
            "    (keys: [\"a\", \"b\"]),",
            "]),",
        ],
        &STEPS,
    );
    assert_problems(
        &text,
        &[
            "t.ron:6:20: cluster.partitions[1].keys: must hold at least one key",
            "t.ron:7:20: cluster.partitions[2].keys: key \"a b\" is not a usable NATS subject \
             token (it must be non-empty, without whitespace, '.', '*' or '>')",
            "t.ron:7:37: cluster.partitions[2].weight: -1 must be ≥ 0 (0 means the strategy's \
             default weight)",
            "t.ron:8:20: cluster.partitions[3].keys: [\"a\", \"b\"] duplicates the keys of \
             cluster.partitions[0]",
        ],
    );
    let empty = profile(&[], &["partitions: List([]),"], &STEPS);
    assert_problems(
        &empty,
        &["t.ron:4:21: cluster.partitions: the list is empty: at least 1 partition is needed"],
    );
}

#[test]
fn hosts_are_between_1_and_64() {
    for hosts in ["0", "65"] {
        let text = profile(
            &[],
            &["partitions: Count(10),", &format!("hosts: {hosts},")],
            &STEPS,
        );
        let expected =
            format!("t.ron:5:16: cluster.hosts: {hosts} is outside the allowed range 1–64");
        assert_problems(&text, &[&expected]);
    }
    let text = profile(
        &[],
        &["partitions: Count(10),", "hosts: 4000000000,"],
        &STEPS,
    );
    assert_problems(
        &text,
        &["t.ron:5:16: cluster.hosts: 4000000000 is outside the allowed range 1–64"],
    );
    let text = profile(&[], &["partitions: Count(10),", "hosts: 64,"], &STEPS);
    assert_problems(&text, &[]);
}

#[test]
fn worker_id_range_must_not_be_empty() {
    assert_problems(
        &cluster(&["worker_id_min: 10, worker_id_max: 5,"]),
        &[
            "t.ron:6:24: cluster.worker_id_min: 10 is greater than cluster.worker_id_max (5): \
           the worker ID range is empty",
        ],
    );
}

#[test]
fn worker_id_prefix_is_a_token() {
    for prefix in ["", "a.b", "a b"] {
        let text = cluster(&[&format!("worker_id_prefix: {prefix:?},")]);
        let expected = format!(
            "t.ron:6:27: cluster.worker_id_prefix: {prefix:?} must be non-empty and use only \
             letters, digits, '-' and '_'"
        );
        assert_problems(&text, &[&expected]);
    }
    assert_problems(&cluster(&["worker_id_prefix: \"w_1-x\","]), &[]);
}

const TIMING: [&str; 13] = [
    "timing: Explicit((",
    "    worker_id_ttl: \"5s\",",
    "    heartbeat_interval: \"500ms\",",
    "    heartbeat_ttl: \"900ms\",",
    "    cold_start_window: \"1s\",",
    "    planned_scale_window: \"500ms\",",
    "    emergency_grace_period: \"750ms\",",
    "    restart_detection_ratio: 0.5,",
    "    election_timeout: \"5s\",",
    "    startup_timeout: \"30s\",",
    "    min_rebalance_interval: \"100ms\",",
    "    assignment_ttl: \"0s\",",
    ")),",
];

#[test]
fn explicit_timing_follows_partis_rules() {
    assert_problems(
        &cluster(&TIMING),
        &[
            "t.ron:9:28: cluster.timing: heartbeat_ttl (900ms) must be at least 2 × \
           heartbeat_interval (500ms)",
        ],
    );
    let fixed: Vec<String> = TIMING
        .iter()
        .map(|line| line.replace("900ms", "1.5s"))
        .collect();
    let fixed: Vec<&str> = fixed.iter().map(String::as_str).collect();
    assert_problems(&cluster(&fixed), &[]);
}

#[test]
fn strategy_parameters_are_checked() {
    assert_problems(
        &cluster(&["strategy: (virtual_nodes: 0),"]),
        &["t.ron:6:35: cluster.strategy: virtual_nodes must be at least 1 for consistent-hash"],
    );
}

#[test]
fn steps_must_not_be_empty() {
    assert_problems(
        &steps(&[]),
        &["t.ron:7:12: steps: the list is empty: at least one step is needed"],
    );
}

#[test]
fn scaling_beyond_the_worker_id_pool_is_refused() {
    assert_problems(
        &steps(&["ScaleTo(101)"]),
        &[
            "t.ron:8:9: step 1: ScaleTo(101) needs 101 workers, but the worker ID range \
           worker-0…worker-99 has only 100 IDs (raise cluster.worker_id_max)",
        ],
    );
    assert_problems(
        &steps(&["ScaleTo(3)", "AddWorkers(97)", "AddWorkers(1)"]),
        &[
            "t.ron:10:9: step 3: AddWorkers(1) brings the cluster to 101 workers, but the \
           worker ID range worker-0…worker-99 has only 100 IDs (raise cluster.worker_id_max)",
        ],
    );
    assert_problems(&steps(&["ScaleTo(100)"]), &[]);
    let huge = steps(&["ScaleTo(1)", "AddWorkers(18446744073709551615)"]);
    assert_eq!(problems(&huge).len(), 1, "{:?}", problems(&huge));
}

#[test]
fn kills_free_room_in_the_pool() {
    let small = |list: &[&str]| {
        let lines = [
            "partitions: Count(10),",
            "hosts: 2,",
            "worker_id_min: 1, worker_id_max: 5,",
        ];
        profile(&[], &lines, list)
    };
    assert_problems(&small(&["ScaleTo(5)", "KillLeader", "AddWorkers(1)"]), &[]);
    assert_problems(
        &small(&["ScaleTo(5)", "StopWorker(Any)", "AddWorkers(2)"]),
        &[
            "t.ron:11:9: step 3: AddWorkers(2) brings the cluster to 6 workers, but the worker \
           ID range worker-1…worker-5 has only 5 IDs (raise cluster.worker_id_max)",
        ],
    );
}

#[test]
fn removing_more_workers_than_run_is_refused() {
    assert_problems(
        &steps(&["ScaleTo(3)", "RemoveWorkers(4)"]),
        &["t.ron:9:9: step 2: RemoveWorkers(4) removes more workers than run here (at most 3)"],
    );
    assert_problems(
        &steps(&["ScaleTo(3)", "RemoveWorkers(0)", "AddWorkers(0)"]),
        &[
            "t.ron:9:9: step 2: RemoveWorkers(0) removes no workers",
            "t.ron:10:9: step 3: AddWorkers(0) adds no workers",
        ],
    );
}

#[test]
fn kill_and_stop_need_a_matching_worker() {
    assert_problems(
        &steps(&["KillLeader", "ScaleTo(1)"]),
        &["t.ron:8:9: step 1: KillLeader: no worker runs at this point"],
    );
    assert_problems(
        &steps(&["ScaleTo(1)", "KillWorker(AnyFollower)"]),
        &[
            "t.ron:9:9: step 2: KillWorker(AnyFollower): needs a follower, but at most 1 worker \
           runs here",
        ],
    );
    assert_problems(
        &steps(&[
            "ScaleTo(3)",
            "KillWorker(Id(\"worker-100\"))",
            "StopWorker(Id(\"other-1\"))",
            "StopWorker(Id(\"worker-01\"))",
        ]),
        &[
            "t.ron:9:9: step 2: KillWorker(Id(\"worker-100\")): \"worker-100\" is not in the \
             worker ID range worker-0…worker-99",
            "t.ron:10:9: step 3: StopWorker(Id(\"other-1\")): \"other-1\" is not in the worker \
             ID range worker-0…worker-99",
            "t.ron:11:9: step 4: StopWorker(Id(\"worker-01\")): \"worker-01\" is not in the \
             worker ID range worker-0…worker-99",
        ],
    );
    assert_problems(
        &steps(&[
            "ScaleTo(3)",
            "KillWorker(Id(\"worker-99\"))",
            "StopWorker(Any)",
        ]),
        &[],
    );
}

#[test]
fn host_indices_must_exist() {
    assert_problems(
        &steps(&[
            "ScaleTo(3)",
            "KillHost(2)",
            "PauseHost(host: 5, duration: \"1s\")",
        ]),
        &[
            "t.ron:9:9: step 2: KillHost(2): host 2 does not exist (cluster.hosts is 2; \
             valid: 0–1)",
            "t.ron:10:9: step 3: PauseHost(host:5,duration:\"1s\"): host 5 does not exist \
             (cluster.hosts is 2; valid: 0–1)",
        ],
    );
    assert_problems(
        &steps(&[
            "ScaleTo(3)",
            "KillHost(1)",
            "PauseHost(host: 0, duration: \"1s\")",
        ]),
        &[],
    );
}

#[test]
fn killed_hosts_stay_down() {
    // 2 hosts, 3 workers: the killed host held some of them, so at most 3 remain.
    assert_problems(
        &steps(&["ScaleTo(3)", "KillHost(0)", "RemoveWorkers(3)"]),
        &[],
    );
    assert_problems(
        &steps(&["ScaleTo(3)", "KillHost(0)", "RemoveWorkers(4)"]),
        &["t.ron:10:9: step 3: RemoveWorkers(4) removes more workers than run here (at most 3)"],
    );
    assert_problems(
        &steps(&[
            "ScaleTo(3)",
            "KillHost(0)",
            "PauseHost(host: 0, duration: \"1s\")",
            "KillHost(0)",
        ]),
        &[
            "t.ron:10:9: step 3: PauseHost(host:0,duration:\"1s\"): host 0 was killed by \
             step 2",
            "t.ron:11:9: step 4: KillHost(0): host 0 was killed by step 2",
        ],
    );
    // With every host killed no worker is left and none can start.
    assert_problems(
        &steps(&[
            "ScaleTo(3)",
            "KillHost(1)",
            "KillHost(0)",
            "Hold(\"5s\")",
            "AddWorkers(1)",
        ]),
        &["t.ron:12:9: step 5: AddWorkers(1): every host has been killed"],
    );
    let single = profile(
        &[],
        &["partitions: Count(10),"],
        &["ScaleTo(3)", "KillHost(0)", "ScaleTo(0)", "ScaleTo(2)"],
    );
    assert_problems(
        &single,
        &["t.ron:10:9: step 4: ScaleTo(2): every host has been killed"],
    );
}

#[test]
fn adding_after_a_host_kill_counts_only_certain_workers() {
    // After the kill between 0 and 5 workers remain; adding 5 fits the pool of 5 only if the
    // killed host held some, so it is not reported.
    let lines = ["partitions: Count(10),", "hosts: 2,", "worker_id_max: 4,"];
    assert_problems(
        &profile(&[], &lines, &["ScaleTo(5)", "KillHost(1)", "AddWorkers(5)"]),
        &[],
    );
    assert_problems(
        &profile(&[], &lines, &["ScaleTo(5)", "KillHost(1)", "AddWorkers(6)"]),
        &[
            "t.ron:11:9: step 3: AddWorkers(6) brings the cluster to at least 6 workers, but \
             the worker ID range worker-0…worker-4 has only 5 IDs (raise cluster.worker_id_max)",
        ],
    );
}

#[test]
fn pause_needs_a_duration() {
    assert_problems(
        &steps(&["ScaleTo(3)", "PauseHost(host: 1, duration: \"0s\")"]),
        &[
            "t.ron:9:38: step 2: PauseHost(host:1,duration:\"0s\"): duration must be greater \
             than 0",
        ],
    );
}

#[test]
fn restart_nats_needs_a_managed_server() {
    let text = profile(
        &["nats: External(url: \"nats://127.0.0.1:4222\"),"],
        &CLUSTER,
        &["ScaleTo(3)", "RestartNats"],
    );
    assert_problems(
        &text,
        &[
            "t.ron:10:9: step 2: RestartNats needs a single managed nats-server (a cluster's \
             nodes are killed with KillNatsNode)",
        ],
    );
    assert_problems(&steps(&["ScaleTo(3)", "RestartNats"]), &[]);
}

#[test]
fn marks_need_a_label() {
    assert_problems(
        &steps(&["ScaleTo(3)", "Mark(\" \")"]),
        &["t.ron:9:9: step 2: Mark needs a non-empty label"],
    );
}

#[test]
fn wait_stable_needs_a_timeout() {
    assert_problems(
        &steps(&["ScaleTo(3)", "WaitStable(timeout: \"0s\")"]),
        &["t.ron:9:29: step 2: WaitStable(timeout:\"0s\"): timeout must be greater than 0"],
    );
    // A cluster with no worker is never stable: waiting for it is refused (docs/profiles.md).
    assert_problems(
        &steps(&["ScaleTo(2)", "ScaleTo(0)", "WaitStable(timeout: \"5s\")"]),
        &[
            "t.ron:10:9: step 3: WaitStable(timeout:\"5s\"): no worker runs here, and a cluster \
           with none is never stable (let the workers stop with Hold instead)",
        ],
    );
    assert_problems(
        &steps(&["WaitStable(timeout: \"5s\")", "ScaleTo(1)"]),
        &[
            "t.ron:8:9: step 1: WaitStable(timeout:\"5s\"): no worker runs here, and a cluster \
           with none is never stable (let the workers stop with Hold instead)",
        ],
    );
}

#[test]
fn hold_needs_a_duration() {
    assert_problems(
        &steps(&["ScaleTo(3)", "Hold(\"0s\")"]),
        &["t.ron:9:9: step 2: Hold(\"0s\"): duration must be greater than 0"],
    );
}

#[test]
fn thresholds_must_not_be_zero_when_set() {
    let text = top(&[
        "thresholds: (",
        "    peak_rss_per_host: \"0MiB\",",
        "    peak_live_heap_per_host: 0,",
        "    peak_tasks_per_host: 0,",
        "    stabilization: \"0s\",",
        "    max_findings: 0,",
        "),",
    ]);
    let message = "must be greater than 0 when set (leave it out for no limit)";
    assert_problems(
        &text,
        &[
            &format!("t.ron:4:28: thresholds.peak_rss_per_host: {message}"),
            &format!("t.ron:5:34: thresholds.peak_live_heap_per_host: {message}"),
            &format!("t.ron:6:30: thresholds.peak_tasks_per_host: {message}"),
            &format!("t.ron:7:24: thresholds.stabilization: {message}"),
        ],
    );
}

#[test]
fn baselines_need_a_recording_and_sane_tolerances() {
    let text = top(&[
        "baseline: (",
        "    recording: \"\",",
        "    tolerances: (memory_relative: -0.1, duration_relative: inf, tasks_relative: NaN),",
        "),",
    ]);
    assert_problems(
        &text,
        &[
            "t.ron:4:20: baseline.recording: must name a recording file",
            "t.ron:5:39: baseline.tolerances.memory_relative: -0.1 must be a finite number ≥ 0 \
             (0.1 means +10 %)",
            "t.ron:5:64: baseline.tolerances.duration_relative: inf must be a finite number ≥ 0 \
             (0.1 means +10 %)",
            "t.ron:5:85: baseline.tolerances.tasks_relative: NaN must be a finite number ≥ 0 \
             (0.1 means +10 %)",
        ],
    );
    let good = top(&["baseline: (recording: \"../recordings/smoke.ron\"),"]);
    assert_problems(&good, &[]);
}

#[test]
fn unknown_fields_of_variants_and_partitions_are_errors() {
    let text = profile(
        &["nats: External(url: \"nats://h:4222\", user: \"x\"),"],
        &["partitions: List([(keys: [\"a\"], wieght: 5)]),"],
        &[
            "ScaleTo(1)",
            "WaitStable(timeout: \"5s\", extra: 1)",
            "PauseHost(host: 0, duration: \"1s\", signal: 19)",
        ],
    );
    assert_problems(
        &text,
        &[
            "t.ron:3:48: nats: unknown field `user`; External takes only `url`",
            "t.ron:5:49: cluster.partitions[0]: unknown field `wieght`; a partition takes only \
             `keys` and `weight`",
            "t.ron:9:42: step 2: unknown field `extra`; WaitStable takes only `timeout`",
            "t.ron:10:52: step 3: unknown field `signal`; PauseHost takes only `host` and \
             `duration`",
        ],
    );
}
