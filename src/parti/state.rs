//! The manager's state machine (parti-protocol.md §7.1–7.3) and the calculator's states (§6.4),
//! as plain values with a pure transition check.

use serde::{Deserialize, Serialize};

/// A worker's lifecycle state. Discriminants are Go's enum values; names are Go's `String()`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum State {
    #[default]
    Init = 0,
    ClaimingId = 1,
    Election = 2,
    WaitingAssignment = 3,
    Stable = 4,
    Scaling = 5,
    Rebalancing = 6,
    Emergency = 7,
    Degraded = 8,
    Shutdown = 9,
}

impl State {
    pub const ALL: [State; 10] = [
        State::Init,
        State::ClaimingId,
        State::Election,
        State::WaitingAssignment,
        State::Stable,
        State::Scaling,
        State::Rebalancing,
        State::Emergency,
        State::Degraded,
        State::Shutdown,
    ];

    /// Go's `String()`.
    pub fn name(self) -> &'static str {
        match self {
            State::Init => "Init",
            State::ClaimingId => "ClaimingID",
            State::Election => "Election",
            State::WaitingAssignment => "WaitingAssignment",
            State::Stable => "Stable",
            State::Scaling => "Scaling",
            State::Rebalancing => "Rebalancing",
            State::Emergency => "Emergency",
            State::Degraded => "Degraded",
            State::Shutdown => "Shutdown",
        }
    }

    /// Is `self → to` one of the allowed transitions (§7.2)? Degraded is outside the table:
    /// its entry and exit bypass this check (see [`State::can_bypass_to`]).
    pub fn can_transition_to(self, to: State) -> bool {
        use State::*;
        match self {
            Init => matches!(to, ClaimingId | Shutdown),
            ClaimingId => matches!(to, Election | Shutdown),
            Election => matches!(to, WaitingAssignment | Shutdown),
            WaitingAssignment => {
                matches!(to, Stable | Scaling | Rebalancing | Emergency | Shutdown)
            }
            Stable => matches!(to, Scaling | Rebalancing | Emergency | Shutdown),
            Scaling => matches!(to, Rebalancing | WaitingAssignment | Stable | Shutdown),
            Rebalancing | Emergency => matches!(to, Stable | WaitingAssignment | Shutdown),
            Degraded | Shutdown => false,
        }
    }

    /// Transitions that skip validation: entering Degraded from any running state, leaving it
    /// to Stable, and (unlike Go, where a Degraded worker could never shut down) Degraded →
    /// Shutdown.
    pub fn can_bypass_to(self, to: State) -> bool {
        match (self, to) {
            (State::Shutdown, _) | (State::Init, State::Degraded) => false,
            (_, State::Degraded) => self != State::Degraded,
            (State::Degraded, State::Stable | State::Shutdown) => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The leader's calculator state (§6.4). Discriminants are Go's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CalculatorState {
    Idle = 0,
    Scaling = 1,
    Rebalancing = 2,
    Emergency = 3,
}

/// What the manager's state becomes when the leader's calculator enters `calc` (§7.3).
/// `None` means no change.
pub fn mirror_calculator(current: State, calc: CalculatorState) -> Option<State> {
    use State::*;
    match current {
        Init | ClaimingId | Election | Shutdown | Degraded => None,
        WaitingAssignment => match calc {
            CalculatorState::Idle => None,
            CalculatorState::Scaling => Some(Scaling),
            CalculatorState::Rebalancing => Some(Rebalancing),
            CalculatorState::Emergency => Some(Emergency),
        },
        Stable | Scaling | Rebalancing | Emergency => {
            let target = match calc {
                CalculatorState::Idle => {
                    if matches!(current, Scaling | Rebalancing | Emergency) {
                        Stable
                    } else {
                        return None;
                    }
                }
                CalculatorState::Scaling => Scaling,
                CalculatorState::Rebalancing => Rebalancing,
                CalculatorState::Emergency => Emergency,
            };
            (target != current && current.can_transition_to(target)).then_some(target)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_match_go() {
        let names: Vec<_> = State::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "Init",
                "ClaimingID",
                "Election",
                "WaitingAssignment",
                "Stable",
                "Scaling",
                "Rebalancing",
                "Emergency",
                "Degraded",
                "Shutdown"
            ]
        );
        for (i, state) in State::ALL.iter().enumerate() {
            assert_eq!(*state as usize, i);
        }
    }

    #[test]
    fn transition_table_is_exactly_the_go_table() {
        use State::*;
        let allowed: &[(State, &[State])] = &[
            (Init, &[ClaimingId, Shutdown]),
            (ClaimingId, &[Election, Shutdown]),
            (Election, &[WaitingAssignment, Shutdown]),
            (
                WaitingAssignment,
                &[Stable, Scaling, Rebalancing, Emergency, Shutdown],
            ),
            (Stable, &[Scaling, Rebalancing, Emergency, Shutdown]),
            (Scaling, &[Rebalancing, WaitingAssignment, Stable, Shutdown]),
            (Rebalancing, &[Stable, WaitingAssignment, Shutdown]),
            (Emergency, &[Stable, WaitingAssignment, Shutdown]),
            (Degraded, &[]),
            (Shutdown, &[]),
        ];
        for (from, targets) in allowed {
            for to in State::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    targets.contains(&to),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn degraded_bypasses_validation_both_ways() {
        assert!(State::Stable.can_bypass_to(State::Degraded));
        assert!(State::Degraded.can_bypass_to(State::Stable));
        assert!(State::Degraded.can_bypass_to(State::Shutdown));
        assert!(!State::Shutdown.can_bypass_to(State::Degraded));
        assert!(!State::Degraded.can_bypass_to(State::Scaling));
    }

    #[test]
    fn calculator_states_are_mirrored_as_go_does() {
        use CalculatorState as C;
        assert_eq!(
            mirror_calculator(State::Stable, C::Scaling),
            Some(State::Scaling)
        );
        assert_eq!(
            mirror_calculator(State::Scaling, C::Rebalancing),
            Some(State::Rebalancing)
        );
        assert_eq!(
            mirror_calculator(State::Rebalancing, C::Idle),
            Some(State::Stable)
        );
        assert_eq!(mirror_calculator(State::Stable, C::Idle), None);
        assert_eq!(mirror_calculator(State::WaitingAssignment, C::Idle), None);
        assert_eq!(
            mirror_calculator(State::WaitingAssignment, C::Emergency),
            Some(State::Emergency)
        );
        assert_eq!(mirror_calculator(State::Election, C::Scaling), None);
        assert_eq!(mirror_calculator(State::Shutdown, C::Scaling), None);
        for calc in [C::Idle, C::Scaling, C::Rebalancing, C::Emergency] {
            for state in State::ALL {
                if let Some(target) = mirror_calculator(state, calc) {
                    assert!(
                        state.can_transition_to(target),
                        "{state} -> {target} mirrored from {calc:?}"
                    );
                }
            }
        }
    }
}
