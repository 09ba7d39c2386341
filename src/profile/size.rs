//! Byte sizes written as text in profiles (`"256MiB"`, `"1.5GiB"`, `"500kB"`, `"1048576"`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parse `<number>[unit]`: B, kB/MB/GB (powers of 1000), KiB/MiB/GiB (powers of 1024).
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("invalid size {text:?} (examples: 256MiB, 1.5GiB, 500kB)"))?;
        let factor: f64 = match unit.trim() {
            "" | "B" => 1.0,
            "kB" | "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            other => {
                return Err(format!(
                    "invalid size {text:?}: unknown unit {other:?} (use B, kB, MB, GB, KiB, MiB or GiB)"
                ));
            }
        };
        let bytes = number * factor;
        if !bytes.is_finite() || bytes > 1e18 {
            return Err(format!("invalid size {text:?}: too large"));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    /// Binary units with up to two decimals, e.g. `256MiB`, `1.5GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (unit, size) in UNITS {
            if self.0 >= size {
                #[allow(clippy::cast_precision_loss)]
                let value = self.0 as f64 / size as f64;
                let text = format!("{value:.2}");
                let text = text.trim_end_matches('0').trim_end_matches('.');
                return write!(f, "{text}{unit}");
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(bytes) => Ok(ByteSize(bytes)),
            Raw::Text(text) => ByteSize::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_sizes() {
        assert_eq!(ByteSize::parse("256MiB"), Ok(ByteSize(256 << 20)));
        assert_eq!(ByteSize::parse("1.5GiB"), Ok(ByteSize(3 << 29)));
        assert_eq!(ByteSize::parse("500kB"), Ok(ByteSize(500_000)));
        assert_eq!(ByteSize::parse("42"), Ok(ByteSize(42)));
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert!(ByteSize::parse("MiB").is_err());
        assert_eq!(ByteSize(256 << 20).to_string(), "256MiB");
        assert_eq!(ByteSize(3 << 29).to_string(), "1.5GiB");
        assert_eq!(ByteSize(100).to_string(), "100B");
    }
}
