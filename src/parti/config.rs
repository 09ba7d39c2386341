//! Worker configuration: identity range, bucket names, the timing model and its presets, and
//! parti's validation rules (parti-protocol.md §8) with errors that name the values involved.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{Human, serde_human};
use super::kv::BucketSpec;

/// The timing knobs of parti's three-tier model (parti-protocol.md §6.7, §8.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// Stable-ID lease (bucket MaxAge); renewal every third of it.
    #[serde(with = "serde_human")]
    pub worker_id_ttl: Duration,
    #[serde(with = "serde_human")]
    pub heartbeat_interval: Duration,
    /// Heartbeat liveness window (bucket MaxAge); leader polls every half of it.
    #[serde(with = "serde_human")]
    pub heartbeat_ttl: Duration,
    #[serde(with = "serde_human")]
    pub cold_start_window: Duration,
    #[serde(with = "serde_human")]
    pub planned_scale_window: Duration,
    /// Hysteresis before a disappearance counts as an emergency.
    #[serde(with = "serde_human")]
    pub emergency_grace_period: Duration,
    pub restart_detection_ratio: f64,
    /// Leader lease (bucket MaxAge); the election loop runs every third of it.
    #[serde(with = "serde_human")]
    pub election_timeout: Duration,
    /// Bounds bucket setup, ID claim and the first election.
    #[serde(with = "serde_human")]
    pub startup_timeout: Duration,
    /// Tier-3 rate limit between automatic rebalances.
    #[serde(with = "serde_human")]
    pub min_rebalance_interval: Duration,
    /// Assignment bucket MaxAge; zero means no expiry (keep it zero, §6.6).
    #[serde(with = "serde_human")]
    pub assignment_ttl: Duration,
}

/// A named timing preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TimingPreset {
    /// parti's `DefaultConfig`.
    Production,
    /// parti's stress-suite `IntegrationTestConfig`.
    Integration,
    /// parti's `TestConfig`.
    #[default]
    Fast,
}

impl TimingPreset {
    pub const ALL: [TimingPreset; 3] = [
        TimingPreset::Production,
        TimingPreset::Integration,
        TimingPreset::Fast,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TimingPreset::Production => "production",
            TimingPreset::Integration => "integration",
            TimingPreset::Fast => "fast",
        }
    }

    pub fn timing(self) -> Timing {
        match self {
            TimingPreset::Production => Timing::production(),
            TimingPreset::Integration => Timing::integration(),
            TimingPreset::Fast => Timing::fast(),
        }
    }
}

impl fmt::Display for TimingPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TimingPreset {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TimingPreset::ALL
            .into_iter()
            .find(|preset| preset.name() == text)
            .ok_or_else(|| {
                format!("unknown timing preset {text:?} (expected production, integration or fast)")
            })
    }
}

const fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

impl Timing {
    /// parti's defaults.
    pub fn production() -> Self {
        Self {
            worker_id_ttl: ms(30_000),
            heartbeat_interval: ms(2_000),
            heartbeat_ttl: ms(6_000),
            cold_start_window: ms(30_000),
            planned_scale_window: ms(10_000),
            emergency_grace_period: ms(3_000),
            restart_detection_ratio: 0.5,
            election_timeout: ms(5_000),
            startup_timeout: ms(30_000),
            min_rebalance_interval: ms(10_000),
            assignment_ttl: Duration::ZERO,
        }
    }

    /// The stress suite's `IntegrationTestConfig` (parti-stress-harness.md §1.1).
    pub fn integration() -> Self {
        Self {
            worker_id_ttl: ms(5_000),
            heartbeat_interval: ms(500),
            heartbeat_ttl: ms(2_000),
            cold_start_window: ms(3_000),
            planned_scale_window: ms(2_000),
            emergency_grace_period: ms(750),
            restart_detection_ratio: 0.5,
            election_timeout: ms(2_000),
            startup_timeout: ms(10_000),
            min_rebalance_interval: ms(2_000),
            assignment_ttl: Duration::ZERO,
        }
    }

    /// parti's `TestConfig()`: the defaults with short windows.
    pub fn fast() -> Self {
        Self {
            worker_id_ttl: ms(5_000),
            heartbeat_interval: ms(500),
            heartbeat_ttl: ms(1_500),
            cold_start_window: ms(1_000),
            planned_scale_window: ms(500),
            emergency_grace_period: ms(750),
            min_rebalance_interval: ms(100),
            ..Self::production()
        }
    }

    /// Stable-ID renewal period: max(TTL/3, 100 ms).
    pub fn id_renewal_interval(&self) -> Duration {
        (self.worker_id_ttl / 3).max(ms(100))
    }

    /// Stable-ID renewal attempt timeout: clamp(TTL/2, 100 ms, 5 s).
    pub fn id_renewal_timeout(&self) -> Duration {
        (self.worker_id_ttl / 2).clamp(ms(100), ms(5_000))
    }

    /// Election loop period: ElectionTimeout/3.
    pub fn election_interval(&self) -> Duration {
        self.election_timeout / 3
    }

    /// Leader's heartbeat poll period: HeartbeatTTL/2.
    pub fn live_set_poll_interval(&self) -> Duration {
        self.heartbeat_ttl / 2
    }

    /// How long a joining worker waits for its first assignment before giving up. Go waits a
    /// hard-coded 30 s; with long windows that is too short, so it is at least the sum of every
    /// delay a join can meet.
    pub fn assignment_wait_timeout(&self) -> Duration {
        let worst = self.heartbeat_ttl
            + self.emergency_grace_period
            + self.min_rebalance_interval
            + self.cold_start_window
            + self.planned_scale_window
            + self.election_timeout;
        worst.max(ms(30_000))
    }

    /// parti's hard validation rules (§8.2) plus the ones Go defers to Start or omits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |ok: bool, message: String| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError(message))
            }
        };
        let h = |d: Duration| Human(d).to_string();
        rule(
            !self.heartbeat_interval.is_zero(),
            "heartbeat_interval must be greater than 0".into(),
        )?;
        rule(
            self.heartbeat_ttl >= self.heartbeat_interval * 2,
            format!(
                "heartbeat_ttl ({}) must be at least 2 × heartbeat_interval ({})",
                h(self.heartbeat_ttl),
                h(self.heartbeat_interval)
            ),
        )?;
        rule(
            self.worker_id_ttl >= self.heartbeat_interval * 3,
            format!(
                "worker_id_ttl ({}) must be at least 3 × heartbeat_interval ({})",
                h(self.worker_id_ttl),
                h(self.heartbeat_interval)
            ),
        )?;
        rule(
            self.worker_id_ttl >= self.heartbeat_ttl,
            format!(
                "worker_id_ttl ({}) must be at least heartbeat_ttl ({})",
                h(self.worker_id_ttl),
                h(self.heartbeat_ttl)
            ),
        )?;
        rule(
            !self.min_rebalance_interval.is_zero(),
            "min_rebalance_interval must be greater than 0".into(),
        )?;
        rule(
            self.cold_start_window >= self.planned_scale_window,
            format!(
                "cold_start_window ({}) must be at least planned_scale_window ({})",
                h(self.cold_start_window),
                h(self.planned_scale_window)
            ),
        )?;
        rule(
            self.min_rebalance_interval <= self.cold_start_window
                && self.min_rebalance_interval <= self.planned_scale_window,
            format!(
                "min_rebalance_interval ({}) must not exceed cold_start_window ({}) or planned_scale_window ({})",
                h(self.min_rebalance_interval),
                h(self.cold_start_window),
                h(self.planned_scale_window)
            ),
        )?;
        rule(
            self.emergency_grace_period <= self.heartbeat_ttl,
            format!(
                "emergency_grace_period ({}) must not exceed heartbeat_ttl ({})",
                h(self.emergency_grace_period),
                h(self.heartbeat_ttl)
            ),
        )?;
        rule(
            self.election_timeout >= Duration::from_secs(1),
            format!(
                "election_timeout ({}) must be at least 1s",
                h(self.election_timeout)
            ),
        )?;
        rule(
            !self.startup_timeout.is_zero(),
            "startup_timeout must be greater than 0".into(),
        )?;
        rule(
            self.restart_detection_ratio.is_finite() && self.restart_detection_ratio >= 0.0,
            format!(
                "restart_detection_ratio ({}) must be a number ≥ 0",
                self.restart_detection_ratio
            ),
        )?;
        Ok(())
    }
}

/// The four bucket names (parti-protocol.md §1.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BucketNames {
    pub stable_id: String,
    pub election: String,
    pub heartbeat: String,
    pub assignment: String,
}

impl Default for BucketNames {
    fn default() -> Self {
        Self {
            stable_id: "parti-stableid".into(),
            election: "parti-election".into(),
            heartbeat: "parti-heartbeat".into(),
            assignment: "parti-assignment".into(),
        }
    }
}

/// Everything one worker needs besides its connection, partition source and strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub worker_id_prefix: String,
    /// Inclusive range of stable IDs tried, lowest first.
    pub worker_id_min: u32,
    pub worker_id_max: u32,
    pub timing: Timing,
    pub buckets: BucketNames,
}

impl Default for Config {
    fn default() -> Self {
        Self::with_timing(Timing::production())
    }
}

impl Config {
    pub fn with_timing(timing: Timing) -> Self {
        Self {
            worker_id_prefix: "worker".into(),
            worker_id_min: 0,
            worker_id_max: 99,
            timing,
            buckets: BucketNames::default(),
        }
    }

    /// Validate the timing and the identity settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.timing.validate()?;
        if self.worker_id_min > self.worker_id_max {
            return Err(ConfigError(format!(
                "worker ID range is empty: min {} > max {}",
                self.worker_id_min, self.worker_id_max
            )));
        }
        validate_token("worker_id_prefix", &self.worker_id_prefix)?;
        for (what, name) in [
            ("stable-ID bucket", &self.buckets.stable_id),
            ("election bucket", &self.buckets.election),
            ("heartbeat bucket", &self.buckets.heartbeat),
            ("assignment bucket", &self.buckets.assignment),
        ] {
            validate_token(what, name)?;
        }
        Ok(())
    }

    /// The buckets in the order a worker ensures them: stable-ID, election, heartbeat,
    /// assignment, with their TTLs.
    pub fn bucket_specs(&self) -> [BucketSpec; 4] {
        let t = &self.timing;
        [
            BucketSpec {
                name: self.buckets.stable_id.clone(),
                ttl: t.worker_id_ttl,
            },
            BucketSpec {
                name: self.buckets.election.clone(),
                ttl: t.election_timeout,
            },
            BucketSpec {
                name: self.buckets.heartbeat.clone(),
                ttl: t.heartbeat_ttl,
            },
            BucketSpec {
                name: self.buckets.assignment.clone(),
                ttl: t.assignment_ttl,
            },
        ]
    }
}

fn validate_token(what: &str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{what} {value:?} must be non-empty and use only letters, digits, '-' and '_'"
        )))
    }
}

/// A configuration that breaks one of parti's rules; the text names the values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parti configuration: {0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid() {
        for preset in TimingPreset::ALL {
            Config::with_timing(preset.timing())
                .validate()
                .unwrap_or_else(|err| panic!("{}: {err}", preset.name()));
            assert_eq!(preset.name().parse::<TimingPreset>(), Ok(preset));
        }
    }

    #[test]
    fn presets_carry_parti_values() {
        let fast = Timing::fast();
        assert_eq!(fast.heartbeat_ttl, ms(1_500));
        assert_eq!(fast.min_rebalance_interval, ms(100));
        assert_eq!(fast.election_timeout, ms(5_000));
        let production = Timing::production();
        assert_eq!(production.id_renewal_interval(), ms(10_000));
        assert_eq!(production.id_renewal_timeout(), ms(5_000));
        assert_eq!(production.live_set_poll_interval(), ms(3_000));
        assert_eq!(Timing::integration().cold_start_window, ms(3_000));
    }

    #[test]
    fn each_rule_is_enforced_with_a_message_naming_the_values() {
        type Case = (fn(&mut Timing), &'static str);
        let cases: Vec<Case> = vec![
            (
                |t| t.heartbeat_ttl = ms(900),
                "heartbeat_ttl (900ms) must be at least 2 × heartbeat_interval (500ms)",
            ),
            (
                |t| t.worker_id_ttl = ms(1_400),
                "worker_id_ttl (1.4s) must be at least 3 × heartbeat_interval",
            ),
            (
                |t| {
                    t.worker_id_ttl = ms(1_500);
                    t.heartbeat_ttl = ms(1_600)
                },
                "worker_id_ttl (1.5s) must be at least heartbeat_ttl",
            ),
            (
                |t| t.min_rebalance_interval = Duration::ZERO,
                "min_rebalance_interval must be greater than 0",
            ),
            (
                |t| t.planned_scale_window = ms(2_000),
                "cold_start_window (1s) must be at least planned_scale_window (2s)",
            ),
            (
                |t| t.min_rebalance_interval = ms(600),
                "min_rebalance_interval (600ms) must not exceed",
            ),
            (
                |t| t.emergency_grace_period = ms(2_000),
                "emergency_grace_period (2s) must not exceed heartbeat_ttl (1.5s)",
            ),
            (
                |t| t.election_timeout = ms(900),
                "election_timeout (900ms) must be at least 1s",
            ),
        ];
        for (mutate, expected) in cases {
            let mut timing = Timing::fast();
            mutate(&mut timing);
            let err = timing.validate().expect_err(expected);
            assert!(
                err.to_string().contains(expected),
                "{err} does not contain {expected}"
            );
        }
    }

    #[test]
    fn identity_settings_are_checked() {
        let mut config = Config::with_timing(Timing::fast());
        config.worker_id_min = 5;
        config.worker_id_max = 4;
        assert!(
            config
                .validate()
                .expect_err("range")
                .to_string()
                .contains("min 5 > max 4")
        );
        let mut config = Config::with_timing(Timing::fast());
        config.worker_id_prefix = "a.b".into();
        assert!(config.validate().is_err());
    }
}
