//! Decorrelated-jitter back-off (parti-protocol.md §10 step 7): the first delay is the base,
//! then `next = base + random[0, prev × multiplier − base)`, capped. Randomness comes from a
//! seeded SplitMix64, so a sequence is reproducible from its seed.

use std::time::Duration;

/// A back-off sequence; [`Backoff::next_delay`] yields the next delay.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    multiplier: f64,
    cap: Duration,
    prev: Option<Duration>,
    rng: SplitMix64,
}

impl Backoff {
    pub fn new(base: Duration, multiplier: f64, cap: Duration, seed: u64) -> Self {
        Self {
            base,
            multiplier,
            cap,
            prev: None,
            rng: SplitMix64(seed),
        }
    }

    /// The next delay, drawing one random number.
    pub fn next_delay(&mut self) -> Duration {
        let unit = self.rng.next_unit();
        self.next_with(unit)
    }

    /// The next delay with `unit` in `[0, 1)` as the random draw (the pure step).
    pub fn next_with(&mut self, unit: f64) -> Duration {
        let delay = match self.prev {
            None => self.base,
            Some(prev) => {
                let span =
                    (prev.as_secs_f64() * self.multiplier - self.base.as_secs_f64()).max(0.0);
                let extra = Duration::from_secs_f64(span * unit.clamp(0.0, 1.0));
                self.base.saturating_add(extra)
            }
        }
        .min(self.cap);
        self.prev = Some(delay);
        delay
    }

    /// Start again from the base.
    pub fn reset(&mut self) {
        self.prev = None;
    }
}

/// SplitMix64: a tiny seeded generator, good enough for jitter.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)` (53 bits).
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed that differs between calls and processes (time and a counter), for production use.
pub fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos
        ^ COUNTER
            .fetch_add(0x9e37_79b9, Ordering::Relaxed)
            .rotate_left(17)
        ^ u64::from(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn go_defaults(seed: u64) -> Backoff {
        Backoff::new(100 * MS, 1.6, 5000 * MS, seed)
    }

    #[test]
    fn first_delay_is_the_base_then_jitter_within_bounds() {
        let mut b = go_defaults(0);
        assert_eq!(b.next_with(0.99), 100 * MS);
        // prev 100 ms: span = 160 - 100 = 60 ms.
        assert_eq!(b.next_with(0.0), 100 * MS);
        assert_eq!(b.next_with(0.5), 130 * MS);
        // prev 130 ms: span = 208 - 100 = 108 ms; 0.25 → 127 ms.
        assert_eq!(b.next_with(0.25), 127 * MS);
    }

    #[test]
    fn delays_are_capped_and_reset_restarts_at_the_base() {
        let mut b = go_defaults(0);
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = b.next_with(0.999_999);
        }
        assert_eq!(last, 5000 * MS);
        b.reset();
        assert_eq!(b.next_with(0.7), 100 * MS);
    }

    #[test]
    fn seeded_sequences_are_reproducible_and_bounded() {
        let run = |seed| {
            let mut b = go_defaults(seed);
            (0..20).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let seq = run(42);
        assert_eq!(seq[0], 100 * MS);
        for pair in seq.windows(2) {
            let upper = Duration::from_secs_f64(pair[0].as_secs_f64() * 1.6).max(100 * MS);
            assert!(
                pair[1] >= 100 * MS && pair[1] <= upper.min(5000 * MS),
                "{pair:?}"
            );
        }
    }

    #[test]
    fn unit_draws_are_in_range() {
        let mut rng = SplitMix64(1);
        for _ in 0..1000 {
            let u = rng.next_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
