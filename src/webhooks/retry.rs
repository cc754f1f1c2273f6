//! When a failed delivery is tried again: exponential backoff with
//! jitter, and when to stop.
//!
//! A receiver that is down should be asked less and less often, and many
//! deliveries that failed together should not all come back in the same
//! instant, hence doubling delays (1 s, 2 s, 4 s, … up to a cap of
//! 10 minutes) each spread by ±20 %. With the default 12 attempts a
//! delivery is given up about 27 minutes after its first try (±20 %).

use std::time::Duration;

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; then the delivery is given up.
    pub attempts: u32,
    /// Delay after the first failure; it doubles with each further one.
    pub first: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 12,
            first: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The delay after `failed` failed attempts (1 for the first), before
    /// jitter.
    pub fn base(&self, failed: u32) -> Duration {
        let factor = 1u64 << failed.saturating_sub(1).min(30);
        let ms = (self.first.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(ms).min(self.cap)
    }

    /// [`RetryPolicy::base`] spread by ±20 %; `unit` is uniform in [0, 1).
    pub fn delay(&self, failed: u32, unit: f64) -> Duration {
        let spread = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
        self.base(failed).mul_f64(spread)
    }

    /// Whether an attempt that failed as number `attempt` (1-based) was
    /// the last one.
    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.attempts.max(1)
    }
}

/// A uniform number in [0, 1) from the system's random source (the time,
/// should that fail: jitter needs no secrecy).
pub fn unit_random() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        b = u64::from(t).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_with_bounded_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.base(1), Duration::from_secs(1));
        assert_eq!(p.base(2), Duration::from_secs(2));
        assert_eq!(p.base(10), Duration::from_secs(512));
        assert_eq!(p.base(11), Duration::from_secs(600));
        assert_eq!(p.base(500), Duration::from_secs(600), "no overflow");
        assert_eq!(p.delay(3, 0.0), Duration::from_millis(3200));
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(4));
        assert!(p.delay(3, 0.9999) < Duration::from_millis(4800));
        assert!(!p.exhausted(11) && p.exhausted(12) && p.exhausted(13));
        let total: Duration = (1..12).map(|n| p.base(n)).sum();
        assert!(
            (Duration::from_secs(25 * 60)..Duration::from_secs(30 * 60)).contains(&total),
            "{total:?}"
        );
        for _ in 0..100 {
            let u = unit_random();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
