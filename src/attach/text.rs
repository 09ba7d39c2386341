//! The attach state as text for a terminal: the `attach --once` table and the one-line status
//! of the line-by-line (headless) attach. Pure.

use super::judge::{AttachState, Liveness};

/// `850 ms`, `1.5 s`; `—` for none.
pub fn age(ms: Option<u64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
    }
}

/// The `attach --once` report: a summary line, one row per worker, then the findings.
pub fn table(url: &str, state: &AttachState) -> String {
    let mut out = String::new();
    let verdict = if state.is_valid() {
        "valid parti cluster".to_owned()
    } else {
        format!(
            "INVALID parti cluster ({})",
            crate::text::plural(state.findings.len() as u64, "finding")
        )
    };
    out.push_str(&format!(
        "{verdict} at {url}: {} live, {} stale, leader {}, version {}, {} partitions ({} assigned)\n",
        state.live().len(),
        state.stale().len(),
        state.leader.as_deref().unwrap_or("none"),
        state.version,
        state.partitions_known,
        state.partitions_assigned,
    ));
    let id_width = state
        .workers
        .iter()
        .map(|w| w.id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "  {:<id_width$}  {:<5}  {:>9}  {:>10}  {:>7}  leader\n",
        "worker", "state", "heartbeat", "partitions", "version"
    ));
    for w in &state.workers {
        let state_name = match w.state {
            Liveness::Live => "live",
            Liveness::Stale => "STALE",
        };
        let row = format!(
            "  {:<id_width$}  {:<5}  {:>9}  {:>10}  {:>7}  {}",
            w.id,
            state_name,
            age(w.heartbeat_age_ms),
            w.partitions,
            w.assignment_version
                .map_or_else(|| "—".to_owned(), |v| v.to_string()),
            if w.is_leader { "★" } else { "" },
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    for finding in &state.findings {
        out.push_str(&format!("problem: {finding}\n"));
    }
    out
}

/// What the headless attach prints a new line for: the counts, the leader, the version and
/// which problems there are (not their changing figures, such as a stale heartbeat's age).
pub fn status_key(state: &AttachState) -> String {
    let problems: Vec<&str> = state
        .findings
        .iter()
        .map(|f| f.split(": ").next().unwrap_or(f))
        .collect();
    format!(
        "{}/{}/{:?}/{}/{problems:?}",
        state.live().len(),
        state.stale().len(),
        state.leader,
        state.version
    )
}

/// One line for the headless attach: counts, leader, version, and the first finding.
pub fn status_line(state: &AttachState) -> String {
    let mut line = format!(
        "{} live, {} stale, leader {}, version {}",
        state.live().len(),
        state.stale().len(),
        state.leader.as_deref().unwrap_or("none"),
        state.version
    );
    match state.findings.first() {
        None => line.push_str(", valid"),
        Some(first) if state.findings.len() == 1 => line.push_str(&format!(", invalid: {first}")),
        Some(first) => line.push_str(&format!(
            ", invalid: {first} (+{} more)",
            state.findings.len() - 1
        )),
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attach::judge::WorkerKv;

    fn state() -> AttachState {
        let worker = |id: &str, state, age, partitions| WorkerKv {
            id: id.into(),
            state,
            heartbeat_age_ms: age,
            partitions,
            assignment_version: Some(3),
            is_leader: id == "worker-0",
            holds_id: true,
        };
        AttachState {
            workers: vec![
                worker("worker-0", Liveness::Live, Some(420), 50),
                worker("worker-1", Liveness::Stale, None, 50),
            ],
            leader: Some("worker-0".into()),
            version: 3,
            partitions_known: 100,
            partitions_assigned: 50,
            findings: vec!["worker-1 is stale".into()],
            ..AttachState::default()
        }
    }

    #[test]
    fn the_table_names_each_worker_and_problem() {
        let text = table("nats://x:4222", &state());
        assert!(text.starts_with("INVALID parti cluster (1 finding) at nats://x:4222: 1 live, 1 stale, leader worker-0, version 3"), "{text}");
        assert!(
            text.contains("worker-0  live      420 ms          50        3  ★\n"),
            "{text}"
        );
        assert!(
            text.contains("worker-1  STALE          —          50        3\n"),
            "{text}"
        );
        assert!(text.ends_with("problem: worker-1 is stale\n"), "{text}");
        assert_eq!(
            status_line(&state()),
            "1 live, 1 stale, leader worker-0, version 3, invalid: worker-1 is stale"
        );
        assert_eq!(age(Some(1500)), "1.5 s");
    }
}
