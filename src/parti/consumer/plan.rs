//! The pure decisions of the consumers: the update plan of a worker's consumer (no-op,
//! apply, or an error), the subject guardrail, the classification of server and iterator
//! errors, and the window that escalates repeated iterator failures.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::ConsumerError;

/// What the server holds for a worker's consumer after the last successful apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub worker_id: String,
    pub filter_subjects: Vec<String>,
}

/// The outcome of planning an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Worker ID and subjects are what the server already holds.
    NoOp,
    /// Create or update the durable `durable` with `filter_subjects`.
    Apply {
        durable: String,
        filter_subjects: Vec<String>,
        /// The subject list is empty and `filter_subjects` is the idle filter.
        idle: bool,
        /// The count reached ⌊0.9 × max⌋ (the guardrail warning).
        near_limit: bool,
        /// A previous worker ID whose durable is deleted once this one is applied.
        delete_old: Option<String>,
    },
}

/// The inputs of [`plan_update`] that come from the configuration.
#[derive(Clone, Debug)]
pub struct PlanLimits {
    pub max_subjects: usize,
    pub allow_worker_id_change: bool,
}

/// The warning threshold of the subject guardrail: ⌊0.9 × max⌋.
pub fn warn_threshold(max_subjects: usize) -> usize {
    max_subjects.saturating_mul(9) / 10
}

/// Plans one update of a worker's consumer (§10 steps 3–6).
///
/// `subjects` is the rendered, sorted, de-duplicated list; `known_worker` the worker ID of the
/// first update; `applied` what the server holds (None when unknown: never applied, or an
/// apply was interrupted). `durable` and `idle_filter` are for `worker_id`. An empty list
/// plans the idle filter, a subject no partition maps to, so the durable never becomes an
/// unfiltered consumer of the whole stream.
pub fn plan_update(
    known_worker: Option<&str>,
    applied: Option<&Applied>,
    worker_id: &str,
    subjects: Vec<String>,
    durable: String,
    idle_filter: String,
    limits: &PlanLimits,
) -> Result<Plan, ConsumerError> {
    if subjects.len() > limits.max_subjects {
        return Err(ConsumerError::TooManySubjects {
            count: subjects.len(),
            max: limits.max_subjects,
        });
    }
    let near_limit = subjects.len() >= warn_threshold(limits.max_subjects);
    let delete_old = match known_worker {
        Some(known) if known != worker_id => {
            if !limits.allow_worker_id_change {
                return Err(ConsumerError::WorkerIdChanged {
                    from: known.to_owned(),
                    to: worker_id.to_owned(),
                });
            }
            Some(known.to_owned())
        }
        _ => None,
    };
    let idle = subjects.is_empty();
    let filter_subjects = if idle { vec![idle_filter] } else { subjects };
    if applied.is_some_and(|a| a.worker_id == worker_id && a.filter_subjects == filter_subjects) {
        return Ok(Plan::NoOp);
    }
    Ok(Plan::Apply {
        durable,
        filter_subjects,
        idle,
        near_limit,
        delete_old,
    })
}

/// How a JetStream API error is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiClass {
    /// The consumer does not exist (recreate it).
    NotFound,
    /// 401/403: stop for good.
    Unauthorized,
    /// A WorkQueue stream refused overlapping filters: another consumer still holds a subject.
    Overlap,
    /// Worth retrying (timeouts, no responders, stream not found yet, server unavailable).
    Transient,
    /// A configuration the server will never accept.
    Permanent,
}

/// Server error codes the consumers act on.
pub mod codes {
    pub const CONSUMER_NOT_FOUND: u64 = 10014;
    pub const STREAM_NOT_FOUND: u64 = 10059;
    pub const WORKQUEUE_FILTER_NOT_UNIQUE: u64 = 10100;
    pub const WORKQUEUE_MULTIPLE_UNFILTERED: u64 = 10099;
}

/// Classifies an API error from its HTTP-like status and JetStream error code.
pub fn classify_api(status: usize, err_code: u64) -> ApiClass {
    match (status, err_code) {
        (_, codes::CONSUMER_NOT_FOUND) => ApiClass::NotFound,
        (_, codes::WORKQUEUE_FILTER_NOT_UNIQUE | codes::WORKQUEUE_MULTIPLE_UNFILTERED) => {
            ApiClass::Overlap
        }
        (_, codes::STREAM_NOT_FOUND) => ApiClass::Transient,
        (401 | 403, _) => ApiClass::Unauthorized,
        (404, _) => ApiClass::NotFound,
        (408 | 500..=599, _) => ApiClass::Transient,
        _ => ApiClass::Permanent,
    }
}

/// What the pull loop does after an error item from the message iterator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterAction {
    /// The consumer can never be pulled this way: stop the loop.
    Exit,
    /// Open a new iterator at once (missed idle heartbeat).
    RestartNow,
    /// Count a failure, back off, then open a new iterator.
    BackoffRestart,
}

/// Classifies an iterator error.
pub fn classify_iterator(
    kind: async_nats::jetstream::consumer::pull::MessagesErrorKind,
) -> IterAction {
    use async_nats::jetstream::consumer::pull::MessagesErrorKind as K;
    match kind {
        K::MissingHeartbeat => IterAction::RestartNow,
        K::PushBasedConsumer => IterAction::Exit,
        _ => IterAction::BackoffRestart,
    }
}

/// Consecutive iterator failures: escalates (re-apply the consumer config) once `threshold`
/// failures fall within `window`, at most once per window. A success clears it.
#[derive(Clone, Debug)]
pub struct FailureWindow {
    threshold: usize,
    window: Duration,
    failures: VecDeque<Instant>,
    last_escalation: Option<Instant>,
}

impl FailureWindow {
    pub fn new(threshold: u32, window: Duration) -> Self {
        Self {
            threshold: threshold.max(1) as usize,
            window,
            failures: VecDeque::new(),
            last_escalation: None,
        }
    }

    /// Records a failure at `now`; true when this failure escalates.
    pub fn record(&mut self, now: Instant) -> bool {
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|first| now.duration_since(*first) > self.window)
        {
            self.failures.pop_front();
        }
        let recently = self
            .last_escalation
            .is_some_and(|last| now.duration_since(last) < self.window);
        if self.failures.len() >= self.threshold && !recently {
            self.last_escalation = Some(now);
            return true;
        }
        false
    }

    /// The number of failures in the current window.
    pub fn consecutive(&self) -> usize {
        self.failures.len()
    }

    /// A successful message: clear the failures.
    pub fn success(&mut self) {
        self.failures.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PlanLimits {
        PlanLimits {
            max_subjects: 10,
            allow_worker_id_change: false,
        }
    }

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|x| x.to_string()).collect()
    }

    fn apply(worker: &str, filter: &[&str]) -> Applied {
        Applied {
            worker_id: worker.into(),
            filter_subjects: s(filter),
        }
    }

    fn plan(
        known: Option<&str>,
        applied: Option<&Applied>,
        worker: &str,
        subjects: &[&str],
    ) -> Result<Plan, ConsumerError> {
        plan_update(
            known,
            applied,
            worker,
            s(subjects),
            format!("d-{worker}"),
            format!("idle-{worker}"),
            &limits(),
        )
    }

    #[test]
    fn unchanged_is_a_noop_changed_is_an_apply() {
        let held = apply("w1", &["a", "b"]);
        assert_eq!(
            plan(Some("w1"), Some(&held), "w1", &["a", "b"]),
            Ok(Plan::NoOp)
        );
        assert_eq!(
            plan(Some("w1"), Some(&held), "w1", &["a"]),
            Ok(Plan::Apply {
                durable: "d-w1".into(),
                filter_subjects: s(&["a"]),
                idle: false,
                near_limit: false,
                delete_old: None,
            })
        );
        // Unknown server state (never applied, or an interrupted apply) always applies.
        assert!(matches!(
            plan(Some("w1"), None, "w1", &["a", "b"]),
            Ok(Plan::Apply { .. })
        ));
    }

    #[test]
    fn an_empty_list_plans_the_idle_filter_never_an_unfiltered_consumer() {
        let held = apply("w1", &["a"]);
        let Ok(Plan::Apply {
            filter_subjects,
            idle,
            ..
        }) = plan(Some("w1"), Some(&held), "w1", &[])
        else {
            panic!("expected an apply");
        };
        assert!(idle);
        assert_eq!(filter_subjects, s(&["idle-w1"]));
        let idle_held = apply("w1", &["idle-w1"]);
        assert_eq!(
            plan(Some("w1"), Some(&idle_held), "w1", &[]),
            Ok(Plan::NoOp)
        );
    }

    #[test]
    fn guardrail_errors_above_max_and_warns_from_ninety_percent() {
        assert_eq!(warn_threshold(500), 450);
        assert_eq!(warn_threshold(10), 9);
        let eleven: Vec<String> = (0..11).map(|i| format!("s{i:02}")).collect();
        let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(
            plan(None, None, "w", &refs),
            Err(ConsumerError::TooManySubjects { count: 11, max: 10 })
        );
        assert!(matches!(
            plan(None, None, "w", &refs[..9]),
            Ok(Plan::Apply {
                near_limit: true,
                ..
            })
        ));
        assert!(matches!(
            plan(None, None, "w", &refs[..8]),
            Ok(Plan::Apply {
                near_limit: false,
                ..
            })
        ));
        assert!(matches!(
            plan(None, None, "w", &refs[..10]),
            Ok(Plan::Apply {
                near_limit: true,
                ..
            })
        ));
    }

    #[test]
    fn a_worker_id_change_is_refused_unless_allowed() {
        let held = apply("w1", &["a"]);
        assert_eq!(
            plan(Some("w1"), Some(&held), "w2", &["a"]),
            Err(ConsumerError::WorkerIdChanged {
                from: "w1".into(),
                to: "w2".into()
            })
        );
        let allowed = PlanLimits {
            allow_worker_id_change: true,
            ..limits()
        };
        let got = plan_update(
            Some("w1"),
            Some(&held),
            "w2",
            s(&["a"]),
            "d-w2".into(),
            "i".into(),
            &allowed,
        );
        assert!(matches!(got, Ok(Plan::Apply { delete_old: Some(ref old), .. }) if old == "w1"));
    }

    #[test]
    fn api_errors_are_classified() {
        assert_eq!(
            classify_api(404, codes::CONSUMER_NOT_FOUND),
            ApiClass::NotFound
        );
        assert_eq!(classify_api(404, 0), ApiClass::NotFound);
        assert_eq!(classify_api(401, 0), ApiClass::Unauthorized);
        assert_eq!(classify_api(403, 10_001), ApiClass::Unauthorized);
        assert_eq!(
            classify_api(400, codes::WORKQUEUE_FILTER_NOT_UNIQUE),
            ApiClass::Overlap
        );
        assert_eq!(
            classify_api(400, codes::WORKQUEUE_MULTIPLE_UNFILTERED),
            ApiClass::Overlap
        );
        assert_eq!(
            classify_api(404, codes::STREAM_NOT_FOUND),
            ApiClass::Transient
        );
        assert_eq!(classify_api(503, 0), ApiClass::Transient);
        assert_eq!(classify_api(400, 10_012), ApiClass::Permanent);
    }

    #[test]
    fn iterator_errors_are_classified() {
        use async_nats::jetstream::consumer::pull::MessagesErrorKind as K;
        assert_eq!(
            classify_iterator(K::MissingHeartbeat),
            IterAction::RestartNow
        );
        assert_eq!(classify_iterator(K::PushBasedConsumer), IterAction::Exit);
        for kind in [
            K::ConsumerDeleted,
            K::Pull,
            K::NoResponders,
            K::RequestLimitExceeded,
            K::Other,
        ] {
            assert_eq!(
                classify_iterator(kind),
                IterAction::BackoffRestart,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn failures_escalate_once_per_window() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut w = FailureWindow::new(3, Duration::from_secs(60));
        assert!(!w.record(at(0)));
        assert!(!w.record(at(1)));
        assert!(w.record(at(2)), "third failure within 60 s escalates");
        assert!(!w.record(at(3)), "at most once per window");
        assert!(!w.record(at(30)));
        assert!(w.record(at(63)), "a new window may escalate again");
        w.success();
        assert_eq!(w.consecutive(), 0);
        // Failures spread wider than the window never escalate.
        let mut spread = FailureWindow::new(3, Duration::from_secs(60));
        assert!(!spread.record(at(0)));
        assert!(!spread.record(at(50)));
        assert!(!spread.record(at(120)));
    }
}
