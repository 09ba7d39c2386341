//! A log-bucketed latency histogram (HDR style): values below 128 are exact, above that each
//! power of two is split into 64 buckets, so any percentile is within 1.6 % of the true value,
//! in about 30 KiB whatever the number of samples. The maximum is kept exactly.

/// Values below this are their own bucket.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: u64 = 64;
/// log2(LINEAR).
const LINEAR_BITS: u32 = 7;
/// Buckets covering every `u64`.
const BUCKETS: usize = (LINEAR + (64 - LINEAR_BITS as u64) * SUB) as usize;

/// Counts of values in logarithmic buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < LINEAR {
        return usize::try_from(value).unwrap_or(0);
    }
    let exp = 63 - value.leading_zeros(); // >= LINEAR_BITS
    let shift = exp - (LINEAR_BITS - 1);
    let mantissa = value >> shift; // in [SUB, 2 * SUB)
    let index = LINEAR + u64::from(exp - LINEAR_BITS) * SUB + (mantissa - SUB);
    usize::try_from(index).unwrap_or(BUCKETS - 1)
}

/// The smallest and largest value of a bucket.
fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < LINEAR {
        return (index, index);
    }
    let above = index - LINEAR;
    let exp = above / SUB + u64::from(LINEAR_BITS);
    let mantissa = above % SUB + SUB;
    let shift = exp - u64::from(LINEAR_BITS - 1);
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The exact largest value recorded (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` in [0, 1] (the middle of its bucket, never above the maximum);
    /// `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank == self.total {
            return Some(self.max);
        }
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bucket_range(index);
                return Some((low + (high - low) / 2).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_whole_range() {
        let mut expected_low = 0u64;
        for index in 0..BUCKETS {
            let (low, high) = bucket_range(index);
            assert_eq!(low, expected_low, "bucket {index}");
            assert!(high >= low);
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high), index);
            expected_low = high.wrapping_add(1);
        }
        assert_eq!(expected_low, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let within = |got: u64, want: f64| {
            #[allow(clippy::cast_precision_loss)]
            let err = (got as f64 - want).abs() / want;
            assert!(err < 0.016, "{got} vs {want}");
        };
        within(h.quantile(0.5).expect("p50"), 50_000.0);
        within(h.quantile(0.99).expect("p99"), 99_000.0);
        within(h.quantile(0.999).expect("p999"), 99_900.0);
        assert_eq!(h.max(), 100_000);
        assert_eq!(h.quantile(1.0), Some(100_000));
        assert_eq!(h.count(), 100_000);
    }

    #[test]
    fn small_values_are_exact_and_empty_has_no_quantile() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), None);
        for v in [3, 3, 3, 7, 90] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(3));
        assert_eq!(h.quantile(0.8), Some(7));
        assert_eq!(h.quantile(0.99), Some(90));
        let mut other = Histogram::new();
        other.record(1_000_000);
        h.merge(&other);
        assert_eq!(h.count(), 6);
        assert_eq!(h.max(), 1_000_000);
        h.record(u64::MAX);
        assert_eq!(h.quantile(1.0), Some(u64::MAX));
    }
}
