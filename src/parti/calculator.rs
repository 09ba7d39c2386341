//! The leader's assignment calculator: the pure decision core (parti-protocol.md §6.2–6.4, 6.7).
//!
//! [`Core`] holds the calculator's memory (last decided worker set, emergency detector, last
//! publish time, state) and turns "the live set is now X at time t" into a [`Decision`]. It does
//! no IO and reads no clock, so every timing rule is tested with plain values. The async actor
//! that feeds it and carries out its decisions is [`driver`]; the publishing side is
//! [`super::publisher`].

pub mod driver;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::assignment::Lifecycle;
use super::config::Timing;
use super::state::CalculatorState;

/// What the calculator should do after looking at the live set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do, with the reason (for logs and tests).
    Nothing(Skip),
    /// Enter Scaling and rebalance with `reason` when `window` has passed.
    Scale { reason: Lifecycle, window: Duration },
    /// Enter Emergency and rebalance now without the confirmed-dead workers.
    Emergency { confirmed: Vec<String> },
}

/// Why a check did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Unchanged,
    Busy,
    RateLimited,
    InGrace,
}

/// The calculator's memory.
#[derive(Debug, Clone)]
pub struct Core {
    pub state: CalculatorState,
    /// The set the last completed decision was based on.
    pub last_workers: BTreeSet<String>,
    /// The workers used by the last successful rebalance.
    pub current_workers: Vec<String>,
    /// Confirmed-dead workers handed to the next rebalance.
    pub disappeared: Vec<String>,
    missing_since: BTreeMap<String, Instant>,
    /// Time of the last fully successful publish.
    pub last_rebalance: Option<Instant>,
    /// The reason recorded when entering Scaling.
    pub scaling_reason: Option<Lifecycle>,
}

impl Default for Core {
    fn default() -> Self {
        Self {
            state: CalculatorState::Idle,
            last_workers: BTreeSet::new(),
            current_workers: Vec::new(),
            disappeared: Vec::new(),
            missing_since: BTreeMap::new(),
            last_rebalance: None,
            scaling_reason: None,
        }
    }
}

impl Core {
    /// `checkForChanges` (§6.2): evaluate the live set `live` at `now`. On a `Scale` or
    /// `Emergency` decision the core has already moved to that state and updated
    /// `last_workers`; the caller runs the rebalance and reports back with
    /// [`Core::rebalance_finished`].
    pub fn check(&mut self, now: Instant, live: &[String], timing: &Timing) -> Decision {
        let current: BTreeSet<String> = live.iter().cloned().collect();
        // A worker seen again clears its missing-since time on every check (Go clears it only
        // on checks where the set shrank, so a stale time could confirm a later blip at once).
        self.missing_since
            .retain(|worker, _| !current.contains(worker));
        if current == self.last_workers {
            return Decision::Nothing(Skip::Unchanged);
        }
        if self.state != CalculatorState::Idle {
            return Decision::Nothing(Skip::Busy);
        }
        if self
            .last_rebalance
            .is_some_and(|last| now.saturating_duration_since(last) < timing.min_rebalance_interval)
        {
            return Decision::Nothing(Skip::RateLimited);
        }
        let decision = if current.len() < self.last_workers.len() {
            let confirmed = self.detect_emergency(now, &current, timing.emergency_grace_period);
            if confirmed.is_empty() {
                return Decision::Nothing(Skip::InGrace);
            }
            self.disappeared = confirmed.clone();
            Decision::Emergency { confirmed }
        } else if self.last_workers.is_empty() {
            Decision::Scale {
                reason: Lifecycle::ColdStart,
                window: timing.cold_start_window,
            }
        } else {
            Decision::Scale {
                reason: Lifecycle::PlannedScale,
                window: timing.planned_scale_window,
            }
        };
        self.last_workers = current;
        match &decision {
            Decision::Scale { reason, .. } => {
                self.state = CalculatorState::Scaling;
                self.scaling_reason = Some(*reason);
            }
            Decision::Emergency { .. } => self.state = CalculatorState::Emergency,
            Decision::Nothing(_) => {}
        }
        decision
    }

    /// The emergency detector with hysteresis (§6.3): returns the workers missing for at least
    /// the grace period.
    fn detect_emergency(
        &mut self,
        now: Instant,
        current: &BTreeSet<String>,
        grace: Duration,
    ) -> Vec<String> {
        for worker in &self.last_workers {
            if current.contains(worker) {
                self.missing_since.remove(worker);
            } else {
                self.missing_since.entry(worker.clone()).or_insert(now);
            }
        }
        self.missing_since
            .iter()
            .filter(|(_, since)| now.saturating_duration_since(**since) >= grace)
            .map(|(worker, _)| worker.clone())
            .collect()
    }

    /// The scaling window ended: move to Rebalancing and return the recorded reason.
    pub fn begin_scaled_rebalance(&mut self) -> Lifecycle {
        self.state = CalculatorState::Rebalancing;
        self.scaling_reason
            .take()
            .unwrap_or(Lifecycle::PlannedScale)
    }

    /// A rebalance run by the state machine ended. Success records the workers used (and, for
    /// an emergency, resets the detector); either way the calculator returns to Idle.
    pub fn rebalance_finished(&mut self, outcome: Option<&RebalanceOutcome>) {
        if let Some(outcome) = outcome {
            self.record_success(outcome);
            self.last_workers = self.current_workers.iter().cloned().collect();
            if self.state == CalculatorState::Emergency {
                self.missing_since.clear();
            }
        }
        self.state = CalculatorState::Idle;
        self.scaling_reason = None;
    }

    /// A rebalance outside the state machine (initial phases, manual refresh) succeeded.
    pub fn record_success(&mut self, outcome: &RebalanceOutcome) {
        if let Some(at) = outcome.published_at {
            self.last_rebalance = Some(at);
        }
        if !outcome.workers.is_empty() {
            self.current_workers = outcome.workers.clone();
        }
    }

    /// Take the confirmed-dead list for a rebalance (§6.5 step 1).
    pub fn take_disappeared(&mut self) -> Vec<String> {
        std::mem::take(&mut self.disappeared)
    }
}

/// What a successful rebalance did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebalanceOutcome {
    /// The workers assigned (empty when there was no live worker and nothing was published).
    pub workers: Vec<String>,
    /// The version published, if anything was published.
    pub version: Option<i64>,
    pub partitions: usize,
    pub published_at: Option<Instant>,
}

/// The stabilisation window of the initial assignment (§6.1 step 3.2).
pub fn initial_window(live_workers: usize, partitions: usize, timing: &Timing) -> Duration {
    if live_workers == 0 {
        return timing.cold_start_window;
    }
    let expected = (partitions / 10).max(1);
    #[allow(clippy::cast_precision_loss)]
    let ratio = live_workers as f64 / expected as f64;
    if ratio >= timing.restart_detection_ratio {
        timing.cold_start_window
    } else {
        timing.planned_scale_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    fn with_last(ids: &[&str]) -> Core {
        Core {
            last_workers: workers(ids).into_iter().collect(),
            ..Core::default()
        }
    }

    fn success(core: &mut Core, at: Instant, ids: &[&str]) {
        let outcome = RebalanceOutcome {
            workers: workers(ids),
            version: Some(1),
            partitions: 10,
            published_at: Some(at),
        };
        core.rebalance_finished(Some(&outcome));
    }

    #[test]
    fn first_decision_is_a_cold_start_then_planned_scale() {
        let timing = Timing::fast();
        let t0 = Instant::now();
        let mut core = Core::default();
        let decision = core.check(t0, &workers(&["w0", "w1"]), &timing);
        assert_eq!(
            decision,
            Decision::Scale {
                reason: Lifecycle::ColdStart,
                window: timing.cold_start_window
            }
        );
        assert_eq!(core.state, CalculatorState::Scaling);
        // Busy while scaling.
        assert_eq!(
            core.check(t0, &workers(&["w0"]), &timing),
            Decision::Nothing(Skip::Busy)
        );
        assert_eq!(core.begin_scaled_rebalance(), Lifecycle::ColdStart);
        success(&mut core, t0, &["w0", "w1"]);
        assert_eq!(core.state, CalculatorState::Idle);
        let later = t0 + timing.min_rebalance_interval;
        let decision = core.check(later, &workers(&["w0", "w1", "w2"]), &timing);
        assert_eq!(
            decision,
            Decision::Scale {
                reason: Lifecycle::PlannedScale,
                window: timing.planned_scale_window
            }
        );
    }

    #[test]
    fn rate_limit_applies_to_everything_including_emergencies() {
        let timing = Timing::production();
        let t0 = Instant::now();
        let mut core = with_last(&["a", "b"]);
        core.last_rebalance = Some(t0);
        let just_before = t0 + timing.min_rebalance_interval - Duration::from_millis(1);
        assert_eq!(
            core.check(just_before, &workers(&["a"]), &timing),
            Decision::Nothing(Skip::RateLimited)
        );
        // The grace clock did not start while the gate was closed.
        let at_gate = t0 + timing.min_rebalance_interval;
        assert_eq!(
            core.check(at_gate, &workers(&["a"]), &timing),
            Decision::Nothing(Skip::InGrace)
        );
        let after_grace = at_gate + timing.emergency_grace_period;
        assert_eq!(
            core.check(after_grace, &workers(&["a"]), &timing),
            Decision::Emergency {
                confirmed: workers(&["b"])
            }
        );
        assert_eq!(core.take_disappeared(), workers(&["b"]));
        assert_eq!(core.state, CalculatorState::Emergency);
    }

    #[test]
    fn a_worker_back_within_grace_clears_its_timer() {
        let timing = Timing::fast();
        let t0 = Instant::now();
        let mut core = with_last(&["a", "b", "c"]);
        assert_eq!(
            core.check(t0, &workers(&["a", "b"]), &timing),
            Decision::Nothing(Skip::InGrace)
        );
        // c is back: unchanged set, nothing to do, and c's timer is cleared by the next drop.
        assert_eq!(
            core.check(t0, &workers(&["a", "b", "c"]), &timing),
            Decision::Nothing(Skip::Unchanged)
        );
        let t1 = t0 + timing.emergency_grace_period;
        assert_eq!(
            core.check(t1, &workers(&["a", "c"]), &timing),
            Decision::Nothing(Skip::InGrace)
        );
        assert_eq!(
            core.check(
                t1 + timing.emergency_grace_period,
                &workers(&["a", "c"]),
                &timing
            ),
            Decision::Emergency {
                confirmed: workers(&["b"])
            }
        );
    }

    #[test]
    fn a_blip_seen_again_does_not_leave_a_stale_timer() {
        let timing = Timing::fast();
        let t0 = Instant::now();
        let mut core = with_last(&["a", "b", "c"]);
        assert_eq!(
            core.check(t0, &workers(&["a", "b"]), &timing),
            Decision::Nothing(Skip::InGrace)
        );
        assert_eq!(
            core.check(t0, &workers(&["a", "b", "c"]), &timing),
            Decision::Nothing(Skip::Unchanged)
        );
        // Much later c blips again: its grace starts now, not at t0.
        let later = t0 + timing.emergency_grace_period * 4;
        assert_eq!(
            core.check(later, &workers(&["a", "b"]), &timing),
            Decision::Nothing(Skip::InGrace)
        );
    }

    #[test]
    fn replacement_with_equal_count_is_a_planned_scale() {
        let timing = Timing::fast();
        let mut core = with_last(&["a", "b"]);
        assert_eq!(
            core.check(Instant::now(), &workers(&["a", "c"]), &timing),
            Decision::Scale {
                reason: Lifecycle::PlannedScale,
                window: timing.planned_scale_window
            }
        );
    }

    #[test]
    fn successful_emergency_resets_the_detector_and_failures_keep_it() {
        let timing = Timing::fast();
        let t0 = Instant::now();
        let mut core = with_last(&["a", "b", "c"]);
        core.check(t0, &workers(&["a"]), &timing);
        let t1 = t0 + timing.emergency_grace_period;
        assert!(matches!(
            core.check(t1, &workers(&["a"]), &timing),
            Decision::Emergency { .. }
        ));
        core.rebalance_finished(None);
        assert_eq!(core.state, CalculatorState::Idle);
        assert!(
            core.missing_since.len() == 2,
            "a failed emergency keeps the detector"
        );
        core.last_workers = workers(&["a", "b", "c"]).into_iter().collect();
        assert!(matches!(
            core.check(t1, &workers(&["a"]), &timing),
            Decision::Emergency { .. }
        ));
        success(&mut core, t1, &["a"]);
        assert!(core.missing_since.is_empty());
        assert_eq!(core.last_workers, workers(&["a"]).into_iter().collect());
    }

    #[test]
    fn initial_window_uses_the_restart_detection_ratio() {
        let timing = Timing::production();
        assert_eq!(initial_window(0, 100, &timing), timing.cold_start_window);
        // expected = 10; 5/10 = 0.5 >= 0.5 → cold start window.
        assert_eq!(initial_window(5, 100, &timing), timing.cold_start_window);
        assert_eq!(initial_window(4, 100, &timing), timing.planned_scale_window);
        // expected raised to 1 for tiny partition counts.
        assert_eq!(initial_window(1, 5, &timing), timing.cold_start_window);
    }
}
