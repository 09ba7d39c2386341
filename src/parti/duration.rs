//! Human-readable durations (`500ms`, `1.5s`, `2m`, `1h30m`) for flags and profiles, parsed
//! strictly with a clear error, and formatted back in the same notation.

use std::fmt;
use std::time::Duration;

/// A duration string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (examples: 500ms, 1.5s, 2m, 1h30m)")]
pub struct ParseDurationError {
    pub input: String,
    pub reason: &'static str,
}

/// Parse `<number><unit>` pieces, units `ns`, `us`, `ms`, `s`, `m`, `h`, like Go's
/// `time.ParseDuration` without signs. `0` alone is accepted.
pub fn parse(input: &str) -> Result<Duration, ParseDurationError> {
    let error = |reason| ParseDurationError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(error("empty"));
    }
    let mut total_ns: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(error("expected a number"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| error("bad number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ns = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(error("missing unit")),
            _ => return Err(error("unknown unit")),
        };
        rest = &rest[unit_len..];
        total_ns += number * unit_ns;
    }
    if !total_ns.is_finite() || total_ns > 1e18 {
        return Err(error("too large"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// Formats a duration in the notation [`parse`] accepts, choosing the largest exact unit.
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        if ns == 0 {
            return write!(f, "0s");
        }
        if ns.is_multiple_of(1_000_000_000) {
            let secs = ns / 1_000_000_000;
            if secs.is_multiple_of(3600) {
                return write!(f, "{}h", secs / 3600);
            }
            if secs.is_multiple_of(60) {
                return write!(f, "{}m", secs / 60);
            }
            return write!(f, "{secs}s");
        }
        if ns.is_multiple_of(1_000_000) {
            let ms = ns / 1_000_000;
            if ms >= 1000 {
                return write!(f, "{}s", trim(ms as f64 / 1000.0));
            }
            return write!(f, "{ms}ms");
        }
        if ns.is_multiple_of(1000) {
            return write!(f, "{}us", ns / 1000);
        }
        write!(f, "{ns}ns")
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// serde adapter: a `Duration` stored as a human string.
pub mod serde_human {
    use super::{Human, parse};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Human(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// serde adapter for `Option<Duration>` as an optional human string.
pub mod serde_human_opt {
    use super::{Human, parse};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_some(&Human(*value).to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
    }

    #[test]
    fn rejects_bad_durations_with_a_reason() {
        for bad in ["", "5", "ms", "5 parsecs", "-1s", "1.2.3s"] {
            let err = parse(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid duration"), "{err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["500ms", "1.5s", "2m", "1h", "3s", "250us", "0s"] {
            let parsed = parse(text).expect(text);
            assert_eq!(Human(parsed).to_string(), text);
        }
    }
}
