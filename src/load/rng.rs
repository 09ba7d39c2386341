//! A small seeded random number generator (SplitMix64) and the processing-delay sampler built
//! on it, so every random choice of a run is reproducible from its seed.

use std::time::Duration;

use super::spec::Delay;

/// SplitMix64: fast, seedable, good enough for pacing phases and delays.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one named stream of choices (`seed` mixed with `stream`).
    pub fn derived(seed: u64, stream: u64) -> Self {
        let mut mix = Self::new(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        mix.next_u64();
        mix
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        #[allow(
            clippy::cast_precision_loss,
            reason = "53 random bits fit an f64 exactly"
        )]
        let top = (self.next_u64() >> 11) as f64;
        top / (1u64 << 53) as f64
    }
}

/// Draws processing delays from a [`Delay`] with its own seeded generator.
#[derive(Clone, Debug)]
pub struct DelaySampler {
    delay: Delay,
    rng: SplitMix64,
}

impl DelaySampler {
    pub fn new(delay: Delay, seed: u64) -> Self {
        Self {
            delay,
            rng: SplitMix64::new(seed),
        }
    }

    /// The next delay.
    pub fn sample(&mut self) -> Duration {
        match self.delay {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => {
                let span = max.saturating_sub(min).as_secs_f64();
                min + Duration::from_secs_f64(span * self.rng.next_f64())
            }
            Delay::Exponential { mean, max } => {
                let u = self.rng.next_f64();
                let secs = -mean.as_secs_f64() * (1.0 - u).ln();
                Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let a: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..5)
            .scan(SplitMix64::new(8), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = SplitMix64::derived(1, 2);
        assert!(
            (0..1000)
                .map(|_| r.next_f64())
                .all(|x| (0.0..1.0).contains(&x))
        );
    }

    #[test]
    fn delays_follow_their_distribution() {
        let ms = Duration::from_millis;
        let mut fixed = DelaySampler::new(Delay::Fixed(ms(20)), 1);
        assert_eq!(fixed.sample(), ms(20));

        let mut uniform = DelaySampler::new(
            Delay::Uniform {
                min: ms(10),
                max: ms(30),
            },
            1,
        );
        let draws: Vec<Duration> = (0..10_000).map(|_| uniform.sample()).collect();
        assert!(draws.iter().all(|d| (ms(10)..=ms(30)).contains(d)));
        let mean = draws.iter().map(Duration::as_secs_f64).sum::<f64>() / 10_000.0;
        assert!((mean - 0.020).abs() < 0.0005, "uniform mean {mean}");

        let mut exp = DelaySampler::new(
            Delay::Exponential {
                mean: ms(10),
                max: ms(1000),
            },
            1,
        );
        let draws: Vec<Duration> = (0..20_000).map(|_| exp.sample()).collect();
        assert!(draws.iter().all(|d| *d <= ms(1000)));
        let mean = draws.iter().map(Duration::as_secs_f64).sum::<f64>() / 20_000.0;
        assert!((mean - 0.010).abs() < 0.0005, "exponential mean {mean}");

        let mut capped = DelaySampler::new(
            Delay::Exponential {
                mean: ms(10),
                max: ms(10),
            },
            1,
        );
        assert!((0..1000).all(|_| capped.sample() <= ms(10)));
    }
}
