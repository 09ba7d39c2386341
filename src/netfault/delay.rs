//! The added one-way delay of a link direction: pure release-time arithmetic.
//!
//! Owns [`DelayLine`]. Each chunk read from one side is stamped with the instant it may be
//! written to the other side: its arrival plus the link's latency, but never earlier than the
//! chunk before it, so a latency lowered mid-stream cannot reorder bytes. The pump then writes
//! the chunks in arrival order, each at its stamp.

use std::time::Duration;

use tokio::time::Instant;

/// Release times of one direction's chunks, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DelayLine {
    last_release: Option<Instant>,
}

impl DelayLine {
    pub fn new() -> Self {
        Self::default()
    }

    /// The instant a chunk that arrived at `now` may be forwarded with `latency` added: never
    /// before `now + latency`, never before the previous chunk's release.
    pub fn release_at(&mut self, now: Instant, latency: Duration) -> Instant {
        let due = now + latency;
        let release = self.last_release.map_or(due, |last| due.max(last));
        self.last_release = Some(release);
        release
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_chunk_waits_the_latency_after_its_arrival() {
        let mut line = DelayLine::new();
        let t0 = Instant::now();
        let latency = Duration::from_millis(50);
        assert_eq!(line.release_at(t0, latency), t0 + latency);
        tokio::time::advance(Duration::from_millis(10)).await;
        let t1 = Instant::now();
        assert_eq!(line.release_at(t1, latency), t1 + latency);
        // Throughput is not limited by the latency: chunks overlap in flight.
        assert!(t1 + latency < t0 + latency * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn lowering_the_latency_never_reorders() {
        let mut line = DelayLine::new();
        let t0 = Instant::now();
        let first = line.release_at(t0, Duration::from_millis(100));
        tokio::time::advance(Duration::from_millis(5)).await;
        let second = line.release_at(Instant::now(), Duration::ZERO);
        assert_eq!(second, first, "held behind the earlier chunk");
        tokio::time::advance(Duration::from_millis(200)).await;
        let now = Instant::now();
        assert_eq!(line.release_at(now, Duration::ZERO), now);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_latency_releases_at_arrival() {
        let mut line = DelayLine::new();
        let now = Instant::now();
        assert_eq!(line.release_at(now, Duration::ZERO), now);
        assert_eq!(line.release_at(now, Duration::ZERO), now);
    }
}
