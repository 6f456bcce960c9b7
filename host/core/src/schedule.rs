//! Scheduling decisions of the workers, pure so they can be tested without a clock or a
//! queue: which tier gets the next free worker (smooth weighted round-robin under
//! per-tier caps), how long a transient failure waits before its retry (exponential
//! backoff with jitter), and whether a provider's circuit lets a job through.
//!
//! Depends on `plan`; never on any adapter (the core crate has none). Clocks come in as
//! `Instant` parameters.

use std::time::{Duration, Instant};

use crate::plan::Tier;

/// Dispatch weights per tier: under saturation, completions follow 10:5:2:1.
pub const DEFAULT_WEIGHTS: [(Tier, u32); 4] =
    [(Tier::Critical, 10), (Tier::High, 5), (Tier::Normal, 2), (Tier::Low, 1)];

/// Smooth weighted round-robin (the nginx upstream algorithm) over the tiers that can take
/// a job right now. Each pick adds every eligible tier's weight to its credit, takes the
/// tier with the most credit and charges it the total: over any window, picks follow the
/// weights, they interleave (10:5:2:1 is not ten criticals in a row), and a tier with
/// weight 1 is picked at least once every 18 picks, so `low` is never starved.
///
/// Rejected: strict priority (starves `low`) and lottery scheduling (right on average,
/// but bursty over short windows).
#[derive(Debug, Clone)]
pub struct WeightedFair {
    tiers: Vec<TierSlot>,
}

#[derive(Debug, Clone)]
struct TierSlot {
    tier: Tier,
    weight: i64,
    credit: i64,
    cap: usize,
    running: usize,
}

impl WeightedFair {
    /// `tiers`: (tier, weight, concurrency cap). A weight of 0 disables the tier.
    pub fn new(tiers: &[(Tier, u32, usize)]) -> WeightedFair {
        WeightedFair {
            tiers: tiers
                .iter()
                .map(|&(tier, weight, cap)| TierSlot { tier, weight: i64::from(weight), credit: 0, cap, running: 0 })
                .collect(),
        }
    }

    /// Picks the next tier among those `has_work` says have a job waiting and that are
    /// under their cap, and counts a job as running in it. None when no tier qualifies.
    pub fn pick(&mut self, has_work: impl Fn(Tier) -> bool) -> Option<Tier> {
        let eligible: Vec<usize> = (0..self.tiers.len())
            .filter(|&i| {
                let slot = &self.tiers[i];
                slot.weight > 0 && slot.running < slot.cap && has_work(slot.tier)
            })
            .collect();
        if eligible.is_empty() {
            return None;
        }
        let total: i64 = eligible.iter().map(|&i| self.tiers[i].weight).sum();
        for &i in &eligible {
            self.tiers[i].credit += self.tiers[i].weight;
        }
        let chosen = *eligible.iter().max_by_key(|&&i| (self.tiers[i].credit, -(i as i64))).expect("non-empty");
        self.tiers[chosen].credit -= total;
        self.tiers[chosen].running += 1;
        Some(self.tiers[chosen].tier)
    }

    /// Counts a job of `tier` that arrived without a pick (a blocking read across tiers).
    pub fn charge(&mut self, tier: Tier) {
        if let Some(slot) = self.tiers.iter_mut().find(|slot| slot.tier == tier) {
            slot.running += 1;
        }
    }

    /// A job picked for `tier` turned out not to exist (the queue was empty after all):
    /// undo the running count, keep the credit change (harmless, and simpler).
    pub fn cancel(&mut self, tier: Tier) {
        self.finished(tier);
    }

    /// A job of `tier` finished (whatever its outcome).
    pub fn finished(&mut self, tier: Tier) {
        if let Some(slot) = self.tiers.iter_mut().find(|slot| slot.tier == tier) {
            slot.running = slot.running.saturating_sub(1);
        }
    }

    pub fn running(&self, tier: Tier) -> usize {
        self.tiers.iter().find(|slot| slot.tier == tier).map_or(0, |slot| slot.running)
    }
}

/// Retry policy for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (1 = the first retry): `first * 2^(attempt-1)`
    /// capped at `max`, then "equal jitter" (uniform in [delay/2, delay]) from `jitter`, a
    /// number in [0, 1), so that many jobs failing together do not retry together.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let base = self.first.saturating_mul(1u32 << exponent).min(self.max);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// Circuit breaker state, per provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    /// Jobs flow.
    Closed,
    /// Too many consecutive failures: jobs wait until the cooldown ends.
    Open,
    /// Cooldown over: one probe job is let through; its outcome closes or reopens.
    HalfOpen,
}

/// Opens after `threshold` consecutive failures, lets one probe through after `cooldown`,
/// closes on the probe's success and reopens on its failure.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker {
            threshold: threshold.max(1),
            cooldown,
            consecutive_failures: 0,
            opened_at: None,
            probe_in_flight: false,
        }
    }

    pub fn state(&self, now: Instant) -> CircuitState {
        match self.opened_at {
            None => CircuitState::Closed,
            Some(opened) if now.duration_since(opened) >= self.cooldown => CircuitState::HalfOpen,
            Some(_) => CircuitState::Open,
        }
    }

    /// Whether a job may run now. In the half-open state only one probe at a time may.
    pub fn admit(&mut self, now: Instant) -> bool {
        match self.state(now) {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen if self.probe_in_flight => false,
            CircuitState::HalfOpen => {
                self.probe_in_flight = true;
                true
            }
        }
    }

    /// How long until the circuit lets a probe through (zero when it would now).
    pub fn wait(&self, now: Instant) -> Duration {
        match self.opened_at {
            Some(opened) => self.cooldown.saturating_sub(now.duration_since(opened)),
            None => Duration::ZERO,
        }
    }

    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.opened_at = None;
        self.probe_in_flight = false;
    }

    /// A provider failure (transient ones; a permanent error says nothing about the
    /// provider's health and is not recorded).
    pub fn record_failure(&mut self, now: Instant) {
        self.consecutive_failures += 1;
        let probe_failed = self.probe_in_flight;
        self.probe_in_flight = false;
        if probe_failed || self.consecutive_failures >= self.threshold {
            self.opened_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fair(cap: usize) -> WeightedFair {
        WeightedFair::new(&DEFAULT_WEIGHTS.map(|(tier, weight)| (tier, weight, cap)))
    }

    #[test]
    fn saturated_tiers_are_picked_in_proportion_to_their_weights() {
        let mut fair = fair(usize::MAX);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..18 * 100 {
            let tier = fair.pick(|_| true).unwrap();
            fair.finished(tier);
            *counts.entry(tier).or_insert(0) += 1;
        }
        assert_eq!(counts[&Tier::Critical], 1000);
        assert_eq!(counts[&Tier::High], 500);
        assert_eq!(counts[&Tier::Normal], 200);
        assert_eq!(counts[&Tier::Low], 100);
    }

    #[test]
    fn low_is_picked_within_every_window_of_eighteen() {
        let mut fair = fair(usize::MAX);
        let picks: Vec<Tier> = (0..18 * 10)
            .map(|_| {
                let t = fair.pick(|_| true).unwrap();
                fair.finished(t);
                t
            })
            .collect();
        for window in picks.windows(18) {
            assert!(window.contains(&Tier::Low), "low starved in {window:?}");
        }
    }

    #[test]
    fn tiers_without_work_or_at_their_cap_are_skipped() {
        let mut fair = WeightedFair::new(&[(Tier::Critical, 10, 1), (Tier::Low, 1, 5)]);
        assert_eq!(fair.pick(|tier| tier == Tier::Low), Some(Tier::Low));
        assert_eq!(fair.pick(|_| true), Some(Tier::Critical));
        // Critical is at its cap of 1 now: only low can be picked.
        assert_eq!(fair.pick(|_| true), Some(Tier::Low));
        assert_eq!(fair.running(Tier::Critical), 1);
        fair.finished(Tier::Critical);
        assert_eq!(fair.pick(|_| true), Some(Tier::Critical));
        assert_eq!(fair.pick(|_| false), None);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() {
        let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1) };
        let cases = [
            (1, 0.0, 50),
            (1, 0.999, 99),
            (2, 0.0, 100),
            (3, 0.0, 200),
            (4, 1.0, 800),
            (5, 1.0, 1000),
            (30, 1.0, 1000),
        ];
        for (attempt, jitter, expected_ms) in cases {
            assert_eq!(backoff.delay(attempt, jitter).as_millis(), expected_ms, "attempt {attempt} jitter {jitter}");
        }
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_and_probes_after_cooldown() {
        let start = Instant::now();
        let mut breaker = CircuitBreaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            breaker.record_failure(start);
        }
        assert_eq!(breaker.state(start), CircuitState::Closed);
        breaker.record_success();
        for _ in 0..3 {
            breaker.record_failure(start);
        }
        assert_eq!(breaker.state(start), CircuitState::Open);
        assert!(!breaker.admit(start + Duration::from_secs(5)));
        let later = start + Duration::from_secs(10);
        assert_eq!(breaker.state(later), CircuitState::HalfOpen);
        assert!(breaker.admit(later), "one probe");
        assert!(!breaker.admit(later), "only one probe at a time");
        breaker.record_failure(later);
        assert_eq!(breaker.state(later), CircuitState::Open, "a failed probe reopens");
        let much_later = later + Duration::from_secs(10);
        assert!(breaker.admit(much_later));
        breaker.record_success();
        assert_eq!(breaker.state(much_later), CircuitState::Closed);
    }
}
