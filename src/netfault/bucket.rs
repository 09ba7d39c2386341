//! The token bucket that caps a link direction's bandwidth: pure arithmetic on instants.
//!
//! Owns [`TokenBucket`]. A sender reserves the bytes of a chunk before writing it and waits the
//! returned duration; the bucket may go into debt, so a chunk larger than the burst is still
//! sent whole and the average rate stays exactly `rate_bytes_per_s`.

use std::time::Duration;

use tokio::time::Instant;

/// The smallest burst a bucket allows, in bytes: one TCP segment or so.
pub const MIN_BURST_BYTES: u64 = 1_500;

/// A token bucket of `rate_bytes_per_s` that holds at most `burst_bytes`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    rate_bytes_per_s: u64,
    burst_bytes: u64,
    /// Negative when in debt.
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket. A rate of 0 is taken as 1 byte/s; the burst is a tenth of a second's
    /// worth, at least [`MIN_BURST_BYTES`].
    pub fn new(rate_bytes_per_s: u64, now: Instant) -> Self {
        let rate_bytes_per_s = rate_bytes_per_s.max(1);
        let burst_bytes = (rate_bytes_per_s / 10).max(MIN_BURST_BYTES);
        Self {
            rate_bytes_per_s,
            burst_bytes,
            tokens: burst_bytes as f64,
            updated: now,
        }
    }

    pub fn rate_bytes_per_s(&self) -> u64 {
        self.rate_bytes_per_s
    }

    pub fn burst_bytes(&self) -> u64 {
        self.burst_bytes
    }

    /// The tokens available at `now` (negative while in debt), without changing the bucket.
    pub fn tokens_at(&self, now: Instant) -> f64 {
        let elapsed_s = now.saturating_duration_since(self.updated).as_secs_f64();
        (self.tokens + elapsed_s * self.rate_bytes_per_s as f64).min(self.burst_bytes as f64)
    }

    /// Takes `bytes` from the bucket at `now` and returns how long the sender must wait before
    /// sending them: zero when the bucket covered them, else the time the debt takes to refill.
    pub fn reserve(&mut self, now: Instant, bytes: u64) -> Duration {
        let now = now.max(self.updated);
        self.tokens = self.tokens_at(now) - bytes as f64;
        self.updated = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate_bytes_per_s as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_sends_its_burst_at_once_then_paces_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100_000, start);
        assert_eq!(bucket.burst_bytes(), 10_000);
        assert_eq!(bucket.reserve(start, 10_000), Duration::ZERO);
        // Empty: 1000 more bytes need 10 ms.
        assert_eq!(bucket.reserve(start, 1_000), Duration::from_millis(10));
        // Debt accumulates: another 1000 bytes wait 20 ms in all.
        assert_eq!(bucket.reserve(start, 1_000), Duration::from_millis(20));
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(bucket.tokens_at(Instant::now()), 0.0);
        assert_eq!(bucket.reserve(Instant::now(), 0), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn refill_stops_at_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100_000, start);
        bucket.reserve(start, 10_000);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(bucket.tokens_at(Instant::now()), 10_000.0);
        // An idle minute buys one burst, not a minute's worth of bytes.
        assert_eq!(
            bucket.reserve(Instant::now(), 20_000),
            Duration::from_millis(100)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_average_rate_holds_for_chunks_larger_than_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(50_000, start);
        let mut sent_bytes = 0u64;
        // A sender that waits what it is told, chunk after chunk, for 10 s of virtual time.
        while Instant::now() - start < Duration::from_secs(10) {
            let wait = bucket.reserve(Instant::now(), 16_384);
            tokio::time::advance(wait).await;
            sent_bytes += 16_384;
        }
        let elapsed_s = (Instant::now() - start).as_secs_f64();
        let rate = sent_bytes as f64 / elapsed_s;
        assert!((49_000.0..=51_500.0).contains(&rate), "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_rate_is_one_byte_per_second_and_small_rates_keep_a_minimum_burst() {
        let now = Instant::now();
        let bucket = TokenBucket::new(0, now);
        assert_eq!(bucket.rate_bytes_per_s(), 1);
        assert_eq!(bucket.burst_bytes(), MIN_BURST_BYTES);
    }

    #[tokio::test(start_paused = true)]
    async fn an_instant_before_the_last_update_counts_as_the_last_update() {
        let start = Instant::now();
        tokio::time::advance(Duration::from_secs(1)).await;
        let later = Instant::now();
        let mut bucket = TokenBucket::new(10_000, later);
        assert_eq!(bucket.reserve(start, 1_000), Duration::ZERO);
        assert_eq!(bucket.reserve(start, 1_000), Duration::from_millis(50));
    }
}
