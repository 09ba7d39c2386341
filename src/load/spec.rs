//! The load a profile asks for ([`LoadSpec`]): total rate, producers, payload size, how the
//! rate is spread over partitions ([`Skew`]), how long a worker takes per message ([`Delay`]),
//! and the consumer and drain settings. Plain serde values (RON in a profile, JSON between
//! processes) with documented defaults and [`LoadSpec::validate`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::message::HEADER_BYTES;
use crate::parti::duration::serde_human;

/// Default total publish rate over all producers, messages per second.
pub const DEFAULT_RATE_PER_S: f64 = 1_000.0;
/// Default number of producer processes.
pub const DEFAULT_PRODUCERS: usize = 1;
/// Default payload size, bytes (header included).
pub const DEFAULT_PAYLOAD_BYTES: usize = 128;
/// Default server ack wait of the work consumers.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default time the drain phase may take after the producers stop.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default maximum deliveries of one message (-1 is unlimited, as in JetStream).
pub const DEFAULT_MAX_DELIVER: i64 = -1;
/// Default publishes awaiting their stream ack, per producer.
pub const DEFAULT_WINDOW: usize = 256;
/// Default subject template; `{key}` is the partition's subject key.
pub const DEFAULT_SUBJECT_TEMPLATE: &str = "work.{key}";
/// Default seed of every random choice of a run (pacing phases, delays).
pub const DEFAULT_SEED: u64 = 1;
/// The largest payload accepted (the default `max_payload` of nats-server is 1 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// The message load of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadSpec {
    /// Total messages per second over all producers and partitions (default 1000).
    pub rate_per_s: f64,
    /// Producer processes sharing the partitions (default 1).
    pub producers: usize,
    /// Bytes per message payload, the header included (default 128, at least
    /// [`HEADER_BYTES`]).
    pub payload_bytes: usize,
    /// How the rate is spread over partitions (default `Even`).
    pub skew: Skew,
    /// Processing time per message on a worker (default `Fixed("0s")`).
    pub delay: Delay,
    /// Server ack wait of the work consumers (default 30 s).
    #[serde(with = "serde_human")]
    pub ack_wait: Duration,
    /// How long the drain phase may take once the producers stopped (default 30 s).
    #[serde(with = "serde_human")]
    pub drain_timeout: Duration,
    /// Maximum deliveries of one message, -1 unlimited (default -1).
    pub max_deliver: i64,
    /// Publishes awaiting their stream ack, per producer (default 256).
    pub window: usize,
    /// Subject of a partition's messages; `{key}` is replaced by its subject key (default
    /// `work.{key}`).
    pub subject_template: String,
    /// Seed of the pacing phases and the delays (default 1).
    pub seed: u64,
}

impl Default for LoadSpec {
    fn default() -> Self {
        Self {
            rate_per_s: DEFAULT_RATE_PER_S,
            producers: DEFAULT_PRODUCERS,
            payload_bytes: DEFAULT_PAYLOAD_BYTES,
            skew: Skew::Even,
            delay: Delay::Fixed(Duration::ZERO),
            ack_wait: DEFAULT_ACK_WAIT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_deliver: DEFAULT_MAX_DELIVER,
            window: DEFAULT_WINDOW,
            subject_template: DEFAULT_SUBJECT_TEMPLATE.to_owned(),
            seed: DEFAULT_SEED,
        }
    }
}

/// How the total rate is spread over the partitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Skew {
    /// Every partition gets the same rate.
    Even,
    /// Rates proportional to the partitions' weights (every weight must be positive).
    ByWeight,
    /// The first `partitions` partitions (in list order) share `share` of the total evenly; the
    /// others share the rest evenly.
    Hot { partitions: usize, share: f64 },
}

/// Processing time of one message on a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Delay {
    /// Always this long.
    Fixed(#[serde(with = "serde_human")] Duration),
    /// Uniform in `[min, max]`.
    Uniform {
        #[serde(with = "serde_human")]
        min: Duration,
        #[serde(with = "serde_human")]
        max: Duration,
    },
    /// Exponential with this mean, cut at `max`.
    Exponential {
        #[serde(with = "serde_human")]
        mean: Duration,
        #[serde(with = "serde_human")]
        max: Duration,
    },
}

/// A load specification that cannot run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("rate_per_s must be a positive finite number, not {0}")]
    Rate(f64),
    #[error("producers must be at least 1")]
    NoProducers,
    #[error("payload_bytes {got} is smaller than the {min}-byte message header")]
    PayloadTooSmall { got: usize, min: usize },
    #[error("payload_bytes {got} is larger than {max} (the server's default max_payload)")]
    PayloadTooLarge { got: usize, max: usize },
    #[error("Hot share must be within [0, 1], not {0}")]
    HotShare(f64),
    #[error("Hot needs at least one hot partition")]
    NoHotPartitions,
    #[error("delay minimum {min:?} is larger than its maximum {max:?}")]
    DelayRange { min: Duration, max: Duration },
    #[error("Exponential delay mean {mean:?} must be positive and at most its maximum {max:?}")]
    DelayMean { mean: Duration, max: Duration },
    #[error("ack_wait must be positive")]
    AckWait,
    #[error("max_deliver must be -1 (unlimited) or at least 1, not {0}")]
    MaxDeliver(i64),
    #[error("window must be at least 1")]
    Window,
    #[error("subject_template {0:?} must contain {{key}}")]
    SubjectTemplate(String),
}

impl LoadSpec {
    /// Checks every value that cannot run; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !(self.rate_per_s.is_finite() && self.rate_per_s > 0.0) {
            return Err(SpecError::Rate(self.rate_per_s));
        }
        if self.producers == 0 {
            return Err(SpecError::NoProducers);
        }
        if self.payload_bytes < HEADER_BYTES {
            return Err(SpecError::PayloadTooSmall {
                got: self.payload_bytes,
                min: HEADER_BYTES,
            });
        }
        if self.payload_bytes > MAX_PAYLOAD_BYTES {
            return Err(SpecError::PayloadTooLarge {
                got: self.payload_bytes,
                max: MAX_PAYLOAD_BYTES,
            });
        }
        if let Skew::Hot { partitions, share } = self.skew {
            if !(0.0..=1.0).contains(&share) {
                return Err(SpecError::HotShare(share));
            }
            if partitions == 0 {
                return Err(SpecError::NoHotPartitions);
            }
        }
        match self.delay {
            Delay::Fixed(_) => {}
            Delay::Uniform { min, max } if min > max => {
                return Err(SpecError::DelayRange { min, max });
            }
            Delay::Uniform { .. } => {}
            Delay::Exponential { mean, max } if mean.is_zero() || mean > max => {
                return Err(SpecError::DelayMean { mean, max });
            }
            Delay::Exponential { .. } => {}
        }
        if self.ack_wait.is_zero() {
            return Err(SpecError::AckWait);
        }
        if self.max_deliver == 0 || self.max_deliver < -1 {
            return Err(SpecError::MaxDeliver(self.max_deliver));
        }
        if self.window == 0 {
            return Err(SpecError::Window);
        }
        if !self.subject_template.contains("{key}") {
            return Err(SpecError::SubjectTemplate(self.subject_template.clone()));
        }
        Ok(())
    }

    /// The subject of a partition's messages.
    pub fn subject(&self, subject_key: &str) -> String {
        self.subject_template.replace("{key}", subject_key)
    }

    /// The stream subject filter covering every partition's subject (`{key}` becomes `>`).
    pub fn stream_subjects(&self) -> String {
        self.subject_template.replace("{key}", ">")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_ron() {
        let spec = LoadSpec::default();
        assert_eq!(spec.validate(), Ok(()));
        let text = ron::to_string(&spec).expect("ron");
        assert!(text.contains("\"30s\""), "{text}");
        let back: LoadSpec = ron::from_str(&text).expect("parse");
        assert_eq!(back, spec);
    }

    #[test]
    fn human_durations_and_partial_specs_parse() {
        let spec: LoadSpec = ron::from_str(
            r#"(rate_per_s: 500.0, delay: Uniform(min: "5ms", max: "20ms"),
                skew: Hot(partitions: 2, share: 0.5), ack_wait: "2s")"#,
        )
        .expect("parse");
        assert_eq!(
            spec.delay,
            Delay::Uniform {
                min: Duration::from_millis(5),
                max: Duration::from_millis(20)
            }
        );
        assert_eq!(spec.ack_wait, Duration::from_secs(2));
        assert_eq!(spec.producers, DEFAULT_PRODUCERS);
        let spec: LoadSpec = ron::from_str(r#"(delay: Fixed("20ms"))"#).expect("parse");
        assert_eq!(spec.delay, Delay::Fixed(Duration::from_millis(20)));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(ron::from_str::<LoadSpec>("(rate: 5.0)").is_err());
        assert!(ron::from_str::<LoadSpec>(r#"(ack_wait: "soon")"#).is_err());
    }

    #[test]
    fn impossible_values_are_refused_with_their_reason() {
        let bad = |f: fn(&mut LoadSpec)| {
            let mut spec = LoadSpec::default();
            f(&mut spec);
            spec.validate().expect_err("must be refused")
        };
        assert_eq!(bad(|s| s.rate_per_s = 0.0), SpecError::Rate(0.0));
        assert!(matches!(
            bad(|s| s.rate_per_s = f64::NAN),
            SpecError::Rate(_)
        ));
        assert_eq!(bad(|s| s.producers = 0), SpecError::NoProducers);
        assert_eq!(
            bad(|s| s.payload_bytes = 10),
            SpecError::PayloadTooSmall {
                got: 10,
                min: HEADER_BYTES
            }
        );
        assert!(matches!(
            bad(|s| s.payload_bytes = 2 << 20),
            SpecError::PayloadTooLarge { .. }
        ));
        assert_eq!(
            bad(|s| s.skew = Skew::Hot {
                partitions: 1,
                share: 1.5
            }),
            SpecError::HotShare(1.5)
        );
        assert_eq!(
            bad(|s| s.delay = Delay::Uniform {
                min: Duration::from_millis(9),
                max: Duration::from_millis(1)
            }),
            SpecError::DelayRange {
                min: Duration::from_millis(9),
                max: Duration::from_millis(1)
            }
        );
        assert!(matches!(
            bad(|s| s.delay = Delay::Exponential {
                mean: Duration::from_secs(2),
                max: Duration::from_secs(1)
            }),
            SpecError::DelayMean { .. }
        ));
        assert_eq!(bad(|s| s.max_deliver = 0), SpecError::MaxDeliver(0));
        assert_eq!(bad(|s| s.window = 0), SpecError::Window);
        assert!(matches!(
            bad(|s| s.subject_template = "work".into()),
            SpecError::SubjectTemplate(_)
        ));
        let err = bad(|s| s.payload_bytes = 10).to_string();
        assert!(err.contains("smaller than"), "{err}");
    }

    #[test]
    fn subjects_come_from_the_template() {
        let spec = LoadSpec::default();
        assert_eq!(spec.subject("partition-3"), "work.partition-3");
        assert_eq!(spec.stream_subjects(), "work.>");
    }
}
