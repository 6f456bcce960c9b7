//! Benchmark harnesses behind `tickstock bench` and `cargo bench`: they measure the
//! library from outside, as a user's load would, and report figures as JSON or text.
//! Depends on the library's adapters and `server`; never on `cli`, which only parses
//! `tickstock bench`'s flags and calls in here. Nothing in the library depends on it.

use std::time::Duration;

pub mod calendar;
pub mod load;
pub mod plan;
pub mod plugins;
pub mod queue;
pub mod serve;
pub mod store;

/// Nearest-rank percentile of `samples` (in any order), `quantile` in 0..=1; zero for no
/// samples. The one percentile every benchmark reports.
pub(crate) fn percentile(samples: &[Duration], quantile: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
